//! The console's dashboard: today's and this month's orders and revenue (VAT apart, refunds
//! taken off), the average basket, the essences that sell, what is low, the Folio's subscribers
//! and the outbox, with two small charts drawn on the server as SVG (revenue by day over 90
//! days, orders by state), each with its figures as a table for those who would rather read.

use atelier_domain::Currency;
use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use serde::Serialize;
use serde_json::json;
use sqlx::Row;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::guard::Staff;
use super::http::console;
use crate::checkout::pricing::display;
use crate::db::Db;
use crate::error::ApiResult;
use crate::orders::OrderStatus;
use crate::AppState;

/// The dashboard's route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(dashboard_page))
}

/// Days the revenue chart covers.
pub const DAYS: i64 = 90;

/// Sales over a stretch of days (the shop's orders; the Folio's editions are not sales).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Sales {
    /// Orders paid (and not refunded in full).
    pub orders: i64,
    /// What they brought in, refunds taken off, VAT included.
    pub revenue_minor: i64,
    /// The VAT inside that.
    pub vat_minor: i64,
}

impl Sales {
    fn add(&mut self, other: &Sales) {
        self.orders += other.orders;
        self.revenue_minor += other.revenue_minor;
        self.vat_minor += other.vat_minor;
    }

    /// The average basket, VAT included.
    pub fn average_minor(&self) -> i64 {
        if self.orders == 0 {
            0
        } else {
            self.revenue_minor / self.orders
        }
    }
}

/// What the dashboard shows.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    /// The shop's currency.
    #[serde(skip)]
    pub currency: Currency,
    /// Today (UTC).
    pub today: Sales,
    /// This calendar month.
    pub month: Sales,
    /// Each of the last [`DAYS`] days, oldest first: (day's midnight, sales).
    pub by_day: Vec<(i64, Sales)>,
    /// Orders placed in the last [`DAYS`] days, by state, in the order of an order's life.
    pub by_status: Vec<(OrderStatus, i64)>,
    /// The essences sold most in the last 30 days: name, bottles, revenue.
    pub top: Vec<(String, i64, i64)>,
    /// Sizes low or sold out: name, SKU, available.
    pub low: Vec<(String, String, i64)>,
    /// Folio subscriptions running, paused, past due, and ended this quarter.
    pub folio: (i64, i64, i64, i64),
    /// The outbox.
    pub outbox: crate::notify::OutboxHealth,
}

/// The first moment of the day, month and quarter of `now` (UTC).
fn starts(now: i64) -> (i64, i64, i64) {
    let today = now.div_euclid(86_400) * 86_400;
    let (y, m, _) = atelier_domain::civil(now);
    let month = atelier_domain::ships_at(&format!("{y:04}-{m:02}-01")).unwrap_or(today);
    let q = (m - 1) / 3 * 3 + 1;
    let quarter = atelier_domain::ships_at(&format!("{y:04}-{q:02}-01")).unwrap_or(month);
    (today, month, quarter)
}

