//! Customer accounts (decision 11): registration with a verified address, sign-in with
//! server-side sessions, password resets. Every answer that could tell a stranger whether an
//! address has an account is the same either way, in its status, its body and its time (the
//! owner is written to instead), and every limit that protects an account is counted in the
//! database.

pub mod attempts;
pub mod http;
mod mail;
mod pages;
pub mod password;
pub mod session;
pub mod tokens;

use std::net::IpAddr;

use serde::Serialize;

use crate::email::EmailAddress;
use crate::error::{ApiError, ApiResult};
use crate::ids::{new_id, now};
use crate::AppState;
use attempts::{for_address, for_client, MAIL_ADDRESS, MAIL_CLIENT, SIGN_IN_ACCOUNT, SIGN_IN_CLIENT};
use mail::Message;
use session::Device;
use tokens::Purpose;

/// The longest name kept, in characters.
const NAME_MAX: usize = 100;

/// What a registration asks for.
#[derive(Debug, Clone)]
pub struct Registration<'a> {
    /// The address.
    pub email: &'a str,
    /// The password.
    pub password: &'a str,
    /// The name to write to.
    pub name: &'a str,
}

/// An account as its owner sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AccountView {
    /// The address.
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// The name.
    #[schema(example = "Ada Lovelace")]
    pub name: String,
}

fn parse_email(email: &str) -> ApiResult<EmailAddress> {
    EmailAddress::parse(email).map_err(|e| ApiError::invalid("email", e.to_string()))
}

fn parse_name(name: &str) -> ApiResult<String> {
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        return Err(ApiError::invalid("name", "tell us the name to write to"));
    }
    if name.chars().count() > NAME_MAX || name.chars().any(char::is_control) {
        return Err(ApiError::invalid("name", format!("use at most {NAME_MAX} characters, on one line")));
    }
    Ok(name)
}

