//! The staff console: every `/staff` route refuses a signed-out visitor, a customer, a session
//! without a second factor and a role without the route's permission (walked from the router's
//! own document, not a hand list); nobody grants what they do not hold or leaves the shop
//! without an owner; every change leaves its audit row; staff sessions idle out.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use common::{Engine, Reply, TestShop};

use atelier_checkout::staff::audit::Actor;
use atelier_checkout::staff::{guard, members, Permission};
use atelier_checkout::stock::purchasing;

const PASSWORD: &str = "quiet lavender harvest";

fn shell() -> Actor {
    Actor::Shell { user: "test".into() }
}

/// The text of the latest message of a kind to an address.
async fn latest_mail(shop: &TestShop, to: &str, kind: &str) -> String {
    for _ in 0..300 {
        let found: Option<String> = sqlx::query_scalar(
            "select body_text from outbox natural join outbox_body where recipient = $1 and kind = $2
             order by created_at desc, outbox_id desc limit 1",
        )
        .bind(to)
        .bind(kind)
        .fetch_optional(&shop.state.db.pool)
        .await
        .unwrap();
        if let Some(text) = found {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no {kind} mail to {to}")
}

fn session_of(r: &Reply) -> String {
    r.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("atelier_session=") && !v.starts_with("atelier_session=;"))
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("no session cookie in {:?}", r.headers))
        .to_string()
}

fn code(secret: &str, email: &str) -> String {
    atelier_checkout::accounts::two_factor::code_at(secret, email, atelier_checkout::ids::now() as u64).unwrap()
}

