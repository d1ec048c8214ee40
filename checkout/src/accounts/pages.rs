//! The account pages under `/account`: plain forms that work without JavaScript, in the site's
//! layout. They call the same domain functions as the API and answer with the form again,
//! saying what to correct, or a page saying what happens next.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::http::{
    browser, client, signed_in_cookies, signed_out_cookies, CodeInput, ConfirmInput, EmailInput, RegisterInput,
    ResetInput, SignInInput,
};
use super::session::{self, MaybeSignedIn};
use super::{two_factor, Credentials, Registration, SignIn};
use crate::error::{ApiError, ApiResult};
use crate::http::client::ClientAddr;
use crate::http::page::{capitalise, message, page};
use crate::http::ApiForm;
use crate::AppState;

/// The pages' routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(overview))
        .routes(routes!(sign_in_page, sign_in_form))
        .routes(routes!(sign_in_code_page, sign_in_code_form))
        .routes(routes!(two_factor_page))
        .routes(routes!(two_factor_enable_form))
        .routes(routes!(two_factor_disable_form))
        .routes(routes!(register_page, register_form))
        .routes(routes!(verify_page, verify_form))
        .routes(routes!(forgot_page, forgot_form))
        .routes(routes!(reset_page, reset_form))
        .routes(routes!(sign_out_form))
        .routes(routes!(sign_out_everywhere_form))
        .routes(routes!(sign_out_session_form))
        .routes(routes!(order_again_form))
        .routes(routes!(details_page))
        .routes(routes!(profile_form))
        .routes(routes!(password_form))
        .routes(routes!(email_form))
        .routes(routes!(email_confirm_page, email_confirm_form))
        .routes(routes!(delete_form))
        .routes(routes!(addresses_page, address_form))
        .routes(routes!(address_delete_form))
        .routes(routes!(address_shipping_form))
        .routes(routes!(address_billing_form))
}

/// A form's values shown again (never a password).
#[derive(Default, serde::Serialize)]
struct Shown {
    email: String,
    name: String,
}

/// An error as the form shows it: the field it belongs to, and the sentence.
fn field_error(e: &ApiError) -> (Option<String>, String) {
    match e {
        ApiError::Invalid { field, message } => (Some(field.clone()), capitalise(message)),
        other => (None, capitalise(&other.public_message())),
    }
}

/// A form again with an error: its status, its `Retry-After` when the error is a limit.
fn again(state: &AppState, title: &str, template: &str, e: &ApiError, mut ctx: serde_json::Value) -> Response {
    let (field, text) = field_error(e);
    let mut field_errors = BTreeMap::new();
    if let Some(field) = field {
        field_errors.insert(field, text.clone());
    }
    ctx["errors"] = json!([text]);
    ctx["field_errors"] = json!(field_errors);
    let status = match e {
        ApiError::Invalid { .. } | ApiError::BadRequest(_) => StatusCode::UNPROCESSABLE_ENTITY,
        other => other.status(),
    };
    e.with_retry_after((status, page(state, title, template, ctx)).into_response())
}

/// Whether an error is the form's to show (what the person can act on) rather than a failure.
fn shown_on_form(e: &ApiError) -> bool {
    matches!(
        e,
        ApiError::Invalid { .. }
            | ApiError::BadRequest(_)
            | ApiError::NotFound(_)
            | ApiError::Unauthorized(_)
            | ApiError::RateLimited(_)
            | ApiError::Busy(_)
    )
}

fn empty_form() -> serde_json::Value {
    json!({ "form": Shown::default(), "field_errors": {} })
}

/// The account's page; signed out, the sign-in page.
#[utoipa::path(get, path = "/account", tag = "pages",
    responses(
        (status = 200, description = "The account: details, where it is signed in.", content_type = "text/html"),
        (status = 303, description = "Not signed in: to the sign-in page."),
    ))]
async fn overview(State(state): State<AppState>, me: MaybeSignedIn) -> ApiResult<Response> {
    let Some(me) = me.0 else { return Ok(Redirect::to("/account/sign-in").into_response()) };
    let sessions: Vec<_> = session::list(&state.db, &me)
        .await?
        .into_iter()
        .map(|s| {
            json!({
                "session_id": s.session_id,
                "browser": browser_name(&s.user_agent),
                "created": crate::orders::written_date(s.created_at),
                "client": s.client,
                "current": s.current,
            })
        })
        .collect();
    let two_factor = two_factor::is_on(&state.db, &me.account_id).await?;
    let orders = crate::orders::for_account(&state.db, &me.account_id, &state.keys.link).await?;
    let google = super::google::linked(&state, &me.account_id)
        .await?
        .map(|(email, at)| json!({ "email": email, "linked": crate::orders::written_date(at) }));
    let wishlist = crate::wishlist::view(&state, &crate::wishlist::Owner::Account(me.account_id.clone())).await?;
    let ctx = json!({
        "account": { "name": me.name, "email": me.email },
        "wishlist": wishlist,
        "sessions": sessions,
        "two_factor": two_factor,
        "orders": orders,
        "google": google,
        "staff": crate::staff::members::is_staff(&state.db, &me.account_id).await?,
    });
    let body = page(&state, "Your account", "pages/account/overview.html", ctx);
    Ok(if me.renewed { (me.cookie(&state.config.public_url), body).into_response() } else { body.into_response() })
}

