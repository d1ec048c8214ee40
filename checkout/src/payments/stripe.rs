//! Stripe Checkout through `async-stripe`: hosted Checkout Sessions whose line items are priced
//! from our database, with the shopper's e-mail, our order id in the metadata, success and
//! cancel addresses, and an expiry. What Stripe decides arrives later as a signed webhook event.

use std::collections::HashMap;
use std::time::Duration;

use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    CreateCheckoutSessionPaymentIntentData, ExpireCheckoutSession, ProductData, RetrieveCheckoutSession,
};
use stripe_checkout::{CheckoutSessionMode, CheckoutSessionStatus};
use stripe_core::refund::CreateRefund;

use super::{Session, SessionRequest};
use crate::config::Secret;
use crate::error::{ApiError, ApiResult};

/// Stripe will not let a session expire sooner than this after it is created.
pub const MIN_SESSION_SECONDS: i64 = 30 * 60;
/// Nor later than this.
pub const MAX_SESSION_SECONDS: i64 = 24 * 60 * 60;

/// The Stripe client could not be made from the configuration.
#[derive(Debug, thiserror::Error)]
#[error("STRIPE_API_BASE / STRIPE_SECRET_KEY: {0}")]
pub struct GatewayError(String);

/// How asking Stripe for a refund ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundSent {
    /// Made: Stripe's refund id (its event follows).
    Made(String),
    /// Refused, with Stripe's reason: nothing was refunded.
    Refused(String),
    /// No clear answer (a timeout, a lost connection, a 5xx): it may have been made, and is
    /// sent again with the same key until Stripe answers.
    Unknown(String),
}

/// Where a session stands at Stripe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatus {
    /// Still taking a payment.
    Open,
    /// Paid (or paying asynchronously): the webhook will say which.
    Complete,
    /// Closed without payment.
    Expired,
}

/// A Stripe account, reached at its API base.
pub struct StripeGateway {
    client: Client,
    /// Ids found at Stripe by a lookup key (a Folio plan's Price), kept for the process.
    looked_up: std::sync::Mutex<HashMap<String, String>>,
}

impl StripeGateway {
    /// A client for the key at `api_base` (`https://api.stripe.com`, or a stand-in's address).
    pub fn new(secret_key: &Secret, api_base: &str) -> Result<StripeGateway, GatewayError> {
        // async-stripe joins `v1/…` straight onto the base.
        let base = format!("{}/", api_base.trim_end_matches('/'));
        let client = ClientBuilder::new(secret_key.expose())
            .url(base)
            .timeout(Duration::from_secs(20))
            // Retries reuse one idempotency key, so a retried create never opens two sessions.
            .request_strategy(RequestStrategy::ExponentialBackoff(3))
            .app_info("atelier-arome", Some(env!("CARGO_PKG_VERSION").to_string()), None)
            .build()
            .map_err(|e| GatewayError(e.to_string()))?;
        Ok(StripeGateway { client, looked_up: Default::default() })
    }

    /// The client, for the requests other domains make (the Folio's).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// An id found before under a lookup key.
    pub fn looked_up(&self, key: &str) -> Option<String> {
        self.looked_up.lock().unwrap_or_else(|e| e.into_inner()).get(key).cloned()
    }

    /// Keeps an id found under a lookup key.
    pub fn remember(&self, key: &str, id: &str) {
        self.looked_up.lock().unwrap_or_else(|e| e.into_inner()).insert(key.to_string(), id.to_string());
    }

