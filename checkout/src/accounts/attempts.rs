//! The limits that protect accounts — sign-in attempts per address and per client, account
//! mail per address and per client — counted in the database (every instance sees one count)
//! over a sliding window. An attempt is recorded before it is counted, so however many arrive
//! at once, no more than the limit get through; one refused is not counted, so the window
//! empties while it is hammered. Over a limit means waiting until the oldest counted attempt
//! leaves the window: a delay, never a lock.

use std::net::IpAddr;

use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::http::limit::bucket;
use crate::ids::{new_id, now};

/// A kind of attempt and how many of it a bucket may hold in a window.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// The bucket's prefix.
    pub name: &'static str,
    /// Attempts allowed in a window.
    pub most: i64,
    /// The window, in seconds.
    pub window: i64,
}

/// Sign-ins (a password, a second factor) for one address: ten in fifteen minutes. A sign-in
/// that succeeds is not counted.
pub const SIGN_IN_ACCOUNT: Rule = Rule { name: "sign-in-account", most: 10, window: 900 };
/// Sign-ins for one address from a browser it signed in from before (its device cookie): ten
/// in fifteen minutes, apart from the address's own count, so that a stranger's wrong guesses
/// do not keep the owner out.
pub const SIGN_IN_DEVICE: Rule = Rule { name: "sign-in-device", most: 10, window: 900 };
/// Sign-ins from one client, whatever the address: fifty in fifteen minutes (a household, an
/// office behind one address).
pub const SIGN_IN_CLIENT: Rule = Rule { name: "sign-in-client", most: 50, window: 900 };
/// Account mail asked for one address: five an hour.
pub const MAIL_ADDRESS: Rule = Rule { name: "mail-address", most: 5, window: 3600 };
/// Account mail asked for by one client, whatever the address: twenty an hour.
pub const MAIL_CLIENT: Rule = Rule { name: "mail-client", most: 20, window: 3600 };

/// Letters from the contact form by one client: five an hour.
pub const CONTACT_CLIENT: Rule = Rule { name: "contact-client", most: 5, window: 3600 };
/// Letters from the contact form signed with one address: five an hour.
pub const CONTACT_ADDRESS: Rule = Rule { name: "contact-address", most: 5, window: 3600 };

/// The longest window of the rules, after which every attempt row may go.
const LONGEST_WINDOW: i64 = {
    let rules =
        [SIGN_IN_ACCOUNT, SIGN_IN_DEVICE, SIGN_IN_CLIENT, MAIL_ADDRESS, MAIL_CLIENT, CONTACT_CLIENT, CONTACT_ADDRESS];
    let mut longest = 0;
    let mut i = 0;
    while i < rules.len() {
        if rules[i].window > longest {
            longest = rules[i].window;
        }
        i += 1;
    }
    longest
};

/// The bucket of a rule for an address.
pub fn for_address(rule: Rule, email: &str) -> String {
    format!("{}:{email}", rule.name)
}

/// The bucket of a rule for a client (an IPv6 /64 counts as one).
pub fn for_client(rule: Rule, client: Option<IpAddr>) -> String {
    bucket(rule.name, client)
}

/// An attempt let through: counted in its buckets until [`Attempt::forget`].
#[derive(Debug)]
#[must_use = "an attempt is either kept (it counts) or forgotten"]
pub struct Attempt {
    ids: Vec<String>,
}

impl Attempt {
    /// Un-counts the attempt (it succeeded: a sign-in that works does not count against one).
    pub async fn forget(self, db: &Db) -> ApiResult<()> {
        delete(db, &self.ids).await
    }

    /// Leaves the attempt counted.
    pub fn keep(self) {}
}

/// Records an attempt in each of its buckets, then counts them: over any rule's limit, the
/// attempt is un-recorded and refused with the wait.
pub async fn enter(db: &Db, checks: &[(Rule, &str)]) -> ApiResult<Attempt> {
    let t = now();
    let ids: Vec<String> = checks.iter().map(|_| new_id("att")).collect();
    let mut tx = db.begin_write().await?;
    for ((_, bucket), id) in checks.iter().zip(&ids) {
        sqlx::query("insert into auth_attempt (attempt_id, bucket, at) values ($1, $2, $3)")
            .bind(id)
            .bind(*bucket)
            .bind(t)
            .execute(&mut **tx)
            .await?;
    }
    // Committed before counting: every attempt counts all those committed before its count,
    // so of any number at once, at most `most` see room.
    tx.commit().await?;
    let mut wait = 0;
    for (rule, bucket) in checks {
        let (count, oldest): (i64, Option<i64>) =
            sqlx::query_as("select count(*), min(at) from auth_attempt where bucket = $1 and at > $2")
                .bind(*bucket)
                .bind(t - rule.window)
                .fetch_one(&db.pool)
                .await?;
        if count > rule.most {
            wait = wait.max(oldest.unwrap_or(t) + rule.window - t);
        }
    }
    if wait > 0 {
        delete(db, &ids).await?;
        return Err(ApiError::RateLimited(wait.max(1) as u64));
    }
    Ok(Attempt { ids })
}

async fn delete(db: &Db, ids: &[String]) -> ApiResult<()> {
    let mut tx = db.begin_write().await?;
    for id in ids {
        sqlx::query("delete from auth_attempt where attempt_id = $1").bind(id).execute(&mut **tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Deletes the attempts every window has left behind; gives how many.
pub async fn prune(db: &Db) -> Result<u64, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let done =
        sqlx::query("delete from auth_attempt where at <= $1").bind(now() - LONGEST_WINDOW).execute(&mut **tx).await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}
