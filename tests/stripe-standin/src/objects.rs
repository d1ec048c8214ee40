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

/// A card charge of `amount` cents, refunded in full (or not), whose payment intent carried
/// `metadata` (Stripe copies a payment intent's metadata onto the charge it makes).
pub fn charge(id: &str, intent: Option<&str>, amount: i64, currency: &str, metadata: Value, refunded: bool) -> Value {
    json!({
        "id": id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": if refunded { amount } else { amount / 2 },
        "billing_details": { "address": null, "email": null, "name": null, "phone": null },
        "captured": true,
        "created": now(),
        "currency": currency,
        "disputed": false,
        "livemode": false,
        "metadata": metadata,
        "paid": true,
        "payment_intent": intent,
        "refunded": refunded,
        "status": "succeeded",
    })
}

/// An event of a type about an object.
pub fn event(id: &str, kind: &str, object: Value) -> Value {
    json!({
        "id": id,
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": now(),
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
