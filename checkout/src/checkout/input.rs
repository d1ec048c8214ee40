//! What the shopper gives at checkout, parsed at the edge: every problem named by field.

use serde::{Deserialize, Serialize};

use super::pricing::{self, COUNTRIES};
use crate::email::EmailAddress;
use crate::error::ApiError;

/// What the shopper gives at checkout (JSON or form).
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct CheckoutInput {
    /// E-mail for the confirmation.
    #[schema(required = true, format = Email, max_length = 254, example = "ada@example.com")]
    pub email: String,
    /// Full name.
    #[schema(required = true, max_length = 120, pattern = "\\S")]
    pub name: String,
    /// Street and number.
    #[schema(required = true, max_length = 200, pattern = "\\S")]
    pub line1: String,
    /// Apartment, building.
    #[schema(max_length = 200)]
    pub line2: String,
    /// Town.
    #[schema(required = true, max_length = 120, pattern = "\\S")]
    pub city: String,
    /// Postal code, in the country's own shape (`06130` in France, `1012 AB` in the
    /// Netherlands): one of another shape is refused (400, `field` = `postal_code`).
    #[schema(required = true, max_length = 16, pattern = "\\S")]
    pub postal_code: String,
    /// ISO code of a country we ship to.
    #[schema(required = true, value_type = pricing::CountryCode)]
    pub country: String,
    /// How to ship.
    #[schema(required = true, value_type = pricing::ShippingMethodId)]
    pub shipping_method: String,
}

impl CheckoutInput {
    /// The address part (the checkout's fields are flat, as its forms and clients send them).
    pub fn address(&self) -> AddressInput {
        AddressInput {
            name: self.name.clone(),
            line1: self.line1.clone(),
            line2: self.line2.clone(),
            city: self.city.clone(),
            postal_code: self.postal_code.clone(),
            country: self.country.clone(),
        }
    }
}

/// Validated checkout details.
#[derive(Debug, Clone)]
pub struct Valid {
    /// Where the confirmation goes.
    pub email: EmailAddress,
    /// What was given.
    pub input: CheckoutInput,
    /// The country's name.
    pub country_name: &'static str,
    /// Its VAT rate, in percent.
    pub vat: i64,
    /// The shipping method.
    pub method: pricing::ShippingMethod,
}

/// A postal address as given (checkout, the address book).
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct AddressInput {
    /// Full name.
    #[schema(required = true, max_length = 120, pattern = "\\S")]
    pub name: String,
    /// Street and number.
    #[schema(required = true, max_length = 200, pattern = "\\S")]
    pub line1: String,
    /// Apartment, building.
    #[schema(max_length = 200)]
    pub line2: String,
    /// Town.
    #[schema(required = true, max_length = 120, pattern = "\\S")]
    pub city: String,
    /// Postal code, in the country's own shape.
    #[schema(required = true, max_length = 16, pattern = "\\S")]
    pub postal_code: String,
    /// ISO code of a country we ship to.
    #[schema(required = true, value_type = pricing::CountryCode)]
    pub country: String,
}

/// Checks an address's fields (every problem, named by field); gives the country (code, name,
/// VAT rate) and the postal code as the country's post writes it.
pub fn check_address(
    a: &AddressInput,
    errors: &mut Vec<ApiError>,
) -> Option<(&'static (&'static str, &'static str, i64), String)> {
    for (field, value, label, max) in [
        ("name", &a.name, "your name", 120),
        ("line1", &a.line1, "the street and number", 200),
        ("city", &a.city, "the town or city", 120),
        ("postal_code", &a.postal_code, "the postal code", 16),
    ] {
        if value.trim().is_empty() {
            errors.push(ApiError::invalid(field, format!("enter {label}")));
        } else if value.chars().count() > max {
            errors.push(ApiError::invalid(field, format!("at most {max} characters")));
        }
    }
    if a.line2.chars().count() > 200 {
        errors.push(ApiError::invalid("line2", "at most 200 characters"));
    }
    let Some(country) = COUNTRIES.iter().find(|(c, _, _)| c.eq_ignore_ascii_case(a.country.trim())) else {
        errors.push(ApiError::invalid("country", "we ship within the European Union: choose a country from the list"));
        return None;
    };
    if a.postal_code.trim().is_empty() {
        return None;
    }
    match super::postal::check(country.0, &a.postal_code) {
        Ok(written) => Some((country, written)),
        Err(message) => {
            errors.push(ApiError::invalid("postal_code", message));
            None
        }
    }
}

/// Parses the input at the edge: every problem, named by field.
pub fn validate(input: &CheckoutInput, methods: &[pricing::ShippingMethod]) -> Result<Valid, Vec<ApiError>> {
    let mut errors = Vec::new();
    let email = EmailAddress::parse(&input.email);
    if let Err(e) = &email {
        errors.push(ApiError::invalid("email", e.to_string()));
    }
    let checked = check_address(&input.address(), &mut errors);
    let mut input = input.clone();
    let country = checked.map(|(country, written)| {
        input.postal_code = written;
        country
    });
    let method = methods.iter().find(|m| m.id == input.shipping_method.trim()).cloned();
    if method.is_none() {
        errors.push(ApiError::invalid("shipping_method", "choose standard or express shipping"));
    }
    match (errors.is_empty(), email, country, method) {
        (true, Ok(email), Some((_, name, vat)), Some(method)) => {
            Ok(Valid { email, input, country_name: name, vat: *vat, method })
        }
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> CheckoutInput {
        CheckoutInput {
            email: "Ada@Example.com".into(),
            name: "Ada".into(),
            line1: "1 rue des Fleurs".into(),
            line2: String::new(),
            city: "Grasse".into(),
            postal_code: "06130".into(),
            country: "fr".into(),
            shipping_method: "standard".into(),
        }
    }

    #[test]
    fn validates_every_field() {
        let v = validate(&input(), &pricing::ShippingRates::default().methods()).unwrap();
        assert_eq!((v.email.as_str(), v.vat), ("ada@example.com", 20));
        let bad = CheckoutInput {
            email: "nope".into(),
            city: " ".into(),
            country: "US".into(),
            shipping_method: "drone".into(),
            ..input()
        };
        let fields: Vec<String> = validate(&bad, &pricing::ShippingRates::default().methods())
            .unwrap_err()
            .into_iter()
            .map(|e| match e {
                ApiError::Invalid { field, .. } => field,
                other => other.to_string(),
            })
            .collect();
        assert_eq!(fields, ["email", "city", "country", "shipping_method"]);
        let wrong_code = CheckoutInput { postal_code: "ABC".into(), ..input() };
        let errors = validate(&wrong_code, &pricing::ShippingRates::default().methods()).unwrap_err();
        assert!(matches!(&errors[..], [ApiError::Invalid { field, .. }] if field == "postal_code"), "{errors:?}");
    }
}
