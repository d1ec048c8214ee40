//! The accounts' JSON API under `/api/account`, and (from [`super::pages`]) their pages under
//! `/account`, which work without JavaScript.

use std::net::IpAddr;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::session::{self, Device, MaybeSignedIn, SessionView, SignedIn};
use super::{AccountView, Browser, Credentials, Registration, SignIn, SignedInAs};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::client::ClientAddr;
use crate::http::ApiJson;
use crate::AppState;
use axum_extra::extract::cookie::CookieJar;

/// The accounts' routes: the API and the pages.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_account))
        .routes(routes!(post_register))
        .routes(routes!(post_verify))
        .routes(routes!(post_verify_resend))
        .routes(routes!(post_sign_in))
        .routes(routes!(post_sign_in_code))
        .routes(routes!(post_two_factor_setup))
        .routes(routes!(post_two_factor_enable))
        .routes(routes!(post_two_factor_disable))
        .routes(routes!(post_sign_out))
        .routes(routes!(get_sessions))
        .routes(routes!(delete_session))
        .routes(routes!(post_sign_out_everywhere))
        .routes(routes!(post_forgot))
        .routes(routes!(post_reset))
        .routes(routes!(get_orders))
        .routes(routes!(post_profile))
        .routes(routes!(post_password))
        .routes(routes!(post_email))
        .routes(routes!(post_email_confirm))
        .routes(routes!(get_export))
        .routes(routes!(post_delete))
        .routes(routes!(get_addresses, post_address))
        .routes(routes!(delete_address))
        .routes(routes!(post_default_shipping))
        .routes(routes!(post_default_billing))
        .routes(routes!(post_order_again))
        .merge(super::pages::router())
        .merge(super::google::pages::router())
}

/// The client's address, as the trusted proxies tell it.
pub(super) fn client(state: &AppState, headers: &HeaderMap, connect: &ClientAddr) -> Option<IpAddr> {
    state.config.trusted_proxies.client(headers, connect.0.map(|s| s.ip()))
}

/// The browser a sign-in comes from: its description and address (as its session list will
/// show them), and the session and cart its cookies hold.
pub(super) fn browser(state: &AppState, headers: &HeaderMap, connect: &ClientAddr) -> Browser {
    let client = client(state, headers, connect);
    Browser {
        device: Device {
            user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").to_string(),
            client: client.map(|ip| ip.to_canonical().to_string()).unwrap_or_default(),
        },
        client,
        session: session::token_of(headers),
        cart: crate::cart::cart_of(headers),
        wishlist: crate::wishlist::guest_of(headers),
        device_mark: session::device_of(headers),
    }
}

/// The cookies of a sign-in: the session's (the challenge's removed), and the guest cart's and
/// wishlist's removed when the browser had them (they joined the account's, found from the
/// session).
pub(super) fn signed_in_cookies(state: &AppState, done: &SignedInAs, browser: &Browser) -> CookieJar {
    let url = &state.config.public_url;
    let mut jar = session::cookie_after_challenge(&done.token, url).add(session::device_cookie(&done.device_mark, url));
    if !browser.wishlist.is_empty() {
        jar = jar.add(crate::wishlist::guest_cookie(&[], url));
    }
    match browser.cart {
        Some(_) => crate::cart::cookie_removal(url).iter().fold(jar, |jar, c| jar.add(c.clone())),
        None => jar,
    }
}

/// The cookies of a sign-out: the session's and the cart's removed (the cart stays with the
/// account, not with the browser).
pub(super) fn signed_out_cookies(state: &AppState) -> CookieJar {
    let url = &state.config.public_url;
    crate::cart::cookie_removal(url).iter().fold(session::removal(url), |jar, c| jar.add(c.clone()))
}

/// The signed-in account, or 401.
pub(crate) fn required(me: MaybeSignedIn) -> ApiResult<SignedIn> {
    me.0.ok_or_else(|| ApiError::Unauthorized("sign in first".into()))
}

/// Who is signed in, for the header's account link.
#[derive(Serialize, utoipa::ToSchema)]
struct Me {
    /// Whether a session is signed in.
    signed_in: bool,
    /// The account, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<AccountView>,
}

/// Who is signed in. Never cached; a session in use is renewed (its cookie sent again).
#[utoipa::path(get, path = "/api/account", tag = "account",
    params(("atelier_session" = Option<String>, Cookie, description = "The session, set at sign-in.")),
    responses((status = 200, description = "Signed in or not, and as whom.", body = Me)))]
