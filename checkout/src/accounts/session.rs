//! Sessions kept on the server (decision 11): the cookie holds an opaque random token, the
//! database its SHA-256 with the account, the browser and when it was last used. A session
//! lives thirty days from its last use (renewed at most once a day, so reading one costs no
//! write), is made anew at every sign-in, and ends everywhere when the password changes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::Serialize;

use super::tokens::digest;
use super::two_factor::{CHALLENGE_COOKIE, CHALLENGE_LIFETIME};
use crate::db::Db;
use crate::error::ApiError;
use crate::ids::{new_id, now, random_hex};
use crate::AppState;

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "atelier_session";
/// How long a session lasts unused, in seconds: thirty days.
pub const LIFETIME: i64 = 30 * 24 * 3600;
/// How often a session in use is renewed, in seconds: once a day.
const RENEW_AFTER: i64 = 24 * 3600;

/// The signed-in account of a request.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The session.
    pub session_id: String,
    /// The account.
    pub account_id: String,
    /// Its address.
    pub email: String,
    /// Its owner's name.
    pub name: String,
    /// The account's cart, when it has one.
    pub cart_id: Option<String>,
    /// The session's token, from the cookie (to hand the cookie out again when renewed).
    token: String,
    /// Whether this request renewed the session (its cookie should be sent again).
    pub renewed: bool,
}

impl SignedIn {
    /// The cookie that keeps this session for another [`LIFETIME`].
    pub fn cookie(&self, public_url: &str) -> CookieJar {
        cookie(&self.token, public_url)
    }
}

/// The session of a request, when it has a live one. Reading it renews a session last renewed
/// a day ago or more.
#[derive(Debug, Clone)]
pub struct MaybeSignedIn(pub Option<SignedIn>);

impl MaybeSignedIn {
    /// The signed-in account's id, if any.
    pub fn account_id(&self) -> Option<&str> {
        self.0.as_ref().map(|s| s.account_id.as_str())
    }
}

impl FromRequestParts<AppState> for MaybeSignedIn {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match token_of(&parts.headers) {
            Some(token) => Ok(MaybeSignedIn(lookup(state, &token).await?)),
            None => Ok(MaybeSignedIn(None)),
        }
    }
}

/// How long this instance trusts a session it read: a session ended on another instance is
/// refused here at most this long after (one ended here, at once).
const TRUSTED_FOR: Duration = Duration::from_secs(1);
/// Sessions held at most (beyond, the oldest half is let go).
const HELD_AT_MOST: usize = 10_000;

/// The sessions this instance read in the last second, by their token's SHA-256: a signed-in
/// browser's every request (its cart, the header's link) would otherwise cost a query as dear
/// as the cart read itself.
#[derive(Debug, Default)]
pub struct SessionCache {
    held: Mutex<HashMap<String, (Instant, SignedIn)>>,
}

impl SessionCache {
    fn get(&self, key: &str) -> Option<SignedIn> {
        let held = self.held.lock().ok()?;
        let (at, me) = held.get(key)?;
        (at.elapsed() < TRUSTED_FOR).then(|| SignedIn { renewed: false, ..me.clone() })
    }

    fn put(&self, key: String, me: &SignedIn) {
        if let Ok(mut held) = self.held.lock() {
            if held.len() >= HELD_AT_MOST {
                held.retain(|_, (at, _)| at.elapsed() < TRUSTED_FOR);
            }
            if held.len() < HELD_AT_MOST {
                held.insert(key, (Instant::now(), me.clone()));
            }
        }
    }

    /// Lets go of an account's sessions (they ended, or the account changed): the next request
    /// reads them afresh.
    pub fn forget_account(&self, account_id: &str) {
        if let Ok(mut held) = self.held.lock() {
            held.retain(|_, (_, me)| me.account_id != account_id);
        }
    }

    /// Lets go of one session (its browser signed in anew).
    pub fn forget_token(&self, token: &str) {
        if let Ok(mut held) = self.held.lock() {
            held.remove(&digest(token));
        }
    }
}

/// The live session of a token: as this instance read it within the last second, or afresh
/// (renewed when due).
pub async fn lookup(state: &AppState, token: &str) -> Result<Option<SignedIn>, sqlx::Error> {
    let key = digest(token);
    if let Some(me) = state.sessions.get(&key) {
        return Ok(Some(me));
    }
    let found = find(&state.db, token).await?;
    if let Some(me) = &found {
        state.sessions.put(key, me);
    }
    Ok(found)
}

/// The session token in a request's cookie, when it has one of the right shape.
pub fn token_of(headers: &HeaderMap) -> Option<String> {
    let jar = CookieJar::from_headers(headers);
    jar.get(SESSION_COOKIE).map(Cookie::value).filter(|v| super::tokens::well_formed(v)).map(str::to_ascii_lowercase)
}

