//! Stripe's webhooks, the only truth about money: the raw bytes, then the `Stripe-Signature`
//! verified (HMAC-SHA256, 300 s tolerance), then the event parsed into async-stripe's typed
//! events, recorded once, and handed to the domain that owns what it is about (the order's, for
//! every event the shop acts on). The event id is recorded in the same transaction as its
//! effect; every effect is a conditional state change, so duplicates, events out of order and
//! late events never fulfil twice or undo a later state.

use stripe_webhook::{EventObject, Webhook, WebhookError};

use crate::error::{ApiError, ApiResult};
use crate::folio::events as folio;
use crate::ids::now;
use crate::orders::{self, Closing, Payment, Refund, Refunded};
use crate::AppState;

/// How far a signature's timestamp may be from now (Stripe's SDKs use the same).
pub const TOLERANCE_SECONDS: i64 = 300;

/// The event types the shop's orders act on; the endpoint at Stripe needs these and the
/// Folio's ([`crate::folio::events::HANDLED`]).
pub const HANDLED: &[&str] = &[
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
    "charge.refunded",
];

/// What a Checkout Session event says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFacts {
    /// `cs_…`.
    pub session: String,
    /// Our order id, from the metadata or the client reference.
    pub order_id: Option<String>,
    /// Whether the money is in (`payment_status = paid`).
    pub paid: bool,
    /// What was charged, in minor units.
    pub amount: Option<i64>,
    /// In what currency (lowercase ISO code).
    pub currency: Option<String>,
    /// The payment intent, once there is one.
    pub intent: Option<String>,
}

/// What a refunded charge says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChargeFacts {
    /// Our order id, from the metadata the payment intent passed on to its charge.
    pub order_id: Option<String>,
    /// The payment intent the charge belongs to.
    pub intent: Option<String>,
    /// Whether the whole amount went back.
    pub full: bool,
    /// How much has gone back in all, in minor units.
    pub amount_refunded: Option<i64>,
}

/// An event the shop acts on, read from Stripe's typed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentEvent {
    /// The shopper finished on the payment page (paid now, or later for slow methods).
    SessionCompleted(SessionFacts),
    /// A slow payment method's money arrived.
    AsyncPaymentSucceeded(SessionFacts),
    /// A slow payment method failed.
    AsyncPaymentFailed(SessionFacts),
    /// The session closed unpaid.
    SessionExpired(SessionFacts),
    /// Money went back.
    ChargeRefunded(ChargeFacts),
    /// About a Folio subscription: its own, its invoices', its session's.
    Folio(folio::FolioEvent),
    /// A type the shop does not act on.
    Other,
}

/// A verified event.
#[derive(Debug, Clone)]
pub struct Verified {
    /// `evt_…`, unique per event.
    pub id: String,
    /// Its type, `checkout.session.completed`, …
    pub kind: String,
    /// When the provider made it (unix seconds): what orders a subscription's events.
    pub created: i64,
    /// What it says.
    pub event: PaymentEvent,
}

/// What applying an event did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Applied {
    /// The event changed an order.
    Applied,
    /// Seen before: nothing done.
    Duplicate,
    /// Not about one of our orders, or a type we do not act on, or no longer relevant.
    Ignored,
    /// A refund that overtook its payment: kept, and applied once the payment arrives.
    Deferred,
}

fn session_facts(s: &stripe_checkout::CheckoutSession) -> SessionFacts {
    let order_id =
        s.metadata.as_ref().and_then(|m| m.get("order_id").cloned()).or_else(|| s.client_reference_id.clone());
    SessionFacts {
        session: s.id.to_string(),
        order_id,
        paid: matches!(s.payment_status, stripe_checkout::CheckoutSessionPaymentStatus::Paid),
        amount: s.amount_total,
        currency: s.currency.as_ref().map(|c| c.to_string().to_lowercase()),
        intent: s.payment_intent.as_ref().map(|p| p.id().to_string()),
    }
}