/// A browser's description as a person would name it: "Firefox on Linux".
fn browser_name(user_agent: &str) -> String {
    let ua = user_agent;
    let name =
        [("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari")]
            .into_iter()
            .find(|(mark, _)| ua.contains(mark))
            .map(|(_, name)| name);
    let system = [
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Android", "Android"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(mark, _)| ua.contains(mark))
    .map(|(_, name)| name);
    match (name, system) {
        (Some(n), Some(s)) => format!("{n} on {s}"),
        (Some(n), None) => n.to_string(),
        (None, Some(s)) => format!("A browser on {s}"),
        (None, None) if ua.is_empty() => "An unnamed browser".to_string(),
        (None, None) => ua.chars().take(40).collect(),
    }
}

/// The sign-in page.
#[utoipa::path(get, path = "/account/sign-in", tag = "pages",
    responses((status = 200, description = "The sign-in form.", content_type = "text/html")))]
async fn sign_in_page(State(state): State<AppState>) -> Response {
    page(&state, "Sign in", "pages/account/sign_in.html", empty_form()).into_response()
}

/// Signs in from the form: to the account's page, or the form again saying why not.
#[utoipa::path(post, path = "/account/sign-in", tag = "pages",
    request_body(content = SignInInput, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Signed in: to the account's page."),
        (status = 401, description = "The form again: the address and password do not match an account.", content_type = "text/html"),
        (status = 403, description = "The form again: the address is not confirmed yet (a new link was sent).", content_type = "text/html"),
        (status = 422, description = "The form again: not an e-mail address.", content_type = "text/html"),
        (status = 429, description = "The form again: too many attempts; wait `Retry-After` seconds.", content_type = "text/html",
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    ))]
async fn sign_in_form(
    State(state): State<AppState>,
    connect: ClientAddr,
    headers: HeaderMap,
    ApiForm(input): ApiForm<SignInInput>,
) -> ApiResult<Response> {
    let browser = browser(&state, &headers, &connect);
    let credentials = Credentials { email: &input.email, password: &input.password, code: input.code.as_deref() };
    match super::sign_in(&state, credentials, &browser).await {
        Ok(SignIn::Done(done)) => {
            Ok((signed_in_cookies(&state, &done, &browser), Redirect::to("/account")).into_response())
        }
        Ok(SignIn::NeedsCode { challenge }) => {
            Ok((session::challenge_cookie(&challenge, &state.config.public_url), Redirect::to("/account/sign-in/code"))
                .into_response())
        }
        Err(e) if shown_on_form(&e) => {
            let ctx = json!({ "form": Shown { email: input.email, name: String::new() }, "field_errors": {} });
            Ok(again(&state, "Sign in", "pages/account/sign_in.html", &e, ctx))
        }
        Err(e) => Err(e),
    }
}

/// The second step of signing in: the authenticator's code.
#[utoipa::path(get, path = "/account/sign-in/code", tag = "pages",
    responses(
        (status = 200, description = "The code's form.", content_type = "text/html"),
        (status = 303, description = "No password was given first: to the sign-in page."),
    ))]
async fn sign_in_code_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if session::challenge_of(&headers).is_none() {
        return Redirect::to("/account/sign-in").into_response();
    }
    page(&state, "Your code", "pages/account/sign_in_code.html", json!({ "field_errors": {} })).into_response()
}

/// Signs in with the second factor: to the account's page, or the form again.
#[utoipa::path(post, path = "/account/sign-in/code", tag = "pages",
    request_body(content = CodeInput, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Signed in: to the account's page (or, with no challenge, to the sign-in page)."),
        (status = 401, description = "The form again: the code is wrong or was used, or five minutes have passed.", content_type = "text/html"),
        (status = 429, description = "The form again: too many attempts; wait `Retry-After` seconds.", content_type = "text/html",
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    ))]
async fn sign_in_code_form(
    State(state): State<AppState>,
    connect: ClientAddr,
    headers: HeaderMap,
    ApiForm(input): ApiForm<CodeInput>,
) -> ApiResult<Response> {
    input.checked()?;
    let Some(challenge) = session::challenge_of(&headers) else {
        return Ok(Redirect::to("/account/sign-in").into_response());
    };
    let browser = browser(&state, &headers, &connect);
    match super::answer_challenge(&state, &challenge, &input.code, &browser).await {
        Ok(done) => Ok((signed_in_cookies(&state, &done, &browser), Redirect::to("/account")).into_response()),
        Err(e) if shown_on_form(&e) => {
            Ok(again(&state, "Your code", "pages/account/sign_in_code.html", &e, json!({ "field_errors": {} })))
        }
        Err(e) => Err(e),
    }
}

