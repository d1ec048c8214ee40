//! `atelier serve`.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use atelier_generator::serve::ServeOptions;
use atelier_generator::BuildOptions;

use crate::cli::ServeArgs;

/// Builds, serves and rebuilds on every edit until Ctrl-C.
pub fn run(root: &Path, config: &Path, args: ServeArgs) -> anyhow::Result<()> {
    let addr: SocketAddr = format!("{}:{}", args.interface, args.port)
        .parse()
        .with_context(|| format!("`{}:{}` is not an address to listen on", args.interface, args.port))?;
    let mut build = BuildOptions::new(root);
    build.config_file = config.to_path_buf();
    build.output_dir = args.output_dir;
    build.drafts = args.drafts;
    build.force = args.force;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(atelier_generator::serve::serve(ServeOptions { build, addr }))?;
    Ok(())
}