/// Checks a `Stripe-Signature` header (`t=…,v1=…[,v1=…]`) against the raw body at time `now`,
/// and only then reads the event.
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64) -> ApiResult<Verified> {
    let text = std::str::from_utf8(body).map_err(|_| ApiError::BadRequest("the body is not UTF-8".into()))?;
    let event = match Webhook::construct_event_with_timestamp(text, header, secret, now) {
        Ok(event) => event,
        // Verified, but async-stripe cannot read its object (an event of an API version whose
        // shape this release does not know): the few fields the shop uses are read from it
        // directly, so a payment is never refused for a field the shop does not need.
        Err(WebhookError::BadParse(why)) => return untyped(text, &why),
        Err(WebhookError::BadTimestamp(t)) => {
            return Err(ApiError::Signature(if t > now {
                format!(
                    "the signature is dated {} s ahead of our clock; at most {TOLERANCE_SECONDS} s are accepted",
                    t - now
                )
            } else {
                format!("the signature is {} s old; at most {TOLERANCE_SECONDS} s are accepted", now - t)
            }))
        }
        Err(WebhookError::BadHeader(_)) => {
            return Err(ApiError::Signature("Stripe-Signature has no readable timestamp".into()))
        }
        Err(WebhookError::BadSignature | WebhookError::BadKey) => {
            return Err(ApiError::Signature(
                "the signature does not match the body (or the header is not t=…,v1=…)".into(),
            ))
        }
    };
    let kind = event.type_.as_str().to_string();
    let created = event.created;
    // The Folio's events are read from the JSON: async-stripe's billing types are not linked.
    if let Some(f) = folio_event(text, &kind)? {
        return Ok(Verified { id: event.id.to_string(), kind, created, event: PaymentEvent::Folio(f) });
    }
    let event_kind = match event.data.object {
        EventObject::CheckoutSessionCompleted(s) => PaymentEvent::SessionCompleted(session_facts(&s)),
        EventObject::CheckoutSessionAsyncPaymentSucceeded(s) => PaymentEvent::AsyncPaymentSucceeded(session_facts(&s)),
        EventObject::CheckoutSessionAsyncPaymentFailed(s) => PaymentEvent::AsyncPaymentFailed(session_facts(&s)),
        EventObject::CheckoutSessionExpired(s) => PaymentEvent::SessionExpired(session_facts(&s)),
        EventObject::ChargeRefunded(c) => PaymentEvent::ChargeRefunded(ChargeFacts {
            order_id: c.metadata.get("order_id").cloned(),
            intent: c.payment_intent.as_ref().map(|p| p.id().to_string()),
            full: c.refunded,
            amount_refunded: Some(c.amount_refunded),
        }),
        _ => PaymentEvent::Other,
    };
    Ok(Verified { id: event.id.to_string(), kind, created, event: event_kind })
}

/// The Folio's reading of a verified event's body, when the event is about a subscription.
fn folio_event(text: &str, kind: &str) -> ApiResult<Option<folio::FolioEvent>> {
    // A session's events are an order's as often as the Folio's.
    let sessions = ["checkout.session.completed", "checkout.session.async_payment_succeeded"];
    if !sessions.contains(&kind) && !folio::HANDLED.contains(&kind) {
        return Ok(None);
    }
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| ApiError::BadRequest(format!("not a Stripe event: {e}")))?;
    let read = folio::read(kind, &value["data"]["object"]);
    if read.is_none() && !sessions.contains(&kind) {
        return Err(ApiError::BadRequest(format!("a {kind} event without the fields of its object")));
    }
    Ok(read)
}

