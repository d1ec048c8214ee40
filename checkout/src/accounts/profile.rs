//! What the owner changes of their account — the name, the password (with the current one), the
//! address (confirmed from the new mailbox, the old one told) — and the privacy the Privacy page
//! promises: a copy of everything kept about the account, and its deletion (orders kept for the
//! accounts, their personal details erased).

use std::net::IpAddr;

use serde::Serialize;
use serde_json::json;

use super::mail::{self, Message};
use super::tokens::{self, Purpose};
use super::{attempts, parse_email, parse_name, password, session, AccountView};
use crate::error::{ApiError, ApiResult};
use crate::ids::now;
use crate::AppState;

/// Changes the name the atelier writes to.
pub async fn rename(state: &AppState, account_id: &str, name: &str) -> ApiResult<AccountView> {
    let name = parse_name(name)?;
    let mut tx = state.db.begin_write().await?;
    let email: String =
        sqlx::query_scalar("update account set name = $1, updated_at = $2 where account_id = $3 returning email")
            .bind(&name)
            .bind(now())
            .bind(account_id)
            .fetch_one(&mut **tx)
            .await?;
    tx.commit().await?;
    state.sessions.forget_account(account_id);
    Ok(AccountView { email, name })
}

/// Checks the account's current password (given in `field`), counted like a sign-in: a stolen
/// session cannot guess it faster than a stranger could.
async fn check_current(
    state: &AppState,
    me: &session::SignedIn,
    field: &str,
    given: &str,
    client: Option<IpAddr>,
) -> ApiResult<()> {
    let attempt = super::sign_in_attempt(state, &me.email, client, None).await?;
    let stored: String = sqlx::query_scalar("select password_hash from account where account_id = $1")
        .bind(&me.account_id)
        .fetch_one(&state.db.pool)
        .await?;
    if given.len() > password::MAX_BYTES || !password::verify(given, Some(stored)).await? {
        attempt.keep();
        return Err(ApiError::invalid(field, "that is not your current password"));
    }
    attempt.forget(&state.db).await
}

/// Changes the password, given the current one: every other session is signed out, this one
/// gets a new token (given back), and the owner is told by e-mail.
pub async fn change_password(
    state: &AppState,
    me: &session::SignedIn,
    current: &str,
    new: &str,
    client: Option<IpAddr>,
) -> ApiResult<String> {
    password::check_strength(new, &me.email, &me.name).map_err(|e| match e {
        ApiError::Invalid { message, .. } => ApiError::Invalid { field: "new_password".into(), message },
        other => other,
    })?;
    check_current(state, me, "current_password", current, client).await?;
    let hash = password::hash(new).await?;
    let mut tx = state.db.begin_write().await?;
    let t = now();
    sqlx::query(
        "update account set password_hash = $1, password_changed_at = $2, updated_at = $2 where account_id = $3",
    )
    .bind(&hash)
    .bind(t)
    .bind(&me.account_id)
    .execute(&mut **tx)
    .await?;
    sqlx::query("delete from account_session where account_id = $1 and session_id <> $2")
        .bind(&me.account_id)
        .bind(&me.session_id)
        .execute(&mut **tx)
        .await?;
    tokens::void(&mut tx, &me.account_id, Purpose::Reset).await?;
    tokens::void(&mut tx, &me.account_id, Purpose::Invite).await?;
    super::two_factor::end_challenges(&mut tx, &me.account_id).await?;
    mail::send(state, &mut tx, &me.email, &me.name, Message::PasswordChanged).await?;
    tx.commit().await?;
    let token = session::rotate(&state.db, &me.session_id).await?;
    state.sessions.forget_account(&me.account_id);
    Ok(token)
}

