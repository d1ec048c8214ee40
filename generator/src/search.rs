//! The static search index, in Fuse's JSON (or JavaScript) form: one entry per indexed section
//! and page, with the text of its content stripped of markup. An essence's entry also carries
//! what a shopper searches it by: its Latin and other names, taxonomy terms, sizes and price.

use serde::Serialize;

use crate::config::Config;
use crate::content::Library;
use crate::error::{Diagnostic, Error, Result};
use crate::site::Site;

#[derive(Serialize)]
struct Entry<'a> {
    url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    essence: Option<EssenceFields<'a>>,
}

/// The fields of an essence's entry (only the shop's pages have them, so a Zola site's index is
/// Zola's).
#[derive(Serialize)]
struct EssenceFields<'a> {
    kind: &'static str,
    latin_name: &'a str,
    /// Other names it is known by (`extra.names`: the French common name, a trade name).
    names: Vec<&'a str>,
    /// Every taxonomy term it is filed under.
    terms: Vec<&'a str>,
    sizes: Vec<&'a str>,
    /// The "from" price as shown, `€42.00`.
    price: String,
}

fn essence_fields(p: &crate::content::Page) -> Option<EssenceFields<'_>> {
    let e = p.essence.as_ref()?;
    let names = p
        .meta
        .extra
        .get("names")
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    Some(EssenceFields {
        kind: "essence",
        latin_name: &e.latin_name,
        names,
        terms: p.meta.taxonomies.values().flatten().map(String::as_str).collect(),
        sizes: e.sizes.iter().map(|s| s.label.as_str()).collect(),
        price: e.price.to_string(),
    })
}

/// elasticlunr.js 0.9.6 (MIT: Oliver Nightingale, Wei Song), which Zola writes beside an
/// elasticlunr index for the theme's script to load. It is the build that Zola and mdBook ship
/// (unmodified, from the crates.io package mdbook-html 0.5.4): npm has only 0.9.5, whose results
/// lack the `doc` that Zola themes read.
pub const ELASTICLUNR_JS: &str = include_str!("../assets/elasticlunr.min.js");

/// The file the elasticlunr library is written to.
pub const ELASTICLUNR_FILE: &str = "elasticlunr.min.js";

/// `[search] index_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexFormat {
    /// Zola's default: `window.searchIndex = {…}` for elasticlunr.js, with the library beside it.
    ElasticlunrJavascript,
    /// The elasticlunr index as JSON, with the library beside it.
    ElasticlunrJson,
    /// `window.searchIndex = […]`, a list for Fuse.js.
    FuseJavascript,
    /// A list for Fuse.js, as JSON.
    FuseJson,
}

impl IndexFormat {
    /// The format a configuration names.
    pub fn parse(name: &str) -> Result<IndexFormat> {
        Ok(match name {
            "elasticlunr_javascript" => IndexFormat::ElasticlunrJavascript,
            "elasticlunr_json" => IndexFormat::ElasticlunrJson,
            "fuse_javascript" => IndexFormat::FuseJavascript,
            "fuse_json" => IndexFormat::FuseJson,
            other => {
                return Err(Error::one(Diagnostic::file(
                    "config.toml",
                    format!(
                        "[search] index_format `{other}` is not one of \"elasticlunr_javascript\", \"elasticlunr_json\", \"fuse_javascript\" or \"fuse_json\""
                    ),
                )))
            }
        })
    }

    /// Whether the index is for elasticlunr.js (which is then written beside it).
    pub fn is_elasticlunr(self) -> bool {
        matches!(self, IndexFormat::ElasticlunrJavascript | IndexFormat::ElasticlunrJson)
    }

    /// The index file's name for a language: `search_index.en.js` or `.json`.
    pub fn file_name(self, lang: &str) -> String {
        let ext = match self {
            IndexFormat::ElasticlunrJavascript | IndexFormat::FuseJavascript => "js",
            _ => "json",
        };
        format!("search_index.{lang}.{ext}")
    }
}

/// One page or section as the index sees it.
struct Doc<'a> {
    url: &'a str,
    title: &'a str,
    description: &'a str,
    date: Option<String>,
    path: &'a str,
    html: &'a str,
    essence: Option<EssenceFields<'a>>,
}

