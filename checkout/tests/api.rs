//! The service through its router, on SQLite and on PostgreSQL, a fresh database each.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{Engine, TestShop, ADDRESS};

on_both_engines!(cart_adds_updates_and_removes, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 5).await;
    let r = shop.json("POST", "/api/cart/items", r#"{"sku":"LAV-10","quantity":2}"#, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let cookie = r.cookie().unwrap();
    assert!(r.headers["set-cookie"].to_str().unwrap().contains("HttpOnly; SameSite=Lax"));
    let cart = r.json();
    assert_eq!((cart["count"].as_i64(), cart["subtotal"]["amount"].as_i64()), (Some(2), Some(4800)));
    assert_eq!(cart["items"][0]["unit_price"]["display"], "€24.00");

    let r = shop.json("PATCH", "/api/cart/items/LAV-10", r#"{"quantity":5}"#, Some(&cookie)).await;
    assert_eq!(r.json()["count"], 5);
    let r = shop.json("PATCH", "/api/cart/items/LAV-10", r#"{"quantity":6}"#, Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.json()["message"], "only 5 of Provence Lavender 10 ml left");
    let r = shop
        .call(
            axum::http::Request::delete("/api/cart/items/LAV-10")
                .header("cookie", &cookie)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.json()["count"], 0);
    assert_eq!(shop.get("/api/cart", Some(&cookie)).await.json()["items"].as_array().unwrap().len(), 0);
});

// Edits that arrive together are committed together, and each is decided as if it had come
// alone, in order: the same cart never passes its stock, an unknown SKU fails alone, and every
// new visitor gets a cart of their own.
on_both_engines!(edits_arriving_together_are_decided_one_by_one, |engine: Engine| async move {
    let shop = std::sync::Arc::new(TestShop::new(engine).await);
    shop.set_stock("LAV-10", 8).await;
    let shared = shop.cart_with("LAV-10", 1).await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let (shop, shared) = (shop.clone(), shared.clone());
        tasks.push(tokio::spawn(async move {
            let (sku, cookie) = match i % 4 {
                0 | 1 => ("LAV-10", Some(shared)),
                2 => ("LAV-10", None),
                _ => ("NOPE-1", Some(shared)),
            };
            let body = format!(r#"{{"sku":"{sku}","quantity":1}}"#);
            let r = shop.json("POST", "/api/cart/items", &body, cookie.as_deref()).await;
            (i % 4, r.status, r.cookie(), r.json())
        }));
    }
    let (mut added, mut refused, mut fresh) = (0, 0, std::collections::BTreeSet::new());
    for t in tasks {
        let (kind, status, cookie, body) = t.await.unwrap();
        match (kind, status) {
            (0 | 1, StatusCode::OK) => {
                assert_eq!(cookie, None, "the shared cart is not replaced");
                added += 1;
            }
            (0 | 1, StatusCode::CONFLICT) => {
                assert_eq!(body["message"], "only 8 of Provence Lavender 10 ml left");
                refused += 1;
            }
            (2, StatusCode::OK) => {
                assert_eq!(body["count"], 1);
                fresh.insert(cookie.expect("a new visitor gets a cart"));
            }
            (3, StatusCode::NOT_FOUND) => assert_eq!(body["message"], "no essence size with SKU NOPE-1"),
            other => panic!("unexpected outcome {other:?}: {body}"),
        }
    }
    assert_eq!((added, refused), (7, 13), "1 + 7 bottles fill the 8 available, the rest are refused");
    assert_eq!(fresh.len(), 10, "ten new visitors, ten carts");
    assert_eq!(shop.get("/api/cart", Some(&shared)).await.json()["count"], 8);
    assert_eq!(shop.count("select count(*) from cart").await, 11);
    assert_eq!(shop.count("select cast(coalesce(sum(quantity), 0) as bigint) from cart_item").await, 18);
});

on_both_engines!(bad_requests_get_clear_json_errors, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 1).await;
    let cases = [
        (r#"{"sku":"LAV-10","quantity":"two"}"#, StatusCode::BAD_REQUEST, "bad_request"),
        (r#"{"sku":"LAV-10""#, StatusCode::BAD_REQUEST, "bad_request"),
        (r#"{"quantity":1}"#, StatusCode::BAD_REQUEST, "bad_request"),
        (r#"{"sku":"NOPE","quantity":1}"#, StatusCode::NOT_FOUND, "not_found"),
        (r#"{"sku":"lav-10\u0000","quantity":1}"#, StatusCode::BAD_REQUEST, "invalid"),
        (r#"{"sku":"LAV-10","quantity":0}"#, StatusCode::BAD_REQUEST, "invalid"),
        (r#"{"sku":"LAV-10","quantity":13}"#, StatusCode::BAD_REQUEST, "invalid"),
        (r#"{"sku":"ROSE-2","quantity":1}"#, StatusCode::CONFLICT, "conflict"),
    ];
    for (body, status, code) in cases {
        let r = shop.json("POST", "/api/cart/items", body, None).await;
        assert_eq!(r.status, status, "{body}: {}", r.body);
        assert_eq!(r.json()["error"], code, "{body}");
        assert!(!r.json()["message"].as_str().unwrap().is_empty());
    }
    let r = shop
        .call(axum::http::Request::post("/api/cart/items").body(axum::body::Body::from("sku=LAV-10")).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["message"].as_str().unwrap().contains("Content-Type: application/json"));
    let big = format!(r#"{{"sku":"{}"}}"#, "A".repeat(70_000));
    assert_eq!(shop.json("POST", "/api/cart/items", &big, None).await.status, StatusCode::PAYLOAD_TOO_LARGE);

    let cookie = shop.cart_with("LAV-10", 1).await;
    let r = shop
        .json(
            "POST",
            "/api/checkout",
            r#"{"email":"x","name":"","country":"US","shipping_method":"drone"}"#,
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["field"], "email");
    assert_eq!(shop.available("LAV-10").await, 1, "a refused checkout reserves nothing");
});

on_both_engines!(checkout_reserves_and_sandbox_payment_completes, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 8).await;
    shop.set_stock("ROSE-2", 2).await;
    let cookie = shop.cart_with("LAV-10", 3).await;
    shop.json("POST", "/api/cart/items", r#"{"sku":"ROSE-2","quantity":1}"#, Some(&cookie)).await;
    let r = shop.checkout(&cookie).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let started = r.json();
    assert_eq!(started["total"], 3 * 2400 + 9500, "free shipping above €80");
    assert!(started["number"].as_str().unwrap().starts_with("AA-"));
    assert_eq!((shop.available("LAV-10").await, shop.on_hand("LAV-10").await), (5, 8), "reserved, not sold");

    let pay_url = started["payment_url"].as_str().unwrap().to_string();
    let page = shop.get(&pay_url, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("€167.00"), "{}", page.body);
    let r = shop.form(&pay_url, "action=pay", None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let order = shop.get(&r.location().replace("/orders/", "/api/orders/"), None).await.json();
    assert_eq!(order["status"], "paid");
    assert_eq!((shop.available("LAV-10").await, shop.on_hand("LAV-10").await), (5, 5), "sold");
    assert_eq!(shop.on_hand("ROSE-2").await, 1);
    assert_eq!(shop.count("select count(*) from outbox where kind = 'order_confirmation'").await, 1);
    assert_eq!(shop.count("select count(*) from cart_item").await, 0, "the cart is emptied once paid");
    let html = shop.get(&r.location(), None).await;
    assert!(html.body.contains(started["number"].as_str().unwrap()));
    assert!(shop.get(&r.location().replace("token=", "token=x"), None).await.status == StatusCode::NOT_FOUND);
});

on_both_engines!(declining_releases_the_stock, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-30", 2).await;
    let cookie = shop.cart_with("LAV-30", 2).await;
    let started = shop.checkout(&cookie).await.json();
    assert_eq!(shop.available("LAV-30").await, 0);
    let url = started["payment_url"].as_str().unwrap().to_string();
    shop.form(&url, "action=decline", None).await;
    assert_eq!(shop.available("LAV-30").await, 2);
    let status: String =
        sqlx::query_scalar("select status from customer_order").fetch_one(&shop.state.db.pool).await.unwrap();
    assert_eq!(status, "cancelled");
    // The declined session takes no second verdict: paying it now changes nothing.
    let r = shop.form(&url, "action=pay", None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(shop.available("LAV-30").await, 2);
    assert_eq!(shop.count("select count(*) from customer_order where status = 'cancelled'").await, 1);
    // The cart survives, so the shopper can try again.
    assert_eq!(shop.get("/api/cart", Some(&cookie)).await.json()["count"], 2);
});

on_both_engines!(unpaid_checkouts_expire_on_time, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 1).await;
    let cookie = shop.cart_with("LAV-10", 1).await;
    shop.checkout(&cookie).await;
    assert_eq!(atelier_checkout::payments::expire_due(&shop.state).await.unwrap(), 0, "not due yet");
    sqlx::query("update customer_order set expires_at = 0").execute(&shop.state.db.pool).await.unwrap();
    let other = shop.second_instance().await;
    // Two instances expiring at once release the stock once.
    let (a, b) = tokio::join!(
        atelier_checkout::payments::expire_due(&shop.state),
        atelier_checkout::payments::expire_due(&other.state)
    );
    assert_eq!(a.unwrap() + b.unwrap(), 1);
    assert_eq!(shop.available("LAV-10").await, 1);
});

on_both_engines!(html_forms_work_without_javascript, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 4).await;
    let r = shop.form("/cart/add", "sku=LAV-10&quantity=2", None).await;
    assert_eq!((r.status, r.location().as_str()), (StatusCode::SEE_OTHER, "/cart?added=1"));
    let csp = r.headers.get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or("");
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(r.headers.get("x-frame-options").map(|v| v.to_str().unwrap()), Some("DENY"));
    let cookie = r.cookie().unwrap();
    let page = shop.get("/cart?added=1", Some(&cookie)).await;
    assert!(page.body.contains("Provence Lavender") && page.body.contains("€48.00"), "{}", page.body);
    let r = shop.form("/cart/add", "sku=LAV-10&quantity=9", Some(&cookie)).await;
    assert!(r.location().starts_with("/cart?error="), "{}", r.location());
    // The cart page shows the service's own message, and nobody else's.
    let shown = shop.get(&r.location(), Some(&cookie)).await;
    assert!(shown.body.contains("Only 4 bottles of Provence Lavender, 10 ml, are left"), "{}", shown.body);
    let forged = shop.get("/cart?error=Your+account+is+locked%3A+call+us", Some(&cookie)).await;
    assert!(!forged.body.contains("account is locked"), "{}", forged.body);
    let tampered = r.location().replace("sku=LAV-10", "sku=ROSE-2");
    assert_ne!(tampered, r.location());
    assert!(!shop.get(&tampered, Some(&cookie)).await.body.contains("Rose"), "a changed notice loses its signature");
    let r = shop.form("/checkout", "email=ada%40example.com&name=Ada&line1=1+rue&city=Grasse&postal_code=06130&country=FR&shipping_method=standard", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.location().starts_with("/pay/cs_sandbox_"));
    let r = shop.form("/checkout", "email=nope", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Enter an e-mail address"), "{}", r.body);
    // A form posted from another site is refused.
    let evil = axum::http::Request::post("/cart/add")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("sec-fetch-site", "cross-site")
        .body(axum::body::Body::from("sku=LAV-10"))
        .unwrap();
    assert_eq!(shop.call(evil).await.status, StatusCode::FORBIDDEN);
});

on_both_engines!(stock_endpoint_and_staff_changes, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 9).await;
    let r = shop.get("/api/stock?sku=LAV-10&sku=ROSE-2", None).await;
    assert_eq!(r.headers["cache-control"], "public, max-age=10");
    let items = &r.json()["items"];
    assert_eq!(items["LAV-10"]["status"], "in_stock");
    assert_eq!(items["ROSE-2"]["status"], "sold_out");
    assert!(items.get("LAV-30").is_none());
    use atelier_checkout::stock::{change, Change};
    assert!(
        change(&shop.state.db, "LAV-10", Change::Adjust(-10), "counted", &common::shell()).await.is_err(),
        "never below zero"
    );
    let cookie = shop.cart_with("LAV-10", 4).await;
    shop.checkout(&cookie).await;
    assert!(
        change(&shop.state.db, "LAV-10", Change::Set(3), "counted", &common::shell()).await.is_err(),
        "never below what is reserved"
    );
    assert_eq!(
        change(&shop.state.db, "LAV-10", Change::Adjust(-5), "counted", &common::shell()).await.unwrap().available,
        0
    );
    // Crossing the threshold (5) queued one alert; crossing again without a restock does not.
    assert_eq!(shop.count("select count(*) from outbox where kind = 'low_stock'").await, 1);
    change(&shop.state.db, "LAV-10", Change::Adjust(20), "counted", &common::shell()).await.unwrap();
    change(&shop.state.db, "LAV-10", Change::Adjust(-20), "counted", &common::shell()).await.unwrap();
    assert_eq!(
        shop.count("select count(*) from outbox where kind = 'low_stock'").await,
        2,
        "a new crossing, a new alert"
    );
});

on_both_engines!(staff_move_paid_orders_along_and_the_shopper_hears_of_it, |engine: Engine| async move {
    use atelier_checkout::orders::{advance, Step, StepError};
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 3).await;
    let cookie = shop.cart_with("LAV-10", 1).await;
    let started = shop.checkout(&cookie).await.json();
    let number = started["number"].as_str().unwrap().to_string();
    assert!(number.starts_with(&format!("AA-{}-", &atelier_checkout::orders::date(atelier_checkout::ids::now())[..4])));
    let key = shop.state.keys.link.clone();
    let go = |step: Step| {
        let (db, key, number) = (shop.state.db.clone(), key.clone(), number.clone());
        async move {
            advance(&db, &key, "https://shop.example", &number, &step, &atelier_checkout::staff::audit::Actor::shell())
                .await
        }
    };
    // Not paid yet: nothing moves.
    assert!(matches!(go(Step::Fulfil).await, Err(StepError::WrongState { .. })));
    shop.form(started["payment_url"].as_str().unwrap(), "action=pay", None).await;
    assert_eq!(go(Step::Fulfil).await.unwrap().status.as_str(), "fulfilled");
    assert!(matches!(go(Step::Deliver).await, Err(StepError::WrongState { .. })), "not shipped yet");
    let shipped = go(Step::Ship { tracking: Some(" 6A123456789 ".into()) }).await.unwrap();
    assert_eq!((shipped.status.as_str(), shipped.tracking.as_deref()), ("shipped", Some("6A123456789")));
    assert_eq!(shop.count("select count(*) from outbox where kind = 'order_shipped'").await, 1);
    let page = shop.get(started["order_url"].as_str().unwrap(), None).await;
    assert!(page.body.contains("6A123456789") && page.body.contains("on its way"), "{}", page.body);
    assert_eq!(go(Step::Deliver).await.unwrap().status.as_str(), "delivered");
    assert!(matches!(go(Step::Ship { tracking: None }).await, Err(StepError::WrongState { .. })));
    assert!(matches!(
        advance(
            &shop.state.db,
            &key,
            "",
            "AA-1999-000001",
            &Step::Fulfil,
            &atelier_checkout::staff::audit::Actor::shell()
        )
        .await,
        Err(StepError::NotFound(_))
    ));
    // The paid cart is gone; its lingering cookie gets a clear 404, not a server error.
    let r = shop.json("PATCH", "/api/cart/items/LAV-10", r#"{"quantity":2}"#, Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert!(r.json()["message"].as_str().unwrap().contains("no longer open"));
    let r = shop.form("/cart/update", "sku=LAV-10&quantity=2", Some(&cookie)).await;
    assert!(r.status.is_redirection(), "{} {}", r.status, r.body);
    // Adding with it opens a new cart, handed over in a new cookie.
    let r = shop.json("POST", "/api/cart/items", r#"{"sku":"LAV-10","quantity":1}"#, Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let fresh = r.cookie().expect("a new cart cookie");
    assert_ne!(fresh, cookie);
    assert_eq!(r.json()["count"], 1);
    let again = shop.json("POST", "/api/cart/items", r#"{"sku":"LAV-10","quantity":1}"#, Some(&fresh)).await;
    assert_eq!((again.json()["count"].as_i64(), again.cookie()), (Some(2), None), "an open cart keeps its cookie");
});

// The site is rebuilt when a size crosses low stock or sold out, once per change even when one
// change crosses both lines.
on_both_engines!(stock_crossings_ask_for_one_build_each, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    let hooks = "select count(*) from outbox where kind = 'build_hook'";
    shop.set_stock("LAV-10", 10).await;
    assert_eq!(shop.count(hooks).await, 0, "in stock as it was: nothing to rebuild");
    shop.set_stock("LAV-10", 0).await;
    assert_eq!(shop.count(hooks).await, 1, "low and sold out at once: one build");
    shop.set_stock("LAV-10", 10).await;
    assert_eq!(shop.count(hooks).await, 2, "back above low and in stock at once: one build");
    shop.set_stock("LAV-10", 3).await;
    assert_eq!(shop.count(hooks).await, 3, "low again");
    shop.set_stock("LAV-10", 2).await;
    assert_eq!(shop.count(hooks).await, 3, "still low: nothing new");
});

// A cart whose cookie has lapsed is deleted with its lines; a newer cart is kept.
on_both_engines!(lapsed_carts_are_deleted_with_their_lines, |engine: Engine| async move {
    use atelier_checkout::cart::{prune, CART_LIFETIME_SECONDS};
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 5).await;
    let kept = shop.cart_with("LAV-10", 1).await;
    let old = shop.cart_with("LAV-10", 2).await;
    let old_id = old.trim_start_matches("atelier_cart=");
    let now = atelier_checkout::ids::now();
    sqlx::query("update cart set created_at = $1 where cart_id = $2")
        .bind(now - CART_LIFETIME_SECONDS - 1)
        .bind(old_id)
        .execute(&shop.state.db.pool)
        .await
        .unwrap();

    assert_eq!(prune(&shop.state.db, now - CART_LIFETIME_SECONDS).await.unwrap(), 1);
    let lines: Vec<String> =
        sqlx::query_scalar("select cart_id from cart_item").fetch_all(&shop.state.db.pool).await.unwrap();
    assert_eq!(lines, [kept.trim_start_matches("atelier_cart=")]);
    assert_eq!(shop.get("/api/cart", Some(&old)).await.json()["count"], 0);
    assert_eq!(shop.get("/api/cart", Some(&kept)).await.json()["count"], 1);
    assert_eq!(prune(&shop.state.db, now - CART_LIFETIME_SECONDS).await.unwrap(), 0);
});

// PostgreSQL closing the cart writers' connections (a restart, an idle timeout) costs the next
// shoppers nothing: a batch that failed before writing is read again on a new connection. The
// two writers take turns, so the edits after the cut reach the connection that was cut.
#[tokio::test]
async fn cart_edits_survive_postgres_closing_the_writers_connections() {
    let shop = TestShop::new(Engine::Postgres).await;
    shop.set_stock("LAV-10", 12).await;
    let cookie = shop.cart_with("LAV-10", 1).await;
    let cut: Vec<bool> = sqlx::query_scalar(
        "select pg_terminate_backend(pid) from pg_stat_activity
         where datname = current_database() and pid <> pg_backend_pid()",
    )
    .fetch_all(&shop.state.db.pool)
    .await
    .unwrap();
    assert!(cut.iter().any(|&c| c), "no connection was cut");
    for quantity in 2..=5 {
        let r =
            shop.json("PATCH", "/api/cart/items/LAV-10", &format!(r#"{{"quantity":{quantity}}}"#), Some(&cookie)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let r = shop.json("POST", "/api/cart/items", r#"{"sku":"LAV-10","quantity":1}"#, None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    assert_eq!(shop.get("/api/cart", Some(&cookie)).await.json()["count"], 5);
}

on_both_engines!(signing_keys_are_shared_through_the_database, |engine: Engine| async move {
    // A shop upgraded from a version that kept its link key in the data folder keeps it, so the
    // links in e-mails already sent still open; every other instance then reads the same key.
    let dir = tempfile::tempdir().unwrap();
    let url = common::fresh_database(engine, dir.path()).await;
    std::fs::write(dir.path().join("link-key"), "key-kept-by-an-earlier-version\n").unwrap();
    let first = TestShop::on(&url, dir).await;
    assert_eq!(first.state.keys.link.expose(), "key-kept-by-an-earlier-version");
    let second = first.second_instance().await;
    assert_eq!(second.state.keys.link, first.state.keys.link);
    // Made once when nothing is configured nor kept: long, random, and the same everywhere.
    let fresh = TestShop::new(engine).await;
    let key = fresh.state.keys.link.expose().to_string();
    assert!(key.len() >= 64 && key != first.state.keys.link.expose(), "{key}");
    assert_eq!(fresh.second_instance().await.state.keys.link.expose(), key);
    assert_eq!(fresh.count("select count(*) from service_secret").await, 1, "the webhook secret is configured");
});

on_both_engines!(the_cart_page_says_only_our_own_words, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 2).await;
    let cases = [
        ("sku=LAV-10&quantity=URGENT%3A+call+%2B33+6+12+34+56+78", "whole number"),
        ("sku=CALL-NOW-33612345678&quantity=1", "not in the Compendium"),
        ("sku=LAV-10&quantity=5", "Only 2 bottles of Provence Lavender, 10 ml, are left"),
        ("sku=LAV-10&quantity=13", "At most 12 of one size"),
    ];
    for (body, said) in cases {
        let r = shop.form("/cart/add", body, None).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{body}");
        let location = r.location();
        assert!(!location.contains("URGENT") && !location.contains("CALL"), "{location}");
        let page = shop.get(&location, None).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(!page.body.contains("URGENT") && !page.body.contains("CALL-NOW"), "{}", page.body);
        assert!(page.body.contains(said), "{body}: `{said}` in {}", page.body);
    }
    // A link made elsewhere with a message of its own shows nothing.
    let forged = shop.get("/cart?error=sold_out&sku=LAV-10&sig=00000000000000000000000000000000", None).await;
    assert!(!forged.body.contains("sold out"), "{}", forged.body);
    // VAT is said once, one way: prices include it (not also "calculated at checkout").
    let page = shop.get("/cart", Some(&shop.cart_with("LAV-10", 1).await)).await;
    assert!(page.body.contains("Prices include VAT; shipping is calculated at checkout."), "{}", page.body);
    assert!(!page.body.contains("VAT are calculated"), "{}", page.body);
});

on_both_engines!(a_cart_holds_its_bottles_once_however_often_it_is_checked_out, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 10).await;
    let cookie = shop.cart_with("LAV-10", 3).await;
    let replies = shop.json_at_once(20, "POST", "/api/checkout", ADDRESS, &cookie).await;
    let mut orders = std::collections::BTreeSet::new();
    for r in &replies {
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        orders.insert(r.json()["order_id"].as_str().unwrap().to_string());
    }
    assert_eq!(orders.len(), 1, "one open order for the cart: {orders:?}");
    assert_eq!(shop.available("LAV-10").await, 7, "its three bottles held once");
    assert_eq!(shop.count("select count(*) from customer_order").await, 1);
    let first = orders.into_iter().next().unwrap();

    // The shopper goes back and chooses express: the open order gives its bottles back to the
    // one that replaces it.
    let express = ADDRESS.replace("standard", "express");
    let r = shop.json("POST", "/api/checkout", &express, Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let second = r.json()["order_id"].as_str().unwrap().to_string();
    assert_ne!(second, first);
    assert_eq!(shop.status(&first).await, "cancelled");
    assert_eq!(shop.available("LAV-10").await, 7);
    // The same details again find the open order.
    let again = shop.json("POST", "/api/checkout", &express, Some(&cookie)).await.json();
    assert_eq!(again["order_id"], second.as_str());
    assert_eq!(shop.available("LAV-10").await, 7);
});

on_both_engines!(addresses_that_cannot_be_mailed_are_refused, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 5).await;
    let cookie = shop.cart_with("LAV-10", 1).await;
    for email in
        ["<img/src=x>@x.io", "ada@localhost", "\"ada lovelace\"@example.com", "ada@[127.0.0.1]", "a@b@example.com"]
    {
        let body = ADDRESS.replace("ada@example.com", &email.replace('"', "\\\""));
        let r = shop.json("POST", "/api/checkout", &body, Some(&cookie)).await;
        assert_eq!(
            (r.status, r.json()["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("email")),
            "{email}: {}",
            r.body
        );
        let r = shop.json("POST", "/api/newsletter", &serde_json::json!({ "email": email }).to_string(), None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "newsletter {email}: {}", r.body);
    }
    assert_eq!(shop.count("select count(*) from customer_order").await, 0);
    assert_eq!(shop.count("select count(*) from newsletter_subscriber").await, 0);
    // What can be mailed is taken, written as one address.
    let r = shop
        .json(
            "POST",
            "/api/checkout",
            &ADDRESS.replace("ada@example.com", " Ada.Lovelace+shop@Example.COM "),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let email: String =
        sqlx::query_scalar("select email from customer_order").fetch_one(&shop.state.db.pool).await.unwrap();
    assert_eq!(email, "ada.lovelace+shop@example.com");
});

on_both_engines!(a_catalog_mixing_currencies_is_refused_by_name, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    let mut mixed = common::catalog();
    mixed.essences[1].currency = atelier_domain::Currency::Usd;
    let e = atelier_checkout::catalog::sync(&shop.state.db, &mixed).await.unwrap_err().to_string();
    assert!(e.contains("ROSE") && e.contains("USD") && e.contains("EUR"), "{e}");
    let rose: String = sqlx::query_scalar("select currency from product where sku = 'ROSE-2'")
        .fetch_one(&shop.state.db.pool)
        .await
        .unwrap();
    assert_eq!(rose, "EUR", "nothing synced");
});

on_both_engines!(what_holds_personal_data_is_never_stored_by_a_cache, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 5).await;
    let cookie = shop.cart_with("LAV-10", 1).await;
    let started = shop.checkout(&cookie).await.json();
    let order_url = started["order_url"].as_str().unwrap();
    for path in [
        order_url.to_string(),
        order_url.replace("/orders/", "/api/orders/"),
        started["payment_url"].as_str().unwrap().to_string(),
        "/cart".into(),
        "/api/cart".into(),
        "/checkout".into(),
    ] {
        let r = shop.get(&path, Some(&cookie)).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(r.headers.get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"), "{path}");
    }
    let r = shop.checkout(&cookie).await;
    assert_eq!(r.headers.get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"), "a checkout's answer");
    let stock = shop.get("/api/stock", None).await;
    assert_eq!(stock.headers.get("cache-control").and_then(|v| v.to_str().ok()), Some("public, max-age=10"));
});

on_both_engines!(checkouts_of_one_cart_racing_with_different_details_hold_it_once, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 10).await;
    let cookie = shop.cart_with("LAV-10", 3).await;
    let express = ADDRESS.replace("standard", "express");
    let (a, b) = tokio::join!(
        shop.json_at_once(8, "POST", "/api/checkout", ADDRESS, &cookie),
        shop.json_at_once(8, "POST", "/api/checkout", &express, &cookie)
    );
    for r in a.iter().chain(&b) {
        assert!(matches!(r.status.as_u16(), 201 | 409), "{}", r.body);
    }
    assert_eq!(
        shop.count("select count(*) from customer_order where status = 'pending_payment'").await,
        1,
        "one open order"
    );
    assert_eq!(shop.available("LAV-10").await, 7, "its bottles held once, the replaced orders' given back");
    // Every order a shopper was sent to pay is either the open one or was closed before its
    // page was handed out: none of them can take money for bottles it no longer holds.
    let held: i64 = shop.count("select cast(coalesce(sum(quantity), 0) as bigint) from order_item join customer_order using (order_id) where status = 'pending_payment'").await;
    assert_eq!(held, 3);
});

on_both_engines!(postal_codes_take_their_countrys_shape, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 5).await;
    let cookie = shop.cart_with("LAV-10", 1).await;
    let r = shop.json("POST", "/api/checkout", &ADDRESS.replace("06130", "ABC"), Some(&cookie)).await;
    assert_eq!((r.status, r.json()["field"].as_str()), (StatusCode::BAD_REQUEST, Some("postal_code")), "{}", r.body);
    assert!(r.json()["message"].as_str().unwrap().contains("06130"), "{}", r.body);
    let r = shop.form("/checkout", "email=ada%40example.com&name=Ada&line1=1+rue&city=Grasse&postal_code=ABC&country=FR&shipping_method=standard", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("one looks like 06130"), "{}", r.body);
    // A Dutch code, written loosely, is taken and kept as the post writes it.
    let dutch = ADDRESS.replace("06130", "1012   ab").replace(r#""country":"FR""#, r#""country":"NL""#);
    let r = shop.json("POST", "/api/checkout", &dutch, Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let order =
        shop.get(&r.json()["order_url"].as_str().unwrap().replace("/orders/", "/api/orders/"), None).await.json();
    assert!(order["address"].as_str().unwrap().contains("1012 AB"), "{order}");
});

on_both_engines!(a_checkout_takes_a_billing_address_and_a_phone_for_the_courier, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 5).await;
    let cookie = shop.cart_with("LAV-10", 1).await;
    let with = |extra: &str| {
        ADDRESS.replace(r#""shipping_method":"standard""#, &format!(r#""shipping_method":"standard",{extra}"#))
    };
    // A billing address is checked as the delivery's is, its problems named by its own fields.
    let r = shop
        .json(
            "POST",
            "/api/checkout",
            &with(r#""billing_line1":"Herengracht 1","billing_country":"NL","billing_postal_code":"ABC""#),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.json()["field"], "billing_name", "{}", r.body);
    let r = shop.json("POST", "/api/checkout", &with(r#""phone":"call me""#), Some(&cookie)).await;
    assert_eq!((r.status, r.json()["field"].as_str()), (StatusCode::BAD_REQUEST, Some("phone")), "{}", r.body);
    // The form names each problem of the billing address as its own.
    let form = "email=ada%40example.com&name=Ada&line1=1+rue&city=Grasse&postal_code=06130&country=FR&shipping_method=standard\
                &billing_name=Ada+King&billing_line1=Herengracht+1&billing_city=Amsterdam&billing_postal_code=ABC&billing_country=NL";
    let r = shop.form("/checkout", form, Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("Billing address: this is not a postal code of that country: one looks like 1012 AB"),
        "{}",
        r.body
    );
    assert!(r.body.contains(r#"<details class="billing" open>"#), "what was given stays in sight");
    // Given well: kept with the order, shown on its page and in the confirmation.
    let billed = with(
        r#""phone":" +33 6 12 34 56 78 ","billing_name":"Ada King","billing_line1":"Herengracht 1","billing_city":"Amsterdam","billing_postal_code":"1012 ab","billing_country":"nl""#,
    );
    let r = shop.json("POST", "/api/checkout", &billed, Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let url = r.json()["order_url"].as_str().unwrap().to_string();
    let order = shop.get(&url.replace("/orders/", "/api/orders/"), None).await.json();
    assert_eq!(order["phone"], "+33 6 12 34 56 78");
    assert_eq!(order["billing_address"], "Ada King\nHerengracht 1\n1012 AB Amsterdam\nNetherlands", "{order}");
    assert!(order["address"].as_str().unwrap().contains("06130 Grasse"), "{order}");
    let page = shop.get(&url, None).await;
    assert!(
        page.body.contains("Billed to") && page.body.contains("<dt>Telephone</dt><dd>+33 6 12 34 56 78</dd>"),
        "{}",
        page.body
    );
    // Dates as the site writes them ("7 October 2026"), not 2026-10-07.
    let today = atelier_checkout::orders::written_date(atelier_checkout::ids::now());
    assert!(page.body.contains(&format!("<dd>{today}</dd>")), "{today} in {}", page.body);
    // Without one, the delivery address is billed and no phone is shown.
    let cookie = shop.cart_with("LAV-10", 1).await;
    let r = shop.json("POST", "/api/checkout", ADDRESS, Some(&cookie)).await;
    let order =
        shop.get(&r.json()["order_url"].as_str().unwrap().replace("/orders/", "/api/orders/"), None).await.json();
    assert_eq!((order["billing_address"].is_null(), order["phone"].is_null()), (true, true), "{order}");
});

/// The confirmation links mailed to an address, oldest first: (confirm, unsubscribe).
async fn newsletter_links(shop: &TestShop, to: &str) -> Vec<(String, String)> {
    let texts: Vec<String> = sqlx::query_scalar(
        "select body_text from outbox natural join outbox_body where recipient = $1 and kind = 'newsletter_confirm' order by created_at",
    )
    .bind(to)
    .fetch_all(&shop.state.db.pool)
    .await
    .unwrap();
    let find = |text: &str, path: &str| {
        let at = text.find(path).unwrap_or_else(|| panic!("no {path} in {text}"));
        text[at..].split_whitespace().next().unwrap().to_string()
    };
    texts.iter().map(|t| (find(t, "/newsletter/confirm?"), find(t, "/newsletter/unsubscribe?"))).collect()
}

on_both_engines!(the_newsletter_takes_an_address_only_once_its_owner_confirms, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    let confirmed = "select count(*) from newsletter_subscriber where confirmed_at is not null";
    let r = shop.json("POST", "/api/newsletter", r#"{"email":"Ada@Example.com"}"#, None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert!(r.json()["message"].as_str().unwrap().contains("confirm"), "{}", r.body);
    assert_eq!(shop.count(confirmed).await, 0, "not before its owner confirms");
    let links = newsletter_links(&shop, "ada@example.com").await;
    assert_eq!(links.len(), 1);
    let (confirm, leave) = links[0].clone();
    // Opening the link only shows the button (a mail scanner confirms no one).
    let page = shop.get(&confirm, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Confirm my subscription") && page.body.contains(r#"action="/newsletter/confirm""#));
    assert_eq!(shop.count(confirmed).await, 0);
    // Another address's signature, or none, confirms nothing.
    let query = confirm.split_once('?').unwrap().1.to_string();
    let forged = query.replace("ada%40example.com", "eve%40example.com");
    assert_eq!(shop.form("/newsletter/confirm", &forged, None).await.status, StatusCode::FORBIDDEN);
    assert_eq!(shop.get(&format!("/newsletter/confirm?{forged}"), None).await.status, StatusCode::FORBIDDEN);
    let r = shop.form("/newsletter/confirm", &query, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("You are subscribed"), "{}", r.body);
    assert_eq!(shop.count(confirmed).await, 1);
    // Signing up again once subscribed: the same answer, no more mail.
    let r = shop.form("/newsletter", "email=ada%40example.com", None).await;
    assert!(r.body.contains("Check your e-mail"), "{}", r.body);
    assert_eq!(newsletter_links(&shop, "ada@example.com").await.len(), 1);
    // One click from a mail program (RFC 8058) leaves the list.
    let req = axum::http::Request::post(leave.as_str())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::from("List-Unsubscribe=One-Click"))
        .unwrap();
    let r = shop.call(req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(shop.count("select count(*) from newsletter_subscriber").await, 0);
    assert_eq!(shop.form("/newsletter/confirm", &query, None).await.status, StatusCode::NOT_FOUND);
    // An address no one confirms gets five links an hour at most, whatever is asked.
    for _ in 0..7 {
        let r = shop.json("POST", "/api/newsletter", r#"{"email":"bea@example.com"}"#, None).await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
    }
    assert_eq!(newsletter_links(&shop, "bea@example.com").await.len(), 5);
});

on_both_engines!(a_quote_prices_the_cart_as_the_order_will_be, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 5).await;
    let cookie = shop.cart_with("LAV-10", 1).await;
    let quote = |q: &'static str| {
        let (shop, cookie) = (&shop, cookie.clone());
        async move { shop.get(&format!("/api/checkout/quote?{q}"), Some(&cookie)).await }
    };
    let standard = quote("shipping_method=standard&country=FR").await;
    assert_eq!(standard.status, StatusCode::OK, "{}", standard.body);
    let express = quote("shipping_method=express&country=de").await;
    let (s, e) = (standard.json(), express.json());
    assert_eq!(s["subtotal"]["amount"], 2400);
    assert!(e["shipping"]["amount"].as_i64() > s["shipping"]["amount"].as_i64(), "{e} {s}");
    assert_eq!(e["total"]["amount"].as_i64().unwrap(), 2400 + e["shipping"]["amount"].as_i64().unwrap());
    assert_eq!(e["vat_percent"], 19, "Germany's rate");
    // The order opened with the same choices asks exactly the quoted total.
    let body = ADDRESS.replace(r#""shipping_method":"standard""#, r#""shipping_method":"express""#);
    let r = shop.json("POST", "/api/checkout", &body, Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let fr_express = quote("shipping_method=express&country=FR").await.json();
    assert_eq!(r.json()["total"], fr_express["total"]["amount"], "{} {fr_express}", r.body);
    // Bad choices are named; an empty cart has nothing to price.
    let r = quote("shipping_method=pigeon&country=FR").await;
    assert_eq!((r.status, r.json()["field"].as_str()), (StatusCode::BAD_REQUEST, Some("shipping_method")));
    let r = quote("shipping_method=standard&country=US").await;
    assert_eq!((r.status, r.json()["field"].as_str()), (StatusCode::BAD_REQUEST, Some("country")));
    let r = quote("country=FR").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.json()["message"].is_string());
    let r = shop.get("/api/checkout/quote?shipping_method=standard&country=FR", None).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
});

on_both_engines!(a_letter_from_the_contact_form_reaches_staff_and_its_sender, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    let letter = "name=Ada+Lovelace&email=ada%40example.com&subject=A+winter+blend&message=Which+essence+for+a+winter+evening%3F&website=";
    let r = shop.form("/contact/send", letter, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Your letter is on its way"), "{}", r.body);
    let rows: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
        "select kind, recipient, subject, reply_to from outbox where kind like 'contact%' order by kind",
    )
    .fetch_all(&shop.state.db.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        (rows[0].0.as_str(), rows[0].1.as_str(), rows[0].3.as_deref()),
        ("contact", "staff", Some("Ada Lovelace <ada@example.com>"))
    );
    assert_eq!(rows[0].2, "Contact form: A winter blend");
    assert_eq!(
        (rows[1].0.as_str(), rows[1].1.as_str(), rows[1].3.as_deref()),
        ("contact_copy", "ada@example.com", None)
    );

    // A robot fills the hidden field: the same answer, nothing sent.
    let r = shop.form("/contact/send", &letter.replace("website=", "website=http%3A%2F%2Fspam.example"), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(shop.count("select count(*) from outbox where kind like 'contact%'").await, 2);

    // Every problem named, linked to its field, what was typed kept.
    let r = shop.form("/contact/send", "name=&email=ada%40&subject=Hello&message=", None).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    for field in ["name", "email", "message"] {
        assert!(r.body.contains(&format!(r##"href="#{field}""##)), "{field}: {}", r.body);
        assert!(r.body.contains(&format!(r#"id="{field}-error""#)), "{field}: {}", r.body);
    }
    assert!(r.body.contains(r#"value="Hello""#) && r.body.contains("<title>Error: "), "{}", r.body);
    assert!(!r.body.contains(r#"id="subject-error""#));

    // Five letters an hour from one client; the sixth is told when to try again.
    for n in 2..=5 {
        let r = shop.form("/contact/send", &letter.replace("ada%40", &format!("ada{n}%40")), None).await;
        assert_eq!(r.status, StatusCode::OK, "letter {n}: {}", r.body);
    }
    let r = shop.form("/contact/send", &letter.replace("ada%40", "bea%40"), None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert!(r.headers.get("retry-after").is_some());
    assert_eq!(shop.count("select count(*) from outbox where kind = 'contact'").await, 5);
    // The form's own page is the Contact page.
    let r = shop.get("/contact/send", None).await;
    assert_eq!((r.status, r.location().as_str()), (StatusCode::SEE_OTHER, "/contact/#write"));
});

// `/metrics` answers only to its token, in the OpenMetrics text format: requests by route,
// method and status with their latency, webhook refusals, cart-writer batches, the outbox.
on_both_engines!(metrics_answer_only_to_their_token, |engine: Engine| async move {
    let off = TestShop::new(engine).await;
    assert_eq!(off.get("/metrics", None).await.status, StatusCode::NOT_FOUND, "off without METRICS_TOKEN");
    const TOKEN: &str = "scrape-me-please-0123";
    let shop = TestShop::configured(engine, |c| {
        c.metrics_token = Some(atelier_checkout::config::Secret::new(TOKEN));
    })
    .await;
    let scrape = |auth: Option<&str>| {
        let mut b = Request::get("/metrics");
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        shop.call(b.body(Body::empty()).unwrap())
    };
    assert_eq!(scrape(None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(scrape(Some("Bearer scrape-me-please-0124")).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(scrape(Some(TOKEN)).await.status, StatusCode::UNAUTHORIZED, "the scheme is needed");

    shop.get("/api/health", None).await;
    shop.set_stock("LAV-10", 5).await;
    shop.cart_with("LAV-10", 1).await;
    let r = shop.json("POST", "/api/webhooks/stripe", "{}", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = scrape(Some(&format!("Bearer {TOKEN}"))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.headers["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    for line in [
        r#"atelier_http_requests_total{route="/api/health",method="GET",status="200"}"#,
        r#"atelier_http_request_duration_seconds_bucket{le="0.005",route="/api/cart/items",method="POST"}"#,
        r#"atelier_webhook_failures_total{reason="signature"}"#,
        "atelier_cart_writer_batch_edits_count",
        "atelier_outbox_pending ",
        "atelier_outbox_oldest_pending_seconds ",
        "# EOF",
    ] {
        assert!(r.body.contains(line), "{line} in:\n{}", r.body);
    }
    // A made-up path is counted as unmatched, not by its own name.
    shop.get("/no/such/page/4711", None).await;
    let r = scrape(Some(&format!("Bearer {TOKEN}"))).await;
    assert!(!r.body.contains("4711") && r.body.contains(r#"route="unmatched""#), "{}", r.body);
});
