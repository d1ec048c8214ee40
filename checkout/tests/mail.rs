//! E-mail through a real SMTP server on loopback (aiosmtpd): delivered once, retried while the
//! server is down, nothing lost; and once only when two instances share the outbox.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use atelier_checkout::config::MailMode;
use atelier_checkout::notify::Mailer;
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
    start_sink_with(port, dir, &[])
}

/// A sink started with more options (`--tls starttls --cert … --key …`).
fn start_sink_with(port: u16, dir: &Path, options: &[&str]) -> Sink {
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/tools/smtp_sink.py");
    let mut child = Command::new("python3")
        .arg(tool)
        .args(["--port", &port.to_string(), "--dir"])
        .arg(dir)
        .args(options)
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

/// A certificate authority of the test's own and a certificate it signed for 127.0.0.1 (made
/// with the `openssl` command): the CA's PEM, the server's certificate and key.
struct Certificates {
    dir: tempfile::TempDir,
}

impl Certificates {
    fn new() -> Certificates {
        let dir = tempfile::tempdir().unwrap();
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl").current_dir(dir.path()).args(args).output().expect("openssl runs");
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        };
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        openssl(
            &[
                &["req", "-x509"],
                &ec[..],
                &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Atelier test CA"],
            ]
            .concat(),
        );
        openssl(
            &[&["req"], &ec[..], &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]].concat(),
        );
        std::fs::write(
            dir.path().join("server.ext"),
            "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ]);
        Certificates { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// The sink's options for a TLS mode.
    fn sink(&self, mode: &str) -> Vec<String> {
        vec![
            "--tls".into(),
            mode.into(),
            "--cert".into(),
            self.path("server.pem"),
            "--key".into(),
            self.path("server.key"),
        ]
    }
}

/// A paid order, so the outbox holds its confirmation.
async fn paid_order(shop: &TestShop) {
    shop.set_stock("LAV-10", 50).await;
    let cookie = shop.cart_with("LAV-10", 1).await;
    let url = shop.checkout(&cookie).await.json()["payment_url"].as_str().unwrap().to_string();
    shop.form(&url, "action=pay", None).await;
}

/// A paid order whose shopper gave this address.
async fn paid_order_for(shop: &TestShop, email: &str) {
    shop.set_stock("LAV-10", 50).await;
    let cookie = shop.cart_with("LAV-10", 1).await;
    let body = common::ADDRESS.replace("ada@example.com", email);
    let r = shop.json("POST", "/api/checkout", &body, Some(&cookie)).await;
    let url = r.json()["payment_url"].as_str().unwrap().to_string();
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

on_both_engines!(confirmation_reaches_a_real_smtp_server, |engine: Engine| async move {
    let _serial = SERIAL.lock().await;
    let shop = TestShop::new(engine).await;
    paid_order(&shop).await;
    let port = free_port();
    let inbox = tempfile::tempdir().unwrap();
    let _sink = start_sink(port, inbox.path());
    let m = mailer(&shop, MailMode::smtp(format!("smtp://127.0.0.1:{port}")));
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
});

on_both_engines!(nothing_is_lost_while_the_smtp_server_is_down, |engine: Engine| async move {
    let _serial = SERIAL.lock().await;
    let shop = TestShop::new(engine).await;
    paid_order(&shop).await;
    let port = free_port();
    let m = mailer(&shop, MailMode::smtp(format!("smtp://127.0.0.1:{port}")));
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
});

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
    let (a, b) = (mailer(&shop, MailMode::smtp(url.clone())), mailer(&other, MailMode::smtp(url)));
    let (x, y) = tokio::join!(a.deliver_due(), b.deliver_due());
    assert_eq!(x.unwrap() + y.unwrap(), 10);
    let got = messages(inbox.path());
    assert_eq!(got.len(), 10, "ten confirmations, none twice");
}

on_both_engines!(without_smtp_messages_become_eml_files, |engine: Engine| async move {
    let _serial = SERIAL.lock().await;
    let shop = TestShop::new(engine).await;
    paid_order(&shop).await;
    let outbox = shop.dir.path().join("outbox");
    let m = mailer(&shop, MailMode::Outbox(outbox.clone()));
    m.deliver_due().await.unwrap();
    let got = messages(&outbox);
    assert_eq!(got.len(), 1);
    assert!(got[0].contains("Provence Lavender"));
});

// STARTTLS and TLS from the first byte, each to a server whose certificate chains to
// SMTP_CA_FILE; the message arrives once.
on_both_engines!(mail_goes_over_tls_when_asked, |engine: Engine| async move {
    let _serial = SERIAL.lock().await;
    let certs = Certificates::new();
    for (mode, scheme, query) in [("starttls", "smtp", "?tls=required"), ("implicit", "smtps", "")] {
        let shop = TestShop::new(engine).await;
        paid_order(&shop).await;
        let port = free_port();
        let inbox = tempfile::tempdir().unwrap();
        let options = certs.sink(mode);
        let _sink = start_sink_with(port, inbox.path(), &options.iter().map(String::as_str).collect::<Vec<_>>());
        let url = format!("{scheme}://127.0.0.1:{port}{query}");
        let m = mailer(&shop, MailMode::Smtp { url, ca_file: Some(certs.path("ca.pem").into()) });
        assert_eq!(m.deliver_due().await.unwrap(), 1);
        let error: Option<String> =
            sqlx::query_scalar("select last_error from outbox").fetch_one(&shop.state.db.pool).await.unwrap();
        assert_eq!(error, None, "{mode}");
        let got = messages(inbox.path());
        assert_eq!(got.len(), 1, "{mode}");
        assert!(got[0].contains("Subject: Your order AA-"), "{mode}: {}", got[0]);
    }
});

// A certificate nobody vouches for, or a server that cannot do STARTTLS when it is required:
// nothing is sent in the clear or to an impostor, and the message waits in the outbox.
on_both_engines!(mail_is_never_sent_over_an_unverified_or_missing_tls, |engine: Engine| async move {
    let _serial = SERIAL.lock().await;
    let certs = Certificates::new();
    let shop = TestShop::new(engine).await;
    paid_order(&shop).await;
    let inbox = tempfile::tempdir().unwrap();

    let port = free_port();
    let options = certs.sink("starttls");
    let sink = start_sink_with(port, inbox.path(), &options.iter().map(String::as_str).collect::<Vec<_>>());
    let m = mailer(&shop, MailMode::smtp(format!("smtp://127.0.0.1:{port}?tls=required")));
    assert_eq!(m.deliver_due().await.unwrap(), 1);
    let (status, error): (String, String) =
        sqlx::query_as("select status, last_error from outbox").fetch_one(&shop.state.db.pool).await.unwrap();
    assert_eq!(status, "pending", "kept for a retry");
    assert!(error.to_lowercase().contains("certificate"), "{error}");
    drop(sink);

    let port = free_port();
    let _plain = start_sink(port, inbox.path());
    let m = mailer(
        &shop,
        MailMode::Smtp {
            url: format!("smtp://127.0.0.1:{port}?tls=required"),
            ca_file: Some(certs.path("ca.pem").into()),
        },
    );
    assert_eq!(m.deliver_due().await.unwrap(), 1);
    let (status, error): (String, String) =
        sqlx::query_as("select status, last_error from outbox").fetch_one(&shop.state.db.pool).await.unwrap();
    assert_eq!(status, "pending");
    assert!(error.contains("SMTP"), "{error}");
    assert!(messages(inbox.path()).is_empty(), "nothing was sent");
});

#[test]
fn smtp_urls_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}?mode=rwc", dir.path().join("x.sqlite").display());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let db = rt.block_on(atelier_checkout::Db::connect(&db_url)).unwrap();
    let make = |mode: MailMode| {
        let _guard = rt.enter();
        Mailer::new(db.clone(), &mode, "a@example.com", "b@example.com", None).err().map(|e| e.to_string())
    };
    for ok in [
        "smtp://relay",
        "smtp://u:p@relay:2525",
        "smtp://relay?tls=required",
        "smtps://relay",
        "smtp://relay?tls=opportunistic",
    ] {
        assert_eq!(make(MailMode::smtp(ok)), None, "{ok}");
    }
    for (bad, says) in [
        ("http://relay", "expected smtp://"),
        ("smtp://relay?tls=maybe", "unknown option `tls=maybe`"),
        ("smtps://relay?tls=required", "TLS already"),
        ("smtp://relay:port", "the port is not a number"),
        ("smtp://u:hunter2@", "no host"),
    ] {
        let e = make(MailMode::smtp(bad)).unwrap_or_else(|| panic!("{bad} accepted"));
        assert!(e.contains(says) && !e.contains("hunter2"), "{bad}: {e}");
    }
    let missing = MailMode::Smtp { url: "smtps://relay".into(), ca_file: Some(dir.path().join("none.pem")) };
    assert!(make(missing).unwrap().contains("SMTP_CA_FILE"));
}

