//! The messages an account's owner is sent, queued in the outbox in the transaction that
//! causes them.

use serde_json::json;

use crate::db::WriteTx;
use crate::notify::{enqueue, enqueue_secret, Mail};
use crate::views::render;
use crate::AppState;

/// One of the account messages.
pub enum Message<'a> {
    /// A new account: confirm the address.
    Verify {
        /// The link's token.
        token: &'a str,
    },
    /// Someone registered with an address that has an account already.
    AlreadyRegistered {
        /// A reset link's token, in case the owner forgot the password.
        token: &'a str,
    },
    /// A password reset was asked for.
    Reset {
        /// The link's token.
        token: &'a str,
    },
    /// A password reset was asked for an address with no account.
    NoAccount,
    /// The password was changed.
    PasswordChanged,
    /// To a new address: confirm the account's move to it.
    NewEmail {
        /// The link's token.
        token: &'a str,
    },
    /// To a new address that has an account already: nothing moved.
    AddressTaken,
    /// To the old address: the account moved.
    EmailChanged {
        /// Where to.
        new_email: &'a str,
    },
    /// To someone added to the staff who had no account: choose a password.
    StaffInvite {
        /// The link's token.
        token: &'a str,
        /// The role they were given, as people read it.
        role: &'a str,
    },
    /// To an account holder added to the staff.
    StaffAdded {
        /// The role they were given, as people read it.
        role: &'a str,
    },
}

impl Message<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Message::Verify { .. } => "account_verify",
            Message::AlreadyRegistered { .. } => "account_exists",
            Message::Reset { .. } => "account_reset",
            Message::NoAccount => "account_none",
            Message::PasswordChanged => "account_password_changed",
            Message::NewEmail { .. } => "account_new_email",
            Message::AddressTaken => "account_address_taken",
            Message::EmailChanged { .. } => "account_email_changed",
            Message::StaffInvite { .. } => "staff_invite",
            Message::StaffAdded { .. } => "staff_added",
        }
    }

    fn render(&self, state: &AppState, recipient: &str, name: &str) -> Mail {
        let base = &state.config.public_url;
        let hello = if name.is_empty() { "Hello,".to_string() } else { format!("Dear {name},") };
        let Text { subject, heading, paragraphs, action, after } = match self {
                Message::Verify { token } => text(
                    "Confirm your address at Atelier Arôme",
                    "Confirm your address",
                    vec![hello, "Thank you for opening an account with the atelier. Please confirm that this address is yours: open the link and enter the password you chose, and your account is ready.".into()],
                    Some((format!("{base}/account/verify?token={token}"), "Confirm my address")),
                    vec!["The link works once, for 24 hours. If it has lapsed, register again for a new one.", "If you did not open an account, ignore this message: without the link and its password, no account is made."],
                ),
                Message::AlreadyRegistered { token } => text(
                    "Your account at Atelier Arôme",
                    "You already have an account",
                    vec![hello, "Someone — perhaps you — tried to open an account at the atelier with this address. You already have one, so nothing was changed.".into(), "If you have forgotten your password, choose a new one here:".into()],
                    Some((format!("{base}/account/reset?token={token}"), "Choose a new password")),
                    vec!["The link works once, for 30 minutes. If it was not you, ignore this message: your account is as it was."],
                ),
                Message::Reset { token } => text(
                    "Choose a new password at Atelier Arôme",
                    "Choose a new password",
                    vec![hello, "We were asked to reset the password of your account at the atelier. Choose a new one here:".into()],
                    Some((format!("{base}/account/reset?token={token}"), "Choose a new password")),
                    vec!["The link works once, for 30 minutes, and signs you out on every device. If you did not ask, ignore this message: your password stays as it is."],
                ),
                Message::NoAccount => text(
                    "Password reset at Atelier Arôme",
                    "No account uses this address",
                    vec![hello, "We were asked to reset the password of an account at the atelier with this address, but no account uses it.".into(), "Perhaps you opened yours with another address, or ordered as a guest — orders placed as a guest need no password.".into()],
                    Some((format!("{base}/account/register"), "Open an account")),
                    vec!["If you did not ask, ignore this message."],
                ),
                Message::PasswordChanged => text(
                    "Your password at Atelier Arôme was changed",
                    "Your password was changed",
                    vec![hello, "The password of your account at the atelier has just been changed, and every device signed in to it has been signed out.".into()],
                    Some((format!("{base}/account/forgot"), "It was not me: reset it")),
                    vec!["If it was you, there is nothing to do."],
                ),
            Message::NewEmail { token } => text(
                "Confirm your new address at Atelier Arôme",
                "Confirm your new address",
                vec![hello, "You asked for your account at the atelier to use this address from now on. Confirm it is yours:".into()],
                Some((format!("{base}/account/email/confirm?token={token}"), "Use this address")),
                vec!["The link works once, for 24 hours. If you did not ask, ignore this message: your account keeps its address."],
            ),
            Message::AddressTaken => text(
                "Your address at Atelier Arôme",
                "This address has an account already",
                vec![hello, "Someone signed in to another account at the atelier asked to move it to this address. This address has an account of its own, so nothing was changed.".into()],
                None,
                vec!["If it was you, sign in to the account of this address instead; if it was not, there is nothing to do."],
            ),
            Message::EmailChanged { new_email } => text(
                "Your address at Atelier Arôme was changed",
                "Your account has a new address",
                vec![hello, format!("Your account at the atelier now uses {new_email}; messages about it go there from now on.")],
                Some((format!("{base}/account/forgot"), "It was not me")),
                vec!["If you did not make this change, choose a new password from the link above with your new address, or write to us."],
            ),
            Message::StaffInvite { token, role } => text(
                "You are invited to the staff of Atelier Arôme",
                "Join the atelier's staff",
                vec![hello, format!("You have been added to the atelier's staff as {role}. Choose your password to open your account:"), "Then sign in, turn on two-factor sign-in from your account page (staff always sign in with two factors), and open the staff console at /staff.".into()],
                Some((format!("{base}/account/reset?token={token}"), "Choose my password")),
                vec!["The link works once, for seven days. If you were not expecting this, ignore this message."],
            ),
            Message::StaffAdded { role } => text(
                "You have joined the staff of Atelier Arôme",
                "You are on the atelier's staff",
                vec![hello, format!("Your account has been added to the atelier's staff as {role}."), "Staff always sign in with two factors: turn on two-factor sign-in from your account page if it is not on yet, then open the console.".into()],
                Some((format!("{base}/staff"), "Open the staff console")),
                vec!["If you were not expecting this, write to the atelier."],
            ),
            };
        let ctx = json!({
            "heading": heading,
            "paragraphs": paragraphs,
            "action_url": action.as_ref().map(|a| a.0.clone()),
            "action_text": action.as_ref().map(|a| a.1),
            "after": after,
            "recipient": recipient,
            "site_title": state.config.site_title,
            "site_url": base,
        });
        Mail {
            subject: subject.to_string(),
            text: render("email/account.txt", &ctx),
            html: Some(render("email/account.html", &ctx)),
        }
    }
}

