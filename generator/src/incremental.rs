//! Incremental rebuilds for `serve`: classify what changed on disk, patch the loaded site, and
//! re-render only the outputs whose recorded dependencies, shape or template changed. Feeds,
//! the sitemap and the search index are rendered after the browser has been told to reload.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::content::{read_file, Library, Loaded};
use crate::deps::Dep;
use crate::error::{Diagnostic, Error, Result};
use crate::output::Output;
use crate::render::{self, Job, Plan};
use crate::site::{self, Site};
use crate::templates::Templates;

/// What changed on disk, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeSet {
    /// Content files, relative to `content/`.
    pub content: BTreeSet<String>,
    /// Template names.
    pub templates: BTreeSet<String>,
    /// Something under a `static/` folder.
    pub statics: bool,
    /// Something under `data/`.
    pub data: bool,
    /// The configuration file: everything is rebuilt.
    pub config: bool,
}

impl ChangeSet {
    /// Whether nothing relevant changed.
    pub fn is_empty(&self) -> bool {
        self.content.is_empty() && self.templates.is_empty() && !self.statics && !self.data && !self.config
    }

    /// Adds another set to this one.
    pub fn merge(&mut self, other: ChangeSet) {
        self.content.extend(other.content);
        self.templates.extend(other.templates);
        self.statics |= other.statics;
        self.data |= other.data;
        self.config |= other.config;
    }
}

fn is_temporary(name: &str) -> bool {
    name.starts_with('.')
        || name.starts_with('#')
        || name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.ends_with(".tmp")
        || name == "4913"
}

fn rel(base: &Path, path: &Path) -> Option<String> {
    let r = path.strip_prefix(base).ok()?;
    Some(r.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"))
}

/// Sorts changed paths into a [`ChangeSet`]; paths that do not matter (the output folder,
/// editors' temporary files, anything hidden) are dropped.
pub fn classify(
    root: &Path,
    config_file: &Path,
    theme: Option<&str>,
    output_dir: &Path,
    paths: &[PathBuf],
) -> ChangeSet {
    let mut set = ChangeSet::default();
    let config_path = if config_file.is_absolute() { config_file.to_path_buf() } else { root.join(config_file) };
    let theme_dir = theme.map(|t| root.join("themes").join(t));
    for path in paths {
        if path.starts_with(output_dir) {
            continue;
        }
        let Some(name) = path.file_name().map(|n| n.to_string_lossy().to_string()) else { continue };
        if is_temporary(&name) {
            continue;
        }
        let Some(r) = rel(root, path) else { continue };
        if r.split('/').any(|c| c.starts_with('.') || c == "target" || c == "node_modules") {
            continue;
        }
        if *path == config_path {
            set.config = true;
        } else if let Some(c) = rel(&root.join("content"), path) {
            if c.ends_with(".md") {
                set.content.insert(c);
            } else {
                // An asset next to content: copied with the static files.
                set.statics = true;
            }
        } else if let Some(t) = rel(&root.join("templates"), path) {
            set.templates.insert(t);
        } else if let Some(t) = theme_dir.as_ref().and_then(|d| rel(&d.join("templates"), path)) {
            set.templates.insert(t);
        } else if rel(&root.join("static"), path).is_some()
            || theme_dir.as_ref().is_some_and(|d| path.starts_with(d.join("static")))
        {
            set.statics = true;
        } else if theme_dir.as_ref().is_some_and(|d| path == &d.join("theme.toml")) {
            set.config = true;
        } else if r.starts_with("data/") {
            set.data = true;
        }
    }
    set
}

/// What a rebuild did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Whether the whole site was reloaded.
    pub full: bool,
    /// Outputs rendered.
    pub rendered: usize,
    /// The files of the outputs rendered, changed or not.
    pub rendered_files: Vec<String>,
    /// Output files whose bytes changed (or went away).
    pub changed_files: Vec<String>,
    /// Time taken.
    pub elapsed: Duration,
    /// Feeds, sitemap and search index still to render (see [`finish`]).
    pub later: Vec<Plan>,
}

