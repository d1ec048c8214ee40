//! `atelier serve`: build once, serve the output on one port, watch the sources, rebuild only
//! what an edit affects, and tell open pages to reload over a WebSocket. A failed rebuild keeps
//! the server up and shows the error in the terminal and over the page.

use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use notify::{RecursiveMode, Watcher};
use tokio::sync::broadcast;

use crate::error::{Error, Result};
use crate::incremental::{self, ChangeSet};
use crate::render;
use crate::site::{BuildOptions, Site};

/// Called after every successful rebuild with the output files that changed (feeds, sitemap,
/// catalog export included): how the shop's service learns that prices or the layout moved.
#[derive(Clone, Default)]
pub struct RebuildHook(pub Option<HookFn>);

/// The function a [`RebuildHook`] calls.
pub type HookFn = Arc<dyn Fn(&[String]) + Send + Sync>;

impl std::fmt::Debug for RebuildHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "RebuildHook(set)" } else { "RebuildHook(none)" })
    }
}

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// How to build (its `base_url` is set to the serving address unless given).
    pub build: BuildOptions,
    /// Where to listen.
    pub addr: SocketAddr,
    /// Told about every rebuild.
    pub on_rebuild: RebuildHook,
    /// Files or folders outside the site's own whose changes rebuild it all.
    pub extra_watch: Vec<PathBuf>,
    /// At most how long edits are gathered into one rebuild.
    pub debounce: Duration,
}

/// The address pages link to when served: `base_url` with the port added (unless
/// `no_port_append`) and `http://` when it names no scheme, as `zola serve --base-url` makes it.
pub fn served_base_url(base_url: &str, port: u16, no_port_append: bool) -> String {
    let (scheme, rest) = match base_url.split_once("://") {
        Some((scheme, rest)) => (scheme, rest),
        None => ("http", base_url),
    };
    let rest = rest.trim_end_matches('/');
    if no_port_append {
        format!("{scheme}://{rest}")
    } else {
        format!("{scheme}://{rest}:{port}")
    }
}

/// Shared state of the development server.
#[derive(Clone)]
pub struct DevServer {
    output_dir: PathBuf,
    events: broadcast::Sender<String>,
    error: Arc<RwLock<Option<String>>>,
}

const RELOAD_PATH: &str = "/__atelier/livereload";
const RELOAD_SCRIPT_PATH: &str = "/__atelier/livereload.js";
const RELOAD_SCRIPT: &str = include_str!("serve/livereload.js");

impl DevServer {
    /// The routes of the development server: live reload and the built site as a fallback.
    pub fn router(&self) -> Router {
        Router::new()
            .route(RELOAD_PATH, get(websocket))
            .route(RELOAD_SCRIPT_PATH, get(reload_script))
            .fallback(get(static_file))
            .with_state(self.clone())
    }

    fn announce(&self, message: serde_json::Value) {
        let _ = self.events.send(message.to_string());
    }

    fn set_error(&self, error: Option<String>) {
        if let Ok(mut e) = self.error.write() {
            *e = error;
        }
    }
}

