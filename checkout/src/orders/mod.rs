//! Orders: their states and every move between them (this module is the only one that writes
//! an order's status), readable numbers, signed links for guests, and the views pages, e-mail
//! and staff see.

pub mod history;
pub mod http;
pub mod links;
mod mine;
mod payment;
pub mod refunds;
mod steps;
mod view;

use std::borrow::Cow;

use sqlx::Row;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;

pub use atelier_domain::OrderStatus;
pub use mine::{claim_guest_orders, erase_personal, for_account, has_undispatched, lines_of, AccountOrder, BoughtLine};
pub use payment::{
    cancel, close, confirmation_mail, pay, refund, settle_kept_refunds, Closing, Payment, Refund, Refunded,
};
pub use steps::{advance, resend, shipped_mail, Resend, Step, StepError};
pub use view::{
    date, find_by_number_or_id, list, load, load_in, name_condition, search, to_pack, written_date, LineView, OrderRow,
    OrderSearch, OrderView,
};

use crate::checkout::pricing::Totals;
use crate::db::{Db, WriteTx};
use crate::error::{ApiError, ApiResult};
use crate::ids::now;

/// What an order holds of the stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StockState {
    /// Held for the order while it awaits payment.
    Reserved,
    /// Sold to it.
    Committed,
    /// Given back.
    Released,
}

impl StockState {
    const ALL: [StockState; 3] = [StockState::Reserved, StockState::Committed, StockState::Released];

    /// The stored name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            StockState::Reserved => "reserved",
            StockState::Committed => "committed",
            StockState::Released => "released",
        }
    }

    /// Reads a stored name.
    fn parse(s: &str) -> Option<StockState> {
        StockState::ALL.into_iter().find(|x| x.as_str() == s)
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
    Ok(number(n))
}

/// An order's readable number from its place in the counter: `AA-<year>-<n>`.
fn number(n: i64) -> String {
    let today = date(now());
    let year = today.split('-').next().unwrap_or("1970");
    format!("AA-{year}-{n:06}")
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
    /// The account it was placed from, when the shopper was signed in.
    pub account_id: Option<&'a str>,
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
    /// When it was opened.
    pub created_at: i64,
}

/// The order awaiting payment for a cart, if there is one.
pub async fn open_for_cart(db: &Db, cart_id: &str) -> Result<Option<OpenOrder>, sqlx::Error> {
    let row = sqlx::query(
        "select order_id, number, checkout_key, payment_session, payment_url, total_minor, expires_at, created_at
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
        created_at: r.get("created_at"),
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
           created_at, updated_at, expires_at, checkout_key, account_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17, $18, $19, $20)",
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
    .bind(new.account_id)
    .execute(&mut ***tx)
    .await?;
    Ok(number)
}

/// An order of bottles paid for elsewhere: a Folio edition, which its subscription paid.
#[derive(Debug)]
pub struct PrepaidOrder<'a> {
    /// Its id.
    pub order_id: &'a str,
    /// The recipient's e-mail.
    pub email: &'a str,
    /// The recipient's name.
    pub name: &'a str,
    /// The address, as JSON (as checkout writes it).
    pub address: &'a serde_json::Value,
    /// ISO country code.
    pub country: &'a str,
    /// ISO currency code (every amount is 0).
    pub currency: &'a str,
    /// The account it ships to, if the recipient has one.
    pub account_id: Option<&'a str>,
    /// The subscription (or gift of the Folio) it ships an edition of.
    pub subscription_id: &'a str,
}

/// How a prepaid order's method of shipping is named.
pub const PREPAID_SHIPPING: &str = "folio";

/// Orders made per statement: well under both engines' limits on bound values.
const PREPAID_ROWS: usize = 100;

