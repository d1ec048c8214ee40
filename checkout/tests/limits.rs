//! The limit on starting checkouts: counted per real client (the socket's address unless a
//! trusted proxy says otherwise), in the database so every instance shares it, and answered
//! with 429 and `Retry-After`.

mod common;

use common::{http, Engine, TestShop};

/// Waits, when the minute is about to end, for the next: the limit counts per minute of the
/// clock, and a test's requests must fall in one.
async fn in_one_window() {
    let second = atelier_checkout::ids::now() % 60;
    if second >= 50 {
        tokio::time::sleep(std::time::Duration::from_secs((61 - second) as u64)).await;
    }
}

/// A shop allowing `n` checkouts a minute per client, served on loopback.
async fn shop_limited_to(engine: Engine, n: u32, trusted: Option<&str>) -> (TestShop, String) {
    let trusted = trusted.map(str::to_string);
    let shop = TestShop::configured(engine, move |c| {
        c.checkouts_per_minute = n;
        if let Some(t) = trusted {
            c.trusted_proxies =
                atelier_checkout::http::client::TrustedProxies::parse(&t, None).expect("a list of proxies");
        }
    })
    .await;
    let url = shop.serve().await;
    in_one_window().await;
    (shop, url)
}

/// A cart with a bottle in it, on a served shop: its cookie.
async fn cart(url: &str) -> String {
    let (status, head) = http(url, "POST", "/api/cart/items", &[], r#"{"sku":"LAV-10"}"#).await;
    assert_eq!(status, 200, "{head}");
    let line = head.lines().find(|l| l.to_ascii_lowercase().starts_with("set-cookie:")).expect("a cart cookie");
    line.split_once(':').unwrap().1.trim().split(';').next().unwrap().to_string()
}

/// Starts a checkout of the cart with these headers (the same details: the same open order).
async fn checkout(url: &str, cookie: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut all = headers.to_vec();
    all.push(("Cookie", cookie));
    http(url, "POST", "/api/checkout", &all, common::ADDRESS).await
}

on_both_engines!(forged_client_headers_do_not_escape_the_limit, |engine: Engine| async move {
    let (shop, url) = shop_limited_to(engine, 20, None).await;
    shop.set_stock("LAV-10", 5).await;
    let cookie = cart(&url).await;
    let mut answers = Vec::new();
    for i in 0..25 {
        let forged = format!("198.51.100.{i}");
        let (status, head) =
            checkout(&url, &cookie, &[("X-Forwarded-For", &forged), ("X-Nf-Client-Connection-Ip", &forged)]).await;
        answers.push(status);
        if status == 429 {
            assert!(head.to_ascii_lowercase().contains("retry-after: "), "{head}");
        }
    }
    assert_eq!(answers.iter().filter(|s| **s == 201).count(), 20, "{answers:?}");
    assert_eq!(answers.iter().filter(|s| **s == 429).count(), 5, "{answers:?}");
    // A checkout without a cart does nothing, and is not counted.
    let (status, _) = http(&url, "POST", "/api/checkout", &[], common::ADDRESS).await;
    assert_eq!(status, 409);
});

on_both_engines!(behind_a_trusted_proxy_each_client_is_counted_apart, |engine: Engine| async move {
    let (shop, url) = shop_limited_to(engine, 2, Some("127.0.0.1/32")).await;
    shop.set_stock("LAV-10", 5).await;
    let cookie = cart(&url).await;
    // The proxy appends the address it saw; what the client put before it is not believed.
    for (forged, client, expected) in [
        ("1.1.1.1", "203.0.113.5", 201),
        ("2.2.2.2", "203.0.113.5", 201),
        ("3.3.3.3", "203.0.113.5", 429),
        ("4.4.4.4", "203.0.113.6", 201),
    ] {
        let chain = format!("{forged}, {client}");
        let (status, _) = checkout(&url, &cookie, &[("X-Forwarded-For", &chain)]).await;
        assert_eq!(status, expected, "{chain}");
    }
});

on_both_engines!(every_instance_counts_against_one_limit, |engine: Engine| async move {
    let (first, url) = shop_limited_to(engine, 3, None).await;
    let second =
        TestShop::on_with(&first.database_url, tempfile::tempdir().unwrap(), |c| c.checkouts_per_minute = 3).await;
    let other = second.serve().await;
    first.set_stock("LAV-10", 5).await;
    let cookie = cart(&url).await;
    let mut answers = Vec::new();
    for i in 0..4 {
        answers.push(checkout(if i % 2 == 0 { &url } else { &other }, &cookie, &[]).await.0);
    }
    assert_eq!(answers, [201, 201, 201, 429], "one limit across both instances");
});
