//! Markdown to HTML: CommonMark with tables, footnotes, strikethrough, task lists and heading
//! attributes; heading ids and the table of contents; `@/` internal links; external link
//! attributes; shortcodes; the summary at `<!-- more -->`.

use std::collections::HashMap;
use std::path::Path;

use pulldown_cmark::{html, CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};
use serde_json::{Map, Value};

use crate::config::Config;
use crate::content::Heading;
use crate::error::{line_col, Diagnostic};
use crate::shortcodes::{self, Segment};
use crate::slugs::{anchor_slug, unique_id};

/// Which kind of template a shortcode has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShortcodeKind {
    /// `shortcodes/NAME.html`: its output is HTML placed as is.
    Html,
    /// `shortcodes/NAME.md`: its output is Markdown rendered with the page.
    Markdown,
}

/// Renders shortcode templates; implemented by the site's templates.
pub trait ShortcodeRenderer: Sync {
    /// The kind of the shortcode, or `None` when no template exists.
    fn kind(&self, name: &str) -> Option<ShortcodeKind>;
    /// Renders a call with its arguments and the page's context.
    fn render(
        &self,
        name: &str,
        args: &Map<String, Value>,
        nth: usize,
        body: Option<&str>,
        page: &Value,
    ) -> Result<String, String>;
}

/// Everything Markdown rendering needs to know about the site and the file.
pub struct MarkdownContext<'a> {
    /// Site configuration.
    pub config: &'a Config,
    /// Permalink of every page and section by relative path.
    pub permalinks: &'a HashMap<String, String>,
    /// The file, as shown in errors.
    pub file: &'a Path,
    /// The permalink of the page being rendered.
    pub permalink: &'a str,
    /// The file line the Markdown starts on.
    pub body_line: usize,
    /// Shortcode templates, when the site has any.
    pub shortcodes: Option<&'a dyn ShortcodeRenderer>,
    /// What shortcodes see as `page` or `section`.
    pub page_value: &'a Value,
    /// `none`, `left`, `right` or `heading`.
    pub insert_anchor_links: &'a str,
}

/// The result of rendering one file's Markdown.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    /// The HTML.
    pub html: String,
    /// HTML before `<!-- more -->`.
    pub summary: Option<String>,
    /// Nested table of contents.
    pub toc: Vec<Heading>,
    /// Every heading id.
    pub anchors: Vec<String>,
    /// `@/` links: target, anchor, line in the file.
    pub internal_links: Vec<(String, Option<String>, usize)>,
    /// External links with their line.
    pub external_links: Vec<(String, usize)>,
    /// Names of the shortcodes called.
    pub shortcodes: Vec<String>,
}

/// The one place pulldown-cmark's options are chosen.
pub fn options(config: &Config) -> Options {
    let mut o = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_HEADING_ATTRIBUTES;
    if config.markdown.smart_punctuation {
        o |= Options::ENABLE_SMART_PUNCTUATION;
    }
    if config.markdown.definition_list {
        o |= Options::ENABLE_DEFINITION_LIST;
    }
    if config.markdown.github_alerts {
        o |= Options::ENABLE_GFM;
    }
    o
}

const PH_OPEN: char = '\u{E000}';
const PH_CLOSE: char = '\u{E001}';
const MORE_SENTINEL: &str = "\u{E002}more\u{E002}";
const CONTINUE_READING: &str = "<span id=\"continue-reading\"></span>";

/// Words outside fenced code blocks, by Unicode's word boundaries as Zola counts them, and
/// minutes to read them at 200 a minute.
pub fn word_count(raw: &str) -> (usize, usize) {
    use unicode_segmentation::UnicodeSegmentation as _;
    let words: usize = raw.split("```").step_by(2).map(|t| t.unicode_words().count()).sum();
    (words, words.div_ceil(200))
}

