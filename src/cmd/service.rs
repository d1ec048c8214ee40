//! The service's commands: `checkout`, `migrate`, `catalog sync`, `stock`, `order`, `mail`,
//! `folio`, `export`, and the pieces `serve` shares with them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use atelier_checkout::staff::audit::Actor;
use atelier_checkout::{stock, AppState, Db, ServiceConfig, Workers};

use crate::cli::{CatalogCommand, CheckoutArgs, FolioCommand, MailCommand, OrderCommand, StaffCommand, StockCommand};

/// The data folder: `ATELIER_DATA_DIR`, or `.atelier/` under the site root.
pub fn data_dir(root: &Path) -> PathBuf {
    std::env::var_os("ATELIER_DATA_DIR").map(PathBuf::from).unwrap_or_else(|| root.join(".atelier"))
}

/// Reads the configuration and opens (and migrates) the database.
pub async fn open(root: &Path, public_url: &str) -> anyhow::Result<(ServiceConfig, Db)> {
    let config = ServiceConfig::load(data_dir(root), public_url)?;
    let db = Db::connect(&config.database_url).await.with_context(|| {
        format!("cannot open the database at {}", atelier_checkout::config::redact_url(&config.database_url))
    })?;
    let applied = db.migrate().await.context("migrating the database")?;
    for m in applied {
        eprintln!("applied migration {m}");
    }
    Ok((config, db))
}

/// Loads a catalog export file.
pub async fn sync_catalog(db: &Db, file: &Path) -> anyhow::Result<atelier_checkout::catalog::SyncReport> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read {} (run `atelier build` first)", file.display()))?;
    let catalog: atelier_domain::CatalogExport =
        serde_json::from_str(&text).with_context(|| format!("{} is not a catalog export", file.display()))?;
    anyhow::ensure!(
        catalog.format == atelier_domain::CATALOG_FORMAT_VERSION,
        "{} has format {}, this program reads format {}",
        file.display(),
        catalog.format,
        atelier_domain::CATALOG_FORMAT_VERSION
    );
    Ok(atelier_checkout::catalog::sync(db, &catalog).await?)
}

/// A runtime for a command's database and network work.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// `atelier migrate`.
pub fn migrate(root: &Path) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let (config, _db) = open(root, "http://127.0.0.1:8080").await?;
        say!("Database {} is up to date", atelier_checkout::config::redact_url(&config.database_url));
        Ok(())
    })
}

/// `atelier catalog …`.
pub fn catalog(root: &Path, cmd: CatalogCommand) -> anyhow::Result<()> {
    let CatalogCommand::Sync { file } = cmd;
    let file = file.unwrap_or_else(|| root.join("public").join("catalog.json"));
    runtime()?.block_on(async {
        let (_, db) = open(root, "http://127.0.0.1:8080").await?;
        let r = sync_catalog(&db, &file).await?;
        say!("Synced {} sizes from {} ({} withdrawn from sale)", r.upserted, file.display(), r.deactivated);
        if r.folio.plans + r.folio.plans_retired + r.folio.editions > 0 {
            say!(
                "Synced {} Folio plans ({} closed to new subscribers) and {} editions",
                r.folio.plans,
                r.folio.plans_retired,
                r.folio.editions
            );
        }
        if r.folio.prices_changed > 0 {
            say!(
                "{} Folio prices changed: renewals from 30 days on pay them, and every subscriber is e-mailed now",
                r.folio.prices_changed
            );
        }
        Ok(())
    })
}