// An address the server refuses for good (5xx) is not tried again: the message is marked
// failed, and staff are told once, with what to do.
on_both_engines!(a_refused_address_stops_retrying_and_staff_are_told_once, |engine: Engine| async move {
    let _serial = SERIAL.lock().await;
    let shop = TestShop::new(engine).await;
    paid_order_for(&shop, "no-such-mailbox@example.com").await;
    let port = free_port();
    let inbox = tempfile::tempdir().unwrap();
    let _sink = start_sink_with(port, inbox.path(), &["--reject", "no-such-mailbox"]);
    let m = mailer(&shop, MailMode::smtp(format!("smtp://127.0.0.1:{port}")));
    assert_eq!(m.deliver_due().await.unwrap(), 1);
    let (status, error): (String, String) =
        sqlx::query_as("select status, last_error from outbox where kind = 'order_confirmation'")
            .fetch_one(&shop.state.db.pool)
            .await
            .unwrap();
    assert_eq!(status, "failed", "{error}");
    assert!(error.contains("550"), "{error}");
    // The staff's alert goes out; the refused message is not tried again.
    for _ in 0..3 {
        m.deliver_due().await.unwrap();
    }
    let got = messages(inbox.path());
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].contains("To: staff@atelier-arome.example"), "{}", got[0]);
    assert!(got[0].contains("no-such-mailbox@example.com") && got[0].contains("AA-"), "{}", got[0]);
    assert_eq!(shop.count("select attempts from outbox where kind = 'order_confirmation'").await, 1);
    // Once the address is put right, staff send it again.
    let id: String = sqlx::query_scalar("select outbox_id from outbox where kind = 'order_confirmation'")
        .fetch_one(&shop.state.db.pool)
        .await
        .unwrap();
    sqlx::query("update outbox set recipient = 'ada@example.com' where outbox_id = $1")
        .bind(&id)
        .execute(&shop.state.db.pool)
        .await
        .unwrap();
    atelier_checkout::notify::retry(&shop.state.db, &id).await.unwrap();
    assert!(atelier_checkout::notify::retry(&shop.state.db, &id).await.unwrap_err().to_string().contains("not failed"));
    assert_eq!(m.deliver_due().await.unwrap(), 1);
    assert_eq!(messages(inbox.path()).len(), 2, "the staff's alert, then the confirmation");
});