async fn get_account(State(state): State<AppState>, me: MaybeSignedIn) -> Response {
    match me.0 {
        Some(me) => {
            let body = Json(Me {
                signed_in: true,
                account: Some(AccountView { email: me.email.clone(), name: me.name.clone() }),
            });
            if me.renewed {
                (me.cookie(&state.config.public_url), body).into_response()
            } else {
                body.into_response()
            }
        }
        None => Json(Me { signed_in: false, account: None }).into_response(),
    }
}

/// A new account.
#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct RegisterInput {
    /// The address; a link to confirm it is sent there.
    #[serde(default)]
    #[schema(required = true, format = Email, max_length = 254, example = "ada@example.com")]
    pub email: String,
    /// At least 8 characters, not among the commonly used.
    #[serde(default)]
    #[schema(required = true, min_length = 8, example = "quiet lavender harvest")]
    pub password: String,
    /// The name to write to.
    #[serde(default)]
    #[schema(required = true, max_length = 100, example = "Ada Lovelace")]
    pub name: String,
}

/// What to do next (the same whether or not the address had an account).
#[derive(Serialize, utoipa::ToSchema)]
struct CheckMail {
    /// What happens now.
    #[schema(example = "check your e-mail: we have sent a link to ada@example.com")]
    message: String,
}

fn check_mail(email: &str) -> (StatusCode, Json<CheckMail>) {
    let email = crate::email::EmailAddress::parse(email).map(|e| e.as_str().to_string()).unwrap_or_default();
    (StatusCode::ACCEPTED, Json(CheckMail { message: format!("check your e-mail: we have sent a link to {email}") }))
}

const RATE_LIMITED: &str =
    "Too many attempts from this client or for this address; try again after `Retry-After` seconds.";

/// Opens an account: a link to confirm the address is mailed. When the address has an account
/// already, its owner is written to instead; the answer is the same.
#[utoipa::path(post, path = "/api/account/register", tag = "account",
    request_body = RegisterInput,
    responses(
        (status = 202, description = "Check your e-mail.", body = CheckMail),
        (status = 400, description = "A field is invalid (`field` names it): the address, a password too short or too common, the name.", body = ErrorBody),
        (status = 429, description = RATE_LIMITED, body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 503, description = BUSY, body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    ))]
async fn post_register(
    State(state): State<AppState>,
    connect: ClientAddr,
    headers: HeaderMap,
    ApiJson(input): ApiJson<RegisterInput>,
) -> ApiResult<impl IntoResponse> {
    let client = client(&state, &headers, &connect);
    let reg = Registration { email: &input.email, password: &input.password, name: &input.name };
    super::register(&state, reg, client).await?;
    Ok(check_mail(&input.email))
}

/// A registration's link, and the password it was made with.
#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct ConfirmInput {
    /// The token from the link.
    #[serde(default)]
    #[schema(required = true, min_length = 64, max_length = 64, pattern = "^[0-9a-f]{64}$")]
    pub token: String,
    /// The password chosen at registration.
    #[serde(default)]
    #[schema(required = true, example = "quiet lavender harvest")]
    pub password: String,
}

const BUSY: &str = "Too many passwords being checked at once; try again after `Retry-After` seconds.";

/// Opens the account of a registration: its link's token and the password chosen with it (so a
/// link that reached the wrong person opens nothing). Signs the new account in.
#[utoipa::path(post, path = "/api/account/verify", tag = "account",
    request_body = ConfirmInput,
    responses(
        (status = 200, description = "The account is open and signed in; the session cookie is set.", body = AccountView,
            headers(("Set-Cookie" = String, description = "`atelier_session`: HttpOnly, SameSite=Lax, 30 days."))),
        (status = 401, description = "Not the password the registration was made with.", body = ErrorBody),
        (status = 404, description = "The link has lapsed or was used.", body = ErrorBody),
        (status = 409, description = "The address has an account already (made from another link): sign in.", body = ErrorBody),
        (status = 429, description = RATE_LIMITED, body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 503, description = BUSY, body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    ))]
async fn post_verify(
    State(state): State<AppState>,
    connect: ClientAddr,
    headers: HeaderMap,
    ApiJson(input): ApiJson<ConfirmInput>,
) -> ApiResult<Response> {
    let browser = browser(&state, &headers, &connect);
    let done = super::confirm(&state, &input.token, &input.password, &browser).await?;
    Ok((signed_in_cookies(&state, &done, &browser), Json(done.account)).into_response())
}