/// Signs in with the password; the session cookie (without a second factor when none is on).
async fn sign_in(shop: &TestShop, email: &str) -> String {
    let body = serde_json::json!({ "email": email, "password": PASSWORD }).to_string();
    let r = shop.json("POST", "/api/account/sign-in", &body, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    session_of(&r)
}

/// Turns two factors on from a session; a recovery code and the session's new cookie.
async fn two_factor(shop: &TestShop, email: &str, cookie: &str) -> (String, String) {
    let r = shop.json("POST", "/api/account/two-factor/setup", "", Some(cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let secret = r.json()["secret"].as_str().unwrap().to_string();
    let body = format!(r#"{{"code":"{}"}}"#, code(&secret, email));
    let r = shop.json("POST", "/api/account/two-factor/enable", &body, Some(cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    (r.json()["recovery_codes"][0].as_str().unwrap().to_string(), session_of(&r))
}

/// Someone added to the staff from the command line, who answers the invitation, signs in and
/// turns two factors on: their account and a console session.
async fn staff(shop: &TestShop, email: &str, role: &str) -> (String, String) {
    let added = members::add(&shop.state, &shell(), email, "Clerk Person", role).await.unwrap();
    assert!(added.invited);
    let text = latest_mail(shop, email, "staff_invite").await;
    let at = text.find("token=").expect("a link") + 6;
    let token = &text[at..at + 64];
    let body = serde_json::json!({ "token": token, "password": PASSWORD }).to_string();
    let r = shop.json("POST", "/api/account/password/reset", &body, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let cookie = sign_in(shop, email).await;
    let (_, cookie) = two_factor(shop, email, &cookie).await;
    (added.account_id, cookie)
}

/// A paid order; its number.
async fn paid_order(shop: &TestShop, email: &str) -> String {
    let cart = shop.cart_with("LAV-10", 1).await;
    let address = common::ADDRESS.replace("ada@example.com", email);
    let r = shop.json("POST", "/api/checkout", &address, Some(&cart)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let started = r.json();
    let r = shop.form(started["payment_url"].as_str().unwrap(), "action=pay", None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    sqlx::query_scalar("select number from customer_order where order_id = $1")
        .bind(started["order_id"].as_str().unwrap())
        .fetch_one(&shop.state.db.pool)
        .await
        .unwrap()
}

async fn request(shop: &TestShop, method: &Method, path: &str, cookie: Option<&str>, body: &str) -> Reply {
    let mut b = Request::builder().method(method.clone()).uri(path);
    if *method == Method::POST {
        b = b.header("content-type", "application/x-www-form-urlencoded");
    }
    if let Some(c) = cookie {
        b = b.header("cookie", c);
    }
    let mut req = b.body(Body::from(body.to_string())).unwrap();
    req.extensions_mut().insert(ConnectInfo(SocketAddr::from(([203, 0, 113, 9], 40000))));
    shop.call(req).await
}

/// Sets what a role may do, straight in the database (the test's own lever).
async fn grant_exactly(shop: &TestShop, role: &str, permissions: &BTreeSet<Permission>) {
    let mut tx = shop.state.db.begin_write().await.unwrap();
    sqlx::query("delete from staff_role_permission where role = $1").bind(role).execute(&mut **tx).await.unwrap();
    for p in permissions {
        sqlx::query("insert into staff_role_permission (role, permission) values ($1, $2)")
            .bind(role)
            .bind(p.as_str())
            .execute(&mut **tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

async fn make_role(shop: &TestShop, role: &str, permissions: &[Permission]) {
    members::ensure_roles(&shop.state.db).await.unwrap();
    sqlx::query("insert into staff_role (role, label, created_at) values ($1, $1, 0)")
        .bind(role)
        .execute(&shop.state.db.pool)
        .await
        .unwrap();
    grant_exactly(shop, role, &permissions.iter().copied().collect()).await;
}

on_both_engines!(every_staff_route_refuses_whoever_lacks_its_permission, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 10).await;
    let number = paid_order(&shop, "shopper@example.com").await;
    let supplier = purchasing::add_supplier(&shop.state.db, &shell(), "Distillerie", "", 14).await.unwrap();
    let po =
        purchasing::draft(&shop.state.db, &shell(), &supplier.supplier_id, &[("LAV-10".into(), 5)], "").await.unwrap();
    make_role(&shop, "probe", &[]).await;
    let (probe_id, probe) = staff(&shop, "probe@example.com", "probe").await;

    // The routes, from the router's own document.
    let doc: serde_json::Value = serde_json::from_str(atelier_checkout::openapi_json()).unwrap();
    let mut routes = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap().iter().filter(|(p, _)| guard::is_staff(p)) {
        for method in item.as_object().unwrap().keys() {
            routes.push((method.to_uppercase().parse::<Method>().unwrap(), path.clone()));
        }
    }
    assert!(routes.len() >= 10, "{routes:?}");
    for (method, path) in &routes {
        assert!(
            guard::table().contains_key(&(method.clone(), path.clone())),
            "{method} {path} declares no permission (so nobody may use it)"
        );
    }
    let concrete = |path: &str| {
        // A page that takes its subject in the query.
        let path =
            if path == "/staff/customers/one" { "/staff/customers/one?email=shopper%40example.com" } else { path };
        path.replace("{order_id}", &number)
            .replace("{step}", "fulfil")
            .replace("{account_id}", &probe_id)
            .replace("{role}", "fulfilment")
            .replace("{sku}", "LAV-10")
            .replace("{po_id}", &po)
            .replace("{action}", "send")
            .replace("{subscription_id}", "sub_none")
            .replace("{testimonial_id}", "tst_none")
            .replace("{edit}", "approve")
    };
    // A customer signed in with two factors, not on the staff.
    let r = shop
        .json(
            "POST",
            "/api/account/register",
            r#"{"email":"cust@example.com","password":"quiet lavender harvest","name":"Cust"}"#,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let text = latest_mail(&shop, "cust@example.com", "account_verify").await;
    let at = text.find("token=").unwrap() + 6;
    let body = serde_json::json!({ "token": &text[at..at + 64], "password": PASSWORD }).to_string();
    let r = shop.json("POST", "/api/account/verify", &body, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let (_, customer) = two_factor(&shop, "cust@example.com", &session_of(&r)).await;

    for (method, path) in &routes {
        let at = concrete(path);
        let needs = guard::table()[&(method.clone(), path.clone())].clone();
        let r = request(&shop, method, &at, None, "").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method} {at} signed out: {}", r.body);
        let r = request(&shop, method, &at, Some(&customer), "").await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {at} as a customer");
        assert!(r.body.contains("Not a staff account"), "{}", r.body);
        // Every permission but the ones the route needs.
        let all_but: BTreeSet<Permission> = Permission::ALL.into_iter().filter(|p| !needs.contains(p)).collect();
        grant_exactly(&shop, "probe", &all_but).await;
        let r = request(&shop, method, &at, Some(&probe), "").await;
        if needs.is_empty() {
            assert_eq!(r.status, StatusCode::OK, "{method} {at} is any staff member's: {}", r.body);
        } else {
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {at} without {needs:?}: {}", r.body);
            assert!(r.body.contains("Not allowed"), "{}", r.body);
        }
        // With exactly what it needs, a page opens.
        if *method == Method::GET {
            grant_exactly(&shop, "probe", &needs.iter().copied().collect()).await;
            let r = request(&shop, method, &at, Some(&probe), "").await;
            assert_eq!(r.status, StatusCode::OK, "{method} {at} with {needs:?}: {}", r.body);
        }
    }

    // The menu shows only what the role may open.
    grant_exactly(&shop, "probe", &[Permission::OrdersView].into_iter().collect()).await;
    let home = request(&shop, &Method::GET, "/staff", Some(&probe), "").await;
    assert!(
        home.body.contains(r#"href="/staff/orders""#) && !home.body.contains(r#"href="/staff/team""#),
        "{}",
        home.body
    );
    assert!(!home.body.contains(r#"href="/staff/audit""#));

    // A session that signed in without a second factor opens nothing, even of an owner.
    let (_, owner) = staff(&shop, "owner@example.com", "owner").await;
    assert_eq!(request(&shop, &Method::GET, "/staff", Some(&owner), "").await.status, StatusCode::OK);
    sqlx::query("update account_session set two_factor_at = null").execute(&shop.state.db.pool).await.unwrap();
    let r = request(&shop, &Method::GET, "/staff", Some(&owner), "").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("Two factors needed"), "{}", r.body);
});

on_both_engines!(nobody_grants_what_they_do_not_hold, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    members::ensure_roles(&shop.state.db).await.unwrap();
    let (owner_id, owner) = staff(&shop, "owner@example.com", "owner").await;
    // A lead may manage staff and see orders, nothing more.
    make_role(&shop, "lead", &[Permission::StaffManage, Permission::OrdersView]).await;
    make_role(&shop, "picker", &[Permission::OrdersView]).await;
    let (lead_id, lead) = staff(&shop, "lead@example.com", "lead").await;
    let post = |path: &'static str, body: &'static str, cookie: String| {
        let shop = &shop;
        async move { request(shop, &Method::POST, path, Some(&cookie), body).await }
    };

    // Making someone an owner, or a support clerk (customers.*), is beyond a lead.
    let r = post("/staff/team", "email=new%40example.com&name=New&role=owner", lead.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(r.body.contains("permissions you do not hold"), "{}", r.body);
    let r = post("/staff/team", "email=new%40example.com&name=New&role=support", lead.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(
        r.body.contains(r#"value="new@example.com""#) && r.body.contains(r#"value="New""#),
        "the form keeps what was typed: {}",
        r.body
    );
    assert!(r.body.contains(r#"<option value="support" selected>"#), "and the role chosen: {}", r.body);
    assert_eq!(shop.count("select count(*) from account where email = 'new@example.com'").await, 0);
    // Within its own permissions it may.
    let r = post("/staff/team", "email=new%40example.com&name=New&role=picker", lead.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("invitation"), "{}", r.body);

    // Promoting oneself, or demoting or removing an owner (who holds more), is refused.
    let own = format!("/staff/team/{lead_id}/role");
    let r = request(&shop, &Method::POST, &own, Some(&lead), "role=owner").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = request(&shop, &Method::POST, &format!("/staff/team/{owner_id}/role"), Some(&lead), "role=picker").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = request(&shop, &Method::POST, &format!("/staff/team/{owner_id}/remove"), Some(&lead), "").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(members::members(&shop.state.db).await.unwrap().iter().filter(|m| m.role == "owner").count(), 1);

    // Giving a role a permission one lacks, or taking one away, is refused; the owner role is
    // not editable at all.
    let r = request(
        &shop,
        &Method::POST,
        "/staff/roles/picker",
        Some(&lead),
        "permission:orders.view=on&permission:orders.refund=on",
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = request(&shop, &Method::POST, "/staff/roles/fulfilment", Some(&lead), "permission:orders.view=on").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "taking orders.fulfil away needs holding it: {}", r.body);
    let r = request(
        &shop,
        &Method::POST,
        "/staff/roles/lead",
        Some(&lead),
        "permission:orders.view=on&permission:staff.manage=on&permission:audit.view=on",
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "a role cannot be widened by its own holder: {}", r.body);
    let r = request(&shop, &Method::POST, "/staff/roles/owner", Some(&owner), "permission:orders.view=on").await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = request(
        &shop,
        &Method::POST,
        "/staff/roles/picker",
        Some(&owner),
        "permission:orders.view=on&permission:orders.nothing=on",
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let held = members::permissions_of(&shop.state.db, "picker").await.unwrap();
    assert_eq!(held, [Permission::OrdersView].into_iter().collect());
    // The owner may.
    let r = request(
        &shop,
        &Method::POST,
        "/staff/roles/picker",
        Some(&owner),
        "permission:orders.view=on&permission:orders.fulfil=on",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(members::permissions_of(&shop.state.db, "picker").await.unwrap().contains(&Permission::OrdersFulfil));

    // The last owner stays, from the console and the command line alike.
    let r = request(&shop, &Method::POST, &format!("/staff/team/{owner_id}/role"), Some(&owner), "role=manager").await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains("last owner"), "{}", r.body);
    assert!(members::remove(&shop.state, &shell(), &owner_id).await.is_err());
    // With a second owner, one may go.
    members::set_role(&shop.state, &shell(), &lead_id, "owner").await.unwrap();
    members::remove(&shop.state, &shell(), &owner_id).await.unwrap();
    let r = request(&shop, &Method::GET, "/staff", Some(&owner), "").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "off the staff, the console is closed at once");
});

on_both_engines!(every_change_leaves_its_audit_row, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 10).await;
    let (_, owner) = staff(&shop, "owner@example.com", "owner").await;
    let (clerk_id, clerk) = staff(&shop, "clerk@example.com", "fulfilment").await;
    let first = paid_order(&shop, "one@example.com").await;
    let second = paid_order(&shop, "two@example.com").await;

    let r =
        request(&shop, &Method::POST, &format!("/staff/orders/{first}/ship"), Some(&clerk), "tracking=LA123456789FR")
            .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.headers["location"], format!("/staff/orders/{first}?done=ship"));
    assert!(latest_mail(&shop, "one@example.com", "order_shipped").await.contains("LA123456789FR"));
    // A step the order is not ready for says so, and changes nothing.
    let r = request(&shop, &Method::POST, &format!("/staff/orders/{first}/fulfil"), Some(&clerk), "").await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("needs it to be paid"), "{}", r.body);
    let r = request(
        &shop,
        &Method::POST,
        &format!("/staff/orders/{first}/notes"),
        Some(&clerk),
        "body=Left+with+the+neighbour",
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = request(&shop, &Method::POST, &format!("/staff/orders/{first}/notes"), Some(&clerk), "body=++").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // From the command line, with the shell user as the actor.
    atelier_checkout::orders::advance(
        &shop.state.db,
        &shop.state.keys.link,
        "",
        &second,
        &atelier_checkout::orders::Step::Fulfil,
        &shell(),
    )
    .await
    .unwrap();
    let r = request(&shop, &Method::POST, &format!("/staff/team/{clerk_id}/role"), Some(&owner), "role=support").await;
    assert_eq!(r.status, StatusCode::OK);
    let r = request(
        &shop,
        &Method::POST,
        "/staff/roles/fulfilment",
        Some(&owner),
        "permission:orders.view=on&permission:orders.fulfil=on",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    // A refused sign-in of a staff account.
    let r = shop
        .json("POST", "/api/account/sign-in", r#"{"email":"clerk@example.com","password":"not the one at all"}"#, None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    type Row = (String, String, Option<String>, Option<String>, Option<String>, Option<String>);
    let rows: Vec<Row> = sqlx::query_as(
        "select actor_label, action, subject, before_json, after_json, client from audit_log order by at, audit_id",
    )
    .fetch_all(&shop.state.db.pool)
    .await
    .unwrap();
    let find =
        |action: &str| rows.iter().find(|r| r.1 == action).unwrap_or_else(|| panic!("no {action} row in {rows:?}"));
    let ship = find("order.ship");
    assert_eq!(ship.0, "clerk@example.com");
    assert_eq!(ship.2.as_deref(), Some(format!("order:{first}").as_str()));
    assert_eq!(ship.3.as_deref(), Some(r#"{"status":"paid"}"#));
    assert!(ship.4.as_deref().unwrap().contains("LA123456789FR") && ship.4.as_deref().unwrap().contains("shipped"));
    assert_eq!(ship.5.as_deref(), Some("203.0.113.9"));
    assert!(find("order.note").4.as_deref().unwrap().contains("neighbour"));
    let fulfil = find("order.fulfil");
    assert_eq!(
        (fulfil.0.as_str(), fulfil.2.as_deref()),
        ("test (command line)", Some(format!("order:{second}").as_str()))
    );
    let role = find("staff.role");
    assert!(role.3.as_deref().unwrap().contains("fulfilment") && role.4.as_deref().unwrap().contains("support"));
    assert!(find("staff.role_permissions").4.as_deref().unwrap().contains("orders.fulfil"));
    assert_eq!(rows.iter().filter(|r| r.1 == "staff.add").count(), 2);
    assert!(rows.iter().filter(|r| r.1 == "staff.sign_in").count() >= 2);
    assert_eq!(find("staff.sign_in_failed").0, "clerk@example.com");
    assert_eq!(rows.iter().filter(|r| r.1 == "order.ship").count(), 1, "the refused step left no row");

    // The order page tells its history with who and when, and the note; the audit page filters.
    let page = request(&shop, &Method::GET, &format!("/staff/orders/{first}"), Some(&owner), "").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("Shipped, tracking LA123456789FR") && page.body.contains("clerk@example.com"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Left with the neighbour"));
    let log = request(&shop, &Method::GET, "/staff/audit?action=order.&actor=clerk", Some(&owner), "").await;
    assert_eq!(log.status, StatusCode::OK);
    assert!(log.body.contains("order.ship") && !log.body.contains("staff.role"), "{}", log.body);
});

on_both_engines!(orders_are_found_by_number_address_name_and_state, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 10).await;
    let (_, owner) = staff(&shop, "owner@example.com", "owner").await;
    let first = paid_order(&shop, "one@example.com").await;
    let second = paid_order(&shop, "two@example.com").await;
    atelier_checkout::orders::advance(
        &shop.state.db,
        &shop.state.keys.link,
        "",
        &second,
        &atelier_checkout::orders::Step::Fulfil,
        &shell(),
    )
    .await
    .unwrap();
    let list = |q: String| {
        let shop = &shop;
        let owner = owner.clone();
        async move { request(shop, &Method::GET, &format!("/staff/orders?{q}"), Some(&owner), "").await }
    };
    let all = list(String::new()).await;
    assert!(all.body.contains(&first) && all.body.contains(&second));
    let digits = first.rsplit('-').next().unwrap().trim_start_matches('0').to_string();
    let by_digits = list(format!("q={digits}")).await;
    assert!(by_digits.body.contains(&first) && !by_digits.body.contains(&second), "{}", by_digits.body);
    let whole = list(format!("q={}", first.to_lowercase())).await;
    assert!(whole.body.contains(&first) && !whole.body.contains(&second), "{}", whole.body);
    let by_mail = list("q=TWO%40example.com".into()).await;
    assert!(by_mail.body.contains(&second) && !by_mail.body.contains(&first));
    let by_state = list("status=fulfilled".into()).await;
    assert!(by_state.body.contains(&second) && !by_state.body.contains(&first));
    let by_name = list("q=ada".into()).await;
    assert!(by_name.body.contains(&first) && by_name.body.contains(&second), "the address's name");
    let refunds = list("refund=1".into()).await;
    assert_eq!(refunds.status, StatusCode::OK);
    assert!(!refunds.body.contains(&first) && refunds.body.contains("No order matches."));
    let bad = list("from=yesterday&status=lost".into()).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("is not a day") && bad.body.contains("is not an order state"), "{}", bad.body);
    let today = atelier_checkout::orders::date(atelier_checkout::ids::now());
    assert!(list(format!("from={today}&until={today}")).await.body.contains(&first));
    let old = list("until=2001-01-01".into()).await;
    assert_eq!(old.status, StatusCode::OK);
    assert!(!old.body.contains(&first) && old.body.contains("No order matches."));
});

on_both_engines!(names_are_found_by_any_part_of_three_letters_or_more, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 10).await;
    let (_, owner) = staff(&shop, "owner@example.com", "owner").await;
    let elodie = paid_order(&shop, "elodie@example.com").await;
    let grace = paid_order(&shop, "grace@example.com").await;
    let ada = paid_order(&shop, "ada@example.com").await;
    // Names written after the order was placed (the index follows every write), one beyond
    // ASCII and one holding LIKE's wildcard.
    for (number, name) in [(&elodie, "Élodie Ørsted"), (&grace, "Grace_Hopper")] {
        sqlx::query("update customer_order set name = $1 where number = $2")
            .bind(name)
            .bind(number)
            .execute(&shop.state.db.pool)
            .await
            .unwrap();
    }
    let numbers = vec![elodie.clone(), grace.clone(), ada.clone()];
    let found = |q: &str| {
        let (shop, owner, q, numbers) = (&shop, owner.clone(), q.to_string(), numbers.clone());
        async move {
            let r = request(shop, &Method::GET, &format!("/staff/orders?q={q}"), Some(&owner), "").await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            numbers.into_iter().filter(|n| r.body.contains(n.as_str())).collect::<Vec<_>>()
        }
    };
    assert_eq!(found("%C3%89LODIE").await, std::slice::from_ref(&elodie), "capitals beyond ASCII fold");
    assert_eq!(found("rsted").await, std::slice::from_ref(&elodie), "the middle of a word");
    assert_eq!(found("e_h").await, std::slice::from_ref(&grace), "an underscore is an underscore");
    assert_eq!(found("lovelace").await, std::slice::from_ref(&ada));
    assert_eq!(found("ad").await, std::slice::from_ref(&ada), "two letters: read in full, still found");
    assert_eq!(found("love%00lace").await, std::slice::from_ref(&ada), "a NUL is no part of a name");
    if matches!(engine, Engine::Sqlite) {
        let (indexed, orders) = (
            shop.count("select count(*) from order_search").await,
            shop.count("select count(*) from customer_order").await,
        );
        assert_eq!(indexed, orders, "every order in the name index, once");
    }
    // A guest by name on the customers' page, through the same index.
    let r = request(&shop, &Method::GET, "/staff/customers?q=%C3%B8rsted", Some(&owner), "").await;
    assert!(r.body.contains("elodie@example.com") && !r.body.contains("grace@example.com"), "{}", r.body);
});

on_both_engines!(staff_sessions_idle_out_and_need_two_factors, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    let (_, clerk) = staff(&shop, "clerk@example.com", "fulfilment").await;
    assert_eq!(request(&shop, &Method::GET, "/staff", Some(&clerk), "").await.status, StatusCode::OK);
    // Used eleven hours and fifty-nine minutes ago: still open, and the use is written down.
    let now = atelier_checkout::ids::now();
    let last_used = |ago: i64| {
        let shop = &shop;
        async move {
            sqlx::query("update account_session set staff_seen_at = $1, two_factor_at = $1, created_at = $1")
                .bind(now - ago)
                .execute(&shop.state.db.pool)
                .await
                .unwrap();
        }
    };
    last_used(43_140).await;
    assert_eq!(request(&shop, &Method::GET, "/staff", Some(&clerk), "").await.status, StatusCode::OK);
    let seen: i64 =
        sqlx::query_scalar("select staff_seen_at from account_session").fetch_one(&shop.state.db.pool).await.unwrap();
    assert!(seen >= now, "the session's use was written: {seen} < {now}");
    // Twelve hours and a second unused.
    last_used(43_201).await;
    let r = request(&shop, &Method::GET, "/staff", Some(&clerk), "").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("Sign in again"), "{}", r.body);
    assert_eq!(shop.count("select count(*) from account_session").await, 0, "the session is over, for the shop too");

    // Signed in again with the password alone, two factors being on, the code is asked for:
    // the session that follows is a staff one.
    let body = serde_json::json!({ "email": "clerk@example.com", "password": PASSWORD }).to_string();
    let r = shop.json("POST", "/api/account/sign-in", &body, None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "a code is asked for: {}", r.body);

    // Invited but without two factors: the console says how to turn them on.
    members::add(&shop.state, &shell(), "late@example.com", "Late", "support").await.unwrap();
    let text = latest_mail(&shop, "late@example.com", "staff_invite").await;
    assert!(text.contains("as Support") && text.contains("seven days"), "{text}");
    let at = text.find("token=").unwrap() + 6;
    let body = serde_json::json!({ "token": &text[at..at + 64], "password": PASSWORD }).to_string();
    assert_eq!(shop.json("POST", "/api/account/password/reset", &body, None).await.status, StatusCode::OK);
    let plain = sign_in(&shop, "late@example.com").await;
    let r = request(&shop, &Method::GET, "/staff", Some(&plain), "").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("Two factors needed") && r.body.contains("Two-factor sign-in"), "{}", r.body);
    let (recovery, with_two) = two_factor(&shop, "late@example.com", &plain).await;
    assert_eq!(request(&shop, &Method::GET, "/staff", Some(&with_two), "").await.status, StatusCode::OK);
    // Turning them off closes the console again, for this very session.
    let body = format!(r#"{{"code":"{recovery}"}}"#);
    let r = shop.json("POST", "/api/account/two-factor/disable", &body, Some(&with_two)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let after = session_of(&r);
    let r = request(&shop, &Method::GET, "/staff", Some(&after), "").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("Two factors needed"));
});

on_both_engines!(the_pick_list_slips_and_mails_sent_again, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 10).await;
    let (_, clerk) = staff(&shop, "clerk@example.com", "fulfilment").await;
    let first = paid_order(&shop, "one@example.com").await;
    let second = paid_order(&shop, "two@example.com").await;
    let third = paid_order(&shop, "three@example.com").await;
    atelier_checkout::orders::advance(
        &shop.state.db,
        &shop.state.keys.link,
        "",
        &third,
        &atelier_checkout::orders::Step::Fulfil,
        &shell(),
    )
    .await
    .unwrap();

    // Two paid orders of one bottle each: one line of two bottles, then a slip per order.
    let r = request(&shop, &Method::GET, "/staff/pick-list", Some(&clerk), "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("2 paid orders to pack, 2 bottles"), "{}", r.body);
    assert!(r.body.contains(&format!("{first}, {second}")), "{}", r.body);
    assert_eq!(r.body.matches("class=\"packing-slip\"").count(), 2);
    assert!(r.body.contains(&format!("Packing slip · order {first}")) && !r.body.contains(&format!("order {third}")));

    // The tracking e-mail exists only once the parcel has left.
    let path = format!("/staff/orders/{first}/resend");
    let r = request(&shop, &Method::POST, &path, Some(&clerk), "mail=tracking").await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("its tracking e-mail is sent once it is shipped or delivered"), "{}", r.body);
    let r = request(&shop, &Method::POST, &path, Some(&clerk), "mail=postcard").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let confirmations =
        "select count(*) from outbox where recipient = 'one@example.com' and kind = 'order_confirmation'";
    assert_eq!(shop.count(confirmations).await, 1);
    let r = request(&shop, &Method::POST, &path, Some(&clerk), "mail=confirmation").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = request(&shop, &Method::POST, &path, Some(&clerk), "mail=confirmation").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "as often as asked");
    assert_eq!(shop.count(confirmations).await, 3);
    assert_eq!(shop.count("select count(*) from audit_log where action = 'order.resend'").await, 2);
    let r = request(&shop, &Method::POST, &format!("/staff/orders/{first}/ship"), Some(&clerk), "tracking=6A1").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = request(&shop, &Method::POST, &path, Some(&clerk), "mail=tracking").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let tracking = "select count(*) from outbox where recipient = 'one@example.com' and kind = 'order_shipped'";
    assert_eq!(shop.count(tracking).await, 2);
    let page = request(&shop, &Method::GET, r.headers["location"].to_str().unwrap(), Some(&clerk), "").await;
    assert!(page.body.contains("The tracking e-mail is on its way to the shopper again."), "{}", page.body);
});

on_both_engines!(stock_levels_forecast_and_every_change_in_the_ledger, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 3).await;
    let (_, clerk) = staff(&shop, "clerk@example.com", "fulfilment").await;
    let (_, manager) = staff(&shop, "manager@example.com", "manager").await;
    paid_order(&shop, "one@example.com").await;
    paid_order(&shop, "two@example.com").await;

    // Two bottles in the last 30 days: 2/30 a day; one left covers 15 days; three weeks of
    // lead time and margin need 2, so 1 more.
    let rows = atelier_checkout::stock::forecast::overview(&shop.state.db, atelier_checkout::ids::now()).await.unwrap();
    let lav = rows.iter().find(|r| r.sku == "LAV-10").unwrap();
    assert_eq!((lav.on_hand, lav.available, lav.sold_30, lav.sold_90), (1, 1, 2, 2));
    assert!((lav.per_day - 2.0 / 30.0).abs() < 1e-9);
    assert_eq!(lav.cover_days.map(|d| d.round() as i64), Some(15));
    assert_eq!(lav.reorder, 1);
    let unsold = rows.iter().find(|r| r.sku != "LAV-10").unwrap();
    assert_eq!((unsold.sold_90, unsold.cover_days, unsold.reorder), (0, None, 0));

    let page = request(&shop, &Method::GET, "/staff/stock?low=1", Some(&clerk), "").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("LAV-10") && page.body.contains("<strong>1</strong>"), "{}", page.body);

    // A clerk sees the stock but does not change it.
    let r =
        request(&shop, &Method::POST, "/staff/stock/LAV-10", Some(&clerk), "how=adjust&quantity=24&reason=delivery")
            .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let change = |body: &'static str| {
        let shop = &shop;
        let manager = manager.clone();
        async move { request(shop, &Method::POST, "/staff/stock/LAV-10", Some(&manager), body).await }
    };
    assert_eq!(change("how=adjust&quantity=%2B24&reason=Delivery+from+Grasse").await.status, StatusCode::SEE_OTHER);
    assert_eq!(change("how=adjust&quantity=-2&reason=Two+broken").await.status, StatusCode::SEE_OTHER);
    assert_eq!(change("how=set&quantity=20&reason=Counted").await.status, StatusCode::SEE_OTHER);
    let r = change("how=set&quantity=20&reason=++").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Say why the stock changes"), "{}", r.body);
    let r = change("how=set&quantity=twenty&reason=Counted").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("is not a whole number of bottles"), "{}", r.body);
    let r = change("how=adjust&quantity=-21&reason=Lost").await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(shop.on_hand("LAV-10").await, 20, "refused changes changed nothing");
    let r = request(&shop, &Method::POST, "/staff/stock/NOPE-1", Some(&manager), "how=set&quantity=1&reason=x").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // The ledger: the test's own count, then the manager's three, with reasons and who.
    let ledger = atelier_checkout::stock::forecast::ledger(&shop.state.db, "LAV-10", 10).await.unwrap();
    let seen: Vec<(i64, i64, &str, &str)> =
        ledger.iter().map(|e| (e.delta, e.on_hand_after, e.reason.as_str(), e.actor_label.as_str())).collect();
    assert_eq!(
        seen,
        vec![
            (-3, 20, "Counted", "manager@example.com"),
            (-2, 23, "Two broken", "manager@example.com"),
            (24, 25, "Delivery from Grasse", "manager@example.com"),
            (3, 3, "counted", "test (command line)"),
        ]
    );
    assert_eq!(shop.count("select count(*) from audit_log where subject = 'sku:LAV-10'").await, 4);
    let page = request(&shop, &Method::GET, "/staff/stock/LAV-10", Some(&clerk), "").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Delivery from Grasse") && !page.body.contains("Change the stock"), "{}", page.body);
});

/// A paid order of `n` bottles of LAV-10 (in the sandbox); its number.
async fn paid_order_of(shop: &TestShop, email: &str, n: i64) -> String {
    let cart = shop.cart_with("LAV-10", n).await;
    let address = common::ADDRESS.replace("ada@example.com", email);
    let r = shop.json("POST", "/api/checkout", &address, Some(&cart)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let started = r.json();
    let r = shop.form(started["payment_url"].as_str().unwrap(), "action=pay", None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    sqlx::query_scalar("select number from customer_order where order_id = $1")
        .bind(started["order_id"].as_str().unwrap())
        .fetch_one(&shop.state.db.pool)
        .await
        .unwrap()
}

async fn refunded_minor(shop: &TestShop, number: &str) -> i64 {
    sqlx::query_scalar("select refunded_minor from customer_order where number = $1")
        .bind(number)
        .fetch_one(&shop.state.db.pool)
        .await
        .unwrap()
}

async fn status_of(shop: &TestShop, number: &str) -> String {
    sqlx::query_scalar("select status from customer_order where number = $1")
        .bind(number)
        .fetch_one(&shop.state.db.pool)
        .await
        .unwrap()
}

// A manager refunds part of an order, one bottle back on the shelf, then the rest; the sandbox's
// signed `charge.refunded` moves the order, the stock (through its ledger) and the shopper's
// e-mail. A clerk may not refund; a wrong ask changes nothing; nothing is refunded twice.
on_both_engines!(refunds_in_the_sandbox_follow_their_signed_event, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 10).await;
    let number = paid_order_of(&shop, "shopper@example.com", 2).await;
    assert_eq!(shop.on_hand("LAV-10").await, 8);
    let (_, manager) = staff(&shop, "manager@example.com", "manager").await;
    let (_, clerk) = staff(&shop, "clerk@example.com", "fulfilment").await;
    let at = format!("/staff/orders/{number}/refund");

    let r = request(&shop, &Method::POST, &at, Some(&clerk), "amount=10.00&reason=no").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "a clerk may not refund: {}", r.body);
    let page = request(&shop, &Method::GET, &format!("/staff/orders/{number}"), Some(&clerk), "").await;
    assert!(!page.body.contains("Amount to refund"), "nor see the form");

    // Asks that are wrong change nothing.
    for (body, says) in [
        ("amount=0&reason=x", "refund between €0.01 and €54.90"),
        ("amount=54.91&reason=x", "refund between €0.01 and €54.90"),
        ("amount=ten&reason=x", "write the amount as a decimal"),
        ("amount=10.00&reason=+", "say why the money goes back"),
        ("amount=10.00&reason=x&restock%3ALAV-10=3", "put back between 0 and 2 of LAV-10"),
        ("amount=10.00&reason=x&restock%3AROSE-2=1", "ROSE-2 is not in order"),
        ("amount=10.00&reason=x&restock%3ALAV-10=-1", "put back between 0 and 2 of LAV-10"),
    ] {
        let r = request(&shop, &Method::POST, &at, Some(&manager), body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", r.body);
        assert!(r.body.to_lowercase().contains(&says.to_lowercase()), "{body} says “{says}”: {}", r.body);
    }
    assert_eq!(shop.count("select count(*) from order_refund").await, 0);
    assert_eq!(shop.count("select count(*) from outbox where kind = 'order_refunded'").await, 0);

    // Before the parcel leaves, its bottles are still to be packed: none go back with a part.
    let partial = "amount=24.00&reason=One+bottle+arrived+broken&restock%3ALAV-10=1";
    let r = request(&shop, &Method::POST, &at, Some(&manager), partial).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("parcel has not left"), "{}", r.body);
    assert!(
        r.body.contains(r#"value="24.00""#) && r.body.contains("One bottle arrived broken</textarea>"),
        "kept: {}",
        r.body
    );
    let key = atelier_checkout::config::Secret::new("k");
    atelier_checkout::orders::advance(
        &shop.state.db,
        &key,
        "",
        &number,
        &atelier_checkout::orders::Step::Ship { tracking: None },
        &shell(),
    )
    .await
    .unwrap();

    // Once shipped: part of it, one broken bottle's worth, and the unbroken one back on the shelf.
    let r = request(&shop, &Method::POST, &at, Some(&manager), partial).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), format!("/staff/orders/{number}?done=refund"));
    assert_eq!(status_of(&shop, &number).await, "shipped", "a partial refund leaves the order as it is");
    assert_eq!(refunded_minor(&shop, &number).await, 2400);
    assert_eq!(shop.on_hand("LAV-10").await, 9, "one bottle back");
    let ledger: (i64, String, String) = sqlx::query_as(
        "select delta, reason, actor_label from stock_ledger where sku = 'LAV-10' order by at desc, entry_id desc limit 1",
    )
    .fetch_one(&shop.state.db.pool)
    .await
    .unwrap();
    assert_eq!(ledger, (1, format!("refund of order {number}"), "manager@example.com".to_string()));
    let audit: (String, String) =
        sqlx::query_as("select actor_label, after_json from audit_log where action = 'order.refund' and subject = $1")
            .bind(format!("order:{number}"))
            .fetch_one(&shop.state.db.pool)
            .await
            .unwrap();
    assert_eq!(audit.0, "manager@example.com");
    assert!(audit.1.contains("€24.00") && audit.1.contains("One bottle arrived broken"), "{}", audit.1);
    let mail = latest_mail(&shop, "shopper@example.com", "order_refunded").await;
    assert!(mail.contains("We have refunded €24.00") && mail.contains("In all, €24.00"), "{mail}");
    let page = request(&shop, &Method::GET, &format!("/staff/orders/{number}"), Some(&manager), "").await;
    assert!(page.body.contains("At most 30.90"), "what is left: {}", page.body);
    assert!(page.body.contains("Refund of €24.00 confirmed"), "in the history");
    assert!(page.body.contains("at most 1"), "one bottle may still go back");

    // A size named twice is added up (the command line can): one bottle is left to put back.
    let twice = atelier_checkout::orders::refunds::Ask {
        amount_minor: 100,
        restock: vec![("LAV-10".into(), 1), ("LAV-10".into(), 1)],
        reason: "twice".into(),
    };
    let r = atelier_checkout::orders::refunds::request(&shop.state, &shell(), &number, &twice).await;
    assert!(matches!(r, Err(atelier_checkout::error::ApiError::Invalid { .. })), "{r:?}");

    // The rest refunds the order in full.
    let r = request(&shop, &Method::POST, &at, Some(&manager), "amount=30.90&reason=Customer+cancelled").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(status_of(&shop, &number).await, "refunded");
    assert_eq!(refunded_minor(&shop, &number).await, 5490);
    assert_eq!(shop.on_hand("LAV-10").await, 9, "no more bottles back than asked");
    let mail = latest_mail(&shop, "shopper@example.com", "order_refunded").await;
    assert!(mail.contains("refunded €30.90") && mail.contains("refunded in full (€54.90)"), "{mail}");
    assert_eq!(shop.count("select count(*) from outbox where kind = 'order_refunded'").await, 2);

    // Nothing is left; the form is gone.
    let r = request(&shop, &Method::POST, &at, Some(&manager), "amount=1.00&reason=again").await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains("nothing is left to refund"), "{}", r.body);
    assert_eq!(shop.count("select count(*) from order_refund").await, 2);
});

// Through Stripe: the console asks Stripe's refund API (with our refund id as the idempotency
// key); until Stripe's signed `charge.refunded` arrives the order, the stock and the shopper's
// inbox do not move. The command line refunds the same way.
on_both_engines!(a_refund_through_stripe_waits_for_stripes_event, |engine: Engine| async move {
    use atelier_checkout::config::{PaymentMode, Secret};
    use stripe_standin::{StripeStandIn, SECRET_KEY};
    let stripe = StripeStandIn::start("whsec_test_secret").await;
    let base = stripe.url.clone();
    let shop = TestShop::configured(engine, move |c| {
        c.payments =
            PaymentMode::Stripe { secret_key: Secret::new(SECRET_KEY), checkout_origin: base.clone(), api_base: base };
    })
    .await;
    let url = shop.serve().await;
    stripe.deliver_to(&format!("{url}/api/webhooks/stripe"));
    shop.set_stock("LAV-10", 10).await;
    let cookie = shop.cart_with("LAV-10", 2).await;
    let started = shop.checkout(&cookie).await.json();
    let order = started["order_id"].as_str().unwrap().to_string();
    let session = started["payment_url"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    assert_eq!(stripe.pay(&session).await, 200);
    let number: String = sqlx::query_scalar("select number from customer_order where order_id = $1")
        .bind(&order)
        .fetch_one(&shop.state.db.pool)
        .await
        .unwrap();
    let (_, manager) = staff(&shop, "manager@example.com", "manager").await;
    let key = atelier_checkout::config::Secret::new("k");
    let ship = atelier_checkout::orders::Step::Ship { tracking: None };
    atelier_checkout::orders::advance(&shop.state.db, &key, "", &number, &ship, &shell()).await.unwrap();

    stripe.hold_events();
    let r = request(
        &shop,
        &Method::POST,
        &format!("/staff/orders/{number}/refund"),
        Some(&manager),
        "amount=10.00&reason=Late+parcel&restock%3ALAV-10=1",
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), format!("/staff/orders/{number}?done=refund-asked"));
    let asked = stripe.received().into_iter().find(|r| r.route == "POST /v1/refunds").expect("Stripe was asked");
    let intent = started_intent(&shop, &order).await;
    assert_eq!(asked.field("payment_intent"), Some(intent.as_str()));
    assert_eq!(asked.field("amount"), Some("1000"));
    assert_eq!(asked.field("metadata[order_id]"), Some(order.as_str()));
    assert!(asked.field("metadata[refund_id]").is_some_and(|id| id.starts_with("rfd_")));
    // The button alone moves nothing.
    assert_eq!((status_of(&shop, &number).await, refunded_minor(&shop, &number).await), ("shipped".into(), 0));
    assert_eq!(shop.on_hand("LAV-10").await, 8);
    assert_eq!(shop.count("select count(*) from outbox where kind = 'order_refunded'").await, 0);
    let page = request(&shop, &Method::GET, &format!("/staff/orders/{number}"), Some(&manager), "").await;
    assert!(page.body.contains("asked, awaiting the payment provider"), "{}", page.body);
    assert!(page.body.contains("At most 44.90"), "what is asked is not offered again: {}", page.body);

    // Stripe's event arrives (twice: Stripe retries); it applies once.
    assert_eq!(stripe.release_events().await, vec![200]);
    assert_eq!(refunded_minor(&shop, &number).await, 1000);
    assert_eq!(status_of(&shop, &number).await, "shipped");
    assert_eq!(shop.on_hand("LAV-10").await, 9);
    assert_eq!(shop.count("select count(*) from order_refund where state = 'confirmed'").await, 1);
    let mail = latest_mail(&shop, "ada@example.com", "order_refunded").await;
    assert!(mail.contains("We have refunded €10.00"), "{mail}");
    let charge = stripe_standin::objects::charge_refunded(
        "ch_again",
        Some(&intent),
        5490,
        1000,
        "eur",
        serde_json::json!({ "order_id": order }),
    );
    assert_eq!(stripe.send_event("charge.refunded", charge).await, 200);
    assert_eq!(shop.on_hand("LAV-10").await, 9, "a repeated report puts nothing back twice");
    assert_eq!(shop.count("select count(*) from outbox where kind = 'order_refunded'").await, 1);

    // Stripe refuses one: nothing moves, the refund is marked refused, and the refusal audited.
    stripe.fail_refunds(Some((400, "This charge is disputed and cannot be refunded.")));
    let at = format!("/staff/orders/{number}/refund");
    let r = request(&shop, &Method::POST, &at, Some(&manager), "amount=5.00&reason=Disputed").await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains("refused the refund: This charge is disputed"), "{}", r.body);
    assert!(r.body.contains("refused by the payment provider"), "listed: {}", r.body);
    assert_eq!(shop.count("select count(*) from order_refund where state = 'failed'").await, 1);
    assert_eq!(shop.count("select count(*) from audit_log where action = 'order.refund_refused'").await, 1);

    // Stripe fails to answer: the refund stays asked and is sent again under the same key.
    stripe.fail_refunds(Some((500, "An unknown error occurred")));
    let r = request(&shop, &Method::POST, &at, Some(&manager), "amount=5.00&reason=Late").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), format!("/staff/orders/{number}?done=refund-unsent"));
    stripe.fail_refunds(None);
    assert_eq!(atelier_checkout::orders::refunds::send_unsent(&shop.state).await.unwrap(), 0, "not before a minute");
    sqlx::query("update order_refund set requested_at = requested_at - 120 where state = 'requested'")
        .execute(&shop.state.db.pool)
        .await
        .unwrap();
    assert_eq!(atelier_checkout::orders::refunds::send_unsent(&shop.state).await.unwrap(), 1);
    let keys: Vec<Option<String>> = stripe
        .received()
        .into_iter()
        .filter(|r| r.route == "POST /v1/refunds" && r.field("amount") == Some("500"))
        .map(|r| r.idempotency_key)
        .collect();
    assert_eq!(keys.len(), 3, "refused, unanswered, sent again: {keys:?}");
    assert_eq!(keys[1], keys[2], "sent again under the same key");
    for _ in 0..300 {
        if refunded_minor(&shop, &number).await == 1500 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(refunded_minor(&shop, &number).await, 1500);

    // Two asked at once, made by Stripe in the other order: each is confirmed once covered.
    stripe.hold_events();
    for body in ["amount=10.00&reason=First", "amount=5.00&reason=Second"] {
        let r = request(&shop, &Method::POST, &at, Some(&manager), body).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }
    stripe.drop_events();
    let meta = serde_json::json!({ "order_id": order });
    for so_far in [2000, 3000] {
        let charge = stripe_standin::objects::charge_refunded("ch_x", Some(&intent), 5490, so_far, "eur", meta.clone());
        assert_eq!(stripe.send_event("charge.refunded", charge).await, 200);
    }
    assert_eq!(refunded_minor(&shop, &number).await, 3000);
    assert_eq!(shop.count("select count(*) from order_refund where state = 'requested'").await, 0, "none stranded");
    assert_eq!(shop.count("select count(*) from order_refund where state = 'confirmed'").await, 4);

    // The rest from the command line's function, as the shell user; Stripe's event follows.
    let ask =
        atelier_checkout::orders::refunds::Ask { amount_minor: 2490, restock: vec![], reason: "Cancelled".into() };
    let done = atelier_checkout::orders::refunds::request(&shop.state, &shell(), &number, &ask).await.unwrap();
    assert_eq!(done.number, number);
    for _ in 0..300 {
        if status_of(&shop, &number).await == "refunded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(status_of(&shop, &number).await, "refunded");
    assert_eq!(refunded_minor(&shop, &number).await, 5490);
    let who: String = sqlx::query_scalar("select actor_label from order_refund where amount_minor = 2490")
        .fetch_one(&shop.state.db.pool)
        .await
        .unwrap();
    assert_eq!(who, "test (command line)");
});

