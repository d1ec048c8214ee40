//! Stock: reserved at checkout with one conditional update, released on expiry or cancellation,
//! taken for good when paid. `available = on_hand - reserved` can never go below zero: the
//! updates say so in their `where` clause and the table's checks say so again.

pub mod alerts;
pub mod forecast;
pub mod http;
pub mod purchasing;

use sqlx::{Any, Row, Transaction};

use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::staff::audit::{self, Actor};

/// How much of a SKU can be bought.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Level {
    /// Bottles not reserved.
    pub available: i64,
    /// Bottles on the shelf.
    pub on_hand: i64,
    /// Below or at this, the SKU is low.
    pub threshold: i64,
}

impl Level {
    /// `in_stock`, `low_stock` or `sold_out`.
    pub fn status(&self) -> &'static str {
        if self.available <= 0 {
            "sold_out"
        } else if self.available <= self.threshold {
            "low_stock"
        } else {
            "in_stock"
        }
    }
}

/// The level of one SKU.
pub async fn level(db: &Db, sku: &str) -> Result<Option<Level>, sqlx::Error> {
    let row = sqlx::query("select on_hand, reserved, low_threshold from stock where sku = $1")
        .bind(sku)
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.map(|r| level_from(r.get("on_hand"), r.get("reserved"), r.get("low_threshold"))))
}

fn level_from(on_hand: i64, reserved: i64, threshold: i64) -> Level {
    Level { available: on_hand - reserved, on_hand, threshold }
}

/// Levels of every active SKU, or of the given ones.
pub async fn levels(db: &Db, skus: &[String]) -> Result<Vec<(String, Level)>, sqlx::Error> {
    let rows = sqlx::query(
        "select s.sku, s.on_hand, s.reserved, s.low_threshold from stock s join product p on p.sku = s.sku
         where p.active = 1 order by s.sku",
    )
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.get::<String, _>("sku"), level_from(r.get("on_hand"), r.get("reserved"), r.get("low_threshold"))))
        .filter(|(sku, _)| skus.is_empty() || skus.contains(sku))
        .collect())
}

/// Reserves `quantity` of a SKU inside a transaction; fails with 409 when not enough is left.
pub async fn reserve(tx: &mut Transaction<'static, Any>, sku: &str, quantity: i64) -> ApiResult<()> {
    let done = sqlx::query("update stock set reserved = reserved + $1 where sku = $2 and on_hand - reserved >= $1")
        .bind(quantity)
        .bind(sku)
        .execute(&mut **tx)
        .await?;
    if done.rows_affected() == 1 {
        Ok(())
    } else {
        Err(ApiError::Conflict(format!("not enough stock of {sku} left")))
    }
}

