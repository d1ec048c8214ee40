//! Payments through Stripe: async-stripe against a local stand-in that speaks Stripe's wire
//! format, events delivered over HTTP to the running service.

mod common;

use atelier_checkout::config::{PaymentMode, Secret};
use axum::http::StatusCode;
use common::{stripe_shop, Engine, TestShop};
use stripe_standin::StripeStandIn;

const WEBHOOK_SECRET: &str = "whsec_test_secret";

on_both_engines!(a_stripe_payment_from_session_to_confirmation, |engine: Engine| async move {
    let stripe = StripeStandIn::start(WEBHOOK_SECRET).await;
    let (shop, url) = stripe_shop(engine, &stripe.url).await;
    stripe.deliver_to(&format!("{url}/api/webhooks/stripe"));
    shop.set_stock("LAV-10", 5).await;
    shop.set_stock("ROSE-2", 1).await;
    let cookie = shop.cart_with("LAV-10", 2).await;
    let r = shop.json("POST", "/api/cart/items", r#"{"sku":"ROSE-2","quantity":1}"#, Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let r = shop.checkout(&cookie).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let started = r.json();
    let order = started["order_id"].as_str().unwrap().to_string();
    let payment_url = started["payment_url"].as_str().unwrap();
    assert!(payment_url.starts_with(&format!("{}/c/pay/cs_test_", stripe.url)), "Stripe's hosted page: {payment_url}");
    assert_eq!(shop.available("LAV-10").await, 3, "reserved while Stripe's page is open");

    // What async-stripe sent: our prices (never the browser's), the e-mail, our order id.
    let sent = stripe.received();
    assert_eq!(sent.len(), 1);
    let create = &sent[0];
    assert_eq!(create.route, "POST /v1/checkout/sessions");
    assert_eq!(create.field("mode"), Some("payment"));
    assert_eq!(create.field("customer_email"), Some("ada@example.com"));
    assert_eq!(create.field("metadata[order_id]"), Some(order.as_str()));
    assert_eq!(create.field("client_reference_id"), Some(order.as_str()));
    assert_eq!(
        create.field("payment_intent_data[metadata][order_id]"),
        Some(order.as_str()),
        "the payment intent, and so its charge, names the order"
    );
    let lines: Vec<(String, String, String)> = (0..3)
        .map(|i| {
            let f = |k: &str| create.field(&format!("line_items[{i}][{k}]")).unwrap_or("").to_string();
            (f("price_data][product_data][name"), f("price_data][unit_amount"), f("quantity"))
        })
        .collect();
    assert_eq!(lines[0], ("Provence Lavender — 10 ml".into(), "2400".into(), "2".into()));
    assert_eq!(lines[1], ("Bulgarian Rose Otto — 2 ml".into(), "9500".into(), "1".into()));
    assert_eq!(lines[2], (String::new(), String::new(), String::new()), "free shipping above €80: no shipping line");
    assert_eq!(create.field("line_items[0][price_data][currency]"), Some("eur"));
    let expires: i64 = create.field("expires_at").unwrap().parse().unwrap();
    assert!(expires >= atelier_checkout::ids::now() + 1790, "Stripe's 30-minute minimum");
    assert!(create.field("success_url").unwrap().contains(&format!("/orders/{order}?token=")));
    assert!(create.field("cancel_url").is_some());

    // The pending order page offers the way back to Stripe's page.
    let order_page = shop.get(started["order_url"].as_str().unwrap(), None).await;
    let session_in_url = payment_url.rsplit('/').next().unwrap();
    assert!(
        order_page.body.contains("Continue to payment") && order_page.body.contains(session_in_url),
        "a continue-to-payment link: {}",
        order_page.body
    );
    // There is no sandbox pay page when Stripe takes the money, and no free "paid" button.
    let session = shop.count("select count(*) from customer_order where payment_session like 'cs_test_standin%'").await;
    assert_eq!(session, 1);
    let session_id: String = sqlx::query_scalar("select payment_session from customer_order where order_id = $1")
        .bind(&order)
        .fetch_one(&shop.state.db.pool)
        .await
        .unwrap();
    assert_eq!(shop.get(&format!("/pay/{session_id}"), None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(shop.form(&format!("/pay/{session_id}"), "action=pay", None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(shop.status(&order).await, "pending_payment");

    // The shopper pays on Stripe; the signed event comes over HTTP.
    assert_eq!(stripe.pay(&session_id).await, 200);
    assert_eq!(shop.status(&order).await, "paid");
    assert_eq!((shop.available("LAV-10").await, shop.on_hand("LAV-10").await), (3, 3), "sold");
    assert_eq!(shop.on_hand("ROSE-2").await, 0);
    assert_eq!(shop.count("select count(*) from outbox where kind = 'order_confirmation'").await, 1);
    let intent: String = sqlx::query_scalar("select payment_intent from customer_order where order_id = $1")
        .bind(&order)
        .fetch_one(&shop.state.db.pool)
        .await
        .unwrap();
    assert!(intent.starts_with("pi_standin_"));

    // A refund at Stripe reaches the order through the charge's payment intent.
    assert_eq!(stripe.refund(&session_id).await, 200);
    assert_eq!(shop.status(&order).await, "refunded");
});

on_both_engines!(unpaid_stripe_sessions_are_expired_at_stripe_then_released, |engine: Engine| async move {
    let stripe = StripeStandIn::start(WEBHOOK_SECRET).await;
    let (shop, url) = stripe_shop(engine, &stripe.url).await;
    stripe.deliver_to(&format!("{url}/api/webhooks/stripe"));
    shop.set_stock("LAV-30", 2).await;
    let cookie = shop.cart_with("LAV-30", 2).await;
    let started = shop.checkout(&cookie).await.json();
    let order = started["order_id"].as_str().unwrap().to_string();
    assert_eq!(shop.available("LAV-30").await, 0);
    sqlx::query("update customer_order set expires_at = 0").execute(&shop.state.db.pool).await.unwrap();

    assert_eq!(atelier_checkout::payments::expire_due(&shop.state).await.unwrap(), 1);
    let routes: Vec<String> = stripe.received().into_iter().map(|r| r.route).collect();
    assert!(routes.iter().any(|r| r.ends_with("/expire")), "{routes:?}");
    assert_eq!(shop.status(&order).await, "expired");
    assert_eq!(shop.available("LAV-30").await, 2, "released");
    // Stripe's own `checkout.session.expired` arriving afterwards changes nothing.
    let session_id: String = sqlx::query_scalar("select payment_session from customer_order where order_id = $1")
        .bind(&order)
        .fetch_one(&shop.state.db.pool)
        .await
        .unwrap();
    assert_eq!(stripe.send_event("checkout.session.expired", stripe.session(&session_id)).await, 200);
    assert_eq!(shop.available("LAV-30").await, 2);
    // A second sweep finds nothing to do, on this instance or another.
    assert_eq!(atelier_checkout::payments::expire_due(&shop.state).await.unwrap(), 0);
});

on_both_engines!(a_session_paid_just_before_expiry_is_not_released, |engine: Engine| async move {
    let stripe = StripeStandIn::start(WEBHOOK_SECRET).await;
    let (shop, url) = stripe_shop(engine, &stripe.url).await;
    shop.set_stock("LAV-10", 1).await;
    let cookie = shop.cart_with("LAV-10", 1).await;
    let started = shop.checkout(&cookie).await.json();
    let order = started["order_id"].as_str().unwrap().to_string();
    let session_id: String = sqlx::query_scalar("select payment_session from customer_order where order_id = $1")
        .bind(&order)
        .fetch_one(&shop.state.db.pool)
        .await
        .unwrap();
    // Paid at Stripe, but the event has not reached us yet when the sweep runs.
    stripe.deliver_to(&format!("{url}/api/webhooks/nowhere"));
    stripe.pay(&session_id).await;
    sqlx::query("update customer_order set expires_at = 0").execute(&shop.state.db.pool).await.unwrap();
    assert_eq!(atelier_checkout::payments::expire_due(&shop.state).await.unwrap(), 0);
    assert_eq!(shop.status(&order).await, "pending_payment", "Stripe said complete: the stock stays held");
    assert_eq!(shop.available("LAV-10").await, 0);
    // Then the event arrives.
    stripe.deliver_to(&format!("{url}/api/webhooks/stripe"));
    assert_eq!(stripe.send_event("checkout.session.completed", stripe.session(&session_id)).await, 200);
    assert_eq!(shop.status(&order).await, "paid");
    assert_eq!(shop.on_hand("LAV-10").await, 0);
});

on_both_engines!(stripe_unreachable_cancels_the_order_and_keeps_the_cart, |engine: Engine| async move {
    // Nothing listens on port 9 of loopback.
    let (shop, _) = stripe_shop(engine, "http://127.0.0.1:9").await;
    shop.set_stock("LAV-10", 3).await;
    let cookie = shop.cart_with("LAV-10", 2).await;
    let r = shop.checkout(&cookie).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.body);
    let body = r.json();
    assert_eq!(body["error"], "payment_provider");
    assert!(body["message"].as_str().unwrap().contains("nothing was charged"));
    assert!(!r.body.contains("127.0.0.1"), "no internal detail in the answer: {}", r.body);
    assert_eq!(shop.available("LAV-10").await, 3, "the reservation was given back");
    assert_eq!(shop.count("select count(*) from customer_order where status = 'cancelled'").await, 1);
    assert_eq!(shop.get("/api/cart", Some(&cookie)).await.json()["count"], 2, "the cart is kept");
});

on_both_engines!(a_wrong_key_is_a_provider_error_not_a_crash, |engine: Engine| async move {
    let stripe = StripeStandIn::start(WEBHOOK_SECRET).await;
    let base = stripe.url.clone();
    let shop = TestShop::configured(engine, move |c| {
        c.payments = PaymentMode::Stripe {
            secret_key: Secret::new("sk_test_wrong"),
            checkout_origin: base.clone(),
            api_base: base,
        };
    })
    .await;
    shop.set_stock("LAV-10", 1).await;
    let cookie = shop.cart_with("LAV-10", 1).await;
    let r = shop.checkout(&cookie).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.body);
    assert_eq!(shop.available("LAV-10").await, 1);
});

on_both_engines!(a_changed_checkout_closes_the_stripe_session_it_replaces, |engine: Engine| async move {
    let stripe = StripeStandIn::start(WEBHOOK_SECRET).await;
    let (shop, url) = stripe_shop(engine, &stripe.url).await;
    stripe.deliver_to(&format!("{url}/api/webhooks/stripe"));
    shop.set_stock("LAV-30", 2).await;
    let cookie = shop.cart_with("LAV-30", 2).await;
    let first = shop.checkout(&cookie).await.json();
    let again = shop.checkout(&cookie).await.json();
    assert_eq!(again["payment_url"], first["payment_url"], "the same checkout is the same session");
    assert_eq!(stripe.received().len(), 1, "one session opened");

    // Express instead: Stripe closes the first session before its bottles go to the second.
    let express = common::ADDRESS.replace("standard", "express");
    let r = shop.json("POST", "/api/checkout", &express, Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let routes: Vec<String> = stripe.received().into_iter().map(|r| r.route).collect();
    assert!(routes[1].ends_with("/expire"), "{routes:?}");
    assert_eq!(shop.status(first["order_id"].as_str().unwrap()).await, "cancelled");
    assert_eq!(shop.available("LAV-30").await, 0, "held once, by the new order");

    // Paid at Stripe meanwhile: the checkout is refused, nothing is released or held twice.
    let second = r.json();
    let session = second["payment_url"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    stripe.complete_quietly(&session);
    let r = shop.checkout(&cookie).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(shop.status(second["order_id"].as_str().unwrap()).await, "pending_payment");
    assert_eq!(shop.available("LAV-30").await, 0);
});

on_both_engines!(a_refund_at_stripe_that_overtakes_its_payment_is_applied_after_it, |engine: Engine| async move {
    let stripe = StripeStandIn::start(WEBHOOK_SECRET).await;
    let (shop, url) = stripe_shop(engine, &stripe.url).await;
    stripe.deliver_to(&format!("{url}/api/webhooks/stripe"));
    shop.set_stock("LAV-10", 3).await;
    let cookie = shop.cart_with("LAV-10", 2).await;
    let started = shop.checkout(&cookie).await.json();
    let order = started["order_id"].as_str().unwrap().to_string();
    let session = started["payment_url"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    // Paid and refunded at Stripe; the refund's event arrives first.
    let paid = stripe.complete_quietly(&session);
    assert_eq!(stripe.refund(&session).await, 200);
    assert_eq!(shop.status(&order).await, "pending_payment");
    assert_eq!(stripe.send_event("checkout.session.completed", paid).await, 200);
    assert_eq!(shop.status(&order).await, "refunded");
    assert_eq!(shop.available("LAV-10").await, 3, "its bottles back on sale");
});

on_both_engines!(a_catalog_in_pounds_is_charged_in_pounds, |engine: Engine| async move {
    let stripe = StripeStandIn::start(WEBHOOK_SECRET).await;
    let (shop, url) = stripe_shop(engine, &stripe.url).await;
    stripe.deliver_to(&format!("{url}/api/webhooks/stripe"));
    atelier_checkout::catalog::sync(&shop.state.db, &common::catalog_in(atelier_domain::Currency::Gbp)).await.unwrap();
    shop.set_stock("LAV-10", 3).await;
    let cookie = shop.cart_with("LAV-10", 1).await;
    let cart = shop.get("/api/cart", Some(&cookie)).await.json();
    assert_eq!(
        (cart["subtotal"]["currency"].as_str(), cart["subtotal"]["display"].as_str()),
        (Some("GBP"), Some("£24.00"))
    );
    let shipping = shop.get("/api/shipping", None).await.json();
    assert_eq!(shipping["methods"][0]["price"]["currency"], "GBP");
    let started = shop.checkout(&cookie).await.json();
    let create = stripe.received().into_iter().next().unwrap();
    assert_eq!(create.field("line_items[0][price_data][currency]"), Some("gbp"));
    assert_eq!(create.field("line_items[1][price_data][currency]"), Some("gbp"), "shipping too");
    let order = started["order_id"].as_str().unwrap().to_string();
    let session = started["payment_url"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    assert_eq!(stripe.pay(&session).await, 200);
    assert_eq!(shop.status(&order).await, "paid", "the payment in pounds matches the order");
    let view = shop.get(&started["order_url"].as_str().unwrap().replace("/orders/", "/api/orders/"), None).await.json();
    assert_eq!((view["currency"].as_str(), view["total"].as_str()), (Some("GBP"), Some("£30.90")));
});

on_both_engines!(a_checkout_does_not_replace_one_whose_session_is_being_opened, |engine: Engine| async move {
    let stripe = StripeStandIn::start(WEBHOOK_SECRET).await;
    let (shop, url) = stripe_shop(engine, &stripe.url).await;
    stripe.deliver_to(&format!("{url}/api/webhooks/stripe"));
    shop.set_stock("LAV-10", 3).await;
    let cookie = shop.cart_with("LAV-10", 2).await;
    stripe.delay_sessions(std::time::Duration::from_millis(400));
    // The shopper submits, then (impatient) changes the shipping and submits again while
    // Stripe is still opening the first session.
    let express = common::ADDRESS.replace("standard", "express");
    let (first, second) = tokio::join!(shop.checkout(&cookie), async {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        shop.json("POST", "/api/checkout", &express, Some(&cookie)).await
    });
    assert_eq!(
        (first.status, second.status),
        (StatusCode::CREATED, StatusCode::CREATED),
        "{} {}",
        first.body,
        second.body
    );
    // Only the open order's session can still take money; the first was closed at Stripe.
    let open = stripe.open_sessions();
    assert_eq!(open.len(), 1, "{open:?}");
    assert!(second.json()["payment_url"].as_str().unwrap().ends_with(&open[0]));
    assert_eq!(shop.status(first.json()["order_id"].as_str().unwrap()).await, "cancelled");
    assert_eq!(shop.available("LAV-10").await, 1, "two bottles held, once");
});
