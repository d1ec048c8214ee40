//! What each rendered output read, recorded while it renders, so an edit re-renders exactly the
//! outputs that depend on what changed. Template functions record into the current thread's
//! recorder; rendering an output runs on one thread from start to end.

use std::cell::RefCell;

use crate::content::{PageId, SectionId};

/// Something an output depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dep {
    /// A page's own fields and content.
    Page(PageId),
    /// A section's own fields and content.
    Section(SectionId),
    /// The list of a section's pages and everything in them.
    SectionPages(SectionId),
    /// A taxonomy: its terms and their pages.
    Taxonomy(usize),
    /// Only which terms a taxonomy has (their names and URLs).
    TaxonomyTerms(usize),
    /// Files read with `load_data`.
    Data,
    /// Files whose bytes an output read: hashed by `get_hash` or `get_url(cachebust=true)`,
    /// measured by `get_image_metadata` or resized by `resize_image`.
    Hashed,
    /// Every page (feeds, sitemap, search index).
    AllPages,
}

impl From<crate::content::Translated> for Dep {
    fn from(t: crate::content::Translated) -> Dep {
        match t {
            crate::content::Translated::Page(i) => Dep::Page(i),
            crate::content::Translated::Section(i) => Dep::Section(i),
        }
    }
}

thread_local! {
    static RECORDER: RefCell<Option<Vec<Dep>>> = const { RefCell::new(None) };
}

/// Notes that the output being rendered on this thread depends on `dep`.
pub fn record(dep: Dep) {
    RECORDER.with(|r| {
        if let Some(list) = r.borrow_mut().as_mut() {
            list.push(dep);
        }
    });
}

/// Runs `f`, returning what it recorded (sorted, without repeats).
pub fn capture<R>(f: impl FnOnce() -> R) -> (R, Vec<Dep>) {
    let previous = RECORDER.with(|r| r.borrow_mut().replace(Vec::new()));
    let out = f();
    let mut deps = RECORDER.with(|r| std::mem::replace(&mut *r.borrow_mut(), previous)).unwrap_or_default();
    deps.sort();
    deps.dedup();
    (out, deps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_nested() {
        let ((_, inner), outer) = capture(|| {
            record(Dep::Page(1));
            let r = capture(|| record(Dep::Data));
            record(Dep::Page(1));
            r
        });
        assert_eq!(inner, vec![Dep::Data]);
        assert_eq!(outer, vec![Dep::Page(1)]);
    }
}