/// Reads the dashboard's figures as of `now`.
pub async fn figures(db: &Db, now: i64) -> Result<Figures, sqlx::Error> {
    let (today, month, quarter) = starts(now);
    let first = today - (DAYS - 1) * 86_400;
    let paid = OrderStatus::PAID;
    let refunded = OrderStatus::Refunded.as_str();
    // One pass over the 90 days' paid orders (the `customer_order_paid` index), by day.
    let rows = sqlx::query(
        "select cast(paid_at / 86400 as bigint) as day,
                cast(sum(case when status = $2 then 0 else 1 end) as bigint) as orders,
                cast(sum(case when status = $2 then 0 else total_minor - refunded_minor end) as bigint) as revenue,
                cast(sum(case when status = $2 or total_minor = 0 then 0
                              else vat_minor * (total_minor - refunded_minor) / total_minor end) as bigint) as vat
         from customer_order
         where paid_at >= $1 and subscription_id is null and status in ($2, $3, $4, $5, $6)
         group by cast(paid_at / 86400 as bigint)",
    )
    .bind(first)
    .bind(refunded)
    .bind(paid[0].as_str())
    .bind(paid[1].as_str())
    .bind(paid[2].as_str())
    .bind(paid[3].as_str())
    .fetch_all(&db.pool)
    .await?;
    let mut by_day: Vec<(i64, Sales)> = (0..DAYS).map(|i| (first + i * 86_400, Sales::default())).collect();
    for r in rows {
        let day: i64 = r.get("day");
        let at = ((day * 86_400 - first) / 86_400) as usize;
        if let Some((_, s)) = by_day.get_mut(at) {
            *s = Sales { orders: r.get("orders"), revenue_minor: r.get("revenue"), vat_minor: r.get("vat") };
        }
    }
    let mut month_sales = Sales::default();
    for (day, s) in &by_day {
        if *day >= month {
            month_sales.add(s);
        }
    }
    let today_sales = by_day.last().map(|(_, s)| *s).unwrap_or_default();

    let counts: Vec<(String, i64)> =
        sqlx::query_as("select status, count(*) from customer_order where created_at >= $1 group by status")
            .bind(first)
            .fetch_all(&db.pool)
            .await?;
    let by_status = OrderStatus::ALL
        .into_iter()
        .map(|s| (s, counts.iter().find(|(name, _)| name == s.as_str()).map(|(_, n)| *n).unwrap_or(0)))
        .collect();

    let top: Vec<(String, i64, i64)> = sqlx::query_as(
        "select i.title, cast(sum(i.quantity) as bigint), cast(sum(i.quantity * i.unit_minor) as bigint)
         from order_item i join customer_order o on o.order_id = i.order_id
         where o.paid_at >= $1 and o.subscription_id is null and o.status in ($2, $3, $4, $5)
         group by i.title order by 2 desc, i.title limit 5",
    )
    .bind(now - 30 * 86_400)
    .bind(paid[0].as_str())
    .bind(paid[1].as_str())
    .bind(paid[2].as_str())
    .bind(paid[3].as_str())
    .fetch_all(&db.pool)
    .await?;

    let low: Vec<(String, String, i64)> = sqlx::query_as(
        "select p.title || ', ' || p.label, p.sku, s.on_hand - s.reserved from stock s join product p on p.sku = s.sku
         where p.active = 1 and s.on_hand - s.reserved <= s.low_threshold
         order by s.on_hand - s.reserved, p.sku limit 8",
    )
    .fetch_all(&db.pool)
    .await?;

    let folio: (i64, i64, i64, i64) = sqlx::query_as(
        "select cast(coalesce(sum(case when status = 'active' then 1 else 0 end), 0) as bigint),
                cast(coalesce(sum(case when status = 'paused' then 1 else 0 end), 0) as bigint),
                cast(coalesce(sum(case when status = 'past_due' then 1 else 0 end), 0) as bigint),
                cast(coalesce(sum(case when status = 'cancelled' and cancelled_at >= $1 then 1 else 0 end), 0) as bigint)
         from subscription",
    )
    .bind(quarter)
    .fetch_one(&db.pool)
    .await?;

    let currency: Option<String> =
        sqlx::query_scalar("select currency from customer_order order by created_at desc limit 1")
            .fetch_optional(&db.pool)
            .await?;
    Ok(Figures {
        currency: currency.map(|c| crate::catalog::currency_of(&c)).unwrap_or(Currency::Eur),
        today: today_sales,
        month: month_sales,
        by_day,
        by_status,
        top,
        low,
        folio,
        outbox: crate::notify::health(db).await?,
    })
}

/// Escapes text for SVG.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Revenue by day as bars: 90 of them, the tallest the chart's height, a line and a figure for
/// the highest day; one `<title>` per bar for a pointer's hover.
pub fn revenue_chart(f: &Figures) -> String {
    let (w, h, pad) = (720.0_f64, 180.0_f64, 24.0_f64);
    let best = f.by_day.iter().map(|(_, s)| s.revenue_minor).max().unwrap_or(0).max(0);
    // The bars' scale (never zero); the title says the real best day.
    let most = best.max(1) as f64;
    let step = w / f.by_day.len().max(1) as f64;
    let mut bars = String::new();
    for (i, (day, s)) in f.by_day.iter().enumerate() {
        let bh = (s.revenue_minor.max(0) as f64 / most * (h - pad)).round();
        let x = i as f64 * step;
        bars.push_str(&format!(
            r#"<rect x="{x:.1}" y="{y:.1}" width="{bw:.1}" height="{bh:.1}"><title>{d}: {r}, {n} order{plural}</title></rect>"#,
            y = h - bh,
            bw = (step - 1.5).max(1.0),
            d = crate::orders::date(*day),
            r = esc(&display(s.revenue_minor, f.currency)),
            n = s.orders,
            plural = if s.orders == 1 { "" } else { "s" },
        ));
    }
    format!(
        r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-labelledby="revenue-chart-title" preserveAspectRatio="none"><title id="revenue-chart-title">Revenue by day over the last {DAYS} days; the best day brought {top}</title><line class="chart__rule" x1="0" y1="{pad}" x2="{w}" y2="{pad}"/><g class="chart__bars">{bars}</g><line class="chart__axis" x1="0" y1="{h}" x2="{w}" y2="{h}"/></svg>"#,
        top = esc(&display(best, f.currency)),
    )
}

/// Orders by state as horizontal bars, each labelled with its state and count.
pub fn status_chart(f: &Figures) -> String {
    let shown: Vec<&(OrderStatus, i64)> = f.by_status.iter().filter(|(_, n)| *n > 0).collect();
    let most = shown.iter().map(|(_, n)| *n).max().unwrap_or(1).max(1) as f64;
    let (w, row) = (720.0_f64, 26.0_f64);
    let label_w = 230.0;
    let mut out = String::new();
    for (i, (status, n)) in shown.iter().enumerate() {
        let y = i as f64 * row;
        let bw = (*n as f64 / most * (w - label_w - 60.0)).max(2.0);
        out.push_str(&format!(
            r#"<text class="chart__label" x="0" y="{ty:.1}">{label}</text><rect x="{label_w}" y="{y:.1}" width="{bw:.1}" height="{bh:.1}"/><text class="chart__value" x="{vx:.1}" y="{ty:.1}">{n}</text>"#,
            ty = y + row * 0.65,
            label = esc(status_name(*status)),
            bh = row - 8.0,
            vx = label_w + bw + 8.0,
        ));
    }
    let h = (shown.len().max(1) as f64 * row).max(row);
    format!(
        r#"<svg class="chart chart--bars" viewBox="0 0 {w} {h}" role="img" aria-labelledby="status-chart-title"><title id="status-chart-title">Orders placed in the last {DAYS} days, by state</title>{out}</svg>"#
    )
}

