use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A currency the shop prices in; every one of them has two decimal places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Currency {
    /// The euro.
    Eur,
    /// The pound sterling.
    Gbp,
    /// The US dollar.
    Usd,
}

impl Currency {
    /// ISO 4217 code.
    pub fn code(self) -> &'static str {
        match self {
            Currency::Eur => "EUR",
            Currency::Gbp => "GBP",
            Currency::Usd => "USD",
        }
    }

    /// The symbol shown before an amount.
    pub fn symbol(self) -> &'static str {
        match self {
            Currency::Eur => "€",
            Currency::Gbp => "£",
            Currency::Usd => "$",
        }
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, MoneyError> {
        match s.to_ascii_uppercase().as_str() {
            "EUR" => Ok(Currency::Eur),
            "GBP" => Ok(Currency::Gbp),
            "USD" => Ok(Currency::Usd),
            _ => Err(MoneyError::Currency(s.to_owned())),
        }
    }
}

/// An amount of money in integer minor units (cents) of a currency. Never a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Minor units: 2400 is €24.00.
    pub minor: i64,
    /// The currency of the amount.
    pub currency: Currency,
}

/// Why a text is not an amount of money.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Not of the form `24`, `24.5` or `24.00`.
    #[error("`{0}` is not a price: write it as a decimal such as \"24.00\"")]
    Syntax(String),
    /// More than two decimal places.
    #[error("`{0}` has more than two decimal places")]
    Precision(String),
    /// Too large to hold.
    #[error("`{0}` is too large")]
    Overflow(String),
    /// Not a currency the shop knows.
    #[error("unknown currency `{0}` (expected EUR, GBP or USD)")]
    Currency(String),
}

impl Money {
    /// An amount in minor units.
    pub fn from_minor(minor: i64, currency: Currency) -> Self {
        Money { minor, currency }
    }

    /// Parses a decimal string such as `"24.00"` exactly, without floating point.
    pub fn parse_decimal(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        let t = text.trim();
        let (negative, digits) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t),
        };
        let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !all_digits(whole) || !all_digits(frac) || (digits.contains('.') && frac.is_empty()) {
            return Err(MoneyError::Syntax(text.to_owned()));
        }
        if frac.len() > 2 {
            return Err(MoneyError::Precision(text.to_owned()));
        }
        let overflow = || MoneyError::Overflow(text.to_owned());
        let whole: i64 = whole.parse().map_err(|_| overflow())?;
        let mut cents: i64 = frac.parse().unwrap_or(0);
        if frac.len() == 1 {
            cents *= 10;
        }
        let minor = whole.checked_mul(100).and_then(|w| w.checked_add(cents)).ok_or_else(overflow)?;
        Ok(Money { minor: if negative { -minor } else { minor }, currency })
    }

    /// Whether the amount is above zero.
    pub fn is_positive(&self) -> bool {
        self.minor > 0
    }

    /// The amount as a plain decimal, `24.00`.
    pub fn decimal(&self) -> String {
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.currency.symbol(), self.decimal())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(s: &str) -> Result<i64, MoneyError> {
        Money::parse_decimal(s, Currency::Eur).map(|m| m.minor)
    }

    #[test]
    fn parses_decimals_exactly() {
        assert_eq!(eur("24.00"), Ok(2400));
        assert_eq!(eur("24"), Ok(2400));
        assert_eq!(eur("24.5"), Ok(2450));
        assert_eq!(eur("0.07"), Ok(7));
        assert_eq!(eur("-3.10"), Ok(-310));
    }

    #[test]
    fn rejects_what_is_not_a_price() {
        assert!(matches!(eur("24.001"), Err(MoneyError::Precision(_))));
        assert!(matches!(eur("24."), Err(MoneyError::Syntax(_))));
        assert!(matches!(eur("€24"), Err(MoneyError::Syntax(_))));
        assert!(matches!(eur(""), Err(MoneyError::Syntax(_))));
        assert!(matches!(eur("1e3"), Err(MoneyError::Syntax(_))));
        assert!(matches!(eur("99999999999999999999"), Err(MoneyError::Overflow(_))));
    }

    #[test]
    fn displays_with_symbol() {
        assert_eq!(Money::from_minor(2405, Currency::Eur).to_string(), "€24.05");
        assert_eq!(Money::from_minor(-5, Currency::Eur).decimal(), "-0.05");
    }
}
