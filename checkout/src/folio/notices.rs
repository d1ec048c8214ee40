//! What a subscriber is told when their subscription changes: begun, paused, resumed, ending,
//! a payment that failed (with where to mend the card), a payment that came through after all,
//! ended. Decided from the subscription as the provider's event left it, in that event's
//! transaction, against what the subscriber was last told: a replayed or older event, or an
//! ordinary renewal, says nothing new and sends nothing.

use atelier_domain::{Currency, SubscriptionStatus};
use serde_json::json;
use sqlx::Row;

use crate::checkout::pricing::display;
use crate::db::WriteTx;
use crate::notify::{enqueue, Mail};
use crate::orders::written_date;
use crate::views::render;
use crate::AppState;

/// Where a subscription stands, as its subscriber is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Situation {
    /// Billed each period, editions on their way.
    Active,
    /// Collection paused: no edition, nothing billed; until then, or until resumed.
    Paused(Option<i64>),
    /// Ends with the paid period, on that day.
    Ending(i64),
    /// The latest renewal was not paid.
    PastDue,
    /// Ended.
    Cancelled,
}

impl Situation {
    /// The situation of a subscription's state; `None` while it waits for its first payment.
    pub fn of(
        status: SubscriptionStatus,
        resumes_at: Option<i64>,
        ending: bool,
        period_end: Option<i64>,
    ) -> Option<Self> {
        Some(match status {
            SubscriptionStatus::Pending => return None,
            SubscriptionStatus::Cancelled => Situation::Cancelled,
            SubscriptionStatus::PastDue => Situation::PastDue,
            SubscriptionStatus::Paused => Situation::Paused(resumes_at),
            SubscriptionStatus::Active => match period_end {
                Some(end) if ending => Situation::Ending(end),
                _ => Situation::Active,
            },
        })
    }

    /// Its stored form.
    pub fn key(&self) -> String {
        match self {
            Situation::Active => "active".into(),
            Situation::Paused(None) => "paused".into(),
            Situation::Paused(Some(t)) => format!("paused:{t}"),
            Situation::Ending(t) => format!("ending:{t}"),
            Situation::PastDue => "past_due".into(),
            Situation::Cancelled => "cancelled".into(),
        }
    }
}

/// Queues the e-mail for a subscription's change, if the subscriber has not been told of its
/// situation yet.
pub async fn after_change(state: &AppState, tx: &mut WriteTx, subscription_id: &str) -> Result<(), sqlx::Error> {
    let row = sqlx::query(
        "select s.status, s.pause_resumes_at, s.cancel_at_period_end, s.current_period_end, s.notified, s.price_minor,
           s.currency, s.event_at, a.email, a.name, p.name as plan_name
         from subscription s join account a on a.account_id = s.account_id join folio_plan p on p.plan_id = s.plan_id
         where s.subscription_id = $1",
    )
    .bind(subscription_id)
    .fetch_optional(&mut ***tx)
    .await?;
    let Some(r) = row else { return Ok(()) };
    let status: SubscriptionStatus = r.get::<String, _>("status").parse().unwrap_or(SubscriptionStatus::Pending);
    let period_end: Option<i64> = r.get("current_period_end");
    let Some(now) =
        Situation::of(status, r.get("pause_resumes_at"), r.get::<i64, _>("cancel_at_period_end") == 1, period_end)
    else {
        return Ok(());
    };
    let before: String = r.get("notified");
    if before == now.key() {
        return Ok(());
    }
    let next_edition: Option<(String, String)> =
        sqlx::query_as("select title, ships_on from folio_edition where ships_on > $1 order by ships_on, slug limit 1")
            .bind(crate::orders::date(r.get::<i64, _>("event_at")))
            .fetch_optional(&mut ***tx)
            .await?;
    let currency: Currency = r.get::<String, _>("currency").parse().unwrap_or(Currency::Eur);
    let words = Words {
        plan: r.get("plan_name"),
        price: display(r.get("price_minor"), currency),
        next_billing: period_end.map(written_date).unwrap_or_default(),
        next_edition: next_edition.map(|(title, day)| {
            let on = atelier_domain::ships_at(&day).map(written_date).unwrap_or(day);
            format!("{title}, which leaves the atelier on {on}")
        }),
    };
    let Some(text) = message(&before, &now, &words) else { return Ok(()) };
    let base = &state.config.public_url;
    let email: String = r.get("email");
    let name: String = r.get("name");
    let ctx = json!({
        "heading": text.heading,
        "paragraphs": std::iter::once(if name.is_empty() { "Hello,".to_string() } else { format!("Dear {name},") })
            .chain(text.paragraphs.into_iter().filter(|p| !p.is_empty()))
            .collect::<Vec<_>>(),
        // A failed payment links straight to where the card is mended (Stripe's billing portal).
        "action_url": if now == Situation::PastDue {
            format!("{base}/account/folio/{subscription_id}/card")
        } else {
            format!("{base}/account/folio")
        },
        "action_text": text.action,
        "after": text.after,
        "recipient": email,
        "about": "as a subscriber of the Folio at",
        "site_title": state.config.site_title,
        "site_url": base,
    });
    let mail = Mail {
        subject: text.subject,
        text: render("email/account.txt", &ctx),
        html: Some(render("email/account.html", &ctx)),
    };
    // One message per change: the same situation again later (paused twice) is told again.
    let key = format!("folio-notice:{subscription_id}:{before}>{}:{}", now.key(), r.get::<i64, _>("event_at"));
    let kind = format!("folio_{}", now.key().split(':').next().unwrap_or("change"));
    enqueue(tx, &kind, &key, &email, &mail).await?;
    sqlx::query("update subscription set notified = $1 where subscription_id = $2")
        .bind(now.key())
        .bind(subscription_id)
        .execute(&mut ***tx)
        .await?;
    Ok(())
}

