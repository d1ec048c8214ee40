use std::fmt;

use serde::{Deserialize, Serialize};

/// A stock-keeping unit: 2–40 characters of uppercase ASCII letters, digits and inner hyphens.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sku(String);

/// Why a string is not a SKU.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkuError {
    /// Shorter than 2 or longer than 40 characters.
    #[error("a SKU has 2 to 40 characters, `{0}` has {1}")]
    Length(String, usize),
    /// A character outside `A-Z`, `0-9` and `-`.
    #[error("a SKU uses only A-Z, 0-9 and `-`; `{sku}` contains `{found}`")]
    Character { sku: String, found: char },
    /// Starts or ends with a hyphen, or has two in a row.
    #[error("a SKU cannot start or end with `-` or have `--`: `{0}`")]
    Hyphen(String),
}

impl Sku {
    /// Parses and validates a SKU.
    pub fn parse(s: &str) -> Result<Self, SkuError> {
        let len = s.chars().count();
        if !(2..=40).contains(&len) {
            return Err(SkuError::Length(s.to_owned(), len));
        }
        if let Some(found) = s.chars().find(|c| !(c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '-')) {
            return Err(SkuError::Character { sku: s.to_owned(), found });
        }
        if s.starts_with('-') || s.ends_with('-') || s.contains("--") {
            return Err(SkuError::Hyphen(s.to_owned()));
        }
        Ok(Sku(s.to_owned()))
    }

    /// The SKU as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Sku {
    type Error = SkuError;
    fn try_from(s: String) -> Result<Self, SkuError> {
        Sku::parse(&s)
    }
}

impl From<Sku> for String {
    fn from(s: Sku) -> String {
        s.0
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_shop_skus() {
        assert_eq!(Sku::parse("LAV-PROV-10").unwrap().as_str(), "LAV-PROV-10");
    }

    #[test]
    fn rejects_bad_skus() {
        assert!(matches!(Sku::parse("lav"), Err(SkuError::Character { found: 'l', .. })));
        assert!(matches!(Sku::parse("A"), Err(SkuError::Length(_, 1))));
        assert!(matches!(Sku::parse("-AB"), Err(SkuError::Hyphen(_))));
        assert!(matches!(Sku::parse("A--B"), Err(SkuError::Hyphen(_))));
        assert!(matches!(Sku::parse("AB CD"), Err(SkuError::Character { found: ' ', .. })));
    }
}
