//! Orders as pages, e-mail, the API and staff see them.

use serde::Serialize;
use sqlx::Row;

use super::{OrderStatus, StatusName};
use crate::checkout::pricing::display;
use crate::db::Db;
use crate::ids::now;

/// A line of an order as shown.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OrderView {
    /// Internal id.
    pub order_id: String,
    /// Readable number.
    pub number: String,
    /// Where it is in its life.
    #[schema(value_type = StatusName)]
    pub status: OrderStatus,
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
    /// The billing address, one line each, when not the delivery address.
    pub billing_address: Option<String>,
    /// The telephone number for the courier, when given.
    pub phone: Option<String>,
    /// Creation date, `2026-11-22`.
    pub created: String,
    /// Creation date as the site writes dates, `22 November 2026`.
    pub placed_on: String,
    /// The payment session.
    pub payment_session: Option<String>,
    /// Where the shopper pays (while the order awaits payment).
    pub payment_url: Option<String>,
    /// The carrier's tracking reference, once shipped.
    pub tracking: Option<String>,
    /// The payment must be given back (it came after the stock had gone).
    pub refund_needed: bool,
    /// How much of the payment has gone back, `€12.00`, once any has.
    pub refunded: Option<String>,
}

/// Loads an order by id.
pub async fn load(db: &Db, order_id: &str) -> Result<Option<OrderView>, sqlx::Error> {
    let mut conn = db.pool.acquire().await?;
    load_with(&mut conn, order_id).await
}

/// Loads an order by its number or its id.
pub async fn find_by_number_or_id(db: &Db, number: &str) -> Result<Option<OrderView>, sqlx::Error> {
    let id: Option<String> =
        sqlx::query_scalar("select order_id from customer_order where number = $1 or order_id = $1")
            .bind(number.trim())
            .fetch_optional(&db.pool)
            .await?;
    match id {
        Some(id) => load(db, &id).await,
        None => Ok(None),
    }
}

/// Every paid order not yet packed, oldest first: what the pick list and packing slips hold.
pub async fn to_pack(db: &Db) -> Result<Vec<OrderView>, sqlx::Error> {
    let ids: Vec<String> =
        sqlx::query_scalar("select order_id from customer_order where status = $1 order by created_at, order_id")
            .bind(OrderStatus::Paid.as_str())
            .fetch_all(&db.pool)
            .await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.extend(load(db, &id).await?);
    }
    Ok(out)
}

/// Loads an order inside a transaction (which sees its own changes).
pub async fn load_in(tx: &mut crate::db::WriteTx, order_id: &str) -> Result<Option<OrderView>, sqlx::Error> {
    load_with(&mut tx.tx, order_id).await
}

async fn load_with(conn: &mut sqlx::AnyConnection, order_id: &str) -> Result<Option<OrderView>, sqlx::Error> {
    let Some(r) = sqlx::query(
        "select order_id, number, status, email, name, address, currency, subtotal_minor, shipping_minor, vat_minor, total_minor,
                created_at, payment_session, payment_url, tracking, refund_needed, refunded_minor from customer_order where order_id = $1",
    )
    .bind(order_id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let currency = crate::catalog::currency_of(&r.get::<String, _>("currency"));
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
                    unit_price: display(unit, currency),
                    line_total: display(unit * q, currency),
                }
            })
            .collect();
    let status: String = r.get("status");
    let status = OrderStatus::parse(&status)
        .ok_or_else(|| sqlx::Error::Decode(format!("order {order_id} has an unknown status `{status}`").into()))?;
    let address: serde_json::Value = serde_json::from_str(&r.get::<String, _>("address")).unwrap_or_default();
    let lines = address_lines(r.get::<String, _>("name"), &address);
    let billing = address
        .get("billing")
        .filter(|b| b.is_object())
        .map(|b| address_lines(b.get("name").and_then(|n| n.as_str()).unwrap_or_default().to_string(), b).join("\n"));
    let phone = address.get("phone").and_then(|p| p.as_str()).filter(|p| !p.is_empty()).map(str::to_string);
    let created: i64 = r.get("created_at");
    Ok(Some(OrderView {
        order_id: r.get("order_id"),
        number: r.get("number"),
        status_label: status.label().to_string(),
        status,
        email: r.get("email"),
        items,
        subtotal: display(r.get("subtotal_minor"), currency),
        shipping: display(r.get("shipping_minor"), currency),
        vat: display(r.get("vat_minor"), currency),
        total: display(r.get("total_minor"), currency),
        total_minor: r.get("total_minor"),
        currency: r.get("currency"),
        address: lines.join("\n"),
        billing_address: billing,
        phone,
        created: date(created),
        placed_on: written_date(created),
        payment_session: r.get("payment_session"),
        payment_url: r.get("payment_url"),
        tracking: r.get("tracking"),
        refund_needed: r.get::<i64, _>("refund_needed") == 1,
        refunded: Some(r.get::<i64, _>("refunded_minor")).filter(|m| *m > 0).map(|m| display(m, currency)),
    }))
}

