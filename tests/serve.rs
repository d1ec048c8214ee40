//! `atelier serve` end to end: a real server on loopback, a real WebSocket client, a real edit.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server(Child);

/// `atelier serve` on a site, on a free port, once it answers; stopped when dropped.
fn serve(root: &Path) -> (Server, u16) {
    let port = free_port();
    let server = Server(
        Command::new(env!("CARGO_BIN_EXE_atelier"))
            .args(["--root", root.to_str().unwrap(), "serve", "--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until_up(port);
    (server, port)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn get(port: u16, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, out)
}

fn wait_until_up(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Opens a WebSocket and returns the stream after the handshake.
fn websocket(port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET /__atelier/livereload HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 101"), "{line}");
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
    }
    s
}

/// Reads one unmasked text frame from the server.
fn read_frame(s: &mut TcpStream) -> String {
    let mut head = [0u8; 2];
    s.read_exact(&mut head).unwrap();
    let mut len = (head[1] & 0x7f) as usize;
    if len == 126 {
        let mut b = [0u8; 2];
        s.read_exact(&mut b).unwrap();
        len = u16::from_be_bytes(b) as usize;
    } else if len == 127 {
        let mut b = [0u8; 8];
        s.read_exact(&mut b).unwrap();
        len = u64::from_be_bytes(b) as usize;
    }
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    String::from_utf8(body).unwrap()
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

#[test]
fn serves_rebuilds_and_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "config.toml", "base_url = \"https://x.example\"\n");
    write(root, "templates/index.html", "<html><body>home</body></html>");
    write(root, "templates/page.html", "<html><body><h1>{{ page.title }}</h1>{{ page.content | safe }}<a href=\"{{ page.permalink | safe }}\">self</a></body></html>");
    write(root, "content/hello.md", "+++\ntitle = \"Hello\"\n+++\nFirst words.\n");
    write(root, "static/style.css", "body{}");
    let (_server, port) = serve(root);

    let (status, body) = get(port, "/hello/");
    assert_eq!(status, 200);
    assert!(body.contains("First words.") && body.contains("/__atelier/livereload.js"), "{body}");
    assert!(
        body.contains(&format!("href=\"http://127.0.0.1:{port}/hello/\"")),
        "base_url is the served address: {body}"
    );
    assert_eq!(get(port, "/hello").0, 301);
    assert!(get(port, "/style.css").1.contains("text/css"));
    assert_eq!(get(port, "/missing/").0, 404);
    assert_eq!(get(port, "/../../etc/passwd").0, 404);

    let mut ws = websocket(port);
    ws.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write(root, "content/hello.md", "+++\ntitle = \"Hello\"\n+++\nSecond words.\n");
    let msg = read_frame(&mut ws);
    assert!(msg.contains("\"reload\"") && msg.contains("hello/index.html"), "{msg}");
    assert!(get(port, "/hello/").1.contains("Second words."));

    write(root, "content/hello.md", "+++\ntitle = = \n+++\n");
    let msg = read_frame(&mut ws);
    assert!(msg.contains("\"error\"") && msg.contains("content/hello.md:2"), "{msg}");
    assert!(get(port, "/hello/").1.contains("Second words."), "the last good build stays up");

    write(root, "content/hello.md", "+++\ntitle = \"Hello\"\n+++\nThird words.\n");
    let msg = read_frame(&mut ws);
    assert!(msg.contains("\"reload\""), "{msg}");
    assert!(get(port, "/hello/").1.contains("Third words."));
}

/// The elasticlunr index is rebuilt beside the edits (it takes seconds on a large site): it
/// follows every edit, and an older build of it never overwrites a newer one.
#[test]
fn the_search_index_follows_edits() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "config.toml", "base_url = \"https://x.example\"\nbuild_search_index = true\n");
    write(root, "templates/index.html", "<html><body>home</body></html>");
    write(root, "templates/page.html", "<html><body>{{ page.content | safe }}</body></html>");
    write(root, "content/hello.md", "+++\ntitle = \"Hello\"\n+++\nFirst marjoram.\n");
    let (_server, port) = serve(root);
    assert!(get(port, "/search_index.en.js").1.contains("marjoram"));
    let mut ws = websocket(port);
    ws.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    for word in ["bergamot", "vetiver", "yarrow"] {
        write(root, "content/hello.md", &format!("+++\ntitle = \"Hello\"\n+++\nNow {word}.\n"));
        assert!(read_frame(&mut ws).contains("\"reload\""));
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let index = get(port, "/search_index.en.js").1;
        if index.contains("yarrow") {
            assert!(!index.contains("vetiver") && !index.contains("marjoram"), "{index}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the index never caught up: {index}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // And it stays the newest.
    std::thread::sleep(Duration::from_millis(500));
    assert!(get(port, "/search_index.en.js").1.contains("yarrow"));
}

/// Zola's `serve` flags: `--base-url` (with the port, or as given with `--no-port-append`),
/// `--extra-watch-path` (a change there rebuilds the site), `-d`, and `-f`/`--store-html`
/// accepted.
#[test]
fn zolas_serve_flags() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "config.toml", "base_url = \"https://x.example\"\n");
    write(root, "templates/index.html", "<html><body>{{ load_data(path=\"notes/motd.txt\") }}</body></html>");
    write(root, "templates/page.html", "<html><body><a href=\"{{ page.permalink | safe }}\">self</a></body></html>");
    write(root, "content/hello.md", "+++\ntitle = \"Hello\"\n+++\nWords.\n");
    write(root, "notes/motd.txt", "first message");
    let serve = |port: u16, extra: &[&str]| {
        Server(
            Command::new(env!("CARGO_BIN_EXE_atelier"))
                .args(["--root", root.to_str().unwrap(), "serve", "--port", &port.to_string(), "-f", "--store-html"])
                .args(extra)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    };

    let port = free_port();
    let server = serve(port, &["--base-url", "192.168.1.20", "--extra-watch-path", "notes", "-d", "50"]);
    wait_until_up(port);
    let (_, body) = get(port, "/hello/");
    assert!(body.contains(&format!("href=\"http://192.168.1.20:{port}/hello/\"")), "{body}");
    assert!(get(port, "/").1.contains("first message"));
    let mut ws = websocket(port);
    ws.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write(root, "notes/motd.txt", "second message");
    let msg = read_frame(&mut ws);
    assert!(msg.contains("\"reload\""), "{msg}");
    assert!(get(port, "/").1.contains("second message"), "a change in an extra watched path rebuilds");
    drop(server);

    let port = free_port();
    let _server = serve(port, &["-u", "https://shop.example/", "--no-port-append"]);
    wait_until_up(port);
    let (_, body) = get(port, "/hello/");
    assert!(body.contains("href=\"https://shop.example/hello/\""), "{body}");
}
