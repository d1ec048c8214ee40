//! What happened to an order, for staff: its dates and every audited step (who, when), and
//! the notes staff keep on it, which the shopper never sees.

use serde::Serialize;
use serde_json::json;

use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::ids::{new_id, now};
use crate::staff::audit::{self, Actor, Change};

/// One event in an order's life.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// When (unix seconds).
    pub at: i64,
    /// What happened, for people.
    pub what: String,
    /// Who did it: a staff member, the command line, the shopper, or the payment provider.
    pub who: String,
}

/// An order's history, oldest first: placed and paid (from the order itself), then every
/// audited change.
pub async fn history(db: &Db, order_id: &str) -> Result<Vec<Event>, sqlx::Error> {
    type Row = (String, String, i64, Option<i64>, Option<String>);
    let row: Option<Row> = sqlx::query_as(
        "select number, email, created_at, paid_at, subscription_id from customer_order where order_id = $1",
    )
    .bind(order_id)
    .fetch_optional(&db.pool)
    .await?;
    let Some((number, email, created_at, paid_at, subscription)) = row else { return Ok(Vec::new()) };
    let mut events = vec![Event {
        at: created_at,
        what: if subscription.is_some() { "Made for a Folio edition".into() } else { "Placed".into() },
        who: if subscription.is_some() { "the Folio".into() } else { email.clone() },
    }];
    if let Some(at) = paid_at.filter(|_| subscription.is_none()) {
        events.push(Event { at, what: "Paid".into(), who: "payment provider".into() });
    }
    let rows =
        audit::list(db, &audit::Filter { subject: Some(format!("order:{number}")), ..Default::default() }, 500).await?;
    for r in rows.into_iter().rev() {
        events.push(Event { at: r.at, what: describe(&r.action, r.after_json.as_deref()), who: r.actor_label });
    }
    let confirmed: Vec<(i64, i64, String)> = sqlx::query_as(
        "select r.amount_minor, r.confirmed_at, o.currency from order_refund r join customer_order o on o.order_id = r.order_id
         where r.order_id = $1 and r.confirmed_at is not null",
    )
    .bind(order_id)
    .fetch_all(&db.pool)
    .await?;
    for (amount, at, currency) in confirmed {
        let amount = crate::checkout::pricing::display(amount, crate::catalog::currency_of(&currency));
        events.push(Event { at, what: format!("Refund of {amount} confirmed"), who: "payment provider".into() });
    }
    events.sort_by_key(|e| e.at);
    Ok(events)
}

fn describe(action: &str, after: Option<&str>) -> String {
    let after: serde_json::Value = after.and_then(|a| serde_json::from_str(a).ok()).unwrap_or_default();
    match action {
        "order.fulfil" => "Packed".into(),
        "order.ship" => match after["tracking"].as_str() {
            Some(t) => format!("Shipped, tracking {t}"),
            None => "Shipped".into(),
        },
        "order.deliver" => "Delivered".into(),
        "order.note" => "Note added".into(),
        "order.refund" => {
            let back: Vec<&str> =
                after["restock"].as_array().into_iter().flatten().filter_map(|v| v.as_str()).collect();
            let back =
                if back.is_empty() { String::new() } else { format!("; back on the shelf: {}", back.join(", ")) };
            format!(
                "Refund of {} asked ({}){back}",
                after["refund"].as_str().unwrap_or("?"),
                after["reason"].as_str().unwrap_or("")
            )
        }
        other => other.to_string(),
    }
}

/// A note on an order.
#[derive(Debug, Clone, Serialize)]
pub struct Note {
    /// Who wrote it.
    pub author: String,
    /// What it says.
    pub body: String,
    /// When (unix seconds).
    pub created_at: i64,
}

/// The notes on an order, oldest first.
pub async fn notes(db: &Db, order_id: &str) -> Result<Vec<Note>, sqlx::Error> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "select author, body, created_at from order_note where order_id = $1 order by created_at, note_id",
    )
    .bind(order_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(|(author, body, created_at)| Note { author, body, created_at }).collect())
}

/// The longest note kept, in characters.
pub const NOTE_MAX: usize = 2000;

/// Adds a note to an order, found by its number or id (audited).
pub async fn add_note(db: &Db, actor: &Actor, number: &str, body: &str) -> ApiResult<()> {
    let body = body.trim();
    if body.is_empty() {
        return Err(ApiError::invalid("body", "write the note"));
    }
    if body.chars().count() > NOTE_MAX {
        return Err(ApiError::invalid("body", format!("a note holds at most {NOTE_MAX} characters")));
    }
    let mut tx = db.begin_write().await?;
    let found: Option<(String, String)> =
        sqlx::query_as("select order_id, number from customer_order where number = $1 or order_id = $1")
            .bind(number)
            .fetch_optional(&mut **tx)
            .await?;
    let (order_id, number) = found.ok_or_else(|| ApiError::NotFound(format!("no order {number}")))?;
    sqlx::query("insert into order_note (note_id, order_id, author, body, created_at) values ($1, $2, $3, $4, $5)")
        .bind(new_id("note"))
        .bind(&order_id)
        .bind(actor.label())
        .bind(body)
        .bind(now())
        .execute(&mut **tx)
        .await?;
    let change = Change {
        action: "order.note",
        subject: Some(format!("order:{number}")),
        before: None,
        after: Some(json!({ "note": body })),
    };
    audit::record(&mut tx, actor, change).await?;
    tx.commit().await?;
    Ok(())
}