/// The two-factor page: set it up (the code to scan, the first code's form), or, when on, how
/// many recovery codes are left and the form that turns it off.
#[utoipa::path(get, path = "/account/two-factor", tag = "pages",
    responses(
        (status = 200, description = "The page.", content_type = "text/html"),
        (status = 303, description = "Not signed in: to the sign-in page."),
    ))]
async fn two_factor_page(State(state): State<AppState>, me: MaybeSignedIn) -> ApiResult<Response> {
    let Some(me) = me.0 else { return Ok(Redirect::to("/account/sign-in").into_response()) };
    two_factor_view(&state, &me, None).await
}

async fn two_factor_view(state: &AppState, me: &session::SignedIn, error: Option<&ApiError>) -> ApiResult<Response> {
    let mut ctx = if two_factor::is_on(&state.db, &me.account_id).await? {
        json!({ "on": true, "codes_left": two_factor::recovery_codes_left(&state.db, &me.account_id).await? })
    } else {
        let setup = two_factor::begin(&state.db, &me.account_id, &me.email).await?;
        json!({ "on": false, "setup": setup })
    };
    ctx["field_errors"] = json!({});
    Ok(match error {
        Some(e) => again(state, "Two-factor sign-in", "pages/account/two_factor.html", e, ctx),
        None => page(state, "Two-factor sign-in", "pages/account/two_factor.html", ctx).into_response(),
    })
}

/// Turns two-factor sign-in on with the first code: the recovery codes, shown once.
#[utoipa::path(post, path = "/account/two-factor/enable", tag = "pages",
    request_body(content = CodeInput, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "On: the recovery codes, shown this once.", content_type = "text/html"),
        (status = 303, description = "Not signed in: to the sign-in page."),
        (status = 409, description = "The page again: on already.", content_type = "text/html"),
        (status = 422, description = "The page again: the code is not right.", content_type = "text/html"),
        (status = 429, description = "The page again: too many attempts; wait `Retry-After` seconds.", content_type = "text/html",
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    ))]
async fn two_factor_enable_form(
    State(state): State<AppState>,
    connect: ClientAddr,
    headers: HeaderMap,
    me: MaybeSignedIn,
    ApiForm(input): ApiForm<CodeInput>,
) -> ApiResult<Response> {
    input.checked()?;
    let Some(me) = me.0 else { return Ok(Redirect::to("/account/sign-in").into_response()) };
    match super::enable_two_factor(&state, &me, &input.code, client(&state, &headers, &connect)).await {
        Ok((codes, token)) => {
            let body = page(
                &state,
                "Two-factor sign-in is on",
                "pages/account/recovery_codes.html",
                json!({ "codes": codes }),
            );
            Ok((session::cookie(&token, &state.config.public_url), body).into_response())
        }
        Err(e) if shown_on_form(&e) || matches!(e, ApiError::Conflict(_)) => {
            two_factor_view(&state, &me, Some(&e)).await
        }
        Err(e) => Err(e),
    }
}

/// Turns two-factor sign-in off with a fresh code: back to the account's page.
#[utoipa::path(post, path = "/account/two-factor/disable", tag = "pages",
    request_body(content = CodeInput, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Off (or not signed in): to the account's page."),
        (status = 409, description = "The page again: off already.", content_type = "text/html"),
        (status = 422, description = "The page again: the code is not right.", content_type = "text/html"),
        (status = 429, description = "The page again: too many attempts; wait `Retry-After` seconds.", content_type = "text/html",
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    ))]
async fn two_factor_disable_form(
    State(state): State<AppState>,
    connect: ClientAddr,
    headers: HeaderMap,
    me: MaybeSignedIn,
    ApiForm(input): ApiForm<CodeInput>,
) -> ApiResult<Response> {
    input.checked()?;
    let Some(me) = me.0 else { return Ok(Redirect::to("/account/sign-in").into_response()) };
    match super::disable_two_factor(&state, &me, &input.code, client(&state, &headers, &connect)).await {
        Ok(token) => Ok((session::cookie(&token, &state.config.public_url), Redirect::to("/account")).into_response()),
        Err(e) if shown_on_form(&e) || matches!(e, ApiError::Conflict(_)) => {
            two_factor_view(&state, &me, Some(&e)).await
        }
        Err(e) => Err(e),
    }
}

/// The registration page.
#[utoipa::path(get, path = "/account/register", tag = "pages",
    responses((status = 200, description = "The registration form.", content_type = "text/html")))]
async fn register_page(State(state): State<AppState>) -> Response {
    page(&state, "Open an account", "pages/account/register.html", empty_form()).into_response()
}

