//! Zola's template functions: `get_url`, `get_page`, `get_section`, `get_taxonomy`,
//! `get_taxonomy_url`, `get_taxonomy_term`, `trans`, `load_data`, `get_hash`,
//! `get_image_metadata`, `resize_image`. Each records what it read in [`deps`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use serde_json::Value;
use tera::{Result as TeraResult, Tera};

use crate::config::Config;
use crate::content::Library;
use crate::deps::{self, Dep};
use crate::images::{Images, Op, Request};
use crate::ser::{self, Backlinks};
use crate::taxonomies::Taxonomy;

/// What template functions can see of the site at a moment of the build.
pub struct SiteView {
    /// The site root.
    pub root: PathBuf,
    /// Where `data/` files are read first ([`crate::BuildOptions::data_overlay`]).
    pub data_overlay: Option<PathBuf>,
    /// Configuration.
    pub config: Arc<Config>,
    /// Permalinks by relative content path.
    pub permalinks: Arc<HashMap<String, String>>,
    /// The library, once its Markdown is rendered (functions that need it fail before).
    pub library: Option<Arc<Library>>,
    /// Taxonomies.
    pub taxonomies: Arc<Vec<Taxonomy>>,
    /// Backlinks.
    pub backlinks: Arc<Backlinks>,
}

type DataCache = HashMap<(PathBuf, String), (Option<SystemTime>, Value)>;

/// A shared, swappable [`SiteView`] that the registered functions read.
#[derive(Clone)]
pub struct SiteHandle {
    view: Arc<RwLock<Arc<SiteView>>>,
    data: Arc<Mutex<DataCache>>,
    /// Remote data by request (method, URL, headers, body, format): fetched once per process.
    remote: Arc<Mutex<HashMap<String, Value>>>,
    images: Arc<Images>,
}

impl SiteHandle {
    /// A handle on a first view.
    pub fn new(view: SiteView) -> SiteHandle {
        SiteHandle {
            view: Arc::new(RwLock::new(Arc::new(view))),
            data: Arc::default(),
            remote: Arc::default(),
            images: Arc::default(),
        }
    }

    /// The current view.
    pub fn view(&self) -> Arc<SiteView> {
        self.view.read().map(|v| v.clone()).unwrap_or_else(|e| e.into_inner().clone())
    }

    /// Replaces the view.
    pub fn set(&self, view: SiteView) {
        match self.view.write() {
            Ok(mut v) => *v = Arc::new(view),
            Err(e) => *e.into_inner() = Arc::new(view),
        }
    }

    /// The image work templates asked for.
    pub fn images(&self) -> &Images {
        &self.images
    }

    /// Forgets cached data files (after one changed).
    pub fn clear_data(&self) {
        if let Ok(mut d) = self.data.lock() {
            d.clear();
        }
    }
}

fn arg<'a>(args: &'a HashMap<String, Value>, name: &str, func: &str) -> TeraResult<&'a Value> {
    args.get(name).ok_or_else(|| tera::Error::msg(format!("`{func}` needs the argument `{name}`")))
}

fn str_arg(args: &HashMap<String, Value>, name: &str, func: &str) -> TeraResult<String> {
    match arg(args, name, func)? {
        Value::String(s) => Ok(s.clone()),
        other => Err(tera::Error::msg(format!("`{func}`: `{name}` must be a string, found {other}"))),
    }
}

fn bool_arg(args: &HashMap<String, Value>, name: &str, default: bool) -> bool {
    args.get(name).and_then(Value::as_bool).unwrap_or(default)
}

/// The `lang` argument (the default language when not given); it must be one of the site's.
fn lang_arg(args: &HashMap<String, Value>, view: &SiteView, func: &str) -> TeraResult<String> {
    match args.get("lang") {
        None | Some(Value::Null) => Ok(view.config.default_language.clone()),
        Some(Value::String(l)) if view.config.language(l).is_some() => Ok(l.clone()),
        Some(other) => Err(tera::Error::msg(format!(
            "`{func}`: `lang` is {other}, which is not one of the site's languages ({})",
            view.config.language_codes().join(", ")
        ))),
    }
}

