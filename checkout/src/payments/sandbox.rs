//! The sandbox provider, the embedded default: the service serves its own pay page and, on pay
//! or decline, delivers a Stripe-shaped event signed with the webhook secret through the very
//! same handler Stripe's events go through.

use serde_json::json;

use super::webhook::{self, Applied};
use crate::error::{ApiError, ApiResult};
use crate::ids::{now, random_hex};
use crate::AppState;

/// What the shopper chose on the sandbox pay page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxAction {
    /// Pay.
    Pay,
    /// Decline: the payment fails and the order is cancelled.
    Decline,
}

/// A Checkout Session as Stripe's events carry it: every field async-stripe requires, and the
/// ones the shop reads.
fn session_object(session: &str, order_id: &str, total: i64, currency: &str, paid: bool) -> serde_json::Value {
    let t = now();
    json!({
        "id": session,
        "object": "checkout.session",
        "amount_subtotal": total,
        "amount_total": total,
        "automatic_tax": { "enabled": false, "liability": null, "provider": null, "status": null },
        "client_reference_id": order_id,
        "created": t,
        "currency": currency.to_lowercase(),
        "custom_fields": [],
        "custom_text": {},
        "expires_at": t + 1800,
        "livemode": false,
        "metadata": { "order_id": order_id },
        "mode": "payment",
        "payment_intent": if paid { json!(format!("pi_sandbox_{}", random_hex(10))) } else { json!(null) },
        "payment_method_types": ["card"],
        "payment_status": if paid { "paid" } else { "unpaid" },
        "shipping_options": [],
        "status": if paid { "complete" } else { "open" },
        "url": null,
    })
}

/// Delivers the sandbox's Stripe-shaped event for a session through the webhook handler.
pub async fn deliver(state: &AppState, session: &str, kind: &str, event_id: &str) -> ApiResult<Applied> {
    let (order_id, total, currency) = crate::orders::charge_of(&state.db, session)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no payment session {session}")))?;
    let paid = kind == "checkout.session.completed";
    let event = json!({
        "id": event_id,
        "object": "event",
        "api_version": webhook::api_version(),
        "created": now(),
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": kind,
        "data": { "object": session_object(session, &order_id, total, &currency, paid) },
    });
    let body = serde_json::to_vec(&event).map_err(|e| ApiError::Internal(e.to_string()))?;
    let header = webhook::signature_header(state.keys.webhook.expose(), now(), &body);
    webhook::handle(state, Some(&header), &body).await
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

/// The sandbox refunds at once: it delivers the Stripe-shaped `charge.refunded` Stripe would
/// send for the order's charge after refund `refund_id` (the charge's `amount_refunded` counts
/// every refund asked of it that was not refused), signed, through the webhook handler.
pub async fn refund(state: &AppState, order_id: &str, intent: &str, refund_id: &str) -> ApiResult<Applied> {
    let (total, currency): (i64, String) =
        sqlx::query_as("select total_minor, currency from customer_order where order_id = $1")
            .bind(order_id)
            .fetch_one(&state.db.pool)
            .await?;
    let refunded: i64 = sqlx::query_scalar(
        "select cast(coalesce(sum(amount_minor), 0) as bigint) from order_refund where order_id = $1 and state <> 'failed'",
    )
    .bind(order_id)
    .fetch_one(&state.db.pool)
    .await?;
    let refunded = refunded.min(total);
    let charge = json!({
        "id": format!("ch_sandbox_{}", intent.trim_start_matches("pi_sandbox_")),
        "object": "charge",
        "amount": total,
        "amount_captured": total,
        "amount_refunded": refunded,
        "billing_details": { "address": null, "email": null, "name": null, "phone": null },
        "captured": true,
        "created": now(),
        "currency": currency.to_lowercase(),
        "disputed": false,
        "livemode": false,
        "metadata": { "order_id": order_id },
        "paid": true,
        "payment_intent": intent,
        "refunded": refunded >= total,
        "status": "succeeded",
    });
    let event = json!({
        "id": format!("evt_sandbox_refund_{refund_id}"),
        "object": "event",
        "api_version": webhook::api_version(),
        "created": now(),
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": "charge.refunded",
        "data": { "object": charge },
    });
    let body = serde_json::to_vec(&event).map_err(|e| ApiError::Internal(e.to_string()))?;
    let header = webhook::signature_header(state.keys.webhook.expose(), now(), &body);
    webhook::handle(state, Some(&header), &body).await
}