/// Opens an account from the form: a page saying to check one's e-mail (the same whether or
/// not the address had an account), or the form again.
#[utoipa::path(post, path = "/account/register", tag = "pages",
    request_body(content = RegisterInput, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Check your e-mail.", content_type = "text/html"),
        (status = 422, description = "The form again, with what to correct.", content_type = "text/html"),
        (status = 429, description = "The form again: too many attempts; wait `Retry-After` seconds.", content_type = "text/html",
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    ))]
async fn register_form(
    State(state): State<AppState>,
    connect: ClientAddr,
    headers: HeaderMap,
    ApiForm(input): ApiForm<RegisterInput>,
) -> ApiResult<Response> {
    let reg = Registration { email: &input.email, password: &input.password, name: &input.name };
    match super::register(&state, reg, client(&state, &headers, &connect)).await {
        Ok(()) => Ok(check_your_mail(&state, &input.email, "We have sent a link to confirm your address to")),
        Err(e) if shown_on_form(&e) => {
            let ctx = json!({ "form": Shown { email: input.email, name: input.name }, "field_errors": {} });
            Ok(again(&state, "Open an account", "pages/account/register.html", &e, ctx))
        }
        Err(e) => Err(e),
    }
}

fn check_your_mail(state: &AppState, email: &str, what: &str) -> Response {
    let email = crate::email::EmailAddress::parse(email).map(|e| e.as_str().to_string()).unwrap_or_default();
    message(
        state,
        StatusCode::OK,
        "Check your e-mail",
        &format!("{what} {email}. It may take a minute to arrive; look in the spam folder too."),
        ("/", "Back to the atelier"),
    )
}

/// A link's token in its address.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct TokenQuery {
    /// The token from the link.
    #[serde(default)]
    token: String,
}

/// The page a confirmation link opens: the password chosen at registration confirms (opening
/// the link alone uses nothing up, so a mail scanner following it does no harm, and a link that
/// reached someone else opens nothing without the password).
#[utoipa::path(get, path = "/account/verify", tag = "pages",
    params(TokenQuery),
    responses((status = 200, description = "The form that confirms the address.", content_type = "text/html")))]
async fn verify_page(State(state): State<AppState>, Query(q): Query<TokenQuery>) -> Response {
    let ctx = json!({ "token": q.token, "field_errors": {} });
    page(&state, "Confirm your address", "pages/account/verify.html", ctx).into_response()
}

/// Opens the account and signs it in.
#[utoipa::path(post, path = "/account/verify", tag = "pages",
    request_body(content = ConfirmInput, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "The account is open and signed in: to its page."),
        (status = 401, description = "The form again: not the password the registration was made with.", content_type = "text/html"),
        (status = 404, description = "The link has lapsed or was used.", content_type = "text/html"),
        (status = 409, description = "The address has an account already: sign in.", content_type = "text/html"),
        (status = 429, description = "The form again: too many attempts; wait `Retry-After` seconds.", content_type = "text/html",
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 503, description = "The form again: too many passwords being checked at once; wait `Retry-After` seconds.", content_type = "text/html",
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    ))]
async fn verify_form(
    State(state): State<AppState>,
    connect: ClientAddr,
    headers: HeaderMap,
    ApiForm(input): ApiForm<ConfirmInput>,
) -> ApiResult<Response> {
    let browser = browser(&state, &headers, &connect);
    match super::confirm(&state, &input.token, &input.password, &browser).await {
        Ok(done) => Ok((signed_in_cookies(&state, &done, &browser), Redirect::to("/account")).into_response()),
        Err(e @ ApiError::NotFound(_)) => Ok(message(
            &state,
            StatusCode::NOT_FOUND,
            "This link does not work any more",
            &capitalise(&e.public_message()),
            ("/account/register", "Register again"),
        )),
        Err(e @ ApiError::Conflict(_)) => Ok(message(
            &state,
            StatusCode::CONFLICT,
            "You have an account already",
            &capitalise(&e.public_message()),
            ("/account/sign-in", "Sign in"),
        )),
        Err(e) if shown_on_form(&e) => {
            let ctx = json!({ "token": input.token, "field_errors": {} });
            Ok(again(&state, "Confirm your address", "pages/account/verify.html", &e, ctx))
        }
        Err(e) => Err(e),
    }
}

/// The page to ask for a password reset.
#[utoipa::path(get, path = "/account/forgot", tag = "pages",
    responses((status = 200, description = "The form.", content_type = "text/html")))]
async fn forgot_page(State(state): State<AppState>) -> Response {
    page(&state, "Forgotten your password?", "pages/account/forgot.html", empty_form()).into_response()
}

/// Mails a reset link (the same answer whether or not the address has an account).
#[utoipa::path(post, path = "/account/forgot", tag = "pages",
    request_body(content = EmailInput, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Check your e-mail.", content_type = "text/html"),
        (status = 422, description = "The form again: not an e-mail address.", content_type = "text/html"),
        (status = 429, description = "The form again: too many attempts; wait `Retry-After` seconds.", content_type = "text/html",
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    ))]
async fn forgot_form(
    State(state): State<AppState>,
    connect: ClientAddr,
    headers: HeaderMap,
    ApiForm(input): ApiForm<EmailInput>,
) -> ApiResult<Response> {
    match super::forgot(&state, &input.email, client(&state, &headers, &connect)).await {
        Ok(()) => Ok(check_your_mail(&state, &input.email, "We have sent a link to choose a new password to")),
        Err(e) if shown_on_form(&e) => {
            let ctx = json!({ "form": Shown { email: input.email, name: String::new() }, "field_errors": {} });
            Ok(again(&state, "Forgotten your password?", "pages/account/forgot.html", &e, ctx))
        }
        Err(e) => Err(e),
    }
}

