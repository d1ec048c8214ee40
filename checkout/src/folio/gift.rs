//! A gift of the Folio: one or four editions paid for once by an account, for someone else. The
//! giver names the recipient, their address and e-mail, and writes a message; the recipient is
//! e-mailed with it when the first edition leaves, and each of the editions paid for is
//! delivered like a subscriber's (an order, an e-mail, exactly once). Nothing renews.
//!
//! A gift is made pending when the giver goes to pay ([`begin`]) and is paid only from the
//! provider's verified event (a payment-mode Checkout Session naming it), applied in
//! [`apply_paid`].

use atelier_domain::Currency;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use super::events::GiftFacts;
use super::ShipTo;
use crate::checkout::pricing::display;
use crate::checkout::{check_address, AddressInput};
use crate::db::{Db, WriteTx};
use crate::email::EmailAddress;
use crate::error::{ApiError, ApiResult};
use crate::ids::{new_id, now};
use crate::notify::{enqueue, Mail};
use crate::orders::written_date;
use crate::payments::webhook;
use crate::views::render;
use crate::AppState;

/// How many editions a gift may hold: one, to try, or a year's four.
pub const EDITIONS: [i64; 2] = [1, 4];

/// Longest message a giver may write (it is printed on the first edition's e-mail).
pub const MESSAGE_MAX: usize = 600;

/// What a giver asks for.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct GiftInput {
    /// The plan (`quarterly`).
    pub plan_id: String,
    /// Editions given: 1 or 4.
    pub editions: i64,
    /// Where the recipient is told of it.
    pub recipient_email: String,
    /// How the giver signs it.
    pub from_name: String,
    /// A message for the recipient.
    #[serde(default)]
    pub message: String,
    /// The recipient's name and address.
    #[serde(flatten)]
    pub address: AddressInput,
}

/// A gift as its giver sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Gift {
    /// `gft_…`.
    pub gift_id: String,
    /// The giver's account.
    pub account_id: String,
    /// The plan.
    pub plan_id: String,
    /// Editions paid for.
    pub editions: i64,
    /// What it costs (or cost), in minor units.
    pub price_minor: i64,
    /// The currency.
    pub currency: String,
    /// `pending` or `paid`.
    pub status: String,
    /// How the giver signed it.
    pub from_name: String,
    /// The message.
    pub message: String,
    /// The recipient's e-mail.
    pub recipient_email: String,
    /// The recipient and their address.
    pub ship: ShipTo,
    /// When it was paid.
    pub paid_at: Option<i64>,
    /// Editions sent so far.
    pub sent: i64,
}

const COLUMNS: &str =
    "g.gift_id, g.account_id, g.plan_id, g.editions, g.price_minor, g.currency, g.status, g.from_name,
    g.message, g.recipient_email, g.ship_name, g.ship_line1, g.ship_line2, g.ship_postal_code, g.ship_city,
    g.ship_country, g.paid_at, (select count(*) from gift_delivery d where d.gift_id = g.gift_id) as sent";

fn from_row(r: &sqlx::any::AnyRow) -> Gift {
    Gift {
        gift_id: r.get("gift_id"),
        account_id: r.get("account_id"),
        plan_id: r.get("plan_id"),
        editions: r.get("editions"),
        price_minor: r.get("price_minor"),
        currency: r.get("currency"),
        status: r.get("status"),
        from_name: r.get("from_name"),
        message: r.get("message"),
        recipient_email: r.get("recipient_email"),
        ship: ShipTo::from_row(r),
        paid_at: r.get("paid_at"),
        sent: r.get("sent"),
    }
}

/// A gift by its id.
pub async fn load(db: &Db, gift_id: &str) -> Result<Option<Gift>, sqlx::Error> {
    let row = sqlx::query(&format!("select {COLUMNS} from folio_gift g where g.gift_id = $1"))
        .bind(gift_id)
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.as_ref().map(from_row))
}

/// The gifts an account has given (or is giving), newest first.
pub async fn of_account(db: &Db, account_id: &str) -> Result<Vec<Gift>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "select {COLUMNS} from folio_gift g where g.account_id = $1 order by g.created_at desc, g.gift_id"
    ))
    .bind(account_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.iter().map(from_row).collect())
}

