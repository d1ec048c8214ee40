//! The Folio's subscriptions: one per account and plan however often one clicks, and a state
//! that comes only from the provider's verified events, whatever their order and however often
//! they come.

mod common;

use atelier_checkout::checkout::AddressInput;
use atelier_checkout::folio::{self, Subscribe};
use atelier_checkout::payments::webhook::signature_header;
use atelier_domain::SubscriptionStatus;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{Engine, TestShop};
use serde_json::Value;
use stripe_standin::objects::{self as stripe_objects, SubscriptionState};

const SECRET: &str = "whsec_test_secret";
const DAY: i64 = 86_400;

fn address() -> AddressInput {
    AddressInput {
        name: "Ada Lovelace".into(),
        line1: "12 St James's Square".into(),
        city: "Dublin".into(),
        postal_code: "D02 X285".into(),
        country: "IE".into(),
        ..AddressInput::default()
    }
}

async fn account(shop: &TestShop, id: &str) {
    sqlx::query(
        "insert into account (account_id, email, name, password_hash, password_changed_at, created_at, updated_at)
         values ($1, $2, 'Ada', 'x', 0, 0, 0)",
    )
    .bind(id)
    .bind(format!("{id}@example.com"))
    .execute(&shop.state.db.pool)
    .await
    .unwrap();
}

fn ask<'a>(account: &'a str, address: &'a AddressInput) -> Subscribe<'a> {
    Subscribe { account_id: account, plan_id: "quarterly", address, provider: "sandbox", another: false }
}

async fn deliver(shop: &TestShop, event: &Value) -> String {
    let body = event.to_string();
    let header = signature_header(SECRET, atelier_checkout::ids::now(), body.as_bytes());
    deliver_signed(shop, body, header).await
}

/// Delivers an event's body with the given `Stripe-Signature`; the handler's result.
async fn deliver_signed(shop: &TestShop, body: String, header: String) -> String {
    let req = Request::post("/api/webhooks/stripe")
        .header("content-type", "application/json")
        .header("stripe-signature", header)
        .body(Body::from(body))
        .unwrap();
    let r = shop.call(req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()["result"].as_str().unwrap().to_string()
}

async fn subscription(shop: &TestShop, id: &str) -> folio::Subscription {
    folio::load(&shop.state.db, id).await.unwrap().unwrap()
}

on_both_engines!(a_double_click_makes_one_subscription, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    account(&shop, "acc_1").await;
    let a = address();
    let one = ask("acc_1", &a);
    let (x, y) = tokio::join!(folio::begin(&shop.state.db, &one), folio::begin(&shop.state.db, &one));
    let (x, y) = (x.unwrap(), y.unwrap());
    assert_eq!(x.subscription_id, y.subscription_id);
    assert_eq!((x.status, x.price_minor, x.ship_to.country.as_str()), (SubscriptionStatus::Pending, 6400, "IE"));
    assert_eq!(shop.count("select count(*) from subscription").await, 1);

    // Once it is paid, a second one is refused unless asked for.
    let now = atelier_checkout::ids::now();
    let paid = stripe_objects::subscription_session("cs_1", &x.subscription_id, "sub_1", "cus_1", true);
    assert_eq!(
        deliver(&shop, &stripe_objects::event_at("evt_s", "checkout.session.completed", paid, now)).await,
        "applied"
    );
    let again = folio::begin(&shop.state.db, &ask("acc_1", &a)).await.unwrap_err();
    assert!(again.to_string().contains("already subscribe"), "{again}");
    let second = folio::begin(&shop.state.db, &Subscribe { another: true, ..ask("acc_1", &a) }).await.unwrap();
    assert_ne!(second.subscription_id, x.subscription_id);

    // A bad address or plan is a clear refusal.
    let bad = AddressInput { postal_code: "12".into(), ..address() };
    let e = folio::begin(&shop.state.db, &ask("acc_1", &bad)).await.unwrap_err();
    assert!(e.to_string().starts_with("postal_code"), "{e}");
    let e = folio::begin(&shop.state.db, &Subscribe { plan_id: "monthly", ..ask("acc_1", &a) }).await.unwrap_err();
    assert!(e.to_string().contains("no Folio plan `monthly`"), "{e}");
});

/// The events of a first payment, as Stripe sends them around a subscription's start (the
/// subscription made incomplete, its first invoice paid, it turning active, the session done).
fn first_payment(ours: &str, sub: &str, t0: i64, period: (i64, i64)) -> Vec<Value> {
    let state = |status| SubscriptionState { status, period, cancel_at_period_end: false, paused: None };
    let object = |status| stripe_objects::subscription(sub, ours, "cus_1", "price_q", &state(status));
    vec![
        stripe_objects::event_at(&format!("evt_{sub}_c"), "customer.subscription.created", object("incomplete"), t0),
        stripe_objects::event_at(
            &format!("evt_{sub}_i"),
            "invoice.paid",
            stripe_objects::invoice(&format!("in_{sub}"), sub, ours, 6400, period, true, 1),
            t0 + 1,
        ),
        stripe_objects::event_at(&format!("evt_{sub}_u"), "customer.subscription.updated", object("active"), t0 + 1),
        stripe_objects::event_at(
            &format!("evt_{sub}_s"),
            "checkout.session.completed",
            stripe_objects::subscription_session(&format!("cs_{sub}"), ours, sub, "cus_1", true),
            t0 + 1,
        ),
    ]
}

on_both_engines!(first_payment_in_any_order_and_repeated, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    let t0 = atelier_checkout::ids::now() - 60;
    let period = (t0, t0 + 90 * DAY);
    // Every order of the four events, each event delivered five times in a row.
    let orders: [[usize; 4]; 6] = [[0, 1, 2, 3], [3, 2, 1, 0], [1, 0, 3, 2], [2, 3, 0, 1], [1, 3, 2, 0], [3, 0, 1, 2]];
    for (n, order) in orders.iter().enumerate() {
        let acc = format!("acc_{n}");
        account(&shop, &acc).await;
        let pending = folio::begin(&shop.state.db, &ask(&acc, &address())).await.unwrap();
        let events = first_payment(&pending.subscription_id, &format!("sub_{n}"), t0, period);
        for &i in order {
            let mut results = Vec::new();
            for _ in 0..5 {
                results.push(deliver(&shop, &events[i]).await);
            }
            assert!(results[1..].iter().all(|r| r == "duplicate"), "{order:?}: {results:?}");
        }
        let s = subscription(&shop, &pending.subscription_id).await;
        assert_eq!(s.status, SubscriptionStatus::Active, "order {order:?}");
        assert_eq!((s.current_period_start, s.current_period_end), (Some(period.0), Some(period.1)), "order {order:?}");
        assert_eq!(s.provider_subscription_id.as_deref(), Some(format!("sub_{n}").as_str()));
        let invoices = folio::invoices(&shop.state.db, &s.subscription_id).await.unwrap();
        assert_eq!(invoices.len(), 1);
        assert_eq!((invoices[0].status.as_str(), invoices[0].amount_minor), ("paid", 6400));
        assert!(folio::paid_for(&shop.state.db, &s.subscription_id, t0 + 30 * DAY).await.unwrap());
        assert!(!folio::paid_for(&shop.state.db, &s.subscription_id, t0 + 91 * DAY).await.unwrap());
    }
});

// Stripe's official SDK signs a subscription's events as Stripe would; the handler takes them,
// and a copy whose body was changed after signing is refused.
on_both_engines!(subscription_events_signed_by_the_official_stripe_sdk, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    account(&shop, "acc_1").await;
    let ours = folio::begin(&shop.state.db, &ask("acc_1", &address())).await.unwrap().subscription_id;
    let t0 = atelier_checkout::ids::now() - 60;
    for e in first_payment(&ours, "sub_sdk", t0, (t0, t0 + 91 * DAY)) {
        let body = e.to_string();
        let header = common::sdk_signature(SECRET, &body);
        assert_eq!(deliver_signed(&shop, body, header).await, "applied", "{e}");
    }
    assert_eq!(subscription(&shop, &ours).await.status, SubscriptionStatus::Active);
    let state = SubscriptionState {
        status: "active",
        period: (t0, t0 + 91 * DAY),
        cancel_at_period_end: false,
        paused: Some(None),
    };
    let paused = stripe_objects::event_at(
        "evt_sdk_pause",
        "customer.subscription.updated",
        stripe_objects::subscription("sub_sdk", &ours, "cus_1", "price_q", &state),
        t0 + 5,
    )
    .to_string();
    let header = common::sdk_signature(SECRET, &paused);
    let tampered = paused.replace("\"void\"", "\"keep_as_draft\"");
    assert_ne!(tampered, paused);
    let req = Request::post("/api/webhooks/stripe")
        .header("content-type", "application/json")
        .header("stripe-signature", &header)
        .body(Body::from(tampered))
        .unwrap();
    assert_eq!(shop.call(req).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(subscription(&shop, &ours).await.status, SubscriptionStatus::Active, "a tampered event changes nothing");
    assert_eq!(deliver_signed(&shop, paused, header).await, "applied");
    assert_eq!(subscription(&shop, &ours).await.status, SubscriptionStatus::Paused);
});

