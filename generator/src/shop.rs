//! The shop inside the engine: pages of the Compendium section are essences. Their `[extra]`
//! must read as [`Essence`]s (unique SKUs, positive prices) with known taxonomy terms, and every
//! build writes the catalog export the checkout service syncs from.

use std::collections::HashMap;
use std::path::PathBuf;

use atelier_domain::{
    CatalogEntry, CatalogExport, Currency, Essence, EssenceExtra, FolioEdition, FolioExtra, FolioPlan,
    CATALOG_FORMAT_VERSION,
};

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
    /// The section of the Folio: its `_index.md` names the plans, its pages are editions.
    pub folio: String,
    /// The site's default language: the language the catalog is in.
    pub default_language: String,
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
        let folio = table.get("folio").and_then(|v| v.as_str()).unwrap_or("folio").trim_matches('/').to_string();
        let default_language = config.default_language.clone();
        Ok(Some(ShopConfig { section, currency, terms, folio, default_language }))
    }

    /// Whether a page's relative path is in the Compendium (directly or below). On a
    /// multilingual site only the default language's pages are essences: a translation
    /// (`lavender.fr.md`) is the same bottle told in another language, not another SKU.
    pub fn is_essence(&self, page: &Page) -> bool {
        let relative = &page.file.relative;
        page.file.lang == self.default_language
            && relative.starts_with(&format!("{}/", self.section))
            && !relative.ends_with("_index.md")
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
    if !shop.is_essence(page) {
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
    let folio = read_folio(shop, lib).unwrap_or_default();
    CatalogExport {
        format: CATALOG_FORMAT_VERSION,
        currency: shop.currency,
        essences,
        folio_plans: folio.plans,
        folio_editions: folio.editions,
    }
}

/// The Folio as the catalog exports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Folio {
    /// Its plans, from `[[extra.plans]]` of the section's `_index.md`.
    pub plans: Vec<FolioPlan>,
    /// Its published editions, oldest first.
    pub editions: Vec<FolioEdition>,
}

/// Whether a content file is part of the Folio (its `_index.md` or an edition).
pub fn is_folio(shop: &ShopConfig, relative: &str) -> bool {
    relative.starts_with(&format!("{}/", shop.folio))
}

/// Reads the Folio's plans and editions: each plan's fields, and each edition's essences, which
/// must be essences of the Compendium on sale (an edition's bottle of each is the essence's first
/// size). A site without a Folio section has none.
pub fn read_folio(shop: &ShopConfig, lib: &Library) -> Result<Folio, Vec<Diagnostic>> {
    let index = format!("{}/_index.md", shop.folio);
    let Some(&sid) = lib.section_index.get(&index) else {
        return Ok(Folio::default());
    };
    let section = &lib.sections[sid];
    let mut diagnostics = Vec::new();
    let file = PathBuf::from("content").join(&index);
    // Sections keep no front matter text: it is read again to point at a field at fault.
    let locate = |field: &str| {
        let text = std::fs::read_to_string(&section.file.path).unwrap_or_default();
        crate::front_matter::split(&section.file.path, &text).map(|s| locate_field(&s, field)).unwrap_or(1)
    };
    let plans = match toml::Value::Table(section.meta.extra.clone()).try_into::<FolioExtra>() {
        Err(e) => {
            diagnostics.push(Diagnostic::at(
                &file,
                locate("extra.plans"),
                1,
                format!("front matter: in [[extra.plans]]: {}", e.message().trim()),
            ));
            Vec::new()
        }
        Ok(extra) => match FolioPlan::read_all(&extra, shop.currency) {
            Ok(plans) => plans,
            Err(e) => {
                diagnostics.push(Diagnostic::at(&file, locate(&e.field), 1, format!("front matter: {e}")));
                Vec::new()
            }
        },
    };
    let mut editions = Vec::new();
    for &pid in &section.pages {
        let page = &lib.pages[pid];
        if page.meta.draft || !page.renders() {
            continue;
        }
        let file = PathBuf::from("content").join(&page.file.relative);
        let split = crate::content::page_split(page);
        let mut skus = Vec::new();
        let refs = page.meta.extra.get("essences").and_then(|v| v.as_array()).cloned().unwrap_or_default();
        for (i, r) in refs.iter().enumerate() {
            let field = format!("extra.essences[{i}]");
            let text = r.as_str().unwrap_or_default();
            // The line of this reference inside the (often multi-line) list.
            let line = split
                .front_matter
                .lines()
                .position(|l| !text.is_empty() && l.contains(&format!("\"{text}\"")))
                .map(|n| split.front_matter_line + n)
                .unwrap_or_else(|| locate_field(&split, "extra.essences"));
            let found = lib.page_index.get(text.trim_start_matches("@/"));
            let essence = found.and_then(|&p| lib.pages[p].essence.as_ref().filter(|_| !lib.pages[p].meta.draft));
            match essence {
                Some(e) if e.active && skus.contains(&e.sizes[0].sku.to_string()) => diagnostics.push(Diagnostic::at(
                    &file,
                    line,
                    1,
                    format!("front matter: {field}: {} is listed twice (an edition holds one bottle of each)", e.title),
                )),
                Some(e) if e.active => skus.push(e.sizes[0].sku.to_string()),
                Some(e) => diagnostics.push(Diagnostic::at(
                    &file,
                    line,
                    1,
                    format!("front matter: {field}: {} is not on sale (active = false)", e.title),
                )),
                None => diagnostics.push(Diagnostic::at(
                    &file,
                    line,
                    1,
                    format!(
                        "front matter: {field}: {} is not an essence of the Compendium; write \"@/{}/….md\"",
                        if text.is_empty() { r.to_string() } else { text.to_string() },
                        shop.section
                    ),
                )),
            }
        }
        let Some(date) = &page.date else {
            diagnostics.push(Diagnostic::at(
                &file,
                page.front_matter_line,
                1,
                "a Folio edition needs a `date`: the day it ships",
            ));
            continue;
        };
        editions.push(FolioEdition {
            slug: page.slug.clone(),
            path: page.path.clone(),
            title: page.meta.title.clone().unwrap_or_default(),
            date: date.instant.format("%Y-%m-%d").to_string(),
            skus,
            html: page.content.clone(),
            text: plain_text(&page.content),
        });
    }
    editions.sort_by(|a, b| a.date.cmp(&b.date).then(a.slug.cmp(&b.slug)));
    if diagnostics.is_empty() {
        Ok(Folio { plans, editions })
    } else {
        Err(diagnostics)
    }
}

