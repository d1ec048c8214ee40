//! Newsletter sign-up, as JSON and as the home page's plain form.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::page::message;
use crate::http::{ApiForm, ApiJson};
use crate::AppState;

/// The newsletter routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(post_newsletter)).routes(routes!(newsletter_form))
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
struct Subscribed {
    /// Always true.
    subscribed: bool,
}

/// Newsletter sign-up (JSON).
#[utoipa::path(post, path = "/api/newsletter", tag = "newsletter",
    request_body = NewsletterInput,
    responses(
        (status = 200, description = "Signed up (or already).", body = Subscribed),
        (status = 400, description = "Not an e-mail address.", body = ErrorBody),
    ))]
async fn post_newsletter(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewsletterInput>,
) -> ApiResult<Json<Subscribed>> {
    super::subscribe(&state.db, &body.email).await?;
    Ok(Json(Subscribed { subscribed: true }))
}

/// Newsletter sign-up from the home page's form.
#[utoipa::path(post, path = "/newsletter", tag = "pages",
    request_body(content = NewsletterInput, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Thanks.", content_type = "text/html"),
        (status = 422, description = "Not an e-mail address: what to correct.", content_type = "text/html"),
    ))]
async fn newsletter_form(
    State(state): State<AppState>,
    ApiForm(form): ApiForm<NewsletterInput>,
) -> ApiResult<Response> {
    let back = ("/", "Back to the atelier");
    match super::subscribe(&state.db, &form.email).await {
        Ok(()) => Ok(message(
            &state,
            StatusCode::OK,
            "Thank you",
            "You will hear from us when the season turns — a few letters a year, never more.",
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
