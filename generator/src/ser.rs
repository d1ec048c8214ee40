//! What templates see: borrowing views of pages, sections, terms and pagers, serialized the
//! way Zola serializes them. Templates never see the engine's own types.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::content::{Heading, Library, Page, PageId, Section, SectionId, Translated};
use crate::taxonomies::{Taxonomy, Term};
use crate::toml_value::toml_to_json;

/// A link back to something that links here.
#[derive(Debug, Clone, Serialize)]
pub struct Backlink {
    /// Its permalink.
    pub permalink: String,
    /// Its title.
    pub title: Option<String>,
    /// The relative path of the page or section that links, for dependency tracking.
    #[serde(skip)]
    pub source: String,
}

/// Backlinks of every page and section, by relative path.
pub type Backlinks = std::collections::HashMap<String, Vec<Backlink>>;

#[derive(Serialize)]
struct PageView<'a> {
    relative_path: &'a str,
    colocated_path: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    permalink: &'a str,
    slug: &'a str,
    ancestors: &'a [String],
    title: Option<&'a str>,
    description: Option<&'a str>,
    updated: Option<&'a str>,
    date: Option<&'a str>,
    year: Option<i32>,
    month: Option<u32>,
    day: Option<u32>,
    taxonomies: &'a BTreeMap<String, Vec<String>>,
    authors: &'a [String],
    extra: Value,
    path: &'a str,
    components: Vec<&'a str>,
    summary: Option<&'a str>,
    toc: &'a [Heading],
    word_count: usize,
    reading_time: usize,
    assets: &'a [String],
    draft: bool,
    lang: &'a str,
    lower: Option<Value>,
    higher: Option<Value>,
    translations: Vec<Value>,
    backlinks: &'a [Backlink],
}

/// Serializes a page; `siblings` adds `lower` and `higher` (only the page being rendered has them).
pub fn page(lib: &Library, id: PageId, siblings: bool, backlinks: &Backlinks) -> Value {
    page_with(lib, id, Fields { content: true, siblings: siblings.then_some(true) }, backlinks)
}

/// Which costly fields a page value carries: templates that never read a listed page's
/// `content` get lists without it (see `Templates::reads_content`).
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    /// Include `content`.
    pub content: bool,
    /// Include `lower`/`higher`, and whether those carry their content.
    pub siblings: Option<bool>,
}

/// A list entry: no siblings, content only if asked.
pub const fn listed(content: bool) -> Fields {
    Fields { content, siblings: None }
}

/// Serializes a page with the chosen fields.
pub fn page_with(lib: &Library, id: PageId, fields: Fields, backlinks: &Backlinks) -> Value {
    let p = &lib.pages[id];
    let sibling = |s: Option<PageId>| match fields.siblings {
        Some(content) => s.map(|s| page_with(lib, s, listed(content), backlinks)),
        None => None,
    };
    let translations = translations(lib, &p.file.canonical);
    page_value(p, fields.content, backlinks, sibling(p.lower), sibling(p.higher), translations)
}

#[derive(Serialize)]
struct TranslationView<'a> {
    lang: &'a str,
    permalink: &'a str,
    title: Option<&'a str>,
    path: &'a std::path::Path,
}

/// A page's or section's translations as Zola lists them (itself included; none on a site of
/// one language): language, permalink, title and file.
fn translations(lib: &Library, canonical: &str) -> Vec<Value> {
    lib.translations_of(canonical)
        .iter()
        .map(|t| {
            let (file, permalink, title) = match *t {
                Translated::Page(i) => (&lib.pages[i].file, &lib.pages[i].permalink, &lib.pages[i].meta.title),
                Translated::Section(i) => {
                    (&lib.sections[i].file, &lib.sections[i].permalink, &lib.sections[i].meta.title)
                }
            };
            let view = TranslationView { lang: &file.lang, permalink, title: title.as_deref(), path: &file.path };
            serde_json::to_value(view).unwrap_or(Value::Null)
        })
        .collect()
}

fn page_value(
    p: &Page,
    content: bool,
    backlinks: &Backlinks,
    lower: Option<Value>,
    higher: Option<Value>,
    translations: Vec<Value>,
) -> Value {
    use chrono::Datelike;
    let view = PageView {
        relative_path: &p.file.relative,
        colocated_path: p.file.colocated.as_deref(),
        content: content.then_some(p.content.as_str()),
        permalink: &p.permalink,
        slug: &p.slug,
        ancestors: &p.ancestors,
        title: p.meta.title.as_deref(),
        description: p.meta.description.as_deref(),
        updated: p.updated.as_ref().map(|d| d.text.as_str()),
        date: p.date.as_ref().map(|d| d.text.as_str()),
        year: p.date.as_ref().map(|d| d.instant.year()),
        month: p.date.as_ref().map(|d| d.instant.month()),
        day: p.date.as_ref().map(|d| d.instant.day()),
        taxonomies: &p.meta.taxonomies,
        authors: &p.meta.authors,
        extra: toml_to_json(&toml::Value::Table(p.meta.extra.clone())),
        path: &p.path,
        components: p.path.split('/').filter(|s| !s.is_empty()).collect(),
        summary: p.summary.as_deref(),
        toc: &p.toc,
        word_count: p.word_count,
        reading_time: p.reading_time,
        assets: &p.assets,
        draft: p.meta.draft,
        lang: &p.file.lang,
        lower,
        higher,
        translations,
        backlinks: backlinks.get(&p.file.relative).map(Vec::as_slice).unwrap_or(&[]),
    };
    serde_json::to_value(view).unwrap_or(Value::Null)
}

