//! `config.toml`: Zola's configuration subset, read once, shown to templates as `config`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{line_col, Diagnostic, Error, Result};
use crate::toml_value::toml_to_json;

/// One taxonomy declared in `config.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaxonomyConfig {
    /// The taxonomy's name, also its URL segment: `humour` → `/humour/`.
    pub name: String,
    /// Terms per page on a term's page; none means one page.
    pub paginate_by: Option<usize>,
    /// The path segment of the pagination pages.
    pub paginate_path: Option<String>,
    /// Whether each term gets a feed.
    pub feed: bool,
    /// Whether the taxonomy gets pages at all.
    #[serde(default = "yes")]
    pub render: bool,
    /// Zola's older way to say which language a taxonomy is for (now `[languages.xx] taxonomies`).
    pub lang: Option<String>,
}

impl TaxonomyConfig {
    /// The pagination segment, `page` unless configured.
    pub fn paginate_path(&self) -> &str {
        self.paginate_path.as_deref().unwrap_or("page")
    }
}

fn yes() -> bool {
    true
}

/// `[markdown.highlighting]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HighlightingConfig {
    /// One theme for every reader.
    pub theme: Option<String>,
    /// The theme for a light colour scheme (with `dark_theme`).
    pub light_theme: Option<String>,
    /// The theme for a dark colour scheme (with `light_theme`).
    pub dark_theme: Option<String>,
    /// `inline` (styles in the HTML) or `class` (classes, their stylesheets written into `static/`).
    pub style: Option<String>,
    /// Options this engine does not act on, kept so the config round-trips.
    #[serde(flatten)]
    pub other: toml::Table,
}

/// The `[slugify]` table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SlugifyConfig {
    /// Pages' paths (from their file names or `slug`).
    pub paths: crate::slugs::Strategy,
    /// Taxonomy terms.
    pub taxonomies: crate::slugs::Strategy,
    /// Headings' ids.
    pub anchors: crate::slugs::Strategy,
    /// Keep a file name's leading date in its page's slug.
    pub paths_keep_dates: bool,
}

/// The `[markdown]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MarkdownConfig {
    /// Curly quotes, dashes and ellipses.
    pub smart_punctuation: bool,
    /// Open external links in a new tab.
    pub external_links_target_blank: bool,
    /// `rel="nofollow"` on external links.
    pub external_links_no_follow: bool,
    /// `rel="noreferrer"` on external links.
    pub external_links_no_referrer: bool,
    /// A class for external links.
    pub external_links_class: Option<String>,
    /// Zola's older switch for highlighting (`[markdown.highlighting]` is the current one).
    pub highlight_code: bool,
    /// `[markdown.highlighting]`: code blocks highlighted as Zola 0.22 highlights them.
    pub highlighting: Option<HighlightingConfig>,
    /// `:smile:` and the other GitHub emoji shortcodes become their emoji.
    pub render_emoji: bool,
    /// Images are written with `loading="lazy" decoding="async"`.
    pub lazy_async_image: bool,
    /// Definition lists (`Term` then `: definition`).
    pub definition_list: bool,
    /// GitHub's alerts (`> [!NOTE]` and its kin) as classed blockquotes.
    pub github_alerts: bool,
    /// Footnotes gathered in a list at the end, each with links back to its references.
    pub bottom_footnotes: bool,
    /// Where to put anchor links on headings (`none`, `left`, `right`, `heading`).
    pub insert_anchor_links: String,
    /// Extra options Zola has that we accept and ignore, kept so the config round-trips.
    #[serde(flatten)]
    pub other: toml::Table,
}

impl Default for MarkdownConfig {
    fn default() -> Self {
        MarkdownConfig {
            smart_punctuation: false,
            external_links_target_blank: false,
            external_links_no_follow: false,
            external_links_no_referrer: false,
            external_links_class: None,
            highlight_code: false,
            highlighting: None,
            render_emoji: false,
            lazy_async_image: false,
            definition_list: false,
            github_alerts: false,
            bottom_footnotes: false,
            insert_anchor_links: "none".into(),
            other: toml::Table::new(),
        }
    }
}

