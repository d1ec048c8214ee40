//! The sandbox's billing, what Stripe Billing does in Stripe mode: it keeps its own side of each
//! subscription (periods, pause, cancellation, a declining card), renews when a period ends by
//! its clock, and tells the shop only through Stripe-shaped `customer.subscription.*`,
//! `invoice.paid` and `invoice.payment_failed` events, signed with the webhook secret and sent
//! through the same handler as Stripe's. Its clock can be moved forward to try a year in a
//! minute (`atelier folio advance`).
//!
//! Every event a renewal sends has an id made from the subscription and the renewal's number,
//! and the renewal is recorded only after its events are applied: two instances, or one again
//! after a crash, send the same events, which apply once.

use atelier_domain::{add_months, Cadence};
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::Row;

use super::{Change, Subscription};
use crate::error::{ApiError, ApiResult};
use crate::ids::{now, random_hex};
use crate::payments::webhook::{self, Applied};
use crate::AppState;

/// The sandbox's time: the real time plus how far its clock was moved forward.
pub async fn clock(state: &AppState) -> ApiResult<i64> {
    let ahead: i64 =
        sqlx::query_scalar("select value from counter where name = 'sandbox_clock'").fetch_one(&state.db.pool).await?;
    Ok(now() + ahead)
}

/// The sandbox's side of a subscription.
#[derive(Debug, Clone)]
struct Billing {
    provider_id: String,
    ours: String,
    customer: String,
    status: String,
    period: (i64, i64),
    invoices: i64,
    cancel_at_period_end: bool,
    paused: bool,
    resumes_at: Option<i64>,
    card_declines: bool,
    canceled_at: Option<i64>,
    failed_attempts: i64,
    retry_at: Option<i64>,
}

/// Days from one failed attempt at a renewal's payment to the next, as Stripe's retry
/// schedule; when the attempt after the last of them fails too, the subscription is cancelled.
pub const RETRY_DAYS: [i64; 3] = [3, 5, 7];

async fn load(state: &AppState, ours: &str) -> ApiResult<Option<Billing>> {
    let row = sqlx::query("select * from sandbox_subscription where subscription_id = $1")
        .bind(ours)
        .fetch_optional(&state.db.pool)
        .await?;
    Ok(row.map(|r| Billing {
        provider_id: r.get("provider_subscription_id"),
        ours: r.get("subscription_id"),
        customer: r.get("customer_id"),
        status: r.get("status"),
        period: (r.get("period_start"), r.get("period_end")),
        invoices: r.get("invoices"),
        cancel_at_period_end: r.get::<i64, _>("cancel_at_period_end") == 1,
        paused: r.get::<i64, _>("paused") == 1,
        resumes_at: r.get("resumes_at"),
        card_declines: r.get::<i64, _>("card_declines") == 1,
        canceled_at: r.get("canceled_at"),
        failed_attempts: r.get("failed_attempts"),
        retry_at: r.get("retry_at"),
    }))
}

