//! The routes of sign-in with Google: the buttons' forms that send the browser to Google, the
//! callback it comes back to, and unlinking. Pages only: the trip is the browser's.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Callback, Outcome, Purpose, Refused};
use crate::accounts::http::{browser, signed_in_cookies};
use crate::accounts::session::{self, MaybeSignedIn};
use crate::accounts::SignIn;
use crate::error::{ApiError, ApiResult};
use crate::http::client::ClientAddr;
use crate::http::page::{capitalise, message, page};
use crate::AppState;

/// The routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start_sign_in))
        .routes(routes!(start_link))
        .routes(routes!(callback))
        .routes(routes!(unlink))
}

/// Sends the browser to Google with the trip's state in its cookie.
async fn go(state: &AppState, purpose: Purpose, account_id: Option<&str>) -> ApiResult<Response> {
    if !state.google.enabled() {
        return Ok(not_offered(state));
    }
    match super::start(state, purpose, account_id).await {
        Ok(started) => {
            let jar = CookieJar::new().add(session::google_cookie(&started.state, &state.config.public_url));
            Ok((jar, Redirect::to(&started.location)).into_response())
        }
        Err(refused) => Ok(refusal(state, refused)?),
    }
}

fn not_offered(state: &AppState) -> Response {
    message(
        state,
        StatusCode::NOT_FOUND,
        "Sign-in with Google is not offered",
        "This shop signs in with an e-mail address and a password.",
        ("/account/sign-in", "Sign in"),
    )
}

/// Signs in (or opens an account) with Google.
#[utoipa::path(post, path = "/account/google", tag = "pages",
    responses(
        (status = 303, description = "To Google's sign-in page, the trip's state in a ten-minute cookie."),
        (status = 404, description = "The shop does not offer sign-in with Google.", content_type = "text/html"),
        (status = 429, description = "Too many sign-ins from this network; wait `Retry-After` seconds.", content_type = "text/html",
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 502, description = "Google could not be reached.", content_type = "text/html"),
    ))]
async fn start_sign_in(State(state): State<AppState>, connect: ClientAddr, headers: HeaderMap) -> ApiResult<Response> {
    let client = crate::accounts::http::client(&state, &headers, &connect);
    let by_client = crate::accounts::attempts::for_client(crate::accounts::attempts::SIGN_IN_CLIENT, client);
    match crate::accounts::attempts::enter(&state.db, &[(crate::accounts::attempts::SIGN_IN_CLIENT, &by_client)]).await
    {
        Ok(attempt) => attempt.keep(),
        Err(ApiError::RateLimited(seconds)) => {
            let e = ApiError::RateLimited(seconds);
            let res = message(
                &state,
                StatusCode::TOO_MANY_REQUESTS,
                "Please wait",
                &capitalise(&e.public_message()),
                ("/account/sign-in", "Sign in"),
            );
            return Ok(e.with_retry_after(res));
        }
        Err(e) => return Err(e),
    }
    go(&state, Purpose::SignIn, None).await
}

/// Links the signed-in account to a Google account.
#[utoipa::path(post, path = "/account/google/link", tag = "pages",
    responses(
        (status = 303, description = "To Google's sign-in page (or, not signed in, to the sign-in page)."),
        (status = 404, description = "The shop does not offer sign-in with Google.", content_type = "text/html"),
        (status = 502, description = "Google could not be reached.", content_type = "text/html"),
    ))]
async fn start_link(State(state): State<AppState>, me: MaybeSignedIn) -> ApiResult<Response> {
    let Some(me) = me.0 else { return Ok(Redirect::to("/account/sign-in").into_response()) };
    go(&state, Purpose::Link, Some(&me.account_id)).await
}

/// Where Google sends the browser back.
#[utoipa::path(get, path = "/account/google/callback", tag = "pages", params(Callback),
    responses(
        (status = 303, description = "Signed in or linked: to the account's page (or, with two factors on, to the code's form)."),
        (status = 200, description = "The person chose not to continue at Google.", content_type = "text/html"),
        (status = 400, description = "The trip lapsed, was used, or began in another browser.", content_type = "text/html"),
        (status = 401, description = "Google's answer failed a check (code, signature, issuer, audience, expiry, nonce), or linking without being signed in.", content_type = "text/html"),
        (status = 403, description = "Google has not confirmed the address.", content_type = "text/html"),
        (status = 409, description = "An account here has the address (its owner signs in with the password, then links Google), or the Google account is linked elsewhere.", content_type = "text/html"),
        (status = 502, description = "Google could not be reached.", content_type = "text/html"),
    ))]