/// An address.
#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct EmailInput {
    /// The address.
    #[serde(default)]
    #[schema(required = true, format = Email, max_length = 254, example = "ada@example.com")]
    pub email: String,
}

/// Sends the confirmation link of a registration again (when the address has one waiting; the
/// answer is the same either way).
#[utoipa::path(post, path = "/api/account/verify/resend", tag = "account",
    request_body = EmailInput,
    responses(
        (status = 202, description = "Check your e-mail.", body = CheckMail),
        (status = 400, description = "Not an e-mail address.", body = ErrorBody),
        (status = 429, description = RATE_LIMITED, body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    ))]
async fn post_verify_resend(
    State(state): State<AppState>,
    connect: ClientAddr,
    headers: HeaderMap,
    ApiJson(input): ApiJson<EmailInput>,
) -> ApiResult<impl IntoResponse> {
    super::resend(&state, &input.email, client(&state, &headers, &connect)).await?;
    Ok(check_mail(&input.email))
}

/// An address and its password.
#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct SignInInput {
    /// The address.
    #[serde(default)]
    #[schema(required = true, format = Email, max_length = 254, example = "ada@example.com")]
    pub email: String,
    /// The password.
    #[serde(default)]
    #[schema(required = true, example = "quiet lavender harvest")]
    pub password: String,
    /// With two-factor sign-in on: the authenticator's code or a recovery code (without it, the
    /// answer asks for one).
    #[serde(default)]
    #[schema(example = "123456")]
    pub code: Option<String>,
}

/// The password was right; a second factor is asked for.
#[derive(Serialize, utoipa::ToSchema)]
struct CodeNeeded {
    /// Always true.
    two_factor_required: bool,
    /// What to do.
    #[schema(example = "enter the code your authenticator shows, at /api/account/sign-in/code, within five minutes")]
    message: String,
}

/// The answer to a sign-in: signed in, or a code asked for (with its challenge's cookie).
fn signed_in_or_challenged(state: &AppState, outcome: SignIn, browser: &Browser) -> Response {
    match outcome {
        SignIn::Done(done) => (signed_in_cookies(state, &done, browser), Json(done.account)).into_response(),
        SignIn::NeedsCode { challenge } => (
            StatusCode::ACCEPTED,
            session::challenge_cookie(&challenge, &state.config.public_url),
            Json(CodeNeeded {
                two_factor_required: true,
                message: "enter the code your authenticator shows, at /api/account/sign-in/code, within five minutes"
                    .into(),
            }),
        )
            .into_response(),
    }
}

/// Signs in: a new session, in an HttpOnly cookie (any session the browser had ends). With
/// two-factor sign-in on and no `code`, a challenge instead, answered at `/api/account/sign-in/code`.
#[utoipa::path(post, path = "/api/account/sign-in", tag = "account",
    request_body = SignInInput,
    responses(
        (status = 200, description = "Signed in; the session cookie is set.", body = AccountView,
            headers(("Set-Cookie" = String, description = "`atelier_session`: HttpOnly, SameSite=Lax, 30 days."))),
        (status = 202, description = "The password is right; the account asks for its second factor (the challenge's cookie is set, for five minutes).", body = CodeNeeded,
            headers(("Set-Cookie" = String, description = "`atelier_challenge`: HttpOnly, SameSite=Lax, 5 minutes."))),
        (status = 400, description = "Not an e-mail address.", body = ErrorBody),
        (status = 401, description = "The address and password do not match an account (the same answer whether or not the address has one), or the code given is wrong.", body = ErrorBody),
        (status = 429, description = RATE_LIMITED, body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 503, description = BUSY, body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    ))]
async fn post_sign_in(
    State(state): State<AppState>,
    connect: ClientAddr,
    headers: HeaderMap,
    ApiJson(input): ApiJson<SignInInput>,
) -> ApiResult<Response> {
    let browser = browser(&state, &headers, &connect);
    let credentials = Credentials { email: &input.email, password: &input.password, code: input.code.as_deref() };
    let outcome = super::sign_in(&state, credentials, &browser).await?;
    Ok(signed_in_or_challenged(&state, outcome, &browser))
}

/// A second factor.
#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct CodeInput {
    /// The six digits the authenticator shows, or a recovery code (`abcd-efgh-ijkl-mnop`).
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 64, pattern = "\\S", example = "123456")]
    pub code: String,
}