    /// Opens a hosted Checkout Session for the order.
    #[tracing::instrument(skip_all, fields(order = %request.order_id))]
    pub async fn open(&self, request: &SessionRequest) -> ApiResult<Session> {
        let currency: stripe_types::Currency = request
            .currency
            .parse()
            .map_err(|_| ApiError::Internal(format!("Stripe does not know the currency {}", request.currency)))?;
        let lines: Vec<CreateCheckoutSessionLineItems> = request
            .lines
            .iter()
            .map(|line| {
                let mut price = CreateCheckoutSessionLineItemsPriceData::new(currency.clone());
                price.unit_amount = Some(line.unit_minor);
                price.product_data = Some(ProductData::new(line.name.clone()));
                let mut item = CreateCheckoutSessionLineItems::new();
                item.price_data = Some(price);
                item.quantity = Some(line.quantity.max(1) as u64);
                item
            })
            .collect();
        let metadata = HashMap::from([
            ("order_id".to_string(), request.order_id.clone()),
            ("order_number".to_string(), request.number.clone()),
        ]);
        // The payment intent (made only when the shopper pays) passes its metadata on to its
        // charge, so a `charge.refunded` names our order whenever it arrives.
        let mut intent = CreateCheckoutSessionPaymentIntentData::new();
        intent.metadata = Some(metadata.clone());
        let created = crate::ids::now();
        let expires_at = request.expires_at.clamp(created + MIN_SESSION_SECONDS, created + MAX_SESSION_SECONDS - 60);
        let session = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Payment)
            .line_items(lines)
            .customer_email(request.email.clone())
            .client_reference_id(request.order_id.clone())
            .metadata(metadata)
            .payment_intent_data(intent)
            .success_url(request.success_url.clone())
            .cancel_url(request.cancel_url.clone())
            .expires_at(expires_at)
            .send(&self.client)
            .await
            .map_err(provider_error)?;
        let url = session.url.ok_or_else(|| {
            ApiError::Provider(format!("Stripe opened session {} without a payment page", session.id))
        })?;
        if session.amount_total.is_some_and(|t| t != request.total_minor) {
            return Err(ApiError::Provider(format!(
                "Stripe totals session {} at {:?}, the order at {}",
                session.id, session.amount_total, request.total_minor
            )));
        }
        Ok(Session { id: session.id.to_string(), url })
    }

    /// Refunds `amount` (minor units) of a payment intent. Our refund id is the idempotency
    /// key: sending the same refund again (after no answer) can never refund twice. The order
    /// follows Stripe's `charge.refunded`, not this answer.
    #[tracing::instrument(skip(self))]
    pub async fn refund(&self, intent: &str, amount: i64, order_id: &str, refund_id: &str) -> RefundSent {
        let key = match IdempotencyKey::new(refund_id) {
            Ok(key) => key,
            Err(e) => return RefundSent::Refused(format!("refund id {refund_id}: {e}")),
        };
        let metadata = HashMap::from([
            ("order_id".to_string(), order_id.to_string()),
            ("refund_id".to_string(), refund_id.to_string()),
        ]);
        let sent = CreateRefund::new()
            .payment_intent(intent)
            .amount(amount)
            .metadata(metadata)
            .customize()
            .request_strategy(RequestStrategy::Idempotent(key))
            .send(&self.client)
            .await;
        match sent {
            Ok(refund) => RefundSent::Made(refund.id.to_string()),
            // A definite no (a 4xx other than a conflict or too many requests): nothing was made.
            Err(StripeError::Stripe(e, status)) if (400..500).contains(&status) && status != 409 && status != 429 => {
                RefundSent::Refused(e.message.clone().unwrap_or_else(|| format!("Stripe answered {status}")))
            }
            // No answer, or one that does not say: Stripe may have made it.
            Err(e) => RefundSent::Unknown(e.to_string()),
        }
    }

    /// Asks Stripe to close a session; says where it stands afterwards (a session already
    /// paid or closed cannot be expired, so it is looked up instead).
    #[tracing::instrument(skip(self))]
    pub async fn expire(&self, session_id: &str) -> Result<SessionStatus, StripeError> {
        let session = match ExpireCheckoutSession::new(session_id).send(&self.client).await {
            Ok(s) => s,
            Err(StripeError::Stripe(..)) => RetrieveCheckoutSession::new(session_id).send(&self.client).await?,
            Err(e) => return Err(e),
        };
        Ok(match session.status {
            Some(CheckoutSessionStatus::Expired) => SessionStatus::Expired,
            Some(CheckoutSessionStatus::Complete) => SessionStatus::Complete,
            _ => SessionStatus::Open,
        })
    }
}

/// Stripe failed or could not be reached: a 502 to the shopper, the detail in the log.
pub fn provider_error(e: StripeError) -> ApiError {
    ApiError::Provider(e.to_string())
}
