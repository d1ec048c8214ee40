//! The Folio, the quarterly subscription: its plans as the Folio section's `_index.md` names
//! them (`[[extra.plans]]`), and its editions as the section's pages name their essences. The
//! generator checks and exports them with the catalog; the service bills and ships from them.

use serde::{Deserialize, Serialize};

use crate::essence::{price, FieldError};
use crate::{Currency, Money, PriceText};

/// How often a plan is billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cadence {
    /// Every three months, one edition a period.
    Quarterly,
    /// Once a year, four editions prepaid.
    Annual,
}

impl Cadence {
    /// Every cadence, in the order a page lists them.
    pub const ALL: [Cadence; 2] = [Cadence::Quarterly, Cadence::Annual];

    /// Its name as written in front matter, stored and sent to Stripe's `interval` (with
    /// [`Cadence::interval_count`]).
    pub fn as_str(self) -> &'static str {
        match self {
            Cadence::Quarterly => "quarterly",
            Cadence::Annual => "annual",
        }
    }

    /// Months in one billing period.
    pub fn months(self) -> u32 {
        match self {
            Cadence::Quarterly => 3,
            Cadence::Annual => 12,
        }
    }

    /// Editions one period pays for.
    pub fn editions(self) -> u32 {
        match self {
            Cadence::Quarterly => 1,
            Cadence::Annual => 4,
        }
    }
}

impl std::str::FromStr for Cadence {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Cadence::ALL.into_iter().find(|c| c.as_str() == s).ok_or_else(|| {
            format!("unknown cadence `{s}`: expected {}", Cadence::ALL.map(Cadence::as_str).join(" or "))
        })
    }
}

/// A plan one can subscribe to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolioPlan {
    /// Its stable id (`quarterly`): subscriptions name it, so it never changes once sold.
    pub id: String,
    /// What the shopper reads: "The Folio".
    pub name: String,
    /// The price of one edition, in minor units.
    pub price: i64,
    /// The currency of the price.
    pub currency: Currency,
    /// How often it is billed.
    pub cadence: Cadence,
    /// What an edition holds, in a sentence.
    pub holds: String,
    /// Whether delivery is in the price.
    pub shipping_included: bool,
    /// Whether it can be subscribed to now (subscriptions to a retired plan run on).
    pub active: bool,
}

impl FolioPlan {
    /// What one billing period costs: an edition's price times the editions it pays for.
    pub fn period_price(&self) -> i64 {
        self.price * i64::from(self.cadence.editions())
    }
}

/// One `[[extra.plans]]` entry as an editor writes it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FolioPlanExtra {
    /// The plan's id.
    pub id: Option<String>,
    /// Its name.
    pub name: Option<String>,
    /// Decimal price string of one edition.
    pub price: Option<PriceText>,
    /// `quarterly` or `annual`.
    pub cadence: Option<String>,
    /// What an edition holds.
    pub holds: Option<String>,
    /// Whether delivery is in the price; yes by default.
    pub shipping_included: Option<bool>,
    /// Whether it can be subscribed to; yes by default.
    pub active: Option<bool>,
}

/// The parts of the Folio section's `[extra]` the shop reads (other keys are the theme's).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FolioExtra {
    /// The plans.
    #[serde(default)]
    pub plans: Vec<FolioPlanExtra>,
}

fn field_err(field: String, message: impl Into<String>) -> FieldError {
    FieldError { field, message: message.into() }
}

impl FolioPlan {
    /// Reads every plan of the Folio section's `[extra]`: ids unique and URL-safe, prices
    /// positive decimal strings, a known cadence.
    pub fn read_all(extra: &FolioExtra, currency: Currency) -> Result<Vec<FolioPlan>, FieldError> {
        let mut plans: Vec<FolioPlan> = Vec::with_capacity(extra.plans.len());
        for (i, p) in extra.plans.iter().enumerate() {
            let field = |name: &str| format!("extra.plans[{i}].{name}");
            let id = p.id.clone().unwrap_or_default();
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
                return Err(field_err(
                    field("id"),
                    format!("`{id}` is not a plan id: lowercase letters, digits and hyphens, e.g. id = \"quarterly\""),
                ));
            }
            if plans.iter().any(|q| q.id == id) {
                return Err(field_err(field("id"), format!("plan `{id}` is named twice")));
            }
            let name = p.name.clone().filter(|n| !n.trim().is_empty());
            let name = name.ok_or_else(|| field_err(field("name"), "missing name, e.g. name = \"The Folio\""))?;
            let price: Money = price(&field("price"), &p.price, currency)?;
            let cadence = match &p.cadence {
                None => return Err(field_err(field("cadence"), "missing cadence: \"quarterly\" or \"annual\"")),
                Some(c) => c.parse::<Cadence>().map_err(|m| field_err(field("cadence"), m))?,
            };
            plans.push(FolioPlan {
                id,
                name,
                price: price.minor,
                currency,
                cadence,
                holds: p.holds.clone().unwrap_or_default(),
                shipping_included: p.shipping_included.unwrap_or(true),
                active: p.active.unwrap_or(true),
            });
        }
        Ok(plans)
    }
}