/// The `[search]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchConfig {
    /// Include the page title.
    pub include_title: bool,
    /// Include the page description.
    pub include_description: bool,
    /// Include the page's date (elasticlunr only, as in Zola).
    pub include_date: bool,
    /// Include the page's path.
    pub include_path: bool,
    /// Include the page's text.
    pub include_content: bool,
    /// Cut the text after this many characters.
    pub truncate_content_length: Option<usize>,
    /// `elasticlunr_javascript`, `elasticlunr_json`, `fuse_javascript` or `fuse_json`.
    pub index_format: String,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            include_title: true,
            include_description: false,
            include_date: false,
            include_path: false,
            include_content: true,
            truncate_content_length: None,
            index_format: "elasticlunr_javascript".into(),
        }
    }
}

/// The `[link_checker]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LinkCheckerConfig {
    /// External URLs starting with these are not checked.
    pub skip_prefixes: Vec<String>,
    /// Internal anchors starting with these are not checked.
    pub skip_anchor_prefixes: Vec<String>,
}

/// One language of a multilingual site (`[languages.fr]`), or the default language's options
/// gathered from the top level: what differs from one language to the next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LanguageOptions {
    /// The site's title in this language.
    pub title: Option<String>,
    /// The site's description in this language.
    pub description: Option<String>,
    /// Whether this language has its own feeds.
    #[serde(alias = "generate_feed")]
    pub generate_feeds: bool,
    /// Its feeds' file names.
    pub feed_filenames: Vec<String>,
    /// The taxonomies its pages may use.
    pub taxonomies: Vec<TaxonomyConfig>,
    /// Whether it has its own search index.
    pub build_search_index: bool,
    /// What its search index holds.
    pub search: SearchConfig,
    /// `trans()`'s words in this language.
    pub translations: std::collections::BTreeMap<String, String>,
}

impl Default for LanguageOptions {
    fn default() -> Self {
        LanguageOptions {
            title: None,
            description: None,
            generate_feeds: false,
            feed_filenames: vec!["atom.xml".into()],
            taxonomies: Vec::new(),
            build_search_index: false,
            search: SearchConfig::default(),
            translations: Default::default(),
        }
    }
}

