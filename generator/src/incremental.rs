//! Incremental rebuilds for `serve`: classify what changed on disk, patch the loaded site, and
//! re-render only the outputs whose recorded dependencies, shape or template changed. Feeds,
//! the sitemap and the search index are rendered after the browser has been told to reload.

use std::collections::{BTreeSet, HashSet};

use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
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
/// editors' temporary files, anything hidden) are dropped. A data file in the `data_overlay`
/// folder is data, whatever else that folder holds (the service's database beside it is not).
pub fn classify(
    root: &Path,
    config_file: &Path,
    theme: Option<&str>,
    output_dir: &Path,
    data_overlay: Option<&Path>,
    paths: &[PathBuf],
) -> ChangeSet {
    let mut set = ChangeSet::default();
    let config_path = if config_file.is_absolute() { config_file.to_path_buf() } else { root.join(config_file) };
    let theme_dir = theme.map(|t| root.join("themes").join(t));
    for path in paths {
        if path.starts_with(output_dir) {
            continue;
        }
        if let Some(dir) = data_overlay.filter(|d| path.starts_with(d)) {
            let ext = path.extension().map(|e| e.to_string_lossy().to_lowercase()).unwrap_or_default();
            if path.parent() == Some(dir) && ["json", "toml", "csv", "yaml", "yml"].contains(&ext.as_str()) {
                set.data = true;
            }
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
        if r.starts_with("static/processed_images/") {
            // The engine's own resized images, written while it builds.
            continue;
        }
        if *path == config_path {
            set.config = true;
        } else if let Some(c) = rel(&root.join("content"), path) {
            if c.ends_with(".md") {
                set.content.insert(c);
            } else if !path.exists() && path.extension().is_none() {
                // An editor's vanished temporary file (sed's `sedXXXXXX`), not an asset.
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
        } else if rel(&root.join("sass"), path).is_some()
            || theme_dir.as_ref().is_some_and(|d| path.starts_with(d.join("sass")))
        {
            // Stylesheets are written with the static files.
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
    let timings = std::env::var_os("ATELIER_TIMINGS").is_some();
    let lap = |what: &str| {
        if timings {
            eprintln!("  {what}: {:.1} ms", started.elapsed().as_secs_f64() * 1000.0);
        }
    };
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
    if changes.statics || changes.data {
        changed.insert(Dep::Hashed);
    }

    let result = apply_content(site, &content, &mut changed);
    lap("content");
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
        let mut now = site.copy_static(&output)?;
        now.extend(site.write_sass(&output)?);
        let rendered: HashSet<&String> = site.records.values().map(|r| &r.file).collect();
        for gone in site.static_files.difference(&now) {
            if !rendered.contains(gone) {
                output.remove(gone);
            }
        }
        site.static_files = now;
    }
    if changes.statics {
        // A source image may be newer than its processed copies.
        site.handle.images().recheck();
    }
    let mut outcome = render_affected(site, &output, &changed, &changed_templates, &lap)?;
    site.static_files.extend(site.handle.images().process(&site.root, Some(&output))?);
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
    let section_files: HashSet<String> = site.library.section_index.keys().cloned().collect();
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
        match read_file(&site.root, &site.config, &abs, rel, &section_files, &bundle_dirs) {
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
                // What loading worked out across files stays as it was unless the edit
                // reshapes the site (then `relink` recomputes it).
                page.section = old.section;
                page.ancestors = old.ancestors.clone();
                page.lower = old.lower;
                page.higher = old.higher;
                page.listed = old.listed;
                page.assets = old.assets.clone();
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
                    crate::ser::section_for_shortcode(&site.library, &section)
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
            .filter(|(_, t)| t.lang == p.file.lang && p.meta.taxonomies.contains_key(&t.config.name))
            .map(|(i, _)| i)
            .collect()
    };
    for (pid, _) in &new_pages {
        changed.insert(Dep::Page(*pid));
        changed.extend(containing(&site.library, *pid).into_iter().map(Dep::SectionPages));
        changed.extend(taxonomy_kinds(site, *pid).into_iter().map(Dep::Taxonomy));
    }
    for (sid, _) in &new_sections {
        changed.insert(Dep::Section(*sid));
        changed.insert(Dep::SectionPages(*sid));
    }
    changed.insert(Dep::AllPages);
    // What orders pages, files them under terms or picks their template; when none of it
    // changed, the plan of outputs is the one already recorded.
    fn shape(p: &crate::content::Page) -> impl PartialEq + '_ {
        (
            &p.meta.taxonomies,
            &p.date,
            &p.updated,
            p.meta.weight,
            &p.meta.title,
            &p.slug,
            &p.meta.template,
            p.meta.in_search_index,
        )
    }
    let reshaped =
        !new_sections.is_empty() || new_pages.iter().any(|(pid, p)| shape(&site.library.pages[*pid]) != shape(p));
    // Backlinks change only when a changed file's link targets or title do.
    let targets = |links: &[(String, Option<String>, usize)]| {
        links.iter().map(|(t, a, _)| (t.clone(), a.clone())).collect::<Vec<_>>()
    };
    let links_changed = new_pages.iter().any(|(pid, p)| {
        let old = &site.library.pages[*pid];
        targets(&old.internal_links) != targets(&p.internal_links) || old.meta.title != p.meta.title
    }) || new_sections.iter().any(|(sid, s)| {
        let old = &site.library.sections[*sid];
        targets(&old.internal_links) != targets(&s.internal_links) || old.meta.title != s.meta.title
    });
    let skus = |p: &crate::content::Page| {
        p.essence.as_ref().map(|e| (e.sku.clone(), e.sizes.iter().map(|s| s.sku.clone()).collect::<Vec<_>>()))
    };
    let skus_changed = new_pages.iter().any(|(pid, p)| skus(&site.library.pages[*pid]) != skus(p));
    let anchors_changed = new_pages.iter().any(|(pid, p)| site.library.pages[*pid].anchors != p.anchors)
        || new_sections.iter().any(|(sid, s)| site.library.sections[*sid].anchors != s.anchors);
    let terms_before: Vec<Vec<String>> =
        site.taxonomies.iter().map(|t| t.terms.iter().map(|x| x.slug.clone()).collect()).collect();
    let sources: Vec<String> = new_pages
        .iter()
        .map(|(pid, _)| site.library.pages[*pid].file.relative.clone())
        .chain(new_sections.iter().map(|(sid, _)| site.library.sections[*sid].file.relative.clone()))
        .collect();
    let touched: Vec<usize> = new_pages.iter().map(|(pid, _)| *pid).collect();
    let lib = site.library_mut();
    for (pid, page) in new_pages {
        lib.pages[pid] = *page;
    }
    for (sid, section) in new_sections {
        lib.sections[sid] = *section;
    }
    if reshaped {
        lib.relink();
        for &pid in &touched {
            changed.extend(containing(lib, pid).into_iter().map(Dep::SectionPages));
        }
    }
    // Checks that span the site run again only when what they compare changed.
    let mut problems: Vec<Diagnostic> = Vec::new();
    if let Some(shop) = &site.shop {
        if skus_changed {
            problems.extend(crate::shop::duplicate_skus(&site.library));
        }
        // An edition names essences: it is checked again when it or any essence changes.
        if skus_changed || sources.iter().any(|s| crate::shop::is_folio(shop, s)) {
            problems.extend(crate::shop::read_folio(shop, &site.library).err().unwrap_or_default());
        }
    }
    let only: Vec<&str> = sources.iter().map(String::as_str).collect();
    problems.extend(site::check_anchors_from(&site.library, &site.config, (!anchors_changed).then_some(&only[..])));
    if reshaped || links_changed {
        site.refresh_derived_parts(links_changed);
        site.reshaped = true;
    } else {
        site.publish();
    }
    for (i, t) in site.taxonomies.iter().enumerate() {
        let now: Vec<&String> = t.terms.iter().map(|x| &x.slug).collect();
        if terms_before.get(i).is_none_or(|before| before.iter().collect::<Vec<_>>() != now) {
            changed.insert(Dep::TaxonomyTerms(i));
        }
    }
    for &pid in &touched {
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
    lap: &dyn Fn(&str),
) -> Result<Outcome> {
    // Nothing moved and no template changed: the recorded outputs are the plan, and only
    // those that read something that changed are rendered.
    if !std::mem::take(&mut site.reshaped) && changed_templates.is_empty() {
        let changed: Vec<Dep> = changed.iter().copied().collect();
        let (later, now): (Vec<Plan>, Vec<Plan>) = site
            .records
            .par_iter()
            .filter(|(_, r)| r.deps.iter().any(|d| changed.contains(d)))
            .map(|(job, r)| Plan {
                job: job.clone(),
                file: r.file.clone(),
                deps: r.deps.clone(),
                signature: r.signature,
                template: r.template.clone(),
            })
            .partition(|plan| plan.job.is_summary());
        lap("select");
        return render_now(site, output, now, later, Vec::new(), lap);
    }
    let mut plans = site.plan();
    render::resolve_collisions(&mut plans)?;
    lap("plan");
    // Which templates reach a changed one: few names, answered once each.
    let mut stale_templates: HashSet<String> = HashSet::new();
    if !changed_templates.is_empty() {
        let names: HashSet<&String> = plans.iter().filter_map(|p| p.template.as_ref()).collect();
        for name in names {
            if site.templates.closure(name).iter().any(|x| changed_templates.contains(x)) {
                stale_templates.insert(name.clone());
            }
        }
    }
    let live: HashSet<Job> = plans.iter().map(|p| p.job.clone()).collect();
    let live_files: HashSet<String> = plans.iter().map(|p| p.file.clone()).collect();
    let records = &site.records;
    let (later, now): (Vec<Plan>, Vec<Plan>) = plans
        .into_par_iter()
        .filter(|plan| match records.get(&plan.job) {
            None => true,
            Some(r) => {
                r.signature != plan.signature
                    || r.file != plan.file
                    || r.template != plan.template
                    || r.deps.iter().any(|d| changed.contains(d))
                    || plan.template.as_ref().is_some_and(|t| stale_templates.contains(t))
            }
        })
        .partition(|plan| plan.job.is_summary());
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
    lap("select");
    render_now(site, output, now, later, changed_files, lap)
}

fn render_now(
    site: &mut Site,
    output: &Output,
    now: Vec<Plan>,
    later: Vec<Plan>,
    mut changed_files: Vec<String>,
    lap: &dyn Fn(&str),
) -> Result<Outcome> {
    let rendered = site.render_plans(&now, output, false)?;
    lap("render");
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

/// Renders the summary outputs an incremental rebuild left for after the reload. An
/// elasticlunr search index (seconds of work on a large site) is handed to
/// [`background_index`], so the next edit is not kept waiting for it.
pub fn finish(site: &mut Site, later: &[Plan]) -> Result<Vec<String>> {
    if later.is_empty() {
        return Ok(Vec::new());
    }
    let mut indexes: Vec<(&str, &str)> = Vec::new();
    let mut rest: Vec<Plan> = Vec::new();
    for plan in later {
        match plan.job {
            Job::SearchIndex(li) if lunr(site, site.language_code(li)) => {
                indexes.push((site.language_code(li), plan.file.as_str()))
            }
            _ => rest.push(plan.clone()),
        }
    }
    if !indexes.is_empty() {
        background_index(site, &indexes)?;
    }
    let output = Output::open(&site.output_dir, true)?;
    let rendered = site.render_plans(&rest, &output, false)?;
    let mut files = Vec::new();
    for (job, record, wrote) in rendered {
        if wrote {
            files.push(record.file.clone());
        }
        site.records.insert(job, record);
    }
    Ok(files)
}

fn lunr(site: &Site, lang: &str) -> bool {
    let options = crate::search::search_options(&site.config, lang);
    crate::search::IndexFormat::parse(&options.index_format).is_ok_and(|f| f.is_elasticlunr())
}

/// The one thread that rebuilds `serve`'s elasticlunr index: it takes the newest texts handed
/// to it (older ones waiting are dropped), builds the index on a single core of its own (the
/// edits keep the others) and writes it — unless a newer index was written meanwhile, or a full
/// rebuild wrote one.
struct Indexer {
    /// The last index asked for.
    latest: AtomicU64,
    /// Indexes asked for up to this one are older than a full rebuild's.
    superseded: AtomicU64,
    /// The newest index written.
    written: AtomicU64,
    waiting: Mutex<Option<IndexTask>>,
    wake: Condvar,
    writing: Mutex<()>,
}

struct IndexTask {
    generation: u64,
    /// Each language's texts and the file its index goes to.
    indexes: Vec<(crate::search::Lunr, String)>,
    output_dir: std::path::PathBuf,
    asked_at: Instant,
}

fn indexer() -> &'static Indexer {
    static INDEXER: OnceLock<&'static Indexer> = OnceLock::new();
    INDEXER.get_or_init(|| {
        let indexer: &'static Indexer = Box::leak(Box::new(Indexer {
            latest: AtomicU64::new(0),
            superseded: AtomicU64::new(0),
            written: AtomicU64::new(0),
            waiting: Mutex::new(None),
            wake: Condvar::new(),
            writing: Mutex::new(()),
        }));
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).thread_name(|_| "search-index".into()).build().ok();
        std::thread::Builder::new()
            .name("search-index".into())
            .spawn(move || loop {
                let task = {
                    let mut waiting = indexer.waiting.lock().unwrap_or_else(|e| e.into_inner());
                    loop {
                        if let Some(task) = waiting.take() {
                            break task;
                        }
                        waiting = indexer.wake.wait(waiting).unwrap_or_else(|e| e.into_inner());
                    }
                };
                match &pool {
                    Some(pool) => pool.install(|| indexer.run(task)),
                    None => indexer.run(task),
                }
            })
            .ok();
        indexer
    })
}

