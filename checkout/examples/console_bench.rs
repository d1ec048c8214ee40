//! The staff console at scale: a fresh database (SQLite or PostgreSQL) filled with 100,000
//! orders, 20,000 customer accounts (and 5,000 guests) and a million stock-ledger rows, then
//! each console page asked for many times through the service's router, as a signed-in owner
//! would; prints p50, p99 and the slowest, in milliseconds. `benches/console.sh` runs it on both
//! engines.
//!
//!   console_bench CATALOG.json sqlite|postgres [ORDERS] [RUNS]
//!
//! PostgreSQL is reached at `DATABASE_URL_POSTGRES` (a database of its own is made and dropped).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use atelier_checkout::config::ServiceConfig;
use atelier_checkout::db::{Db, Engine};
use atelier_checkout::staff::audit::Actor;
use atelier_checkout::AppState;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

const CUSTOMERS: i64 = 20_000;
const GUESTS: i64 = 5_000;
const LEDGER: i64 = 1_000_000;
const BATCH: i64 = 50_000;

fn pad6(engine: Engine, expr: &str) -> String {
    match engine {
        Engine::Sqlite => format!("substr('000000' || ({expr}), -6, 6)"),
        Engine::Postgres => format!("lpad(({expr})::text, 6, '0')"),
    }
}

/// Runs `body` (an `insert … select … from n`) over `n.i` from `from` to `to`, in batches.
async fn series(db: &Db, from: i64, to: i64, body: &str) {
    let mut start = from;
    while start <= to {
        let end = (start + BATCH - 1).min(to);
        let sql = format!(
            "with recursive n(i) as (select cast({start} as bigint) union all select i + 1 from n where i < {end}) {body}"
        );
        let mut tx = db.begin_write().await.expect("a write");
        sqlx::query(&sql).execute(&mut **tx).await.unwrap_or_else(|e| panic!("{e}\n{sql}"));
        tx.commit().await.expect("commit");
        start = end + 1;
    }
}

