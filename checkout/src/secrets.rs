//! The keys that sign what the service hands out (order links, messages carried in redirects,
//! the sandbox's events), and the signing itself. A key comes from the configuration, or is
//! generated once and kept in the database, so that what one instance signs verifies on every
//! other (never per data folder: each instance has its own).

use std::path::Path;

use hmac::{Hmac, Mac};

use crate::config::{Secret, ServiceConfig};
use crate::db::Db;
use crate::ids::{now, random_hex};

/// The keys every instance shares.
#[derive(Clone, Debug)]
pub struct Keys {
    /// Signs order links and messages carried in redirects.
    pub link: Secret,
    /// Checks webhook signatures (and signs the sandbox's events).
    pub webhook: Secret,
}

impl Keys {
    /// The configured keys, and for each one not configured, the one kept in the database (made
    /// now by whichever instance comes first).
    pub async fn load(db: &Db, config: &ServiceConfig) -> Result<Keys, sqlx::Error> {
        let link = match &config.link_key {
            Some(key) => key.clone(),
            None => shared(db, "link_key", "", &config.data_dir.join("link-key")).await?,
        };
        let webhook = match &config.webhook_secret {
            Some(key) => key.clone(),
            None => shared(db, "webhook_secret", "whsec_", &config.data_dir.join("webhook-secret")).await?,
        };
        Ok(Keys { link, webhook })
    }
}

/// The key of that name in the database, made when there is none. A key an earlier version
/// kept in the data folder is adopted, so the links it signed keep opening.
async fn shared(db: &Db, name: &str, prefix: &str, legacy: &Path) -> Result<Secret, sqlx::Error> {
    let kept = std::fs::read_to_string(legacy).ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let made = kept.unwrap_or_else(|| format!("{prefix}{}", random_hex(32)));
    let mut tx = db.begin_write().await?;
    // Of several instances starting at once, the first insert wins; all read the same row.
    sqlx::query(
        "insert into service_secret (name, value, created_at) values ($1, $2, $3) on conflict (name) do nothing",
    )
    .bind(name)
    .bind(&made)
    .bind(now())
    .execute(&mut **tx)
    .await?;
    let value: String =
        sqlx::query_scalar("select value from service_secret where name = $1").bind(name).fetch_one(&mut **tx).await?;
    tx.commit().await?;
    Ok(Secret::new(value))
}

/// A short signature of `data` for one purpose (order links, messages carried in redirects),
/// so only the service can make one.
pub fn sign(key: &Secret, purpose: &str, data: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.expose().as_bytes()).expect("HMAC takes any key length");
    mac.update(purpose.as_bytes());
    mac.update(b":");
    mac.update(data.as_bytes());
    crate::ids::hex(&mac.finalize().into_bytes()[..16])
}

/// Whether `given` is the signature of `data` for `purpose` (compared in constant time).
pub fn signature_matches(key: &Secret, purpose: &str, data: &str, given: &str) -> bool {
    same_bytes(sign(key, purpose, data).as_bytes(), given.as_bytes())
}

/// Whether two byte strings are equal, in a time that does not depend on where they differ
/// (so a signature cannot be guessed byte by byte from response times).
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
