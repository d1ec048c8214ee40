//! Stripe webhooks, the only truth about money: raw bytes → verified `Stripe-Signature`
//! (HMAC-SHA256, 300 s tolerance) → parsed → applied once. The event id is recorded in the
//! same transaction as its effect; every effect is a conditional state change, so duplicates,
//! events out of order and late events never fulfil twice or undo a later state.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;
use sqlx::Row;

use crate::error::{ApiError, ApiResult};
use crate::ids::now;
use crate::orders::Status;
use crate::stock;
use crate::AppState;

/// How far a signature's timestamp may be from now.
pub const TOLERANCE_SECONDS: i64 = 300;

/// Checks a `Stripe-Signature` header (`t=…,v1=…[,v1=…]`) against the raw body.
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64) -> ApiResult<()> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", s)) => signatures.push(s),
            _ => {}
        }
    }
    let t = timestamp.ok_or_else(|| ApiError::Signature("Stripe-Signature has no timestamp".into()))?;
    if signatures.is_empty() {
        return Err(ApiError::Signature("Stripe-Signature has no v1 signature".into()));
    }
    if (now - t).abs() > TOLERANCE_SECONDS {
        return Err(ApiError::Signature(format!(
            "the signature is {} s old; at most {TOLERANCE_SECONDS} s are accepted",
            now - t
        )));
    }
    let expected = sign_bytes(secret, t, body);
    let ok = signatures.iter().any(|s| crate::security::same_bytes(s.as_bytes(), expected.as_bytes()));
    if ok {
        Ok(())
    } else {
        Err(ApiError::Signature("the signature does not match the body".into()))
    }
}

fn sign_bytes(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    crate::ids::hex(&mac.finalize().into_bytes())
}

/// A `Stripe-Signature` header for a body, as Stripe makes them (used by the sandbox).
pub fn signature_header(secret: &str, t: i64, body: &[u8]) -> String {
    format!("t={t},v1={}", sign_bytes(secret, t, body))
}

/// The parts of a Stripe event we read.
#[derive(Debug, Deserialize)]
pub struct Event {
    /// `evt_…`, unique per event.
    pub id: String,
    /// `checkout.session.completed`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// The event's payload.
    pub data: EventData,
}

/// The payload of an event.
#[derive(Debug, Deserialize)]
pub struct EventData {
    /// The object the event is about.
    pub object: Value,
}

/// What applying an event did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Applied {
    /// The event changed an order.
    Applied,
    /// Seen before: nothing done.
    Duplicate,
    /// Not about one of our orders, or a type we do not act on, or no longer relevant.
    Ignored,
}

/// Verifies, parses and applies a webhook delivery.
pub async fn handle(state: &AppState, signature: Option<&str>, body: &[u8]) -> ApiResult<Applied> {
    let header = signature.ok_or_else(|| ApiError::Signature("missing Stripe-Signature header".into()))?;
    verify(state.config.webhook_secret.expose(), header, body, now())?;
    let event: Event =
        serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("not a Stripe event: {e}")))?;
    apply(state, &event).await
}

/// Ends an unpaid session whose time is up (the expiry worker, sandbox or Stripe alike). The
/// event id is derived from the session, so every instance applies it once between them.
pub async fn expire_session(state: &AppState, session: &str) -> ApiResult<Applied> {
    expire(state, session, serde_json::json!({ "id": session, "object": "checkout.session" })).await
}

/// Ends an unpaid order that never got a payment session.
pub async fn expire_order(state: &AppState, order_id: &str) -> ApiResult<Applied> {
    expire(state, order_id, serde_json::json!({ "metadata": { "order_id": order_id } })).await
}

/// An expiry as an event whose id comes from what expires, the same on every instance.
async fn expire(state: &AppState, what: &str, object: Value) -> ApiResult<Applied> {
    let event =
        Event { id: format!("evt_expire_{what}"), kind: "checkout.session.expired".into(), data: EventData { object } };
    apply(state, &event).await
}

/// Cancels an order whose payment session could not be opened, giving its stock back.
pub async fn cancel_unopened(state: &AppState, order_id: &str) -> ApiResult<Applied> {
    let mut tx = state.db.begin_write().await?;
    let outcome = close(&mut tx, order_id, Status::Cancelled).await?;
    tx.commit().await?;
    Ok(outcome)
}

