//! A subscriber's side of the Folio: their subscriptions as their page and the API show them
//! (with what happens next, and when), and the changes they ask for, passed to whoever bills
//! the subscription. The subscription itself changes only when the provider's event comes back.

use atelier_domain::{ships_at, Currency, SubscriptionStatus};
use serde::{Deserialize, Serialize};

use super::sandbox;
use super::Change;
use super::{invoices, load, of_account, Invoice, Subscription};
use crate::checkout::pricing::display;
use crate::error::{ApiError, ApiResult};
use crate::orders::written_date;
use crate::payments::Payments;
use crate::AppState;

/// The time the Folio runs by: the sandbox's clock when the sandbox bills, else the real one.
pub async fn now_for(state: &AppState) -> ApiResult<i64> {
    if state.payments.is_sandbox() {
        sandbox::clock(state).await
    } else {
        Ok(crate::ids::now())
    }
}

/// An edition to come.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NextEdition {
    /// Its slug.
    pub slug: String,
    /// Its title.
    pub title: String,
    /// The day it ships, `YYYY-MM-DD`.
    pub date: String,
    /// That day as the site writes it.
    pub written: String,
    /// Its page.
    pub path: String,
}

/// A subscription with what its subscriber needs to read on their page.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SubscriptionView {
    /// The subscription.
    pub subscription: Subscription,
    /// Its plan's name.
    pub plan_name: String,
    /// Where it stands, in words.
    pub status_label: &'static str,
    /// Where editions go, one line each.
    pub address: String,
    /// Whether the sandbox bills it (its page offers the sandbox's card controls).
    pub sandbox: bool,
    /// One edition's price in the current period, written.
    pub price: String,
    /// What happens next, and when, in a sentence.
    pub next: String,
    /// The next edition it will receive, if one is announced and it will receive it.
    pub next_edition: Option<NextEdition>,
    /// What the subscriber may do now: `pay`, `pause`, `resume`, `cancel`, `cancel_now`.
    pub actions: Vec<&'static str>,
    /// Its invoices, newest first.
    pub invoices: Vec<Invoice>,
    /// The same as its page lists them, in words.
    pub payments: Vec<PaymentLine>,
    /// A change was sent to the provider whose event has not come yet: the page says so.
    pub confirming: bool,
}

/// An invoice as the subscriber's page lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PaymentLine {
    /// The period it pays for: `6 December 2026 to 6 March 2027`.
    pub period: String,
    /// What it charged, or asks.
    pub amount: String,
    /// `Paid`, or `Failed: tried again on …`.
    pub status_label: String,
}

/// The account's subscriptions, newest first, as their page shows them.
pub async fn views(state: &AppState, account_id: &str) -> ApiResult<Vec<SubscriptionView>> {
    let now = now_for(state).await?;
    let mut out = Vec::new();
    for s in of_account(&state.db, account_id).await? {
        out.push(view(state, s, now).await?);
    }
    Ok(out)
}

/// One of the account's subscriptions; 404 when it is not theirs.
pub async fn view_of(state: &AppState, account_id: &str, subscription_id: &str) -> ApiResult<SubscriptionView> {
    let s = owned(state, account_id, subscription_id).await?;
    let now = now_for(state).await?;
    view(state, s, now).await
}

async fn owned(state: &AppState, account_id: &str, subscription_id: &str) -> ApiResult<Subscription> {
    load(&state.db, subscription_id)
        .await?
        .filter(|s| s.account_id == account_id)
        .ok_or_else(|| ApiError::NotFound(format!("you have no subscription {subscription_id}")))
}

