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
        .filter_map(|(_, rel)| {
            let (dir, file) = split_dir(rel);
            let (stem, _) = split_language(config, file).ok()?;
            (stem == "index" && !dir.is_empty()).then(|| dir.to_string())
        })
        .collect();
    let section_files: HashSet<String> = markdown
        .iter()
        .filter(|(_, rel)| split_language(config, split_dir(rel).1).is_ok_and(|(stem, _)| stem == "_index"))
        .map(|(_, rel)| rel.clone())
        .collect();

    let results: Vec<std::result::Result<Loaded, Vec<Diagnostic>>> = markdown
        .par_iter()
        .map(|(path, rel)| read_file(root, config, path, rel, &section_files, &bundle_dirs))
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
    let section_dirs: HashSet<&str> = section_files.iter().map(|f| split_dir(f).0).collect();
    for dir in &bundle_dirs {
        if section_dirs.contains(dir.as_str()) {
            diagnostics.push(Diagnostic::file(
                format!("content/{dir}index.md"),
                "a folder cannot hold both index.md (a page) and _index.md (a section): rename one",
            ));
        }
    }
    if !opts.drafts {
        // As Zola: a draft section leaves out its folder and all below it, in every language,
        // but for its translations beside it that are not drafts themselves.
        let draft_dirs: Vec<String> =
            sections.iter().filter(|s| s.meta.draft).map(|s| split_dir(&s.file.relative).0.to_string()).collect();
        let in_draft = |rel: &str| draft_dirs.iter().any(|d| rel.starts_with(d.as_str()));
        sections.retain(|s| {
            let dir = split_dir(&s.file.relative).0;
            !s.meta.draft && draft_dirs.iter().all(|d| dir == d || !dir.starts_with(d.as_str()))
        });
        pages.retain(|p| !p.meta.draft && !in_draft(&p.file.relative));
        other_files.retain(|f| !in_draft(f));
    }

    // Each language has a home page, written or not.
    for lang in config.language_codes() {
        let file = section_file("", lang, config);
        if !sections.iter().any(|s| s.file.relative == file) {
            sections.push(synthetic_root(root, config, lang));
        }
    }
    attach_assets(&mut pages, &mut sections, &other_files, &bundle_dirs);
    let languages = config.is_multilingual().then_some(config.default_language.as_str());
    let library = match Library::link(pages, sections, languages) {
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

/// A folder and a file name: `journal/` and `a.md`.
fn split_dir(rel: &str) -> (&str, &str) {
    match rel.rfind('/') {
        Some(i) => (&rel[..=i], &rel[i + 1..]),
        None => ("", rel),
    }
}

/// A content file name's stem and language: `about.fr.md` is `about` in French on a site with
/// French (`None` is the default language). On a site of one language, and for a name that names
/// the default language, the whole stem is the name, as in Zola.
pub(crate) fn split_language<'a>(
    config: &Config,
    file_name: &'a str,
) -> std::result::Result<(&'a str, Option<&'a str>), String> {
    let stem = file_name.strip_suffix(".md").unwrap_or(file_name);
    if !config.is_multilingual() {
        return Ok((stem, None));
    }
    let Some((name, code)) = stem.split_once('.') else { return Ok((stem, None)) };
    if code == config.default_language {
        return Ok((stem, None));
    }
    if config.language(code).is_none() {
        let known = config.language_codes().join(", ");
        return Err(format!(
            "its name says its language is `{code}`, which is not one of the site's languages ({known}): add [languages.{code}] to config.toml or rename the file"
        ));
    }
    Ok((name, Some(code)))
}

/// The relative path of the section file of a folder in a language.
pub(crate) fn section_file(dir: &str, lang: &str, config: &Config) -> String {
    if lang == config.default_language {
        format!("{dir}_index.md")
    } else {
        format!("{dir}_index.{lang}.md")
    }
}

