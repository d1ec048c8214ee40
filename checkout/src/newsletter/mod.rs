//! The newsletter, double opt-in: a sign-up (the home page's form, the API) mails a link, and
//! the address is a subscriber only once its owner confirms from it. Every letter's link to
//! leave is signed for its address, so no one can confirm or end another's subscription.

pub mod http;

use std::net::IpAddr;

use crate::accounts::attempts::{self, for_address, for_client, MAIL_ADDRESS, MAIL_CLIENT};
use crate::email::EmailAddress;
use crate::error::{ApiError, ApiResult};
use crate::ids::now;
use crate::notify::Mail;
use crate::AppState;

/// What a signed newsletter link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Confirming a sign-up.
    Confirm,
    /// Leaving the list.
    Unsubscribe,
}

impl Link {
    fn purpose(self) -> &'static str {
        match self {
            Link::Confirm => "newsletter-confirm",
            Link::Unsubscribe => "newsletter-unsubscribe",
        }
    }

    /// The link's path on the site.
    pub fn path(self) -> &'static str {
        match self {
            Link::Confirm => "/newsletter/confirm",
            Link::Unsubscribe => "/newsletter/unsubscribe",
        }
    }
}

/// A signed link of an address, absolute (for a message).
pub fn link(state: &AppState, which: Link, email: &str) -> String {
    let sig = crate::secrets::sign(&state.keys.link, which.purpose(), email);
    let query = serde_urlencoded::to_string([("email", email), ("sig", sig.as_str())]).unwrap_or_default();
    format!("{}{}?{query}", state.config.public_url, which.path())
}

/// Whether a link's signature is the service's for that address.
pub fn signed(state: &AppState, which: Link, email: &str, sig: &str) -> bool {
    crate::secrets::signature_matches(&state.keys.link, which.purpose(), email, sig)
}

/// Takes a sign-up: a new or unconfirmed address is mailed a link to confirm (at most five an
/// hour for an address, twenty for a client; past that, nothing more is sent). The answer is
/// the same whether the address was new, waiting or subscribed already.
pub async fn subscribe(state: &AppState, email: &str, client: Option<IpAddr>) -> ApiResult<()> {
    let email = EmailAddress::parse(email).map_err(|e| ApiError::invalid("email", e.to_string()))?;
    let mut tx = state.db.begin_write().await?;
    sqlx::query("insert into newsletter_subscriber (email, created_at) values ($1, $2) on conflict (email) do nothing")
        .bind(email.as_str())
        .bind(now())
        .execute(&mut **tx)
        .await?;
    let confirmed: Option<i64> = sqlx::query_scalar("select confirmed_at from newsletter_subscriber where email = $1")
        .bind(email.as_str())
        .fetch_one(&mut **tx)
        .await?;
    tx.commit().await?;
    if confirmed.is_some() {
        return Ok(());
    }
    let by_address = for_address(MAIL_ADDRESS, email.as_str());
    let by_client = for_client(MAIL_CLIENT, client);
    match attempts::enter(&state.db, &[(MAIL_ADDRESS, &by_address), (MAIL_CLIENT, &by_client)]).await {
        Ok(attempt) => attempt.keep(),
        // Too many asked: the sign-up stands, no more mail goes (the answer says nothing of it).
        Err(ApiError::RateLimited(_)) => return Ok(()),
        Err(e) => return Err(e),
    }
    let mail = confirmation(state, email.as_str());
    let mut tx = state.db.begin_write().await?;
    let key = format!("newsletter-confirm:{}:{}", email.as_str(), crate::ids::new_id("n"));
    crate::notify::enqueue(&mut tx, "newsletter_confirm", &key, email.as_str(), &mail).await?;
    tx.commit().await?;
    Ok(())
}

/// Confirms an address from its signed link; says whether it was waiting (confirming twice
/// changes nothing).
pub async fn confirm(state: &AppState, email: &str) -> ApiResult<bool> {
    let mut tx = state.db.begin_write().await?;
    let done =
        sqlx::query("update newsletter_subscriber set confirmed_at = $1 where email = $2 and confirmed_at is null")
            .bind(now())
            .bind(email)
            .execute(&mut **tx)
            .await?;
    let known: Option<i64> = sqlx::query_scalar("select 1 from newsletter_subscriber where email = $1")
        .bind(email)
        .fetch_optional(&mut **tx)
        .await?;
    tx.commit().await?;
    if known.is_none() {
        return Err(ApiError::NotFound("this address has left the list; sign up again from the home page".into()));
    }
    Ok(done.rows_affected() == 1)
}

/// Takes an address off the list, confirmed or not (leaving twice changes nothing).
pub async fn unsubscribe(state: &AppState, email: &str) -> ApiResult<()> {
    let mut tx = state.db.begin_write().await?;
    sqlx::query("delete from newsletter_subscriber where email = $1").bind(email).execute(&mut **tx).await?;
    tx.commit().await?;
    Ok(())
}

/// The message asking the owner of an address to confirm.
fn confirmation(state: &AppState, email: &str) -> Mail {
    let ctx = serde_json::json!({
        "heading": "One click to join the letters",
        "paragraphs": [
            "Hello,",
            "Someone — we hope you — asked for the atelier's letters at this address: a few a year, when the season turns and a new essence comes from the still.",
            "Confirm below and they will come to you. If it was not you, do nothing: without your click we write no more.",
        ],
        "action_url": link(state, Link::Confirm, email),
        "action_text": "Confirm my subscription",
        "after": [format!("Every letter carries a link to leave; this one too: {}", link(state, Link::Unsubscribe, email))],
        "recipient": email,
        "about": "because someone asked for the letters of",
        "site_title": state.config.site_title,
        "site_url": state.config.public_url,
    });
    Mail {
        subject: "Confirm your subscription to the atelier's letters".into(),
        text: crate::views::render("email/account.txt", &ctx),
        html: Some(crate::views::render("email/account.html", &ctx)),
    }
}
