//! The `atelier` program: exit codes, summaries and error messages a person can act on.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn atelier(args: &[&str], root: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_atelier")).arg("--root").arg(root).args(args).output().expect("runs atelier")
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn site(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (p, t) in files {
        let path = dir.path().join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, t).unwrap();
    }
    dir
}

#[test]
fn builds_the_shop_and_summarises() {
    let out = tempfile::tempdir().unwrap();
    let dist = out.path().join("dist");
    let o = atelier(
        &["build", "--output-dir", dist.to_str().unwrap(), "--base-url", "https://atelier-arome.example"],
        &repo(),
    );
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}{stderr}");
    assert!(stdout.starts_with("Built "), "{stdout}");
    assert!(stdout.contains(" pages, ") && stdout.contains(" sections, 3 taxonomies"), "{stdout}");
    let catalog: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dist.join("catalog.json")).unwrap()).unwrap();
    assert!(catalog["essences"].as_array().unwrap().len() >= 12);
    let lavender = std::fs::read_to_string(dist.join("compendium/provence-lavender/index.html")).unwrap();
    assert!(lavender.contains("https://atelier-arome.example/compendium/provence-lavender/"));
    // An essence page says how it travels and comes back, linking the Terms.
    assert!(lavender.contains("Delivery and returns"), "{lavender}");
    assert!(lavender.contains(r#"href="https://atelier-arome.example/legal/terms/#delivery""#), "{lavender}");
    // The Terms link the EU model withdrawal form they mention, which is a page of its own.
    let terms = std::fs::read_to_string(dist.join("legal/terms/index.html")).unwrap();
    assert!(terms.contains(r#"href="https://atelier-arome.example/legal/withdrawal-form/""#), "{terms}");
    let form = std::fs::read_to_string(dist.join("legal/withdrawal-form/index.html")).unwrap();
    assert!(form.contains("hereby give notice that I/We") && form.contains("12 rue des Tanneurs"), "{form}");
    // The service's pages (cart, checkout, account) each have their own address, not the shell's
    // (which was /cart/, a 404): no canonical link, no og:url.
    let shell = std::fs::read_to_string(dist.join("_service/shell.html")).unwrap();
    assert!(!shell.contains("rel=\"canonical\"") && !shell.contains("og:url"), "{shell}");

    // A second build into the same folder writes nothing.
    let o = atelier(
        &["build", "--output-dir", dist.to_str().unwrap(), "--base-url", "https://atelier-arome.example"],
        &repo(),
    );
    let (stdout, _) = text(&o);
    assert!(stdout.contains(" 0 written, 0 removed"), "{stdout}");
}

#[test]
fn refuses_a_foreign_output_folder_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("dist");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("precious.txt"), "keep me").unwrap();
    let o = atelier(&["build", "--output-dir", out.to_str().unwrap()], &repo());
    assert!(!o.status.success());
    assert!(text(&o).1.contains("pass --force"), "{}", text(&o).1);
    assert!(out.join("precious.txt").exists());
    // Forced, it builds, and still removes nothing it did not write.
    let o = atelier(&["build", "--force", "--output-dir", out.to_str().unwrap()], &repo());
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(out.join("precious.txt").exists(), "a file the engine did not write was removed");
}

#[test]
fn the_output_holds_only_the_site_and_stale_files_of_ours_go() {
    let dir = site(&[
        ("config.toml", "base_url = \"https://x.example\"\n"),
        ("templates/index.html", "home"),
        ("templates/page.html", "{{ page.title }}"),
        ("content/a.md", "+++\ntitle = \"A\"\n+++\n"),
        ("content/b.md", "+++\ntitle = \"B\"\n+++\n"),
    ]);
    let o = atelier(&["build"], dir.path());
    assert!(o.status.success(), "{:?}", text(&o));
    let public = dir.path().join("public");
    let hidden: Vec<_> = std::fs::read_dir(&public)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "the CDN would publish {hidden:?}");
    assert!(dir.path().join(".public.atelier-files").is_file(), "the engine's list is kept beside the folder");
    // A page taken away takes its file with it; a file someone put there stays.
    std::fs::remove_file(dir.path().join("content/b.md")).unwrap();
    std::fs::write(public.join("google1234.html"), "verification").unwrap();
    let o = atelier(&["build"], dir.path());
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(!public.join("b/index.html").exists());
    assert!(public.join("a/index.html").exists());
    assert!(public.join("google1234.html").exists());
}