/// Builds the site, starts the watcher and returns the server state; the caller serves
/// [`DevServer::router`] (possibly merged with other routes) on `opts.addr`.
pub fn start(opts: ServeOptions) -> Result<DevServer> {
    let mut build = opts.build.clone();
    // Watch events name absolute paths; compare them with an absolute root.
    build.root = build.root.canonicalize().map_err(|e| Error::io(&build.root, e))?;
    if build.base_url.is_none() {
        build.base_url = Some(format!("http://{}", opts.addr));
    }
    let started = Instant::now();
    let hook = opts.on_rebuild.clone();
    let (site, error) = match Site::load(build.clone()).and_then(|mut s| render::build(&mut s).map(|r| (s, r))) {
        Ok((site, report)) => {
            for w in &report.warnings {
                eprintln!("warning: {w}");
            }
            eprintln!(
                "Built {} pages, {} sections in {:.2} s",
                report.pages,
                report.sections,
                started.elapsed().as_secs_f64()
            );
            (Some(site), None)
        }
        Err(e) => {
            eprintln!("error: {e}");
            (None, Some(e.to_string()))
        }
    };
    let output_dir = site
        .as_ref()
        .map(|s| s.output_dir.clone())
        .or_else(|| build.output_dir.clone().map(|o| if o.is_absolute() { o } else { build.root.join(o) }))
        .unwrap_or_else(|| build.root.join("public"));
    let (events, _) = broadcast::channel(64);
    let server = DevServer { output_dir, events, error: Arc::new(RwLock::new(error)) };
    let watcher_server = server.clone();
    let (tx, rx) = mpsc::channel::<notify::Result<notify::Event>>();
    let mut watcher = notify::recommended_watcher(tx).map_err(|e| Error::io(&build.root, std::io::Error::other(e)))?;
    watch_sources(&mut watcher, &build.root)?;
    let extra: Vec<PathBuf> =
        opts.extra_watch.iter().map(|p| if p.is_absolute() { p.clone() } else { build.root.join(p) }).collect();
    for path in &extra {
        let mode = if path.is_dir() { RecursiveMode::Recursive } else { RecursiveMode::NonRecursive };
        watcher.watch(path, mode).map_err(|e| Error::io(path, std::io::Error::other(e)))?;
    }
    let quiet_for = opts.debounce;
    if let Some(dir) = build.data_overlay.as_ref().filter(|d| d.is_dir()) {
        watcher
            .watch(dir, notify::RecursiveMode::NonRecursive)
            .map_err(|e| Error::io(dir, std::io::Error::other(e)))?;
    }
    std::thread::Builder::new()
        .name("atelier-rebuild".into())
        .spawn(move || {
            let _keep = watcher;
            rebuild_loop(site, build, rx, watcher_server, hook, &extra, quiet_for);
        })
        .map_err(|e| Error::io("rebuild thread", e))?;
    Ok(server)
}

fn watch_sources(watcher: &mut notify::RecommendedWatcher, root: &Path) -> Result<()> {
    let io = |p: &Path, e: notify::Error| Error::io(p, std::io::Error::other(e));
    watcher.watch(root, RecursiveMode::NonRecursive).map_err(|e| io(root, e))?;
    for dir in ["content", "templates", "static", "data", "themes"] {
        let d = root.join(dir);
        if d.is_dir() {
            watcher.watch(&d, RecursiveMode::Recursive).map_err(|e| io(&d, e))?;
        }
    }
    Ok(())
}

/// Collects events until the sources have been quiet for a moment.
fn debounce(
    rx: &mpsc::Receiver<notify::Result<notify::Event>>,
    first: notify::Event,
    quiet_for: Duration,
) -> Vec<PathBuf> {
    let mut paths = first.paths;
    let deadline = Instant::now() + quiet_for;
    while let Ok(ev) = rx.recv_timeout(Duration::from_millis(8)) {
        // A file read (the build reading data it watches) is no change.
        if let Ok(ev) = ev {
            if !matches!(ev.kind, notify::EventKind::Access(_)) {
                paths.extend(ev.paths);
            }
        }
        if Instant::now() > deadline {
            break;
        }
    }
    paths.sort();
    paths.dedup();
    paths
}