impl Site {
    /// The library for changing: template functions let go of it first so it is not copied.
    fn library_mut(&mut self) -> &mut Library {
        self.detach_library();
        Arc::make_mut(&mut self.library)
    }
}

/// Applies changes to a loaded site and renders what they affect. On error the site is left
/// consistent and the changes are remembered, so the next successful rebuild catches up.
pub fn apply(site: &mut Site, changes: &ChangeSet) -> Result<Outcome> {
    let started = Instant::now();
    if changes.config {
        return full(site, started);
    }
    let mut content = changes.content.clone();
    let mut changed_templates: HashSet<String> = changes.templates.iter().cloned().collect();
    if !changes.templates.is_empty() {
        site.templates = Templates::load(&site.root, site.config.theme.as_deref(), &site.handle)?;
        let names: Vec<String> = changes
            .templates
            .iter()
            .filter_map(|t| t.strip_prefix("shortcodes/"))
            .map(|n| n.trim_end_matches(".html").trim_end_matches(".md").to_string())
            .collect();
        if !names.is_empty() {
            let uses = |list: &[String]| list.iter().any(|s| names.contains(s));
            content.extend(site.library.pages.iter().filter(|p| uses(&p.shortcodes)).map(|p| p.file.relative.clone()));
            content
                .extend(site.library.sections.iter().filter(|s| uses(&s.shortcodes)).map(|s| s.file.relative.clone()));
        }
    }
    let mut changed: HashSet<Dep> = std::mem::take(&mut site.pending_deps);
    changed_templates.extend(std::mem::take(&mut site.pending_templates));
    if changes.data {
        site.handle.clear_data();
        changed.insert(Dep::Data);
    }

    let result = apply_content(site, &content, &mut changed);
    if let Err(e) = result {
        site.pending_deps = changed;
        site.pending_templates = changed_templates;
        return match e {
            Rebuild::Full => full(site, started),
            Rebuild::Failed(e) => Err(e),
        };
    }
    let output = Output::open(&site.output_dir, true)?;
    if changes.statics {
        let now = site.copy_static(&output)?;
        let rendered: HashSet<&String> = site.records.values().map(|r| &r.file).collect();
        for gone in site.static_files.difference(&now) {
            if !rendered.contains(gone) {
                output.remove(gone);
            }
        }
        site.static_files = now;
    }
    let mut outcome = render_affected(site, &output, &changed, &changed_templates)?;
    outcome.elapsed = started.elapsed();
    Ok(outcome)
}

enum Rebuild {
    Full,
    Failed(Error),
}

impl From<Error> for Rebuild {
    fn from(e: Error) -> Self {
        Rebuild::Failed(e)
    }
}

