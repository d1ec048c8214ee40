//! Customer accounts (decision 11): registration confirmed from the address's mailbox, sign-in
//! with server-side sessions and an optional second factor, password resets. No answer tells a
//! stranger whether an address has an account — not its status, body or time (registrations
//! and resets are decided after the answer, see [`requests`]) — and every limit that protects
//! an account is counted in the database.

pub mod addresses;
pub mod attempts;
pub mod google;
pub mod http;
pub mod mail;
mod pages;
pub mod password;
pub mod profile;
pub mod requests;
pub mod session;
pub mod tokens;
pub mod two_factor;

use std::net::IpAddr;

use serde::Serialize;

use crate::email::EmailAddress;
use crate::error::{ApiError, ApiResult};
use crate::ids::now;
use crate::AppState;
use attempts::{for_address, for_client, SIGN_IN_ACCOUNT, SIGN_IN_CLIENT};
use mail::Message;
use session::Device;
use tokens::Purpose;

pub use requests::{forgot, register, resend};

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

/// An e-mail address as typed, checked; the error names the `email` field.
pub(crate) fn parse_email(email: &str) -> ApiResult<EmailAddress> {
    EmailAddress::parse(email).map_err(|e| ApiError::invalid("email", e.to_string()))
}

/// Characters a name may not hold: controls, and the marks that reorder text (a name written
/// into an e-mail must read as it was typed).
fn unwanted_in_name(c: char) -> bool {
    c.is_control() || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A person's name as typed, spaces tidied and checked; the error names the `name` field.
pub(crate) fn parse_name(name: &str) -> ApiResult<String> {
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        return Err(ApiError::invalid("name", "tell us the name to write to"));
    }
    if name.chars().count() > NAME_MAX || name.chars().any(unwanted_in_name) {
        return Err(ApiError::invalid("name", format!("use at most {NAME_MAX} characters, on one line")));
    }
    Ok(name)
}

/// A sign-in that succeeded: the new session's token, whose it is, and the mark that tells the
/// browser apart at the address's next sign-in.
#[derive(Debug)]
pub struct SignedInAs {
    /// The token for the cookie.
    pub token: String,
    /// The account.
    pub account: AccountView,
    /// The device cookie's new value.
    pub device_mark: String,
}

/// A device mark for an address: a random nonce and its signature with the shared key.
fn device_mark(state: &AppState, email: &str) -> String {
    let nonce = crate::ids::random_hex(16);
    let sig = crate::secrets::sign(&state.keys.link, "device", &format!("{email}:{nonce}"));
    format!("{nonce}.{sig}")
}

/// The nonce of a browser's device mark, when the mark is one made for this address.
fn device_nonce<'a>(state: &AppState, email: &str, mark: Option<&'a str>) -> Option<&'a str> {
    let (nonce, sig) = mark?.split_once('.')?;
    crate::secrets::signature_matches(&state.keys.link, "device", &format!("{email}:{nonce}"), sig).then_some(nonce)
}

/// The browser a sign-in comes from: how it describes itself and from where, and the session
/// and cart it had.
#[derive(Debug, Clone, Default)]
pub struct Browser {
    /// Its description, for the list of sessions.
    pub device: Device,
    /// Its address, for the limits.
    pub client: Option<IpAddr>,
    /// The session token it had (ended by the sign-in).
    pub session: Option<String>,
    /// The guest cart it had (merged into the account's).
    pub cart: Option<String>,
    /// The guest wishlist it had (joins the account's).
    pub wishlist: Vec<String>,
    /// Its device cookie: an address signed in from it before.
    pub device_mark: Option<String>,
}

/// Starts the session of a sign-in, once the account has its guest orders and the browser's
/// guest cart and wishlist; gives nothing when the password changed since it was checked.
async fn signed_in(
    state: &AppState,
    account_id: &str,
    password_changed_at: i64,
    account: AccountView,
    browser: &Browser,
    two_factor: bool,
) -> ApiResult<Option<SignedInAs>> {
    claim_guest_orders(state, account_id, &account.email).await?;
    crate::cart::adopt(state, account_id, browser.cart.as_deref()).await?;
    crate::wishlist::adopt(state, account_id, &browser.wishlist).await?;
    if let Some(previous) = &browser.session {
        state.sessions.forget_token(previous);
    }
    let token = session::start(
        &state.db,
        account_id,
        password_changed_at,
        &browser.device,
        browser.session.as_deref(),
        two_factor,
    )
    .await?;
    if crate::staff::members::is_staff(&state.db, account_id).await? {
        let client = browser.client.map(|c| c.to_string());
        crate::staff::audit::record_sign_in(&state.db, account_id, &account.email, client.as_deref(), "staff.sign_in")
            .await?;
    }
    let device_mark = device_mark(state, &account.email);
    Ok(token.map(|token| SignedInAs { token, account, device_mark }))
}