/// Renders one file's Markdown.
pub fn render(raw: &str, ctx: &MarkdownContext<'_>) -> Result<Rendered, Vec<Diagnostic>> {
    let mut out = Rendered::default();
    let mut diagnostics = Vec::new();
    let mut placeholders: Vec<String> = Vec::new();
    let diag_at = |offset: usize, message: String| {
        let (line, col) = line_col(raw, offset);
        Diagnostic::at(ctx.file, ctx.body_line + line - 1, col, message)
    };

    // Shortcodes first: Markdown ones become text, HTML ones placeholders filled in at the end.
    let source: std::borrow::Cow<'_, str> = if shortcodes::may_contain(raw) {
        match shortcodes::parse(raw) {
            Err(e) => return Err(vec![diag_at(e.offset, e.message)]),
            Ok(segments) => {
                let mut text = String::with_capacity(raw.len());
                let mut counts: HashMap<String, usize> = HashMap::new();
                for seg in segments {
                    match seg {
                        Segment::Text(t) => text.push_str(&t),
                        Segment::Call(call) => {
                            let nth = {
                                let n = counts.entry(call.name.clone()).or_insert(0);
                                *n += 1;
                                *n
                            };
                            if !out.shortcodes.contains(&call.name) {
                                out.shortcodes.push(call.name.clone());
                            }
                            let Some(renderer) = ctx.shortcodes else {
                                diagnostics.push(diag_at(
                                    call.offset,
                                    format!("unknown shortcode `{}`: the site has no templates/shortcodes/", call.name),
                                ));
                                continue;
                            };
                            let Some(kind) = renderer.kind(&call.name) else {
                                diagnostics.push(diag_at(
                                    call.offset,
                                    format!(
                                        "unknown shortcode `{}`: no templates/shortcodes/{}.html or .md",
                                        call.name, call.name
                                    ),
                                ));
                                continue;
                            };
                            let body = call.body.as_deref().map(str::trim_end);
                            match renderer.render(&call.name, &call.args, nth, body, ctx.page_value) {
                                Err(m) => {
                                    diagnostics.push(diag_at(call.offset, format!("shortcode `{}`: {m}", call.name)))
                                }
                                Ok(html) if kind == ShortcodeKind::Html => {
                                    text.push(PH_OPEN);
                                    text.push_str(&placeholders.len().to_string());
                                    text.push(PH_CLOSE);
                                    placeholders.push(html.replace("\r\n", "\n"));
                                }
                                Ok(md) => text.push_str(&md),
                            }
                        }
                    }
                }
                text.into()
            }
        }
    } else {
        raw.into()
    };

    let parser = Parser::new_ext(&source, options(ctx.config));
    let events: Vec<(Event<'_>, std::ops::Range<usize>)> = parser.into_offset_iter().collect();
    let line_of = |needle: &str| -> usize {
        raw.find(needle).map(|o| ctx.body_line + line_col(raw, o).0 - 1).unwrap_or(ctx.body_line)
    };

    // Explicit ids are reserved before generated ones.
    let mut taken: Vec<String> = events
        .iter()
        .filter_map(|(e, _)| match e {
            Event::Start(Tag::Heading { id: Some(id), .. }) => Some(id.to_string()),
            _ => None,
        })
        .collect();
    let mut headings: Vec<(u32, String, String)> = Vec::new();
    let mut result: Vec<Event<'_>> = Vec::with_capacity(events.len());
    let mut heading_buf: Option<Vec<Event<'_>>> = None;
    let mut more_found = false;
    let mut in_fenced_code = false;
    // A fenced block being gathered for the highlighter: (fence info, code).
    let mut highlighted: Option<(String, String)> = None;
    // An image being written by hand (`lazy_async_image`): its address, title and alt text.
    let mut lazy_image: Option<(String, String, String)> = None;
    let emoji = ctx.config.markdown.render_emoji.then(gh_emoji::Replacer::new);
    let md = &ctx.config.markdown;

    for (event, _range) in events {
        if let Some(buf) = heading_buf.as_mut() {
            if let Event::End(TagEnd::Heading(_)) = event {
                let mut buf = heading_buf.take().unwrap_or_default();
                let Event::Start(Tag::Heading { level, id, classes, attrs }) = buf.remove(0) else {
                    unreachable!("a heading buffer starts with its heading")
                };
                let title: String = buf
                    .iter()
                    .filter_map(|e| match e {
                        Event::Text(t) | Event::Code(t) => Some(t.as_ref()),
                        _ => None,
                    })
                    .collect();
                let id = match id {
                    Some(id) => id.to_string(),
                    None => unique_id(&anchor_slug(&title, ctx.config.slugify.anchors), &mut taken),
                };
                let lvl = level as u32;
                headings.push((lvl, id.clone(), title));
                let anchor =
                    format!("<a class=\"zola-anchor\" href=\"#{id}\" aria-label=\"Anchor link for: {id}\">🔗</a>");
                result.push(Event::Start(Tag::Heading { level, id: Some(CowStr::from(id)), classes, attrs }));
                match ctx.insert_anchor_links {
                    "left" => result.push(Event::Html(anchor.clone().into())),
                    "heading" => result.push(Event::Html(anchor.trim_end_matches("🔗</a>").to_string().into())),
                    _ => {}
                }
                result.extend(buf);
                match ctx.insert_anchor_links {
                    "right" => result.push(Event::Html(anchor.into())),
                    "heading" => result.push(Event::Html("</a>".into())),
                    _ => {}
                }
                result.push(event);
            } else {
                // A link in a heading goes where the same link goes anywhere else.
                let event = match event {
                    Event::Start(Tag::Link { link_type, dest_url, title, id })
                        if dest_url.starts_with('#') || dest_url.starts_with("@/") =>
                    {
                        let dest = dest_url.to_string();
                        let url = match dest.strip_prefix("@/") {
                            None => format!("{}{dest}", ctx.permalink),
                            Some(target) => {
                                internal_link(target, &dest, ctx, raw, &mut out.internal_links, &mut diagnostics)
                                    .unwrap_or(dest.clone())
                            }
                        };
                        Event::Start(Tag::Link { link_type, dest_url: url.into(), title, id })
                    }
                    other => other,
                };
                buf.push(event);
            }
            continue;
        }
        match event {
            Event::Start(Tag::Heading { .. }) => heading_buf = Some(vec![event]),
            Event::Start(Tag::Link { link_type, dest_url, title, id }) => {
                let dest = dest_url.to_string();
                if let Some(target) = dest.strip_prefix("@/") {
                    let url = internal_link(target, &dest, ctx, raw, &mut out.internal_links, &mut diagnostics);
                    let url = url.unwrap_or_else(|| dest.clone());
                    result.push(Event::Start(Tag::Link { link_type, dest_url: url.into(), title, id }));
                } else if is_external(&dest) {
                    out.external_links.push((dest.clone(), line_of(&dest)));
                    // Zola marks every external link `rel="external"` (and the configured class).
                    if link_type != LinkType::Email {
                        let mut rel = Vec::new();
                        if md.external_links_target_blank {
                            rel.push("noopener");
                        }
                        if md.external_links_no_follow {
                            rel.push("nofollow");
                        }
                        if md.external_links_no_referrer {
                            rel.push("noreferrer");
                        }
                        rel.push("external");
                        let mut tag = String::from("<a ");
                        if let Some(class) = md.external_links_class.as_deref().filter(|c| !c.is_empty()) {
                            tag.push_str(&format!("class=\"{}\" ", escape_attr(class)));
                        }
                        tag.push_str(&format!("rel=\"{}\" ", rel.join(" ")));
                        if md.external_links_target_blank {
                            tag.push_str("target=\"_blank\" ");
                        }
                        if !title.is_empty() {
                            tag.push_str(&format!("title=\"{}\" ", escape_attr(&title)));
                        }
                        tag.push_str(&format!("href=\"{}\">", escape_attr(&dest)));
                        result.push(Event::Html(tag.into()));
                    } else {
                        result.push(Event::Start(Tag::Link { link_type, dest_url: dest.into(), title, id }));
                    }
                } else if dest.starts_with('#') {
                    // An in-page anchor is made absolute, as Zola makes it.
                    let url = format!("{}{dest}", ctx.permalink);
                    result.push(Event::Start(Tag::Link { link_type, dest_url: url.into(), title, id }));
                } else {
                    let url = colocated(&dest, ctx.permalink);
                    result.push(Event::Start(Tag::Link { link_type, dest_url: url.into(), title, id }));
                }
            }
            Event::Start(Tag::CodeBlock(kind)) if md.highlighting.is_some() => {
                // An indented block is highlighted too, as plain text.
                let info = match kind {
                    pulldown_cmark::CodeBlockKind::Fenced(info) => info.to_string(),
                    pulldown_cmark::CodeBlockKind::Indented => String::new(),
                };
                highlighted = Some((info, String::new()));
            }
            Event::Text(text) if highlighted.is_some() => {
                if let Some((_, code)) = highlighted.as_mut() {
                    code.push_str(&text);
                }
            }
            Event::End(TagEnd::CodeBlock) if highlighted.is_some() => {
                let (info, code) = highlighted.take().unwrap_or_default();
                let cfg = md.highlighting.as_ref().expect("checked by the guard");
                match crate::highlight::render(&info, &code, cfg) {
                    Ok(html) => result.push(Event::Html(html.into())),
                    Err(e) => diagnostics.push(Diagnostic::file(ctx.file, format!("highlighting `{info}`: {e}"))),
                }
            }
            Event::Start(Tag::CodeBlock(pulldown_cmark::CodeBlockKind::Fenced(info))) => {
                // Zola names the language in `data-lang` (the info string's first word, before
                // any `,options`), with no class.
                let lang = info.split([',', ' ']).next().unwrap_or("").trim();
                let open = if lang.is_empty() {
                    "<pre><code>".to_string()
                } else {
                    format!("<pre><code data-lang=\"{}\">", escape_attr(lang))
                };
                result.push(Event::Html(open.into()));
                in_fenced_code = true;
            }
            Event::End(TagEnd::CodeBlock) if in_fenced_code => {
                result.push(Event::Html("</code></pre>\n".into()));
                in_fenced_code = false;
            }
            Event::Text(text) if in_fenced_code => {
                result.push(Event::Html(escape_attr(&text).replace('\'', "&#39;").into()));
            }
            Event::Start(Tag::Image { dest_url, title, .. }) if md.lazy_async_image => {
                lazy_image = Some((colocated(&dest_url, ctx.permalink), title.to_string(), String::new()));
            }
            Event::Text(text) | Event::Code(text) if lazy_image.is_some() => {
                if let Some((_, _, alt)) = lazy_image.as_mut() {
                    alt.push_str(&text);
                }
            }
            Event::End(TagEnd::Image) if lazy_image.is_some() => {
                let (src, title, alt) = lazy_image.take().unwrap_or_default();
                let title =
                    if title.is_empty() { String::new() } else { format!(" title=\"{}\"", escape_attr(&title)) };
                result.push(Event::Html(
                    format!(
                        "<img src=\"{}\"{title} alt=\"{}\" loading=\"lazy\" decoding=\"async\" />",
                        escape_attr(&src),
                        escape_attr(&alt)
                    )
                    .into(),
                ));
            }
            // Inside the image, markup (emphasis, code) gives its text only to the alt text.
            _ if lazy_image.is_some() => {}
            Event::Start(Tag::Image { link_type, dest_url, title, id }) => {
                let url = colocated(&dest_url, ctx.permalink);
                result.push(Event::Start(Tag::Image { link_type, dest_url: url.into(), title, id }));
            }
            Event::Text(text) if emoji.is_some() && text.contains(':') => {
                let replaced = emoji.as_ref().map(|r| r.replace_all(&text).into_owned()).unwrap_or_default();
                result.push(Event::Text(replaced.into()));
            }
            Event::Html(ref h) | Event::InlineHtml(ref h) if !more_found && is_more(h) => {
                more_found = true;
                let replaced = replace_more(h);
                result.push(match event {
                    Event::Html(_) => Event::Html(replaced.into()),
                    _ => Event::InlineHtml(replaced.into()),
                });
            }
            other => result.push(other),
        }
    }

    if md.bottom_footnotes {
        result = bottom_footnotes(result);
    }
    let mut html_out = String::with_capacity(source.len() * 3 / 2);
    html::push_html(&mut html_out, result.into_iter());

    if !placeholders.is_empty() {
        html_out = fill_placeholders(&html_out, &placeholders);
    }
    if let Some(at) = html_out.find(MORE_SENTINEL) {
        let summary = strip_footnote_refs(html_out[..at].trim_end());
        out.summary = Some(close_open_tags(&summary));
        html_out = html_out.replacen(MORE_SENTINEL, CONTINUE_READING, 1);
    }
    out.html = html_out;
    out.anchors = headings.iter().map(|(_, id, _)| id.clone()).collect();
    out.toc = build_toc(&headings, ctx.permalink);
    if diagnostics.is_empty() {
        Ok(out)
    } else {
        Err(diagnostics)
    }
}

