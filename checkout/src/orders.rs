//! Orders: readable numbers, the state machine, signed links for guests, and the views pages
//! and e-mail show.

use serde::Serialize;
use sqlx::{Any, Row, Transaction};

use crate::config::Secret;
use crate::db::Db;
use crate::pricing::display;

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Waiting for the payment.
    PendingPayment,
    /// Paid: stock taken, confirmation sent.
    Paid,
    /// Packed.
    Fulfilled,
    /// Handed to the carrier.
    Shipped,
    /// Arrived.
    Delivered,
    /// The payment failed or the shopper gave up.
    Cancelled,
    /// The payment window closed.
    Expired,
    /// Money given back.
    Refunded,
}

impl Status {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::PendingPayment => "pending_payment",
            Status::Paid => "paid",
            Status::Fulfilled => "fulfilled",
            Status::Shipped => "shipped",
            Status::Delivered => "delivered",
            Status::Cancelled => "cancelled",
            Status::Expired => "expired",
            Status::Refunded => "refunded",
        }
    }

    /// Reads a stored name.
    pub fn parse(s: &str) -> Option<Status> {
        [
            Status::PendingPayment,
            Status::Paid,
            Status::Fulfilled,
            Status::Shipped,
            Status::Delivered,
            Status::Cancelled,
            Status::Expired,
            Status::Refunded,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }

    /// What the shopper reads.
    pub fn label(self) -> &'static str {
        match self {
            Status::PendingPayment => "Awaiting payment",
            Status::Paid => "Paid — being prepared at the atelier",
            Status::Fulfilled => "Packed and ready to leave",
            Status::Shipped => "On its way",
            Status::Delivered => "Delivered",
            Status::Cancelled => "Cancelled",
            Status::Expired => "Expired — the payment window closed",
            Status::Refunded => "Refunded",
        }
    }
}

/// The next readable order number, `AA-2026-000042`.
pub async fn next_number(tx: &mut Transaction<'static, Any>) -> Result<String, sqlx::Error> {
    let n: i64 = sqlx::query_scalar("update counter set value = value + 1 where name = 'order' returning value")
        .fetch_one(&mut **tx)
        .await?;
    let today = date(crate::ids::now());
    let year = today.split('-').next().unwrap_or("1970");
    Ok(format!("AA-{year}-{n:06}"))
}

/// The token in an order's link, so a guest can follow it without an account.
pub fn token(key: &Secret, order_id: &str) -> String {
    crate::security::sign(key, "order", order_id)
}

/// Whether a token opens that order (compared in constant time).
pub fn token_matches(key: &Secret, order_id: &str, given: &str) -> bool {
    crate::security::signature_matches(key, "order", order_id, given)
}

/// A line of an order as shown.
#[derive(Debug, Clone, Serialize)]
pub struct LineView {
    /// Size SKU.
    pub sku: String,
    /// Essence name.
    pub title: String,
    /// Size.
    pub label: String,
    /// How many.
    pub quantity: i64,
    /// `€24.00`.
    pub unit_price: String,
    /// `€48.00`.
    pub line_total: String,
}

/// An order as pages, e-mail and the API show it.
#[derive(Debug, Clone, Serialize)]
pub struct OrderView {
    /// Internal id.
    pub order_id: String,
    /// Readable number.
    pub number: String,
    /// Status name.
    pub status: String,
    /// Status for people.
    pub status_label: String,
    /// Shopper's e-mail.
    pub email: String,
    /// Lines.
    pub items: Vec<LineView>,
    /// `€…` strings.
    pub subtotal: String,
    /// Shipping.
    pub shipping: String,
    /// VAT included.
    pub vat: String,
    /// Total.
    pub total: String,
    /// Total in minor units.
    pub total_minor: i64,
    /// Currency code.
    pub currency: String,
    /// Name and address, one line each.
    pub address: String,
    /// Creation date, `2026-11-22`.
    pub created: String,
    /// The payment session.
    pub payment_session: Option<String>,
    /// Where the shopper pays (while the order awaits payment).
    pub payment_url: Option<String>,
    /// The carrier's tracking reference, once shipped.
    pub tracking: Option<String>,
    /// The payment must be given back (it came after the stock had gone).
    pub refund_needed: bool,
}

/// Loads an order by id.
pub async fn load(db: &Db, order_id: &str) -> Result<Option<OrderView>, sqlx::Error> {
    let mut conn = db.pool.acquire().await?;
    load_with(&mut conn, order_id).await
}

/// Loads an order inside a transaction (which sees its own changes).
pub async fn load_in(tx: &mut crate::db::WriteTx, order_id: &str) -> Result<Option<OrderView>, sqlx::Error> {
    load_with(&mut tx.tx, order_id).await
}