/// Writes the sandbox's side back, unless another writer moved its period or made an attempt
/// at its payment meanwhile (then the other's is kept); says whether it wrote.
async fn store(state: &AppState, b: &Billing, was: &Billing) -> ApiResult<bool> {
    let mut tx = state.db.begin_write().await?;
    let done = sqlx::query(
        "update sandbox_subscription set status = $1, period_start = $2, period_end = $3, invoices = $4,
           cancel_at_period_end = $5, paused = $6, resumes_at = $7, card_declines = $8, canceled_at = $9,
           failed_attempts = $10, retry_at = $11
         where provider_subscription_id = $12 and period_end = $13 and failed_attempts = $14",
    )
    .bind(&b.status)
    .bind(b.period.0)
    .bind(b.period.1)
    .bind(b.invoices)
    .bind(i64::from(b.cancel_at_period_end))
    .bind(i64::from(b.paused))
    .bind(b.resumes_at)
    .bind(i64::from(b.card_declines))
    .bind(b.canceled_at)
    .bind(b.failed_attempts)
    .bind(b.retry_at)
    .bind(&b.provider_id)
    .bind(was.period.1)
    .bind(was.failed_attempts)
    .execute(&mut **tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// The subscription as Stripe's events carry it (periods on its item, as since 2025).
fn subscription_object(b: &Billing, created: i64) -> Value {
    json!({
        "id": b.provider_id,
        "object": "subscription",
        "cancel_at": if b.cancel_at_period_end { json!(b.period.1) } else { json!(null) },
        "cancel_at_period_end": b.cancel_at_period_end,
        "canceled_at": b.canceled_at,
        "collection_method": "charge_automatically",
        "created": created,
        "customer": b.customer,
        "items": { "object": "list", "data": [{
            "id": format!("si_{}", b.provider_id),
            "object": "subscription_item",
            "current_period_start": b.period.0,
            "current_period_end": b.period.1,
            "quantity": 1,
        }]},
        "livemode": false,
        "metadata": { "subscription_id": b.ours },
        "pause_collection": if b.paused { json!({ "behavior": "void", "resumes_at": b.resumes_at }) } else { json!(null) },
        "status": b.status,
    })
}

/// An invoice of the subscription's current period.
fn invoice_object(b: &Billing, id: &str, amount: i64, currency: &str, paid: bool, next_attempt: Option<i64>) -> Value {
    let attempt_count = if paid { b.failed_attempts + 1 } else { b.failed_attempts.max(1) };
    json!({
        "id": id,
        "object": "invoice",
        "amount_due": amount,
        "amount_paid": if paid { amount } else { 0 },
        "attempt_count": attempt_count,
        "billing_reason": if b.invoices <= 1 { "subscription_create" } else { "subscription_cycle" },
        "currency": currency.to_lowercase(),
        "customer": b.customer,
        "lines": { "object": "list", "data": [{ "period": { "start": b.period.0, "end": b.period.1 } }] },
        "livemode": false,
        "next_payment_attempt": next_attempt,
        "parent": { "type": "subscription_details", "subscription_details": {
            "subscription": b.provider_id,
            "metadata": { "subscription_id": b.ours },
        }},
        "status": if paid { "paid" } else { "open" },
    })
}

/// Signs an event as Stripe would and applies it through the webhook handler.
async fn send(state: &AppState, id: &str, kind: &str, object: Value, created: i64) -> ApiResult<Applied> {
    let event = json!({
        "id": id,
        "object": "event",
        "api_version": webhook::api_version(),
        "created": created,
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": kind,
        "data": { "object": object },
    });
    let body = serde_json::to_vec(&event).map_err(|e| ApiError::Internal(e.to_string()))?;
    let header = webhook::signature_header(state.keys.webhook.expose(), now(), &body);
    webhook::handle(state, Some(&header), &body).await
}

/// The plan's price for a period renewed at `at` and its length in months: a renewal charges
/// what git says the plan costs on its day (a change once its notice period has run).
/// A first period (`None`) pays the price git says now: its subscriber saw it when subscribing.
async fn period_price(state: &AppState, plan_id: &str, renewal: Option<i64>) -> ApiResult<(i64, String, u32)> {
    let plan = super::plan(&state.db, plan_id)
        .await?
        .ok_or_else(|| ApiError::Internal(format!("no Folio plan `{plan_id}`")))?;
    let cadence: Cadence =
        plan.cadence.parse().map_err(|_| ApiError::Internal(format!("plan {plan_id}: cadence `{}`", plan.cadence)))?;
    let price = renewal.map_or(plan.price_minor, |at| plan.price_at(at));
    Ok((price * i64::from(cadence.editions()), plan.currency, cadence.months()))
}

/// The sandbox's subscribe page was paid (or declined): the subscription starts, as Stripe's
/// Checkout in subscription mode would start it, with the four events Stripe sends.
pub async fn start(state: &AppState, sub: &Subscription, pay: bool) -> ApiResult<()> {
    if sub.provider != "sandbox" {
        return Err(ApiError::Conflict(format!("subscription {} is not billed by the sandbox", sub.subscription_id)));
    }
    let session = format!("cs_sandbox_{}", sub.subscription_id);
    if !pay {
        // Nothing is made: the subscription stays pending and can be paid again.
        return Ok(());
    }
    let t = clock(state).await?;
    let (amount, currency, months) = period_price(state, &sub.plan_id, None).await?;
    let provider_id = format!("sub_sandbox_{}", random_hex(10));
    let customer = format!("cus_sandbox_{}", sub.account_id);
    let mut tx = state.db.begin_write().await?;
    // One start per subscription, however often the button is pressed.
    let inserted = sqlx::query(
        "insert into sandbox_subscription (provider_subscription_id, subscription_id, customer_id, status,
           period_start, period_end, invoices, created_at)
         values ($1, $2, $3, 'active', $4, $5, 1, $4) on conflict (subscription_id) do nothing",
    )
    .bind(&provider_id)
    .bind(&sub.subscription_id)
    .bind(&customer)
    .bind(t)
    .bind(add_months(t, months))
    .execute(&mut **tx)
    .await?;
    tx.commit().await?;
    let b = load(state, &sub.subscription_id)
        .await?
        .ok_or_else(|| ApiError::Internal(format!("sandbox subscription of {} vanished", sub.subscription_id)))?;
    if inserted.rows_affected() == 0 && b.invoices > 1 {
        return Ok(());
    }
    // The events of a first payment, with ids of this subscription's: sent again (a second
    // press, a crash), they apply once.
    let key = &b.provider_id;
    let created = b.period.0;
    let invoice = invoice_object(&b, &format!("in_{key}_1"), amount, &currency, true, None);
    let incomplete = subscription_object(&Billing { status: "incomplete".into(), ..b.clone() }, created);
    send(state, &format!("evt_{key}_created"), "customer.subscription.created", incomplete, created).await?;
    send(state, &format!("evt_{key}_1_paid"), "invoice.paid", invoice, created).await?;
    send(
        state,
        &format!("evt_{key}_1_active"),
        "customer.subscription.updated",
        subscription_object(&b, created),
        created,
    )
    .await?;
    let session_object = json!({
        "id": session,
        "object": "checkout.session",
        "created": created,
        "customer": b.customer,
        "livemode": false,
        "metadata": { "subscription_id": b.ours },
        "mode": "subscription",
        "payment_status": "paid",
        "status": "complete",
        "subscription": b.provider_id,
    });
    send(state, &format!("evt_{key}_session"), "checkout.session.completed", session_object, created).await?;
    Ok(())
}

/// Applies a subscriber's change on the sandbox's side and sends the event Stripe would.
pub async fn change(state: &AppState, sub: &Subscription, change: Change) -> ApiResult<()> {
    let mut b = load(state, &sub.subscription_id)
        .await?
        .ok_or_else(|| ApiError::Conflict(format!("subscription {} has not started", sub.subscription_id)))?;
    if b.status == "canceled" {
        return Err(ApiError::Conflict("this subscription has ended".into()));
    }
    let t = clock(state).await?;
    let was = b.clone();
    let kind = match change {
        Change::Pause { until } => {
            b.paused = true;
            b.resumes_at = until;
            "customer.subscription.updated"
        }
        Change::Resume => {
            b.paused = false;
            b.resumes_at = None;
            b.cancel_at_period_end = false;
            "customer.subscription.updated"
        }
        Change::Cancel { now: false } => {
            b.cancel_at_period_end = true;
            "customer.subscription.updated"
        }
        Change::Cancel { now: true } => {
            b.status = "canceled".into();
            b.canceled_at = Some(t);
            "customer.subscription.deleted"
        }
    };
    if !store(state, &b, &was).await? {
        return Err(ApiError::Conflict("the subscription renewed meanwhile; try again".into()));
    }
    let id = format!("evt_sandbox_{}", random_hex(12));
    send(state, &id, kind, subscription_object(&b, t), t).await?;
    Ok(())
}

/// Makes the sandbox's card for a subscription decline (renewals fail) or pay again; mended,
/// the invoice a past-due subscription owes is paid at once. False when the subscription has
/// not started in the sandbox.
pub async fn set_card_declines(state: &AppState, subscription_id: &str, declines: bool) -> ApiResult<bool> {
    let mut tx = state.db.begin_write().await?;
    let done = sqlx::query("update sandbox_subscription set card_declines = $1 where subscription_id = $2")
        .bind(i64::from(declines))
        .bind(subscription_id)
        .execute(&mut **tx)
        .await?;
    tx.commit().await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    let Some(b) = load(state, subscription_id).await? else { return Ok(false) };
    if declines || b.status != "past_due" {
        return Ok(true);
    }
    let t = clock(state).await?;
    pay_owed(state, b, t).await?;
    Ok(true)
}

/// Pays the invoice a past-due subscription owes (a mended card, or a retry that went through):
/// paid, active again, its period as the failed renewal set it. Says whether it was recorded.
async fn pay_owed(state: &AppState, mut b: Billing, t: i64) -> ApiResult<bool> {
    let was = b.clone();
    let plan: String = sqlx::query_scalar("select plan_id from subscription where subscription_id = $1")
        .bind(&b.ours)
        .fetch_one(&state.db.pool)
        .await?;
    let (amount, currency, _) = period_price(state, &plan, Some(b.period.0)).await?;
    let key = format!("{}_{}", b.provider_id, b.invoices);
    b.status = "active".into();
    let invoice = invoice_object(&b, &format!("in_{key}"), amount, &currency, true, None);
    b.failed_attempts = 0;
    b.retry_at = None;
    send(state, &format!("evt_{key}_paid"), "invoice.paid", invoice, t).await?;
    send(state, &format!("evt_{key}_recovered"), "customer.subscription.updated", subscription_object(&b, t), t)
        .await?;
    store(state, &b, &was).await
}

/// What a turn of the sandbox's billing did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Turn {
    /// Periods renewed and paid.
    pub renewed: usize,
    /// Periods skipped while paused (their invoice voided, nothing billed).
    pub skipped: usize,
    /// Renewals whose payment failed.
    pub failed: usize,
    /// Subscriptions that ended with their period.
    pub ended: usize,
    /// Payments retried and failed again.
    pub retried: usize,
    /// Subscriptions cancelled because the last retry of their payment failed.
    pub given_up: usize,
}