/// Where a sign-in stands after its password.
#[derive(Debug)]
pub enum SignIn {
    /// Signed in.
    Done(SignedInAs),
    /// The password was right; the account asks for a second factor within five minutes.
    NeedsCode {
        /// The challenge's token, for its cookie.
        challenge: String,
    },
}

/// What a sign-in gives: an address, its password, and the second factor when the caller has
/// it at hand.
#[derive(Debug, Clone, Copy)]
pub struct Credentials<'a> {
    /// The address.
    pub email: &'a str,
    /// The password.
    pub password: &'a str,
    /// A code of the authenticator, or a recovery code.
    pub code: Option<&'a str>,
}

/// The attempt of a sign-in for an address from a client, counted against both limits.
pub(super) async fn sign_in_attempt(
    state: &AppState,
    email: &str,
    client: Option<IpAddr>,
    mark: Option<&str>,
) -> ApiResult<attempts::Attempt> {
    let by_client = for_client(SIGN_IN_CLIENT, client);
    // A browser the address signed in from before counts apart from strangers guessing it.
    let (rule, by_address) = match device_nonce(state, email, mark) {
        Some(nonce) => (attempts::SIGN_IN_DEVICE, for_address(attempts::SIGN_IN_DEVICE, nonce)),
        None => (SIGN_IN_ACCOUNT, for_address(SIGN_IN_ACCOUNT, email)),
    };
    attempts::enter(&state.db, &[(rule, &by_address), (SIGN_IN_CLIENT, &by_client)]).await
}

/// Signs in with an address and a password (and a second factor when the account has one). An
/// unknown address and a wrong password get the same answer after the same work; failures
/// count against the address and the client, and either limit reached means waiting, not a
/// locked account.
pub async fn sign_in(state: &AppState, credentials: Credentials<'_>, browser: &Browser) -> ApiResult<SignIn> {
    let client = browser.client;
    let email = parse_email(credentials.email)?;
    if credentials.password.len() > password::MAX_BYTES {
        return Err(wrong());
    }
    let attempt = sign_in_attempt(state, email.as_str(), client, browser.device_mark.as_deref()).await?;
    let row: Option<(String, String, String, i64, Option<i64>)> = sqlx::query_as(
        "select account_id, name, password_hash, password_changed_at, totp_enabled_at from account where email = $1",
    )
    .bind(email.as_str())
    .fetch_optional(&state.db.pool)
    .await?;
    let stored = row.as_ref().map(|r| r.2.clone());
    let known = row.as_ref().map(|r| r.0.clone());
    let (Some((account_id, name, _, changed_at, two_factor)), true) =
        (row, password::verify(credentials.password, stored).await?)
    else {
        attempt.keep();
        // Asked whether or not the address has an account: the same work either way.
        refused_staff(state, known.as_deref().unwrap_or(""), email.as_str(), client).await?;
        return Err(wrong());
    };
    let account = AccountView { email: email.as_str().to_string(), name };
    if two_factor.is_some() {
        let Some(code) = credentials.code.filter(|c| !c.trim().is_empty()) else {
            attempt.forget(&state.db).await?;
            return Ok(SignIn::NeedsCode { challenge: two_factor::challenge(&state.db, &account_id).await? });
        };
        let mut tx = state.db.begin_write().await?;
        let good = two_factor::take_code(&mut tx, &account_id, &account.email, code).await?;
        tx.commit().await?;
        if !good {
            attempt.keep();
            refused_staff(state, &account_id, &account.email, client).await?;
            return Err(wrong_code());
        }
    }
    attempt.forget(&state.db).await?;
    // The session is made only if the password is still the one just checked: a reset that
    // lands in between ends this sign-in too.
    let done =
        signed_in(state, &account_id, changed_at, account, browser, two_factor.is_some()).await?.ok_or_else(wrong)?;
    Ok(SignIn::Done(done))
}