/// Rendered HTML as plain text for an e-mail's plain part: paragraphs and headings apart, list
/// items as dashes, a link's address after its words, entities decoded, whitespace as a reader
/// sees it.
pub fn plain_text(html: &str) -> String {
    let mut out = String::new();
    let mut href: Vec<Option<String>> = Vec::new();
    let mut pre = 0usize;
    let mut rest = html;
    while !rest.is_empty() {
        let Some(open) = rest.find('<') else {
            push_text(&mut out, rest, pre > 0);
            break;
        };
        push_text(&mut out, &rest[..open], pre > 0);
        let Some(close) = rest[open..].find('>') else {
            push_text(&mut out, &rest[open..], pre > 0);
            break;
        };
        let tag = &rest[open + 1..open + close];
        rest = &rest[open + close + 1..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        match (name.as_str(), closing) {
            ("p" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "ul" | "ol" | "blockquote" | "table" | "div", _) => {
                out.push_str("\n\n")
            }
            ("pre", false) => {
                out.push_str("\n\n");
                pre += 1;
            }
            ("pre", true) => {
                pre = pre.saturating_sub(1);
                out.push_str("\n\n");
            }
            ("br" | "tr", _) => out.push('\n'),
            ("li", false) => out.push_str("\n- "),
            ("a", false) => href.push(attribute(tag, "href")),
            ("a", true) => {
                if let Some(Some(url)) = href.pop() {
                    if url.starts_with("http") && !out.ends_with(&url) {
                        out.push_str(&format!(" ({url})"));
                    }
                }
            }
            _ => {}
        }
    }
    // Lines trimmed, no more than one blank line in a row.
    let mut text = String::new();
    let mut blank = true;
    for line in out.lines().map(str::trim_end) {
        if line.is_empty() {
            if !blank {
                text.push('\n');
            }
            blank = true;
        } else {
            text.push_str(line);
            text.push('\n');
            blank = false;
        }
    }
    text.trim_end().to_string()
}

/// Text between tags, entities decoded; outside `<pre>` runs of whitespace are one space.
fn push_text(out: &mut String, text: &str, pre: bool) {
    let decoded = decode_entities(text);
    if pre {
        out.push_str(&decoded);
        return;
    }
    for (i, word) in decoded.split(|c: char| c.is_ascii_whitespace()).enumerate() {
        if i > 0 && !out.ends_with([' ', '\n']) {
            out.push(' ');
        }
        out.push_str(word);
    }
}

/// A tag's attribute value, entities decoded.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let at = tag.find(&format!("{name}="))? + name.len() + 1;
    let rest = &tag[at..];
    let value = match rest.chars().next()? {
        q @ ('"' | '\'') => rest[1..].split(q).next()?,
        _ => rest.split(|c: char| c.is_ascii_whitespace()).next()?,
    };
    Some(decode_entities(value))
}

/// HTML's named entities that Markdown renderers write, and numeric ones.
fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest.find(';').filter(|&e| e <= 10);
        let decoded = end.and_then(|e| {
            let entity = &rest[1..e];
            let c = match entity {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                "nbsp" => '\u{a0}',
                _ => {
                    let n = entity.strip_prefix('#')?;
                    let code = match n.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => n.parse().ok()?,
                    };
                    char::from_u32(code)?
                }
            };
            Some((c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &rest[e + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod plain_text_tests {
    use super::plain_text;

    #[test]
    fn html_reads_as_plain_text() {
        let html = "<h2 id=\"x\">Spring &amp; its <em>herbs</em></h2>\n<p>Four  essences,\nfrom the\n<a href=\"https://example.com/c/lavender/\">lavender</a> fields.</p>\n<ul>\n<li>One</li>\n<li>Two &#8212; &#x27;three&#x27;</li>\n</ul>\n<pre><code>a  b\n  c\n</code></pre>\n<p>Fin<br>\nend &lt;3 &bogus; &</p>";
        assert_eq!(
            plain_text(html),
            "Spring & its herbs\n\nFour essences, from the lavender (https://example.com/c/lavender/) fields.\n\n- One\n- Two \u{2014} 'three'\n\na  b\n  c\n\nFin\nend <3 &bogus; &"
        );
    }
}
