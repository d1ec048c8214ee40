//! Webhooks are the truth about money: verified, applied once, in any order.

mod common;

use atelier_checkout::payments::webhook::signature_header;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{Engine, TestShop};
use stripe_standin::objects as stripe_objects;

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

/// An event about an order's session (or, for `charge.refunded`, its charge, which carries the
/// order id its payment intent was given).
fn event(id: &str, kind: &str, order: &str, session: &str, paid: bool) -> String {
    let object = if kind == "charge.refunded" {
        stripe_objects::charge("ch_1", Some("pi_1"), 5180, "eur", serde_json::json!({ "order_id": order }), true)
    } else {
        stripe_objects::session(session, order, paid, paid.then_some("pi_1"))
    };
    stripe_objects::event(id, kind, object).to_string()
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
    assert_eq!(shop.status(&order).await, "paid");
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
    assert_eq!(shop.status(&order).await, "paid");
    assert_eq!((shop.on_hand("LAV-10").await, shop.available("LAV-10").await), (3, 3));
    // A refund moves it on; a late success after the refund does not move it back.
    signed(&shop, &event("evt_c", "charge.refunded", &order, &session, true)).await;
    assert_eq!(shop.status(&order).await, "refunded");
    signed(&shop, &event("evt_d", "checkout.session.async_payment_succeeded", &order, &session, true)).await;
    assert_eq!(shop.status(&order).await, "refunded");

    // Expired first, then paid (the payment landed late): sold only if the stock is still there.
    let (order2, session2) = open_order(&shop).await;
    signed(&shop, &event("evt_e", "checkout.session.expired", &order2, &session2, false)).await;
    assert_eq!(shop.available("LAV-10").await, 5, "released");
    signed(&shop, &event("evt_f", "checkout.session.completed", &order2, &session2, true)).await;
    assert_eq!(shop.status(&order2).await, "paid");
    assert_eq!(shop.on_hand("LAV-10").await, 3);
    // An unpaid completion (async payment pending) leaves the order waiting.
    let (order3, session3) = open_order(&shop).await;
    signed(&shop, &event("evt_g", "checkout.session.completed", &order3, &session3, false)).await;
    assert_eq!(shop.status(&order3).await, "pending_payment");
    signed(&shop, &event("evt_h", "checkout.session.async_payment_failed", &order3, &session3, false)).await;
    assert_eq!(shop.status(&order3).await, "cancelled");
    assert_eq!(shop.available("LAV-10").await, 5);
});

on_both_engines!(payments_that_cannot_be_honoured, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    // Paid after its reservation lapsed and someone else bought the last bottles: not sold
    // twice; the order is flagged for a refund and staff are told, once.
    let (late, late_session) = open_order(&shop).await;
    signed(&shop, &event("evt_x1", "checkout.session.expired", &late, &late_session, false)).await;
    shop.set_stock("LAV-10", 1).await;
    let r = signed(&shop, &event("evt_p2", "checkout.session.completed", &late, &late_session, true)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(shop.status(&late).await, "expired");
    assert_eq!(shop.on_hand("LAV-10").await, 1, "the one bottle left is not sold to a two-bottle order");
    assert_eq!(shop.count("select refund_needed from customer_order where order_id = (select order_id from customer_order where status = 'expired')").await, 1);
    assert_eq!(shop.count("select count(*) from outbox where kind = 'refund_needed'").await, 1);
    signed(&shop, &event("evt_p3", "checkout.session.async_payment_succeeded", &late, &late_session, true)).await;
    assert_eq!(shop.count("select count(*) from outbox where kind = 'refund_needed'").await, 1, "told once");

    // A session that charged another amount than the order's total does not make it paid: the
    // order is cancelled, its stock goes back, and staff are told to refund.
    shop.set_stock("LAV-10", 5).await;
    let (odd, odd_session) = open_order(&shop).await;
    assert_eq!(shop.available("LAV-10").await, 3);
    let mut body: serde_json::Value =
        serde_json::from_str(&event("evt_p4", "checkout.session.completed", &odd, &odd_session, true)).unwrap();
    body["data"]["object"]["amount_total"] = 1.into();
    body["data"]["object"]["currency"] = "eur".into();
    signed(&shop, &body.to_string()).await;
    assert_eq!(shop.status(&odd).await, "cancelled");
    assert_eq!(shop.available("LAV-10").await, 5);
    assert_eq!(shop.count("select count(*) from outbox where kind = 'refund_needed'").await, 2);
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
        (Some("garbage".to_string()), "t=…,v1=…"),
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
    assert_eq!(shop.status(&order).await, "pending_payment");
    assert_eq!(shop.count("select count(*) from webhook_event").await, 0, "nothing recorded");
    // Events about orders we do not have are acknowledged and ignored.
    let stranger = event("evt_y", "checkout.session.completed", "ord_unknown", "cs_unknown", true);
    assert_eq!(signed(&shop, &stranger).await.json()["result"], "ignored");
});

