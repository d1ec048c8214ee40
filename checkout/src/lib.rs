//! Atelier Arôme's checkout service: everything that cannot be static — cart, checkout,
//! payments and their webhooks, orders, stock and e-mail — as an Axum router over SQLite or
//! PostgreSQL.

pub mod alerts;
pub mod cart;
pub mod catalog;
pub mod checkout;
pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod ids;
pub mod mail;
pub mod orders;
pub mod payments;
pub mod pricing;
pub mod security;
pub mod stock;
pub mod views;
pub mod webhooks;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use tokio::sync::watch;

pub use config::ServiceConfig;
pub use db::Db;
pub use error::{ApiError, ApiResult};

/// The OpenAPI description of the JSON endpoints (served at `/api/openapi.json`).
pub const OPENAPI: &str = include_str!("../openapi.json");

/// What every handler shares, behind one `Arc`: Axum clones the state for every request, and
/// one reference count is cheaper than one per part.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The parts of [`AppState`].
pub struct Shared {
    /// The database.
    pub db: Db,
    /// Where cart edits are committed, many to a transaction.
    pub carts: cart::CartWriter,
    /// Configuration.
    pub config: ServiceConfig,
    /// The site's layout for the service's pages.
    pub shell: views::Shell,
    /// Limits on starting checkouts.
    pub limiter: security::RateLimiter,
    /// The payment provider.
    pub payments: payments::Payments,
    /// Stock levels for the badge endpoint.
    pub levels: stock::LevelCache,
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// State for a configuration and an open database; the shell comes from the built site.
    /// Starts the cart writer, so it must be called inside the Tokio runtime.
    pub fn new(db: Db, config: ServiceConfig, site_dir: &Path) -> Result<AppState, StartError> {
        Ok(AppState(Arc::new(Shared {
            limiter: security::RateLimiter::new(config.checkouts_per_minute),
            payments: payments::Payments::from_mode(&config.payments)?,
            levels: stock::LevelCache::new(Duration::from_secs(1)),
            carts: cart::CartWriter::start(db.clone())?,
            shell: views::Shell::load(site_dir),
            config,
            db,
        })))
    }
}

/// Why the service's state could not be made.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The Stripe client.
    #[error(transparent)]
    Payments(#[from] payments::stripe::GatewayError),
    /// The cart writer.
    #[error(transparent)]
    CartWriter(#[from] cart::writer::OpenError),
}

/// The service's router: routes, body limit, cross-site refusal, security headers, request log.
pub fn app(state: AppState) -> Router {
    http::routes()
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(axum::middleware::from_fn(security::guard))
        .with_state(state)
}

/// Background work every instance runs: the outbox, the expiry of unpaid checkouts and the
/// deletion of carts whose cookie has lapsed. All are safe to run on many instances sharing one
/// database.
pub struct Workers {
    stop: watch::Sender<bool>,
    handles: Vec<tokio::task::JoinHandle<()>>,
}

impl Workers {
    /// Starts the workers.
    pub fn start(state: &AppState) -> Result<Workers, mail::MailerError> {
        let (stop, rx) = watch::channel(false);
        let c = &state.config;
        let mailer =
            mail::Mailer::new(state.db.clone(), &c.mail, &c.mail_from, &c.staff_email, c.build_hook_url.clone())?;
        let mut handles = vec![tokio::spawn(mailer.run(rx.clone()))];
        let expiry_state = state.clone();
        let mut expiry_stop = rx;
        handles.push(tokio::spawn(async move {
            let mut pruned_at: Option<std::time::Instant> = None;
            loop {
                if let Err(e) = payments::expire_due(&expiry_state).await {
                    tracing::warn!(error = %e, "expiring unpaid checkouts failed; will retry");
                }
                // Carts whose cookie has lapsed: a batch a turn while there is a backlog, then
                // once an hour (so unpaid checkouts keep expiring on time meanwhile).
                if pruned_at.is_none_or(|t| t.elapsed() >= Duration::from_secs(3600)) {
                    let before = ids::now() - cart::CART_LIFETIME_SECONDS;
                    match cart::prune(&expiry_state.db, before).await {
                        Ok(n) if n > 0 => tracing::info!(carts = n, "deleted carts whose cookie has lapsed"),
                        Ok(_) => pruned_at = Some(std::time::Instant::now()),
                        Err(e) => tracing::warn!(error = %e, "deleting lapsed carts failed; will retry"),
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                    _ = expiry_stop.changed() => {}
                }
                if *expiry_stop.borrow() {
                    return;
                }
            }
        }));
        Ok(Workers { stop, handles })
    }

    /// Asks the workers to stop and waits for them.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for h in self.handles {
            let _ = h.await;
        }
    }
}
