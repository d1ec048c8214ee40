//! Transactional e-mail through the outbox table: a message is queued in the transaction that
//! causes it, and a worker (on every instance at once, safely) claims due messages, sends them
//! over SMTP or into `.eml` files, and retries with backoff until they are sent.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sqlx::{Any, Row, Transaction};

use crate::config::MailMode;
use crate::db::Db;
use crate::ids::{new_id, now};
use crate::views;

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
    let done = sqlx::query(
        "insert into outbox (outbox_id, dedupe_key, kind, recipient, subject, body_text, body_html, status, next_attempt_at, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9) on conflict (dedupe_key) do nothing",
    )
    .bind(new_id("obx"))
    .bind(dedupe_key)
    .bind(kind)
    .bind(recipient)
    .bind(&mail.subject)
    .bind(&mail.text)
    .bind(mail.html.clone())
    .bind(now())
    .bind(now())
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
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
}

/// A configuration error of the mailer.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MailerError(String);

/// An SMTP transport from its URL:
/// - `smtp://[user:password@]host[:port]`: plain SMTP (port 25), as a relay on the same
///   network speaks it;
/// - `smtp://…?tls=required`: STARTTLS, refusing to send if the server does not offer it
///   (`?tls=opportunistic` uses it when offered); port 587 then;
/// - `smtps://…`: TLS from the first byte (port 465).
///
/// Certificates are checked against the public roots and, when given, the roots in `ca_file`.
fn smtp_transport(url: &str, ca_file: Option<&Path>) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailerError> {
    let bad = |m: &str| MailerError(format!("SMTP_URL `{}`: {m}", crate::config::redact_url(url)));
    let (wrapped, rest) = match (url.strip_prefix("smtp://"), url.strip_prefix("smtps://")) {
        (Some(rest), _) => (false, rest),
        (_, Some(rest)) => (true, rest),
        _ => return Err(bad("expected smtp://host[:port][?tls=required] or smtps://host[:port]")),
    };
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut starttls = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("tls", "required")) if !wrapped => starttls = Some(true),
            Some(("tls", "opportunistic")) if !wrapped => starttls = Some(false),
            Some(("tls", _)) if wrapped => return Err(bad("smtps:// is TLS already; `tls=` is for smtp://")),
            _ => return Err(bad(&format!("unknown option `{pair}` (tls=required or tls=opportunistic)"))),
        }
    }
    let (auth, host_port) = match rest.rsplit_once('@') {
        Some((a, h)) => (Some(a), h),
        None => (None, rest),
    };
    let host_port = host_port.trim_end_matches('/');
    let default_port = match (wrapped, starttls) {
        (true, _) => 465,
        (false, Some(_)) => 587,
        (false, None) => 25,
    };
    let (host, port) = match host_port.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad("the port is not a number"))?),
        None => (host_port, default_port),
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let mut builder =
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host).port(port).timeout(Some(Duration::from_secs(10)));
    if wrapped || starttls.is_some() {
        let mut tls = TlsParameters::builder(host.to_string());
        if let Some(file) = ca_file {
            let pem = std::fs::read(file).map_err(|e| MailerError(format!("SMTP_CA_FILE {}: {e}", file.display())))?;
            let cert = Certificate::from_pem(&pem)
                .map_err(|e| MailerError(format!("SMTP_CA_FILE {}: not a PEM certificate: {e}", file.display())))?;
            tls = tls.add_root_certificate(cert);
        }
        let tls = tls.build().map_err(|e| bad(&format!("TLS: {e}")))?;
        builder = builder.tls(match (wrapped, starttls) {
            (true, _) => Tls::Wrapper(tls),
            (false, Some(true)) => Tls::Required(tls),
            _ => Tls::Opportunistic(tls),
        });
    }
    if let Some(auth) = auth {
        let (user, pass) = auth.split_once(':').unwrap_or((auth, ""));
        builder = builder
            .credentials(lettre::transport::smtp::authentication::Credentials::new(user.to_string(), pass.to_string()));
    }
    Ok(builder.build())
}

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
            MailMode::Smtp { url, ca_file } => Transport::Smtp(smtp_transport(url, ca_file.as_deref())?),
        };
        let from = from.parse().map_err(|e| MailerError(format!("MAIL_FROM `{from}`: {e}")))?;
        Ok(Mailer { db, transport, from, staff: staff.to_string(), build_hook, retry_base: 5 })
    }

    /// Delivers what is due until `stop` says so, polling twice a second when idle.
    pub async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            let busy = match self.deliver_due().await {
                Ok(n) => n > 0,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox: database unavailable");
                    false
                }
            };
            if !busy {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = stop.changed() => {}
                }
            }
            if *stop.borrow() {
                return;
            }
        }
    }

    /// Claims and sends every due message; returns how many it attempted.
    pub async fn deliver_due(&self) -> Result<usize, sqlx::Error> {
        let t = now();
        let due: Vec<String> = sqlx::query_scalar(
            "select outbox_id from outbox where status = 'pending' and next_attempt_at <= $1
             and (locked_until is null or locked_until < $1) order by created_at limit 20",
        )
        .bind(t)
        .fetch_all(&self.db.pool)
        .await?;
        let mut attempted = 0;
        for id in due {
            // The claim is one conditional update: of several instances, exactly one wins.
            let mut tx = self.db.begin_write().await?;
            let claimed = sqlx::query(
                "update outbox set locked_until = $1, attempts = attempts + 1
                 where outbox_id = $2 and status = 'pending' and (locked_until is null or locked_until < $3)",
            )
            .bind(now() + 120)
            .bind(&id)
            .bind(now())
            .execute(&mut **tx)
            .await?;
            tx.commit().await?;
            if claimed.rows_affected() != 1 {
                continue;
            }
            attempted += 1;
            let row = sqlx::query(
                "select outbox_id, kind, recipient, subject, body_text, body_html, attempts from outbox where outbox_id = $1",
            )
            .bind(&id)
            .fetch_one(&self.db.pool)
            .await?;
            let result = self.send(&row).await;
            let mut tx = self.db.begin_write().await?;
            match result {
                Ok(()) => {
                    sqlx::query("update outbox set status = 'sent', sent_at = $1, locked_until = null, last_error = null where outbox_id = $2")
                        .bind(now())
                        .bind(&id)
                        .execute(&mut **tx)
                        .await?;
                }
                Err(e) => {
                    let attempts: i64 = row.get("attempts");
                    let delay = (self.retry_base << (attempts - 1).clamp(0, 12)).min(3600);
                    tracing::warn!(outbox_id = %id, attempts, error = %e, "outbox: send failed, will retry");
                    sqlx::query("update outbox set next_attempt_at = $1, locked_until = null, last_error = $2 where outbox_id = $3")
                        .bind(now() + delay)
                        .bind(e)
                        .bind(&id)
                        .execute(&mut **tx)
                        .await?;
                }
            }
            tx.commit().await?;
        }
        Ok(attempted)
    }

    async fn send(&self, row: &sqlx::any::AnyRow) -> Result<(), String> {
        let kind: String = row.get("kind");
        if kind == "build_hook" {
            return self.call_build_hook().await;
        }
        let recipient: String = row.get("recipient");
        let to = if recipient == STAFF { self.staff.clone() } else { recipient };
        let to: Mailbox = to.parse().map_err(|e| format!("recipient `{to}`: {e}"))?;
        let text: String = row.get("body_text");
        let html: Option<String> = row.get("body_html");
        // A retry of a message the server took before we could record it (a crash in between)
        // carries the same Message-ID, so mail systems can tell it is the same message.
        let message_id = format!("<{}@{}>", row.get::<String, _>("outbox_id"), self.from.email.domain());
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(row.get::<String, _>("subject"))
            .message_id(Some(message_id));
        let message = match html {
            Some(html) => builder.multipart(
                MultiPart::alternative().singlepart(SinglePart::plain(text)).singlepart(SinglePart::html(html)),
            ),
            None => builder.header(ContentType::TEXT_PLAIN).body(text),
        }
        .map_err(|e| format!("building the message: {e}"))?;
        match &self.transport {
            Transport::Files(t) => t.send(message).await.map(|_| ()).map_err(|e| format!("writing the .eml file: {e}")),
            Transport::Smtp(t) => t.send(message).await.map(|_| ()).map_err(|e| format!("SMTP: {e}")),
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
