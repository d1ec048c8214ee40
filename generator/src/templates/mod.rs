//! Tera templates: Zola's built-ins, then the theme's, then the site's (each replacing the
//! last), with Zola's functions and filters, and a record of which template uses which so a
//! template edit re-renders only what depends on it.

mod builtins;
mod filters;
mod functions;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use tera::{Context, Tera};

use crate::error::{Diagnostic, Error, Result};
use crate::markdown::{ShortcodeKind, ShortcodeRenderer};

pub use functions::{SiteHandle, SiteView};

/// The site's templates, ready to render.
pub struct Templates {
    /// The Tera instance.
    pub tera: Tera,
    /// Where each template came from on disk (built-ins have none).
    pub files: HashMap<String, PathBuf>,
    /// The templates each template extends, includes or imports.
    pub uses: HashMap<String, Vec<String>>,
    /// Each template's source text.
    sources: HashMap<String, String>,
    shortcodes: HashMap<String, ShortcodeKind>,
    /// Answers of `mentions` and `reads_content`, per template.
    content_reads: std::sync::Mutex<HashMap<(String, String), bool>>,
    /// `config` as each language's templates see it.
    config_values: HashMap<String, Value>,
    default_language: String,
}

impl Templates {
    /// Loads built-ins, theme and site templates, and registers functions bound to `site`.
    pub fn load(root: &Path, theme: Option<&str>, site: &SiteHandle) -> Result<Templates> {
        let mut sources: Vec<(String, String, Option<PathBuf>)> =
            builtins::BUILTINS.iter().map(|(n, s)| (n.to_string(), s.to_string(), None)).collect();
        let mut dirs = Vec::new();
        let mut theme_dir = None;
        if let Some(theme) = theme {
            let dir = root.join("themes").join(theme).join("templates");
            // A theme may bring only stylesheets or statics (Zola needs no templates folder).
            if !root.join("themes").join(theme).is_dir() {
                return Err(Error::one(Diagnostic::file(
                    "config.toml",
                    format!("theme `{theme}`: there is no folder themes/{theme}"),
                )));
            }
            theme_dir = Some(dir.clone());
            dirs.push(dir);
        }
        dirs.push(root.join("templates"));
        for dir in dirs {
            if !dir.is_dir() {
                continue;
            }
            for entry in walkdir::WalkDir::new(&dir).sort_by_file_name() {
                let entry = entry.map_err(|e| {
                    Error::io(&dir, e.into_io_error().unwrap_or_else(|| std::io::Error::other("walk failed")))
                })?;
                if !entry.file_type().is_file() || entry.file_name().to_string_lossy().starts_with('.') {
                    continue;
                }
                let name = entry
                    .path()
                    .strip_prefix(&dir)
                    .unwrap_or(entry.path())
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                let text = std::fs::read_to_string(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
                // A site template may extend the theme's own by "THEME/templates/NAME", as in Zola.
                if let (Some(theme), true) = (theme, theme_dir.as_ref() == Some(&dir)) {
                    sources.push((format!("{theme}/templates/{name}"), text.clone(), Some(entry.path().to_path_buf())));
                }
                sources.retain(|(n, _, _)| *n != name);
                sources.push((name, text, Some(entry.path().to_path_buf())));
            }
        }

        let mut files = HashMap::new();
        let mut uses = HashMap::new();
        let mut shortcodes = HashMap::new();
        let mut sources_map = HashMap::new();
        let sources_ref = &mut sources_map;
        let mut raw = Vec::with_capacity(sources.len());
        for (name, text, path) in sources {
            if let Some(sc) = name.strip_prefix("shortcodes/") {
                if let Some(n) = sc.strip_suffix(".html") {
                    shortcodes.insert(n.to_string(), ShortcodeKind::Html);
                } else if let Some(n) = sc.strip_suffix(".md") {
                    shortcodes.entry(n.to_string()).or_insert(ShortcodeKind::Markdown);
                }
            }
            uses.insert(name.clone(), referenced_templates(&text));
            sources_ref.insert(name.clone(), text.clone());
            if let Some(p) = path {
                files.insert(name.clone(), p);
            }
            raw.push((name, text));
        }

        let mut tera = Tera::default();
        tera.autoescape_on(vec![".html", ".htm", ".xml"]);
        functions::register(&mut tera, site);
        filters::register(&mut tera, site);
        tera.add_raw_templates(raw).map_err(|e| template_error(&e, &files, root))?;
        let view = site.view();
        Ok(Templates {
            tera,
            files,
            uses,
            sources: sources_map,
            shortcodes,
            content_reads: Default::default(),
            config_values: view
                .config
                .language_codes()
                .into_iter()
                .map(|lang| (lang.to_string(), view.config.to_template_value_for(lang)))
                .collect(),
            default_language: view.config.default_language.clone(),
        })
    }

    /// The layouts (`page.html`…) the site and its theme lack, which the plain built-ins stand in for.
    pub fn plain_layouts(&self) -> Vec<&'static str> {
        builtins::PLAIN_LAYOUTS.iter().copied().filter(|n| !self.files.contains_key(*n)).collect()
    }

