//! A cart at sign-in: the browser's guest cart becomes the account's, or is merged into the
//! account's cart (quantities summed, within what is left and what an order may hold) and then
//! deleted. The account's cart is then the browser's, on every browser the account signs in
//! from. Merging twice changes nothing; a cart of another account is never touched.

use super::{load, Edit, EditError, Target, MAX_PER_LINE};
use crate::error::ApiResult;
use crate::AppState;

/// The cart a browser carries once its account is signed in: the account's (made from the
/// browser's guest cart when the account had none), with the guest cart's lines merged in.
pub async fn adopt(state: &AppState, account_id: &str, browser_cart: Option<&str>) -> ApiResult<Option<String>> {
    let db = &state.db;
    let mine: Option<String> = sqlx::query_scalar("select cart_id from cart where account_id = $1")
        .bind(account_id)
        .fetch_optional(&db.pool)
        .await?;
    // The browser's cart counts only when it is a guest's (or already this account's).
    let guest: Option<String> = match browser_cart {
        Some(id) => {
            let owner: Option<Option<String>> = sqlx::query_scalar("select account_id from cart where cart_id = $1")
                .bind(id)
                .fetch_optional(&db.pool)
                .await?;
            match owner {
                Some(None) => Some(id.to_string()),
                _ => None,
            }
        }
        None => None,
    };
    let (Some(guest), mine) = (guest, mine.clone()) else { return Ok(mine) };
    let Some(mine) = mine else {
        let mut tx = db.begin_write().await?;
        let taken = sqlx::query("update cart set account_id = $1 where cart_id = $2 and account_id is null")
            .bind(account_id)
            .bind(&guest)
            .execute(&mut **tx)
            .await;
        // Two sign-ins of one account at once: the other made the account's cart first.
        let taken = match taken {
            Ok(done) => done.rows_affected() == 1,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => false,
            Err(e) => return Err(e.into()),
        };
        tx.commit().await?;
        if taken {
            return Ok(Some(guest));
        }
        return Box::pin(adopt(state, account_id, Some(&guest))).await;
    };
    let theirs = load(state, Some(&guest)).await?;
    for line in &theirs.items {
        let held = load(state, Some(&mine)).await?.items.iter().find(|l| l.sku == line.sku).map_or(0, |l| l.quantity);
        let target = (held + line.quantity).min(MAX_PER_LINE).min(line.available.max(held));
        if target <= held {
            continue;
        }
        match state.carts.edit(Target::Existing(mine.clone()), &line.sku, Edit::Set(target)).await {
            // What is left changed meanwhile: the account's cart keeps what it had.
            Ok(_) | Err(EditError::SoldOut { .. } | EditError::OnlyLeft { .. } | EditError::NoSuchSku(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let mut tx = db.begin_write().await?;
    sqlx::query("delete from cart where cart_id = $1 and account_id is null").bind(&guest).execute(&mut **tx).await?;
    tx.commit().await?;
    Ok(Some(mine))
}