/// `config.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// The site's address without a trailing slash; every permalink starts with it.
    pub base_url: String,
    /// `base_url` as written (templates see it so: Zola keeps a trailing slash).
    #[serde(skip)]
    pub base_url_as_given: String,
    /// The site's name.
    pub title: Option<String>,
    /// One sentence about the site.
    pub description: Option<String>,
    /// The language code of the content.
    pub default_language: String,
    /// The theme folder under `themes/`.
    pub theme: Option<String>,
    /// Author for feeds.
    pub author: Option<String>,
    /// Declared taxonomies; pages may only use these.
    pub taxonomies: Vec<TaxonomyConfig>,
    /// Write the site's feeds.
    #[serde(alias = "generate_feed")]
    pub generate_feeds: bool,
    /// Feed file names: `atom.xml` and/or `rss.xml`.
    pub feed_filenames: Vec<String>,
    /// How many pages a feed holds at most.
    pub feed_limit: Option<usize>,
    /// Write `sitemap.xml`.
    pub generate_sitemap: bool,
    /// Write `robots.txt`.
    pub generate_robots_txt: bool,
    /// Write the search index.
    pub build_search_index: bool,
    /// Compile `sass/` into CSS.
    pub compile_sass: bool,
    /// Zola's page minifying: read, not applied (a warning says so).
    pub minify_html: bool,
    /// Glob patterns of content files to leave out.
    pub ignored_content: Vec<String>,
    /// Glob patterns of static files to leave out.
    pub ignored_static: Vec<String>,
    /// Markdown options.
    pub markdown: MarkdownConfig,
    /// Search index options.
    pub search: SearchConfig,
    /// Link checker options.
    pub link_checker: LinkCheckerConfig,
    /// `[slugify]`: how paths, taxonomy terms and anchors are made.
    pub slugify: SlugifyConfig,
    /// `[languages.xx]`: the other languages; after loading, the default language too.
    #[serde(skip_serializing)]
    pub languages: std::collections::BTreeMap<String, LanguageOptions>,
    /// `[translations]`: `trans()`'s words in the default language.
    #[serde(skip_serializing)]
    pub translations: std::collections::BTreeMap<String, String>,
    /// Whatever the site wants templates to see.
    #[serde(skip_serializing)]
    pub extra: toml::Table,
    /// Other keys Zola has (translations, languages…), accepted and passed to templates.
    #[serde(flatten, skip_serializing)]
    pub other: toml::Table,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            base_url: String::new(),
            base_url_as_given: String::new(),
            title: None,
            description: None,
            default_language: "en".into(),
            theme: None,
            author: None,
            taxonomies: Vec::new(),
            generate_feeds: false,
            feed_filenames: vec!["atom.xml".into()],
            feed_limit: None,
            generate_sitemap: true,
            generate_robots_txt: true,
            build_search_index: false,
            compile_sass: false,
            minify_html: false,
            ignored_content: Vec::new(),
            ignored_static: Vec::new(),
            markdown: MarkdownConfig::default(),
            search: SearchConfig::default(),
            link_checker: LinkCheckerConfig::default(),
            slugify: SlugifyConfig::default(),
            languages: Default::default(),
            translations: Default::default(),
            extra: toml::Table::new(),
            other: toml::Table::new(),
        }
    }
}