/// A content file's path in a language, as Zola finds translations: `about.md` in French is
/// `about.fr.md`.
fn localized(file: &str, lang: &str, config: &Config) -> String {
    if lang == config.default_language {
        file.to_string()
    } else {
        format!("{}.{lang}.md", file.trim_end_matches(".md"))
    }
}

/// A `get_page`/`get_section` path as a content-relative one: `@/a.md` and `a.md` as written,
/// and a content file's own path (what `translations` lists as `path`, as Zola does) made
/// relative to `content/`.
fn content_relative(path: &str, view: &SiteView) -> String {
    let content = view.root.join("content");
    match Path::new(path).strip_prefix(&content) {
        Ok(rel) => rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"),
        Err(_) => path.trim_start_matches("@/").to_string(),
    }
}

/// Records that what is being rendered shows the translations of a page or section (their
/// titles and permalinks come with it).
fn record_translations(lib: &Library, canonical: &str) {
    for &t in lib.translations_of(canonical) {
        deps::record(t.into());
    }
}

/// The index in the view's taxonomies of a language's taxonomy of that name.
fn taxonomy_index(view: &SiteView, kind: &str, lang: &str) -> Option<usize> {
    view.taxonomies.iter().position(|t| t.config.name == kind && t.lang == lang)
}

fn library(view: &SiteView, func: &str) -> TeraResult<Arc<Library>> {
    view.library
        .clone()
        .ok_or_else(|| tera::Error::msg(format!("`{func}` cannot be used in shortcodes: pages are not rendered yet")))
}

/// A function whose answer templates print as is, as Zola's `get_url` is (a URL is not escaped
/// into `https:&#x2F;&#x2F;…` even with autoescaping on).
struct Safe<F>(F);

impl<F: Fn(&HashMap<String, Value>) -> TeraResult<Value> + Send + Sync> tera::Function for Safe<F> {
    fn call(&self, args: &HashMap<String, Value>) -> TeraResult<Value> {
        (self.0)(args)
    }

    fn is_safe(&self) -> bool {
        true
    }
}