async fn callback(
    State(state): State<AppState>,
    connect: ClientAddr,
    headers: HeaderMap,
    me: MaybeSignedIn,
    Query(query): Query<Callback>,
) -> ApiResult<Response> {
    let url = &state.config.public_url;
    let browser = browser(&state, &headers, &connect);
    let cookie = session::google_of(&headers);
    let outcome = super::finish(&state, &query, cookie.as_deref(), &browser, me.0.as_ref()).await;
    let spent = CookieJar::new().add(session::google_cookie_removal(url));
    let res = match outcome {
        Ok(Outcome::SignedIn(SignIn::Done(done))) => {
            (signed_in_cookies(&state, &done, &browser), Redirect::to("/account")).into_response()
        }
        Ok(Outcome::SignedIn(SignIn::NeedsCode { challenge })) => {
            (session::challenge_cookie(&challenge, url), Redirect::to("/account/sign-in/code")).into_response()
        }
        Ok(Outcome::Linked) => Redirect::to("/account#google-title").into_response(),
        Ok(Outcome::OwnerMustSignIn { email }) => {
            let flash = format!(
                "An account here already uses {email}. Sign in with its password; then link Google from your account's page, and Google will sign you in from then on."
            );
            let ctx = json!({ "form": { "email": email, "name": "" }, "field_errors": {}, "flash": flash });
            (StatusCode::CONFLICT, page(&state, "Sign in", "pages/account/sign_in.html", ctx)).into_response()
        }
        Err(refused) => refusal(&state, refused)?,
    };
    Ok((spent, res).into_response())
}

/// The page of a trip that ended without signing in; what went wrong on our side is an error.
fn refusal(state: &AppState, refused: Refused) -> ApiResult<Response> {
    if let Refused::Api(e) = refused {
        return Err(e);
    }
    let status = match &refused {
        Refused::Cancelled => StatusCode::OK,
        Refused::Lapsed => StatusCode::BAD_REQUEST,
        Refused::Unverified => StatusCode::FORBIDDEN,
        Refused::Untrusted(cause) => {
            tracing::warn!(%cause, "a sign-in with Google was refused");
            StatusCode::UNAUTHORIZED
        }
        Refused::SignedOut => StatusCode::UNAUTHORIZED,
        Refused::Unreachable(cause) => {
            tracing::warn!(%cause, "Google could not be reached");
            StatusCode::BAD_GATEWAY
        }
        Refused::LinkedElsewhere | Refused::AlreadyLinked => StatusCode::CONFLICT,
        Refused::Api(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let title = match status {
        StatusCode::OK => "You did not continue with Google",
        _ => "Google did not sign you in",
    };
    let link = match refused {
        Refused::LinkedElsewhere | Refused::AlreadyLinked => ("/account", "Your account"),
        _ => ("/account/sign-in", "Sign in"),
    };
    Ok(message(state, status, title, &capitalise(&refused.to_string()), link))
}

/// Unlinks the account's Google account.
#[utoipa::path(post, path = "/account/google/unlink", tag = "pages",
    responses(
        (status = 303, description = "Unlinked: to the account's page (or, not signed in, to the sign-in page)."),
        (status = 409, description = "The account has no password yet: it could not sign in without Google.", content_type = "text/html"),
    ))]
async fn unlink(State(state): State<AppState>, me: MaybeSignedIn) -> ApiResult<Response> {
    let Some(me) = me.0 else { return Ok(Redirect::to("/account/sign-in").into_response()) };
    match super::unlink(&state, &me.account_id).await {
        Ok(_) => Ok(Redirect::to("/account#google-title").into_response()),
        Err(e @ ApiError::Conflict(_)) => Ok(message(
            &state,
            e.status(),
            "Google stays linked for now",
            &capitalise(&e.public_message()),
            ("/account/forgot", "Get a link to set a password"),
        )),
        Err(e) => Err(e),
    }
}
