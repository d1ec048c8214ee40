//! "Tell me when it is back": a request per address and sold-out size, answered by one e-mail
//! queued in the transaction that makes the size available again (a delivery, a checkout that
//! lapsed, a refund that put bottles back), so it is sent once, by whichever instance made it.

use sqlx::{Any, Transaction};

use crate::email::EmailAddress;
use crate::error::{ApiError, ApiResult};
use crate::ids::{new_id, now};
use crate::notify::Mail;
use crate::AppState;

/// How long a sent request is kept before it is deleted, in seconds: a month.
const KEPT_AFTER_SENDING: i64 = 30 * 24 * 3600;

/// Asks for one e-mail to `email` when the sold-out size `sku` is back; asking again while it
/// waits changes nothing.
pub async fn watch(state: &AppState, sku: &str, email: &EmailAddress, account_id: Option<&str>) -> ApiResult<()> {
    if !super::sku_shaped(sku) {
        return Err(ApiError::invalid("sku", "not a SKU such as LAV-PROV-30"));
    }
    super::on_sale(state, sku).await?;
    let level = crate::stock::level(&state.db, sku).await?;
    if level.is_some_and(|l| l.available > 0) {
        return Err(ApiError::Conflict("this size is in stock now: add it to your cart".into()));
    }
    let path: String =
        sqlx::query_scalar("select path from product where sku = $1").bind(sku).fetch_one(&state.db.pool).await?;
    let mut tx = state.db.begin_write().await?;
    sqlx::query(
        "insert into stock_alert (alert_id, email, sku, account_id, page_url, created_at)
         values ($1, $2, $3, $4, $5, $6) on conflict do nothing",
    )
    .bind(new_id("alert"))
    .bind(email.as_str())
    .bind(sku)
    .bind(account_id)
    .bind(format!("{}{path}", state.config.public_url))
    .bind(now())
    .execute(&mut **tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Queues the message of every request waiting for `sku`, now that it is available again;
/// inside the transaction that made it so. Gives how many.
pub async fn notify(tx: &mut Transaction<'static, Any>, sku: &str) -> Result<u64, sqlx::Error> {
    let waiting: Vec<(String, String, String, String, String)> = sqlx::query_as(
        "select a.alert_id, a.email, a.page_url, p.title, p.label
         from stock_alert a join product p on p.sku = a.sku where a.sku = $1 and a.sent_at is null",
    )
    .bind(sku)
    .fetch_all(&mut **tx)
    .await?;
    let mut sent = 0;
    for (alert_id, email, page_url, title, label) in waiting {
        let claimed = sqlx::query("update stock_alert set sent_at = $1 where alert_id = $2 and sent_at is null")
            .bind(now())
            .bind(&alert_id)
            .execute(&mut **tx)
            .await?;
        if claimed.rows_affected() == 1 {
            let mail = message(&email, &title, &label, &page_url);
            crate::notify::enqueue(tx, "back_in_stock", &format!("back-in-stock:{alert_id}"), &email, &mail).await?;
            sent += 1;
        }
    }
    Ok(sent)
}

/// The message: the size is back, with its page.
fn message(recipient: &str, title: &str, label: &str, page_url: &str) -> Mail {
    // The shop's address is the page's origin (`https://host` before the path).
    let site_url: String = page_url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
    let ctx = serde_json::json!({
        "heading": "Back in the atelier",
        "paragraphs": [
            "Hello,",
            format!("{title}, {label}, is in stock again. You asked us to tell you, so here we are — before it is gone again."),
        ],
        "action_url": page_url,
        "action_text": format!("See {title}"),
        "after": ["This is the only message about it: we asked nothing else of your address and keep it no longer than a month."],
        "recipient": recipient,
        "about": "because someone asked to be told when a bottle was back at",
        "site_title": "Atelier Arôme",
        "site_url": site_url,
    });
    Mail {
        subject: format!("Back in stock: {title}, {label}"),
        text: crate::views::render("email/account.txt", &ctx),
        html: Some(crate::views::render("email/account.html", &ctx)),
    }
}

/// The requests of an address, for its owner's export: (SKU, asked at, sent at).
pub async fn of(state: &AppState, email: &str) -> Result<Vec<(String, i64, Option<i64>)>, sqlx::Error> {
    sqlx::query_as("select sku, created_at, sent_at from stock_alert where email = $1 order by created_at")
        .bind(email)
        .fetch_all(&state.db.pool)
        .await
}

/// Deletes requests answered more than a month ago; gives how many.
pub async fn prune(db: &crate::db::Db) -> Result<u64, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let done = sqlx::query("delete from stock_alert where sent_at is not null and sent_at <= $1")
        .bind(now() - KEPT_AFTER_SENDING)
        .execute(&mut **tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}
