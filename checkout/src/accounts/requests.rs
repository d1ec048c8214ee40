//! Registrations, "send the link again" and forgotten passwords. A request only records itself
//! — after the same checks, limits and (for a registration) hashing whatever the address — and
//! answers; what to mail is decided after the answer, by a task of its own and, should that be
//! lost, by the workers. So neither the answer nor its time says whether an address has an
//! account. A registration becomes an account only when its link is opened and its password
//! given again: a stranger registering someone's address can neither tell it has an account nor
//! make one in its owner's name.

use std::net::IpAddr;

use super::mail::{self, Message};
use super::tokens::{self, digest, Purpose};
use super::{attempts, parse_email, parse_name, password, AccountView, Registration};
use crate::db::WriteTx;
use crate::error::{ApiError, ApiResult};
use crate::ids::{new_id, now, random_hex};
use crate::AppState;

/// How long a registration waits for its link, in seconds: a day.
pub const REGISTRATION_LIFETIME: i64 = 24 * 3600;

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Register,
    Resend,
    Forgot,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Register => "register",
            Kind::Resend => "resend",
            Kind::Forgot => "forgot",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        [Kind::Register, Kind::Resend, Kind::Forgot].into_iter().find(|k| k.as_str() == s)
    }
}

/// Counts a message asked for an address against the address's and the client's limits.
async fn limit_mail(state: &AppState, email: &str, client: Option<IpAddr>) -> ApiResult<()> {
    use attempts::{for_address, for_client, MAIL_ADDRESS, MAIL_CLIENT};
    let (by_address, by_client) = (for_address(MAIL_ADDRESS, email), for_client(MAIL_CLIENT, client));
    attempts::enter(&state.db, &[(MAIL_ADDRESS, &by_address), (MAIL_CLIENT, &by_client)]).await?.keep();
    Ok(())
}

/// Records a request and has it handled once the caller has answered.
async fn record(
    state: &AppState,
    kind: Kind,
    email: &str,
    name: Option<&str>,
    password_hash: Option<&str>,
) -> ApiResult<()> {
    let id = new_id("req");
    let mut tx = state.db.begin_write().await?;
    sqlx::query(
        "insert into account_request (request_id, kind, email, name, password_hash, created_at) values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(kind.as_str())
    .bind(email)
    .bind(name)
    .bind(password_hash)
    .bind(now())
    .execute(&mut **tx)
    .await?;
    tx.commit().await?;
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(e) = handle(&state, &id).await {
            tracing::warn!(request = %id, error = %e, "an account request failed; the workers will take it again");
        }
    });
    Ok(())
}

/// Asks for an account: the owner of the address is mailed a link to confirm it (or, when the
/// address has an account already, a note saying so, with a link to choose a new password).
pub async fn register(state: &AppState, input: Registration<'_>, client: Option<IpAddr>) -> ApiResult<()> {
    let email = parse_email(input.email)?;
    let name = parse_name(input.name)?;
    password::check_strength(input.password, email.as_str(), &name)?;
    limit_mail(state, email.as_str(), client).await?;
    let hash = password::hash(input.password).await?;
    record(state, Kind::Register, email.as_str(), Some(&name), Some(&hash)).await
}

/// Asks for the confirmation link of a registration again.
pub async fn resend(state: &AppState, email: &str, client: Option<IpAddr>) -> ApiResult<()> {
    let email = parse_email(email)?;
    limit_mail(state, email.as_str(), client).await?;
    record(state, Kind::Resend, email.as_str(), None, None).await
}

/// Asks for a link to choose a new password (an address without an account is told so).
pub async fn forgot(state: &AppState, email: &str, client: Option<IpAddr>) -> ApiResult<()> {
    let email = parse_email(email)?;
    limit_mail(state, email.as_str(), client).await?;
    record(state, Kind::Forgot, email.as_str(), None, None).await
}

/// Handles one request, if no one has yet: decides what to mail, and queues it.
async fn handle(state: &AppState, request_id: &str) -> ApiResult<bool> {
    let mut tx = state.db.begin_write().await?;
    // Taking the request is deleting it: of several instances, one gets the row.
    let row: Option<(String, String, Option<String>, Option<String>)> =
        sqlx::query_as("delete from account_request where request_id = $1 returning kind, email, name, password_hash")
            .bind(request_id)
            .fetch_optional(&mut **tx)
            .await?;
    let Some((kind, email, name, hash)) = row else { return Ok(false) };
    let owner: Option<(String, String)> = sqlx::query_as("select account_id, name from account where email = $1")
        .bind(&email)
        .fetch_optional(&mut **tx)
        .await?;
    match (Kind::parse(&kind), owner) {
        (Some(Kind::Register), Some((account_id, owner))) => {
            let token = tokens::issue(&mut tx, &account_id, Purpose::Reset).await?;
            mail::send(state, &mut tx, &email, &owner, Message::AlreadyRegistered { token: &token }).await?;
        }
        (Some(Kind::Register), None) => {
            let (Some(name), Some(hash)) = (name, hash) else {
                return Err(ApiError::Internal(format!(
                    "registration request {request_id} lacks its name or password"
                )));
            };
            let token = wait_for_link(&mut tx, &email, &name, &hash).await?;
            mail::send(state, &mut tx, &email, "", Message::Verify { token: &token }).await?;
        }
        (Some(Kind::Resend), None) => {
            let latest: Option<(String, String)> = sqlx::query_as(
                "select name, password_hash from registration where email = $1 and expires_at > $2
                 order by created_at desc limit 1",
            )
            .bind(&email)
            .bind(now())
            .fetch_optional(&mut **tx)
            .await?;
            if let Some((name, hash)) = latest {
                let token = wait_for_link(&mut tx, &email, &name, &hash).await?;
                mail::send(state, &mut tx, &email, "", Message::Verify { token: &token }).await?;
            }
        }
        // The address has an account: nothing to confirm.
        (Some(Kind::Resend), Some(_)) => {}
        (Some(Kind::Forgot), Some((account_id, owner))) => {
            let token = tokens::issue(&mut tx, &account_id, Purpose::Reset).await?;
            mail::send(state, &mut tx, &email, &owner, Message::Reset { token: &token }).await?;
        }
        (Some(Kind::Forgot), None) => mail::send(state, &mut tx, &email, "", Message::NoAccount).await?,
        (None, _) => tracing::error!(request = request_id, kind, "an account request of no known kind; dropped"),
    }
    tx.commit().await?;
    Ok(true)
}

