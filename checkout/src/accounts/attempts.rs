//! The limits that protect accounts — sign-in failures per address and per client, mail sent
//! per address and per client — counted in the database (every instance sees one count) over a
//! sliding window. Over a limit means waiting until the oldest counted event leaves the window:
//! a delay, never a lock an attacker could hold on someone else's account for good.

use std::net::IpAddr;

use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::http::limit::bucket;
use crate::ids::now;

/// A kind of event and how many of it a bucket may hold in a window.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// The bucket's prefix.
    pub name: &'static str,
    /// Events allowed in a window.
    pub most: i64,
    /// The window, in seconds.
    pub window: i64,
}

/// Failed sign-ins (or second-factor codes) for one address: ten in fifteen minutes.
pub const SIGN_IN_ACCOUNT: Rule = Rule { name: "sign-in-account", most: 10, window: 900 };
/// Failed sign-ins from one client, whatever the address: fifty in fifteen minutes (a
/// household, an office behind one address).
pub const SIGN_IN_CLIENT: Rule = Rule { name: "sign-in-client", most: 50, window: 900 };
/// Account mail (verification, reset) asked for one address: five an hour.
pub const MAIL_ADDRESS: Rule = Rule { name: "mail-address", most: 5, window: 3600 };
/// Account mail asked for by one client, whatever the address: twenty an hour.
pub const MAIL_CLIENT: Rule = Rule { name: "mail-client", most: 20, window: 3600 };

/// The longest window, after which every event row may go.
const LONGEST_WINDOW: i64 = 3600;

/// The bucket of a rule for an address.
pub fn for_address(rule: Rule, email: &str) -> String {
    format!("{}:{email}", rule.name)
}

/// The bucket of a rule for a client (an IPv6 /64 counts as one).
pub fn for_client(rule: Rule, client: Option<IpAddr>) -> String {
    bucket(rule.name, client)
}

/// Refuses with the wait when any of the buckets is full.
pub async fn check(db: &Db, checks: &[(Rule, &str)]) -> ApiResult<()> {
    let t = now();
    let mut wait = 0;
    for (rule, bucket) in checks {
        let (count, oldest): (i64, Option<i64>) =
            sqlx::query_as("select count(*), min(at) from auth_attempt where bucket = $1 and at > $2")
                .bind(*bucket)
                .bind(t - rule.window)
                .fetch_one(&db.pool)
                .await?;
        if count >= rule.most {
            wait = wait.max(oldest.unwrap_or(t) + rule.window - t);
        }
    }
    if wait > 0 {
        Err(ApiError::RateLimited(wait.max(1) as u64))
    } else {
        Ok(())
    }
}

/// Counts one event in each bucket.
pub async fn record(db: &Db, buckets: &[&str]) -> ApiResult<()> {
    let mut tx = db.begin_write().await?;
    for bucket in buckets {
        sqlx::query("insert into auth_attempt (bucket, at) values ($1, $2)")
            .bind(*bucket)
            .bind(now())
            .execute(&mut **tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Checks the buckets, then counts the event in them: for events counted whether or not they
/// succeed (mail asked for).
pub async fn take(db: &Db, checks: &[(Rule, &str)]) -> ApiResult<()> {
    check(db, checks).await?;
    let buckets: Vec<&str> = checks.iter().map(|(_, b)| *b).collect();
    record(db, &buckets).await
}

/// Deletes the events every window has left behind; gives how many.
pub async fn prune(db: &Db) -> Result<u64, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let done =
        sqlx::query("delete from auth_attempt where at <= $1").bind(now() - LONGEST_WINDOW).execute(&mut **tx).await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}
