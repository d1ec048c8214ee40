//! The site's content: pages and sections read from `content/`, linked into a [`Library`].

mod library;
mod load;
mod page;
mod section;
mod sorting;

pub use library::{Library, PageId, SectionId, Translated};
pub use load::{load, LoadOptions};
pub(crate) use load::{page_split, read_file, Loaded};
pub use page::Page;
pub use section::Section;
pub use sorting::sort_pages;

use std::path::PathBuf;

/// Where a content file sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// Absolute path on disk.
    pub path: PathBuf,
    /// Path relative to `content/` with `/` separators: `compendium/lavender.md`.
    pub relative: String,
    /// The folders between `content/` and the file (the bundle folder excluded for bundles).
    pub components: Vec<String>,
    /// The name used for the slug: the file stem, or the folder name of a bundle.
    pub name: String,
    /// The folder of a page bundle relative to `content/`, ending with `/`.
    pub colocated: Option<String>,
    /// The relative path of the `_index.md` of the folder the file is in, if any.
    pub parent_section: String,
    /// Its language: the default one, or the one its name ends with (`about.fr.md`).
    pub lang: String,
    /// The relative path without `.md` and without the language: what its translations share.
    pub canonical: String,
}

/// A heading in a table of contents.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Heading {
    /// 1 to 6.
    pub level: u32,
    /// The anchor id.
    pub id: String,
    /// The page permalink plus `#id`.
    pub permalink: String,
    /// The heading's text.
    pub title: String,
    /// Headings nested under this one.
    pub children: Vec<Heading>,
}
