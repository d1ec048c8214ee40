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
    /// A telephone number for the courier (optional): 6 to 15 digits, with `+`, spaces, dots,
    /// dashes or brackets as one writes them.
    #[schema(max_length = 30, pattern = "^\\+?[0-9 ().-]*$", example = "+33 6 12 34 56 78")]
    pub phone: String,
    /// Billing address, when not the delivery address: every `billing_` field left out or empty
    /// bills the delivery address; any given, and the address is checked as the delivery's is
    /// (errors name `billing_line1` and so on).
    #[schema(max_length = 120)]
    pub billing_name: String,
    /// Billing address: street and number.
    #[schema(max_length = 200)]
    pub billing_line1: String,
    /// Billing address: apartment, building.
    #[schema(max_length = 200)]
    pub billing_line2: String,
    /// Billing address: town.
    #[schema(max_length = 120)]
    pub billing_city: String,
    /// Billing address: postal code, in its country's shape.
    #[schema(max_length = 16)]
    pub billing_postal_code: String,
    /// Billing address: ISO code of a country of the European Union.
    #[schema(max_length = 2)]
    pub billing_country: String,
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

    /// The billing address, when one other than the delivery address is given.
    pub fn billing(&self) -> Option<AddressInput> {
        let b = AddressInput {
            name: self.billing_name.clone(),
            line1: self.billing_line1.clone(),
            line2: self.billing_line2.clone(),
            city: self.billing_city.clone(),
            postal_code: self.billing_postal_code.clone(),
            country: self.billing_country.clone(),
        };
        let given =
            [&b.name, &b.line1, &b.line2, &b.city, &b.postal_code, &b.country].iter().any(|f| !f.trim().is_empty());
        given.then_some(b)
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
    /// The telephone number as given, trimmed (empty when none).
    pub phone: String,
    /// The billing address, its postal code as its post writes it, and its country's name
    /// (none: the delivery address).
    pub billing: Option<(AddressInput, &'static str)>,
}

/// A telephone number as written (trimmed), or what is wrong with it.
fn check_phone(phone: &str) -> Result<String, String> {
    let phone = phone.trim();
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    let shaped = phone.strip_prefix('+').unwrap_or(phone).chars().all(|c| c.is_ascii_digit() || " ().-".contains(c));
    if phone.chars().count() > 30 || !shaped || !(6..=15).contains(&digits) {
        return Err("a telephone number has 6 to 15 digits, such as +33 6 12 34 56 78".into());
    }
    Ok(phone.to_string())
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

/// The shipping method of this id, or the error naming the field.
pub fn shipping_method(methods: &[pricing::ShippingMethod], id: &str) -> Result<pricing::ShippingMethod, ApiError> {
    methods
        .iter()
        .find(|m| m.id == id.trim())
        .cloned()
        .ok_or_else(|| ApiError::invalid("shipping_method", "choose standard or express shipping"))
}

/// The country we ship to of this ISO code (any case): code, name, VAT rate; or the error
/// naming the field.
pub fn country(code: &str) -> Result<&'static (&'static str, &'static str, i64), ApiError> {
    COUNTRIES.iter().find(|(c, _, _)| c.eq_ignore_ascii_case(code.trim())).ok_or_else(|| {
        ApiError::invalid("country", "we ship within the European Union: choose a country from the list")
    })
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
    let country = match country(&a.country) {
        Ok(c) => c,
        Err(e) => {
            errors.push(e);
            return None;
        }
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
    let method = shipping_method(methods, &input.shipping_method).map_err(|e| errors.push(e)).ok();
    let phone = match input.phone.trim() {
        "" => String::new(),
        given => check_phone(given).unwrap_or_else(|message| {
            errors.push(ApiError::invalid("phone", message));
            String::new()
        }),
    };
    let billing = input.billing().and_then(|mut b| {
        let mut found = Vec::new();
        let checked = check_address(&b, &mut found);
        // The billing address's problems, named by its own fields and said to be its own.
        errors.extend(found.into_iter().map(|e| match e {
            ApiError::Invalid { field, message } => {
                ApiError::Invalid { field: format!("billing_{field}"), message: format!("billing address: {message}") }
            }
            other => other,
        }));
        checked.map(|((code, name, _), written)| {
            (b.postal_code, b.country) = (written, code.to_string());
            input.billing_postal_code.clone_from(&b.postal_code);
            (b, *name)
        })
    });
    match (errors.is_empty(), email, country, method) {
        (true, Ok(email), Some((_, name, vat)), Some(method)) => {
            Ok(Valid { email, input, country_name: name, vat: *vat, method, phone, billing })
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
            ..CheckoutInput::default()
        }
    }

    fn invalid_fields(input: &CheckoutInput) -> Vec<String> {
        validate(input, &pricing::ShippingRates::default().methods())
            .unwrap_err()
            .into_iter()
            .map(|e| match e {
                ApiError::Invalid { field, .. } => field,
                other => other.to_string(),
            })
            .collect()
    }

    #[test]
    fn a_phone_for_the_courier_is_checked_when_given() {
        let methods = pricing::ShippingRates::default().methods();
        for good in ["+33 6 12 34 56 78", "06.12.34.56.78", "(0)20 7946 0958", " 0612345678 "] {
            let v = validate(&CheckoutInput { phone: good.into(), ..input() }, &methods).unwrap();
            assert_eq!(v.phone, good.trim());
        }
        assert_eq!(validate(&input(), &methods).unwrap().phone, "");
        for bad in ["12345", "call me", "+33 6 12 34 56 78 90 12 34", "06 12 34 56 78 ext 9", "++33612345678"] {
            assert_eq!(invalid_fields(&CheckoutInput { phone: bad.into(), ..input() }), ["phone"], "{bad}");
        }
    }

    #[test]
    fn a_billing_address_is_the_delivery_address_unless_one_is_given() {
        let methods = pricing::ShippingRates::default().methods();
        assert!(validate(&input(), &methods).unwrap().billing.is_none());
        let billed = CheckoutInput {
            billing_name: "Ada King".into(),
            billing_line1: "12 St James's Square".into(),
            billing_city: "Amsterdam".into(),
            billing_postal_code: "1012 ab".into(),
            billing_country: "nl".into(),
            ..input()
        };
        let (b, country) = validate(&billed, &methods).unwrap().billing.expect("a billing address");
        assert_eq!((b.postal_code.as_str(), b.country.as_str(), country), ("1012 AB", "NL", "Netherlands"));
        // Begun and not finished, or of the wrong shape: named by the billing address's fields.
        let half = CheckoutInput { billing_line1: "12 St James's Square".into(), ..input() };
        assert_eq!(invalid_fields(&half), ["billing_name", "billing_city", "billing_postal_code", "billing_country"]);
        let wrong = CheckoutInput { billing_postal_code: "ABC".into(), billing_country: "FR".into(), ..billed };
        assert_eq!(invalid_fields(&wrong), ["billing_postal_code"]);
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