/// The live session of a token, renewed when due.
pub async fn find(db: &Db, token: &str) -> Result<Option<SignedIn>, sqlx::Error> {
    let t = now();
    let row: Option<(String, String, String, String, i64, Option<String>)> = sqlx::query_as(
        "select s.session_id, s.account_id, a.email, a.name, s.last_seen_at,
                (select c.cart_id from cart c where c.account_id = s.account_id) as cart_id
         from account_session s join account a on a.account_id = s.account_id
         where s.token_hash = $1 and s.expires_at > $2",
    )
    .bind(digest(token))
    .bind(t)
    .fetch_optional(&db.pool)
    .await?;
    let Some((session_id, account_id, email, name, last_seen, cart_id)) = row else { return Ok(None) };
    let renewed = t - last_seen >= RENEW_AFTER;
    if renewed {
        let mut tx = db.begin_write().await?;
        sqlx::query("update account_session set last_seen_at = $1, expires_at = $2 where session_id = $3")
            .bind(t)
            .bind(t + LIFETIME)
            .bind(&session_id)
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
    }
    Ok(Some(SignedIn { session_id, account_id, email, name, cart_id, token: token.to_string(), renewed }))
}

/// Where a session was started: the browser's own description and the client's address.
#[derive(Debug, Clone, Default)]
pub struct Device {
    /// The `User-Agent` header (kept to its first 200 characters).
    pub user_agent: String,
    /// The client's address as the service sees it (behind trusted proxies, the forwarded one).
    pub client: String,
}

/// The most sessions an account keeps; signing in once more ends the oldest.
const MOST_SESSIONS: i64 = 20;

/// Starts a session for an account, ending the one the browser had (a new token at every
/// sign-in: a token planted before it is worth nothing after); `two_factor` says the sign-in
/// proved a second factor (staff pages ask for it). Made only while the account's
/// password is still the one the sign-in checked (`password_changed_at`); gives the token, or
/// nothing when the password changed meanwhile.
pub async fn start(
    db: &Db,
    account_id: &str,
    password_changed_at: i64,
    device: &Device,
    previous: Option<&str>,
    two_factor: bool,
) -> Result<Option<String>, sqlx::Error> {
    let token = random_hex(32);
    let t = now();
    let mut tx = db.begin_write().await?;
    if let Some(previous) = previous {
        sqlx::query("delete from account_session where token_hash = $1")
            .bind(digest(previous))
            .execute(&mut **tx)
            .await?;
    }
    let made = sqlx::query(
        "insert into account_session (session_id, token_hash, account_id, created_at, last_seen_at, expires_at, user_agent, client, two_factor_at)
         select $1, $2, account_id, $3, $3, $4, $5, $6, $9 from account where account_id = $7 and password_changed_at = $8",
    )
    .bind(new_id("ses"))
    .bind(digest(&token))
    .bind(t)
    .bind(t + LIFETIME)
    .bind(device.user_agent.chars().take(200).collect::<String>())
    .bind(&device.client)
    .bind(account_id)
    .bind(password_changed_at)
    .bind(two_factor.then_some(t))
    .execute(&mut **tx)
    .await?;
    if made.rows_affected() != 1 {
        return Ok(None);
    }
    sqlx::query(
        "delete from account_session where account_id = $1 and session_id not in
         (select session_id from account_session where account_id = $1 order by created_at desc, session_id desc limit $2)",
    )
    .bind(account_id)
    .bind(MOST_SESSIONS)
    .execute(&mut **tx)
    .await?;
    tx.commit().await?;
    Ok(Some(token))
}

/// Gives a session a new token (when what protects the account changes, a token copied before
/// is worth nothing after); gives the token.
pub async fn rotate(db: &Db, session_id: &str) -> Result<String, sqlx::Error> {
    let token = random_hex(32);
    let mut tx = db.begin_write().await?;
    sqlx::query("update account_session set token_hash = $1 where session_id = $2")
        .bind(digest(&token))
        .bind(session_id)
        .execute(&mut **tx)
        .await?;
    tx.commit().await?;
    Ok(token)
}

/// Ends one of an account's sessions; says whether there was such a session.
pub async fn end(db: &Db, account_id: &str, session_id: &str) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let done = sqlx::query("delete from account_session where session_id = $1 and account_id = $2")
        .bind(session_id)
        .bind(account_id)
        .execute(&mut **tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// Ends every session of an account (signing out everywhere; a new password).
pub async fn end_all(tx: &mut crate::db::WriteTx, account_id: &str) -> Result<u64, sqlx::Error> {
    let done =
        sqlx::query("delete from account_session where account_id = $1").bind(account_id).execute(&mut ***tx).await?;
    Ok(done.rows_affected())
}

/// One of an account's sessions, as its list shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    /// The session's name, for ending it.
    #[schema(example = "ses_019ad3f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5")]
    pub session_id: String,
    /// When it was started (unix seconds).
    pub created_at: i64,
    /// When it was last renewed (unix seconds; it is renewed once a day while in use).
    pub last_seen_at: i64,
    /// The browser, as it describes itself.
    pub user_agent: String,
    /// The address it signed in from.
    pub client: String,
    /// Whether it is the session asking.
    pub current: bool,
}

