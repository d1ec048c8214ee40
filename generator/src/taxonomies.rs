//! Taxonomies: each declared kind, its terms, and the pages under each term.

use std::collections::BTreeMap;

use crate::config::{Config, TaxonomyConfig};
use crate::content::{Library, PageId};
use crate::slugs::{path_slug, Strategy};

/// One declared taxonomy and its terms.
#[derive(Debug, Clone)]
pub struct Taxonomy {
    /// Its configuration.
    pub config: TaxonomyConfig,
    /// URL segment.
    pub slug: String,
    /// `/humour/`.
    pub path: String,
    /// Full URL of the list page.
    pub permalink: String,
    /// Terms in slug order.
    pub terms: Vec<Term>,
    /// How its name and terms become URL segments (`[slugify] taxonomies`).
    pub strategy: Strategy,
    /// The language of its pages (each language has its own taxonomies).
    pub lang: String,
}

/// One term of a taxonomy.
#[derive(Debug, Clone)]
pub struct Term {
    /// As first written.
    pub name: String,
    /// URL segment.
    pub slug: String,
    /// `/humour/calming/`.
    pub path: String,
    /// Full URL.
    pub permalink: String,
    /// Its pages, newest first, undated last.
    pub pages: Vec<PageId>,
}

impl Taxonomy {
    /// The term with that name or slug.
    pub fn term(&self, name: &str) -> Option<&Term> {
        let slug = path_slug(name, self.strategy);
        self.terms.iter().find(|t| t.slug == slug)
    }
}

/// Gathers every declared taxonomy's terms from the rendered pages, language by language.
pub fn build(config: &Config, lib: &Library) -> Vec<Taxonomy> {
    config.language_codes().into_iter().flat_map(|lang| build_language(config, lib, lang)).collect()
}

fn build_language(config: &Config, lib: &Library, lang: &str) -> Vec<Taxonomy> {
    config
        .taxonomies_of(lang)
        .iter()
        .map(|tc| {
            let strategy = config.slugify.taxonomies;
            let slug = path_slug(&tc.name, strategy);
            let mut terms: BTreeMap<String, Term> = BTreeMap::new();
            // Few distinct names on many pages: slugify each once.
            let mut slugs: std::collections::HashMap<&str, String> = std::collections::HashMap::new();
            for (pid, page) in lib.pages.iter().enumerate() {
                if !page.renders() || page.file.lang != lang {
                    continue;
                }
                let Some(names) = page.meta.taxonomies.get(&tc.name) else {
                    continue;
                };
                for name in names {
                    let term_slug = slugs.entry(name.as_str()).or_insert_with(|| path_slug(name, strategy)).clone();
                    let term = terms.entry(term_slug.clone()).or_insert_with(|| {
                        let path = config.lang_path(lang, &format!("/{slug}/{term_slug}/"));
                        Term {
                            name: name.clone(),
                            slug: term_slug,
                            permalink: config.permalink(&path),
                            path,
                            pages: Vec::new(),
                        }
                    });
                    // Pages come in order, so a repeat can only be the last one.
                    if term.pages.last() != Some(&pid) {
                        term.pages.push(pid);
                    }
                }
            }
            let mut terms: Vec<Term> = terms.into_values().collect();
            for t in &mut terms {
                t.pages.sort_by(|&a, &b| {
                    let (a, b) = (&lib.pages[a], &lib.pages[b]);
                    match (&a.date, &b.date) {
                        (Some(x), Some(y)) => y.instant.cmp(&x.instant),
                        (Some(_), None) => std::cmp::Ordering::Less,
                        (None, Some(_)) => std::cmp::Ordering::Greater,
                        (None, None) => std::cmp::Ordering::Equal,
                    }
                    .then_with(|| a.permalink.cmp(&b.permalink))
                });
            }
            let path = config.lang_path(lang, &format!("/{slug}/"));
            let lang = lang.to_string();
            Taxonomy { config: tc.clone(), permalink: config.permalink(&path), path, slug, terms, strategy, lang }
        })
        .collect()
}