/// What a shortcode sees as `page` while the page's Markdown is being rendered.
pub fn page_for_shortcode(p: &Page) -> Value {
    page_value(p, true, &Backlinks::new(), None, None, Vec::new())
}

#[derive(Serialize)]
struct SectionView<'a> {
    relative_path: &'a str,
    colocated_path: Option<&'a str>,
    content: &'a str,
    permalink: &'a str,
    draft: bool,
    ancestors: &'a [String],
    title: Option<&'a str>,
    description: Option<&'a str>,
    extra: Value,
    path: &'a str,
    components: Vec<&'a str>,
    toc: &'a [Heading],
    word_count: usize,
    reading_time: usize,
    lang: &'a str,
    assets: &'a [String],
    pages: Vec<Value>,
    subsections: Vec<&'a str>,
    translations: Vec<Value>,
    backlinks: &'a [Backlink],
    generate_feeds: bool,
    transparent: bool,
    paginate_by: Option<usize>,
    paginate_reversed: bool,
}

/// Serializes a section; `pages` includes its pages (with or without their content).
pub fn section(lib: &Library, id: SectionId, pages: Option<Fields>, backlinks: &Backlinks) -> Value {
    let s: &Section = &lib.sections[id];
    let pages = match pages {
        Some(f) => s.pages.iter().map(|&p| page_with(lib, p, f, backlinks)).collect(),
        None => Vec::new(),
    };
    section_value(lib, s, pages, backlinks, translations(lib, &s.file.canonical))
}

/// A section value for shortcodes, before content exists.
pub fn section_for_shortcode(lib: &Library, s: &Section) -> Value {
    section_value(lib, s, Vec::new(), &Backlinks::new(), Vec::new())
}

fn section_value(
    lib: &Library,
    s: &Section,
    pages: Vec<Value>,
    backlinks: &Backlinks,
    translations: Vec<Value>,
) -> Value {
    let view = SectionView {
        relative_path: &s.file.relative,
        colocated_path: None,
        content: &s.content,
        permalink: &s.permalink,
        draft: s.meta.draft,
        ancestors: &s.ancestors,
        title: s.meta.title.as_deref(),
        description: s.meta.description.as_deref(),
        extra: toml_to_json(&toml::Value::Table(s.meta.extra.clone())),
        path: &s.path,
        components: s.path.split('/').filter(|c| !c.is_empty()).collect(),
        toc: &s.toc,
        word_count: s.word_count,
        reading_time: s.reading_time,
        lang: &s.file.lang,
        assets: &s.assets,
        pages,
        subsections: s.subsections.iter().map(|&c| lib.sections[c].file.relative.as_str()).collect(),
        translations,
        backlinks: backlinks.get(&s.file.relative).map(Vec::as_slice).unwrap_or(&[]),
        generate_feeds: s.meta.generate_feeds,
        transparent: s.meta.transparent,
        paginate_by: s.meta.paginate_by,
        paginate_reversed: s.meta.paginate_reversed,
    };
    serde_json::to_value(view).unwrap_or(Value::Null)
}

/// A taxonomy term with its pages (or none).
pub fn term(lib: &Library, t: &Term, pages: Option<Fields>, backlinks: &Backlinks) -> Value {
    let pages: Vec<Value> = match pages {
        Some(f) => t.pages.iter().map(|&p| page_with(lib, p, f, backlinks)).collect(),
        None => Vec::new(),
    };
    serde_json::json!({
        "name": t.name,
        "slug": t.slug,
        "path": t.path,
        "permalink": t.permalink,
        "pages": pages,
        "page_count": t.pages.len(),
    })
}

/// A taxonomy's configuration as templates see it (`taxonomy`).
pub fn taxonomy_config(t: &Taxonomy) -> Value {
    serde_json::json!({
        "name": t.config.name,
        "slug": t.slug,
        "paginate_by": t.config.paginate_by,
        "paginate_path": t.config.paginate_path(),
        "feed": t.config.feed,
        "render": t.config.render,
        "lang": t.lang,
    })
}

/// `get_taxonomy`'s answer: the kind, its permalink and its terms with pages.
pub fn taxonomy(lib: &Library, t: &Taxonomy, backlinks: &Backlinks) -> Value {
    serde_json::json!({
        "kind": taxonomy_config(t),
        "lang": t.lang,
        "permalink": t.permalink,
        "items": t.terms.iter().map(|term| self::term(lib, term, Some(listed(true)), backlinks)).collect::<Vec<_>>(),
    })
}

/// Computes backlinks from every page's and section's `@/` links.
pub fn backlinks(lib: &Library) -> Backlinks {
    let mut map = Backlinks::new();
    let mut add = |links: &[(String, Option<String>, usize)], permalink: &str, title: Option<&String>, source: &str| {
        for (target, _, _) in links {
            let list = map.entry(target.clone()).or_default();
            if !list.iter().any(|b| b.permalink == permalink) {
                list.push(Backlink {
                    permalink: permalink.to_string(),
                    title: title.cloned(),
                    source: source.to_string(),
                });
            }
        }
    };
    for p in &lib.pages {
        add(&p.internal_links, &p.permalink, p.meta.title.as_ref(), &p.file.relative);
    }
    for s in &lib.sections {
        add(&s.internal_links, &s.permalink, s.meta.title.as_ref(), &s.file.relative);
    }
    for list in map.values_mut() {
        list.sort_by(|a, b| a.permalink.cmp(&b.permalink));
    }
    map
}
