//! A plain Zola site builds into the pages, paths and template variables Zola gives it.

mod common;

use common::{field, TestSite};

#[test]
fn builds_the_page_set_zola_builds() {
    let site = TestSite::fixture("zola");
    site.build();
    let expected = [
        "404.html",
        "about/index.html",
        "atom.xml",
        "authors/ann/index.html",
        "authors/index.html",
        "blog/atom.xml",
        "blog/first/index.html",
        "blog/index.html",
        "blog/page/1/index.html",
        "blog/page/2/index.html",
        "blog/rss.xml",
        "blog/second/index.html",
        "blog/the-third/index.html",
        "blog/with-assets/index.html",
        "blog/with-assets/picture.svg",
        "css/site.css",
        "docs/guides/index.html",
        "docs/index.html",
        "docs/install/index.html",
        "index.html",
        "legacy/about.html",
        "old-about/index.html",
        "orphan/index.html",
        "robots.txt",
        "rss.xml",
        "search_index.en.json",
        "sitemap.xml",
        "tags/index.html",
        "tags/rust/atom.xml",
        "tags/rust/index.html",
        "tags/rust/page/1/index.html",
        "tags/rust/rss.xml",
        "tags/web/atom.xml",
        "tags/web/index.html",
        "tags/web/page/1/index.html",
        "tags/web/rss.xml",
        "theme.css",
        "usage/index.html",
    ];
    assert_eq!(site.outputs(), expected);
}

