//! `atelier build --stock-from URL`: the stock levels the pages show, fetched from the service
//! just before a production build, so "in stock" is never older than the build. When the
//! service cannot answer, a copy fetched within the last quarter of an hour is used; an older
//! one is set aside, and the pages claim no availability at all rather than a stale one (the
//! essence pages' script still asks the service as a shopper reads them).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::Context;

/// How old a copy may be and still stand in for the service.
pub const KEEP: Duration = Duration::from_secs(15 * 60);

/// What the build got.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The service's levels, written to `data/stock.json`.
    Fetched(usize),
    /// The service did not answer well; the copy of this age was kept.
    KeptCopy(Duration, String),
    /// The service did not answer well and no copy was recent: the pages claim no availability.
    Unknown(String),
}

/// Fetches the levels at `url` into `<root>/data/stock.json`, or falls back as the module says.
pub fn fetch(root: &Path, url: &str) -> anyhow::Result<Outcome> {
    let file = root.join("data").join("stock.json");
    let answer = super::service::runtime()?.block_on(levels(url));
    match answer {
        Ok((text, n)) => {
            std::fs::create_dir_all(root.join("data"))?;
            super::service::write_whole(&file, &text)?;
            Ok(Outcome::Fetched(n))
        }
        Err(why) => {
            let age = std::fs::metadata(&file)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok());
            match age {
                Some(age) if age <= KEEP => Ok(Outcome::KeptCopy(age, why)),
                Some(_) => {
                    let aside: PathBuf = file.with_extension("json.stale");
                    std::fs::rename(&file, &aside).with_context(|| format!("setting aside {}", file.display()))?;
                    Ok(Outcome::Unknown(why))
                }
                None => Ok(Outcome::Unknown(why)),
            }
        }
    }
}

/// The export's text and how many sizes it holds, or why there is none.
async fn levels(url: &str) -> Result<(String, usize), String> {
    let http = atelier_checkout::http::outbound::Http::new();
    let answer = http.get(url, "application/json").await.map_err(|e| e.to_string())?;
    if !answer.status().is_success() {
        return Err(format!("the service answered {}", answer.status()));
    }
    let value: serde_json::Value =
        serde_json::from_slice(answer.body()).map_err(|e| format!("the answer is not JSON: {e}"))?;
    let items = value
        .get("items")
        .and_then(|i| i.as_object())
        .ok_or("the answer has no `items`: is this the service's /api/stock?")?;
    if let Some((sku, _)) = items.iter().find(|(_, l)| !l.get("status").is_some_and(|s| s.is_string())) {
        return Err(format!("`{sku}` has no status: is this the service's /api/stock?"));
    }
    let text = serde_json::to_string_pretty(&value).map_err(|e| e.to_string())? + "\n";
    Ok((text, items.len()))
}

/// `atelier build --testimonials-from URL`: the approved testimonials, fetched from the
/// service's `/api/testimonials` into `<root>/data/testimonials.json`; gives how many. The
/// answer must be a list of testimonials (a quote and an author each), or nothing is written.
pub fn fetch_testimonials(root: &Path, url: &str) -> anyhow::Result<usize> {
    let text = super::service::runtime()?.block_on(async {
        let http = atelier_checkout::http::outbound::Http::new();
        let answer = http.get(url, "application/json").await.map_err(|e| anyhow::anyhow!("{e}"))?;
        if !answer.status().is_success() {
            anyhow::bail!("the service answered {}", answer.status());
        }
        Ok(answer.body().to_vec())
    })?;
    let list: Vec<atelier_checkout::testimonials::Shown> = serde_json::from_slice(&text)
        .context("the answer is not a list of testimonials: is this the service's /api/testimonials?")?;
    let pretty = serde_json::to_string_pretty(&list)? + "\n";
    std::fs::create_dir_all(root.join("data"))?;
    super::service::write_whole(&root.join("data").join("testimonials.json"), &pretty)?;
    Ok(list.len())
}