async fn started_intent(shop: &TestShop, order: &str) -> String {
    sqlx::query_scalar("select payment_intent from customer_order where order_id = $1")
        .bind(order)
        .fetch_one(&shop.state.db.pool)
        .await
        .unwrap()
}

async fn po_state(shop: &TestShop, number: &str) -> String {
    sqlx::query_scalar("select state from purchase_order where number = $1")
        .bind(number)
        .fetch_one(&shop.state.db.pool)
        .await
        .unwrap()
}

async fn on_order(shop: &TestShop, sku: &str) -> i64 {
    let rows = atelier_checkout::stock::forecast::overview(&shop.state.db, atelier_checkout::ids::now()).await.unwrap();
    rows.into_iter().find(|r| r.sku == sku).unwrap().on_order
}

// A supplier, a purchase order drafted, sent (the supplier e-mailed), received in two deliveries:
// each adds its bottles through the stock's ledger, and what is on order counts against the
// reorder suggestion until it arrives. Wrong quantities and wrong states change nothing.
on_both_engines!(a_purchase_order_received_moves_stock_through_the_ledger, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 2).await;
    shop.set_stock("ROSE-2", 0).await;
    let (_, manager) = staff(&shop, "manager@example.com", "manager").await;
    let post = |path: String, body: &'static str| {
        let (shop, manager) = (&shop, manager.clone());
        async move { request(shop, &Method::POST, &path, Some(&manager), body).await }
    };

    let r = post("/staff/suppliers".into(), "name=Distillerie+du+Lub%C3%A9ron&email=orders%40lub.example&lead_days=10")
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/staff/purchase-orders?done=supplier");
    let r = request(&shop, &Method::GET, "/staff/purchase-orders?done=supplier", Some(&manager), "").await;
    assert!(r.body.contains("Supplier added.") && r.body.contains("Distillerie du Lubéron"), "{}", r.body);
    let r = post("/staff/suppliers".into(), "name=DISTILLERIE+DU+LUB%C3%A9RON&lead_days=3").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "a name once: {}", r.body);
    let r = post("/staff/suppliers".into(), "name=Other&lead_days=0").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let supplier: String =
        sqlx::query_scalar("select supplier_id from supplier").fetch_one(&shop.state.db.pool).await.unwrap();

    let form = request(&shop, &Method::GET, "/staff/purchase-orders/new", Some(&manager), "").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains(r#"name="qty:LAV-10""#) && form.body.contains(&supplier), "{}", form.body);

    let r = request(
        &shop,
        &Method::POST,
        "/staff/purchase-orders",
        Some(&manager),
        &format!("supplier={supplier}&qty%3ALAV-10=0"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Order at least one bottle"), "{}", r.body);
    let body = format!("supplier={supplier}&qty%3ALAV-10=12&qty%3AROSE-2=4&note=Before+the+harvest");
    let r = request(&shop, &Method::POST, "/staff/purchase-orders", Some(&manager), &body).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let number = r.location().rsplit('/').next().unwrap().to_string();
    assert!(number.starts_with("PO-") && number.ends_with("-0001"), "{number}");
    assert_eq!(po_state(&shop, &number).await, "draft");
    assert_eq!(on_order(&shop, "LAV-10").await, 0, "a draft is not on order");

    let r = post(format!("/staff/purchase-orders/{number}/receive"), "qty%3ALAV-10=1").await;
    assert_eq!(r.status, StatusCode::CONFLICT, "nothing arrives of a draft: {}", r.body);

    // The draft is changed before it goes: more rose, a size added then taken off, the note
    // rewritten; taking every bottle off is refused, and each change is audited.
    let page = request(&shop, &Method::GET, &format!("/staff/purchase-orders/{number}"), Some(&manager), "").await;
    assert!(page.body.contains(&format!("action=\"/staff/purchase-orders/{number}/edit\"")), "{}", page.body);
    let r = post(format!("/staff/purchase-orders/{number}/edit"), "qty%3ALAV-10=0&qty%3AROSE-2=0").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("Keep at least one bottle on the order"), "{}", r.body);
    let r = post(format!("/staff/purchase-orders/{number}/edit"), "qty%3ALAV-20=3&note=x").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "an unknown size: {}", r.body);
    let r =
        post(format!("/staff/purchase-orders/{number}/edit"), "qty%3ALAV-10=12&qty%3AROSE-2=2&note=Before+the+harvest")
            .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = post(format!("/staff/purchase-orders/{number}/edit"), "qty%3AROSE-2=4").await;
    assert_eq!(r.location(), format!("/staff/purchase-orders/{number}?done=edit"));
    let edits = shop.count("select count(*) from audit_log where action = 'po.edit'").await;
    assert_eq!(edits, 2);
    // "Save and send": what the form says is what goes.
    let page = request(&shop, &Method::GET, &format!("/staff/purchase-orders/{number}"), Some(&manager), "").await;
    assert!(page.body.contains(r#"name="then" value="send""#), "{}", page.body);
    let r = post(format!("/staff/purchase-orders/{number}/edit"), "qty%3AROSE-2=4&then=send").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(po_state(&shop, &number).await, "sent");
    let mail = latest_mail(&shop, "orders@lub.example", "purchase_order").await;
    assert!(mail.contains(&number) && mail.contains("12 × ") && mail.contains("Before the harvest"), "{mail}");
    assert_eq!((on_order(&shop, "LAV-10").await, on_order(&shop, "ROSE-2").await), (12, 4));
    let r = post(format!("/staff/purchase-orders/{number}/edit"), "qty%3AROSE-2=9").await;
    assert_eq!(r.status, StatusCode::CONFLICT, "a sent order is not changed: {}", r.body);

    // The first delivery: five bottles of lavender.
    let r = post(format!("/staff/purchase-orders/{number}/receive"), "qty%3ALAV-10=5").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(po_state(&shop, &number).await, "partly_received");
    assert_eq!(shop.on_hand("LAV-10").await, 7);
    let ledger: (i64, i64, String, String) = sqlx::query_as(
        "select delta, on_hand_after, reason, actor_label from stock_ledger where sku = 'LAV-10' order by at desc, entry_id desc limit 1",
    )
    .fetch_one(&shop.state.db.pool)
    .await
    .unwrap();
    assert_eq!(
        ledger,
        (
            5,
            7,
            format!("received on purchase order {number} from Distillerie du Lubéron"),
            "manager@example.com".into()
        )
    );
    assert_eq!(on_order(&shop, "LAV-10").await, 7);

    // More than is still to come, or a size not ordered, is refused whole.
    for body in
        ["qty%3ALAV-10=8", "qty%3ALAV-10=1&qty%3AROSE-2=5", "qty%3ALAV-10=-1", "qty%3ALAV-20=1", "qty%3ALAV-10=x"]
    {
        let r = post(format!("/staff/purchase-orders/{number}/receive"), body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", r.body);
    }
    assert_eq!((shop.on_hand("LAV-10").await, shop.on_hand("ROSE-2").await), (7, 0), "nothing half-received");

    // The rest arrives.
    let r = post(format!("/staff/purchase-orders/{number}/receive"), "qty%3ALAV-10=7&qty%3AROSE-2=4").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(po_state(&shop, &number).await, "received");
    assert_eq!((shop.on_hand("LAV-10").await, shop.on_hand("ROSE-2").await), (14, 4));
    assert_eq!((on_order(&shop, "LAV-10").await, on_order(&shop, "ROSE-2").await), (0, 0));
    let r = post(format!("/staff/purchase-orders/{number}/cancel"), "").await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let page = request(&shop, &Method::GET, &format!("/staff/purchase-orders/{number}"), Some(&manager), "").await;
    assert!(page.body.contains("Received") && !page.body.contains("Receive these bottles"), "{}", page.body);

    // Another, called off before it was sent.
    let body = format!("supplier={supplier}&qty%3ALAV-10=3");
    let r = request(&shop, &Method::POST, "/staff/purchase-orders", Some(&manager), &body).await;
    let second = r.location().rsplit('/').next().unwrap().to_string();
    assert!(second.ends_with("-0002"), "{second}");
    assert_eq!(post(format!("/staff/purchase-orders/{second}/cancel"), "").await.status, StatusCode::SEE_OTHER);
    assert_eq!(po_state(&shop, &second).await, "cancelled");
    let list = request(&shop, &Method::GET, "/staff/purchase-orders", Some(&manager), "").await;
    assert!(list.body.contains(&number) && list.body.contains(&second), "{}", list.body);

    // Each change is in the audit log.
    let actions: Vec<String> = sqlx::query_scalar(
        "select action from audit_log where action like 'po.%' or action = 'supplier.add' order by at, audit_id",
    )
    .fetch_all(&shop.state.db.pool)
    .await
    .unwrap();
    let count = |a: &str| actions.iter().filter(|x| *x == a).count();
    assert_eq!(
        (count("supplier.add"), count("po.draft"), count("po.send"), count("po.receive"), count("po.cancel")),
        (1, 2, 1, 2, 1),
        "{actions:?}"
    );
});

// A customer looked up by address or name (an account, or a guest known by their orders), their
// orders, addresses and Folio subscription, paused, resumed and cancelled on their behalf (each
// audited, each the subscriber's own e-mail); the newsletter's confirmed subscribers exported as
// CSV a spreadsheet cannot run (audited). Who may only look sees no buttons.
on_both_engines!(customers_and_subscribers_on_their_behalf, |engine: Engine| async move {
    use atelier_checkout::folio;
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 10).await;
    let guest_order = paid_order(&shop, "guest@example.com").await;
    sqlx::query(
        "insert into account (account_id, email, name, password_hash, password_changed_at, created_at, updated_at)
         values ('acc_ada', 'ada.l@example.com', 'Ada Lovelace', 'x', 0, 0, 0)",
    )
    .execute(&shop.state.db.pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into account_address (address_id, account_id, name, line1, line2, postal_code, city, country, created_at)
         values ('adr_1', 'acc_ada', 'Ada Lovelace', '12 St James''s Square', '', 'D02 X285', 'Dublin', 'IE', 0)",
    )
    .execute(&shop.state.db.pool)
    .await
    .unwrap();
    let address = atelier_checkout::checkout::AddressInput {
        name: "Ada Lovelace".into(),
        line1: "12 St James's Square".into(),
        city: "Dublin".into(),
        postal_code: "D02 X285".into(),
        country: "IE".into(),
        ..Default::default()
    };
    let ask = folio::Subscribe {
        account_id: "acc_ada",
        plan_id: "quarterly",
        address: &address,
        provider: "sandbox",
        another: false,
    };
    let sub = folio::begin(&shop.state.db, &ask).await.unwrap();
    folio::sandbox::start(&shop.state, &sub, true).await.unwrap();
    let id = sub.subscription_id.clone();
    let status = |shop: &TestShop, id: String| {
        let db = shop.state.db.clone();
        async move { folio::load(&db, &id).await.unwrap().unwrap() }
    };
    assert_eq!(status(&shop, id.clone()).await.status.as_str(), "active");
    let (_, manager) = staff(&shop, "manager@example.com", "support").await;
    make_role(&shop, "viewer", &[Permission::CustomersView]).await;
    let (_, viewer) = staff(&shop, "viewer@example.com", "viewer").await;
    let get = |path: &str, who: &str| {
        let (shop, path, who) = (&shop, path.to_string(), who.to_string());
        async move { request(shop, &Method::GET, &path, Some(&who), "").await }
    };

    let r = get("/staff/customers?q=guest%40", &viewer).await;
    assert!(r.body.contains("guest@example.com") && r.body.contains("guest</td>"), "{}", r.body);
    let r = get("/staff/customers?q=lovelace", &viewer).await;
    assert!(r.body.contains("ada.l@example.com") && r.body.contains("account</td>"), "{}", r.body);
    let r = get("/staff/customers?q=%25", &viewer).await;
    assert!(r.body.contains("No customer matches"), "a % is a %, not a wildcard: {}", r.body);

    let r = get("/staff/customers/one?email=guest%40example.com", &viewer).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains(&guest_order) && r.body.contains("none: orders as a guest"), "{}", r.body);
    assert_eq!(get("/staff/customers/one?email=nobody%40example.com", &viewer).await.status, StatusCode::NOT_FOUND);
    let r = get("/staff/customers/one?email=ada.l%40example.com", &viewer).await;
    assert!(r.body.contains("Dublin") && r.body.contains("Running"), "{}", r.body);
    assert!(!r.body.contains("on their behalf"), "who may only look sees no buttons");
    let page = get("/staff/customers/one?email=ada.l%40example.com", &manager).await;
    assert!(page.body.contains("Pause on their behalf"), "{}", page.body);

    let at = |action: &str| format!("/staff/customers/subscriptions/{id}/{action}");
    let r = request(&shop, &Method::POST, &at("pause"), Some(&viewer), "").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = request(&shop, &Method::POST, &at("pause"), Some(&manager), "until=someday").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let mails_before = shop.count("select count(*) from outbox where recipient = 'ada.l@example.com'").await;
    let r = request(&shop, &Method::POST, &at("pause"), Some(&manager), "until=").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/staff/customers/one?email=ada%2El%40example%2Ecom&done=pause");
    assert_eq!(status(&shop, id.clone()).await.status.as_str(), "paused");
    let r = request(&shop, &Method::POST, &at("resume"), Some(&manager), "").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(status(&shop, id.clone()).await.status.as_str(), "active");
    let r = request(&shop, &Method::POST, &at("cancel"), Some(&manager), "").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(status(&shop, id.clone()).await.cancel_at_period_end);
    let r = request(&shop, &Method::POST, &at("cancel"), Some(&manager), "").await;
    assert_eq!(r.status, StatusCode::CONFLICT, "already ending: {}", r.body);
    assert!(
        shop.count("select count(*) from outbox where recipient = 'ada.l@example.com'").await >= mails_before + 3,
        "the subscriber hears of each change"
    );
    let audited: Vec<(String, String, String)> = sqlx::query_as(
        "select action, subject, actor_label from audit_log where action like 'folio.%' order by at, audit_id",
    )
    .fetch_all(&shop.state.db.pool)
    .await
    .unwrap();
    let subject = format!("subscription:{id}");
    assert_eq!(
        audited,
        ["folio.pause", "folio.resume", "folio.cancel"]
            .map(|a| (a.to_string(), subject.clone(), "manager@example.com".to_string()))
            .to_vec()
    );

    // The newsletter: two confirmed (one whose address a spreadsheet would run), one not.
    for (email, confirmed) in
        [("=1+2@example.com", Some(5)), ("reader@example.com", Some(6)), ("maybe@example.com", None)]
    {
        sqlx::query("insert into newsletter_subscriber (email, created_at, confirmed_at) values ($1, 1, $2)")
            .bind(email)
            .bind(confirmed)
            .execute(&shop.state.db.pool)
            .await
            .unwrap();
    }
    let r = get("/staff/subscribers", &viewer).await;
    assert!(r.body.contains("2 confirmed subscribers, and 1 who asked"), "{}", r.body);
    assert!(!r.body.contains("subscribers.csv"), "who may only look cannot export");
    assert_eq!(get("/staff/subscribers.csv", &viewer).await.status, StatusCode::FORBIDDEN);
    let r = get("/staff/subscribers.csv", &manager).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        r.body,
        "email,subscribed_on,confirmed_on\r\n\"'=1+2@example.com\",1970-01-01,1970-01-01\r\n\"reader@example.com\",1970-01-01,1970-01-01\r\n"
    );
    assert_eq!(shop.count("select count(*) from audit_log where action = 'newsletter.export'").await, 1);
});