/// An order as the staff's list shows it.
#[derive(Debug, Clone, Serialize)]
pub struct OrderRow {
    /// Internal id (the list's place marker).
    pub order_id: String,
    /// Readable number.
    pub number: String,
    /// Status name.
    pub status: String,
    /// Shopper's e-mail.
    pub email: String,
    /// Shopper's name.
    pub name: String,
    /// Total in minor units.
    pub total_minor: i64,
    /// The total's currency.
    #[serde(skip)]
    pub currency: atelier_domain::Currency,
    /// Unix seconds.
    pub created_at: i64,
    /// The payment must be given back.
    pub refund_needed: bool,
}

/// What staff look for in the order list.
#[derive(Debug, Clone, Default)]
pub struct OrderSearch {
    /// A number (or its end: `42` finds AA-2026-000042), an e-mail address, or part of a name.
    pub text: Option<String>,
    /// Only orders in this state.
    pub status: Option<OrderStatus>,
    /// Only orders whose payment must be given back.
    pub refund_needed: bool,
    /// Placed on or after (unix seconds).
    pub from: Option<i64>,
    /// Placed before (unix seconds).
    pub until: Option<i64>,
    /// Older than this order (created_at, order_id): the next page.
    pub after: Option<(i64, String)>,
}

/// Orders for staff, newest first, optionally of one status.
pub async fn list(db: &Db, status: Option<OrderStatus>, limit: i64) -> Result<Vec<OrderRow>, sqlx::Error> {
    search(db, &OrderSearch { status, ..OrderSearch::default() }, limit).await
}

/// What a search's text looks for, each by the index that finds it.
enum Looking {
    /// Nothing: the newest orders (the `created_at` index).
    Anything,
    /// Orders of an address (the `email` index).
    Email(String),
    /// One order by its number, typed whole or as its counter's digits (`42` is
    /// AA-<year>-000042, whichever year it was placed: the `number` index).
    Number(Vec<String>),
    /// Part of a name, as a `LIKE` pattern (lowercased): the trigram index (see
    /// [`name_condition`]).
    Name(String),
}

/// The condition (on `customer_order`) that finds orders whose name holds `$n` (a `%…%` pattern of lowercase text):
/// on PostgreSQL `lower(name)` through its trigram index; on SQLite its trigram index
/// `order_name_search` (which also folds letters beyond ASCII), unless the text holds a
/// wildcard of `LIKE`'s or is too short for trigrams, which read every order instead.
pub fn name_condition(engine: crate::db::Engine, pattern: &str, n: usize) -> String {
    let plain = pattern.trim_matches('%');
    let indexable = plain.chars().count() >= 3 && !plain.contains(['%', '_', '\\']);
    match engine {
        crate::db::Engine::Postgres => format!("lower(name) like ${n} escape '\\'"),
        // A phrase of the text: the trigram tokenizer matches it anywhere in a name, folding
        // case beyond ASCII (its LIKE would fold ASCII only).
        crate::db::Engine::Sqlite if indexable => format!(
            "order_id in (select s.order_id from order_name_search join order_search s on s.n = order_name_search.rowid
             where order_name_search match '\"' || replace(trim(${n}, '%'), '\"', '\"\"') || '\"')"
        ),
        // SQLite's LIKE ignores ASCII case by itself.
        crate::db::Engine::Sqlite => format!("name like ${n} escape '\\'"),
    }
}