fn rebuild_loop(
    mut site: Option<Site>,
    build: BuildOptions,
    rx: mpsc::Receiver<notify::Result<notify::Event>>,
    server: DevServer,
    hook: RebuildHook,
    extra: &[PathBuf],
    quiet_for: Duration,
) {
    let theme = site.as_ref().and_then(|s| s.config.theme.clone());
    while let Ok(event) = rx.recv() {
        let Ok(event) = event else { continue };
        if matches!(event.kind, notify::EventKind::Access(_)) {
            continue;
        }
        let seen_at = Instant::now();
        let paths = debounce(&rx, event, quiet_for);
        let mut changes = incremental::classify(
            &build.root,
            &build.config_file,
            theme.as_deref(),
            &server.output_dir,
            build.data_overlay.as_deref(),
            &paths,
        );
        // A change in an extra watched path may touch anything the build reads: all of it.
        if paths.iter().any(|p| extra.iter().any(|e| p.starts_with(e))) {
            changes.config = true;
        }
        if changes.is_empty() {
            continue;
        }
        // A change of the overlay's data alone (a sale changed the stock export) updates the
        // pages for the next visit; open pages are not reloaded under a shopper's hands.
        let quiet = build.data_overlay.as_ref().is_some_and(|d| paths.iter().all(|p| p.starts_with(d)));
        let result = match site.as_mut() {
            Some(s) => incremental::apply(s, &changes).map(|o| (o, None)),
            None => full_load(&build).map(|(s, o)| (o, Some(s))),
        };
        match result {
            Ok((outcome, fresh)) => {
                if let Some(fresh) = fresh {
                    site = Some(fresh);
                }
                server.set_error(None);
                if !quiet {
                    server.announce(serde_json::json!({"type": "reload", "changed": outcome.changed_files}));
                }
                eprintln!(
                    "{} {} in {:.1} ms ({} outputs rendered, {} files changed; {:.1} ms since the edit)",
                    if outcome.full { "Rebuilt" } else { "Updated" },
                    describe(&changes),
                    outcome.elapsed.as_secs_f64() * 1000.0,
                    outcome.rendered,
                    outcome.changed_files.len(),
                    seen_at.elapsed().as_secs_f64() * 1000.0,
                );
                let mut changed = outcome.changed_files.clone();
                if let Some(s) = site.as_mut() {
                    let t = Instant::now();
                    match incremental::finish(s, &outcome.later) {
                        Ok(files) if !files.is_empty() => {
                            eprintln!(
                                "  feeds, sitemap and catalog updated in {:.1} ms",
                                t.elapsed().as_secs_f64() * 1000.0
                            );
                            changed.extend(files);
                        }
                        Ok(_) => {}
                        Err(e) => eprintln!("error: {e}"),
                    }
                }
                if let Some(f) = &hook.0 {
                    // A full rebuild does not list its files: everything may have moved.
                    if outcome.full {
                        changed.push(crate::shop::CATALOG_FILE.to_string());
                    }
                    f(&changed);
                }
            }
            Err(e) => {
                let message = e.to_string();
                eprintln!("error: {message}\n(the server keeps serving the last good build)");
                server.set_error(Some(message.clone()));
                server.announce(serde_json::json!({"type": "error", "message": message}));
            }
        }
    }
}

fn full_load(build: &BuildOptions) -> Result<(Site, incremental::Outcome)> {
    let started = Instant::now();
    incremental::supersede_background_index();
    let mut site = Site::load(build.clone())?;
    let report = render::build(&mut site)?;
    Ok((
        site,
        incremental::Outcome { full: true, rendered: report.files, elapsed: started.elapsed(), ..Default::default() },
    ))
}

fn describe(c: &ChangeSet) -> String {
    let mut parts: Vec<String> = c.content.iter().map(|f| format!("content/{f}")).collect();
    parts.extend(c.templates.iter().map(|t| format!("template {t}")));
    if c.statics {
        parts.push("static files".into());
    }
    if c.data {
        parts.push("data".into());
    }
    if c.config {
        parts.push("configuration".into());
    }
    if parts.len() > 3 {
        let n = parts.len();
        parts.truncate(3);
        parts.push(format!("{} more", n - 3));
    }
    parts.join(", ")
}

async fn websocket(ws: WebSocketUpgrade, State(server): State<DevServer>) -> Response {
    ws.on_upgrade(move |socket| live(socket, server))
}

async fn live(mut socket: WebSocket, server: DevServer) {
    let mut rx = server.events.subscribe();
    let current = server.error.read().ok().and_then(|e| e.clone());
    if let Some(message) = current {
        let text = serde_json::json!({"type": "error", "message": message}).to_string();
        if socket.send(Message::Text(text.into())).await.is_err() {
            return;
        }
    }
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Ok(text) => if socket.send(Message::Text(text.into())).await.is_err() { return },
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => return,
            },
            incoming = socket.recv() => if !matches!(incoming, Some(Ok(_))) { return },
        }
    }
}

async fn reload_script() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], RELOAD_SCRIPT)
}