/// `atelier stock …`.
pub fn stock(root: &Path, cmd: StockCommand) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let (_, db) = open(root, "http://127.0.0.1:8080").await?;
        let (sku, change, reason) = match cmd {
            StockCommand::Set { sku, quantity, reason } => (sku, stock::Change::Set(quantity), reason),
            StockCommand::Adjust { sku, delta, reason } => (sku, stock::Change::Adjust(delta), reason),
            StockCommand::List => {
                say!("{:<20} {:>8} {:>9} {:>10}  status", "sku", "on hand", "reserved", "available");
                for (sku, l) in stock::levels(&db, &[]).await? {
                    say!(
                        "{sku:<20} {:>8} {:>9} {:>10}  {}",
                        l.on_hand,
                        l.on_hand - l.available,
                        l.available,
                        l.status()
                    );
                }
                return Ok(());
            }
        };
        let level = stock::change(&db, &sku, change, &reason, &Actor::shell()).await?;
        say!("{sku}: {} on hand, {} available ({})", level.on_hand, level.available, level.status());
        Ok(())
    })
}

/// `atelier order …`.
pub fn order(root: &Path, cmd: OrderCommand) -> anyhow::Result<()> {
    use atelier_checkout::orders::{self, Step};
    runtime()?.block_on(async {
        let (config, db) = open(root, "http://127.0.0.1:8080").await?;
        let (order, step) = match cmd {
            OrderCommand::List { status, limit } => {
                let status = match status.as_deref() {
                    None => None,
                    Some(s) => Some(orders::OrderStatus::parse(s).with_context(|| {
                        let names: Vec<&str> = orders::OrderStatus::ALL.iter().map(|s| s.as_str()).collect();
                        format!("`{s}` is not an order state ({})", names.join(", "))
                    })?),
                };
                say!("{:<16} {:<16} {:>10}  {:<10}  e-mail", "number", "status", "total", "placed");
                for o in orders::list(&db, status, limit).await? {
                    let total = atelier_checkout::checkout::pricing::display(o.total_minor, o.currency);
                    say!(
                        "{:<16} {:<16} {total:>10}  {:<10}  {}",
                        o.number,
                        o.status,
                        orders::date(o.created_at),
                        o.email
                    );
                }
                return Ok(());
            }
            OrderCommand::Fulfil { order } => (order, Step::Fulfil),
            OrderCommand::Ship { order, tracking } => (order, Step::Ship { tracking }),
            OrderCommand::Deliver { order } => (order, Step::Deliver),
            OrderCommand::Refund { order, amount, restock, reason } => {
                let state = AppState::new(db, config, &root.join("public")).await?;
                return refund(&state, &order, amount.as_deref(), &restock, reason).await;
            }
        };
        let keys = atelier_checkout::secrets::Keys::load(&db, &config).await?;
        let view = orders::advance(&db, &keys.link, &config.public_url, &order, &step, &Actor::shell()).await?;
        say!("{}: {}", view.number, view.status_label);
        Ok(())
    })
}

/// `atelier order refund`: the console's refund, from the command line.
async fn refund(
    state: &AppState,
    order: &str,
    amount: Option<&str>,
    restock: &[String],
    reason: String,
) -> anyhow::Result<()> {
    use atelier_checkout::orders::refunds;
    let view = atelier_checkout::orders::find_by_number_or_id(&state.db, order)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no order {order}"))?;
    let amount_minor = match amount {
        Some(a) => atelier_domain::Money::parse_decimal(a, atelier_domain::Currency::Eur)?.minor,
        None => match refunds::refundable(&state.db, &view.order_id).await? {
            Some(left) => left.remaining_minor,
            None => anyhow::bail!("order {} is {}: nothing is left to refund", view.number, view.status),
        },
    };
    let mut back = Vec::new();
    for r in restock {
        let (sku, n) =
            r.split_once('=').ok_or_else(|| anyhow::anyhow!("--restock {r}: write SKU=COUNT, such as LAV-10=1"))?;
        let n: i64 = n.trim().parse().map_err(|_| anyhow::anyhow!("--restock {r}: the count is a whole number"))?;
        back.push((sku.trim().to_string(), n));
    }
    let ask = refunds::Ask { amount_minor, restock: back, reason };
    let done = refunds::request(state, &Actor::shell(), &view.number, &ask).await?;
    if done.confirmed {
        say!("{}: refunded; the shopper has been e-mailed", done.number);
    } else if done.unsent {
        say!(
            "{}: the payment provider gave no clear answer; `atelier serve` sends the refund again under the same key",
            done.number
        );
    } else {
        say!("{}: refund asked of the payment provider; the order follows its confirmation", done.number);
    }
    Ok(())
}

