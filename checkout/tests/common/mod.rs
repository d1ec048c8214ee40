//! Shared by the service's tests: a fresh database on SQLite or PostgreSQL, a small catalog,
//! the router called without a socket.

#![allow(dead_code)]

use atelier_checkout::{AppState, Db, ServiceConfig};
use atelier_domain::{Cadence, CatalogEntry, CatalogExport, CatalogSize, Currency, FolioEdition, FolioPlan};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// Which engine a test runs on.
#[derive(Debug, Clone, Copy)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A service on a fresh database.
pub struct TestShop {
    pub state: AppState,
    pub dir: tempfile::TempDir,
    pub database_url: String,
}

/// The PostgreSQL server tests use (CI sets it; locally the machine's own).
pub fn postgres_admin_url() -> String {
    std::env::var("DATABASE_URL_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh database of the engine, migrated.
pub async fn fresh_database(engine: Engine, dir: &std::path::Path) -> String {
    match engine {
        Engine::Sqlite => format!("sqlite://{}?mode=rwc", dir.join("test.sqlite").display()),
        Engine::Postgres => {
            let admin = postgres_admin_url();
            let name = format!("atelier_test_{}", atelier_checkout::ids::random_hex(6));
            let db = Db::connect(&admin)
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL at {admin} is needed for these tests: {e}"));
            sqlx::query(&format!("create database {name}")).execute(&db.pool).await.expect("create test database");
            db.pool.close().await;
            let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap_or(admin);
            format!("{base}/{name}")
        }
    }
}

impl TestShop {
    /// A shop with the test catalog and the given stock of `LAV-10`.
    pub async fn new(engine: Engine) -> TestShop {
        let dir = tempfile::tempdir().unwrap();
        let url = fresh_database(engine, dir.path()).await;
        TestShop::on(&url, dir).await
    }

    /// A shop whose embedded configuration is changed first (Stripe payments, say).
    pub async fn configured(engine: Engine, change: impl FnOnce(&mut ServiceConfig)) -> TestShop {
        let dir = tempfile::tempdir().unwrap();
        let url = fresh_database(engine, dir.path()).await;
        TestShop::on_with(&url, dir, change).await
    }

    /// A shop (an instance) on an existing database.
    pub async fn on(url: &str, dir: tempfile::TempDir) -> TestShop {
        TestShop::on_with(url, dir, |_| {}).await
    }

    pub async fn on_with(url: &str, dir: tempfile::TempDir, change: impl FnOnce(&mut ServiceConfig)) -> TestShop {
        let db = Db::connect(url).await.expect("connect");
        db.migrate().await.expect("migrate");
        atelier_checkout::catalog::sync(&db, &catalog()).await.expect("sync");
        let mut config = ServiceConfig::embedded(dir.path().to_path_buf(), url);
        change(&mut config);
        let state = AppState::new(db, config, dir.path()).await.expect("state");
        TestShop { state, dir, database_url: url.to_string() }
    }

    /// Serves the shop on a free loopback port; its base address.
    pub async fn serve(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = atelier_checkout::app(self.state.clone());
        tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.unwrap()
        });
        url
    }

    /// Another instance on the same database.
    pub async fn second_instance(&self) -> TestShop {
        TestShop::on(&self.database_url, tempfile::tempdir().unwrap()).await
    }

    pub async fn set_stock(&self, sku: &str, n: i64) {
        let actor = atelier_checkout::staff::audit::Actor::Shell { user: "test".into() };
        atelier_checkout::stock::change(
            &self.state.db,
            sku,
            atelier_checkout::stock::Change::Set(n),
            "counted",
            &actor,
        )
        .await
        .expect("stock");
    }

    pub async fn available(&self, sku: &str) -> i64 {
        atelier_checkout::stock::level(&self.state.db, sku).await.unwrap().unwrap().available
    }

    pub async fn on_hand(&self, sku: &str) -> i64 {
        atelier_checkout::stock::level(&self.state.db, sku).await.unwrap().unwrap().on_hand
    }

    /// An order's status.
    pub async fn status(&self, order: &str) -> String {
        sqlx::query_scalar("select status from customer_order where order_id = $1")
            .bind(order)
            .fetch_one(&self.state.db.pool)
            .await
            .unwrap()
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.state.db.pool).await.unwrap()
    }

    /// Sends a request through the router.
    pub async fn call(&self, req: Request<Body>) -> Reply {
        call(&self.state, req).await
    }

    /// The same JSON request sent `n` times at once (each on a task of its own).
    pub async fn json_at_once(&self, n: usize, method: &str, path: &str, body: &str, cookie: &str) -> Vec<Reply> {
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let req = Request::builder()
                    .method(method)
                    .uri(path)
                    .header("content-type", "application/json")
                    .header("cookie", cookie)
                    .body(Body::from(body.to_string()))
                    .unwrap();
                let state = self.state.clone();
                tokio::spawn(async move { call(&state, req).await })
            })
            .collect();
        let mut replies = Vec::new();
        for t in tasks {
            replies.push(t.await.unwrap());
        }
        replies
    }
}

