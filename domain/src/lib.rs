//! The shop's shared vocabulary: what an essence, a SKU and a price are, for the generator and
//! the checkout service alike. Nothing about a product is defined twice.

mod catalog;
mod essence;
mod folio;
mod money;
mod order;
mod sku;

pub use catalog::{CatalogEntry, CatalogExport, CatalogSize, CATALOG_FORMAT_VERSION};
pub use essence::{Essence, EssenceError, EssenceExtra, FieldError, Notes, PriceText, Size, SizeExtra};
pub use folio::{
    add_months, civil, ships_at, Cadence, FolioEdition, FolioExtra, FolioPlan, FolioPlanExtra, SubscriptionStatus,
};
pub use money::{Currency, Money, MoneyError};
pub use order::OrderStatus;
pub use sku::{Sku, SkuError};
