use serde::{Deserialize, Serialize};

use crate::{Currency, Essence, FolioEdition, FolioPlan};

/// Version of the catalog export format; bumped on any incompatible change.
pub const CATALOG_FORMAT_VERSION: u32 = 1;

/// The catalog the generator writes and the checkout service syncs from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogExport {
    /// [`CATALOG_FORMAT_VERSION`] of the writer.
    pub format: u32,
    /// The currency of every price.
    pub currency: Currency,
    /// Every essence, drafts excluded, in SKU order.
    pub essences: Vec<CatalogEntry>,
    /// The Folio's plans, as its section names them (none in a catalog written before them).
    #[serde(default)]
    pub folio_plans: Vec<FolioPlan>,
    /// The Folio's published editions, oldest first.
    #[serde(default)]
    pub folio_editions: Vec<FolioEdition>,
}

/// One essence in the catalog export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogEntry {
    /// The essence's SKU.
    pub sku: String,
    /// The page's slug.
    pub slug: String,
    /// The page's path on the site, `/compendium/provence-lavender/`.
    pub path: String,
    /// The essence's name.
    pub title: String,
    /// Botanical name.
    pub latin_name: String,
    /// Price of the first size, in minor units.
    pub price: i64,
    /// The currency of the prices.
    pub currency: Currency,
    /// The sizes on sale.
    pub sizes: Vec<CatalogSize>,
    /// Whether it is on sale.
    pub active: bool,
}

/// One size in the catalog export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogSize {
    /// The size's SKU.
    pub sku: String,
    /// "10 ml".
    pub label: String,
    /// Price in minor units.
    pub price: i64,
}

impl CatalogEntry {
    /// The export entry of an essence found at `path` on the site.
    pub fn new(essence: &Essence, slug: &str, path: &str) -> Self {
        CatalogEntry {
            sku: essence.sku.to_string(),
            slug: slug.to_owned(),
            path: path.to_owned(),
            title: essence.title.clone(),
            latin_name: essence.latin_name.clone(),
            price: essence.price.minor,
            currency: essence.price.currency,
            sizes: essence
                .sizes
                .iter()
                .map(|s| CatalogSize { sku: s.sku.to_string(), label: s.label.clone(), price: s.price.minor })
                .collect(),
            active: essence.active,
        }
    }
}
