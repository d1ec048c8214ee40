//! However many buyers race for the last bottles, exactly as many as there are get them: on
//! SQLite, and on PostgreSQL with two service instances sharing the database (here two states
//! in one process; `tests/instances.rs` races two `atelier checkout` processes).

mod common;

use axum::http::StatusCode;
use common::{Engine, TestShop};

const BUYERS: usize = 120;
const BOTTLES: i64 = 7;

async fn race(shops: Vec<TestShop>) {
    shops[0].set_stock("ROSE-2", BOTTLES).await;
    // Every buyer fills a cart first (carts check stock, but do not reserve it).
    let mut carts = Vec::new();
    for i in 0..BUYERS {
        carts.push(shops[i % shops.len()].cart_with("ROSE-2", 1).await);
    }
    let shops = std::sync::Arc::new(shops);
    let mut tasks = Vec::new();
    for (i, cookie) in carts.into_iter().enumerate() {
        let shops = shops.clone();
        tasks.push(tokio::spawn(async move {
            let shop = &shops[i % shops.len()];
            let r = shop.checkout(&cookie).await;
            if r.status != StatusCode::CREATED {
                assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
                return false;
            }
            let url = r.json()["payment_url"].as_str().unwrap().to_string();
            let paid = shop.form(&url, "action=pay", None).await;
            assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.body);
            true
        }));
    }
    let mut won = 0;
    for t in tasks {
        if t.await.unwrap() {
            won += 1;
        }
    }
    let shop = &shops[0];
    assert_eq!(won, BOTTLES, "exactly as many buyers as bottles");
    assert_eq!(shop.count("select count(*) from customer_order where status = 'paid'").await, BOTTLES);
    assert_eq!((shop.on_hand("ROSE-2").await, shop.available("ROSE-2").await), (0, 0));
    let negative =
        shop.count("select count(*) from stock where on_hand < 0 or reserved < 0 or reserved > on_hand").await;
    assert_eq!(negative, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_last_bottles_on_sqlite() {
    race(vec![TestShop::new(Engine::Sqlite).await]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_last_bottles_on_postgres_with_two_instances() {
    let first = TestShop::new(Engine::Postgres).await;
    let second = first.second_instance().await;
    race(vec![first, second]).await;
}

on_both_engines!(a_transaction_dropped_while_it_begins_leaves_no_stuck_connection, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    // Callers dropped at every point of their BEGIN (a client gone, a worker stopped): the
    // connections they held go back to the pool outside any transaction.
    for polls in 0..240u32 {
        let db = shop.state.db.clone();
        let begin = tokio::spawn(async move { db.begin_write().await.map(|_| ()) });
        for _ in 0..polls % 12 {
            tokio::task::yield_now().await;
        }
        begin.abort();
        let _ = begin.await;
    }
    for _ in 0..20 {
        let mut tx = shop.state.db.begin_write().await.expect("a transaction begins");
        sqlx::query("update counter set value = value where name = 'order'").execute(&mut **tx).await.unwrap();
        tx.commit().await.unwrap();
    }
});
