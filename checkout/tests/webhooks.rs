//! Webhooks are the truth about money: verified, applied once, in any order.

mod common;

use atelier_checkout::webhooks::signature_header;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{Engine, TestShop};

const SECRET: &str = "whsec_test_secret";

fn now() -> i64 {
    atelier_checkout::ids::now()
}

/// An open order for 2 × LAV-10: (order id, session id).
async fn open_order(shop: &TestShop) -> (String, String) {
    shop.set_stock("LAV-10", 5).await;
    let cookie = shop.cart_with("LAV-10", 2).await;
    let started = shop.checkout(&cookie).await.json();
    let session = started["payment_url"].as_str().unwrap().trim_start_matches("/pay/").to_string();
    (started["order_id"].as_str().unwrap().to_string(), session)
}

fn event(id: &str, kind: &str, order: &str, session: &str, paid: bool) -> String {
    serde_json::json!({
        "id": id, "object": "event", "type": kind, "created": now(),
        "data": { "object": {
            "id": session, "object": "checkout.session", "client_reference_id": order, "metadata": { "order_id": order },
            "payment_status": if paid { "paid" } else { "unpaid" }, "payment_intent": "pi_1",
        }},
    })
    .to_string()
}

async fn deliver(shop: &TestShop, body: &str, header: Option<String>) -> common::Reply {
    let mut b = Request::post("/api/webhooks/stripe").header("content-type", "application/json");
    if let Some(h) = header {
        b = b.header("stripe-signature", h);
    }
    shop.call(b.body(Body::from(body.to_string())).unwrap()).await
}

async fn signed(shop: &TestShop, body: &str) -> common::Reply {
    deliver(shop, body, Some(signature_header(SECRET, now(), body.as_bytes()))).await
}

async fn status(shop: &TestShop, order: &str) -> String {
    sqlx::query_scalar("select status from customer_order where order_id = $1")
        .bind(order)
        .fetch_one(&shop.state.db.pool)
        .await
        .unwrap()
}

on_both_engines!(duplicates_apply_once, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    let (order, session) = open_order(&shop).await;
    let body = event("evt_paid_1", "checkout.session.completed", &order, &session, true);
    let mut results = Vec::new();
    for _ in 0..5 {
        let r = signed(&shop, &body).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        results.push(r.json()["result"].as_str().unwrap().to_string());
    }
    assert_eq!(results, ["applied", "duplicate", "duplicate", "duplicate", "duplicate"]);
    assert_eq!(status(&shop, &order).await, "paid");
    assert_eq!(shop.on_hand("LAV-10").await, 3, "sold once");
    assert_eq!(shop.count("select count(*) from outbox where kind = 'order_confirmation'").await, 1);
    // The same payment reported by a second event id (Stripe retries with new ids are not a thing,
    // but a second kind of success event is) still fulfils once.
    let again = event("evt_paid_2", "checkout.session.async_payment_succeeded", &order, &session, true);
    assert_eq!(signed(&shop, &again).await.json()["result"], "ignored");
    assert_eq!(shop.on_hand("LAV-10").await, 3);
});

on_both_engines!(out_of_order_and_late_events_never_undo, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    let (order, session) = open_order(&shop).await;
    signed(&shop, &event("evt_a", "checkout.session.completed", &order, &session, true)).await;
    // An expiry arriving after the payment changes nothing.
    assert_eq!(
        signed(&shop, &event("evt_b", "checkout.session.expired", &order, &session, false)).await.json()["result"],
        "ignored"
    );
    assert_eq!(status(&shop, &order).await, "paid");
    assert_eq!((shop.on_hand("LAV-10").await, shop.available("LAV-10").await), (3, 3));
    // A refund moves it on; a late success after the refund does not move it back.
    signed(&shop, &event("evt_c", "charge.refunded", &order, &session, true)).await;
    assert_eq!(status(&shop, &order).await, "refunded");
    signed(&shop, &event("evt_d", "checkout.session.async_payment_succeeded", &order, &session, true)).await;
    assert_eq!(status(&shop, &order).await, "refunded");

    // Expired first, then paid (the payment landed late): sold only if the stock is still there.
    let (order2, session2) = open_order(&shop).await;
    signed(&shop, &event("evt_e", "checkout.session.expired", &order2, &session2, false)).await;
    assert_eq!(shop.available("LAV-10").await, 5, "released");
    signed(&shop, &event("evt_f", "checkout.session.completed", &order2, &session2, true)).await;
    assert_eq!(status(&shop, &order2).await, "paid");
    assert_eq!(shop.on_hand("LAV-10").await, 3);
    // An unpaid completion (async payment pending) leaves the order waiting.
    let (order3, session3) = open_order(&shop).await;
    signed(&shop, &event("evt_g", "checkout.session.completed", &order3, &session3, false)).await;
    assert_eq!(status(&shop, &order3).await, "pending_payment");
    signed(&shop, &event("evt_h", "checkout.session.async_payment_failed", &order3, &session3, false)).await;
    assert_eq!(status(&shop, &order3).await, "cancelled");
    assert_eq!(shop.available("LAV-10").await, 5);
});

on_both_engines!(bad_signatures_and_bodies_change_nothing, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    let (order, session) = open_order(&shop).await;
    let body = event("evt_x", "checkout.session.completed", &order, &session, true);
    let cases = [
        (None, "missing Stripe-Signature"),
        (Some(signature_header("whsec_wrong", now(), body.as_bytes())), "does not match"),
        (Some(signature_header(SECRET, now() - 301, body.as_bytes())), "s old"),
        (Some(signature_header(SECRET, now(), b"something else")), "does not match"),
        (Some("garbage".to_string()), "no timestamp"),
    ];
    for (header, message) in cases {
        let r = deliver(&shop, &body, header).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.json()["error"], "bad_signature");
        assert!(r.json()["message"].as_str().unwrap().contains(message), "{}", r.body);
    }
    let not_json = "{ this is not json";
    let r = signed(&shop, not_json).await;
    assert_eq!((r.status, r.json()["error"].as_str()), (StatusCode::BAD_REQUEST, Some("bad_request")));
    assert_eq!(status(&shop, &order).await, "pending_payment");
    assert_eq!(shop.count("select count(*) from webhook_event").await, 0, "nothing recorded");
    // Events about orders we do not have are acknowledged and ignored.
    let stranger = event("evt_y", "checkout.session.completed", "ord_unknown", "cs_unknown", true);
    assert_eq!(signed(&shop, &stranger).await.json()["result"], "ignored");
});

/// The official Stripe SDK signs the event; our handler accepts it.
#[tokio::test]
async fn accepts_an_event_signed_by_the_official_stripe_sdk() {
    let shop = TestShop::new(Engine::Sqlite).await;
    let (order, session) = open_order(&shop).await;
    let body = event("evt_sdk", "checkout.session.completed", &order, &session, true);
    let tool = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/tools/stripe_sign.py");
    let mut child = std::process::Command::new("python3")
        .arg(tool)
        .arg(SECRET)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "stripe_sign.py failed (pip install -r tests/tools/requirements.txt): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let header = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(header.starts_with("t=") && header.contains(",v1="), "{header}");
    let r = deliver(&shop, &body, Some(header)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["result"], "applied");
    assert_eq!(status(&shop, &order).await, "paid");
}
