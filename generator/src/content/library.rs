use std::collections::HashMap;

use super::{sort_pages, Page, Section};
use crate::error::{Diagnostic, Error, Result};

/// Index of a page in [`Library::pages`].
pub type PageId = usize;
/// Index of a section in [`Library::sections`].
pub type SectionId = usize;

/// Every page and section of the site, linked: hierarchy, order, siblings.
#[derive(Debug, Clone, Default)]
pub struct Library {
    /// All pages.
    pub pages: Vec<Page>,
    /// All sections.
    pub sections: Vec<Section>,
    /// Page by relative path (`compendium/lavender.md`).
    pub page_index: HashMap<String, PageId>,
    /// Section by relative path (`compendium/_index.md`).
    pub section_index: HashMap<String, SectionId>,
    /// Pages in no section.
    pub orphans: Vec<PageId>,
    /// On a multilingual site, its default language; `None` on a site of one language.
    pub default_language: Option<String>,
    /// A multilingual site's pages and sections by what their translations share
    /// ([`FileInfo::canonical`](super::FileInfo)), each list in language order (default first).
    pub translations: HashMap<String, Vec<Translated>>,
}

/// One of the translations of a page or section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Translated {
    /// A page.
    Page(PageId),
    /// A section.
    Section(SectionId),
}

impl Library {
    /// Links loaded pages and sections: parents, ancestors, sorted page lists, siblings; and
    /// checks that no two things claim the same path. `default_language` is given on a
    /// multilingual site (its pages then list their translations).
    pub fn link(mut pages: Vec<Page>, mut sections: Vec<Section>, default_language: Option<&str>) -> Result<Library> {
        pages.sort_by(|a, b| a.file.relative.cmp(&b.file.relative));
        sections.sort_by(|a, b| a.file.relative.cmp(&b.file.relative));
        let default_language = default_language.map(str::to_string);
        let mut lib = Library { pages, sections, default_language, ..Library::default() };
        lib.reindex();
        lib.relink();
        lib.check_collisions()?;
        Ok(lib)
    }

    fn reindex(&mut self) {
        self.page_index = self.pages.iter().enumerate().map(|(i, p)| (p.file.relative.clone(), i)).collect();
        self.section_index = self.sections.iter().enumerate().map(|(i, s)| (s.file.relative.clone(), i)).collect();
        self.translations.clear();
        let Some(default) = self.default_language.clone() else { return };
        for (i, p) in self.pages.iter().enumerate() {
            self.translations.entry(p.file.canonical.clone()).or_default().push(Translated::Page(i));
        }
        for (i, s) in self.sections.iter().enumerate() {
            self.translations.entry(s.file.canonical.clone()).or_default().push(Translated::Section(i));
        }
        let pages = &self.pages;
        let sections = &self.sections;
        let lang = |t: &Translated| match *t {
            Translated::Page(i) => pages[i].file.lang.as_str(),
            Translated::Section(i) => sections[i].file.lang.as_str(),
        };
        for list in self.translations.values_mut() {
            list.sort_by_key(|t| (lang(t) != default, lang(t).to_string()));
        }
    }

