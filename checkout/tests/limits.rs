//! The limit on starting checkouts: counted per real client (the socket's address unless a
//! trusted proxy says otherwise), in the database so every instance shares it, and answered
//! with 429 and `Retry-After`.

mod common;

use common::{http, Engine, TestShop};

/// A shop allowing `n` checkouts a minute per client, served on loopback.
async fn shop_limited_to(engine: Engine, n: u32, trusted: Option<&str>) -> (TestShop, String) {
    let trusted = trusted.map(str::to_string);
    let shop = TestShop::configured(engine, move |c| {
        c.checkouts_per_minute = n;
        if let Some(t) = trusted {
            c.trusted_proxies = t.parse().expect("a list of proxies");
        }
    })
    .await;
    let url = shop.serve().await;
    (shop, url)
}

/// Starts a checkout (without a cart: refused with 409 once counted) with these headers.
async fn checkout(url: &str, headers: &[(&str, &str)]) -> (u16, String) {
    http(url, "POST", "/api/checkout", headers, common::ADDRESS).await
}

on_both_engines!(forged_client_headers_do_not_escape_the_limit, |engine: Engine| async move {
    let (_shop, url) = shop_limited_to(engine, 20, None).await;
    let mut answers = Vec::new();
    for i in 0..25 {
        let forged = format!("198.51.100.{i}");
        let (status, head) =
            checkout(&url, &[("X-Forwarded-For", &forged), ("X-Nf-Client-Connection-Ip", &forged)]).await;
        answers.push(status);
        if status == 429 {
            assert!(head.to_ascii_lowercase().contains("retry-after: "), "{head}");
        }
    }
    assert_eq!(answers.iter().filter(|s| **s == 409).count(), 20, "{answers:?}");
    assert_eq!(answers.iter().filter(|s| **s == 429).count(), 5, "{answers:?}");
});

on_both_engines!(behind_a_trusted_proxy_each_client_is_counted_apart, |engine: Engine| async move {
    let (_shop, url) = shop_limited_to(engine, 2, Some("127.0.0.1/32")).await;
    // The proxy appends the address it saw; what the client put before it is not believed.
    for (forged, client, expected) in [
        ("1.1.1.1", "203.0.113.5", 409),
        ("2.2.2.2", "203.0.113.5", 409),
        ("3.3.3.3", "203.0.113.5", 429),
        ("4.4.4.4", "203.0.113.6", 409),
    ] {
        let chain = format!("{forged}, {client}");
        let (status, _) = checkout(&url, &[("X-Forwarded-For", &chain)]).await;
        assert_eq!(status, expected, "{chain}");
    }
});

on_both_engines!(every_instance_counts_against_one_limit, |engine: Engine| async move {
    let (first, url) = shop_limited_to(engine, 3, None).await;
    let second =
        TestShop::on_with(&first.database_url, tempfile::tempdir().unwrap(), |c| c.checkouts_per_minute = 3).await;
    let other = second.serve().await;
    let mut answers = Vec::new();
    for i in 0..4 {
        answers.push(checkout(if i % 2 == 0 { &url } else { &other }, &[]).await.0);
    }
    assert_eq!(answers, [409, 409, 409, 429], "one limit across both instances");
});
