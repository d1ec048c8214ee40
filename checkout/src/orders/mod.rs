//! Orders: their states and every move between them (this module is the only one that writes
//! an order's status), readable numbers, signed links for guests, and the views pages, e-mail
//! and staff see.

pub mod http;
pub mod links;
mod view;

use std::borrow::Cow;

use sqlx::Row;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;

pub use atelier_domain::OrderStatus;
pub use view::{date, list, load, load_in, LineView, OrderRow, OrderView};

use crate::checkout::pricing::Totals;
use crate::config::Secret;
use crate::db::{Db, WriteTx};
use crate::error::{ApiError, ApiResult};
use crate::ids::now;
use crate::{stock, AppState};

/// What an order holds of the stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StockState {
    /// Held for the order while it awaits payment.
    Reserved,
    /// Sold to it.
    Committed,
    /// Given back.
    Released,
}

impl StockState {
    fn as_str(self) -> &'static str {
        match self {
            StockState::Reserved => "reserved",
            StockState::Committed => "committed",
            StockState::Released => "released",
        }
    }
}

/// The schema of a status name in the API: one of [`OrderStatus::ALL`].
pub struct StatusName;

impl utoipa::PartialSchema for StatusName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("Where the order is in its life."))
            .enum_values(Some(OrderStatus::ALL.map(OrderStatus::as_str)))
            .into()
    }
}

impl utoipa::ToSchema for StatusName {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("OrderStatus")
    }
}

/// The next readable order number, `AA-2026-000042`.
async fn next_number(tx: &mut WriteTx) -> Result<String, sqlx::Error> {
    let n: i64 = sqlx::query_scalar("update counter set value = value + 1 where name = 'order' returning value")
        .fetch_one(&mut ***tx)
        .await?;
    let today = date(now());
    let year = today.split('-').next().unwrap_or("1970");
    Ok(format!("AA-{year}-{n:06}"))
}

/// An order as checkout opens it, awaiting payment.
#[derive(Debug)]
pub struct NewOrder<'a> {
    /// Its id.
    pub order_id: &'a str,
    /// The shopper's e-mail.
    pub email: &'a str,
    /// The shopper's name.
    pub name: &'a str,
    /// The address, as JSON.
    pub address: &'a serde_json::Value,
    /// ISO country code.
    pub country: &'a str,
    /// Shipping method id.
    pub shipping_method: &'a str,
    /// ISO currency code of every amount.
    pub currency: &'a str,
    /// What it costs.
    pub totals: &'a Totals,
    /// The payment provider's name.
    pub provider: &'a str,
    /// The cart it came from.
    pub cart_id: &'a str,
    /// When its reservation ends.
    pub expires_at: i64,
    /// A digest of what it was opened with (see [`OpenOrder::checkout_key`]).
    pub checkout_key: &'a str,
}

/// An order awaiting payment for a cart (a cart has at most one).
#[derive(Debug, Clone)]
pub struct OpenOrder {
    /// Its id.
    pub order_id: String,
    /// Its number.
    pub number: String,
    /// A digest of the lines, prices, address and shipping it was opened with: a checkout with
    /// the same key is the same checkout.
    pub checkout_key: Option<String>,
    /// The payment session, once opened.
    pub session: Option<String>,
    /// Where the shopper pays, once the session is open.
    pub payment_url: Option<String>,
    /// What it charges.
    pub total: i64,
    /// When its reservation ends.
    pub expires_at: i64,
}

/// The order awaiting payment for a cart, if there is one.
pub async fn open_for_cart(db: &Db, cart_id: &str) -> Result<Option<OpenOrder>, sqlx::Error> {
    let row = sqlx::query(
        "select order_id, number, checkout_key, payment_session, payment_url, total_minor, expires_at
         from customer_order where cart_id = $1 and status = $2",
    )
    .bind(cart_id)
    .bind(OrderStatus::PendingPayment.as_str())
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|r| OpenOrder {
        order_id: r.get("order_id"),
        number: r.get("number"),
        checkout_key: r.get("checkout_key"),
        session: r.get("payment_session"),
        payment_url: r.get("payment_url"),
        total: r.get("total_minor"),
        expires_at: r.get("expires_at"),
    }))
}

