//! Payment providers behind one interface. Checkout opens a session with the provider and sends
//! the shopper to its page; the provider's verdict comes back only as a signed webhook event,
//! through the one handler in [`webhook`].
//!
//! - [`sandbox`] (the embedded default) serves its own pay page and signs Stripe-shaped events
//!   with the webhook secret;
//! - [`stripe`] opens hosted Stripe Checkout Sessions through `async-stripe`.

pub mod http;
pub mod sandbox;
pub mod stripe;
pub mod webhook;

use std::sync::Arc;

use crate::config::PaymentMode;
use crate::error::{ApiError, ApiResult};
use crate::ids::random_hex;
use crate::AppState;

pub use sandbox::SandboxAction;

/// The provider taking payments.
#[derive(Clone)]
pub enum Payments {
    /// Our own pay page.
    Sandbox,
    /// Stripe Checkout.
    Stripe(Arc<stripe::StripeGateway>),
}

impl std::fmt::Debug for Payments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One line of what the shopper pays for, priced from our catalog.
#[derive(Debug, Clone)]
pub struct SessionLine {
    /// Essence name and size, as the provider's page shows it.
    pub name: String,
    /// Price of one, in minor units.
    pub unit_minor: i64,
    /// How many.
    pub quantity: i64,
}

/// What a payment session is opened for.
#[derive(Debug, Clone)]
pub struct SessionRequest {
    /// Our order id (in the session's metadata and client reference).
    pub order_id: String,
    /// Readable order number.
    pub number: String,
    /// The shopper's e-mail.
    pub email: String,
    /// ISO 4217 code, lowercase (`eur`).
    pub currency: String,
    /// The lines, then shipping as a line of its own when it costs anything.
    pub lines: Vec<SessionLine>,
    /// What the whole session must total, in minor units (checked against the lines).
    pub total_minor: i64,
    /// Where the shopper lands after paying.
    pub success_url: String,
    /// Where the shopper lands after going back.
    pub cancel_url: String,
    /// When our reservation ends (unix seconds).
    pub expires_at: i64,
}

/// A session the provider opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The provider's session id (`cs_…`).
    pub id: String,
    /// Where the shopper pays.
    pub url: String,
}

impl Payments {
    /// The provider for a configuration.
    pub fn from_mode(mode: &PaymentMode) -> Result<Payments, stripe::GatewayError> {
        Ok(match mode {
            PaymentMode::Sandbox => Payments::Sandbox,
            PaymentMode::Stripe { secret_key, api_base, .. } => {
                Payments::Stripe(Arc::new(stripe::StripeGateway::new(secret_key, api_base)?))
            }
        })
    }

    /// Stored with each order.
    pub fn name(&self) -> &'static str {
        match self {
            Payments::Sandbox => "sandbox",
            Payments::Stripe(_) => "stripe",
        }
    }

    /// Whether the sandbox's own pay page is served.
    pub fn is_sandbox(&self) -> bool {
        matches!(self, Payments::Sandbox)
    }

    /// Opens a payment session for an order whose stock is already reserved.
    pub async fn open(&self, request: &SessionRequest) -> ApiResult<Session> {
        let sum: i64 = request.lines.iter().map(|l| l.unit_minor * l.quantity).sum();
        if sum != request.total_minor {
            return Err(ApiError::Internal(format!(
                "order {} lines add up to {sum}, not its total {}",
                request.order_id, request.total_minor
            )));
        }
        match self {
            Payments::Sandbox => {
                let id = format!("cs_sandbox_{}", random_hex(12));
                Ok(Session { url: format!("/pay/{id}"), id })
            }
            Payments::Stripe(gateway) => gateway.open(request).await,
        }
    }
}

/// Ends every unpaid session past its time, on any number of instances at once. Each expiry
/// goes through [`webhook::apply`] under an event id derived from the session, the same on
/// every instance, so it applies once.
pub async fn expire_due(state: &AppState) -> ApiResult<usize> {
    let mut n = 0;
    for (order_id, session) in crate::orders::due_for_expiry(&state.db, 100).await? {
        let applied = match (&state.payments, session) {
            // No session was ever opened (the provider failed mid-checkout): nothing to ask.
            (_, None) => webhook::expire_order(state, &order_id).await?,
            (Payments::Sandbox, Some(session)) => webhook::expire_session(state, &session).await?,
            // Stripe is asked to close the session first: only a session it no longer takes
            // money on may give its stock back.
            (Payments::Stripe(gateway), Some(session)) => match gateway.expire(&session).await {
                Ok(stripe::SessionStatus::Expired) => webhook::expire_session(state, &session).await?,
                Ok(stripe::SessionStatus::Open | stripe::SessionStatus::Complete) => continue,
                Err(e) => {
                    tracing::warn!(order = %order_id, session = %session, error = %e, "could not expire a Stripe session; will retry");
                    continue;
                }
            },
        };
        if applied == webhook::Applied::Applied {
            n += 1;
        }
    }
    Ok(n)
}