    /// Whether a template of that name exists.
    pub fn has(&self, name: &str) -> bool {
        self.tera.get_template_names().any(|n| n == name)
    }

    /// Renders a template, turning Tera's error chain into a diagnostic naming the template file.
    pub fn render(&self, name: &str, ctx: &Context, root: &Path) -> Result<String> {
        self.tera.render(name, ctx).map_err(|e| template_error(&e, &self.files, root))
    }

    /// A context for a language's page, with `config` (as that language sees it) and `lang`.
    pub fn base_context(&self, lang: &str) -> Context {
        let mut ctx = Context::new();
        crate::render::put(&mut ctx, "config", self.config_value(lang).clone());
        ctx.insert("lang", lang);
        ctx
    }

    /// `config` as a language's templates see it (the default language's for an unknown one).
    fn config_value(&self, lang: &str) -> &Value {
        self.config_values.get(lang).or_else(|| self.config_values.get(&self.default_language)).unwrap_or(&Value::Null)
    }

    /// Whether `word` appears anywhere in `name` or the templates it uses: when a list template
    /// never says `pages`, its terms need not carry every page.
    pub fn mentions(&self, name: &str, word: &str) -> bool {
        // A whole value dumped (`section | json_encode`) reads every field without naming it.
        self.any_source(name, format!("mentions:{word}"), |s| s.contains(word) || s.contains("json_encode"))
    }

    /// Whether `test` holds for the source of `name` or of anything it uses (a built-in, whose
    /// source is not kept, counts as holding), remembered under `key`.
    fn any_source(&self, name: &str, key: String, test: impl Fn(&str) -> bool) -> bool {
        let key = (name.to_string(), key);
        if let Some(v) = self.content_reads.lock().ok().and_then(|m| m.get(&key).copied()) {
            return v;
        }
        let v = self.closure(name).iter().any(|t| self.sources.get(t).is_none_or(|s| test(s)));
        if let Ok(mut m) = self.content_reads.lock() {
            m.insert(key, v);
        }
        v
    }

    /// Like [`Templates::mentions`], but a mention written as `paginator.WORD` does not count:
    /// a paginated list reads its own page of items there, not the whole list.
    pub fn mentions_beyond_paginator(&self, name: &str, word: &str) -> bool {
        self.any_source(name, format!("mentions-beyond-paginator:{word}"), |s| {
            s.contains("json_encode") || s.match_indices(word).any(|(i, _)| !s[..i].ends_with("paginator."))
        })
    }

    /// Whether `name` (or what it uses) may read the `content` of a page other than the one it
    /// renders: any `.content` not written on `own` (the template's own `page` or `section`),
    /// or an escape hatch that could reach it (`["content"]`, `json_encode`). When not, lists
    /// and siblings are serialized without their content, which is most of their weight.
    pub fn reads_content(&self, name: &str, own: &str) -> bool {
        let key = (name.to_string(), own.to_string());
        if let Some(v) = self.content_reads.lock().ok().and_then(|m| m.get(&key).copied()) {
            return v;
        }
        let v = self.closure(name).iter().any(|t| match self.sources.get(t) {
            None => true,
            Some(src) => reads_foreign_content(src, own),
        });
        if let Ok(mut m) = self.content_reads.lock() {
            m.insert(key, v);
        }
        v
    }

    /// Every template that `name` uses, itself included, transitively.
    pub fn closure(&self, name: &str) -> HashSet<String> {
        let mut seen = HashSet::new();
        let mut stack = vec![name.to_string()];
        while let Some(n) = stack.pop() {
            if seen.insert(n.clone()) {
                if let Some(children) = self.uses.get(&n) {
                    stack.extend(children.iter().cloned());
                }
            }
        }
        seen
    }
}

impl ShortcodeRenderer for Templates {
    fn kind(&self, name: &str) -> Option<ShortcodeKind> {
        self.shortcodes.get(name).copied()
    }

