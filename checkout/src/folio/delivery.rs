//! Each edition to each subscription that paid for it, once (FR-023): when an edition's day has
//! come, every subscription whose paid period covers that day, and which is neither paused nor
//! ended, gets an order of the edition's bottles (at no charge, its stock taken, then fulfilled
//! and shipped like any order) and the edition's e-mail, both made in the transaction that
//! claims the (subscription, edition) pair. Two instances, or one run again after a crash,
//! cannot make a second. When the stock cannot serve everyone, the oldest subscriptions are
//! served first and staff are told what is missing.

use atelier_domain::{ships_at, SubscriptionStatus};
use std::collections::HashMap;

use serde::Serialize;
use sqlx::Row;

use crate::db::{Engine, WriteTx};
use crate::error::{ApiError, ApiResult};
use crate::ids::{new_id, now};
use crate::notify::{enqueue, enqueue_many, Mail, Queued, STAFF};
use crate::orders::{insert_prepaid, links, PrepaidOrder};
use crate::views::render;
use crate::AppState;

/// Receivers served per transaction (a few statements whatever its size). On SQLite a chunk
/// holds the one writer lock every cart edit also needs: a few milliseconds at a time. On
/// PostgreSQL it locks only the edition's stock rows and the order counter, which carts do not
/// touch: larger chunks, fewer round trips.
fn chunk(engine: Engine) -> i64 {
    match engine {
        Engine::Sqlite => 4,
        Engine::Postgres => 100,
    }
}

/// How long the run rests after each chunk, as a share of the chunk's own time: the shop's
/// requests get the writer and the processor at least half the time while an edition goes out.
const REST_PER_WORK: u32 = 1;

/// How far back an edition is still delivered (to a payment that came late, or stock that came
/// back): the longest paid period, a year, and a little.
const LOOK_BACK_SECONDS: i64 = 400 * 86_400;

/// What one run did for one edition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EditionRun {
    /// The edition's slug.
    pub edition: String,
    /// Subscriptions that got their order and e-mail in this run.
    pub delivered: usize,
    /// Subscriptions due the edition that the stock could not serve (they are served by a later
    /// run, once stock arrives).
    pub short: usize,
}

/// An edition as the delivery reads it.
struct Edition {
    slug: String,
    title: String,
    path: String,
    skus: Vec<String>,
    ships_at: i64,
    html: String,
    text: String,
}

/// A subscription, or a gift, due an edition.
struct Due {
    /// The subscription's id or the gift's.
    id: String,
    /// The subscriber's account (a gift's recipient has none).
    account_id: Option<String>,
    email: String,
    currency: String,
    /// Its place in the queue: when it was made (a subscription) or paid (a gift).
    created_at: i64,
    ship: crate::folio::ShipTo,
    gift: Option<GiftNote>,
}

/// What an edition's e-mail to a gift's recipient says of the gift.
#[derive(Serialize)]
struct GiftNote {
    from: String,
    message: String,
    /// Editions given.
    editions: i64,
    /// Which of them this is, from 1.
    this: i64,
}

/// Who receives editions, in the order they are served: subscribers, then gifts' recipients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Subscriptions,
    Gifts,
}

impl Source {
    const ALL: [Source; 2] = [Source::Subscriptions, Source::Gifts];

    /// The table that keeps each (receiver, edition) pair once, and its receiver column.
    fn claims(self) -> (&'static str, &'static str) {
        match self {
            Source::Subscriptions => ("edition_delivery", "subscription_id"),
            Source::Gifts => ("gift_delivery", "gift_id"),
        }
    }
}

/// Delivers every edition whose day has come, to every subscription due it and not yet served
/// (by the sandbox's clock when the sandbox bills).
pub async fn deliver_due(state: &AppState) -> ApiResult<Vec<EditionRun>> {
    deliver_as_of(state, super::account::now_for(state).await?).await
}

/// [`deliver_due`] as if it were `at` (unix seconds): the sandbox's clock, and tests.
pub async fn deliver_as_of(state: &AppState, at: i64) -> ApiResult<Vec<EditionRun>> {
    let rows = sqlx::query("select slug, title, path, ships_on, skus, body_html, body_text from folio_edition")
        .fetch_all(&state.db.pool)
        .await?;
    let mut editions: Vec<Edition> = rows
        .into_iter()
        .filter_map(|r| {
            let skus: String = r.get("skus");
            Some(Edition {
                ships_at: ships_at(&r.get::<String, _>("ships_on"))?,
                slug: r.get("slug"),
                title: r.get("title"),
                path: r.get("path"),
                skus: skus.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
                html: r.get("body_html"),
                text: r.get("body_text"),
            })
        })
        .filter(|e| e.ships_at <= at && e.ships_at > at - LOOK_BACK_SECONDS)
        .collect();
    editions.sort_by(|a, b| a.ships_at.cmp(&b.ships_at).then_with(|| a.slug.cmp(&b.slug)));
    let mut runs = Vec::new();
    for edition in &editions {
        let run = deliver_edition(state, edition).await?;
        if run.delivered > 0 || run.short > 0 {
            tracing::info!(edition = %run.edition, delivered = run.delivered, short = run.short, "Folio edition delivered");
            runs.push(run);
        }
    }
    Ok(runs)
}