/// Applies a verified event exactly once.
pub async fn apply(state: &AppState, event: &Event) -> ApiResult<Applied> {
    let db = &state.db;
    let obj = &event.data.object;
    let order_id = order_of(db, obj).await?;
    let mut tx = db.begin_write().await?;
    let fresh = sqlx::query("insert into webhook_event (event_id, event_type, received_at) values ($1, $2, $3) on conflict (event_id) do nothing")
        .bind(&event.id)
        .bind(&event.kind)
        .bind(now())
        .execute(&mut **tx)
        .await?;
    if fresh.rows_affected() == 0 {
        tx.commit().await?;
        return Ok(Applied::Duplicate);
    }
    let Some(order_id) = order_id else {
        tx.commit().await?;
        return Ok(Applied::Ignored);
    };
    let outcome = match event.kind.as_str() {
        "checkout.session.completed" if obj.get("payment_status").and_then(Value::as_str) == Some("paid") => {
            mark_paid(state, &mut tx, &order_id, obj).await?
        }
        "checkout.session.async_payment_succeeded" => mark_paid(state, &mut tx, &order_id, obj).await?,
        "checkout.session.async_payment_failed" => close(&mut tx, &order_id, Status::Cancelled).await?,
        "checkout.session.expired" => close(&mut tx, &order_id, Status::Expired).await?,
        "charge.refunded" => refund(&mut tx, &order_id, obj).await?,
        _ => Applied::Ignored,
    };
    tx.commit().await?;
    if outcome == Applied::Applied {
        tracing::info!(event = %event.id, kind = %event.kind, order = %order_id, "webhook applied");
    }
    Ok(outcome)
}

/// Our order id in a session or charge: metadata, client reference, or the session we stored.
async fn order_of(db: &crate::db::Db, obj: &Value) -> ApiResult<Option<String>> {
    let from_meta =
        obj.pointer("/metadata/order_id").or_else(|| obj.get("client_reference_id")).and_then(Value::as_str);
    let candidate = match from_meta {
        Some(id) => Some(id.to_string()),
        None => {
            let session = obj.get("id").and_then(Value::as_str).unwrap_or("");
            let intent = obj.get("payment_intent").and_then(Value::as_str).unwrap_or("");
            sqlx::query_scalar(
                "select order_id from customer_order where payment_session = $1 or (payment_intent = $2 and $2 <> '')",
            )
            .bind(session)
            .bind(intent)
            .fetch_optional(&db.pool)
            .await?
        }
    };
    let Some(id) = candidate else { return Ok(None) };
    let exists: Option<String> = sqlx::query_scalar("select order_id from customer_order where order_id = $1")
        .bind(&id)
        .fetch_optional(&db.pool)
        .await?;
    Ok(exists)
}

async fn items(tx: &mut crate::db::WriteTx, order_id: &str) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows = sqlx::query("select sku, quantity from order_item where order_id = $1 order by sku")
        .bind(order_id)
        .fetch_all(&mut ***tx)
        .await?;
    Ok(rows.into_iter().map(|r| (r.get("sku"), r.get("quantity"))).collect())
}

async fn mark_paid(state: &AppState, tx: &mut crate::db::WriteTx, order_id: &str, obj: &Value) -> ApiResult<Applied> {
    let t = now();
    let intent = obj.get("payment_intent").and_then(Value::as_str);
    // The session must have charged what the order says, in its currency.
    let (total, currency): (i64, String) =
        sqlx::query_as("select total_minor, currency from customer_order where order_id = $1")
            .bind(order_id)
            .fetch_one(&mut ***tx)
            .await?;
    let charged = obj.get("amount_total").and_then(Value::as_i64);
    let charged_in = obj.get("currency").and_then(Value::as_str);
    if charged.is_some_and(|c| c != total) || charged_in.is_some_and(|c| !c.eq_ignore_ascii_case(&currency)) {
        // Not this order's payment: the order is cancelled (its stock goes back, the expiry
        // worker stops asking Stripe about a session Stripe has completed) and staff refund it.
        close(tx, order_id, Status::Cancelled).await?;
        flag_refund(
            tx,
            order_id,
            &format!("the payment was {charged:?} {charged_in:?}, the order totals {total} {currency}"),
        )
        .await?;
        return Ok(Applied::Ignored);
    }
    let moved = sqlx::query(
        "update customer_order set status = 'paid', stock_state = 'committed', paid_at = $1, updated_at = $1,
         payment_intent = coalesce($2, payment_intent) where order_id = $3 and status = 'pending_payment'",
    )
    .bind(t)
    .bind(intent)
    .bind(order_id)
    .execute(&mut ***tx)
    .await?;
    if moved.rows_affected() == 1 {
        for (sku, q) in items(tx, order_id).await? {
            stock::commit(tx, &sku, q).await?;
            crate::alerts::after_stock_change(tx, &sku).await?;
        }
    } else {
        // A payment for an order whose reservation already lapsed: sell only if the stock is
        // still there, all of it, or leave the order as it is for staff to refund.
        let row = sqlx::query("select status, stock_state from customer_order where order_id = $1")
            .bind(order_id)
            .fetch_one(&mut ***tx)
            .await?;
        let status: String = row.get("status");
        if !(matches!(status.as_str(), "expired" | "cancelled") && row.get::<String, _>("stock_state") == "released") {
            return Ok(Applied::Ignored);
        }
        let lines = items(tx, order_id).await?;
        let mut gone = None;
        for (sku, q) in &lines {
            if !stock::available_for(tx, sku, *q).await? {
                gone = Some(sku.clone());
                break;
            }
        }
        if let Some(sku) = gone {
            flag_refund(tx, order_id, &format!("it was paid after its reservation lapsed and {sku} is sold out"))
                .await?;
            return Ok(Applied::Applied);
        }
        for (sku, q) in lines {
            if !stock::take(tx, &sku, q).await? {
                return Err(ApiError::Conflict(format!("{sku} sold out while order {order_id} was being paid")));
            }
            crate::alerts::after_stock_change(tx, &sku).await?;
        }
        sqlx::query(
            "update customer_order set status = 'paid', stock_state = 'committed', paid_at = $1, updated_at = $1,
             payment_intent = coalesce($2, payment_intent) where order_id = $3",
        )
        .bind(t)
        .bind(intent)
        .bind(order_id)
        .execute(&mut ***tx)
        .await?;
    }
    sqlx::query("delete from cart where cart_id = (select cart_id from customer_order where order_id = $1)")
        .bind(order_id)
        .execute(&mut ***tx)
        .await?;
    crate::checkout::queue_confirmation(state, tx, order_id).await?;
    Ok(Applied::Applied)
}

