//! Sign-in with Google (OpenID Connect's authorisation code flow, with PKCE). The browser goes
//! to Google carrying a random state, a nonce and a PKCE challenge, and comes back with a code;
//! the code is redeemed from here with the client's secret and the PKCE verifier, and the ID
//! token that answers is checked against Google's published keys, its issuer, our client id,
//! its expiry and the nonce. An account is found by Google's subject id only. A new address
//! makes a new account; an address that has an account here already is linked only once its
//! owner has signed in with its password (else whoever registered an address first at Google
//! could walk into the account made here with it, or the other way round).

pub mod pages;
mod provider;

use openidconnect::core::{CoreAuthPrompt, CoreAuthenticationFlow};
use openidconnect::{AuthorizationCode, CsrfToken, Nonce, PkceCodeChallenge, PkceCodeVerifier, Scope, TokenResponse};
use openidconnect::{ClaimsVerificationError, SignatureVerificationError};

pub use provider::Google;

use super::session::SignedIn;
use super::{AccountView, Browser, SignIn, SignedInAs};
use crate::email::EmailAddress;
use crate::error::ApiError;
use crate::ids::{new_id, now};
use crate::AppState;
use provider::error_chain;

/// How long a trip to Google may take, in seconds.
const FLOW_LIFETIME: i64 = 600;

/// What a trip to Google is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Signing in (or making an account).
    SignIn,
    /// Linking the signed-in account.
    Link,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::SignIn => "sign_in",
            Purpose::Link => "link",
        }
    }
}

/// Why a trip to Google ended without signing in or linking.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// The person said no at Google.
    #[error("you chose not to continue with Google; nothing changed here")]
    Cancelled,
    /// The state is unknown, used, lapsed, or not this browser's.
    #[error("this sign-in with Google has lapsed or was started in another browser: start again")]
    Lapsed,
    /// Google does not vouch for the address.
    #[error("Google has not confirmed that this Google account's address is yours: confirm it with Google, or register with a password")]
    Unverified,
    /// The code or the ID token failed a check (the cause is logged, not shown).
    #[error("Google's answer could not be checked, so nobody was signed in: start again")]
    Untrusted(String),
    /// Google could not be reached, or the shop does not offer it.
    #[error("Google could not be reached: try again in a moment, or sign in with your password")]
    Unreachable(String),
    /// The Google account belongs to another account here.
    #[error("that Google account is linked to another account here")]
    LinkedElsewhere,
    /// This account has a Google account linked already.
    #[error("your account is linked to a Google account already: unlink it first")]
    AlreadyLinked,
    /// Linking needs the account that asked for it signed in.
    #[error("sign in to your account first, then link Google from its security section")]
    SignedOut,
    /// Something failed here.
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl From<sqlx::Error> for Refused {
    fn from(e: sqlx::Error) -> Refused {
        Refused::Api(e.into())
    }
}

/// A trip to Google begun: where to send the browser, and the state for its cookie.
#[derive(Debug)]
pub struct Started {
    /// Google's authorisation page, with the request in its query.
    pub location: String,
    /// The state the browser must bring back (kept in its cookie too).
    pub state: String,
}

/// Where Google sends the browser back.
pub fn callback_url(state: &AppState) -> String {
    format!("{}/account/google/callback", state.config.public_url)
}

/// Begins a trip to Google: a random state, nonce and PKCE verifier, kept server-side for ten
/// minutes (only the state's digest), every instance able to finish it.
pub async fn start(state: &AppState, purpose: Purpose, account_id: Option<&str>) -> Result<Started, Refused> {
    let client = state.google.client(&callback_url(state), false).await.map_err(Refused::Unreachable)?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .add_prompt(CoreAuthPrompt::SelectAccount)
        .set_pkce_challenge(challenge)
        .url();
    let t = now();
    let mut tx = state.db.begin_write().await?;
    sqlx::query(
        "insert into google_flow (state_hash, nonce, pkce_verifier, purpose, account_id, created_at, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(super::tokens::digest(csrf.secret()))
    .bind(nonce.secret())
    .bind(verifier.secret())
    .bind(purpose.as_str())
    .bind(account_id)
    .bind(t)
    .bind(t + FLOW_LIFETIME)
    .execute(&mut **tx)
    .await?;
    tx.commit().await?;
    Ok(Started { location: url.to_string(), state: csrf.secret().clone() })
}

/// What Google sends back in the callback's query.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Callback {
    /// The authorisation code.
    pub code: Option<String>,
    /// The state the trip began with.
    pub state: Option<String>,
    /// Set instead of a code when the person said no (`access_denied`) or Google refused.
    pub error: Option<String>,
}

/// How a trip to Google ended.
#[derive(Debug)]
pub enum Outcome {
    /// Signed in (or, with two factors on, waiting for the code).
    SignedIn(SignIn),
    /// The signed-in account is linked to the Google account.
    Linked,
    /// An account here has the Google account's address but is not linked to it: its owner
    /// signs in with the password, then links Google.
    OwnerMustSignIn {
        /// The address.
        email: String,
    },
}