/// Answers a sign-in's challenge with its second factor: a session, or a refusal counted like a
/// wrong password.
pub async fn answer_challenge(
    state: &AppState,
    challenge: &str,
    code: &str,
    browser: &Browser,
) -> ApiResult<SignedInAs> {
    let client = browser.client;
    let lapsed = || ApiError::Unauthorized("five minutes have passed since your password: sign in again".into());
    let waiting = two_factor::challenged(&state.db, challenge).await?.ok_or_else(lapsed)?;
    let attempt = sign_in_attempt(state, &waiting.email, client, browser.device_mark.as_deref()).await?;
    let mut tx = state.db.begin_write().await?;
    // The challenge is ended first: of two answers at once, one goes on.
    if !two_factor::end_challenge(&mut tx, challenge).await? {
        return Err(lapsed());
    }
    if !two_factor::take_code(&mut tx, &waiting.account_id, &waiting.email, code).await? {
        drop(tx);
        attempt.keep();
        refused_staff(state, &waiting.account_id, &waiting.email, client).await?;
        return Err(wrong_code());
    }
    tx.commit().await?;
    attempt.forget(&state.db).await?;
    let account = AccountView { email: waiting.email.clone(), name: waiting.name.clone() };
    signed_in(state, &waiting.account_id, waiting.password_changed_at, account, browser, true).await?.ok_or_else(lapsed)
}

/// Guest orders placed with the account's address since it last signed in join it (its address
/// was proven its owner's when it was made).
async fn claim_guest_orders(state: &AppState, account_id: &str, email: &str) -> ApiResult<()> {
    let mut tx = state.db.begin_write().await?;
    crate::orders::claim_guest_orders(&mut tx, account_id, email).await?;
    tx.commit().await?;
    Ok(())
}

