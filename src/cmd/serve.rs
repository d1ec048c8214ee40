//! `atelier serve`.

use std::path::Path;

use crate::cli::ServeArgs;

/// Serves the site with live reload.
pub fn run(_root: &Path, _config: &Path, _args: ServeArgs) -> anyhow::Result<()> {
    anyhow::bail!("serve is being written")
}