impl CodeInput {
    /// The code, refused before anything else when it cannot be one (none, or longer than any).
    pub(super) fn checked(&self) -> ApiResult<&str> {
        if self.code.trim().is_empty() {
            return Err(ApiError::invalid("code", "enter the code your authenticator shows, or a recovery code"));
        }
        if self.code.chars().count() > 64 {
            return Err(ApiError::invalid(
                "code",
                "a code is six digits, or a recovery code of sixteen letters and digits",
            ));
        }
        Ok(&self.code)
    }
}

/// Answers a sign-in's challenge with the second factor: a session.
#[utoipa::path(post, path = "/api/account/sign-in/code", tag = "account",
    params(("atelier_challenge" = Option<String>, Cookie, description = "The challenge, set by a sign-in whose password was right.")),
    request_body = CodeInput,
    responses(
        (status = 200, description = "Signed in; the session cookie is set.", body = AccountView,
            headers(("Set-Cookie" = String, description = "`atelier_session`: HttpOnly, SameSite=Lax, 30 days."))),
        (status = 401, description = "The code is wrong or was used, or there is no live challenge (five minutes have passed: sign in again).", body = ErrorBody),
        (status = 429, description = RATE_LIMITED, body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    ))]
async fn post_sign_in_code(
    State(state): State<AppState>,
    connect: ClientAddr,
    headers: HeaderMap,
    ApiJson(input): ApiJson<CodeInput>,
) -> ApiResult<Response> {
    input.checked()?;
    let challenge = session::challenge_of(&headers)
        .ok_or_else(|| ApiError::Unauthorized("sign in with your password first".into()))?;
    let browser = browser(&state, &headers, &connect);
    let done = super::answer_challenge(&state, &challenge, &input.code, &browser).await?;
    Ok((signed_in_cookies(&state, &done, &browser), Json(done.account)).into_response())
}

/// Starts setting up two-factor sign-in: the secret to scan (the same until confirmed).
#[utoipa::path(post, path = "/api/account/two-factor/setup", tag = "account",
    responses(
        (status = 200, description = "The secret, its otpauth:// address and its QR code.", body = super::two_factor::Setup),
        (status = 401, description = "Not signed in.", body = ErrorBody),
        (status = 409, description = "Two-factor sign-in is on already.", body = ErrorBody),
    ))]
async fn post_two_factor_setup(
    State(state): State<AppState>,
    me: MaybeSignedIn,
) -> ApiResult<Json<super::two_factor::Setup>> {
    let me = required(me)?;
    Ok(Json(super::two_factor::begin(&state.db, &me.account_id, &me.email).await?))
}

/// Recovery codes, shown once.
#[derive(Serialize, utoipa::ToSchema)]
struct RecoveryCodes {
    /// Ten codes, each good once, for when the authenticator is lost.
    recovery_codes: Vec<String>,
}

/// Turns two-factor sign-in on with the authenticator's first code; the session gets a new token.
#[utoipa::path(post, path = "/api/account/two-factor/enable", tag = "account",
    request_body = CodeInput,
    responses(
        (status = 200, description = "On; the recovery codes, shown this once.", body = RecoveryCodes),
        (status = 400, description = "The code is not right.", body = ErrorBody),
        (status = 401, description = "Not signed in.", body = ErrorBody),
        (status = 409, description = "On already, or not set up yet.", body = ErrorBody),
        (status = 429, description = RATE_LIMITED, body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    ))]
async fn post_two_factor_enable(
    State(state): State<AppState>,
    connect: ClientAddr,
    headers: HeaderMap,
    me: MaybeSignedIn,
    ApiJson(input): ApiJson<CodeInput>,
) -> ApiResult<Response> {
    input.checked()?;
    let me = required(me)?;
    let (codes, token) = super::enable_two_factor(&state, &me, &input.code, client(&state, &headers, &connect)).await?;
    Ok((session::cookie(&token, &state.config.public_url), Json(RecoveryCodes { recovery_codes: codes }))
        .into_response())
}

/// Turns two-factor sign-in off with a fresh code (or a recovery code); the session gets a new
/// token.
#[utoipa::path(post, path = "/api/account/two-factor/disable", tag = "account",
    request_body = CodeInput,
    responses(
        (status = 204, description = "Off."),
        (status = 400, description = "The code is not right, or was used.", body = ErrorBody),
        (status = 401, description = "Not signed in.", body = ErrorBody),
        (status = 409, description = "Off already.", body = ErrorBody),
        (status = 429, description = RATE_LIMITED, body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    ))]
