//! Slugs for paths, anchors and taxonomy terms, as Zola makes them: by default, and by the
//! strategies of `[slugify]`.

use serde::{Deserialize, Serialize};

/// `Provence Lavender!` → `provence-lavender`; accents are transliterated.
pub fn slugify(s: &str) -> String {
    slug::slugify(s)
}

/// How `[slugify]` makes paths, taxonomy terms or anchors from what is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Lower case, ASCII, words joined by dashes (the default).
    #[default]
    On,
    /// As written, less what a file name or URL cannot hold.
    Safe,
    /// As written.
    Off,
}

/// A path segment or taxonomy term by `strategy`: `safe` drops the characters Windows refuses
/// in file names (`<>:"/\|?*`) and trailing spaces and dots.
pub fn path_slug(s: &str, strategy: Strategy) -> String {
    match strategy {
        Strategy::On => slugify(s),
        Strategy::Safe => s.trim_end_matches([' ', '.']).chars().filter(|c| !r#"<>:"/\|?*"#.contains(*c)).collect(),
        Strategy::Off => s.to_string(),
    }
}

/// A heading's id by `strategy`: `safe` and `off` keep the text, its ASCII spaces made `_`.
pub fn anchor_slug(s: &str, strategy: Strategy) -> String {
    match strategy {
        Strategy::On => slugify(s),
        Strategy::Safe | Strategy::Off => s.replace(|c: char| c.is_ascii_whitespace(), "_"),
    }
}

/// A unique heading id: `notes`, then `notes-1`, `notes-2`…
pub fn unique_id(base: &str, taken: &mut Vec<String>) -> String {
    let base = if base.is_empty() { "section".to_string() } else { base.to_string() };
    let mut id = base.clone();
    let mut n = 1;
    while taken.contains(&id) {
        id = format!("{base}-{n}");
        n += 1;
    }
    taken.push(id.clone());
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategies_as_zola_documents_them() {
        for (input, on, safe, off) in [
            ("tes t", "tes-t", "tes t", "tes t"),
            ("dot. ", "dot", "dot", "dot. "),
            ("héhé", "hehe", "héhé", "héhé"),
            ("a<b>:c?", "a-b-c", "abc", "a<b>:c?"),
        ] {
            assert_eq!(path_slug(input, Strategy::On), on);
            assert_eq!(path_slug(input, Strategy::Safe), safe);
            assert_eq!(path_slug(input, Strategy::Off), off);
        }
        assert_eq!(anchor_slug("test (hey) ", Strategy::Safe), "test_(hey)_");
        assert_eq!(anchor_slug("Héhé ho", Strategy::On), "hehe-ho");
    }

    #[test]
    fn slugs() {
        assert_eq!(slugify("Provence Lavender!"), "provence-lavender");
        assert_eq!(slugify("Atelier Arôme"), "atelier-arome");
        let mut taken = Vec::new();
        assert_eq!(unique_id("a", &mut taken), "a");
        assert_eq!(unique_id("a", &mut taken), "a-1");
        assert_eq!(unique_id("a", &mut taken), "a-2");
    }
}