/// A state's short name for staff.
fn status_name(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::PendingPayment => "Awaiting payment",
        OrderStatus::Paid => "Paid, to pack",
        OrderStatus::Fulfilled => "Packed",
        OrderStatus::Shipped => "Shipped",
        OrderStatus::Delivered => "Delivered",
        OrderStatus::Cancelled => "Cancelled",
        OrderStatus::Expired => "Expired",
        OrderStatus::Refunded => "Refunded",
    }
}

/// The dashboard: sales, revenue (VAT apart), the average basket, top essences, low stock, the
/// Folio's subscribers and the outbox, with charts.
#[utoipa::path(get, path = "/staff/dashboard", tag = "staff",
    security(("staff_session" = ["reports.view"])),
    responses((status = 200, description = "The dashboard.", content_type = "text/html")))]
async fn dashboard_page(State(state): State<AppState>, Extension(staff): Extension<Staff>) -> ApiResult<Response> {
    let f = figures(&state.db, crate::ids::now()).await?;
    let money = |m: i64| display(m, f.currency);
    let sales = |s: &Sales| {
        json!({
            "orders": s.orders, "revenue": money(s.revenue_minor), "vat": money(s.vat_minor),
            "net": money(s.revenue_minor - s.vat_minor), "average": money(s.average_minor()),
        })
    };
    let weeks: Vec<_> = f
        .by_day
        .chunks(7)
        .map(|w| {
            let mut s = Sales::default();
            for (_, d) in w {
                s.add(d);
            }
            json!({ "from": crate::orders::date(w[0].0), "orders": s.orders, "revenue": money(s.revenue_minor) })
        })
        .collect();
    let ctx = json!({
        "today": sales(&f.today),
        "month": sales(&f.month),
        "revenue_chart": revenue_chart(&f),
        "status_chart": status_chart(&f),
        "weeks": weeks,
        "by_status": f.by_status.iter().map(|(s, n)| json!({ "status": status_name(*s), "count": n })).collect::<Vec<_>>(),
        "top": f.top.iter().map(|(name, bottles, revenue)| json!({ "name": name, "bottles": bottles, "revenue": money(*revenue) })).collect::<Vec<_>>(),
        "low": f.low.iter().map(|(name, sku, available)| json!({ "name": name, "sku": sku, "available": available })).collect::<Vec<_>>(),
        "folio": { "active": f.folio.0, "paused": f.folio.1, "past_due": f.folio.2, "churned": f.folio.3 },
        "outbox": {
            "pending": f.outbox.pending,
            "oldest_minutes": f.outbox.oldest_pending_seconds / 60,
            "failed": f.outbox.failed,
            "stuck": f.outbox.oldest_pending_seconds > crate::http::meta::OUTBOX_STUCK_SECONDS,
        },
        "days": DAYS,
    });
    Ok(console(&state, &staff, "Dashboard", "pages/staff/dashboard.html", ctx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_month_and_quarter_start_where_the_calendar_says() {
        let t = atelier_domain::ships_at("2026-11-17").unwrap() + 13 * 3600;
        let (d, m, q) = starts(t);
        assert_eq!(crate::orders::date(d), "2026-11-17");
        assert_eq!(crate::orders::date(m), "2026-11-01");
        assert_eq!(crate::orders::date(q), "2026-10-01");
        let (_, _, q) = starts(atelier_domain::ships_at("2027-03-31").unwrap());
        assert_eq!(crate::orders::date(q), "2027-01-01");
    }

    #[test]
    fn charts_are_titled_and_escape_what_they_draw() {
        let f = Figures {
            currency: Currency::Eur,
            today: Sales::default(),
            month: Sales::default(),
            by_day: vec![(0, Sales { orders: 1, revenue_minor: 2400, vat_minor: 400 }), (86_400, Sales::default())],
            by_status: vec![(OrderStatus::Paid, 3), (OrderStatus::Expired, 0)],
            top: vec![],
            low: vec![],
            folio: (0, 0, 0, 0),
            outbox: Default::default(),
        };
        let chart = revenue_chart(&f);
        assert!(chart.contains(r#"role="img""#) && chart.contains("the best day brought €24.00"), "{chart}");
        assert!(chart.contains("<title>1970-01-01: €24.00, 1 order</title>"), "{chart}");
        assert_eq!(chart.matches("<rect").count(), 2);
        let bars = status_chart(&f);
        assert!(bars.contains("Paid, to pack") && !bars.contains("Expired"), "states with no order are left out");
    }
}
