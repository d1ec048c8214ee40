//! What staff see of the stock: each size's bottles on hand, reserved and available, how fast
//! it sells over 30 and 90 days, how many days the shelf covers, and how many to reorder so the
//! shelf lasts through a supplier's lead time and a safety margin (seed 004 §6.14.5). The
//! stock's ledger: every change staff made, with its reason.

use serde::Serialize;

use crate::db::Db;
use crate::orders::OrderStatus;

/// Days a supplier takes to deliver, until suppliers have their own.
pub const LEAD_DAYS: i64 = 14;
/// Days of sales kept on the shelf beyond the lead time.
pub const SAFETY_DAYS: i64 = 7;

/// One size's stock and its forecast.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The size's SKU.
    pub sku: String,
    /// The essence.
    pub title: String,
    /// The size.
    pub label: String,
    /// Bottles on the shelf.
    pub on_hand: i64,
    /// Held by checkouts not yet paid.
    pub reserved: i64,
    /// On the shelf and not held.
    pub available: i64,
    /// At or below this, the size is low.
    pub threshold: i64,
    /// `in_stock`, `low_stock` or `sold_out`.
    pub status: &'static str,
    /// Bottles sold in the last 30 days.
    pub sold_30: i64,
    /// Bottles sold in the last 90 days.
    pub sold_90: i64,
    /// Bottles a day: the faster of the two rates (a size that sped up is not under-ordered).
    pub per_day: f64,
    /// Days the available bottles last at that rate (none when it does not sell).
    pub cover_days: Option<f64>,
    /// Bottles ordered from suppliers and not arrived yet.
    pub on_order: i64,
    /// Bottles to order now to last the lead time and the safety margin, counting those on
    /// order.
    pub reorder: i64,
}

/// Every active size, low ones first when asked.
pub async fn overview(db: &Db, now: i64) -> Result<Vec<Row>, sqlx::Error> {
    let sold = [OrderStatus::Paid, OrderStatus::Fulfilled, OrderStatus::Shipped, OrderStatus::Delivered];
    type Sold = (String, String, String, i64, i64, i64, i64, i64);
    let rows: Vec<Sold> = sqlx::query_as(
        "select p.sku, p.title, p.label, s.on_hand, s.reserved, s.low_threshold,
                cast(coalesce(v.sold_30, 0) as bigint), cast(coalesce(v.sold_90, 0) as bigint)
         from stock s join product p on p.sku = s.sku
         left join (select i.sku, sum(case when o.paid_at >= $1 then i.quantity else 0 end) as sold_30,
                           sum(i.quantity) as sold_90
                    from order_item i join customer_order o on o.order_id = i.order_id
                    where o.paid_at >= $2 and o.status in ($3, $4, $5, $6) group by i.sku) v on v.sku = s.sku
         where p.active = 1 order by p.sku",
    )
    .bind(now - 30 * 86_400)
    .bind(now - 90 * 86_400)
    .bind(sold[0].as_str())
    .bind(sold[1].as_str())
    .bind(sold[2].as_str())
    .bind(sold[3].as_str())
    .fetch_all(&db.pool)
    .await?;
    let coming: std::collections::HashMap<String, i64> = super::purchasing::on_order(db).await?.into_iter().collect();
    Ok(rows
        .into_iter()
        .map(|(sku, title, label, on_hand, reserved, threshold, sold_30, sold_90)| {
            let level = super::Level { available: on_hand - reserved, on_hand, threshold };
            let per_day = (sold_30 as f64 / 30.0).max(sold_90 as f64 / 90.0);
            let available = level.available;
            let cover_days = (per_day > 0.0).then(|| available as f64 / per_day);
            let needed = (per_day * (LEAD_DAYS + SAFETY_DAYS) as f64).ceil() as i64;
            let on_order = coming.get(&sku).copied().unwrap_or(0);
            Row {
                sku,
                title,
                label,
                on_hand,
                reserved,
                available,
                threshold,
                status: level.status(),
                sold_30,
                sold_90,
                per_day,
                cover_days,
                on_order,
                reorder: (needed - available - on_order).max(0),
            }
        })
        .collect())
}

/// A change in the ledger.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// When (unix seconds).
    pub at: i64,
    /// Bottles added (negative: taken away).
    pub delta: i64,
    /// Bottles on hand after.
    pub on_hand_after: i64,
    /// Why.
    pub reason: String,
    /// Who.
    pub actor_label: String,
}

/// A size's ledger, newest first (at most `limit` entries).
pub async fn ledger(db: &Db, sku: &str, limit: i64) -> Result<Vec<Entry>, sqlx::Error> {
    let rows: Vec<(i64, i64, i64, String, String)> = sqlx::query_as(
        "select at, delta, on_hand_after, reason, actor_label from stock_ledger where sku = $1
         order by at desc, entry_id desc limit $2",
    )
    .bind(sku)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(at, delta, on_hand_after, reason, actor_label)| Entry { at, delta, on_hand_after, reason, actor_label })
        .collect())
}