/// Opens an account, or — when the address has one — writes to its owner instead. Either way
/// the caller hears the same: check your e-mail. The password is hashed in both cases, so both
/// take the same time.
pub async fn register(state: &AppState, input: Registration<'_>, client: Option<IpAddr>) -> ApiResult<()> {
    let email = parse_email(input.email)?;
    let name = parse_name(input.name)?;
    password::check_strength(input.password, email.as_str(), &name)?;
    limit_mail(state, email.as_str(), client).await?;
    let hash = password::hash(input.password).await?;
    let mut tx = state.db.begin_write().await?;
    let existing: Option<(String, String)> =
        sqlx::query_as(&format!("select account_id, name from account where email = $1{}", tx.lock_rows()))
            .bind(email.as_str())
            .fetch_optional(&mut **tx)
            .await?;
    match existing {
        Some((account_id, owner)) => {
            let token = tokens::issue(&mut tx, &account_id, Purpose::Reset).await?;
            mail::send(state, &mut tx, email.as_str(), &owner, Message::AlreadyRegistered { token: &token }).await?;
        }
        None => {
            let account_id = new_id("acct");
            let t = now();
            sqlx::query(
                "insert into account (account_id, email, name, password_hash, password_changed_at, created_at, updated_at)
                 values ($1, $2, $3, $4, $5, $5, $5)",
            )
            .bind(&account_id)
            .bind(email.as_str())
            .bind(&name)
            .bind(&hash)
            .bind(t)
            .execute(&mut **tx)
            .await?;
            let token = tokens::issue(&mut tx, &account_id, Purpose::Verify).await?;
            mail::send(state, &mut tx, email.as_str(), &name, Message::Verify { token: &token }).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Counts a message asked for an address against the address's and the client's limits.
async fn limit_mail(state: &AppState, email: &str, client: Option<IpAddr>) -> ApiResult<()> {
    let by_address = for_address(MAIL_ADDRESS, email);
    let by_client = for_client(MAIL_CLIENT, client);
    attempts::take(&state.db, &[(MAIL_ADDRESS, &by_address), (MAIL_CLIENT, &by_client)]).await
}

/// Confirms an account's address from its link; gives the account's address.
pub async fn verify(state: &AppState, token: &str) -> ApiResult<String> {
    let mut tx = state.db.begin_write().await?;
    let Some(account_id) = tokens::redeem(&mut tx, token, Purpose::Verify).await? else {
        return Err(ApiError::NotFound(
            "this link has lapsed or was used already; sign in and we will send a new one".into(),
        ));
    };
    let email: String = sqlx::query_scalar(
        "update account set email_verified_at = coalesce(email_verified_at, $1), updated_at = $1
         where account_id = $2 returning email",
    )
    .bind(now())
    .bind(&account_id)
    .fetch_one(&mut **tx)
    .await?;
    tx.commit().await?;
    Ok(email)
}

/// Sends a new confirmation link to an account whose address is not confirmed yet. Says
/// nothing of whether there is one.
pub async fn resend_verification(state: &AppState, email: &str, client: Option<IpAddr>) -> ApiResult<()> {
    let email = parse_email(email)?;
    limit_mail(state, email.as_str(), client).await?;
    let mut tx = state.db.begin_write().await?;
    let pending: Option<(String, String)> =
        sqlx::query_as("select account_id, name from account where email = $1 and email_verified_at is null")
            .bind(email.as_str())
            .fetch_optional(&mut **tx)
            .await?;
    if let Some((account_id, name)) = pending {
        let token = tokens::issue(&mut tx, &account_id, Purpose::Verify).await?;
        mail::send(state, &mut tx, email.as_str(), &name, Message::Verify { token: &token }).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A sign-in that succeeded: the new session's token and whose it is.
#[derive(Debug)]
pub struct SignedInAs {
    /// The token for the cookie.
    pub token: String,
    /// The account.
    pub account: AccountView,
}

/// Signs in with an address and a password. An unknown address and a wrong password get the
/// same answer after the same work; failures count against the address and the client, and
/// either limit reached means waiting, not a locked account.
pub async fn sign_in(
    state: &AppState,
    email: &str,
    password: &str,
    device: &Device,
    client: Option<IpAddr>,
    previous: Option<&str>,
) -> ApiResult<SignedInAs> {
    let email = parse_email(email)?;
    if password.len() > password::MAX_BYTES {
        return Err(wrong());
    }
    let by_address = for_address(SIGN_IN_ACCOUNT, email.as_str());
    let by_client = for_client(SIGN_IN_CLIENT, client);
    attempts::check(&state.db, &[(SIGN_IN_ACCOUNT, &by_address), (SIGN_IN_CLIENT, &by_client)]).await?;
    let row: Option<(String, String, String, Option<i64>)> =
        sqlx::query_as("select account_id, name, password_hash, email_verified_at from account where email = $1")
            .bind(email.as_str())
            .fetch_optional(&state.db.pool)
            .await?;
    let stored = row.as_ref().map(|r| r.2.clone());
    let (Some((account_id, name, _, verified)), true) = (row, password::verify(password, stored).await) else {
        attempts::record(&state.db, &[&by_address, &by_client]).await?;
        return Err(wrong());
    };
    if verified.is_none() {
        // Only the password's owner learns this; a new link goes out (within the mail limits).
        match resend_verification(state, email.as_str(), client).await {
            Ok(()) | Err(ApiError::RateLimited(_)) => {}
            Err(e) => return Err(e),
        }
        return Err(ApiError::Unverified);
    }
    let token = session::start(&state.db, &account_id, device, previous).await?;
    Ok(SignedInAs { token, account: AccountView { email: email.as_str().to_string(), name } })
}

/// The one answer to a failed sign-in.
fn wrong() -> ApiError {
    ApiError::Unauthorized("that e-mail address and password do not match an account".into())
}

/// Mails a password-reset link to an address's account — or, when the address has none, a
/// note saying so (the same work either way, and the same answer to the caller).
pub async fn forgot_password(state: &AppState, email: &str, client: Option<IpAddr>) -> ApiResult<()> {
    let email = parse_email(email)?;
    limit_mail(state, email.as_str(), client).await?;
    let mut tx = state.db.begin_write().await?;
    let account: Option<(String, String)> = sqlx::query_as("select account_id, name from account where email = $1")
        .bind(email.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    match account {
        Some((account_id, name)) => {
            let token = tokens::issue(&mut tx, &account_id, Purpose::Reset).await?;
            mail::send(state, &mut tx, email.as_str(), &name, Message::Reset { token: &token }).await?;
        }
        None => mail::send(state, &mut tx, email.as_str(), "", Message::NoAccount).await?,
    }
    tx.commit().await?;
    Ok(())
}

/// Sets a new password from a reset link: the link and every other reset link of the account
/// are void after, every session is ended, the owner is told, and the address counts as
/// confirmed (the link reached it).
pub async fn reset_password(state: &AppState, token: &str, new_password: &str) -> ApiResult<()> {
    // The token is read twice: first to know whose strength rules apply (without using it up
    // on a password that is refused), then in the transaction that uses it.
    let digest = tokens::digest(&token.to_ascii_lowercase());
    let owner: Option<(String, String)> = sqlx::query_as(
        "select a.email, a.name from account_token t join account a on a.account_id = t.account_id
         where t.token_hash = $1 and t.purpose = $2 and t.expires_at > $3",
    )
    .bind(&digest)
    .bind(Purpose::Reset.as_str())
    .bind(now())
    .fetch_optional(&state.db.pool)
    .await?;
    let lapsed = || {
        ApiError::NotFound("this link has lapsed or was used already; ask for a new one from the sign-in page".into())
    };
    let (email, name) = owner.ok_or_else(lapsed)?;
    password::check_strength(new_password, &email, &name)?;
    let hash = password::hash(new_password).await?;
    let mut tx = state.db.begin_write().await?;
    let account_id = tokens::redeem(&mut tx, token, Purpose::Reset).await?.ok_or_else(lapsed)?;
    let t = now();
    sqlx::query(
        "update account set password_hash = $1, password_changed_at = $2, updated_at = $2,
         email_verified_at = coalesce(email_verified_at, $2) where account_id = $3",
    )
    .bind(&hash)
    .bind(t)
    .bind(&account_id)
    .execute(&mut **tx)
    .await?;
    session::end_all(&mut tx, &account_id).await?;
    tokens::void(&mut tx, &account_id, Purpose::Verify).await?;
    mail::send(state, &mut tx, &email, &name, Message::PasswordChanged).await?;
    tx.commit().await?;
    Ok(())
}

/// Signs out every session of the account.
pub async fn sign_out_everywhere(state: &AppState, account_id: &str) -> ApiResult<u64> {
    let mut tx = state.db.begin_write().await?;
    let n = session::end_all(&mut tx, account_id).await?;
    tx.commit().await?;
    Ok(n)
}

/// Deletes what the accounts' tables keep past its use: lapsed sessions and links, counted
/// attempts older than every window.
pub async fn prune(db: &crate::db::Db) -> Result<u64, sqlx::Error> {
    Ok(session::prune(db).await? + tokens::prune(db).await? + attempts::prune(db).await?)
}