fn apply_content(
    site: &mut Site,
    content: &BTreeSet<String>,
    changed: &mut HashSet<Dep>,
) -> std::result::Result<(), Rebuild> {
    if content.is_empty() {
        return Ok(());
    }
    let section_dirs: HashSet<String> =
        site.library.section_index.keys().filter_map(|k| k.strip_suffix("_index.md")).map(str::to_string).collect();
    let bundle_dirs: HashSet<String> = site.library.pages.iter().filter_map(|p| p.file.colocated.clone()).collect();
    let mut diagnostics = Vec::new();
    let mut new_pages = Vec::new();
    let mut new_sections = Vec::new();
    for rel in content {
        let abs = site.root.join("content").join(rel);
        let known = site.library.page_index.contains_key(rel) || site.library.section_index.contains_key(rel);
        if !abs.is_file() || !known {
            // A file came or went: paths, orders and links may all move.
            return Err(Rebuild::Full);
        }
        match read_file(&site.root, &site.config, &abs, rel, &section_dirs, &bundle_dirs) {
            Err(mut d) => diagnostics.append(&mut d),
            Ok(Loaded::Page(mut page)) => {
                let pid = site.library.page_index[rel];
                let old = &site.library.pages[pid];
                if page.permalink != old.permalink
                    || (page.meta.draft && !site.opts.drafts)
                    || page.meta.aliases != old.meta.aliases
                {
                    return Err(Rebuild::Full);
                }
                page.section = old.section;
                let anchor = old
                    .section
                    .and_then(|s| site.library.sections[s].meta.insert_anchor_links.clone())
                    .unwrap_or_else(|| site.config.markdown.insert_anchor_links.clone());
                if let Err(mut d) =
                    site::render_page_markdown(&mut page, &site.config, &site.permalinks, &site.templates, &anchor)
                {
                    diagnostics.append(&mut d);
                    continue;
                }
                if let Some(shop) = &site.shop {
                    if let Err(mut d) = crate::shop::read_essence(shop, &mut page) {
                        diagnostics.append(&mut d);
                        continue;
                    }
                }
                new_pages.push((pid, page));
            }
            Ok(Loaded::Section(mut section)) => {
                let sid = site.library.section_index[rel];
                let old = &site.library.sections[sid];
                if section.path != old.path
                    || (section.meta.draft && !site.opts.drafts)
                    || section.meta.aliases != old.meta.aliases
                {
                    return Err(Rebuild::Full);
                }
                section.assets = old.assets.clone();
                let value = if crate::shortcodes::may_contain(&section.raw) {
                    crate::ser::section_for_shortcode(&site.library, &section, &site.config.default_language)
                } else {
                    serde_json::Value::Null
                };
                if let Err(mut d) =
                    site::render_section_markdown(&mut section, &site.config, &site.permalinks, &site.templates, &value)
                {
                    diagnostics.append(&mut d);
                    continue;
                }
                new_sections.push((sid, section));
            }
        }
    }
    if !diagnostics.is_empty() {
        return Err(Rebuild::Failed(Error::Site(diagnostics)));
    }

    let containing = |lib: &Library, pid: usize| -> Vec<usize> {
        lib.sections
            .iter()
            .enumerate()
            .filter(|(_, s)| s.pages.contains(&pid) || s.ignored_pages.contains(&pid))
            .map(|(i, _)| i)
            .collect()
    };
    let taxonomy_kinds = |site: &Site, pid: usize| -> Vec<usize> {
        let p = &site.library.pages[pid];
        site.taxonomies
            .iter()
            .enumerate()
            .filter(|(_, t)| p.meta.taxonomies.contains_key(&t.config.name))
            .map(|(i, _)| i)
            .collect()
    };
    let mut touched_pages = Vec::new();
    for (pid, _) in &new_pages {
        changed.insert(Dep::Page(*pid));
        changed.extend(containing(&site.library, *pid).into_iter().map(Dep::SectionPages));
        changed.extend(taxonomy_kinds(site, *pid).into_iter().map(Dep::Taxonomy));
        touched_pages.push(*pid);
    }
    for (sid, _) in &new_sections {
        changed.insert(Dep::Section(*sid));
        changed.insert(Dep::SectionPages(*sid));
    }
    changed.insert(Dep::AllPages);
    let lib = site.library_mut();
    for (pid, page) in new_pages {
        lib.pages[pid] = *page;
    }
    for (sid, section) in new_sections {
        lib.sections[sid] = *section;
    }
    lib.relink();
    for pid in touched_pages {
        changed.extend(containing(lib, pid).into_iter().map(Dep::SectionPages));
    }
    let mut problems: Vec<Diagnostic> = Vec::new();
    if site.shop.is_some() {
        problems.extend(crate::shop::duplicate_skus(&site.library));
    }
    problems.extend(site::check_anchors(&site.library, &site.config));
    site.refresh_derived();
    for pid in changed.clone().iter().filter_map(|d| if let Dep::Page(p) = d { Some(*p) } else { None }) {
        changed.extend(taxonomy_kinds(site, pid).into_iter().map(Dep::Taxonomy));
    }
    if !problems.is_empty() {
        return Err(Rebuild::Failed(Error::Site(problems)));
    }
    Ok(())
}

