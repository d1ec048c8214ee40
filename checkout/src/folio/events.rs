//! The provider's word on a subscription: `customer.subscription.*`, `invoice.paid`,
//! `invoice.payment_failed` and a subscription-mode `checkout.session.completed`, read from the
//! verified event's JSON and applied in the webhook's transaction.
//!
//! Order does not matter and neither do repeats: a subscription event carries the whole object,
//! applied only when it is newer than the last one applied (by the event's creation time; in
//! the same second, the later stage of life wins: pending never follows anything, nothing
//! follows cancelled). An invoice is kept by its id whatever arrives first; a paid one is what
//! entitles a subscription to the editions of its period.

use atelier_domain::SubscriptionStatus;
use serde_json::Value;

use crate::db::WriteTx;
use crate::ids::now;

/// What a subscription object says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionFacts {
    /// The provider's id, `sub_…`.
    pub provider_id: String,
    /// Ours, from its metadata.
    pub ours: Option<String>,
    /// The provider's customer.
    pub customer: Option<String>,
    /// Its `status` as the provider writes it.
    pub status: String,
    /// Whether collection is paused (`pause_collection` set).
    pub paused: bool,
    /// When a pause ends by itself.
    pub resumes_at: Option<i64>,
    /// The current period.
    pub period: Option<(i64, i64)>,
    /// Whether it ends with its period.
    pub cancel_at_period_end: bool,
    /// When it ended.
    pub canceled_at: Option<i64>,
}

/// What an invoice says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvoiceFacts {
    /// `in_…`.
    pub id: String,
    /// The subscription it bills, the provider's id.
    pub provider_subscription: Option<String>,
    /// Ours, from the subscription's metadata the invoice carries.
    pub ours: Option<String>,
    /// What was paid, or is due.
    pub amount: i64,
    /// Lowercase ISO code.
    pub currency: String,
    /// The period it pays for.
    pub period: (i64, i64),
    /// How many times payment was tried.
    pub attempt_count: i64,
    /// When it is tried again.
    pub next_attempt: Option<i64>,
}

/// What a subscription-mode Checkout Session says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFacts {
    /// `cs_…`.
    pub session: String,
    /// Ours, from its metadata.
    pub ours: String,
    /// The subscription it made, the provider's id.
    pub provider_subscription: Option<String>,
    /// The provider's customer.
    pub customer: Option<String>,
    /// Whether the first period is paid.
    pub paid: bool,
}

/// A Folio event the webhook hands over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolioEvent {
    /// `customer.subscription.*`: the whole subscription.
    Subscription(SubscriptionFacts),
    /// `invoice.paid` or `invoice.payment_failed`.
    Invoice(InvoiceFacts, InvoiceOutcome),
    /// A subscription-mode `checkout.session.completed`.
    Session(SessionFacts),
    /// A payment-mode `checkout.session.completed` paying for a gift of the Folio.
    Gift(GiftFacts),
}

/// What a payment-mode Checkout Session paying for a gift says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GiftFacts {
    /// `cs_…`.
    pub session: String,
    /// The gift, `gft_…`, from its metadata.
    pub gift_id: String,
    /// Whether it is paid.
    pub paid: bool,
    /// What it charged, in minor units, and in what currency (lowercase): a gift is given only
    /// for its price.
    pub amount: Option<(i64, String)>,
}

/// What a Folio event changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    /// This subscription.
    Subscription(String),
    /// This gift, now paid.
    Gift(String),
}

/// The event types the Folio acts on (besides a subscription-mode session's completion).
pub const HANDLED: &[&str] = &[
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
    "invoice.paid",
    "invoice.payment_failed",
];

/// Reads an event's object when the event is the Folio's; `None` for any other.
pub fn read(kind: &str, object: &Value) -> Option<FolioEvent> {
    match kind {
        "checkout.session.completed" => {
            session_facts(object).map(FolioEvent::Session).or_else(|| gift_facts(object).map(FolioEvent::Gift))
        }
        // A gift paid by a bank debit is paid when this comes, not at the session's completion.
        "checkout.session.async_payment_succeeded" => gift_facts(object).map(FolioEvent::Gift),
        "invoice.paid" => invoice_facts(object).map(|f| FolioEvent::Invoice(f, InvoiceOutcome::Paid)),
        "invoice.payment_failed" => invoice_facts(object).map(|f| FolioEvent::Invoice(f, InvoiceOutcome::Failed)),
        k if k.starts_with("customer.subscription.") => subscription_facts(object).map(FolioEvent::Subscription),
        _ => None,
    }
}