/// The facts a notice is written from.
struct Words {
    plan: String,
    price: String,
    next_billing: String,
    next_edition: Option<String>,
}

/// A notice's words.
struct Text {
    subject: String,
    heading: &'static str,
    paragraphs: Vec<String>,
    action: &'static str,
    after: Vec<String>,
}

/// What to say on going from what was last said to `now`; `None` when nothing needs saying.
fn message(before: &str, now: &Situation, w: &Words) -> Option<Text> {
    let next = w.next_edition.as_deref().map(|e| format!("Your next edition is {e}.")).unwrap_or_default();
    let change = "You can pause, resume or cancel your Folio from your account at any time.".to_string();
    Some(match now {
        Situation::Active if before.is_empty() => Text {
            subject: format!("Welcome to {}", w.plan),
            heading: "Welcome to the Folio",
            paragraphs: vec![
                format!("Your subscription to {} is confirmed, at {} an edition, delivery included.", w.plan, w.price),
                next,
                format!("Your next payment is taken on {}; we write to you before any change of price.", w.next_billing),
            ],
            action: "See your subscription",
            after: vec![change],
        },
        Situation::Active if before == "past_due" => Text {
            subject: "Your Folio payment went through".into(),
            heading: "Thank you: your payment went through",
            paragraphs: vec![
                "The payment for your Folio has now been taken, and your subscription is in good order again.".into(),
                next,
            ],
            action: "See your subscription",
            after: vec![format!("Your next payment is taken on {}.", w.next_billing)],
        },
        Situation::Active if before.starts_with("ending") => Text {
            subject: "Your Folio continues".into(),
            heading: "Your Folio continues",
            paragraphs: vec![
                "Your cancellation is withdrawn: the Folio carries on as before.".into(),
                format!("Your next payment is taken on {}.", w.next_billing),
            ],
            action: "See your subscription",
            after: vec![change],
        },
        Situation::Active if before.starts_with("paused") => Text {
            subject: "Your Folio is resumed".into(),
            heading: "Your Folio is resumed",
            paragraphs: vec![
                "Welcome back. Nothing is charged today: your billing date stays as it was.".into(),
                format!("Your next payment is taken on {}, for the editions that follow it.", w.next_billing),
            ],
            action: "See your subscription",
            after: vec![change],
        },
        Situation::Active => return None,
        Situation::Paused(until) => Text {
            subject: "Your Folio is paused".into(),
            heading: "Your Folio is paused",
            paragraphs: vec![
                match until {
                    Some(t) => format!(
                        "No edition is sent and nothing is charged until {}, when your Folio resumes by itself.",
                        written_date(*t)
                    ),
                    None => "No edition is sent and nothing is charged until you resume your Folio.".into(),
                },
                "Editions already paid for are sent as usual.".into(),
            ],
            action: "Resume or change the pause",
            after: vec![change],
        },
        Situation::Ending(end) => Text {
            subject: format!("Your Folio ends on {}", written_date(*end)),
            heading: "Your Folio will end",
            paragraphs: vec![
                format!(
                    "As you asked, your Folio ends on {} with the period already paid for: nothing more is charged.",
                    written_date(*end)
                ),
                "Editions of the paid period are sent as usual.".into(),
            ],
            action: "Changed your mind? Keep it",
            after: vec!["If you did not ask for this, resume your Folio from your account, or write to us.".into()],
        },
        Situation::PastDue => Text {
            subject: "We could not take payment for your Folio".into(),
            heading: "Your payment did not go through",
            paragraphs: vec![
                format!("We could not take the payment for the next period of {}.", w.plan),
                "Please update your card from your account: we try again over the coming days, and the editions of an unpaid period are held until it is paid.".into(),
            ],
            action: "Update my card",
            after: vec!["If the payment cannot be taken after the last attempt, the subscription ends and we tell you so.".into()],
        },
        Situation::Cancelled if before == "past_due" => Text {
            subject: "Your Folio has ended: the payment could not be taken".into(),
            heading: "Your Folio has ended",
            paragraphs: vec![
                format!("We tried several times over the past two weeks, but the payment for the next period of {} could not be taken, so your subscription has ended. Nothing more will be charged.", w.plan),
                "Editions you paid for before have been sent. If you would like the Folio again, you can subscribe at any time with a card that works.".into(),
            ],
            action: "Subscribe again",
            after: vec!["If you think this is a mistake, reply to this e-mail and we will look into it.".into()],
        },
        Situation::Cancelled => Text {
            subject: "Your Folio has ended".into(),
            heading: "Your Folio has ended",
            paragraphs: vec![
                format!("Your subscription to {} has ended; nothing more will be charged.", w.plan),
                "Thank you for the seasons you spent with us. The editions stay on the site for you to read.".into(),
            ],
            action: "Subscribe again",
            after: vec![],
        },
    })
}