/// `atelier mail …`.
pub fn mail(root: &Path, cmd: MailCommand) -> anyhow::Result<()> {
    let MailCommand::Retry { outbox_id } = cmd;
    runtime()?.block_on(async {
        let (_, db) = open(root, "http://127.0.0.1:8080").await?;
        atelier_checkout::notify::retry(&db, &outbox_id).await?;
        say!("{outbox_id}: queued again; the service sends it within a second");
        Ok(())
    })
}

/// `atelier folio …`.
pub fn folio(root: &Path, cmd: FolioCommand) -> anyhow::Result<()> {
    use atelier_checkout::folio::{delivery, sandbox};
    runtime()?.block_on(async {
        let (config, db) = open(root, "http://127.0.0.1:8080").await?;
        let state = AppState::new(db, config, &root.join("public")).await?;
        let runs = match cmd {
            FolioCommand::Deliver { as_of } => {
                let at = match as_of.as_deref() {
                    None => atelier_checkout::ids::now(),
                    // The end of that day: every edition of the day is due.
                    Some(day) => {
                        atelier_domain::ships_at(day).with_context(|| format!("`{day}` is not a day (YYYY-MM-DD)"))?
                            + 86_399
                    }
                };
                delivery::deliver_as_of(&state, at).await?
            }
            FolioCommand::Advance { days } => {
                anyhow::ensure!(
                    state.payments.is_sandbox(),
                    "the clock belongs to the sandbox; with Stripe, Stripe's test clocks move time"
                );
                let done = sandbox::advance(&state, days * 86_400).await?;
                let b = &done.billing;
                say!(
                    "The sandbox's clock reads {}: {} renewed, {} skipped while paused, {} declined, {} ended",
                    atelier_checkout::orders::date(done.clock),
                    b.renewed,
                    b.skipped,
                    b.failed,
                    b.ended
                );
                done.editions
            }
        };
        if runs.is_empty() {
            say!("No edition is due to anyone who has not had it");
        }
        for r in runs {
            let waiting =
                if r.short > 0 { format!(", {} waiting for stock (staff e-mailed)", r.short) } else { String::new() };
            say!("{}: {} orders and e-mails made{waiting}", r.edition, r.delivered);
        }
        Ok(())
    })
}

/// `atelier staff …`: the same domain functions as the console's team page, audited with the
/// shell user as the actor.
pub fn staff(root: &Path, cmd: StaffCommand) -> anyhow::Result<()> {
    use atelier_checkout::staff::members;
    runtime()?.block_on(async {
        let (config, db) = open(root, "http://127.0.0.1:8080").await?;
        let state = AppState::new(db, config, &root.join("public")).await?;
        let actor = Actor::shell();
        let account_of = |email: String| {
            let db = state.db.clone();
            async move {
                let found = members::member_by_email(&db, &email).await?;
                found.with_context(|| format!("{email} is not on the staff"))
            }
        };
        match cmd {
            StaffCommand::Add { email, role, name } => {
                let added = members::add(&state, &actor, &email, &name, &role).await?;
                let email = &added.email;
                if added.invited {
                    say!("{email} added as {role}; an invitation to choose a password is in the outbox");
                } else {
                    say!("{email} added as {role}; they have been e-mailed");
                }
                // The outbox is sent by the service; send it now when none is running.
                let c = &state.config;
                let mailer = atelier_checkout::notify::Mailer::new(
                    state.db.clone(),
                    &c.mail,
                    &c.mail_from,
                    &c.staff_email,
                    c.build_hook_url.clone(),
                )?;
                mailer.deliver_due().await?;
            }
            StaffCommand::List => {
                say!("{:<32} {:<12} {:<6} name", "e-mail", "role", "2FA");
                for m in members::members(&state.db).await? {
                    let joined = if m.joined { "" } else { " (invited)" };
                    say!(
                        "{:<32} {:<12} {:<6} {}{joined}",
                        m.email,
                        m.role,
                        if m.two_factor { "on" } else { "off" },
                        m.name
                    );
                }
            }
            StaffCommand::Role { email, role } => {
                members::set_role(&state, &actor, &account_of(email.clone()).await?, &role).await?;
                say!("{email} is now {role}");
            }
            StaffCommand::Remove { email } => {
                members::remove(&state, &actor, &account_of(email.clone()).await?).await?;
                say!("{email} is no longer on the staff");
            }
        }
        Ok(())
    })
}

