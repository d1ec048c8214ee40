//! Two `atelier checkout` processes on one PostgreSQL database, as behind a load balancer: 120
//! buyers racing for the last 7 bottles across both (exactly 7 orders are paid, the stock ends
//! at 0 and never goes below), and what one instance signs opens on the other. PostgreSQL is
//! read from `DATABASE_URL_POSTGRES` (CI sets it), the machine's own otherwise.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Barrier;
use std::time::{Duration, Instant};

const BUYERS: usize = 120;
const BOTTLES: i64 = 7;
const SKU: &str = "LAV-PROV-30";
const ADDRESS: &str = r#"{"email":"ada@example.com","name":"Ada Lovelace","line1":"1 rue des Fleurs","city":"Grasse","postal_code":"06130","country":"FR","shipping_method":"standard"}"#;

/// A process killed when the test ends, however it ends.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A database of its own, dropped at the end.
struct Database {
    admin: String,
    name: String,
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = psql(&self.admin, &format!("drop database if exists {} with (force)", self.name));
    }
}

fn psql(url: &str, sql: &str) -> std::io::Result<std::process::Output> {
    Command::new("psql").args([url, "-qAtc", sql]).output()
}

fn atelier(data: &Path, database: &str, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_atelier"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("ATELIER_DATA_DIR", data)
        .env("DATABASE_URL", database)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "atelier {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A reply: status, headers (lower-cased names) and body.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request on its own connection.
fn request(port: u16, method: &str, path: &str, kind: &str, body: &str, cookie: Option<&str>) -> Reply {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let cookie = cookie.map(|c| format!("Cookie: {c}\r\n")).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n{cookie}\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|c| c.parse().ok()).unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    assert!(
        !headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")),
        "this client reads only sized bodies"
    );
    Reply { status, headers, body: body.to_string() }
}

fn wait_until_healthy(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok()
            && request(port, "GET", "/api/health", "text/plain", "", None).status == 200
        {
            return;
        }
        assert!(Instant::now() < deadline, "the instance on {port} did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One buyer: a cart on one instance, a checkout on it, and, if they got the stock, payment.
fn buy(port: u16, start: &Barrier) -> bool {
    let r = request(port, "POST", "/api/cart/items", "application/json", &format!(r#"{{"sku":"{SKU}"}}"#), None);
    assert_eq!(r.status, 200, "{}", r.body);
    let cookie = r.header("set-cookie").and_then(|c| c.split(';').next()).expect("a cart cookie").to_string();
    start.wait();
    let r = request(port, "POST", "/api/checkout", "application/json", ADDRESS, Some(&cookie));
    if r.status != 201 {
        assert_eq!(r.status, 409, "{}", r.body);
        return false;
    }
    let order: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let pay = order["payment_url"].as_str().expect("a payment address");
    let path = pay.split_once("://").and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..])).unwrap_or(pay);
    let paid = request(port, "POST", path, "application/x-www-form-urlencoded", "action=pay", None);
    assert_eq!(paid.status, 303, "{}", paid.body);
    true
}

/// A shop on a database of its own, with its site built, its catalog synced and some stock.
struct Shop {
    url: String,
    work: tempfile::TempDir,
    _database: Database,
}

impl Shop {
    fn new(label: &str) -> Shop {
        let admin = std::env::var("DATABASE_URL_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!("atelier_test_{label}_{}", std::process::id());
        let made = psql(&admin, &format!("create database {name}")).expect("psql runs (PostgreSQL's client)");
        assert!(made.status.success(), "PostgreSQL at {admin} is needed: {}", String::from_utf8_lossy(&made.stderr));
        let database = Database { admin: admin.clone(), name: name.clone() };
        let url = format!("{}/{name}", admin.rsplit_once('/').map(|(base, _)| base).unwrap_or(&admin));
        let shop = Shop { url, work: tempfile::tempdir().unwrap(), _database: database };
        let site = shop.site();
        shop.atelier(0, &["build", "--output-dir", site.to_str().unwrap()]);
        shop.atelier(0, &["catalog", "sync", "--file", site.join("catalog.json").to_str().unwrap()]);
        shop.atelier(0, &["stock", "set", SKU, &BOTTLES.to_string()]);
        shop
    }

    fn site(&self) -> std::path::PathBuf {
        self.work.path().join("public")
    }

    /// The data folder of instance `i` (each its own, as on separate machines).
    fn data(&self, i: usize) -> std::path::PathBuf {
        self.work.path().join(format!("instance-{i}"))
    }

    /// `atelier` with instance `i`'s data folder.
    fn atelier(&self, i: usize, args: &[&str]) -> String {
        atelier(&self.data(i), &self.url, args)
    }

    /// Starts `atelier checkout` for each port, instance `i` on `ports[i]`.
    fn start(&self, ports: &[u16], env: &[(&str, &str)]) -> Vec<Process> {
        let site = self.site();
        let instances = ports
            .iter()
            .enumerate()
            .map(|(i, port)| {
                let child = Command::new(env!("CARGO_BIN_EXE_atelier"))
                    .current_dir(env!("CARGO_MANIFEST_DIR"))
                    .env("ATELIER_DATA_DIR", self.data(i))
                    .env("DATABASE_URL", &self.url)
                    .envs(env.iter().copied())
                    .args(["checkout", "--port", &port.to_string(), "--site", site.to_str().unwrap()])
                    .args(["--public-url", &format!("http://127.0.0.1:{port}")])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap();
                Process(child)
            })
            .collect();
        for port in ports {
            wait_until_healthy(*port);
        }
        instances
    }
}

#[test]
fn two_processes_on_postgres_sell_the_last_bottles_once() {
    let shop = Shop::new("race");
    let ports = [free_port(), free_port()];
    let _instances = shop.start(&ports, &[("CHECKOUTS_PER_MINUTE", "100000")]);

    let start = Barrier::new(BUYERS);
    let won = std::thread::scope(|s| {
        let buyers: Vec<_> = (0..BUYERS)
            .map(|i| {
                s.spawn({
                    let start = &start;
                    move || buy(ports[i % 2], start)
                })
            })
            .collect();
        buyers.into_iter().map(|b| b.join().unwrap()).filter(|won| *won).count() as i64
    });
    assert_eq!(won, BOTTLES, "exactly as many buyers as bottles");

    let orders = shop.atelier(0, &["order", "list"]);
    assert_eq!(
        orders.lines().filter(|l| l.split_whitespace().nth(1) == Some("paid")).count() as i64,
        BOTTLES,
        "{orders}"
    );
    let stock = shop.atelier(1, &["stock", "list"]);
    let row: Vec<&str> = stock.lines().find(|l| l.starts_with(SKU)).unwrap_or_default().split_whitespace().collect();
    assert_eq!(row.get(1..4), Some(&["0", "0", "0"][..]), "on hand, reserved, available: {stock}");
    let broken =
        psql(&shop.url, "select count(*) from stock where on_hand < 0 or reserved < 0 or reserved > on_hand").unwrap();
    assert_eq!(String::from_utf8_lossy(&broken.stdout).trim(), "0");
}

/// The path and query of a URL (`/orders/ord_…?token=…`).
fn path_of(url: &str) -> &str {
    url.split_once("://").and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..])).unwrap_or(url)
}

