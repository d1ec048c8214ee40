use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::{FileInfo, Library, Page, Section};
use crate::config::Config;
use crate::dates::{split_file_date, PageDate};
use crate::error::{Diagnostic, Error, Result};
use crate::front_matter::{self, PageFrontMatter, SectionFrontMatter, Split};
use crate::glob::Glob;
use crate::slugs::path_slug;

/// What to load.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Load pages and sections marked `draft = true`.
    pub drafts: bool,
}

/// A content file read on its own.
pub(crate) enum Loaded {
    Page(Box<Page>),
    Section(Box<Section>),
}

/// Reads every content file under `root/content` in parallel and links them into a library.
/// Files that fail to read are left out and reported with the library, so that later phases
/// can report their own problems too; links to such files are not reported again.
pub fn load(root: &Path, config: &Config, opts: &LoadOptions) -> Result<(Library, Vec<Diagnostic>, Vec<String>)> {
    let content_dir = root.join("content");
    let ignored: Vec<Glob> = config.ignored_content.iter().map(|g| Glob::new(g)).collect();
    let mut markdown = Vec::new();
    let mut other_files = Vec::new();
    if content_dir.is_dir() {
        let walker = walkdir::WalkDir::new(&content_dir).sort_by_file_name().into_iter();
        for entry in walker.filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.')) {
            let entry = entry.map_err(|e| {
                let path = e.path().map(Path::to_path_buf).unwrap_or_else(|| content_dir.clone());
                Error::io(path, e.into_io_error().unwrap_or_else(|| std::io::Error::other("walk failed")))
            })?;
            if !entry.file_type().is_file() {
                continue;
            }
            let rel = relative(&content_dir, entry.path());
            if ignored.iter().any(|g| g.matches(&rel)) {
                continue;
            }
            if rel.ends_with(".md") {
                markdown.push((entry.path().to_path_buf(), rel));
            } else {
                other_files.push(rel);
            }
        }
    }

    let bundle_dirs: HashSet<String> = markdown
        .iter()
        .filter_map(|(_, rel)| rel.strip_suffix("index.md").filter(|d| d.is_empty() || d.ends_with('/')))
        .filter(|d| !d.is_empty())
        .map(str::to_string)
        .collect();
    let section_dirs: HashSet<String> =
        markdown.iter().filter_map(|(_, rel)| rel.strip_suffix("_index.md")).map(str::to_string).collect();

    let results: Vec<std::result::Result<Loaded, Vec<Diagnostic>>> = markdown
        .par_iter()
        .map(|(path, rel)| read_file(root, config, path, rel, &section_dirs, &bundle_dirs))
        .collect();

    let mut diagnostics = Vec::new();
    let mut failed = Vec::new();
    let mut pages = Vec::new();
    let mut sections = Vec::new();
    for (r, (_, rel)) in results.into_iter().zip(&markdown) {
        match r {
            Ok(Loaded::Page(p)) => pages.push(*p),
            Ok(Loaded::Section(s)) => sections.push(*s),
            Err(mut d) => {
                diagnostics.append(&mut d);
                failed.push(rel.clone());
            }
        }
    }
    for dir in &bundle_dirs {
        if section_dirs.contains(dir) {
            diagnostics.push(Diagnostic::file(
                format!("content/{dir}index.md"),
                "a folder cannot hold both index.md (a page) and _index.md (a section): rename one",
            ));
        }
    }
    if !opts.drafts {
        let draft_dirs: Vec<String> = sections
            .iter()
            .filter(|s| s.meta.draft)
            .map(|s| s.file.relative.trim_end_matches("_index.md").to_string())
            .collect();
        let in_draft = |rel: &str| draft_dirs.iter().any(|d| rel.starts_with(d.as_str()));
        sections.retain(|s| !in_draft(&s.file.relative));
        pages.retain(|p| !p.meta.draft && !in_draft(&p.file.relative));
        other_files.retain(|f| !in_draft(f));
    }

    if !sections.iter().any(|s| s.file.relative == "_index.md") {
        sections.push(synthetic_root(root, config));
    }
    attach_assets(&mut pages, &mut sections, &other_files, &bundle_dirs);
    let library = match Library::link(pages, sections) {
        Ok(l) => l,
        Err(Error::Site(mut d)) => {
            diagnostics.append(&mut d);
            return Err(Error::Site(diagnostics));
        }
        Err(e) => return Err(e),
    };
    Ok((library, diagnostics, failed))
}