/// A verified event async-stripe could not read, from the fields the shop uses; an event of a
/// type the shop does not act on is recorded and left alone.
fn untyped(text: &str, why: &str) -> ApiResult<Verified> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| ApiError::BadRequest(format!("not a Stripe event: {e}")))?;
    let field = |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    let (Some(id), Some(kind)) = (field(&value, "id"), field(&value, "type")) else {
        return Err(ApiError::BadRequest("not a Stripe event: no id or type".into()));
    };
    let object = &value["data"]["object"];
    let created = value["created"].as_i64().unwrap_or_else(now);
    if let Some(f) = folio_event(text, &kind)? {
        return Ok(Verified { id, kind, created, event: PaymentEvent::Folio(f) });
    }
    if !HANDLED.contains(&kind.as_str()) {
        return Ok(Verified { id, kind, created, event: PaymentEvent::Other });
    }
    tracing::warn!(event = %id, %kind, api_version = ?value.get("api_version"), error = %why,
        "async-stripe could not read this event; using the fields the shop needs (set the webhook endpoint's API version to {})",
        api_version());
    // An expanded object or its id.
    let id_of = |v: &serde_json::Value| v.as_str().or_else(|| v.get("id").and_then(|i| i.as_str())).map(str::to_string);
    let order_id = object["metadata"]["order_id"].as_str().map(str::to_string);
    let event = if kind == "charge.refunded" {
        PaymentEvent::ChargeRefunded(ChargeFacts {
            order_id,
            intent: id_of(&object["payment_intent"]),
            full: object["refunded"].as_bool().unwrap_or(false),
            amount_refunded: object["amount_refunded"].as_i64(),
        })
    } else {
        let Some(session) = field(object, "id") else {
            return Err(ApiError::BadRequest(format!("a {kind} event without its session's id")));
        };
        let facts = SessionFacts {
            session,
            order_id: order_id.or_else(|| field(object, "client_reference_id")),
            paid: object["payment_status"].as_str() == Some("paid"),
            amount: object["amount_total"].as_i64(),
            currency: field(object, "currency").map(|c| c.to_lowercase()),
            intent: id_of(&object["payment_intent"]),
        };
        match kind.as_str() {
            "checkout.session.completed" => PaymentEvent::SessionCompleted(facts),
            "checkout.session.async_payment_succeeded" => PaymentEvent::AsyncPaymentSucceeded(facts),
            "checkout.session.async_payment_failed" => PaymentEvent::AsyncPaymentFailed(facts),
            "checkout.session.expired" => PaymentEvent::SessionExpired(facts),
            _ => PaymentEvent::Other,
        }
    };
    Ok(Verified { id, kind, created, event })
}

/// The Stripe API version whose events async-stripe reads: the webhook endpoint at Stripe
/// should send this one.
pub fn api_version() -> &'static str {
    stripe_shared::version::VERSION.as_str()
}

/// A `Stripe-Signature` header for a body, as Stripe makes them (the sandbox signs with it).
pub fn signature_header(secret: &str, t: i64, body: &[u8]) -> String {
    Webhook::generate_test_header(&String::from_utf8_lossy(body), secret, Some(t))
}

/// Verifies, parses and applies a webhook delivery.
pub async fn handle(state: &AppState, signature: Option<&str>, body: &[u8]) -> ApiResult<Applied> {
    let header = signature.ok_or_else(|| ApiError::Signature("missing Stripe-Signature header".into()))?;
    let verified = verify(state.keys.webhook.expose(), header, body, now())?;
    apply(state, &verified).await
}

/// Ends an unpaid session whose time is up (the expiry worker, sandbox or Stripe alike). The
/// event id is derived from the session, so every instance applies it once between them.
pub async fn expire_session(state: &AppState, session: &str) -> ApiResult<Applied> {
    let facts = SessionFacts { session: session.to_string(), ..SessionFacts::default() };
    expire(state, session, facts).await
}

/// Ends an unpaid order that never got a payment session.
pub async fn expire_order(state: &AppState, order_id: &str) -> ApiResult<Applied> {
    let facts = SessionFacts { order_id: Some(order_id.to_string()), ..SessionFacts::default() };
    expire(state, order_id, facts).await
}

/// An expiry as an event whose id comes from what expires, the same on every instance.
async fn expire(state: &AppState, what: &str, facts: SessionFacts) -> ApiResult<Applied> {
    let verified = Verified {
        id: format!("evt_expire_{what}"),
        kind: "checkout.session.expired".into(),
        created: now(),
        event: PaymentEvent::SessionExpired(facts),
    };
    apply(state, &verified).await
}

