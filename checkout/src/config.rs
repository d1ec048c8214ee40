//! The service's configuration: a TOML file (`ATELIER_SERVICE_CONFIG`, or `service.toml` in the
//! data folder when it exists) whose keys are the environment variables' names in lowercase,
//! the environment overriding it, and embedded defaults that run the shop on one machine with
//! nothing installed (SQLite, sandbox payments, `.eml` files).

use std::collections::BTreeMap;
use std::fmt;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use crate::checkout::pricing::ShippingRates;
use crate::http::client::TrustedProxies;

/// Every setting, by its environment variable's name (the file uses them in lowercase).
pub const SETTINGS: &[&str] = &[
    "DATABASE_URL",
    "STRIPE_SECRET_KEY",
    "STRIPE_API_BASE",
    "STRIPE_CHECKOUT_ORIGIN",
    "STRIPE_WEBHOOK_SECRET",
    "SIGNING_KEY",
    "SMTP_URL",
    "SMTP_CA_FILE",
    "MAIL_FROM",
    "STAFF_EMAIL",
    "PUBLIC_URL",
    "RESERVATION_SECONDS",
    "BUILD_HOOK_URL",
    "CHECKOUTS_PER_MINUTE",
    "TRUSTED_PROXIES",
    "NETLIFY_PROXY_SECRET",
    "SHIPPING_STANDARD_MINOR",
    "SHIPPING_EXPRESS_MINOR",
    "FREE_SHIPPING_ABOVE_MINOR",
    "GOOGLE_CLIENT_ID",
    "GOOGLE_CLIENT_SECRET",
    "GOOGLE_ISSUER_URL",
    "METRICS_TOKEN",
];

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
        /// The origin of Stripe's hosted checkout pages, which the checkout form redirects to.
        checkout_origin: String,
    },
}

/// Where e-mail goes.
#[derive(Clone, PartialEq, Eq)]
pub enum MailMode {
    /// `.eml` files in a folder.
    Outbox(PathBuf),
    /// An SMTP server: `smtp://[user:password@]host[:port][?tls=required|opportunistic]`
    /// (STARTTLS when asked) or `smtps://…` (TLS from the first byte).
    Smtp {
        /// The server's URL.
        url: String,
        /// A PEM file of root certificates trusted besides the public ones (a relay with a
        /// private certificate authority).
        ca_file: Option<PathBuf>,
    },
}

impl MailMode {
    /// An SMTP server whose certificate (if it speaks TLS) chains to a public root.
    pub fn smtp(url: impl Into<String>) -> MailMode {
        MailMode::Smtp { url: url.into(), ca_file: None }
    }
}

impl fmt::Debug for MailMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MailMode::Outbox(dir) => f.debug_tuple("Outbox").field(dir).finish(),
            MailMode::Smtp { url, ca_file } => {
                f.debug_struct("Smtp").field("url", &redact_url(url)).field("ca_file", ca_file).finish()
            }
        }
    }
}

/// A URL with its user and password hidden, for logs and messages.
pub fn redact_url(url: &str) -> String {
    match (url.split_once("://"), url.rsplit_once('@')) {
        (Some((scheme, _)), Some((_, host))) => format!("{scheme}://…@{host}"),
        _ => url.to_string(),
    }
}

/// Sign-in with Google (OpenID Connect): the shop's OAuth client, and the provider it trusts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoogleConfig {
    /// The OAuth client's id.
    pub client_id: String,
    /// The OAuth client's secret.
    pub client_secret: Secret,
    /// The issuer whose discovery document names its endpoints and keys.
    pub issuer_url: String,
}

/// Google's issuer.
pub const GOOGLE_ISSUER_URL: &str = "https://accounts.google.com";