async fn fill(db: &Db, orders: i64, skus: &[String]) {
    let now = atelier_checkout::ids::now();
    let e = db.engine;
    let sku = |expr: &str| {
        let arms: String = skus.iter().enumerate().map(|(k, s)| format!(" when {k} then '{s}'")).collect();
        format!("case ({expr}) % {}{arms} end", skus.len())
    };
    series(
        db,
        0,
        CUSTOMERS - 1,
        "insert into account (account_id, email, name, password_hash, password_changed_at, created_at, updated_at)
         select 'acc_' || i, 'customer' || i || '@example.com', 'Customer ' || i || ' Lovelace', 'x', 0, 0, 0 from n",
    )
    .await;
    // Order i belongs to customer i % 25,000: accounts below 20,000, guests above; ten minutes
    // apart, the newest now; a mix of states, a few to refund.
    let who = format!("(i % {})", CUSTOMERS + GUESTS);
    let status = "case i % 20 when 0 then 'pending_payment' when 1 then 'cancelled' when 2 then 'expired' \
                  when 3 then 'refunded' when 4 then 'paid' when 5 then 'paid' when 6 then 'fulfilled' \
                  when 7 then 'fulfilled' when 8 then 'shipped' when 9 then 'shipped' else 'delivered' end";
    let created = format!("({now} - ({orders} - i) * 600)");
    let order_sql = format!(
        "insert into customer_order (order_id, number, email, name, address, country, shipping_method, status, currency,
           subtotal_minor, shipping_minor, vat_minor, total_minor, payment_provider, payment_session, payment_intent,
           stock_state, created_at, updated_at, expires_at, paid_at, refund_needed, account_id)
         select 'ord_' || i, 'AA-2026-' || {num}, 
                case when {who} < {CUSTOMERS} then 'customer' || {who} || '@example.com' else 'guest' || {who} || '@example.com' end,
                'Customer ' || {who} || ' Lovelace', '{{}}', 'FR', 'standard', {status}, 'EUR',
                2400 * (1 + i % 3), 690, (2400 * (1 + i % 3) + 690) / 6, 2400 * (1 + i % 3) + 690, 'sandbox',
                'cs_' || i, 'pi_' || i, 'committed', {created}, {created}, {created} + 1800,
                case when i % 20 in (0, 1, 2) then null else {created} + 60 end,
                case when i % 997 = 0 then 1 else 0 end,
                case when {who} < {CUSTOMERS} then 'acc_' || {who} else null end
         from n",
        num = pad6(e, "i"),
    );
    series(db, 1, orders, &order_sql).await;
    let item_sql = format!(
        "insert into order_item (order_id, sku, title, label, unit_minor, quantity)
         select 'ord_' || i, {sku}, 'Essence', '10 ml', 2400, 1 + i % 3 from n",
        sku = sku("i"),
    );
    series(db, 1, orders, &item_sql).await;
    let ledger_sql = format!(
        "insert into stock_ledger (entry_id, sku, at, delta, on_hand_after, reason, actor, actor_label)
         select 'led_' || i, {sku}, {now} - ({LEDGER} - i) * 60, 1, 100, 'count', 'shell:bench', 'bench' from n",
        sku = sku("i / 7"),
    );
    series(db, 1, LEDGER, &ledger_sql).await;
    sqlx::query("analyze").execute(&db.pool).await.expect("analyze");
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(catalog), Some(engine)) = (args.first(), args.get(1)) else {
        eprintln!("usage: console_bench CATALOG.json sqlite|postgres [ORDERS] [RUNS]");
        std::process::exit(2);
    };
    let orders: i64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let runs: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(200);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let admin =
        std::env::var("DATABASE_URL_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let pg_name = format!("atelier_console_{}", std::process::id());
    let url = match engine.as_str() {
        "sqlite" => format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display()),
        "postgres" => {
            let admin_db = Db::connect(&admin).await.expect("PostgreSQL");
            sqlx::query(&format!("create database {pg_name}")).execute(&admin_db.pool).await.expect("create database");
            format!("{}/{pg_name}", admin.rsplit_once('/').map(|(a, _)| a).unwrap_or(&admin))
        }
        other => panic!("no engine {other}: sqlite or postgres"),
    };
    let db = Db::connect(&url).await.expect("connect");
    db.migrate().await.expect("migrate");
    let export = std::fs::read_to_string(catalog).expect("the catalog export");
    let export = serde_json::from_str(&export).expect("a catalog export");
    atelier_checkout::catalog::sync(&db, &export).await.expect("catalog sync");
    let skus: Vec<String> = sqlx::query_scalar("select sku from product where active = 1 order by sku")
        .fetch_all(&db.pool)
        .await
        .expect("skus");
    let started = Instant::now();
    fill(&db, orders, &skus).await;
    eprintln!(
        "{engine}: {orders} orders, {CUSTOMERS} accounts and {GUESTS} guests, {LEDGER} ledger rows made in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let config = ServiceConfig::embedded(dir.path().to_path_buf(), &url);
    let state = AppState::new(db.clone(), config, dir.path()).await.expect("state");
    let owner = atelier_checkout::staff::members::add(
        &state,
        &Actor::Shell { user: "bench".into() },
        "owner@example.com",
        "Owner",
        "owner",
    )
    .await
    .expect("an owner");
    let device = atelier_checkout::accounts::session::Device { user_agent: "bench".into(), client: "127.0.0.1".into() };
    let changed: i64 = sqlx::query_scalar("select password_changed_at from account where account_id = $1")
        .bind(&owner.account_id)
        .fetch_one(&db.pool)
        .await
        .expect("the owner's account");
    let token = atelier_checkout::accounts::session::start(&db, &owner.account_id, changed, &device, None, true)
        .await
        .expect("a session")
        .expect("a session");
    let cookie = format!("atelier_session={token}");

    let pages = [
        ("order list", "/staff/orders".to_string()),
        ("orders to pack", "/staff/orders?status=paid".to_string()),
        ("orders to refund", "/staff/orders?refund=1".to_string()),
        ("order search, e-mail", "/staff/orders?q=customer12345%40example.com".to_string()),
        ("order search, number", format!("/staff/orders?q=AA-2026-{:06}", orders / 2)),
        ("order search, last digits", "/staff/orders?q=4242".to_string()),
        ("order search, name", "/staff/orders?q=customer+777+".to_string()),
        ("an order", format!("/staff/orders/AA-2026-{:06}", orders / 3)),
        ("customer look-up, address", "/staff/customers?q=customer1234%40example.com".to_string()),
        ("customer look-up, its start", "/staff/customers?q=customer1234%40".to_string()),
        ("customer look-up, name", "/staff/customers?q=customer+4321".to_string()),
        ("a customer", "/staff/customers/one?email=customer4321%40example.com".to_string()),
        ("dashboard", "/staff/dashboard".to_string()),
        ("stock", "/staff/stock".to_string()),
    ];
    let app = atelier_checkout::app(state.clone());
    println!("{engine}, {orders} orders: {runs} requests each (ms)");
    println!("{:<28} {:>8} {:>8} {:>8}", "page", "p50", "p99", "max");
    for (label, path) in pages {
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let mut req = Request::get(&path).header("cookie", &cookie).body(Body::empty()).expect("a request");
            req.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
            let t = Instant::now();
            let res = app.clone().oneshot(req).await.expect("an answer");
            let status = res.status();
            let body = res.into_body().collect().await.expect("a body").to_bytes();
            times.push(t.elapsed());
            assert_eq!(status, StatusCode::OK, "{path}: {}", String::from_utf8_lossy(&body));
        }
        times.sort();
        println!(
            "{label:<28} {:>8.2} {:>8.2} {:>8.2}",
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            percentile(&times, 1.0)
        );
    }
    drop(app);
    drop(state);
    db.pool.close().await;
    if engine == "postgres" {
        let admin_db = Db::connect(&admin).await.expect("PostgreSQL");
        let _ = sqlx::query(&format!("drop database if exists {pg_name} with (force)")).execute(&admin_db.pool).await;
    }
}
