//! Limits on what one client may do in a minute (starting checkouts), counted in the database:
//! every instance counts against the same limit, and no instance keeps a table that grows with
//! the number of clients. A client over its limit is remembered here until its window ends
//! (in a table of bounded size), so its further requests cost no write at all.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use crate::db::Db;
use crate::ids::now;

/// The length of a window, in seconds.
const WINDOW: i64 = 60;

/// The bucket a client's requests are counted in: its IPv4 address, or its IPv6 /64 (one
/// household or host has a whole /64, so its addresses count as one).
pub fn bucket(what: &str, client: Option<IpAddr>) -> String {
    match client.map(|ip| ip.to_canonical()) {
        Some(IpAddr::V4(v4)) => format!("{what}:{v4}"),
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{what}:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        None => format!("{what}:unknown"),
    }
}

/// Clients remembered as over their limit at most (beyond, the database answers for them).
const BLOCKED_AT_MOST: usize = 10_000;

/// A limit of so many requests a minute per client.
#[derive(Debug)]
pub struct Limit {
    per_minute: u32,
    /// Buckets over the limit, and until when (unix seconds).
    blocked: Mutex<HashMap<String, i64>>,
}

impl Limit {
    /// At most `per_minute` a minute per client.
    pub fn new(per_minute: u32) -> Limit {
        Limit { per_minute, blocked: Mutex::new(HashMap::new()) }
    }

    /// Counts one request of the client's; `Some(seconds)` to wait when it is over the limit.
    pub async fn hit(&self, db: &Db, bucket: &str) -> Result<Option<u64>, sqlx::Error> {
        let t = now();
        if let Some(until) = self.blocked.lock().ok().and_then(|b| b.get(bucket).copied()).filter(|u| *u > t) {
            return Ok(Some((until - t) as u64));
        }
        let wait = hit(db, bucket, self.per_minute).await?;
        if let (Some(seconds), Ok(mut blocked)) = (wait, self.blocked.lock()) {
            if blocked.len() >= BLOCKED_AT_MOST {
                blocked.retain(|_, until| *until > t);
            }
            if blocked.len() < BLOCKED_AT_MOST {
                blocked.insert(bucket.to_string(), t + seconds as i64);
            }
        }
        Ok(wait)
    }
}

/// Counts one request in its bucket's current minute; `Some(seconds)` to wait when it is over
/// `per_minute`.
pub async fn hit(db: &Db, bucket: &str, per_minute: u32) -> Result<Option<u64>, sqlx::Error> {
    let t = now();
    let start = t - t.rem_euclid(WINDOW);
    let mut tx = db.begin_write().await?;
    let hits: i64 = sqlx::query_scalar(
        "insert into rate_limit (bucket, window_start, hits) values ($1, $2, 1)
         on conflict (bucket, window_start) do update set hits = rate_limit.hits + 1
         returning hits",
    )
    .bind(bucket)
    .bind(start)
    .fetch_one(&mut **tx)
    .await?;
    tx.commit().await?;
    Ok((hits > i64::from(per_minute)).then(|| (start + WINDOW - t).max(1) as u64))
}

/// Deletes the windows that have ended; gives how many.
pub async fn prune(db: &Db) -> Result<u64, sqlx::Error> {
    let t = now();
    let mut tx = db.begin_write().await?;
    let done = sqlx::query("delete from rate_limit where window_start < $1")
        .bind(t - t.rem_euclid(WINDOW))
        .execute(&mut **tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::bucket;

    #[test]
    fn clients_are_bucketed_by_address_and_ipv6_prefix() {
        assert_eq!(bucket("checkout", Some([203, 0, 113, 9].into())), "checkout:203.0.113.9");
        let a: std::net::IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: std::net::IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        assert_eq!(bucket("checkout", Some(a)), bucket("checkout", Some(b)));
        assert_eq!(bucket("checkout", Some(a)), "checkout:2001:db8:1:2::/64");
        let mapped: std::net::IpAddr = "::ffff:203.0.113.9".parse().unwrap();
        assert_eq!(bucket("checkout", Some(mapped)), "checkout:203.0.113.9");
        assert_eq!(bucket("checkout", None), "checkout:unknown");
    }
}
