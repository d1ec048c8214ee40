//! A site in memory: loaded, its Markdown rendered, ready to render outputs. `Site::load` runs
//! the phases; `render` writes the outputs; `incremental` patches a loaded site after edits.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use serde_json::Value;

use crate::config::Config;
use crate::content::{self, Library, LoadOptions, Page, Section};
use crate::error::{Diagnostic, Error, Result};
use crate::markdown::{self, MarkdownContext, ShortcodeRenderer};
use crate::render::JobRecord;
use crate::ser::{self, Backlinks};
use crate::shop::{self, ShopConfig};
use crate::taxonomies::{self, Taxonomy};
use crate::templates::{SiteHandle, SiteView, Templates};

/// How to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The site's root folder (holding `config.toml`).
    pub root: PathBuf,
    /// The configuration file, relative to the root unless absolute.
    pub config_file: PathBuf,
    /// Where to write; `public/` under the root by default.
    pub output_dir: Option<PathBuf>,
    /// Replaces `base_url` from the configuration.
    pub base_url: Option<String>,
    /// Include drafts.
    pub drafts: bool,
    /// Build into a non-empty folder that is not ours.
    pub force: bool,
    /// Show a progress bar (on a terminal).
    pub progress: bool,
    /// A folder whose files stand in for the site's `data/` ones of the same name (`atelier
    /// serve` keeps the service's stock export there, outside the sources).
    pub data_overlay: Option<PathBuf>,
}

impl BuildOptions {
    /// Defaults for a site at `root`.
    pub fn new(root: impl Into<PathBuf>) -> BuildOptions {
        BuildOptions {
            root: root.into(),
            config_file: PathBuf::from("config.toml"),
            output_dir: None,
            base_url: None,
            drafts: false,
            force: false,
            progress: false,
            data_overlay: None,
        }
    }
}

/// A loaded site.
pub struct Site {
    /// Options it was loaded with.
    pub opts: BuildOptions,
    /// The site root.
    pub root: PathBuf,
    /// The output folder.
    pub output_dir: PathBuf,
    /// Configuration.
    pub config: Arc<Config>,
    /// Pages and sections, Markdown rendered.
    pub library: Arc<Library>,
    /// Taxonomies and their terms.
    pub taxonomies: Arc<Vec<Taxonomy>>,
    /// Who links to whom.
    pub backlinks: Arc<Backlinks>,
    /// Permalinks by relative path.
    pub permalinks: Arc<HashMap<String, String>>,
    /// Templates.
    pub templates: Templates,
    /// What template functions see.
    pub handle: SiteHandle,
    /// The shop settings, when the site has a Compendium.
    pub shop: Option<ShopConfig>,
    /// Non-fatal remarks (pages left out of their section, …).
    pub warnings: Vec<String>,
    /// What each output depended on when last rendered.
    pub records: HashMap<crate::render::Job, JobRecord>,
    /// Files copied from `static/` folders and content assets.
    pub static_files: std::collections::HashSet<String>,
    /// Changes a failed rebuild could not render yet.
    pub pending_deps: std::collections::HashSet<crate::deps::Dep>,
    /// Template changes a failed rebuild could not render yet.
    pub pending_templates: std::collections::HashSet<String>,
    /// An edit moved pages (order, terms, templates): the next render must plan afresh.
    pub reshaped: bool,
}

