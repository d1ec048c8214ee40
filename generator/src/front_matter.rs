//! Front matter of pages and sections, TOML between `+++` lines or YAML between `---` lines (as
//! Zola reads both), parsed with errors mapped into the file.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{line_col, Diagnostic};

/// Front matter of a page. Keys it does not know are ignored, as Zola ignores them (the build
/// warns of each: see [`unknown_page_keys`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PageFrontMatter {
    /// The page's title.
    pub title: Option<String>,
    /// One sentence for listings and meta tags.
    pub description: Option<String>,
    /// Publication date: a TOML date, datetime, or a string holding one.
    pub date: Option<toml::Value>,
    /// Last update, same forms as `date`.
    pub updated: Option<toml::Value>,
    /// Order in sections sorted by weight.
    pub weight: Option<i64>,
    /// Drafts are built only with `--drafts`.
    pub draft: bool,
    /// Replaces the slug taken from the file name.
    pub slug: Option<String>,
    /// Replaces the whole path of the page.
    pub path: Option<String>,
    /// Old paths that redirect here.
    pub aliases: Vec<String>,
    /// The template rendering the page.
    pub template: Option<String>,
    /// Whether the page goes into the search index.
    #[serde(default = "yes")]
    pub in_search_index: bool,
    /// Terms of each taxonomy.
    pub taxonomies: BTreeMap<String, Vec<String>>,
    /// Authors, shown in feeds.
    pub authors: Vec<String>,
    /// `false`: the page is written nowhere and listed nowhere (Zola's `render`).
    #[serde(default = "yes")]
    pub render: bool,
    /// Anything else the templates want.
    pub extra: toml::Table,
}

/// The keys a page's front matter may have.
const PAGE_KEYS: [&str; 15] = [
    "title",
    "description",
    "date",
    "updated",
    "weight",
    "draft",
    "slug",
    "path",
    "aliases",
    "template",
    "in_search_index",
    "taxonomies",
    "authors",
    "render",
    "extra",
];

/// The top-level keys of a page's front matter that are none of Zola's, with their lines in the
/// file (the page builds without them, as with Zola).
pub fn unknown_page_keys(split: &Split<'_>) -> Vec<(String, usize)> {
    // Every page passes here: a look at the lines before the first table header rules out
    // almost all of them without parsing the TOML a second time. A line that only looks like a
    // key (inside a multi-line string) is settled by the parse.
    let maybe = split.front_matter.lines().take_while(|l| !l.starts_with('[')).any(|l| {
        l.split_once('=').is_some_and(|(k, _)| {
            let k = k.trim().trim_matches(|c| c == '"' || c == '\'');
            let k = k.split('.').next().unwrap_or(k).trim();
            !k.is_empty() && !PAGE_KEYS.contains(&k)
        })
    });
    if !maybe {
        return Vec::new();
    }
    let Ok(table) = toml::from_str::<toml::Table>(split.front_matter) else { return Vec::new() };
    table.keys().filter(|k| !PAGE_KEYS.contains(&k.as_str())).map(|k| (k.clone(), locate_field(split, k))).collect()
}

/// Front matter of a section (`_index.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SectionFrontMatter {
    /// The section's title.
    pub title: Option<String>,
    /// One sentence for listings and meta tags.
    pub description: Option<String>,
    /// How its pages are ordered: `date`, `update_date`, `weight`, `title`, `title_bytes`, `slug` or `none`.
    pub sort_by: SortBy,
    /// Order among sibling sections.
    pub weight: i64,
    /// Drafts are built only with `--drafts`.
    pub draft: bool,
    /// The template rendering the section.
    pub template: Option<String>,
    /// The default template of its pages.
    pub page_template: Option<String>,
    /// Pages per pagination page; none means no pagination.
    pub paginate_by: Option<usize>,
    /// The path segment of pagination pages.
    pub paginate_path: String,
    /// Reverse the order of paginated pages.
    pub paginate_reversed: bool,
    /// Anchor links on headings for this section's pages.
    pub insert_anchor_links: Option<String>,
    /// Whether the section gets a page of its own.
    pub render: bool,
    /// Redirect the section's page elsewhere.
    pub redirect_to: Option<String>,
    /// Whether the section goes into the search index.
    pub in_search_index: bool,
    /// Hand this section's pages up to its parent.
    pub transparent: bool,
    /// Give the section a feed of its own.
    #[serde(alias = "generate_feed")]
    pub generate_feeds: bool,
    /// Old paths that redirect here.
    pub aliases: Vec<String>,
    /// Anything else the templates want.
    pub extra: toml::Table,
}

impl Default for SectionFrontMatter {
    fn default() -> Self {
        SectionFrontMatter {
            title: None,
            description: None,
            sort_by: SortBy::None,
            weight: 0,
            draft: false,
            template: None,
            page_template: None,
            paginate_by: None,
            paginate_path: "page".into(),
            paginate_reversed: false,
            insert_anchor_links: None,
            render: true,
            redirect_to: None,
            in_search_index: true,
            transparent: false,
            generate_feeds: false,
            aliases: Vec::new(),
            extra: toml::Table::new(),
        }
    }
}