/// Registers the functions on a Tera instance.
pub fn register(tera: &mut Tera, site: &SiteHandle) {
    let h = site.clone();
    tera.register_function(
        "get_url",
        Safe(move |args: &HashMap<String, Value>| {
            let view = h.view();
            let path = str_arg(args, "path", "get_url")?;
            let lang = lang_arg(args, &view, "get_url")?;
            let mut url = if let Some(target) = path.strip_prefix("@/") {
                let (file, anchor) = target.split_once('#').map(|(f, a)| (f, Some(a))).unwrap_or((target, None));
                let file = localized(file, &lang, &view.config);
                let permalink = view.permalinks.get(&file).ok_or_else(|| {
                    tera::Error::msg(format!(
                        "`get_url`: could not resolve URL for link `{path}`: there is no content/{file}"
                    ))
                })?;
                match anchor {
                    Some(a) => format!("{permalink}#{a}"),
                    None => permalink.clone(),
                }
            } else {
                // As Zola: another language's address is the path under its code, joined as given,
                // unless the path (after its first character, a `/` as Zola expects) already
                // starts with it.
                let prefixed = path.char_indices().nth(1).is_some_and(|(i, _)| path[i..].starts_with(&lang));
                let in_lang = if lang == view.config.default_language || prefixed {
                    path.clone()
                } else {
                    format!("{lang}/{path}")
                };
                let mut url = view.config.permalink(&in_lang);
                if url.ends_with('/') && !bool_arg(args, "trailing_slash", false) {
                    url.pop();
                }
                url
            };
            if bool_arg(args, "cachebust", false) {
                deps::record(Dep::Hashed);
                let file = find_file(&view.root, view.config.theme.as_deref(), path.trim_start_matches('/'))
                    .ok_or_else(|| {
                        tera::Error::msg(format!("`get_url`: cannot cachebust `{path}`: no such file in static/"))
                    })?;
                let bytes = std::fs::read(&file)
                    .map_err(|e| tera::Error::msg(format!("`get_url`: {}: {e}", file.display())))?;
                // Zola's form: the first 20 hex digits of the file's SHA-256.
                url = format!("{url}?h={}", &digest(&bytes, 256, false)[..20]);
            }
            Ok(Value::String(url))
        }),
    );

    let h = site.clone();
    tera.register_function("trans", move |args: &HashMap<String, Value>| {
        let view = h.view();
        let key = str_arg(args, "key", "trans")?;
        let lang = lang_arg(args, &view, "trans")?;
        let words = view.config.language(&lang).map(|l| &l.translations);
        match words.and_then(|w| w.get(&key)) {
            Some(text) => Ok(Value::String(text.clone())),
            None => Err(tera::Error::msg(format!(
                "`trans`: no translation of `{key}` for the language `{lang}`: add it to {}",
                if lang == view.config.default_language {
                    "[translations] in config.toml".to_string()
                } else {
                    format!("[languages.{lang}.translations] in config.toml")
                }
            ))),
        }
    });

    let h = site.clone();
    tera.register_function("get_hash", move |args: &HashMap<String, Value>| {
        let view = h.view();
        let sha = match args.get("sha_type") {
            None => 384,
            Some(v) => match v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())) {
                Some(n @ (256 | 384 | 512)) => n,
                _ => return Err(tera::Error::msg(format!("`get_hash`: `sha_type` must be 256, 384 or 512, not {v}"))),
            },
        };
        let base64 = bool_arg(args, "base64", true);
        let bytes = match (args.get("literal"), args.get("path")) {
            (Some(Value::String(s)), None) => s.clone().into_bytes(),
            (None, Some(Value::String(path))) => {
                deps::record(Dep::Hashed);
                let file = find_file(&view.root, view.config.theme.as_deref(), path).ok_or_else(|| {
                    tera::Error::msg(format!("`get_hash`: no file `{path}` in the site or its theme"))
                })?;
                std::fs::read(&file).map_err(|e| tera::Error::msg(format!("`get_hash`: {}: {e}", file.display())))?
            }
            _ => return Err(tera::Error::msg("`get_hash`: give either `path` or `literal` (a string)")),
        };
        Ok(Value::String(digest(&bytes, sha, base64)))
    });

    let h = site.clone();
    tera.register_function("get_page", move |args: &HashMap<String, Value>| {
        let view = h.view();
        let lib = library(&view, "get_page")?;
        let path = str_arg(args, "path", "get_page")?;
        let lang = lang_arg(args, &view, "get_page")?;
        let path = localized(&content_relative(&path, &view), &lang, &view.config);
        let id = *lib
            .page_index
            .get(&path)
            .ok_or_else(|| tera::Error::msg(format!("`get_page`: page `{path}` not found")))?;
        deps::record(Dep::Page(id));
        record_translations(&lib, &lib.pages[id].file.canonical);
        Ok(ser::page(&lib, id, false, &view.backlinks))
    });

    let h = site.clone();
    tera.register_function("get_section", move |args: &HashMap<String, Value>| {
        let view = h.view();
        let lib = library(&view, "get_section")?;
        let path = str_arg(args, "path", "get_section")?;
        let lang = lang_arg(args, &view, "get_section")?;
        let path = localized(&content_relative(&path, &view), &lang, &view.config);
        let id = *lib
            .section_index
            .get(&path)
            .ok_or_else(|| tera::Error::msg(format!("`get_section`: section `{path}` not found")))?;
        let with_pages = !bool_arg(args, "metadata_only", false);
        deps::record(Dep::Section(id));
        record_translations(&lib, &lib.sections[id].file.canonical);
        if with_pages {
            deps::record(Dep::SectionPages(id));
        }
        let pages = with_pages.then_some(ser::listed(true));
        Ok(ser::section(&lib, id, pages, &view.backlinks))
    });

    let h = site.clone();
    tera.register_function("get_taxonomy", move |args: &HashMap<String, Value>| {
        let view = h.view();
        let lib = library(&view, "get_taxonomy")?;
        let kind = str_arg(args, "kind", "get_taxonomy")?;
        let lang = lang_arg(args, &view, "get_taxonomy")?;
        match taxonomy_index(&view, &kind, &lang) {
            Some(i) => {
                deps::record(Dep::Taxonomy(i));
                Ok(ser::taxonomy(&lib, &view.taxonomies[i], &view.backlinks))
            }
            None if !bool_arg(args, "required", true) => Ok(Value::Null),
            None => {
                Err(tera::Error::msg(format!("`get_taxonomy`: `{kind}` is not a taxonomy declared in config.toml")))
            }
        }
    });

    let h = site.clone();
    tera.register_function(
        "get_taxonomy_url",
        Safe(move |args: &HashMap<String, Value>| {
            let view = h.view();
            let kind = str_arg(args, "kind", "get_taxonomy_url")?;
            let name = args
                .get("name")
                .or_else(|| args.get("term"))
                .and_then(Value::as_str)
                .ok_or_else(|| tera::Error::msg("`get_taxonomy_url` needs the argument `name`"))?;
            let required = bool_arg(args, "required", true);
            let lang = lang_arg(args, &view, "get_taxonomy_url")?;
            let Some(i) = taxonomy_index(&view, &kind, &lang) else {
                return if required {
                    Err(tera::Error::msg(format!(
                        "`get_taxonomy_url`: `{kind}` is not a taxonomy declared in config.toml"
                    )))
                } else {
                    Ok(Value::Null)
                };
            };
            deps::record(Dep::TaxonomyTerms(i));
            match view.taxonomies[i].term(name) {
                Some(t) => Ok(Value::String(t.permalink.clone())),
                None if !required => Ok(Value::Null),
                None => {
                    Err(tera::Error::msg(format!("`get_taxonomy_url`: couldn't find `{name}` in `{kind}` taxonomy")))
                }
            }
        }),
    );

    let h = site.clone();
    tera.register_function("get_taxonomy_term", move |args: &HashMap<String, Value>| {
        let view = h.view();
        let lib = library(&view, "get_taxonomy_term")?;
        let kind = str_arg(args, "kind", "get_taxonomy_term")?;
        let term = str_arg(args, "term", "get_taxonomy_term")?;
        let required = bool_arg(args, "required", true);
        let lang = lang_arg(args, &view, "get_taxonomy_term")?;
        let found = taxonomy_index(&view, &kind, &lang).and_then(|i| {
            deps::record(Dep::Taxonomy(i));
            view.taxonomies[i].terms.iter().find(|t| t.name == term)
        });
        match found {
            Some(t) => {
                let pages = bool_arg(args, "include_pages", true).then_some(ser::listed(true));
                Ok(ser::term(&lib, t, pages, &view.backlinks))
            }
            None if !required => Ok(Value::Null),
            None => Err(tera::Error::msg(format!("`get_taxonomy_term`: no term `{term}` in `{kind}`"))),
        }
    });

    let h = site.clone();
    tera.register_function("get_image_metadata", move |args: &HashMap<String, Value>| {
        let view = h.view();
        let path = str_arg(args, "path", "get_image_metadata")?;
        deps::record(Dep::Hashed);
        let Some(file) = find_file(&view.root, view.config.theme.as_deref(), &path) else {
            return if bool_arg(args, "allow_missing", false) {
                Ok(Value::Null)
            } else {
                Err(tera::Error::msg(format!("`get_image_metadata`: no file `{path}` in the site or its theme")))
            };
        };
        let meta = h.images.meta(&file).map_err(|e| tera::Error::msg(format!("`get_image_metadata`: {path}: {e}")))?;
        Ok(meta.to_value())
    });

    let h = site.clone();
    tera.register_function("resize_image", move |args: &HashMap<String, Value>| {
        let view = h.view();
        let f = "resize_image";
        let path = str_arg(args, "path", f)?;
        let number = |name: &str| -> TeraResult<Option<u32>> {
            match args.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v
                    .as_u64()
                    .or_else(|| v.as_f64().filter(|x| *x >= 0.0).map(|x| x as u64))
                    .and_then(|n| u32::try_from(n).ok())
                    .map(Some)
                    .ok_or_else(|| tera::Error::msg(format!("`{f}`: `{name}` must be a whole number, not {v}"))),
            }
        };
        let small = |name: &str| -> TeraResult<Option<u8>> {
            number(name)?
                .map(|n| u8::try_from(n).map_err(|_| tera::Error::msg(format!("`{f}`: `{name}` {n} is out of range"))))
                .transpose()
        };
        let op = args.get("op").and_then(Value::as_str).unwrap_or("fill");
        let op =
            Op::parse(op, number("width")?, number("height")?).map_err(|e| tera::Error::msg(format!("`{f}`: {e}")))?;
        let format = args.get("format").and_then(Value::as_str).unwrap_or("auto");
        deps::record(Dep::Hashed);
        let file = find_file(&view.root, view.config.theme.as_deref(), &path)
            .ok_or_else(|| tera::Error::msg(format!("`{f}`: no file `{path}` in the site or its theme")))?;
        let resized = h
            .images
            .enqueue(
                &path,
                &file,
                &Request { op, format, quality: small("quality")?, speed: small("speed")? },
                &view.config.base_url,
            )
            .map_err(|e| tera::Error::msg(format!("`{f}`: {path}: {e}")))?;
        Ok(resized.to_value())
    });

    let h = site.clone();
    tera.register_function("load_data", move |args: &HashMap<String, Value>| {
        let view = h.view();
        let required = bool_arg(args, "required", true);
        if let Some(url) = args.get("url") {
            let url = url.as_str().ok_or_else(|| tera::Error::msg("`load_data`: `url` must be a string"))?;
            let format = args.get("format").and_then(Value::as_str).unwrap_or("plain").to_string();
            let request = RemoteRequest::from_args(url, args)?;
            let key = format!("{request:?} {format}");
            if let Some(v) = h.remote.lock().ok().and_then(|c| c.get(&key).cloned()) {
                return Ok(v);
            }
            let value = match request.fetch().and_then(|body| parse_data(&body, &format)) {
                Ok(v) => v,
                Err(e) if required => return Err(tera::Error::msg(format!("`load_data`: {url}: {e}"))),
                Err(_) => Value::Null,
            };
            if let Ok(mut cache) = h.remote.lock() {
                cache.insert(key, value.clone());
            }
            return Ok(value);
        }
        if let Some(Value::String(literal)) = args.get("literal") {
            let format = args.get("format").and_then(Value::as_str).unwrap_or("plain").to_string();
            return parse_data(literal, &format).map_err(|e| tera::Error::msg(format!("`load_data`: literal: {e}")));
        }
        let path = str_arg(args, "path", "load_data")?;
        deps::record(Dep::Data);
        let overlaid = view.data_overlay.as_ref().and_then(|dir| {
            let rest = path.trim_start_matches('/').strip_prefix("data/")?;
            Some(dir.join(rest)).filter(|f| !rest.split('/').any(|c| c == "..") && f.is_file())
        });
        let Some(file) = overlaid.or_else(|| find_file(&view.root, view.config.theme.as_deref(), &path)) else {
            return if required {
                Err(tera::Error::msg(format!("`load_data`: no file `{path}` in the site or its theme")))
            } else {
                Ok(Value::Null)
            };
        };
        // Without `format`, the extension says, and any file type but the data formats is
        // text (as Zola reads it: a `.bib` file too, unless `format = "bibtex"`).
        let format = args.get("format").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| {
            let ext = file.extension().map(|e| e.to_string_lossy().to_lowercase()).unwrap_or_default();
            if ["json", "toml", "csv", "yaml", "yml", "xml"].contains(&ext.as_str()) {
                ext
            } else {
                "plain".into()
            }
        });
        let mtime = std::fs::metadata(&file).and_then(|m| m.modified()).ok();
        let key = (file.clone(), format.clone());
        if let Ok(cache) = h.data.lock() {
            if let Some((t, v)) = cache.get(&key) {
                if *t == mtime {
                    return Ok(v.clone());
                }
            }
        }
        let text = std::fs::read_to_string(&file)
            .map_err(|e| tera::Error::msg(format!("`load_data`: {}: {e}", file.display())))?;
        let value = parse_data(&text, &format).map_err(|e| tera::Error::msg(format!("`load_data`: {path}: {e}")))?;
        if let Ok(mut cache) = h.data.lock() {
            cache.insert(key, (mtime, value.clone()));
        }
        Ok(value)
    });
}