on_both_engines!(later_events_win_whatever_arrives_first, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    account(&shop, "acc_1").await;
    let ours = folio::begin(&shop.state.db, &ask("acc_1", &address())).await.unwrap().subscription_id;
    let t0 = atelier_checkout::ids::now() - 3600;
    let period = (t0, t0 + 90 * DAY);
    for e in first_payment(&ours, "sub_1", t0, period) {
        deliver(&shop, &e).await;
    }
    let at = |status, paused, cancel| SubscriptionState { status, period, cancel_at_period_end: cancel, paused };
    let event = |id: &str, kind: &str, state: SubscriptionState<'_>, t: i64| {
        stripe_objects::event_at(id, kind, stripe_objects::subscription("sub_1", &ours, "cus_1", "price_q", &state), t)
    };
    // Paused at t0+10 until a date, resumed at t0+20: the resume arrives first; the pause, older,
    // changes nothing.
    let resumed = event("evt_resume", "customer.subscription.resumed", at("active", None, false), t0 + 20);
    let paused =
        event("evt_pause", "customer.subscription.updated", at("active", Some(Some(t0 + 200 * DAY)), false), t0 + 10);
    assert_eq!(deliver(&shop, &resumed).await, "applied");
    assert_eq!(deliver(&shop, &paused).await, "ignored");
    assert_eq!(subscription(&shop, &ours).await.status, SubscriptionStatus::Active);

    // Paused (newer): paused, with its end.
    let paused =
        event("evt_pause2", "customer.subscription.updated", at("active", Some(Some(t0 + 200 * DAY)), false), t0 + 30);
    assert_eq!(deliver(&shop, &paused).await, "applied");
    let s = subscription(&shop, &ours).await;
    assert_eq!((s.status, s.pause_resumes_at), (SubscriptionStatus::Paused, Some(t0 + 200 * DAY)));

    // Cancelled at t0+50; an update of t0+40 arriving after it, and one of the same second as
    // the cancellation, do not revive it.
    let deleted = event("evt_del", "customer.subscription.deleted", at("canceled", None, false), t0 + 50);
    let late = event("evt_late", "customer.subscription.updated", at("active", None, true), t0 + 40);
    let tie = event("evt_tie", "customer.subscription.updated", at("active", None, false), t0 + 50);
    for e in [&deleted, &late, &tie, &deleted] {
        deliver(&shop, e).await;
    }
    let s = subscription(&shop, &ours).await;
    assert_eq!(s.status, SubscriptionStatus::Cancelled);
    assert!(s.cancelled_at.is_some());
});

on_both_engines!(a_failed_renewal_then_its_payment, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    account(&shop, "acc_1").await;
    let ours = folio::begin(&shop.state.db, &ask("acc_1", &address())).await.unwrap().subscription_id;
    let t0 = atelier_checkout::ids::now() - 100 * DAY;
    let first = (t0, t0 + 90 * DAY);
    for e in first_payment(&ours, "sub_1", t0, first) {
        deliver(&shop, &e).await;
    }
    let second = (first.1, first.1 + 90 * DAY);
    let renewal = |paid, attempts| stripe_objects::invoice("in_2", "sub_1", &ours, 6400, second, paid, attempts);
    let failed = stripe_objects::event_at("evt_f", "invoice.payment_failed", renewal(false, 1), second.0 + 10);
    let paid = stripe_objects::event_at("evt_p", "invoice.paid", renewal(true, 2), second.0 + 3 * DAY);
    assert_eq!(deliver(&shop, &failed).await, "applied");
    let s = subscription(&shop, &ours).await;
    assert_eq!(s.status, SubscriptionStatus::PastDue);
    assert!(!folio::paid_for(&shop.state.db, &ours, second.0 + 20).await.unwrap(), "no edition while unpaid");
    let invoices = folio::invoices(&shop.state.db, &ours).await.unwrap();
    assert_eq!((invoices[0].status.as_str(), invoices[0].next_attempt_at), ("failed", Some(second.0 + 3 * DAY)));

    assert_eq!(deliver(&shop, &paid).await, "applied");
    // The failure delivered again afterwards (Stripe retries deliveries) changes nothing.
    let failed_again = stripe_objects::event_at("evt_f2", "invoice.payment_failed", renewal(false, 1), second.0 + 10);
    assert_eq!(deliver(&shop, &failed_again).await, "ignored");
    let s = subscription(&shop, &ours).await;
    assert_eq!((s.status, s.current_period_end), (SubscriptionStatus::Active, Some(second.1)));
    assert!(folio::paid_for(&shop.state.db, &ours, second.0 + 20).await.unwrap());
});

on_both_engines!(events_not_about_our_subscriptions_are_ignored, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    let state = SubscriptionState { status: "active", period: (0, 1), cancel_at_period_end: false, paused: None };
    let foreign = stripe_objects::subscription("sub_x", "sub_unknown", "cus_x", "price_x", &state);
    let e = stripe_objects::event("evt_x", "customer.subscription.updated", foreign);
    assert_eq!(deliver(&shop, &e).await, "ignored");
    let e = stripe_objects::event(
        "evt_y",
        "invoice.paid",
        stripe_objects::invoice("in_x", "sub_x", "nope", 1, (0, 1), true, 1),
    );
    assert_eq!(deliver(&shop, &e).await, "ignored");
    // A subscription event without its object's fields is a clear 400, not a silent skip.
    let body = stripe_objects::event("evt_z", "invoice.paid", serde_json::json!({ "object": "invoice" })).to_string();
    let header = signature_header(SECRET, atelier_checkout::ids::now(), body.as_bytes());
    let req = Request::post("/api/webhooks/stripe").header("stripe-signature", header).body(Body::from(body)).unwrap();
    let r = shop.call(req).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("invoice.paid"), "{}", r.body);
});

/// When the test catalog's edition (spring-2027) ships.
fn spring() -> i64 {
    atelier_domain::ships_at("2027-03-01").unwrap()
}

/// A subscription of `acc`, paid for `period` (and paused afterwards when asked).
async fn paid_subscription(shop: &TestShop, acc: &str, period: (i64, i64), paused: bool) -> String {
    account(shop, acc).await;
    let ours = folio::begin(&shop.state.db, &ask(acc, &address())).await.unwrap().subscription_id;
    let sub = format!("sub_{acc}");
    for e in first_payment(&ours, &sub, period.0, period) {
        deliver(shop, &e).await;
    }
    if paused {
        let state = SubscriptionState { status: "active", period, cancel_at_period_end: false, paused: Some(None) };
        let object = stripe_objects::subscription(&sub, &ours, "cus_1", "price_q", &state);
        let e =
            stripe_objects::event_at(&format!("evt_{acc}_p"), "customer.subscription.updated", object, period.0 + 5);
        assert_eq!(deliver(shop, &e).await, "applied");
    }
    ours
}

/// Makes subscriptions' ages distinct, oldest first as given.
async fn ages(shop: &TestShop, subscriptions: &[&str]) {
    for (i, s) in subscriptions.iter().enumerate() {
        sqlx::query("update subscription set created_at = $1 where subscription_id = $2")
            .bind(1_000 + i64::try_from(i).unwrap())
            .bind(s)
            .execute(&shop.state.db.pool)
            .await
            .unwrap();
    }
}

async fn edition_orders(shop: &TestShop) -> Vec<(String, String)> {
    sqlx::query_as(
        "select subscription_id, status from customer_order where subscription_id is not null order by subscription_id",
    )
    .fetch_all(&shop.state.db.pool)
    .await
    .unwrap()
}

