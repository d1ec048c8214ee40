//! Fixture sites built by Zola 0.22.1 (`scripts/zola-goldens` keeps its output beside each site
//! as `SITE.zola/`) and by atelier: the same files, the same bytes once whitespace is folded,
//! except where `generator/README.md` says why not (each such rule is named below).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn sites_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/zola-sites")
}

fn files(dir: &Path) -> BTreeMap<String, PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.path().strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/"), e.path().to_path_buf()))
        .collect()
}

/// A processed image's name without its hash (Zola's comes from Rust's `DefaultHasher`, ours
/// from SHA-256: README, "resize_image file names").
fn unhash(text: &str) -> String {
    let re = regex::Regex::new(r"(processed_images(?:/|&#x2F;)[^./&\s]+)\.[0-9a-f]{16}\.").unwrap();
    re.replace_all(text, "$1.#.").into_owned()
}

/// Zola's sitemap without the pages Zola did not write (those its section's `sort_by` leaves
/// out: their addresses answer 404); README, "Sitemap of pages left out by `sort_by`".
fn rendered_only(sitemap: &str, out: &Path) -> String {
    let re = regex::Regex::new(r"(?s)<url>\s*<loc>https?://[^/<]+/([^<]*)</loc>.*?</url>").unwrap();
    re.replace_all(sitemap, |c: &regex::Captures| {
        let path = out.join(c[1].replace("&amp;", "&"));
        if path.join("index.html").is_file() || path.is_file() || c[1].is_empty() {
            c[0].to_string()
        } else {
            String::new()
        }
    })
    .into_owned()
}

/// Whitespace folded: runs become one space, and none is kept between two tags.
fn fold(text: &str) -> String {
    let folded = unhash(text).split_whitespace().collect::<Vec<_>>().join(" ");
    folded.replace("> <", "><")
}

/// Compares one file; `None` when they agree.
fn compare(rel: &str, zola: &Path, ours: &Path) -> Option<String> {
    let (z, a) = (std::fs::read(zola).unwrap(), std::fs::read(ours).unwrap());
    if rel.starts_with("processed_images/") {
        // Different encoders' bytes: the same kind of file, of the same size.
        if rel.ends_with(".avif") {
            return (&a[4..12] != b"ftypavif").then(|| "not an AVIF file".into());
        }
        let (zi, ai) = (image::load_from_memory(&z).unwrap(), image::load_from_memory(&a).ok()?);
        let (zs, as_) = ((zi.width(), zi.height()), (ai.width(), ai.height()));
        return (zs != as_).then(|| format!("Zola's is {zs:?}, ours {as_:?}"));
    }
    if rel == "elasticlunr.min.js" {
        // The same library; ours is the copy published on crates.io, whose banner says 0.9.5
        // (README, "elasticlunr.min.js").
        let z = String::from_utf8_lossy(&z).replace("offline search. - 0.9.6", "offline search. - 0.9.5");
        return (z.trim_end() != String::from_utf8_lossy(&a).trim_end()).then(|| "the library differs".into());
    }
    let (z, a) = (String::from_utf8_lossy(&z), String::from_utf8_lossy(&a));
    let z = if rel == "sitemap.xml" { rendered_only(&z, zola.parent().unwrap()) } else { z.into_owned() };
    let z = std::borrow::Cow::<str>::Owned(z);
    if (rel.ends_with(".json") || rel.ends_with(".js"))
        && z.trim_start_matches("window.searchIndex = ").starts_with('[')
    {
        // A Fuse index lists pages in Zola's hash-map order, which changes from run to run.
        let parse = |s: &str| -> Vec<String> {
            let v: serde_json::Value = serde_json::from_str(s.trim_start_matches("window.searchIndex = ")).unwrap();
            let mut items: Vec<String> = v.as_array().unwrap().iter().map(|i| i.to_string()).collect();
            items.sort();
            items
        };
        return (parse(&z) != parse(&a)).then(|| "the entries differ".into());
    }
    let (zf, af) = (fold(&z), fold(&a));
    if zf == af {
        return None;
    }
    let at = zf.chars().zip(af.chars()).take_while(|(x, y)| x == y).count();
    let context = |s: &str| s.chars().skip(at.saturating_sub(60)).take(160).collect::<String>();
    Some(format!("first difference at character {at}:\n  zola:    {}\n  atelier: {}", context(&zf), context(&af)))
}