/// A remote `load_data` request, as Zola takes it: GET, or POST with a `body` and its
/// `content_type`, and `headers` written `name=value`.
#[derive(Debug)]
struct RemoteRequest {
    url: String,
    post: bool,
    headers: Vec<(String, String)>,
    body: Option<String>,
    content_type: Option<String>,
}

/// How long a remote `load_data` may take.
const REMOTE_SECONDS: &str = "30";

impl RemoteRequest {
    fn from_args(url: &str, args: &HashMap<String, Value>) -> tera::Result<RemoteRequest> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(tera::Error::msg(format!("`load_data`: `url` {url} is not an http(s) address")));
        }
        let post = match args.get("method").and_then(Value::as_str).map(str::to_ascii_lowercase) {
            None => false,
            Some(m) if m == "get" => false,
            Some(m) if m == "post" => true,
            Some(m) => return Err(tera::Error::msg(format!("`load_data`: `method` {m} is neither GET nor POST"))),
        };
        let mut headers = Vec::new();
        for h in args.get("headers").and_then(Value::as_array).into_iter().flatten() {
            let text = h.as_str().unwrap_or_default();
            let Some((name, value)) = text.split_once('=') else {
                return Err(tera::Error::msg(format!("`load_data`: header `{text}` is not written name=value")));
            };
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
        let text = |k: &str| args.get(k).and_then(Value::as_str).map(str::to_string);
        Ok(RemoteRequest {
            url: url.to_string(),
            post,
            headers,
            body: text("body"),
            content_type: text("content_type"),
        })
    }

    /// The response's body, with `curl` (as `check` reaches external links); an error for an
    /// answer other than 2xx, or none.
    fn fetch(&self) -> Result<String, String> {
        use std::io::Write as _;
        let mut cmd = std::process::Command::new("curl");
        cmd.args(["-sS", "-L", "--max-time", REMOTE_SECONDS, "-w", "\n%{http_code}"]);
        if self.post {
            cmd.args(["-X", "POST", "--data-binary", "@-"]);
            if let Some(t) = &self.content_type {
                cmd.arg("-H").arg(format!("Content-Type: {t}"));
            }
        }
        for (name, value) in &self.headers {
            cmd.arg("-H").arg(format!("{name}: {value}"));
        }
        cmd.arg("--").arg(&self.url);
        let mut child = cmd
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run curl to fetch it ({e})"))?;
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(self.body.as_deref().unwrap_or_default().as_bytes());
        }
        let out = child.wait_with_output().map_err(|e| format!("curl: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
        match code.trim().parse::<u16>() {
            Ok(c) if (200..300).contains(&c) => Ok(body.to_string()),
            Ok(0) | Err(_) => Err(format!("no answer ({})", String::from_utf8_lossy(&out.stderr).trim())),
            Ok(c) => Err(format!("answered HTTP {c}")),
        }
    }
}