/// A `Stripe-Signature` for a body, made by the official Stripe SDK.
fn sdk_signature(body: &str) -> String {
    common::sdk_signature(SECRET, body)
}

/// Delivers an event signed by the official SDK.
async fn sdk_signed(shop: &TestShop, body: &serde_json::Value) -> common::Reply {
    let body = body.to_string();
    let r = deliver(shop, &body, Some(sdk_signature(&body))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r
}

// A refund can reach us before the payment it refunds (Stripe does not order its events):
// whether its charge carries our order id (from the payment intent's metadata) or only the
// payment intent, it is kept and applied once the payment arrives. Events signed by the
// official Stripe SDK, shaped as Stripe sends them.
on_both_engines!(a_refund_that_overtakes_its_payment_is_applied_after_it, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    for (case, metadata) in [("with our order id", true), ("with its payment intent only", false)] {
        let (order, session) = open_order(&shop).await;
        let intent = format!("pi_early_{}", &order[order.len() - 6..]);
        let meta = if metadata { serde_json::json!({ "order_id": order }) } else { serde_json::json!({}) };
        let charge = stripe_objects::charge(&format!("ch_{intent}"), Some(&intent), 4800, "eur", meta, true);
        let refund = stripe_objects::event(&format!("evt_refund_{intent}"), "charge.refunded", charge);
        let r = sdk_signed(&shop, &refund).await;
        assert_eq!(r.json()["result"], "deferred", "{case}: {}", r.body);
        assert_eq!(shop.status(&order).await, "pending_payment", "{case}");

        let paid = stripe_objects::session(&session, &order, true, Some(&intent));
        let paid = stripe_objects::event(&format!("evt_paid_{intent}"), "checkout.session.completed", paid);
        assert_eq!(sdk_signed(&shop, &paid).await.json()["result"], "applied", "{case}");
        assert_eq!(shop.status(&order).await, "refunded", "{case}: the refund applies after the payment");
        assert_eq!(
            (shop.on_hand("LAV-10").await, shop.available("LAV-10").await),
            (5, 5),
            "{case}: refunded before it was packed, its bottles go back on sale"
        );
        // Delivered again (Stripe retries), it changes nothing.
        assert_eq!(sdk_signed(&shop, &refund).await.json()["result"], "duplicate", "{case}");
    }
    assert_eq!(shop.count("select count(*) from outbox where kind = 'order_confirmation'").await, 0);
});

// The official Stripe SDK signs the event; our handler accepts it.
on_both_engines!(accepts_an_event_signed_by_the_official_stripe_sdk, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    let (order, session) = open_order(&shop).await;
    let body = event("evt_sdk", "checkout.session.completed", &order, &session, true);
    let r = deliver(&shop, &body, Some(sdk_signature(&body))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["result"], "applied");
    assert_eq!(shop.status(&order).await, "paid");
});

// The payment and its refund delivered at the same moment (Stripe retrying both after an
// outage), for many orders: every order ends refunded, whichever is applied first.
on_both_engines!(a_payment_and_its_refund_arriving_together_end_refunded, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 60).await;
    let mut orders = Vec::new();
    for _ in 0..12 {
        let cookie = shop.cart_with("LAV-10", 2).await;
        let started = shop.checkout(&cookie).await.json();
        let session = started["payment_url"].as_str().unwrap().trim_start_matches("/pay/").to_string();
        orders.push((started["order_id"].as_str().unwrap().to_string(), session));
    }
    let deliveries = orders.iter().enumerate().flat_map(|(i, (order, session))| {
        let intent = format!("pi_together_{i}");
        let paid = stripe_objects::event(
            &format!("evt_p_{i}"),
            "checkout.session.completed",
            stripe_objects::session(session, order, true, Some(&intent)),
        );
        let meta = serde_json::json!({ "order_id": order });
        let charge = stripe_objects::charge(&format!("ch_{i}"), Some(&intent), 5180, "eur", meta, true);
        let refund = stripe_objects::event(&format!("evt_r_{i}"), "charge.refunded", charge);
        [paid.to_string(), refund.to_string()]
    });
    let tasks: Vec<_> = deliveries
        .map(|body| {
            let state = shop.state.clone();
            tokio::spawn(async move {
                let req = Request::post("/api/webhooks/stripe")
                    .header("content-type", "application/json")
                    .header("stripe-signature", signature_header(SECRET, now(), body.as_bytes()))
                    .body(Body::from(body))
                    .unwrap();
                common::call(&state, req).await
            })
        })
        .collect();
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    for (order, _) in &orders {
        assert_eq!(shop.status(order).await, "refunded", "{order}");
    }
    assert_eq!(shop.count("select count(*) from early_refund").await, 0, "nothing left kept");
    assert_eq!(
        shop.available("LAV-10").await
            + 2 * shop.count("select count(*) from customer_order where stock_state = 'committed'").await,
        60
    );
});