/// The `.eml` files the instances' outboxes hold.
fn mails(shop: &Shop, instances: usize) -> Vec<String> {
    (0..instances)
        .flat_map(|i| std::fs::read_dir(shop.data(i).join("outbox")).into_iter().flatten())
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .collect()
}

/// Behind a load balancer, what one instance signs (the order link of the confirmation, a
/// message carried to the cart page) opens on the other, with no key configured and a data
/// folder each; and the shipping e-mail sent by `atelier order ship` from a third machine links
/// to a page that opens.
#[test]
fn what_one_instance_signs_opens_on_another() {
    let shop = Shop::new("links");
    let ports = [free_port(), free_port()];
    let _instances = shop.start(&ports, &[]);

    // A purchase on the first instance.
    let r = request(ports[0], "POST", "/api/cart/items", "application/json", &format!(r#"{{"sku":"{SKU}"}}"#), None);
    assert_eq!(r.status, 200, "{}", r.body);
    let cookie = r.header("set-cookie").and_then(|c| c.split(';').next()).unwrap().to_string();
    let r = request(ports[0], "POST", "/api/checkout", "application/json", ADDRESS, Some(&cookie));
    assert_eq!(r.status, 201, "{}", r.body);
    let started: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let order_url = started["order_url"].as_str().unwrap().to_string();
    let paid = request(
        ports[0],
        "POST",
        path_of(started["payment_url"].as_str().unwrap()),
        "application/x-www-form-urlencoded",
        "action=pay",
        None,
    );
    assert_eq!(paid.status, 303, "{}", paid.body);
    for port in ports {
        let page = request(port, "GET", &order_url, "text/plain", "", None);
        assert_eq!(page.status, 200, "the order link made on {} opens on {port}: {}", ports[0], page.body);
    }

    // A message the first instance carries to the cart page shows on the second.
    let r = request(
        ports[0],
        "POST",
        "/cart/add",
        "application/x-www-form-urlencoded",
        &format!("sku={SKU}&quantity=99"),
        None,
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let location = r.header("location").unwrap().to_string();
    let notice = |port: u16| {
        let page = request(port, "GET", &location, "text/plain", "", None);
        assert_eq!(page.status, 200);
        page.body.contains("At most 12 of one size per order")
    };
    assert!(notice(ports[0]) && notice(ports[1]), "{location} shows its message on both instances");

    // Shipped from a third machine, with a data folder of its own.
    let third = shop.work.path().join("staff-laptop");
    let public = format!("http://127.0.0.1:{}", ports[1]);
    let out = Command::new(env!("CARGO_BIN_EXE_atelier"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("ATELIER_DATA_DIR", &third)
        .env("DATABASE_URL", &shop.url)
        .env("PUBLIC_URL", &public)
        .args(["order", "ship", started["number"].as_str().unwrap(), "--tracking", "6A123456789"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let deadline = Instant::now() + Duration::from_secs(30);
    let mail = loop {
        if let Some(m) = mails(&shop, 2).into_iter().find(|m| m.contains("6A123456789")) {
            break m;
        }
        assert!(Instant::now() < deadline, "the shipping e-mail was sent by an instance");
        std::thread::sleep(Duration::from_millis(100));
    };
    let unfolded = mail.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=");
    let link = unfolded
        .split_whitespace()
        .find(|w| w.starts_with(&format!("{public}/orders/")))
        .unwrap_or_else(|| panic!("a link to the order in: {unfolded}"));
    for port in ports {
        let page = request(port, "GET", path_of(link), "text/plain", "", None);
        assert_eq!(page.status, 200, "the e-mailed link opens on {port}: {link}");
    }
}