pub(crate) async fn close(tx: &mut crate::db::WriteTx, order_id: &str, to: Status) -> ApiResult<Applied> {
    let moved = sqlx::query("update customer_order set status = $1, stock_state = 'released', updated_at = $2 where order_id = $3 and status = 'pending_payment'")
        .bind(to.as_str())
        .bind(now())
        .bind(order_id)
        .execute(&mut ***tx)
        .await?;
    if moved.rows_affected() == 0 {
        return Ok(Applied::Ignored);
    }
    for (sku, q) in items(tx, order_id).await? {
        stock::release(tx, &sku, q).await?;
        crate::alerts::after_stock_change(tx, &sku).await?;
    }
    Ok(Applied::Applied)
}

async fn refund(tx: &mut crate::db::WriteTx, order_id: &str, charge: &Value) -> ApiResult<Applied> {
    // A partial refund leaves the order as it is (staff settle it with the shopper).
    if charge.get("refunded").and_then(Value::as_bool) == Some(false) {
        return Ok(Applied::Ignored);
    }
    let moved = sqlx::query(
        "update customer_order set status = 'refunded', updated_at = $1 where order_id = $2 and status in ('paid', 'fulfilled', 'shipped', 'delivered')",
    )
    .bind(now())
    .bind(order_id)
    .execute(&mut ***tx)
    .await?;
    if moved.rows_affected() == 1 {
        return Ok(Applied::Applied);
    }
    let status: String = sqlx::query_scalar("select status from customer_order where order_id = $1")
        .bind(order_id)
        .fetch_one(&mut ***tx)
        .await?;
    if status == Status::PendingPayment.as_str() {
        // The refund overtook the payment's own event. Refusing it (nothing is recorded) makes
        // Stripe deliver it again later, after the payment has been applied.
        return Err(ApiError::Conflict(format!("order {order_id} is not paid yet; deliver the refund again later")));
    }
    Ok(Applied::Ignored)
}

/// Marks an order whose money must go back, and tells staff (once).
async fn flag_refund(tx: &mut crate::db::WriteTx, order_id: &str, reason: &str) -> ApiResult<()> {
    let number: String = sqlx::query_scalar(
        "update customer_order set refund_needed = 1, updated_at = $1 where order_id = $2 returning number",
    )
    .bind(now())
    .bind(order_id)
    .fetch_one(&mut ***tx)
    .await?;
    tracing::error!(order = %order_id, %reason, "payment needs a refund");
    let mail = crate::mail::Mail {
        subject: format!("Refund needed: order {number}"),
        text: format!(
            "Order {number} ({order_id}) was paid, but it cannot be fulfilled: {reason}.\n\nRefund the payment in the Stripe dashboard; nothing of this order will ship.\n"
        ),
        html: None,
    };
    crate::mail::enqueue(tx, "refund_needed", &format!("refund-needed:{order_id}"), crate::mail::STAFF, &mail).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_signatures() {
        let body = br#"{"id":"evt_1"}"#;
        let header = signature_header("whsec_x", 1000, body);
        assert!(verify("whsec_x", &header, body, 1100).is_ok());
        assert!(verify("whsec_x", &format!("{header},v1=00"), body, 1100).is_ok(), "any v1 may match");
        assert!(verify("whsec_y", &header, body, 1100).is_err());
        assert!(verify("whsec_x", &header, br#"{"id":"evt_2"}"#, 1100).is_err());
        assert!(verify("whsec_x", &header, body, 1000 + 301).is_err(), "too old");
        assert!(verify("whsec_x", "v1=abc", body, 1000).is_err());
        assert!(verify("whsec_x", "t=1000", body, 1000).is_err());
    }
}