async fn post_two_factor_disable(
    State(state): State<AppState>,
    connect: ClientAddr,
    headers: HeaderMap,
    me: MaybeSignedIn,
    ApiJson(input): ApiJson<CodeInput>,
) -> ApiResult<Response> {
    input.checked()?;
    let me = required(me)?;
    let token = super::disable_two_factor(&state, &me, &input.code, client(&state, &headers, &connect)).await?;
    Ok((StatusCode::NO_CONTENT, session::cookie(&token, &state.config.public_url)).into_response())
}

/// Signs out: the session ends and its cookie is removed.
#[utoipa::path(post, path = "/api/account/sign-out", tag = "account",
    responses((status = 204, description = "Signed out (or was not signed in).")))]
async fn post_sign_out(State(state): State<AppState>, me: MaybeSignedIn) -> ApiResult<Response> {
    if let Some(me) = me.0 {
        session::end(&state.db, &me.account_id, &me.session_id).await?;
        state.sessions.forget_account(&me.account_id);
    }
    Ok((StatusCode::NO_CONTENT, signed_out_cookies(&state)).into_response())
}

/// The account's sessions.
#[derive(Serialize, utoipa::ToSchema)]
struct Sessions {
    /// Live sessions, the newest first.
    sessions: Vec<SessionView>,
}

/// The browsers signed in to the account.
#[utoipa::path(get, path = "/api/account/sessions", tag = "account",
    responses(
        (status = 200, description = "The sessions.", body = Sessions),
        (status = 401, description = "Not signed in.", body = ErrorBody),
    ))]
async fn get_sessions(State(state): State<AppState>, me: MaybeSignedIn) -> ApiResult<Json<Sessions>> {
    let me = required(me)?;
    Ok(Json(Sessions { sessions: session::list(&state.db, &me).await? }))
}

/// Signs one of the account's sessions out.
#[utoipa::path(delete, path = "/api/account/sessions/{session_id}", tag = "account",
    params(("session_id" = String, Path, description = "The session, as the list names it.")),
    responses(
        (status = 204, description = "That session is signed out."),
        (status = 401, description = "Not signed in.", body = ErrorBody),
        (status = 404, description = "The account has no such session.", body = ErrorBody),
    ))]
async fn delete_session(
    State(state): State<AppState>,
    me: MaybeSignedIn,
    Path(session_id): Path<String>,
) -> ApiResult<StatusCode> {
    let me = required(me)?;
    let ended = session::end(&state.db, &me.account_id, &session_id).await?;
    state.sessions.forget_account(&me.account_id);
    if ended {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("no such session".into()))
    }
}

/// Signs out every session of the account, this one too.
#[utoipa::path(post, path = "/api/account/sign-out-everywhere", tag = "account",
    responses(
        (status = 204, description = "Every session is signed out."),
        (status = 401, description = "Not signed in.", body = ErrorBody),
    ))]
async fn post_sign_out_everywhere(State(state): State<AppState>, me: MaybeSignedIn) -> ApiResult<Response> {
    let me = required(me)?;
    super::sign_out_everywhere(&state, &me.account_id).await?;
    Ok((StatusCode::NO_CONTENT, signed_out_cookies(&state)).into_response())
}

/// Mails a link to choose a new password (the answer is the same whether or not the address
/// has an account).
#[utoipa::path(post, path = "/api/account/password/forgot", tag = "account",
    request_body = EmailInput,
    responses(
        (status = 202, description = "Check your e-mail.", body = CheckMail),
        (status = 400, description = "Not an e-mail address.", body = ErrorBody),
        (status = 429, description = RATE_LIMITED, body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    ))]
async fn post_forgot(
    State(state): State<AppState>,
    connect: ClientAddr,
    headers: HeaderMap,
    ApiJson(input): ApiJson<EmailInput>,
) -> ApiResult<impl IntoResponse> {
    super::forgot(&state, &input.email, client(&state, &headers, &connect)).await?;
    Ok(check_mail(&input.email))
}

/// A new password, with the token of a reset link.
#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct ResetInput {
    /// The token from the link.
    #[serde(default)]
    #[schema(required = true, min_length = 64, max_length = 64, pattern = "^[0-9a-f]{64}$")]
    pub token: String,
    /// The new password: at least 8 characters, not among the commonly used.
    #[serde(default)]
    #[schema(required = true, min_length = 8, example = "quiet lavender harvest")]
    pub password: String,
}

/// A password changed.
#[derive(Serialize, utoipa::ToSchema)]
struct PasswordChanged {
    /// Always true; every session was signed out.
    changed: bool,
}

