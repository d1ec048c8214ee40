//! `atelier build`.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;

use atelier_generator::BuildOptions;

use super::stock_from::Outcome;
use crate::cli::BuildArgs;

/// Builds the site and prints a one-line summary.
pub fn run(root: &Path, config: &Path, args: BuildArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    if let Some(url) = &args.stock_from {
        match super::stock_from::fetch(root, url)? {
            Outcome::Fetched(n) => say!("Stock of {n} sizes fetched from {url}"),
            Outcome::KeptCopy(age, why) => eprintln!(
                "warning: no stock from {url} ({why}); the pages show the copy fetched {} min ago",
                age.as_secs() / 60
            ),
            Outcome::Unknown(why) => eprintln!(
                "warning: no stock from {url} ({why}) and no copy of the last {} min: the pages claim no availability",
                super::stock_from::KEEP.as_secs() / 60
            ),
        }
    }
    if let Some(url) = &args.testimonials_from {
        match super::stock_from::fetch_testimonials(root, url) {
            Ok(n) => say!("{n} testimonials fetched from {url}"),
            Err(why) => {
                eprintln!("warning: no testimonials from {url} ({why:#}); data/testimonials.json is left as it is")
            }
        }
    }
    let mut opts = BuildOptions::new(root);
    opts.config_file = config.to_path_buf();
    opts.output_dir = args.output_dir;
    opts.base_url = args.base_url;
    opts.drafts = args.drafts;
    opts.force = args.force;
    opts.progress = std::io::stderr().is_terminal();
    let (site, report) = atelier_generator::build(opts)?;
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    say!(
        "Built {} pages, {} sections, {} taxonomies into {} in {:.2} s ({} files, {} written, {} removed)",
        report.pages,
        report.sections,
        site.taxonomies.len(),
        site.output_dir.display(),
        started.elapsed().as_secs_f64(),
        report.files,
        report.written,
        report.removed,
    );
    Ok(())
}
