//! An order's money: paid, closed unpaid, refunded (and a refund that overtook its payment), as
//! the payment provider's events report them. Each transition locks the order's row first and
//! decides from what it reads, so events about one order, on any instance, apply one after the
//! other.

use sqlx::Row;

use super::{items, links, load_in, lock, OrderStatus, StockState};
use crate::db::{Db, WriteTx};
use crate::error::{ApiError, ApiResult};
use crate::ids::now;
use crate::{stock, AppState};

/// A payment as the provider reports it.
#[derive(Debug, Clone, Default)]
pub struct Payment<'a> {
    /// What was charged, in minor units (when the provider says).
    pub amount: Option<i64>,
    /// In what currency (when the provider says).
    pub currency: Option<&'a str>,
    /// The provider's payment intent.
    pub intent: Option<&'a str>,
}

/// Marks an order paid: its reservation becomes a sale, its cart is emptied, the shopper's
/// confirmation is queued (unless a refund of the payment came first: then it is refunded). A
/// payment of the wrong amount cancels the order for staff to refund; a payment after the
/// reservation lapsed sells only if every bottle is still there. Says whether the order changed.
pub async fn pay(state: &AppState, tx: &mut WriteTx, order_id: &str, payment: &Payment<'_>) -> ApiResult<bool> {
    let order = lock(tx, order_id).await?;
    if settle_early_refund(tx, order_id, &order, payment).await? {
        return Ok(true);
    }
    let lapsed = matches!(order.status, OrderStatus::Expired | OrderStatus::Cancelled)
        && order.stock_state == StockState::Released;
    if order.status != OrderStatus::PendingPayment && !lapsed {
        return Ok(false);
    }
    // The session must have charged what the order says, in its currency.
    let (total, currency): (i64, String) =
        sqlx::query_as("select total_minor, currency from customer_order where order_id = $1")
            .bind(order_id)
            .fetch_one(&mut ***tx)
            .await?;
    if payment.amount.is_some_and(|c| c != total)
        || payment.currency.is_some_and(|c| !c.eq_ignore_ascii_case(&currency))
    {
        // Not this order's payment: the order is cancelled (its stock goes back, the expiry
        // worker stops asking Stripe about a session Stripe has completed) and staff refund it.
        close(tx, order_id, Closing::Cancelled).await?;
        let reason =
            format!("the payment was {:?} {:?}, the order totals {total} {currency}", payment.amount, payment.currency);
        flag_refund(tx, order_id, payment.intent, &reason).await?;
        return Ok(false);
    }
    if lapsed {
        // Paid after its reservation lapsed: sold only if every bottle is still there, or left
        // as it is for staff to refund.
        let lines = items(tx, order_id).await?;
        for (sku, q) in &lines {
            if !stock::available_for(tx, sku, *q).await? {
                let why = format!("it was paid after its reservation lapsed and {sku} is sold out");
                flag_refund(tx, order_id, payment.intent, &why).await?;
                return Ok(true);
            }
        }
        for (sku, q) in lines {
            if !stock::take(tx, &sku, q).await? {
                return Err(ApiError::Conflict(format!("{sku} sold out while order {order_id} was being paid")));
            }
            stock::alerts::after_stock_change(tx, &sku).await?;
        }
    } else {
        for (sku, q) in items(tx, order_id).await? {
            stock::commit(tx, &sku, q).await?;
            stock::alerts::after_stock_change(tx, &sku).await?;
        }
    }
    let t = now();
    sqlx::query(
        "update customer_order set status = $1, stock_state = $2, paid_at = $3, updated_at = $3,
         payment_intent = coalesce($4, payment_intent) where order_id = $5 and status = $6",
    )
    .bind(OrderStatus::Paid.as_str())
    .bind(StockState::Committed.as_str())
    .bind(t)
    .bind(payment.intent)
    .bind(order_id)
    .bind(order.status.as_str())
    .execute(&mut ***tx)
    .await?;
    let cart: Option<String> = sqlx::query_scalar("select cart_id from customer_order where order_id = $1")
        .bind(order_id)
        .fetch_one(&mut ***tx)
        .await?;
    if let Some(cart) = cart {
        crate::cart::remove(tx, &cart).await?;
    }
    queue_confirmation(state, tx, order_id).await?;
    Ok(true)
}