/// Asks to move the account to another address, given the password: a link goes to the new
/// address (the account moves only once it is opened there). An address that has an account is
/// not told apart: its owner is written to instead.
pub async fn ask_new_email(
    state: &AppState,
    me: &session::SignedIn,
    new_email: &str,
    password: &str,
    client: Option<IpAddr>,
) -> ApiResult<String> {
    let new_email = parse_email(new_email)?;
    if new_email.as_str() == me.email {
        return Err(ApiError::invalid("email", "that is the address the account has already"));
    }
    check_current(state, me, "password", password, client).await?;
    let (by_address, by_client) = (
        attempts::for_address(attempts::MAIL_ADDRESS, new_email.as_str()),
        attempts::for_client(attempts::MAIL_CLIENT, client),
    );
    attempts::enter(&state.db, &[(attempts::MAIL_ADDRESS, &by_address), (attempts::MAIL_CLIENT, &by_client)])
        .await?
        .keep();
    let mut tx = state.db.begin_write().await?;
    let taken: Option<String> = sqlx::query_scalar("select account_id from account where email = $1")
        .bind(new_email.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    if taken.is_some() {
        mail::send(state, &mut tx, new_email.as_str(), "", Message::AddressTaken).await?;
    } else {
        let token = tokens::issue_for(&mut tx, &me.account_id, Purpose::NewEmail, Some(new_email.as_str())).await?;
        mail::send(state, &mut tx, new_email.as_str(), &me.name, Message::NewEmail { token: &token }).await?;
    }
    tx.commit().await?;
    Ok(new_email.as_str().to_string())
}

/// Moves the account to the address its link was mailed to; the old address is told, and guest
/// orders placed with the new one join the account.
pub async fn confirm_new_email(state: &AppState, token: &str) -> ApiResult<AccountView> {
    let lapsed = || ApiError::NotFound("this link has lapsed or was used already; ask again from your account".into());
    let mut tx = state.db.begin_write().await?;
    let used = tokens::redeem(&mut tx, token, Purpose::NewEmail).await?.ok_or_else(lapsed)?;
    let new_email = used.detail.ok_or_else(lapsed)?;
    let (old_email, name): (String, String) =
        sqlx::query_as(&format!("select email, name from account where account_id = $1{}", tx.lock_rows()))
            .bind(&used.account_id)
            .fetch_one(&mut **tx)
            .await?;
    let moved = sqlx::query(
        "update account set email = $1, email_verified_at = $2, updated_at = $2 where account_id = $3
         and not exists (select 1 from account where email = $1)",
    )
    .bind(&new_email)
    .bind(now())
    .bind(&used.account_id)
    .execute(&mut **tx)
    .await;
    match moved {
        Ok(done) if done.rows_affected() == 1 => {}
        Ok(_) => return Err(ApiError::Conflict("another account has that address now".into())),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(ApiError::Conflict("another account has that address now".into()))
        }
        Err(e) => return Err(e.into()),
    }
    mail::send(state, &mut tx, &old_email, &name, Message::EmailChanged { new_email: &new_email }).await?;
    crate::orders::claim_guest_orders(&mut tx, &used.account_id, &new_email).await?;
    tx.commit().await?;
    state.sessions.forget_account(&used.account_id);
    Ok(AccountView { email: new_email, name })
}

/// Everything the atelier keeps about an account, as the owner downloads it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Export {
    /// When this copy was made (unix seconds).
    pub exported_at: i64,
    /// The account.
    #[schema(value_type = Object)]
    pub account: serde_json::Value,
    /// The browsers signed in.
    #[schema(value_type = Vec<Object>)]
    pub sessions: Vec<serde_json::Value>,
    /// The orders, with their lines and addresses.
    #[schema(value_type = Vec<Object>)]
    pub orders: Vec<serde_json::Value>,
    /// The cart.
    #[schema(value_type = Object)]
    pub cart: serde_json::Value,
    /// The address book.
    pub addresses: Vec<super::addresses::Address>,
    /// The sizes kept in the wishlist (SKUs, the latest first).
    pub wishlist: Vec<String>,
    /// Requests to hear when a sold-out size is back, answered or waiting.
    #[schema(value_type = Vec<Object>)]
    pub stock_alerts: Vec<serde_json::Value>,
}

