//! Stripe's objects and events as Stripe sends them: every field async-stripe's types require
//! (so the service's typed parsing is exercised as in production) and the ones the shop reads.

use serde_json::{json, Value};

/// A payment-mode Checkout Session about our order.
pub fn session(id: &str, order: &str, paid: bool, intent: Option<&str>) -> Value {
    let now = now();
    json!({
        "id": id,
        "object": "checkout.session",
        "automatic_tax": { "enabled": false, "liability": null, "provider": null, "status": null },
        "client_reference_id": order,
        "created": now,
        "custom_fields": [],
        "custom_text": { "after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null },
        "expires_at": now + 1800,
        "livemode": false,
        "metadata": { "order_id": order },
        "mode": "payment",
        "payment_intent": intent,
        "payment_method_types": ["card"],
        "payment_status": if paid { "paid" } else { "unpaid" },
        "shipping_options": [],
        "status": if paid { "complete" } else { "open" },
    })
}

/// A card charge of `amount` cents, refunded in full (or half), whose payment intent carried
/// `metadata` (Stripe copies a payment intent's metadata onto the charge it makes).
pub fn charge(id: &str, intent: Option<&str>, amount: i64, currency: &str, metadata: Value, refunded: bool) -> Value {
    charge_refunded(id, intent, amount, if refunded { amount } else { amount / 2 }, currency, metadata)
}

/// A card charge of `amount` cents of which `refunded` have gone back in all.
pub fn charge_refunded(
    id: &str,
    intent: Option<&str>,
    amount: i64,
    refunded: i64,
    currency: &str,
    metadata: Value,
) -> Value {
    json!({
        "id": id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": refunded,
        "billing_details": { "address": null, "email": null, "name": null, "phone": null },
        "captured": true,
        "created": now(),
        "currency": currency,
        "disputed": false,
        "livemode": false,
        "metadata": metadata,
        "paid": true,
        "payment_intent": intent,
        "refunded": refunded >= amount,
        "status": "succeeded",
    })
}

/// A refund Stripe made.
pub fn refund(id: &str, charge: &str, intent: &str, amount: i64, currency: &str, metadata: Value) -> Value {
    json!({
        "id": id,
        "object": "refund",
        "amount": amount,
        "charge": charge,
        "created": now(),
        "currency": currency,
        "metadata": metadata,
        "payment_intent": intent,
        "status": "succeeded",
    })
}

/// A subscription-mode Checkout Session that made subscription `sub` for our subscription
/// `ours`.
pub fn subscription_session(id: &str, ours: &str, sub: &str, customer: &str, paid: bool) -> Value {
    let mut s = session(id, ours, paid, None);
    s["mode"] = json!("subscription");
    s["client_reference_id"] = json!(ours);
    s["metadata"] = json!({ "subscription_id": ours });
    s["subscription"] = json!(sub);
    s["customer"] = json!(customer);
    s
}

/// What a subscription looks like at one moment.
#[derive(Debug, Clone)]
pub struct SubscriptionState<'a> {
    /// Stripe's status: `incomplete`, `active`, `past_due`, `canceled`, …
    pub status: &'a str,
    /// The current period (unix seconds).
    pub period: (i64, i64),
    /// Whether it ends with the period.
    pub cancel_at_period_end: bool,
    /// `pause_collection`: paused, until when (none: indefinitely).
    pub paused: Option<Option<i64>>,
}

/// A subscription as the 2025+ API shows it: its period on its item, our id in its metadata.
pub fn subscription(id: &str, ours: &str, customer: &str, price: &str, at: &SubscriptionState<'_>) -> Value {
    json!({
        "id": id,
        "object": "subscription",
        "billing_cycle_anchor": at.period.0,
        "cancel_at": if at.cancel_at_period_end { json!(at.period.1) } else { json!(null) },
        "cancel_at_period_end": at.cancel_at_period_end,
        "canceled_at": if at.status == "canceled" { json!(now()) } else { json!(null) },
        "collection_method": "charge_automatically",
        "created": at.period.0,
        "currency": "eur",
        "customer": customer,
        "items": { "object": "list", "has_more": false, "url": "/v1/subscription_items", "data": [{
            "id": format!("si_{id}"),
            "object": "subscription_item",
            "current_period_start": at.period.0,
            "current_period_end": at.period.1,
            "price": { "id": price, "object": "price" },
            "quantity": 1,
        }]},
        "livemode": false,
        "metadata": { "subscription_id": ours },
        "pause_collection": at.paused.map(|until| json!({ "behavior": "void", "resumes_at": until })),
        "start_date": at.period.0,
        "status": at.status,
    })
}

/// An invoice of subscription `sub` for a period, paid or not (the 2025+ shape: the
/// subscription under `parent`, the service period on its line).
pub fn invoice(id: &str, sub: &str, ours: &str, amount: i64, period: (i64, i64), paid: bool, attempts: i64) -> Value {
    json!({
        "id": id,
        "object": "invoice",
        "amount_due": amount,
        "amount_paid": if paid { amount } else { 0 },
        "amount_remaining": if paid { 0 } else { amount },
        "attempt_count": attempts,
        "attempted": attempts > 0,
        "billing_reason": "subscription_cycle",
        "collection_method": "charge_automatically",
        "created": period.0,
        "currency": "eur",
        "lines": { "object": "list", "has_more": false, "url": format!("/v1/invoices/{id}/lines"), "data": [{
            "id": format!("il_{id}"),
            "object": "line_item",
            "amount": amount,
            "currency": "eur",
            "period": { "start": period.0, "end": period.1 },
        }]},
        "livemode": false,
        "next_payment_attempt": if paid { json!(null) } else { json!(period.0 + 3 * 86_400) },
        "parent": { "type": "subscription_details", "quote_details": null, "subscription_details": {
            "metadata": { "subscription_id": ours },
            "subscription": sub,
        }},
        "period_start": period.0,
        "period_end": period.0,
        "status": if paid { "paid" } else { "open" },
    })
}

/// An event of a type about an object.
pub fn event(id: &str, kind: &str, object: Value) -> Value {
    event_at(id, kind, object, now())
}

/// An event made by Stripe at `created` (unix seconds).
pub fn event_at(id: &str, kind: &str, object: Value, created: i64) -> Value {
    json!({
        "id": id,
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": created,
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": kind,
        "data": { "object": object },
    })
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}