on_both_engines!(each_edition_once_on_two_instances_and_after_a_crash, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    let other = shop.second_instance().await;
    shop.set_stock("LAV-10", 50).await;
    shop.set_stock("ROSE-2", 50).await;
    let t = spring();
    let covering = (t - 10 * DAY, t + 80 * DAY);
    let a = paid_subscription(&shop, "acc_a", covering, false).await;
    let b = paid_subscription(&shop, "acc_b", covering, false).await;
    let paused = paid_subscription(&shop, "acc_p", covering, true).await;
    let before = paid_subscription(&shop, "acc_e", (t - 100 * DAY, t - 10 * DAY), false).await;
    account(&shop, "acc_w").await;
    folio::begin(&shop.state.db, &ask("acc_w", &address())).await.unwrap();
    assert_eq!(subscription(&shop, &paused).await.status, SubscriptionStatus::Paused);

    // Not before its day.
    assert!(folio::delivery::deliver_as_of(&shop.state, t - 1).await.unwrap().is_empty());
    assert_eq!(edition_orders(&shop).await, []);

    // A run cut short (the task dropped wherever it was, its transaction with it), then two
    // instances at once, then again: each paid, unpaused subscription once.
    let state = shop.state.clone();
    let cut = tokio::spawn(async move { folio::delivery::deliver_as_of(&state, t + 3600).await });
    tokio::task::yield_now().await;
    cut.abort();
    let _ = cut.await;
    let (x, y) = tokio::join!(
        folio::delivery::deliver_as_of(&shop.state, t + 3600),
        folio::delivery::deliver_as_of(&other.state, t + 3600)
    );
    let delivered: usize = x.unwrap().iter().chain(y.unwrap().iter()).map(|r| r.delivered).sum();
    assert!(delivered <= 2, "{delivered}");
    assert!(folio::delivery::deliver_as_of(&other.state, t + 7200).await.unwrap().iter().all(|r| r.short == 0));
    let mut want = vec![(a.clone(), "paid".to_string()), (b.clone(), "paid".to_string())];
    want.sort();
    assert_eq!(edition_orders(&shop).await, want, "not the paused one {paused}, nor the one paid before {before}");
    assert_eq!(shop.count("select count(*) from edition_delivery").await, 2);
    assert_eq!(shop.count("select count(*) from outbox where kind = 'folio_edition'").await, 2);
    assert_eq!((shop.on_hand("LAV-10").await, shop.on_hand("ROSE-2").await), (48, 48));

    // The order: nothing to pay, the edition's bottles, the subscriber's address and account;
    // it moves through the usual steps.
    let (number, total, account_id): (String, i64, Option<String>) =
        sqlx::query_as("select number, total_minor, account_id from customer_order where subscription_id = $1")
            .bind(&a)
            .fetch_one(&shop.state.db.pool)
            .await
            .unwrap();
    assert_eq!((total, account_id.as_deref()), (0, Some("acc_a")));
    let lines: Vec<(String, i64, i64)> = sqlx::query_as(
        "select i.sku, i.unit_minor, i.quantity from order_item i join customer_order o on o.order_id = i.order_id
         where o.number = $1 order by i.sku",
    )
    .bind(&number)
    .fetch_all(&shop.state.db.pool)
    .await
    .unwrap();
    assert_eq!(lines, [("LAV-10".to_string(), 0, 1), ("ROSE-2".to_string(), 0, 1)]);
    let key = &shop.state.keys.link;
    let url = &shop.state.config.public_url;
    let fulfilled = atelier_checkout::orders::advance(
        &shop.state.db,
        key,
        url,
        &number,
        &atelier_checkout::orders::Step::Fulfil,
        &atelier_checkout::staff::audit::Actor::shell(),
    )
    .await
    .unwrap();
    assert_eq!(fulfilled.status, atelier_checkout::orders::OrderStatus::Fulfilled);

    // The e-mail: the edition's own text in the house layout, to the subscriber.
    let (recipient, text, html): (String, String, String) = sqlx::query_as(
        "select recipient, body_text, body_html from outbox natural join outbox_body where dedupe_key = $1",
    )
    .bind(format!("folio-edition:{a}:spring-2027"))
    .fetch_one(&shop.state.db.pool)
    .await
    .unwrap();
    assert_eq!(recipient, "acc_a@example.com");
    assert!(text.contains("Four essences of the spring & a leaflet.") && text.contains(&number), "{text}");
    assert!(html.contains("<p>Four essences of the spring &amp; a leaflet.</p>"), "{html}");
});

on_both_engines!(the_oldest_are_served_first_when_stock_runs_short, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 50).await;
    shop.set_stock("ROSE-2", 2).await;
    let t = spring();
    let covering = (t - 10 * DAY, t + 80 * DAY);
    let young = paid_subscription(&shop, "acc_y", covering, false).await;
    let old = paid_subscription(&shop, "acc_o", covering, false).await;
    let middle = paid_subscription(&shop, "acc_m", covering, false).await;
    ages(&shop, &[&old, &middle, &young]).await;

    let runs = folio::delivery::deliver_as_of(&shop.state, t).await.unwrap();
    assert_eq!((runs[0].delivered, runs[0].short), (2, 1));
    let served: Vec<String> = edition_orders(&shop).await.into_iter().map(|(s, _)| s).collect();
    let mut want = vec![old.clone(), middle.clone()];
    want.sort();
    assert_eq!(served, want);
    assert_eq!((shop.on_hand("ROSE-2").await, shop.on_hand("LAV-10").await), (0, 48), "nothing taken for the third");
    let alert: String =
        sqlx::query_scalar("select body_text from outbox natural join outbox_body where kind = 'folio_shortfall'")
            .fetch_one(&shop.state.db.pool)
            .await
            .unwrap();
    assert!(alert.contains("1 more subscriber ") && alert.contains("(ROSE-2): 0 available, 1 more needed"), "{alert}");
    assert!(!alert.contains("LAV-10"), "{alert}");

    // Again: no second alert for the same shortfall, nothing new.
    let runs = folio::delivery::deliver_as_of(&shop.state, t + 60).await.unwrap();
    assert_eq!((runs[0].delivered, runs[0].short), (0, 1));
    assert_eq!(shop.count("select count(*) from outbox where kind = 'folio_shortfall'").await, 1);

    // Stock arrives: the one waiting is served, once.
    shop.set_stock("ROSE-2", 5).await;
    let runs = folio::delivery::deliver_as_of(&shop.state, t + 120).await.unwrap();
    assert_eq!((runs[0].delivered, runs[0].short), (1, 0));
    assert!(folio::delivery::deliver_as_of(&shop.state, t + 180).await.unwrap().is_empty());
    assert_eq!(edition_orders(&shop).await.len(), 3);
    assert_eq!(shop.count("select count(*) from outbox where kind = 'folio_edition'").await, 3);
});

/// Moves the sandbox's clock to `target` and runs what fell due.
async fn advance_to(shop: &TestShop, target: i64) -> folio::sandbox::Advanced {
    let now = folio::sandbox::clock(&shop.state).await.unwrap();
    folio::sandbox::advance(&shop.state, target - now).await.unwrap()
}

/// The test catalog with the given editions (each of both bottles) and the plan's price.
async fn sync_folio(shop: &TestShop, days: &[i64], price: i64) {
    let mut c = common::catalog();
    c.folio_plans[0].price = price;
    c.folio_editions = days
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            let (y, m, d) = atelier_domain::civil(t);
            atelier_domain::FolioEdition {
                slug: format!("edition-{i}"),
                path: format!("/folio/edition-{i}/"),
                date: format!("{y:04}-{m:02}-{d:02}"),
                ..c.folio_editions[0].clone()
            }
        })
        .collect();
    sqlx::query("delete from folio_edition where slug = 'spring-2027'").execute(&shop.state.db.pool).await.unwrap();
    atelier_checkout::catalog::sync(&shop.state.db, &c).await.unwrap();
}

/// The kinds of the Folio notices queued, sorted (several are queued in one second).
async fn notices(shop: &TestShop) -> Vec<String> {
    sqlx::query_scalar(
        "select kind from outbox where kind in ('folio_active', 'folio_paused', 'folio_ending', 'folio_past_due',
           'folio_cancelled') order by kind",
    )
    .fetch_all(&shop.state.db.pool)
    .await
    .unwrap()
}

/// The paid invoices of a subscription, oldest first: (period start, amount).
async fn paid_invoices(shop: &TestShop, id: &str) -> Vec<(i64, i64)> {
    let mut paid: Vec<(i64, i64)> = folio::invoices(&shop.state.db, id)
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.status == "paid")
        .map(|i| (i.period_start, i.amount_minor))
        .collect();
    paid.sort();
    paid
}