fn check(site: &str) {
    let src = sites_dir().join(site);
    let expected = sites_dir().join(format!("{site}.zola"));
    let work = tempfile::tempdir().unwrap();
    common::copy_dir(&src, work.path());
    let mut opts = atelier_generator::BuildOptions::new(work.path());
    opts.output_dir = Some(work.path().join("public"));
    if let Err(e) = atelier_generator::build(opts) {
        panic!("{site}: atelier could not build what Zola builds:\n{e}");
    }
    let zola = files(&expected);
    let ours = files(&work.path().join("public"));
    let names = |m: &BTreeMap<String, PathBuf>| m.keys().map(|k| unhash(k)).collect::<Vec<_>>();
    let mut problems = Vec::new();
    let (zn, an) = (names(&zola), names(&ours));
    for missing in zn.iter().filter(|n| !an.contains(n)) {
        problems.push(format!("{missing}: Zola writes it, atelier does not"));
    }
    for extra in an.iter().filter(|n| !zn.contains(n)) {
        problems.push(format!("{extra}: atelier writes it, Zola does not"));
    }
    // Processed images are paired by where the pages name them (their names differ by hash).
    let image = regex::Regex::new(r"processed_images(?:/|&#x2F;)([^&\s\x22'<]+)").unwrap();
    let mut pairs: BTreeMap<String, String> = BTreeMap::new();
    for (rel, z) in &zola {
        let Some(a) = ours.get(rel) else { continue };
        let (zt, at) = (std::fs::read_to_string(z).unwrap_or_default(), std::fs::read_to_string(a).unwrap_or_default());
        for (zm, am) in image.captures_iter(&zt).zip(image.captures_iter(&at)) {
            pairs.insert(format!("processed_images/{}", &zm[1]), format!("processed_images/{}", &am[1]));
        }
    }
    let by_name: BTreeMap<String, &PathBuf> = ours.iter().map(|(k, v)| (unhash(k), v)).collect();
    for (rel, z) in &zola {
        let ours_for = pairs.get(rel).and_then(|a| ours.get(a)).or_else(|| by_name.get(&unhash(rel)).copied());
        if let Some(a) = ours_for {
            if let Some(why) = compare(rel, z, a) {
                problems.push(format!("{rel}: {why}"));
            }
        }
    }
    assert!(problems.is_empty(), "{site}: {} difference(s) from Zola 0.22.1:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn search_index_elasticlunr_javascript_with_every_field() {
    check("search");
}

#[test]
fn search_index_elasticlunr_json_truncated() {
    check("search-json");
}

#[test]
fn images_resized_and_measured() {
    check("images");
}

#[test]
fn a_blog_paginated_with_tags_feeds_shortcodes_and_aliases() {
    check("blog");
}

#[test]
fn shortcodes_parsed_as_leniently_as_zola() {
    check("shortcodes");
}

#[test]
fn sass_of_the_theme_and_the_site_compiled() {
    check("sass");
}

#[test]
fn a_site_on_a_theme_with_its_extra_merged() {
    check("theme");
}

#[test]
fn code_highlighted_with_inline_styles_and_every_fence_option() {
    check("highlight-inline");
}

#[test]
fn code_highlighted_with_classes_for_light_and_dark_themes() {
    check("highlight-class");
}

#[test]
fn every_sort_by_on_the_same_pages() {
    check("sorting");
}

#[test]
fn yaml_front_matter_of_pages_and_sections() {
    check("yaml");
}

#[test]
fn lazy_images_definition_lists_alerts_and_emoji() {
    check("markdown-options");
}

#[test]
fn slugify_strategies_for_paths_terms_and_anchors() {
    check("slugify");
}

#[test]
fn load_data_of_json_toml_yaml_csv_and_text() {
    check("load-data");
}

#[test]
fn a_site_in_three_languages_with_translations_feeds_taxonomies_and_search() {
    check("i18n");
}