/// The statuses that receive editions: an active subscription, and one whose latest renewal
/// failed (it still paid for the period before).
const RECEIVING: [SubscriptionStatus; 2] = [SubscriptionStatus::Active, SubscriptionStatus::PastDue];

/// The subscriptions due an edition and not yet served, oldest first, after a (created_at,
/// id) position.
const DUE: &str = "select s.subscription_id as id, s.account_id, a.email, s.currency, s.created_at,
       s.ship_name, s.ship_line1, s.ship_line2, s.ship_postal_code, s.ship_city, s.ship_country
     from subscription s join account a on a.account_id = s.account_id
     where s.status in ($1, $2) and s.paused = 0
       and exists (select 1 from subscription_invoice i where i.subscription_id = s.subscription_id
                   and i.status = 'paid' and i.period_start <= $3 and $3 < i.period_end)
       and not exists (select 1 from edition_delivery d where d.subscription_id = s.subscription_id
                       and d.edition_slug = $4)
       and (s.created_at, s.subscription_id) > ($5, $6)
     order by s.created_at, s.subscription_id limit $7";

/// The paid gifts due an edition and not yet served, first paid first, after a (paid_at, id)
/// position: an edition that ships after the payment, while editions given remain.
const DUE_GIFTS: &str = "select g.gift_id as id, g.recipient_email as email, g.currency, g.paid_at as created_at,
       g.ship_name, g.ship_line1, g.ship_line2, g.ship_postal_code, g.ship_city, g.ship_country,
       g.from_name, g.message, g.editions,
       (select count(*) from gift_delivery d where d.gift_id = g.gift_id) as sent
     from folio_gift g
     where g.status = 'paid' and g.paid_at <= $1
       and (select count(*) from gift_delivery d where d.gift_id = g.gift_id) < g.editions
       and not exists (select 1 from gift_delivery d where d.gift_id = g.gift_id and d.edition_slug = $2)
       and (g.paid_at, g.gift_id) > ($3, $4)
     order by g.paid_at, g.gift_id limit $5";

async fn deliver_edition(state: &AppState, edition: &Edition) -> ApiResult<EditionRun> {
    let lines = bottles(state, edition).await?;
    let mut run = EditionRun { edition: edition.slug.clone(), delivered: 0, short: 0 };
    for source in Source::ALL {
        if !deliver_from(state, edition, &lines, source, &mut run).await? {
            break;
        }
    }
    Ok(run)
}

/// Serves an edition to one source's receivers; false when the stock ran out (and staff were
/// told how many wait, of every source).
async fn deliver_from(
    state: &AppState,
    edition: &Edition,
    lines: &[(String, String, String)],
    source: Source,
    run: &mut EditionRun,
) -> ApiResult<bool> {
    let mut after = (i64::MIN, String::new());
    loop {
        // The e-mails are written before the writer is taken (rendering is most of a chunk's
        // work): from a read of who is due, which the transaction then confirms.
        let ahead = {
            let mut conn = state.db.pool.acquire().await?;
            due(&mut conn, source, edition, &after, chunk(state.db.engine)).await?
        };
        let mut prepared = HashMap::with_capacity(ahead.len());
        for d in &ahead {
            prepared.insert(d.id.clone(), prepare(state, edition, lines, d));
            // Rendering is work the processor does for nobody waiting: the requests sharing this
            // thread go first between two e-mails.
            tokio::task::yield_now().await;
        }
        let mut tx = state.db.begin_write().await?;
        let started = std::time::Instant::now();
        // One edition is served one chunk at a time across instances: each chunk sees what the
        // one before it committed (on SQLite the writer lock does this).
        if !tx.lock_rows().is_empty() {
            let lock = format!("select slug from folio_edition where slug = $1{}", tx.lock_rows());
            sqlx::query(&lock).bind(&edition.slug).fetch_one(&mut **tx).await?;
        }
        let due = due(&mut tx, source, edition, &after, chunk(state.db.engine)).await?;
        let due: Vec<(Due, Prepared)> = due
            .into_iter()
            .map(|d| {
                let p = prepared.remove(&d.id).unwrap_or_else(|| prepare(state, edition, lines, &d));
                (d, p)
            })
            .collect();
        let Some((last, _)) = due.last() else {
            tx.commit().await?;
            return Ok(true);
        };
        after = (last.created_at, last.id.clone());
        let wanted = due.len();
        let served = serve(&mut tx, source, edition, lines, due).await?;
        run.delivered += served;
        for (sku, ..) in lines {
            crate::stock::alerts::after_stock_change(&mut tx, sku).await?;
        }
        if served < wanted {
            // Oldest first: every bottle is one of each SKU, so whoever comes after is short too.
            run.short = count_due(&mut tx, edition).await?;
            alert_shortfall(state, &mut tx, edition, lines, run.short).await?;
            tx.commit().await?;
            return Ok(false);
        }
        tx.commit().await?;
        tokio::time::sleep(started.elapsed() * REST_PER_WORK).await;
    }
}