/// Everything the service is configured with.
#[derive(Clone)]
pub struct ServiceConfig {
    /// The data folder: SQLite file, e-mail outbox, generated secrets.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    /// Payment provider.
    pub payments: PaymentMode,
    /// The secret webhook signatures are checked with; unset, one shared through the database
    /// (see [`crate::secrets::Keys`]).
    pub webhook_secret: Option<Secret>,
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
    /// The proxies whose headers say who the client is (none: the socket's address).
    pub trusted_proxies: TrustedProxies,
    /// The site title, for e-mail and pages.
    pub site_title: String,
    /// The key that signs order links and messages; unset, one shared through the database.
    pub link_key: Option<Secret>,
    /// Shipping rates.
    pub shipping: ShippingRates,
    /// Sign-in with Google, when the shop has an OAuth client.
    pub google: Option<GoogleConfig>,
    /// The bearer token `/metrics` answers to; unset, metrics are off.
    pub metrics_token: Option<Secret>,
}

impl fmt::Debug for ServiceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Credentials in URLs stay out of logs; the build hook's URL is itself a secret.
        f.debug_struct("ServiceConfig")
            .field("data_dir", &self.data_dir)
            .field("database_url", &redact_url(&self.database_url))
            .field("payments", &self.payments)
            .field("mail", &self.mail)
            .field("mail_from", &self.mail_from)
            .field("staff_email", &self.staff_email)
            .field("public_url", &self.public_url)
            .field("reservation_seconds", &self.reservation_seconds)
            .field("build_hook_url", &self.build_hook_url.as_ref().map(|_| "…"))
            .field("checkouts_per_minute", &self.checkouts_per_minute)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("shipping", &self.shipping)
            .field("google", &self.google)
            .finish_non_exhaustive()
    }
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
    /// Reads the configuration file (when there is one) and the environment, which overrides
    /// it; `data_dir` holds what the defaults write.
    pub fn load(data_dir: PathBuf, public_url: &str) -> Result<ServiceConfig, ConfigError> {
        let file = match std::env::var_os("ATELIER_SERVICE_CONFIG") {
            Some(path) => read_file(Path::new(&path))?,
            None => {
                let default = data_dir.join("service.toml");
                if default.is_file() {
                    read_file(&default)?
                } else {
                    BTreeMap::new()
                }
            }
        };
        let env: BTreeMap<String, String> =
            SETTINGS.iter().filter_map(|name| std::env::var(name).ok().map(|v| (name.to_string(), v))).collect();
        ServiceConfig::from_settings(data_dir, public_url, &file, &env)
    }

    /// The configuration from a file's settings and the environment's (which win), both keyed
    /// by the environment variables' names.
    pub fn from_settings(
        data_dir: PathBuf,
        public_url: &str,
        file: &BTreeMap<String, String>,
        env: &BTreeMap<String, String>,
    ) -> Result<ServiceConfig, ConfigError> {
        let var = |name: &str| env.get(name).or_else(|| file.get(name)).filter(|v| !v.trim().is_empty()).cloned();
        // The folder holds the database and the mail outbox: its owner's alone when made here.
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&data_dir).map_err(|e| ConfigError {
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
                checkout_origin: origin(
                    "STRIPE_CHECKOUT_ORIGIN",
                    &var("STRIPE_CHECKOUT_ORIGIN").unwrap_or_else(|| STRIPE_CHECKOUT_ORIGIN.into()),
                )?,
            },
            None => PaymentMode::Sandbox,
        };
        let webhook_secret = var("STRIPE_WEBHOOK_SECRET").map(Secret::new);
        // Stripe signs with the endpoint's own secret: one made here would refuse every event.
        if matches!(payments, PaymentMode::Stripe { .. }) && webhook_secret.is_none() {
            return Err(ConfigError {
                name: "STRIPE_WEBHOOK_SECRET",
                message: "Stripe takes the payments (STRIPE_SECRET_KEY is set): give the webhook endpoint's signing secret (whsec_…) from Stripe's dashboard".into(),
            });
        }
        let link_key = var("SIGNING_KEY").map(Secret::new);
        if link_key.as_ref().is_some_and(|k| k.expose().len() < 32) {
            return Err(ConfigError { name: "SIGNING_KEY", message: "use at least 32 random characters".into() });
        }
        let mail = match var("SMTP_URL") {
            Some(url) => MailMode::Smtp { url, ca_file: var("SMTP_CA_FILE").map(PathBuf::from) },
            None if var("SMTP_CA_FILE").is_some() => {
                return Err(ConfigError {
                    name: "SMTP_CA_FILE",
                    message: "set without SMTP_URL (without it, mail goes to .eml files and needs no certificate)"
                        .into(),
                })
            }
            None => MailMode::Outbox(data_dir.join("outbox")),
        };
        // Counts must be positive; shipping may be free (0), a price below zero is a mistake.
        let integer = |name: &'static str, default: i64, min: i64, what: &str| -> Result<i64, ConfigError> {
            match var(name) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse()
                    .ok()
                    .filter(|n: &i64| *n >= min)
                    .ok_or(ConfigError { name, message: format!("`{v}` is not {what}") }),
            }
        };
        let number = |name, default| integer(name, default, 1, "a positive number");
        let amount = |name, default| integer(name, default, 0, "an amount in cents (0 or more)");
        let defaults = ShippingRates::default();
        let google = google(&var)?;
        let metrics_token = var("METRICS_TOKEN").map(Secret::new);
        if metrics_token.as_ref().is_some_and(|t| t.expose().len() < 16) {
            return Err(ConfigError { name: "METRICS_TOKEN", message: "use at least 16 characters".into() });
        }
        Ok(ServiceConfig {
            metrics_token,
            google,
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
            trusted_proxies: match var("TRUSTED_PROXIES") {
                Some(v) => TrustedProxies::parse(&v, var("NETLIFY_PROXY_SECRET").map(Secret::new))
                    .map_err(|e| ConfigError { name: "TRUSTED_PROXIES", message: e.to_string() })?,
                None => TrustedProxies::default(),
            },
            site_title: "Atelier Arôme".into(),
            link_key,
            shipping: ShippingRates {
                standard_minor: amount("SHIPPING_STANDARD_MINOR", defaults.standard_minor)?,
                express_minor: amount("SHIPPING_EXPRESS_MINOR", defaults.express_minor)?,
                free_above_minor: amount("FREE_SHIPPING_ABOVE_MINOR", defaults.free_above_minor)?,
            },
            data_dir,
        })
    }

    /// The embedded defaults with a given database, ignoring the environment (for tests and
    /// tools): sandbox payments, `.eml` files, a fixed webhook secret (as Stripe's would be).
    pub fn embedded(data_dir: PathBuf, database_url: &str) -> ServiceConfig {
        ServiceConfig {
            database_url: database_url.to_string(),
            payments: PaymentMode::Sandbox,
            webhook_secret: Some(Secret::new("whsec_test_secret")),
            mail: MailMode::Outbox(data_dir.join("outbox")),
            mail_from: "Atelier Arôme <atelier@atelier-arome.example>".into(),
            staff_email: "staff@atelier-arome.example".into(),
            public_url: "http://127.0.0.1:8080".into(),
            reservation_seconds: 1800,
            build_hook_url: None,
            checkouts_per_minute: 1000,
            trusted_proxies: TrustedProxies::default(),
            site_title: "Atelier Arôme".into(),
            link_key: None,
            shipping: ShippingRates::default(),
            google: None,
            metrics_token: None,
            data_dir,
        }
    }

    /// Whether the database is SQLite.
    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }
}