fn relative(base: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(base).unwrap_or(path);
    rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

fn synthetic_root(root: &Path, config: &Config) -> Section {
    let file = FileInfo {
        path: root.join("content/_index.md"),
        relative: "_index.md".into(),
        components: Vec::new(),
        name: "_index".into(),
        colocated: None,
        parent_section: String::new(),
    };
    new_section(file, SectionFrontMatter::default(), String::new(), 1, "/".into(), config)
}

fn new_section(
    file: FileInfo,
    meta: SectionFrontMatter,
    raw: String,
    body_line: usize,
    path: String,
    config: &Config,
) -> Section {
    Section {
        synthetic: raw.is_empty() && meta.title.is_none() && !file.path.exists(),
        permalink: config.permalink(&path),
        file,
        meta,
        raw,
        body_line,
        path,
        content: String::new(),
        toc: Vec::new(),
        anchors: Vec::new(),
        word_count: 0,
        reading_time: 0,
        assets: Vec::new(),
        pages: Vec::new(),
        ignored_pages: Vec::new(),
        subsections: Vec::new(),
        parent: None,
        ancestors: Vec::new(),
        internal_links: Vec::new(),
        external_links: Vec::new(),
        shortcodes: Vec::new(),
    }
}

pub(crate) fn read_file(
    root: &Path,
    config: &Config,
    path: &Path,
    rel: &str,
    section_dirs: &HashSet<String>,
    bundle_dirs: &HashSet<String>,
) -> std::result::Result<Loaded, Vec<Diagnostic>> {
    let shown = PathBuf::from("content").join(rel);
    let text =
        std::fs::read_to_string(path).map_err(|e| vec![Diagnostic::file(&shown, format!("cannot read: {e}"))])?;
    let split = front_matter::split(&shown, &text).map_err(|d| vec![d])?;
    let (dir, file_name) = rel.rsplit_once('/').map(|(d, f)| (format!("{d}/"), f)).unwrap_or((String::new(), rel));
    let dir_components: Vec<String> = dir.split('/').filter(|s| !s.is_empty()).map(str::to_string).collect();

    if file_name == "_index.md" {
        let meta: SectionFrontMatter = front_matter::parse(&shown, &split).map_err(|d| vec![d])?;
        let path = if dir_components.is_empty() { "/".to_string() } else { format!("/{}/", dir_components.join("/")) };
        let parent_section = parent_of(&dir, section_dirs);
        let file = FileInfo {
            path: root.join("content").join(rel),
            relative: rel.to_string(),
            components: dir_components,
            name: "_index".into(),
            colocated: None,
            parent_section,
        };
        let mut s = new_section(file, meta, split.body.to_string(), split.body_line, path, config);
        s.synthetic = false;
        return Ok(Loaded::Section(Box::new(s)));
    }

    let meta: PageFrontMatter = front_matter::parse(&shown, &split).map_err(|d| vec![d])?;
    let unknown_keys = front_matter::unknown_page_keys(&split);
    let mut diagnostics = Vec::new();
    let is_bundle = file_name == "index.md" && bundle_dirs.contains(&dir);
    let (components, name, colocated, own_dir) = if is_bundle {
        let mut comps = dir_components.clone();
        let name = comps.pop().unwrap_or_default();
        let parent_dir = if comps.is_empty() { String::new() } else { format!("{}/", comps.join("/")) };
        (comps, name, Some(dir.clone()), parent_dir)
    } else {
        (dir_components, file_name.trim_end_matches(".md").to_string(), None, dir.clone())
    };
    if name.is_empty() {
        diagnostics
            .push(Diagnostic::file(&shown, "content/index.md cannot be a page: the home page is content/_index.md"));
    }

    let locate = |field: &str| front_matter::locate_field(&split, field);
    let mut date = match &meta.date {
        Some(v) => PageDate::from_toml(v)
            .map_err(|m| {
                diagnostics.push(Diagnostic::at(&shown, locate("date"), 1, format!("front matter: in `date`: {m}")))
            })
            .ok(),
        None => None,
    };
    let updated = match &meta.updated {
        Some(v) => PageDate::from_toml(v)
            .map_err(|m| {
                diagnostics.push(Diagnostic::at(
                    &shown,
                    locate("updated"),
                    1,
                    format!("front matter: in `updated`: {m}"),
                ))
            })
            .ok(),
        None => None,
    };
    let mut slug_source = name.as_str();
    if let Some((file_date, rest)) = split_file_date(&name) {
        if !config.slugify.paths_keep_dates {
            slug_source = rest;
        }
        if date.is_none() {
            date = Some(file_date);
        }
    }
    let slug = match &meta.slug {
        Some(s) if s.trim().is_empty() => {
            diagnostics.push(Diagnostic::at(&shown, locate("slug"), 1, "front matter: `slug` cannot be empty"));
            String::new()
        }
        Some(s) => path_slug(s, config.slugify.paths),
        None => path_slug(slug_source, config.slugify.paths),
    };
    let site_path = match &meta.path {
        Some(p) if p.trim().trim_matches('/').is_empty() => {
            diagnostics.push(Diagnostic::at(&shown, locate("path"), 1, "front matter: `path` cannot be empty"));
            String::new()
        }
        Some(p) if escapes(p) => {
            diagnostics.push(Diagnostic::at(
                &shown,
                locate("path"),
                1,
                format!("front matter: `path` {p:?} may not contain `..`, `\\` or `//`: it must stay inside the site"),
            ));
            String::new()
        }
        Some(p) => format!("/{}/", p.trim().trim_matches('/')),
        None if components.is_empty() => format!("/{slug}/"),
        None => format!("/{}/{slug}/", components.join("/")),
    };
    for alias in meta.aliases.iter().filter(|a| escapes(a)) {
        diagnostics.push(Diagnostic::at(
            &shown,
            locate("aliases"),
            1,
            format!("front matter: alias {alias:?} may not contain `..`, `\\` or `//`: it must stay inside the site"),
        ));
    }
    for (kind, terms) in &meta.taxonomies {
        let line = locate(&format!("taxonomies.{kind}"));
        if config.taxonomy(kind).is_none() {
            let declared: Vec<&str> = config.taxonomies.iter().map(|t| t.name.as_str()).collect();
            diagnostics.push(Diagnostic::at(
                &shown,
                line,
                1,
                format!(
                    "front matter: taxonomy `{kind}` is not declared in config.toml (declared: {})",
                    if declared.is_empty() { "none".to_string() } else { declared.join(", ") }
                ),
            ));
        }
        if terms.iter().any(|t| t.trim().is_empty()) {
            diagnostics.push(Diagnostic::at(
                &shown,
                line,
                1,
                format!("front matter: taxonomy `{kind}` has an empty term"),
            ));
        }
    }
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    let parent_section = format!("{own_dir}_index.md");
    let page = Page {
        file: FileInfo {
            path: root.join("content").join(rel),
            relative: rel.to_string(),
            components,
            name,
            colocated,
            parent_section,
        },
        raw: split.body.to_string(),
        body_line: split.body_line,
        front_matter: split.front_matter.to_string(),
        front_matter_line: split.front_matter_line,
        permalink: config.permalink(&site_path),
        meta,
        date,
        updated,
        slug,
        path: site_path,
        content: String::new(),
        summary: None,
        toc: Vec::new(),
        anchors: Vec::new(),
        word_count: 0,
        reading_time: 0,
        assets: Vec::new(),
        section: None,
        ancestors: Vec::new(),
        lower: None,
        higher: None,
        internal_links: Vec::new(),
        external_links: Vec::new(),
        shortcodes: Vec::new(),
        essence: None,
        listed: true,
        unknown_keys,
    };
    Ok(Loaded::Page(Box::new(page)))
}

/// The `_index.md` of the nearest folder above `dir` that has one.
fn parent_of(dir: &str, section_dirs: &HashSet<String>) -> String {
    let mut d = dir.trim_end_matches('/');
    if d.is_empty() {
        return String::new();
    }
    loop {
        d = match d.rfind('/') {
            Some(i) => &d[..i],
            None => "",
        };
        let candidate = if d.is_empty() { String::new() } else { format!("{d}/") };
        if d.is_empty() || section_dirs.contains(&candidate) {
            return format!("{candidate}_index.md");
        }
    }
}

/// Rebuilds a [`Split`] view of a page's stored front matter, to locate fields in errors.
pub(crate) fn page_split(page: &Page) -> Split<'_> {
    Split {
        front_matter: &page.front_matter,
        // Only read to find the line of a field, which looks for TOML's `key =` lines.
        yaml: false,
        front_matter_line: page.front_matter_line,
        body: &page.raw,
        body_line: page.body_line,
    }
}

