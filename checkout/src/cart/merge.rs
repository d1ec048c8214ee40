//! An account's cart. A guest's cart at sign-in is taken (its row deleted, in the transaction
//! that reads its lines, so of two sign-ins at once one merges it) and its lines added to the
//! account's cart, within what is left and what an order may hold. The account's cart has an id
//! no browser was ever given; it is found from the session on every browser the account signs
//! in from.

use super::{Edit, EditError, Target, MAX_PER_LINE};
use crate::error::ApiResult;
use crate::ids::{new_id, now};
use crate::AppState;

/// The account's cart, made when it has none.
async fn account_cart(state: &AppState, account_id: &str) -> ApiResult<String> {
    let mine: Option<String> = sqlx::query_scalar("select cart_id from cart where account_id = $1")
        .bind(account_id)
        .fetch_optional(&state.db.pool)
        .await?;
    if let Some(cart) = mine {
        return Ok(cart);
    }
    let mut tx = state.db.begin_write().await?;
    // Of two made at once, one is kept (the account's cart is unique).
    sqlx::query(
        "insert into cart (cart_id, created_at, updated_at, account_id) values ($1, $2, $2, $3) on conflict do nothing",
    )
    .bind(new_id("cart"))
    .bind(now())
    .bind(account_id)
    .execute(&mut **tx)
    .await?;
    let cart: String = sqlx::query_scalar("select cart_id from cart where account_id = $1")
        .bind(account_id)
        .fetch_one(&mut **tx)
        .await?;
    tx.commit().await?;
    Ok(cart)
}

/// Takes a guest's cart: its lines, once (the cart is deleted in the same transaction; a second
/// taker, or a cart of an account, gets nothing).
async fn take(state: &AppState, cart_id: &str) -> ApiResult<Vec<(String, i64)>> {
    let mut tx = state.db.begin_write().await?;
    let lock = tx.lock_rows();
    let owned: Option<Option<String>> =
        sqlx::query_scalar(&format!("select account_id from cart where cart_id = $1{lock}"))
            .bind(cart_id)
            .fetch_optional(&mut **tx)
            .await?;
    if !matches!(owned, Some(None)) {
        return Ok(Vec::new());
    }
    let lines: Vec<(String, i64)> =
        sqlx::query_as("select sku, quantity from cart_item where cart_id = $1 order by sku")
            .bind(cart_id)
            .fetch_all(&mut **tx)
            .await?;
    sqlx::query("delete from cart where cart_id = $1 and account_id is null").bind(cart_id).execute(&mut **tx).await?;
    tx.commit().await?;
    Ok(lines)
}

/// Adds lines to the account's cart, each within what is left and what an order may hold.
async fn add(state: &AppState, account_id: &str, lines: &[(String, i64)]) -> ApiResult<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let cart = account_cart(state, account_id).await?;
    // The sessions held here name the account's cart: read afresh from now on.
    state.sessions.forget_account(account_id);
    for (sku, quantity) in lines {
        let target = || Target::Existing(cart.clone());
        let outcome = match state.carts.edit(target(), sku, Edit::Add(*quantity)).await {
            Err(EditError::WouldExceed { .. }) => state.carts.edit(target(), sku, Edit::Set(MAX_PER_LINE)).await,
            Err(EditError::OnlyLeft { available, .. }) => state.carts.edit(target(), sku, Edit::Set(available)).await,
            other => other,
        };
        match outcome {
            // What is left changed meanwhile, or the size is no longer sold: the cart keeps what it has.
            Ok(_) | Err(EditError::SoldOut { .. } | EditError::OnlyLeft { .. } | EditError::NoSuchSku(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Merges a browser's guest cart into the account's at sign-in (nothing when it has none, or
/// it is not a guest's).
pub async fn adopt(state: &AppState, account_id: &str, browser_cart: Option<&str>) -> ApiResult<()> {
    let Some(guest) = browser_cart else { return Ok(()) };
    let lines = take(state, guest).await?;
    add(state, account_id, &lines).await
}

/// Makes a cart just made for a signed-in shopper the account's; when the account has one
/// already (made meanwhile), the new one is merged into it.
pub async fn bind(state: &AppState, account_id: &str, cart_id: &str) -> ApiResult<()> {
    let mut tx = state.db.begin_write().await?;
    let bound = sqlx::query("update cart set account_id = $1 where cart_id = $2 and account_id is null")
        .bind(account_id)
        .bind(cart_id)
        .execute(&mut **tx)
        .await;
    match bound {
        Ok(_) => {
            tx.commit().await?;
            state.sessions.forget_account(account_id);
            Ok(())
        }
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            drop(tx);
            adopt(state, account_id, Some(cart_id)).await
        }
        Err(e) => Err(e.into()),
    }
}