#[test]
fn errors_exit_non_zero_with_file_and_line() {
    let dir = site(&[
        ("config.toml", "base_url = \"https://x.example\"\n"),
        ("templates/page.html", "{{ page.title }}"),
        ("templates/index.html", "home"),
        ("content/broken.md", "+++\ntitle = \"Broken\"\ndate = \"soon\"\n+++\n"),
    ]);
    for cmd in ["build", "check"] {
        let o = atelier(&[cmd], dir.path());
        assert_eq!(o.status.code(), Some(1), "{cmd}");
        let (_, stderr) = text(&o);
        assert!(
            stderr.contains("content/broken.md:3:1: front matter: in `date`: `soon` is not a date"),
            "{cmd}: {stderr}"
        );
    }
    let o = atelier(&["build"], &dir.path().join("nowhere"));
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("no configuration file"));
}

#[test]
fn check_passes_on_the_shop_without_writing() {
    // The shop links out to the world, which this machine cannot reach.
    let o = atelier(&["check", "--skip-external-links"], &repo());
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("no problems") && stdout.contains("external links not checked"), "{stdout}");
}

/// A loopback HTTP server answering its first 32 requests with `answer(request line)`:
/// a status line and a JSON body.
fn http_server(answer: fn(&str) -> (&'static str, &'static str)) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(32) {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 1024];
            let n = s.read(&mut buf).unwrap_or(0);
            let (status, body) = answer(&String::from_utf8_lossy(&buf[..n]));
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// 200 on /ok and 404 elsewhere, for `check --external`.
fn tiny_http_server() -> u16 {
    http_server(|req| if req.starts_with("GET /ok ") { ("200 OK", "") } else { ("404 Not Found", "") })
}

