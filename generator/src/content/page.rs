use atelier_domain::Essence;

use super::{FileInfo, Heading, SectionId};
use crate::dates::PageDate;
use crate::front_matter::PageFrontMatter;

/// A page: one Markdown file and what it renders to.
#[derive(Debug, Clone)]
pub struct Page {
    /// Where it comes from.
    pub file: FileInfo,
    /// Its front matter.
    pub meta: PageFrontMatter,
    /// The raw Markdown after the front matter; emptied once rendered.
    pub raw: String,
    /// The file line the Markdown starts on.
    pub body_line: usize,
    /// The front matter text, kept to locate fields in later errors.
    pub front_matter: String,
    /// 1-based line of the front matter's first line.
    pub front_matter_line: usize,
    /// Date from front matter or file name.
    pub date: Option<PageDate>,
    /// Update date from front matter.
    pub updated: Option<PageDate>,
    /// The slug.
    pub slug: String,
    /// The site path: `/compendium/lavender/`.
    pub path: String,
    /// The full URL.
    pub permalink: String,
    /// Rendered HTML.
    pub content: String,
    /// Rendered HTML before `<!-- more -->`.
    pub summary: Option<String>,
    /// Table of contents.
    pub toc: Vec<Heading>,
    /// Every heading id, for anchor checks.
    pub anchors: Vec<String>,
    /// Words outside code fences.
    pub word_count: usize,
    /// Minutes at 200 words a minute.
    pub reading_time: usize,
    /// Files of a page bundle, as site paths.
    pub assets: Vec<String>,
    /// The section the page belongs to, if any.
    pub section: Option<SectionId>,
    /// Relative paths of the sections above it, root first.
    pub ancestors: Vec<String>,
    /// Previous page in its section's order.
    pub lower: Option<super::PageId>,
    /// Next page in its section's order.
    pub higher: Option<super::PageId>,
    /// `@/` links found in its Markdown: (target relative path, anchor, line).
    pub internal_links: Vec<(String, Option<String>, usize)>,
    /// External links found in its Markdown, with line.
    pub external_links: Vec<(String, usize)>,
    /// Shortcodes its Markdown calls, for incremental rebuilds.
    pub shortcodes: Vec<String>,
    /// The essence, for Compendium pages.
    pub essence: Option<Essence>,
    /// Whether the page sorts in its section (has the sort key).
    pub listed: bool,
    /// Front-matter keys that are none of Zola's, with their lines: ignored, and warned of.
    pub unknown_keys: Vec<(String, usize)>,
}

impl Page {
    /// The title, or empty.
    pub fn title(&self) -> &str {
        self.meta.title.as_deref().unwrap_or("")
    }

    /// Whether this page is rendered to a file.
    pub fn renders(&self) -> bool {
        self.listed
    }
}