/// Sets a new password from a reset link (once); every session of the account is signed out.
#[utoipa::path(post, path = "/api/account/password/reset", tag = "account",
    request_body = ResetInput,
    responses(
        (status = 200, description = "The password is changed; sign in with it.", body = PasswordChanged),
        (status = 400, description = "The password is refused: too short, or among those guessed first.", body = ErrorBody),
        (status = 404, description = "The link has lapsed or was used.", body = ErrorBody),
        (status = 503, description = BUSY, body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    ))]
async fn post_reset(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<ResetInput>,
) -> ApiResult<Json<PasswordChanged>> {
    super::reset_password(&state, &input.token, &input.password).await?;
    Ok(Json(PasswordChanged { changed: true }))
}

/// The account's orders.
#[derive(Serialize, utoipa::ToSchema)]
struct Orders {
    /// Newest first: those placed signed in, and guest orders placed with the account's address.
    orders: Vec<crate::orders::AccountOrder>,
}

/// The account's orders.
#[utoipa::path(get, path = "/api/account/orders", tag = "account",
    responses(
        (status = 200, description = "The orders, newest first.", body = Orders),
        (status = 401, description = "Not signed in.", body = ErrorBody),
    ))]
async fn get_orders(State(state): State<AppState>, me: MaybeSignedIn) -> ApiResult<Json<Orders>> {
    let me = required(me)?;
    Ok(Json(Orders { orders: crate::orders::for_account(&state.db, &me.account_id, &state.keys.link).await? }))
}

/// Puts one of the account's orders back in the cart, at today's prices and stock; says what
/// changed.
#[utoipa::path(post, path = "/api/account/orders/{order_id}/reorder", tag = "account",
    params(
        ("order_id" = String, Path, description = "One of the account's orders."),
        crate::cart::CartCookie,
    ),
    responses(
        (status = 200, description = "In the cart (the cart's cookie is set when one was made).", body = crate::cart::Reordered),
        (status = 401, description = "Not signed in.", body = ErrorBody),
        (status = 404, description = "The account has no such order.", body = ErrorBody),
    ))]
async fn post_order_again(
    State(state): State<AppState>,
    me: MaybeSignedIn,
    Path(order_id): Path<String>,
    crate::cart::CartCookie(cart, _): crate::cart::CartCookie,
) -> ApiResult<Response> {
    let me = required(me)?;
    let done = super::order_again(&state, &me.account_id, &order_id, cart).await?;
    let cookie = crate::cart::hand_over(&state, Some(&me.account_id), &done.cart_id, done.created).await?;
    Ok((cookie, Json(done)).into_response())
}

/// A new name.
#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct NameInput {
    /// The name to write to.
    #[serde(default)]
    #[schema(required = true, max_length = 100, example = "Ada King")]
    pub name: String,
}

/// Changes the account's name.
#[utoipa::path(post, path = "/api/account/profile", tag = "account",
    request_body = NameInput,
    responses(
        (status = 200, description = "Changed.", body = AccountView),
        (status = 400, description = "The name is empty or too long.", body = ErrorBody),
        (status = 401, description = "Not signed in.", body = ErrorBody),
    ))]
async fn post_profile(
    State(state): State<AppState>,
    me: MaybeSignedIn,
    ApiJson(input): ApiJson<NameInput>,
) -> ApiResult<Json<AccountView>> {
    let me = required(me)?;
    Ok(Json(super::profile::rename(&state, &me.account_id, &input.name).await?))
}

/// A new password, with the current one.
#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct PasswordInput {
    /// The password now.
    #[serde(default)]
    #[schema(required = true, example = "quiet lavender harvest")]
    pub current_password: String,
    /// The new one: at least 8 characters, not among the commonly used.
    #[serde(default)]
    #[schema(required = true, min_length = 8, example = "amber resin at dusk")]
    pub new_password: String,
}

/// Changes the password, given the current one: every other session is signed out, this one
/// gets a new token, and the owner is told by e-mail.
#[utoipa::path(post, path = "/api/account/password", tag = "account",
    request_body = PasswordInput,
    responses(
        (status = 204, description = "Changed; the session's cookie is set anew."),
        (status = 400, description = "The current password is wrong, or the new one refused (`field` says which).", body = ErrorBody),
        (status = 401, description = "Not signed in.", body = ErrorBody),
        (status = 429, description = RATE_LIMITED, body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 503, description = BUSY, body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    ))]
