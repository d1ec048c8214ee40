//! The sandbox provider, the embedded default: the service serves its own pay page and, on pay
//! or decline, delivers a Stripe-shaped event signed with the webhook secret through the very
//! same handler Stripe's events go through.

use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::ids::{now, random_hex};
use crate::webhooks::{self, Applied};
use crate::AppState;

/// What the shopper chose on the sandbox pay page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxAction {
    /// Pay.
    Pay,
    /// Decline: the payment fails and the order is cancelled.
    Decline,
}

/// Delivers the sandbox's Stripe-shaped event for a session through the webhook handler.
pub async fn deliver(state: &AppState, session: &str, kind: &str, event_id: &str) -> ApiResult<Applied> {
    let row: Option<(String, i64, String)> =
        sqlx::query_as("select order_id, total_minor, currency from customer_order where payment_session = $1")
            .bind(session)
            .fetch_optional(&state.db.pool)
            .await?;
    let (order_id, total, currency) = row.ok_or_else(|| ApiError::NotFound(format!("no payment session {session}")))?;
    let paid = kind == "checkout.session.completed";
    let event = json!({
        "id": event_id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": now(),
        "livemode": false,
        "type": kind,
        "data": { "object": {
            "id": session,
            "object": "checkout.session",
            "amount_total": total,
            "currency": currency.to_lowercase(),
            "client_reference_id": order_id,
            "metadata": { "order_id": order_id },
            "mode": "payment",
            "payment_intent": if paid { json!(format!("pi_sandbox_{}", random_hex(10))) } else { json!(null) },
            "payment_status": if paid { "paid" } else { "unpaid" },
            "status": if paid { "complete" } else { "open" },
        }},
    });
    let body = serde_json::to_vec(&event).map_err(|e| ApiError::Internal(e.to_string()))?;
    let header = webhooks::signature_header(state.config.webhook_secret.expose(), now(), &body);
    webhooks::handle(state, Some(&header), &body).await
}

/// The sandbox pay page's buttons.
pub async fn act(state: &AppState, session: &str, action: SandboxAction) -> ApiResult<Applied> {
    match action {
        SandboxAction::Pay => {
            deliver(state, session, "checkout.session.completed", &format!("evt_sandbox_{}", random_hex(12))).await
        }
        SandboxAction::Decline => {
            deliver(state, session, "checkout.session.async_payment_failed", &format!("evt_decline_{session}")).await
        }
    }
}
