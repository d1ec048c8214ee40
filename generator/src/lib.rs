//! Atelier Arôme's static-site engine: Zola-compatible content and templates, rendered in
//! parallel, written only where bytes change, and rebuilt incrementally while serving.

pub mod check;
pub mod config;
pub mod content;
pub mod dates;
pub mod deps;
pub mod error;
pub mod front_matter;
pub mod glob;
pub mod highlight;
pub mod images;
pub mod incremental;
pub mod lunr;
pub mod markdown;
pub mod output;
pub mod render;
pub mod sass;
pub mod search;
pub mod ser;
pub mod serve;
pub mod shop;
pub mod shortcodes;
pub mod site;
pub mod slugs;
pub mod taxonomies;
pub mod templates;
pub mod toml_value;

pub use error::{Diagnostic, Error, Result};
pub use render::BuildReport;
pub use site::{BuildOptions, Site};

/// Loads a site and renders it into its output folder.
pub fn build(opts: BuildOptions) -> Result<(Site, BuildReport)> {
    let mut site = Site::load(opts)?;
    let report = render::build(&mut site)?;
    Ok((site, report))
}