/// A trip waiting for its callback.
struct Flow {
    nonce: String,
    verifier: String,
    purpose: String,
    account_id: Option<String>,
}

/// Ends a trip to Google: checks the state against the browser's cookie, redeems the code and
/// checks the ID token, then signs in, makes the account, or links it.
pub async fn finish(
    state: &AppState,
    callback: &Callback,
    cookie: Option<&str>,
    browser: &Browser,
    me: Option<&SignedIn>,
) -> Result<Outcome, Refused> {
    // The state must be the one this browser set out with (else someone could send their own
    // Google sign-in to another's browser), and it is used up whatever follows.
    let given = callback.state.as_deref().ok_or(Refused::Lapsed)?;
    if cookie != Some(given) {
        return Err(Refused::Lapsed);
    }
    let flow = take_flow(state, given).await?.ok_or(Refused::Lapsed)?;
    if callback.error.is_some() {
        return Err(Refused::Cancelled);
    }
    let code = callback.code.clone().filter(|c| !c.is_empty()).ok_or(Refused::Lapsed)?;
    let person = redeem(state, code, &flow).await?;
    match flow.purpose.as_str() {
        "link" => {
            let account_id = flow.account_id.ok_or(Refused::SignedOut)?;
            if me.map(|m| m.account_id.as_str()) != Some(account_id.as_str()) {
                return Err(Refused::SignedOut);
            }
            link(state, &account_id, &person).await?;
            Ok(Outcome::Linked)
        }
        _ => sign_in(state, &person, browser).await,
    }
}

async fn take_flow(state: &AppState, given: &str) -> Result<Option<Flow>, sqlx::Error> {
    let mut tx = state.db.begin_write().await?;
    let row: Option<(String, String, String, Option<String>)> = sqlx::query_as(
        "delete from google_flow where state_hash = $1 and expires_at > $2
         returning nonce, pkce_verifier, purpose, account_id",
    )
    .bind(super::tokens::digest(given))
    .bind(now())
    .fetch_optional(&mut **tx)
    .await?;
    tx.commit().await?;
    Ok(row.map(|(nonce, verifier, purpose, account_id)| Flow { nonce, verifier, purpose, account_id }))
}

/// Who Google says signed in, once every check passed.
#[derive(Debug)]
struct Person {
    subject: String,
    email: EmailAddress,
    name: Option<String>,
}

/// Redeems the code and checks the ID token it brings.
async fn redeem(state: &AppState, code: String, flow: &Flow) -> Result<Person, Refused> {
    let redirect = callback_url(state);
    let client = state.google.client(&redirect, false).await.map_err(Refused::Unreachable)?;
    let http = state.google.http().clone();
    let fetch = move |request| {
        let http = http.clone();
        async move { http.send(request).await }
    };
    let answer = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| Refused::Unreachable(e.to_string()))?
        .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier.clone()))
        .request_async(&fetch)
        .await
        .map_err(|e| match e {
            openidconnect::RequestTokenError::Request(e) => Refused::Unreachable(e.to_string()),
            other => Refused::Untrusted(format!("redeeming the code: {}", error_chain(&other))),
        })?;
    let token = answer.id_token().ok_or_else(|| Refused::Untrusted("no ID token in the answer".into()))?;
    let nonce = Nonce::new(flow.nonce.clone());
    let first = token.claims(&client.id_token_verifier(), &nonce).cloned();
    let claims = match first {
        Ok(claims) => claims,
        // Google turns its keys over: a key not seen yet means fetching them again, once.
        Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey)) => {
            let fresh = state.google.client(&redirect, true).await.map_err(Refused::Unreachable)?;
            let again = token.claims(&fresh.id_token_verifier(), &nonce).cloned();
            again.map_err(|e| Refused::Untrusted(format!("the ID token: {}", error_chain(&e))))?
        }
        Err(e) => return Err(Refused::Untrusted(format!("the ID token: {}", error_chain(&e)))),
    };
    if claims.email_verified() != Some(true) {
        return Err(Refused::Unverified);
    }
    let email = claims
        .email()
        .and_then(|e| EmailAddress::parse(e.as_str()).ok())
        .ok_or_else(|| Refused::Untrusted("the ID token has no usable address".into()))?;
    let name = claims.name().and_then(|n| n.get(None)).and_then(|n| super::parse_name(n.as_str()).ok());
    Ok(Person { subject: claims.subject().to_string(), email, name })
}