/// Sign-in with Google from its three settings: both of the client's or neither, and an issuer
/// reached over HTTPS (plain HTTP only on this machine, for a local provider).
fn google(var: &impl Fn(&str) -> Option<String>) -> Result<Option<GoogleConfig>, ConfigError> {
    let issuer_url = var("GOOGLE_ISSUER_URL").unwrap_or_else(|| GOOGLE_ISSUER_URL.into());
    let issuer_url = issuer_url.trim().trim_end_matches('/').to_string();
    let local = ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"].iter().any(|p| issuer_url.starts_with(p));
    if !issuer_url.starts_with("https://") && !local {
        return Err(ConfigError {
            name: "GOOGLE_ISSUER_URL",
            message: format!(
                "`{issuer_url}` is not an https:// address (plain http is for a provider on this machine only)"
            ),
        });
    }
    match (var("GOOGLE_CLIENT_ID"), var("GOOGLE_CLIENT_SECRET")) {
        (Some(client_id), Some(secret)) => Ok(Some(GoogleConfig {
            client_id: client_id.trim().into(),
            client_secret: Secret::new(secret.trim()),
            issuer_url,
        })),
        (None, None) => Ok(None),
        (Some(_), None) => Err(ConfigError {
            name: "GOOGLE_CLIENT_SECRET",
            message: "GOOGLE_CLIENT_ID is set: give its secret too (Google Cloud console, Credentials)".into(),
        }),
        (None, Some(_)) => Err(ConfigError {
            name: "GOOGLE_CLIENT_ID",
            message: "GOOGLE_CLIENT_SECRET is set: give the client's id too".into(),
        }),
    }
}