/// Renews every sandbox subscription whose period has ended by the sandbox's clock, one
/// period at a time until each is current.
pub async fn renew_due(state: &AppState) -> ApiResult<Turn> {
    let t = clock(state).await?;
    let mut turn = Turn::default();
    loop {
        let due: Vec<(String, String)> = sqlx::query_as(
            "select subscription_id, status from sandbox_subscription
             where (status = 'active' and period_end <= $1) or (status = 'past_due' and retry_at <= $1)
             order by period_end limit 100",
        )
        .bind(t)
        .fetch_all(&state.db.pool)
        .await?;
        if due.is_empty() {
            return Ok(turn);
        }
        for (ours, status) in due {
            if status == "past_due" {
                retry(state, &ours, t, &mut turn).await?;
            } else {
                renew(state, &ours, t, &mut turn).await?;
            }
        }
    }
}

async fn renew(state: &AppState, ours: &str, t: i64, turn: &mut Turn) -> ApiResult<()> {
    let Some(mut b) = load(state, ours).await? else { return Ok(()) };
    if b.status != "active" || b.period.1 > t {
        return Ok(());
    }
    let was = b.clone();
    let n = b.invoices + 1;
    let key = format!("{}_{n}", b.provider_id);
    // The moment the period ended: the events are of then, however late the sandbox looks.
    let at = b.period.1;
    if b.paused && b.resumes_at.is_some_and(|r| r <= at) {
        b.paused = false;
        b.resumes_at = None;
    }
    if b.cancel_at_period_end {
        b.status = "canceled".into();
        b.canceled_at = Some(at);
        send(state, &format!("evt_{key}_ended"), "customer.subscription.deleted", subscription_object(&b, at), at)
            .await?;
        if store(state, &b, &was).await? {
            turn.ended += 1;
        }
        return Ok(());
    }
    let plan: String = sqlx::query_scalar("select plan_id from subscription where subscription_id = $1")
        .bind(ours)
        .fetch_one(&state.db.pool)
        .await?;
    let (amount, currency, months) = period_price(state, &plan, Some(at)).await?;
    b.period = (b.period.1, add_months(b.period.1, months));
    b.invoices = n;
    let invoice_id = format!("in_{key}");
    if b.paused {
        // Stripe voids a paused subscription's invoice: the period passes, nothing is billed.
        send(state, &format!("evt_{key}_period"), "customer.subscription.updated", subscription_object(&b, at), at)
            .await?;
        if store(state, &b, &was).await? {
            turn.skipped += 1;
        }
        return Ok(());
    }
    if b.card_declines {
        // The card declines: past due, renewed no further until it is paid, and tried again by
        // the retry schedule (or at once when the card is mended).
        b.status = "past_due".into();
        b.failed_attempts = 1;
        b.retry_at = Some(at + RETRY_DAYS[0] * 86_400);
        let invoice = invoice_object(&b, &invoice_id, amount, &currency, false, b.retry_at);
        send(state, &format!("evt_{key}_failed"), "invoice.payment_failed", invoice, at).await?;
        send(state, &format!("evt_{key}_past_due"), "customer.subscription.updated", subscription_object(&b, at), at)
            .await?;
        if store(state, &b, &was).await? {
            turn.failed += 1;
        }
        return Ok(());
    }
    let invoice = invoice_object(&b, &invoice_id, amount, &currency, true, None);
    send(state, &format!("evt_{key}_paid"), "invoice.paid", invoice, at).await?;
    send(state, &format!("evt_{key}_renewed"), "customer.subscription.updated", subscription_object(&b, at), at)
        .await?;
    if store(state, &b, &was).await? {
        turn.renewed += 1;
    }
    Ok(())
}