/// The gift waiting for its payment: made now, or the same one already waiting (a double
/// submit, a second tab) brought up to date. Nothing is charged here.
pub async fn begin(db: &Db, account_id: &str, input: &GiftInput) -> ApiResult<Gift> {
    let mut errors = Vec::new();
    let checked = check_address(&input.address, &mut errors);
    if !EDITIONS.contains(&input.editions) {
        errors.push(ApiError::invalid("editions", "give one edition or four"));
    }
    let recipient = match EmailAddress::parse(&input.recipient_email) {
        Ok(e) => Some(e),
        Err(e) => {
            errors.push(ApiError::invalid("recipient_email", format!("the recipient's e-mail: {e}")));
            None
        }
    };
    let from_name = input.from_name.split_whitespace().collect::<Vec<_>>().join(" ");
    if from_name.is_empty() || from_name.chars().count() > 100 || from_name.chars().any(char::is_control) {
        errors.push(ApiError::invalid("from_name", "sign the gift with a name of at most 100 characters"));
    }
    let message = input.message.trim().replace("\r\n", "\n");
    if message.chars().count() > MESSAGE_MAX {
        errors.push(ApiError::invalid("message", format!("keep the message to {MESSAGE_MAX} characters")));
    }
    if message.chars().any(|c| c.is_control() && c != '\n') {
        errors.push(ApiError::invalid("message", "the message holds characters that cannot be printed"));
    }
    let (Some(((country, _, _), postal_code)), Some(recipient), true) = (checked, recipient, errors.is_empty()) else {
        return Err(errors.into_iter().next().unwrap_or_else(|| ApiError::invalid("country", "choose a country")));
    };
    let plan = super::plan(db, &input.plan_id)
        .await?
        .filter(|p| p.active)
        .ok_or_else(|| ApiError::NotFound(format!("no Folio plan `{}` is open", input.plan_id)))?;
    let a = &input.address;
    let t = now();
    let mut tx = db.begin_write().await?;
    // The partial unique index keeps one pending gift per giver and recipient: a racing
    // second submit updates the first.
    sqlx::query(
        "insert into folio_gift (gift_id, account_id, plan_id, editions, price_minor, currency, status, from_name,
           message, recipient_email, ship_name, ship_line1, ship_line2, ship_postal_code, ship_city, ship_country,
           created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16)
         on conflict (account_id, recipient_email) where status = 'pending' do update set
           plan_id = excluded.plan_id, editions = excluded.editions, price_minor = excluded.price_minor,
           currency = excluded.currency, from_name = excluded.from_name, message = excluded.message,
           ship_name = excluded.ship_name, ship_line1 = excluded.ship_line1, ship_line2 = excluded.ship_line2,
           ship_postal_code = excluded.ship_postal_code, ship_city = excluded.ship_city,
           ship_country = excluded.ship_country, updated_at = excluded.updated_at",
    )
    .bind(new_id("gft"))
    .bind(account_id)
    .bind(&plan.plan_id)
    .bind(input.editions)
    .bind(plan.price_minor * input.editions)
    .bind(&plan.currency)
    .bind(&from_name)
    .bind(&message)
    .bind(recipient.as_str())
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
        "select {COLUMNS} from folio_gift g where g.account_id = $1 and g.recipient_email = $2 and g.status = 'pending'"
    ))
    .bind(account_id)
    .bind(recipient.as_str())
    .fetch_one(&mut **tx)
    .await?;
    tx.commit().await?;
    Ok(from_row(&row))
}

/// The sandbox's payment of a gift: the signed, payment-mode `checkout.session.completed`
/// Stripe would send, through the same webhook handler. Paid twice, it applies once.
pub async fn sandbox_pay(state: &AppState, gift: &Gift) -> ApiResult<()> {
    let t = super::sandbox::clock(state).await?;
    let session = format!("cs_sandbox_{}", gift.gift_id);
    let event = json!({
        "id": format!("evt_sandbox_{}_paid", gift.gift_id),
        "object": "event",
        "api_version": webhook::api_version(),
        "created": t,
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": "checkout.session.completed",
        "data": { "object": {
            "id": session,
            "object": "checkout.session",
            "amount_total": gift.price_minor,
            "created": t,
            "currency": gift.currency.to_lowercase(),
            "customer": null,
            "livemode": false,
            "metadata": { "folio_gift": gift.gift_id },
            "mode": "payment",
            "payment_intent": format!("pi_sandbox_{}", gift.gift_id),
            "payment_status": "paid",
            "status": "complete",
        }},
    });
    let body = serde_json::to_vec(&event).map_err(|e| ApiError::Internal(e.to_string()))?;
    let header = webhook::signature_header(state.keys.webhook.expose(), now(), &body);
    webhook::handle(state, Some(&header), &body).await?;
    Ok(())
}

/// Applies a paid payment-mode session naming a gift, created at `at`: the gift is paid from
/// then (its editions are the first to ship after), when the session charged its price in its
/// currency (a session opened before the gift was changed does not give the changed gift).
/// Gives the gift when it changed.
pub async fn apply_paid(tx: &mut WriteTx, at: i64, f: &GiftFacts) -> Result<Option<String>, sqlx::Error> {
    let Some((amount, currency)) = &f.amount else {
        tracing::error!(gift = %f.gift_id, session = %f.session, "a gift's payment without its amount: not given");
        return Ok(None);
    };
    let done = sqlx::query(
        "update folio_gift set status = 'paid', paid_at = $1, checkout_session_id = $2, updated_at = $3
         where gift_id = $4 and status = 'pending' and price_minor = $5 and lower(currency) = $6",
    )
    .bind(at)
    .bind(&f.session)
    .bind(now())
    .bind(&f.gift_id)
    .bind(amount)
    .bind(currency)
    .execute(&mut ***tx)
    .await?;
    if done.rows_affected() == 0 {
        let state: Option<(String, i64)> =
            sqlx::query_as("select status, price_minor from folio_gift where gift_id = $1")
                .bind(&f.gift_id)
                .fetch_optional(&mut ***tx)
                .await?;
        if matches!(&state, Some((status, price)) if status == "pending" && price != amount) {
            tracing::error!(gift = %f.gift_id, session = %f.session, paid = amount, price = state.map(|s| s.1),
                "a gift paid at a price it no longer has: not given; refund the payment");
        }
        return Ok(None);
    }
    Ok(Some(f.gift_id.clone()))
}