/// Records a new order awaiting payment (its lines and their stock come next, in the same
/// transaction); gives its number. Fails with a unique violation when the cart already has an
/// order awaiting payment (see [`is_taken`]).
pub async fn insert_pending(tx: &mut WriteTx, new: &NewOrder<'_>) -> Result<String, sqlx::Error> {
    let number = next_number(tx).await?;
    let t = now();
    sqlx::query(
        "insert into customer_order (order_id, number, email, name, address, country, shipping_method, status, currency,
           subtotal_minor, shipping_minor, vat_minor, total_minor, payment_provider, cart_id, stock_state,
           created_at, updated_at, expires_at, checkout_key)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17, $18, $19)",
    )
    .bind(new.order_id)
    .bind(&number)
    .bind(new.email)
    .bind(new.name)
    .bind(new.address.to_string())
    .bind(new.country)
    .bind(new.shipping_method)
    .bind(OrderStatus::PendingPayment.as_str())
    .bind(new.currency)
    .bind(new.totals.subtotal)
    .bind(new.totals.shipping)
    .bind(new.totals.vat)
    .bind(new.totals.total)
    .bind(new.provider)
    .bind(new.cart_id)
    .bind(StockState::Reserved.as_str())
    .bind(t)
    .bind(new.expires_at)
    .bind(new.checkout_key)
    .execute(&mut ***tx)
    .await?;
    Ok(number)
}

/// Whether an insert failed because the cart already has an order awaiting payment.
pub fn is_taken(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// A line of a new order: the order keeps its own copy of what was bought, at what price.
pub async fn add_line(tx: &mut WriteTx, order_id: &str, line: &crate::cart::Line) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into order_item (order_id, sku, title, label, unit_minor, quantity) values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(order_id)
    .bind(&line.sku)
    .bind(&line.title)
    .bind(&line.label)
    .bind(line.unit_price.amount)
    .bind(line.quantity)
    .execute(&mut ***tx)
    .await?;
    Ok(())
}

/// Records where the shopper pays for an order.
pub async fn attach_session(db: &Db, order_id: &str, session: &str, url: &str) -> Result<(), sqlx::Error> {
    // Through a write transaction: on SQLite that takes the writer lock like every other write.
    let mut tx = db.begin_write().await?;
    sqlx::query("update customer_order set payment_session = $1, payment_url = $2 where order_id = $3")
        .bind(session)
        .bind(url)
        .bind(order_id)
        .execute(&mut **tx)
        .await?;
    tx.commit().await
}

/// The order a payment session belongs to, and its status.
pub async fn by_session(db: &Db, session: &str) -> Result<Option<(String, OrderStatus)>, sqlx::Error> {
    let found: Option<(String, String)> =
        sqlx::query_as("select order_id, status from customer_order where payment_session = $1")
            .bind(session)
            .fetch_optional(&db.pool)
            .await?;
    Ok(found.and_then(|(id, s)| OrderStatus::parse(&s).map(|s| (id, s))))
}

/// What the sandbox's events say of an order: its total and currency.
pub async fn charge_of(db: &Db, order_id: &str) -> Result<Option<(i64, String)>, sqlx::Error> {
    sqlx::query_as("select total_minor, currency from customer_order where order_id = $1")
        .bind(order_id)
        .fetch_optional(&db.pool)
        .await
}

/// Unpaid orders whose reservation has run out, oldest first: (order id, payment session).
pub async fn due_for_expiry(db: &Db, limit: i64) -> Result<Vec<(String, Option<String>)>, sqlx::Error> {
    sqlx::query_as(
        "select order_id, payment_session from customer_order where status = $1 and expires_at < $2
         order by expires_at limit $3",
    )
    .bind(OrderStatus::PendingPayment.as_str())
    .bind(now())
    .bind(limit)
    .fetch_all(&db.pool)
    .await
}