/// `atelier export`: `data/stock.json` for the generator.
pub fn export(root: &Path) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let (_, db) = open(root, "http://127.0.0.1:8080").await?;
        let path = write_stock_export(&root.join("data").join("stock.json"), &db).await?;
        say!("Wrote {}", path.display());
        let file = root.join("data").join("testimonials.json");
        let n = write_testimonials_export(&file, &db).await?;
        say!("Wrote {} ({n} approved testimonials)", file.display());
        Ok(())
    })
}

/// Writes the stock export at `path` (only when its content changes).
pub async fn write_stock_export(path: &Path, db: &Db) -> anyhow::Result<PathBuf> {
    let items: serde_json::Map<String, serde_json::Value> = stock::levels(db, &[])
        .await?
        .into_iter()
        .map(|(sku, l)| (sku, serde_json::json!({ "available": l.available.max(0), "status": l.status() })))
        .collect();
    let text = serde_json::to_string_pretty(&serde_json::json!({ "items": items }))? + "\n";
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    if std::fs::read_to_string(path).ok().as_deref() != Some(text.as_str()) {
        write_whole(path, &text)?;
    }
    Ok(path.to_path_buf())
}

/// Writes the approved testimonials at `path` (only when its content changes), none too: the
/// database is their one source, and one hidden or deleted leaves the site; gives how many.
pub async fn write_testimonials_export(path: &Path, db: &Db) -> anyhow::Result<usize> {
    let shown = atelier_checkout::testimonials::shown(db).await?;
    let text = atelier_checkout::testimonials::export_text(db).await?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    if std::fs::read_to_string(path).ok().as_deref() != Some(text.as_str()) {
        write_whole(path, &text)?;
    }
    Ok(shown.len())
}

/// Writes a data file aside, then renames it into place: a build never reads half of one.
pub fn write_whole(path: &Path, text: &str) -> anyhow::Result<()> {
    let part = path.with_extension("json.part");
    std::fs::write(&part, text).with_context(|| format!("writing {}", part.display()))?;
    std::fs::rename(&part, path).with_context(|| format!("writing {}", path.display()))
}

/// Serves a router on `addr` (with client addresses for rate limiting) until Ctrl-C or SIGTERM.
pub async fn serve_until_stopped(addr: SocketAddr, app: axum::Router, what: &str) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    eprintln!("{what} http://{addr}/ (Ctrl-C to stop)");
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async {
            let terminate = async {
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(mut s) => {
                        s.recv().await;
                    }
                    Err(_) => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate => {}
            }
        })
        .await?;
    Ok(())
}

/// `atelier checkout`: the service alone.
pub fn checkout(root: &Path, args: CheckoutArgs) -> anyhow::Result<()> {
    let addr: SocketAddr = format!("{}:{}", args.interface, args.port).parse().context("the address to listen on")?;
    runtime()?.block_on(async {
        let (config, db) = open(root, &args.public_url).await?;
        let site = if args.site.is_absolute() { args.site.clone() } else { root.join(&args.site) };
        let state = AppState::new(db, config, &site).await?;
        let workers = Workers::start(&state)?;
        let app = atelier_checkout::app(state);
        serve_until_stopped(addr, app, "Checkout service on").await?;
        workers.stop().await;
        Ok(())
    })
}