/// Tells the giver their gift is paid and what the recipient receives when, in the
/// transaction that recorded the payment.
pub async fn after_paid(state: &AppState, tx: &mut WriteTx, gift_id: &str) -> Result<(), sqlx::Error> {
    let row = sqlx::query(&format!(
        "select {COLUMNS}, a.email as giver_email, a.name as giver_name, p.name as plan_name
         from folio_gift g join account a on a.account_id = g.account_id join folio_plan p on p.plan_id = g.plan_id
         where g.gift_id = $1"
    ))
    .bind(gift_id)
    .fetch_optional(&mut ***tx)
    .await?;
    let Some(r) = row else { return Ok(()) };
    let gift = from_row(&r);
    let first: Option<(String, String)> = sqlx::query_as(
        "select title, ships_on from folio_edition where ships_on >= $1 order by ships_on, slug limit 1",
    )
    .bind(crate::orders::date(gift.paid_at.unwrap_or_else(now)))
    .fetch_optional(&mut ***tx)
    .await?;
    let currency: Currency = gift.currency.parse().unwrap_or(Currency::Eur);
    let giver_name: String = r.get("giver_name");
    let email: String = r.get("giver_email");
    let plan: String = r.get("plan_name");
    let editions = if gift.editions == 1 { "one edition".to_string() } else { format!("{} editions", gift.editions) };
    let base = &state.config.public_url;
    let ctx = json!({
        "heading": "Your gift of the Folio is on its way",
        "paragraphs": [
            if giver_name.is_empty() { "Hello,".to_string() } else { format!("Dear {giver_name},") },
            format!("Thank you: {} for {editions} of {plan} is paid, {} in all. Nothing renews.", gift.ship.name, display(gift.price_minor, currency)),
            match first {
                Some((title, day)) => {
                    let on = atelier_domain::ships_at(&day).map(written_date).unwrap_or(day);
                    format!("The first, {title}, leaves the atelier on {on}; {} is e-mailed at {} with your message when it does.", gift.ship.name, gift.recipient_email)
                }
                None => format!("{} is e-mailed at {} with your message when the first edition leaves the atelier.", gift.ship.name, gift.recipient_email),
            },
        ],
        "action_url": format!("{base}/account/folio"),
        "action_text": "See your gifts",
        "after": ["Each edition is sent to the address you gave; you can follow them from your account."],
        "recipient": email,
        "about": "as a customer of",
        "site_title": state.config.site_title,
        "site_url": base,
    });
    let mail = Mail {
        subject: format!("Your gift of the Folio to {}", gift.ship.name),
        text: render("email/account.txt", &ctx),
        html: Some(render("email/account.html", &ctx)),
    };
    enqueue(tx, "folio_gift_paid", &format!("folio-gift-paid:{gift_id}"), &email, &mail).await?;
    Ok(())
}

/// A gift as its pages show it.
#[derive(Debug, Clone, Serialize)]
pub struct GiftView {
    /// The gift.
    pub gift: Gift,
    /// The plan's name.
    pub plan_name: String,
    /// What it costs, written.
    pub price: String,
    /// "one edition", "four editions".
    pub editions_label: String,
    /// The recipient's address, a line each.
    pub address: String,
    /// Where it stands: awaiting payment, or how many editions have gone.
    pub state: String,
}

/// How many editions, in words.
pub fn editions_label(n: i64) -> String {
    match n {
        1 => "one edition".into(),
        4 => "four editions".into(),
        n => format!("{n} editions"),
    }
}

/// The view of a gift.
pub async fn view(db: &Db, gift: Gift) -> Result<GiftView, sqlx::Error> {
    let plan = super::plan(db, &gift.plan_id).await?;
    let currency: Currency = gift.currency.parse().unwrap_or(Currency::Eur);
    let address = gift.ship.lines();
    let state = match (gift.status.as_str(), gift.sent) {
        ("pending", _) => "awaiting payment".to_string(),
        (_, 0) => "paid; the first edition is on its way with the next to leave the atelier".to_string(),
        (_, sent) if sent >= gift.editions => format!("all {} sent", editions_label(gift.editions)),
        (_, sent) => format!("{sent} of {} sent", gift.editions),
    };
    Ok(GiftView {
        plan_name: plan.map(|p| p.name).unwrap_or_else(|| gift.plan_id.clone()),
        price: display(gift.price_minor, currency),
        editions_label: editions_label(gift.editions),
        address,
        state,
        gift,
    })
}
