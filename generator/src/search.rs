//! The static search index, in Fuse's JSON (or JavaScript) form: one entry per indexed section
//! and page, with the text of its content stripped of markup. An essence's entry also carries
//! what a shopper searches it by: its Latin and other names, taxonomy terms, sizes and price.

use serde::Serialize;

use crate::error::{Diagnostic, Error, Result};
use crate::site::Site;

#[derive(Serialize)]
struct Entry<'a> {
    url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    essence: Option<EssenceFields<'a>>,
}

/// The fields of an essence's entry (only the shop's pages have them, so a Zola site's index is
/// Zola's).
#[derive(Serialize)]
struct EssenceFields<'a> {
    kind: &'static str,
    latin_name: &'a str,
    /// Other names it is known by (`extra.names`: the French common name, a trade name).
    names: Vec<&'a str>,
    /// Every taxonomy term it is filed under.
    terms: Vec<&'a str>,
    sizes: Vec<&'a str>,
    /// The "from" price as shown, `€42.00`.
    price: String,
}

fn essence_fields(p: &crate::content::Page) -> Option<EssenceFields<'_>> {
    let e = p.essence.as_ref()?;
    let names = p
        .meta
        .extra
        .get("names")
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    Some(EssenceFields {
        kind: "essence",
        latin_name: &e.latin_name,
        names,
        terms: p.meta.taxonomies.values().flatten().map(String::as_str).collect(),
        sizes: e.sizes.iter().map(|s| s.label.as_str()).collect(),
        price: e.price.to_string(),
    })
}

/// The search index file's text.
pub fn index(site: &Site) -> Result<String> {
    let opts = &site.config.search;
    let javascript = match opts.index_format.as_str() {
        "fuse_json" => false,
        "fuse_javascript" => true,
        other => {
            return Err(Error::one(Diagnostic::file(
                "config.toml",
                format!("[search] index_format `{other}` is not supported: use \"fuse_json\" or \"fuse_javascript\""),
            )))
        }
    };
    let lib = &site.library;
    let mut entries = Vec::new();
    let mut sections: Vec<usize> = (0..lib.sections.len()).collect();
    sections.sort_by(|&a, &b| lib.sections[a].file.relative.cmp(&lib.sections[b].file.relative));
    for sid in sections {
        let s = &lib.sections[sid];
        if !s.meta.in_search_index {
            continue;
        }
        if s.meta.redirect_to.is_none() && s.meta.render {
            entries.push(Entry {
                url: &s.permalink,
                title: opts.include_title.then(|| s.meta.title.as_deref().unwrap_or("")),
                description: opts.include_description.then(|| s.meta.description.as_deref().unwrap_or("")),
                body: opts.include_content.then(|| clean_body(&s.content, opts.truncate_content_length)),
                path: opts.include_path.then_some(s.path.as_str()),
                essence: None,
            });
        }
        for &pid in &s.pages {
            let p = &lib.pages[pid];
            if !p.meta.in_search_index || p.section != Some(sid) {
                continue;
            }
            entries.push(Entry {
                url: &p.permalink,
                title: opts.include_title.then(|| p.meta.title.as_deref().unwrap_or("")),
                description: opts.include_description.then(|| p.meta.description.as_deref().unwrap_or("")),
                body: opts.include_content.then(|| clean_body(&p.content, opts.truncate_content_length)),
                path: opts.include_path.then_some(p.path.as_str()),
                essence: essence_fields(p),
            });
        }
    }
    let json = serde_json::to_string(&entries).unwrap_or_else(|_| "[]".into());
    Ok(if javascript { format!("window.searchIndex = {json};") } else { json })
}

/// Text of an HTML fragment: tags removed, `script`, `style` and `pre` dropped with their
/// content, whitespace collapsed per line, empty lines dropped, cut at `limit` characters.
pub fn clean_body(html: &str, limit: Option<usize>) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        text.push_str(&rest[..i]);
        rest = &rest[i..];
        let lower: String = rest.chars().take(8).collect::<String>().to_ascii_lowercase();
        let skip_to = ["script", "style", "pre"].iter().find(|t| {
            lower.starts_with(&format!("<{t}")) && {
                let after = &lower[1 + t.len()..];
                after.is_empty() || after.starts_with([' ', '>', '\n', '\t'])
            }
        });
        if let Some(tag) = skip_to {
            let close = format!("</{tag}>");
            match rest.to_ascii_lowercase().find(&close) {
                Some(j) => rest = &rest[j + close.len()..],
                None => rest = "",
            }
            continue;
        }
        match rest.find('>') {
            Some(j) => rest = &rest[j + 1..],
            None => rest = "",
        }
    }
    text.push_str(rest);
    let text = decode_entities(&text);
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let collapsed = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if collapsed.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&collapsed);
    }
    match limit {
        Some(n) => out.chars().take(n).collect(),
        None => out,
    }
}

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::clean_body;

    #[test]
    fn strips_markup_and_code() {
        let html = "<h1 id=\"a\">Title</h1>\n<p>Some <em>text</em> &amp; more</p>\n<pre><code>let x = 1;</code></pre>\n<p>  end  </p>";
        assert_eq!(clean_body(html, None), "Title\nSome text & more\nend");
        assert_eq!(clean_body(html, Some(5)), "Title");
    }
}