/// Finds a file the way Zola's functions do: from the site root, then `static/`, `content/`,
/// then the theme's root and `static/`.
fn find_file(root: &Path, theme: Option<&str>, path: &str) -> Option<PathBuf> {
    let path = path.trim_start_matches('/');
    if path.split('/').any(|c| c == "..") {
        return None;
    }
    let mut bases = vec![root.to_path_buf(), root.join("static"), root.join("content")];
    if let Some(t) = theme {
        bases.push(root.join("themes").join(t));
        bases.push(root.join("themes").join(t).join("static"));
    }
    bases.into_iter().map(|b| b.join(path)).find(|p| p.is_file())
}

fn parse_data(text: &str, format: &str) -> Result<Value, String> {
    match format {
        "json" => serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}")),
        "toml" => toml::from_str::<toml::Value>(text)
            .map(|v| crate::toml_value::toml_to_json(&v))
            .map_err(|e| format!("invalid TOML: {}", e.message())),
        "csv" => {
            let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(text.as_bytes());
            let headers: Vec<Value> = reader
                .headers()
                .map_err(|e| format!("invalid CSV: {e}"))?
                .iter()
                .map(|h| Value::String(h.to_string()))
                .collect();
            let mut records = Vec::new();
            for r in reader.records() {
                let r = r.map_err(|e| format!("invalid CSV: {e}"))?;
                records.push(Value::Array(r.iter().map(|f| Value::String(f.to_string())).collect()));
            }
            Ok(serde_json::json!({ "headers": headers, "records": records }))
        }
        "yaml" | "yml" => serde_yaml::from_str(text).map_err(|e| format!("invalid YAML: {e}")),
        "xml" => xml_data(text),
        "bibtex" => bibtex_data(text),
        "plain" | "txt" | "md" | "html" => Ok(Value::String(text.to_string())),
        other => Err(format!("format `{other}` is not supported (json, toml, yaml, xml, bibtex, csv or plain)")),
    }
}

