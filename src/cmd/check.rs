//! `atelier check`.

use std::path::Path;
use std::time::{Duration, Instant};

use atelier_generator::BuildOptions;

use crate::cli::CheckArgs;

/// How long an external link is waited for unless `--external` says otherwise.
const DEFAULT_WAIT_SECONDS: f64 = 10.0;

/// Checks the site and prints what was checked.
pub fn run(root: &Path, config: &Path, args: CheckArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut opts = BuildOptions::new(root);
    opts.config_file = config.to_path_buf();
    opts.drafts = args.drafts;
    let wait = (!args.skip_external_links).then(|| args.external.unwrap_or(DEFAULT_WAIT_SECONDS));
    if let Some(s) = wait {
        anyhow::ensure!(s > 0.0 && s.is_finite(), "--external takes a number of seconds above zero");
    }
    let report = atelier_generator::check::check(opts, wait.map(Duration::from_secs_f64))?;
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    let external = if wait.is_some() {
        format!(", {} external links", report.external_checked)
    } else {
        ", external links not checked (--skip-external-links)".to_string()
    };
    say!(
        "Checked {} pages and {} outputs{external}: no problems ({:.2} s)",
        report.pages,
        report.outputs,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