/// How an unpaid order ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    /// The payment failed, or could not be opened.
    Cancelled,
    /// The payment window closed.
    Expired,
}

/// Ends an order that awaits payment, giving its stock back; says whether it did.
pub async fn close(tx: &mut WriteTx, order_id: &str, how: Closing) -> ApiResult<bool> {
    let to = match how {
        Closing::Cancelled => OrderStatus::Cancelled,
        Closing::Expired => OrderStatus::Expired,
    };
    let moved = sqlx::query(
        "update customer_order set status = $1, stock_state = $2, updated_at = $3 where order_id = $4 and status = $5",
    )
    .bind(to.as_str())
    .bind(StockState::Released.as_str())
    .bind(now())
    .bind(order_id)
    .bind(OrderStatus::PendingPayment.as_str())
    .execute(&mut ***tx)
    .await?;
    if moved.rows_affected() == 0 {
        return Ok(false);
    }
    for (sku, q) in items(tx, order_id).await? {
        stock::release(tx, &sku, q).await?;
        stock::alerts::after_stock_change(tx, &sku).await?;
    }
    Ok(true)
}

/// Cancels an order awaiting payment (its session could not be opened, or a new checkout of its
/// cart replaces it), giving its stock back.
pub async fn cancel(db: &Db, order_id: &str) -> ApiResult<bool> {
    let mut tx = db.begin_write().await?;
    let moved = close(&mut tx, order_id, Closing::Cancelled).await?;
    tx.commit().await?;
    Ok(moved)
}

/// What a refund did to its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refunded {
    /// The order is refunded now.
    Applied,
    /// The payment has not arrived yet: the refund is kept and applied after it.
    Deferred,
    /// Nothing to do (partial, already refunded).
    Ignored,
}

/// A refund reported by the provider's event `event_id`, about `order_id` when the event names
/// it, and about the payment intent `intent`.
#[derive(Debug, Clone, Copy)]
pub struct Refund<'a> {
    /// The event that reported it.
    pub event_id: &'a str,
    /// Our order, when the charge says or the intent is known.
    pub order_id: Option<&'a str>,
    /// The provider's payment intent.
    pub intent: Option<&'a str>,
    /// Whether all the money went back.
    pub full: bool,
    /// How much of the charge has gone back in all, in minor units (when the provider says).
    pub amount_refunded: Option<i64>,
}