// A message that never gets through (the server stays down) is given up once it has been
// tried for long enough, and staff are told once (their own alert, failing too, alerts nobody).
on_both_engines!(a_message_that_never_gets_through_is_given_up_in_the_end, |engine: Engine| async move {
    let _serial = SERIAL.lock().await;
    let shop = TestShop::new(engine).await;
    paid_order(&shop).await;
    let mut m = mailer(&shop, MailMode::smtp(format!("smtp://127.0.0.1:{}", free_port())));
    for _ in 0..3 {
        m.deliver_due().await.unwrap();
    }
    assert_eq!(shop.count("select count(*) from outbox where status = 'pending'").await, 1, "retried meanwhile");
    // Days later (the messages' age is what counts, not their number of attempts).
    m.give_up_after = 0;
    for _ in 0..12 {
        m.deliver_due().await.unwrap();
    }
    let states: Vec<(String, String, i64)> =
        sqlx::query_as("select kind, status, attempts from outbox order by created_at")
            .fetch_all(&shop.state.db.pool)
            .await
            .unwrap();
    assert_eq!(
        states,
        [("order_confirmation".into(), "failed".into(), 4), ("mail_failed".into(), "failed".into(), 1)],
        "given up, one alert"
    );
});

// A server that refuses the shop itself (bad credentials, the relay's policy) with a 5xx is a
// problem of the server, not of the message: nothing is given up, everything waits for it.
on_both_engines!(a_server_refusing_the_shop_gives_nothing_up, |engine: Engine| async move {
    let _serial = SERIAL.lock().await;
    let shop = TestShop::new(engine).await;
    paid_order(&shop).await;
    let port = free_port();
    let inbox = tempfile::tempdir().unwrap();
    let _sink = start_sink_with(port, inbox.path(), &["--reject", "ada@example.com", "--reject-code", "554"]);
    let m = mailer(&shop, MailMode::smtp(format!("smtp://127.0.0.1:{port}")));
    m.deliver_due().await.unwrap();
    let (status, error): (String, String) =
        sqlx::query_as("select status, last_error from outbox").fetch_one(&shop.state.db.pool).await.unwrap();
    assert_eq!(status, "pending", "{error}");
    assert!(error.contains("554"), "{error}");
    assert_eq!(shop.count("select count(*) from outbox where kind = 'mail_failed'").await, 0);
});
