//! Newsletter routes: the sign-up (JSON, and the home page's plain form) and the pages of the
//! two signed links a message carries, to confirm and to leave.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Link;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::client::ClientAddr;
use crate::http::page::{message, page};
use crate::http::{ApiForm, ApiJson};
use crate::AppState;

/// The newsletter routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(post_newsletter))
        .routes(routes!(newsletter_form))
        .routes(routes!(confirm_page, confirm_form))
        .routes(routes!(unsubscribe_page, unsubscribe_form))
}

/// An address to sign up.
#[derive(Deserialize, utoipa::ToSchema)]
struct NewsletterInput {
    /// The e-mail address.
    #[serde(default)]
    #[schema(required = true, format = Email, max_length = 254, example = "ada@example.com")]
    email: String,
}

/// A sign-up taken.
#[derive(Serialize, utoipa::ToSchema)]
struct SignedUp {
    /// What happens next.
    message: String,
}

const CHECK_MAIL: &str = "check your e-mail: the address joins the letters once you confirm from the link we sent";

/// Newsletter sign-up (JSON): a link to confirm is mailed; the same answer whether the address
/// was new, waiting or subscribed already.
#[utoipa::path(post, path = "/api/newsletter", tag = "newsletter",
    request_body = NewsletterInput,
    responses(
        (status = 202, description = "Taken: the address joins once confirmed from the mailed link.", body = SignedUp),
        (status = 400, description = "Not an e-mail address.", body = ErrorBody),
    ))]
async fn post_newsletter(
    State(state): State<AppState>,
    connect: ClientAddr,
    headers: HeaderMap,
    ApiJson(body): ApiJson<NewsletterInput>,
) -> ApiResult<Response> {
    let client = state.config.trusted_proxies.client(&headers, connect.0.map(|s| s.ip()));
    super::subscribe(&state, &body.email, client).await?;
    Ok((StatusCode::ACCEPTED, Json(SignedUp { message: CHECK_MAIL.into() })).into_response())
}

/// Newsletter sign-up from the home page's form.
#[utoipa::path(post, path = "/newsletter", tag = "pages",
    request_body(content = NewsletterInput, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Check your e-mail.", content_type = "text/html"),
        (status = 422, description = "Not an e-mail address: what to correct.", content_type = "text/html"),
    ))]
async fn newsletter_form(
    State(state): State<AppState>,
    connect: ClientAddr,
    headers: HeaderMap,
    ApiForm(form): ApiForm<NewsletterInput>,
) -> ApiResult<Response> {
    let back = ("/", "Back to the atelier");
    let client = state.config.trusted_proxies.client(&headers, connect.0.map(|s| s.ip()));
    match super::subscribe(&state, &form.email, client).await {
        Ok(()) => Ok(message(
            &state,
            StatusCode::OK,
            "Check your e-mail",
            "We have sent a link to confirm: once you follow it, you will hear from us when the season turns — a few letters a year, never more.",
            back,
        )),
        Err(ApiError::Invalid { .. }) => Ok(message(
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Please check your address",
            "That does not look like an e-mail address; please try again.",
            back,
        )),
        Err(e) => Err(e),
    }
}

/// A newsletter link: an address and the service's signature of it.
#[derive(Deserialize, utoipa::IntoParams, utoipa::ToSchema)]
#[into_params(parameter_in = Query)]
struct Signed {
    /// The address.
    #[serde(default)]
    #[param(required = true, max_length = 254, example = "ada@example.com")]
    #[schema(required = true, max_length = 254, example = "ada@example.com")]
    email: String,
    /// The signature, from the mailed link.
    #[serde(default)]
    #[param(required = true, max_length = 64)]
    #[schema(required = true, max_length = 64)]
    sig: String,
}

/// The page of a link whose signature is not the service's.
fn not_ours(state: &AppState) -> Response {
    message(
        state,
        StatusCode::FORBIDDEN,
        "This link is not whole",
        "The link does not match its address: please use the whole link from the message, or sign up again from the home page.",
        ("/", "Back to the atelier"),
    )
}