async fn load_with(conn: &mut sqlx::AnyConnection, order_id: &str) -> Result<Option<OrderView>, sqlx::Error> {
    let Some(r) = sqlx::query(
        "select order_id, number, status, email, name, address, currency, subtotal_minor, shipping_minor, vat_minor, total_minor,
                created_at, payment_session, payment_url, tracking, refund_needed from customer_order where order_id = $1",
    )
    .bind(order_id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let items =
        sqlx::query("select sku, title, label, unit_minor, quantity from order_item where order_id = $1 order by sku")
            .bind(order_id)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(|i| {
                let unit: i64 = i.get("unit_minor");
                let q: i64 = i.get("quantity");
                LineView {
                    sku: i.get("sku"),
                    title: i.get("title"),
                    label: i.get("label"),
                    quantity: q,
                    unit_price: display(unit),
                    line_total: display(unit * q),
                }
            })
            .collect();
    let status: String = r.get("status");
    let address: serde_json::Value = serde_json::from_str(&r.get::<String, _>("address")).unwrap_or_default();
    let lines: Vec<String> = std::iter::once(r.get::<String, _>("name"))
        .chain(
            ["line1", "line2", "postal_code_city", "country_name"]
                .iter()
                .filter_map(|k| address.get(*k).and_then(|v| v.as_str()).map(str::to_string)),
        )
        .filter(|l| !l.trim().is_empty())
        .collect();
    let created: i64 = r.get("created_at");
    Ok(Some(OrderView {
        order_id: r.get("order_id"),
        number: r.get("number"),
        status_label: Status::parse(&status).map(Status::label).unwrap_or("Unknown").to_string(),
        status,
        email: r.get("email"),
        items,
        subtotal: display(r.get("subtotal_minor")),
        shipping: display(r.get("shipping_minor")),
        vat: display(r.get("vat_minor")),
        total: display(r.get("total_minor")),
        total_minor: r.get("total_minor"),
        currency: r.get("currency"),
        address: lines.join("\n"),
        created: date(created),
        payment_session: r.get("payment_session"),
        payment_url: r.get("payment_url"),
        tracking: r.get("tracking"),
        refund_needed: r.get::<i64, _>("refund_needed") == 1,
    }))
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
    fn moves(&self) -> (&'static [&'static str], Status) {
        match self {
            Step::Fulfil => (&["paid"], Status::Fulfilled),
            Step::Ship { .. } => (&["paid", "fulfilled"], Status::Shipped),
            Step::Deliver => (&["shipped"], Status::Delivered),
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
    #[error(transparent)]
    Database(#[from] sqlx::Error),
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
    let name = match step {
        Step::Fulfil => "fulfil",
        Step::Ship { .. } => "ship",
        Step::Deliver => "deliver",
    };
    let wrong =
        |status: String| StepError::WrongState { number: number.clone(), status, step: name, from: from.join(" or ") };
    if !from.contains(&status.as_str()) {
        return Err(wrong(status));
    }
    let t = crate::ids::now();
    let mut tx = db.begin_write().await?;
    let moved = sqlx::query(
        "update customer_order set status = $1, updated_at = $2,
           tracking = coalesce($3, tracking),
           shipped_at = case when $1 = 'shipped' then $2 else shipped_at end,
           delivered_at = case when $1 = 'delivered' then $2 else delivered_at end
         where order_id = $4 and status = $5",
    )
    .bind(to.as_str())
    .bind(t)
    .bind(match step {
        Step::Ship { tracking } => tracking.as_deref().map(str::trim).filter(|s| !s.is_empty()),
        _ => None,
    })
    .bind(&order_id)
    .bind(&status)
    .execute(&mut **tx)
    .await?;
    if moved.rows_affected() == 0 {
        let now: String = sqlx::query_scalar("select status from customer_order where order_id = $1")
            .bind(&order_id)
            .fetch_one(&mut **tx)
            .await?;
        return Err(wrong(now));
    }
    let order = load_in(&mut tx, &order_id).await?.ok_or_else(|| StepError::NotFound(order_id.clone()))?;
    if to == Status::Shipped {
        let link = format!("{public_url}/orders/{order_id}?token={}", token(key, &order_id));
        let tracking = order
            .tracking
            .as_deref()
            .map(|t| format!("The carrier's tracking reference is {t}.\n\n"))
            .unwrap_or_default();
        let mail = crate::mail::Mail {
            subject: format!("Your order {number} is on its way"),
            text: format!(
                "Good day,\n\nYour parcel from Atelier Arôme has left the atelier and is travelling to you.\n\n{tracking}You can follow your order here:\n{link}\n\nPlease keep the bottles upright once they arrive.\n\nWith our regards,\nThe atelier\n"
            ),
            html: None,
        };
        crate::mail::enqueue(&mut tx, "order_shipped", &format!("order-shipped:{order_id}"), &order.email, &mail)
            .await?;
    }
    tx.commit().await?;
    Ok(order)
}

/// An order as the staff's list shows it.
#[derive(Debug, Clone)]
pub struct OrderRow {
    /// Readable number.
    pub number: String,
    /// Status name.
    pub status: String,
    /// Shopper's e-mail.
    pub email: String,
    /// Total in minor units.
    pub total_minor: i64,
    /// Unix seconds.
    pub created_at: i64,
}

/// Orders for staff, newest first, optionally of one status.
pub async fn list(db: &Db, status: Option<&str>, limit: i64) -> Result<Vec<OrderRow>, sqlx::Error> {
    let rows = sqlx::query(
        "select number, status, email, total_minor, created_at from customer_order
         where ($1 = '' or status = $1) order by created_at desc, number desc limit $2",
    )
    .bind(status.unwrap_or(""))
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| OrderRow {
            number: r.get("number"),
            status: r.get("status"),
            email: r.get("email"),
            total_minor: r.get("total_minor"),
            created_at: r.get("created_at"),
        })
        .collect())
}

/// `YYYY-MM-DD` of a unix time (UTC), without a date library.
pub fn date(t: i64) -> String {
    let days = t.div_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_tokens() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(1_795_305_600), "2026-11-22");
        let key = Secret::new("k");
        let t = token(&key, "ord_1");
        assert!(token_matches(&key, "ord_1", &t));
        assert!(!token_matches(&key, "ord_2", &t));
        assert!(!token_matches(&key, "ord_1", "short"));
        assert_eq!(Status::parse("paid"), Some(Status::Paid));
    }
}
