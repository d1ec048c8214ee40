//! Dates of front matter: kept as written for templates, parsed once for sorting and feeds.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// A date as the editor wrote it, with its instant for sorting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageDate {
    /// The text as written: `2024-05-01` or `2024-05-01T10:00:00+02:00`.
    pub text: String,
    /// The instant, dates taken at midnight UTC.
    pub instant: DateTime<FixedOffset>,
}

impl PageDate {
    /// Parses a TOML value or string holding a date or datetime.
    pub fn from_toml(v: &toml::Value) -> Result<PageDate, String> {
        let text = match v {
            toml::Value::Datetime(d) => d.to_string(),
            toml::Value::String(s) => s.trim().to_string(),
            other => return Err(format!("expected a date such as 2024-05-01, found {}", other.type_str())),
        };
        PageDate::parse(&text)
    }

    /// Parses `YYYY-MM-DD`, RFC 3339, or a datetime without offset (taken as UTC).
    pub fn parse(text: &str) -> Result<PageDate, String> {
        let utc = FixedOffset::east_opt(0).expect("zero offset");
        let instant = if let Ok(d) = DateTime::parse_from_rfc3339(text) {
            d
        } else if let Ok(d) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
            utc.from_utc_datetime(&d)
        } else if let Ok(d) = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f") {
            utc.from_utc_datetime(&d)
        } else if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"))
        } else {
            return Err(format!("`{text}` is not a date: write 2024-05-01 or 2024-05-01T10:00:00Z"));
        };
        Ok(PageDate { text: text.to_string(), instant })
    }

    /// RFC 3339 in UTC, as feeds and sitemaps want.
    pub fn rfc3339(&self) -> String {
        self.instant.with_timezone(&Utc).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }

    /// RFC 2822, as RSS wants.
    pub fn rfc2822(&self) -> String {
        self.instant.to_rfc2822()
    }
}

/// A date at the start of a file name (`2024-05-01-title.md` or `2024-05-01_title.md`) and the rest.
pub fn split_file_date(stem: &str) -> Option<(PageDate, &str)> {
    if stem.len() < 11 || !stem.is_char_boundary(10) {
        return None;
    }
    let (date, rest) = stem.split_at(10);
    let rest = rest.strip_prefix('-').or_else(|| rest.strip_prefix('_'))?;
    let date = PageDate::parse(date).ok()?;
    (!rest.is_empty()).then_some((date, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_forms() {
        assert!(PageDate::parse("2024-05-01").is_ok());
        assert!(PageDate::parse("2024-05-01T10:00:00+02:00").is_ok());
        assert!(PageDate::parse("2024-05-01T10:00:00").is_ok());
        assert!(PageDate::parse("May 1").is_err());
        assert_eq!(PageDate::parse("2024-05-01").unwrap().rfc3339(), "2024-05-01T00:00:00Z");
    }

    #[test]
    fn finds_dates_in_file_names() {
        let (d, rest) = split_file_date("2024-05-01-hello").unwrap();
        assert_eq!((d.text.as_str(), rest), ("2024-05-01", "hello"));
        assert!(split_file_date("hello-world").is_none());
        assert!(split_file_date("2024-05-01").is_none());
    }
}
