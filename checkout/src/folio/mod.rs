//! The Folio, the quarterly subscription. Its plans and editions come from git with the catalog
//! ([`sync`]); a subscription is made pending when its subscriber goes to pay ([`begin`]) and
//! from then on changes only from the payment provider's verified events ([`events`]), which
//! name it by the id its metadata carries, in whatever order and however often they come.

pub mod account;
pub mod delivery;
pub mod events;
pub mod gift;
pub mod http;
pub mod notices;
pub mod pages;
pub mod sandbox;
pub mod stripe;

use atelier_domain::{FolioEdition, FolioPlan, SubscriptionStatus};
use serde::Serialize;
use sqlx::Row;

use crate::checkout::{check_address, AddressInput};
use crate::db::{Db, WriteTx};
use crate::error::{ApiError, ApiResult};
use crate::ids::{new_id, now};

/// What a subscriber asks of their subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Skip editions, nothing billed, until that moment or until resumed.
    Pause {
        /// When collection resumes by itself.
        until: Option<i64>,
    },
    /// Bill again from the next renewal, nothing now and the billing date kept; or, ending,
    /// run on after all.
    Resume,
    /// End it: with the paid period, or now.
    Cancel {
        /// Now rather than at the period's end.
        now: bool,
    },
}

/// What a catalog sync did to the Folio.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FolioSync {
    /// Plans inserted or updated.
    pub plans: usize,
    /// Plans no longer in git, now closed to new subscribers (their subscriptions run on).
    pub plans_retired: usize,
    /// Editions inserted or updated.
    pub editions: usize,
    /// Plans whose price changed (renewals from 30 days on pay it; subscribers are told).
    pub prices_changed: usize,
}

/// How long before a changed price applies: renewals in the 30 days after a change pay the
/// price it replaced, so every subscriber is told before paying it.
pub const PRICE_NOTICE_SECONDS: i64 = 30 * 86_400;

/// Loads the Folio's plans and editions from a catalog, in the catalog sync's transaction.
pub async fn sync(tx: &mut WriteTx, plans: &[FolioPlan], editions: &[FolioEdition]) -> Result<FolioSync, sqlx::Error> {
    let t = now();
    // A price change is dated by the clock renewals run by (the sandbox's, when it was moved).
    let ahead: i64 = sqlx::query_scalar("select value from counter where name = 'sandbox_clock'")
        .fetch_optional(&mut ***tx)
        .await?
        .unwrap_or(0);
    let mut report = FolioSync::default();
    for p in plans {
        let was: Option<i64> = sqlx::query_scalar("select price_minor from folio_plan where plan_id = $1")
            .bind(&p.id)
            .fetch_optional(&mut ***tx)
            .await?;
        if let Some(was) = was.filter(|&w| w != p.price) {
            // The price it replaces holds for the notice period; subscribers are told (see
            // `notices::price_changes`).
            sqlx::query("update folio_plan set previous_price_minor = $1, price_changed_at = $2 where plan_id = $3")
                .bind(was)
                .bind(t + ahead)
                .bind(&p.id)
                .execute(&mut ***tx)
                .await?;
            report.prices_changed += 1;
        }
        sqlx::query(
            "insert into folio_plan (plan_id, name, price_minor, currency, cadence, holds, shipping_included, active, updated_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             on conflict (plan_id) do update set name = excluded.name, price_minor = excluded.price_minor,
               currency = excluded.currency, cadence = excluded.cadence, holds = excluded.holds,
               shipping_included = excluded.shipping_included, active = excluded.active, updated_at = excluded.updated_at",
        )
        .bind(&p.id)
        .bind(&p.name)
        .bind(p.price)
        .bind(p.currency.code())
        .bind(p.cadence.as_str())
        .bind(&p.holds)
        .bind(i64::from(p.shipping_included))
        .bind(i64::from(p.active))
        .bind(t)
        .execute(&mut ***tx)
        .await?;
        report.plans += 1;
    }
    let known: Vec<String> =
        sqlx::query_scalar("select plan_id from folio_plan where active = 1").fetch_all(&mut ***tx).await?;
    for id in known.iter().filter(|id| !plans.iter().any(|p| &p.id == *id)) {
        sqlx::query("update folio_plan set active = 0, updated_at = $1 where plan_id = $2")
            .bind(t)
            .bind(id)
            .execute(&mut ***tx)
            .await?;
        report.plans_retired += 1;
    }
    for e in editions {
        sqlx::query(
            "insert into folio_edition (slug, path, title, ships_on, skus, body_html, body_text, updated_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8)
             on conflict (slug) do update set path = excluded.path, title = excluded.title, ships_on = excluded.ships_on,
               skus = excluded.skus, body_html = excluded.body_html, body_text = excluded.body_text,
               updated_at = excluded.updated_at",
        )
        .bind(&e.slug)
        .bind(&e.path)
        .bind(&e.title)
        .bind(&e.date)
        .bind(e.skus.join(","))
        .bind(&e.html)
        .bind(&e.text)
        .bind(t)
        .execute(&mut ***tx)
        .await?;
        report.editions += 1;
    }
    Ok(report)
}

