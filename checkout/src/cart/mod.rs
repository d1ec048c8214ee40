//! Guest carts: a random id in a cookie, lines in the database, prices always from the catalog
//! and quantities checked against what is available. Reads go straight to the database; every
//! edit goes through the [`writer::CartWriter`], which commits the edits that arrive together
//! in one transaction.

mod cookie;
pub mod http;
mod merge;
mod notice;
mod reorder;
pub mod writer;

use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use atelier_domain::Currency;

use crate::checkout::pricing::display;
use crate::db::{Db, WriteTx};
use crate::AppState;

pub use cookie::{cart_of, cookie_removal, hand_over, CartCookie, CART_COOKIE};
pub use merge::{adopt, bind};
pub use notice::Notice;
pub use reorder::{reorder, Reordered};
pub use writer::CartWriter;

/// At most this many of one size per order.
pub const MAX_PER_LINE: i64 = 12;

/// How long the cart cookie lives, from the cart's making (it is set once): a cart older than
/// this can no longer be reached and is deleted.
pub const CART_LIFETIME_SECONDS: i64 = 30 * 24 * 3600;

/// Carts deleted in one transaction at most (a few milliseconds of the writer; with one batch
/// every 5 s while there is a backlog, 720,000 an hour).
const PRUNE_BATCH: usize = 1000;

/// Deletes up to [`PRUNE_BATCH`] carts made before `before` (unix seconds), with their lines;
/// gives how many, so a caller with a backlog calls again. The carts are found by a plain
/// read (no index on their age: it would cost every new cart), and only their deletion, by
/// key, takes the writer.
pub async fn prune(db: &Db, before: i64) -> Result<usize, sqlx::Error> {
    // An account's cart lives as long as the account.
    let ids: Vec<String> =
        sqlx::query_scalar("select cart_id from cart where created_at < $1 and account_id is null limit $2")
            .bind(before)
            .bind(PRUNE_BATCH as i64)
            .fetch_all(&db.pool)
            .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let marks: Vec<String> = (2..ids.len() + 2).map(|i| format!("${i}")).collect();
    let sql =
        format!("delete from cart where created_at < $1 and account_id is null and cart_id in ({})", marks.join(", "));
    let mut query = sqlx::query(&sql).bind(before);
    for id in &ids {
        query = query.bind(id);
    }
    let mut tx = db.begin_write().await?;
    let deleted = query.execute(&mut **tx).await?.rows_affected();
    tx.commit().await?;
    Ok(deleted as usize)
}

/// Why a cart edit was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// Text that cannot be a SKU.
    #[error("a SKU has 2 to 40 characters: A-Z, 0-9 and inner hyphens")]
    BadSku,
    /// No size on sale has that SKU.
    #[error("no essence size with SKU {0}")]
    NoSuchSku(String),
    /// The cart was checked out (or has lapsed).
    #[error("this cart is no longer open (it was checked out); add the essence again")]
    Closed,
    /// Adding none.
    #[error("add at least one")]
    AtLeastOne,
    /// A quantity below zero.
    #[error("a quantity cannot be negative")]
    Negative,
    /// More of one size than an order may hold.
    #[error("at most {MAX_PER_LINE} of one size per order")]
    OverLimit,
    /// Adding that many to what the cart holds would be more than an order may hold.
    #[error("the cart holds {in_cart} already: at most {MAX_PER_LINE} of one size per order")]
    WouldExceed {
        /// How many the cart holds.
        in_cart: i64,
    },
    /// None left.
    #[error("{what} is sold out")]
    SoldOut {
        /// The size.
        sku: String,
        /// Its name and size, for people.
        what: String,
    },
    /// Fewer left than asked for.
    #[error("only {available} of {what} left")]
    OnlyLeft {
        /// The size.
        sku: String,
        /// Its name and size, for people.
        what: String,
        /// How many are left.
        available: i64,
    },
    /// The edit could not be saved (the reason is logged).
    #[error("your cart could not be saved ({0}); try again")]
    Unsaved(&'static str),
}

impl From<EditError> for crate::ApiError {
    fn from(e: EditError) -> crate::ApiError {
        use crate::ApiError;
        match e {
            EditError::BadSku => ApiError::invalid("sku", e.to_string()),
            EditError::AtLeastOne | EditError::Negative | EditError::OverLimit => {
                ApiError::invalid("quantity", e.to_string())
            }
            EditError::NoSuchSku(_) | EditError::Closed => ApiError::NotFound(e.to_string()),
            EditError::SoldOut { .. } | EditError::OnlyLeft { .. } | EditError::WouldExceed { .. } => {
                ApiError::Conflict(e.to_string())
            }
            EditError::Unsaved(_) => ApiError::Internal(e.to_string()),
        }
    }
}

/// Deletes a cart once its order is paid (its lines go with it).
pub async fn remove(tx: &mut WriteTx, cart_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("delete from cart where cart_id = $1").bind(cart_id).execute(&mut ***tx).await?;
    Ok(())
}

/// An amount as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Amount {
    /// Minor units.
    pub amount: i64,
    /// Its currency (written as its ISO code, `EUR`).
    #[schema(value_type = String, example = "EUR")]
    pub currency: Currency,
    /// `€24.00`.
    pub display: String,
}

impl Amount {
    /// An amount in minor units of a currency.
    pub fn new(minor: i64, currency: Currency) -> Amount {
        Amount { amount: minor, currency, display: display(minor, currency) }
    }
}

