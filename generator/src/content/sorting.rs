use std::cmp::Ordering;

use super::Page;
use crate::front_matter::SortBy;

/// Orders pages the way Zola does: ties by permalink; pages without the sort key are returned
/// apart (they are neither listed nor rendered, and the build warns about them).
pub fn sort_pages(ids: &[usize], pages: &[Page], by: SortBy) -> (Vec<usize>, Vec<usize>) {
    let has_key = |p: &Page| match by {
        SortBy::Date | SortBy::UpdateDate => p.date.is_some() || (by == SortBy::UpdateDate && p.updated.is_some()),
        SortBy::Weight => p.meta.weight.is_some(),
        SortBy::Title | SortBy::TitleBytes => p.meta.title.is_some(),
        SortBy::Slug | SortBy::Permalink | SortBy::None => true,
    };
    let (mut sorted, ignored): (Vec<usize>, Vec<usize>) = ids.iter().partition(|&&i| has_key(&pages[i]));
    let by_permalink = |a: &Page, b: &Page| a.permalink.cmp(&b.permalink);
    sorted.sort_by(|&a, &b| {
        let (a, b) = (&pages[a], &pages[b]);
        let primary = match by {
            SortBy::Date => b.date.as_ref().map(|d| d.instant).cmp(&a.date.as_ref().map(|d| d.instant)),
            SortBy::UpdateDate => {
                let key = |p: &Page| {
                    let d = p.date.as_ref().map(|d| d.instant);
                    let u = p.updated.as_ref().map(|d| d.instant);
                    d.max(u)
                };
                key(b).cmp(&key(a))
            }
            SortBy::Weight => a.meta.weight.cmp(&b.meta.weight),
            SortBy::Title => natural_cmp(a.title(), b.title()),
            SortBy::TitleBytes => a.title().cmp(b.title()),
            SortBy::Slug => natural_cmp(&a.slug, &b.slug),
            SortBy::Permalink | SortBy::None => Ordering::Equal,
        };
        primary.then_with(|| by_permalink(a, b))
    });
    (sorted, ignored)
}

/// Case- and accent-insensitive comparison with digit runs compared as numbers.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let fold = |s: &str| slug::slugify(s).replace('-', " ");
    let (fa, fb) = (fold(a), fold(b));
    let mut x = fa.chars().peekable();
    let mut y = fb.chars().peekable();
    loop {
        match (x.peek().copied(), y.peek().copied()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let take = |it: &mut std::iter::Peekable<std::str::Chars<'_>>| {
                    let mut n = String::new();
                    while let Some(c) = it.peek().copied().filter(char::is_ascii_digit) {
                        n.push(c);
                        it.next();
                    }
                    n
                };
                let (m, n) = (take(&mut x), take(&mut y));
                let (m, n) = (m.trim_start_matches('0'), n.trim_start_matches('0'));
                let ord = m.len().cmp(&n.len()).then_with(|| m.cmp(n));
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(&d);
                }
                x.next();
                y.next();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        assert_eq!(natural_cmp("Item 2", "item 10"), Ordering::Less);
        assert_eq!(natural_cmp("Éclat", "ecrin"), Ordering::Less);
        assert_eq!(natural_cmp("b", "A"), Ordering::Greater);
    }
}