/// XML as Zola loads it: `{root: element}`, where an element without attributes whose first
/// text is not blank is that text, one with nothing is `{}`, and otherwise a map of its
/// attributes (`@name`), its child elements (repeated names as lists) and its text (`#text`);
/// texts are trimmed and read as numbers or booleans when they are one.
fn xml_data(text: &str) -> Result<Value, String> {
    let doc = roxmltree::Document::parse(text).map_err(|e| format!("invalid XML: {e}"))?;
    let root = doc.root_element();
    let mut map = serde_json::Map::new();
    map.insert(root.tag_name().name().to_string(), xml_element(root));
    Ok(Value::Object(map))
}

fn xml_element(node: roxmltree::Node<'_, '_>) -> Value {
    let text = node.text().map(str::trim).filter(|t| !t.is_empty());
    if node.attributes().len() == 0 {
        if let Some(t) = text {
            return xml_scalar(t);
        }
    }
    let mut map = serde_json::Map::new();
    for a in node.attributes() {
        map.insert(format!("@{}", a.name()), xml_scalar(a.value().trim()));
    }
    for child in node.children().filter(roxmltree::Node::is_element) {
        let name = child.tag_name().name().to_string();
        let value = xml_element(child);
        match map.get_mut(&name) {
            Some(Value::Array(list)) => list.push(value),
            Some(first) => {
                let first = first.take();
                map.insert(name, Value::Array(vec![first, value]));
            }
            None => {
                map.insert(name, value);
            }
        }
    }
    if let Some(t) = text {
        map.insert("#text".into(), xml_scalar(t));
    }
    Value::Object(map)
}