/// The indexed sections and pages of a language, in the order of the sections' files.
fn docs<'a>(lib: &'a Library, lang: &str) -> Vec<Doc<'a>> {
    let mut out = Vec::new();
    let mut sections: Vec<usize> = (0..lib.sections.len()).collect();
    sections.sort_by(|&a, &b| lib.sections[a].file.relative.cmp(&lib.sections[b].file.relative));
    for sid in sections {
        let s = &lib.sections[sid];
        // A section's pages are of its language.
        if !s.meta.in_search_index || s.file.lang != lang {
            continue;
        }
        if s.meta.redirect_to.is_none() && s.meta.render {
            out.push(Doc {
                url: &s.permalink,
                title: s.meta.title.as_deref().unwrap_or(""),
                description: s.meta.description.as_deref().unwrap_or(""),
                date: None,
                path: &s.path,
                html: &s.content,
                essence: None,
            });
        }
        for &pid in &s.pages {
            let p = &lib.pages[pid];
            if !p.meta.in_search_index || p.section != Some(sid) {
                continue;
            }
            out.push(Doc {
                url: &p.permalink,
                title: p.meta.title.as_deref().unwrap_or(""),
                description: p.meta.description.as_deref().unwrap_or(""),
                date: p.date.as_ref().map(|d| d.rfc3339()),
                path: &p.path,
                html: &p.content,
                essence: essence_fields(p),
            });
        }
    }
    out
}

/// The search index file's text for a language.
pub fn index(site: &Site, lang: &str) -> Result<String> {
    match Lunr::gather(&site.config, &site.library, lang, true)? {
        Some(lunr) => {
            lunr.write().map_err(|e| Error::one(Diagnostic::file("config.toml", format!("search index: {e}"))))
        }
        None => fuse(&site.config, &site.library, lang),
    }
}

/// Writes a language's search index into the output folder, an elasticlunr index streamed
/// (never whole in memory); whether its bytes changed.
pub fn write_index(site: &Site, lang: &str, output: &crate::output::Output, file: &str) -> Result<bool> {
    match Lunr::gather(&site.config, &site.library, lang, true)? {
        Some(lunr) => output.write_stream(file, |w| lunr.write_to(w)),
        None => output.write(file, fuse(&site.config, &site.library, lang)?.as_bytes()),
    }
}

/// What a language's index holds (`[search]`, or `[languages.xx.search]`).
pub(crate) fn search_options<'a>(config: &'a Config, lang: &str) -> &'a crate::config::SearchConfig {
    config.language(lang).map(|l| &l.search).unwrap_or(&config.search)
}

/// An elasticlunr index's every text, gathered from the site and owned: the long part of the
/// work ([`Lunr::write`]) needs nothing else, so `serve` can do it on a thread of its own while
/// edits go on.
pub struct Lunr {
    format: IndexFormat,
    lang: String,
    opts: crate::config::SearchConfig,
    /// Each document's reference and its fields' texts, in the index's order of fields (the
    /// body as HTML until cleaned).
    rows: Vec<(String, Vec<String>)>,
    /// Whether the bodies are cleaned already.
    cleaned: bool,
}

impl Lunr {
    /// The texts of a language's elasticlunr index; nothing when the index is Fuse's. `clean`
    /// cleans the bodies now (a build: no copy of every page's HTML is held); `serve` leaves it
    /// to [`Lunr::write`] on its indexing thread, so an edit does not wait for it.
    pub fn gather(config: &Config, lib: &Library, lang: &str, clean: bool) -> Result<Option<Lunr>> {
        use rayon::prelude::*;
        let opts = search_options(config, lang);
        let format = IndexFormat::parse(&opts.index_format)?;
        if !format.is_elasticlunr() {
            return Ok(None);
        }
        if elasticlunr::lang::from_code(lang).is_none() {
            return Err(Error::one(Diagnostic::file(
                "config.toml",
                format!("the search index cannot be built for the language `{lang}`: elasticlunr has no stemmer for it here (as in Zola, Chinese and Japanese are left out); use index_format = \"fuse_json\""),
            )));
        }
        let docs = docs(lib, lang);
        let rows: Vec<(String, Vec<String>)> = docs
            .par_iter()
            .map(|d| {
                let mut row = Vec::new();
                // The texts in the order of the index's fields.
                if opts.include_title {
                    row.push(d.title.to_string());
                }
                if opts.include_description {
                    row.push(d.description.to_string());
                }
                if opts.include_date {
                    row.extend(d.date.clone());
                }
                if opts.include_path {
                    row.push(d.path.to_string());
                }
                if opts.include_content {
                    row.push(if clean { clean_body(d.html, opts.truncate_content_length) } else { d.html.to_string() });
                }
                (d.url.to_string(), row)
            })
            .collect();
        Ok(Some(Lunr { format, lang: lang.to_string(), opts: opts.clone(), rows, cleaned: clean }))
    }