/// The page a reset link opens: the new password's form.
#[utoipa::path(get, path = "/account/reset", tag = "pages",
    params(TokenQuery),
    responses((status = 200, description = "The form.", content_type = "text/html")))]
async fn reset_page(State(state): State<AppState>, Query(q): Query<TokenQuery>) -> Response {
    let ctx = json!({ "token": q.token, "field_errors": {} });
    page(&state, "Choose a new password", "pages/account/reset.html", ctx).into_response()
}

/// Sets the new password.
#[utoipa::path(post, path = "/account/reset", tag = "pages",
    request_body(content = ResetInput, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Changed: sign in.", content_type = "text/html"),
        (status = 404, description = "The form again: the link has lapsed or was used.", content_type = "text/html"),
        (status = 422, description = "The form again: the password is refused.", content_type = "text/html"),
    ))]
async fn reset_form(State(state): State<AppState>, ApiForm(input): ApiForm<ResetInput>) -> ApiResult<Response> {
    match super::reset_password(&state, &input.token, &input.password).await {
        Ok(()) => Ok((
            session::removal(&state.config.public_url),
            message(
                &state,
                StatusCode::OK,
                "Your password is changed",
                "Every device that was signed in to your account has been signed out. Sign in with your new password.",
                ("/account/sign-in", "Sign in"),
            ),
        )
            .into_response()),
        Err(e) if shown_on_form(&e) => {
            let ctx = json!({ "token": input.token, "field_errors": {} });
            Ok(again(&state, "Choose a new password", "pages/account/reset.html", &e, ctx))
        }
        Err(e) => Err(e),
    }
}

/// Signs out.
#[utoipa::path(post, path = "/account/sign-out", tag = "pages",
    responses((status = 303, description = "Signed out: to the home page.")))]
async fn sign_out_form(State(state): State<AppState>, me: MaybeSignedIn) -> ApiResult<Response> {
    if let Some(me) = me.0 {
        session::end(&state.db, &me.account_id, &me.session_id).await?;
        state.sessions.forget_account(&me.account_id);
    }
    Ok((signed_out_cookies(&state), Redirect::to("/")).into_response())
}

/// Signs out every session of the account.
#[utoipa::path(post, path = "/account/sign-out-everywhere", tag = "pages",
    responses((status = 303, description = "Every session signed out: to the sign-in page.")))]
async fn sign_out_everywhere_form(State(state): State<AppState>, me: MaybeSignedIn) -> ApiResult<Response> {
    if let Some(me) = me.0 {
        super::sign_out_everywhere(&state, &me.account_id).await?;
    }
    Ok((signed_out_cookies(&state), Redirect::to("/account/sign-in")).into_response())
}

/// Signs one of the account's other sessions out.
#[utoipa::path(post, path = "/account/sessions/{session_id}/sign-out", tag = "pages",
    params(("session_id" = String, Path, description = "The session, as the account's page names it.")),
    responses(
        (status = 303, description = "Done (or there was no such session): back to the account's page; not signed in, to the sign-in page."),
    ))]
async fn sign_out_session_form(
    State(state): State<AppState>,
    me: MaybeSignedIn,
    Path(session_id): Path<String>,
) -> ApiResult<Response> {
    let Some(me) = me.0 else { return Ok(Redirect::to("/account/sign-in").into_response()) };
    session::end(&state.db, &me.account_id, &session_id).await?;
    state.sessions.forget_account(&me.account_id);
    Ok(Redirect::to("/account").into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn browsers_are_named_as_people_name_them() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
        let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";
        assert_eq!(super::browser_name(firefox), "Firefox on Linux");
        assert_eq!(super::browser_name(safari), "Safari on iPhone");
        assert_eq!(super::browser_name(chrome), "Chrome on Windows");
        assert_eq!(super::browser_name(""), "An unnamed browser");
        assert_eq!(super::browser_name("curl/8.5.0"), "curl/8.5.0");
    }
}

/// Puts one of the account's orders back in the cart: a page saying what changed, on to the cart.
#[utoipa::path(post, path = "/account/orders/{order_id}/reorder", tag = "pages",
    params(
        ("order_id" = String, Path, description = "One of the account's orders."),
        crate::cart::CartCookie,
    ),
    responses(
        (status = 200, description = "In the cart: what was added and what changed.", content_type = "text/html"),
        (status = 303, description = "Not signed in: to the sign-in page."),
        (status = 404, description = "The account has no such order.", content_type = "text/html"),
    ))]