impl Site {
    /// Runs every phase up to rendering: configuration, content, templates, Markdown, checks.
    pub fn load(opts: BuildOptions) -> Result<Site> {
        let root = opts.root.clone();
        let config_path =
            if opts.config_file.is_absolute() { opts.config_file.clone() } else { root.join(&opts.config_file) };
        if !config_path.is_file() {
            return Err(Error::one(Diagnostic::file(
                &opts.config_file,
                format!("no configuration file: is {} the site's root folder?", root.display()),
            )));
        }
        let mut config = Config::load(&config_path).map_err(|e| relabel(e, &opts.config_file))?;
        if let Some(url) = &opts.base_url {
            config.set_base_url(url);
        }
        if let Some(theme) = config.theme.clone() {
            let file = root.join("themes").join(&theme).join("theme.toml");
            config.merge_theme_extra(&file).map_err(Error::one)?;
        }
        if let Some(cfg) = &config.markdown.highlighting {
            crate::highlight::check(cfg).map_err(|e| Error::one(Diagnostic::file(&opts.config_file, e)))?;
        }
        let config = Arc::new(config);
        let shop = ShopConfig::from_config(&config).map_err(Error::one)?;
        let (mut library, mut diagnostics, failed) =
            content::load(&root, &config, &LoadOptions { drafts: opts.drafts })?;
        let mut links = library.permalinks();
        // Files that failed to load are reported already; links to them are not errors too.
        for f in failed {
            links.entry(f.clone()).or_insert_with(|| config.permalink(&f));
        }
        let permalinks = Arc::new(links);
        let handle = SiteHandle::new(SiteView {
            root: root.clone(),
            data_overlay: opts.data_overlay.clone(),
            config: config.clone(),
            permalinks: permalinks.clone(),
            library: None,
            taxonomies: Arc::default(),
            backlinks: Arc::default(),
        });
        let templates = Templates::load(&root, config.theme.as_deref(), &handle)?;

        diagnostics.extend(render_all_markdown(&mut library, &config, &permalinks, &templates));
        if let Some(shop) = &shop {
            diagnostics.extend(shop::read_essences(shop, &mut library));
            diagnostics.extend(shop::read_folio(shop, &library).err().unwrap_or_default());
        }
        diagnostics.extend(check_anchors(&library, &config));
        if !diagnostics.is_empty() {
            diagnostics.sort_by(|a, b| a.file.cmp(&b.file).then(a.line.cmp(&b.line)));
            diagnostics.dedup();
            return Err(Error::Site(diagnostics));
        }
        let output_dir = opts
            .output_dir
            .clone()
            .map(|o| if o.is_absolute() { o } else { root.join(o) })
            .unwrap_or_else(|| root.join("public"));
        let mut site = Site {
            opts,
            root,
            output_dir,
            config,
            library: Arc::new(library),
            taxonomies: Arc::default(),
            backlinks: Arc::default(),
            permalinks,
            templates,
            handle,
            shop,
            warnings: Vec::new(),
            records: HashMap::new(),
            static_files: Default::default(),
            pending_deps: Default::default(),
            pending_templates: Default::default(),
            reshaped: false,
        };
        site.refresh_derived();
        Ok(site)
    }

    /// Recomputes taxonomies, backlinks and warnings from the library and hands the result to
    /// the template functions.
    pub fn refresh_derived(&mut self) {
        self.refresh_derived_parts(true);
    }

    /// Like [`Site::refresh_derived`]; backlinks are recomputed only when links or titles changed.
    pub fn refresh_derived_parts(&mut self, backlinks: bool) {
        self.taxonomies = Arc::new(taxonomies::build(&self.config, &self.library));
        if backlinks {
            self.backlinks = Arc::new(ser::backlinks(&self.library));
        }
        self.warnings = ignored_page_warnings(&self.library);
        let plain = self.templates.plain_layouts();
        for name in &plain {
            // Only a template something renders with is missed.
            let used = (0..self.library.pages.len())
                .any(|p| self.library.pages[p].renders() && self.page_template(p) == *name)
                || (0..self.library.sections.len()).any(|s| {
                    let section = &self.library.sections[s];
                    section.meta.render && section.meta.redirect_to.is_none() && self.section_template(s) == *name
                });
            if used {
                self.warnings.push(format!(
                    "templates/{name} does not exist (in the site or its theme): those pages are written in a plain built-in layout"
                ));
            }
        }
        if self.config.minify_html {
            self.warnings.push(
                "config.toml: `minify_html` is not applied: pages are written as rendered (the CDN compresses them)"
                    .into(),
            );
        }
        self.publish();
    }