    /// The translations of a page or section (itself included), in language order; none on a
    /// site of one language.
    pub fn translations_of(&self, canonical: &str) -> &[Translated] {
        self.translations.get(canonical).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Recomputes hierarchy, order and siblings, after pages were added or their sort keys changed.
    pub fn relink(&mut self) {
        for s in &mut self.sections {
            s.pages.clear();
            s.ignored_pages.clear();
            s.subsections.clear();
            s.parent = None;
        }
        self.orphans.clear();
        for i in 0..self.sections.len() {
            // Each language's home is a root.
            if self.sections[i].file.components.is_empty() {
                continue;
            }
            let parent = self.section_index.get(&self.sections[i].file.parent_section).copied();
            self.sections[i].parent = parent;
            if let Some(p) = parent {
                self.sections[p].subsections.push(i);
            }
        }
        for i in 0..self.sections.len() {
            let mut ancestors = Vec::new();
            let mut cur = self.sections[i].parent;
            while let Some(c) = cur {
                ancestors.push(self.sections[c].file.relative.clone());
                cur = self.sections[c].parent;
            }
            ancestors.reverse();
            self.sections[i].ancestors = ancestors;
            let mut subs = std::mem::take(&mut self.sections[i].subsections);
            subs.sort_by_key(|&s| (self.sections[s].meta.weight, self.sections[s].file.relative.clone()));
            self.sections[i].subsections = subs;
        }
        // Each page goes to its own section, and on up through transparent ones.
        let mut members: Vec<Vec<PageId>> = vec![Vec::new(); self.sections.len()];
        for (pid, page) in self.pages.iter_mut().enumerate() {
            page.lower = None;
            page.higher = None;
            if !page.meta.render {
                // As Zola: in no section's list, written nowhere.
                page.section = None;
                page.ancestors = Vec::new();
                continue;
            }
            match self.section_index.get(&page.file.parent_section) {
                Some(&sid) => {
                    page.section = Some(sid);
                    let s = &self.sections[sid];
                    let mut anc = s.ancestors.clone();
                    anc.push(s.file.relative.clone());
                    page.ancestors = anc;
                    let mut cur = Some(sid);
                    while let Some(c) = cur {
                        members[c].push(pid);
                        cur = if self.sections[c].meta.transparent { self.sections[c].parent } else { None };
                    }
                }
                None => {
                    page.section = None;
                    page.ancestors = Vec::new();
                    self.orphans.push(pid);
                }
            }
        }
        for (sid, ids) in members.into_iter().enumerate() {
            let (sorted, ignored) = sort_pages(&ids, &self.pages, self.sections[sid].meta.sort_by);
            self.sections[sid].pages = sorted;
            self.sections[sid].ignored_pages = ignored;
        }
        for page in &mut self.pages {
            page.listed = page.meta.render;
        }
        for sid in 0..self.sections.len() {
            for &pid in &self.sections[sid].ignored_pages {
                if self.pages[pid].section == Some(sid) {
                    self.pages[pid].listed = false;
                }
            }
            // As Zola: pages of an unsorted section have no neighbours.
            if self.sections[sid].meta.transparent
                || self.sections[sid].meta.sort_by == crate::front_matter::SortBy::None
            {
                continue;
            }
            let list = self.sections[sid].pages.clone();
            for (i, &pid) in list.iter().enumerate() {
                self.pages[pid].lower = i.checked_sub(1).map(|j| list[j]);
                self.pages[pid].higher = list.get(i + 1).copied();
            }
        }
    }

    fn check_collisions(&self) -> Result<()> {
        let mut seen: HashMap<&str, &str> = HashMap::new();
        let mut diagnostics = Vec::new();
        let mut entries: Vec<(&str, &str)> = Vec::new();
        for s in &self.sections {
            if s.meta.render {
                entries.push((s.path.as_str(), s.file.relative.as_str()));
            }
        }
        for p in self.pages.iter().filter(|p| p.renders()) {
            entries.push((p.path.as_str(), p.file.relative.as_str()));
        }
        for (path, by) in entries {
            if let Some(other) = seen.insert(path, by) {
                diagnostics.push(Diagnostic::file(
                    format!("content/{by}"),
                    format!("its path {path} is also the path of content/{other}: set a different `slug` or `path`"),
                ));
            }
        }
        if diagnostics.is_empty() {
            Ok(())
        } else {
            Err(Error::Site(diagnostics))
        }
    }

    /// The page at a relative path.
    pub fn page(&self, relative: &str) -> Option<&Page> {
        self.page_index.get(relative).map(|&i| &self.pages[i])
    }

    /// The section at a relative path.
    pub fn section(&self, relative: &str) -> Option<&Section> {
        self.section_index.get(relative).map(|&i| &self.sections[i])
    }

    /// Permalink of every page and section by relative path, for `@/` links.
    pub fn permalinks(&self) -> HashMap<String, String> {
        let mut map = HashMap::with_capacity(self.pages.len() + self.sections.len());
        for p in &self.pages {
            map.insert(p.file.relative.clone(), p.permalink.clone());
        }
        for s in &self.sections {
            map.insert(s.file.relative.clone(), s.permalink.clone());
        }
        map
    }
}
