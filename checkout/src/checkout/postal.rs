//! Postal codes of the countries the atelier ships to: the shapes each country's post accepts,
//! so that a French "ABC" is caught at the checkout rather than by the carrier.

/// The shapes of a country's postal codes (`9` a digit, `A` a letter, `X` either; anything else
/// itself), and one to show.
fn shapes(country: &str) -> Option<(&'static [&'static str], &'static str)> {
    Some(match country {
        "AT" | "BE" | "BG" | "CY" | "DK" | "HU" => (&["9999"], "1010"),
        "HR" | "EE" | "FI" | "FR" | "DE" | "IT" | "ES" => (&["99999"], "06130"),
        "CZ" | "SK" | "GR" | "SE" => (&["999 99", "99999"], "110 00"),
        "IE" => (&["A99 XXXX", "A99XXXX", "A9W XXXX", "A9WXXXX"], "D02 X285"),
        "LV" => (&["LV-9999", "9999"], "LV-1050"),
        "LT" => (&["LT-99999", "99999"], "LT-01100"),
        "LU" => (&["L-9999", "9999"], "L-1616"),
        "MT" => (&["AAA 9999", "AAA9999"], "VLT 1117"),
        "NL" => (&["9999 AA", "9999AA"], "1012 AB"),
        "PL" => (&["99-999"], "00-950"),
        "PT" => (&["9999-999"], "1100-148"),
        "RO" => (&["999999"], "010011"),
        "SI" => (&["9999", "SI-9999"], "1000"),
        _ => return None,
    })
}

fn fits(code: &str, shape: &str) -> bool {
    code.len() == shape.len()
        && code.chars().zip(shape.chars()).all(|(c, s)| match s {
            '9' => c.is_ascii_digit(),
            'A' => c.is_ascii_uppercase(),
            'X' => c.is_ascii_uppercase() || c.is_ascii_digit(),
            other => c == other,
        })
}

/// A postal code as the country's post writes it (upper case, single spaces), or what a right
/// one looks like there.
pub fn check(country: &str, code: &str) -> Result<String, String> {
    let written = code.split_whitespace().collect::<Vec<_>>().join(" ").to_uppercase();
    let Some((shapes, example)) = shapes(country) else { return Ok(written) };
    if shapes.iter().any(|s| fits(&written, s)) {
        Ok(written)
    } else {
        Err(format!("this is not a postal code of that country: one looks like {example}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_country_takes_its_own_shapes() {
        for (country, good) in [
            ("FR", "06130"),
            ("DE", "10115"),
            ("NL", "1012 ab"),
            ("PL", "00-950"),
            ("PT", "1100-148"),
            ("IE", "d02 x285"),
            ("MT", "VLT 1117"),
            ("SE", "114 55"),
            ("SE", "11455"),
            ("LU", "L-1616"),
            ("BE", "1000"),
        ] {
            assert!(check(country, good).is_ok(), "{country} {good}");
        }
        assert_eq!(check("NL", " 1012   ab ").unwrap(), "1012 AB");
        for (country, bad) in
            [("FR", "ABC"), ("FR", "6130"), ("DE", "1011"), ("NL", "AB 1012"), ("PL", "00950x"), ("BE", "10000")]
        {
            assert!(check(country, bad).is_err(), "{country} {bad}");
        }
        assert!(check("FR", "ABC").unwrap_err().contains("06130"));
        // Every country shipped to has its shapes.
        for (code, _, _) in super::super::pricing::COUNTRIES {
            assert!(shapes(code).is_some(), "{code}");
        }
    }
}