/// Puts one of the account's orders back in a cart (made when there is none), at today's prices
/// and stock.
pub async fn order_again(
    state: &AppState,
    account_id: &str,
    order_id: &str,
    cart: Option<String>,
) -> ApiResult<crate::cart::Reordered> {
    let lines = crate::orders::lines_of(&state.db, account_id, order_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such order in your account".into()))?;
    crate::cart::reorder(state, cart, &lines).await
}

/// A refused sign-in to a staff account goes in the audit log (a customer's does not).
async fn refused_staff(state: &AppState, account_id: &str, email: &str, client: Option<IpAddr>) -> ApiResult<()> {
    if crate::staff::members::is_staff(&state.db, account_id).await? {
        let client = client.map(|c| c.to_string());
        crate::staff::audit::record_sign_in(&state.db, account_id, email, client.as_deref(), "staff.sign_in_failed")
            .await?;
    }
    Ok(())
}

fn wrong_code() -> ApiError {
    ApiError::Unauthorized(
        "that code is not right, or was used already: enter the one your authenticator shows now, or a recovery code"
            .into(),
    )
}

/// The one answer to a failed sign-in.
fn wrong() -> ApiError {
    ApiError::Unauthorized("that e-mail address and password do not match an account".into())
}

/// Opens the account of a registration from its link and its password, and signs it in.
pub async fn confirm(state: &AppState, token: &str, password: &str, browser: &Browser) -> ApiResult<SignedInAs> {
    let made = requests::confirm(state, token, password, browser.client).await?;
    let changed_at: i64 = sqlx::query_scalar("select password_changed_at from account where account_id = $1")
        .bind(&made.account_id)
        .fetch_one(&state.db.pool)
        .await?;
    signed_in(state, &made.account_id, changed_at, made.account, browser, false)
        .await?
        .ok_or_else(|| ApiError::Conflict("the password changed meanwhile: sign in".into()))
}

/// Turns two-factor sign-in on with the authenticator's first code; gives the recovery codes and
/// the session's new token (a change of what protects the account makes a new one).
pub async fn enable_two_factor(
    state: &AppState,
    me: &session::SignedIn,
    code: &str,
    client: Option<IpAddr>,
) -> ApiResult<(Vec<String>, String)> {
    let attempt = sign_in_attempt(state, &me.email, client, None).await?;
    match two_factor::enable(&state.db, &me.account_id, &me.email, code).await {
        Ok(Some(codes)) => {
            attempt.forget(&state.db).await?;
            // A session someone else holds ends with the change; this one gets a new token.
            let mut tx = state.db.begin_write().await?;
            sqlx::query("delete from account_session where account_id = $1 and session_id <> $2")
                .bind(&me.account_id)
                .bind(&me.session_id)
                .execute(&mut **tx)
                .await?;
            // The code just given proves the second factor for this session.
            sqlx::query("update account_session set two_factor_at = $1 where session_id = $2")
                .bind(crate::ids::now())
                .bind(&me.session_id)
                .execute(&mut **tx)
                .await?;
            tx.commit().await?;
            let token = session::rotate(&state.db, &me.session_id).await?;
            state.sessions.forget_account(&me.account_id);
            Ok((codes, token))
        }
        Ok(None) => {
            attempt.keep();
            Err(ApiError::invalid("code", "that code is not right: enter the one your authenticator shows now"))
        }
        Err(e) => {
            attempt.forget(&state.db).await?;
            Err(e)
        }
    }
}

/// Turns two-factor sign-in off with a fresh code (of the authenticator, or a recovery code);
/// gives the session's new token.
pub async fn disable_two_factor(
    state: &AppState,
    me: &session::SignedIn,
    code: &str,
    client: Option<IpAddr>,
) -> ApiResult<String> {
    if !two_factor::is_on(&state.db, &me.account_id).await? {
        return Err(ApiError::Conflict("two-factor sign-in is off already".into()));
    }
    let attempt = sign_in_attempt(state, &me.email, client, None).await?;
    let mut tx = state.db.begin_write().await?;
    if !two_factor::take_code(&mut tx, &me.account_id, &me.email, code).await? {
        tx.commit().await?;
        attempt.keep();
        return Err(ApiError::invalid("code", "that code is not right, or was used already"));
    }
    two_factor::disable(&mut tx, &me.account_id).await?;
    // No session of an account without a second factor counts as having proved one.
    sqlx::query("update account_session set two_factor_at = null where account_id = $1")
        .bind(&me.account_id)
        .execute(&mut **tx)
        .await?;
    tx.commit().await?;
    attempt.forget(&state.db).await?;
    let token = session::rotate(&state.db, &me.session_id).await?;
    state.sessions.forget_account(&me.account_id);
    Ok(token)
}

/// Sets a new password from a reset link: the link and every other reset link of the account
/// are void after, every session is ended, the owner is told, and the address counts as
/// confirmed (the link reached it).
pub async fn reset_password(state: &AppState, token: &str, new_password: &str) -> ApiResult<()> {
    let lapsed = || {
        ApiError::NotFound("this link has lapsed or was used already; ask for a new one from the sign-in page".into())
    };
    // The token is read twice: first to know whose strength rules apply (without using it up
    // on a password that is refused), then in the transaction that uses it.
    // A staff invitation's link opens the same form, for a first password.
    let (owner, purpose) = match tokens::owner(&state.db, token, Purpose::Reset).await? {
        Some(owner) => (owner, Purpose::Reset),
        None => (tokens::owner(&state.db, token, Purpose::Invite).await?.ok_or_else(lapsed)?, Purpose::Invite),
    };
    password::check_strength(new_password, &owner.email, &owner.name)?;
    let hash = password::hash(new_password).await?;
    let mut tx = state.db.begin_write().await?;
    let account_id = tokens::redeem(&mut tx, token, purpose).await?.ok_or_else(lapsed)?.account_id;
    // Whichever link set it, no other link that sets a password stays good.
    tokens::void(&mut tx, &account_id, Purpose::Reset).await?;
    tokens::void(&mut tx, &account_id, Purpose::Invite).await?;
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
    two_factor::end_challenges(&mut tx, &account_id).await?;
    mail::send(state, &mut tx, &owner.email, &owner.name, Message::PasswordChanged).await?;
    tx.commit().await?;
    state.sessions.forget_account(&account_id);
    Ok(())
}

/// An account's address.
pub async fn email_of(state: &AppState, account_id: &str) -> ApiResult<Option<String>> {
    Ok(sqlx::query_scalar("select email from account where account_id = $1")
        .bind(account_id)
        .fetch_optional(&state.db.pool)
        .await?)
}

/// Signs out every session of the account.
pub async fn sign_out_everywhere(state: &AppState, account_id: &str) -> ApiResult<u64> {
    let mut tx = state.db.begin_write().await?;
    let n = session::end_all(&mut tx, account_id).await?;
    tx.commit().await?;
    state.sessions.forget_account(account_id);
    Ok(n)
}

/// The accounts' background work, on every instance: requests whose own task was lost, and
/// deleting what is kept past its use (lapsed sessions, links, registrations, challenges, and
/// attempts older than every window).
pub async fn work(state: &AppState) -> ApiResult<u64> {
    let db = &state.db;
    let handled = requests::handle_left_over(state).await?;
    Ok(handled
        + session::prune(db).await?
        + tokens::prune(db).await?
        + requests::prune(db).await?
        + attempts::prune(db).await?
        + two_factor::prune(db).await?
        + google::prune(db).await?)
}
