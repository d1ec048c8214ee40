//! Catalog sync: the generator's export becomes the `product` table. Identity and prices only;
//! stock is never touched except to give a new SKU its (empty) stock row.

use atelier_domain::{CatalogExport, Currency};
use sqlx::Row;

use crate::db::Db;
use crate::ids::now;

/// What a sync changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Sizes inserted or updated.
    pub upserted: usize,
    /// Sizes no longer in the catalog, now inactive.
    pub deactivated: usize,
    /// The Folio's plans and editions.
    pub folio: crate::folio::FolioSync,
}

/// A sellable size as the service knows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Product {
    /// The size's SKU.
    pub sku: String,
    /// The essence's SKU.
    pub essence_sku: String,
    /// The essence's name.
    pub title: String,
    /// The size, "10 ml".
    pub label: String,
    /// The essence page's path.
    pub path: String,
    /// Price in minor units.
    pub price_minor: i64,
    /// Currency code.
    pub currency: String,
    /// Whether on sale.
    pub active: bool,
}

/// Why a catalog was not loaded.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Some essences are priced in another currency than the catalog: a shop sells in one.
    #[error("the catalog is priced in {catalog}, but {others}: a shop sells in one currency; give every essence's price in {catalog}")]
    MixedCurrencies {
        /// The catalog's currency.
        catalog: &'static str,
        /// The essences that differ, with theirs: `ROSE (USD), …`.
        others: String,
    },
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// The currency the shop sells in: its active products' (the catalog's), euros before any sync.
pub async fn currency(db: &Db) -> Result<Currency, sqlx::Error> {
    let code: Option<String> =
        sqlx::query_scalar("select currency from product where active = 1 limit 1").fetch_optional(&db.pool).await?;
    Ok(code.map(|c| currency_of(&c)).unwrap_or(Currency::Eur))
}

/// The shop's currency held for a few seconds: every page view asks for the cart, and an empty
/// cart's total needs it (a catalog sync that changes it shows within [`CurrencyCache::LIFETIME`]).
#[derive(Debug, Default)]
pub struct CurrencyCache {
    current: std::sync::RwLock<Option<(std::time::Instant, Currency)>>,
}

impl CurrencyCache {
    /// How long a reading is kept.
    pub const LIFETIME: std::time::Duration = std::time::Duration::from_secs(10);

    /// The shop's currency, from the database at most once per [`CurrencyCache::LIFETIME`].
    pub async fn get(&self, db: &Db) -> Result<Currency, sqlx::Error> {
        let held = self.current.read().ok().and_then(|c| *c).filter(|(at, _)| at.elapsed() < Self::LIFETIME);
        if let Some((_, currency)) = held {
            return Ok(currency);
        }
        let currency = currency(db).await?;
        if let Ok(mut c) = self.current.write() {
            *c = Some((std::time::Instant::now(), currency));
        }
        Ok(currency)
    }
}

/// A stored currency code (written by [`sync`] from the catalog's, so always one we know).
pub(crate) fn currency_of(code: &str) -> Currency {
    code.parse().unwrap_or(Currency::Eur)
}

/// Loads a catalog export into the database.
pub async fn sync(db: &Db, catalog: &CatalogExport) -> Result<SyncReport, SyncError> {
    let others: Vec<String> = catalog
        .essences
        .iter()
        .filter(|e| e.currency != catalog.currency)
        .map(|e| format!("{} ({})", e.sku, e.currency.code()))
        .chain(
            catalog
                .folio_plans
                .iter()
                .filter(|p| p.currency != catalog.currency)
                .map(|p| format!("Folio plan {} ({})", p.id, p.currency.code())),
        )
        .collect();
    if !others.is_empty() {
        return Err(SyncError::MixedCurrencies { catalog: catalog.currency.code(), others: others.join(", ") });
    }
    let mut tx = db.begin_write().await?;
    let t = now();
    let mut seen = Vec::new();
    for essence in &catalog.essences {
        for size in &essence.sizes {
            sqlx::query(
                "insert into product (sku, essence_sku, title, label, path, price_minor, currency, active, updated_at)
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 on conflict (sku) do update set essence_sku = excluded.essence_sku, title = excluded.title,
                   label = excluded.label, path = excluded.path, price_minor = excluded.price_minor,
                   currency = excluded.currency, active = excluded.active, updated_at = excluded.updated_at",
            )
            .bind(&size.sku)
            .bind(&essence.sku)
            .bind(&essence.title)
            .bind(&size.label)
            .bind(&essence.path)
            .bind(size.price)
            .bind(essence.currency.code())
            .bind(i64::from(essence.active))
            .bind(t)
            .execute(&mut **tx)
            .await?;
            sqlx::query("insert into stock (sku) values ($1) on conflict (sku) do nothing")
                .bind(&size.sku)
                .execute(&mut **tx)
                .await?;
            seen.push(size.sku.clone());
        }
    }
    let existing: Vec<String> =
        sqlx::query_scalar("select sku from product where active = 1").fetch_all(&mut **tx).await?;
    let mut deactivated = 0;
    for sku in existing.iter().filter(|s| !seen.contains(s)) {
        sqlx::query("update product set active = 0, updated_at = $1 where sku = $2")
            .bind(t)
            .bind(sku)
            .execute(&mut **tx)
            .await?;
        deactivated += 1;
    }
    let folio = crate::folio::sync(&mut tx, &catalog.folio_plans, &catalog.folio_editions).await?;
    tx.commit().await?;
    Ok(SyncReport { upserted: seen.len(), deactivated, folio })
}

/// The product of a SKU, active or not.
pub async fn product(db: &Db, sku: &str) -> Result<Option<Product>, sqlx::Error> {
    let row = sqlx::query(
        "select sku, essence_sku, title, label, path, price_minor, currency, active from product where sku = $1",
    )
    .bind(sku)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|r| product_from_row(&r)))
}

pub(crate) fn product_from_row(r: &sqlx::any::AnyRow) -> Product {
    Product {
        sku: r.get("sku"),
        essence_sku: r.get("essence_sku"),
        title: r.get("title"),
        label: r.get("label"),
        path: r.get("path"),
        price_minor: r.get("price_minor"),
        currency: r.get("currency"),
        active: r.get::<i64, _>("active") == 1,
    }
}
