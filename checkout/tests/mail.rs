//! E-mail through a real SMTP server on loopback (aiosmtpd): delivered once, retried while the
//! server is down, nothing lost; and once only when two instances share the outbox.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use atelier_checkout::config::MailMode;
use atelier_checkout::mail::Mailer;
use common::{Engine, TestShop};

/// The tests here start SMTP servers on ports picked at run time; one at a time, so that no
/// other test's connections take a picked port before its server binds it.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The sink's process, and its stdout kept open (closing it would break the sink's pipe).
struct Sink(Child, #[allow(dead_code)] std::process::ChildStdout);

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start_sink(port: u16, dir: &Path) -> Sink {
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/tools/smtp_sink.py");
    let mut child = Command::new("python3")
        .arg(tool)
        .args(["--port", &port.to_string(), "--dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 runs the SMTP sink (pip install -r tests/tools/requirements.txt)");
    let mut out = child.stdout.take().unwrap();
    let mut buf = [0u8; 5];
    use std::io::Read;
    out.read_exact(&mut buf).expect("the sink says ready");
    assert_eq!(&buf, b"ready");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "the SMTP sink does not accept connections on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
    Sink(child, out)
}

fn messages(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .map(|e| std::fs::read_to_string(e.path()).unwrap())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// A paid order, so the outbox holds its confirmation.
async fn paid_order(shop: &TestShop) {
    shop.set_stock("LAV-10", 50).await;
    let cookie = shop.cart_with("LAV-10", 1).await;
    let url = shop.checkout(&cookie).await.json()["payment_url"].as_str().unwrap().to_string();
    shop.form(&url, "action=pay", None).await;
}

fn mailer(shop: &TestShop, mode: MailMode) -> Mailer {
    let mut m = Mailer::new(
        shop.state.db.clone(),
        &mode,
        "Atelier Arôme <atelier@atelier-arome.example>",
        "staff@atelier-arome.example",
        None,
    )
    .unwrap();
    m.retry_base = 0;
    m
}

#[tokio::test]
async fn confirmation_reaches_a_real_smtp_server() {
    let _serial = SERIAL.lock().await;
    let shop = TestShop::new(Engine::Sqlite).await;
    paid_order(&shop).await;
    let port = free_port();
    let inbox = tempfile::tempdir().unwrap();
    let _sink = start_sink(port, inbox.path());
    let m = mailer(&shop, MailMode::Smtp(format!("smtp://127.0.0.1:{port}")));
    assert_eq!(m.deliver_due().await.unwrap(), 1);
    let error: Option<String> =
        sqlx::query_scalar("select last_error from outbox").fetch_one(&shop.state.db.pool).await.unwrap();
    assert_eq!(error, None);
    let got = messages(inbox.path());
    assert_eq!(got.len(), 1);
    assert!(got[0].contains("Subject: Your order AA-") && got[0].contains("To: ada@example.com"), "{}", got[0]);
    assert!(got[0].contains("text/html") && got[0].contains("text/plain"));
    let outbox_id: String =
        sqlx::query_scalar("select outbox_id from outbox").fetch_one(&shop.state.db.pool).await.unwrap();
    assert!(got[0].contains(&format!("Message-ID: <{outbox_id}@")), "a retry would carry the same id: {}", got[0]);
    assert_eq!(m.deliver_due().await.unwrap(), 0, "sent once");
    assert_eq!(shop.count("select count(*) from outbox where status = 'sent'").await, 1);
}

#[tokio::test]
async fn nothing_is_lost_while_the_smtp_server_is_down() {
    let _serial = SERIAL.lock().await;
    let shop = TestShop::new(Engine::Sqlite).await;
    paid_order(&shop).await;
    let port = free_port();
    let m = mailer(&shop, MailMode::Smtp(format!("smtp://127.0.0.1:{port}")));
    assert_eq!(m.deliver_due().await.unwrap(), 1);
    assert_eq!(m.deliver_due().await.unwrap(), 1, "retried");
    let (status, attempts, error): (String, i64, String) =
        sqlx::query_as("select status, attempts, last_error from outbox").fetch_one(&shop.state.db.pool).await.unwrap();
    assert_eq!((status.as_str(), attempts), ("pending", 2));
    assert!(error.contains("SMTP"), "{error}");
    let inbox = tempfile::tempdir().unwrap();
    let _sink = start_sink(port, inbox.path());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(m.deliver_due().await.unwrap(), 1);
    assert_eq!(messages(inbox.path()).len(), 1, "delivered once it is back");
    assert_eq!(shop.count("select count(*) from outbox where status = 'sent'").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_send_each_message_once() {
    let _serial = SERIAL.lock().await;
    let shop = TestShop::new(Engine::Postgres).await;
    for _ in 0..10 {
        paid_order(&shop).await;
    }
    let other = shop.second_instance().await;
    let port = free_port();
    let inbox = tempfile::tempdir().unwrap();
    let _sink = start_sink(port, inbox.path());
    let url = format!("smtp://127.0.0.1:{port}");
    let (a, b) = (mailer(&shop, MailMode::Smtp(url.clone())), mailer(&other, MailMode::Smtp(url)));
    let (x, y) = tokio::join!(a.deliver_due(), b.deliver_due());
    assert_eq!(x.unwrap() + y.unwrap(), 10);
    let got = messages(inbox.path());
    assert_eq!(got.len(), 10, "ten confirmations, none twice");
}

#[tokio::test]
async fn without_smtp_messages_become_eml_files() {
    let _serial = SERIAL.lock().await;
    let shop = TestShop::new(Engine::Sqlite).await;
    paid_order(&shop).await;
    let outbox = shop.dir.path().join("outbox");
    let m = mailer(&shop, MailMode::Outbox(outbox.clone()));
    m.deliver_due().await.unwrap();
    let got = messages(&outbox);
    assert_eq!(got.len(), 1);
    assert!(got[0].contains("Provence Lavender"));
}