impl Config {
    /// Reads and checks `config.toml` (or another file) at `path`.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Config::parse(&text, path)
    }

    /// Parses configuration text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let mut config: Config = toml::from_str(text).map_err(|e| {
            let (line, col) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
            Error::one(Diagnostic::at(path, line, col, e.message().trim().to_string()))
        })?;
        if config.base_url.is_empty() {
            return Err(Error::one(Diagnostic::file(
                path,
                "`base_url` is required, e.g. base_url = \"https://example.com\"",
            )));
        }
        config.gather_languages().map_err(|m| Error::one(Diagnostic::file(path, m)))?;
        for (code, options) in &config.languages {
            let at = |what: &str| {
                if *code == config.default_language {
                    what.to_string()
                } else {
                    format!("languages.{code}.{what}")
                }
            };
            for name in &options.feed_filenames {
                if name != "atom.xml" && name != "rss.xml" {
                    return Err(Error::one(Diagnostic::file(
                        path,
                        format!("{}: `{name}` is not a feed we can write (atom.xml or rss.xml)", at("feed_filenames")),
                    )));
                }
            }
            let mut seen = std::collections::HashSet::new();
            for t in &options.taxonomies {
                if t.name.trim().is_empty() {
                    return Err(Error::one(Diagnostic::file(
                        path,
                        format!("{}: every taxonomy needs a `name`", at("taxonomies")),
                    )));
                }
                if !seen.insert(t.name.clone()) {
                    return Err(Error::one(Diagnostic::file(
                        path,
                        format!("{}: `{}` is declared twice", at("taxonomies"), t.name),
                    )));
                }
            }
        }
        config.set_base_url(&config.base_url.clone());
        Ok(config)
    }

    /// Puts the default language's options, read from the top level (and from
    /// `[languages.<default>]` if the site wrote one, as Zola allows), into `languages`.
    fn gather_languages(&mut self) -> std::result::Result<(), String> {
        for code in self.languages.keys() {
            if !valid_language_code(code) {
                return Err(format!(
                    "languages: `{code}` is not a language code (like `fr`, `pt-BR` or `zh-Hant`): it becomes a file suffix and a URL segment"
                ));
            }
        }
        let mut default = LanguageOptions {
            title: self.title.clone(),
            description: self.description.clone(),
            generate_feeds: self.generate_feeds,
            feed_filenames: self.feed_filenames.clone(),
            taxonomies: self.taxonomies.clone(),
            build_search_index: self.build_search_index,
            search: self.search.clone(),
            translations: self.translations.clone(),
        };
        if let Some(own) = self.languages.remove(&self.default_language) {
            // Zola reads the default language's table as more of the top level: a field set in
            // both places is a mistake it refuses, and so do we.
            let twice = |what: &str| {
                format!(
                    "`{what}` of the default language is set twice: at the top and in [languages.{}]",
                    self.default_language
                )
            };
            macro_rules! fill {
                ($field:ident, $unset:expr) => {
                    if own.$field != LanguageOptions::default().$field {
                        if !$unset {
                            return Err(twice(stringify!($field)));
                        }
                        default.$field = own.$field.clone();
                    }
                };
            }
            fill!(title, default.title.is_none());
            fill!(description, default.description.is_none());
            fill!(taxonomies, default.taxonomies.is_empty());
            fill!(translations, default.translations.is_empty());
            fill!(search, default.search == SearchConfig::default());
            fill!(feed_filenames, default.feed_filenames == LanguageOptions::default().feed_filenames);
            default.generate_feeds |= own.generate_feeds;
            default.build_search_index |= own.build_search_index;
            self.title = default.title.clone();
            self.description = default.description.clone();
            self.generate_feeds = default.generate_feeds;
            self.feed_filenames = default.feed_filenames.clone();
            self.taxonomies = default.taxonomies.clone();
            // `build_search_index` stays as the top level says: Zola builds no index at all
            // unless it is on there, whatever the languages' tables say.
            self.search = default.search.clone();
            self.translations = default.translations.clone();
        }
        self.languages.insert(self.default_language.clone(), default);
        Ok(())
    }

    /// Whether the site has languages besides the default one.
    pub fn is_multilingual(&self) -> bool {
        self.languages.len() > 1
    }

    /// The options of a language the site has (the default one included).
    pub fn language(&self, code: &str) -> Option<&LanguageOptions> {
        self.languages.get(code)
    }

    /// Every language code: the default first, then the others in order.
    pub fn language_codes(&self) -> Vec<&str> {
        std::iter::once(self.default_language.as_str())
            .chain(self.languages.keys().map(String::as_str).filter(|c| *c != self.default_language))
            .collect()
    }

    /// The taxonomies of a language.
    pub fn taxonomies_of(&self, lang: &str) -> &[TaxonomyConfig] {
        self.language(lang).map(|l| l.taxonomies.as_slice()).unwrap_or(&[])
    }

    /// A site path in a language: `/fr/…` for another language than the default.
    pub fn lang_path(&self, lang: &str, path: &str) -> String {
        if lang == self.default_language {
            path.to_string()
        } else {
            format!("/{lang}/{}", path.trim_start_matches('/'))
        }
    }

    /// Adds the theme's `[extra]` (from its `theme.toml`) under the site's, as Zola does: a key the
    /// site sets wins, tables are merged key by key.
    pub fn merge_theme_extra(&mut self, theme_toml: &Path) -> std::result::Result<(), Diagnostic> {
        let Ok(text) = std::fs::read_to_string(theme_toml) else { return Ok(()) };
        let table: toml::Table = toml::from_str(&text)
            .map_err(|e| Diagnostic::file(theme_toml, format!("invalid TOML: {}", e.message())))?;
        if let Some(toml::Value::Table(extra)) = table.get("extra") {
            merge_under(&mut self.extra, extra);
        }
        Ok(())
    }

    /// Sets `base_url` (as given, and trimmed for building permalinks).
    pub fn set_base_url(&mut self, url: &str) {
        self.base_url_as_given = url.to_string();
        self.base_url = url.trim_end_matches('/').to_string();
    }

    /// The permalink of a site path (`/a/b/` → `https://site/a/b/`).
    pub fn permalink(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            return path.to_string();
        }
        let path = path.trim_start_matches('/');
        format!("{}/{}", self.base_url, path)
    }

    /// The declared taxonomy of that name in the default language.
    pub fn taxonomy(&self, name: &str) -> Option<&TaxonomyConfig> {
        self.taxonomies.iter().find(|t| t.name == name)
    }

    /// What templates of a language see as `config`: the language's title, description, feeds,
    /// taxonomies and search, and the other languages under `languages`, as Zola shows them.
    pub fn to_template_value_for(&self, lang: &str) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        let serde_json::Value::Object(map) = &mut value else { return value };
        map.insert("extra".into(), toml_to_json(&toml::Value::Table(self.extra.clone())));
        map.insert("base_url".into(), self.base_url_as_given.clone().into());
        for (k, v) in &self.other {
            map.entry(k.clone()).or_insert_with(|| toml_to_json(v));
        }
        if let Some(options) = self.language(lang) {
            map.insert("title".into(), json(&options.title));
            map.insert("description".into(), json(&options.description));
            map.insert("generate_feeds".into(), options.generate_feeds.into());
            map.insert("feed_filenames".into(), json(&options.feed_filenames));
            map.insert("taxonomies".into(), json(&options.taxonomies));
            map.insert("build_search_index".into(), options.build_search_index.into());
            map.insert("search".into(), json(&options.search));
        }
        let others: serde_json::Map<String, serde_json::Value> =
            self.languages.iter().filter(|(code, _)| *code != lang).map(|(code, o)| (code.clone(), json(o))).collect();
        map.insert("languages".into(), others.into());
        // Zola's older singular names, for templates written against them.
        let feeds = map.get("generate_feeds").cloned().unwrap_or_default();
        map.insert("generate_feed".into(), feeds);
        let first = map.get("feed_filenames").and_then(|f| f.get(0)).cloned().unwrap_or_else(|| "".into());
        map.insert("feed_filename".into(), first);
        value
    }
}