fn attach_assets(pages: &mut [Page], sections: &mut [Section], files: &[String], bundle_dirs: &HashSet<String>) {
    let mut by_bundle: HashMap<&str, Vec<String>> = HashMap::new();
    let mut by_section_dir: HashMap<&str, Vec<String>> = HashMap::new();
    for f in files {
        if let Some(bundle) = bundle_dirs.iter().filter(|d| f.starts_with(d.as_str())).max_by_key(|d| d.len()) {
            by_bundle.entry(bundle.as_str()).or_default().push(format!("/{f}"));
        } else {
            let dir = f.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
            by_section_dir.entry(dir).or_default().push(format!("/{f}"));
        }
    }
    for p in pages.iter_mut() {
        if let Some(dir) = &p.file.colocated {
            if let Some(mut assets) = by_bundle.remove(dir.as_str()) {
                assets.sort_by_key(|a| a.to_lowercase());
                p.assets = assets;
            }
        }
    }
    for s in sections.iter_mut() {
        let dir = s.file.relative.trim_end_matches("_index.md").trim_end_matches('/');
        if let Some(mut assets) = by_section_dir.remove(dir) {
            assets.sort_by_key(|a| a.to_lowercase());
            s.assets = assets;
        }
    }
}

/// Whether a site path from front matter would write outside the output folder.
fn escapes(path: &str) -> bool {
    let p = path.trim();
    p.contains('\\') || p.trim_start_matches('/').contains("//") || p.split('/').any(|seg| seg == ".." || seg == ".")
}
