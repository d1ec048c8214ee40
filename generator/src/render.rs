//! Rendering: the site's outputs as a list of jobs (every page, pager, term, feed…), each
//! rendered on its own thread with what it read recorded, and written only when changed.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::io::IsTerminal;
use std::path::PathBuf;

use rayon::prelude::*;
use serde_json::{json, Value};
use tera::Context;

use crate::content::{PageId, SectionId};
use crate::deps::{self, Dep};
use crate::error::{Diagnostic, Error, Result};
use crate::output::{file_for_path, Output};
use crate::ser;
use crate::site::Site;

/// Where the checkout service finds its layout in the output folder.
pub const SERVICE_SHELL: &str = "_service/shell.html";

/// Where a feed's pages come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeedScope {
    /// Every dated page of a language (its index in [`Config::language_codes`](crate::config::Config::language_codes)).
    Root(usize),
    /// A section with `generate_feeds = true`.
    Section(SectionId),
    /// A term of a taxonomy with `feed = true`.
    Term(usize, usize),
}

/// One output of the site.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Job {
    /// A page.
    Page(PageId),
    /// A section, or one page (1-based) of its pagination.
    Section(SectionId, usize),
    /// The `/page/1/` redirect of a paginated section.
    PagerAlias(SectionId),
    /// A section with `redirect_to`.
    SectionRedirect(SectionId),
    /// An alias page redirecting to a permalink: (output file, target).
    Alias(String, String),
    /// A taxonomy's list of terms.
    TaxonomyList(usize),
    /// A term's page, or one page of its pagination.
    Term(usize, usize, usize),
    /// The `/page/1/` redirect of a paginated term.
    TermPagerAlias(usize, usize),
    /// A feed in one of the configured formats.
    Feed(FeedScope, String),
    /// `sitemap.xml` (and its parts on huge sites).
    Sitemap,
    /// `robots.txt`.
    Robots,
    /// `404.html`.
    NotFound,
    /// The search index of a language (its index in `language_codes`).
    SearchIndex(usize),
    /// elasticlunr.js, beside an elasticlunr index.
    SearchLibrary,
    /// The shop's catalog export.
    Catalog,
    /// The layout the checkout service puts its pages in (the theme's `service.html`).
    ServiceShell,
}

impl Job {
    /// Jobs no open page shows (feeds, sitemap, search index, catalog export): `serve` renders
    /// them after the reload goes out.
    pub fn is_summary(&self) -> bool {
        matches!(self, Job::Feed(..) | Job::Sitemap | Job::SearchIndex(_) | Job::Catalog)
    }
}

/// A planned job: its output file, what it depends on by construction, and a signature of its
/// shape (which pages it lists, its template) that changes when it must be rendered again.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The job.
    pub job: Job,
    /// Output file relative to the output folder.
    pub file: String,
    /// Dependencies known without rendering.
    pub deps: Vec<Dep>,
    /// Hash of the job's shape.
    pub signature: u64,
    /// The template it renders with.
    pub template: Option<String>,
}

/// What a job read and produced when last rendered.
#[derive(Debug, Clone)]
pub struct JobRecord {
    /// Output file.
    pub file: String,
    /// Everything it depended on.
    pub deps: Vec<Dep>,
    /// Its shape when rendered.
    pub signature: u64,
    /// Its template.
    pub template: Option<String>,
}

/// Moves a value into a context (Tera's `insert` would copy it through serde).
pub(crate) fn put(ctx: &mut Context, key: &str, value: Value) {
    let mut map = serde_json::Map::new();
    map.insert(key.to_string(), value);
    if let Ok(c) = Context::from_value(Value::Object(map)) {
        ctx.extend(c);
    }
}