/// Tries a past-due subscription's payment again when its retry falls due: paid if the card
/// was mended, else failed again and the next retry set, or, after the last, cancelled.
async fn retry(state: &AppState, ours: &str, t: i64, turn: &mut Turn) -> ApiResult<()> {
    let Some(mut b) = load(state, ours).await? else { return Ok(()) };
    let Some(at) = b.retry_at.filter(|&r| r <= t && b.status == "past_due") else { return Ok(()) };
    if !b.card_declines {
        pay_owed(state, b, at).await?;
        return Ok(());
    }
    let was = b.clone();
    let plan: String = sqlx::query_scalar("select plan_id from subscription where subscription_id = $1")
        .bind(ours)
        .fetch_one(&state.db.pool)
        .await?;
    let (amount, currency, _) = period_price(state, &plan, Some(b.period.0)).await?;
    let key = format!("{}_{}", b.provider_id, b.invoices);
    let attempt = b.failed_attempts + 1;
    b.failed_attempts = attempt;
    let next = usize::try_from(attempt - 1).ok().and_then(|i| RETRY_DAYS.get(i));
    b.retry_at = next.map(|days| at + days * 86_400);
    let invoice = invoice_object(&b, &format!("in_{key}"), amount, &currency, false, b.retry_at);
    send(state, &format!("evt_{key}_attempt{attempt}_failed"), "invoice.payment_failed", invoice, at).await?;
    if next.is_some() {
        if store(state, &b, &was).await? {
            turn.retried += 1;
        }
        return Ok(());
    }
    // The last attempt failed: Stripe cancels the subscription, saying why.
    b.status = "canceled".into();
    b.canceled_at = Some(at);
    let mut ended = subscription_object(&b, at);
    ended["cancellation_details"] = json!({ "comment": null, "feedback": null, "reason": "payment_failed" });
    send(state, &format!("evt_{key}_given_up"), "customer.subscription.deleted", ended, at).await?;
    if store(state, &b, &was).await? {
        turn.given_up += 1;
    }
    Ok(())
}

/// What moving the sandbox's clock did.
#[derive(Debug, Clone, Serialize)]
pub struct Advanced {
    /// The sandbox's time now.
    pub clock: i64,
    /// The renewals that fell due.
    pub billing: Turn,
    /// The editions that fell due.
    pub editions: Vec<super::delivery::EditionRun>,
}

/// Moves the sandbox's clock forward, then runs what fell due: renewals, then editions.
pub async fn advance(state: &AppState, seconds: i64) -> ApiResult<Advanced> {
    if seconds < 0 {
        return Err(ApiError::invalid("seconds", "the sandbox's clock only moves forward"));
    }
    let mut tx = state.db.begin_write().await?;
    sqlx::query("update counter set value = value + $1 where name = 'sandbox_clock'")
        .bind(seconds)
        .execute(&mut **tx)
        .await?;
    tx.commit().await?;
    let billing = renew_due(state).await?;
    let clock = clock(state).await?;
    let editions = super::delivery::deliver_as_of(state, clock).await?;
    Ok(Advanced { clock, billing, editions })
}