/// A registration waiting for its link; gives the link's token.
async fn wait_for_link(tx: &mut WriteTx, email: &str, name: &str, hash: &str) -> Result<String, sqlx::Error> {
    let token = random_hex(32);
    let t = now();
    sqlx::query(
        "insert into registration (token_hash, email, name, password_hash, created_at, expires_at) values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(digest(&token))
    .bind(email)
    .bind(name)
    .bind(hash)
    .bind(t)
    .bind(t + REGISTRATION_LIFETIME)
    .execute(&mut ***tx)
    .await?;
    Ok(token)
}

/// Handles the requests whose own task was lost (a crash, a restart): those a minute old.
pub async fn handle_left_over(state: &AppState) -> ApiResult<u64> {
    let ids: Vec<String> =
        sqlx::query_scalar("select request_id from account_request where created_at < $1 order by created_at limit 50")
            .bind(now() - 60)
            .fetch_all(&state.db.pool)
            .await?;
    let mut done = 0;
    for id in ids {
        // One that keeps failing must not hold up the others (nor the clean-up after).
        match handle(state, &id).await {
            Ok(true) => done += 1,
            Ok(false) => {}
            Err(e) => tracing::warn!(request = %id, error = %e, "an account request failed; will retry"),
        }
    }
    Ok(done)
}

/// A registration confirmed: the new account's id and view.
#[derive(Debug)]
pub struct Confirmed {
    /// The new account.
    pub account_id: String,
    /// Its view.
    pub account: AccountView,
}

/// Opens the account of a registration from its link and its password: the link and every other
/// registration waiting for that address are spent. A wrong password counts like a wrong one at
/// sign-in.
pub async fn confirm(state: &AppState, token: &str, password: &str, client: Option<IpAddr>) -> ApiResult<Confirmed> {
    let lapsed = || ApiError::NotFound("this link has lapsed or was used already; register again for a new one".into());
    if !tokens::well_formed(token) {
        return Err(lapsed());
    }
    let digest = digest(&token.to_ascii_lowercase());
    let waiting: Option<(String, String, String)> =
        sqlx::query_as("select email, name, password_hash from registration where token_hash = $1 and expires_at > $2")
            .bind(&digest)
            .bind(now())
            .fetch_optional(&state.db.pool)
            .await?;
    let (email, name, hash) = waiting.ok_or_else(lapsed)?;
    let attempt = super::sign_in_attempt(state, &email, client, None).await?;
    if !password::verify(password, Some(hash.clone())).await? {
        attempt.keep();
        return Err(ApiError::Unauthorized(
            "that is not the password this registration was made with; enter the one you chose".into(),
        ));
    }
    attempt.forget(&state.db).await?;
    let mut tx = state.db.begin_write().await?;
    // Every registration waiting for the address is spent at once (two of its links opened
    // together take the same rows in the same order: one waits for the other, neither
    // deadlocks), and this one must have been among them.
    let spent: Vec<String> = sqlx::query_scalar("delete from registration where email = $1 returning token_hash")
        .bind(&email)
        .fetch_all(&mut **tx)
        .await?;
    if !spent.contains(&digest) {
        drop(tx);
        let opened: Option<String> = sqlx::query_scalar("select account_id from account where email = $1")
            .bind(&email)
            .fetch_optional(&state.db.pool)
            .await?;
        return Err(match opened {
            Some(_) => ApiError::Conflict("this address has an account already: sign in".into()),
            None => lapsed(),
        });
    }
    let account_id = new_id("acct");
    let t = now();
    let made: Option<String> = sqlx::query_scalar(
        "insert into account (account_id, email, name, password_hash, email_verified_at, password_changed_at, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $5, $5, $5) on conflict (email) do nothing returning account_id",
    )
    .bind(&account_id)
    .bind(&email)
    .bind(&name)
    .bind(&hash)
    .bind(t)
    .fetch_optional(&mut **tx)
    .await?;
    if made.is_some() {
        // The link reached the address: its guest orders are the owner's.
        crate::orders::claim_guest_orders(&mut tx, &account_id, &email).await?;
    }
    tx.commit().await?;
    if made.is_none() {
        return Err(ApiError::Conflict("this address has an account already: sign in".into()));
    }
    Ok(Confirmed { account_id, account: AccountView { email, name } })
}

/// Deletes registrations whose link has lapsed; gives how many.
pub async fn prune(db: &crate::db::Db) -> Result<u64, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let done = sqlx::query("delete from registration where expires_at <= $1").bind(now()).execute(&mut **tx).await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}
