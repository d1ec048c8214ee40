//! An account's orders: those placed while signed in, and guest orders placed with its address,
//! which join it only once the address is proven the owner's (otherwise anyone could open an
//! account with a customer's address and read their orders and where they live).

use serde::Serialize;
use sqlx::Row;

use super::{OrderStatus, StatusName};
use crate::checkout::pricing::display;
use crate::config::Secret;
use crate::db::{Db, WriteTx};

/// Joins to an account the guest orders placed with its address (call only once the address is
/// the account's, proven by a link mailed to it); gives how many joined.
pub async fn claim_guest_orders(tx: &mut WriteTx, account_id: &str, email: &str) -> Result<u64, sqlx::Error> {
    // Checked here too, not only by the callers: an account whose address is not proven its
    // owner's claims nothing.
    let done = sqlx::query(
        "update customer_order set account_id = $1 where email = $2 and account_id is null
         and exists (select 1 from account where account_id = $1 and email = $2 and email_verified_at is not null)",
    )
    .bind(account_id)
    .bind(email)
    .execute(&mut ***tx)
    .await?;
    Ok(done.rows_affected())
}

/// An order in its account's history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AccountOrder {
    /// Its id.
    pub order_id: String,
    /// Its number, `AA-2026-000042`.
    pub number: String,
    /// Where it is in its life.
    #[schema(value_type = StatusName)]
    pub status: OrderStatus,
    /// The status for people.
    pub status_label: String,
    /// The total, `€84.00`.
    pub total: String,
    /// How many bottles.
    pub bottles: i64,
    /// When it was placed, `2026-11-22`.
    pub created: String,
    /// When it was placed, as the site writes dates: `22 November 2026`.
    pub placed_on: String,
    /// Its page (a signed link, as in its confirmation).
    pub url: String,
}

/// An account's orders, the newest first.
pub async fn for_account(db: &Db, account_id: &str, links: &Secret) -> Result<Vec<AccountOrder>, sqlx::Error> {
    let rows = sqlx::query(
        "select o.order_id, o.number, o.status, o.total_minor, o.currency, o.created_at,
                (select cast(coalesce(sum(i.quantity), 0) as bigint) from order_item i where i.order_id = o.order_id) as bottles
         from customer_order o where o.account_id = $1 order by o.created_at desc, o.number desc limit 200",
    )
    .bind(account_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let order_id: String = r.get("order_id");
            let status = OrderStatus::parse(&r.get::<String, _>("status")).unwrap_or(OrderStatus::PendingPayment);
            AccountOrder {
                url: super::links::path(links, &order_id),
                number: r.get("number"),
                status_label: status.label().to_string(),
                status,
                total: display(r.get("total_minor"), crate::catalog::currency_of(&r.get::<String, _>("currency"))),
                bottles: r.get("bottles"),
                created: super::date(r.get("created_at")),
                placed_on: super::written_date(r.get("created_at")),
                order_id,
            }
        })
        .collect())
}

/// A line of an order as it was bought.
#[derive(Debug, Clone)]
pub struct BoughtLine {
    /// The size.
    pub sku: String,
    /// The essence's name then.
    pub title: String,
    /// The size's name then.
    pub label: String,
    /// How many.
    pub quantity: i64,
    /// The price of one then, in minor units.
    pub unit_minor: i64,
}

/// The lines of one of an account's orders; none when the order is not theirs.
pub async fn lines_of(db: &Db, account_id: &str, order_id: &str) -> Result<Option<Vec<BoughtLine>>, sqlx::Error> {
    let owned: Option<String> =
        sqlx::query_scalar("select order_id from customer_order where order_id = $1 and account_id = $2")
            .bind(order_id)
            .bind(account_id)
            .fetch_optional(&db.pool)
            .await?;
    if owned.is_none() {
        return Ok(None);
    }
    let rows =
        sqlx::query("select sku, title, label, quantity, unit_minor from order_item where order_id = $1 order by sku")
            .bind(order_id)
            .fetch_all(&db.pool)
            .await?;
    Ok(Some(
        rows.into_iter()
            .map(|r| BoughtLine {
                sku: r.get("sku"),
                title: r.get("title"),
                label: r.get("label"),
                quantity: r.get("quantity"),
                unit_minor: r.get("unit_minor"),
            })
            .collect(),
    ))
}

/// Whether one of an account's orders has not left the atelier (its address is still needed).
pub async fn has_undispatched(tx: &mut WriteTx, account_id: &str) -> Result<bool, sqlx::Error> {
    let statuses: Vec<&str> = OrderStatus::NOT_DISPATCHED.iter().map(|s| s.as_str()).collect();
    let found: Option<String> = sqlx::query_scalar(
        "select order_id from customer_order where account_id = $1 and status in ($2, $3, $4) limit 1",
    )
    .bind(account_id)
    .bind(statuses[0])
    .bind(statuses[1])
    .bind(statuses[2])
    .fetch_optional(&mut ***tx)
    .await?;
    Ok(found.is_some())
}

/// Erases the personal details of an account's orders (name, e-mail, street and town; the
/// country stays, for the VAT accounts) and detaches them from it, before it is deleted.
pub async fn erase_personal(tx: &mut WriteTx, account_id: &str) -> Result<u64, sqlx::Error> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("select order_id, address from customer_order where account_id = $1")
            .bind(account_id)
            .fetch_all(&mut ***tx)
            .await?;
    for (order_id, address) in &rows {
        let kept = serde_json::from_str::<serde_json::Value>(address).unwrap_or_default();
        let erased = serde_json::json!({
            "line1": "", "line2": "", "postal_code_city": "", "postal_code": "", "city": "",
            "country": kept.get("country").cloned().unwrap_or_default(),
            "country_name": kept.get("country_name").cloned().unwrap_or_default(),
        });
        sqlx::query(
            "update customer_order set name = '', email = '', address = $1, account_id = null, tracking = null
             where order_id = $2",
        )
        .bind(erased.to_string())
        .bind(order_id)
        .execute(&mut ***tx)
        .await?;
    }
    Ok(rows.len() as u64)
}