/// The file a request path maps to inside the output folder, refusing to leave it.
pub fn resolve(output_dir: &Path, uri_path: &str) -> Option<PathBuf> {
    let decoded = percent_decode(uri_path)?;
    let rel = Path::new(decoded.trim_start_matches('/'));
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    let mut path = output_dir.join(rel);
    if path.is_dir() {
        path = path.join("index.html");
    }
    path.is_file().then_some(path)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The content type of a file, by its extension.
pub fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "xml" => "application/xml",
        "txt" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "gif" => "image/gif",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}

async fn static_file(State(server): State<DevServer>, uri: Uri) -> Response {
    let path = uri.path();
    // `/compendium` → `/compendium/`, as a CDN does.
    if !path.ends_with('/')
        && !path.rsplit('/').next().unwrap_or("").contains('.')
        && server.output_dir.join(path.trim_start_matches('/')).is_dir()
    {
        let location = format!("{path}/{}", uri.query().map(|q| format!("?{q}")).unwrap_or_default());
        return (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, location)]).into_response();
    }
    let (status, file) = match resolve(&server.output_dir, path) {
        Some(f) => (StatusCode::OK, f),
        None => match resolve(&server.output_dir, "/404.html") {
            Some(f) => (StatusCode::NOT_FOUND, f),
            None => return (StatusCode::NOT_FOUND, "Not found").into_response(),
        },
    };
    let Ok(bytes) = tokio::fs::read(&file).await else {
        return (StatusCode::NOT_FOUND, "Not found").into_response();
    };
    let ctype = content_type(&file);
    let body = if ctype.starts_with("text/html") { inject_reload(bytes) } else { bytes };
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

fn inject_reload(bytes: Vec<u8>) -> Vec<u8> {
    let tag = format!("<script src=\"{RELOAD_SCRIPT_PATH}\" defer></script>");
    let text = String::from_utf8_lossy(&bytes);
    match text.rfind("</body>") {
        Some(i) => format!("{}{}{}", &text[..i], tag, &text[i..]).into_bytes(),
        None => format!("{text}{tag}").into_bytes(),
    }
}

/// The output folder being served.
impl DevServer {
    /// Where the built site is.
    pub fn output_dir(&self) -> &Path {
        &self.output_dir
    }
}

/// Serves the development server alone until Ctrl-C.
pub async fn serve(opts: ServeOptions) -> Result<()> {
    let addr = opts.addr;
    let server = tokio::task::spawn_blocking(move || start(opts))
        .await
        .map_err(|e| Error::io("serve", std::io::Error::other(e)))??;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| Error::io(addr.to_string(), e))?;
    eprintln!("Serving http://{addr}/ — watching for changes, Ctrl-C to stop");
    axum::serve(listener, server.router())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| Error::io(addr.to_string(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_as_zola_serve_makes_it() {
        assert_eq!(served_base_url("192.168.1.20", 1111, false), "http://192.168.1.20:1111");
        assert_eq!(served_base_url("https://shop.example/", 1111, true), "https://shop.example");
        assert_eq!(served_base_url("https://shop.example", 8080, false), "https://shop.example:8080");
    }

    #[test]
    fn resolves_inside_output_only() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("a")).unwrap();
        std::fs::write(tmp.path().join("a/index.html"), "x").unwrap();
        std::fs::write(tmp.path().join("b c.txt"), "x").unwrap();
        assert_eq!(resolve(tmp.path(), "/a/"), Some(tmp.path().join("a/index.html")));
        assert_eq!(resolve(tmp.path(), "/b%20c.txt"), Some(tmp.path().join("b c.txt")));
        assert_eq!(resolve(tmp.path(), "/../etc/passwd"), None);
        assert_eq!(resolve(tmp.path(), "/a/%2e%2e/%2e%2e/x"), None);
        assert_eq!(resolve(tmp.path(), "/%zz"), None);
    }

    #[test]
    fn injects_before_body_end() {
        let out = String::from_utf8(inject_reload(b"<html><body>x</body></html>".to_vec())).unwrap();
        assert!(out.contains("x<script src=\"/__atelier/livereload.js\" defer></script></body>"));
    }
}
