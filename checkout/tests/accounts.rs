//! Customer accounts: registration and its confirmation, sign-in and sessions, resets, the
//! limits on guessing, and answers that never tell whether an address has an account.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use common::{Engine, Reply, TestShop};

const PASSWORD: &str = "quiet lavender harvest";

/// A JSON request from a client address (the limits count per client). The body is copied
/// at once, so a caller may pass a temporary.
fn post_from<'a>(
    shop: &'a TestShop,
    path: &'a str,
    body: &str,
    cookie: Option<&'a str>,
    client: [u8; 4],
) -> impl std::future::Future<Output = Reply> + 'a {
    let body = body.to_string();
    async move {
        let mut b = Request::post(path).header("content-type", "application/json");
        if let Some(c) = cookie {
            b = b.header("cookie", c);
        }
        let mut req = b.body(Body::from(body)).unwrap();
        req.extensions_mut().insert(ConnectInfo(SocketAddr::from((client, 40000))));
        shop.call(req).await
    }
}

async fn post(shop: &TestShop, path: &str, body: &str, cookie: Option<&str>) -> Reply {
    shop.json("POST", path, body, cookie).await
}

fn creds(email: &str, password: &str) -> String {
    serde_json::json!({ "email": email, "password": password }).to_string()
}

fn registration(email: &str, password: &str, name: &str) -> String {
    serde_json::json!({ "email": email, "password": password, "name": name }).to_string()
}

/// The messages of a kind queued for an address, oldest first: (subject, text).
async fn mails(shop: &TestShop, to: &str, kind: &str) -> Vec<(String, String)> {
    sqlx::query_as(
        "select subject, body_text from outbox natural join outbox_body where recipient = $1 and kind = $2 order by created_at, outbox_id",
    )
    .bind(to)
    .bind(kind)
    .fetch_all(&shop.state.db.pool)
    .await
    .unwrap()
}