/// The order a provider's object is about: by the order id it carries, else by its session or
/// payment intent as we stored them. `None` when it is none of ours.
pub async fn find(
    db: &Db,
    order_id: Option<&str>,
    session: Option<&str>,
    intent: Option<&str>,
) -> Result<Option<String>, sqlx::Error> {
    let candidate =
        match order_id {
            Some(id) => Some(id.to_string()),
            None => sqlx::query_scalar(
                "select order_id from customer_order where payment_session = $1 or (payment_intent = $2 and $2 <> '')",
            )
            .bind(session.unwrap_or(""))
            .bind(intent.unwrap_or(""))
            .fetch_optional(&db.pool)
            .await?,
        };
    let Some(id) = candidate else { return Ok(None) };
    sqlx::query_scalar("select order_id from customer_order where order_id = $1")
        .bind(&id)
        .fetch_optional(&db.pool)
        .await
}

async fn items(tx: &mut WriteTx, order_id: &str) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows = sqlx::query("select sku, quantity from order_item where order_id = $1 order by sku")
        .bind(order_id)
        .fetch_all(&mut ***tx)
        .await?;
    Ok(rows.into_iter().map(|r| (r.get("sku"), r.get("quantity"))).collect())
}

async fn status_in(tx: &mut WriteTx, order_id: &str) -> Result<(OrderStatus, String), ApiError> {
    let row = sqlx::query("select status, stock_state from customer_order where order_id = $1")
        .bind(order_id)
        .fetch_one(&mut ***tx)
        .await?;
    let status: String = row.get("status");
    let status = OrderStatus::parse(&status)
        .ok_or_else(|| ApiError::Internal(format!("order {order_id} has an unknown status `{status}`")))?;
    Ok((status, row.get("stock_state")))
}

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
/// confirmation is queued (unless a refund of the payment came first: then it is refunded). A payment of the wrong amount cancels the order for staff to refund;
/// a payment after the reservation lapsed sells only if every bottle is still there. Says
/// whether the order changed.
pub async fn pay(state: &AppState, tx: &mut WriteTx, order_id: &str, payment: &Payment<'_>) -> ApiResult<bool> {
    if settle_early_refund(tx, order_id, payment).await? {
        return Ok(true);
    }
    let t = now();
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
        flag_refund(tx, order_id, &reason).await?;
        return Ok(false);
    }
    let moved = sqlx::query(
        "update customer_order set status = $1, stock_state = $2, paid_at = $3, updated_at = $3,
         payment_intent = coalesce($4, payment_intent) where order_id = $5 and status = $6",
    )
    .bind(OrderStatus::Paid.as_str())
    .bind(StockState::Committed.as_str())
    .bind(t)
    .bind(payment.intent)
    .bind(order_id)
    .bind(OrderStatus::PendingPayment.as_str())
    .execute(&mut ***tx)
    .await?;
    if moved.rows_affected() == 1 {
        for (sku, q) in items(tx, order_id).await? {
            stock::commit(tx, &sku, q).await?;
            stock::alerts::after_stock_change(tx, &sku).await?;
        }
    } else {
        // A payment for an order whose reservation already lapsed: sell only if the stock is
        // still there, all of it, or leave the order as it is for staff to refund.
        let (status, stock_state) = status_in(tx, order_id).await?;
        let lapsed = matches!(status, OrderStatus::Expired | OrderStatus::Cancelled);
        if !(lapsed && stock_state == StockState::Released.as_str()) {
            return Ok(false);
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
            return Ok(true);
        }
        for (sku, q) in lines {
            if !stock::take(tx, &sku, q).await? {
                return Err(ApiError::Conflict(format!("{sku} sold out while order {order_id} was being paid")));
            }
            stock::alerts::after_stock_change(tx, &sku).await?;
        }
        sqlx::query(
            "update customer_order set status = $1, stock_state = $2, paid_at = $3, updated_at = $3,
             payment_intent = coalesce($4, payment_intent) where order_id = $5",
        )
        .bind(OrderStatus::Paid.as_str())
        .bind(StockState::Committed.as_str())
        .bind(t)
        .bind(payment.intent)
        .bind(order_id)
        .execute(&mut ***tx)
        .await?;
    }
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
    /// Nothing to do (partial, already refunded, never paid).
    Ignored,
}