    /// Makes template functions let go of the library (they see none until [`Site::publish`]).
    pub fn detach_library(&self) {
        self.handle.set(SiteView {
            root: self.root.clone(),
            data_overlay: self.opts.data_overlay.clone(),
            config: self.config.clone(),
            permalinks: self.permalinks.clone(),
            library: None,
            taxonomies: self.taxonomies.clone(),
            backlinks: self.backlinks.clone(),
        });
    }

    /// Makes the current library visible to template functions.
    pub fn publish(&self) {
        self.handle.set(SiteView {
            root: self.root.clone(),
            data_overlay: self.opts.data_overlay.clone(),
            config: self.config.clone(),
            permalinks: self.permalinks.clone(),
            library: Some(self.library.clone()),
            taxonomies: self.taxonomies.clone(),
            backlinks: self.backlinks.clone(),
        });
    }

    /// Number of pages that render.
    pub fn page_count(&self) -> usize {
        self.library.pages.iter().filter(|p| p.renders()).count()
    }
}

fn relabel(e: Error, shown: &Path) -> Error {
    match e {
        Error::Site(mut ds) => {
            for d in &mut ds {
                d.file = shown.to_path_buf();
            }
            Error::Site(ds)
        }
        other => other,
    }
}

fn ignored_page_warnings(lib: &Library) -> Vec<String> {
    let mut out = Vec::new();
    for p in &lib.pages {
        for (key, line) in &p.unknown_keys {
            out.push(format!(
                "content/{}:{line}: `{key}` is not a front-matter field and is ignored, as Zola ignores it \
                 (under [extra] a template can read it)",
                p.file.relative
            ));
        }
    }
    for s in &lib.sections {
        for &p in &s.ignored_pages {
            if lib.pages[p].section.is_some_and(|sid| std::ptr::eq(&lib.sections[sid], s)) {
                out.push(format!(
                    "content/{} is not rendered: its section sorts by {:?} and the page has no {}",
                    lib.pages[p].file.relative,
                    s.meta.sort_by,
                    match s.meta.sort_by {
                        crate::front_matter::SortBy::Weight => "weight",
                        crate::front_matter::SortBy::Title | crate::front_matter::SortBy::TitleBytes => "title",
                        _ => "date",
                    }
                ));
            }
        }
    }
    out
}

/// The anchor-link setting for a page: its section's, else the site's.
fn anchor_setting<'a>(lib: &'a Library, page: &Page, config: &'a Config) -> &'a str {
    page.section
        .and_then(|s| lib.sections[s].meta.insert_anchor_links.as_deref())
        .unwrap_or(config.markdown.insert_anchor_links.as_str())
}

/// Renders the Markdown of every page and section in parallel.
fn render_all_markdown(
    lib: &mut Library,
    config: &Config,
    permalinks: &HashMap<String, String>,
    templates: &Templates,
) -> Vec<Diagnostic> {
    let anchors: Vec<String> = lib.pages.iter().map(|p| anchor_setting(lib, p, config).to_string()).collect();
    let section_values: Vec<Value> = lib
        .sections
        .iter()
        .map(|s| if crate::shortcodes::may_contain(&s.raw) { ser::section_for_shortcode(lib, s) } else { Value::Null })
        .collect();
    let mut diagnostics: Vec<Diagnostic> = lib
        .pages
        .par_iter_mut()
        .zip(anchors.par_iter())
        .flat_map_iter(|(page, anchor)| {
            render_page_markdown(page, config, permalinks, templates, anchor).err().unwrap_or_default()
        })
        .collect();
    let section_diags: Vec<Diagnostic> = lib
        .sections
        .par_iter_mut()
        .zip(section_values.par_iter())
        .flat_map_iter(|(section, value)| {
            render_section_markdown(section, config, permalinks, templates, value).err().unwrap_or_default()
        })
        .collect();
    diagnostics.extend(section_diags);
    diagnostics
}

