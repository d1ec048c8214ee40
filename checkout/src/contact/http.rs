//! The contact form's route: the Contact page's form posts here, and works without a script.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ContactInput;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::client::ClientAddr;
use crate::http::page::{form_errors, message, page};
use crate::http::ApiForm;
use crate::AppState;

/// The contact routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(contact_page, contact_form))
}

/// The form lives on the Contact page: this address only takes it.
#[utoipa::path(get, path = "/contact/send", tag = "pages",
    responses((status = 303, description = "To the Contact page and its form.")))]
async fn contact_page() -> Redirect {
    Redirect::to("/contact/#write")
}

/// A letter from the Contact page's form: staff receive it, the sender a copy.
#[utoipa::path(post, path = "/contact/send", tag = "pages",
    request_body(content = ContactInput, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Sent: what happens next.", content_type = "text/html"),
        (status = 422, description = "The form again, with what to correct.", content_type = "text/html"),
        (status = 429, description = "Too many letters from this client or address; the form again, saying when to try.", content_type = "text/html",
            headers(("Retry-After" = u64, description = "Seconds until another letter is taken."))),
        (status = 400, description = "Not a form.", body = ErrorBody),
    ))]
async fn contact_form(
    State(state): State<AppState>,
    connect: ClientAddr,
    headers: HeaderMap,
    ApiForm(input): ApiForm<ContactInput>,
) -> ApiResult<Response> {
    let client = state.config.trusted_proxies.client(&headers, connect.0.map(|s| s.ip()));
    let mut errors = match super::send(&state, &input, client).await {
        Ok(()) => {
            return Ok(message(
                &state,
                StatusCode::OK,
                "Your letter is on its way",
                "Thank you for writing. A copy is on its way to your e-mail, and we answer every letter ourselves, usually within two working days.",
                ("/", "Back to the atelier"),
            ))
        }
        Err(errors) => errors,
    };
    // Failures of our own are errors of the service, not of the form.
    if let Some(i) = errors.iter().position(|e| e.status().is_server_error()) {
        return Err(errors.swap_remove(i));
    }
    let status = match errors.first() {
        Some(ApiError::RateLimited(_)) => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let shown = form_errors(&errors);
    let title = if errors.len() == 1 {
        "There is a problem".to_string()
    } else {
        format!("There are {} problems", errors.len())
    };
    let ctx = json!({ "form": input, "errors": shown["errors"], "field_errors": shown["field_errors"], "errors_title": title });
    let res = (status, page(&state, "Error: Write to the atelier", "pages/contact.html", ctx)).into_response();
    Ok(match errors.first() {
        Some(e) => e.with_retry_after(res),
        None => res,
    })
}
