//! The outbox worker: claims due messages (one conditional update, so of several instances
//! exactly one sends each), sends them, and records the outcome.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sqlx::Row;

use super::{Mail, Status, STAFF};
use crate::config::MailMode;
use crate::db::Db;
use crate::ids::now;

/// Where messages go.
enum Transport {
    Files(AsyncFileTransport<Tokio1Executor>),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

/// The outbox worker.
pub struct Mailer {
    db: Db,
    transport: Transport,
    from: Mailbox,
    staff: String,
    build_hook: Option<String>,
    /// Seconds before the first retry; doubles per attempt, at most an hour.
    pub retry_base: i64,
    /// Seconds a message is retried for before it is given up as failed (and staff told).
    pub give_up_after: i64,
}

/// Messages claimed and sent per turn.
const BATCH: i64 = 20;

/// How long a claimed batch is kept from other instances: long enough to send all of it to a
/// slow server; an instance that died mid-batch has it sent again after that.
const CLAIM_SECONDS: i64 = 600;

/// How long a message is retried: long enough for a mail server down over a weekend.
const GIVE_UP_AFTER: i64 = 4 * 24 * 3600;

/// SMTP replies that refuse this message's recipient for good (no such mailbox, not local,
/// not allowed, a malformed address); any other, even a 5xx (bad credentials, the relay's
/// policy), is about the server and is tried again later.
const RECIPIENT_REFUSED: &[&str] = &["550", "551", "553", "501"];

/// Why a message was not sent.
enum SendError {
    /// Worth trying again later (the server is down, a timeout).
    Transient(String),
    /// Never going through (the server refused the recipient for good, the address is broken).
    Permanent(String),
}

/// Tells staff, once, that a message was given up (unless it was theirs: nobody would read
/// that alert either).
async fn tell_staff(
    tx: &mut crate::db::WriteTx,
    row: &sqlx::any::AnyRow,
    attempts: i64,
    error: &str,
) -> Result<(), sqlx::Error> {
    let recipient: String = row.get("recipient");
    if recipient == STAFF {
        return Ok(());
    }
    let id: String = row.get("outbox_id");
    let kind: String = row.get("kind");
    let subject: String = row.get("subject");
    let mail = if kind == "build_hook" {
        Mail {
            subject: "The site's build hook keeps failing".into(),
            text: format!(
                "The build hook that rebuilds the site after a stock change failed {attempts} times and is no longer called for that change.\n\nLast error: {error}\n\nCheck BUILD_HOOK_URL and the site host's deploy settings, then trigger a build by hand so the stock badges are current.\n"
            ),
            html: None,
        }
    } else {
        Mail {
            subject: format!("Undelivered: {subject}"),
            text: format!(
                "A message to {recipient} could not be delivered and will not be tried again.\n\nSubject: {subject}\nKind: {kind}\nAttempts: {attempts}\nLast error: {error}\nOutbox id: {id}\n\nIf the address is wrong, reach the customer another way (the order holds their postal address). If the mail server was at fault, correct it; `atelier mail retry {id}` sends the message again (unless it carried a sign-in or password link: those are not kept, and the customer asks again).\n"
            ),
            html: None,
        }
    };
    super::enqueue(tx, "mail_failed", &format!("mail-failed:{id}"), STAFF, &mail).await?;
    Ok(())
}

/// Empties the body of a message that carried a secret (a link that sets a password), once it
/// is sent or given up: the outbox keeps no working link.
async fn erase_secret(tx: &mut crate::db::WriteTx, row: &sqlx::any::AnyRow) -> Result<(), sqlx::Error> {
    if row.get::<i64, _>("erase_after_send") == 1 {
        sqlx::query("update outbox_body set body_text = '', body_html = null where outbox_id = $1")
            .bind(row.get::<String, _>("outbox_id"))
            .execute(&mut ***tx)
            .await?;
    }
    Ok(())
}

/// A configuration error of the mailer.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MailerError(pub(super) String);

impl Mailer {
    /// A mailer for the configured transport.
    pub fn new(
        db: Db,
        mode: &MailMode,
        from: &str,
        staff: &str,
        build_hook: Option<String>,
    ) -> Result<Mailer, MailerError> {
        let transport = match mode {
            MailMode::Outbox(dir) => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| MailerError(format!("outbox folder {}: {e}", dir.display())))?;
                Transport::Files(AsyncFileTransport::new(PathBuf::from(dir)))
            }
            MailMode::Smtp { url, ca_file } => Transport::Smtp(super::smtp::smtp_transport(url, ca_file.as_deref())?),
        };
        let from = from.parse().map_err(|e| MailerError(format!("MAIL_FROM `{from}`: {e}")))?;
        Ok(Mailer {
            db,
            transport,
            from,
            staff: staff.to_string(),
            build_hook,
            retry_base: 5,
            give_up_after: GIVE_UP_AFTER,
        })
    }

    /// Delivers what is due until `stop` says so, polling twice a second when idle.
    pub async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            let started = std::time::Instant::now();
            let busy = match self.deliver_due().await {
                Ok(n) => n > 0,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox: database unavailable");
                    false
                }
            };
            // Busy, it rests as long as the batch took: a backlog of thousands (an edition's
            // e-mails) leaves the shop's requests at least half of the processor.
            let rest = if busy { started.elapsed() } else { Duration::from_millis(500) };
            tokio::select! {
                _ = tokio::time::sleep(rest) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                return;
            }
        }
    }

    /// Claims a batch of due messages, sends them, and records how each went; returns how many
    /// it attempted. The claim and the outcome are one write each for the whole batch, so
    /// thousands of e-mails queued at once (a Folio edition) take the writer in turns of a
    /// batch, not two turns a message.
    pub async fn deliver_due(&self) -> Result<usize, sqlx::Error> {
        let t = now();
        let due: Vec<String> = sqlx::query_scalar(
            "select outbox_id from outbox where status = $1 and next_attempt_at <= $2
             and (locked_until is null or locked_until < $2) order by created_at limit $3",
        )
        .bind(Status::Pending.as_str())
        .bind(t)
        .bind(BATCH)
        .fetch_all(&self.db.pool)
        .await?;
        if due.is_empty() {
            return Ok(0);
        }
        // Each claim is one conditional update: of several instances, exactly one wins each.
        let mut claimed = Vec::with_capacity(due.len());
        let mut tx = self.db.begin_write().await?;
        for id in due {
            let done = sqlx::query(
                "update outbox set locked_until = $1, attempts = attempts + 1
                 where outbox_id = $2 and status = $3 and (locked_until is null or locked_until < $4)",
            )
            .bind(now() + CLAIM_SECONDS)
            .bind(&id)
            .bind(Status::Pending.as_str())
            .bind(now())
            .execute(&mut **tx)
            .await?;
            if done.rows_affected() == 1 {
                claimed.push(id);
            }
        }
        tx.commit().await?;
        let mut outcomes = Vec::with_capacity(claimed.len());
        for id in &claimed {
            let row = sqlx::query(
                "select o.outbox_id, o.kind, o.recipient, o.subject, b.body_text, b.body_html, o.reply_to, o.attempts,
                   o.created_at, o.erase_after_send
                 from outbox o join outbox_body b on b.outbox_id = o.outbox_id where o.outbox_id = $1",
            )
            .bind(id)
            .fetch_one(&self.db.pool)
            .await?;
            let result = self.send(&row).await;
            outcomes.push((row, result));
        }
        let mut tx = self.db.begin_write().await?;
        for (row, result) in outcomes {
            self.record(&mut tx, &row, result).await?;
        }
        tx.commit().await?;
        Ok(claimed.len())
    }

    /// Records how one message's sending went: sent, to be tried again later, or given up.
    async fn record(
        &self,
        tx: &mut crate::db::WriteTx,
        row: &sqlx::any::AnyRow,
        result: Result<(), SendError>,
    ) -> Result<(), sqlx::Error> {
        let id: String = row.get("outbox_id");
        match result {
            Ok(()) => {
                sqlx::query(
                    "update outbox set status = $1, sent_at = $2, locked_until = null, last_error = null where outbox_id = $3",
                )
                .bind(Status::Sent.as_str())
                .bind(now())
                .bind(&id)
                .execute(&mut ***tx)
                .await?;
                erase_secret(tx, row).await?;
            }
            Err(e) => {
                let attempts: i64 = row.get("attempts");
                let age = now() - row.get::<i64, _>("created_at");
                let (permanent, text) = match e {
                    SendError::Permanent(t) => (true, t),
                    SendError::Transient(t) => (age >= self.give_up_after, t),
                };
                if permanent {
                    tracing::error!(outbox_id = %id, attempts, error = %text, "outbox: given up, staff are told");
                    sqlx::query(
                        "update outbox set status = $1, locked_until = null, last_error = $2 where outbox_id = $3",
                    )
                    .bind(Status::Failed.as_str())
                    .bind(&text)
                    .bind(&id)
                    .execute(&mut ***tx)
                    .await?;
                    erase_secret(tx, row).await?;
                    tell_staff(tx, row, attempts, &text).await?;
                } else {
                    let delay = (self.retry_base << (attempts - 1).clamp(0, 12)).min(3600);
                    tracing::warn!(outbox_id = %id, attempts, error = %text, "outbox: send failed, will retry");
                    sqlx::query(
                        "update outbox set next_attempt_at = $1, locked_until = null, last_error = $2 where outbox_id = $3",
                    )
                    .bind(now() + delay)
                    .bind(&text)
                    .bind(&id)
                    .execute(&mut ***tx)
                    .await?;
                }
            }
        }
        Ok(())
    }

    async fn send(&self, row: &sqlx::any::AnyRow) -> Result<(), SendError> {
        let kind: String = row.get("kind");
        if kind == "build_hook" {
            return self.call_build_hook().await.map_err(SendError::Transient);
        }
        let recipient: String = row.get("recipient");
        let to = if recipient == STAFF { self.staff.clone() } else { recipient };
        let to: Mailbox = to.parse().map_err(|e| SendError::Permanent(format!("recipient `{to}`: {e}")))?;
        let text: String = row.get("body_text");
        let html: Option<String> = row.get("body_html");
        // A retry of a message the server took before we could record it (a crash in between)
        // carries the same Message-ID, so mail systems can tell it is the same message.
        let message_id = format!("<{}@{}>", row.get::<String, _>("outbox_id"), self.from.email.domain());
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(row.get::<String, _>("subject"))
            .message_id(Some(message_id));
        if let Some(reply_to) = row.get::<Option<String>, _>("reply_to") {
            let mailbox = reply_to.parse().map_err(|e| SendError::Permanent(format!("reply-to `{reply_to}`: {e}")))?;
            builder = builder.reply_to(mailbox);
        }
        let message = match html {
            Some(html) => builder.multipart(
                MultiPart::alternative().singlepart(SinglePart::plain(text)).singlepart(SinglePart::html(html)),
            ),
            None => builder.header(ContentType::TEXT_PLAIN).body(text),
        }
        .map_err(|e| SendError::Permanent(format!("building the message: {e}")))?;
        match &self.transport {
            Transport::Files(t) => t
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| SendError::Transient(format!("writing the .eml file: {e}"))),
            Transport::Smtp(t) => t.send(message).await.map(|_| ()).map_err(|e| {
                let text = format!("SMTP: {e}");
                let refused = e.status().is_some_and(|code| RECIPIENT_REFUSED.contains(&code.to_string().as_str()));
                if e.is_permanent() && refused {
                    SendError::Permanent(text)
                } else {
                    SendError::Transient(text)
                }
            }),
        }
    }

    async fn call_build_hook(&self) -> Result<(), String> {
        let Some(url) = &self.build_hook else { return Ok(()) };
        let out = tokio::process::Command::new("curl")
            .args(["-fsS", "-X", "POST", "--max-time", "15", "-o", "/dev/null", "--", url])
            .output()
            .await
            .map_err(|e| format!("cannot run curl for the build hook: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            // The hook's URL is a secret (it triggers builds): name its host only.
            let shown = crate::config::redact_url(url);
            let host = shown.split("//").nth(1).and_then(|r| r.split('/').next()).unwrap_or("");
            Err(format!("build hook at {host}: {}", String::from_utf8_lossy(&out.stderr).trim()))
        }
    }
}