async fn order_again_form(
    State(state): State<AppState>,
    me: MaybeSignedIn,
    Path(order_id): Path<String>,
    crate::cart::CartCookie(cart, _): crate::cart::CartCookie,
) -> ApiResult<Response> {
    let Some(me) = me.0 else { return Ok(Redirect::to("/account/sign-in").into_response()) };
    match super::order_again(&state, &me.account_id, &order_id, cart).await {
        Ok(done) => {
            let cookie = crate::cart::hand_over(&state, Some(&me.account_id), &done.cart_id, done.created).await?;
            let body = page(&state, "Ordered again", "pages/account/reordered.html", json!({ "done": done }));
            Ok((cookie, body).into_response())
        }
        Err(e @ ApiError::NotFound(_)) => Ok(message(
            &state,
            StatusCode::NOT_FOUND,
            "No such order",
            &capitalise(&e.public_message()),
            ("/account", "Back to your account"),
        )),
        Err(e) => Err(e),
    }
}

/// The answer to a form only a signed-in browser may send, when the session has ended.
fn signed_out(state: &AppState) -> Response {
    message(
        state,
        StatusCode::UNAUTHORIZED,
        "Please sign in again",
        "Your session has ended, so nothing was changed. Sign in and try once more.",
        ("/account/sign-in", "Sign in"),
    )
}

/// The details page, with a note or an error.
fn details_view(state: &AppState, me: &session::SignedIn, flash: Option<&str>, error: Option<&ApiError>) -> Response {
    let mut ctx = json!({ "account": { "name": me.name, "email": me.email }, "field_errors": {} });
    if let Some(flash) = flash {
        ctx["flash"] = json!(flash);
    }
    match error {
        None => page(state, "Your details", "pages/account/details.html", ctx).into_response(),
        Some(e) => again(state, "Your details", "pages/account/details.html", e, ctx),
    }
}

/// The page of the account's details: name, address, password, and its data.
#[utoipa::path(get, path = "/account/details", tag = "pages",
    responses(
        (status = 200, description = "The forms.", content_type = "text/html"),
        (status = 303, description = "Not signed in: to the sign-in page."),
    ))]
async fn details_page(State(state): State<AppState>, me: MaybeSignedIn) -> Response {
    match me.0 {
        Some(me) => details_view(&state, &me, None, None),
        None => Redirect::to("/account/sign-in").into_response(),
    }
}

/// Changes the name from the form.
#[utoipa::path(post, path = "/account/profile", tag = "pages",
    request_body(content = super::http::NameInput, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The details again, saying so.", content_type = "text/html"),
        (status = 401, description = "Not signed in (the session ended): nothing changed; sign in again.", content_type = "text/html"),
        (status = 422, description = "The details again: what to correct.", content_type = "text/html"),
    ))]
async fn profile_form(
    State(state): State<AppState>,
    me: MaybeSignedIn,
    ApiForm(input): ApiForm<super::http::NameInput>,
) -> ApiResult<Response> {
    let Some(mut me) = me.0 else { return Ok(signed_out(&state)) };
    match super::profile::rename(&state, &me.account_id, &input.name).await {
        Ok(view) => {
            me.name = view.name;
            Ok(details_view(&state, &me, Some("Your name is changed."), None))
        }
        Err(e) if shown_on_form(&e) => Ok(details_view(&state, &me, None, Some(&e))),
        Err(e) => Err(e),
    }
}

/// Changes the password from the form.
#[utoipa::path(post, path = "/account/password", tag = "pages",
    request_body(content = super::http::PasswordInput, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The details again, saying so; every other browser is signed out.", content_type = "text/html"),
        (status = 401, description = "Not signed in (the session ended): nothing changed; sign in again.", content_type = "text/html"),
        (status = 422, description = "The details again: what to correct.", content_type = "text/html"),
        (status = 429, description = "The details again: too many attempts; wait `Retry-After` seconds.", content_type = "text/html",
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 503, description = "The details again: too many passwords being checked; wait `Retry-After` seconds.", content_type = "text/html",
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    ))]
async fn password_form(
    State(state): State<AppState>,
    connect: ClientAddr,
    headers: HeaderMap,
    me: MaybeSignedIn,
    ApiForm(input): ApiForm<super::http::PasswordInput>,
) -> ApiResult<Response> {
    let Some(me) = me.0 else { return Ok(signed_out(&state)) };
    let client = client(&state, &headers, &connect);
    match super::profile::change_password(&state, &me, &input.current_password, &input.new_password, client).await {
        Ok(token) => {
            let note = "Your password is changed; every other browser is signed out.";
            Ok((session::cookie(&token, &state.config.public_url), details_view(&state, &me, Some(note), None))
                .into_response())
        }
        Err(e) if shown_on_form(&e) => Ok(details_view(&state, &me, None, Some(&e))),
        Err(e) => Err(e),
    }
}