/// Renders one page's Markdown into it.
pub(crate) fn render_page_markdown(
    page: &mut Page,
    config: &Config,
    permalinks: &HashMap<String, String>,
    shortcodes: &dyn ShortcodeRenderer,
    insert_anchor_links: &str,
) -> std::result::Result<(), Vec<Diagnostic>> {
    let file = PathBuf::from("content").join(&page.file.relative);
    let value = if crate::shortcodes::may_contain(&page.raw) { ser::page_for_shortcode(page) } else { Value::Null };
    let ctx = MarkdownContext {
        config,
        permalinks,
        file: &file,
        permalink: &page.permalink,
        body_line: page.body_line,
        shortcodes: Some(shortcodes),
        page_value: &value,
        insert_anchor_links,
    };
    let r = markdown::render(&page.raw, &ctx)?;
    let (words, minutes) = markdown::word_count(&page.raw);
    page.content = r.html;
    page.summary = r.summary;
    page.toc = r.toc;
    page.anchors = r.anchors;
    page.internal_links = r.internal_links;
    page.external_links = r.external_links;
    page.shortcodes = r.shortcodes;
    page.word_count = words;
    page.reading_time = minutes;
    // The Markdown is not needed once rendered (an edit re-reads the file): on a large site it
    // is a fifth of the memory.
    page.raw = String::new();
    Ok(())
}

/// Renders one section's Markdown into it.
pub(crate) fn render_section_markdown(
    section: &mut Section,
    config: &Config,
    permalinks: &HashMap<String, String>,
    shortcodes: &dyn ShortcodeRenderer,
    value: &Value,
) -> std::result::Result<(), Vec<Diagnostic>> {
    let file = PathBuf::from("content").join(&section.file.relative);
    let anchor =
        section.meta.insert_anchor_links.clone().unwrap_or_else(|| config.markdown.insert_anchor_links.clone());
    let ctx = MarkdownContext {
        config,
        permalinks,
        file: &file,
        permalink: &section.permalink,
        body_line: section.body_line,
        shortcodes: Some(shortcodes),
        page_value: value,
        insert_anchor_links: &anchor,
    };
    let r = markdown::render(&section.raw, &ctx)?;
    let (words, minutes) = markdown::word_count(&section.raw);
    section.content = r.html;
    section.toc = r.toc;
    section.anchors = r.anchors;
    section.internal_links = r.internal_links;
    section.external_links = r.external_links;
    section.shortcodes = r.shortcodes;
    section.word_count = words;
    section.reading_time = minutes;
    Ok(())
}

/// Every `@/page.md#anchor` must name a heading of that page.
pub(crate) fn check_anchors(lib: &Library, config: &Config) -> Vec<Diagnostic> {
    check_anchors_from(lib, config, None)
}

/// [`check_anchors`] for the links of some pages only (by relative path), or of all.
pub(crate) fn check_anchors_from(lib: &Library, config: &Config, only: Option<&[&str]>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let skip = &config.link_checker.skip_anchor_prefixes;
    let sources = lib
        .pages
        .iter()
        .map(|p| (&p.file.relative, &p.internal_links))
        .chain(lib.sections.iter().map(|s| (&s.file.relative, &s.internal_links)))
        .filter(|(rel, _)| only.is_none_or(|o| o.contains(&rel.as_str())));
    for (from, links) in sources {
        for (target, anchor, line) in links {
            let Some(anchor) = anchor else { continue };
            let permalink =
                lib.page(target).map(|p| &p.permalink).or_else(|| lib.section(target).map(|s| &s.permalink));
            if permalink.is_some_and(|p| skip.iter().any(|s| format!("{p}#{anchor}").starts_with(s.as_str()))) {
                continue;
            }
            let anchors = lib.page(target).map(|p| &p.anchors).or_else(|| lib.section(target).map(|s| &s.anchors));
            if let Some(anchors) = anchors {
                if !anchors.iter().any(|a| a == anchor) {
                    let known = if anchors.is_empty() {
                        "it has no headings".to_string()
                    } else {
                        format!("its headings are #{}", anchors.join(", #"))
                    };
                    out.push(Diagnostic::at(
                        PathBuf::from("content").join(from),
                        *line,
                        1,
                        format!("broken anchor `@/{target}#{anchor}`: {known}"),
                    ));
                }
            }
        }
    }
    out
}