fn synthetic_root(root: &Path, config: &Config, lang: &str) -> Section {
    let relative = section_file("", lang, config);
    let file = FileInfo {
        path: root.join("content").join(&relative),
        relative,
        components: Vec::new(),
        name: "_index".into(),
        colocated: None,
        parent_section: String::new(),
        lang: lang.to_string(),
        canonical: "_index".into(),
    };
    let path = config.lang_path(lang, "/");
    new_section(file, SectionFrontMatter::default(), String::new(), 1, path, config)
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
    section_files: &HashSet<String>,
    bundle_dirs: &HashSet<String>,
) -> std::result::Result<Loaded, Vec<Diagnostic>> {
    let shown = PathBuf::from("content").join(rel);
    let (dir, file_name) = split_dir(rel);
    let dir = dir.to_string();
    let (stem, lang) = split_language(config, file_name).map_err(|m| vec![Diagnostic::file(&shown, m)])?;
    let lang = lang.unwrap_or(&config.default_language).to_string();
    let text =
        std::fs::read_to_string(path).map_err(|e| vec![Diagnostic::file(&shown, format!("cannot read: {e}"))])?;
    let split = front_matter::split(&shown, &text).map_err(|d| vec![d])?;
    let dir_components: Vec<String> = dir.split('/').filter(|s| !s.is_empty()).map(str::to_string).collect();

    if stem == "_index" {
        let meta: SectionFrontMatter = front_matter::parse(&shown, &split).map_err(|d| vec![d])?;
        let path = if dir_components.is_empty() { "/".to_string() } else { format!("/{}/", dir_components.join("/")) };
        let path = config.lang_path(&lang, &path);
        let parent_section = parent_of(&dir, &lang, config, section_files);
        let file = FileInfo {
            path: root.join("content").join(rel),
            relative: rel.to_string(),
            components: dir_components,
            name: "_index".into(),
            colocated: None,
            parent_section,
            canonical: format!("{dir}_index"),
            lang,
        };
        let mut s = new_section(file, meta, split.body.to_string(), split.body_line, path, config);
        s.synthetic = false;
        return Ok(Loaded::Section(Box::new(s)));
    }

    let meta: PageFrontMatter = front_matter::parse(&shown, &split).map_err(|d| vec![d])?;
    let unknown_keys = front_matter::unknown_page_keys(&split);
    let mut diagnostics = Vec::new();
    let is_bundle = stem == "index" && bundle_dirs.contains(&dir);
    let (components, name, colocated, own_dir) = if is_bundle {
        let mut comps = dir_components.clone();
        let name = comps.pop().unwrap_or_default();
        let parent_dir = if comps.is_empty() { String::new() } else { format!("{}/", comps.join("/")) };
        (comps, name, Some(dir.clone()), parent_dir)
    } else {
        (dir_components, stem.to_string(), None, dir.clone())
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
        // As Zola: a path written in the front matter is the page's whole path, in any language.
        Some(p) => format!("/{}/", p.trim().trim_matches('/')),
        None if components.is_empty() => config.lang_path(&lang, &format!("/{slug}/")),
        None => config.lang_path(&lang, &format!("/{}/{slug}/", components.join("/"))),
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
        let declared = config.taxonomies_of(&lang);
        if !declared.iter().any(|t| t.name == *kind) {
            let in_language = if lang == config.default_language {
                String::new()
            } else {
                format!(" for the language `{lang}` ([languages.{lang}] taxonomies)")
            };
            let declared: Vec<&str> = declared.iter().map(|t| t.name.as_str()).collect();
            diagnostics.push(Diagnostic::at(
                &shown,
                line,
                1,
                format!(
                    "front matter: taxonomy `{kind}` is not declared in config.toml{in_language} (declared: {})",
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
    let parent_section = section_file(&own_dir, &lang, config);
    let page = Page {
        file: FileInfo {
            path: root.join("content").join(rel),
            relative: rel.to_string(),
            components,
            canonical: format!("{dir}{stem}"),
            name,
            colocated,
            parent_section,
            lang,
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

/// The section file, in the same language, of the nearest folder above `dir` that has one.
fn parent_of(dir: &str, lang: &str, config: &Config, section_files: &HashSet<String>) -> String {
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
        let file = section_file(&candidate, lang, config);
        if d.is_empty() || section_files.contains(&file) {
            return file;
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
    for list in by_bundle.values_mut().chain(by_section_dir.values_mut()) {
        list.sort_by_key(|a| a.to_lowercase());
    }
    // A bundle's or a folder's files belong to each of its translations.
    for p in pages.iter_mut() {
        if let Some(dir) = &p.file.colocated {
            if let Some(assets) = by_bundle.get(dir.as_str()) {
                p.assets = assets.clone();
            }
        }
    }
    for s in sections.iter_mut() {
        // Another language's made-up home has no folder of its own (as in Zola).
        if s.synthetic && !s.file.relative.ends_with("_index.md") {
            continue;
        }
        let dir = split_dir(&s.file.relative).0.trim_end_matches('/');
        if let Some(assets) = by_section_dir.get(dir) {
            s.assets = assets.clone();
        }
    }
}

/// Whether a site path from front matter would write outside the output folder.
fn escapes(path: &str) -> bool {
    let p = path.trim();
    p.contains('\\') || p.trim_start_matches('/').contains("//") || p.split('/').any(|seg| seg == ".." || seg == ".")
}