#[test]
fn pages_see_zolas_page_context() {
    let site = TestSite::fixture("zola");
    site.build();
    let first = site.read("blog/first/index.html");
    assert_eq!(field(&first, "title"), "First");
    assert_eq!(field(&first, "slug"), "first");
    assert_eq!(field(&first, "path"), "/blog/first/");
    assert_eq!(field(&first, "date"), "2024-01-05", "date comes from the file name");
    // Newest first: lower is the previous item in the section's order, higher the next.
    assert_eq!(field(&first, "lower"), "Second");
    assert_eq!(field(&first, "higher"), "With assets");
    assert_eq!(field(&first, "toc"), "first-heading();second-heading();");
    assert_eq!(field(&first, "tags"), "Rust,web");
    assert_eq!(field(&first, "ancestors"), "_index.md,blog/_index.md");
    assert_eq!(field(&first, "backlinks"), "About;");
    assert!(field(&first, "summary").starts_with("<p>Intro paragraph with “quotes” – and an"));
    assert!(first.contains(
        r#"<a rel="noopener nofollow noreferrer external" target="_blank" href="https://www.rust-lang.org">"#
    ));
    assert!(first.contains("<span id=\"continue-reading\"></span>"));
    assert!(first.contains(r#"<div class="note note-tip">note 1 on First</div>"#), "{first}");
    assert!(first.contains("<blockquote><p>To <em>be</em> or not.</p>\n<cite>Ann</cite></blockquote>"), "{first}");
    // Written out literally (smart punctuation then curls its quotes, as it would under Zola).
    assert!(first.contains("Escaped: {{ note(kind=“x”) }}"), "{first}");
    assert!(first.contains("footnote-definition"));

    let about = site.read("about/index.html");
    assert!(about.contains(r#"href="https://example.com/blog/first/#second-heading""#));
    let bundle = site.read("blog/with-assets/index.html");
    assert_eq!(field(&bundle, "assets"), "/blog/with-assets/picture.svg");
    assert!(bundle.contains(r#"src="https://example.com/blog/with-assets/picture.svg""#));
    let third = site.read("blog/the-third/index.html");
    assert!(third.contains(r#"<h1 id="custom">Title</h1>"#));
    let second = site.read("blog/second/index.html");
    assert!(second.contains("<table>") && second.contains("checkbox") && second.contains("<del>gone</del>"));
}

#[test]
fn sections_paginate_and_index_sees_the_library() {
    let site = TestSite::fixture("zola");
    site.build();
    let blog = site.read("blog/index.html");
    assert_eq!(field(&blog, "index"), "1/2");
    assert_eq!(field(&blog, "total"), "4");
    assert_eq!(field(&blog, "pages"), "Third;Second;");
    assert_eq!(field(&blog, "previous"), "none");
    assert_eq!(field(&blog, "next"), "https://example.com/blog/page/2/");
    let page2 = site.read("blog/page/2/index.html");
    assert_eq!(field(&page2, "pages"), "First;With assets;");
    assert!(site.read("blog/page/1/index.html").contains(r#"url=https://example.com/blog/""#));
    // The transparent section hands its pages to its parent.
    assert_eq!(field(&site.read("docs/index.html"), "pages"), "Install;Usage;");

    let index = site.read("index.html");
    assert_eq!(field(&index, "kind"), "index", "site templates override the theme's");
    assert_eq!(field(&index, "pages"), "About;Orphan at root;");
    assert_eq!(field(&index, "subsections"), "blog/_index.md,docs/_index.md");
    assert_eq!(field(&index, "motto"), "plain and true");
    assert_eq!(field(&index, "current_path"), "/");
    assert_eq!(field(&index, "blog"), "Blog");
    assert_eq!(field(&index, "url"), "https://example.com/blog/second/");
    assert_eq!(field(&index, "css"), "https://example.com/css/site.css");
    assert_eq!(field(&index, "tagurl"), "https://example.com/tags/rust/");
}

#[test]
fn taxonomies_feeds_sitemap_and_search() {
    let site = TestSite::fixture("zola");
    site.build();
    assert_eq!(
        common::unescape(&site.read("tags/index.html")).trim(),
        "kind=taxonomy_list tags: Rust=2@/tags/rust/;web=1@/tags/web/;"
    );
    assert_eq!(site.read("tags/rust/index.html").trim(), "kind=taxonomy_single tags/Rust (2): 1/1 Second;First;");
    let atom = site.read("atom.xml");
    assert!(atom.contains("<title>Fixture</title>"));
    assert!(atom.contains("<updated>2024-03-20T10:00:00+00:00</updated>"), "{atom}");
    let order: Vec<usize> = ["/blog/the-third/", "/blog/second/", "/blog/first/", "/blog/with-assets/"]
        .iter()
        .map(|p| atom.find(&format!("<id>https://example.com{p}</id>")).expect(p))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "newest first");
    assert!(atom.contains("<summary type=\"html\">"), "a page with a summary shows it");
    assert!(site.read("blog/rss.xml").contains("<title>Fixture - Blog</title>"));
    let sitemap = site.read("sitemap.xml");
    for loc in [
        "https://example.com/",
        "https://example.com/blog/page/2/",
        "https://example.com/tags/web/",
        "https://example.com/usage/",
    ] {
        assert!(sitemap.contains(&format!("<loc>{loc}</loc>")), "{loc} in sitemap");
    }
    assert!(sitemap.contains("<lastmod>2024-03-01</lastmod>"), "updated wins over date");
    assert!(!sitemap.contains("undated"), "pages left out of their section are not in the sitemap");
    assert!(site.read("robots.txt").contains("Sitemap: https://example.com/sitemap.xml"));
    let index: serde_json::Value = serde_json::from_str(&site.read("search_index.en.json")).unwrap();
    let entries = index.as_array().unwrap();
    let first = entries.iter().find(|e| e["url"] == "https://example.com/blog/first/").unwrap();
    assert_eq!(first["title"], "First");
    assert!(first["body"].as_str().unwrap().contains("Intro paragraph"));
    assert!(site.read("legacy/about.html").contains("https://example.com/about/"));
    assert_eq!(site.read("404.html").trim(), "kind=404 Fixture");
}

#[test]
fn drafts_build_only_when_asked() {
    let site = TestSite::fixture("zola");
    let mut opts = site.options();
    opts.drafts = true;
    atelier_generator::build(opts).unwrap();
    assert!(site.public("blog/draft/index.html").is_file());
}

#[test]
fn base_url_and_output_dir_flags() {
    let site = TestSite::fixture("zola");
    let out = tempfile::tempdir().unwrap();
    let mut opts = site.options();
    opts.output_dir = Some(out.path().join("dist"));
    opts.base_url = Some("http://localhost:9/".into());
    atelier_generator::build(opts).unwrap();
    let page = std::fs::read_to_string(out.path().join("dist/blog/page/2/index.html")).unwrap();
    assert_eq!(field(&page, "previous"), "http://localhost:9/blog/");
}

#[test]
fn a_page_with_render_false_is_written_and_listed_nowhere_and_unknown_keys_pass() {
    let site = common::TestSite::with_files(&[
        ("config.toml", "base_url = \"https://x.example\"\n"),
        ("templates/index.html", "x"),
        ("templates/page.html", "{{ page.title }}"),
        ("templates/section.html", "{% for p in section.pages %}{{ p.title }};{% endfor %}"),
        ("content/s/_index.md", "+++\ntitle = \"S\"\n+++\n"),
        ("content/s/a.md", "+++\ntitle = \"A\"\nauthor = \"me\"\n[seo]\nx = 1\n+++\nbody\n"),
        ("content/s/b.md", "+++\ntitle = \"B\"\nrender = false\n+++\nbody\n"),
    ]);
    let (_, report) = site.build();
    // What Zola 0.22.1 makes of the same files: "A;" and no s/b/.
    assert_eq!(site.read("s/index.html"), "A;");
    assert!(!site.public("s/b/index.html").exists());
    assert!(!site.read("sitemap.xml").contains("/s/b/"));
    assert_eq!(report.warnings.len(), 2, "{:?}", report.warnings);
}

#[test]
fn a_site_template_extends_the_themes_own_by_its_theme_path() {
    let site = common::TestSite::with_files(&[
        ("config.toml", "base_url = \"https://x.example\"\ntheme = \"t\"\n"),
        ("themes/t/templates/index.html", "<h1>{% block title %}theme{% endblock title %}</h1>"),
        (
            "templates/index.html",
            r#"{% extends "t/templates/index.html" %}{% block title %}site over theme{% endblock title %}"#,
        ),
    ]);
    site.build();
    assert_eq!(site.read("index.html"), "<h1>site over theme</h1>");
}

/// A 1200×800 photograph-like JPEG and a 300×380 PNG with alpha, made here (no binary fixtures).
fn write_images(site: &common::TestSite) {
    let photo = image::RgbImage::from_fn(1200, 800, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x + y) % 239) as u8])
    });
    std::fs::create_dir_all(site.root().join("content/blog/post")).unwrap();
    photo.save(site.root().join("content/blog/post/photo.jpg")).unwrap();
    let logo = image::RgbaImage::from_pixel(300, 380, image::Rgba([200, 30, 30, 200]));
    std::fs::create_dir_all(site.root().join("static")).unwrap();
    logo.save(site.root().join("static/logo.png")).unwrap();
}

#[test]
fn resize_image_and_get_image_metadata_answer_as_zola_does() {
    let site = common::TestSite::with_files(&[
        ("config.toml", "base_url = \"https://example.com\"\n"),
        ("templates/index.html", "home"),
        ("templates/section.html", "section"),
        ("content/blog/_index.md", "+++\ntitle = \"Blog\"\n+++\n"),
        ("content/blog/post/index.md", "+++\ntitle = \"Post\"\n+++\nBody\n"),
        (
            "templates/page.html",
            r#"{% set m = get_image_metadata(path=page.colocated_path ~ "photo.jpg") %}{{ m.width }}x{{ m.height }} {{ m.format }} {{ m.mime | safe }}
{% set m = get_image_metadata(path="logo.png") %}{{ m.width }}x{{ m.height }} {{ m.format }}
{{ get_image_metadata(path="nothing.png", allow_missing=true) | json_encode() }}
{% set r = resize_image(path=page.colocated_path ~ "photo.jpg", width=400, height=300) %}{{ r.width }}x{{ r.height }} of {{ r.orig_width }}x{{ r.orig_height }} {{ r.url | safe }} {{ r.static_path | safe }}
{% set r = resize_image(path=page.colocated_path ~ "photo.jpg", width=400, op="fit_width", format="webp", quality=80) %}{{ r.width }}x{{ r.height }} {{ r.url | safe }}
{% set r = resize_image(path=page.colocated_path ~ "photo.jpg", width=400, op="fit_width", format="avif") %}{{ r.width }}x{{ r.height }} {{ r.url | safe }}
{% set r = resize_image(path="logo.png", width=150, height=150, op="fit") %}{{ r.width }}x{{ r.height }} {{ r.url | safe }}
{% set r = resize_image(path="logo.png", width=5000, height=5000, op="fit") %}{{ r.width }}x{{ r.height }}
{% set r = resize_image(path="logo.png", width=100, height=100, op="scale") %}{{ r.width }}x{{ r.height }}
{% set r = resize_image(path="logo.png", height=95, op="fit_height", format="jpg") %}{{ r.width }}x{{ r.height }} {{ r.url | safe }}"#,
        ),
    ]);
    write_images(&site);
    site.build();
    let html = site.read("blog/post/index.html");
    let lines: Vec<&str> = html.lines().collect();
    // The sizes are those Zola 0.22.1 answered for the same calls on the same images.
    assert_eq!(lines[0], "1200x800 jpg image/jpeg");
    assert_eq!(lines[1], "300x380 png");
    assert_eq!(lines[2], "null");
    assert!(lines[3].starts_with("400x300 of 1200x800 https://example.com/processed_images/photo."), "{}", lines[3]);
    assert!(lines[3].contains(".jpg static/processed_images/photo.") && lines[3].ends_with(".jpg"), "{}", lines[3]);
    assert!(lines[4].starts_with("400x266 ") && lines[4].ends_with(".webp"), "{}", lines[4]);
    assert!(lines[5].starts_with("400x266 ") && lines[5].ends_with(".avif"), "{}", lines[5]);
    assert!(lines[6].starts_with("118x150 ") && lines[6].ends_with(".png"), "{}", lines[6]);
    assert_eq!(lines[7], "300x380");
    assert_eq!(lines[8], "100x100");
    assert!(lines[9].starts_with("75x95 ") && lines[9].ends_with(".jpg"), "{}", lines[9]);

    // Every URL answered is a file in the output, of that size and kind, and cached in static/.
    let urls: Vec<&str> =
        html.split_whitespace().filter(|w| w.starts_with("https://example.com/processed_images/")).collect();
    assert_eq!(urls.len(), 5);
    for url in &urls {
        let rel = url.trim_start_matches("https://example.com/");
        let bytes = std::fs::read(site.public(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert!(site.root().join("static").join(rel).is_file(), "{rel} cached in static/");
        let magic_ok = match rel.rsplit('.').next().unwrap() {
            "jpg" => bytes.starts_with(&[0xff, 0xd8]),
            "png" => bytes.starts_with(b"\x89PNG"),
            "webp" => bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP",
            "avif" => &bytes[4..12] == b"ftypavif",
            _ => false,
        };
        assert!(magic_ok, "{rel} is not what its extension says");
    }
    let webp = urls.iter().find(|u| u.ends_with(".webp")).unwrap().trim_start_matches("https://example.com/");
    let decoded = image::open(site.public(webp)).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (400, 266));

    // A second build reuses the cache (nothing re-encoded), and a name no output asks for any
    // more is pruned from the cache.
    let stale = site.root().join("static/processed_images/old.0000000000000000.jpg");
    std::fs::write(&stale, b"x").unwrap();
    let avif = site.root().join("static").join(urls[2].trim_start_matches("https://example.com/"));
    let before = std::fs::metadata(&avif).unwrap().modified().unwrap();
    site.build();
    assert_eq!(std::fs::metadata(&avif).unwrap().modified().unwrap(), before);
    assert!(!stale.exists());
    assert!(!site.public("processed_images/old.0000000000000000.jpg").exists());
}

#[test]
fn resize_image_errors_name_the_call_and_the_fault() {
    for (call, says) in [
        (r#"resize_image(path="logo.png", width=10, op="fill")"#, "needs both `width` and `height`"),
        (r#"resize_image(path="logo.png", width=10, height=10, op="zoom")"#, "not a resize operation"),
        (r#"resize_image(path="logo.png", width=10, height=10, format="bmp")"#, "not an output format"),
        (r#"resize_image(path="logo.png", width=200000, height=100000, op="scale")"#, "megapixels"),
        (r#"resize_image(path="missing.png", width=10, height=10)"#, "no file `missing.png`"),
        (r#"resize_image(path="notes.txt", width=10, height=10)"#, "notes.txt"),
        (r#"get_image_metadata(path="missing.png")"#, "no file `missing.png`"),
    ] {
        let site = common::TestSite::with_files(&[
            ("config.toml", "base_url = \"https://example.com\"\n"),
            ("templates/index.html", &format!("{{% set r = {call} %}}")),
            ("static/notes.txt", "not an image"),
        ]);
        write_images(&site);
        let err = site.build_err().to_string();
        assert!(err.contains(says), "{call}: {err}");
        assert!(err.contains("index.html"), "{call}: {err}");
    }
}

#[test]
fn highlighting_settings_that_cannot_work_are_refused_with_the_reason() {
    for (settings, says) in [
        ("theme = \"no-such-theme\"", "there is no theme `no-such-theme`"),
        ("theme = \"github-dark\"\nstyle = \"fancy\"", "style `fancy`"),
        ("light_theme = \"github-light\"", "both `light_theme` and `dark_theme`"),
    ] {
        let site = common::TestSite::with_files(&[
            ("config.toml", &format!("base_url = \"https://x.example\"\n[markdown.highlighting]\n{settings}\n")),
            ("templates/index.html", "x"),
        ]);
        let err = site.build_err().to_string();
        assert!(err.contains(says) && err.contains("config.toml"), "{settings}: {err}");
    }
}

#[test]
fn a_site_without_page_or_section_templates_still_builds_as_in_zola() {
    let site = TestSite::with_files(&[
        ("config.toml", "base_url = \"https://x.example\"\ntitle = \"Bench\"\n"),
        ("templates/index.html", "home of {{ config.title }}"),
        ("content/notes/_index.md", "+++\ntitle = \"Notes\"\n+++\nAll of them.\n"),
        ("content/notes/first.md", "+++\ntitle = \"First <note>\"\n+++\nSome *words*.\n"),
    ]);
    let (_, report) = site.build();
    assert_eq!(site.read("index.html"), "home of Bench");
    let page = site.read("notes/first/index.html");
    assert!(page.contains("<title>First &lt;note&gt;</title>") && page.contains("<em>words</em>"), "{page}");
    let section = site.read("notes/index.html");
    assert!(
        section.contains("<h1>Notes</h1>") && section.contains("href=\"https://x.example/notes/first/\""),
        "{section}"
    );
    let warned =
        |name: &str| report.warnings.iter().any(|w| w.starts_with(&format!("templates/{name} does not exist")));
    assert!(warned("page.html") && warned("section.html") && !warned("index.html"), "{:?}", report.warnings);
}

#[test]
fn languages_keep_their_own_files_and_addresses() {
    let site = TestSite::with_files(&[
        ("config.toml", "base_url = \"https://x.example\"\n[languages.fr]\n"),
        (
            "templates/index.html",
            "{{ get_url(path=\"/fr/notes/\", lang=\"fr\") }} {{ get_url(path=\"notes/\", lang=\"fr\") }}",
        ),
        ("templates/section.html", "{{ section.title }} {{ section.assets | length }}"),
        ("templates/page.html", "{{ page.title }} {% for a in page.assets %}{{ a }}{% endfor %}"),
        ("content/_index.md", "+++\n+++\n"),
        ("content/logo.svg", "<svg/>"),
        // The English section is a draft; its French translation is not (Zola 0.22.1 builds this
        // site into these files).
        ("content/notes/_index.md", "+++\ntitle = \"Notes\"\ndraft = true\n+++\n"),
        ("content/notes/_index.fr.md", "+++\ntitle = \"Carnet\"\n+++\n"),
        ("content/notes/leaf/index.fr.md", "+++\ntitle = \"Feuille\"\n+++\n"),
        ("content/notes/leaf/leaf.svg", "<svg/>"),
    ]);
    site.build();
    // Zola's rule: a path that already starts with the language is not prefixed again.
    assert_eq!(site.read("index.html"), "https://x.example/fr/notes https://x.example/fr/notes");
    // As Zola: the draft leaves out its folder's pages and files in every language, but not its
    // French translation beside it.
    assert_eq!(site.read("fr/notes/index.html"), "Carnet 0");
    assert!(!site.public("notes/index.html").exists() && !site.public("fr/notes/leaf/index.html").exists());
    assert!(!site.public("fr/notes/leaf/leaf.svg").exists());
    // The root's own files are the default home's; the made-up French home has none.
    assert!(site.public("logo.svg").is_file() && !site.public("fr/logo.svg").exists());
}

#[test]
fn a_section_dumped_whole_carries_its_pages() {
    // The template never names `pages`: the section's JSON must still hold them, as in Zola.
    let site = TestSite::with_files(&[
        ("config.toml", "base_url = \"https://x.example\"\n"),
        ("templates/index.html", "home"),
        ("templates/page.html", "{{ page.title }}"),
        ("templates/section.html", "{{ section | json_encode() | safe }}"),
        ("content/notes/_index.md", "+++\ntitle = \"Notes\"\n+++\n"),
        ("content/notes/first.md", "+++\ntitle = \"First\"\n+++\nWords.\n"),
    ]);
    site.build();
    let json: serde_json::Value = serde_json::from_str(&site.read("notes/index.html")).unwrap();
    assert_eq!(json["pages"][0]["title"], "First", "{json}");
}

#[test]
fn search_indexes_need_the_top_level_switch_as_in_zola() {
    // Zola 0.22.1 writes no index for this site (the anemone theme's demo is configured so):
    // the languages' tables ask for one, the top level does not.
    let files = |top: &str| {
        let config = format!(
            "base_url = \"https://x.example\"\n{top}\n[languages.en]\nbuild_search_index = true\ntitle = \"A\"\n[languages.fr]\nbuild_search_index = true\n"
        );
        let site = TestSite::with_files(&[
            ("config.toml", &config),
            ("templates/index.html", "{{ config.title }} {{ config.build_search_index }}"),
            ("templates/page.html", "{{ page.title }}"),
            ("content/a.md", "+++\ntitle = \"A page\"\n+++\nWords.\n"),
            ("content/a.fr.md", "+++\ntitle = \"Une page\"\n+++\nDes mots.\n"),
        ]);
        site.build();
        let indexes = ["search_index.en.js", "search_index.fr.js", "elasticlunr.min.js"]
            .into_iter()
            .filter(|f| site.public(f).is_file())
            .collect::<Vec<_>>();
        (indexes, site.read("index.html"))
    };
    // The default language's table is read as more of the top level (its title shows).
    assert_eq!(files(""), (vec![], "A true".to_string()));
    assert_eq!(
        files("build_search_index = true").0,
        vec!["search_index.en.js", "search_index.fr.js", "elasticlunr.min.js"]
    );
}

#[test]
fn a_shortcode_alone_in_its_paragraph_is_written_byte_for_byte_as_zola_writes_it() {
    // Zola 0.22.1's bytes for this page: the paragraph and its line break go; the shortcode's
    // own last line break (or none) is what separates it from what follows.
    let site = TestSite::with_files(&[
        ("config.toml", "base_url = \"https://x.example\"\n"),
        ("templates/index.html", "home"),
        ("templates/page.html", "{{ page.content | safe }}"),
        ("templates/shortcodes/nl.html", "<div>A</div>\n"),
        ("templates/shortcodes/nonl.html", "<div>B</div>"),
        ("content/a.md", "+++\ntitle = \"A\"\n+++\nText.\n\n{{ nl() }}\n\n## H1\n\n{{ nonl() }}\n\n## H2\n\nInline {{ nonl() }} here.\n"),
        (
            "content/b.md",
            "+++\ntitle = \"B\"\n+++\n{{ nonl() }}\n\nPara after.\n\n{{ nonl() }}\n\n## H\n\n{{ nonl() }}\n\n- item\n\n{{ nl() }}\n\nPara again.\n\n{{ nonl() }}\n\n> quote\n\nEnd.\n",
        ),
    ]);
    site.build();
    assert_eq!(
        site.read("a/index.html"),
        "<p>Text.</p>\n<div>A</div>\n<h2 id=\"h1\">H1</h2>\n<div>B</div><h2 id=\"h2\">H2</h2>\n<p>Inline <div>B</div> here.</p>\n"
    );
    assert_eq!(
        site.read("b/index.html"),
        "<div>B</div>\n<p>Para after.</p>\n<div>B</div><h2 id=\"h\">H</h2>\n<div>B</div>\n<ul>\n<li>item</li>\n</ul>\n<div>A</div>\n<p>Para again.</p>\n<div>B</div>\n<blockquote>\n<p>quote</p>\n</blockquote>\n<p>End.</p>\n"
    );
}