fn sig(parts: impl Hash) -> u64 {
    let mut h = DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

/// Chunks for pagination: always at least one (possibly empty) pager.
fn pagers(ids: &[PageId], by: Option<usize>) -> Vec<&[PageId]> {
    match by {
        Some(n) if n > 0 && !ids.is_empty() => ids.chunks(n).collect(),
        _ => vec![ids],
    }
}

impl Site {
    /// The template a page renders with.
    pub fn page_template(&self, pid: PageId) -> String {
        let p = &self.library.pages[pid];
        if let Some(t) = &p.meta.template {
            return t.clone();
        }
        let mut cur = p.section;
        while let Some(s) = cur {
            if let Some(t) = &self.library.sections[s].meta.page_template {
                return t.clone();
            }
            cur = self.library.sections[s].parent;
        }
        "page.html".into()
    }

    /// The template a section renders with.
    pub fn section_template(&self, sid: SectionId) -> String {
        let s = &self.library.sections[sid];
        s.meta.template.clone().unwrap_or_else(|| {
            // Each language's home, as Zola.
            if s.file.components.is_empty() {
                "index.html".into()
            } else {
                "section.html".into()
            }
        })
    }

    fn taxonomy_template(&self, tax: usize, kind: &str) -> String {
        let name = &self.taxonomies[tax].config.name;
        let specific = format!("{name}/{kind}.html");
        if self.templates.has(&specific) {
            specific
        } else {
            format!("taxonomy_{kind}.html")
        }
    }

    fn section_pages(&self, sid: SectionId) -> Vec<PageId> {
        let s = &self.library.sections[sid];
        let mut ids = s.pages.clone();
        if s.meta.paginate_reversed {
            ids.reverse();
        }
        ids
    }

    /// A pager's path as the sitemap lists it: the first as `page/1/` too.
    fn listed_pager_path(base: &str, segment: &str, n: usize) -> String {
        if segment.is_empty() {
            format!("{base}{n}/")
        } else {
            format!("{base}{segment}/{n}/")
        }
    }

    fn pager_path(base: &str, segment: &str, n: usize) -> String {
        if n == 1 {
            base.to_string()
        } else {
            Self::listed_pager_path(base, segment, n)
        }
    }

    /// Every output the site has now, in a stable order.
    pub fn plan(&self) -> Vec<Plan> {
        let lib = &self.library;
        let mut plans = Vec::new();
        let mut add = |job: Job, file: String, deps: Vec<Dep>, signature: u64, template: Option<String>| {
            plans.push(Plan { job, file, deps, signature, template });
        };
        for (sid, s) in lib.sections.iter().enumerate() {
            for alias in &s.meta.aliases {
                add(
                    Job::Alias(file_for_path(alias), s.permalink.clone()),
                    file_for_path(alias),
                    vec![],
                    sig(&s.permalink),
                    Some("internal/alias.html".into()),
                );
            }
            if let Some(target) = &s.meta.redirect_to {
                add(
                    Job::SectionRedirect(sid),
                    file_for_path(&s.path),
                    vec![Dep::Section(sid)],
                    sig(target),
                    Some("internal/alias.html".into()),
                );
                continue;
            }
            if !s.meta.render {
                continue;
            }
            let template = self.section_template(sid);
            let ids = self.section_pages(sid);
            let chunks = pagers(&ids, s.meta.paginate_by);
            let paginated = s.meta.paginate_by.is_some_and(|n| n > 0);
            for (i, chunk) in chunks.iter().enumerate() {
                let n = i + 1;
                let path = Self::pager_path(&s.path, s.paginate_path(), n);
                let mut deps = vec![Dep::Section(sid)];
                deps.extend(chunk.iter().map(|&p| Dep::Page(p)));
                if self.shows_translations(&template) {
                    deps.extend(self.translation_deps(&s.file.canonical));
                    for &p in chunk.iter() {
                        deps.extend(self.translation_deps(&lib.pages[p].file.canonical));
                    }
                }
                if !paginated {
                    deps.push(Dep::SectionPages(sid));
                }
                let shape = (chunk.to_vec(), chunks.len(), &template, s.subsections.clone());
                add(Job::Section(sid, n), file_for_path(&path), deps, sig(shape), Some(template.clone()));
            }
            if paginated {
                let path = Self::pager_path(&s.path, s.paginate_path(), 0).replace("/0/", "/1/");
                add(
                    Job::PagerAlias(sid),
                    file_for_path(&path),
                    vec![],
                    sig(&s.permalink),
                    Some("internal/alias.html".into()),
                );
            }
            // As Zola: a feed with no dated page is not written at all.
            if s.meta.generate_feeds && self.any_dated(&s.pages) {
                for f in self.feed_filenames(&s.file.lang) {
                    add(
                        Job::Feed(FeedScope::Section(sid), f.clone()),
                        format!("{}{f}", s.path.trim_start_matches('/')),
                        vec![Dep::SectionPages(sid), Dep::Section(sid)],
                        sig(&ids),
                        Some(f.clone()),
                    );
                }
            }
        }
        // Pages are most of the plan: plan them on every core.
        let page_plans: Vec<Plan> = lib
            .pages
            .par_iter()
            .enumerate()
            .filter(|(_, p)| p.renders())
            .flat_map_iter(|(pid, p)| self.plan_page(pid, p))
            .collect();
        for p in page_plans {
            add(p.job, p.file, p.deps, p.signature, p.template);
        }
        for (ti, t) in self.taxonomies.iter().enumerate() {
            if !t.config.render || t.terms.is_empty() {
                continue;
            }
            let list_template = self.taxonomy_template(ti, "list");
            let mut list_deps = vec![Dep::TaxonomyTerms(ti)];
            if self.templates.mentions(&list_template, "pages") {
                list_deps.push(Dep::Taxonomy(ti));
                if self.shows_translations(&list_template) {
                    for &p in t.terms.iter().flat_map(|term| &term.pages) {
                        list_deps.extend(self.translation_deps(&lib.pages[p].file.canonical));
                    }
                }
            }
            let counts: Vec<(&str, usize)> = t.terms.iter().map(|x| (x.name.as_str(), x.pages.len())).collect();
            let signature = sig((counts, &list_template));
            add(Job::TaxonomyList(ti), file_for_path(&t.path), list_deps, signature, Some(list_template));
            let single = self.taxonomy_template(ti, "single");
            for (xi, term) in t.terms.iter().enumerate() {
                let chunks = pagers(&term.pages, t.config.paginate_by);
                let paginated = t.config.paginate_by.is_some_and(|n| n > 0);
                let reads_all = !paginated || self.templates.mentions_beyond_paginator(&single, "pages");
                for (i, chunk) in chunks.iter().enumerate() {
                    let path = Self::pager_path(&term.path, t.config.paginate_path(), i + 1);
                    let mut deps: Vec<Dep> = chunk.iter().map(|&p| Dep::Page(p)).collect();
                    if reads_all {
                        deps.extend(term.pages.iter().map(|&p| Dep::Page(p)));
                    }
                    if self.shows_translations(&single) {
                        let listed = if reads_all { &term.pages[..] } else { chunk };
                        for &p in listed {
                            deps.extend(self.translation_deps(&lib.pages[p].file.canonical));
                        }
                    }
                    add(
                        Job::Term(ti, xi, i + 1),
                        file_for_path(&path),
                        deps,
                        sig((chunk.to_vec(), chunks.len(), &single, &term.name)),
                        Some(single.clone()),
                    );
                }
                if paginated {
                    let path = format!("{}{}/1/", term.path, t.config.paginate_path());
                    add(
                        Job::TermPagerAlias(ti, xi),
                        file_for_path(&path),
                        vec![],
                        sig(&term.permalink),
                        Some("internal/alias.html".into()),
                    );
                }
                if t.config.feed && self.any_dated(&term.pages) {
                    for f in self.feed_filenames(&t.lang) {
                        add(
                            Job::Feed(FeedScope::Term(ti, xi), f.clone()),
                            format!("{}{f}", term.path.trim_start_matches('/')),
                            vec![Dep::Taxonomy(ti)],
                            sig(&term.pages),
                            Some(f.clone()),
                        );
                    }
                }
            }
        }
        for (li, lang) in self.config.language_codes().into_iter().enumerate() {
            let Some(options) = self.config.language(lang) else { continue };
            let dated = || lib.pages.iter().any(|p| p.renders() && p.date.is_some() && p.file.lang == lang);
            if options.generate_feeds && dated() {
                for f in &options.feed_filenames {
                    let file = self.config.lang_path(lang, f).trim_start_matches('/').to_string();
                    add(Job::Feed(FeedScope::Root(li), f.clone()), file, vec![Dep::AllPages], 0, Some(f.clone()));
                }
            }
        }
        if self.config.generate_sitemap {
            add(Job::Sitemap, "sitemap.xml".into(), vec![Dep::AllPages], 0, Some("sitemap.xml".into()));
        }
        if self.config.generate_robots_txt {
            add(Job::Robots, "robots.txt".into(), vec![], 0, Some("robots.txt".into()));
        }
        add(Job::NotFound, "404.html".into(), vec![], 0, Some("404.html".into()));
        let mut elasticlunr = false;
        // As Zola: the top level's `build_search_index` decides whether there are indexes at all.
        let languages = if self.config.build_search_index { self.config.language_codes() } else { Vec::new() };
        for (li, lang) in languages.into_iter().enumerate() {
            if !self.config.language(lang).is_some_and(|o| o.build_search_index) {
                continue;
            }
            let format =
                crate::search::IndexFormat::parse(&crate::search::search_options(&self.config, lang).index_format)
                    .unwrap_or(crate::search::IndexFormat::ElasticlunrJavascript);
            add(Job::SearchIndex(li), format.file_name(lang), vec![Dep::AllPages], 0, None);
            elasticlunr |= format.is_elasticlunr();
        }
        if elasticlunr {
            add(Job::SearchLibrary, crate::search::ELASTICLUNR_FILE.into(), vec![], 0, None);
        }
        if let Some(shop) = &self.shop {
            // The Folio's plans are its section's front matter.
            let folio = self.library.section_index.get(&format!("{}/_index.md", shop.folio));
            let deps = [Dep::AllPages].into_iter().chain(folio.map(|&s| Dep::Section(s))).collect();
            add(Job::Catalog, crate::shop::CATALOG_FILE.into(), deps, 0, None);
        }
        if self.templates.has("service.html") {
            add(Job::ServiceShell, SERVICE_SHELL.into(), vec![], 0, Some("service.html".into()));
        }
        // A search index is one long job (every page's words through one index): first in the
        // list, a thread starts on it at once while the others render the pages.
        plans.sort_by_key(|p| !matches!(p.job, Job::SearchIndex(_)));
        plans
    }

    fn plan_page(&self, pid: PageId, p: &crate::content::Page) -> Vec<Plan> {
        let lib = &self.library;
        let mut plans: Vec<Plan> = p
            .meta
            .aliases
            .iter()
            .map(|alias| Plan {
                job: Job::Alias(file_for_path(alias), p.permalink.clone()),
                file: file_for_path(alias),
                deps: vec![],
                signature: sig(&p.permalink),
                template: Some("internal/alias.html".into()),
            })
            .collect();
        let template = self.page_template(pid);
        let mut deps = vec![Dep::Page(pid)];
        deps.extend(p.lower.map(Dep::Page));
        deps.extend(p.higher.map(Dep::Page));
        if self.shows_translations(&template) {
            deps.extend(self.translation_deps(&p.file.canonical));
        }
        // A page showing its backlinks depends on the pages linking to it.
        let mut sources: Vec<&str> = Vec::new();
        if self.templates.mentions(&template, "backlinks") {
            for b in self.backlinks.get(&p.file.relative).into_iter().flatten() {
                sources.push(&b.source);
                deps.extend(lib.page_index.get(&b.source).map(|&i| Dep::Page(i)));
                deps.extend(lib.section_index.get(&b.source).map(|&i| Dep::Section(i)));
            }
        }
        plans.push(Plan {
            job: Job::Page(pid),
            file: file_for_path(&p.path),
            signature: sig((p.lower, p.higher, &template, &p.path, sources)),
            deps,
            template: Some(template),
        });
        plans
    }

    /// Whether outputs of `template` show translations (their titles and permalinks), so
    /// depend on them: only on a multilingual site whose template reads `translations`.
    fn shows_translations(&self, template: &str) -> bool {
        self.library.default_language.is_some() && self.templates.mentions(template, "translations")
    }

    /// The translations of a page or section, as dependencies.
    fn translation_deps(&self, canonical: &str) -> impl Iterator<Item = Dep> + '_ {
        self.library.translations_of(canonical).iter().map(|&t| Dep::from(t))
    }

    /// The feed files of a language.
    fn feed_filenames(&self, lang: &str) -> &[String] {
        self.config.language(lang).map(|o| o.feed_filenames.as_slice()).unwrap_or(&self.config.feed_filenames)
    }

    fn context(&self, path: &str, lang: &str) -> Context {
        let mut ctx = self.templates.base_context(lang);
        ctx.insert("current_path", path);
        ctx.insert("current_url", &self.config.permalink(path));
        ctx
    }

    fn render_template(&self, name: &str, ctx: &Context) -> Result<String> {
        if !self.templates.has(name) {
            return Err(Error::one(Diagnostic::file(
                format!("templates/{name}"),
                format!("template `{name}` does not exist: add templates/{name} or choose a theme that has it"),
            )));
        }
        self.templates.render(name, ctx, &self.root)
    }

    fn paginator(&self, p: &Pager<'_>) -> Value {
        let lib = &self.library;
        let number_pagers = if p.ids.is_empty() { 1 } else { p.ids.len().div_ceil(p.by) };
        let permalink = |k: usize| self.config.permalink(&Self::pager_path(p.base, p.segment, k));
        let start = (p.n - 1) * p.by;
        let pages: Vec<Value> =
            p.ids.iter().skip(start).take(p.by).map(|&id| ser::page_with(lib, id, p.items, &self.backlinks)).collect();
        let base = self.config.permalink(p.base);
        json!({
            "paginate_by": p.by,
            "first": permalink(1),
            "last": permalink(number_pagers),
            "previous": if p.n > 1 { Value::String(permalink(p.n - 1)) } else { Value::Null },
            "next": if p.n < number_pagers { Value::String(permalink(p.n + 1)) } else { Value::Null },
            "number_pagers": number_pagers,
            "base_url": if p.segment.is_empty() { base } else { format!("{base}{}/", p.segment) },
            "pages": pages,
            "current_index": p.n,
            "total_pages": p.ids.len(),
        })
    }

    /// Renders one job to bytes.
    pub fn render_job(&self, job: &Job) -> Result<Vec<u8>> {
        let lib = &self.library;
        let bl = &self.backlinks;
        let alias = |url: &str| {
            let mut ctx = Context::new();
            ctx.insert("url", url);
            self.render_template("internal/alias.html", &ctx)
        };
        let text = match job {
            Job::Page(pid) => {
                let p = &lib.pages[*pid];
                let template = self.page_template(*pid);
                let mut ctx = self.context(&p.path, &p.file.lang);
                let fields =
                    ser::Fields { content: true, siblings: Some(self.templates.reads_content(&template, "page")) };
                put(&mut ctx, "page", ser::page_with(lib, *pid, fields, bl));
                self.render_template(&template, &ctx)?
            }
            Job::Section(sid, n) => {
                let s = &lib.sections[*sid];
                let template = self.section_template(*sid);
                let path = Self::pager_path(&s.path, s.paginate_path(), *n);
                let mut ctx = self.context(&path, &s.file.lang);
                let content = self.templates.reads_content(&template, "section");
                // Zola gives each listed page its neighbours too; only a template that names
                // them pays for them (they are the section's own pages: no new dependency).
                let neighbours =
                    self.templates.mentions(&template, "lower") || self.templates.mentions(&template, "higher");
                let items = ser::Fields { content, siblings: neighbours.then_some(content) };
                match s.meta.paginate_by.filter(|&b| b > 0) {
                    Some(by) => {
                        put(&mut ctx, "section", ser::section(lib, *sid, None, bl));
                        let ids = self.section_pages(*sid);
                        let pager = Pager { ids: &ids, by, base: &s.path, segment: s.paginate_path(), n: *n, items };
                        put(&mut ctx, "paginator", self.paginator(&pager));
                    }
                    None => {
                        let pages = self.templates.mentions(&template, "pages").then_some(items);
                        put(&mut ctx, "section", ser::section(lib, *sid, pages, bl))
                    }
                }
                self.render_template(&template, &ctx)?
            }
            Job::PagerAlias(sid) => alias(&lib.sections[*sid].permalink)?,
            Job::SectionRedirect(sid) => {
                let target = lib.sections[*sid].meta.redirect_to.clone().unwrap_or_default();
                alias(&self.config.permalink(&target))?
            }
            Job::Alias(_, url) => alias(url)?,
            Job::TaxonomyList(ti) => {
                let t = &self.taxonomies[*ti];
                let mut ctx = self.context(&t.path, &t.lang);
                put(&mut ctx, "taxonomy", ser::taxonomy_config(t));
                let template = self.taxonomy_template(*ti, "list");
                let pages = self
                    .templates
                    .mentions(&template, "pages")
                    .then(|| ser::listed(self.templates.reads_content(&template, "taxonomy")));
                let terms: Vec<Value> = t.terms.iter().map(|term| ser::term(lib, term, pages, bl)).collect();
                put(&mut ctx, "terms", Value::from(terms));
                self.render_template(&template, &ctx)?
            }
            Job::Term(ti, xi, n) => {
                let t = &self.taxonomies[*ti];
                let term = &t.terms[*xi];
                let template = self.taxonomy_template(*ti, "single");
                let path = Self::pager_path(&term.path, t.config.paginate_path(), *n);
                let mut ctx = self.context(&path, &t.lang);
                put(&mut ctx, "taxonomy", ser::taxonomy_config(t));
                let items = ser::listed(self.templates.reads_content(&template, "term"));
                match t.config.paginate_by.filter(|&b| b > 0) {
                    Some(by) => {
                        // Zola gives a paginated term all its pages too (a count above the
                        // list needs them); they cost a build only where the template reads them
                        // (every pager serializes them all: `paginator.pages` alone does not ask).
                        let pages = self.templates.mentions_beyond_paginator(&template, "pages").then_some(items);
                        put(&mut ctx, "term", ser::term(lib, term, pages, bl));
                        let segment = t.config.paginate_path();
                        let pager = Pager { ids: &term.pages, by, base: &term.path, segment, n: *n, items };
                        put(&mut ctx, "paginator", self.paginator(&pager));
                    }
                    None => {
                        let pages = self.templates.mentions(&template, "pages").then_some(items);
                        put(&mut ctx, "term", ser::term(lib, term, pages, bl))
                    }
                }
                self.render_template(&template, &ctx)?
            }
            Job::TermPagerAlias(ti, xi) => alias(&self.taxonomies[*ti].terms[*xi].permalink)?,
            Job::Feed(scope, file) => self.render_feed(*scope, file)?,
            Job::Sitemap => self.render_sitemap()?,
            Job::Robots => {
                self.render_template("robots.txt", &self.templates.base_context(&self.config.default_language))?
            }
            Job::NotFound => {
                self.render_template("404.html", &self.templates.base_context(&self.config.default_language))?
            }
            Job::SearchIndex(li) => crate::search::index(self, self.language_code(*li))?,
            Job::SearchLibrary => crate::search::ELASTICLUNR_JS.to_string(),
            Job::ServiceShell => {
                self.render_template("service.html", &self.context("/cart/", &self.config.default_language))?
            }
            Job::Catalog => {
                let shop = self
                    .shop
                    .as_ref()
                    .ok_or_else(|| Error::one(Diagnostic::file("config.toml", "no [extra.compendium]")))?;
                let mut s = serde_json::to_string_pretty(&crate::shop::catalog(shop, lib)).unwrap_or_default();
                s.push('\n');
                s
            }
        };
        Ok(text.into_bytes())
    }

    fn any_dated(&self, ids: &[PageId]) -> bool {
        ids.iter().any(|&p| self.library.pages[p].date.is_some())
    }

    /// The code of the language at that place in `language_codes`.
    pub fn language_code(&self, index: usize) -> &str {
        self.config.language_codes().get(index).copied().unwrap_or(&self.config.default_language)
    }

    fn render_feed(&self, scope: FeedScope, file: &str) -> Result<String> {
        let lib = &self.library;
        let lang = match scope {
            FeedScope::Root(li) => self.language_code(li),
            FeedScope::Section(sid) => &lib.sections[sid].file.lang,
            FeedScope::Term(ti, _) => &self.taxonomies[ti].lang,
        };
        let mut ctx = self.templates.base_context(lang);
        let (ids, base): (Vec<PageId>, String) = match scope {
            FeedScope::Root(_) => (
                (0..lib.pages.len()).filter(|&p| lib.pages[p].renders() && lib.pages[p].file.lang == lang).collect(),
                self.config.lang_path(lang, "/"),
            ),
            FeedScope::Section(sid) => {
                let s = &lib.sections[sid];
                put(&mut ctx, "section", ser::section(lib, sid, None, &self.backlinks));
                (s.pages.clone(), s.path.clone())
            }
            FeedScope::Term(ti, xi) => {
                let t = &self.taxonomies[ti];
                let term = &t.terms[xi];
                put(&mut ctx, "taxonomy", ser::taxonomy_config(t));
                put(&mut ctx, "term", json!({"name": term.name, "slug": term.slug, "permalink": term.permalink}));
                (term.pages.clone(), term.path.clone())
            }
        };
        let mut dated: Vec<PageId> = ids.into_iter().filter(|&p| lib.pages[p].date.is_some()).collect();
        dated.sort_by(|&a, &b| {
            let (a, b) = (&lib.pages[a], &lib.pages[b]);
            b.date
                .as_ref()
                .map(|d| d.instant)
                .cmp(&a.date.as_ref().map(|d| d.instant))
                .then_with(|| a.permalink.cmp(&b.permalink))
        });
        let last_updated = dated
            .iter()
            .filter_map(|&p| lib.pages[p].updated.as_ref().map(|d| d.text.clone()))
            .chain(dated.first().and_then(|&p| lib.pages[p].date.as_ref().map(|d| d.text.clone())))
            .max();
        if let Some(limit) = self.config.feed_limit {
            dated.truncate(limit);
        }
        let pages: Vec<Value> = dated.iter().map(|&p| ser::page(lib, p, false, &self.backlinks)).collect();
        put(&mut ctx, "pages", Value::from(pages));
        if let Some(lu) = last_updated {
            ctx.insert("last_updated", &lu);
        }
        ctx.insert("feed_url", &self.config.permalink(&format!("{}{file}", base)));
        self.render_template(file, &ctx)
    }

    fn sitemap_entries(&self) -> Vec<Value> {
        let lib = &self.library;
        let mut entries: Vec<(String, Value)> = Vec::new();
        let mut push = |permalink: String, updated: Option<String>, extra: Value| {
            entries.push((permalink.clone(), json!({"permalink": permalink, "updated": updated, "extra": extra})));
        };
        for p in lib.pages.iter().filter(|p| p.renders()) {
            let updated = p.updated.as_ref().or(p.date.as_ref()).map(|d| d.text.clone());
            push(
                p.permalink.clone(),
                updated,
                crate::toml_value::toml_to_json(&toml::Value::Table(p.meta.extra.clone())),
            );
        }
        for s in &lib.sections {
            // A section that redirects is listed as Zola lists it: its own address only.
            if s.meta.render {
                push(
                    s.permalink.clone(),
                    None,
                    crate::toml_value::toml_to_json(&toml::Value::Table(s.meta.extra.clone())),
                );
            }
            if s.meta.render && s.meta.redirect_to.is_none() {
                // Zola lists `page/1/` too (a redirect to the section), and every later pager.
                if let Some(by) = s.meta.paginate_by.filter(|&b| b > 0) {
                    for i in 1..=s.pages.len().div_ceil(by).max(1) {
                        push(
                            self.config.permalink(&Self::listed_pager_path(&s.path, s.paginate_path(), i)),
                            None,
                            Value::Null,
                        );
                    }
                }
            }
        }
        for t in self.taxonomies.iter().filter(|t| t.config.render && !t.terms.is_empty()) {
            push(t.permalink.clone(), None, Value::Null);
            for term in &t.terms {
                push(term.permalink.clone(), None, Value::Null);
                if let Some(by) = t.config.paginate_by.filter(|&b| b > 0) {
                    for i in 1..=term.pages.len().div_ceil(by).max(1) {
                        push(
                            self.config.permalink(&Self::listed_pager_path(&term.path, t.config.paginate_path(), i)),
                            None,
                            Value::Null,
                        );
                    }
                }
            }
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.dedup_by(|a, b| a.0 == b.0);
        entries.into_iter().map(|(_, v)| v).collect()
    }

    fn render_sitemap(&self) -> Result<String> {
        let entries = self.sitemap_entries();
        let mut ctx = Context::new();
        put(&mut ctx, "entries", Value::from(entries));
        self.render_template("sitemap.xml", &ctx)
    }

    /// Renders the given plans in parallel and writes what changed; records what each read.
    pub fn render_plans(&self, plans: &[Plan], output: &Output, progress: bool) -> Result<Vec<(Job, JobRecord, bool)>> {
        let bar = (progress && std::io::stderr().is_terminal() && plans.len() > 500).then(|| {
            let bar = indicatif::ProgressBar::new(plans.len() as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} rendering {bar:40} {pos}/{len} ({eta})")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        let results: Vec<std::result::Result<(Job, JobRecord, bool), Error>> = plans
            .par_iter()
            .map(|plan| {
                let (changed, mut recorded) = deps::capture(|| match plan.job {
                    // Streamed into its file: an index can be hundreds of megabytes.
                    Job::SearchIndex(li) => {
                        crate::search::write_index(self, self.language_code(li), output, &plan.file)
                    }
                    _ => self.render_job(&plan.job).and_then(|bytes| output.write(&plan.file, &bytes)),
                });
                let changed = changed?;
                recorded.extend(plan.deps.iter().copied());
                recorded.sort();
                recorded.dedup();
                if let Some(b) = &bar {
                    b.inc(1);
                }
                Ok((
                    plan.job.clone(),
                    JobRecord {
                        file: plan.file.clone(),
                        deps: recorded,
                        signature: plan.signature,
                        template: plan.template.clone(),
                    },
                    changed,
                ))
            })
            .collect();
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        let mut ok = Vec::with_capacity(results.len());
        let mut diagnostics = Vec::new();
        for r in results {
            match r {
                Ok(x) => ok.push(x),
                Err(Error::Site(mut d)) => diagnostics.append(&mut d),
                Err(e) => return Err(e),
            }
        }
        if !diagnostics.is_empty() {
            diagnostics.sort_by(|a, b| a.file.cmp(&b.file).then(a.line.cmp(&b.line)));
            diagnostics.dedup();
            return Err(Error::Site(diagnostics));
        }
        Ok(ok)
    }

    /// Compiles the `sass/` folders when `compile_sass` is on and writes the stylesheets;
    /// returns their output paths.
    pub fn write_sass(&self, output: &Output) -> Result<Vec<String>> {
        let mut sheets = std::collections::BTreeMap::new();
        if self.config.compile_sass {
            sheets.extend(crate::sass::compile(&self.root, self.config.theme.as_deref())?);
        }
        for (rel, css) in &sheets {
            output.write(rel, css.as_bytes())?;
        }
        Ok(sheets.into_keys().collect())
    }

    /// Copies the theme's and the site's `static/` and the content assets; returns the files.
    pub fn copy_static(&self, output: &Output) -> Result<HashSet<String>> {
        let mut files: HashMap<String, PathBuf> = HashMap::new();
        let ignored: Vec<crate::glob::Glob> =
            self.config.ignored_static.iter().map(|g| crate::glob::Glob::new(g)).collect();
        let mut dirs = Vec::new();
        if let Some(theme) = &self.config.theme {
            dirs.push(self.root.join("themes").join(theme).join("static"));
        }
        dirs.push(self.root.join("static"));
        for dir in dirs.iter().filter(|d| d.is_dir()) {
            for entry in walkdir::WalkDir::new(dir).into_iter().filter_map(|e| e.ok()) {
                if !entry.file_type().is_file() {
                    continue;
                }
                let rel = entry
                    .path()
                    .strip_prefix(dir)
                    .unwrap_or(entry.path())
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                if ignored.iter().any(|g| g.matches(&rel)) {
                    continue;
                }
                files.insert(rel, entry.path().to_path_buf());
            }
        }
        let content = self.root.join("content");
        for p in self.library.pages.iter().filter(|p| p.renders()) {
            let Some(bundle) = &p.file.colocated else {
                continue;
            };
            for asset in &p.assets {
                let inside = asset.trim_start_matches('/').strip_prefix(bundle.as_str()).unwrap_or(asset);
                files.insert(
                    format!("{}{}", p.path.trim_start_matches('/'), inside),
                    content.join(asset.trim_start_matches('/')),
                );
            }
        }
        for s in self.library.sections.iter().filter(|s| s.meta.render) {
            for asset in &s.assets {
                let name = asset.rsplit('/').next().unwrap_or(asset);
                files.insert(
                    format!("{}{}", s.path.trim_start_matches('/'), name),
                    content.join(asset.trim_start_matches('/')),
                );
            }
        }
        let list: Vec<(&String, &PathBuf)> = files.iter().collect();
        list.par_iter().try_for_each(|(rel, src)| output.copy(src, rel).map(|_| ()))?;
        Ok(files.into_keys().collect())
    }
}

/// One page of a pagination.
struct Pager<'a> {
    ids: &'a [PageId],
    by: usize,
    base: &'a str,
    segment: &'a str,
    n: usize,
    items: ser::Fields,
}

/// Counts of a full build.
#[derive(Debug, Clone, Default)]
pub struct BuildReport {
    /// Pages rendered.
    pub pages: usize,
    /// Sections.
    pub sections: usize,
    /// Files produced (rendered and copied).
    pub files: usize,
    /// Files whose bytes changed.
    pub written: usize,
    /// Stale files removed.
    pub removed: usize,
    /// Remarks worth reading.
    pub warnings: Vec<String>,
}

/// Renders every output of a loaded site into its output folder.
pub fn build(site: &mut Site) -> Result<BuildReport> {
    let output = Output::open(&site.output_dir, site.opts.force)?;
    let mut plans = site.plan();
    resolve_collisions(&mut plans)?;
    site.handle.images().reset();
    let rendered = site.render_plans(&plans, &output, site.opts.progress)?;
    // Resized images go into static/processed_images/ first, then out with the other statics.
    site.handle.images().process(&site.root, None)?;
    site.handle.images().prune(&site.root);
    if let Some(cfg) = &site.config.markdown.highlighting {
        // Class mode's stylesheets go into static/, as Zola puts them, and out with the rest.
        crate::highlight::write_stylesheets(cfg, &site.root.join("static"))
            .map_err(|e| Error::one(Diagnostic::file(&site.opts.config_file, e)))?;
    }
    let mut statics_set = site.copy_static(&output)?;
    statics_set.extend(site.write_sass(&output)?);
    let mut keep: HashSet<String> = rendered.iter().map(|(_, r, _)| r.file.clone()).collect();
    keep.extend(statics_set.iter().cloned());
    let removed = output.prune(&keep);
    output.save()?;
    site.static_files = statics_set;
    site.records = rendered.into_iter().map(|(job, record, _)| (job, record)).collect();
    Ok(BuildReport {
        pages: site.page_count(),
        sections: site.library.sections.iter().filter(|s| s.meta.render).count(),
        files: keep.len(),
        written: output.written(),
        removed,
        warnings: site.warnings.clone(),
    })
}

/// Drops aliases that real content overwrites (as in Zola) and fails on any other clash.
pub fn resolve_collisions(plans: &mut Vec<Plan>) -> Result<()> {
    let real: HashSet<String> =
        plans.iter().filter(|p| !matches!(p.job, Job::Alias(..))).map(|p| p.file.clone()).collect();
    let mut aliases_seen = HashSet::new();
    plans.retain(|p| {
        !matches!(p.job, Job::Alias(..)) || (!real.contains(&p.file) && aliases_seen.insert(p.file.clone()))
    });
    let mut seen: HashMap<&str, &Job> = HashMap::new();
    let mut diagnostics = Vec::new();
    for p in plans.iter() {
        if let Some(other) = seen.insert(p.file.as_str(), &p.job) {
            diagnostics
                .push(Diagnostic::file(&p.file, format!("two outputs claim this file: {other:?} and {:?}", p.job)));
        }
    }
    if diagnostics.is_empty() {
        Ok(())
    } else {
        Err(Error::Site(diagnostics))
    }
}