/// Links an account to a Google account, unless either is linked already.
async fn link(state: &AppState, account_id: &str, person: &Person) -> Result<(), Refused> {
    let mut tx = state.db.begin_write().await?;
    let linked: Option<String> =
        sqlx::query_scalar("select account_id from account_google where subject = $1 or account_id = $2 limit 1")
            .bind(&person.subject)
            .bind(account_id)
            .fetch_optional(&mut **tx)
            .await?;
    if linked.is_none() {
        sqlx::query("insert into account_google (subject, account_id, email, linked_at) values ($1, $2, $3, $4)")
            .bind(&person.subject)
            .bind(account_id)
            .bind(person.email.as_str())
            .bind(now())
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
        return Ok(());
    }
    drop(tx);
    let mine: Option<String> = sqlx::query_scalar("select subject from account_google where account_id = $1")
        .bind(account_id)
        .fetch_optional(&state.db.pool)
        .await?;
    match mine {
        Some(subject) if subject == person.subject => Ok(()),
        Some(_) => Err(Refused::AlreadyLinked),
        None => Err(Refused::LinkedElsewhere),
    }
}

/// Signs in the account linked to the Google account; with none, makes one for a new address,
/// and for an address with an account here asks its owner to sign in first.
async fn sign_in(state: &AppState, person: &Person, browser: &Browser) -> Result<Outcome, Refused> {
    let linked: Option<(String, String, String, i64, Option<i64>)> = sqlx::query_as(
        "select a.account_id, a.email, a.name, a.password_changed_at, a.totp_enabled_at
         from account_google g join account a on a.account_id = g.account_id where g.subject = $1",
    )
    .bind(&person.subject)
    .fetch_optional(&state.db.pool)
    .await?;
    let (account_id, email, name, changed_at, two_factor) = match linked {
        Some(row) => row,
        None => match make_account(state, person).await? {
            Some(made) => made,
            None => return Ok(Outcome::OwnerMustSignIn { email: person.email.as_str().to_string() }),
        },
    };
    // Google is one factor: an account that asks for a second asks for it here too.
    if two_factor.is_some() {
        let challenge = super::two_factor::challenge(&state.db, &account_id).await?;
        return Ok(Outcome::SignedIn(SignIn::NeedsCode { challenge }));
    }
    let account = AccountView { email, name };
    let done: SignedInAs = super::signed_in(state, &account_id, changed_at, account, browser, false)
        .await?
        .ok_or_else(|| Refused::Untrusted("the account changed during the sign-in".into()))?;
    Ok(Outcome::SignedIn(SignIn::Done(done)))
}

/// Makes an account for a Google account whose address has none here, linked to it and with
/// no password (one can be set by the reset link); `None` when the address has an account.
async fn make_account(
    state: &AppState,
    person: &Person,
) -> Result<Option<(String, String, String, i64, Option<i64>)>, Refused> {
    let email = person.email.as_str().to_string();
    let name = person.name.clone().unwrap_or_else(|| email.split('@').next().unwrap_or("").to_string());
    let account_id = new_id("acct");
    let t = now();
    let mut tx = state.db.begin_write().await?;
    let made: Option<String> = sqlx::query_scalar(
        "insert into account (account_id, email, name, password_hash, email_verified_at, password_changed_at, created_at, updated_at)
         values ($1, $2, $3, '', $4, $4, $4, $4) on conflict (email) do nothing returning account_id",
    )
    .bind(&account_id)
    .bind(&email)
    .bind(&name)
    .bind(t)
    .fetch_optional(&mut **tx)
    .await?;
    if made.is_none() {
        return Ok(None);
    }
    sqlx::query("insert into account_google (subject, account_id, email, linked_at) values ($1, $2, $3, $4)")
        .bind(&person.subject)
        .bind(&account_id)
        .bind(&email)
        .bind(t)
        .execute(&mut **tx)
        .await?;
    tx.commit().await?;
    tracing::info!(account = %account_id, "account made by signing in with Google");
    Ok(Some((account_id, email, name, t, None)))
}

/// The Google account linked to an account: its address and when it was linked.
pub async fn linked(state: &AppState, account_id: &str) -> Result<Option<(String, i64)>, sqlx::Error> {
    sqlx::query_as("select email, linked_at from account_google where account_id = $1")
        .bind(account_id)
        .fetch_optional(&state.db.pool)
        .await
}

/// Unlinks the account's Google account; refused while the account has no password (it could
/// no longer sign in).
pub async fn unlink(state: &AppState, account_id: &str) -> Result<bool, ApiError> {
    let mut tx = state.db.begin_write().await?;
    let hash: Option<String> = sqlx::query_scalar("select password_hash from account where account_id = $1")
        .bind(account_id)
        .fetch_optional(&mut **tx)
        .await?;
    if hash.is_none_or(|h| h.is_empty()) {
        return Err(ApiError::Conflict(
            "your account has no password yet, so without Google you could not sign in: set a password first (use “Forgot your password?” to get a link)".into(),
        ));
    }
    let done =
        sqlx::query("delete from account_google where account_id = $1").bind(account_id).execute(&mut **tx).await?;
    tx.commit().await?;
    Ok(done.rows_affected() > 0)
}

/// Deletes trips to Google that never came back; gives how many.
pub async fn prune(db: &crate::db::Db) -> Result<u64, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let done = sqlx::query("delete from google_flow where expires_at <= $1").bind(now()).execute(&mut **tx).await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}