/// Applies a Folio event created at `at`, in the webhook's transaction; the subscription or
/// gift it changed, `None` when it changed nothing.
pub async fn apply(tx: &mut WriteTx, at: i64, event: &FolioEvent) -> Result<Option<Changed>, sqlx::Error> {
    Ok(match event {
        FolioEvent::Subscription(f) => apply_subscription(tx, at, f).await?.map(Changed::Subscription),
        FolioEvent::Invoice(f, outcome) => apply_invoice(tx, at, f, *outcome).await?.map(Changed::Subscription),
        FolioEvent::Session(f) => apply_session(tx, at, f).await?.map(Changed::Subscription),
        FolioEvent::Gift(f) if f.paid => super::gift::apply_paid(tx, at, f).await?.map(Changed::Gift),
        FolioEvent::Gift(_) => None,
    })
}

/// Reads a payment-mode Checkout Session that pays for a gift of the Folio (none for an
/// order's).
pub fn gift_facts(o: &Value) -> Option<GiftFacts> {
    if o["mode"].as_str() != Some("payment") {
        return None;
    }
    Some(GiftFacts {
        session: text(&o["id"])?,
        gift_id: text(&o["metadata"]["folio_gift"])?,
        paid: o["payment_status"].as_str() == Some("paid"),
        amount: o["amount_total"].as_i64().zip(text(&o["currency"]).map(|c| c.to_lowercase())),
    })
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

/// An id, or an expanded object's id.
fn id_of(v: &Value) -> Option<String> {
    text(v).or_else(|| text(&v["id"]))
}

/// Reads a subscription object (API versions before and after periods moved onto its items).
pub fn subscription_facts(o: &Value) -> Option<SubscriptionFacts> {
    let item = &o["items"]["data"][0];
    let start = o["current_period_start"].as_i64().or_else(|| item["current_period_start"].as_i64());
    let end = o["current_period_end"].as_i64().or_else(|| item["current_period_end"].as_i64());
    Some(SubscriptionFacts {
        provider_id: text(&o["id"])?,
        ours: text(&o["metadata"]["subscription_id"]),
        customer: id_of(&o["customer"]),
        status: text(&o["status"])?,
        paused: o["pause_collection"].is_object(),
        resumes_at: o["pause_collection"]["resumes_at"].as_i64(),
        period: start.zip(end),
        cancel_at_period_end: o["cancel_at_period_end"].as_bool().unwrap_or(false),
        canceled_at: o["canceled_at"].as_i64(),
    })
}

/// Reads an invoice (the subscription under `parent.subscription_details` since 2025, at the
/// top before); the period is its first line's, the service period (the invoice's own
/// `period_*` are the previous period's for a renewal).
pub fn invoice_facts(o: &Value) -> Option<InvoiceFacts> {
    let details = if o["parent"]["subscription_details"].is_object() {
        &o["parent"]["subscription_details"]
    } else {
        &o["subscription_details"]
    };
    let line = &o["lines"]["data"][0]["period"];
    let period = line["start"]
        .as_i64()
        .zip(line["end"].as_i64())
        .or_else(|| o["period_start"].as_i64().zip(o["period_end"].as_i64()))?;
    let paid = o["status"].as_str() == Some("paid");
    Some(InvoiceFacts {
        id: text(&o["id"])?,
        provider_subscription: id_of(&details["subscription"]).or_else(|| id_of(&o["subscription"])),
        ours: text(&details["metadata"]["subscription_id"]),
        amount: if paid { o["amount_paid"].as_i64() } else { o["amount_due"].as_i64() }.unwrap_or(0),
        currency: text(&o["currency"]).unwrap_or_default().to_lowercase(),
        period,
        attempt_count: o["attempt_count"].as_i64().unwrap_or(0),
        next_attempt: o["next_payment_attempt"].as_i64(),
    })
}

/// Reads a Checkout Session that is about a Folio subscription (none for an order's).
pub fn session_facts(o: &Value) -> Option<SessionFacts> {
    if o["mode"].as_str() != Some("subscription") {
        return None;
    }
    Some(SessionFacts {
        session: text(&o["id"])?,
        ours: text(&o["metadata"]["subscription_id"])?,
        provider_subscription: id_of(&o["subscription"]),
        customer: id_of(&o["customer"]),
        paid: o["payment_status"].as_str() == Some("paid"),
    })
}

/// Our subscription an event is about: by the id its metadata carries, or by the provider's.
///
/// A second subscription at the provider naming one of ours that already has its own (two
/// checkouts of one subscription both paid) is not ours to follow: it is refused, loudly, for
/// staff to cancel and refund, and never overwrites the one the subscriber holds.
async fn ours(tx: &mut WriteTx, ours: Option<&str>, provider: Option<&str>) -> Result<Option<String>, sqlx::Error> {
    if let Some(id) = ours {
        let found: Option<(String, Option<String>)> = sqlx::query_as(
            "select subscription_id, provider_subscription_id from subscription where subscription_id = $1",
        )
        .bind(id)
        .fetch_optional(&mut ***tx)
        .await?;
        if let Some((found, held)) = found {
            if let (Some(held), Some(provider)) = (held.as_deref(), provider) {
                if held != provider {
                    tracing::error!(subscription = %found, held, second = provider,
                        "a second provider subscription names this one: not applied; cancel and refund it at the provider");
                    return Ok(None);
                }
            }
            return Ok(Some(found));
        }
    }
    let Some(provider) = provider else { return Ok(None) };
    sqlx::query_scalar("select subscription_id from subscription where provider_subscription_id = $1")
        .bind(provider)
        .fetch_optional(&mut ***tx)
        .await
}

/// Applies a subscription object from an event created at `at`; false when it changed nothing
/// (not ours, older than what is applied, or a status we do not know).
pub async fn apply_subscription(
    tx: &mut WriteTx,
    at: i64,
    f: &SubscriptionFacts,
) -> Result<Option<String>, sqlx::Error> {
    let Some(id) = ours(tx, f.ours.as_deref(), Some(&f.provider_id)).await? else {
        return Ok(None);
    };
    let Some(status) = SubscriptionStatus::from_stripe(&f.status, f.paused) else {
        tracing::warn!(subscription = %id, status = %f.status, "a subscription status the shop does not know; left as it was");
        return Ok(None);
    };
    let cancelled_at = (status == SubscriptionStatus::Cancelled).then(|| f.canceled_at.unwrap_or(at));
    let moved = sqlx::query(
        "update subscription set status = $1,
           provider_subscription_id = coalesce(provider_subscription_id, $2),
           provider_customer_id = coalesce($3, provider_customer_id),
           current_period_start = coalesce($4, current_period_start), current_period_end = coalesce($5, current_period_end),
           cancel_at_period_end = $6, cancelled_at = $7, paused = $8, pause_resumes_at = $9,
           event_at = $10, updated_at = $11
         where subscription_id = $12 and status <> 'cancelled'
           and not ($1 = 'pending' and status <> 'pending')
           and (event_at < $10 or (event_at = $10 and $13 >= case status when 'pending' then 0 else 1 end))",
    )
    .bind(status.as_str())
    .bind(&f.provider_id)
    .bind(&f.customer)
    .bind(f.period.map(|p| p.0))
    .bind(f.period.map(|p| p.1))
    .bind(i64::from(f.cancel_at_period_end))
    .bind(cancelled_at)
    .bind(i64::from(f.paused))
    .bind(f.resumes_at)
    .bind(at)
    .bind(now())
    .bind(&id)
    .bind(i64::from(status.stage()))
    .execute(&mut ***tx)
    .await?;
    Ok((moved.rows_affected() == 1).then_some(id))
}

/// Whether an invoice was paid or its payment failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceOutcome {
    /// `invoice.paid`.
    Paid,
    /// `invoice.payment_failed`.
    Failed,
}