/// A full refund reported by the provider's event `event_id`, about `order_id` when the event
/// names it, and about the payment intent `intent`.
#[derive(Debug, Clone, Copy)]
pub struct Refund<'a> {
    /// The event that reported it.
    pub event_id: &'a str,
    /// Our order, when the charge says or the intent is known.
    pub order_id: Option<&'a str>,
    /// The provider's payment intent.
    pub intent: Option<&'a str>,
    /// Whether all the money went back (a partial refund leaves the order as it is, for staff
    /// to settle with the shopper).
    pub full: bool,
}

/// Marks a paid order refunded. A refund that overtook its payment (the order still awaits
/// it, or no order is known yet by its payment intent) is kept, and [`pay`] applies it.
pub async fn refund(tx: &mut WriteTx, refund: &Refund<'_>) -> ApiResult<Refunded> {
    if !refund.full {
        return Ok(Refunded::Ignored);
    }
    let Some(order_id) = refund.order_id else {
        if refund.intent.is_none() {
            return Ok(Refunded::Ignored);
        }
        keep_early_refund(tx, refund).await?;
        return Ok(Refunded::Deferred);
    };
    let paid: Vec<&str> = OrderStatus::ALL.iter().filter(|s| s.is_paid()).map(|s| s.as_str()).collect();
    let moved = sqlx::query(
        "update customer_order set status = $1, updated_at = $2 where order_id = $3 and status in ($4, $5, $6, $7)",
    )
    .bind(OrderStatus::Refunded.as_str())
    .bind(now())
    .bind(order_id)
    .bind(paid[0])
    .bind(paid[1])
    .bind(paid[2])
    .bind(paid[3])
    .execute(&mut ***tx)
    .await?;
    if moved.rows_affected() == 1 {
        return Ok(Refunded::Applied);
    }
    let (status, _) = status_in(tx, order_id).await?;
    if status == OrderStatus::PendingPayment {
        keep_early_refund(tx, refund).await?;
        return Ok(Refunded::Deferred);
    }
    Ok(Refunded::Ignored)
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
async fn settle_early_refund(tx: &mut WriteTx, order_id: &str, payment: &Payment<'_>) -> ApiResult<bool> {
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
    let (status, stock_state) = status_in(tx, order_id).await?;
    if !matches!(status, OrderStatus::PendingPayment | OrderStatus::Expired | OrderStatus::Cancelled) {
        return Ok(false);
    }
    if stock_state == StockState::Reserved.as_str() {
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

/// Marks an order whose money must go back, and tells staff (once).
async fn flag_refund(tx: &mut WriteTx, order_id: &str, reason: &str) -> ApiResult<()> {
    let number: String = sqlx::query_scalar(
        "update customer_order set refund_needed = 1, updated_at = $1 where order_id = $2 returning number",
    )
    .bind(now())
    .bind(order_id)
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
    let ctx = serde_json::json!({
        "order": order,
        "order_url": format!("{}{}", state.config.public_url, links::path(&state.keys.link, order_id)),
        "site_title": state.config.site_title,
        "site_url": state.config.public_url,
    });
    let mail = crate::notify::Mail {
        subject: format!("Your order {} at Atelier Arôme", order.number),
        text: crate::views::render("email/order_confirmation.txt", &ctx),
        html: Some(crate::views::render("email/order_confirmation.html", &ctx)),
    };
    crate::notify::enqueue(tx, "order_confirmation", &format!("order-confirmation:{order_id}"), &order.email, &mail)
        .await?;
    Ok(())
}

/// A step staff take with a paid order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Packed: paid → fulfilled.
    Fulfil,
    /// Handed to the carrier: paid or fulfilled → shipped, with the carrier's reference.
    Ship {
        /// Tracking reference, shown to the shopper.
        tracking: Option<String>,
    },
    /// Arrived: shipped → delivered.
    Deliver,
}

impl Step {
    /// The states the step may start from, and where it leads.
    fn moves(&self) -> (&'static [OrderStatus], OrderStatus) {
        match self {
            Step::Fulfil => (&[OrderStatus::Paid], OrderStatus::Fulfilled),
            Step::Ship { .. } => (&[OrderStatus::Paid, OrderStatus::Fulfilled], OrderStatus::Shipped),
            Step::Deliver => (&[OrderStatus::Shipped], OrderStatus::Delivered),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Step::Fulfil => "fulfil",
            Step::Ship { .. } => "ship",
            Step::Deliver => "deliver",
        }
    }
}

/// Why a step could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// No order has that number or id.
    #[error("no order {0}")]
    NotFound(String),
    /// The order is not in a state the step starts from.
    #[error("order {number} is {status}; {step} needs it to be {from}")]
    WrongState {
        /// Order number.
        number: String,
        /// Its state now.
        status: String,
        /// The step.
        step: &'static str,
        /// What the step starts from.
        from: String,
    },
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The shopper's e-mail could not be queued.
    #[error("{0}")]
    Mail(#[from] ApiError),
}

/// Moves an order one step along (one conditional update, so two staff members racing take
/// the step once); the shopper is e-mailed when the parcel ships.
pub async fn advance(
    db: &Db,
    key: &Secret,
    public_url: &str,
    number_or_id: &str,
    step: &Step,
) -> Result<OrderView, StepError> {
    let found: Option<(String, String, String)> =
        sqlx::query_as("select order_id, number, status from customer_order where number = $1 or order_id = $1")
            .bind(number_or_id.trim())
            .fetch_optional(&db.pool)
            .await?;
    let (order_id, number, status) = found.ok_or_else(|| StepError::NotFound(number_or_id.to_string()))?;
    let (from, to) = step.moves();
    let wrong = |status: String| StepError::WrongState {
        number: number.clone(),
        status,
        step: step.name(),
        from: from.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" or "),
    };
    let Some(current) = OrderStatus::parse(&status).filter(|s| from.contains(s)) else {
        return Err(wrong(status));
    };
    let t = now();
    let mut tx = db.begin_write().await?;
    let moved = sqlx::query(
        "update customer_order set status = $1, updated_at = $2,
           tracking = coalesce($3, tracking),
           shipped_at = case when $1 = $6 then $2 else shipped_at end,
           delivered_at = case when $1 = $7 then $2 else delivered_at end
         where order_id = $4 and status = $5",
    )
    .bind(to.as_str())
    .bind(t)
    .bind(match step {
        Step::Ship { tracking } => tracking.as_deref().map(str::trim).filter(|s| !s.is_empty()),
        _ => None,
    })
    .bind(&order_id)
    .bind(current.as_str())
    .bind(OrderStatus::Shipped.as_str())
    .bind(OrderStatus::Delivered.as_str())
    .execute(&mut **tx)
    .await?;
    if moved.rows_affected() == 0 {
        let (now, _) = status_in(&mut tx, &order_id).await?;
        return Err(wrong(now.to_string()));
    }
    let order = load_in(&mut tx, &order_id).await?.ok_or_else(|| StepError::NotFound(order_id.clone()))?;
    if to == OrderStatus::Shipped {
        let link = format!("{public_url}{}", links::path(key, &order_id));
        let tracking = order
            .tracking
            .as_deref()
            .map(|t| format!("The carrier's tracking reference is {t}.\n\n"))
            .unwrap_or_default();
        let mail = crate::notify::Mail {
            subject: format!("Your order {number} is on its way"),
            text: format!(
                "Good day,\n\nYour parcel from Atelier Arôme has left the atelier and is travelling to you.\n\n{tracking}You can follow your order here:\n{link}\n\nPlease keep the bottles upright once they arrive.\n\nWith our regards,\nThe atelier\n"
            ),
            html: None,
        };
        crate::notify::enqueue(&mut tx, "order_shipped", &format!("order-shipped:{order_id}"), &order.email, &mail)
            .await?;
    }
    tx.commit().await?;
    Ok(order)
}
