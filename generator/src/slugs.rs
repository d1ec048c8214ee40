//! Slugs for paths, anchors and taxonomy terms, as Zola makes them by default.

/// `Provence Lavender!` → `provence-lavender`; accents are transliterated.
pub fn slugify(s: &str) -> String {
    slug::slugify(s)
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
    fn slugs() {
        assert_eq!(slugify("Provence Lavender!"), "provence-lavender");
        assert_eq!(slugify("Atelier Arôme"), "atelier-arome");
        let mut taken = Vec::new();
        assert_eq!(unique_id("a", &mut taken), "a");
        assert_eq!(unique_id("a", &mut taken), "a-1");
        assert_eq!(unique_id("a", &mut taken), "a-2");
    }
}
