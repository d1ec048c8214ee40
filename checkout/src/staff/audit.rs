//! The audit log (decision 14): every change staff make — in the console or from the command
//! line — and every staff sign-in, failed ones too, as a row written in the same transaction as
//! the change. Nothing in the console edits or deletes a row.

use serde::Serialize;

use crate::db::{Db, WriteTx};
use crate::ids::{new_id, now};

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A staff member in the console.
    Staff {
        /// Their account.
        account_id: String,
        /// Their address, as the log shows them.
        email: String,
        /// Where they were, when known.
        client: Option<String>,
    },
    /// Someone at the command line, by their login name.
    Shell {
        /// The shell user.
        user: String,
    },
    /// Whoever asked earlier for what a later event carries out (a refund's bottles go back on
    /// the shelf when the payment provider confirms it), as their request recorded them.
    Recorded {
        /// Their stored key, [`Actor::key`].
        key: String,
        /// Their stored label, [`Actor::label`].
        label: String,
    },
}

impl Actor {
    /// The person at this machine's command line (`$USER`, or `shell` when unset).
    pub fn shell() -> Actor {
        let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "shell".into());
        Actor::Shell { user }
    }

    /// The stored key: `account:ID` or `shell:USER`.
    pub fn key(&self) -> String {
        match self {
            Actor::Staff { account_id, .. } => format!("account:{account_id}"),
            Actor::Shell { user } => format!("shell:{user}"),
            Actor::Recorded { key, .. } => key.clone(),
        }
    }

    /// How the log shows them.
    pub fn label(&self) -> String {
        match self {
            Actor::Staff { email, .. } => email.clone(),
            Actor::Shell { user } => format!("{user} (command line)"),
            Actor::Recorded { label, .. } => label.clone(),
        }
    }

    fn client(&self) -> Option<&str> {
        match self {
            Actor::Staff { client, .. } => client.as_deref(),
            Actor::Shell { .. } | Actor::Recorded { .. } => None,
        }
    }
}

/// One change, as it is recorded.
#[derive(Debug, Clone, Default)]
pub struct Change<'a> {
    /// What was done: `order.ship`, `staff.role`, …
    pub action: &'a str,
    /// What it was done to: `order:AA-2026-000042`, `account:acc_…`, `role:manager`.
    pub subject: Option<String>,
    /// The state before, as JSON.
    pub before: Option<serde_json::Value>,
    /// The state after, as JSON.
    pub after: Option<serde_json::Value>,
}

/// Records a change in the transaction that makes it.
pub async fn record(tx: &mut WriteTx, actor: &Actor, change: Change<'_>) -> Result<(), sqlx::Error> {
    insert(&mut tx.tx, &actor.key(), &actor.label(), actor.client(), change).await
}

/// Records a sign-in to the console, or a refused one (`actor` is then the address tried).
pub async fn record_sign_in(
    db: &Db,
    account_id: &str,
    email: &str,
    client: Option<&str>,
    action: &str,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let change = Change { action, subject: Some(format!("account:{account_id}")), ..Change::default() };
    insert(&mut tx.tx, &format!("account:{account_id}"), email, client, change).await?;
    tx.commit().await
}

async fn insert(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    actor: &str,
    label: &str,
    client: Option<&str>,
    change: Change<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into audit_log (audit_id, at, actor, actor_label, action, subject, before_json, after_json, client)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(new_id("aud"))
    .bind(now())
    .bind(actor)
    .bind(label)
    .bind(change.action)
    .bind(change.subject)
    .bind(change.before.map(|v| v.to_string()))
    .bind(change.after.map(|v| v.to_string()))
    .bind(client)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A row of the log as the console lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// The row.
    pub audit_id: String,
    /// When, in seconds since the epoch.
    pub at: i64,
    /// Who (stored key).
    pub actor: String,
    /// Who, as people read it.
    pub actor_label: String,
    /// What.
    pub action: String,
    /// To what.
    pub subject: Option<String>,
    /// Before, as JSON.
    pub before_json: Option<String>,
    /// After, as JSON.
    pub after_json: Option<String>,
    /// From where.
    pub client: Option<String>,
}

/// What the log is filtered by.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Rows whose actor's label contains this.
    pub actor: Option<String>,
    /// Rows whose action starts with this (`order.` for every order step).
    pub action: Option<String>,
    /// Rows about this subject.
    pub subject: Option<String>,
    /// Rows older than this row (the next page).
    pub before: Option<(i64, String)>,
}

/// A page of the log, newest first.
pub async fn list(db: &Db, filter: &Filter, limit: i64) -> Result<Vec<Entry>, sqlx::Error> {
    let (before_at, before_id) = filter.before.clone().unwrap_or((i64::MAX, String::new()));
    type Row = (String, i64, String, String, String, Option<String>, Option<String>, Option<String>, Option<String>);
    let rows: Vec<Row> = sqlx::query_as(
        "select audit_id, at, actor, actor_label, action, subject, before_json, after_json, client from audit_log
         where ($1 = '' or lower(actor_label) like '%' || lower($1) || '%')
           and ($2 = '' or substr(action, 1, length($2)) = $2)
           and ($3 = '' or subject = $3)
           and (at < $4 or (at = $4 and $5 <> '' and audit_id < $5))
         order by at desc, audit_id desc limit $6",
    )
    .bind(filter.actor.as_deref().unwrap_or(""))
    .bind(filter.action.as_deref().unwrap_or(""))
    .bind(filter.subject.as_deref().unwrap_or(""))
    .bind(before_at)
    .bind(before_id)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(audit_id, at, actor, actor_label, action, subject, before_json, after_json, client)| Entry {
            audit_id,
            at,
            actor,
            actor_label,
            action,
            subject,
            before_json,
            after_json,
            client,
        })
        .collect())
}