/// The edition's bottles as order lines: (SKU, title, size label).
async fn bottles(state: &AppState, edition: &Edition) -> ApiResult<Vec<(String, String, String)>> {
    let mut lines = Vec::new();
    for sku in &edition.skus {
        let row = sqlx::query("select title, label from product where sku = $1")
            .bind(sku)
            .fetch_optional(&state.db.pool)
            .await?
            .ok_or_else(|| {
                ApiError::Internal(format!("Folio edition {} holds {sku}, which is not in the catalog", edition.slug))
            })?;
        lines.push((sku.clone(), row.get("title"), row.get("label")));
    }
    // SKU order, like every order's lines: concurrent writers lock stock rows in one order.
    lines.sort();
    Ok(lines)
}

async fn due(
    conn: &mut sqlx::AnyConnection,
    source: Source,
    edition: &Edition,
    after: &(i64, String),
    limit: i64,
) -> Result<Vec<Due>, sqlx::Error> {
    let rows = match source {
        Source::Subscriptions => {
            sqlx::query(DUE)
                .bind(RECEIVING[0].as_str())
                .bind(RECEIVING[1].as_str())
                .bind(edition.ships_at)
                .bind(&edition.slug)
                .bind(after.0)
                .bind(&after.1)
                .bind(limit)
                .fetch_all(conn)
                .await?
        }
        Source::Gifts => {
            sqlx::query(DUE_GIFTS)
                .bind(edition.ships_at)
                .bind(&edition.slug)
                .bind(after.0)
                .bind(&after.1)
                .bind(limit)
                .fetch_all(conn)
                .await?
        }
    };
    Ok(rows
        .into_iter()
        .map(|r| Due {
            id: r.get("id"),
            account_id: (source == Source::Subscriptions).then(|| r.get("account_id")),
            email: r.get("email"),
            currency: r.get("currency"),
            created_at: r.get("created_at"),
            ship: crate::folio::ShipTo::from_row(&r),
            gift: (source == Source::Gifts).then(|| GiftNote {
                from: r.get("from_name"),
                message: r.get("message"),
                editions: r.get("editions"),
                this: r.get::<i64, _>("sent") + 1,
            }),
        })
        .collect())
}

async fn count_due(tx: &mut WriteTx, edition: &Edition) -> Result<usize, sqlx::Error> {
    let mut n = 0;
    for source in Source::ALL {
        n += due(tx, source, edition, &(i64::MIN, String::new()), i64::MAX).await?.len();
    }
    Ok(n)
}

/// A subscriber's order id and e-mail, made ahead of the transaction; the order's number, known
/// only inside it, takes the place of [`NUMBER`].
struct Prepared {
    order_id: String,
    mail: Mail,
}

/// Where an edition's e-mail says the order's number until it is known.
const NUMBER: &str = "\u{1}order-number\u{1}";

/// Writes a subscriber's e-mail of an edition, with a new order id.
fn prepare(state: &AppState, edition: &Edition, lines: &[(String, String, String)], d: &Due) -> Prepared {
    let order_id = new_id("ord");
    let base = &state.config.public_url;
    let ctx = serde_json::json!({
        "title": edition.title,
        "name": d.ship.name,
        "number": NUMBER,
        "body_html": edition.html,
        "body_text": edition.text,
        "bottles": lines.iter().map(|(_, title, label)| format!("{title}, {label}")).collect::<Vec<_>>(),
        "ship_to": d.ship,
        "edition_url": format!("{base}{}", edition.path),
        "order_url": format!("{base}{}", links::path(&state.keys.link, &order_id)),
        "account_url": format!("{base}/account/"),
        "recipient": d.email,
        "gift": d.gift,
        "site_title": state.config.site_title,
        "site_url": base,
    });
    let subject = match &d.gift {
        Some(g) if g.this == 1 => format!("A gift from {}: the Folio from Atelier Arôme", g.from),
        _ => format!("{} — your Folio from Atelier Arôme", edition.title),
    };
    let mail = Mail {
        subject,
        text: render("email/folio_edition.txt", &ctx),
        html: Some(render("email/folio_edition.html", &ctx)),
    };
    Prepared { order_id, mail }
}