/// Records how much of an order's payment went back, as the provider reports it (a paid order,
/// or one staff were told to refund, paid after its stock had gone): refunds asked for in the
/// console are confirmed, their bottles put back, the shopper told; in full, the order is
/// refunded. An event that reports no more than is already recorded changes nothing (events
/// arrive in any order). A full refund that overtook its payment (the order awaits it, lapsed
/// before it, or is not known yet by its payment intent) is kept: [`pay`] applies it when the
/// payment arrives, and [`settle_kept_refunds`] once the intent's order is known.
pub async fn refund(state: &AppState, tx: &mut WriteTx, refund: &Refund<'_>) -> ApiResult<Refunded> {
    let Some(order_id) = refund.order_id else {
        if refund.intent.is_none() || !refund.full {
            return Ok(Refunded::Ignored);
        }
        keep_early_refund(tx, refund).await?;
        return Ok(Refunded::Deferred);
    };
    let order = lock(tx, order_id).await?;
    let flagged = matches!(order.status, OrderStatus::Expired | OrderStatus::Cancelled) && order.refund_needed;
    if order.status.is_paid() || flagged {
        let (total, before): (i64, i64) =
            sqlx::query_as("select total_minor, refunded_minor from customer_order where order_id = $1")
                .bind(order_id)
                .fetch_one(&mut ***tx)
                .await?;
        let refunded = if refund.full { total } else { refund.amount_refunded.unwrap_or(0).clamp(0, total) };
        if refunded <= before {
            return Ok(Refunded::Ignored);
        }
        let full = refunded >= total;
        sqlx::query(
            "update customer_order set refunded_minor = $1, updated_at = $2,
               status = case when $3 = 1 then $4 else status end,
               refund_needed = case when $3 = 1 then 0 else refund_needed end
             where order_id = $5",
        )
        .bind(refunded)
        .bind(now())
        .bind(i64::from(full))
        .bind(OrderStatus::Refunded.as_str())
        .bind(order_id)
        .execute(&mut ***tx)
        .await?;
        super::refunds::confirm(state, tx, order_id, before, refunded).await?;
        return Ok(Refunded::Applied);
    }
    match order.status {
        OrderStatus::PendingPayment | OrderStatus::Expired | OrderStatus::Cancelled if refund.full => {
            keep_early_refund(tx, refund).await?;
            Ok(Refunded::Deferred)
        }
        _ => Ok(Refunded::Ignored),
    }
}

async fn keep_early_refund(tx: &mut WriteTx, refund: &Refund<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into early_refund (event_id, order_id, payment_intent, received_at) values ($1, $2, $3, $4)
         on conflict (event_id) do nothing",
    )
    .bind(refund.event_id)
    .bind(refund.order_id)
    .bind(refund.intent)
    .bind(now())
    .execute(&mut ***tx)
    .await?;
    Ok(())
}

/// Applies a refund that arrived before this payment: the order is refunded rather than paid,
/// and bottles still held for it go back on sale (nothing was packed). Says whether there was
/// one.
async fn settle_early_refund(
    tx: &mut WriteTx,
    order_id: &str,
    order: &super::Locked,
    payment: &Payment<'_>,
) -> ApiResult<bool> {
    if !matches!(order.status, OrderStatus::PendingPayment | OrderStatus::Expired | OrderStatus::Cancelled) {
        return Ok(false);
    }
    let kept: i64 = sqlx::query_scalar(
        "select count(*) from early_refund where order_id = $1 or (payment_intent = $2 and $2 <> '')",
    )
    .bind(order_id)
    .bind(payment.intent.unwrap_or(""))
    .fetch_one(&mut ***tx)
    .await?;
    if kept == 0 {
        return Ok(false);
    }
    if order.stock_state == StockState::Reserved {
        for (sku, q) in items(tx, order_id).await? {
            stock::release(tx, &sku, q).await?;
            stock::alerts::after_stock_change(tx, &sku).await?;
        }
    }
    let t = now();
    sqlx::query(
        "update customer_order set status = $1, stock_state = $2, paid_at = $3, updated_at = $3,
         payment_intent = coalesce($4, payment_intent) where order_id = $5",
    )
    .bind(OrderStatus::Refunded.as_str())
    .bind(StockState::Released.as_str())
    .bind(t)
    .bind(payment.intent)
    .bind(order_id)
    .execute(&mut ***tx)
    .await?;
    sqlx::query("delete from early_refund where order_id = $1 or (payment_intent = $2 and $2 <> '')")
        .bind(order_id)
        .bind(payment.intent.unwrap_or(""))
        .execute(&mut ***tx)
        .await?;
    tracing::info!(order = %order_id, "a refund that overtook its payment was applied after it");
    Ok(true)
}

/// Kept refunds are held this long at most (Stripe gives up redelivering after three days).
const KEEP_REFUNDS_SECONDS: i64 = 7 * 24 * 3600;

