//! Payment routes: Stripe's (and the sandbox's) webhook endpoint, and the sandbox's own pay page.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::webhook::{self, Applied};
use super::SandboxAction;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::page::{message, page};
use crate::http::ApiForm;
use crate::orders::{self, links, OrderStatus};
use crate::AppState;

/// The payment routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(post_stripe_webhook)).routes(routes!(pay_page, pay_form))
}

/// The answer to a webhook delivery.
#[derive(Serialize, utoipa::ToSchema)]
struct Received {
    /// Always true: the event was verified and recorded.
    received: bool,
    /// What it did.
    result: Applied,
}

/// Stripe's (and the sandbox's) events: verified against `Stripe-Signature`, applied once.
#[utoipa::path(post, path = "/api/webhooks/stripe", tag = "payments",
    params(("Stripe-Signature" = String, Header, description = "`t=…,v1=…`: Stripe's signature of the raw body.")),
    request_body(content = serde_json::Value, content_type = "application/json", description = "A Stripe event, as Stripe sends it."),
    responses(
        (status = 200, description = "Verified and applied (or seen before, or not ours).", body = Received),
        (status = 400, description = "Unsigned, badly signed, too old, or not an event.", body = ErrorBody),
        (status = 409, description = "A late payment whose last bottles sold at that very moment: Stripe delivers it again, and it is then flagged for a refund.", body = ErrorBody),
    ))]
async fn post_stripe_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Received>> {
    let signature = headers.get("stripe-signature").and_then(|v| v.to_str().ok());
    let result = webhook::handle(&state, signature, &body).await.inspect_err(|e| {
        crate::http::metrics::webhook_failed(match e {
            ApiError::Signature(_) => "signature",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Conflict(_) => "conflict",
            _ => "internal",
        })
    })?;
    Ok(Json(Received { received: true, result }))
}

fn no_sandbox() -> ApiError {
    ApiError::NotFound("payments are taken by Stripe; there is no sandbox pay page".into())
}

/// The sandbox's pay page (there is none when Stripe takes the payments).
#[utoipa::path(get, path = "/pay/{session}", tag = "pages",
    params(("session" = String, Path, description = "The sandbox's session id, `cs_sandbox_…`.")),
    responses(
        (status = 200, description = "The pay page.", content_type = "text/html"),
        (status = 303, description = "The session is settled: off to the order's page."),
        (status = 404, description = "No such session, or Stripe takes the payments.", content_type = "text/html"),
    ))]
async fn pay_page(State(state): State<AppState>, Path(session): Path<String>) -> ApiResult<Response> {
    if !state.payments.is_sandbox() {
        return Err(no_sandbox());
    }
    let found = orders::by_session(&state.db, &session).await?;
    let order = match &found {
        Some((id, _)) => orders::load(&state.db, id).await?,
        None => None,
    };
    let Some(order) = order else {
        return Ok(message(
            &state,
            StatusCode::NOT_FOUND,
            "No such payment",
            "This payment link is not known to us.",
            ("/cart", "Back to your cart"),
        ));
    };
    if order.status != OrderStatus::PendingPayment {
        return Ok(Redirect::to(&links::path(&state.keys.link, &order.order_id)).into_response());
    }
    Ok(page(&state, "Payment", "pages/pay.html", json!({ "order": order, "session_id": session })).into_response())
}

/// The sandbox pay page's buttons.
#[derive(Deserialize, utoipa::ToSchema)]
struct PayForm {
    /// `pay` or `decline`.
    #[serde(default)]
    #[schema(required = true, pattern = "^(pay|decline)$")]
    action: String,
}

/// Pay or decline on the sandbox page: the event goes through the webhook handler.
#[utoipa::path(post, path = "/pay/{session}", tag = "pages",
    params(("session" = String, Path, description = "The sandbox's session id, `cs_sandbox_…`.")),
    request_body(content = PayForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Done: off to the order's page."),
        (status = 400, description = "Neither pay nor decline.", body = ErrorBody),
        (status = 404, description = "No such session, or Stripe takes the payments.", body = ErrorBody),
    ))]
async fn pay_form(
    State(state): State<AppState>,
    Path(session): Path<String>,
    ApiForm(form): ApiForm<PayForm>,
) -> ApiResult<Response> {
    // Only the sandbox signs its own events: with Stripe this would be a free "paid" button.
    if !state.payments.is_sandbox() {
        return Err(no_sandbox());
    }
    let action = match form.action.as_str() {
        "pay" => SandboxAction::Pay,
        "decline" => SandboxAction::Decline,
        other => return Err(ApiError::invalid("action", format!("`{other}` is neither pay nor decline"))),
    };
    let (order_id, status) = orders::by_session(&state.db, &session)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no payment session {session}")))?;
    // A session already settled (paid, expired, declined) takes no second verdict; the order
    // page says where it stands.
    if status == OrderStatus::PendingPayment {
        super::sandbox::act(&state, &session, action).await?;
    }
    Ok(Redirect::to(&links::path(&state.keys.link, &order_id)).into_response())
}