on_both_engines!(the_sandbox_bills_a_year_pause_resume_price_change_and_cancel, |engine: Engine| async move {
    use atelier_domain::add_months;
    use folio::{sandbox, Change};
    let shop = TestShop::new(engine).await;
    let other = shop.second_instance().await;
    shop.set_stock("LAV-10", 50).await;
    shop.set_stock("ROSE-2", 50).await;
    account(&shop, "acc_1").await;
    let s = folio::begin(&shop.state.db, &ask("acc_1", &address())).await.unwrap();
    let id = s.subscription_id.clone();
    // Paid on the sandbox's page (twice: a double click).
    sandbox::start(&shop.state, &s, true).await.unwrap();
    sandbox::start(&shop.state, &s, true).await.unwrap();
    let s = subscription(&shop, &id).await;
    assert_eq!(s.status, SubscriptionStatus::Active);
    let p0 = s.current_period_start.unwrap();
    let [p1, p2, p3] = [3, 6, 9].map(|m| add_months(p0, m));
    assert_eq!(s.current_period_end, Some(p1));
    assert_eq!(paid_invoices(&shop, &id).await, [(p0, 6400)]);
    // An edition a month into each of the first three periods.
    sync_folio(&shop, &[p0 + 30 * DAY, p1 + 30 * DAY, p2 + 30 * DAY], 6400).await;

    let a = advance_to(&shop, p0 + 31 * DAY).await;
    assert_eq!(a.editions.iter().map(|r| r.delivered).sum::<usize>(), 1);
    assert_eq!(notices(&shop).await, ["folio_active"], "welcome, once for the four events of the start");

    // Paused: the second period passes unbilled, and its edition does not come.
    sandbox::change(&shop.state, &s, Change::Pause { until: None }).await.unwrap();
    assert_eq!(subscription(&shop, &id).await.status, SubscriptionStatus::Paused);
    let a = advance_to(&shop, p1 + 31 * DAY).await;
    assert_eq!((a.billing.skipped, a.billing.renewed), (1, 0));
    assert!(a.editions.is_empty(), "{:?}", a.editions);
    assert_eq!(paid_invoices(&shop, &id).await, [(p0, 6400)]);
    assert_eq!(notices(&shop).await, ["folio_active", "folio_paused"], "a skipped period says nothing new");

    // Resumed: nothing billed now, the billing date kept; the skipped edition does not come.
    sandbox::change(&shop.state, &s, Change::Resume).await.unwrap();
    let resumed = subscription(&shop, &id).await;
    assert_eq!((resumed.status, resumed.current_period_end), (SubscriptionStatus::Active, Some(p2)));
    assert_eq!(paid_invoices(&shop, &id).await, [(p0, 6400)]);
    assert!(folio::delivery::deliver_due(&shop.state).await.unwrap().is_empty());
    assert_eq!(notices(&shop).await, ["folio_active", "folio_active", "folio_paused"]);
    let told: Vec<String> =
        sqlx::query_scalar("select body_text from outbox natural join outbox_body where kind = 'folio_active'")
            .fetch_all(&shop.state.db.pool)
            .await
            .unwrap();
    let billing_day = atelier_checkout::orders::written_date(p2);
    assert!(told.iter().any(|t| t.contains("Nothing is charged today") && t.contains(&billing_day)), "{told:?}");

    // The price in git changes: the next renewal charges it. Two instances renew at once.
    sync_folio(&shop, &[p0 + 30 * DAY, p1 + 30 * DAY, p2 + 30 * DAY], 7000).await;
    let now = sandbox::clock(&shop.state).await.unwrap();
    sqlx::query("update counter set value = value + $1 where name = 'sandbox_clock'")
        .bind(p2 + 31 * DAY - now)
        .execute(&shop.state.db.pool)
        .await
        .unwrap();
    let (x, y) = tokio::join!(sandbox::renew_due(&shop.state), sandbox::renew_due(&other.state));
    assert_eq!(x.unwrap().renewed + y.unwrap().renewed, 1);
    let (x, y) = tokio::join!(folio::delivery::deliver_due(&shop.state), folio::delivery::deliver_due(&other.state));
    let delivered: usize = x.unwrap().iter().chain(&y.unwrap()).map(|r| r.delivered).sum();
    assert_eq!(delivered, 1);
    assert_eq!(paid_invoices(&shop, &id).await, [(p0, 6400), (p2, 7000)]);
    let served: Vec<String> = sqlx::query_scalar(
        "select edition_slug from edition_delivery where subscription_id = $1 order by edition_slug",
    )
    .bind(&id)
    .fetch_all(&shop.state.db.pool)
    .await
    .unwrap();
    assert_eq!(served, ["edition-0", "edition-2"]);

    // Cancelled at the period's end: it runs to the end, then ends, billed no more.
    sandbox::change(&shop.state, &s, Change::Cancel { now: false }).await.unwrap();
    let s2 = subscription(&shop, &id).await;
    assert_eq!((s2.status, s2.cancel_at_period_end), (SubscriptionStatus::Active, true));
    assert_eq!(notices(&shop).await, ["folio_active", "folio_active", "folio_ending", "folio_paused"]);
    let a = advance_to(&shop, p3 + DAY).await;
    assert_eq!((a.billing.ended, a.billing.renewed), (1, 0));
    assert_eq!(subscription(&shop, &id).await.status, SubscriptionStatus::Cancelled);
    assert_eq!(paid_invoices(&shop, &id).await.len(), 2);
    assert_eq!(
        notices(&shop).await,
        ["folio_active", "folio_active", "folio_cancelled", "folio_ending", "folio_paused"]
    );
    let e = sandbox::change(&shop.state, &s, Change::Resume).await.unwrap_err();
    assert!(e.to_string().contains("ended"), "{e}");
});

on_both_engines!(a_declined_renewal_in_the_sandbox_then_a_mended_card, |engine: Engine| async move {
    use folio::sandbox;
    let shop = TestShop::new(engine).await;
    account(&shop, "acc_1").await;
    let s = folio::begin(&shop.state.db, &ask("acc_1", &address())).await.unwrap();
    sandbox::start(&shop.state, &s, true).await.unwrap();
    let p1 = subscription(&shop, &s.subscription_id).await.current_period_end.unwrap();
    assert!(sandbox::set_card_declines(&shop.state, &s.subscription_id, true).await.unwrap());
    let a = advance_to(&shop, p1 + DAY).await;
    assert_eq!(a.billing.failed, 1);
    let due = subscription(&shop, &s.subscription_id).await;
    assert_eq!(due.status, SubscriptionStatus::PastDue);
    assert!(!folio::paid_for(&shop.state.db, &s.subscription_id, p1 + DAY).await.unwrap());
    // Nothing is tried again before the first retry, three days on.
    assert_eq!(advance_to(&shop, p1 + 2 * DAY).await.billing, sandbox::Turn::default());

    assert!(sandbox::set_card_declines(&shop.state, &s.subscription_id, false).await.unwrap());
    let mended = subscription(&shop, &s.subscription_id).await;
    assert_eq!(mended.status, SubscriptionStatus::Active);
    assert_eq!(notices(&shop).await, ["folio_active", "folio_active", "folio_past_due"]);
    let dunning: String =
        sqlx::query_scalar("select body_text from outbox natural join outbox_body where kind = 'folio_past_due'")
            .fetch_one(&shop.state.db.pool)
            .await
            .unwrap();
    assert!(dunning.contains("Update my card") && dunning.contains("/account/folio"), "{dunning}");
    assert!(folio::paid_for(&shop.state.db, &s.subscription_id, p1 + DAY).await.unwrap());
    assert_eq!(paid_invoices(&shop, &s.subscription_id).await.len(), 2);
});