/// Makes the order and e-mail of as many of `due` (oldest first) as the stock serves; gives how
/// many.
async fn serve(
    tx: &mut WriteTx,
    source: Source,
    edition: &Edition,
    lines: &[(String, String, String)],
    due: Vec<(Due, Prepared)>,
) -> ApiResult<usize> {
    let addresses: Vec<serde_json::Value> = due
        .iter()
        .map(|(d, _)| {
            let country_name = crate::checkout::country(&d.ship.country).map(|c| c.1).unwrap_or_default();
            serde_json::json!({
                "line1": d.ship.line1,
                "line2": d.ship.line2,
                "postal_code_city": format!("{} {}", d.ship.postal_code, d.ship.city),
                "postal_code": d.ship.postal_code,
                "city": d.ship.city,
                "country": d.ship.country,
                "country_name": country_name,
                "phone": null,
                "billing": null,
            })
        })
        .collect();
    let orders: Vec<PrepaidOrder> = due
        .iter()
        .zip(&addresses)
        .map(|((d, p), address)| PrepaidOrder {
            order_id: &p.order_id,
            email: &d.email,
            name: &d.ship.name,
            address,
            country: &d.ship.country,
            currency: &d.currency,
            account_id: d.account_id.as_deref(),
            subscription_id: &d.id,
        })
        .collect();
    let numbers = insert_prepaid(tx, lines, &orders).await?;
    drop(orders);
    if numbers.is_empty() {
        return Ok(0);
    }
    let served = &due[..numbers.len()];
    // Each pair's key: a second claim fails the transaction rather than make a second order.
    let (table, receiver) = source.claims();
    let sql = format!(
        "insert into {table} ({receiver}, edition_slug, order_id, created_at) {}",
        crate::db::values(served.len(), 4)
    );
    let t = now();
    let mut claim = sqlx::query(&sql);
    for (d, p) in served {
        claim = claim.bind(&d.id).bind(&edition.slug).bind(&p.order_id).bind(t);
    }
    claim.execute(&mut ***tx).await?;
    let count = served.len();
    let mails: Vec<Queued> = due
        .into_iter()
        .zip(&numbers)
        .map(|((d, p), number)| Queued {
            kind: "folio_edition",
            dedupe_key: format!("folio-edition:{}:{}", d.id, edition.slug),
            recipient: d.email,
            mail: Mail {
                subject: p.mail.subject,
                text: p.mail.text.replace(NUMBER, number),
                html: p.mail.html.map(|h| h.replace(NUMBER, number)),
            },
        })
        .collect();
    enqueue_many(tx, &mails).await?;
    Ok(count)
}

/// Tells staff how many subscribers an edition could not be sent to and what is missing; once
/// per edition and shortfall, so a run every minute does not repeat it.
async fn alert_shortfall(
    state: &AppState,
    tx: &mut WriteTx,
    edition: &Edition,
    lines: &[(String, String, String)],
    short: usize,
) -> ApiResult<()> {
    if short == 0 {
        return Ok(());
    }
    let mut missing = Vec::new();
    for (sku, title, label) in lines {
        let available: i64 = sqlx::query_scalar("select on_hand - reserved from stock where sku = $1")
            .bind(sku)
            .fetch_optional(&mut ***tx)
            .await?
            .unwrap_or(0);
        let lacking = i64::try_from(short).unwrap_or(i64::MAX).saturating_sub(available.max(0));
        if lacking > 0 {
            missing.push(serde_json::json!({ "sku": sku, "title": format!("{title}, {label}"), "available": available, "lacking": lacking }));
        }
    }
    let ctx = serde_json::json!({
        "title": edition.title,
        "short": short,
        "missing": missing,
        "site_title": state.config.site_title,
    });
    let mail = Mail {
        subject: format!("Folio {}: {short} subscribers still waiting for stock", edition.title),
        text: render("email/folio_shortfall.txt", &ctx),
        html: None,
    };
    enqueue(tx, "folio_shortfall", &format!("folio-shortfall:{}:{short}", edition.slug), STAFF, &mail).await?;
    Ok(())
}
