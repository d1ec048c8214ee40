//! Editing a file re-renders exactly the outputs that depend on it.

mod common;

use std::collections::BTreeSet;

use atelier_generator::incremental::{self, ChangeSet};
use atelier_generator::{render, Site};
use common::TestSite;

fn loaded(site: &TestSite) -> Site {
    let mut s = Site::load(site.options()).expect("loads");
    render::build(&mut s).expect("builds");
    s
}

fn content(rel: &str) -> ChangeSet {
    ChangeSet { content: [rel.to_string()].into(), ..ChangeSet::default() }
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn editing_a_page_body_renders_its_dependents_only() {
    let fixture = TestSite::fixture("zola");
    let mut site = loaded(&fixture);
    let before_about = std::fs::metadata(fixture.public("about/index.html")).unwrap().modified().unwrap();
    fixture.write("content/blog/second.md", "+++\ntitle = \"Second\"\ndate = 2024-02-10\nupdated = 2024-03-01\n[taxonomies]\ntags = [\"rust\"]\n+++\nA new body.\n");
    let out = incremental::apply(&mut site, &content("blog/second.md")).unwrap();
    assert!(!out.full);
    let rendered: BTreeSet<String> = out.rendered_files.iter().cloned().collect();
    assert_eq!(
        rendered,
        set(&[
            "blog/first/index.html",     // its neighbour shows it as `higher`…
            "blog/index.html",           // the pager listing it
            "blog/second/index.html",    // itself
            "blog/the-third/index.html", // …and as `lower`
            "tags/rust/index.html",      // its term's pager
        ])
    );
    assert_eq!(out.changed_files, vec!["blog/second/index.html"], "only its own bytes changed");

    // Taking it out of a term changes the term list and the pages linking to the term.
    fixture.write("content/blog/second.md", "+++\ntitle = \"Second\"\ndate = 2024-02-10\n+++\nA new body.\n");
    let out = incremental::apply(&mut site, &content("blog/second.md")).unwrap();
    assert!(out.rendered_files.contains(&"tags/index.html".to_string()), "{:?}", out.rendered_files);
    assert_eq!(
        common::unescape(&fixture.read("tags/index.html")).trim(),
        "kind=taxonomy_list tags: Rust=1@/tags/rust/;web=1@/tags/web/;"
    );
    assert!(fixture.read("blog/second/index.html").contains("A new body."));
    let later: BTreeSet<String> = out.later.iter().map(|p| p.file.clone()).collect();
    assert!(later.contains("atom.xml") && later.contains("sitemap.xml") && later.contains("search_index.en.json"));
    let summaries = incremental::finish(&mut site, &out.later).unwrap();
    assert!(summaries.contains(&"atom.xml".to_string()), "the feed carries the new content");
    assert!(fixture.read("search_index.en.json").contains("A new body."));
    let after_about = std::fs::metadata(fixture.public("about/index.html")).unwrap().modified().unwrap();
    assert_eq!(before_about, after_about, "unrelated pages are not touched");
}

#[test]
fn changing_a_sort_key_moves_pagers_and_neighbours() {
    let fixture = TestSite::fixture("zola");
    let mut site = loaded(&fixture);
    // Make the oldest post the newest: every pager and neighbour changes.
    fixture.write(
        "content/blog/with-assets/index.md",
        "+++\ntitle = \"With assets\"\ndate = 2025-01-01\n+++\n![A picture](picture.svg)\n",
    );
    let out = incremental::apply(&mut site, &content("blog/with-assets/index.md")).unwrap();
    assert!(!out.full);
    for f in ["blog/index.html", "blog/page/2/index.html", "blog/the-third/index.html", "blog/first/index.html"] {
        assert!(out.changed_files.contains(&f.to_string()), "{f} changed: {:?}", out.changed_files);
    }
    assert!(fixture.read("blog/index.html").contains("pages=With assets;Third;"));
}

#[test]
fn a_template_edit_renders_the_outputs_using_it() {
    let fixture = TestSite::fixture("zola");
    let mut site = loaded(&fixture);
    fixture.write("templates/taxonomy_single.html", "single {{ term.name }}");
    let change = ChangeSet { templates: set(&["taxonomy_single.html"]), ..ChangeSet::default() };
    let out = incremental::apply(&mut site, &change).unwrap();
    let rendered: BTreeSet<String> = out.rendered_files.iter().cloned().collect();
    assert_eq!(rendered, set(&["authors/ann/index.html", "tags/rust/index.html", "tags/web/index.html"]));
    assert_eq!(fixture.read("tags/web/index.html"), "single web");

    // A base template reaches every page that extends it.
    fixture.write("themes/plain/templates/base.html", "<html><body>{% block content %}{% endblock %}</body></html>");
    let change = ChangeSet { templates: set(&["base.html"]), ..ChangeSet::default() };
    let out = incremental::apply(&mut site, &change).unwrap();
    assert!(out.rendered_files.contains(&"blog/first/index.html".to_string()));
    assert!(out.rendered_files.contains(&"index.html".to_string()));
    assert!(!out.rendered_files.contains(&"tags/web/index.html".to_string()));
}

#[test]
fn a_shortcode_edit_rerenders_the_pages_calling_it() {
    let fixture = TestSite::fixture("zola");
    let mut site = loaded(&fixture);
    fixture.write("templates/shortcodes/note.html", "<aside>{{ kind }}</aside>");
    let change = ChangeSet { templates: set(&["shortcodes/note.html"]), ..ChangeSet::default() };
    let out = incremental::apply(&mut site, &change).unwrap();
    assert!(out.changed_files.contains(&"blog/first/index.html".to_string()));
    assert!(fixture.read("blog/first/index.html").contains("<aside>tip</aside>"));
    assert!(!out.rendered_files.contains(&"about/index.html".to_string()));
}

#[test]
fn a_broken_edit_keeps_the_site_and_the_fix_catches_up() {
    let fixture = TestSite::fixture("zola");
    let mut site = loaded(&fixture);
    fixture.write("content/about.md", "+++\ntitle = \n+++\n");
    let err = incremental::apply(&mut site, &content("about.md")).unwrap_err();
    assert!(err.to_string().starts_with("content/about.md:2:"), "{err}");
    assert!(fixture.read("about/index.html").contains("About us."), "the last good output stays");
    fixture.write(
        "content/about.md",
        "+++\ntitle = \"About again\"\naliases = [\"/old-about/\", \"/legacy/about.html\"]\n+++\nFixed.\n",
    );
    let out = incremental::apply(&mut site, &content("about.md")).unwrap();
    assert!(out.changed_files.contains(&"about/index.html".to_string()));
    assert!(fixture.read("about/index.html").contains("Fixed."));
}

#[test]
fn new_files_and_config_changes_rebuild_everything() {
    let fixture = TestSite::fixture("zola");
    let mut site = loaded(&fixture);
    fixture.write("content/blog/fourth.md", "+++\ntitle = \"Fourth\"\ndate = 2024-05-01\n+++\nNew.\n");
    let out = incremental::apply(&mut site, &content("blog/fourth.md")).unwrap();
    assert!(out.full);
    assert!(fixture.public("blog/fourth/index.html").is_file());
    std::fs::remove_file(fixture.root().join("content/blog/fourth.md")).unwrap();
    let out = incremental::apply(&mut site, &content("blog/fourth.md")).unwrap();
    assert!(out.full);
    assert!(!fixture.public("blog/fourth/index.html").exists(), "outputs of deleted pages go");
    let out = incremental::apply(&mut site, &ChangeSet { config: true, ..ChangeSet::default() }).unwrap();
    assert!(out.full);
}

#[test]
fn data_changes_reach_the_outputs_that_loaded_them() {
    let fixture = TestSite::fixture("zola");
    fixture.write("data/stock.json", r#"{"LAV": 3}"#);
    fixture.write("templates/404.html", r#"{% set s = load_data(path="data/stock.json") %}stock={{ s.LAV }}"#);
    let mut site = loaded(&fixture);
    assert_eq!(fixture.read("404.html"), "stock=3");
    fixture.write("data/stock.json", r#"{"LAV": 0}"#);
    let out = incremental::apply(&mut site, &ChangeSet { data: true, ..ChangeSet::default() }).unwrap();
    assert_eq!(out.rendered_files, vec!["404.html"]);
    assert_eq!(fixture.read("404.html"), "stock=0");
}

/// Every file of a folder, by relative path.
fn tree(root: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (e.path().strip_prefix(root).unwrap().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap())
        })
        .collect()
}

#[test]
fn an_incremental_edit_gives_the_same_site_as_a_full_build() {
    let fixture = TestSite::fixture("zola");
    let mut site = loaded(&fixture);
    // A body edit of a page with neighbours, and one of a bundle page with assets.
    fixture.write("content/blog/second.md", "+++\ntitle = \"Second\"\ndate = 2024-02-10\nupdated = 2024-03-01\n[taxonomies]\ntags = [\"rust\"]\n+++\nA new body.\n");
    let out = incremental::apply(&mut site, &content("blog/second.md")).unwrap();
    incremental::finish(&mut site, &out.later).unwrap();
    let bundle = std::fs::read_to_string(fixture.root().join("content/blog/with-assets/index.md")).unwrap();
    fixture.write("content/blog/with-assets/index.md", &bundle.replace("A picture", "A drawing"));
    let out = incremental::apply(&mut site, &content("blog/with-assets/index.md")).unwrap();
    assert!(!out.full);
    incremental::finish(&mut site, &out.later).unwrap();
    // A static file edit afterwards must not lose the bundle's assets.
    let out = incremental::apply(&mut site, &ChangeSet { statics: true, ..ChangeSet::default() }).unwrap();
    incremental::finish(&mut site, &out.later).unwrap();

    let fresh = TestSite::fixture("zola");
    for rel in ["content/blog/second.md", "content/blog/with-assets/index.md"] {
        fresh.write(rel, &std::fs::read_to_string(fixture.root().join(rel)).unwrap());
    }
    fresh.build();
    let (a, b) = (tree(&fixture.public("")), tree(&fresh.public("")));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>(), "the same files");
    for (path, bytes) in &a {
        assert!(
            bytes == &b[path],
            "{path} differs from a full build:\n{}\n---\n{}",
            String::from_utf8_lossy(bytes),
            String::from_utf8_lossy(&b[path])
        );
    }
}

#[test]
fn a_resize_asked_for_by_an_edit_is_made_and_a_changed_source_is_made_again() {
    let fixture = TestSite::with_files(&[
        ("config.toml", "base_url = \"https://example.com\"\n"),
        ("templates/index.html", "home"),
        ("templates/section.html", "section"),
        (
            "templates/page.html",
            r#"{% set r = resize_image(path=page.colocated_path ~ "photo.png", width=page.extra.w, op="fit_width") %}{{ r.url | safe }} {{ r.width }}x{{ r.height }}"#,
        ),
        ("content/p/index.md", "+++\ntitle = \"P\"\n[extra]\nw = 40\n+++\n"),
    ]);
    let photo = fixture.root().join("content/p/photo.png");
    image::RgbImage::from_pixel(200, 100, image::Rgb([10, 200, 10])).save(&photo).unwrap();
    let mut site = loaded(&fixture);
    let url_of = |fixture: &TestSite| fixture.read("p/index.html").split(' ').next().unwrap().to_string();
    let first = url_of(&fixture);
    assert!(fixture.read("p/index.html").ends_with(" 40x20"));

    fixture.write("content/p/index.md", "+++\ntitle = \"P\"\n[extra]\nw = 60\n+++\n");
    incremental::apply(&mut site, &content("p/index.md")).unwrap();
    let second = url_of(&fixture);
    assert_ne!(first, second);
    let rel = second.trim_start_matches("https://example.com/");
    let made = image::open(fixture.public(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    assert_eq!((made.width(), made.height()), (60, 30));

    // A new photograph of another shape: the page says its new height, and the file follows.
    std::thread::sleep(std::time::Duration::from_millis(20));
    image::RgbImage::from_pixel(120, 120, image::Rgb([200, 10, 10])).save(&photo).unwrap();
    let statics = ChangeSet { statics: true, ..ChangeSet::default() };
    let out = incremental::apply(&mut site, &statics).unwrap();
    assert!(out.rendered_files.contains(&"p/index.html".to_string()), "{:?}", out.rendered_files);
    assert!(fixture.read("p/index.html").ends_with(" 60x60"));
    let remade = image::open(fixture.public(rel)).unwrap().to_rgb8();
    assert_eq!((remade.width(), remade.height()), (60, 60));
    assert!(remade.get_pixel(30, 30)[0] > 150, "the copy is of the new photograph");
}

#[test]
fn an_edited_sass_partial_rewrites_the_stylesheet() {
    let fixture = TestSite::with_files(&[
        ("config.toml", "base_url = \"https://example.com\"\ncompile_sass = true\n"),
        ("templates/index.html", "home"),
        ("sass/site.scss", "@use \"colours\";\nbody { color: colours.$ink; }\n"),
        ("sass/_colours.scss", "$ink: #111;\n"),
    ]);
    let mut site = loaded(&fixture);
    assert_eq!(fixture.read("site.css"), "body{color:#111}");
    assert!(!fixture.public("_colours.css").exists(), "a partial is not a stylesheet of its own");
    fixture.write("sass/_colours.scss", "$ink: #222;\n");
    let changes = incremental::classify(
        fixture.root(),
        std::path::Path::new("config.toml"),
        None,
        &fixture.root().join("public"),
        None,
        &[fixture.root().join("sass/_colours.scss")],
    );
    assert!(changes.statics, "a stylesheet's change is seen");
    incremental::apply(&mut site, &changes).unwrap();
    assert_eq!(fixture.read("site.css"), "body{color:#222}");
    // A broken stylesheet says where.
    fixture.write("sass/site.scss", "body { color: ; }\n");
    let Err(err) = incremental::apply(&mut site, &changes) else { panic!("a broken stylesheet was accepted") };
    let err = err.to_string();
    assert!(err.contains("sass/site.scss") && err.contains("Sass:"), "{err}");
}

#[test]
fn editing_a_translation_updates_every_language_that_lists_it() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/zola-sites/i18n");
    let copy = |site: &TestSite| common::copy_dir(&src, site.root());
    let fixture = TestSite::with_files(&[]);
    copy(&fixture);
    let mut site = loaded(&fixture);
    // A French title shows on the English and Italian pages' lists of translations, on the
    // French section's list, and in the French feeds, taxonomies and search index.
    let page = "content/journal/first-harvest.fr.md";
    let text = std::fs::read_to_string(fixture.root().join(page)).unwrap();
    fixture.write(page, &text.replace("Première récolte", "La première récolte"));
    let out = incremental::apply(&mut site, &content("journal/first-harvest.fr.md")).unwrap();
    assert!(!out.full);
    for file in ["journal/first-harvest/index.html", "it/journal/first-harvest/index.html", "fr/journal/index.html"] {
        assert!(out.rendered_files.contains(&file.to_string()), "{file} not in {:?}", out.rendered_files);
    }
    assert!(!out.rendered_files.contains(&"journal/second-run/index.html".to_string()), "{:?}", out.rendered_files);
    incremental::finish(&mut site, &out.later).unwrap();
    // And a French section's title reaches the other languages' section pages.
    let section = "content/journal/_index.fr.md";
    let text = std::fs::read_to_string(fixture.root().join(section)).unwrap();
    fixture.write(section, &text.replace("Carnet", "Le carnet"));
    let out = incremental::apply(&mut site, &content("journal/_index.fr.md")).unwrap();
    assert!(!out.full);
    incremental::finish(&mut site, &out.later).unwrap();

    let fresh = TestSite::with_files(&[]);
    copy(&fresh);
    for rel in [page, section] {
        fresh.write(rel, &std::fs::read_to_string(fixture.root().join(rel)).unwrap());
    }
    fresh.build();
    // The search indexes are written by `serve`'s one indexing thread, beside the edits (and
    // other tests' sites share it): what it is handed is compared here.
    let (a, b) = (tree(&fixture.public("")), tree(&fresh.public("")));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>(), "the same files");
    for (path, bytes) in &a {
        if let Some(lang) = path.strip_prefix("search_index.").and_then(|p| p.strip_suffix(".js")) {
            let ours = atelier_generator::search::index(&site, lang).unwrap();
            assert_eq!(ours.as_bytes(), &b[path][..], "{path} differs from a full build");
            continue;
        }
        assert!(
            bytes == &b[path],
            "{path} differs from a full build:\n{}\n---\n{}",
            String::from_utf8_lossy(bytes),
            String::from_utf8_lossy(&b[path])
        );
    }

    // A new translation is a new file: everything is rebuilt, and it is listed.
    fixture.write("content/journal/second-run.it.md", "+++\ntitle = \"Un secondo giro\"\ndate = 2026-07-02\n+++\n");
    let out = incremental::apply(&mut site, &content("journal/second-run.it.md")).unwrap();
    assert!(out.full);
    assert!(fixture.read("journal/second-run/index.html").contains("it: Un secondo giro"));
}
