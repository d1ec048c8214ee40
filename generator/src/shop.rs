//! The shop inside the engine: pages of the Compendium section are essences. Their `[extra]`
//! must read as [`Essence`]s (unique SKUs, positive prices) with known taxonomy terms, and every
//! build writes the catalog export the checkout service syncs from.

use std::collections::HashMap;
use std::path::PathBuf;

use atelier_domain::{CatalogEntry, CatalogExport, Currency, Essence, EssenceExtra, CATALOG_FORMAT_VERSION};

use crate::config::Config;
use crate::content::{Library, Page};
use crate::error::Diagnostic;
use crate::front_matter::locate_field;

/// The shop's settings, from `[extra.compendium]` of `config.toml`.
#[derive(Debug, Clone)]
pub struct ShopConfig {
    /// The section whose pages are essences.
    pub section: String,
    /// The currency of every price.
    pub currency: Currency,
    /// Allowed terms per taxonomy; taxonomies not listed accept any term.
    pub terms: HashMap<String, Vec<String>>,
}

/// File name of the catalog export, at the root of the output folder.
pub const CATALOG_FILE: &str = "catalog.json";

impl ShopConfig {
    /// Reads `[extra.compendium]`; a site without it has no shop.
    pub fn from_config(config: &Config) -> Result<Option<ShopConfig>, Diagnostic> {
        let Some(table) = config.extra.get("compendium") else {
            return Ok(None);
        };
        let bad = |m: String| Diagnostic::file("config.toml", format!("[extra.compendium]: {m}"));
        let table = table.as_table().ok_or_else(|| bad("must be a table".into()))?;
        let section =
            table.get("section").and_then(|v| v.as_str()).unwrap_or("compendium").trim_matches('/').to_string();
        let currency = match table.get("currency").and_then(|v| v.as_str()) {
            None => Currency::Eur,
            Some(c) => c.parse().map_err(|e: atelier_domain::MoneyError| bad(e.to_string()))?,
        };
        let mut terms = HashMap::new();
        if let Some(t) = table.get("terms") {
            let t = t.as_table().ok_or_else(|| bad("`terms` must be a table of lists".into()))?;
            for (kind, list) in t {
                if config.taxonomy(kind).is_none() {
                    return Err(bad(format!("terms.{kind}: `{kind}` is not a taxonomy declared in config.toml")));
                }
                let list = list
                    .as_array()
                    .and_then(|a| a.iter().map(|v| v.as_str().map(str::to_string)).collect::<Option<Vec<_>>>())
                    .ok_or_else(|| bad(format!("terms.{kind} must be a list of strings")))?;
                terms.insert(kind.clone(), list);
            }
        }
        Ok(Some(ShopConfig { section, currency, terms }))
    }

    /// Whether a page's relative path is in the Compendium (directly or below).
    pub fn is_essence(&self, relative: &str) -> bool {
        relative.starts_with(&format!("{}/", self.section)) && !relative.ends_with("_index.md")
    }
}

/// Reads every Compendium page as an essence, storing it on the page; returns every problem.
pub fn read_essences(shop: &ShopConfig, lib: &mut Library) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    for page in lib.pages.iter_mut() {
        if let Err(mut d) = read_essence(shop, page) {
            diagnostics.append(&mut d);
        }
    }
    diagnostics.extend(duplicate_skus(lib));
    diagnostics
}

/// Reads one page's essence (none outside the Compendium).
pub fn read_essence(shop: &ShopConfig, page: &mut Page) -> Result<(), Vec<Diagnostic>> {
    page.essence = None;
    if !shop.is_essence(&page.file.relative) {
        return Ok(());
    }
    let mut diagnostics = Vec::new();
    let file = PathBuf::from("content").join(&page.file.relative);
    let split = crate::content::page_split(page);
    let title = page.meta.title.clone().unwrap_or_default();
    if title.trim().is_empty() {
        diagnostics.push(Diagnostic::at(&file, page.front_matter_line, 1, "an essence needs a `title`"));
    }
    let extra: EssenceExtra = match toml::Value::Table(page.meta.extra.clone()).try_into() {
        Ok(e) => e,
        Err(e) => {
            diagnostics.push(Diagnostic::at(
                &file,
                locate_field(&split, "extra"),
                1,
                format!("front matter: in [extra]: {}", e.message().trim()),
            ));
            return Err(diagnostics);
        }
    };
    for (kind, allowed) in &shop.terms {
        for term in page.meta.taxonomies.get(kind).into_iter().flatten() {
            if !allowed.iter().any(|a| a == term) {
                diagnostics.push(Diagnostic::at(
                    &file,
                    locate_field(&split, &format!("taxonomies.{kind}")),
                    1,
                    format!("front matter: unknown {kind} `{term}`: expected one of {}", allowed.join(", ")),
                ));
            }
        }
    }
    match Essence::from_extra(&title, &extra, shop.currency) {
        Err(e) => {
            diagnostics.push(Diagnostic::at(&file, locate_field(&split, &e.field), 1, format!("front matter: {e}")))
        }
        Ok(essence) if diagnostics.is_empty() => page.essence = Some(essence),
        Ok(_) => {}
    }
    if diagnostics.is_empty() {
        Ok(())
    } else {
        Err(diagnostics)
    }
}

/// Every SKU, of essences and of their sizes, belongs to one essence only.
pub fn duplicate_skus(lib: &Library) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    let mut skus: HashMap<&str, &str> = HashMap::new();
    for page in &lib.pages {
        let Some(essence) = &page.essence else { continue };
        let mut own = vec![essence.sku.as_str()];
        own.extend(essence.sizes.iter().map(|s| s.sku.as_str()).filter(|s| *s != essence.sku.as_str()));
        for sku in own {
            if let Some(other) = skus.insert(sku, &page.file.relative) {
                let where_ = if other == page.file.relative {
                    "twice in this file".to_string()
                } else {
                    format!("also in content/{other}")
                };
                let split = crate::content::page_split(page);
                diagnostics.push(Diagnostic::at(
                    PathBuf::from("content").join(&page.file.relative),
                    locate_sku(&split, sku),
                    1,
                    format!("duplicate SKU `{sku}`: {where_}"),
                ));
            }
        }
    }
    diagnostics
}

fn locate_sku(split: &crate::front_matter::Split<'_>, sku: &str) -> usize {
    let quoted = format!("\"{sku}\"");
    let lines: Vec<&str> = split.front_matter.lines().collect();
    lines
        .iter()
        .position(|l| l.trim_start().starts_with("sku") && l.contains(&quoted))
        .or_else(|| lines.iter().position(|l| l.contains(&quoted)))
        .map(|i| split.front_matter_line + i)
        .unwrap_or(split.front_matter_line)
}

/// The catalog export of every essence, in SKU order.
pub fn catalog(shop: &ShopConfig, lib: &Library) -> CatalogExport {
    let mut essences: Vec<CatalogEntry> =
        // Only what a shopper can reach is sold: no drafts (even under `--drafts`), no pages that
        // are not rendered.
        lib.pages
            .iter()
            .filter(|p| !p.meta.draft && p.renders())
            .filter_map(|p| p.essence.as_ref().map(|e| CatalogEntry::new(e, &p.slug, &p.path)))
            .collect();
    essences.sort_by(|a, b| a.sku.cmp(&b.sku));
    CatalogExport { format: CATALOG_FORMAT_VERSION, currency: shop.currency, essences }
}
