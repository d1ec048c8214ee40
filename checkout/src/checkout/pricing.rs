//! What an order costs: lines priced from the database, shipping by method with a free
//! threshold, and the VAT included in those prices at the destination's EU rate.

use std::borrow::Cow;

use atelier_domain::{Currency, Money};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;

/// A way to ship.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ShippingMethod {
    /// `standard`, `express`.
    pub id: &'static str,
    /// What the shopper reads.
    pub label: &'static str,
    /// Price in minor units.
    pub price_minor: i64,
    /// Orders at or above this subtotal ship free with this method.
    pub free_above_minor: Option<i64>,
}

/// The shop's shipping rates, in minor units of the catalog's currency, VAT included (from
/// the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShippingRates {
    /// Standard delivery.
    pub standard_minor: i64,
    /// Next-day delivery.
    pub express_minor: i64,
    /// Standard delivery is free from this subtotal.
    pub free_above_minor: i64,
}

impl Default for ShippingRates {
    fn default() -> ShippingRates {
        ShippingRates { standard_minor: 690, express_minor: 1490, free_above_minor: 8000 }
    }
}

impl ShippingRates {
    /// The shipping methods at these rates.
    pub fn methods(&self) -> Vec<ShippingMethod> {
        vec![
            ShippingMethod {
                id: "standard",
                label: "Colissimo — 3 to 5 working days",
                price_minor: self.standard_minor,
                free_above_minor: Some(self.free_above_minor),
            },
            ShippingMethod {
                id: "express",
                label: "Chronopost — next working day",
                price_minor: self.express_minor,
                free_above_minor: None,
            },
        ]
    }
}

/// Countries we ship to, with their standard VAT rate in percent.
pub const COUNTRIES: &[(&str, &str, i64)] = &[
    ("AT", "Austria", 20),
    ("BE", "Belgium", 21),
    ("BG", "Bulgaria", 20),
    ("HR", "Croatia", 25),
    ("CY", "Cyprus", 19),
    ("CZ", "Czechia", 21),
    ("DK", "Denmark", 25),
    ("EE", "Estonia", 22),
    ("FI", "Finland", 25),
    ("FR", "France", 20),
    ("DE", "Germany", 19),
    ("GR", "Greece", 24),
    ("HU", "Hungary", 27),
    ("IE", "Ireland", 23),
    ("IT", "Italy", 22),
    ("LV", "Latvia", 21),
    ("LT", "Lithuania", 21),
    ("LU", "Luxembourg", 17),
    ("MT", "Malta", 18),
    ("NL", "Netherlands", 21),
    ("PL", "Poland", 23),
    ("PT", "Portugal", 23),
    ("RO", "Romania", 19),
    ("SK", "Slovakia", 23),
    ("SI", "Slovenia", 22),
    ("ES", "Spain", 21),
    ("SE", "Sweden", 25),
];

/// The schema of a country code in the API: one of [`COUNTRIES`].
pub struct CountryCode;

impl utoipa::PartialSchema for CountryCode {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("ISO 3166 code of an EU country (we ship within the European Union)."))
            .enum_values(Some(COUNTRIES.iter().map(|(code, _, _)| *code)))
            .into()
    }
}

impl utoipa::ToSchema for CountryCode {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("CountryCode")
    }
}

/// The schema of a shipping method's id in the API.
pub struct ShippingMethodId;

impl utoipa::PartialSchema for ShippingMethodId {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(ShippingRates::default().methods().iter().map(|m| m.id)))
            .into()
    }
}

impl utoipa::ToSchema for ShippingMethodId {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ShippingMethodId")
    }
}

/// The VAT rate of a country we ship to.
pub fn vat_rate(country: &str) -> Option<i64> {
    COUNTRIES.iter().find(|(c, _, _)| *c == country).map(|(_, _, r)| *r)
}

/// An order's money, all VAT included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// Sum of the lines.
    pub subtotal: i64,
    /// Shipping.
    pub shipping: i64,
    /// The VAT inside the total.
    pub vat: i64,
    /// What is charged.
    pub total: i64,
}

/// Prices an order; the VAT is the part of the total at the rate of the destination.
pub fn totals(subtotal: i64, method: &ShippingMethod, vat_percent: i64) -> Totals {
    let shipping = match method.free_above_minor {
        Some(limit) if subtotal >= limit => 0,
        _ => method.price_minor,
    };
    let total = subtotal + shipping;
    // Rounded half up: total × r / (100 + r).
    let vat = (total * vat_percent * 2 + (100 + vat_percent)) / (2 * (100 + vat_percent));
    Totals { subtotal, shipping, vat, total }
}

/// `€24.00`, `£24.00`.
pub fn display(minor: i64, currency: Currency) -> String {
    Money::from_minor(minor, currency).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_shipping_above_the_threshold_and_vat_inside() {
        let standard = &ShippingRates::default().methods()[0];
        let t = totals(7990, standard, 20);
        assert_eq!((t.shipping, t.total), (690, 8680));
        assert_eq!(t.vat, 1447, "8680 × 20/120 = 1446.67 → 1447");
        let t = totals(8000, standard, 20);
        assert_eq!((t.shipping, t.total, t.vat), (0, 8000, 1333));
        let express = &ShippingRates::default().methods()[1];
        assert_eq!(totals(10000, express, 19).shipping, 1490);
        assert_eq!(vat_rate("DE"), Some(19));
        assert_eq!(vat_rate("US"), None);
    }
}