/// Asks to move the account to another address from the form.
#[utoipa::path(post, path = "/account/email", tag = "pages",
    request_body(content = super::http::NewEmailInput, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The details again: a link went to the new address.", content_type = "text/html"),
        (status = 401, description = "Not signed in (the session ended): nothing changed; sign in again.", content_type = "text/html"),
        (status = 422, description = "The details again: what to correct.", content_type = "text/html"),
        (status = 429, description = "The details again: too many attempts; wait `Retry-After` seconds.", content_type = "text/html",
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 503, description = "The details again: too many passwords being checked; wait `Retry-After` seconds.", content_type = "text/html",
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    ))]
async fn email_form(
    State(state): State<AppState>,
    connect: ClientAddr,
    headers: HeaderMap,
    me: MaybeSignedIn,
    ApiForm(input): ApiForm<super::http::NewEmailInput>,
) -> ApiResult<Response> {
    let Some(me) = me.0 else { return Ok(signed_out(&state)) };
    let client = client(&state, &headers, &connect);
    match super::profile::ask_new_email(&state, &me, &input.email, &input.password, client).await {
        Ok(email) => {
            let note = format!("We have sent a link to {email}; your account uses it once you open the link.");
            Ok(details_view(&state, &me, Some(&note), None))
        }
        Err(e) if shown_on_form(&e) => Ok(details_view(&state, &me, None, Some(&e))),
        Err(e) => Err(e),
    }
}

/// The page a new address's link opens: a button confirms.
#[utoipa::path(get, path = "/account/email/confirm", tag = "pages",
    params(TokenQuery),
    responses((status = 200, description = "The button that moves the account.", content_type = "text/html")))]
async fn email_confirm_page(State(state): State<AppState>, Query(q): Query<TokenQuery>) -> Response {
    page(&state, "Use this address", "pages/account/email_confirm.html", json!({ "token": q.token })).into_response()
}

/// Moves the account to the new address.
#[utoipa::path(post, path = "/account/email/confirm", tag = "pages",
    request_body(content = super::http::TokenInput, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Moved.", content_type = "text/html"),
        (status = 404, description = "The link has lapsed or was used.", content_type = "text/html"),
        (status = 409, description = "Another account has that address now.", content_type = "text/html"),
    ))]
async fn email_confirm_form(
    State(state): State<AppState>,
    ApiForm(input): ApiForm<super::http::TokenInput>,
) -> ApiResult<Response> {
    match super::profile::confirm_new_email(&state, &input.token).await {
        Ok(view) => Ok(message(
            &state,
            StatusCode::OK,
            "Your account has a new address",
            &format!("Your account uses {} from now on.", view.email),
            ("/account", "Your account"),
        )),
        Err(e @ (ApiError::NotFound(_) | ApiError::Conflict(_))) => Ok(message(
            &state,
            e.status(),
            "This link does not work any more",
            &capitalise(&e.public_message()),
            ("/account/details", "Your details"),
        )),
        Err(e) => Err(e),
    }
}

/// The password, to delete the account from the form.
#[derive(Deserialize, utoipa::ToSchema)]
struct DeleteForm {
    /// The account's password.
    #[serde(default)]
    #[schema(required = true)]
    delete_password: String,
}

/// Deletes the account from the form.
#[utoipa::path(post, path = "/account/delete", tag = "pages",
    request_body(content = DeleteForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Deleted; the cookies are removed.", content_type = "text/html"),
        (status = 401, description = "Not signed in (the session ended): nothing changed; sign in again.", content_type = "text/html"),
        (status = 409, description = "The details again: an order has not left the atelier yet.", content_type = "text/html"),
        (status = 422, description = "The details again: the password is wrong.", content_type = "text/html"),
        (status = 429, description = "The details again: too many attempts; wait `Retry-After` seconds.", content_type = "text/html",
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 503, description = "The details again: too many passwords being checked; wait `Retry-After` seconds.", content_type = "text/html",
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    ))]
async fn delete_form(
    State(state): State<AppState>,
    connect: ClientAddr,
    headers: HeaderMap,
    me: MaybeSignedIn,
    ApiForm(input): ApiForm<DeleteForm>,
) -> ApiResult<Response> {
    let Some(me) = me.0 else { return Ok(signed_out(&state)) };
    match super::profile::delete(&state, &me, &input.delete_password, client(&state, &headers, &connect)).await {
        Ok(()) => Ok((
            signed_out_cookies(&state),
            message(
                &state,
                StatusCode::OK,
                "Your account is deleted",
                "Everything we kept about it is gone, but for your orders, kept in our accounts without your name, address or e-mail.",
                ("/", "Back to the atelier"),
            ),
        )
            .into_response()),
        Err(e) if shown_on_form(&e) || matches!(e, ApiError::Conflict(_)) => {
            // The form's password field is named apart from the address form's.
            let e = match e {
                ApiError::Invalid { field, message } if field == "password" => {
                    ApiError::Invalid { field: "delete_password".into(), message }
                }
                other => other,
            };
            let mut res = details_view(&state, &me, None, Some(&e));
            *res.status_mut() = match e {
                ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                ref other => other.status(),
            };
            Ok(res)
        }
        Err(e) => Err(e),
    }
}