/// Applies an invoice event created at `at`: the invoice is kept (a paid one stays paid), and a
/// subscription still pending becomes active when its first invoice is paid (the session's or
/// the subscription's own event may come later, or never); an active one becomes past due when
/// a renewal fails. False when not ours or already known as it is.
pub async fn apply_invoice(
    tx: &mut WriteTx,
    at: i64,
    f: &InvoiceFacts,
    outcome: InvoiceOutcome,
) -> Result<Option<String>, sqlx::Error> {
    let Some(id) = ours(tx, f.ours.as_deref(), f.provider_subscription.as_deref()).await? else {
        return Ok(None);
    };
    let status = match outcome {
        InvoiceOutcome::Paid => "paid",
        InvoiceOutcome::Failed => "failed",
    };
    let t = now();
    let kept = sqlx::query(
        "insert into subscription_invoice (invoice_id, subscription_id, status, amount_minor, currency, period_start,
           period_end, attempt_count, next_attempt_at, event_at, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
         on conflict (invoice_id) do update set status = excluded.status, amount_minor = excluded.amount_minor,
           attempt_count = excluded.attempt_count, next_attempt_at = excluded.next_attempt_at,
           event_at = excluded.event_at, updated_at = excluded.updated_at
         where subscription_invoice.status <> 'paid' and subscription_invoice.event_at <= excluded.event_at",
    )
    .bind(&f.id)
    .bind(&id)
    .bind(status)
    .bind(f.amount)
    .bind(&f.currency)
    .bind(f.period.0)
    .bind(f.period.1)
    .bind(f.attempt_count)
    .bind(match outcome {
        InvoiceOutcome::Paid => None,
        InvoiceOutcome::Failed => f.next_attempt,
    })
    .bind(at)
    .bind(t)
    .execute(&mut ***tx)
    .await?;
    if kept.rows_affected() == 0 {
        return Ok(None);
    }
    let (from, to) = match outcome {
        InvoiceOutcome::Paid => ("('pending', 'past_due')", SubscriptionStatus::Active),
        InvoiceOutcome::Failed => ("('active')", SubscriptionStatus::PastDue),
    };
    // The subscription's own event for the same change usually comes too, in the same second:
    // the promotion takes this event's time, so that one applies over it and an older one not.
    sqlx::query(&format!(
        "update subscription set status = $1, event_at = $2, updated_at = $3,
           current_period_start = case when $1 = 'active' then coalesce(current_period_start, $4) else current_period_start end,
           current_period_end = case when $1 = 'active' and (current_period_end is null or current_period_end < $5) then $5 else current_period_end end
         where subscription_id = $6 and status in {from} and event_at <= $2"
    ))
    .bind(to.as_str())
    .bind(at)
    .bind(t)
    .bind(f.period.0)
    .bind(f.period.1)
    .bind(&id)
    .execute(&mut ***tx)
    .await?;
    Ok(Some(id))
}