/// Makes prepaid orders of the same bottles (one of each line: (SKU, title, size label), in SKU
/// order), paid from the start with their stock taken, ready for the usual fulfil and ship
/// steps: as many of them, from the first, as the stock can serve. Gives their numbers, in
/// order; an empty list (and nothing changed) when not even the first can be served.
///
/// A whole batch costs a few statements (one stock update per SKU, one insert per table), so
/// an edition going to thousands holds the writer for moments at a time.
pub async fn insert_prepaid(
    tx: &mut WriteTx,
    lines: &[(String, String, String)],
    orders: &[PrepaidOrder<'_>],
) -> ApiResult<Vec<String>> {
    if lines.is_empty() || orders.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders =
        |first: usize| (first..first + lines.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    // The fewest bottles left of any line (a line without a stock row has none).
    let sql = format!(
        "select count(*) as found, min(on_hand - reserved) as fewest from stock where sku in ({})",
        placeholders(1)
    );
    let mut count = sqlx::query(&sql);
    for (sku, ..) in lines {
        count = count.bind(sku);
    }
    let row = count.fetch_one(&mut ***tx).await?;
    let found: i64 = row.get("found");
    let fewest: Option<i64> = row.get("fewest");
    let served = if usize::try_from(found).ok() == Some(lines.len()) {
        fewest.unwrap_or(0).clamp(0, i64::try_from(orders.len()).unwrap_or(i64::MAX))
    } else {
        0
    };
    if served == 0 {
        return Ok(Vec::new());
    }
    let sql = format!(
        "update stock set on_hand = on_hand - $1 where sku in ({}) and on_hand - reserved >= $1",
        placeholders(2)
    );
    let mut take = sqlx::query(&sql).bind(served);
    for (sku, ..) in lines {
        take = take.bind(sku);
    }
    if usize::try_from(take.execute(&mut ***tx).await?.rows_affected()).ok() != Some(lines.len()) {
        // Counted just above in this transaction: only a concurrent sale gets here, and the
        // caller's transaction is rolled back with everything it took.
        return Err(ApiError::Conflict("a Folio bottle sold out while its orders were being made".into()));
    }
    let last: i64 = sqlx::query_scalar("update counter set value = value + $1 where name = 'order' returning value")
        .bind(served)
        .fetch_one(&mut ***tx)
        .await?;
    let numbers: Vec<String> = (last - served + 1..=last).map(number).collect();
    let orders = &orders[..numbers.len()];
    let t = now();
    for (chunk, numbers) in orders.chunks(PREPAID_ROWS).zip(numbers.chunks(PREPAID_ROWS)) {
        let sql = format!(
            "insert into customer_order (order_id, number, email, name, address, country, shipping_method, status,
               currency, subtotal_minor, shipping_minor, vat_minor, total_minor, payment_provider, stock_state,
               created_at, updated_at, expires_at, paid_at, account_id, subscription_id) {}",
            crate::db::values(chunk.len(), 21)
        );
        let mut insert = sqlx::query(&sql);
        for (new, number) in chunk.iter().zip(numbers) {
            insert = insert
                .bind(new.order_id)
                .bind(number)
                .bind(new.email)
                .bind(new.name)
                .bind(new.address.to_string())
                .bind(new.country)
                .bind(PREPAID_SHIPPING)
                .bind(OrderStatus::Paid.as_str())
                .bind(new.currency)
                .bind(0_i64)
                .bind(0_i64)
                .bind(0_i64)
                .bind(0_i64)
                .bind(PREPAID_SHIPPING)
                .bind(StockState::Committed.as_str())
                .bind(t)
                .bind(t)
                .bind(t)
                .bind(t)
                .bind(new.account_id)
                .bind(new.subscription_id);
        }
        insert.execute(&mut ***tx).await?;
        let sql = format!(
            "insert into order_item (order_id, sku, title, label, unit_minor, quantity) {}",
            crate::db::values(chunk.len() * lines.len(), 6)
        );
        let mut items = sqlx::query(&sql);
        for new in chunk {
            for (sku, title, label) in lines {
                items = items.bind(new.order_id).bind(sku).bind(title).bind(label).bind(0_i64).bind(1_i64);
            }
        }
        items.execute(&mut ***tx).await?;
    }
    Ok(numbers)
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

/// Records where the shopper pays for an order still awaiting payment; false when it no
/// longer does (closed meanwhile).
pub async fn attach_session(db: &Db, order_id: &str, session: &str, url: &str) -> Result<bool, sqlx::Error> {
    // Through a write transaction: on SQLite that takes the writer lock like every other write.
    let mut tx = db.begin_write().await?;
    let done = sqlx::query(
        "update customer_order set payment_session = $1, payment_url = $2 where order_id = $3 and status = $4",
    )
    .bind(session)
    .bind(url)
    .bind(order_id)
    .bind(OrderStatus::PendingPayment.as_str())
    .execute(&mut **tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
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

/// What the sandbox's events say of a payment session's order: its id, total and currency.
pub async fn charge_of(db: &Db, session: &str) -> Result<Option<(String, i64, String)>, sqlx::Error> {
    sqlx::query_as("select order_id, total_minor, currency from customer_order where payment_session = $1")
        .bind(session)
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

/// The SKUs and quantities of an order.
async fn items(tx: &mut WriteTx, order_id: &str) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows = sqlx::query("select sku, quantity from order_item where order_id = $1 order by sku")
        .bind(order_id)
        .fetch_all(&mut ***tx)
        .await?;
    Ok(rows.into_iter().map(|r| (r.get("sku"), r.get("quantity"))).collect())
}

/// An order as a transition reads it, the order's row locked until the transaction ends (on
/// PostgreSQL; SQLite's writer lock does that): two events about one order are decided one
/// after the other, each seeing what the other did.
struct Locked {
    status: OrderStatus,
    stock_state: StockState,
    refund_needed: bool,
}

/// Reads an order for a transition, locking its row.
async fn lock(tx: &mut WriteTx, order_id: &str) -> Result<Locked, ApiError> {
    let sql =
        format!("select status, stock_state, refund_needed from customer_order where order_id = $1{}", tx.lock_rows());
    let row = sqlx::query(&sql).bind(order_id).fetch_one(&mut ***tx).await?;
    let unknown =
        |what: &str, value: &str| ApiError::Internal(format!("order {order_id} has an unknown {what} `{value}`"));
    let status: String = row.get("status");
    let status = OrderStatus::parse(&status).ok_or_else(|| unknown("status", &status))?;
    let stock_state: String = row.get("stock_state");
    let stock_state = StockState::parse(&stock_state).ok_or_else(|| unknown("stock state", &stock_state))?;
    Ok(Locked { status, stock_state, refund_needed: row.get::<i64, _>("refund_needed") == 1 })
}