fn looking(text: &str) -> Looking {
    // Control characters are no part of a name or an address (and a NUL ends FTS5's query).
    let text: String = text.chars().filter(|c| !c.is_control()).collect();
    let text = text.trim().to_lowercase();
    if text.is_empty() {
        return Looking::Anything;
    }
    if text.contains('@') {
        return Looking::Email(text);
    }
    if text.starts_with("aa-") {
        return Looking::Number(vec![text.to_uppercase()]);
    }
    if text.len() <= 12 && text.chars().all(|c| c.is_ascii_digit()) {
        let n: i64 = text.parse().unwrap_or(0);
        let (this_year, _, _) = atelier_domain::civil(now());
        return Looking::Number((2020..=this_year + 1).map(|y| format!("AA-{y}-{n:06}")).collect());
    }
    Looking::Name(format!("%{}%", crate::db::like_escaped(&text)))
}

/// Orders for staff matching a search, newest first.
pub async fn search(db: &Db, q: &OrderSearch, limit: i64) -> Result<Vec<OrderRow>, sqlx::Error> {
    let looking = looking(q.text.as_deref().unwrap_or(""));
    let (after_at, after_id) = q.after.clone().unwrap_or((i64::MAX, String::new()));
    let text_condition = match &looking {
        Looking::Anything => String::new(),
        Looking::Email(_) => "and email = $8".into(),
        Looking::Number(candidates) => {
            let marks: Vec<String> = (0..candidates.len()).map(|k| format!("${}", k + 8)).collect();
            format!("and number in ({})", marks.join(", "))
        }
        Looking::Name(pattern) => format!("and {}", name_condition(db.engine, pattern, 8)),
    };
    let sql = format!(
        "select order_id, number, status, email, name, total_minor, currency, created_at, refund_needed from customer_order
         where ($1 = '' or status = $1)
           and ($2 = 0 or refund_needed = 1)
           and created_at >= $3 and created_at < $4
           and (created_at < $5 or (created_at = $5 and $6 <> '' and order_id < $6))
           {text_condition}
         order by created_at desc, order_id desc limit $7"
    );
    let mut query = sqlx::query(&sql)
        .bind(q.status.map(OrderStatus::as_str).unwrap_or(""))
        .bind(i64::from(q.refund_needed))
        .bind(q.from.unwrap_or(0))
        .bind(q.until.unwrap_or(i64::MAX))
        .bind(after_at)
        .bind(after_id)
        .bind(limit);
    match looking {
        Looking::Anything => {}
        Looking::Email(t) | Looking::Name(t) => query = query.bind(t),
        Looking::Number(candidates) => {
            for c in candidates {
                query = query.bind(c);
            }
        }
    }
    let rows = db.fetch_all_planned(query).await?;
    Ok(rows
        .into_iter()
        .map(|r| OrderRow {
            order_id: r.get("order_id"),
            number: r.get("number"),
            status: r.get("status"),
            email: r.get("email"),
            name: r.get("name"),
            total_minor: r.get("total_minor"),
            currency: crate::catalog::currency_of(&r.get::<String, _>("currency")),
            created_at: r.get("created_at"),
            refund_needed: r.get::<i64, _>("refund_needed") == 1,
        })
        .collect())
}

/// A unix time's day (UTC) as the site writes dates: `7 October 2026`.
pub fn written_date(t: i64) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let (y, m, d) = atelier_domain::civil(t);
    format!("{d} {} {y}", MONTHS[(m - 1) as usize])
}

/// `YYYY-MM-DD` of a unix time (UTC), without a date library.
pub fn date(t: i64) -> String {
    let (y, m, d) = atelier_domain::civil(t);
    format!("{y:04}-{m:02}-{d:02}")
}

/// A name and an address kept with an order, one line each (empty lines left out).
fn address_lines(name: String, address: &serde_json::Value) -> Vec<String> {
    std::iter::once(name)
        .chain(
            ["line1", "line2", "postal_code_city", "country_name"]
                .iter()
                .filter_map(|k| address.get(*k).and_then(|v| v.as_str()).map(str::to_string)),
        )
        .filter(|l| !l.trim().is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates() {
        assert_eq!(super::date(0), "1970-01-01");
        assert_eq!(super::date(1_795_305_600), "2026-11-22");
        assert_eq!(super::written_date(1_795_305_600), "22 November 2026");
        assert_eq!(super::written_date(1_791_331_200), "7 October 2026");
        assert_eq!(super::written_date(0), "1 January 1970");
    }
}