/// A message's words: subject, heading, paragraphs, the button (address and words), what
/// follows it.
struct Text<'a> {
    subject: &'a str,
    heading: &'a str,
    paragraphs: Vec<String>,
    action: Option<(String, &'a str)>,
    after: Vec<&'a str>,
}

fn text<'a>(
    subject: &'a str,
    heading: &'a str,
    paragraphs: Vec<String>,
    action: Option<(String, &'a str)>,
    after: Vec<&'a str>,
) -> Text<'a> {
    Text { subject, heading, paragraphs, action, after }
}

/// Queues a message to an address.
pub async fn send(
    state: &AppState,
    tx: &mut WriteTx,
    recipient: &str,
    name: &str,
    message: Message<'_>,
) -> Result<(), sqlx::Error> {
    let mail = message.render(state, recipient, name);
    // Every message is its own: a new key each time.
    let key = format!("{}:{}", message.kind(), crate::ids::new_id("msg"));
    // A link that sets a password or opens an account is not kept once sent.
    let carries_link = matches!(
        message,
        Message::Verify { .. }
            | Message::AlreadyRegistered { .. }
            | Message::Reset { .. }
            | Message::NewEmail { .. }
            | Message::StaffInvite { .. }
    );
    if carries_link {
        enqueue_secret(tx, message.kind(), &key, recipient, &mail).await?;
    } else {
        enqueue(tx, message.kind(), &key, recipient, &mail).await?;
    }
    Ok(())
}
