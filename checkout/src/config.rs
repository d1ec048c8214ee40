//! The service's configuration: from the environment, with embedded defaults that run the shop
//! on one machine with nothing installed (SQLite, sandbox payments, `.eml` files).

use std::fmt;
use std::path::PathBuf;

/// A secret that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Which payment provider takes the money.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentMode {
    /// The built-in sandbox: our own pay page, Stripe-shaped signed events.
    Sandbox,
    /// Stripe, at `api_base` with this secret key.
    Stripe {
        /// Secret API key.
        secret_key: Secret,
        /// Where Stripe's API answers.
        api_base: String,
    },
}

/// Where e-mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailMode {
    /// `.eml` files in a folder.
    Outbox(PathBuf),
    /// An SMTP server, in lettre's URL form (`smtp://host:port`).
    Smtp(String),
}

/// Everything the service is configured with.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The data folder: SQLite file, e-mail outbox, generated secrets.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    /// Payment provider.
    pub payments: PaymentMode,
    /// The secret webhook signatures are checked with.
    pub webhook_secret: Secret,
    /// Where e-mail goes.
    pub mail: MailMode,
    /// The address e-mail comes from.
    pub mail_from: String,
    /// Who receives staff alerts.
    pub staff_email: String,
    /// The public origin of the shop (`https://atelier-arome.example`), for links in e-mail.
    pub public_url: String,
    /// How long stock stays reserved for an unpaid checkout, in seconds.
    pub reservation_seconds: i64,
    /// Called (POST) when an essence crosses sold-out or low stock, to rebuild the site.
    pub build_hook_url: Option<String>,
    /// Checkout sessions a client may start per minute.
    pub checkouts_per_minute: u32,
    /// The site title, for e-mail and pages.
    pub site_title: String,
    /// Key for signing order links in e-mail.
    pub link_key: Secret,
}

/// A configuration problem, naming the variable.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {message}")]
pub struct ConfigError {
    /// The environment variable.
    pub name: &'static str,
    /// What is wrong.
    pub message: String,
}

impl ServiceConfig {
    /// Reads the environment; `data_dir` holds what the defaults write.
    pub fn from_env(data_dir: PathBuf, public_url: &str) -> Result<ServiceConfig, ConfigError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        std::fs::create_dir_all(&data_dir).map_err(|e| ConfigError {
            name: "ATELIER_DATA_DIR",
            message: format!("cannot create {}: {e}", data_dir.display()),
        })?;
        let database_url = var("DATABASE_URL")
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", data_dir.join("atelier.sqlite").display()));
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(ConfigError {
                name: "DATABASE_URL", message: "expected sqlite://… or postgres://…".into()
            });
        }
        let payments = match var("STRIPE_SECRET_KEY") {
            Some(key) => PaymentMode::Stripe {
                secret_key: Secret::new(key),
                api_base: var("STRIPE_API_BASE").unwrap_or_else(|| "https://api.stripe.com".into()),
            },
            None => PaymentMode::Sandbox,
        };
        let webhook_secret = match var("STRIPE_WEBHOOK_SECRET") {
            Some(s) => Secret::new(s),
            None => Secret::new(persistent_secret(&data_dir, "webhook-secret", "whsec_")?),
        };
        let link_key = Secret::new(persistent_secret(&data_dir, "link-key", "")?);
        let mail = match var("SMTP_URL") {
            Some(url) => MailMode::Smtp(url),
            None => MailMode::Outbox(data_dir.join("outbox")),
        };
        let number = |name: &'static str, default: i64| -> Result<i64, ConfigError> {
            match var(name) {
                None => Ok(default),
                Some(v) => v
                    .parse()
                    .ok()
                    .filter(|n: &i64| *n > 0)
                    .ok_or(ConfigError { name, message: format!("`{v}` is not a positive number") }),
            }
        };
        Ok(ServiceConfig {
            database_url,
            payments,
            webhook_secret,
            mail,
            mail_from: var("MAIL_FROM").unwrap_or_else(|| "Atelier Arôme <atelier@atelier-arome.example>".into()),
            staff_email: var("STAFF_EMAIL").unwrap_or_else(|| "staff@atelier-arome.example".into()),
            public_url: var("PUBLIC_URL").unwrap_or_else(|| public_url.trim_end_matches('/').to_string()),
            reservation_seconds: number("RESERVATION_SECONDS", 30 * 60)?,
            build_hook_url: var("BUILD_HOOK_URL"),
            checkouts_per_minute: number("CHECKOUTS_PER_MINUTE", 20)? as u32,
            site_title: "Atelier Arôme".into(),
            link_key,
            data_dir,
        })
    }

    /// The embedded defaults with a given database, ignoring the environment (for tests and
    /// tools): sandbox payments, `.eml` files, fixed secrets.
    pub fn embedded(data_dir: PathBuf, database_url: &str) -> ServiceConfig {
        ServiceConfig {
            database_url: database_url.to_string(),
            payments: PaymentMode::Sandbox,
            webhook_secret: Secret::new("whsec_test_secret"),
            mail: MailMode::Outbox(data_dir.join("outbox")),
            mail_from: "Atelier Arôme <atelier@atelier-arome.example>".into(),
            staff_email: "staff@atelier-arome.example".into(),
            public_url: "http://127.0.0.1:8080".into(),
            reservation_seconds: 1800,
            build_hook_url: None,
            checkouts_per_minute: 1000,
            site_title: "Atelier Arôme".into(),
            link_key: Secret::new("link-key-for-tests"),
            data_dir,
        }
    }

    /// Whether the database is SQLite.
    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }
}

/// A random secret kept in the data folder, so it survives restarts.
fn persistent_secret(dir: &std::path::Path, name: &str, prefix: &str) -> Result<String, ConfigError> {
    let path = dir.join(name);
    if let Ok(s) = std::fs::read_to_string(&path) {
        if !s.trim().is_empty() {
            return Ok(s.trim().to_string());
        }
    }
    let secret = format!("{prefix}{}", crate::ids::random_hex(24));
    std::fs::write(&path, &secret).map_err(|e| ConfigError {
        name: "ATELIER_DATA_DIR",
        message: format!("cannot write {}: {e}", path.display()),
    })?;
    Ok(secret)
}