/// The messages of a kind queued for an address once `n` are there (account mail is queued
/// just after the answer), oldest first.
async fn mails_when(shop: &TestShop, to: &str, kind: &str, n: usize) -> Vec<(String, String)> {
    for _ in 0..300 {
        let all = mails(shop, to, kind).await;
        if all.len() >= n {
            return all;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{n} {kind} mail(s) to {to} never came: {:?}", mails(shop, to, kind).await)
}

/// The token of the `n`th link (from 1) of a kind mailed to an address.
async fn nth_token(shop: &TestShop, to: &str, kind: &str, n: usize) -> String {
    let all = mails_when(shop, to, kind, n).await;
    let text = &all[n - 1].1;
    let at = text.find("token=").expect("a link with a token") + 6;
    text[at..at + 64].to_string()
}

/// Every request handled: the mail they cause is queued.
async fn settled(shop: &TestShop) {
    for _ in 0..300 {
        if shop.count("select count(*) from account_request").await == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("account requests were left unhandled");
}

fn confirmation(token: &str, password: &str) -> String {
    serde_json::json!({ "token": token, "password": password }).to_string()
}

/// An account opened and confirmed; its address.
async fn open_account(shop: &TestShop, email: &str, client: [u8; 4]) -> String {
    let r =
        post_from(shop, "/api/account/register", &registration(email, PASSWORD, "Ada Lovelace"), None, client).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let t = nth_token(shop, email, "account_verify", 1).await;
    let r = post(shop, "/api/account/verify", &confirmation(&t, PASSWORD), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    email.to_string()
}

/// Signs in; the session cookie.
async fn sign_in(shop: &TestShop, email: &str, password: &str) -> String {
    let r = post(shop, "/api/account/sign-in", &creds(email, password), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let set = set_cookie(&r, "atelier_session").unwrap();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Max-Age=2592000"), "{set}");
    session_of(&r)
}

/// The whole `Set-Cookie` of a cookie an answer sets with a value (an answer may set several, in
/// any order).
fn set_cookie(r: &Reply, name: &str) -> Option<String> {
    r.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")) && !v.starts_with(&format!("{name}=;")))
        .map(str::to_string)
}

/// `name=value` of a cookie an answer sets.
fn cookie_named(r: &Reply, name: &str) -> Option<String> {
    set_cookie(r, name).and_then(|v| v.split(';').next().map(str::to_string))
}

/// The session cookie an answer sets (an answer may set several, in any order).
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

async fn who(shop: &TestShop, cookie: &str) -> serde_json::Value {
    let r = shop.get("/api/account", Some(cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["cache-control"], "no-store");
    r.json()
}

on_both_engines!(register_confirm_sign_in_and_out, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    let r =
        post(&shop, "/api/account/register", &registration("Ada@Example.com", PASSWORD, " Ada  Lovelace "), None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.json()["message"], "check your e-mail: we have sent a link to ada@example.com");
    // No account before the link is opened: signing in is refused as for any unknown address.
    let r = post(&shop, "/api/account/sign-in", &creds("ada@example.com", PASSWORD), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    let sent = mails_when(&shop, "ada@example.com", "account_verify", 1).await;
    assert!(sent[0].1.contains("CONFIRM YOUR ADDRESS\n\nHello,"), "the name is not the owner's yet: {}", sent[0].1);
    // Opening the link's page uses nothing up; the link opens nothing without its password.
    let t = nth_token(&shop, "ada@example.com", "account_verify", 1).await;
    let page = shop.get(&format!("/account/verify?token={t}"), None).await;
    assert!(page.body.contains(&format!(r#"name="token" value="{t}""#)), "{}", page.body);
    let r = post(&shop, "/api/account/verify", &confirmation(&t, "not the password"), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    let r = post(&shop, "/api/account/verify", &confirmation(&t, PASSWORD), None).await;
    assert_eq!((r.status, r.json()["email"].as_str()), (StatusCode::OK, Some("ada@example.com")), "{}", r.body);
    let cookie = session_of(&r);
    assert_eq!(who(&shop, &cookie).await["account"]["name"], "Ada Lovelace", "confirming signs in");
    let again = post(&shop, "/api/account/verify", &confirmation(&t, PASSWORD), None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "a link works once");

    let cookie = sign_in(&shop, "ADA@example.com", PASSWORD).await;
    let me = who(&shop, &cookie).await;
    assert_eq!(me["signed_in"], true);
    assert_eq!(me["account"]["name"], "Ada Lovelace");
    assert_eq!(who(&shop, "atelier_session=0123").await["signed_in"], false);

    let r = post(&shop, "/api/account/sign-out", "", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.headers["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(
        who(&shop, &cookie).await["signed_in"],
        false,
        "the session is gone from the server, not only the browser"
    );
});

on_both_engines!(a_confirmation_link_lapses_after_a_day_and_can_be_sent_again, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    post(&shop, "/api/account/register", &registration("ada@example.com", PASSWORD, "Ada"), None).await;
    let t = nth_token(&shop, "ada@example.com", "account_verify", 1).await;
    sqlx::query("update registration set expires_at = created_at - 1").execute(&shop.state.db.pool).await.unwrap();
    let r = post(&shop, "/api/account/verify", &confirmation(&t, PASSWORD), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // A lapsed registration is not sent again: one registers again.
    let r = post(&shop, "/api/account/verify/resend", r#"{"email":"ada@example.com"}"#, None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    settled(&shop).await;
    assert_eq!(mails(&shop, "ada@example.com", "account_verify").await.len(), 1);
    post(&shop, "/api/account/register", &registration("ada@example.com", PASSWORD, "Ada"), None).await;
    let first = nth_token(&shop, "ada@example.com", "account_verify", 2).await;
    // A lost link is sent again; either link opens the account, once.
    post(&shop, "/api/account/verify/resend", r#"{"email":"ada@example.com"}"#, None).await;
    let second = nth_token(&shop, "ada@example.com", "account_verify", 3).await;
    assert_ne!(first, second);
    let r = post(&shop, "/api/account/verify", &confirmation(&second, PASSWORD), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = post(&shop, "/api/account/verify", &confirmation(&first, PASSWORD), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "every link of the address is spent");
    assert_eq!(shop.count("select count(*) from registration").await, 0);
    assert_eq!(shop.count("select count(*) from account").await, 1);
});

on_both_engines!(a_stranger_cannot_open_an_account_in_someone_elses_name, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    // The attacker registers the victim's address first, with a password of theirs.
    post(&shop, "/api/account/register", &registration("victim@example.com", "attacker knows this", "Mallory"), None)
        .await;
    let attackers = nth_token(&shop, "victim@example.com", "account_verify", 1).await;
    post(&shop, "/api/account/register", &registration("victim@example.com", PASSWORD, "Victoria"), None).await;
    let own = nth_token(&shop, "victim@example.com", "account_verify", 2).await;
    // The victim opens the attacker's link in their mailbox: it opens nothing with their password.
    let r = post(&shop, "/api/account/verify", &confirmation(&attackers, PASSWORD), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(shop.count("select count(*) from account").await, 0);
    let r = post(&shop, "/api/account/verify", &confirmation(&own, PASSWORD), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["name"], "Victoria");
    let r = post(&shop, "/api/account/sign-in", &creds("victim@example.com", "attacker knows this"), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // The attacker's link is spent with the others.
    let r = post(&shop, "/api/account/verify", &confirmation(&attackers, "attacker knows this"), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
});

on_both_engines!(two_links_of_one_address_opened_at_once_make_one_account, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    post(&shop, "/api/account/register", &registration("ada@example.com", PASSWORD, "Ada"), None).await;
    let a = nth_token(&shop, "ada@example.com", "account_verify", 1).await;
    post(&shop, "/api/account/register", &registration("ada@example.com", PASSWORD, "Ada"), None).await;
    let b = nth_token(&shop, "ada@example.com", "account_verify", 2).await;
    let shop = std::sync::Arc::new(shop);
    let tasks: Vec<_> = [a, b]
        .into_iter()
        .map(|t| {
            let shop = shop.clone();
            tokio::spawn(
                async move { post(&shop, "/api/account/verify", &confirmation(&t, PASSWORD), None).await.status },
            )
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses[0], StatusCode::OK, "{statuses:?}");
    assert!(matches!(statuses[1], StatusCode::NOT_FOUND | StatusCode::CONFLICT), "{statuses:?}");
    assert_eq!(shop.count("select count(*) from account").await, 1);
});

on_both_engines!(answers_never_tell_whether_an_address_has_an_account, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    open_account(&shop, "ada@example.com", [198, 51, 100, 1]).await;

    // Registering an address that has an account: the same answer; its owner is written to.
    let taken =
        post(&shop, "/api/account/register", &registration("ada@example.com", "another fine phrase", "Eve"), None)
            .await;
    let new =
        post(&shop, "/api/account/register", &registration("bob@example.com", "another fine phrase", "Eve"), None)
            .await;
    assert_eq!((taken.status, new.status), (StatusCode::ACCEPTED, StatusCode::ACCEPTED));
    assert_eq!(taken.body.replace("ada@", "bob@"), new.body);
    let exists = mails_when(&shop, "ada@example.com", "account_exists", 1).await;
    assert!(exists[0].1.contains("You already have one, so nothing was changed"), "{}", exists[0].1);
    // The owner's password still works; the stranger's does not, and signing in with the
    // password just registered is refused alike whether or not the address had an account.
    sign_in(&shop, "ada@example.com", PASSWORD).await;
    let taken = post(&shop, "/api/account/sign-in", &creds("ada@example.com", "another fine phrase"), None).await;
    let new = post(&shop, "/api/account/sign-in", &creds("bob@example.com", "another fine phrase"), None).await;
    assert_eq!((taken.status, &taken.body), (StatusCode::UNAUTHORIZED, &new.body));

    // A wrong password and an unknown address: the same answer.
    let wrong = post(&shop, "/api/account/sign-in", &creds("ada@example.com", "not the password"), None).await;
    let unknown = post(&shop, "/api/account/sign-in", &creds("nobody@example.com", "not the password"), None).await;
    assert_eq!((wrong.status, &wrong.body), (unknown.status, &unknown.body));
    assert_eq!(wrong.json()["error"], "unauthorized");

    // A reset for an address with and without an account: the same answer.
    let known = post(&shop, "/api/account/password/forgot", r#"{"email":"ada@example.com"}"#, None).await;
    let none = post(&shop, "/api/account/password/forgot", r#"{"email":"carol@example.com"}"#, None).await;
    assert_eq!((known.status, none.status), (StatusCode::ACCEPTED, StatusCode::ACCEPTED));
    assert_eq!(known.body.replace("ada@", "carol@"), none.body);
    mails_when(&shop, "ada@example.com", "account_reset", 1).await;
    mails_when(&shop, "carol@example.com", "account_none", 1).await;
});

/// The fastest of `n` runs of each of two requests, interleaved (the least disturbed by
/// whatever else the machine does).
async fn fastest_of_each<F, G, FA, FB>(n: usize, mut a: F, mut b: G) -> (Duration, Duration)
where
    F: FnMut(usize) -> FA,
    G: FnMut(usize) -> FB,
    FA: std::future::Future<Output = Reply>,
    FB: std::future::Future<Output = Reply>,
{
    let (mut fa, mut fb) = (Duration::MAX, Duration::MAX);
    for i in 0..n {
        let t = Instant::now();
        let ra = a(i).await;
        fa = fa.min(t.elapsed());
        let t = Instant::now();
        let rb = b(i).await;
        fb = fb.min(t.elapsed());
        assert_eq!((ra.status, ra.body.len()), (rb.status, rb.body.len()));
    }
    (fa, fb)
}

fn similar(what: &str, (a, b): (Duration, Duration)) {
    let ratio = a.as_secs_f64() / b.as_secs_f64();
    assert!((0.6..1.67).contains(&ratio), "{what}: {a:?} against {b:?}");
}

on_both_engines!(answers_take_the_same_time_whether_or_not_an_account_exists, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    let n = 8;
    for i in 0..n {
        open_account(&shop, &format!("owner{i}@example.com"), [198, 51, 100, i as u8]).await;
    }
    let shop = &shop;
    // Sign-in: a wrong password against an unknown address (both hash a password).
    similar(
        "sign-in",
        fastest_of_each(
            n,
            |i| {
                post_from(
                    shop,
                    "/api/account/sign-in",
                    &creds(&format!("owner{i}@example.com"), "wrong guess"),
                    None,
                    [203, 0, 113, 1],
                )
            },
            |i| {
                post_from(
                    shop,
                    "/api/account/sign-in",
                    &creds(&format!("nobody{i}@example.com"), "wrong guess"),
                    None,
                    [203, 0, 113, 2],
                )
            },
        )
        .await,
    );
    // Registration: an address with an account against a new one.
    similar(
        "register",
        fastest_of_each(
            n,
            |i| {
                post_from(
                    shop,
                    "/api/account/register",
                    &registration(&format!("owner{i}@example.com"), "another fine phrase", "Eve"),
                    None,
                    [203, 0, 113, 10 + i as u8],
                )
            },
            |i| {
                post_from(
                    shop,
                    "/api/account/register",
                    &registration(&format!("newby{i}@example.com"), "another fine phrase", "Eve"),
                    None,
                    [203, 0, 113, 30 + i as u8],
                )
            },
        )
        .await,
    );
    // Reset: an address with an account against one without.
    similar(
        "reset",
        fastest_of_each(
            n,
            |i| {
                post_from(
                    shop,
                    "/api/account/password/forgot",
                    &format!(r#"{{"email":"owner{i}@example.com"}}"#),
                    None,
                    [203, 0, 113, 50 + i as u8],
                )
            },
            |i| {
                post_from(
                    shop,
                    "/api/account/password/forgot",
                    &format!(r#"{{"email":"ghost{i}@example.com"}}"#),
                    None,
                    [203, 0, 113, 70 + i as u8],
                )
            },
        )
        .await,
    );
});

on_both_engines!(a_reset_is_single_use_and_signs_out_everywhere, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    open_account(&shop, "ada@example.com", [198, 51, 100, 1]).await;
    let laptop = sign_in(&shop, "ada@example.com", PASSWORD).await;
    let phone = sign_in(&shop, "ada@example.com", PASSWORD).await;
    post(&shop, "/api/account/password/forgot", r#"{"email":"ada@example.com"}"#, None).await;
    let first = nth_token(&shop, "ada@example.com", "account_reset", 1).await;
    post(&shop, "/api/account/password/forgot", r#"{"email":"ada@example.com"}"#, None).await;
    let second = nth_token(&shop, "ada@example.com", "account_reset", 2).await;
    // A refused password does not use the link up.
    let r =
        post(&shop, "/api/account/password/reset", &format!(r#"{{"token":"{second}","password":"password1"}}"#), None)
            .await;
    assert_eq!((r.status, r.json()["field"].as_str()), (StatusCode::BAD_REQUEST, Some("password")));
    let r = post(
        &shop,
        "/api/account/password/reset",
        &format!(r#"{{"token":"{second}","password":"amber resin at dusk"}}"#),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Every session is over, the link is spent, and so is the link mailed before it.
    assert_eq!(who(&shop, &laptop).await["signed_in"], false);
    assert_eq!(who(&shop, &phone).await["signed_in"], false);
    for t in [&second, &first] {
        let r = post(
            &shop,
            "/api/account/password/reset",
            &format!(r#"{{"token":"{t}","password":"another new phrase"}}"#),
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    }
    let r = post(&shop, "/api/account/sign-in", &creds("ada@example.com", PASSWORD), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    sign_in(&shop, "ada@example.com", "amber resin at dusk").await;
    assert_eq!(mails(&shop, "ada@example.com", "account_password_changed").await.len(), 1);
    // The mail that carried a link keeps no working link once sent.
    let mut config = atelier_checkout::ServiceConfig::embedded(shop.dir.path().to_path_buf(), &shop.database_url);
    config.mail = atelier_checkout::config::MailMode::Outbox(shop.dir.path().join("outbox"));
    let mailer = atelier_checkout::notify::Mailer::new(
        shop.state.db.clone(),
        &config.mail,
        "a@example.com",
        "b@example.com",
        None,
    )
    .unwrap();
    mailer.deliver_due().await.unwrap();
    let kept: Vec<String> =
        sqlx::query_scalar("select body_text from outbox natural join outbox_body where kind = 'account_reset'")
            .fetch_all(&shop.state.db.pool)
            .await
            .unwrap();
    assert_eq!(kept, vec![String::new(), String::new()], "emptied once sent");
    let told: String = sqlx::query_scalar(
        "select body_text from outbox natural join outbox_body where kind = 'account_password_changed'",
    )
    .fetch_one(&shop.state.db.pool)
    .await
    .unwrap();
    assert!(told.contains("has just been changed"), "a message without a secret is kept whole");
    // Sending such a message again is refused with the reason (its link has lapsed anyway).
    let id: String = sqlx::query_scalar("select outbox_id from outbox where kind = 'account_reset' limit 1")
        .fetch_one(&shop.state.db.pool)
        .await
        .unwrap();
    sqlx::query("update outbox set status = 'failed'").execute(&shop.state.db.pool).await.unwrap();
    let refused = atelier_checkout::notify::retry(&shop.state.db, &id).await.unwrap_err().to_string();
    assert!(refused.contains("carried a link that has lapsed"), "{refused}");
    // A lapsed link is refused.
    post(&shop, "/api/account/password/forgot", r#"{"email":"ada@example.com"}"#, None).await;
    let third = nth_token(&shop, "ada@example.com", "account_reset", 3).await;
    sqlx::query("update account_token set expires_at = created_at + 1799 - 1800")
        .execute(&shop.state.db.pool)
        .await
        .unwrap();
    let r = post(
        &shop,
        "/api/account/password/reset",
        &format!(r#"{{"token":"{third}","password":"another new phrase"}}"#),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Links are kept hashed: the database holds no token mailed.
    let kept: Vec<String> =
        sqlx::query_scalar("select token_hash from account_token").fetch_all(&shop.state.db.pool).await.unwrap();
    assert!(!kept.contains(&third), "{kept:?}");
});

on_both_engines!(a_registration_waiting_for_its_link_is_not_an_account, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    post(&shop, "/api/account/register", &registration("ada@example.com", PASSWORD, "Ada"), None).await;
    settled(&shop).await;
    post(&shop, "/api/account/password/forgot", r#"{"email":"ada@example.com"}"#, None).await;
    mails_when(&shop, "ada@example.com", "account_none", 1).await;
    // Resending to an address that has an account sends nothing (there is nothing to confirm).
    open_account(&shop, "bob@example.com", [198, 51, 100, 2]).await;
    post(&shop, "/api/account/verify/resend", r#"{"email":"bob@example.com"}"#, None).await;
    settled(&shop).await;
    assert_eq!(mails(&shop, "bob@example.com", "account_verify").await.len(), 1);
});

on_both_engines!(guessing_is_slowed_per_address_and_per_client, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    open_account(&shop, "ada@example.com", [198, 51, 100, 1]).await;
    for i in 0..10u8 {
        let r = post_from(
            &shop,
            "/api/account/sign-in",
            &creds("ada@example.com", "a wrong guess"),
            None,
            [203, 0, 113, i],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    }
    // The eleventh try waits, even with the right password, from any client.
    let r = post_from(&shop, "/api/account/sign-in", &creds("ada@example.com", PASSWORD), None, [192, 0, 2, 1]).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((800..=900).contains(&wait), "{wait}");
    // A delay, not a lock: once the window has passed, the owner signs in.
    sqlx::query("update auth_attempt set at = at - 901").execute(&shop.state.db.pool).await.unwrap();
    sign_in(&shop, "ada@example.com", PASSWORD).await;

    // One client trying many addresses is slowed too.
    for i in 0..50 {
        let r = post_from(
            &shop,
            "/api/account/sign-in",
            &creds(&format!("user{i}@example.com"), "a guess"),
            None,
            [203, 0, 113, 200],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r =
        post_from(&shop, "/api/account/sign-in", &creds("ada@example.com", PASSWORD), None, [203, 0, 113, 200]).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let r =
        post_from(&shop, "/api/account/sign-in", &creds("ada@example.com", PASSWORD), None, [203, 0, 113, 201]).await;
    assert_eq!(r.status, StatusCode::OK, "another client is not slowed");
});

on_both_engines!(two_instances_count_the_same_attempts, |engine: Engine| async move {
    let a = TestShop::new(engine).await;
    let b = a.second_instance().await;
    open_account(&a, "ada@example.com", [198, 51, 100, 1]).await;
    for i in 0..10u8 {
        let shop = if i % 2 == 0 { &a } else { &b };
        let r =
            post_from(shop, "/api/account/sign-in", &creds("ada@example.com", "a wrong guess"), None, [203, 0, 113, i])
                .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    for shop in [&a, &b] {
        let r = post(shop, "/api/account/sign-in", &creds("ada@example.com", PASSWORD), None).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    }
    // A session made by one instance is known to the other, and one ended on the first is
    // refused by the other within a second (it holds what it read for no longer).
    sqlx::query("delete from auth_attempt").execute(&a.state.db.pool).await.unwrap();
    let cookie = sign_in(&a, "ada@example.com", PASSWORD).await;
    assert_eq!(who(&b, &cookie).await["signed_in"], true);
    assert_eq!(post(&a, "/api/account/sign-out-everywhere", "", Some(&cookie)).await.status, StatusCode::NO_CONTENT);
    assert_eq!(who(&a, &cookie).await["signed_in"], false, "at once where it was ended");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(who(&b, &cookie).await["signed_in"], false, "within a second on the other");
});

on_both_engines!(mail_to_one_address_is_limited, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    for i in 0..5u8 {
        let r = post_from(
            &shop,
            "/api/account/password/forgot",
            r#"{"email":"victim@example.com"}"#,
            None,
            [203, 0, 113, i],
        )
        .await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
    }
    let r =
        post_from(&shop, "/api/account/password/forgot", r#"{"email":"victim@example.com"}"#, None, [203, 0, 113, 99])
            .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers.contains_key("retry-after"));
    assert_eq!(mails(&shop, "victim@example.com", "account_none").await.len(), 5);
});

on_both_engines!(sessions_are_listed_ended_rotated_and_renewed, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    open_account(&shop, "ada@example.com", [198, 51, 100, 1]).await;
    // Confirming the account signed a browser in; this test starts from none.
    sqlx::query("delete from account_session").execute(&shop.state.db.pool).await.unwrap();
    let laptop = sign_in(&shop, "ada@example.com", PASSWORD).await;
    let phone = sign_in(&shop, "ada@example.com", PASSWORD).await;
    let list = shop.get("/api/account/sessions", Some(&laptop)).await.json();
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    let other = sessions.iter().find(|s| s["current"] == false).unwrap()["session_id"].as_str().unwrap().to_string();
    assert_eq!(shop.get("/api/account/sessions", None).await.status, StatusCode::UNAUTHORIZED);

    // Ending the phone's session from the laptop.
    let r = shop.json("DELETE", &format!("/api/account/sessions/{other}"), "", Some(&laptop)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(who(&shop, &phone).await["signed_in"], false);
    assert_eq!(
        shop.json("DELETE", &format!("/api/account/sessions/{other}"), "", Some(&laptop)).await.status,
        StatusCode::NOT_FOUND
    );

    // Signing in again from a browser that has a session: a new token, the old one worthless.
    let r = post(&shop, "/api/account/sign-in", &creds("ada@example.com", PASSWORD), Some(&laptop)).await;
    let fresh = session_of(&r);
    assert_ne!(fresh, laptop);
    assert_eq!(who(&shop, &laptop).await["signed_in"], false);
    assert_eq!(who(&shop, &fresh).await["signed_in"], true);

    // Tokens are kept hashed.
    let token = fresh.split_once('=').unwrap().1;
    assert_eq!(shop.count(&format!("select count(*) from account_session where token_hash = '{token}'")).await, 0);

    // A session in use is renewed, and its cookie sent again; an idle one lapses. (A session is
    // read afresh once a second: the changes made here behind the service's back show after.)
    sqlx::query(
        "update account_session set last_seen_at = last_seen_at - 2 * 86400, expires_at = expires_at - 2 * 86400",
    )
    .execute(&shop.state.db.pool)
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = shop.get("/api/account", Some(&fresh)).await;
    assert!(r.headers["set-cookie"].to_str().unwrap().contains("Max-Age=2592000"));
    let expires: i64 = shop.count("select max(expires_at) from account_session").await;
    assert!(expires >= atelier_checkout::ids::now() + 2592000 - 5);
    assert!(shop.get("/api/account", Some(&fresh)).await.headers.get("set-cookie").is_none(), "once a day at most");
    sqlx::query("update account_session set expires_at = 0").execute(&shop.state.db.pool).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(who(&shop, &fresh).await["signed_in"], false);

    // Signing out everywhere.
    let one = sign_in(&shop, "ada@example.com", PASSWORD).await;
    let two = sign_in(&shop, "ada@example.com", PASSWORD).await;
    assert_eq!(post(&shop, "/api/account/sign-out-everywhere", "", Some(&one)).await.status, StatusCode::NO_CONTENT);
    assert_eq!(who(&shop, &two).await["signed_in"], false);
    assert_eq!(post(&shop, "/api/account/sign-out-everywhere", "", None).await.status, StatusCode::UNAUTHORIZED);
});

on_both_engines!(weak_passwords_and_bad_input_are_refused_clearly, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    for (body, field) in [
        (registration("ada@example.com", "short", "Ada"), "password"),
        (registration("ada@example.com", "password1", "Ada"), "password"),
        (registration("ada@example.com", "adalovelace", "Ada Lovelace"), "password"),
        (registration("not-an-address", PASSWORD, "Ada"), "email"),
        (registration("ada@example.com", PASSWORD, "   "), "name"),
    ] {
        let r = post(&shop, "/api/account/register", &body, None).await;
        assert_eq!(
            (r.status, r.json()["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{body}: {}",
            r.body
        );
    }
    assert_eq!(shop.count("select count(*) from account").await, 0);
    let r = post(&shop, "/api/account/sign-in", "{", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"], "bad_request");
    let r = post(&shop, "/api/account/verify", r#"{"token":"../../etc"}"#, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
});

on_both_engines!(cross_site_account_posts_are_refused, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    open_account(&shop, "ada@example.com", [198, 51, 100, 1]).await;
    let cookie = sign_in(&shop, "ada@example.com", PASSWORD).await;
    for (path, body, kind) in [
        ("/api/account/sign-in", creds("ada@example.com", PASSWORD), "application/json"),
        ("/api/account/sign-out-everywhere", String::new(), "application/json"),
        ("/account/sign-in", "email=ada%40example.com&password=x".to_string(), "application/x-www-form-urlencoded"),
        ("/account/sign-out", String::new(), "application/x-www-form-urlencoded"),
        ("/account/register", "email=a%40b.co&password=x&name=x".to_string(), "application/x-www-form-urlencoded"),
        ("/account/reset", "token=x&password=x".to_string(), "application/x-www-form-urlencoded"),
    ] {
        for (header, value) in [("sec-fetch-site", "cross-site"), ("origin", "https://evil.example")] {
            let req = Request::post(path)
                .header("content-type", kind)
                .header("cookie", &cookie)
                .header(header, value)
                .body(Body::from(body.clone()))
                .unwrap();
            assert_eq!(shop.call(req).await.status, StatusCode::FORBIDDEN, "{path} with {header}");
        }
    }
    assert_eq!(who(&shop, &cookie).await["signed_in"], true);
});

on_both_engines!(the_pages_work_without_javascript, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    let r = shop.get("/account", None).await;
    assert_eq!((r.status, r.location().as_str()), (StatusCode::SEE_OTHER, "/account/sign-in"));
    for path in ["/account/sign-in", "/account/register", "/account/forgot", "/account/reset?token=abc"] {
        let r = shop.get(path, None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(r.body.contains("<form method=\"post\""), "{path}");
    }
    // Registration: the form again with the field marked, then the same page for any address.
    let r = shop.form("/account/register", "name=Ada&email=ada%40example.com&password=password", None).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains(r#"aria-invalid="true""#) && r.body.contains("id=\"password-error\""), "{}", r.body);
    assert!(r.body.contains(r#"value="ada@example.com""#) && !r.body.contains(r#"value="password""#));
    let r = shop
        .form("/account/register", "name=Ada+Lovelace&email=ada%40example.com&password=quiet+lavender+harvest", None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Check your e-mail"), "{}", r.body);
    let t = nth_token(&shop, "ada@example.com", "account_verify", 1).await;
    let r = shop.form("/account/verify", &format!("token={t}&password=wrong+password"), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("not the password this registration was made with"), "{}", r.body);
    let r = shop.form("/account/verify", &format!("token={t}&password=quiet+lavender+harvest"), None).await;
    assert_eq!((r.status, r.location().as_str()), (StatusCode::SEE_OTHER, "/account"));
    let r = shop.form("/account/verify", &format!("token={t}&password=quiet+lavender+harvest"), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("This link does not work any more"), "{}", r.body);

    // Signing in: a wrong password says so and keeps the address; the right one leads home.
    let r = shop.form("/account/sign-in", "email=ada%40example.com&password=nope", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("That e-mail address and password do not match an account"), "{}", r.body);
    let r = shop.form("/account/sign-in", "email=ada%40example.com&password=quiet+lavender+harvest", None).await;
    assert_eq!((r.status, r.location().as_str()), (StatusCode::SEE_OTHER, "/account"));
    let cookie = session_of(&r);
    let r = shop.get("/account", Some(&cookie)).await;
    assert!(r.body.contains("Welcome, Ada Lovelace.") && r.body.contains("— this browser"), "{}", r.body);

    // Forgotten password, then the reset form.
    let r = shop.form("/account/forgot", "email=ada%40example.com", None).await;
    assert!(r.body.contains("Check your e-mail"));
    let t = nth_token(&shop, "ada@example.com", "account_reset", 1).await;
    let r = shop.form("/account/reset", &format!("token={t}&password=12345678"), None).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains(&format!(r#"value="{t}""#)), "the form keeps its link");
    let r = shop.form("/account/reset", &format!("token={t}&password=amber+resin+at+dusk"), None).await;
    assert!(r.body.contains("Your password is changed"), "{}", r.body);
    assert_eq!(shop.get("/account", Some(&cookie)).await.status, StatusCode::SEE_OTHER);

    // Signing out.
    let r = shop.form("/account/sign-in", "email=ada%40example.com&password=amber+resin+at+dusk", None).await;
    let cookie = session_of(&r);
    let r = shop.form("/account/sign-out", "", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(who(&shop, &cookie).await["signed_in"], false);
});

/// The code an authenticator shows `steps` steps from now.
fn code(secret: &str, steps: i64) -> String {
    let t = (atelier_checkout::ids::now() + 30 * steps) as u64;
    atelier_checkout::accounts::two_factor::code_at(secret, "ada@example.com", t).unwrap()
}

/// Turns two-factor sign-in on; the secret, the recovery codes and the session's new cookie.
async fn turn_on_two_factor(shop: &TestShop, cookie: &str) -> (String, Vec<String>, String, String) {
    let r = post(shop, "/api/account/two-factor/setup", "", Some(cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let setup = r.json();
    let secret = setup["secret"].as_str().unwrap().to_string();
    assert!(setup["otpauth_url"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/Atelier%20Ar%C3%B4me:ada%40example.com?secret="));
    assert!(setup["qr_svg"].as_str().unwrap().contains("<svg"));
    // Setting up again shows the same secret (what was scanned stays good), for an hour.
    assert_eq!(post(shop, "/api/account/two-factor/setup", "", Some(cookie)).await.json()["secret"], secret.as_str());
    sqlx::query("update account set totp_pending_at = totp_pending_at - 3601")
        .execute(&shop.state.db.pool)
        .await
        .unwrap();
    let r =
        post(shop, "/api/account/two-factor/enable", &format!(r#"{{"code":"{}"}}"#, code(&secret, 0)), Some(cookie))
            .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "a lapsed setup is not confirmed: {}", r.body);
    let secret = post(shop, "/api/account/two-factor/setup", "", Some(cookie)).await.json()["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let r = post(shop, "/api/account/two-factor/enable", r#"{"code":"000000"}"#, Some(cookie)).await;
    assert_eq!((r.status, r.json()["field"].as_str()), (StatusCode::BAD_REQUEST, Some("code")));
    let first = code(&secret, 0);
    let r = post(shop, "/api/account/two-factor/enable", &format!(r#"{{"code":"{first}"}}"#), Some(cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let codes: Vec<String> =
        r.json()["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
    (secret, codes, session_of(&r), first)
}

on_both_engines!(two_factor_sign_in_takes_each_code_once, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    open_account(&shop, "ada@example.com", [198, 51, 100, 1]).await;
    let cookie = sign_in(&shop, "ada@example.com", PASSWORD).await;
    let (secret, recovery, rotated, first) = turn_on_two_factor(&shop, &cookie).await;
    assert_eq!(recovery.len(), 10);
    assert!(recovery.iter().all(|c| c.len() == 19 && c.matches('-').count() == 3), "{recovery:?}");
    assert_eq!(who(&shop, &cookie).await["signed_in"], false, "turning it on gives the session a new token");
    assert_eq!(who(&shop, &rotated).await["signed_in"], true);
    let r = post(&shop, "/api/account/two-factor/setup", "", Some(&rotated)).await;
    assert_eq!(r.status, StatusCode::CONFLICT);

    // The password alone opens a challenge, not a session.
    let r = post(&shop, "/api/account/sign-in", &creds("ada@example.com", PASSWORD), None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.json()["two_factor_required"], true);
    let challenge = cookie_named(&r, "atelier_challenge").unwrap();
    assert!(challenge.starts_with("atelier_challenge="));
    // The code that turned it on was taken: the same step's code is refused (RFC 6238 §5.2).
    let r = post(&shop, "/api/account/sign-in/code", &format!(r#"{{"code":"{first}"}}"#), Some(&challenge)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    // The next step's code is good, once.
    let next = code(&secret, 1);
    let r = post(&shop, "/api/account/sign-in/code", &format!(r#"{{"code":"{next}"}}"#), Some(&challenge)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let session = session_of(&r);
    assert!(r.headers.get_all("set-cookie").iter().any(|v| v.to_str().unwrap().starts_with("atelier_challenge=;")));
    assert_eq!(who(&shop, &session).await["signed_in"], true);
    let unused = serde_json::json!({ "code": recovery[9] }).to_string();
    let r = post(&shop, "/api/account/sign-in/code", &unused, Some(&challenge)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "the challenge is spent, whatever good factor comes with it");
    let r = post(
        &shop,
        "/api/account/sign-in",
        &serde_json::json!({"email": "ada@example.com", "password": PASSWORD, "code": next}).to_string(),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "a code is taken once, however it comes");

    // A recovery code signs in once, typed in any case and with spaces.
    let typed = format!(" {} ", recovery[0].to_uppercase().replace('-', " "));
    let r = post(
        &shop,
        "/api/account/sign-in",
        &serde_json::json!({"email": "ada@example.com", "password": PASSWORD, "code": typed}).to_string(),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = post(
        &shop,
        "/api/account/sign-in",
        &serde_json::json!({"email": "ada@example.com", "password": PASSWORD, "code": recovery[0]}).to_string(),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let stored: Vec<String> =
        sqlx::query_scalar("select code_hash from recovery_code").fetch_all(&shop.state.db.pool).await.unwrap();
    assert_eq!(stored.len(), 9);
    let hashed = |c: &str| atelier_checkout::accounts::tokens::digest(&c.replace('-', ""));
    assert!(recovery[1..].iter().all(|c| stored.contains(&hashed(c))), "kept as SHA-256 of each");
    assert!(!stored.contains(&hashed(&recovery[0])), "the used one is gone");

    // A lapsed challenge is refused.
    let r = post(&shop, "/api/account/sign-in", &creds("ada@example.com", PASSWORD), None).await;
    let challenge = cookie_named(&r, "atelier_challenge").unwrap();
    sqlx::query("update sign_in_challenge set expires_at = 0").execute(&shop.state.db.pool).await.unwrap();
    let r =
        post(&shop, "/api/account/sign-in/code", &format!(r#"{{"code":"{}"}}"#, code(&secret, -1)), Some(&challenge))
            .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("sign in again"), "{}", r.body);

    // Turning it off needs a fresh code.
    let r = post(&shop, "/api/account/two-factor/disable", r#"{"code":"123456"}"#, Some(&session)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = post(&shop, "/api/account/two-factor/disable", &format!(r#"{{"code":"{}"}}"#, recovery[1]), Some(&session))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(shop.count("select count(*) from recovery_code").await, 0);
    let r = post(&shop, "/api/account/sign-in", &creds("ada@example.com", PASSWORD), None).await;
    assert_eq!(r.status, StatusCode::OK, "no code asked once it is off");
});

on_both_engines!(wrong_codes_count_like_wrong_passwords, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    open_account(&shop, "ada@example.com", [198, 51, 100, 1]).await;
    let cookie = sign_in(&shop, "ada@example.com", PASSWORD).await;
    let (secret, _, _, _) = turn_on_two_factor(&shop, &cookie).await;
    let r = post(&shop, "/api/account/sign-in", &creds("ada@example.com", PASSWORD), None).await;
    let challenge = cookie_named(&r, "atelier_challenge").unwrap();
    // The wrong code tried while turning it on counts too: nine more make ten.
    for i in 0..9u8 {
        let r =
            post_from(&shop, "/api/account/sign-in/code", r#"{"code":"999999"}"#, Some(&challenge), [203, 0, 113, i])
                .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r =
        post(&shop, "/api/account/sign-in/code", &format!(r#"{{"code":"{}"}}"#, code(&secret, 1)), Some(&challenge))
            .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
});

on_both_engines!(two_factor_pages_work_without_javascript, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    open_account(&shop, "ada@example.com", [198, 51, 100, 1]).await;
    let r = shop.form("/account/sign-in", "email=ada%40example.com&password=quiet+lavender+harvest", None).await;
    let cookie = session_of(&r);
    let page = shop.get("/account/two-factor", Some(&cookie)).await;
    assert!(page.body.contains("<svg") && page.body.contains("Turn two-factor sign-in on"), "{}", page.body);
    let secret: String =
        sqlx::query_scalar("select totp_pending from account").fetch_one(&shop.state.db.pool).await.unwrap();
    let r = shop.form("/account/two-factor/enable", "code=111111", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("That code is not right"), "{}", r.body);
    let r = shop.form("/account/two-factor/enable", &format!("code={}", code(&secret, 0)), Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body.matches("<li><code>").count(), 10, "{}", r.body);
    let cookie = session_of(&r);
    assert!(shop.get("/account", Some(&cookie)).await.body.contains("On: signing in asks for a code"));

    let r = shop.form("/account/sign-in", "email=ada%40example.com&password=quiet+lavender+harvest", None).await;
    assert_eq!((r.status, r.location().as_str()), (StatusCode::SEE_OTHER, "/account/sign-in/code"));
    let challenge = cookie_named(&r, "atelier_challenge").unwrap();
    assert_eq!(shop.get("/account/sign-in/code", Some(&challenge)).await.status, StatusCode::OK);
    assert_eq!(shop.get("/account/sign-in/code", None).await.location(), "/account/sign-in");
    let r = shop.form("/account/sign-in/code", "code=000000", Some(&challenge)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("That code is not right"), "{}", r.body);
    let r = shop.form("/account/sign-in/code", &format!("code={}", code(&secret, 1)), Some(&challenge)).await;
    assert_eq!((r.status, r.location().as_str()), (StatusCode::SEE_OTHER, "/account"));
});

on_both_engines!(a_burst_of_guesses_at_once_gets_no_more_than_the_limit, |engine: Engine| async move {
    let shop = std::sync::Arc::new(TestShop::new(engine).await);
    open_account(&shop, "ada@example.com", [198, 51, 100, 1]).await;
    let tasks: Vec<_> = (0..30u8)
        .map(|i| {
            let shop = shop.clone();
            tokio::spawn(async move {
                post_from(
                    &shop,
                    "/api/account/sign-in",
                    &creds("ada@example.com", "a wrong guess"),
                    None,
                    [203, 0, 113, i],
                )
                .await
                .status
            })
        })
        .collect();
    let mut tried = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::UNAUTHORIZED => tried += 1,
            StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("{other}"),
        }
    }
    // However the thirty interleave (all may even be refused, each counting the others), no
    // more than ten passwords are checked.
    assert!(tried <= 10, "{tried} guesses were checked; the limit is 10");
});

on_both_engines!(a_sign_in_overtaken_by_a_new_password_makes_no_session, |engine: Engine| async move {
    use atelier_checkout::accounts::session::{start, Device};
    let shop = TestShop::new(engine).await;
    open_account(&shop, "ada@example.com", [198, 51, 100, 1]).await;
    let (id, changed): (String, i64) = sqlx::query_as("select account_id, password_changed_at from account")
        .fetch_one(&shop.state.db.pool)
        .await
        .unwrap();
    // A reset lands between the password's check and the session.
    sqlx::query("update account set password_changed_at = password_changed_at + 1")
        .execute(&shop.state.db.pool)
        .await
        .unwrap();
    assert!(start(&shop.state.db, &id, changed, &Device::default(), None, false).await.unwrap().is_none());
    assert!(start(&shop.state.db, &id, changed + 1, &Device::default(), None, false).await.unwrap().is_some());
    // An account keeps its twenty newest sessions.
    for _ in 0..25 {
        start(&shop.state.db, &id, changed + 1, &Device::default(), None, false).await.unwrap().unwrap();
    }
    assert_eq!(shop.count("select count(*) from account_session").await, 20);
});

/// A paid order of a cart's lines, placed with an address (and a session, when given); its id.
async fn paid_order(shop: &TestShop, lines: &[(&str, i64)], email: &str, session: Option<&str>) -> String {
    // Signed in, the cart is the account's (found from the session); a guest's is in a cookie.
    let mut cookie = session.unwrap_or_default().to_string();
    for (sku, n) in lines {
        let with = (!cookie.is_empty()).then_some(cookie.as_str());
        let r = shop.json("POST", "/api/cart/items", &format!(r#"{{"sku":"{sku}","quantity":{n}}}"#), with).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        if cookie.is_empty() {
            cookie = r.cookie().unwrap();
        } else if session.is_some() {
            assert!(r.cookie().is_none(), "an account's cart is never named in a cookie");
        }
    }
    // With a phone and a billing address, which are personal data too.
    let address = common::ADDRESS.replace("ada@example.com", email).replace(
        r#""shipping_method""#,
        r#""phone":"+33 6 12 34 56 78","billing_name":"Ada King","billing_line1":"Herengracht 1","billing_city":"Amsterdam","billing_postal_code":"1012 AB","billing_country":"NL","shipping_method""#,
    );
    let r = shop.json("POST", "/api/checkout", &address, Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let started = r.json();
    let r = shop.form(started["payment_url"].as_str().unwrap(), "action=pay", None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    started["order_id"].as_str().unwrap().to_string()
}

async fn orders_of(shop: &TestShop, session: &str) -> Vec<serde_json::Value> {
    let r = shop.get("/api/account/orders", Some(session)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()["orders"].as_array().unwrap().clone()
}

on_both_engines!(guest_orders_join_an_account_only_once_its_address_is_proven, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 10).await;
    let guest = paid_order(&shop, &[("LAV-10", 2)], "ada@example.com", None).await;
    // Someone registers Ada's address: until its link is opened, nothing joins anything.
    post(&shop, "/api/account/register", &registration("ada@example.com", PASSWORD, "Ada"), None).await;
    settled(&shop).await;
    assert_eq!(shop.count("select count(*) from customer_order where account_id is not null").await, 0);
    // Ada opens the link from her mailbox: her guest order is hers.
    let t = nth_token(&shop, "ada@example.com", "account_verify", 1).await;
    let r = post(&shop, "/api/account/verify", &confirmation(&t, PASSWORD), None).await;
    let session = session_of(&r);
    let orders = orders_of(&shop, &session).await;
    assert_eq!(orders.len(), 1);
    assert_eq!((orders[0]["order_id"].as_str(), orders[0]["status"].as_str()), (Some(guest.as_str()), Some("paid")));
    assert_eq!(orders[0]["bottles"], 2);
    let page = shop.get(orders[0]["url"].as_str().unwrap(), None).await;
    assert_eq!(page.status, StatusCode::OK, "the history links to the order's page");

    // Signed in, an order belongs to the account whatever address it is sent to; a guest order
    // placed later with the account's address joins at the next sign-in.
    paid_order(&shop, &[("LAV-10", 1)], "gift@example.com", Some(&session)).await;
    paid_order(&shop, &[("LAV-10", 1)], "ada@example.com", None).await;
    assert_eq!(orders_of(&shop, &session).await.len(), 2);
    let again = sign_in(&shop, "ada@example.com", PASSWORD).await;
    assert_eq!(orders_of(&shop, &again).await.len(), 3);

    // Another account sees none of them and cannot order them again.
    open_account(&shop, "eve@example.com", [198, 51, 100, 9]).await;
    let eve = sign_in(&shop, "eve@example.com", PASSWORD).await;
    assert!(orders_of(&shop, &eve).await.is_empty());
    let r = post(&shop, &format!("/api/account/orders/{guest}/reorder"), "", Some(&eve)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(shop.get("/api/account/orders", None).await.status, StatusCode::UNAUTHORIZED);
});

on_both_engines!(ordering_again_uses_todays_prices_and_stock_and_says_what_changed, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 10).await;
    shop.set_stock("ROSE-2", 3).await;
    open_account(&shop, "ada@example.com", [198, 51, 100, 1]).await;
    let session = sign_in(&shop, "ada@example.com", PASSWORD).await;
    let order = paid_order(&shop, &[("LAV-10", 3), ("ROSE-2", 1)], "ada@example.com", Some(&session)).await;
    // Since then: the rose sold out, lavender is dearer and only two are left.
    shop.set_stock("ROSE-2", 0).await;
    shop.set_stock("LAV-10", 2).await;
    let mut catalog = common::catalog();
    catalog.essences[0].sizes[0].price = 2600;
    atelier_checkout::catalog::sync(&shop.state.db, &catalog).await.unwrap();

    let r = post(&shop, &format!("/api/account/orders/{order}/reorder"), "", Some(&session)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let done = r.json();
    assert_eq!(done["added"], 2);
    let changes: Vec<&str> = done["changes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert!(changes.contains(&"Bulgarian Rose Otto, 2 ml is sold out; it was not added."), "{changes:?}");
    assert!(changes.contains(&"Provence Lavender, 10 ml: 2 added of the 3 you ordered (only 2 left)."), "{changes:?}");
    assert!(changes.contains(&"Provence Lavender, 10 ml now costs €26.00 (it was €24.00)."), "{changes:?}");
    assert!(r.cookie().is_none(), "the account's cart is found from the session");
    let cart = session.clone();
    let view = shop.get("/api/cart", Some(&cart)).await.json();
    assert_eq!(view["count"], 2);
    assert_eq!(view["subtotal"]["amount"], 5200);
    // Again: the cart holds all there is; nothing more is added.
    let r = post(&shop, &format!("/api/account/orders/{order}/reorder"), "", Some(&cart)).await;
    assert_eq!(r.json()["added"], 0);

    // The page: the account lists the order with its button, which says the same.
    let page = shop.get("/account", Some(&session)).await;
    assert!(page.body.contains(&format!("/account/orders/{order}/reorder")), "{}", page.body);
    let r = shop.form(&format!("/account/orders/{order}/reorder"), "", Some(&cart)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Back in your cart") && r.body.contains("is sold out; it was not added."), "{}", r.body);
});

/// Signs in from a browser holding cookies; the answer.
async fn sign_in_with(shop: &TestShop, email: &str, cookies: &str) -> Reply {
    let r = post(shop, "/api/account/sign-in", &creds(email, PASSWORD), Some(cookies)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r
}

async fn cart_lines(shop: &TestShop, cart: &str) -> Vec<(String, i64)> {
    let view = shop.get("/api/cart", Some(cart)).await.json();
    view["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["sku"].as_str().unwrap().to_string(), l["quantity"].as_i64().unwrap()))
        .collect()
}

on_both_engines!(a_guest_cart_merges_into_the_accounts_at_sign_in, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 4).await;
    shop.set_stock("ROSE-2", 5).await;
    open_account(&shop, "ada@example.com", [198, 51, 100, 1]).await;
    // The laptop: a guest cart, merged into the account's at sign-in; the browser's cookie for it
    // goes (the account's cart is found from the session).
    let laptop_cart = shop.cart_with("LAV-10", 2).await;
    let r = sign_in_with(&shop, "ada@example.com", &laptop_cart).await;
    let set: Vec<&str> = r.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
    assert!(set.iter().any(|c| c.starts_with("atelier_cart=;") && c.contains("Max-Age=0")), "{set:?}");
    let laptop = session_of(&r);
    assert_eq!(cart_lines(&shop, &laptop).await, vec![("LAV-10".to_string(), 2)]);
    assert!(cart_lines(&shop, &laptop_cart).await.is_empty(), "the guest cart is gone");

    // The phone: another guest cart, merged in (quantities summed within what is left).
    let phone_cart = shop.cart_with("LAV-10", 3).await;
    shop.json("POST", "/api/cart/items", r#"{"sku":"ROSE-2","quantity":1}"#, Some(&phone_cart)).await;
    let phone = session_of(&sign_in_with(&shop, "ada@example.com", &phone_cart).await);
    let both = vec![("LAV-10".to_string(), 4), ("ROSE-2".to_string(), 1)];
    assert_eq!(cart_lines(&shop, &phone).await, both);
    // The cart follows the account: the laptop sees the phone's rose, and an edit on one shows on
    // the other.
    assert_eq!(cart_lines(&shop, &laptop).await, both);
    let r = shop.json("PATCH", "/api/cart/items/ROSE-2", r#"{"quantity":2}"#, Some(&laptop)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(cart_lines(&shop, &phone).await[1], ("ROSE-2".to_string(), 2));
    assert_eq!(shop.count("select count(*) from cart").await, 1);
    // Merging the same guest cart twice (two sign-ins at once, say) adds it once.
    let guest = shop.cart_with("ROSE-2", 1).await;
    let (a, b) =
        tokio::join!(sign_in_with(&shop, "ada@example.com", &guest), sign_in_with(&shop, "ada@example.com", &guest));
    assert_eq!((a.status, b.status), (StatusCode::OK, StatusCode::OK));
    assert_eq!(cart_lines(&shop, &phone).await[1], ("ROSE-2".to_string(), 3));

    // Signed out, the browser has no cart: the account's is not reachable without the session,
    // and an account's cart outlives the thirty days of a guest's.
    post(&shop, "/api/account/sign-out", "", Some(&phone)).await;
    assert!(cart_lines(&shop, &phone).await.is_empty());
    atelier_checkout::cart::prune(&shop.state.db, atelier_checkout::ids::now() + 1).await.unwrap();
    assert_eq!(cart_lines(&shop, &laptop).await.len(), 2);
    // A bottle added while signed in, to an account without a cart, makes the account's cart.
    shop.json("DELETE", "/api/cart/items/LAV-10", "", Some(&laptop)).await;
    shop.json("DELETE", "/api/cart/items/ROSE-2", "", Some(&laptop)).await;
    sqlx::query("delete from cart").execute(&shop.state.db.pool).await.unwrap();
    let r = shop.json("POST", "/api/cart/items", r#"{"sku":"LAV-10","quantity":1}"#, Some(&laptop)).await;
    assert!(r.cookie().is_none(), "no cookie names an account's cart");
    let owned: i64 = shop.count("select count(*) from cart where account_id is not null").await;
    assert_eq!(owned, 1);
});

on_both_engines!(another_accounts_cart_is_never_merged_nor_reached, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 10).await;
    open_account(&shop, "ada@example.com", [198, 51, 100, 1]).await;
    open_account(&shop, "eve@example.com", [198, 51, 100, 2]).await;
    let ada = sign_in(&shop, "ada@example.com", PASSWORD).await;
    shop.json("POST", "/api/cart/items", r#"{"sku":"LAV-10","quantity":2}"#, Some(&ada)).await;
    let adas: String = sqlx::query_scalar("select cart_id from cart").fetch_one(&shop.state.db.pool).await.unwrap();
    // Eve presents the id of Ada's cart (were it ever to leak) when signing in: nothing merges.
    let eve = session_of(&sign_in_with(&shop, "eve@example.com", &format!("atelier_cart={adas}")).await);
    assert!(cart_lines(&shop, &eve).await.is_empty());
    assert_eq!(cart_lines(&shop, &ada).await, vec![("LAV-10".to_string(), 2)]);
});

on_both_engines!(name_password_and_address_change_with_proof, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    open_account(&shop, "ada@example.com", [198, 51, 100, 1]).await;
    let laptop = sign_in(&shop, "ada@example.com", PASSWORD).await;
    let phone = sign_in(&shop, "ada@example.com", PASSWORD).await;

    let r = post(&shop, "/api/account/profile", r#"{"name":"Ada King"}"#, Some(&laptop)).await;
    assert_eq!((r.status, r.json()["name"].as_str()), (StatusCode::OK, Some("Ada King")));

    // The password: the current one is needed, a common one refused, the others signed out.
    let change =
        |current: &str, new: &str| serde_json::json!({"current_password": current, "new_password": new}).to_string();
    let r = post(&shop, "/api/account/password", &change("wrong", "amber resin at dusk"), Some(&laptop)).await;
    assert_eq!((r.status, r.json()["field"].as_str()), (StatusCode::BAD_REQUEST, Some("current_password")));
    let r = post(&shop, "/api/account/password", &change(PASSWORD, "password1"), Some(&laptop)).await;
    assert_eq!(r.json()["field"], "new_password");
    let r = post(&shop, "/api/account/password", &change(PASSWORD, "amber resin at dusk"), Some(&laptop)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let laptop = session_of(&r);
    assert_eq!(who(&shop, &laptop).await["signed_in"], true);
    assert_eq!(who(&shop, &phone).await["signed_in"], false, "every other browser is signed out");
    mails_when(&shop, "ada@example.com", "account_password_changed", 1).await;

    // The address: the password is needed, the account moves only when the new mailbox's link is
    // opened, and the old address is told.
    let ask = |email: &str, password: &str| serde_json::json!({"email": email, "password": password}).to_string();
    let r = post(&shop, "/api/account/email", &ask("ada.king@example.com", "wrong"), Some(&laptop)).await;
    assert_eq!((r.status, r.json()["field"].as_str()), (StatusCode::BAD_REQUEST, Some("password")));
    let r = post(&shop, "/api/account/email", &ask("ada.king@example.com", "amber resin at dusk"), Some(&laptop)).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(who(&shop, &laptop).await["account"]["email"], "ada@example.com", "not before the link");
    let t = nth_token(&shop, "ada.king@example.com", "account_new_email", 1).await;
    let r = post(&shop, "/api/account/email/confirm", &format!(r#"{{"token":"{t}"}}"#), None).await;
    assert_eq!((r.status, r.json()["email"].as_str()), (StatusCode::OK, Some("ada.king@example.com")));
    assert_eq!(who(&shop, &laptop).await["account"]["email"], "ada.king@example.com");
    let told = mails_when(&shop, "ada@example.com", "account_email_changed", 1).await;
    assert!(told[0].1.contains("now uses ada.king@example.com"), "{}", told[0].1);
    let r = post(&shop, "/api/account/email/confirm", &format!(r#"{{"token":"{t}"}}"#), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "a link works once");
    sign_in(&shop, "ada.king@example.com", "amber resin at dusk").await;

    // Moving to an address that has an account: the same answer; that address's owner is told.
    open_account(&shop, "bob@example.com", [198, 51, 100, 2]).await;
    let r = post(&shop, "/api/account/email", &ask("bob@example.com", "amber resin at dusk"), Some(&laptop)).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    mails_when(&shop, "bob@example.com", "account_address_taken", 1).await;
    assert!(mails(&shop, "bob@example.com", "account_new_email").await.is_empty());
});

on_both_engines!(an_account_can_be_exported_and_deleted, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 10).await;
    open_account(&shop, "ada@example.com", [198, 51, 100, 1]).await;
    let session = sign_in(&shop, "ada@example.com", PASSWORD).await;
    let order = paid_order(&shop, &[("LAV-10", 2)], "ada@example.com", Some(&session)).await;

    let r = shop.get("/api/account/export", Some(&session)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers["content-disposition"].to_str().unwrap().starts_with("attachment"));
    let export = r.json();
    assert_eq!(export["account"]["email"], "ada@example.com");
    assert_eq!(export["orders"][0]["order_id"], order.as_str());
    assert!(export["orders"][0]["address"].as_str().unwrap().contains("rue des Fleurs"));
    assert!(export["orders"][0]["billing_address"].as_str().unwrap().contains("Herengracht 1"), "{export}");
    assert_eq!(export["orders"][0]["phone"], "+33 6 12 34 56 78");
    assert_eq!(export["sessions"].as_array().unwrap().len(), 2);

    // Not while an order has not left the atelier.
    let r = post(&shop, "/api/account/delete", &format!(r#"{{"password":"{PASSWORD}"}}"#), Some(&session)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    use atelier_checkout::orders::{advance, Step};
    let (key, url) = (&shop.state.keys.link, &shop.state.config.public_url);
    advance(
        &shop.state.db,
        key,
        url,
        &order,
        &Step::Ship { tracking: Some("LA123".into()) },
        &atelier_checkout::staff::audit::Actor::shell(),
    )
    .await
    .unwrap();
    let r = post(&shop, "/api/account/delete", r#"{"password":"wrong"}"#, Some(&session)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = post(&shop, "/api/account/delete", &format!(r#"{{"password":"{PASSWORD}"}}"#), Some(&session)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(who(&shop, &session).await["signed_in"], false);
    for table in ["account", "account_session", "registration", "account_token"] {
        assert_eq!(shop.count(&format!("select count(*) from {table}")).await, 0, "{table}");
    }
    assert_eq!(shop.count("select count(*) from outbox where recipient = 'ada@example.com'").await, 0);
    // The order stays, for the accounts, without who or where.
    let (email, name, address): (String, String, String) =
        sqlx::query_as("select email, name, address from customer_order where order_id = $1")
            .bind(&order)
            .fetch_one(&shop.state.db.pool)
            .await
            .unwrap();
    assert_eq!((email.as_str(), name.as_str()), ("", ""));
    assert!(!address.contains("Fleurs") && address.contains("\"FR\""), "{address}");
    assert!(!address.contains("Herengracht") && !address.contains("12 34"), "billing and phone erased too: {address}");
    let r = post(&shop, "/api/account/sign-in", &creds("ada@example.com", PASSWORD), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
});

on_both_engines!(the_details_pages_work_without_javascript, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    open_account(&shop, "ada@example.com", [198, 51, 100, 1]).await;
    let cookie = sign_in(&shop, "ada@example.com", PASSWORD).await;
    assert_eq!(shop.get("/account/details", None).await.location(), "/account/sign-in");
    let page = shop.get("/account/details", Some(&cookie)).await;
    for action in ["/account/profile", "/account/email", "/account/password", "/account/delete"] {
        assert!(page.body.contains(&format!(r#"action="{action}""#)), "{action}");
    }
    let r = shop.form("/account/profile", "name=Ada+King", Some(&cookie)).await;
    assert!(r.body.contains("Your name is changed.") && r.body.contains(r#"value="Ada King""#), "{}", r.body);
    let r =
        shop.form("/account/password", "current_password=nope&new_password=amber+resin+at+dusk", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains(r#"id="current_password-error""#), "{}", r.body);
    let r = shop.form("/account/delete", "delete_password=nope", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains(r#"id="delete_password-error""#), "{}", r.body);
    let r = shop
        .form("/account/email", "email=ada.king%40example.com&password=quiet+lavender+harvest", Some(&cookie))
        .await;
    assert!(r.body.contains("We have sent a link to ada.king@example.com"), "{}", r.body);
    let t = nth_token(&shop, "ada.king@example.com", "account_new_email", 1).await;
    assert!(shop.get(&format!("/account/email/confirm?token={t}"), None).await.body.contains("Use this address"));
    let r = shop.form("/account/email/confirm", &format!("token={t}"), None).await;
    assert!(r.body.contains("uses ada.king@example.com from now on"), "{}", r.body);
    let r = shop.form("/account/delete", "delete_password=quiet+lavender+harvest", Some(&cookie)).await;
    assert!(r.body.contains("Your account is deleted"), "{}", r.body);
});

on_both_engines!(
    a_new_password_ends_a_waiting_challenge_and_two_factors_end_other_sessions,
    |engine: Engine| async move {
        let shop = TestShop::new(engine).await;
        open_account(&shop, "ada@example.com", [198, 51, 100, 1]).await;
        let other = sign_in(&shop, "ada@example.com", PASSWORD).await;
        let cookie = sign_in(&shop, "ada@example.com", PASSWORD).await;
        let (secret, _, _, _) = turn_on_two_factor(&shop, &cookie).await;
        assert_eq!(who(&shop, &other).await["signed_in"], false, "turning two factors on ends the other sessions");
        // Someone with the password waits at the code; the owner resets the password meanwhile.
        let r = post(&shop, "/api/account/sign-in", &creds("ada@example.com", PASSWORD), None).await;
        let challenge = cookie_named(&r, "atelier_challenge").unwrap();
        post(&shop, "/api/account/password/forgot", r#"{"email":"ada@example.com"}"#, None).await;
        let t = nth_token(&shop, "ada@example.com", "account_reset", 1).await;
        let r = post(
            &shop,
            "/api/account/password/reset",
            &format!(r#"{{"token":"{t}","password":"amber resin at dusk"}}"#),
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        let r = post(
            &shop,
            "/api/account/sign-in/code",
            &format!(r#"{{"code":"{}"}}"#, code(&secret, 1)),
            Some(&challenge),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
        assert_eq!(shop.count("select count(*) from sign_in_challenge").await, 0);
    }
);

on_both_engines!(the_address_book_fills_in_the_checkout, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 5).await;
    open_account(&shop, "ada@example.com", [198, 51, 100, 1]).await;
    let me = sign_in(&shop, "ada@example.com", PASSWORD).await;
    let home =
        r#"{"name":"Ada Lovelace","line1":"1 rue des Fleurs","city":"Grasse","postal_code":"06130","country":"FR"}"#;
    let r = post(&shop, "/api/account/addresses", home, Some(&me)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let first = r.json();
    assert_eq!((first["default_shipping"].as_bool(), first["default_billing"].as_bool()), (Some(true), Some(true)));
    // A wrong postal code is refused as the checkout refuses it.
    shop.json("POST", "/api/cart/items", r#"{"sku":"LAV-10","quantity":1}"#, Some(&me)).await;
    let page = shop.get("/checkout", Some(&me)).await;
    assert!(page.body.contains(r#"<details class="billing">"#), "one address for both: billing left to it");
    shop.json("DELETE", "/api/cart/items/LAV-10", "", Some(&me)).await;
    let wrong = home.replace("06130", "ABC");
    let r = post(&shop, "/api/account/addresses", &wrong, Some(&me)).await;
    assert_eq!((r.status, r.json()["field"].as_str()), (StatusCode::BAD_REQUEST, Some("postal_code")));
    let office = r#"{"name":"Ada Lovelace","line1":"2 Keizersgracht","city":"Amsterdam","postal_code":"1015 cj","country":"NL","default_shipping":true}"#;
    let r = post(&shop, "/api/account/addresses", office, Some(&me)).await;
    let office_id = r.json()["address_id"].as_str().unwrap().to_string();
    assert_eq!(r.json()["postal_code"], "1015 CJ");

    // The checkout page is filled in with the shipping default and the account's address.
    shop.json("POST", "/api/cart/items", r#"{"sku":"LAV-10","quantity":1}"#, Some(&me)).await;
    let page = shop.get("/checkout", Some(&me)).await;
    assert!(
        page.body.contains(r#"value="2 Keizersgracht""#) && page.body.contains(r#"value="ada@example.com""#),
        "{}",
        page.body
    );
    assert!(page.body.contains(r#"<option value="NL" selected>"#), "{}", page.body);
    // The billing default, now another address, fills in the billing address.
    assert!(page.body.contains(r#"name="billing_line1" value="1 rue des Fleurs""#), "{}", page.body);
    assert!(page.body.contains(r#"<details class="billing" open>"#), "{}", page.body);

    // Deleting the default passes it to the address left; another account's address is not found.
    let r = shop.json("DELETE", &format!("/api/account/addresses/{office_id}"), "", Some(&me)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let book = shop.get("/api/account/addresses", Some(&me)).await.json();
    assert_eq!(book["addresses"].as_array().unwrap().len(), 1);
    assert_eq!(book["addresses"][0]["default_shipping"], true);
    open_account(&shop, "eve@example.com", [198, 51, 100, 2]).await;
    let eve = sign_in(&shop, "eve@example.com", PASSWORD).await;
    let adas = book["addresses"][0]["address_id"].as_str().unwrap();
    let r = shop.json("DELETE", &format!("/api/account/addresses/{adas}"), "", Some(&eve)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(shop.get("/api/account/addresses", Some(&eve)).await.json()["addresses"].as_array().unwrap().len(), 0);

    // The page works without JavaScript.
    let r =
        shop.form("/account/addresses", "name=Ada&line1=3+Rue&city=Paris&postal_code=7500&country=FR", Some(&me)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains(r#"id="postal_code-error""#) && r.body.contains(r#"value="3 Rue""#), "{}", r.body);
    let r = shop
        .form("/account/addresses", "name=Ada&line1=3+Rue&city=Paris&postal_code=75001&country=FR", Some(&me))
        .await;
    assert!(r.body.contains("The address is kept.") && r.body.contains("75001 Paris"), "{}", r.body);
});

on_both_engines!(a_strangers_guesses_do_not_keep_the_owner_out_of_a_browser_they_used, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    open_account(&shop, "ada@example.com", [198, 51, 100, 1]).await;
    let r = post(&shop, "/api/account/sign-in", &creds("ada@example.com", PASSWORD), None).await;
    let mark = cookie_named(&r, "atelier_device").expect("the browser is marked");
    assert!(set_cookie(&r, "atelier_device").unwrap().contains("HttpOnly"));
    for i in 0..10u8 {
        let r = post_from(
            &shop,
            "/api/account/sign-in",
            &creds("ada@example.com", "a wrong guess"),
            None,
            [203, 0, 113, i],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // A browser without the mark waits; the owner's browser, with it, signs in.
    let r = post(&shop, "/api/account/sign-in", &creds("ada@example.com", PASSWORD), None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let r = post(&shop, "/api/account/sign-in", &creds("ada@example.com", PASSWORD), Some(&mark)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // A mark is good for its address only, and guesses through it are limited too.
    let forged = mark.replace("atelier_device=", "atelier_device=00");
    let r = post(&shop, "/api/account/sign-in", &creds("ada@example.com", PASSWORD), Some(&forged)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    for _ in 0..10 {
        post(&shop, "/api/account/sign-in", &creds("ada@example.com", "a wrong guess"), Some(&mark)).await;
    }
    let r = post(&shop, "/api/account/sign-in", &creds("ada@example.com", PASSWORD), Some(&mark)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
});

// --- Sign-in with Google, against the OpenID provider stand-in -----------------------------

use oidc_standin::{Identity, OidcStandIn, Spoil};

/// A shop whose Google sign-in goes to a fresh provider stand-in.
async fn shop_with_google(engine: Engine) -> (TestShop, OidcStandIn) {
    let idp = OidcStandIn::start().await;
    let issuer = idp.url.clone();
    let shop = TestShop::configured(engine, move |c| {
        c.google = Some(atelier_checkout::config::GoogleConfig {
            client_id: oidc_standin::CLIENT_ID.into(),
            client_secret: atelier_checkout::config::Secret::new(oidc_standin::CLIENT_SECRET),
            issuer_url: issuer,
        })
    })
    .await;
    (shop, idp)
}

/// A header's value in a raw HTTP answer.
fn header_in(head: &str, name: &str) -> String {
    head.lines()
        .find_map(|l| {
            l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_default()
}

/// A trip to the provider and back: the button's form (`start`, with the browser's cookies),
/// the provider's page (which signs in whoever the test queued), and the callback with the
/// trip's cookie. The callback's answer, and the callback's address (to try it again).
async fn google_trip(
    shop: &TestShop,
    idp: &OidcStandIn,
    start: &str,
    cookies: Option<&str>,
) -> (Reply, String, String) {
    let r = shop.form(start, "", cookies).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let trip = cookie_named(&r, "atelier_google").expect("the trip's cookie");
    let set = set_cookie(&r, "atelier_google").unwrap();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Max-Age=600"), "{set}");
    let to = r.location();
    let query = to.strip_prefix(&format!("{}/authorize?", idp.url)).unwrap_or_else(|| panic!("not the provider: {to}"));
    let asked: std::collections::BTreeMap<String, String> = serde_urlencoded::from_str(query).unwrap();
    assert_eq!(asked["code_challenge_method"], "S256");
    assert!(asked["scope"].split(' ').any(|s| s == "openid") && !asked["nonce"].is_empty());
    assert_eq!(format!("atelier_google={}", asked["state"]), trip, "the cookie holds the state sent");
    let (status, head) = common::http(&idp.url, "GET", &to[idp.url.len()..], &[], "").await;
    assert_eq!(status, 303, "{head}");
    let back = header_in(&head, "location");
    let path = back.strip_prefix(&shop.state.config.public_url).unwrap_or_else(|| panic!("not our callback: {back}"));
    let cookie = match cookies {
        Some(c) => format!("{c}; {trip}"),
        None => trip.clone(),
    };
    (shop.get(path, Some(&cookie)).await, path.to_string(), trip)
}

async fn accounts_named(shop: &TestShop, email: &str) -> i64 {
    shop.count(&format!("select count(*) from account where email = '{email}'")).await
}

on_both_engines!(google_makes_an_account_and_finds_it_by_subject_alone, |engine: Engine| async move {
    let (shop, idp) = shop_with_google(engine).await;
    let page = shop.get("/account/sign-in", None).await;
    assert!(page.body.contains(r#"action="/account/google""#), "the button is offered");
    let mut grace = Identity::verified("grace@example.com", "Grace Hopper");
    idp.sign_in_as(grace.clone());
    let (r, callback, trip) = google_trip(&shop, &idp, "/account/google", None).await;
    assert_eq!((r.status, r.location().as_str()), (StatusCode::SEE_OTHER, "/account"), "{}", r.body);
    assert!(r.headers.get_all("set-cookie").iter().any(|v| v.to_str().unwrap().starts_with("atelier_google=;")));
    let cookie = session_of(&r);
    let me = who(&shop, &cookie).await;
    assert_eq!(
        (me["account"]["email"].as_str(), me["account"]["name"].as_str()),
        (Some("grace@example.com"), Some("Grace Hopper"))
    );
    assert_eq!(shop.count("select count(*) from account where password_hash = ''").await, 1, "no password yet");
    // The account has no password: none opens it, an empty one neither, with the usual refusal.
    for password in ["", "anything at all here"] {
        let r = post(&shop, "/api/account/sign-in", &creds("grace@example.com", password), None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    }
    // The callback works once: the same state again finds no trip.
    let again = shop.get(&callback, Some(&trip)).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.body);
    assert_eq!(idp.tokens_issued(), 1);
    // Google's address changes; the subject does not: the same account, not a new one.
    grace.email = "grace.hopper@example.org".into();
    idp.sign_in_as(grace.clone());
    let (r, _, _) = google_trip(&shop, &idp, "/account/google", None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(who(&shop, &session_of(&r)).await["account"]["email"], "grace@example.com");
    assert_eq!(shop.count("select count(*) from account").await, 1);
    // Unlinking would leave no way in: refused until a password is set.
    let r = shop.form("/account/google/unlink", "", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let overview = shop.get("/account", Some(&cookie)).await;
    assert!(overview.body.contains("Linked to the Google account grace@example.com"), "{}", overview.body);
    let export = shop.get("/api/account/export", Some(&cookie)).await;
    assert_eq!(export.json()["account"]["google"]["email"], "grace@example.com", "{}", export.body);
});

on_both_engines!(google_answers_that_fail_a_check_sign_no_one_in, |engine: Engine| async move {
    let (shop, idp) = shop_with_google(engine).await;
    let spoils = [
        Spoil::Audience("someone-else.apps.example".into()),
        Spoil::Expired,
        Spoil::Nonce("a-nonce-from-another-trip".into()),
        Spoil::Issuer("https://accounts.google.com".into()),
        Spoil::StrangerKey,
    ];
    for spoil in spoils {
        idp.sign_in_as(Identity::verified("mallory@example.com", "Mallory"));
        idp.spoil_next(spoil.clone());
        let (r, _, _) = google_trip(&shop, &idp, "/account/google", None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{spoil:?}: {}", r.body);
        assert!(set_cookie(&r, "atelier_session").is_none(), "{spoil:?}");
        assert!(r.body.contains("could not be checked"), "{spoil:?}: {}", r.body);
    }
    assert_eq!(shop.count("select count(*) from account").await, 0);
    // An address Google has not confirmed is not trusted to name anyone.
    idp.sign_in_as(Identity { email_verified: false, ..Identity::verified("eve@example.com", "Eve") });
    let (r, _, _) = google_trip(&shop, &idp, "/account/google", None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(accounts_named(&shop, "eve@example.com").await, 0);
    // A state that is not this browser's (another's trip sent to it), or no cookie at all.
    let r = shop.form("/account/google", "", None).await;
    let theirs = cookie_named(&r, "atelier_google").unwrap();
    let state = &theirs["atelier_google=".len()..];
    let forged = shop.get(&format!("/account/google/callback?code=x&state={state}"), Some("atelier_google=mine")).await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST, "{}", forged.body);
    let bare = shop.get(&format!("/account/google/callback?code=x&state={state}"), None).await;
    assert_eq!(bare.status, StatusCode::BAD_REQUEST);
    // Saying no at Google changes nothing and says so.
    let r = shop.form("/account/google", "", None).await;
    let trip = cookie_named(&r, "atelier_google").unwrap();
    let state = &trip["atelier_google=".len()..];
    let no = shop.get(&format!("/account/google/callback?error=access_denied&state={state}"), Some(&trip)).await;
    assert_eq!(no.status, StatusCode::OK, "{}", no.body);
    assert!(no.body.contains("You did not continue with Google"));
    assert_eq!(shop.count("select count(*) from account").await, 0);
    assert_eq!(shop.count("select count(*) from account_session").await, 0);
});

on_both_engines!(google_joins_a_password_account_only_once_its_owner_signs_in, |engine: Engine| async move {
    let (shop, idp) = shop_with_google(engine).await;
    open_account(&shop, "ada@example.com", [198, 51, 100, 7]).await;
    let ada = Identity::verified("ada@example.com", "Ada at Google");
    // Someone with a Google account of the same address is not let in, nor linked.
    idp.sign_in_as(ada.clone());
    let (r, _, _) = google_trip(&shop, &idp, "/account/google", None).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains("An account here already uses ada@example.com"), "{}", r.body);
    assert!(set_cookie(&r, "atelier_session").is_none());
    assert_eq!(shop.count("select count(*) from account_google").await, 0);
    assert_eq!(accounts_named(&shop, "ada@example.com").await, 1);
    // Linking needs the account signed in, in the browser the trip comes back to.
    let cookie = sign_in(&shop, "ada@example.com", PASSWORD).await;
    idp.sign_in_as(ada.clone());
    let r = shop.form("/account/google/link", "", Some(&cookie)).await;
    let trip = cookie_named(&r, "atelier_google").unwrap();
    let to = r.location();
    let (_, head) = common::http(&idp.url, "GET", &to[idp.url.len()..], &[], "").await;
    let back = header_in(&head, "location");
    let path = back.strip_prefix(&shop.state.config.public_url).unwrap();
    let stranger = shop.get(path, Some(&trip)).await;
    assert_eq!(stranger.status, StatusCode::UNAUTHORIZED, "a link trip finished signed out: {}", stranger.body);
    assert_eq!(shop.count("select count(*) from account_google").await, 0);
    idp.sign_in_as(ada.clone());
    let (r, _, _) = google_trip(&shop, &idp, "/account/google/link", Some(&cookie)).await;
    assert_eq!((r.status, r.location().as_str()), (StatusCode::SEE_OTHER, "/account#google-title"), "{}", r.body);
    assert_eq!(shop.count("select count(*) from account_google").await, 1);
    // From now on Google signs the owner in, in any browser.
    idp.sign_in_as(ada.clone());
    let (r, _, _) = google_trip(&shop, &idp, "/account/google", None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(who(&shop, &session_of(&r)).await["account"]["name"], "Ada Lovelace");
    // Another account cannot take the same Google account.
    open_account(&shop, "charles@example.com", [198, 51, 100, 8]).await;
    let charles = sign_in(&shop, "charles@example.com", PASSWORD).await;
    idp.sign_in_as(ada.clone());
    let (r, _, _) = google_trip(&shop, &idp, "/account/google/link", Some(&charles)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    // With two factors on, Google is the first factor only.
    sqlx::query("update account set totp_enabled_at = 1 where email = 'ada@example.com'")
        .execute(&shop.state.db.pool)
        .await
        .unwrap();
    idp.sign_in_as(ada.clone());
    let (r, _, _) = google_trip(&shop, &idp, "/account/google", None).await;
    assert_eq!((r.status, r.location().as_str()), (StatusCode::SEE_OTHER, "/account/sign-in/code"));
    assert!(set_cookie(&r, "atelier_session").is_none() && set_cookie(&r, "atelier_challenge").is_some());
    // The owner has a password: unlinking is allowed.
    let r = shop.form("/account/google/unlink", "", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(shop.count("select count(*) from account_google").await, 0);
});

on_both_engines!(google_is_not_offered_unless_configured, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    assert!(!shop.get("/account/sign-in", None).await.body.contains("/account/google"));
    let r = shop.form("/account/google", "", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
});

/// The SKUs of a wishlist as the API gives it.
async fn wishlist_of(shop: &TestShop, cookie: Option<&str>) -> Vec<String> {
    let r = shop.get("/api/wishlist", cookie).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()["items"].as_array().unwrap().iter().map(|w| w["sku"].as_str().unwrap().to_string()).collect()
}

/// Keeps a size from a browser holding `cookie`; the guest wishlist cookie it gets back (signed
/// in: none).
async fn keep(shop: &TestShop, sku: &str, cookie: Option<&str>) -> Option<String> {
    let r = post(shop, "/api/wishlist/items", &format!(r#"{{"sku":"{sku}"}}"#), cookie).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    cookie_named(&r, "atelier_wishlist")
}

on_both_engines!(
    a_guests_wishlist_lives_in_its_browser_and_joins_the_account_at_sign_in,
    |engine: Engine| async move {
        let shop = TestShop::new(engine).await;
        shop.set_stock("LAV-10", 20).await;
        // A guest keeps two sizes: in a cookie, the latest first, with today's price and stock.
        let guest = keep(&shop, "LAV-10", None).await.expect("a wishlist cookie");
        assert_eq!(guest, "atelier_wishlist=LAV-10");
        let guest = keep(&shop, "ROSE-2", Some(&guest)).await.unwrap();
        assert_eq!(keep(&shop, "ROSE-2", Some(&guest)).await.unwrap(), guest, "kept twice, kept once");
        let view = shop.get("/api/wishlist", Some(&guest)).await.json();
        assert_eq!(view["count"], 2);
        assert_eq!(view["items"][0]["sku"], "ROSE-2");
        assert_eq!(view["items"][0]["status"], "sold_out");
        assert_eq!(view["items"][1]["price"]["display"], "€24.00");
        assert_eq!(view["items"][1]["status"], "in_stock");
        // Without JavaScript: the essence page's form, back to the page; the wishlist page lists them.
        let r = shop
            .form("/wishlist", "sku=LAV-30&wish=keep&quantity=1&return_to=%2Fcompendium%2Flavender%2F", Some(&guest))
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(r.location(), "/compendium/lavender/");
        let guest = cookie_named(&r, "atelier_wishlist").unwrap();
        let r = shop.form("/wishlist", "sku=LAV-30&return_to=https%3A%2F%2Fevil.example%2F", Some(&guest)).await;
        assert_eq!(r.location(), "/wishlist", "never back to another site");
        let page = shop.get("/wishlist", Some(&guest)).await;
        assert_eq!(page.status, StatusCode::OK);
        for text in [
            "Provence Lavender",
            "30 ml",
            "Bulgarian Rose Otto",
            "Tell me when it is back",
            "Kept in this browser only",
        ] {
            assert!(page.body.contains(text), "{text} missing from {}", page.body);
        }
        // Not a size on sale: refused, by name; the cookie unchanged.
        let r = post(&shop, "/api/wishlist/items", r#"{"sku":"OUD-99"}"#, Some(&guest)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
        let r = post(&shop, "/api/wishlist/items", r#"{"sku":"<script>"}"#, Some(&guest)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        assert_eq!(r.json()["field"], "sku");
        // A forged cookie's junk is ignored.
        assert_eq!(wishlist_of(&shop, Some("atelier_wishlist=LAV-10.<b>.lav-10..ROSE-2")).await, ["ROSE-2", "LAV-10"]);

        // Sign-in: the guest's sizes join the account's and the browser's cookie goes.
        open_account(&shop, "ada@example.com", [198, 51, 100, 1]).await;
        let r = sign_in_with(&shop, "ada@example.com", &guest).await;
        let set: Vec<&str> = r.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
        assert!(set.iter().any(|c| c.starts_with("atelier_wishlist=;") && c.contains("Max-Age=0")), "{set:?}");
        let laptop = session_of(&r);
        assert_eq!(wishlist_of(&shop, Some(&laptop)).await, ["LAV-30", "ROSE-2", "LAV-10"]);
        // Twice (the same cookie, two sign-ins at once): nothing doubles.
        let (a, b) = tokio::join!(
            sign_in_with(&shop, "ada@example.com", &guest),
            sign_in_with(&shop, "ada@example.com", &guest)
        );
        assert_eq!((a.status, b.status), (StatusCode::OK, StatusCode::OK));
        assert_eq!(shop.count("select count(*) from wishlist_item").await, 3);
        // Signed in, a change is the account's, on every device, and sets no cookie.
        let phone = sign_in(&shop, "ada@example.com", PASSWORD).await;
        assert!(keep(&shop, "LAV-10", Some(&phone)).await.is_none());
        let r = shop.json("DELETE", "/api/wishlist/items/ROSE-2", "", Some(&phone)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(wishlist_of(&shop, Some(&laptop)).await, ["LAV-30", "LAV-10"]);
        let page = shop.get("/account", Some(&laptop)).await;
        assert!(page.body.contains("2 sizes kept") && page.body.contains("href=\"/wishlist\""), "{}", page.body);
        // The export has it; signed out, the browser's wishlist is empty again.
        let export = shop.get("/api/account/export", Some(&laptop)).await.json();
        assert_eq!(export["wishlist"], serde_json::json!(["LAV-30", "LAV-10"]));
        post(&shop, "/api/account/sign-out", "", Some(&phone)).await;
        assert!(wishlist_of(&shop, Some(&phone)).await.is_empty());
    }
);

on_both_engines!(a_wishlist_holds_fifty_sizes_and_no_one_elses, |engine: Engine| async move {
    let shop = TestShop::new(engine).await;
    for i in 0..51 {
        sqlx::query(
            "insert into product (sku, essence_sku, title, label, path, price_minor, currency, active, updated_at)
             values ($1, 'MIX', 'Blend', $2, '/compendium/blend/', 1200, 'EUR', 1, 0)",
        )
        .bind(format!("MIX-{i}"))
        .bind(format!("no. {i}"))
        .execute(&shop.state.db.pool)
        .await
        .unwrap();
    }
    open_account(&shop, "ada@example.com", [198, 51, 100, 1]).await;
    open_account(&shop, "eve@example.com", [198, 51, 100, 2]).await;
    let ada = sign_in(&shop, "ada@example.com", PASSWORD).await;
    let mut guest: Option<String> = None;
    for i in 0..50 {
        keep(&shop, &format!("MIX-{i}"), Some(&ada)).await;
        guest = Some(keep(&shop, &format!("MIX-{i}"), guest.as_deref()).await.unwrap());
    }
    for cookie in [ada.as_str(), guest.as_deref().unwrap()] {
        let r = post(&shop, "/api/wishlist/items", r#"{"sku":"MIX-50"}"#, Some(cookie)).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
        assert!(r.json()["message"].as_str().unwrap().contains("at most 50"), "{}", r.body);
        assert_eq!(wishlist_of(&shop, Some(cookie)).await.len(), 50);
    }
    // Eve cannot reach Ada's list: her session shows hers (empty), and removing a size of Ada's
    // takes nothing from Ada.
    let eve = sign_in(&shop, "eve@example.com", PASSWORD).await;
    assert!(wishlist_of(&shop, Some(&eve)).await.is_empty());
    shop.json("DELETE", "/api/wishlist/items/MIX-3", "", Some(&eve)).await;
    let r = shop.json("DELETE", "/api/wishlist/items/mix-3", "", Some(&ada)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "not a SKU: {}", r.body);
    assert_eq!(wishlist_of(&shop, Some(&ada)).await.len(), 50);
    // A full account joining a guest's list keeps its fifty.
    let r = sign_in_with(&shop, "ada@example.com", "atelier_wishlist=LAV-10.ROSE-2").await;
    assert_eq!(wishlist_of(&shop, Some(&session_of(&r))).await.len(), 50);
});

on_both_engines!(a_sold_out_size_is_told_of_once_when_it_is_back, |engine: Engine| async move {
    use atelier_checkout::stock::{change, Change};
    let shop = TestShop::new(engine).await;
    shop.set_stock("LAV-10", 2).await;
    shop.set_stock("ROSE-2", 0).await;
    // In stock: nothing to wait for.
    let r = post(&shop, "/api/wishlist/alerts", r#"{"sku":"LAV-10","email":"ada@example.com"}"#, None).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    // A guest must say where to write.
    let r = post(&shop, "/api/wishlist/alerts", r#"{"sku":"ROSE-2"}"#, None).await;
    assert_eq!((r.status, r.json()["field"].as_str()), (StatusCode::BAD_REQUEST, Some("email")), "{}", r.body);
    let r = post(&shop, "/api/wishlist/alerts", r#"{"sku":"ROSE-2","email":"not an address"}"#, None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    // Asked twice by a guest, once by a signed-in shopper (the account's address) from a form.
    for _ in 0..2 {
        let r = post(&shop, "/api/wishlist/alerts", r#"{"sku":"ROSE-2","email":"bea@example.com"}"#, None).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
        assert!(r.json()["message"].as_str().unwrap().contains("bea@example.com"));
    }
    open_account(&shop, "ada@example.com", [198, 51, 100, 1]).await;
    let ada = sign_in(&shop, "ada@example.com", PASSWORD).await;
    let r = shop.form("/wishlist/alerts", "sku=ROSE-2", Some(&ada)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("ada@example.com"), "{}", r.body);
    let r = shop.form("/wishlist/alerts", "sku=ROSE-2", None).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(shop.count("select count(*) from stock_alert").await, 2);

    // Back in stock: one message each, queued with the change; more stock later sends nothing.
    change(&shop.state.db, "ROSE-2", Change::Set(3), "counted", &common::shell()).await.unwrap();
    change(&shop.state.db, "ROSE-2", Change::Adjust(2), "counted", &common::shell()).await.unwrap();
    for to in ["bea@example.com", "ada@example.com"] {
        let sent = mails(&shop, to, "back_in_stock").await;
        assert_eq!(sent.len(), 1, "{to}: {sent:?}");
        assert!(sent[0].0.contains("Bulgarian Rose Otto, 2 ml"), "{:?}", sent[0]);
        assert!(sent[0].1.contains("/compendium/rose/"), "{}", sent[0].1);
    }
    // Sold out and back again: a new request, a new message.
    change(&shop.state.db, "ROSE-2", Change::Set(0), "counted", &common::shell()).await.unwrap();
    let r = post(&shop, "/api/wishlist/alerts", r#"{"sku":"ROSE-2","email":"bea@example.com"}"#, None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    change(&shop.state.db, "ROSE-2", Change::Set(1), "counted", &common::shell()).await.unwrap();
    assert_eq!(mails(&shop, "bea@example.com", "back_in_stock").await.len(), 2);
    // An address asking too often is told to wait.
    let mut last = StatusCode::OK;
    for _ in 0..6 {
        change(&shop.state.db, "ROSE-2", Change::Set(0), "counted", &common::shell()).await.unwrap();
        last = post(&shop, "/api/wishlist/alerts", r#"{"sku":"ROSE-2","email":"cy@example.com"}"#, None).await.status;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
});