#[test]
fn check_tests_external_links_unless_told_to_skip_them() {
    let port = tiny_http_server();
    let dir = site(&[
        ("config.toml", "base_url = \"https://x.example\"\n"),
        ("templates/page.html", "{{ page.content | safe }}"),
        ("templates/index.html", "home"),
        ("content/links.md", &format!("+++\ntitle = \"Links\"\n+++\n[fine](http://127.0.0.1:{port}/ok)\n\n[gone](http://127.0.0.1:{port}/gone)\n")),
    ]);
    // Checked by default, as `zola check` does; `--external` only sets how long to wait.
    for args in [&["check"][..], &["check", "--external", "5"]] {
        let o = atelier(args, dir.path());
        let (stdout, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {stdout}{stderr}");
        assert!(
            stderr.contains(&format!(
                "content/links.md:6:1: external link http://127.0.0.1:{port}/gone: answered HTTP 404"
            )),
            "{stderr}"
        );
        assert!(!stderr.contains("/ok"), "{stderr}");
    }
    let o = atelier(&["check", "--skip-external-links"], dir.path());
    assert!(o.status.success(), "{}", text(&o).1);
}

#[test]
fn order_commands_list_and_name_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_atelier"))
            .arg("--root")
            .arg(dir.path())
            .args(args)
            .env("ATELIER_DATA_DIR", dir.path().join("data"))
            .env_remove("DATABASE_URL")
            .env_remove("STRIPE_SECRET_KEY")
            .output()
            .expect("runs atelier")
    };
    let listed = run(&["order", "list"]);
    let (out, err) = text(&listed);
    assert!(listed.status.success(), "{err}");
    assert!(out.starts_with("number") && out.lines().count() == 1, "a header and no orders: {out}");
    let bad = run(&["order", "list", "--status", "lost"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(text(&bad).1.contains("`lost` is not an order state"), "{}", text(&bad).1);
    let missing = run(&["order", "ship", "AA-1999-000001", "--tracking", "6A1"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing).1.contains("no order AA-1999-000001"), "{}", text(&missing).1);
}

#[test]
fn staff_commands_add_the_first_owner_and_keep_one() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_atelier"))
            .arg("--root")
            .arg(dir.path())
            .args(args)
            .env("ATELIER_DATA_DIR", dir.path().join("data"))
            .env("USER", "ada")
            .env_remove("DATABASE_URL")
            .env_remove("STRIPE_SECRET_KEY")
            .output()
            .expect("runs atelier");
        let (out, err) = text(&o);
        (o.status.code(), out, err)
    };
    let (code, out, err) = run(&["staff", "add", "--role", "owner", "--name", "Ada", "Owner@Example.com"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("owner@example.com added as owner; an invitation"), "{out}");
    let (code, _, err) = run(&["staff", "add", "--role", "owner", "owner@example.com"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("on the staff already"), "{err}");
    let (code, _, err) = run(&["staff", "add", "--role", "captain", "--name", "B", "b@example.com"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("there is no role \"captain\""), "{err}");
    let (code, _, err) = run(&["staff", "add", "--role", "support", "c@example.com"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("give the new staff member's name"), "{err}");
    let (_, out, _) = run(&["staff", "list"]);
    assert!(out.contains("owner@example.com") && out.contains("(invited)") && out.contains("off"), "{out}");
    let (code, _, err) = run(&["staff", "role", "owner@example.com", "manager"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("last owner"), "{err}");
    let (code, _, err) = run(&["staff", "remove", "nobody@example.com"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("nobody@example.com is not on the staff"), "{err}");
    // The invitation went out through the outbox (a file, on the embedded defaults).
    let sent: Vec<_> =
        all_files(&dir.path().join("data")).into_iter().filter(|p| p.to_string_lossy().contains("outbox")).collect();
    assert!(
        sent.iter().any(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains("JOIN THE ATELIER'S STAFF"))),
        "{sent:?}"
    );
}

fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(all_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn mail_retry_names_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_atelier"))
        .env("ATELIER_DATA_DIR", dir.path())
        .env_remove("DATABASE_URL")
        .args(["mail", "retry", "obx_nope"])
        .output()
        .unwrap();
    let (_, err) = text(&out);
    assert!(!out.status.success());
    assert!(err.contains("no message obx_nope in the outbox"), "{err}");
}

/// `atelier stock list | head -1`: the reader leaves early and the program ends quietly, as
/// other Unix tools do, not with a panic.
#[test]
fn a_reader_leaving_early_ends_the_output_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_atelier"))
        .arg("--root")
        .arg(dir.path())
        .args(["stock", "list"])
        .env("ATELIER_DATA_DIR", dir.path().join("data"))
        .env_remove("DATABASE_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs atelier");
    // Close the reading end before anything is written: the first line finds no reader.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.status.success(), "{:?}: {err}", out.status);
}

/// `/api/stock` answered with a stock export, `/elsewhere` with JSON that is not one, anything
/// else with 503.
fn stock_server() -> u16 {
    http_server(|req| {
        if req.starts_with("GET /api/stock ") {
            ("200 OK", r#"{"items":{"LAV-30":{"available":3,"status":"low_stock"}}}"#)
        } else if req.starts_with("GET /elsewhere ") {
            ("200 OK", r#"{"orders":[]}"#)
        } else {
            ("503 Service Unavailable", "")
        }
    })
}

#[test]
fn a_production_build_fetches_the_stock_and_never_shows_a_stale_one() {
    let dir = site(&[
        ("config.toml", "base_url = \"https://x.example\"\n"),
        (
            "templates/index.html",
            r#"<p>{{ load_data(path="data/stock.json", required=false) | json_encode() | safe }}</p>"#,
        ),
    ]);
    let root = dir.path();
    let port = stock_server();
    let shown = || std::fs::read_to_string(root.join("public/index.html")).unwrap();

    let good = format!("http://127.0.0.1:{port}/api/stock");
    let o = atelier(&["build", "--stock-from", &good], root);
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(text(&o).0.contains("Stock of 1 sizes fetched"), "{:?}", text(&o));
    assert!(shown().contains(r#""LAV-30":{"available":3,"status":"low_stock"}"#), "{}", shown());

    // The service is down: a copy of the last quarter of an hour stands in, with a warning.
    let down = format!("http://127.0.0.1:{port}/down");
    let o = atelier(&["build", "--stock-from", &down], root);
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(text(&o).1.contains("the pages show the copy fetched 0 min ago"), "{:?}", text(&o));
    assert!(shown().contains("LAV-30"));

    // An older copy is set aside: no availability rather than a stale "in stock".
    let file = std::fs::File::options().write(true).open(root.join("data/stock.json")).unwrap();
    file.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3600)).unwrap();
    let o = atelier(&["build", "--stock-from", &down], root);
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(text(&o).1.contains("the pages claim no availability"), "{:?}", text(&o));
    assert!(shown().contains("<p>null</p>"), "{}", shown());
    assert!(!root.join("data/stock.json").exists() && root.join("data/stock.json.stale").exists());

    // Not the service's export, or nothing listening: said, and treated as no answer.
    let elsewhere = format!("http://127.0.0.1:{port}/elsewhere");
    let o = atelier(&["build", "--stock-from", &elsewhere], root);
    assert!(o.status.success());
    assert!(text(&o).1.contains("the answer has no `items`"), "{:?}", text(&o));
    let o = atelier(&["build", "--stock-from", "http://127.0.0.1:1/api/stock"], root);
    assert!(o.status.success());
    assert!(text(&o).1.contains("warning: no stock from http://127.0.0.1:1/api/stock"), "{:?}", text(&o));
}

#[test]
fn a_production_build_fetches_the_approved_testimonials() {
    let dir = site(&[
        ("config.toml", "base_url = \"https://x.example\"\n"),
        (
            "templates/index.html",
            r#"{% for t in load_data(path="data/testimonials.json", required=false) %}<q>{{ t.quote }}</q> {{ t.author }}{% endfor %}"#,
        ),
    ]);
    let root = dir.path();
    let port = http_server(|req| {
        if req.starts_with("GET /api/testimonials ") {
            ("200 OK", r#"[{"quote":"Like a walk at dusk.","author":"Mme Roux","place":"Grasse","featured":true}]"#)
        } else if req.starts_with("GET /elsewhere ") {
            ("200 OK", r#"{"items":{}}"#)
        } else {
            ("503 Service Unavailable", "")
        }
    });
    let shown = || std::fs::read_to_string(root.join("public/index.html")).unwrap();
    let o = atelier(&["build", "--testimonials-from", &format!("http://127.0.0.1:{port}/api/testimonials")], root);
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(text(&o).0.contains("1 testimonials fetched"), "{:?}", text(&o));
    assert_eq!(shown(), "<q>Like a walk at dusk.</q> Mme Roux");
    // Down, or not the service's answer: said, and the file kept as it was.
    for path in ["down", "elsewhere"] {
        let o = atelier(&["build", "--testimonials-from", &format!("http://127.0.0.1:{port}/{path}")], root);
        assert!(o.status.success(), "{:?}", text(&o));
        assert!(text(&o).1.contains("data/testimonials.json is left as it is"), "{:?}", text(&o));
        assert_eq!(shown(), "<q>Like a walk at dusk.</q> Mme Roux");
    }
}

/// Zola 0.22 reads `zola.toml` before `config.toml`, and hashes as `get_hash` and cachebusting
/// write them; the expected line is what Zola 0.22.1 itself built from these files.
#[test]
fn zola_toml_get_hash_and_cachebust_as_zola_writes_them() {
    let index = r#"{{ config.title }}|{{ get_hash(literal="Hello World", sha_type=256) }}|{{ get_hash(literal="Hello World") }}|{{ get_hash(literal="Hello World", sha_type=512, base64=false) }}|{{ get_url(path="a.css", cachebust=true) }}"#;
    let dir = site(&[
        ("config.toml", "base_url = \"https://x.example\"\ntitle = \"from config\"\n"),
        ("zola.toml", "base_url = \"https://x.example\"\ntitle = \"from zola\"\n"),
        ("templates/index.html", index),
        ("static/a.css", "body{}\n"),
    ]);
    let o = atelier(&["build"], dir.path());
    assert!(o.status.success(), "{:?}", text(&o));
    let zola = "from zola|pZGm1Av0IEBKARczz7exkNYsZb8LzaMrV7J32a2fFG4=|mVFDKRhrL2rkoTKefubGEKcpY2M1F0rGt0D5AoOW&#x2F;MgD0Ok4Y6fD2Q+Gvu54L08&#x2F;|2c74fd17edafd80e8447b0d46741ee243b7eb74dd2149a0ab1b9246fb30382f27e853d8585719e0e67cbda0daa8f51671064615d645ae27acb15bfb1447f459b|https://x.example/a.css?h=2708d73bf31c36cdfa1a";
    assert_eq!(std::fs::read_to_string(dir.path().join("public/index.html")).unwrap().trim(), zola);
    // Asked wrongly: said so, with the file.
    std::fs::write(dir.path().join("templates/index.html"), r#"{{ get_hash(literal="x", sha_type=1) }}"#).unwrap();
    let o = atelier(&["build"], dir.path());
    assert!(!o.status.success());
    assert!(text(&o).1.contains("`sha_type` must be 256, 384 or 512"), "{:?}", text(&o));
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
    out
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

/// The shop's sources in a temporary folder, with Clary Sage made a page bundle holding a
/// photograph (1,000 × 750, not square: the cut is the engine's).
fn shop_with_a_photograph() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for d in ["content", "themes"] {
        std::fs::create_dir_all(dir.path().join(d)).unwrap();
        copy_tree(&repo().join(d), &dir.path().join(d));
    }
    std::fs::copy(repo().join("config.toml"), dir.path().join("config.toml")).unwrap();
    let bundle = dir.path().join("content/compendium/clary-sage");
    std::fs::create_dir_all(&bundle).unwrap();
    std::fs::rename(dir.path().join("content/compendium/clary-sage.md"), bundle.join("index.md")).unwrap();
    // A bundle's page is `…/index.md` to internal links, as in Zola.
    for entry in walk(&dir.path().join("content")) {
        let text = std::fs::read_to_string(&entry).unwrap();
        if text.contains("@/compendium/clary-sage.md") {
            std::fs::write(&entry, text.replace("@/compendium/clary-sage.md", "@/compendium/clary-sage/index.md"))
                .unwrap();
        }
    }
    let photo = image::RgbImage::from_fn(1000, 750, |x, y| image::Rgb([(x / 4) as u8, (y / 3) as u8, 120]));
    photo.save(bundle.join("photo.jpg")).unwrap();
    dir
}

#[test]
fn an_essence_with_a_photograph_shows_it_in_avif_webp_and_jpeg_sized_not_to_shift() {
    let site = shop_with_a_photograph();
    let dist = site.path().join("dist");
    let o = atelier(&["build", "--output-dir", dist.to_str().unwrap(), "--base-url", "https://a.example"], site.path());
    assert!(o.status.success(), "{:?}", text(&o));
    let page = std::fs::read_to_string(dist.join("compendium/clary-sage/index.html")).unwrap();
    let picture = &page[page.find("<picture>").expect("a <picture> on the essence page")..];
    let picture = &picture[..picture.find("</picture>").unwrap()];
    assert!(picture.contains(r#"<source type="image/avif" srcset=""#), "{picture}");
    assert!(picture.contains(r#"<source type="image/webp" srcset=""#), "{picture}");
    assert!(picture.contains(r#"width="160" height="160""#), "{picture}");
    assert!(picture.contains(r#"alt="Photograph of Provençal Clary Sage""#), "{picture}");
    assert!(picture.contains(r#"sizes="(min-width: 40rem) 160px, 128px""#), "{picture}");
    assert!(!page.contains("Botanical drawing of"), "the photograph stands in for the drawing");
    // Every candidate is a file of the width it claims, cut square.
    let mut seen = 0;
    for candidate in picture.split("srcset=\"").skip(1).flat_map(|s| s[..s.find('"').unwrap()].split(", ")) {
        let (url, w) = candidate.split_once(' ').unwrap();
        let width: u32 = w.trim_end_matches('w').parse().unwrap();
        let file = dist.join(url.trim_start_matches("https://a.example/"));
        let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{url}: {e}"));
        if url.ends_with(".jpg") {
            let img = image::load_from_memory(&bytes).unwrap();
            assert_eq!((img.width(), img.height()), (width, width), "{url}");
        } else {
            assert!(bytes.len() > 100, "{url}");
        }
        seen += 1;
    }
    assert_eq!(seen, 9, "three formats at 1×, 2× and 3×");
    // Its card in the Compendium and in its terms shows it too; other essences keep their drawings.
    let compendium: String = ["compendium/index.html", "compendium/page/2/index.html", "compendium/page/3/index.html"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(dist.join(f)).ok())
        .collect();
    assert!(compendium.contains(r#"class="card__art card__art--photo""#), "a card shows the photograph");
    assert_eq!(compendium.matches("<picture>").count(), 1);
    assert!(compendium.contains("img/essences/"), "the others keep their drawings");
    // Search engines are shown the photograph.
    assert!(page.contains(r#""image": "https://a.example/processed_images/photo."#), "{page}");
}

/// What `load_data(url=…)` is answered on loopback: JSON, a POST that must carry its body,
/// content type and header, and a 404.
fn data_server() -> u16 {
    http_server(|req| {
        if req.starts_with("GET /essence.json ") {
            ("200 OK", r#"{"name": "Lavender", "notes": ["floral"]}"#)
        } else if req.starts_with("POST /render ") {
            let lower = req.to_ascii_lowercase();
            if lower.contains("content-type: text/plain") && lower.contains("x-token: abc") && req.ends_with("hello") {
                ("200 OK", "rendered")
            } else {
                ("400 Bad Request", "")
            }
        } else {
            ("404 Not Found", "")
        }
    })
}

#[test]
fn load_data_from_a_url_as_zola_does() {
    let port = data_server();
    let base = format!("http://127.0.0.1:{port}");
    let index = format!(
        "{{% set e = load_data(url=\"{base}/essence.json\", format=\"json\") %}}{{{{ e.name }}}} {{{{ e.notes.0 }}}}\n\
         {{{{ load_data(url=\"{base}/render\", method=\"POST\", body=\"hello\", content_type=\"text/plain\", headers=[\"x-token=abc\"]) }}}}\n\
         {{% set m = load_data(url=\"{base}/gone\", required=false) %}}{{% if m %}}found{{% else %}}nothing{{% endif %}}"
    );
    let dir = site(&[("config.toml", "base_url = \"https://x.example\"\n"), ("templates/index.html", &index)]);
    let o = atelier(&["build"], dir.path());
    assert!(o.status.success(), "{}", text(&o).1);
    let html = std::fs::read_to_string(dir.path().join("public/index.html")).unwrap();
    assert_eq!(html.lines().collect::<Vec<_>>(), ["Lavender floral", "rendered", "nothing"], "{html}");

    let dir = site(&[
        ("config.toml", "base_url = \"https://x.example\"\n"),
        ("templates/index.html", &format!("{{{{ load_data(url=\"{base}/gone\") }}}}")),
    ]);
    let o = atelier(&["build"], dir.path());
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains(&format!("`load_data`: {base}/gone: answered HTTP 404")), "{}", text(&o).1);
}