fn xml_scalar(t: &str) -> Value {
    if let Ok(n) = t.parse::<u64>() {
        return Value::from(n);
    }
    if let Some(n) = t.parse::<f64>().ok().filter(|n| n.is_finite()).and_then(serde_json::Number::from_f64) {
        return Value::Number(n);
    }
    match t {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::String(t.to_string()),
    }
}

/// BibTeX as Zola loads it (the nom-bibtex crate's reading): preambles, comments, variables
/// and each entry's type, key and tags.
fn bibtex_data(text: &str) -> Result<Value, String> {
    let bib = nom_bibtex::Bibtex::parse(text).map_err(|e| format!("invalid BibTeX: {e}"))?;
    Ok(serde_json::json!({
        "preambles": bib.preambles(),
        "comments": bib.comments(),
        "variables": bib.variables(),
        "bibliographies": bib.bibliographies().iter().map(|b| serde_json::json!({
            "entry_type": b.entry_type(),
            "citation_key": b.citation_key(),
            "tags": b.tags(),
        })).collect::<Vec<_>>(),
    }))
}

/// A SHA-2 digest (`bits` 256, 384 or 512) as Zola's `get_hash` writes it: base64, or hex.
pub fn digest(bytes: &[u8], bits: u64, base64: bool) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let sum = match bits {
        256 => sha2::Sha256::digest(bytes).to_vec(),
        512 => sha2::Sha512::digest(bytes).to_vec(),
        _ => sha2::Sha384::digest(bytes).to_vec(),
    };
    if base64 {
        base64::engine::general_purpose::STANDARD.encode(sum)
    } else {
        sum.iter().map(|b| format!("{b:02x}")).collect()
    }
}