/// Sends a request through a state's router.
pub async fn call(state: &AppState, req: Request<Body>) -> Reply {
    {
        let res = atelier_checkout::app(state.clone()).oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        Reply { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
    }
}

impl TestShop {
    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Reply {
        let mut b = Request::get(path);
        if let Some(c) = cookie {
            b = b.header("cookie", c);
        }
        self.call(b.body(Body::empty()).unwrap()).await
    }

    pub async fn json(&self, method: &str, path: &str, body: &str, cookie: Option<&str>) -> Reply {
        let mut b = Request::builder().method(method).uri(path).header("content-type", "application/json");
        if let Some(c) = cookie {
            b = b.header("cookie", c);
        }
        self.call(b.body(Body::from(body.to_string())).unwrap()).await
    }

    pub async fn form(&self, path: &str, body: &str, cookie: Option<&str>) -> Reply {
        let mut b = Request::post(path).header("content-type", "application/x-www-form-urlencoded");
        if let Some(c) = cookie {
            b = b.header("cookie", c);
        }
        self.call(b.body(Body::from(body.to_string())).unwrap()).await
    }

    /// A cart holding `n` of a SKU; returns its cookie.
    pub async fn cart_with(&self, sku: &str, n: i64) -> String {
        let r = self.json("POST", "/api/cart/items", &format!(r#"{{"sku":"{sku}","quantity":{n}}}"#), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.cookie().expect("a cart cookie")
    }

    /// Starts a checkout for a cart; the reply's JSON.
    pub async fn checkout(&self, cookie: &str) -> Reply {
        self.json("POST", "/api/checkout", ADDRESS, Some(cookie)).await
    }
}

/// One HTTP/1.1 request over a loopback socket to a served shop (`base` is `http://host:port`):
/// the status and the raw head.
pub async fn http(base: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("the shop listens");
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

pub const ADDRESS: &str = r#"{"email":"ada@example.com","name":"Ada Lovelace","line1":"1 rue des Fleurs","city":"Grasse","postal_code":"06130","country":"FR","shipping_method":"standard"}"#;

/// A reply, read.
pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn cookie(&self) -> Option<String> {
        self.headers
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::to_string)
    }

    pub fn location(&self) -> String {
        self.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
    }
}

/// The test catalog priced in another currency.
pub fn catalog_in(currency: Currency) -> CatalogExport {
    let mut c = catalog();
    c.currency = currency;
    for e in &mut c.essences {
        e.currency = currency;
    }
    for p in &mut c.folio_plans {
        p.currency = currency;
    }
    c
}

/// Two essences, three sizes; the Folio's quarterly plan at €64 and one edition of both.
pub fn catalog() -> CatalogExport {
    let size = |sku: &str, label: &str, price| CatalogSize { sku: sku.into(), label: label.into(), price };
    CatalogExport {
        format: 1,
        currency: Currency::Eur,
        essences: vec![
            CatalogEntry {
                sku: "LAV".into(),
                slug: "lavender".into(),
                path: "/compendium/lavender/".into(),
                title: "Provence Lavender".into(),
                latin_name: "Lavandula angustifolia".into(),
                price: 2400,
                currency: Currency::Eur,
                sizes: vec![size("LAV-10", "10 ml", 2400), size("LAV-30", "30 ml", 5800)],
                active: true,
            },
            CatalogEntry {
                sku: "ROSE".into(),
                slug: "rose".into(),
                path: "/compendium/rose/".into(),
                title: "Bulgarian Rose Otto".into(),
                latin_name: "Rosa × damascena".into(),
                price: 9500,
                currency: Currency::Eur,
                sizes: vec![size("ROSE-2", "2 ml", 9500)],
                active: true,
            },
        ],
        folio_plans: vec![FolioPlan {
            id: "quarterly".into(),
            name: "The Folio".into(),
            price: 6400,
            currency: Currency::Eur,
            cadence: Cadence::Quarterly,
            holds: "Two essences and a leaflet".into(),
            shipping_included: true,
            active: true,
        }],
        folio_editions: vec![FolioEdition {
            slug: "spring-2027".into(),
            path: "/folio/spring-2027/".into(),
            title: "Spring 2027".into(),
            date: "2027-03-01".into(),
            skus: vec!["LAV-10".into(), "ROSE-2".into()],
            html: "<p>Four essences of the spring &amp; a leaflet.</p>".into(),
            text: "Four essences of the spring & a leaflet.".into(),
        }],
    }
}

/// The person at the command line, for the audit log.
#[allow(dead_code)]
pub fn shell() -> atelier_checkout::staff::audit::Actor {
    atelier_checkout::staff::audit::Actor::Shell { user: "test".into() }
}

/// Runs a test body on both engines.
#[macro_export]
macro_rules! on_both_engines {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                ($body)(common::Engine::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                ($body)(common::Engine::Postgres).await
            }
        }
    };
}

/// A `Stripe-Signature` for a body, made by the official Stripe SDK (`tests/tools/stripe_sign.py`),
/// which also checks it with the SDK's own `construct_event`.
#[allow(dead_code)]
pub fn sdk_signature(secret: &str, body: &str) -> String {
    let tool = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/tools/stripe_sign.py");
    let mut child = std::process::Command::new("python3")
        .arg(tool)
        .arg(secret)
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
    header
}

/// A Stripe-configured shop served on loopback, its payments through the stand-in at
/// `api_base`; the shop and its address.
pub async fn stripe_shop(engine: Engine, api_base: &str) -> (TestShop, String) {
    use atelier_checkout::config::{PaymentMode, Secret};
    let base = api_base.to_string();
    let shop = TestShop::configured(engine, move |c| {
        c.payments = PaymentMode::Stripe {
            secret_key: Secret::new(stripe_standin::SECRET_KEY),
            checkout_origin: base.clone(),
            api_base: base,
        };
    })
    .await;
    let url = shop.serve().await;
    (shop, url)
}
