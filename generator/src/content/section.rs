use super::{FileInfo, Heading, PageId, SectionId};
use crate::front_matter::SectionFrontMatter;

/// A section: a folder with an `_index.md`.
#[derive(Debug, Clone)]
pub struct Section {
    /// Where it comes from; `synthetic` root sections have no file.
    pub file: FileInfo,
    /// Its front matter.
    pub meta: SectionFrontMatter,
    /// The raw Markdown after the front matter.
    pub raw: String,
    /// The file line the Markdown starts on.
    pub body_line: usize,
    /// The site path: `/compendium/`.
    pub path: String,
    /// The full URL.
    pub permalink: String,
    /// Rendered HTML.
    pub content: String,
    /// Table of contents.
    pub toc: Vec<Heading>,
    /// Every heading id.
    pub anchors: Vec<String>,
    /// Words outside code fences.
    pub word_count: usize,
    /// Minutes at 200 words a minute.
    pub reading_time: usize,
    /// Files in the section's folder, as site paths.
    pub assets: Vec<String>,
    /// Its pages in order, transparent subsections' pages included.
    pub pages: Vec<PageId>,
    /// Its pages that lack the sort key: not listed, not rendered.
    pub ignored_pages: Vec<PageId>,
    /// Its subsections by weight.
    pub subsections: Vec<SectionId>,
    /// The section above it.
    pub parent: Option<SectionId>,
    /// Relative paths of the sections above it, root first.
    pub ancestors: Vec<String>,
    /// `@/` links found in its Markdown.
    pub internal_links: Vec<(String, Option<String>, usize)>,
    /// External links found in its Markdown.
    pub external_links: Vec<(String, usize)>,
    /// Shortcodes its Markdown calls.
    pub shortcodes: Vec<String>,
    /// Made up for a folder without `_index.md` at the root.
    pub synthetic: bool,
}

impl Section {
    /// The title, or empty.
    pub fn title(&self) -> &str {
        self.meta.title.as_deref().unwrap_or("")
    }

    /// The pagination segment.
    pub fn paginate_path(&self) -> &str {
        &self.meta.paginate_path
    }
}
