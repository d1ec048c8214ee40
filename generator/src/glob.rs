//! The small glob language of `ignored_content`: `*` within a path segment, `**` across
//! segments, `?` one character. A pattern without `/` matches the file name anywhere.

/// A compiled glob pattern.
#[derive(Debug, Clone)]
pub struct Glob {
    pattern: Vec<char>,
    anywhere: bool,
}

impl Glob {
    /// Compiles a pattern.
    pub fn new(pattern: &str) -> Glob {
        Glob { pattern: pattern.trim_start_matches("./").chars().collect(), anywhere: !pattern.contains('/') }
    }

    /// Whether a `/`-separated relative path matches.
    pub fn matches(&self, path: &str) -> bool {
        let path: Vec<char> = path.chars().collect();
        if self.anywhere {
            let start = path.iter().rposition(|&c| c == '/').map(|i| i + 1).unwrap_or(0);
            return matches(&self.pattern, &path[start..]);
        }
        matches(&self.pattern, &path)
    }
}

fn matches(p: &[char], s: &[char]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some('*') if p.get(1) == Some(&'*') => {
            let rest = p[2..].strip_prefix(&['/']).unwrap_or(&p[2..]);
            if rest.is_empty() {
                return true;
            }
            (0..=s.len()).any(|i| (i == 0 || s[i - 1] == '/') && matches(rest, &s[i..])) || matches(&p[2..], s)
        }
        Some('*') => (0..=s.len()).take_while(|&i| i == 0 || s[i - 1] != '/').any(|i| matches(&p[1..], &s[i..])),
        Some('?') => !s.is_empty() && s[0] != '/' && matches(&p[1..], &s[1..]),
        Some(c) => s.first() == Some(c) && matches(&p[1..], &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::Glob;

    #[test]
    fn globs() {
        assert!(Glob::new("*.xlsx").matches("a/b/c.xlsx"));
        assert!(!Glob::new("*.xlsx").matches("a/b/c.md"));
        assert!(Glob::new("drafts/*").matches("drafts/x.md"));
        assert!(!Glob::new("drafts/*").matches("drafts/a/x.md"));
        assert!(Glob::new("drafts/**").matches("drafts/a/x.md"));
        assert!(Glob::new("**/secret.md").matches("a/b/secret.md"));
        assert!(Glob::new("**/secret.md").matches("secret.md"));
    }
}