on_both_engines!(a_payment_still_declined_at_the_last_retry_ends_the_subscription, |engine: Engine| async move {
    use folio::sandbox;
    let shop = TestShop::new(engine).await;
    account(&shop, "acc_1").await;
    let s = folio::begin(&shop.state.db, &ask("acc_1", &address())).await.unwrap();
    sandbox::start(&shop.state, &s, true).await.unwrap();
    let p1 = subscription(&shop, &s.subscription_id).await.current_period_end.unwrap();
    assert!(sandbox::set_card_declines(&shop.state, &s.subscription_id, true).await.unwrap());
    assert_eq!(advance_to(&shop, p1 + DAY).await.billing.failed, 1);
    // Retried 3, 8 and 15 days after the renewal (Stripe's schedule), each failing.
    let a = advance_to(&shop, p1 + 3 * DAY + 60).await;
    assert_eq!((a.billing.retried, a.billing.given_up), (1, 0));
    assert_eq!(subscription(&shop, &s.subscription_id).await.status, SubscriptionStatus::PastDue);
    let a = advance_to(&shop, p1 + 14 * DAY).await;
    assert_eq!((a.billing.retried, a.billing.given_up), (1, 0), "the retry of day 8");
    assert_eq!(subscription(&shop, &s.subscription_id).await.status, SubscriptionStatus::PastDue);
    let a = advance_to(&shop, p1 + 15 * DAY + 60).await;
    assert_eq!((a.billing.retried, a.billing.given_up), (0, 1), "the last attempt, day 15, cancels");
    let ended = subscription(&shop, &s.subscription_id).await;
    assert_eq!(ended.status, SubscriptionStatus::Cancelled);
    // Told once that payment failed, once that it ended and why; nothing renews or ships after.
    assert_eq!(notices(&shop).await, ["folio_active", "folio_cancelled", "folio_past_due"]);
    let why: String =
        sqlx::query_scalar("select body_text from outbox natural join outbox_body where kind = 'folio_cancelled'")
            .fetch_one(&shop.state.db.pool)
            .await
            .unwrap();
    assert!(why.contains("could not be taken") && why.contains("subscription has ended"), "{why}");
    assert_eq!(advance_to(&shop, p1 + 200 * DAY).await.billing, sandbox::Turn::default());
    assert_eq!(paid_invoices(&shop, &s.subscription_id).await.len(), 1);
    assert!(!folio::paid_for(&shop.state.db, &s.subscription_id, p1 + DAY).await.unwrap());
    // A mended card after the end pays nothing.
    assert!(sandbox::set_card_declines(&shop.state, &s.subscription_id, false).await.unwrap());
    assert_eq!(subscription(&shop, &s.subscription_id).await.status, SubscriptionStatus::Cancelled);
    assert_eq!(paid_invoices(&shop, &s.subscription_id).await.len(), 1);
});

/// A signed-in session of an account made by [`account`]; its cookie.
async fn session(shop: &TestShop, acc: &str) -> String {
    let device = atelier_checkout::accounts::session::Device { user_agent: "test".into(), client: "127.0.0.1".into() };
    let token = atelier_checkout::accounts::session::start(&shop.state.db, acc, 0, &device, None, false)
        .await
        .unwrap()
        .unwrap();
    format!("atelier_session={token}")
}

