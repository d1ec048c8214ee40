//! The contact form: a shopper's letter to the atelier, queued in the outbox for staff (with
//! the sender as Reply-To) and as a copy to the sender, in one transaction; a honeypot field and
//! per-client and per-address limits keep robots and floods out.

pub mod http;

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::accounts::attempts::{self, for_address, for_client, CONTACT_ADDRESS, CONTACT_CLIENT};
use crate::email::EmailAddress;
use crate::error::{ApiError, ApiResult};
use crate::ids::new_id;
use crate::notify::{self, Mail, STAFF};
use crate::AppState;

/// A letter as the form sends it.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct ContactInput {
    /// The sender's name: one line.
    #[schema(
        required = true,
        max_length = 120,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub name: String,
    /// Where the atelier answers.
    #[schema(required = true, format = Email, max_length = 254, example = "ada@example.com")]
    pub email: String,
    /// What the letter is about: one line.
    #[schema(
        required = true,
        max_length = 150,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub subject: String,
    /// The letter.
    #[schema(required = true, max_length = 5000, pattern = "\\S")]
    pub message: String,
    /// Left empty by people: a field hidden from them that robots fill in (a letter with it
    /// filled is answered as sent, and goes nowhere).
    pub website: String,
}

/// A letter whose fields were checked.
struct Letter {
    name: String,
    email: EmailAddress,
    subject: String,
    message: String,
}

/// Checks every field; gives every problem, named by field.
fn validate(input: &ContactInput) -> Result<Letter, Vec<ApiError>> {
    let mut errors = Vec::new();
    let email = EmailAddress::parse(&input.email);
    for (field, value, missing, max) in [
        ("name", &input.name, "enter your name", 120),
        ("email", &input.email, "", 254),
        ("subject", &input.subject, "say in a few words what your letter is about", 150),
        ("message", &input.message, "write your message", 5000),
    ] {
        if field == "email" {
            if let Err(e) = &email {
                errors.push(ApiError::invalid("email", e.to_string()));
            }
        } else if value.trim().is_empty() {
            errors.push(ApiError::invalid(field, missing));
        } else if value.chars().count() > max {
            errors.push(ApiError::invalid(field, format!("at most {max} characters, please")));
        }
    }
    // One line each for the name and subject: they go into a message's headers and first lines.
    for (field, value) in [("name", &input.name), ("subject", &input.subject)] {
        if value.chars().any(char::is_control) {
            errors.push(ApiError::invalid(field, "one line, please"));
        }
    }
    match (errors.is_empty(), email) {
        (true, Ok(email)) => Ok(Letter {
            name: input.name.trim().to_string(),
            email,
            subject: input.subject.trim().to_string(),
            message: input.message.trim().to_string(),
        }),
        _ => Err(errors),
    }
}

/// Sends a letter: checked, counted against its client's and its address's limits (five an hour
/// each), then queued for staff and, as a copy, for the sender. A letter whose honeypot is filled
/// is answered the same and goes nowhere.
pub async fn send(state: &AppState, input: &ContactInput, client: Option<IpAddr>) -> Result<(), Vec<ApiError>> {
    let letter = validate(input)?;
    if !input.website.trim().is_empty() {
        tracing::info!("contact form: a letter with its honeypot filled was dropped");
        return Ok(());
    }
    queue(state, &letter, client).await.map_err(|e| vec![e])
}

async fn queue(state: &AppState, letter: &Letter, client: Option<IpAddr>) -> ApiResult<()> {
    let by_client = for_client(CONTACT_CLIENT, client);
    let by_address = for_address(CONTACT_ADDRESS, letter.email.as_str());
    attempts::enter(&state.db, &[(CONTACT_CLIENT, &by_client), (CONTACT_ADDRESS, &by_address)]).await?.keep();
    let id = new_id("ltr");
    let (to_staff, copy) = mails(state, letter);
    let mut tx = state.db.begin_write().await?;
    let reply_to = reply_to(letter);
    notify::enqueue_with_reply_to(&mut tx, "contact", &format!("contact:{id}:staff"), STAFF, &to_staff, &reply_to)
        .await?;
    notify::enqueue(&mut tx, "contact_copy", &format!("contact:{id}:copy"), letter.email.as_str(), &copy).await?;
    tx.commit().await?;
    Ok(())
}

/// The sender as a Reply-To mailbox, written so that it parses back whatever the name holds
/// (a comma, quotes, accents), or the bare address should it not.
fn reply_to(letter: &Letter) -> String {
    match letter.email.as_str().parse::<lettre::Address>() {
        Ok(address) => lettre::message::Mailbox::new(Some(letter.name.clone()), address).to_string(),
        Err(_) => letter.email.as_str().to_string(),
    }
}

/// The letter for staff, and the sender's copy.
fn mails(state: &AppState, letter: &Letter) -> (Mail, Mail) {
    let ctx = serde_json::json!({
        "name": letter.name,
        "email": letter.email.as_str(),
        "subject": letter.subject,
        "message": letter.message,
        "site_title": state.config.site_title,
        "site_url": state.config.public_url,
    });
    let to_staff = Mail {
        subject: format!("Contact form: {}", letter.subject),
        text: crate::views::render("email/contact_staff.txt", &ctx),
        html: None,
    };
    let copy = Mail {
        subject: format!("Your letter to {}: {}", state.config.site_title, letter.subject),
        text: crate::views::render("email/contact_copy.txt", &ctx),
        html: None,
    };
    (to_staff, copy)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(input: &ContactInput) -> Vec<String> {
        match validate(input) {
            Ok(_) => Vec::new(),
            Err(errors) => errors
                .into_iter()
                .map(|e| match e {
                    ApiError::Invalid { field, .. } => field,
                    other => other.to_string(),
                })
                .collect(),
        }
    }

    #[test]
    fn the_reply_to_parses_back_whatever_the_name_holds() {
        for name in ["Ada Lovelace", "Lovelace, Ada", "Zoë \"Zo\" O'Brien <x>", "Ærø (Dublin); ok"] {
            let letter = Letter {
                name: name.into(),
                email: EmailAddress::parse("ada@example.com").unwrap(),
                subject: String::new(),
                message: String::new(),
            };
            let parsed: lettre::message::Mailbox = reply_to(&letter).parse().unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!((parsed.name.as_deref(), parsed.email.to_string().as_str()), (Some(name), "ada@example.com"));
        }
    }

    #[test]
    fn every_field_is_checked_and_named() {
        let good = ContactInput {
            name: "Ada".into(),
            email: "ada@example.com".into(),
            subject: "A blend".into(),
            message: "Which essence for a winter evening?".into(),
            website: String::new(),
        };
        assert!(fields(&good).is_empty());
        assert_eq!(fields(&ContactInput::default()), ["name", "email", "subject", "message"]);
        let long = ContactInput { message: "a".repeat(5001), ..good.clone() };
        assert_eq!(fields(&long), ["message"]);
        let header = ContactInput { subject: "Hi\r\nBcc: x@example.com".into(), ..good };
        assert_eq!(fields(&header), ["subject"]);
    }
}
