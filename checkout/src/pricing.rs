//! What an order costs: lines priced from the database, shipping by method with a free
//! threshold, and the VAT included in those prices at the destination's EU rate.

use atelier_domain::{Currency, Money};

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

/// The shop's shipping methods (prices in euro cents, VAT included).
pub fn shipping_methods() -> Vec<ShippingMethod> {
    let env = |name: &str, default: i64| {
        std::env::var(name).ok().and_then(|v| v.parse().ok()).filter(|n: &i64| *n >= 0).unwrap_or(default)
    };
    vec![
        ShippingMethod {
            id: "standard",
            label: "Colissimo — 3 to 5 working days",
            price_minor: env("SHIPPING_STANDARD_MINOR", 690),
            free_above_minor: Some(env("FREE_SHIPPING_ABOVE_MINOR", 8000)),
        },
        ShippingMethod {
            id: "express",
            label: "Chronopost — next working day",
            price_minor: env("SHIPPING_EXPRESS_MINOR", 1490),
            free_above_minor: None,
        },
    ]
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

/// `€24.00`.
pub fn display(minor: i64) -> String {
    Money::from_minor(minor, Currency::Eur).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_shipping_above_the_threshold_and_vat_inside() {
        let standard = &shipping_methods()[0];
        let t = totals(7990, standard, 20);
        assert_eq!((t.shipping, t.total), (690, 8680));
        assert_eq!(t.vat, 1447, "8680 × 20/120 = 1446.67 → 1447");
        let t = totals(8000, standard, 20);
        assert_eq!((t.shipping, t.total, t.vat), (0, 8000, 1333));
        let express = &shipping_methods()[1];
        assert_eq!(totals(10000, express, 19).shipping, 1490);
        assert_eq!(vat_rate("DE"), Some(19));
        assert_eq!(vat_rate("US"), None);
    }
}
