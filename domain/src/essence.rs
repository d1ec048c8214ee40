use serde::{Deserialize, Serialize};

use crate::{Currency, Money, MoneyError, Sku, SkuError};

/// The scent pyramid of an essence.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Notes {
    /// What one smells first.
    pub top: String,
    /// The body of the scent.
    pub heart: String,
    /// What lingers.
    pub base: String,
}

/// One bottle size of an essence, sold under its own SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Size {
    /// The size's own SKU.
    pub sku: Sku,
    /// What the shopper reads: "10 ml".
    pub label: String,
    /// Its price.
    pub price: Money,
}

/// A sellable essence: the shop's reading of a Compendium page's `[extra]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Essence {
    /// The essence's own SKU (the family of its sizes).
    pub sku: Sku,
    /// Its name.
    pub title: String,
    /// Botanical name.
    pub latin_name: String,
    /// The "from" price: the price of the first size.
    pub price: Money,
    /// The sizes on sale, at least one.
    pub sizes: Vec<Size>,
    /// The scent pyramid.
    pub notes: Notes,
    /// How it is obtained from the plant.
    pub extraction: String,
    /// Whether it is on sale.
    pub active: bool,
}

/// The `[extra]` table of an essence page, as an editor writes it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct EssenceExtra {
    /// The essence's SKU.
    pub sku: Option<String>,
    /// Botanical name.
    pub latin_name: Option<String>,
    /// Decimal price string of the first size.
    pub price: Option<PriceText>,
    /// The bottle sizes.
    pub sizes: Vec<SizeExtra>,
    /// The scent pyramid.
    pub notes: Notes,
    /// Extraction method.
    pub extraction: Option<String>,
    /// Whether on sale; on by default.
    pub active: Option<bool>,
}

/// A price as written: a decimal string is expected, a bare number gets a clear error.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PriceText {
    /// `"24.00"`
    Text(String),
    /// `24.0`, refused: floats are not money.
    Number(f64),
}

/// One `[[extra.sizes]]` entry as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SizeExtra {
    /// The size's SKU.
    pub sku: Option<String>,
    /// "10 ml".
    pub label: Option<String>,
    /// Decimal price string.
    pub price: Option<PriceText>,
}

/// What is wrong with a front matter's `[extra]` (an essence's, a Folio plan's), naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The front-matter field at fault, e.g. `extra.sizes[1].price`.
    pub field: String,
    /// What is wrong and what is expected.
    pub message: String,
}

/// What is wrong with an essence's `[extra]`.
pub type EssenceError = FieldError;

fn err(field: impl Into<String>, message: impl Into<String>) -> EssenceError {
    FieldError { field: field.into(), message: message.into() }
}

pub(crate) fn price(field: &str, text: &Option<PriceText>, currency: Currency) -> Result<Money, EssenceError> {
    let money = match text {
        None => return Err(err(field, "missing price: write it as a decimal string such as \"24.00\"")),
        Some(PriceText::Number(n)) => {
            return Err(err(field, format!("{n} is a number; write the price as a decimal string, \"{n:.2}\"")))
        }
        Some(PriceText::Text(t)) => {
            Money::parse_decimal(t, currency).map_err(|e: MoneyError| err(field, e.to_string()))?
        }
    };
    if !money.is_positive() {
        return Err(err(field, format!("the price must be above zero, found {}", money.decimal())));
    }
    Ok(money)
}

fn sku(field: &str, text: &Option<String>) -> Result<Sku, EssenceError> {
    match text {
        None => Err(err(field, "missing SKU, e.g. sku = \"LAV-PROV\"")),
        Some(t) => Sku::parse(t).map_err(|e: SkuError| err(field, e.to_string())),
    }
}

impl Essence {
    /// Validates an essence page's `[extra]`: SKUs, positive prices, at least one size.
    pub fn from_extra(title: &str, extra: &EssenceExtra, currency: Currency) -> Result<Self, EssenceError> {
        let sku = sku("extra.sku", &extra.sku)?;
        let price = price("extra.price", &extra.price, currency)?;
        let latin_name = extra.latin_name.clone().unwrap_or_default();
        let sizes = if extra.sizes.is_empty() {
            vec![Size { sku: sku.clone(), label: String::new(), price }]
        } else {
            let mut sizes = Vec::with_capacity(extra.sizes.len());
            for (i, s) in extra.sizes.iter().enumerate() {
                let field = |name: &str| format!("extra.sizes[{i}].{name}");
                let label = s.label.clone().filter(|l| !l.trim().is_empty());
                let label = label.ok_or_else(|| err(field("label"), "missing label, e.g. label = \"10 ml\""))?;
                sizes.push(Size {
                    sku: self::sku(&field("sku"), &s.sku)?,
                    label,
                    price: self::price(&field("price"), &s.price, currency)?,
                });
            }
            if sizes[0].price != price {
                return Err(err(
                    "extra.price",
                    format!(
                        "the essence's price {} must equal its first size's price {}",
                        price.decimal(),
                        sizes[0].price.decimal()
                    ),
                ));
            }
            sizes
        };
        Ok(Essence {
            sku,
            title: title.to_owned(),
            latin_name,
            price,
            sizes,
            notes: extra.notes.clone(),
            extraction: extra.extraction.clone().unwrap_or_default(),
            active: extra.active.unwrap_or(true),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extra(json: &str) -> EssenceExtra {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn reads_a_full_essence() {
        let e = Essence::from_extra(
            "Provence Lavender",
            &extra(r#"{"sku":"LAV-PROV","price":"24.00","sizes":[{"sku":"LAV-PROV-10","label":"10 ml","price":"24.00"},{"sku":"LAV-PROV-30","label":"30 ml","price":"58.00"}]}"#),
            Currency::Eur,
        )
        .unwrap();
        assert_eq!(e.sizes.len(), 2);
        assert_eq!(e.sizes[1].price.minor, 5800);
        assert!(e.active);
    }

    #[test]
    fn names_the_field_at_fault() {
        let cases = [
            (r#"{"price":"1.00"}"#, "extra.sku"),
            (r#"{"sku":"AB"}"#, "extra.price"),
            (r#"{"sku":"AB","price":"0.00"}"#, "extra.price"),
            (r#"{"sku":"AB","price":24.0}"#, "extra.price"),
            (
                r#"{"sku":"AB","price":"2","sizes":[{"sku":"AB-1","label":"1 ml","price":"-2"}]}"#,
                "extra.sizes[0].price",
            ),
            (r#"{"sku":"AB","price":"2","sizes":[{"sku":"ab","label":"1 ml","price":"2"}]}"#, "extra.sizes[0].sku"),
            (r#"{"sku":"AB","price":"3","sizes":[{"sku":"AB-1","label":"1 ml","price":"2"}]}"#, "extra.price"),
        ];
        for (json, field) in cases {
            let e = Essence::from_extra("X", &extra(json), Currency::Eur).unwrap_err();
            assert_eq!(e.field, field, "{json}: {e}");
        }
    }
}
