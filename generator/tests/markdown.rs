//! Snapshots of rendered Markdown: what editors write and the HTML it becomes.

use std::collections::HashMap;
use std::path::Path;

use atelier_generator::config::Config;
use atelier_generator::markdown::{render, MarkdownContext, Rendered};

fn config(extra: &str) -> Config {
    Config::parse(&format!("base_url = \"https://shop.example\"\n{extra}"), Path::new("config.toml")).unwrap()
}

fn md(text: &str, config: &Config) -> Rendered {
    let permalinks: HashMap<String, String> = [
        ("compendium/lavender.md".to_string(), "https://shop.example/compendium/lavender/".to_string()),
        ("manuscript/_index.md".to_string(), "https://shop.example/manuscript/".to_string()),
    ]
    .into();
    let ctx = MarkdownContext {
        config,
        permalinks: &permalinks,
        file: Path::new("content/test.md"),
        permalink: "https://shop.example/test/",
        body_line: 4,
        shortcodes: None,
        page_value: &serde_json::Value::Null,
        insert_anchor_links: "none",
    };
    render(text, &ctx).unwrap_or_else(|d| panic!("{d:?}"))
}

#[test]
fn commonmark_and_extensions() {
    let text = "# The *still*\n\nA paragraph with `code`, **bold** and ~~struck~~ text.\n\n| Essence | Note |\n|---|---|\n| Lavender | heart |\n\n- [x] harvested\n- [ ] distilled\n\nA claim.[^1]\n\n[^1]: A source.\n\n```toml\nprice = \"24.00\"\n```\n";
    insta::assert_snapshot!(md(text, &config("")).html);
}

#[test]
fn headings_get_unique_ids_and_a_toc() {
    let text = "## Notes\n\n### Top\n\n## Notes\n\n## Custom {#mine}\n\n## Mine\n";
    let r = md(text, &config(""));
    insta::assert_snapshot!(r.html);
    let toc: Vec<String> = r.toc.iter().map(|h| format!("{}:{}:{}", h.level, h.id, h.children.len())).collect();
    assert_eq!(toc, ["2:notes:1", "2:notes-1:0", "2:mine:0", "2:mine-1:0"]);
}

#[test]
fn links_internal_external_and_smart_punctuation() {
    let c = config(
        "[markdown]\nsmart_punctuation = true\nexternal_links_target_blank = true\nexternal_links_no_follow = true\n",
    );
    let text = "See [lavender](@/compendium/lavender.md#at-the-still), \"the journal\" -- [here](@/manuscript/_index.md) -- and [Kew](https://www.kew.org \"Royal Botanic Gardens\")...\n";
    let r = md(text, &c);
    insta::assert_snapshot!(r.html);
    assert_eq!(r.internal_links[0], ("compendium/lavender.md".to_string(), Some("at-the-still".to_string()), 4));
    assert_eq!(r.external_links[0].0, "https://www.kew.org");
}

#[test]
fn summary_stops_at_more() {
    let r = md("First *paragraph*.\n\n<!-- more -->\n\nThe rest.\n", &config(""));
    assert_eq!(r.summary.as_deref(), Some("<p>First <em>paragraph</em>.</p>"));
    insta::assert_snapshot!(r.html);
    let inline = md("Cut *here <!-- more --> and* there.\n", &config(""));
    assert_eq!(inline.summary.as_deref(), Some("<p>Cut <em>here</em></p>"), "open tags are closed");
}

#[test]
fn lazy_images_keep_their_title_as_text_and_their_alt_without_markup() {
    let c = config("[markdown]\nlazy_async_image = true\n");
    let html = md("![an *essence* & `oil`](lav.png \"Lavender, \\\"fine\\\"\")", &c).html;
    assert_eq!(
        html.trim(),
        "<p><img src=\"https://shop.example/test/lav.png\" title=\"Lavender, &quot;fine&quot;\" alt=\"an essence &amp; oil\" loading=\"lazy\" decoding=\"async\" /></p>"
    );
}