impl Indexer {
    fn run(&self, task: IndexTask) {
        let IndexTask { generation, indexes, output_dir, asked_at } = task;
        let stale = |me: &Indexer| {
            generation <= me.superseded.load(Ordering::SeqCst) || generation <= me.written.load(Ordering::SeqCst)
        };
        if stale(self) {
            return;
        }
        // Edits that come meanwhile wait their turn: this index, newer than the one on disk,
        // is still written (under a stream of edits it would otherwise never be).
        let mut texts: Vec<(String, String)> = Vec::new();
        for (lunr, file) in indexes {
            match lunr.write() {
                Ok(text) => texts.push((text, file)),
                // The index on disk stays as it was rather than be replaced by nothing.
                Err(e) => eprintln!("error: building the search index {file}: {e}"),
            }
        }
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        if stale(self) {
            return;
        }
        self.written.store(generation, Ordering::SeqCst);
        for (text, file) in texts {
            match Output::open(&output_dir, true).and_then(|o| o.write(&file, text.as_bytes())) {
                Ok(_) => eprintln!(
                    "  search index {file} updated {:.1} ms after the edit, beside the edits",
                    asked_at.elapsed().as_secs_f64() * 1000.0
                ),
                Err(e) => eprintln!("error: writing the search index {file}: {e}"),
            }
        }
    }
}