async fn view(state: &AppState, s: Subscription, now: i64) -> ApiResult<SubscriptionView> {
    let plan = super::plan(&state.db, &s.plan_id).await?;
    let currency: Currency = s.currency.parse().unwrap_or(Currency::Eur);
    // This period's price, and the next renewal's (a changed price once its notice has run).
    let price_at = |at: Option<i64>| match (&plan, at) {
        (Some(p), Some(at)) => p.price_at(at),
        _ => s.price_minor,
    };
    let price = display(price_at(s.current_period_start), currency);
    let next_price = display(price_at(s.current_period_end), currency);
    let edition: Option<(String, String, String, String)> = sqlx::query_as(
        "select slug, title, ships_on, path from folio_edition where ships_on >= $1 order by ships_on, slug limit 1",
    )
    .bind(crate::orders::date(now))
    .fetch_optional(&state.db.pool)
    .await?;
    let next_edition = edition
        .map(|(slug, title, date, path)| NextEdition {
            written: ships_at(&date).map(written_date).unwrap_or_else(|| date.clone()),
            slug,
            title,
            date,
            path,
        })
        // Only one it will receive: it runs on, and (ending) the edition ships before it ends.
        .filter(|e| match (s.status, s.cancel_at_period_end, s.current_period_end) {
            (SubscriptionStatus::Active, true, Some(end)) => ships_at(&e.date).is_some_and(|t| t < end),
            (SubscriptionStatus::Active | SubscriptionStatus::Pending, ..) => true,
            _ => false,
        });
    let billing = s.current_period_end.map(written_date).unwrap_or_default();
    let edition_part = |e: &Option<NextEdition>| {
        e.as_ref()
            .map(|e| format!("Your next edition, {}, leaves the atelier on {}. ", e.title, e.written))
            .unwrap_or_default()
    };
    let (next, actions): (String, Vec<&'static str>) = match s.status {
        SubscriptionStatus::Pending => {
            ("Waiting for your first payment: nothing has been charged yet.".into(), vec!["pay"])
        }
        SubscriptionStatus::Active if s.cancel_at_period_end => (
            format!("{}Your Folio ends on {billing}, with the period you have paid for; nothing more is charged.", edition_part(&next_edition)),
            vec!["resume", "cancel_now"],
        ),
        SubscriptionStatus::Active => (
            format!("{}Your next payment, {next_price} an edition, is taken on {billing}.", edition_part(&next_edition)),
            vec!["pause", "cancel", "cancel_now"],
        ),
        SubscriptionStatus::Paused => (
            match s.pause_resumes_at {
                Some(t) => format!("Paused until {}: no edition is sent and nothing is charged until then.", written_date(t)),
                None => "Paused until you resume it: no edition is sent and nothing is charged.".into(),
            },
            vec!["resume", "cancel_now"],
        ),
        SubscriptionStatus::PastDue => (
            "Your last payment did not go through: please update your card. The editions of an unpaid period are held until it is paid.".into(),
            vec!["cancel_now"],
        ),
        SubscriptionStatus::Cancelled => (
            format!("Ended on {}.", s.cancelled_at.map(written_date).unwrap_or_default()),
            vec![],
        ),
    };
    let invoices = invoices(&state.db, &s.subscription_id).await?;
    let payments = invoices
        .iter()
        .map(|i| PaymentLine {
            period: format!("{} to {}", written_date(i.period_start), written_date(i.period_end)),
            amount: display(i.amount_minor, i.currency.parse().unwrap_or(currency)),
            status_label: match (i.status.as_str(), i.next_attempt_at) {
                ("paid", _) => "Paid".into(),
                ("failed", Some(t)) => format!("Failed: tried again on {}", written_date(t)),
                ("failed", None) => "Failed".into(),
                (other, _) => crate::http::page::capitalise(other),
            },
        })
        .collect();
    let address = s.ship_to.lines();
    Ok(SubscriptionView {
        plan_name: plan.as_ref().map(|p| p.name.clone()).unwrap_or_else(|| s.plan_id.clone()),
        status_label: s.status.label(),
        address,
        sandbox: s.provider == "sandbox",
        price,
        next,
        next_edition,
        actions,
        invoices,
        payments,
        confirming: false,
        subscription: s,
    })
}

/// How long a pause may be asked for at most: a year.
const LONGEST_PAUSE_SECONDS: i64 = 366 * 86_400;

/// A pause as asked: until a day, or until resumed.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct PauseInput {
    /// The day the Folio resumes by itself (`YYYY-MM-DD`, within a year); empty or absent: until
    /// resumed.
    #[serde(default)]
    #[schema(example = "2027-06-01")]
    pub until: Option<String>,
}

/// A cancellation as asked.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct CancelInput {
    /// End it now rather than with the paid period (nothing is refunded).
    #[serde(default)]
    pub now: bool,
}

/// Reads a pause's day into the moment collection resumes.
pub async fn pause_of(state: &AppState, input: &PauseInput) -> ApiResult<Change> {
    let Some(day) = input.until.as_deref().map(str::trim).filter(|d| !d.is_empty()) else {
        return Ok(Change::Pause { until: None });
    };
    let at = ships_at(day).ok_or_else(|| ApiError::invalid("until", "write the day as YYYY-MM-DD"))?;
    let now = now_for(state).await?;
    if at <= now {
        return Err(ApiError::invalid("until", "choose a day after today"));
    }
    if at > now + LONGEST_PAUSE_SECONDS {
        return Err(ApiError::invalid("until", "a pause lasts a year at most; to stop for longer, cancel"));
    }
    Ok(Change::Pause { until: Some(at) })
}

/// Passes a subscriber's change to whoever bills the subscription, once it is one the
/// subscription allows now; the subscription as the provider's answer left it.
pub async fn ask(
    state: &AppState,
    account_id: &str,
    subscription_id: &str,
    change: Change,
) -> ApiResult<SubscriptionView> {
    let s = owned(state, account_id, subscription_id).await?;
    let allowed = match (change, s.status) {
        (_, SubscriptionStatus::Cancelled) => Err("it has ended"),
        (_, SubscriptionStatus::Pending) => Err("it has not started: its first payment has not been made"),
        (Change::Pause { .. }, SubscriptionStatus::Active) if !s.cancel_at_period_end => Ok(()),
        (Change::Pause { .. }, SubscriptionStatus::Paused) => Ok(()),
        (Change::Pause { .. }, _) => Err("only a running subscription can be paused"),
        (Change::Resume, SubscriptionStatus::Paused) => Ok(()),
        (Change::Resume, SubscriptionStatus::Active) if s.cancel_at_period_end => Ok(()),
        (Change::Resume, _) => Err("it is neither paused nor ending"),
        (Change::Cancel { now: false }, SubscriptionStatus::Active) if s.cancel_at_period_end => {
            Err("it already ends with its period")
        }
        (Change::Cancel { .. }, _) => Ok(()),
    };
    allowed.map_err(|why| ApiError::Conflict(format!("this subscription cannot be changed so: {why}")))?;
    let confirmed = match (s.provider.as_str(), &state.payments) {
        ("sandbox", _) => {
            sandbox::change(state, &s, change).await?;
            true
        }
        ("stripe", Payments::Stripe(gateway)) => super::stripe::change(state, gateway, &s, change).await?,
        (other, _) => {
            return Err(ApiError::Conflict(format!(
                "this subscription is billed by {other}, which this service is not set up to reach: write to us"
            )))
        }
    };
    let mut view = view_of(state, account_id, subscription_id).await?;
    view.confirming = !confirmed;
    Ok(view)
}