/// A plan as the service holds it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Plan {
    /// Its id.
    pub plan_id: String,
    /// Its name.
    pub name: String,
    /// One edition's price now, in minor units.
    pub price_minor: i64,
    /// The currency.
    pub currency: String,
    /// `quarterly` or `annual`.
    pub cadence: String,
    /// What an edition holds.
    pub holds: String,
    /// Whether delivery is in the price.
    pub shipping_included: bool,
    /// Whether one can subscribe to it now.
    pub active: bool,
    /// The price a change replaced, and when it changed (see [`PRICE_NOTICE_SECONDS`]).
    #[serde(skip)]
    pub changed: Option<(i64, i64)>,
}

impl Plan {
    /// One edition's price for a period renewed at `at`: a changed price from the end of its
    /// notice period on, the one it replaced before.
    pub fn price_at(&self, at: i64) -> i64 {
        match self.changed {
            Some((previous, changed_at)) if at < changed_at + PRICE_NOTICE_SECONDS => previous,
            _ => self.price_minor,
        }
    }
}

/// The plan of an id, open or retired.
pub async fn plan(db: &Db, plan_id: &str) -> Result<Option<Plan>, sqlx::Error> {
    let row = sqlx::query(
        "select plan_id, name, price_minor, currency, cadence, holds, shipping_included, active, previous_price_minor,
           price_changed_at from folio_plan where plan_id = $1",
    )
    .bind(plan_id)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|r| Plan {
        plan_id: r.get("plan_id"),
        name: r.get("name"),
        price_minor: r.get("price_minor"),
        currency: r.get("currency"),
        cadence: r.get("cadence"),
        holds: r.get("holds"),
        shipping_included: r.get::<i64, _>("shipping_included") == 1,
        active: r.get::<i64, _>("active") == 1,
        changed: r.get::<Option<i64>, _>("previous_price_minor").zip(r.get::<Option<i64>, _>("price_changed_at")),
    }))
}

/// Where a subscription's editions go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ShipTo {
    /// Full name.
    pub name: String,
    /// Street and number.
    pub line1: String,
    /// Apartment, building.
    pub line2: String,
    /// Postal code.
    pub postal_code: String,
    /// Town.
    pub city: String,
    /// ISO code of the country.
    pub country: String,
}

impl ShipTo {
    /// The address of a row's `ship_*` columns (subscriptions and gifts keep it alike).
    pub fn from_row(r: &sqlx::any::AnyRow) -> ShipTo {
        ShipTo {
            name: r.get("ship_name"),
            line1: r.get("ship_line1"),
            line2: r.get("ship_line2"),
            postal_code: r.get("ship_postal_code"),
            city: r.get("ship_city"),
            country: r.get("ship_country"),
        }
    }