fn yes() -> bool {
    true
}

/// How a section orders its pages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortBy {
    /// Newest first.
    Date,
    /// Most recently updated first.
    UpdateDate,
    /// Lightest first.
    Weight,
    /// A to Z, ignoring case and accents.
    Title,
    /// A to Z by bytes.
    TitleBytes,
    /// By slug.
    Slug,
    /// By permalink, byte by byte.
    Permalink,
    /// File order.
    #[default]
    None,
}

/// A file split into its front matter and body.
#[derive(Debug, Clone)]
pub struct Split<'a> {
    /// The TOML between the `+++` lines (or the YAML between `---` lines).
    pub front_matter: &'a str,
    /// Whether the front matter is YAML.
    pub yaml: bool,
    /// 1-based line of the first TOML line in the file.
    pub front_matter_line: usize,
    /// The Markdown after the closing `+++`.
    pub body: &'a str,
    /// 1-based line of the first body line in the file.
    pub body_line: usize,
}

/// Splits a content file at its `+++` (or `---`) fences.
pub fn split<'a>(file: &Path, text: &'a str) -> Result<Split<'a>, Diagnostic> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let leading = text.len() - text.trim_start().len();
    let rest = &text[leading..];
    let leading_lines = text[..leading].matches('\n').count();
    let yaml = rest.starts_with("---");
    let fence = if yaml { "---" } else { "+++" };
    let Some(after_open) = rest.strip_prefix(fence) else {
        return Err(Diagnostic::at(
            file,
            leading_lines + 1,
            1,
            "missing front matter: a content file starts with a +++ line, TOML, and a closing +++ line",
        ));
    };
    let Some(after_open) = after_open.strip_prefix("\r\n").or_else(|| after_open.strip_prefix('\n')) else {
        return Err(Diagnostic::at(
            file,
            leading_lines + 1,
            4,
            format!("the opening {fence} must stand alone on its line"),
        ));
    };
    // The closing fence is the first line that is exactly the opening one (trailing spaces
    // allowed).
    let mut offset = 0;
    for line in after_open.split_inclusive('\n') {
        if line.trim_end() == fence {
            let front_matter = &after_open[..offset];
            let body = &after_open[offset + line.len()..];
            let front_matter_line = leading_lines + 2;
            let body_line = front_matter_line + front_matter.matches('\n').count() + 1;
            return Ok(Split { front_matter, yaml, front_matter_line, body, body_line });
        }
        offset += line.len();
    }
    Err(Diagnostic::at(
        file,
        leading_lines + 1,
        1,
        format!("the front matter opened here is never closed with a {fence} line"),
    ))
}

/// Parses front matter into `T`, mapping errors to the line and column in the file.
pub fn parse<T: serde::de::DeserializeOwned>(file: &Path, split: &Split<'_>) -> Result<T, Diagnostic> {
    if split.yaml {
        // An empty YAML document is no mapping at all: read as one with nothing in it.
        let text = if split.front_matter.trim().is_empty() { "{}" } else { split.front_matter };
        return serde_yaml::from_str(text).map_err(|e| {
            let (line, col) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            let message = e.to_string();
            // serde_yaml ends its message with where it is: the diagnostic says that already.
            let message = message.split(" at line ").next().unwrap_or(&message);
            Diagnostic::at(file, split.front_matter_line + line - 1, col, format!("front matter: {message}"))
        });
    }
    toml::from_str(split.front_matter).map_err(|e| toml_diagnostic(file, split, &e))
}

fn toml_diagnostic(file: &Path, split: &Split<'_>, e: &toml::de::Error) -> Diagnostic {
    let fm = split.front_matter;
    let (line, col) = e.span().map(|s| line_col(fm, s.start)).unwrap_or((1, 1));
    let mut message = e.message().trim().to_string();
    if let Some(key) = key_on_line(fm, line) {
        if !message.contains(&format!("`{key}`")) {
            message = format!("in `{key}`: {message}");
        }
    }
    Diagnostic::at(file, split.front_matter_line + line - 1, col, format!("front matter: {message}"))
}