/// Where a subscription stands. The service's `folio` domain alone writes it, and only from the
/// payment provider's verified events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    /// Made when the subscriber went to pay; not yet paid.
    Pending,
    /// Paid for its current period: editions it covers ship.
    Active,
    /// Collection paused: nothing billed, no edition shipped, until it resumes.
    Paused,
    /// A renewal failed; the provider retries. No edition ships until it is paid.
    PastDue,
    /// Ended, for good.
    Cancelled,
}

impl SubscriptionStatus {
    /// Every status.
    pub const ALL: [SubscriptionStatus; 5] = [
        SubscriptionStatus::Pending,
        SubscriptionStatus::Active,
        SubscriptionStatus::Paused,
        SubscriptionStatus::PastDue,
        SubscriptionStatus::Cancelled,
    ];

    /// Its name, as stored and as the API shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Pending => "pending",
            SubscriptionStatus::Active => "active",
            SubscriptionStatus::Paused => "paused",
            SubscriptionStatus::PastDue => "past_due",
            SubscriptionStatus::Cancelled => "cancelled",
        }
    }

    /// As its subscriber's page names it.
    pub fn label(self) -> &'static str {
        match self {
            SubscriptionStatus::Pending => "Waiting for payment",
            SubscriptionStatus::Active => "Running",
            SubscriptionStatus::Paused => "Paused",
            SubscriptionStatus::PastDue => "Payment failed",
            SubscriptionStatus::Cancelled => "Ended",
        }
    }

    /// Ours for a Stripe subscription's `status` and whether its collection is paused
    /// (`pause_collection` set); `None` for a status Stripe may add later.
    pub fn from_stripe(status: &str, collection_paused: bool) -> Option<SubscriptionStatus> {
        Some(match status {
            "incomplete" => SubscriptionStatus::Pending,
            "active" | "trialing" if collection_paused => SubscriptionStatus::Paused,
            "active" | "trialing" => SubscriptionStatus::Active,
            "paused" => SubscriptionStatus::Paused,
            "past_due" | "unpaid" => SubscriptionStatus::PastDue,
            "canceled" | "incomplete_expired" => SubscriptionStatus::Cancelled,
            _ => return None,
        })
    }

    /// Between two facts of the same second, the later in a subscription's life wins: pending
    /// never follows anything, and nothing follows cancelled.
    pub fn stage(self) -> u8 {
        match self {
            SubscriptionStatus::Pending => 0,
            SubscriptionStatus::Cancelled => 2,
            _ => 1,
        }
    }
}

impl std::str::FromStr for SubscriptionStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        SubscriptionStatus::ALL.into_iter().find(|x| x.as_str() == s).ok_or_else(|| format!("unknown status `{s}`"))
    }
}

/// An edition of the Folio as the catalog exports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolioEdition {
    /// The page's slug, the edition's stable id (`autumn-2026`).
    pub slug: String,
    /// Its page on the site.
    pub path: String,
    /// Its title.
    pub title: String,
    /// The day it ships, `YYYY-MM-DD`: subscribers whose paid period covers it receive it.
    pub date: String,
    /// The SKUs of the bottles it holds, one of each per subscriber.
    pub skus: Vec<String>,
    /// Its page's text as HTML, rendered by the generator: the body of the subscribers' e-mail.
    #[serde(default)]
    pub html: String,
    /// The same text as plain text, for the e-mail's plain part.
    #[serde(default)]
    pub text: String,
}

impl FolioEdition {
    /// The moment it ships: midnight UTC of its date (unix seconds); `None` for a date that is
    /// not `YYYY-MM-DD`.
    pub fn ships_at(&self) -> Option<i64> {
        ships_at(&self.date)
    }
}

