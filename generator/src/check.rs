//! `atelier check`: everything a build verifies (front matter, internal links and anchors, SKUs,
//! prices, taxonomy terms, templates), without writing; external links only when asked.

use std::process::Command;
use std::time::Duration;

use rayon::prelude::*;

use crate::error::{Diagnostic, Error, Result};
use crate::site::{BuildOptions, Site};

/// What `check` found.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// Pages checked.
    pub pages: usize,
    /// Outputs rendered in memory.
    pub outputs: usize,
    /// External links checked.
    pub external_checked: usize,
    /// Remarks.
    pub warnings: Vec<String>,
}

/// Loads the site and renders every output in memory; then checks external links if asked.
pub fn check(opts: BuildOptions, external_timeout: Option<Duration>) -> Result<CheckReport> {
    let site = Site::load(opts)?;
    let mut plans = site.plan();
    crate::render::resolve_collisions(&mut plans)?;
    let diagnostics: Vec<Diagnostic> = plans
        .par_iter()
        .filter_map(|p| site.render_job(&p.job).err())
        .flat_map_iter(|e| match e {
            Error::Site(d) => d,
            other => vec![Diagnostic::file("<output>", other.to_string())],
        })
        .collect();
    if !diagnostics.is_empty() {
        let mut d = diagnostics;
        d.sort_by(|a, b| a.file.cmp(&b.file).then(a.line.cmp(&b.line)));
        d.dedup();
        return Err(Error::Site(d));
    }
    let mut report = CheckReport {
        pages: site.page_count(),
        outputs: plans.len(),
        warnings: site.warnings.clone(),
        ..Default::default()
    };
    if let Some(timeout) = external_timeout {
        let d = check_external(&site, timeout, &mut report);
        if !d.is_empty() {
            return Err(Error::Site(d));
        }
    }
    Ok(report)
}

fn check_external(site: &Site, timeout: Duration, report: &mut CheckReport) -> Vec<Diagnostic> {
    let skip = &site.config.link_checker.skip_prefixes;
    let mut links: Vec<(String, String, usize)> = Vec::new();
    let lib = &site.library;
    let sources = lib
        .pages
        .iter()
        .map(|p| (&p.file.relative, &p.external_links))
        .chain(lib.sections.iter().map(|s| (&s.file.relative, &s.external_links)));
    for (file, list) in sources {
        for (url, line) in list {
            if !skip.iter().any(|s| url.starts_with(s.as_str())) {
                links.push((url.clone(), file.clone(), *line));
            }
        }
    }
    let mut urls: Vec<&String> = links.iter().map(|(u, _, _)| u).collect();
    urls.sort();
    urls.dedup();
    report.external_checked = urls.len();
    let results: std::collections::HashMap<&String, std::result::Result<(), String>> =
        urls.par_iter().map(|u| (*u, fetch_status(u, timeout))).collect();
    let mut out = Vec::new();
    for (url, file, line) in &links {
        if let Some(Err(reason)) = results.get(url) {
            out.push(Diagnostic::at(format!("content/{file}"), *line, 1, format!("external link {url}: {reason}")));
        }
    }
    out
}

/// Asks for a URL with `curl` and says whether it answered 2xx or 3xx in time.
fn fetch_status(url: &str, timeout: Duration) -> std::result::Result<(), String> {
    let secs = format!("{:.1}", timeout.as_secs_f64());
    let out = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-L", "--max-time", &secs, "-w", "%{http_code}", "--", url])
        .output()
        .map_err(|e| format!("cannot run curl to check it ({e})"))?;
    let code = String::from_utf8_lossy(&out.stdout).trim().to_string();
    match code.parse::<u16>() {
        Ok(c) if (200..400).contains(&c) => Ok(()),
        Ok(0) | Err(_) => Err(format!("no answer within {secs} s ({})", String::from_utf8_lossy(&out.stderr).trim())),
        Ok(c) => Err(format!("answered HTTP {c}")),
    }
}