fn json<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or_default()
}

/// Whether a language code can be a file suffix and a URL segment: letters, digits and `-`
/// (`fr`, `pt-BR`, `zh-Hant`), starting with two or three letters.
fn valid_language_code(code: &str) -> bool {
    let mut parts = code.split('-');
    let first = parts.next().unwrap_or("");
    (2..=3).contains(&first.len())
        && first.chars().all(|c| c.is_ascii_alphabetic())
        && parts.all(|p| !p.is_empty() && p.len() <= 8 && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Adds `theirs` under `ours`: keys `ours` lacks are copied, tables present in both are merged.
fn merge_under(ours: &mut toml::Table, theirs: &toml::Table) {
    for (key, value) in theirs {
        match (ours.get_mut(key), value) {
            (None, v) => {
                ours.insert(key.clone(), v.clone());
            }
            (Some(toml::Value::Table(mine)), toml::Value::Table(t)) => merge_under(mine, t),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_line_of_bad_toml() {
        let err = Config::parse("base_url = \"x\"\ntitle = = 3\n", Path::new("config.toml")).unwrap_err();
        let d = &err.diagnostics()[0];
        assert_eq!(d.line, Some(2));
    }

    #[test]
    fn requires_base_url() {
        assert!(Config::parse("title = \"x\"", Path::new("config.toml")).is_err());
    }

    #[test]
    fn permalinks_join_cleanly() {
        let c = Config::parse("base_url = \"https://a.example/\"", Path::new("c")).unwrap();
        assert_eq!(c.permalink("/b/"), "https://a.example/b/");
        assert_eq!(c.permalink(""), "https://a.example/");
    }
}