    /// Builds the index and gives its file's text.
    pub fn write(self) -> std::io::Result<String> {
        let mut out = Vec::new();
        self.write_to(&mut out)?;
        String::from_utf8(out).map_err(std::io::Error::other)
    }

    /// Builds the index and streams its file's text into `w`.
    pub fn write_to(self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        use rayon::prelude::*;
        let Lunr { format, lang, opts, mut rows, cleaned } = self;
        if opts.include_content && !cleaned {
            // The body is each row's last text.
            rows.par_iter_mut().for_each(|(_, row)| {
                if let Some(html) = row.last_mut() {
                    *html = clean_body(html, opts.truncate_content_length);
                }
            });
        }
        let mut fields: Vec<&str> = Vec::new();
        for (on, name) in [
            (opts.include_title, "title"),
            (opts.include_description, "description"),
            (opts.include_date, "date"),
            (opts.include_path, "path"),
            (opts.include_content, "body"),
        ] {
            if on {
                fields.push(name);
            }
        }
        // The crate's own writing of an empty index of these fields: the pipeline's names, the
        // version and the language's name come from it.
        let Some(language) = elasticlunr::lang::from_code(&lang) else {
            return Err(std::io::Error::other(format!("elasticlunr has no language `{lang}`")));
        };
        let mut builder = elasticlunr::IndexBuilder::with_language(language);
        for f in &fields {
            builder = builder.add_field(f);
        }
        let skeleton = serde_json::to_value(builder.build()).unwrap_or_default();
        let references: Vec<&str> = rows.iter().map(|(url, _)| url.as_str()).collect();
        let mut index = crate::lunr::Index::new(fields.iter().map(|f| f.to_string()).collect(), &references);
        drop(references);
        // A few hundred documents at a time: their words made ready on every core, then added
        // in order (all documents' words at once took more memory than the index).
        let mut rows = rows.into_iter();
        loop {
            let chunk: Vec<(String, Vec<String>)> = rows.by_ref().take(PREPARED_DOCS).collect();
            if chunk.is_empty() {
                break;
            }
            let tokens: Vec<crate::lunr::Tokens> = chunk
                .par_iter()
                .map_init(
                    || elasticlunr::lang::from_code(&lang).map(|l| (l.make_pipeline(), l)),
                    |language, (_, texts)| {
                        let Some((pipeline, language)) = language else { return Vec::new() };
                        texts
                            .iter()
                            .zip(&fields)
                            .map(|(text, field)| {
                                // The path has Zola's own tokenizer; the language's pipeline
                                // runs after it, as the index runs it after any tokenizer.
                                let raw = if *field == "path" { path_tokens(text) } else { language.tokenize(text) };
                                pipeline.run(raw)
                            })
                            .collect()
                    },
                )
                .collect();
            for ((reference, texts), words) in chunk.into_iter().zip(tokens) {
                index.add(crate::lunr::Doc { reference, texts }, words);
            }
        }
        // No semicolon: Zola writes none.
        let prefix = if format == IndexFormat::ElasticlunrJavascript { "window.searchIndex = " } else { "" };
        index.write_to(prefix, &skeleton, w).map_err(std::io::Error::other)
    }
}

/// How many documents' words are made ready at once.
const PREPARED_DOCS: usize = 512;

/// Zola's tokens of a path: its words between slashes, hyphens and spaces, lowercased.
fn path_tokens(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == '-' || c == '/')
        .filter(|s| !s.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The Fuse index file's text.
fn fuse(config: &Config, lib: &Library, lang: &str) -> Result<String> {
    let opts = search_options(config, lang);
    let format = IndexFormat::parse(&opts.index_format)?;
    let docs = docs(lib, lang);
    let body = |d: &Doc| clean_body(d.html, opts.truncate_content_length);
    let entries: Vec<Entry> = docs
        .iter()
        .map(|d| Entry {
            url: d.url,
            title: opts.include_title.then_some(d.title),
            description: opts.include_description.then_some(d.description),
            body: opts.include_content.then(|| body(d)),
            path: opts.include_path.then_some(d.path),
            essence: d.essence.as_ref().map(|e| EssenceFields {
                kind: e.kind,
                latin_name: e.latin_name,
                names: e.names.clone(),
                terms: e.terms.clone(),
                sizes: e.sizes.clone(),
                price: e.price.clone(),
            }),
        })
        .collect();
    let json = serde_json::to_string(&entries).unwrap_or_else(|_| "[]".into());
    Ok(if format == IndexFormat::FuseJavascript { format!("window.searchIndex = {json}") } else { json })
}

/// Text escaped as an HTML serialiser writes a text node: `&`, `<`, `>` and no-break spaces.
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\u{a0}' => out.push_str("&nbsp;"),
            c => out.push(c),
        }
    }
    out
}