/// Applies kept refunds whose payment intent now names a paid order (the payment's event was
/// being applied while the refund's was kept), and forgets those older than a week (charges
/// of other products on the same Stripe account). Gives how many it applied.
pub async fn settle_kept_refunds(state: &AppState) -> ApiResult<usize> {
    let db = &state.db;
    let due: Vec<(String, String, String)> = sqlx::query(
        "select r.event_id, o.order_id, r.payment_intent from early_refund r
         join customer_order o on o.payment_intent = r.payment_intent
         where r.order_id is null and r.payment_intent is not null limit 100",
    )
    .fetch_all(&db.pool)
    .await?
    .into_iter()
    .map(|r| (r.get("event_id"), r.get("order_id"), r.get("payment_intent")))
    .collect();
    let mut applied = 0;
    for (event_id, order_id, intent) in due {
        let mut tx = db.begin_write().await?;
        let r = Refund {
            event_id: &event_id,
            order_id: Some(&order_id),
            intent: Some(&intent),
            full: true,
            amount_refunded: None,
        };
        let outcome = refund(state, &mut tx, &r).await?;
        if outcome != Refunded::Deferred {
            applied += usize::from(outcome == Refunded::Applied);
            sqlx::query("delete from early_refund where event_id = $1 and order_id is null")
                .bind(&event_id)
                .execute(&mut **tx)
                .await?;
        }
        tx.commit().await?;
    }
    let mut tx = db.begin_write().await?;
    sqlx::query("delete from early_refund where received_at < $1")
        .bind(now() - KEEP_REFUNDS_SECONDS)
        .execute(&mut **tx)
        .await?;
    tx.commit().await?;
    Ok(applied)
}

/// Marks an order whose money must go back (keeping the payment it refunds), and tells staff
/// (once).
async fn flag_refund(tx: &mut WriteTx, order_id: &str, intent: Option<&str>, reason: &str) -> ApiResult<()> {
    let number: String = sqlx::query_scalar(
        "update customer_order set refund_needed = 1, updated_at = $1, payment_intent = coalesce($3, payment_intent)
         where order_id = $2 returning number",
    )
    .bind(now())
    .bind(order_id)
    .bind(intent)
    .fetch_one(&mut ***tx)
    .await?;
    tracing::error!(order = %order_id, %reason, "payment needs a refund");
    let mail = crate::notify::Mail {
        subject: format!("Refund needed: order {number}"),
        text: format!(
            "Order {number} ({order_id}) was paid, but it cannot be fulfilled: {reason}.\n\nRefund the payment in the Stripe dashboard; nothing of this order will ship.\n"
        ),
        html: None,
    };
    crate::notify::enqueue(tx, "refund_needed", &format!("refund-needed:{order_id}"), crate::notify::STAFF, &mail)
        .await?;
    Ok(())
}

/// Queues the confirmation of a paid order (once, whatever happens).
async fn queue_confirmation(state: &AppState, tx: &mut WriteTx, order_id: &str) -> ApiResult<()> {
    let order = load_in(tx, order_id).await?.ok_or_else(|| ApiError::Internal(format!("order {order_id} vanished")))?;
    let mail = confirmation_mail(state, &order);
    crate::notify::enqueue(tx, "order_confirmation", &format!("order-confirmation:{order_id}"), &order.email, &mail)
        .await?;
    Ok(())
}

/// The confirmation e-mail of a paid order.
pub fn confirmation_mail(state: &AppState, order: &super::OrderView) -> crate::notify::Mail {
    let order_id = &order.order_id;
    let ctx = serde_json::json!({
        "order": order,
        "order_url": format!("{}{}", state.config.public_url, links::path(&state.keys.link, order_id)),
        "site_title": state.config.site_title,
        "site_url": state.config.public_url,
    });
    crate::notify::Mail {
        subject: format!("Your order {} at Atelier Arôme", order.number),
        text: crate::views::render("email/order_confirmation.txt", &ctx),
        html: Some(crate::views::render("email/order_confirmation.html", &ctx)),
    }
}