    /// The address as the pages print it: a line each, the country by its name.
    pub fn lines(&self) -> String {
        let country = crate::checkout::country(&self.country).map(|c| c.1).unwrap_or(self.country.as_str());
        [self.name.as_str(), &self.line1, &self.line2, &format!("{} {}", self.postal_code, self.city), country]
            .iter()
            .filter(|l| !l.trim().is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// A subscription as its subscriber (and the API) sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Subscription {
    /// Its id.
    pub subscription_id: String,
    /// Whose it is.
    #[serde(skip)]
    pub account_id: String,
    /// Its plan.
    pub plan_id: String,
    /// Where it stands.
    #[schema(value_type = String, example = "active")]
    pub status: SubscriptionStatus,
    /// The provider that bills it (`sandbox`, `stripe`).
    pub provider: String,
    /// The provider's id for it, once known.
    #[serde(skip)]
    pub provider_subscription_id: Option<String>,
    /// One edition's price in the current period, in minor units.
    pub price_minor: i64,
    /// The currency.
    pub currency: String,
    /// When the paid period began (unix seconds).
    pub current_period_start: Option<i64>,
    /// When it ends, and the next renewal falls.
    pub current_period_end: Option<i64>,
    /// Whether it ends with the paid period.
    pub cancel_at_period_end: bool,
    /// When it ended.
    pub cancelled_at: Option<i64>,
    /// When a pause ends by itself (none: paused until resumed).
    pub pause_resumes_at: Option<i64>,
    /// Where editions go.
    pub ship_to: ShipTo,
    /// When it was made.
    pub created_at: i64,
}

const COLUMNS: &str =
    "subscription_id, account_id, plan_id, status, provider, provider_subscription_id, price_minor, currency,
    current_period_start, current_period_end, cancel_at_period_end, cancelled_at, pause_resumes_at,
    ship_name, ship_line1, ship_line2, ship_postal_code, ship_city, ship_country, created_at";

fn from_row(r: &sqlx::any::AnyRow) -> Subscription {
    let status: String = r.get("status");
    Subscription {
        subscription_id: r.get("subscription_id"),
        account_id: r.get("account_id"),
        plan_id: r.get("plan_id"),
        // Only this module writes it, from the enum.
        status: status.parse().unwrap_or(SubscriptionStatus::Pending),
        provider: r.get("provider"),
        provider_subscription_id: r.get("provider_subscription_id"),
        price_minor: r.get("price_minor"),
        currency: r.get("currency"),
        current_period_start: r.get("current_period_start"),
        current_period_end: r.get("current_period_end"),
        cancel_at_period_end: r.get::<i64, _>("cancel_at_period_end") == 1,
        cancelled_at: r.get("cancelled_at"),
        pause_resumes_at: r.get("pause_resumes_at"),
        ship_to: ShipTo::from_row(r),
        created_at: r.get("created_at"),
    }
}

/// A subscription by its id.
pub async fn load(db: &Db, subscription_id: &str) -> Result<Option<Subscription>, sqlx::Error> {
    let row = sqlx::query(&format!("select {COLUMNS} from subscription where subscription_id = $1"))
        .bind(subscription_id)
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.as_ref().map(from_row))
}

/// An account's subscriptions, newest first.
pub async fn of_account(db: &Db, account_id: &str) -> Result<Vec<Subscription>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "select {COLUMNS} from subscription where account_id = $1 order by created_at desc, subscription_id"
    ))
    .bind(account_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.iter().map(from_row).collect())
}

/// What a subscriber asks for.
#[derive(Debug, Clone)]
pub struct Subscribe<'a> {
    /// Whose.
    pub account_id: &'a str,
    /// Which plan.
    pub plan_id: &'a str,
    /// Where editions go.
    pub address: &'a AddressInput,
    /// The provider that will bill it.
    pub provider: &'a str,
    /// Whether a second subscription to a plan one already has is wanted (a gift to oneself,
    /// a second address): without it, one per account and plan.
    pub another: bool,
}