/// The address book page, with a note or an error (and the form as it was).
async fn addresses_view(
    state: &AppState,
    me: &session::SignedIn,
    flash: Option<&str>,
    error: Option<(&ApiError, &crate::checkout::AddressInput)>,
) -> ApiResult<Response> {
    let addresses = super::addresses::list(state, &me.account_id).await?;
    let countries: Vec<_> =
        crate::checkout::pricing::COUNTRIES.iter().map(|(c, n, _)| json!({ "code": c, "name": n })).collect();
    let form = error.map(|(_, f)| f.clone()).unwrap_or_default();
    let mut ctx = json!({ "addresses": addresses, "countries": countries, "form": form, "field_errors": {} });
    if let Some(flash) = flash {
        ctx["flash"] = json!(flash);
    }
    Ok(match error {
        None => page(state, "Your addresses", "pages/account/addresses.html", ctx).into_response(),
        Some((e, _)) => again(state, "Your addresses", "pages/account/addresses.html", e, ctx),
    })
}

/// The address book.
#[utoipa::path(get, path = "/account/addresses", tag = "pages",
    responses(
        (status = 200, description = "The addresses and the form to add one.", content_type = "text/html"),
        (status = 303, description = "Not signed in: to the sign-in page."),
    ))]
async fn addresses_page(State(state): State<AppState>, me: MaybeSignedIn) -> ApiResult<Response> {
    let Some(me) = me.0 else { return Ok(Redirect::to("/account/sign-in").into_response()) };
    addresses_view(&state, &me, None, None).await
}

/// Keeps an address from the form.
#[utoipa::path(post, path = "/account/addresses", tag = "pages",
    request_body(content = crate::checkout::AddressInput, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The book again, with the address.", content_type = "text/html"),
        (status = 401, description = "Not signed in (the session ended): nothing changed; sign in again.", content_type = "text/html"),
        (status = 409, description = "The book again: it is full.", content_type = "text/html"),
        (status = 422, description = "The book again: what to correct.", content_type = "text/html"),
    ))]
async fn address_form(
    State(state): State<AppState>,
    me: MaybeSignedIn,
    ApiForm(input): ApiForm<crate::checkout::AddressInput>,
) -> ApiResult<Response> {
    let Some(me) = me.0 else { return Ok(signed_out(&state)) };
    let entry = super::addresses::AddressEntry { address: input.clone(), ..Default::default() };
    match super::addresses::add(&state, &me.account_id, &entry).await {
        Ok(_) => addresses_view(&state, &me, Some("The address is kept."), None).await,
        Err(e) if shown_on_form(&e) || matches!(e, ApiError::Conflict(_)) => {
            addresses_view(&state, &me, None, Some((&e, &input))).await
        }
        Err(e) => Err(e),
    }
}

/// Deletes an address from the book.
#[utoipa::path(post, path = "/account/addresses/{address_id}/delete", tag = "pages",
    params(("address_id" = String, Path, description = "One of the account's addresses.")),
    responses((status = 303, description = "Back to the book (or, not signed in, to the sign-in page).")))]
async fn address_delete_form(
    State(state): State<AppState>,
    me: MaybeSignedIn,
    Path(address_id): Path<String>,
) -> ApiResult<Response> {
    let Some(me) = me.0 else { return Ok(Redirect::to("/account/sign-in").into_response()) };
    super::addresses::remove(&state, &me.account_id, &address_id).await?;
    Ok(Redirect::to("/account/addresses").into_response())
}

/// Makes an address the shipping default.
#[utoipa::path(post, path = "/account/addresses/{address_id}/default-shipping", tag = "pages",
    params(("address_id" = String, Path, description = "One of the account's addresses.")),
    responses((status = 303, description = "Back to the book (or, not signed in, to the sign-in page).")))]
async fn address_shipping_form(
    State(state): State<AppState>,
    me: MaybeSignedIn,
    Path(address_id): Path<String>,
) -> ApiResult<Response> {
    make_default(&state, me, &address_id, super::addresses::Default::Shipping).await
}

/// Makes an address the billing default.
#[utoipa::path(post, path = "/account/addresses/{address_id}/default-billing", tag = "pages",
    params(("address_id" = String, Path, description = "One of the account's addresses.")),
    responses((status = 303, description = "Back to the book (or, not signed in, to the sign-in page).")))]
async fn address_billing_form(
    State(state): State<AppState>,
    me: MaybeSignedIn,
    Path(address_id): Path<String>,
) -> ApiResult<Response> {
    make_default(&state, me, &address_id, super::addresses::Default::Billing).await
}

/// Makes an address a default: back to the book (or, not signed in, to the sign-in page).
async fn make_default(
    state: &AppState,
    me: MaybeSignedIn,
    address_id: &str,
    which: super::addresses::Default,
) -> ApiResult<Response> {
    let Some(me) = me.0 else { return Ok(Redirect::to("/account/sign-in").into_response()) };
    super::addresses::make_default(state, &me.account_id, address_id, which).await?;
    Ok(Redirect::to("/account/addresses").into_response())
}