// Staff refund an order they were told to (paid after its stock had gone): Stripe's event marks
// it refunded, and the flag is cleared.
on_both_engines!(a_refund_staff_were_asked_for_closes_the_matter, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    let (order, session) = open_order(&shop).await;
    signed(&shop, &event("evt_x", "checkout.session.expired", &order, &session, false)).await;
    shop.set_stock("LAV-10", 1).await;
    signed(&shop, &event("evt_p", "checkout.session.completed", &order, &session, true)).await;
    assert_eq!(shop.count("select refund_needed from customer_order").await, 1);
    let r = signed(&shop, &event("evt_r", "charge.refunded", &order, &session, true)).await;
    assert_eq!(r.json()["result"], "applied", "{}", r.body);
    assert_eq!(shop.status(&order).await, "refunded");
    assert_eq!(shop.count("select refund_needed from customer_order").await, 0);
});

// A refund kept by its payment intent alone, whose payment was being applied at that moment,
// is applied by the workers once the intent names the paid order.
on_both_engines!(a_refund_kept_by_its_intent_is_settled_by_the_workers, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    let (order, session) = open_order(&shop).await;
    let paid = stripe_objects::event(
        "evt_p",
        "checkout.session.completed",
        stripe_objects::session(&session, &order, true, Some("pi_raced")),
    );
    assert_eq!(signed(&shop, &paid.to_string()).await.json()["result"], "applied");
    // As the refund's transaction left it when it committed alongside the payment's.
    sqlx::query("insert into early_refund (event_id, order_id, payment_intent, received_at) values ('evt_r', null, 'pi_raced', $1)")
        .bind(now())
        .execute(&shop.state.db.pool)
        .await
        .unwrap();
    assert_eq!(atelier_checkout::orders::settle_kept_refunds(&shop.state).await.unwrap(), 1);
    assert_eq!(shop.status(&order).await, "refunded");
    assert_eq!(shop.count("select count(*) from early_refund").await, 0);
});

// An event async-stripe cannot read (an API version whose shape it does not know: here a
// session without fields it requires) still pays its order, from the fields the shop uses.
on_both_engines!(an_event_of_another_api_version_still_applies, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    let (order, session) = open_order(&shop).await;
    let mut object = stripe_objects::session(&session, &order, true, Some("pi_other_version"));
    for gone in ["custom_fields", "custom_text", "automatic_tax"] {
        object.as_object_mut().unwrap().remove(gone);
    }
    let mut body = stripe_objects::event("evt_other", "checkout.session.completed", object);
    body["api_version"] = "2031-01-01.future".into();
    let r = signed(&shop, &body.to_string()).await;
    assert_eq!(r.json()["result"], "applied", "{}", r.body);
    assert_eq!(shop.status(&order).await, "paid");
    // One of a type the shop does not act on is recorded and left alone.
    let other = serde_json::json!({ "id": "evt_t", "object": "event", "type": "customer.created", "created": now(),
        "livemode": false, "pending_webhooks": 1, "data": { "object": { "id": "cus_1" } } });
    assert_eq!(signed(&shop, &other.to_string()).await.json()["result"], "ignored");
});

/// The README tells which API version to give Stripe's webhook endpoint: the one async-stripe
/// reads.
#[test]
fn the_readme_names_the_api_version_the_service_reads() {
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).unwrap();
    let version = atelier_checkout::payments::webhook::api_version();
    assert!(readme.contains(&format!("`{version}`")), "README.md should name {version}");
}