/// Zola's `bottom_footnotes`: each reference numbered by the first reference to its note and
/// given an id of its own (`fr-NAME-K`), the notes taken from where they are written and listed
/// at the end in that order, each ending with a link back to every reference (`↩`, `↩2`, …);
/// a note nobody refers to is left out.
fn bottom_footnotes(events: Vec<Event<'_>>) -> Vec<Event<'_>> {
    let mut main = Vec::with_capacity(events.len());
    let mut notes: HashMap<String, Vec<Event<'_>>> = HashMap::new();
    let mut current: Option<(String, Vec<Event<'_>>)> = None;
    // Names in the order of their first reference, and how often each is referred to.
    let mut order: Vec<String> = Vec::new();
    let mut refs: HashMap<String, usize> = HashMap::new();
    for event in events {
        match event {
            Event::Start(Tag::FootnoteDefinition(name)) => current = Some((name.to_string(), Vec::new())),
            Event::End(TagEnd::FootnoteDefinition) => {
                if let Some((name, body)) = current.take() {
                    notes.insert(name, body);
                }
            }
            other if current.is_some() => {
                if let Some((_, body)) = current.as_mut() {
                    body.push(other);
                }
            }
            Event::FootnoteReference(name) => {
                let name = name.to_string();
                if !refs.contains_key(&name) {
                    order.push(name.clone());
                }
                let k = refs.entry(name.clone()).or_insert(0);
                *k += 1;
                let number = order.iter().position(|n| *n == name).map_or(0, |i| i + 1);
                let id = escape_attr(&name);
                main.push(Event::Html(
                    format!(
                        "<sup class=\"footnote-reference\" id=\"fr-{id}-{k}\"><a href=\"#fn-{id}\">{number}</a></sup>"
                    )
                    .into(),
                ));
            }
            other => main.push(other),
        }
    }
    let listed: Vec<&String> = order.iter().filter(|n| notes.contains_key(*n)).collect();
    if listed.is_empty() {
        return main;
    }
    let mut section = String::from("<section class=\"footnotes\">\n<ol class=\"footnotes-list\">\n");
    for name in listed {
        let id = escape_attr(name);
        let mut body = String::new();
        html::push_html(&mut body, notes.remove(name).unwrap_or_default().into_iter());
        let back = (1..=refs.get(name).copied().unwrap_or(1))
            .map(|k| {
                let mark = if k == 1 { "↩".to_string() } else { format!("↩{k}") };
                format!("<a href=\"#fr-{id}-{k}\">{mark}</a>")
            })
            .collect::<Vec<_>>()
            .join(" ");
        match body.strip_suffix("</p>\n") {
            Some(open) => body = format!("{open} {back}</p>\n"),
            None => body.push_str(&format!(" {back}")),
        }
        section.push_str(&format!("<li id=\"fn-{id}\">\n{body}</li>\n"));
    }
    section.push_str("</ol>\n</section>\n");
    main.push(Event::Html(section.into()));
    main
}

fn is_external(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
}

/// The address of an `@/` link (`target` is what follows `@/`, `dest` the link as written),
/// recorded among the page's internal links; a link to no file is reported and gives `None`.
fn internal_link(
    target: &str,
    dest: &str,
    ctx: &MarkdownContext<'_>,
    raw: &str,
    links: &mut Vec<(String, Option<String>, usize)>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<String> {
    let (file, anchor) = match target.split_once('#') {
        Some((f, a)) => (f, Some(a.to_string())),
        None => (target, None),
    };
    let found = raw.find(dest).map(|o| line_col(raw, o));
    let Some(permalink) = ctx.permalinks.get(file) else {
        let (l, c) = found.unwrap_or((1, 1));
        diagnostics.push(Diagnostic::at(
            ctx.file,
            ctx.body_line + l - 1,
            c,
            format!("broken internal link `{dest}`: there is no content/{file}"),
        ));
        return None;
    };
    let line = found.map(|(l, _)| ctx.body_line + l - 1).unwrap_or(ctx.body_line);
    let url = match &anchor {
        Some(a) => format!("{permalink}#{a}"),
        None => permalink.clone(),
    };
    links.push((file.to_string(), anchor, line));
    Some(url)
}

/// Relative links of a page bundle point next to the page.
fn colocated(dest: &str, permalink: &str) -> String {
    let relative = !dest.is_empty()
        && !dest.starts_with('/')
        && !dest.starts_with('#')
        && !dest.starts_with("..")
        && !dest.starts_with("@/")
        && !dest.contains(':');
    if relative {
        format!("{}{}", permalink, dest)
    } else {
        dest.to_string()
    }
}

fn is_more(html: &str) -> bool {
    find_more(html).is_some()
}

/// Finds `<!-- more -->` (any case, any inner spacing).
fn find_more(html: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(i) = html[from..].find("<!--") {
        let start = from + i;
        let rest = &html[start + 4..];
        let end = rest.find("-->")?;
        if rest[..end].trim().eq_ignore_ascii_case("more") {
            return Some((start, start + 4 + end + 3));
        }
        from = start + 4;
    }
    None
}

fn replace_more(html: &str) -> String {
    match find_more(html) {
        // Nothing follows the marker on its line in Zola's output (not even the newline).
        Some((a, b)) => {
            let after = &html[b..];
            format!("{}{}{}", &html[..a], MORE_SENTINEL, if after.trim().is_empty() { "" } else { after })
        }
        None => html.to_string(),
    }
}

fn fill_placeholders(html: &str, placeholders: &[String]) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find(PH_OPEN) {
        let after = &rest[i + PH_OPEN.len_utf8()..];
        let Some(j) = after.find(PH_CLOSE) else { break };
        let Some(content) = after[..j].parse::<usize>().ok().and_then(|n| placeholders.get(n)) else {
            out.push_str(&rest[..i + PH_OPEN.len_utf8()]);
            rest = after;
            continue;
        };
        let tail = &after[j + PH_CLOSE.len_utf8()..];
        // A shortcode alone in its paragraph replaces the paragraph. As in Zola, a block after it
        // starts on a new line only when the shortcode did not end one, and a heading (which Zola
        // writes itself) never adds one.
        let before = &rest[..i];
        if before.ends_with("<p>") && tail.starts_with("</p>") {
            out.push_str(&before[..before.len() - 3]);
            out.push_str(content);
            let after = &tail[4..];
            let heading =
                |t: &str| t.starts_with("<h") && t.as_bytes().get(2).is_some_and(|b| (b'1'..=b'6').contains(b));
            rest = match after.strip_prefix('\n') {
                Some(next) if content.ends_with('\n') || heading(next) => next,
                _ => after,
            };
        } else {
            out.push_str(before);
            out.push_str(content);
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

fn strip_footnote_refs(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find("<sup class=\"footnote-reference\"") {
        out.push_str(&rest[..i]);
        match rest[i..].find("</sup>") {
            Some(j) => rest = &rest[i + j + 6..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

const VOID: &[&str] =
    &["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"];

/// Closes the elements a cut summary leaves open.
pub fn close_open_tags(html: &str) -> String {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let Some(end) = rest.find('>') else { break };
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') || tag.starts_with('?') || tag.ends_with('/') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let name = name.trim().to_ascii_lowercase();
            if let Some(pos) = stack.iter().rposition(|t| *t == name) {
                stack.truncate(pos);
            }
        } else {
            let name: String =
                tag.chars().take_while(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
            if !name.is_empty() && !VOID.contains(&name.as_str()) {
                stack.push(name);
            }
        }
    }
    let mut out = html.to_string();
    for name in stack.iter().rev() {
        out.push_str(&format!("</{name}>"));
    }
    out
}

fn build_toc(headings: &[(u32, String, String)], permalink: &str) -> Vec<Heading> {
    fn insert(list: &mut Vec<Heading>, h: Heading) {
        if let Some(last) = list.last_mut() {
            if h.level > last.level {
                insert(&mut last.children, h);
                return;
            }
        }
        list.push(h);
    }
    let mut toc = Vec::new();
    for (level, id, title) in headings {
        insert(
            &mut toc,
            Heading {
                level: *level,
                id: id.clone(),
                permalink: format!("{permalink}#{id}"),
                title: title.clone(),
                children: Vec::new(),
            },
        );
    }
    toc
}

/// Escapes text for an HTML attribute.
pub fn escape_attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Renders Markdown with no page around it (the `markdown` filter): site options, `@/` links
/// resolved when known, no shortcodes.
pub fn render_plain(
    text: &str,
    config: &Config,
    permalinks: &HashMap<String, String>,
    inline: bool,
) -> Result<String, String> {
    let ctx = MarkdownContext {
        config,
        permalinks,
        file: Path::new("<markdown filter>"),
        permalink: "",
        body_line: 1,
        shortcodes: None,
        page_value: &Value::Null,
        insert_anchor_links: "none",
    };
    let html = render(text, &ctx).map_err(|d| d.iter().map(|d| d.message.clone()).collect::<Vec<_>>().join("; "))?.html;
    if inline {
        let t = html.trim_end();
        if let Some(inner) = t.strip_prefix("<p>").and_then(|s| s.strip_suffix("</p>")) {
            if !inner.contains("<p>") {
                return Ok(inner.to_string());
            }
        }
    }
    Ok(html)
}

/// Runs one text through every parser an editor's file meets, discarding the results: the
/// entry point of the fuzz target and of the randomized test that stands in for it in CI.
pub fn exercise(text: &str) {
    use crate::front_matter::{parse, split, PageFrontMatter, SectionFrontMatter};
    let file = Path::new("content/fuzz.md");
    if let Ok(s) = split(file, text) {
        let _ = parse::<PageFrontMatter>(file, &s);
        let _ = parse::<SectionFrontMatter>(file, &s);
        let _ = crate::front_matter::locate_field(&s, "extra.sizes[1].price");
    }
    let _ = crate::shortcodes::parse(text);
    let config = Config { base_url: "https://fuzz.example".into(), ..Config::default() };
    let permalinks: HashMap<String, String> = [("a.md".to_string(), "https://fuzz.example/a/".to_string())].into();
    let ctx = MarkdownContext {
        config: &config,
        permalinks: &permalinks,
        file,
        permalink: "https://fuzz.example/fuzz/",
        body_line: 1,
        shortcodes: None,
        page_value: &Value::Null,
        insert_anchor_links: "left",
    };
    let _ = render(text, &ctx);
    let _ = word_count(text);
}

#[cfg(test)]
mod tests {
    use super::word_count;

    #[test]
    fn counts_words_outside_code() {
        assert_eq!(word_count("Don’t distil the rose’s heart — it's 2 words? No: more.").0, 10);
        assert_eq!(word_count("one two\n```\nlet x = 1;\n```\nthree").0, 3);
        assert_eq!(word_count(&"word ".repeat(401)), (401, 3));
        assert_eq!(word_count(""), (0, 0));
    }
}