/// The key assigned on a line of TOML, or the table a header names.
fn key_on_line(text: &str, line: usize) -> Option<String> {
    let l = text.lines().nth(line - 1)?.trim();
    if l.starts_with('[') {
        return Some(l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    }
    let (key, _) = l.split_once('=')?;
    let key = key.trim().trim_matches('"');
    (!key.is_empty()).then(|| key.to_string())
}

/// Finds the line where a field such as `extra.price` or `extra.sizes[1].price` is written,
/// for errors found after parsing; the front matter's first line when it is not written.
pub fn locate_field(split: &Split<'_>, field: &str) -> usize {
    let (table, key) = field.rsplit_once('.').unwrap_or(("", field));
    let (table, index) = match table.split_once('[') {
        Some((t, rest)) => (t, rest.trim_end_matches(']').parse::<usize>().ok()),
        None => (table, None),
    };
    let mut current = String::new();
    let mut seen_of_array = 0usize;
    let mut in_wanted = table.is_empty();
    for (i, raw) in split.front_matter.lines().enumerate() {
        let l = raw.trim();
        if l.starts_with('[') {
            let is_array = l.starts_with("[[");
            current = l.trim_matches(|c| c == '[' || c == ']').trim().to_string();
            in_wanted = current == table
                && match index {
                    Some(n) if is_array => {
                        seen_of_array += 1;
                        seen_of_array == n + 1
                    }
                    Some(_) => false,
                    None => true,
                };
            continue;
        }
        if let Some((k, _)) = l.split_once('=') {
            let k = k.trim().trim_matches('"');
            let inline = !table.is_empty() && current.is_empty() && k == table;
            if (in_wanted && k == key) || inline {
                return split.front_matter_line + i;
            }
        }
    }
    split.front_matter_line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<PageFrontMatter, Diagnostic> {
        let f = Path::new("content/a.md");
        parse(f, &split(f, text)?)
    }

    #[test]
    fn splits_and_parses() {
        let fm =
            p("+++\ntitle = \"Hello\"\ndate = 2024-05-01\n[taxonomies]\nhumour = [\"calming\"]\n+++\nBody").unwrap();
        assert_eq!(fm.title.as_deref(), Some("Hello"));
        assert_eq!(fm.taxonomies["humour"], vec!["calming"]);
    }

    #[test]
    fn body_line_is_after_fence() {
        let f = Path::new("a.md");
        let s = split(f, "+++\ntitle = \"x\"\n+++\nhello\n").unwrap();
        assert_eq!(s.body, "hello\n");
        assert_eq!(s.front_matter_line, 2);
        assert_eq!(s.body_line, 4);
    }

    #[test]
    fn error_names_line_in_file_and_field() {
        let e = p("+++\ntitle = \"x\"\nweight = \"heavy\"\n+++\n").unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.message.contains("weight"), "{}", e.message);
    }

    #[test]
    fn unknown_keys_pass_and_are_found_with_their_lines() {
        let text = "+++\ntitle = \"x\"\ntittle = \"x\"\n[extra]\nfoo = 1\n+++\n";
        assert_eq!(p(text).unwrap().title.as_deref(), Some("x"));
        let split = split(Path::new("a.md"), text).unwrap();
        assert_eq!(unknown_page_keys(&split), [("tittle".to_string(), 3)]);
        // A line that only looks like a key, inside a multi-line string, is none.
        let text = "+++\ntitle = \"x\"\ndescription = \"\"\"\nfoo = bar\n\"\"\"\n+++\n";
        assert!(unknown_page_keys(&split_of(text)).is_empty());
    }

    fn split_of(text: &str) -> Split<'_> {
        split(Path::new("a.md"), text).unwrap()
    }

    #[test]
    fn missing_and_unclosed_fences() {
        assert!(p("title = 1").unwrap_err().message.contains("missing front matter"));
        assert!(p("+++\ntitle = \"x\"\n").unwrap_err().message.contains("never closed"));
        assert!(p("---\ntitle: x\n").unwrap_err().message.contains("never closed with a --- line"));
    }

    #[test]
    fn yaml_front_matter_as_zola_reads_it() {
        let fm = p("---\ntitle: Hello\ndate: 2024-05-01\ntaxonomies:\n  tags: [a, b]\nextra:\n  mood: calm\n---\nBody")
            .unwrap();
        assert_eq!(fm.title.as_deref(), Some("Hello"));
        assert_eq!(fm.taxonomies["tags"], vec!["a", "b"]);
        assert_eq!(fm.extra["mood"].as_str(), Some("calm"));
        assert_eq!(fm.date, Some(toml::Value::String("2024-05-01".into())));
        assert!(p("---\n---\nBody").is_ok(), "an empty YAML front matter is an empty one");
        let e = p("---\ntitle: x\nweight: heavy\n---\n").unwrap_err();
        assert_eq!(e.line, Some(3), "{e:?}");
        assert!(e.message.starts_with("front matter: weight: invalid type"), "{e:?}");
    }

    #[test]
    fn locates_nested_keys() {
        let f = Path::new("a.md");
        let s = split(f, "+++\ntitle = \"x\"\n[extra]\nsku = \"A\"\nprice = \"1\"\n+++\n").unwrap();
        assert_eq!(locate_field(&s, "extra.price"), 5);
        assert_eq!(locate_field(&s, "title"), 2);
        let s = split(
            f,
            "+++\n[extra]\nsku = \"A\"\n[[extra.sizes]]\nprice = \"1\"\n[[extra.sizes]]\nprice = \"2\"\n+++\n",
        )
        .unwrap();
        assert_eq!(locate_field(&s, "extra.sizes[1].price"), 7);
        assert_eq!(locate_field(&s, "extra.sizes[0].price"), 5);
    }
}