async fn post_password(
    State(state): State<AppState>,
    connect: ClientAddr,
    headers: HeaderMap,
    me: MaybeSignedIn,
    ApiJson(input): ApiJson<PasswordInput>,
) -> ApiResult<Response> {
    let me = required(me)?;
    let client = client(&state, &headers, &connect);
    let token =
        super::profile::change_password(&state, &me, &input.current_password, &input.new_password, client).await?;
    Ok((StatusCode::NO_CONTENT, session::cookie(&token, &state.config.public_url)).into_response())
}

/// A new address, with the password.
#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct NewEmailInput {
    /// The new address; a link to confirm it is sent there.
    #[serde(default)]
    #[schema(required = true, format = Email, max_length = 254, example = "ada.king@example.com")]
    pub email: String,
    /// The account's password.
    #[serde(default)]
    #[schema(required = true, example = "quiet lavender harvest")]
    pub password: String,
}

/// Asks to move the account to another address: a link is mailed there, and the account moves
/// once it is opened.
#[utoipa::path(post, path = "/api/account/email", tag = "account",
    request_body = NewEmailInput,
    responses(
        (status = 202, description = "Check the new address's mail.", body = CheckMail),
        (status = 400, description = "Not an address, the same one, or the password is wrong (`field` says which).", body = ErrorBody),
        (status = 401, description = "Not signed in.", body = ErrorBody),
        (status = 429, description = RATE_LIMITED, body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 503, description = BUSY, body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    ))]
async fn post_email(
    State(state): State<AppState>,
    connect: ClientAddr,
    headers: HeaderMap,
    me: MaybeSignedIn,
    ApiJson(input): ApiJson<NewEmailInput>,
) -> ApiResult<impl IntoResponse> {
    let me = required(me)?;
    let client = client(&state, &headers, &connect);
    let email = super::profile::ask_new_email(&state, &me, &input.email, &input.password, client).await?;
    Ok(check_mail(&email))
}

/// A link's token.
#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct TokenInput {
    /// The token from the link.
    #[serde(default)]
    #[schema(required = true, min_length = 64, max_length = 64, pattern = "^[0-9a-f]{64}$")]
    pub token: String,
}

/// Moves the account to the address the link was mailed to.
#[utoipa::path(post, path = "/api/account/email/confirm", tag = "account",
    request_body = TokenInput,
    responses(
        (status = 200, description = "The account uses the new address.", body = AccountView),
        (status = 404, description = "The link has lapsed or was used.", body = ErrorBody),
        (status = 409, description = "Another account has that address now.", body = ErrorBody),
    ))]
async fn post_email_confirm(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<TokenInput>,
) -> ApiResult<Json<AccountView>> {
    Ok(Json(super::profile::confirm_new_email(&state, &input.token).await?))
}

/// A copy of everything the atelier keeps about the account, as a JSON file.
#[utoipa::path(get, path = "/api/account/export", tag = "account",
    responses(
        (status = 200, description = "The account, its sessions, orders and cart.", body = super::profile::Export,
            headers(("Content-Disposition" = String, description = "`attachment`: a file named after the account."))),
        (status = 401, description = "Not signed in.", body = ErrorBody),
    ))]
async fn get_export(State(state): State<AppState>, me: MaybeSignedIn) -> ApiResult<Response> {
    let me = required(me)?;
    let export = super::profile::export(&state, &me).await?;
    let disposition = "attachment; filename=\"atelier-arome-account.json\"";
    Ok(([(header::CONTENT_DISPOSITION, disposition)], Json(export)).into_response())
}

/// The password, to confirm a deletion.
#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct DeleteInput {
    /// The account's password.
    #[serde(default)]
    #[schema(required = true, example = "quiet lavender harvest")]
    pub password: String,
}

/// Deletes the account, given its password; its orders stay for the accounts with the personal
/// details erased.
#[utoipa::path(post, path = "/api/account/delete", tag = "account",
    request_body = DeleteInput,
    responses(
        (status = 204, description = "Deleted; the cookies are removed."),
        (status = 400, description = "The password is wrong.", body = ErrorBody),
        (status = 401, description = "Not signed in.", body = ErrorBody),
        (status = 409, description = "An order has not left the atelier yet.", body = ErrorBody),
        (status = 429, description = RATE_LIMITED, body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 503, description = BUSY, body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    ))]