/// Asks for the search indexes (language, file) of the site as it stands now, built on their
/// own thread from a copy of their texts (holding the site itself would make the next edit copy
/// all of it).
pub fn background_index(site: &Site, indexes: &[(&str, &str)]) -> Result<()> {
    let asked_at = Instant::now();
    let mut gathered = Vec::new();
    for (lang, file) in indexes {
        if let Some(lunr) = crate::search::Lunr::gather(&site.config, &site.library, lang, false)? {
            gathered.push((lunr, file.to_string()));
        }
    }
    let indexer = indexer();
    let generation = indexer.latest.fetch_add(1, Ordering::SeqCst) + 1;
    let task = IndexTask { generation, indexes: gathered, output_dir: site.output_dir.clone(), asked_at };
    *indexer.waiting.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
    indexer.wake.notify_one();
    Ok(())
}

/// A whole build is about to write the search index itself: an index still being built on the
/// side is older than it, and is not written.
pub fn supersede_background_index() {
    let indexer = indexer();
    let _writing = indexer.writing.lock().unwrap_or_else(|e| e.into_inner());
    indexer.superseded.store(indexer.latest.load(Ordering::SeqCst), Ordering::SeqCst);
}

fn full(site: &mut Site, started: Instant) -> Result<Outcome> {
    supersede_background_index();
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
        let set = classify(root, Path::new("config.toml"), Some("manuscript"), out, None, &paths);
        assert_eq!(set.content.iter().collect::<Vec<_>>(), vec!["compendium/lavender.md"]);
        assert_eq!(set.templates.iter().collect::<Vec<_>>(), vec!["base.html", "shortcodes/aside.html"]);
        assert!(set.statics && set.data && !set.config);
        let cfg = classify(root, Path::new("config.toml"), None, out, None, &[PathBuf::from("/site/config.toml")]);
        assert!(cfg.config);
        assert!(classify(root, Path::new("config.toml"), None, out, None, &[PathBuf::from("/site/public/a.html")])
            .is_empty());
        // The data overlay (the service's folder, hidden in the root): its data files are data,
        // its database's are nothing.
        let overlay = Some(Path::new("/site/.atelier"));
        let stock = [PathBuf::from("/site/.atelier/stock.json")];
        assert!(classify(root, Path::new("config.toml"), None, out, overlay, &stock).data);
        let db = [PathBuf::from("/site/.atelier/shop.sqlite-wal"), PathBuf::from("/site/.atelier/outbox/1.eml")];
        assert!(classify(root, Path::new("config.toml"), None, out, overlay, &db).is_empty());
    }
}
