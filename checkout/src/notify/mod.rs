//! Notifications: transactional e-mail (and the site's build hook) through the outbox table. A
//! message is queued in the transaction that causes it; the [`outbox`] worker, on every
//! instance at once, safely, claims due messages, sends them over SMTP or into `.eml` files,
//! and retries with backoff until they are sent.

pub mod outbox;
mod smtp;

use sqlx::{Any, Transaction};

use crate::ids::{new_id, now};
use crate::views;

pub use outbox::{Mailer, MailerError};

/// Where a message of the outbox stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// To be sent (again).
    Pending,
    /// Delivered.
    Sent,
    /// Given up: refused for good, or too many attempts (staff were told).
    Failed,
}

impl Status {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Sent => "sent",
            Status::Failed => "failed",
        }
    }
}

/// Why a message could not be queued again.
#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    /// No message has that id.
    #[error("no message {0} in the outbox")]
    NotFound(String),
    /// It is not failed.
    #[error("message {id} is {status}, not failed: nothing to send again")]
    NotFailed {
        /// The message.
        id: String,
        /// Where it stands.
        status: String,
    },
    /// Its body carried a link that lapses; it was emptied once given up.
    #[error("message {0} carried a link that has lapsed and its text is gone: the customer asks again (a new link)")]
    Erased(String),
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// Queues a failed message again (once its address or the mail server is put right): it is
/// sent at once and retried as a new one.
pub async fn retry(db: &crate::db::Db, outbox_id: &str) -> Result<(), RetryError> {
    let mut tx = db.begin_write().await?;
    let row: Option<(String, i64)> = sqlx::query_as("select status, erase_after_send from outbox where outbox_id = $1")
        .bind(outbox_id)
        .fetch_optional(&mut **tx)
        .await?;
    match row {
        None => return Err(RetryError::NotFound(outbox_id.to_string())),
        Some((s, _)) if s != Status::Failed.as_str() => {
            return Err(RetryError::NotFailed { id: outbox_id.to_string(), status: s })
        }
        Some((_, 1)) => return Err(RetryError::Erased(outbox_id.to_string())),
        Some(_) => {}
    }
    sqlx::query(
        "update outbox set status = $1, attempts = 0, next_attempt_at = $2, created_at = $2, locked_until = null
         where outbox_id = $3",
    )
    .bind(Status::Pending.as_str())
    .bind(now())
    .bind(outbox_id)
    .execute(&mut **tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes every message to an address (its account is deleted: what was written to it goes).
pub async fn forget_recipient(tx: &mut Transaction<'static, Any>, recipient: &str) -> Result<u64, sqlx::Error> {
    sqlx::query("delete from outbox_body where outbox_id in (select outbox_id from outbox where recipient = $1)")
        .bind(recipient)
        .execute(&mut **tx)
        .await?;
    let done = sqlx::query("delete from outbox where recipient = $1").bind(recipient).execute(&mut **tx).await?;
    Ok(done.rows_affected())
}

/// The recipient that stands for the staff's address.
pub const STAFF: &str = "staff";

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// Subject line.
    pub subject: String,
    /// Plain text body.
    pub text: String,
    /// HTML body.
    pub html: Option<String>,
}

/// Queues a message unless one with the same `dedupe_key` already is; says whether it queued.
pub async fn enqueue(
    tx: &mut Transaction<'static, Any>,
    kind: &str,
    dedupe_key: &str,
    recipient: &str,
    mail: &Mail,
) -> Result<bool, sqlx::Error> {
    insert(tx, kind, dedupe_key, recipient, mail, false, None).await
}

/// Queues a message whose answers go to `reply_to` (`Name <address>`), not to the shop.
pub async fn enqueue_with_reply_to(
    tx: &mut Transaction<'static, Any>,
    kind: &str,
    dedupe_key: &str,
    recipient: &str,
    mail: &Mail,
    reply_to: &str,
) -> Result<bool, sqlx::Error> {
    insert(tx, kind, dedupe_key, recipient, mail, false, Some(reply_to)).await
}

/// Queues a message whose body carries a secret (a link that sets a password): its body is
/// emptied once it is sent or given up, so the outbox keeps no working link.
pub async fn enqueue_secret(
    tx: &mut Transaction<'static, Any>,
    kind: &str,
    dedupe_key: &str,
    recipient: &str,
    mail: &Mail,
) -> Result<bool, sqlx::Error> {
    insert(tx, kind, dedupe_key, recipient, mail, true, None).await
}

/// A message for [`enqueue_many`].
#[derive(Debug)]
pub struct Queued {
    /// What it is about (`folio_edition`, …).
    pub kind: &'static str,
    /// Its key: a message whose key is already queued is not queued again.
    pub dedupe_key: String,
    /// Where it goes.
    pub recipient: String,
    /// The message.
    pub mail: Mail,
}

/// Messages queued per statement.
const QUEUED_ROWS: usize = 100;

/// Queues many messages in a few statements (an edition to thousands of subscribers), each
/// unless its key already is; gives how many were queued.
pub async fn enqueue_many(tx: &mut Transaction<'static, Any>, messages: &[Queued]) -> Result<u64, sqlx::Error> {
    let mut queued = 0;
    let t = now();
    for chunk in messages.chunks(QUEUED_ROWS) {
        let sql = format!(
            "insert into outbox (outbox_id, dedupe_key, kind, recipient, subject, status, next_attempt_at, created_at, erase_after_send, reply_to)
             {} on conflict (dedupe_key) do nothing returning outbox_id",
            crate::db::values(chunk.len(), 10)
        );
        let ids: Vec<String> = chunk.iter().map(|_| new_id("obx")).collect();
        let mut insert = sqlx::query_scalar(&sql);
        for (m, id) in chunk.iter().zip(&ids) {
            insert = insert
                .bind(id)
                .bind(&m.dedupe_key)
                .bind(m.kind)
                .bind(&m.recipient)
                .bind(&m.mail.subject)
                .bind(Status::Pending.as_str())
                .bind(t)
                .bind(t)
                .bind(0_i64)
                .bind(None::<String>);
        }
        let inserted: Vec<String> = insert.fetch_all(&mut **tx).await?;
        if inserted.is_empty() {
            continue;
        }
        // Bodies of the messages queued now (not of those already there under their key).
        let bodies: Vec<(&String, &Mail)> =
            ids.iter().zip(chunk).filter(|(id, _)| inserted.contains(id)).map(|(id, m)| (id, &m.mail)).collect();
        let sql =
            format!("insert into outbox_body (outbox_id, body_text, body_html) {}", crate::db::values(bodies.len(), 3));
        let mut insert = sqlx::query(&sql);
        for (id, mail) in &bodies {
            insert = insert.bind(*id).bind(&mail.text).bind(mail.html.clone());
        }
        insert.execute(&mut **tx).await?;
        queued += u64::try_from(bodies.len()).unwrap_or(u64::MAX);
    }
    Ok(queued)
}

async fn insert(
    tx: &mut Transaction<'static, Any>,
    kind: &str,
    dedupe_key: &str,
    recipient: &str,
    mail: &Mail,
    secret: bool,
    reply_to: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let id = new_id("obx");
    let done = sqlx::query(
        "insert into outbox (outbox_id, dedupe_key, kind, recipient, subject, status, next_attempt_at, created_at, erase_after_send, reply_to)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) on conflict (dedupe_key) do nothing",
    )
    .bind(&id)
    .bind(dedupe_key)
    .bind(kind)
    .bind(recipient)
    .bind(&mail.subject)
    .bind(Status::Pending.as_str())
    .bind(now())
    .bind(now())
    .bind(i64::from(secret))
    .bind(reply_to)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query("insert into outbox_body (outbox_id, body_text, body_html) values ($1, $2, $3)")
        .bind(&id)
        .bind(&mail.text)
        .bind(mail.html.clone())
        .execute(&mut **tx)
        .await?;
    Ok(true)
}

/// The staff alert for a SKU running low.
pub fn low_stock_alert(sku: &str, title: &str, available: i64, threshold: i64) -> Mail {
    let ctx = serde_json::json!({
        "items": [{ "sku": sku, "title": title, "available": available, "threshold": threshold }],
        "site_title": "Atelier Arôme",
    });
    Mail {
        subject: if available <= 0 {
            format!("Sold out: {title} ({sku})")
        } else {
            format!("Low stock: {title} ({sku}), {available} left")
        },
        text: views::render("email/low_stock.txt", &ctx),
        html: Some(views::render("email/low_stock.html", &ctx)),
    }
}

/// Queues a call of the build hook (the outbox worker skips it when none is configured).
pub async fn enqueue_build_hook(tx: &mut Transaction<'static, Any>, key: &str) -> Result<(), sqlx::Error> {
    let id = new_id("obx");
    let done = sqlx::query(
        "insert into outbox (outbox_id, dedupe_key, kind, recipient, subject, status, next_attempt_at, created_at)
         values ($1, $2, 'build_hook', '', 'build hook', $3, $4, $5) on conflict (dedupe_key) do nothing",
    )
    .bind(&id)
    .bind(format!("build-hook:{key}"))
    .bind(Status::Pending.as_str())
    .bind(now())
    .bind(now())
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 1 {
        sqlx::query("insert into outbox_body (outbox_id, body_text) values ($1, '')")
            .bind(&id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// How the outbox is doing: what waits, for how long, and what was given up on.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, utoipa::ToSchema)]
pub struct OutboxHealth {
    /// Messages waiting to be sent (or sent again).
    pub pending: i64,
    /// How long the oldest of them has waited, in seconds (0 when none waits).
    pub oldest_pending_seconds: i64,
    /// Messages given up on (staff were told).
    pub failed: i64,
}

/// Reads the outbox's health (two index scans on `outbox_due`).
pub async fn health(db: &crate::db::Db) -> Result<OutboxHealth, sqlx::Error> {
    let (pending, oldest): (i64, Option<i64>) =
        sqlx::query_as("select count(*), min(created_at) from outbox where status = $1")
            .bind(Status::Pending.as_str())
            .fetch_one(&db.pool)
            .await?;
    let failed: i64 = sqlx::query_scalar("select count(*) from outbox where status = $1")
        .bind(Status::Failed.as_str())
        .fetch_one(&db.pool)
        .await?;
    Ok(OutboxHealth { pending, oldest_pending_seconds: oldest.map(|t| (now() - t).max(0)).unwrap_or(0), failed })
}