    fn render(
        &self,
        name: &str,
        args: &Map<String, Value>,
        nth: usize,
        body: Option<&str>,
        page: &Value,
    ) -> std::result::Result<String, String> {
        let mut ctx = Context::new();
        for (k, v) in args {
            ctx.insert(k.as_str(), v);
        }
        ctx.insert("nth", &nth);
        if let Some(body) = body {
            ctx.insert("body", body);
        }
        let key = if page.get("pages").is_some() { "section" } else { "page" };
        ctx.insert(key, page);
        let lang = page.get("lang").and_then(Value::as_str).unwrap_or(&self.default_language);
        ctx.insert("config", self.config_value(lang));
        ctx.insert("lang", lang);
        let file = match self.kind(name) {
            Some(ShortcodeKind::Markdown) => format!("shortcodes/{name}.md"),
            _ => format!("shortcodes/{name}.html"),
        };
        self.tera.render(&file, &ctx).map_err(|e| error_chain(&e))
    }
}

/// All messages of a Tera error and its causes, one per line.
pub fn error_chain(e: &tera::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.join(": ")
}

fn template_error(e: &tera::Error, files: &HashMap<String, PathBuf>, root: &Path) -> Error {
    let message = error_chain(e);
    // Tera names the template in quotes; find which of ours it is.
    let name = files.keys().filter(|n| message.contains(&format!("'{n}'"))).max_by_key(|n| n.len()).cloned();
    let file = name
        .as_ref()
        .and_then(|n| files.get(n))
        .map(|p| p.strip_prefix(root).unwrap_or(p).to_path_buf())
        .unwrap_or_else(|| PathBuf::from(name.clone().unwrap_or_else(|| "templates".into())));
    // Parse errors carry ` --> line:column`.
    let position = message.split("--> ").nth(1).and_then(|rest| {
        let mut it = rest.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty());
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    });
    let flat = message.lines().map(str::trim_end).filter(|l| !l.trim().is_empty()).collect::<Vec<_>>().join("\n  ");
    Error::one(match position {
        Some((line, col)) => Diagnostic::at(file, line, col, flat),
        None => Diagnostic::file(file, flat),
    })
}

/// Whether a template's source reads `X.content` for some `X` other than `own`.
fn reads_foreign_content(src: &str, own: &str) -> bool {
    if src.contains("[\"content\"]") || src.contains("['content']") || src.contains("json_encode") {
        return true;
    }
    let bytes = src.as_bytes();
    let mut from = 0;
    while let Some(i) = src[from..].find(".content") {
        let at = from + i;
        from = at + ".content".len();
        // Only the whole word `content`.
        if bytes.get(from).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_') {
            continue;
        }
        let start =
            src[..at].rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.')).map(|j| j + 1).unwrap_or(0);
        if &src[start..at] != own {
            return true;
        }
    }
    false
}

/// Names of the templates a template extends, includes or imports.
fn referenced_templates(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("{%") {
        rest = &rest[i + 2..];
        let Some(end) = rest.find("%}") else { break };
        let tag = rest[..end].trim().trim_start_matches('-').trim_start();
        let keyword = tag.split_whitespace().next().unwrap_or("");
        if matches!(keyword, "extends" | "include" | "import") {
            let mut parts = tag.split(['"', '\'']);
            parts.next();
            for (i, p) in parts.enumerate() {
                if i % 2 == 0 && !p.is_empty() {
                    out.push(p.to_string());
                }
            }
        }
        rest = &rest[end..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::referenced_templates;

    #[test]
    fn tells_which_templates_read_listed_content() {
        use super::reads_foreign_content as reads;
        assert!(!reads("{{ page.content | safe }}{{ page.lower.title }}", "page"));
        assert!(reads("{{ page.lower.content }}", "page"));
        assert!(!reads("{{ section.content }}{% for p in paginator.pages %}{{ p.title }}{% endfor %}", "section"));
        assert!(reads("{% for p in section.pages %}{{ p.content | safe }}{% endfor %}", "section"));
        assert!(reads("{% for page in paginator.pages %}{{ page.content }}{% endfor %}", "section"));
        assert!(reads("{{ p | json_encode }}", "section"));
        assert!(!reads("{{ page.content_type }}", "section"));
    }

    #[test]
    fn finds_references() {
        let t = r#"{% extends "base.html" %}{% import 'macros.html' as m %}{%- include "a.html" -%}{% if x %}"#;
        assert_eq!(referenced_templates(t), vec!["base.html", "macros.html", "a.html"]);
    }
}
