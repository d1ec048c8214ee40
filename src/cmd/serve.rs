//! `atelier serve`: the whole shop on one port — the site with live reload, the checkout
//! service's API and pages, on the embedded defaults (SQLite, sandbox payments, file outbox).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use atelier_checkout::{AppState, Workers};
use atelier_generator::serve::{RebuildHook, ServeOptions};
use atelier_generator::BuildOptions;

use crate::cli::ServeArgs;

/// How often `serve` looks whether the stock (a sale, `atelier stock`, a return) or the
/// approved testimonials changed.
const STOCK_EXPORT_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Writes the stock and testimonials exports now, then whenever they change; the watcher
/// rebuilds the pages that read them.
async fn keep_exports(db: atelier_checkout::db::Db, data: std::path::PathBuf) {
    let write = |db: atelier_checkout::db::Db, data: std::path::PathBuf| async move {
        if let Err(e) = super::service::write_stock_export(&data.join("stock.json"), &db).await {
            eprintln!("error: the stock export: {e:#}");
        }
        if let Err(e) = super::service::write_testimonials_export(&data.join("testimonials.json"), &db).await {
            eprintln!("error: the testimonials export: {e:#}");
        }
    };
    write(db.clone(), data.clone()).await;
    tokio::spawn(async move {
        let mut every = tokio::time::interval(STOCK_EXPORT_EVERY);
        loop {
            every.tick().await;
            write(db.clone(), data.clone()).await;
        }
    });
}

/// Opens `url` in the default browser once `addr` answers (`--open`).
async fn open_when_served(addr: SocketAddr, url: String) {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            let opener = if cfg!(target_os = "macos") {
                std::process::Command::new("open").arg(&url).spawn()
            } else if cfg!(windows) {
                std::process::Command::new("cmd").args(["/C", "start", "", &url]).spawn()
            } else {
                std::process::Command::new("xdg-open").arg(&url).spawn()
            };
            if let Err(e) = opener {
                eprintln!("warning: could not open a browser ({e}); visit {url}");
            }
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Bottles of every size on a new shop's shelves under `atelier serve`.
const DEMO_BOTTLES: i64 = 12;

/// Builds, serves site and service, and rebuilds on every edit until Ctrl-C.
pub fn run(root: &Path, config: &Path, args: ServeArgs) -> anyhow::Result<()> {
    let addr: SocketAddr = format!("{}:{}", args.interface, args.port)
        .parse()
        .with_context(|| format!("`{}:{}` is not an address to listen on", args.interface, args.port))?;
    let mut build = BuildOptions::new(root);
    build.config_file = config.to_path_buf();
    build.output_dir = args.output_dir;
    build.drafts = args.drafts;
    build.force = args.force;
    // The address pages link to (and the service writes into its e-mails): the one served on,
    // or `--base-url`'s.
    let public_url = match &args.base_url {
        Some(url) => atelier_generator::serve::served_base_url(url, addr.port(), args.no_port_append),
        None => format!("http://{addr}"),
    };
    build.base_url = Some(public_url.clone());
    // The pages read the service's stock export from its data folder, kept current below: the
    // badges as served are the stock as it is, and the site's sources are left alone.
    let data = super::service::data_dir(root);
    std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
    build.data_overlay = Some(data.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let (service_config, db) = super::service::open(root, &public_url).await?;

        // After each rebuild that rewrote the catalog export, the service sells from it.
        let handle = tokio::runtime::Handle::current();
        let sync_db = db.clone();
        let catalog_file: Arc<std::sync::Mutex<Option<std::path::PathBuf>>> = Arc::default();
        let hook_file = catalog_file.clone();
        let on_rebuild = RebuildHook(Some(Arc::new(move |changed: &[String]| {
            if !changed.iter().any(|f| f == "catalog.json") {
                return;
            }
            let Some(file) = hook_file.lock().ok().and_then(|f| f.clone()) else { return };
            match handle.block_on(super::service::sync_catalog(&sync_db, &file)) {
                Ok(r) => eprintln!("  catalog synced: {} sizes", r.upserted),
                Err(e) => eprintln!("error: catalog sync: {e:#}"),
            }
        })));

        let opts = ServeOptions {
            build,
            addr,
            on_rebuild,
            extra_watch: args.extra_watch_path.clone(),
            debounce: std::time::Duration::from_millis(args.debounce),
        };
        let dev = tokio::task::spawn_blocking(move || atelier_generator::serve::start(opts)).await??;
        let output = dev.output_dir().to_path_buf();
        let catalog = output.join("catalog.json");
        if catalog.is_file() {
            let r = super::service::sync_catalog(&db, &catalog).await?;
            eprintln!("Catalog synced: {} sizes", r.upserted);
        }
        if let Ok(mut f) = catalog_file.lock() {
            *f = Some(catalog);
        }
        // A newcomer's first look is a working shop; never with real payments.
        let sandbox = matches!(service_config.payments, atelier_checkout::config::PaymentMode::Sandbox);
        if sandbox && !args.no_demo_stock {
            let stocked = atelier_checkout::stock::stock_demo_shelves(&db, DEMO_BOTTLES).await?;
            if stocked > 0 {
                eprintln!(
                    "Demo stock: {DEMO_BOTTLES} bottles of each of the {stocked} sizes (a new shop with sandbox payments; \
                     `atelier stock set SKU N` changes a level, `--no-demo-stock` leaves the shelves empty)"
                );
            }
        }
        keep_exports(db.clone(), data).await;
        let state = AppState::new(db, service_config, &output).await?;
        let workers = Workers::start(&state)?;
        let site = dev.router().layer(axum::middleware::from_fn(atelier_checkout::http::guard::headers));
        let app = atelier_checkout::app(state).merge(site);
        if args.open {
            tokio::spawn(open_when_served(addr, public_url.clone()));
        }
        super::service::serve_until_stopped(addr, app, "The shop is open (site, cart and checkout on one port) at")
            .await?;
        workers.stop().await;
        Ok(())
    })
}