on_both_engines!(subscribing_and_changing_it_from_the_pages_and_the_api, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    account(&shop, "acc_1").await;
    account(&shop, "acc_2").await;
    let me = session(&shop, "acc_1").await;
    let stranger = session(&shop, "acc_2").await;

    // Signed out: nothing, and a way in.
    assert_eq!(shop.get("/api/subscriptions", None).await.status, StatusCode::UNAUTHORIZED);
    let r = shop.get("/folio/subscribe", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Sign in to subscribe"), "{}", r.body);

    // The form, then a mistake in it, said beside its field.
    let r = shop.get("/folio/subscribe", Some(&me)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("€64.00") && r.body.contains("Continue to payment"), "{}", r.body);
    let bad = "plan_id=quarterly&name=Ada&line1=1+Rue+Royale&postal_code=12&city=Paris&country=FR";
    let r = shop.form("/folio/subscribe", bad, Some(&me)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("id=\"postal_code-error\"") && r.body.contains("1 Rue Royale"), "{}", r.body);

    // Subscribing twice (a double click) is one subscription, waiting for its payment.
    let body = r#"{"plan_id":"quarterly","name":"Ada Lovelace","line1":"1 Rue Royale","postal_code":"75008","city":"Paris","country":"FR"}"#;
    let first = shop.json("POST", "/api/subscriptions", body, Some(&me)).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let again = shop.json("POST", "/api/subscriptions", body, Some(&me)).await;
    let id = first.json()["subscription"]["subscription"]["subscription_id"].as_str().unwrap().to_string();
    assert_eq!(again.json()["subscription"]["subscription"]["subscription_id"], id.as_str());
    let pay_url = first.json()["pay_url"].as_str().unwrap().to_string();
    assert_eq!(first.json()["subscription"]["actions"], serde_json::json!(["pay"]));

    // Its payment page is its owner's only; paying starts it.
    assert_eq!(shop.get(&pay_url, Some(&stranger)).await.status, StatusCode::NOT_FOUND);
    let r = shop.get(&pay_url, Some(&me)).await;
    assert!(r.body.contains("Pay €64.00") && r.body.contains("Sandbox payment page"), "{}", r.body);
    let r = shop.form(&pay_url, "action=pay", Some(&me)).await;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/account/folio".to_string()));
    let listed = shop.get("/api/subscriptions", Some(&me)).await.json();
    let s = &listed["subscriptions"][0];
    assert_eq!((s["subscription"]["status"].as_str(), s["actions"][0].as_str()), (Some("active"), Some("pause")));
    let period_end = s["subscription"]["current_period_end"].as_i64().unwrap();
    let page = shop.get("/account/folio", Some(&me)).await;
    assert!(
        page.body.contains("Running") && page.body.contains("Your next payment, €64.00 an edition"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<td>€64.00</td><td>Paid</td>"), "the payment is listed: {}", page.body);
    assert!(shop.get("/api/subscriptions", Some(&stranger)).await.json()["subscriptions"]
        .as_array()
        .unwrap()
        .is_empty());

    // Pause: a day that is not one, someone else's subscription, then until resumed.
    let path = |what: &str| format!("/api/subscriptions/{id}/{what}");
    let r = shop.json("PUT", &path("pause"), r#"{"until":"next spring"}"#, Some(&me)).await;
    assert_eq!((r.status, r.json()["field"].as_str()), (StatusCode::BAD_REQUEST, Some("until")), "{}", r.body);
    assert_eq!(shop.json("PUT", &path("pause"), "{}", Some(&stranger)).await.status, StatusCode::NOT_FOUND);
    let r = shop.json("PUT", &path("pause"), "{}", Some(&me)).await;
    assert_eq!(r.json()["subscription"]["status"], "paused", "{}", r.body);
    assert!(r.json()["next"].as_str().unwrap().starts_with("Paused until you resume it"));

    // Resume: nothing charged, the billing date kept.
    let r = shop.json("PUT", &path("resume"), "", Some(&me)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["subscription"]["current_period_end"], period_end);
    assert_eq!(r.json()["invoices"].as_array().unwrap().len(), 1);

    // Cancel at the period's end from the page; again is refused; resume keeps it on.
    let r = shop.form(&format!("/account/folio/{id}/cancel"), "", Some(&me)).await;
    assert!(r.body.contains("will end with the period you have paid for"), "{}", r.body);
    let r = shop.json("PUT", &path("cancel"), "{}", Some(&me)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let r = shop.json("PUT", &path("resume"), "", Some(&me)).await;
    assert_eq!(r.json()["subscription"]["cancel_at_period_end"], false, "{}", r.body);

    // Ended now: nothing more can be done with it.
    let r = shop.form(&format!("/account/folio/{id}/cancel"), "now=true", Some(&me)).await;
    assert!(r.body.contains("Your Folio has ended"), "{}", r.body);
    let r = shop.json("PUT", &path("pause"), "{}", Some(&me)).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let s = shop.get(&format!("/api/subscriptions/{id}"), Some(&me)).await.json();
    assert_eq!(
        (s["subscription"]["status"].as_str(), s["actions"].as_array().map(Vec::len)),
        (Some("cancelled"), Some(0))
    );

    // Each change was confirmed by e-mail: welcome, paused, resumed, ending, continuing, ended.
    assert_eq!(
        notices(&shop).await,
        ["folio_active", "folio_active", "folio_active", "folio_cancelled", "folio_ending", "folio_paused"]
    );
});

on_both_engines!(a_gift_of_four_editions_reaches_its_recipient_once_each, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 50).await;
    shop.set_stock("ROSE-2", 50).await;
    account(&shop, "acc_g").await;
    account(&shop, "acc_x").await;
    let giver = session(&shop, "acc_g").await;
    let stranger = session(&shop, "acc_x").await;
    let t0 = folio::sandbox::clock(&shop.state).await.unwrap();
    // Six editions, a season apart, the first ten days on.
    let days: Vec<i64> = (0..6).map(|i| t0 + 10 * DAY + i * 91 * DAY).collect();
    sync_folio(&shop, &days, 6400).await;

    // Signed out: a way in. Signed in: the form, and mistakes said beside their fields.
    let r = shop.get("/folio/gift", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Sign in to give the Folio"), "{}", r.body);
    let r = shop.get("/folio/gift", Some(&giver)).await;
    assert!(
        r.body.contains("<span>Four editions</span> <span>€256.00</span>")
            && r.body.contains("<span>One edition</span> <span>€64.00</span>"),
        "{}",
        r.body
    );
    let form = |editions: &str, email: &str| {
        format!(
            "plan_id=quarterly&editions={editions}&recipient_email={email}&from_name=Ada&message=Happy+spring%2C+Grace%21%0Awith+love\
             &name=Grace+Hopper&line1=2+Quai+Voltaire&postal_code=75007&city=Paris&country=FR"
        )
    };
    let r = shop.form("/folio/gift", &form("2", "grace%40example.com"), Some(&giver)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("id=\"editions-error\"") && r.body.contains("Grace Hopper"), "{}", r.body);
    let r = shop.form("/folio/gift", &form("4", "grace%40"), Some(&giver)).await;
    assert!(r.body.contains("id=\"recipient_email-error\""), "{}", r.body);

    // Made once however often it is sent; paid on its page, by its giver only, once.
    let r = shop.form("/folio/gift", &form("4", "grace%40example.com"), Some(&giver)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let pay = r.location();
    let again = shop.form("/folio/gift", &form("4", "grace%40example.com"), Some(&giver)).await;
    assert_eq!(again.location(), pay);
    assert_eq!(shop.get(&pay, Some(&stranger)).await.status, StatusCode::NOT_FOUND);
    let r = shop.get(&pay, Some(&giver)).await;
    assert!(r.body.contains("Pay €256.00") && r.body.contains("Happy spring, Grace!"), "{}", r.body);
    for _ in 0..2 {
        let r = shop.form(&pay, "action=pay", Some(&giver)).await;
        assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/account/folio".to_string()));
    }
    let told: Vec<String> = sqlx::query_scalar("select recipient from outbox where kind = 'folio_gift_paid'")
        .fetch_all(&shop.state.db.pool)
        .await
        .unwrap();
    assert_eq!(told, ["acc_g@example.com"]);
    let page = shop.get("/account/folio", Some(&giver)).await;
    assert!(page.body.contains("Folios you have given") && page.body.contains("Grace Hopper"), "{}", page.body);

    // Each of the four editions after the payment, once, to Grace; the fifth and sixth not.
    for (i, &day) in days.iter().enumerate() {
        advance_to(&shop, day + DAY).await;
        // A second run (another instance, a restart) makes nothing more.
        folio::delivery::deliver_as_of(&shop.state, day + DAY).await.unwrap();
        let orders: Vec<(String, String, Option<String>)> = sqlx::query_as(
            "select email, address, account_id from customer_order where subscription_id like 'gft_%' order by number",
        )
        .fetch_all(&shop.state.db.pool)
        .await
        .unwrap();
        assert_eq!(orders.len(), (i + 1).min(4), "after edition {i}");
        assert!(orders.iter().all(|(email, address, account)| email == "grace@example.com"
            && address.contains("2 Quai Voltaire")
            && account.is_none()));
    }
    let mails: Vec<(String, String, String)> = sqlx::query_as(
        "select recipient, subject, body_text from outbox natural join outbox_body where kind = 'folio_edition' order by created_at, dedupe_key",
    )
    .fetch_all(&shop.state.db.pool)
    .await
    .unwrap();
    assert_eq!(mails.len(), 4);
    assert!(mails.iter().all(|(to, ..)| to == "grace@example.com"));
    let (_, subject, first) = &mails[0];
    assert_eq!(subject, "A gift from Ada: the Folio from Atelier Arôme");
    assert!(
        first.contains("Ada has given you the Folio") && first.contains("Happy spring, Grace!\nwith love"),
        "{first}"
    );
    assert!(first.contains("edition 1 of 4") && !first.contains("pause"), "{first}");
    assert!(!mails[1].2.contains("Happy spring") && mails[1].2.contains("edition 2 of 4"), "{}", mails[1].2);
    let page = shop.get("/account/folio", Some(&giver)).await;
    assert!(page.body.contains("all four editions sent"), "{}", page.body);
});

on_both_engines!(a_new_price_is_told_then_paid_from_the_first_renewal_after_its_notice, |engine: Engine| async move {
    use atelier_domain::add_months;
    use folio::sandbox;
    let shop = TestShop::new(engine).await;
    account(&shop, "acc_1").await;
    let s = folio::begin(&shop.state.db, &ask("acc_1", &address())).await.unwrap();
    sandbox::start(&shop.state, &s, true).await.unwrap();
    let p0 = subscription(&shop, &s.subscription_id).await.current_period_start.unwrap();
    let [p1, p2] = [3, 6].map(|m| add_months(p0, m));

    // Ten days before a renewal, git says €70: that renewal still pays €64, the next €70.
    advance_to(&shop, p1 - 10 * DAY).await;
    sync_folio(&shop, &[], 7000).await;
    assert_eq!(folio::notices::price_changes(&shop.state).await.unwrap(), 1);
    assert_eq!(folio::notices::price_changes(&shop.state).await.unwrap(), 0, "told once");
    let told: String =
        sqlx::query_scalar("select body_text from outbox natural join outbox_body where kind = 'folio_price'")
            .fetch_one(&shop.state.db.pool)
            .await
            .unwrap();
    let first = atelier_checkout::orders::written_date(p2);
    assert!(told.contains("from €64.00 to €70.00") && told.contains(&format!("renewal on {first}")), "{told}");
    let page = shop.get("/account/folio", Some(&session(&shop, "acc_1").await)).await;
    assert!(page.body.contains("Your next payment, €64.00 an edition"), "{}", page.body);

    advance_to(&shop, p1 + DAY).await;
    advance_to(&shop, p2 + DAY).await;
    assert_eq!(paid_invoices(&shop, &s.subscription_id).await, [(p0, 6400), (p1, 6400), (p2, 7000)]);

    // Someone subscribing after the change pays what the page showed them.
    account(&shop, "acc_2").await;
    let late = folio::begin(&shop.state.db, &ask("acc_2", &address())).await.unwrap();
    sandbox::start(&shop.state, &late, true).await.unwrap();
    assert_eq!(paid_invoices(&shop, &late.subscription_id).await.iter().map(|p| p.1).collect::<Vec<_>>(), [7000]);
});

/// A Stripe-configured shop with the stand-in delivering its events to it.
async fn stripe_folio(engine: Engine) -> (TestShop, stripe_standin::StripeStandIn) {
    let stripe = stripe_standin::StripeStandIn::start(SECRET).await;
    let (shop, url) = common::stripe_shop(engine, &stripe.url).await;
    stripe.deliver_to(&format!("{url}/api/webhooks/stripe"));
    (shop, stripe)
}

/// The requests the stand-in received on a route, their forms.
fn sent(stripe: &stripe_standin::StripeStandIn, route: &str) -> Vec<stripe_standin::Received> {
    stripe.received().into_iter().filter(|r| r.route == route).collect()
}

const SUBSCRIBE: &str = r#"{"plan_id":"quarterly","name":"Ada Lovelace","line1":"1 Rue Royale","postal_code":"75008","city":"Paris","country":"FR"}"#;

/// Subscribes `acc` through the API: the subscription's id and Stripe's session id.
async fn subscribe_at_stripe(shop: &TestShop, stripe: &stripe_standin::StripeStandIn, me: &str) -> (String, String) {
    let r = shop.json("POST", "/api/subscriptions", SUBSCRIBE, Some(me)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let pay_url = r.json()["pay_url"].as_str().unwrap().to_string();
    let prefix = format!("{}/c/pay/", stripe.url);
    assert!(pay_url.starts_with(&prefix), "Stripe's hosted page: {pay_url}");
    let id = r.json()["subscription"]["subscription"]["subscription_id"].as_str().unwrap().to_string();
    (id, pay_url[prefix.len()..].to_string())
}

on_both_engines!(a_folio_through_stripe_checkout_then_paused_resumed_and_cancelled, |engine: Engine| async move {
    let (shop, stripe) = stripe_folio(engine).await;
    account(&shop, "acc_1").await;
    let me = session(&shop, "acc_1").await;

    // Subscribing opens Checkout in subscription mode on a Price made from git's plan; a
    // double click opens the same session.
    let (id, session_id) = subscribe_at_stripe(&shop, &stripe, &me).await;
    let (again, again_session) = subscribe_at_stripe(&shop, &stripe, &me).await;
    assert_eq!((again, again_session), (id.clone(), session_id.clone()));
    assert_eq!(stripe.open_sessions(), std::slice::from_ref(&session_id));
    let prices = sent(&stripe, "POST /v1/prices");
    assert_eq!(prices.len(), 1, "one Price, then found again: {prices:?}");
    let p = &prices[0];
    assert_eq!(
        (p.field("unit_amount"), p.field("recurring[interval]"), p.field("recurring[interval_count]")),
        (Some("6400"), Some("month"), Some("3"))
    );
    assert_eq!(p.field("lookup_key"), Some("folio_quarterly_quarterly_eur_6400"));
    assert_eq!(sent(&stripe, "POST /v1/products").len(), 1);
    let s = &sent(&stripe, "POST /v1/checkout/sessions")[0];
    assert_eq!(s.field("mode"), Some("subscription"));
    assert_eq!(s.field("line_items[0][price]"), stripe.prices()[0]["id"].as_str());
    assert_eq!(s.field("subscription_data[metadata][subscription_id]"), Some(id.as_str()));
    assert_eq!(s.field("customer_email"), Some("acc_1@example.com"));
    assert_eq!(folio::load(&shop.state.db, &id).await.unwrap().unwrap().status, SubscriptionStatus::Pending);

    // Paid at Stripe: its events, in reverse and five times each, start it once.
    let events = stripe.complete_with_events(&session_id);
    assert_eq!(
        events.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(),
        [
            "customer.subscription.created",
            "invoice.paid",
            "customer.subscription.updated",
            "checkout.session.completed"
        ]
    );
    for _ in 0..5 {
        for (kind, object) in events.iter().rev() {
            assert_eq!(stripe.send_event(kind, object.clone()).await, 200);
        }
    }
    let s = subscription(&shop, &id).await;
    let at_stripe = stripe.subscriptions()[0].clone();
    assert_eq!(s.status, SubscriptionStatus::Active);
    assert_eq!(s.provider_subscription_id.as_deref(), Some(at_stripe.as_str()));
    assert_eq!(paid_invoices(&shop, &id).await.len(), 1);
    assert_eq!(notices(&shop).await, ["folio_active"]);
    let period_end = s.current_period_end.unwrap();
    // A second Stripe subscription naming this one (two sessions of it both paid) is refused,
    // and never takes the place of the one the subscriber holds.
    let second = stripe_objects::subscription(
        "sub_second",
        &id,
        "cus_2",
        "price_q",
        &SubscriptionState { status: "canceled", period: (0, 1), cancel_at_period_end: false, paused: None },
    );
    assert_eq!(stripe.send_event("customer.subscription.deleted", second).await, 200);
    assert_eq!(subscription(&shop, &id).await.status, SubscriptionStatus::Active);
    // Back from Checkout once started: no waiting note.
    let page = shop.get(&format!("/account/folio?paid={id}"), Some(&me)).await;
    assert!(page.body.contains("Running") && !page.body.contains("your payment is with Stripe"), "{}", page.body);

    // Pause: `pause_collection` with `void`; the answer waits for Stripe's event.
    let path = |what: &str| format!("/api/subscriptions/{id}/{what}");
    let r = shop.json("PUT", &path("pause"), "{}", Some(&me)).await;
    assert_eq!((r.status, r.json()["subscription"]["status"].as_str()), (StatusCode::OK, Some("paused")), "{}", r.body);
    assert_eq!(stripe.subscription(&at_stripe)["pause_collection"]["behavior"], "void");
    // A period passes paused: nothing is billed.
    assert_eq!(stripe.renew(&at_stripe).await, [200]);
    assert_eq!(paid_invoices(&shop, &id).await.len(), 1);
    assert_eq!(subscription(&shop, &id).await.status, SubscriptionStatus::Paused);

    // Resume: collection unpaused, nothing charged now, the billing date Stripe's.
    let r = shop.json("PUT", &path("resume"), "", Some(&me)).await;
    assert_eq!(r.json()["subscription"]["status"], "active", "{}", r.body);
    let update = sent(&stripe, &format!("POST /v1/subscriptions/{at_stripe}")).pop().unwrap();
    assert_eq!(update.form, [("pause_collection".to_string(), String::new())]);
    assert_eq!(paid_invoices(&shop, &id).await.len(), 1);
    let end_at_stripe = stripe.subscription(&at_stripe)["items"]["data"][0]["current_period_end"].as_i64().unwrap();
    assert_eq!(r.json()["subscription"]["current_period_end"], end_at_stripe);
    assert!(end_at_stripe > period_end, "the paused period passed");

    // Cancel with the period, keep it after all, then end it now.
    let r = shop.form(&format!("/account/folio/{id}/cancel"), "", Some(&me)).await;
    assert!(r.body.contains("will end with the period you have paid for"), "{}", r.body);
    assert_eq!(stripe.subscription(&at_stripe)["cancel_at_period_end"], true);
    let r = shop.json("PUT", &path("resume"), "", Some(&me)).await;
    assert_eq!(r.json()["subscription"]["cancel_at_period_end"], false, "{}", r.body);
    let r = shop.form(&format!("/account/folio/{id}/cancel"), "now=true", Some(&me)).await;
    assert!(r.body.contains("Your Folio has ended"), "{}", r.body);
    let cancel = sent(&stripe, &format!("DELETE /v1/subscriptions/{at_stripe}")).pop().unwrap();
    assert_eq!((cancel.field("prorate"), cancel.field("invoice_now")), (Some("false"), Some("false")));
    assert_eq!(stripe.subscription(&at_stripe)["status"], "canceled");
    assert_eq!(
        notices(&shop).await,
        ["folio_active", "folio_active", "folio_active", "folio_cancelled", "folio_ending", "folio_paused"]
    );
});

on_both_engines!(a_failed_stripe_renewal_is_mended_in_the_billing_portal_or_ends_it, |engine: Engine| async move {
    let (shop, stripe) = stripe_folio(engine).await;
    account(&shop, "acc_1").await;
    let me = session(&shop, "acc_1").await;
    let (id, session_id) = subscribe_at_stripe(&shop, &stripe, &me).await;
    // Paid on Stripe's hosted page, over HTTP: back to the account's page.
    let (status, _) = common::http(&stripe.url, "POST", &format!("/c/pay/{session_id}"), &[], "").await;
    assert_eq!(status, 303);
    let at_stripe = stripe.subscriptions()[0].clone();
    let customer = stripe.subscription(&at_stripe)["customer"].as_str().unwrap().to_string();
    assert_eq!(subscription(&shop, &id).await.status, SubscriptionStatus::Active);

    // The card lapses: the renewal fails, the subscriber is told where to mend it.
    stripe.card_declines(&customer, true);
    assert_eq!(stripe.renew(&at_stripe).await, [200, 200]);
    assert_eq!(subscription(&shop, &id).await.status, SubscriptionStatus::PastDue);
    let mail: String =
        sqlx::query_scalar("select body_text from outbox natural join outbox_body where kind = 'folio_past_due'")
            .fetch_one(&shop.state.db.pool)
            .await
            .unwrap();
    let link = format!("/account/folio/{id}/card");
    assert!(mail.contains(&link), "{mail}");

    // The link opens Stripe's billing portal for the subscriber's customer (their own only).
    account(&shop, "acc_2").await;
    let stranger = session(&shop, "acc_2").await;
    assert_eq!(shop.get(&link, Some(&stranger)).await.status, StatusCode::NOT_FOUND);
    let r = shop.get(&link, Some(&me)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let portal = r.location();
    assert!(portal.starts_with(&format!("{}/p/session/", stripe.url)), "{portal}");
    let asked = sent(&stripe, "POST /v1/billing_portal/sessions").pop().unwrap();
    assert_eq!(asked.field("customer"), Some(customer.as_str()));
    // Mended there: what is owed is paid, and the Folio runs again.
    let (status, _) = common::http(&stripe.url, "POST", &portal[stripe.url.len()..], &[], "").await;
    assert_eq!(status, 303);
    assert_eq!(subscription(&shop, &id).await.status, SubscriptionStatus::Active);
    assert_eq!(paid_invoices(&shop, &id).await.len(), 2);

    // Lapsed again and never mended: after the last retry Stripe ends it, and so does the shop.
    stripe.card_declines(&customer, true);
    stripe.renew(&at_stripe).await;
    // Stripe's schedule: three more attempts, the last of which ends it.
    for _ in 0..2 {
        stripe.retry(&at_stripe).await;
        assert_eq!(subscription(&shop, &id).await.status, SubscriptionStatus::PastDue);
    }
    stripe.retry(&at_stripe).await;
    let s = subscription(&shop, &id).await;
    assert_eq!(s.status, SubscriptionStatus::Cancelled);
    assert_eq!(paid_invoices(&shop, &id).await.len(), 2);
    assert_eq!(
        notices(&shop).await,
        ["folio_active", "folio_active", "folio_cancelled", "folio_past_due", "folio_past_due"]
    );
});

on_both_engines!(a_folio_stripe_paused_resumes_without_a_charge_or_a_new_billing_date, |engine: Engine| async move {
    let (shop, stripe) = stripe_folio(engine).await;
    account(&shop, "acc_1").await;
    let me = session(&shop, "acc_1").await;
    let (id, session_id) = subscribe_at_stripe(&shop, &stripe, &me).await;
    assert_eq!(stripe.pay(&session_id).await, 200);
    let at_stripe = stripe.subscriptions()[0].clone();
    let end = subscription(&shop, &id).await.current_period_end;

    // Stripe paused it itself (its `paused` status, not a paused collection).
    assert_eq!(stripe.pause_at_stripe(&at_stripe).await, 200);
    assert_eq!(subscription(&shop, &id).await.status, SubscriptionStatus::Paused);
    // Stripe's resume re-anchors the cycle and charges a whole period unless told not to.
    let r = shop.json("PUT", &format!("/api/subscriptions/{id}/resume"), "", Some(&me)).await;
    assert_eq!(r.json()["subscription"]["status"], "active", "{}", r.body);
    let resume = sent(&stripe, &format!("POST /v1/subscriptions/{at_stripe}/resume")).pop().unwrap();
    assert_eq!(
        (resume.field("billing_cycle_anchor"), resume.field("proration_behavior")),
        (Some("unchanged"), Some("none"))
    );
    assert_eq!(paid_invoices(&shop, &id).await.len(), 1, "nothing charged on resuming");
    assert_eq!(subscription(&shop, &id).await.current_period_end, end);
});

on_both_engines!(a_gift_of_the_folio_paid_through_stripe_checkout, |engine: Engine| async move {
    let (shop, stripe) = stripe_folio(engine).await;
    account(&shop, "acc_g").await;
    let giver = session(&shop, "acc_g").await;
    let form = "plan_id=quarterly&editions=4&recipient_email=grace%40example.com&from_name=Ada&message=Happy+spring\
                &name=Grace+Hopper&line1=2+Quai+Voltaire&postal_code=75007&city=Paris&country=FR";
    let r = shop.form("/folio/gift", form, Some(&giver)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = r.location();
    assert!(page.starts_with(&format!("{}/c/pay/", stripe.url)), "{page}");
    // Sent again (a double submit): the same session.
    assert_eq!(shop.form("/folio/gift", form, Some(&giver)).await.location(), page);
    // Changed to one edition: the session for four is closed and another opened; a payment of
    // a session for another price never gives the gift.
    let one = form.replace("editions=4", "editions=1");
    let cheaper = shop.form("/folio/gift", &one, Some(&giver)).await.location();
    assert_ne!(cheaper, page);
    let four = page.rsplit('/').next().unwrap().to_string();
    assert_eq!(stripe.session(&four)["status"], "expired");
    let mut forged = stripe.session(&four);
    forged["status"] = serde_json::json!("complete");
    forged["payment_status"] = serde_json::json!("paid");
    assert_eq!(stripe.send_event("checkout.session.completed", forged).await, 200);
    let pending: String =
        sqlx::query_scalar("select status from folio_gift").fetch_one(&shop.state.db.pool).await.unwrap();
    assert_eq!(pending, "pending", "a session at another price does not give the gift");
    // Back to four: a new session for four.
    let r = shop.form("/folio/gift", form, Some(&giver)).await;
    let page = r.location();
    assert!(page != cheaper && stripe.session(page.rsplit('/').next().unwrap())["amount_total"] == 25600);
    let s = sent(&stripe, "POST /v1/checkout/sessions").pop().unwrap();
    assert_eq!((s.field("mode"), s.field("line_items[0][price_data][unit_amount]")), (Some("payment"), Some("25600")));
    let gift_id = s.field("metadata[folio_gift]").unwrap().to_string();
    // The account page's link to pay goes on to the same session.
    let r = shop.form(&format!("/folio/gift/{gift_id}/pay"), "action=pay", Some(&giver)).await;
    assert_eq!(r.location(), page);
    let (status, _) = common::http(&stripe.url, "POST", &page[stripe.url.len()..], &[], "").await;
    assert_eq!(status, 303);
    let state: String = sqlx::query_scalar("select status from folio_gift where gift_id = $1")
        .bind(&gift_id)
        .fetch_one(&shop.state.db.pool)
        .await
        .unwrap();
    assert_eq!(state, "paid");
});

on_both_engines!(a_new_price_reaches_stripe_subscriptions_when_its_notice_has_run, |engine: Engine| async move {
    let (shop, stripe) = stripe_folio(engine).await;
    account(&shop, "acc_1").await;
    let me = session(&shop, "acc_1").await;
    let (id, session_id) = subscribe_at_stripe(&shop, &stripe, &me).await;
    assert_eq!(stripe.pay(&session_id).await, 200);
    let at_stripe = stripe.subscriptions()[0].clone();
    let gateway = match &shop.state.payments {
        atelier_checkout::payments::Payments::Stripe(g) => g.clone(),
        _ => unreachable!("a Stripe shop"),
    };

    // Git's price rises: during the notice Stripe keeps billing the old Price.
    let mut c = common::catalog();
    c.folio_plans[0].price = 7200;
    atelier_checkout::catalog::sync(&shop.state.db, &c).await.unwrap();
    // Nobody is moved before being told.
    sqlx::query("update folio_plan set price_changed_at = price_changed_at - $1")
        .bind(folio::PRICE_NOTICE_SECONDS + 60)
        .execute(&shop.state.db.pool)
        .await
        .unwrap();
    assert_eq!(folio::stripe::reprice_due(&shop.state, &gateway).await.unwrap(), 0);
    sqlx::query("update folio_plan set price_changed_at = price_changed_at + $1")
        .bind(folio::PRICE_NOTICE_SECONDS + 60)
        .execute(&shop.state.db.pool)
        .await
        .unwrap();
    assert_eq!(folio::notices::price_changes(&shop.state).await.unwrap(), 1);
    assert_eq!(folio::stripe::reprice_due(&shop.state, &gateway).await.unwrap(), 0);
    assert_eq!(stripe.renew(&at_stripe).await, [200, 200]);
    assert_eq!(paid_invoices(&shop, &id).await.iter().map(|p| p.1).collect::<Vec<_>>(), [6400, 6400]);

    // The notice has run: moved onto a Price at the new price, without proration, once.
    sqlx::query("update folio_plan set price_changed_at = price_changed_at - $1")
        .bind(folio::PRICE_NOTICE_SECONDS + 60)
        .execute(&shop.state.db.pool)
        .await
        .unwrap();
    assert_eq!(folio::stripe::reprice_due(&shop.state, &gateway).await.unwrap(), 1);
    assert_eq!(folio::stripe::reprice_due(&shop.state, &gateway).await.unwrap(), 0);
    let moved = sent(&stripe, &format!("POST /v1/subscriptions/{at_stripe}")).pop().unwrap();
    let new_price = stripe.prices().into_iter().find(|p| p["unit_amount"] == 7200).unwrap();
    assert_eq!(
        (moved.field("items[0][price]"), moved.field("proration_behavior")),
        (new_price["id"].as_str(), Some("none"))
    );
    assert_eq!(new_price["lookup_key"], "folio_quarterly_quarterly_eur_7200");
    assert_eq!(stripe.renew(&at_stripe).await, [200, 200]);
    assert_eq!(paid_invoices(&shop, &id).await.iter().map(|p| p.1).collect::<Vec<_>>(), [6400, 6400, 7200]);
});