/// Gives back a reservation.
pub async fn release(tx: &mut Transaction<'static, Any>, sku: &str, quantity: i64) -> Result<(), sqlx::Error> {
    sqlx::query("update stock set reserved = reserved - $1 where sku = $2 and reserved >= $1")
        .bind(quantity)
        .bind(sku)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Turns a reservation into a sale.
pub async fn commit(tx: &mut Transaction<'static, Any>, sku: &str, quantity: i64) -> Result<(), sqlx::Error> {
    sqlx::query("update stock set on_hand = on_hand - $1, reserved = reserved - $1 where sku = $2 and reserved >= $1")
        .bind(quantity)
        .bind(sku)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Sells without a reservation (a payment that arrived after its reservation expired);
/// false when the stock is gone.
pub async fn take(tx: &mut Transaction<'static, Any>, sku: &str, quantity: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("update stock set on_hand = on_hand - $1 where sku = $2 and on_hand - reserved >= $1")
        .bind(quantity)
        .bind(sku)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether `quantity` of a SKU could be sold now (inside the transaction that will sell it).
pub async fn available_for(tx: &mut Transaction<'static, Any>, sku: &str, quantity: i64) -> Result<bool, sqlx::Error> {
    let left: Option<i64> = sqlx::query_scalar("select on_hand - reserved from stock where sku = $1")
        .bind(sku)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(left.is_some_and(|l| l >= quantity))
}

/// How a staff command changes stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Bottles on the shelf become exactly this.
    Set(i64),
    /// Bottles on the shelf change by this (negative for breakage).
    Adjust(i64),
}

/// Why a staff stock change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// The SKU is not in the database.
    #[error("no SKU {0}: run `atelier catalog sync` after adding it to the Compendium")]
    NotFound(String),
    /// The change would go below zero or below the reserved bottles.
    #[error("{0}: stock cannot go below zero or below what open checkouts have reserved")]
    Below(String),
    /// A change needs its reason.
    #[error("say why the stock changes (a count, breakage, a delivery)")]
    NoReason,
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl From<ChangeError> for ApiError {
    fn from(e: ChangeError) -> ApiError {
        match e {
            ChangeError::NotFound(_) => ApiError::NotFound(e.to_string()),
            ChangeError::Below(_) => ApiError::Conflict(e.to_string()),
            ChangeError::NoReason => ApiError::invalid("reason", e.to_string()),
            ChangeError::Database(e) => ApiError::Database(e),
        }
    }
}

/// Applies a staff stock change; refuses to go below what is reserved or below zero. The
/// change, its reason and who made it go in the stock's ledger and the audit log, in the same
/// transaction.
pub async fn change(db: &Db, sku: &str, change: Change, reason: &str, actor: &Actor) -> Result<Level, ChangeError> {
    let mut tx = db.begin_write().await?;
    change_in(&mut tx, sku, change, reason, actor).await?;
    tx.commit().await?;
    level(db, sku).await?.ok_or_else(|| ChangeError::NotFound(sku.to_string()))
}

/// [`change`] inside a transaction that makes another change with it (a refund's bottles put
/// back, a delivery received against a purchase order).
pub async fn change_in(
    tx: &mut crate::db::WriteTx,
    sku: &str,
    change: Change,
    reason: &str,
    actor: &Actor,
) -> Result<(), ChangeError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(ChangeError::NoReason);
    }
    let before: Option<i64> =
        sqlx::query_scalar(&format!("select on_hand from stock where sku = $1{}", tx.lock_rows()))
            .bind(sku)
            .fetch_optional(&mut ***tx)
            .await?;
    let Some(before) = before else {
        return Err(ChangeError::NotFound(sku.to_string()));
    };
    let done = match change {
        Change::Set(n) => {
            sqlx::query("update stock set on_hand = $1 where sku = $2 and $1 >= reserved and $1 >= 0")
                .bind(n)
                .bind(sku)
                .execute(&mut ***tx)
                .await?
        }
        Change::Adjust(d) => sqlx::query(
            "update stock set on_hand = on_hand + $1 where sku = $2 and on_hand + $1 >= reserved and on_hand + $1 >= 0",
        )
        .bind(d)
        .bind(sku)
        .execute(&mut ***tx)
        .await?,
    };
    if done.rows_affected() != 1 {
        return Err(ChangeError::Below(sku.to_string()));
    }
    let after: i64 =
        sqlx::query_scalar("select on_hand from stock where sku = $1").bind(sku).fetch_one(&mut ***tx).await?;
    let t = crate::ids::now();
    sqlx::query(
        "insert into stock_ledger (entry_id, sku, at, delta, on_hand_after, reason, actor, actor_label)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(crate::ids::new_id("led"))
    .bind(sku)
    .bind(t)
    .bind(after - before)
    .bind(after)
    .bind(reason)
    .bind(actor.key())
    .bind(actor.label())
    .execute(&mut ***tx)
    .await?;
    let audit = audit::Change {
        action: match change {
            Change::Set(_) => "stock.set",
            Change::Adjust(_) => "stock.adjust",
        },
        subject: Some(format!("sku:{sku}")),
        before: Some(serde_json::json!({ "on_hand": before })),
        after: Some(serde_json::json!({ "on_hand": after, "reason": reason })),
    };
    audit::record(tx, actor, audit).await?;
    alerts::after_stock_change(tx, sku).await?;
    Ok(())
}

/// Stocks the shelves of a shop that never had stock nor an order (a new database), `quantity`
/// of every active size, so `atelier serve`'s first look is a working shop; gives how many sizes
/// were stocked (none once any bottle was ever stocked or sold).
pub async fn stock_demo_shelves(db: &Db, quantity: i64) -> Result<u64, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let used: i64 = sqlx::query_scalar(
        "select (select count(*) from customer_order) + (select count(*) from stock where on_hand > 0 or reserved > 0)",
    )
    .fetch_one(&mut **tx)
    .await?;
    if used > 0 {
        return Ok(0);
    }
    let done = sqlx::query("update stock set on_hand = $1 where sku in (select sku from product where active = 1)")
        .bind(quantity)
        .execute(&mut **tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}

/// Every active SKU's level and its rendered JSON member.
pub type Levels = std::sync::Arc<Vec<(String, Level, String)>>;

/// Stock levels held in memory for a moment, so the badge endpoint (every page view asks it)
/// does not query the database each time. Badges may lag by up to the lifetime; carts and
/// checkouts always ask the database.
#[derive(Debug)]
pub struct LevelCache {
    lifetime: std::time::Duration,
    current: std::sync::RwLock<Option<(std::time::Instant, Levels)>>,
    refreshing: tokio::sync::Mutex<()>,
}

impl LevelCache {
    /// A cache whose entries live `lifetime`.
    pub fn new(lifetime: std::time::Duration) -> LevelCache {
        LevelCache { lifetime, current: std::sync::RwLock::new(None), refreshing: tokio::sync::Mutex::new(()) }
    }

    fn fresh(&self) -> Option<Levels> {
        let current = self.current.read().ok()?;
        current.as_ref().filter(|(at, _)| at.elapsed() < self.lifetime).map(|(_, v)| v.clone())
    }

    /// Every active SKU's level with its JSON member (`"SKU":{…}`, rendered once), at most
    /// `lifetime` old; one query refreshes it for everyone.
    pub async fn levels(&self, db: &Db) -> Result<Levels, sqlx::Error> {
        if let Some(v) = self.fresh() {
            return Ok(v);
        }
        let _one_at_a_time = self.refreshing.lock().await;
        if let Some(v) = self.fresh() {
            return Ok(v);
        }
        let v: Levels = std::sync::Arc::new(
            levels(db, &[])
                .await?
                .into_iter()
                .map(|(sku, l)| {
                    let member = serde_json::json!({ "available": l.available.max(0), "status": l.status() });
                    let json = format!("{}:{member}", serde_json::Value::String(sku.clone()));
                    (sku, l, json)
                })
                .collect(),
        );
        if let Ok(mut current) = self.current.write() {
            *current = Some((std::time::Instant::now(), v.clone()));
        }
        Ok(v)
    }
}