/// A copy of everything kept about the account.
pub async fn export(state: &AppState, me: &session::SignedIn) -> ApiResult<Export> {
    let db = &state.db;
    let (email, name, created_at, verified_at, two_factor): (String, String, i64, Option<i64>, Option<i64>) =
        sqlx::query_as(
            "select email, name, created_at, email_verified_at, totp_enabled_at from account where account_id = $1",
        )
        .bind(&me.account_id)
        .fetch_one(&db.pool)
        .await?;
    let sessions = session::list(db, me)
        .await?
        .into_iter()
        .map(|s| json!({ "created_at": s.created_at, "last_seen_at": s.last_seen_at, "browser": s.user_agent, "client": s.client }))
        .collect();
    let ids: Vec<String> =
        sqlx::query_scalar("select order_id from customer_order where account_id = $1 order by created_at")
            .bind(&me.account_id)
            .fetch_all(&db.pool)
            .await?;
    let mut orders = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(order) = crate::orders::load(db, &id).await? {
            orders.push(serde_json::to_value(order).map_err(|e| ApiError::Internal(e.to_string()))?);
        }
    }
    let cart_id: Option<String> = sqlx::query_scalar("select cart_id from cart where account_id = $1")
        .bind(&me.account_id)
        .fetch_optional(&db.pool)
        .await?;
    let cart = crate::cart::load(state, cart_id.as_deref()).await?;
    let google = super::google::linked(state, &me.account_id)
        .await?
        .map(|(email, linked_at)| json!({ "email": email, "linked_at": linked_at }));
    let owner = crate::wishlist::Owner::Account(me.account_id.clone());
    let stock_alerts = crate::wishlist::back_in_stock::of(state, &me.email)
        .await?
        .into_iter()
        .map(|(sku, asked_at, sent_at)| json!({ "sku": sku, "asked_at": asked_at, "sent_at": sent_at }))
        .collect();
    Ok(Export {
        exported_at: now(),
        account: json!({
            "email": email, "name": name, "created_at": created_at, "email_verified_at": verified_at,
            "two_factor_since": two_factor, "google": google,
        }),
        sessions,
        orders,
        cart: serde_json::to_value(cart).map_err(|e| ApiError::Internal(e.to_string()))?,
        addresses: super::addresses::list(state, &me.account_id).await?,
        wishlist: crate::wishlist::skus(state, &owner).await?,
        stock_alerts,
    })
}

/// Deletes the account, given its password: sessions, cart, addresses, wishlist, links and mail
/// to it go; its orders
/// stay for the accounts with the name, address and e-mail erased. Refused while an order has
/// not left the atelier (its address is still needed).
pub async fn delete(state: &AppState, me: &session::SignedIn, password: &str, client: Option<IpAddr>) -> ApiResult<()> {
    check_current(state, me, "password", password, client).await?;
    let mut tx = state.db.begin_write().await?;
    if crate::orders::has_undispatched(&mut tx, &me.account_id).await? {
        return Err(ApiError::Conflict(
            "an order of yours has not left the atelier yet; the account can be deleted once it has".into(),
        ));
    }
    crate::orders::erase_personal(&mut tx, &me.account_id).await?;
    crate::notify::forget_recipient(&mut tx, &me.email).await?;
    sqlx::query("delete from registration where email = $1").bind(&me.email).execute(&mut **tx).await?;
    sqlx::query("delete from stock_alert where email = $1").bind(&me.email).execute(&mut **tx).await?;
    // Sessions, tokens, challenges, recovery codes, the cart, the address book and the wishlist
    // go with the account (cascade).
    sqlx::query("delete from account where account_id = $1").bind(&me.account_id).execute(&mut **tx).await?;
    tx.commit().await?;
    state.sessions.forget_account(&me.account_id);
    Ok(())
}
