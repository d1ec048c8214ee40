//! Guest carts: a random id in a cookie, lines in the database, prices always from the catalog
//! and quantities checked against what is available.

use serde::Serialize;
use sqlx::Row;

use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::ids::{new_id, now};
use crate::pricing::display;

/// At most this many of one size per order.
pub const MAX_PER_LINE: i64 = 12;

/// An amount as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Amount {
    /// Minor units.
    pub amount: i64,
    /// Currency code.
    pub currency: &'static str,
    /// `€24.00`.
    pub display: String,
}

impl Amount {
    /// An amount in euro cents.
    pub fn eur(minor: i64) -> Amount {
        Amount { amount: minor, currency: "EUR", display: display(minor) }
    }
}

/// A cart line.
#[derive(Debug, Clone, Serialize)]
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
#[derive(Debug, Clone, Serialize)]
pub struct Cart {
    /// Lines in SKU order.
    pub items: Vec<Line>,
    /// Bottles in the cart.
    pub count: i64,
    /// Sum of the lines.
    pub subtotal: Amount,
}

/// Reads a cart (an unknown id is an empty cart).
pub async fn load(db: &Db, cart_id: Option<&str>) -> Result<Cart, sqlx::Error> {
    let rows =
        match cart_id {
            None => Vec::new(),
            Some(id) => sqlx::query(
                "select c.sku, c.quantity, p.title, p.label, p.path, p.price_minor, s.on_hand - s.reserved as available
                 from cart_item c join product p on p.sku = c.sku join stock s on s.sku = c.sku
                 where c.cart_id = $1 and p.active = 1 order by c.sku",
            )
            .bind(id)
            .fetch_all(&db.pool)
            .await?,
        };
    let items: Vec<Line> = rows
        .into_iter()
        .map(|r| {
            let q: i64 = r.get("quantity");
            let price: i64 = r.get("price_minor");
            Line {
                sku: r.get("sku"),
                title: r.get("title"),
                label: r.get("label"),
                path: r.get("path"),
                quantity: q,
                unit_price: Amount::eur(price),
                line_total: Amount::eur(price * q),
                available: r.get::<i64, _>("available").clamp(0, MAX_PER_LINE),
            }
        })
        .collect();
    let subtotal = items.iter().map(|l| l.line_total.amount).sum();
    Ok(Cart { count: items.iter().map(|l| l.quantity).sum(), subtotal: Amount::eur(subtotal), items })
}

/// Which cart an edit goes to.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// The shopper's cart, which must still be open.
    Existing(&'a str),
    /// The shopper's cart, or a new one (made in the same transaction) when they have none
    /// yet or theirs is gone.
    OrNew(Option<&'a str>),
}

/// The cart an edit went to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edited {
    /// Its id (the cookie's value).
    pub cart_id: String,
    /// Whether the edit made it, so the cookie must be set.
    pub created: bool,
}

/// How a line changes.
#[derive(Debug, Clone, Copy)]
pub enum Edit {
    /// Add this many.
    Add(i64),
    /// Set to this many (0 removes).
    Set(i64),
}

/// Changes a line, checking the SKU, the quantity and what is available: one write
/// transaction, the cart made in it when needed.
pub async fn edit(db: &Db, target: Target<'_>, sku: &str, edit: Edit) -> ApiResult<Edited> {
    let product = crate::catalog::product(db, sku)
        .await?
        .filter(|p| p.active)
        .ok_or_else(|| ApiError::NotFound(format!("no essence size with SKU {sku}")))?;
    let mut tx = db.begin_write().await?;
    let t = now();
    // Touching the cart tells whether it is still open: a cart checked out and paid is gone,
    // though its cookie may linger in the browser.
    let given = match target {
        Target::Existing(id) => Some(id),
        Target::OrNew(id) => id,
    };
    let mut open = false;
    if let Some(id) = given {
        open = sqlx::query("update cart set updated_at = $1 where cart_id = $2")
            .bind(t)
            .bind(id)
            .execute(&mut **tx)
            .await?
            .rows_affected()
            == 1;
    }
    let (cart_id, created) = match (open, target) {
        (true, _) => (given.unwrap_or_default().to_string(), false),
        (false, Target::Existing(_)) => {
            return Err(ApiError::NotFound(
                "this cart is no longer open (it was checked out); add the essence again".into(),
            ))
        }
        (false, Target::OrNew(_)) => {
            let id = new_id("cart");
            sqlx::query("insert into cart (cart_id, created_at, updated_at) values ($1, $2, $2)")
                .bind(&id)
                .bind(t)
                .execute(&mut **tx)
                .await?;
            (id, true)
        }
    };
    let cart_id = cart_id.as_str();
    let current: i64 = if created {
        0
    } else {
        sqlx::query_scalar("select quantity from cart_item where cart_id = $1 and sku = $2")
            .bind(cart_id)
            .bind(sku)
            .fetch_optional(&mut **tx)
            .await?
            .unwrap_or(0)
    };
    let wanted = match edit {
        Edit::Add(n) if n < 1 => return Err(ApiError::invalid("quantity", "add at least one")),
        Edit::Add(n) => current + n,
        Edit::Set(n) if n < 0 => return Err(ApiError::invalid("quantity", "a quantity cannot be negative")),
        Edit::Set(n) => n,
    };
    if wanted > MAX_PER_LINE {
        return Err(ApiError::invalid("quantity", format!("at most {MAX_PER_LINE} of one size per order")));
    }
    let available: i64 = sqlx::query_scalar("select on_hand - reserved from stock where sku = $1")
        .bind(sku)
        .fetch_optional(&mut **tx)
        .await?
        .unwrap_or(0);
    if wanted > available {
        let what = format!("{} {}", product.title, product.label);
        return Err(ApiError::Conflict(if available <= 0 {
            format!("{what} is sold out")
        } else {
            format!("only {available} of {what} left")
        }));
    }
    if wanted == 0 {
        sqlx::query("delete from cart_item where cart_id = $1 and sku = $2")
            .bind(cart_id)
            .bind(sku)
            .execute(&mut **tx)
            .await?;
    } else {
        sqlx::query("insert into cart_item (cart_id, sku, quantity) values ($1, $2, $3) on conflict (cart_id, sku) do update set quantity = excluded.quantity")
            .bind(cart_id)
            .bind(sku)
            .bind(wanted)
            .execute(&mut **tx)
            .await?;
    }
    tx.commit().await?;
    Ok(Edited { cart_id: cart_id.to_string(), created })
}