/// Midnight UTC of a `YYYY-MM-DD` date, in unix seconds.
pub fn ships_at(date: &str) -> Option<i64> {
    let mut parts = date.splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if date.len() != 10 || !(1..=12).contains(&m) || !(1..=days_in_month(y, m)).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400)
}

/// The year, month (1–12) and day of a unix time (UTC).
pub fn civil(t: i64) -> (i64, i64, i64) {
    let days = t.div_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A unix time `months` calendar months later, at the same time of day; a day the month lacks
/// becomes its last (31 January + 1 month is 28 or 29 February), as Stripe bills.
pub fn add_months(t: i64, months: u32) -> i64 {
    let (y, m, d) = civil(t);
    let index = y * 12 + (m - 1) + i64::from(months);
    let (y, m) = (index.div_euclid(12), index.rem_euclid(12) + 1);
    let d = d.min(days_in_month(y, m));
    days_from_civil(y, m, d) * 86_400 + t.rem_euclid(86_400)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm, March-based years).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edition_ships_at_midnight_utc_of_its_date() {
        assert_eq!(ships_at("1970-01-01"), Some(0));
        assert_eq!(ships_at("2026-12-06"), Some(1_796_515_200));
        assert_eq!(ships_at("2024-02-29"), Some(1_709_164_800));
        for bad in ["2025-02-29", "2026-13-01", "2026-1-01x", "2026-04-31", "spring", ""] {
            assert_eq!(ships_at(bad), None, "{bad}");
        }
        for t in [0, 951_782_400, 1_796_515_200 + 3_661] {
            let (y, m, d) = civil(t);
            assert_eq!(ships_at(&format!("{y:04}-{m:02}-{d:02}")), Some(t - t % 86_400));
        }
    }

    #[test]
    fn months_are_calendar_months() {
        let at = |d: &str| ships_at(d).unwrap();
        assert_eq!(add_months(at("2026-12-06") + 3_600, 3), at("2027-03-06") + 3_600);
        assert_eq!(add_months(at("2027-01-31"), 1), at("2027-02-28"));
        assert_eq!(add_months(at("2028-11-30"), 3), at("2029-02-28"));
        assert_eq!(add_months(at("2027-11-30"), 3), at("2028-02-29"));
        assert_eq!(add_months(at("2026-06-15"), 12), at("2027-06-15"));
    }

    fn extra(json: &str) -> FolioExtra {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn reads_plans() {
        let plans = FolioPlan::read_all(
            &extra(
                r#"{"plans":[{"id":"quarterly","name":"The Folio","price":"64.00","cadence":"quarterly"},
                {"id":"annual","name":"A year","price":"60.00","cadence":"annual","shipping_included":false}]}"#,
            ),
            Currency::Eur,
        )
        .unwrap();
        assert_eq!(plans[0].price, 6400);
        assert_eq!(plans[0].period_price(), 6400);
        assert_eq!(plans[1].period_price(), 24000);
        assert!(plans[0].shipping_included && !plans[1].shipping_included);
    }

    #[test]
    fn names_the_field_at_fault() {
        let cases = [
            (r#"{"plans":[{"name":"F","price":"1.00","cadence":"quarterly"}]}"#, "extra.plans[0].id"),
            (r#"{"plans":[{"id":"Q 1","name":"F","price":"1.00","cadence":"quarterly"}]}"#, "extra.plans[0].id"),
            (r#"{"plans":[{"id":"q","price":"1.00","cadence":"quarterly"}]}"#, "extra.plans[0].name"),
            (r#"{"plans":[{"id":"q","name":"F","price":64,"cadence":"quarterly"}]}"#, "extra.plans[0].price"),
            (r#"{"plans":[{"id":"q","name":"F","price":"0","cadence":"quarterly"}]}"#, "extra.plans[0].price"),
            (r#"{"plans":[{"id":"q","name":"F","price":"1.00","cadence":"monthly"}]}"#, "extra.plans[0].cadence"),
            (
                r#"{"plans":[{"id":"q","name":"F","price":"1","cadence":"annual"},{"id":"q","name":"G","price":"1","cadence":"annual"}]}"#,
                "extra.plans[1].id",
            ),
        ];
        for (json, field) in cases {
            let e = FolioPlan::read_all(&extra(json), Currency::Eur).unwrap_err();
            assert_eq!(e.field, field, "{json}: {e}");
        }
    }
}