/// Applies a verified event exactly once.
pub async fn apply(state: &AppState, verified: &Verified) -> ApiResult<Applied> {
    let db = &state.db;
    if let PaymentEvent::Folio(event) = &verified.event {
        let mut tx = db.begin_write().await?;
        if !record(&mut tx, verified).await? {
            tx.commit().await?;
            return Ok(Applied::Duplicate);
        }
        let changed = folio::apply(&mut tx, verified.created, event).await?;
        // The subscriber (or giver) hears of what changed, in the transaction that changed it.
        match &changed {
            Some(folio::Changed::Subscription(id)) => crate::folio::notices::after_change(state, &mut tx, id).await?,
            Some(folio::Changed::Gift(id)) => crate::folio::gift::after_paid(state, &mut tx, id).await?,
            None => {}
        }
        tx.commit().await?;
        if changed.is_some() {
            tracing::info!(event = %verified.id, kind = %verified.kind, "webhook applied to a Folio subscription");
        }
        return Ok(if changed.is_some() { Applied::Applied } else { Applied::Ignored });
    }
    let order_id = match &verified.event {
        PaymentEvent::SessionCompleted(s)
        | PaymentEvent::AsyncPaymentSucceeded(s)
        | PaymentEvent::AsyncPaymentFailed(s)
        | PaymentEvent::SessionExpired(s) => {
            let session = Some(s.session.as_str()).filter(|s| !s.is_empty());
            orders::find(db, s.order_id.as_deref(), session, s.intent.as_deref()).await?
        }
        PaymentEvent::ChargeRefunded(c) => orders::find(db, c.order_id.as_deref(), None, c.intent.as_deref()).await?,
        PaymentEvent::Other | PaymentEvent::Folio(_) => None,
    };
    let mut tx = db.begin_write().await?;
    if !record(&mut tx, verified).await? {
        tx.commit().await?;
        return Ok(Applied::Duplicate);
    }
    fn payment(s: &SessionFacts) -> Payment<'_> {
        Payment { amount: s.amount, currency: s.currency.as_deref(), intent: s.intent.as_deref() }
    }
    let moved = |m: bool| if m { Applied::Applied } else { Applied::Ignored };
    let outcome = match (&verified.event, order_id.as_deref()) {
        // A refund is kept even before we know its order: its payment intent finds it later.
        (PaymentEvent::ChargeRefunded(c), order_id) => {
            let refund = Refund {
                event_id: &verified.id,
                order_id,
                intent: c.intent.as_deref(),
                full: c.full,
                amount_refunded: c.amount_refunded,
            };
            match orders::refund(state, &mut tx, &refund).await? {
                Refunded::Applied => Applied::Applied,
                Refunded::Deferred => Applied::Deferred,
                Refunded::Ignored => Applied::Ignored,
            }
        }
        (_, None) => Applied::Ignored,
        (PaymentEvent::SessionCompleted(s), Some(id)) if s.paid => {
            moved(orders::pay(state, &mut tx, id, &payment(s)).await?)
        }
        (PaymentEvent::AsyncPaymentSucceeded(s), Some(id)) => {
            moved(orders::pay(state, &mut tx, id, &payment(s)).await?)
        }
        (PaymentEvent::AsyncPaymentFailed(_), Some(id)) => moved(orders::close(&mut tx, id, Closing::Cancelled).await?),
        (PaymentEvent::SessionExpired(_), Some(id)) => moved(orders::close(&mut tx, id, Closing::Expired).await?),
        (PaymentEvent::SessionCompleted(_) | PaymentEvent::Other | PaymentEvent::Folio(_), Some(_)) => Applied::Ignored,
    };
    tx.commit().await?;
    if outcome != Applied::Ignored {
        tracing::info!(event = %verified.id, kind = %verified.kind, order = ?order_id, result = ?outcome, "webhook applied");
    }
    Ok(outcome)
}

/// Records an event as seen; false when it was already.
async fn record(tx: &mut crate::db::WriteTx, verified: &Verified) -> Result<bool, sqlx::Error> {
    let fresh = sqlx::query(
        "insert into webhook_event (event_id, event_type, received_at) values ($1, $2, $3) on conflict (event_id) do nothing",
    )
    .bind(&verified.id)
    .bind(&verified.kind)
    .bind(now())
    .execute(&mut ***tx)
    .await?;
    Ok(fresh.rows_affected() == 1)
}