/// The subscription waiting for its payment: made now, or the one already waiting for this
/// account and plan (a double click, a second tab), with its address brought up to date.
pub async fn begin(db: &Db, ask: &Subscribe<'_>) -> ApiResult<Subscription> {
    let mut errors = Vec::new();
    let checked = check_address(ask.address, &mut errors);
    let Some(((country, _, _), postal_code)) = checked.filter(|_| errors.is_empty()) else {
        return Err(errors.into_iter().next().unwrap_or_else(|| ApiError::invalid("country", "choose a country")));
    };
    let plan = plan(db, ask.plan_id)
        .await?
        .filter(|p| p.active)
        .ok_or_else(|| ApiError::NotFound(format!("no Folio plan `{}` is open to subscribers", ask.plan_id)))?;
    let held: Vec<String> = sqlx::query_scalar(
        "select status from subscription where account_id = $1 and plan_id = $2 and status not in ('pending', 'cancelled')",
    )
    .bind(ask.account_id)
    .bind(ask.plan_id)
    .fetch_all(&db.pool)
    .await?;
    if !held.is_empty() && !ask.another {
        return Err(ApiError::Conflict(format!(
            "you already subscribe to {} ({}); to take a second one, ask for another",
            plan.name,
            held[0].replace('_', " ")
        )));
    }
    let a = ask.address;
    let t = now();
    let mut tx = db.begin_write().await?;
    // The partial unique index keeps one pending per account and plan: a racing second
    // request inserts nothing and updates the first's address.
    sqlx::query(
        "insert into subscription (subscription_id, account_id, plan_id, provider, status, price_minor, currency,
           ship_name, ship_line1, ship_line2, ship_postal_code, ship_city, ship_country, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)
         on conflict (account_id, plan_id) where status = 'pending' do update set
           ship_name = excluded.ship_name, ship_line1 = excluded.ship_line1, ship_line2 = excluded.ship_line2,
           ship_postal_code = excluded.ship_postal_code, ship_city = excluded.ship_city,
           ship_country = excluded.ship_country, provider = excluded.provider, updated_at = excluded.updated_at",
    )
    .bind(new_id("sub"))
    .bind(ask.account_id)
    .bind(&plan.plan_id)
    .bind(ask.provider)
    .bind(SubscriptionStatus::Pending.as_str())
    .bind(plan.price_minor)
    .bind(&plan.currency)
    .bind(a.name.trim())
    .bind(a.line1.trim())
    .bind(a.line2.trim())
    .bind(postal_code)
    .bind(a.city.trim())
    .bind(*country)
    .bind(t)
    .execute(&mut **tx)
    .await?;
    let row = sqlx::query(&format!(
        "select {COLUMNS} from subscription where account_id = $1 and plan_id = $2 and status = 'pending'"
    ))
    .bind(ask.account_id)
    .bind(&plan.plan_id)
    .fetch_one(&mut **tx)
    .await?;
    tx.commit().await?;
    Ok(from_row(&row))
}

/// A paid invoice of a subscription, as its page lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Invoice {
    /// The provider's id.
    pub invoice_id: String,
    /// `paid`, `failed`, `open` or `void`.
    pub status: String,
    /// What it charged (or asks), in minor units.
    pub amount_minor: i64,
    /// The currency.
    pub currency: String,
    /// The period it pays for (unix seconds).
    pub period_start: i64,
    /// Its end.
    pub period_end: i64,
    /// When the provider tries again after a failure.
    pub next_attempt_at: Option<i64>,
}

/// A subscription's invoices, newest period first.
pub async fn invoices(db: &Db, subscription_id: &str) -> Result<Vec<Invoice>, sqlx::Error> {
    let rows = sqlx::query(
        "select invoice_id, status, amount_minor, currency, period_start, period_end, next_attempt_at
         from subscription_invoice where subscription_id = $1 order by period_start desc, invoice_id",
    )
    .bind(subscription_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| Invoice {
            invoice_id: r.get("invoice_id"),
            status: r.get("status"),
            amount_minor: r.get("amount_minor"),
            currency: r.get("currency"),
            period_start: r.get("period_start"),
            period_end: r.get("period_end"),
            next_attempt_at: r.get("next_attempt_at"),
        })
        .collect())
}

/// Whether a subscription has paid for the moment `at` (unix seconds): an edition ships to
/// it only then.
pub async fn paid_for(db: &Db, subscription_id: &str, at: i64) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "select count(*) from subscription_invoice
         where subscription_id = $1 and status = 'paid' and period_start <= $2 and $2 < period_end",
    )
    .bind(subscription_id)
    .bind(at)
    .fetch_one(&db.pool)
    .await?;
    Ok(n > 0)
}