/// A cart line.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Line {
    /// Size SKU.
    pub sku: String,
    /// Essence name.
    pub title: String,
    /// Size.
    pub label: String,
    /// Essence page path.
    pub path: String,
    /// How many.
    pub quantity: i64,
    /// Price of one.
    pub unit_price: Amount,
    /// Price of the line.
    pub line_total: Amount,
    /// How many could be in the cart at most now.
    pub available: i64,
}

/// A cart as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Cart {
    /// Lines in SKU order.
    pub items: Vec<Line>,
    /// Bottles in the cart.
    pub count: i64,
    /// Sum of the lines.
    pub subtotal: Amount,
}

/// What a line shows of its size: from the catalog and the stock table.
#[derive(Debug, Clone)]
pub(crate) struct Size {
    pub title: String,
    pub label: String,
    pub path: String,
    pub price_minor: i64,
    /// The price's currency.
    pub currency: Currency,
    /// Bottles not reserved.
    pub available: i64,
}

impl Size {
    /// A size from a row of `product` (title, label, path, price_minor, currency), with how
    /// many can be bought.
    pub(crate) fn from_row(r: &sqlx::any::AnyRow, available: i64) -> Size {
        Size {
            title: r.get("title"),
            label: r.get("label"),
            path: r.get("path"),
            price_minor: r.get("price_minor"),
            currency: crate::catalog::currency_of(&r.get::<String, _>("currency")),
            available,
        }
    }
}

impl Line {
    fn new(sku: String, quantity: i64, size: &Size) -> Line {
        Line {
            sku,
            title: size.title.clone(),
            label: size.label.clone(),
            path: size.path.clone(),
            quantity,
            unit_price: Amount::new(size.price_minor, size.currency),
            line_total: Amount::new(size.price_minor * quantity, size.currency),
            available: size.available.clamp(0, MAX_PER_LINE),
        }
    }
}

impl Cart {
    /// A cart of these lines (in SKU order already), priced in `currency` (every line's).
    pub(crate) fn of(items: Vec<Line>, currency: Currency) -> Cart {
        let subtotal = items.iter().map(|l| l.line_total.amount).sum();
        Cart { count: items.iter().map(|l| l.quantity).sum(), subtotal: Amount::new(subtotal, currency), items }
    }
}

/// A cart as the pages show it.
pub fn view(c: &Cart) -> serde_json::Value {
    json!({
        "items": c.items.iter().map(|l| json!({
            "sku": l.sku, "title": l.title, "label": l.label, "path": l.path, "quantity": l.quantity,
            "unit_price": l.unit_price.display, "line_total": l.line_total.display, "available": l.available,
        })).collect::<Vec<_>>(),
        "count": c.count,
        "subtotal": c.subtotal.display,
        "empty": c.items.is_empty(),
    })
}

/// A size's name (`Provence Lavender, 10 ml`) and how many can be bought now, if it is on sale.
pub async fn size_now(db: &Db, sku: &str) -> Result<Option<(String, i64)>, sqlx::Error> {
    let row = sqlx::query(
        "select p.title, p.label, coalesce(s.on_hand - s.reserved, 0) as available
         from product p left join stock s on s.sku = p.sku where p.sku = $1 and p.active = 1",
    )
    .bind(sku)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|r| (format!("{}, {}", r.get::<String, _>("title"), r.get::<String, _>("label")), r.get("available"))))
}

/// Reads a cart (an unknown id is an empty cart, in the shop's currency).
pub async fn load(state: &AppState, cart_id: Option<&str>) -> Result<Cart, sqlx::Error> {
    let db = &state.db;
    let rows =
        match cart_id {
            None => Vec::new(),
            Some(id) => sqlx::query(
                "select c.sku, c.quantity, p.title, p.label, p.path, p.price_minor, p.currency, s.on_hand - s.reserved as available
                 from cart_item c join product p on p.sku = c.sku join stock s on s.sku = c.sku
                 where c.cart_id = $1 and p.active = 1 order by c.sku",
            )
            .bind(id)
            .fetch_all(&db.pool)
            .await?,
        };
    let lines: Vec<Line> = rows
        .into_iter()
        .map(|r| {
            let size = Size::from_row(&r, r.get("available"));
            Line::new(r.get("sku"), r.get("quantity"), &size)
        })
        .collect();
    let currency = match lines.first() {
        Some(line) => line.unit_price.currency,
        None => state.currency.get(db).await?,
    };
    Ok(Cart::of(lines, currency))
}

/// Which cart an edit goes to.
#[derive(Debug, Clone)]
pub enum Target {
    /// The shopper's cart, which must still be open.
    Existing(String),
    /// The shopper's cart, or a new one (made in the same transaction) when they have none
    /// yet or theirs is gone.
    OrNew(Option<String>),
}

/// The cart an edit went to.
#[derive(Debug, Clone)]
pub struct Edited {
    /// Its id (the cookie's value).
    pub cart_id: String,
    /// Whether the edit made it, so the cookie must be set.
    pub created: bool,
    /// The cart as it is once the edit is committed.
    pub cart: Cart,
}

/// How a line changes.
#[derive(Debug, Clone, Copy)]
pub enum Edit {
    /// Add this many.
    Add(i64),
    /// Set to this many (0 removes).
    Set(i64),
}