fn render_affected(
    site: &mut Site,
    output: &Output,
    changed: &HashSet<Dep>,
    changed_templates: &HashSet<String>,
) -> Result<Outcome> {
    let mut plans = site.plan();
    render::resolve_collisions(&mut plans)?;
    let mut closures: HashMap<String, bool> = HashMap::new();
    let mut uses_changed_template = |site: &Site, t: &str| -> bool {
        if changed_templates.is_empty() {
            return false;
        }
        *closures
            .entry(t.to_string())
            .or_insert_with(|| site.templates.closure(t).iter().any(|x| changed_templates.contains(x)))
    };
    let mut now = Vec::new();
    let mut later = Vec::new();
    let live: HashSet<Job> = plans.iter().map(|p| p.job.clone()).collect();
    let live_files: HashSet<String> = plans.iter().map(|p| p.file.clone()).collect();
    for plan in plans {
        let needed = match site.records.get(&plan.job) {
            None => true,
            Some(r) => {
                r.signature != plan.signature
                    || r.file != plan.file
                    || r.template != plan.template
                    || r.deps.iter().any(|d| changed.contains(d))
                    || plan.template.as_deref().is_some_and(|t| uses_changed_template(site, t))
            }
        };
        if needed {
            if plan.job.is_summary() {
                later.push(plan);
            } else {
                now.push(plan);
            }
        }
    }
    let mut changed_files = Vec::new();
    let gone: Vec<Job> = site.records.keys().filter(|j| !live.contains(j)).cloned().collect();
    for job in gone {
        if let Some(r) = site.records.remove(&job) {
            if !live_files.contains(&r.file) && !site.static_files.contains(&r.file) {
                output.remove(&r.file);
                changed_files.push(r.file);
            }
        }
    }
    let rendered = site.render_plans(&now, output, false)?;
    let count = rendered.len();
    let mut rendered_files = Vec::with_capacity(count);
    for (job, record, wrote) in rendered {
        rendered_files.push(record.file.clone());
        if wrote {
            changed_files.push(record.file.clone());
        }
        site.records.insert(job, record);
    }
    rendered_files.sort();
    changed_files.sort();
    Ok(Outcome { full: false, rendered: count, rendered_files, changed_files, elapsed: Duration::ZERO, later })
}

/// Renders the summary outputs an incremental rebuild left for after the reload.
pub fn finish(site: &mut Site, later: &[Plan]) -> Result<Vec<String>> {
    if later.is_empty() {
        return Ok(Vec::new());
    }
    let output = Output::open(&site.output_dir, true)?;
    let rendered = site.render_plans(later, &output, false)?;
    let mut files = Vec::new();
    for (job, record, wrote) in rendered {
        if wrote {
            files.push(record.file.clone());
        }
        site.records.insert(job, record);
    }
    Ok(files)
}

fn full(site: &mut Site, started: Instant) -> Result<Outcome> {
    let mut fresh = Site::load(site.opts.clone())?;
    render::build(&mut fresh)?;
    *site = fresh;
    Ok(Outcome { full: true, rendered: site.records.len(), elapsed: started.elapsed(), ..Outcome::default() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_paths() {
        let root = Path::new("/site");
        let out = Path::new("/site/public");
        let paths: Vec<PathBuf> = [
            "/site/content/compendium/lavender.md",
            "/site/content/compendium/.lavender.md.swp",
            "/site/content/blog/post/photo.jpg",
            "/site/themes/manuscript/templates/base.html",
            "/site/templates/shortcodes/aside.html",
            "/site/themes/manuscript/static/css/site.css",
            "/site/data/stock.json",
            "/site/public/index.html",
            "/site/.git/index",
            "/site/notes.txt",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        let set = classify(root, Path::new("config.toml"), Some("manuscript"), out, &paths);
        assert_eq!(set.content.iter().collect::<Vec<_>>(), vec!["compendium/lavender.md"]);
        assert_eq!(set.templates.iter().collect::<Vec<_>>(), vec!["base.html", "shortcodes/aside.html"]);
        assert!(set.statics && set.data && !set.config);
        let cfg = classify(root, Path::new("config.toml"), None, out, &[PathBuf::from("/site/config.toml")]);
        assert!(cfg.config);
        assert!(classify(root, Path::new("config.toml"), None, out, &[PathBuf::from("/site/public/a.html")]).is_empty());
    }
}