// The dashboard's figures: paid orders today and this month, refunds taken off and VAT apart,
// the average basket, what sells, what is low; the page draws its charts as SVG with titles.
// The health check says `degraded` when a message has waited too long.
on_both_engines!(the_dashboard_counts_what_was_paid_and_health_says_when_mail_is_stuck, |engine: Engine| async move {
    use atelier_checkout::staff::dashboard;
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 10).await;
    let first = paid_order_of(&shop, "one@example.com", 2).await;
    paid_order_of(&shop, "two@example.com", 1).await;
    let key = atelier_checkout::config::Secret::new("k");
    let ship = atelier_checkout::orders::Step::Ship { tracking: None };
    atelier_checkout::orders::advance(&shop.state.db, &key, "", &first, &ship, &shell()).await.unwrap();
    let ask = atelier_checkout::orders::refunds::Ask { amount_minor: 1000, restock: vec![], reason: "Late".into() };
    atelier_checkout::orders::refunds::request(&shop.state, &shell(), &first, &ask).await.unwrap();

    let f = dashboard::figures(&shop.state.db, atelier_checkout::ids::now()).await.unwrap();
    // €54.90 less €10.00 refunded, and €30.90; VAT (20 %) in proportion to what was kept.
    assert_eq!((f.today.orders, f.today.revenue_minor), (2, 4490 + 3090));
    assert_eq!(f.today.vat_minor, 915 * 4490 / 5490 + 515);
    assert_eq!(f.today.average_minor(), 3790);
    assert_eq!(f.month.revenue_minor, 7580, "today is in this month");
    assert_eq!(f.by_day.len(), 90);
    let count = |s: &str| f.by_status.iter().find(|(x, _)| x.as_str() == s).unwrap().1;
    assert_eq!((count("paid"), count("shipped"), count("expired")), (1, 1, 0));
    assert_eq!(f.top[0].1, 3, "three bottles of lavender: {:?}", f.top);
    assert_eq!(f.outbox.failed, 0);

    let (_, manager) = staff(&shop, "manager@example.com", "manager").await;
    let r = request(&shop, &Method::GET, "/staff/dashboard", Some(&manager), "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("€75.80") && r.body.contains("€37.90"), "revenue and basket: {}", r.body);
    assert!(r.body.contains(r#"<svg class="chart""#) && r.body.contains("Revenue by day over the last 90 days"));
    let (_, clerk) = staff(&shop, "clerk@example.com", "fulfilment").await;
    assert_eq!(request(&shop, &Method::GET, "/staff/dashboard", Some(&clerk), "").await.status, StatusCode::FORBIDDEN);

    let health = shop.get("/api/health", None).await.json();
    assert_eq!(health["status"], "ok", "{health}");
    sqlx::query(
        "insert into outbox (outbox_id, dedupe_key, kind, recipient, subject, status, attempts, next_attempt_at, created_at)
         values ('out_old', 'old', 'test', 'x@example.com', 'Old', 'pending', 3, $1, $2)",
    )
    .bind(atelier_checkout::ids::now() + 60)
    .bind(atelier_checkout::ids::now() - 3600)
    .execute(&shop.state.db.pool)
    .await
    .unwrap();
    let health = shop.get("/api/health", None).await.json();
    assert_eq!(health["status"], "degraded", "{health}");
    assert!(health["problems"][0].as_str().unwrap().contains("has waited 60 minutes"), "{health}");
    let r = request(&shop, &Method::GET, "/staff/dashboard", Some(&manager), "").await;
    assert!(r.body.contains("stuck"), "the dashboard says so too");
});

// Testimonials: written down waiting for approval, approved, featured, hidden, deleted, each
// audited; what the home page shows (the export and `/api/testimonials`) follows, featured
// first, and each change to it calls the build hook.
on_both_engines!(testimonials_written_approved_and_exported, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    let (_, support) = staff(&shop, "support@example.com", "support").await;
    let (_, manager) = staff(&shop, "manager@example.com", "manager").await;
    let (_, clerk) = staff(&shop, "clerk@example.com", "fulfilment").await;
    let post = |path: &str, body: &str, who: &str| {
        let (shop, path, body, who) = (&shop, path.to_string(), body.to_string(), who.to_string());
        async move { request(shop, &Method::POST, &path, Some(&who), &body).await }
    };
    let hooks = || shop.count("select count(*) from outbox where kind = 'build_hook'");
    assert_eq!(post("/staff/testimonials", "author=A&quote=Lovely", &clerk).await.status, StatusCode::FORBIDDEN);

    let r = post("/staff/testimonials", "author=&quote=Lovely&rating=9", &support).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("Lovely</textarea>"), "kept: {}", r.body);
    let r =
        post("/staff/testimonials", "author=Mme+Roux&title=Grasse&quote=Like+a+walk+at+dusk.&rating=5", &support).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = post("/staff/testimonials", "author=Jean+P.&quote=The+rose+is+a+marvel.&approved=on", &support).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "support writes down, a manager approves: {}", r.body);
    assert!(r.body.contains("The rose is a marvel.</textarea>"), "kept: {}", r.body);
    let r = post("/staff/testimonials", "author=Jean+P.&quote=The+rose+is+a+marvel.&approved=on", &manager).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(hooks().await, 1, "one shown at once: the site is rebuilt");
    let shown = || async { shop.get("/api/testimonials", None).await.json() };
    assert_eq!(
        shown().await,
        serde_json::json!([{ "quote": "The rose is a marvel.", "author": "Jean P.", "featured": false }])
    );

    let waiting: String = sqlx::query_scalar("select testimonial_id from testimonial where approved = 0")
        .fetch_one(&shop.state.db.pool)
        .await
        .unwrap();
    let r = post(&format!("/staff/testimonials/{waiting}/approve"), "", &support).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    for edit in ["approve", "feature"] {
        let r = post(&format!("/staff/testimonials/{waiting}/{edit}"), "", &manager).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }
    let list = shown().await;
    assert_eq!(list[0]["author"], "Mme Roux", "featured first: {list}");
    assert_eq!((list[0]["place"].as_str(), list[0]["rating"].as_i64()), (Some("Grasse"), Some(5)));
    assert_eq!(hooks().await, 3);
    let export = atelier_checkout::testimonials::export_text(&shop.state.db).await.unwrap();
    assert_eq!(serde_json::from_str::<serde_json::Value>(&export).unwrap(), list, "the export is what the API gives");
    let r = post(&format!("/staff/testimonials/{waiting}/hide"), "", &manager).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(shown().await.as_array().unwrap().len(), 1);
    let r = post(&format!("/staff/testimonials/{waiting}/delete"), "", &manager).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(hooks().await, 4, "deleting a hidden one changes nothing shown");
    assert_eq!(
        post(&format!("/staff/testimonials/{waiting}/approve"), "", &manager).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(post("/staff/testimonials/x/polish", "", &manager).await.status, StatusCode::NOT_FOUND);
    let actions: Vec<String> =
        sqlx::query_scalar("select action from audit_log where action like 'testimonial.%' order by at, audit_id")
            .fetch_all(&shop.state.db.pool)
            .await
            .unwrap();
    assert_eq!(
        actions,
        [
            "testimonial.add",
            "testimonial.add",
            "testimonial.approve",
            "testimonial.feature",
            "testimonial.hide",
            "testimonial.delete"
        ]
    );
});