async fn post_delete(
    State(state): State<AppState>,
    connect: ClientAddr,
    headers: HeaderMap,
    me: MaybeSignedIn,
    ApiJson(input): ApiJson<DeleteInput>,
) -> ApiResult<Response> {
    let me = required(me)?;
    super::profile::delete(&state, &me, &input.password, client(&state, &headers, &connect)).await?;
    Ok((StatusCode::NO_CONTENT, signed_out_cookies(&state)).into_response())
}

/// The account's addresses.
#[derive(Serialize, utoipa::ToSchema)]
struct Addresses {
    /// Defaults first.
    addresses: Vec<super::addresses::Address>,
}

/// The account's address book.
#[utoipa::path(get, path = "/api/account/addresses", tag = "account",
    responses(
        (status = 200, description = "The addresses, defaults first.", body = Addresses),
        (status = 401, description = "Not signed in.", body = ErrorBody),
    ))]
async fn get_addresses(State(state): State<AppState>, me: MaybeSignedIn) -> ApiResult<Json<Addresses>> {
    let me = required(me)?;
    Ok(Json(Addresses { addresses: super::addresses::list(&state, &me.account_id).await? }))
}

/// Keeps an address (the first is the default for shipping and billing).
#[utoipa::path(post, path = "/api/account/addresses", tag = "account",
    request_body = super::addresses::AddressEntry,
    responses(
        (status = 201, description = "Kept.", body = super::addresses::Address),
        (status = 400, description = "A field is invalid (`field` names it; the postal code must be of its country's shape).", body = ErrorBody),
        (status = 401, description = "Not signed in.", body = ErrorBody),
        (status = 409, description = "The book is full (20 addresses).", body = ErrorBody),
    ))]
async fn post_address(
    State(state): State<AppState>,
    me: MaybeSignedIn,
    ApiJson(input): ApiJson<super::addresses::AddressEntry>,
) -> ApiResult<impl IntoResponse> {
    let me = required(me)?;
    Ok((StatusCode::CREATED, Json(super::addresses::add(&state, &me.account_id, &input).await?)))
}

/// Deletes one of the account's addresses.
#[utoipa::path(delete, path = "/api/account/addresses/{address_id}", tag = "account",
    params(("address_id" = String, Path, description = "One of the account's addresses.")),
    responses(
        (status = 204, description = "Deleted (a default passes to the oldest left)."),
        (status = 401, description = "Not signed in.", body = ErrorBody),
        (status = 404, description = "The account has no such address.", body = ErrorBody),
    ))]
async fn delete_address(
    State(state): State<AppState>,
    me: MaybeSignedIn,
    Path(address_id): Path<String>,
) -> ApiResult<StatusCode> {
    let me = required(me)?;
    if super::addresses::remove(&state, &me.account_id, &address_id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("no such address in your account".into()))
    }
}

/// Makes one of the account's addresses the default for shipping (the checkout is filled in
/// with it).
#[utoipa::path(post, path = "/api/account/addresses/{address_id}/default-shipping", tag = "account",
    params(("address_id" = String, Path, description = "One of the account's addresses.")),
    responses(
        (status = 204, description = "It is the shipping default."),
        (status = 401, description = "Not signed in.", body = ErrorBody),
        (status = 404, description = "The account has no such address.", body = ErrorBody),
    ))]
async fn post_default_shipping(
    State(state): State<AppState>,
    me: MaybeSignedIn,
    Path(address_id): Path<String>,
) -> ApiResult<StatusCode> {
    make_default(&state, me, &address_id, super::addresses::Default::Shipping).await
}

/// Makes one of the account's addresses the default for billing.
#[utoipa::path(post, path = "/api/account/addresses/{address_id}/default-billing", tag = "account",
    params(("address_id" = String, Path, description = "One of the account's addresses.")),
    responses(
        (status = 204, description = "It is the billing default."),
        (status = 401, description = "Not signed in.", body = ErrorBody),
        (status = 404, description = "The account has no such address.", body = ErrorBody),
    ))]
async fn post_default_billing(
    State(state): State<AppState>,
    me: MaybeSignedIn,
    Path(address_id): Path<String>,
) -> ApiResult<StatusCode> {
    make_default(&state, me, &address_id, super::addresses::Default::Billing).await
}

async fn make_default(
    state: &AppState,
    me: MaybeSignedIn,
    address_id: &str,
    which: super::addresses::Default,
) -> ApiResult<StatusCode> {
    let me = required(me)?;
    if super::addresses::make_default(state, &me.account_id, address_id, which).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("no such address in your account".into()))
    }
}
