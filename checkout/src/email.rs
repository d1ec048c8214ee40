//! An e-mail address the shop can write to, parsed once at the edge (checkout, the newsletter):
//! what the mail library that sends it accepts, and no more than a shopper's address needs.

use std::fmt;

/// An address that can be mailed: `local@domain`, written in lowercase, an international
/// domain in its ASCII form (`müller.de` is `xn--mller-kva.de`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

/// Why a text is not an address the shop can write to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("enter an e-mail address such as name@example.com")]
pub struct EmailError;

impl EmailAddress {
    /// Parses a shopper's address. Refused beyond what the mail library refuses: quoted local
    /// parts, local parts beyond ASCII (most mail servers cannot take them), addresses at an IP
    /// or at a host without a dot, and anything over 254 characters.
    pub fn parse(text: &str) -> Result<EmailAddress, EmailError> {
        let lowered = text.trim().to_lowercase();
        let (local, domain) = lowered.rsplit_once('@').ok_or(EmailError)?;
        let domain = idna::domain_to_ascii(domain).map_err(|_| EmailError)?;
        let email = format!("{local}@{domain}");
        let plain_local =
            !local.is_empty() && local.len() <= 64 && local.is_ascii() && !local.contains(['"', '\\', '@']);
        let named_domain = domain.contains('.')
            && !domain.starts_with('[')
            && domain.parse::<std::net::IpAddr>().is_err()
            && domain.split('.').all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'));
        let sendable = email.parse::<lettre::Address>().is_ok();
        if email.chars().count() <= 254 && plain_local && named_domain && sendable {
            Ok(EmailAddress(email))
        } else {
            Err(EmailError)
        }
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::EmailAddress;

    #[test]
    fn takes_what_can_be_mailed_only() {
        for ok in ["ada@example.com", " Ada.Lovelace+shop@Example.COM ", "o'brien@example.ie", "a@müller.de"] {
            assert!(EmailAddress::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(EmailAddress::parse("a@Müller.de").unwrap().as_str(), "a@xn--mller-kva.de");
        assert!(EmailAddress::parse("élodie@exemple.fr").is_err(), "a local part beyond ASCII");
        assert_eq!(EmailAddress::parse(" Ada@Example.COM").unwrap().as_str(), "ada@example.com");
        for bad in [
            "<img/src=x>@x.io",
            "ada@localhost",
            "\"ada lovelace\"@example.com",
            "ada@[127.0.0.1]",
            "ada@127.0.0.1",
            "a@b@example.com",
            "ada@-example.com",
            "ada@example..com",
            "ada example@example.com",
            "@example.com",
            "ada@",
            "",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(65));
        assert!(EmailAddress::parse(&long).is_err());
    }
}