/// Subscriptions told of price changes per transaction.
const PRICE_BATCH: i64 = 500;

/// Tells every running, paused or past-due subscriber of a plan whose price changed, once per
/// change: the new price, the old, and the first renewal that pays it. Gives how many were told.
pub async fn price_changes(state: &AppState) -> crate::error::ApiResult<usize> {
    let mut told = 0;
    loop {
        let mut tx = state.db.begin_write().await?;
        let rows = sqlx::query(
            "select s.subscription_id, s.current_period_end, a.email, a.name, p.name as plan_name, p.price_minor,
               p.previous_price_minor, p.price_changed_at, p.currency, p.cadence
             from subscription s join folio_plan p on p.plan_id = s.plan_id join account a on a.account_id = s.account_id
             where p.price_changed_at is not null and s.status in ('active', 'paused', 'past_due')
               and (s.price_told_at is null or s.price_told_at < p.price_changed_at)
             order by s.subscription_id limit $1",
        )
        .bind(PRICE_BATCH)
        .fetch_all(&mut **tx)
        .await?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(told);
        }
        for r in &rows {
            let id: String = r.get("subscription_id");
            let changed_at: i64 = r.get("price_changed_at");
            let applies_from = changed_at + super::PRICE_NOTICE_SECONDS;
            let end: Option<i64> = r.get("current_period_end");
            // The first renewal at the new price: the first to fall once the notice has run.
            let months = r.get::<String, _>("cadence").parse::<atelier_domain::Cadence>().map_or(3, |c| c.months());
            let first = match end {
                Some(mut renewal) => {
                    while renewal < applies_from {
                        renewal = atelier_domain::add_months(renewal, months);
                    }
                    format!("on {}", written_date(renewal))
                }
                None => format!("after {}", written_date(applies_from)),
            };
            let currency: Currency = r.get::<String, _>("currency").parse().unwrap_or(Currency::Eur);
            let new = display(r.get("price_minor"), currency);
            let old = r.get::<Option<i64>, _>("previous_price_minor").map(|p| display(p, currency)).unwrap_or_default();
            let plan: String = r.get("plan_name");
            let email: String = r.get("email");
            let name: String = r.get("name");
            let base = &state.config.public_url;
            let ctx = json!({
                "heading": "A new price for the Folio",
                "paragraphs": [
                    if name.is_empty() { "Hello,".to_string() } else { format!("Dear {name},") },
                    format!("The price of an edition of {plan} changes from {old} to {new}."),
                    format!("You pay the new price from your renewal {first}; until then, nothing changes. Editions already paid for are not affected."),
                ],
                "action_url": format!("{base}/account/folio"),
                "action_text": "See your subscription",
                "after": ["If you would rather not continue at the new price, you can pause or cancel your Folio from your account before that renewal, at no cost."],
                "recipient": email,
                "about": "as a subscriber of the Folio at",
                "site_title": state.config.site_title,
                "site_url": base,
            });
            let mail = Mail {
                subject: format!("A new price for {plan}"),
                text: render("email/account.txt", &ctx),
                html: Some(render("email/account.html", &ctx)),
            };
            enqueue(&mut tx, "folio_price", &format!("folio-price:{id}:{changed_at}"), &email, &mail).await?;
            sqlx::query("update subscription set price_told_at = $1 where subscription_id = $2")
                .bind(changed_at)
                .bind(&id)
                .execute(&mut **tx)
                .await?;
            told += 1;
        }
        tx.commit().await?;
    }
}