/// A signed link's page: what its button does.
fn link_page(state: &AppState, which: Link, link: &Signed) -> Response {
    if !super::signed(state, which, &link.email, &link.sig) {
        return not_ours(state);
    }
    let (heading, text, button) = match which {
        Link::Confirm => (
            "Confirm your subscription",
            format!("Join the atelier's letters at {}: a few a year, and a link to leave in each.", link.email),
            "Confirm my subscription",
        ),
        Link::Unsubscribe => (
            "Leave the letters",
            format!("Stop the atelier's letters to {}. You can sign up again at any time.", link.email),
            "Unsubscribe",
        ),
    };
    let ctx = json!({
        "heading": heading, "message": text, "button": button,
        "action": which.path(), "email": link.email, "sig": link.sig,
    });
    page(state, heading, "pages/newsletter.html", ctx).into_response()
}

/// The confirmation link's page, with its button (opening a link confirms nothing).
#[utoipa::path(get, path = "/newsletter/confirm", tag = "pages", params(Signed),
    responses(
        (status = 200, description = "The button that confirms.", content_type = "text/html"),
        (status = 403, description = "The signature is not the service's for that address.", content_type = "text/html"),
    ))]
async fn confirm_page(State(state): State<AppState>, Query(link): Query<Signed>) -> Response {
    link_page(&state, Link::Confirm, &link)
}

/// Confirms a sign-up.
#[utoipa::path(post, path = "/newsletter/confirm", tag = "pages",
    request_body(content = Signed, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Subscribed.", content_type = "text/html"),
        (status = 403, description = "The signature is not the service's for that address.", content_type = "text/html"),
        (status = 404, description = "The address left the list since.", content_type = "text/html"),
    ))]
async fn confirm_form(State(state): State<AppState>, ApiForm(link): ApiForm<Signed>) -> ApiResult<Response> {
    if !super::signed(&state, Link::Confirm, &link.email, &link.sig) {
        return Ok(not_ours(&state));
    }
    let back = ("/", "Back to the atelier");
    match super::confirm(&state, &link.email).await {
        Ok(_) => Ok(message(
            &state,
            StatusCode::OK,
            "You are subscribed",
            "Thank you. You will hear from us when the season turns — a few letters a year, never more, each with a link to leave.",
            back,
        )),
        Err(e @ ApiError::NotFound(_)) => {
            Ok(message(&state, StatusCode::NOT_FOUND, "Not subscribed", &crate::http::page::capitalise(&e.public_message()), back))
        }
        Err(e) => Err(e),
    }
}

/// The unsubscribe link's page, with its button.
#[utoipa::path(get, path = "/newsletter/unsubscribe", tag = "pages", params(Signed),
    responses(
        (status = 200, description = "The button that unsubscribes.", content_type = "text/html"),
        (status = 403, description = "The signature is not the service's for that address.", content_type = "text/html"),
    ))]
async fn unsubscribe_page(State(state): State<AppState>, Query(link): Query<Signed>) -> Response {
    link_page(&state, Link::Unsubscribe, &link)
}

/// Leaves the list: the page's button, or a mail program's one-click request (RFC 8058, a POST
/// of `List-Unsubscribe=One-Click` to the link).
#[utoipa::path(post, path = "/newsletter/unsubscribe", tag = "pages", params(Signed),
    responses(
        (status = 200, description = "Unsubscribed.", content_type = "text/html"),
        (status = 403, description = "The signature is not the service's for that address.", content_type = "text/html"),
    ))]
async fn unsubscribe_form(
    State(state): State<AppState>,
    Query(query): Query<Signed>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    // The page's form sends the address and signature in its body; a one-click request keeps
    // them in the link's query and sends `List-Unsubscribe=One-Click`.
    let form: Signed =
        serde_urlencoded::from_bytes(&body).unwrap_or(Signed { email: String::new(), sig: String::new() });
    let link = if form.email.is_empty() { query } else { form };
    if !super::signed(&state, Link::Unsubscribe, &link.email, &link.sig) {
        return Ok(not_ours(&state));
    }
    super::unsubscribe(&state, &link.email).await?;
    Ok(message(
        &state,
        StatusCode::OK,
        "You have left the letters",
        "No more letters will come to this address. If you change your mind, the home page has the form.",
        ("/", "Back to the atelier"),
    ))
}