/// Text of an HTML fragment as Zola indexes it: tags removed, `script`, `style` and `pre` dropped
/// with their content, entities as a serialiser writes them (`&amp;`, `&lt;`, `&gt;`, `&nbsp;`),
/// whitespace collapsed per line, empty lines dropped, cut at `limit` characters.
pub fn clean_body(html: &str, limit: Option<usize>) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        text.push_str(&rest[..i]);
        rest = &rest[i..];
        let lower: String = rest.chars().take(8).collect::<String>().to_ascii_lowercase();
        let skip_to = ["script", "style", "pre"].iter().find(|t| {
            lower.starts_with(&format!("<{t}")) && {
                let after = &lower[1 + t.len()..];
                after.is_empty() || after.starts_with([' ', '>', '\n', '\t'])
            }
        });
        if let Some(tag) = skip_to {
            let close = format!("</{tag}>");
            match rest.to_ascii_lowercase().find(&close) {
                Some(j) => rest = &rest[j + close.len()..],
                None => rest = "",
            }
            continue;
        }
        match rest.find('>') {
            Some(j) => rest = &rest[j + 1..],
            None => rest = "",
        }
    }
    text.push_str(rest);
    // Entities as an HTML serialiser writes a text node, as Zola's index has them (`&amp;`).
    let text = escape_text(&decode_entities(&text));
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let collapsed = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if collapsed.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&collapsed);
    }
    match limit {
        Some(n) => out.chars().take(n).collect(),
        None => out,
    }
}

/// Replaces character references (numeric, and the named ones Markdown and hand-written HTML
/// use) by their characters; an unknown name is left as written.
fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    const NAMED: &[(&str, char)] = &[
        ("amp", '&'),
        ("lt", '<'),
        ("gt", '>'),
        ("quot", '"'),
        ("apos", '\''),
        ("nbsp", '\u{a0}'),
        ("ndash", '–'),
        ("mdash", '—'),
        ("hellip", '…'),
        ("lsquo", '‘'),
        ("rsquo", '’'),
        ("ldquo", '“'),
        ("rdquo", '”'),
        ("laquo", '«'),
        ("raquo", '»'),
        ("copy", '©'),
        ("reg", '®'),
        ("trade", '™'),
        ("deg", '°'),
        ("middot", '·'),
        ("times", '×'),
        ("euro", '€'),
        ("eacute", 'é'),
        ("egrave", 'è'),
        ("ecirc", 'ê'),
        ("agrave", 'à'),
        ("acirc", 'â'),
        ("ccedil", 'ç'),
        ("ocirc", 'ô'),
        ("ucirc", 'û'),
        ("icirc", 'î'),
        ("ouml", 'ö'),
        ("uuml", 'ü'),
        ("auml", 'ä'),
        ("szlig", 'ß'),
        ("shy", '\u{ad}'),
    ];
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest[1..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '#')).map(|e| e + 1);
        let decoded = end.filter(|&e| rest[e..].starts_with(';')).and_then(|e| {
            let name = &rest[1..e];
            let c = if let Some(num) = name.strip_prefix('#') {
                let code = match num.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => num.parse().ok(),
                };
                code.and_then(char::from_u32)
            } else {
                NAMED.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
            };
            c.map(|c| (c, e + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::clean_body;

    #[test]
    fn strips_markup_and_code() {
        let html = "<h1 id=\"a\">Title</h1>\n<p>Some <em>text</em> &amp; more</p>\n<pre><code>let x = 1;</code></pre>\n<p>  end  </p>";
        assert_eq!(clean_body(html, None), "Title\nSome text &amp; more\nend");
        let refs = "<p>a&nbsp;b &#8212; &#x27;q&#x27; &eacute; &unknown; 1 &lt; 2 &amp;amp;</p>";
        assert_eq!(clean_body(refs, None), "a&nbsp;b — 'q' é &amp;unknown; 1 &lt; 2 &amp;amp;");
        assert_eq!(clean_body(html, Some(5)), "Title");
    }
}