/// Where Stripe serves its hosted checkout pages.
pub const STRIPE_CHECKOUT_ORIGIN: &str = "https://checkout.stripe.com";

/// An origin (`https://host[:port]`), as a security policy names one.
fn origin(name: &'static str, value: &str) -> Result<String, ConfigError> {
    let value = value.trim().trim_end_matches('/');
    let rest = value.strip_prefix("https://").or_else(|| value.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c)) => {
            Ok(value.to_string())
        }
        _ => Err(ConfigError {
            name,
            message: format!("`{value}` is not an origin such as https://checkout.stripe.com"),
        }),
    }
}

/// Reads a configuration file: a flat TOML table of strings and whole numbers, keyed by the
/// settings' names in lowercase.
fn read_file(path: &Path) -> Result<BTreeMap<String, String>, ConfigError> {
    let err = |message: String| ConfigError { name: "ATELIER_SERVICE_CONFIG", message };
    let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read {}: {e}", path.display())))?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| err(format!("{}: {e}", path.display())))?;
    let mut out = BTreeMap::new();
    for (key, value) in table {
        let name = key.to_uppercase();
        if !SETTINGS.contains(&name.as_str()) {
            let known: Vec<String> = SETTINGS.iter().map(|s| s.to_lowercase()).collect();
            return Err(err(format!("{}: unknown setting `{key}` (known: {})", path.display(), known.join(", "))));
        }
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(n) => n.to_string(),
            other => {
                return Err(err(format!(
                    "{}: `{key}` must be a string or a whole number, found a {}",
                    path.display(),
                    other.type_str()
                )))
            }
        };
        out.insert(name, text);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn google_needs_both_halves_of_its_client_and_an_https_issuer() {
        let dir = tempfile::tempdir().unwrap();
        let load = |pairs: &[(&str, &str)]| {
            ServiceConfig::from_settings(dir.path().to_path_buf(), "http://x", &BTreeMap::new(), &settings(pairs))
        };
        assert_eq!(load(&[]).unwrap().google, None);
        let c = load(&[("GOOGLE_CLIENT_ID", "shop.apps"), ("GOOGLE_CLIENT_SECRET", "GOCSPX-hush")]).unwrap();
        let google = c.google.clone().unwrap();
        assert_eq!((google.client_id.as_str(), google.issuer_url.as_str()), ("shop.apps", GOOGLE_ISSUER_URL));
        assert!(!format!("{c:?}").contains("GOCSPX-hush"));
        let e = load(&[("GOOGLE_CLIENT_ID", "shop.apps")]).unwrap_err();
        assert_eq!(e.name, "GOOGLE_CLIENT_SECRET");
        let e = load(&[("GOOGLE_CLIENT_SECRET", "s")]).unwrap_err();
        assert_eq!(e.name, "GOOGLE_CLIENT_ID");
        let e = load(&[("GOOGLE_ISSUER_URL", "http://idp.example")]).unwrap_err();
        assert_eq!(e.name, "GOOGLE_ISSUER_URL");
        let local = load(&[
            ("GOOGLE_ISSUER_URL", "http://127.0.0.1:4444/"),
            ("GOOGLE_CLIENT_ID", "a"),
            ("GOOGLE_CLIENT_SECRET", "b"),
        ]);
        assert_eq!(local.unwrap().google.unwrap().issuer_url, "http://127.0.0.1:4444");
    }

    #[test]
    fn the_environment_overrides_the_file_and_secrets_never_print() {
        let dir = tempfile::tempdir().unwrap();
        let file = settings(&[
            ("DATABASE_URL", "postgres://shop:hunter2@db.internal/shop"),
            ("SHIPPING_STANDARD_MINOR", "500"),
            ("CHECKOUTS_PER_MINUTE", "5"),
            ("SMTP_URL", "smtp://mailer:s3cret@relay:25"),
        ]);
        let env = settings(&[("CHECKOUTS_PER_MINUTE", "7")]);
        let c = ServiceConfig::from_settings(dir.path().to_path_buf(), "http://x", &file, &env).unwrap();
        assert_eq!((c.checkouts_per_minute, c.shipping.standard_minor, c.shipping.express_minor), (7, 500, 1490));
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("postgres://…@db.internal/shop"), "{shown}");
        let bad = settings(&[("FREE_SHIPPING_ABOVE_MINOR", "-1")]);
        let e = ServiceConfig::from_settings(dir.path().to_path_buf(), "http://x", &bad, &BTreeMap::new()).unwrap_err();
        assert_eq!(e.name, "FREE_SHIPPING_ABOVE_MINOR");
        let lone = settings(&[("SMTP_CA_FILE", "/etc/ssl/relay.pem")]);
        let e =
            ServiceConfig::from_settings(dir.path().to_path_buf(), "http://x", &lone, &BTreeMap::new()).unwrap_err();
        assert_eq!(e.name, "SMTP_CA_FILE");
    }

    #[test]
    fn stripes_checkout_origin_is_an_origin() {
        let dir = tempfile::tempdir().unwrap();
        let with = |origin: &str| {
            let env = settings(&[
                ("STRIPE_SECRET_KEY", "sk_test"),
                ("STRIPE_WEBHOOK_SECRET", "whsec_x"),
                ("STRIPE_CHECKOUT_ORIGIN", origin),
            ]);
            ServiceConfig::from_settings(dir.path().to_path_buf(), "http://x", &BTreeMap::new(), &env)
        };
        match with("http://127.0.0.1:4242/").unwrap().payments {
            PaymentMode::Stripe { checkout_origin, .. } => assert_eq!(checkout_origin, "http://127.0.0.1:4242"),
            other => panic!("{other:?}"),
        }
        for bad in ["checkout.stripe.com", "https://x; script-src *", "ftp://x"] {
            assert_eq!(with(bad).unwrap_err().name, "STRIPE_CHECKOUT_ORIGIN", "{bad}");
        }
        let without_secret = settings(&[("STRIPE_SECRET_KEY", "sk_test")]);
        let e = ServiceConfig::from_settings(dir.path().to_path_buf(), "http://x", &BTreeMap::new(), &without_secret);
        assert_eq!(e.unwrap_err().name, "STRIPE_WEBHOOK_SECRET");
    }

    #[test]
    fn a_file_names_its_mistakes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("service.toml");
        std::fs::write(&path, "checkouts_per_minute = 30\nshipping_standard_minor = 0\n").unwrap();
        let read = read_file(&path).unwrap();
        assert_eq!(read["CHECKOUTS_PER_MINUTE"], "30");
        std::fs::write(&path, "stripe_secret = \"sk\"\n").unwrap();
        assert!(read_file(&path).unwrap_err().message.contains("unknown setting `stripe_secret`"));
        std::fs::write(&path, "public_url = [1]\n").unwrap();
        assert!(read_file(&path).unwrap_err().message.contains("must be a string or a whole number"));
        std::fs::write(&path, "public_url = \n").unwrap();
        assert!(read_file(&path).unwrap_err().message.contains("line 1"), "TOML errors give the line");
    }
}