/// Applies a completed subscription-mode session created at `at`: the provider's ids are
/// recorded, and a paid session makes a pending subscription active.
pub async fn apply_session(tx: &mut WriteTx, at: i64, f: &SessionFacts) -> Result<Option<String>, sqlx::Error> {
    // A session that made a second provider subscription for one of ours starts nothing.
    if ours(tx, Some(&f.ours), f.provider_subscription.as_deref()).await?.is_none() {
        return Ok(None);
    }
    let t = now();
    let linked = sqlx::query(
        "update subscription set provider_subscription_id = coalesce(provider_subscription_id, $1),
           provider_customer_id = coalesce(provider_customer_id, $2), checkout_session_id = coalesce(checkout_session_id, $3),
           updated_at = $4
         where subscription_id = $5",
    )
    .bind(&f.provider_subscription)
    .bind(&f.customer)
    .bind(&f.session)
    .bind(t)
    .bind(&f.ours)
    .execute(&mut ***tx)
    .await?;
    if linked.rows_affected() == 0 {
        return Ok(None);
    }
    if f.paid {
        sqlx::query(
            "update subscription set status = $1, event_at = $2, updated_at = $3
             where subscription_id = $4 and status = 'pending' and event_at <= $2",
        )
        .bind(SubscriptionStatus::Active.as_str())
        .bind(at)
        .bind(t)
        .bind(&f.ours)
        .execute(&mut ***tx)
        .await?;
    }
    Ok(Some(f.ours.clone()))
}