/// An account's live sessions, the newest first.
pub async fn list(db: &Db, me: &SignedIn) -> Result<Vec<SessionView>, sqlx::Error> {
    let rows: Vec<(String, i64, i64, String, String)> = sqlx::query_as(
        "select session_id, created_at, last_seen_at, user_agent, client from account_session
         where account_id = $1 and expires_at > $2 order by created_at desc, session_id desc",
    )
    .bind(&me.account_id)
    .bind(now())
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(session_id, created_at, last_seen_at, user_agent, client)| SessionView {
            current: session_id == me.session_id,
            session_id,
            created_at,
            last_seen_at,
            user_agent,
            client,
        })
        .collect())
}

/// Deletes sessions that have expired; gives how many.
pub async fn prune(db: &Db) -> Result<u64, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let done = sqlx::query("delete from account_session where expires_at <= $1").bind(now()).execute(&mut **tx).await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}

/// The cookie of a session: HttpOnly, SameSite=Lax, Secure when the shop is served over HTTPS.
pub fn cookie(token: &str, public_url: &str) -> CookieJar {
    CookieJar::new().add(make(SESSION_COOKIE, token, LIFETIME, public_url))
}

/// The answer's cookie that removes the session's from the browser.
pub fn removal(public_url: &str) -> CookieJar {
    CookieJar::new().add(make(SESSION_COOKIE, "", 0, public_url))
}

/// The name of the cookie that marks a browser an address signed in from before.
pub const DEVICE_COOKIE: &str = "atelier_device";
/// How long a browser is remembered, in seconds: a year.
const DEVICE_LIFETIME: i64 = 365 * 24 * 3600;

/// The device cookie in a request, when it has one of the right shape.
pub fn device_of(headers: &HeaderMap) -> Option<String> {
    let jar = CookieJar::from_headers(headers);
    jar.get(DEVICE_COOKIE)
        .map(Cookie::value)
        .filter(|v| {
            v.len() <= 128 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
        })
        .map(str::to_string)
}

/// The cookie that marks a browser an address signed in from.
pub fn device_cookie(value: &str, public_url: &str) -> Cookie<'static> {
    make(DEVICE_COOKIE, value, DEVICE_LIFETIME, public_url)
}

/// The cookie of a sign-in's challenge (a right password waiting for its second factor).
pub fn challenge_cookie(token: &str, public_url: &str) -> CookieJar {
    CookieJar::new().add(make(CHALLENGE_COOKIE, token, CHALLENGE_LIFETIME, public_url))
}

/// A session's cookie, with the challenge's removed (the challenge answered).
pub fn cookie_after_challenge(token: &str, public_url: &str) -> CookieJar {
    cookie(token, public_url).add(make(CHALLENGE_COOKIE, "", 0, public_url))
}

/// The challenge token in a request's cookie, when it has one of the right shape.
pub fn challenge_of(headers: &HeaderMap) -> Option<String> {
    let jar = CookieJar::from_headers(headers);
    jar.get(CHALLENGE_COOKIE).map(Cookie::value).filter(|v| super::tokens::well_formed(v)).map(str::to_ascii_lowercase)
}

/// The name of the cookie that holds a trip to Google's state until the browser comes back.
pub const GOOGLE_COOKIE: &str = "atelier_google";

/// The cookie of a trip to Google (ten minutes; SameSite=Lax, so that it comes back with the
/// browser's return from Google, a top-level navigation).
pub fn google_cookie(state: &str, public_url: &str) -> Cookie<'static> {
    make(GOOGLE_COOKIE, state, 600, public_url)
}

/// The answer's cookie that removes a trip to Google's.
pub fn google_cookie_removal(public_url: &str) -> Cookie<'static> {
    make(GOOGLE_COOKIE, "", 0, public_url)
}

/// The state of a trip to Google in a request's cookie, when it has one of a sane length.
pub fn google_of(headers: &HeaderMap) -> Option<String> {
    let jar = CookieJar::from_headers(headers);
    jar.get(GOOGLE_COOKIE).map(Cookie::value).filter(|v| !v.is_empty() && v.len() <= 128).map(str::to_string)
}

fn make(name: &'static str, value: &str, max_age: i64, public_url: &str) -> Cookie<'static> {
    Cookie::build((name, value.to_string()))
        .path("/")
        .max_age(cookie::time::Duration::seconds(max_age))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(public_url.starts_with("https://"))
        .build()
}
