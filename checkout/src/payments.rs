//! Payment providers behind one interface. The sandbox (the embedded default) serves its own
//! pay page and, on pay or decline, delivers a Stripe-shaped event signed with the webhook
//! secret through the very same handler Stripe's events go through.

use serde_json::json;

use crate::config::PaymentMode;
use crate::error::{ApiError, ApiResult};
use crate::ids::{now, random_hex};
use crate::webhooks::{self, Applied};
use crate::AppState;

/// The provider taking payments.
#[derive(Debug, Clone)]
pub enum Payments {
    /// Our own pay page.
    Sandbox,
    /// Stripe Checkout (not yet wired: the service refuses to start with it).
    Stripe,
}

impl Payments {
    /// The provider for a configuration.
    pub fn from_mode(mode: &PaymentMode) -> Payments {
        match mode {
            PaymentMode::Sandbox => Payments::Sandbox,
            PaymentMode::Stripe { .. } => Payments::Stripe,
        }
    }

    /// Stored with each order.
    pub fn name(&self) -> &'static str {
        match self {
            Payments::Sandbox => "sandbox",
            Payments::Stripe => "stripe",
        }
    }

    /// A new checkout session id.
    pub fn new_session_id(&self) -> String {
        format!("cs_{}_{}", self.name(), random_hex(12))
    }

    /// Where the shopper goes to pay.
    pub fn payment_url(&self, public_url: &str, session: &str) -> String {
        let _ = public_url;
        format!("/pay/{session}")
    }
}

/// What the shopper chose on the sandbox pay page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxAction {
    /// Pay.
    Pay,
    /// Decline: the session ends unpaid.
    Decline,
}

/// Delivers the sandbox's Stripe-shaped event for a session through the webhook handler.
pub async fn sandbox_event(state: &AppState, session: &str, kind: &str, event_id: &str) -> ApiResult<Applied> {
    let row: Option<(String, i64)> =
        sqlx::query_as("select order_id, total_minor from customer_order where payment_session = $1")
            .bind(session)
            .fetch_optional(&state.db.pool)
            .await?;
    let (order_id, total) = row.ok_or_else(|| ApiError::NotFound(format!("no payment session {session}")))?;
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
            "currency": "eur",
            "client_reference_id": order_id,
            "metadata": { "order_id": order_id },
            "mode": "payment",
            "payment_intent": if paid { json!(format!("pi_sandbox_{}", random_hex(10))) } else { json!(null) },
            "payment_status": if paid { "paid" } else { "unpaid" },
            "status": if paid { "complete" } else { "expired" },
        }},
    });
    let body = serde_json::to_vec(&event).map_err(|e| ApiError::Internal(e.to_string()))?;
    let header = webhooks::signature_header(state.config.webhook_secret.expose(), now(), &body);
    webhooks::handle(state, Some(&header), &body).await
}

/// The sandbox pay page's buttons.
pub async fn sandbox_act(state: &AppState, session: &str, action: SandboxAction) -> ApiResult<Applied> {
    match action {
        SandboxAction::Pay => {
            sandbox_event(state, session, "checkout.session.completed", &format!("evt_sandbox_{}", random_hex(12)))
                .await
        }
        SandboxAction::Decline => {
            sandbox_event(state, session, "checkout.session.expired", &format!("evt_expire_{session}")).await
        }
    }
}

/// Ends every unpaid session past its time, on any number of instances at once: the event id
/// is the same everywhere, so it applies once.
pub async fn expire_due(state: &AppState) -> ApiResult<usize> {
    let due: Vec<String> = sqlx::query_scalar(
        "select payment_session from customer_order where status = 'pending_payment' and expires_at < $1 and payment_session is not null limit 100",
    )
    .bind(now())
    .fetch_all(&state.db.pool)
    .await?;
    let mut n = 0;
    for session in due {
        if sandbox_event(state, &session, "checkout.session.expired", &format!("evt_expire_{session}")).await?
            == Applied::Applied
        {
            n += 1;
        }
    }
    Ok(n)
}
