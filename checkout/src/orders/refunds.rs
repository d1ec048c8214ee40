//! Refunds staff ask for, full or partial, with the bottles put back on the shelf or not. A
//! request is recorded (and audited) first, then sent to the payment provider; the order, the
//! stock and the shopper's e-mail follow only the provider's signed `charge.refunded`, never the
//! button alone ([`confirm`], called from the webhook's refund).

use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use super::{lock, OrderStatus, StockState};
use crate::checkout::pricing::display;
use crate::db::{Db, WriteTx};
use crate::error::{ApiError, ApiResult};
use crate::ids::{new_id, now};
use crate::payments::stripe::RefundSent;
use crate::payments::Payments;
use crate::staff::audit::{self, Actor, Change};
use crate::{stock, AppState};

/// The longest reason kept, in characters.
pub const REASON_MAX: usize = 500;

/// Where a refund stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundState {
    /// Asked of the provider; not confirmed yet.
    Requested,
    /// The provider's event confirmed it: the money went back.
    Confirmed,
    /// The provider refused it.
    Failed,
}

impl RefundState {
    const ALL: [RefundState; 3] = [RefundState::Requested, RefundState::Confirmed, RefundState::Failed];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RefundState::Requested => "requested",
            RefundState::Confirmed => "confirmed",
            RefundState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<RefundState> {
        RefundState::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// What staff ask for.
#[derive(Debug, Clone, Default)]
pub struct Ask {
    /// How much goes back, in minor units.
    pub amount_minor: i64,
    /// Bottles to put back on the shelf when the refund is confirmed: (SKU, how many).
    pub restock: Vec<(String, i64)>,
    /// Why (kept with the refund and in the audit log).
    pub reason: String,
}

/// A refund of an order, as the console shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RefundView {
    /// Our id.
    pub refund_id: String,
    /// `€12.00`.
    pub amount: String,
    /// Where it stands.
    pub state: RefundState,
    /// Bottles put back (or to be put back): `LAV-10 × 1`.
    pub restock: Vec<String>,
    /// Why.
    pub reason: String,
    /// Who asked.
    pub who: String,
    /// When it was asked (unix seconds).
    pub requested_at: i64,
    /// What the provider said when it refused.
    pub failure: Option<String>,
}

/// What may still be refunded of an order, for the console's form.
#[derive(Debug, Clone, Serialize)]
pub struct Refundable {
    /// Minor units not yet refunded nor asked for.
    pub remaining_minor: i64,
    /// The same as a plain decimal, `24.00`, for the form's field.
    pub remaining: String,
    /// Per line, how many bottles may still be put back (none when the bottles never left the
    /// shelf, as for an order paid after its stock had gone).
    pub restockable: Vec<Restockable>,
}

/// A line of an order whose bottles may go back on the shelf.
#[derive(Debug, Clone, Serialize)]
pub struct Restockable {
    /// Size SKU.
    pub sku: String,
    /// Essence name and size, `Lavender, 10 ml`.
    pub name: String,
    /// How many may still go back.
    pub most: i64,
}

/// The refunds of an order, oldest first.
pub async fn of_order(db: &Db, order_id: &str, currency: &str) -> Result<Vec<RefundView>, sqlx::Error> {
    let currency = crate::catalog::currency_of(currency);
    let rows = sqlx::query(
        "select refund_id, amount_minor, state, restock, reason, actor_label, requested_at, failure
         from order_refund where order_id = $1 order by requested_at, refund_id",
    )
    .bind(order_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| RefundView {
            refund_id: r.get("refund_id"),
            amount: display(r.get("amount_minor"), currency),
            state: RefundState::parse(&r.get::<String, _>("state")).unwrap_or(RefundState::Requested),
            restock: restock_of(&r.get::<String, _>("restock")).iter().map(|(s, q)| format!("{s} × {q}")).collect(),
            reason: r.get("reason"),
            who: r.get("actor_label"),
            requested_at: r.get("requested_at"),
            failure: r.get("failure"),
        })
        .collect())
}

fn restock_of(json: &str) -> Vec<(String, i64)> {
    serde_json::from_str(json).unwrap_or_default()
}

/// What the order can still have refunded, or why nothing can be (`None`: not a paid order,
/// nothing left).
pub async fn refundable(db: &Db, order_id: &str) -> Result<Option<Refundable>, sqlx::Error> {
    let mut conn = db.pool.acquire().await?;
    refundable_with(&mut conn, order_id).await
}

async fn refundable_with(conn: &mut sqlx::AnyConnection, order_id: &str) -> Result<Option<Refundable>, sqlx::Error> {
    let Some(r) = sqlx::query(
        "select status, stock_state, refund_needed, total_minor, refunded_minor, payment_intent
         from customer_order where order_id = $1",
    )
    .bind(order_id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let status = OrderStatus::parse(&r.get::<String, _>("status"));
    let flagged = r.get::<i64, _>("refund_needed") == 1;
    let paid = status.is_some_and(|s| s.is_paid());
    let intent: Option<String> = r.get("payment_intent");
    if !(paid || flagged) || intent.is_none() {
        return Ok(None);
    }
    let asked: i64 = sqlx::query_scalar(
        "select cast(coalesce(sum(amount_minor), 0) as bigint) from order_refund where order_id = $1 and state = $2",
    )
    .bind(order_id)
    .bind(RefundState::Requested.as_str())
    .fetch_one(&mut *conn)
    .await?;
    let remaining = r.get::<i64, _>("total_minor") - r.get::<i64, _>("refunded_minor") - asked;
    if remaining <= 0 {
        return Ok(None);
    }
    let committed = r.get::<String, _>("stock_state") == StockState::Committed.as_str();
    let mut restockable = Vec::new();
    if committed {
        let lines: Vec<(String, String, String, i64)> =
            sqlx::query_as("select sku, title, label, quantity from order_item where order_id = $1 order by sku")
                .bind(order_id)
                .fetch_all(&mut *conn)
                .await?;
        let earlier: Vec<(String,)> =
            sqlx::query_as("select restock from order_refund where order_id = $1 and state <> $2")
                .bind(order_id)
                .bind(RefundState::Failed.as_str())
                .fetch_all(&mut *conn)
                .await?;
        let back: Vec<(String, i64)> = earlier.iter().flat_map(|(j,)| restock_of(j)).collect();
        for (sku, title, label, q) in lines {
            let already: i64 = back.iter().filter(|(s, _)| *s == sku).map(|(_, n)| n).sum();
            restockable.push(Restockable { sku, name: format!("{title}, {label}"), most: (q - already).max(0) });
        }
    }
    Ok(Some(Refundable {
        remaining_minor: remaining,
        remaining: format!("{}.{:02}", remaining / 100, remaining % 100),
        restockable,
    }))
}

/// A refund recorded and sent to the provider.
#[derive(Debug, Clone)]
pub struct Requested {
    /// Our id.
    pub refund_id: String,
    /// The order's number.
    pub number: String,
    /// Whether the provider's confirmation has already been applied (the sandbox's comes at
    /// once; Stripe's follows by webhook).
    pub confirmed: bool,
    /// Whether the provider gave no clear answer: the refund is sent again shortly.
    pub unsent: bool,
}

/// Asks for a refund of an order (found by its number or id): checked against what is left to
/// refund and to put back, recorded and audited, then sent to the payment provider. A refusal by
/// the provider marks the request failed and is the error.
pub async fn request(state: &AppState, actor: &Actor, number_or_id: &str, ask: &Ask) -> ApiResult<Requested> {
    let reason = ask.reason.trim();
    if reason.is_empty() {
        return Err(ApiError::invalid("reason", "say why the money goes back (kept with the refund)"));
    }
    if reason.chars().count() > REASON_MAX {
        return Err(ApiError::invalid("reason", format!("a reason holds at most {REASON_MAX} characters")));
    }
    let found: Option<(String, String, String)> =
        sqlx::query_as("select order_id, number, currency from customer_order where number = $1 or order_id = $1")
            .bind(number_or_id.trim())
            .fetch_optional(&state.db.pool)
            .await?;
    let (order_id, number, currency_code) =
        found.ok_or_else(|| ApiError::NotFound(format!("no order {number_or_id}")))?;
    let currency = crate::catalog::currency_of(&currency_code);
    let mut tx = state.db.begin_write().await?;
    let order = lock(&mut tx, &order_id).await?;
    let Some(left) = refundable_with(&mut tx.tx, &order_id).await? else {
        return Err(ApiError::Conflict(format!(
            "order {number} is {}: nothing is left to refund (a refund is for a paid order, once, up to what was paid)",
            order.status
        )));
    };
    if ask.amount_minor <= 0 || ask.amount_minor > left.remaining_minor {
        return Err(ApiError::invalid(
            "amount",
            format!("refund between {} and {}", display(1, currency), display(left.remaining_minor, currency)),
        ));
    }
    // The same size named twice counts once, added up.
    let mut asked: Vec<(String, i64)> = Vec::new();
    for (sku, q) in &ask.restock {
        match asked.iter_mut().find(|(s, _)| s == sku) {
            Some((_, n)) => *n += q,
            None => asked.push((sku.clone(), *q)),
        }
    }
    let mut restock = Vec::new();
    for (sku, q) in asked {
        if q == 0 {
            continue;
        }
        let Some(most) = left.restockable.iter().find(|r| r.sku == sku).map(|r| r.most) else {
            return Err(ApiError::invalid(
                "restock",
                if left.restockable.is_empty() {
                    "this order's bottles never left the shelf: there is nothing to put back".to_string()
                } else {
                    format!("{sku} is not in order {number}")
                },
            ));
        };
        if q < 0 || q > most {
            return Err(ApiError::invalid("restock", format!("put back between 0 and {most} of {sku}")));
        }
        restock.push((sku, q));
    }
    // Until the parcel has left, its bottles are still to be packed: they go back on the shelf
    // only when the order will not ship at all (refunded in full).
    let gone = matches!(order.status, OrderStatus::Shipped | OrderStatus::Delivered);
    if !restock.is_empty() && !gone && ask.amount_minor < left.remaining_minor {
        return Err(ApiError::invalid(
            "restock",
            "the parcel has not left: its bottles go back on the shelf only with a refund of all that is left",
        ));
    }
    let intent: String = sqlx::query_scalar("select payment_intent from customer_order where order_id = $1")
        .bind(&order_id)
        .fetch_one(&mut **tx)
        .await?;
    let refund_id = new_id("rfd");
    sqlx::query(
        "insert into order_refund (refund_id, order_id, amount_minor, restock, reason, state, actor, actor_label, requested_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&refund_id)
    .bind(&order_id)
    .bind(ask.amount_minor)
    .bind(json!(restock).to_string())
    .bind(reason)
    .bind(RefundState::Requested.as_str())
    .bind(actor.key())
    .bind(actor.label())
    .bind(now())
    .execute(&mut **tx)
    .await?;
    let change = Change {
        action: "order.refund",
        subject: Some(format!("order:{number}")),
        before: Some(json!({ "status": order.status.as_str(), "refundable": display(left.remaining_minor, currency) })),
        after: Some(json!({
            "refund": display(ask.amount_minor, currency),
            "restock": restock.iter().map(|(s, q)| format!("{s} × {q}")).collect::<Vec<_>>(),
            "reason": reason,
        })),
    };
    audit::record(&mut tx, actor, change).await?;
    tx.commit().await?;

    let sent = match &state.payments {
        Payments::Sandbox => {
            crate::payments::sandbox::refund(state, &order_id, &intent, &refund_id).await?;
            RefundSent::Made(format!("re_sandbox_{refund_id}"))
        }
        Payments::Stripe(gateway) => gateway.refund(&intent, ask.amount_minor, &order_id, &refund_id).await,
    };
    let unsent = settle_sending(state, &refund_id, &number, sent, actor).await?;
    let state_now: String = sqlx::query_scalar("select state from order_refund where refund_id = $1")
        .bind(&refund_id)
        .fetch_one(&state.db.pool)
        .await?;
    Ok(Requested { refund_id, number, confirmed: state_now == RefundState::Confirmed.as_str(), unsent })
}

/// Records what the provider answered a refund: its id; or a refusal (the refund failed, and
/// the reason is the error); or no clear answer (it stays asked, and [`send_unsent`] sends it
/// again with the same key). Says whether it is still to be sent.
async fn settle_sending(
    state: &AppState,
    refund_id: &str,
    number: &str,
    sent: RefundSent,
    actor: &Actor,
) -> ApiResult<bool> {
    match sent {
        RefundSent::Made(id) => {
            sqlx::query("update order_refund set provider_refund = $1 where refund_id = $2")
                .bind(id)
                .bind(refund_id)
                .execute(&state.db.pool)
                .await?;
            Ok(false)
        }
        RefundSent::Refused(why) => {
            tracing::warn!(order = %number, refund = %refund_id, %why, "the payment provider refused a refund");
            let mut tx = state.db.begin_write().await?;
            sqlx::query("update order_refund set state = $1, failure = $2 where refund_id = $3 and state = $4")
                .bind(RefundState::Failed.as_str())
                .bind(&why)
                .bind(refund_id)
                .bind(RefundState::Requested.as_str())
                .execute(&mut **tx)
                .await?;
            let change = Change {
                action: "order.refund_refused",
                subject: Some(format!("order:{number}")),
                before: None,
                after: Some(json!({ "refund": refund_id, "why": why })),
            };
            audit::record(&mut tx, actor, change).await?;
            tx.commit().await?;
            Err(ApiError::Conflict(format!("the payment provider refused the refund: {why}")))
        }
        RefundSent::Unknown(why) => {
            tracing::warn!(order = %number, refund = %refund_id, %why, "no clear answer to a refund; it is sent again");
            Ok(true)
        }
    }
}

/// A refund asked of Stripe without a clear answer is sent again, with the same idempotency
/// key, once a minute has passed (so it never races the request still waiting for Stripe).
/// Gives how many Stripe has now answered.
pub async fn send_unsent(state: &AppState) -> ApiResult<usize> {
    let Payments::Stripe(gateway) = &state.payments else { return Ok(0) };
    type Row = (String, String, String, i64, Option<String>, String, String);
    let due: Vec<Row> = sqlx::query_as(
        "select r.refund_id, r.order_id, o.number, r.amount_minor, o.payment_intent, r.actor, r.actor_label
         from order_refund r join customer_order o on o.order_id = r.order_id
         where r.state = $1 and r.provider_refund is null and r.requested_at < $2 limit 20",
    )
    .bind(RefundState::Requested.as_str())
    .bind(now() - 60)
    .fetch_all(&state.db.pool)
    .await?;
    let mut answered = 0;
    for (refund_id, order_id, number, amount, intent, key, label) in due {
        let Some(intent) = intent else { continue };
        let sent = gateway.refund(&intent, amount, &order_id, &refund_id).await;
        let who = Actor::Recorded { key, label };
        match settle_sending(state, &refund_id, &number, sent, &who).await {
            Ok(false) | Err(ApiError::Conflict(_)) => answered += 1,
            Ok(true) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(answered)
}

/// How much of an order's payment the provider says went back in all, applied: the asked-for
/// refunds this covers are confirmed (oldest first) and their bottles put back through the
/// stock's ledger, and the shopper is e-mailed what came back. `before` is what had been
/// refunded until this event.
pub(super) async fn confirm(
    state: &AppState,
    tx: &mut WriteTx,
    order_id: &str,
    before: i64,
    refunded: i64,
) -> ApiResult<()> {
    let rows = sqlx::query(
        "select refund_id, amount_minor, restock, actor, actor_label from order_refund
         where order_id = $1 and state = $2 order by requested_at, refund_id",
    )
    .bind(order_id)
    .bind(RefundState::Requested.as_str())
    .fetch_all(&mut ***tx)
    .await?;
    let (number, email, currency): (String, String, String) =
        sqlx::query_as("select number, email, currency from customer_order where order_id = $1")
            .bind(order_id)
            .fetch_one(&mut ***tx)
            .await?;
    // Requests are confirmed oldest first while what they add up to (with those confirmed
    // before) is covered by what the provider says went back; one that does not fit yet waits
    // for a later event, and a younger one that fits goes ahead of it (the provider may make
    // them in another order).
    let mut covered: i64 = sqlx::query_scalar(
        "select cast(coalesce(sum(amount_minor), 0) as bigint) from order_refund where order_id = $1 and state = $2",
    )
    .bind(order_id)
    .bind(RefundState::Confirmed.as_str())
    .fetch_one(&mut ***tx)
    .await?;
    let t = now();
    for r in rows {
        let amount: i64 = r.get("amount_minor");
        if covered + amount > refunded {
            continue;
        }
        covered += amount;
        let who = Actor::Recorded { key: r.get("actor"), label: r.get("actor_label") };
        let why = format!("refund of order {number}");
        for (sku, q) in restock_of(&r.get::<String, _>("restock")) {
            match stock::change_in(tx, &sku, stock::Change::Adjust(q), &why, &who).await {
                Ok(()) => {}
                // The size left the catalog since: the money still goes back; staff count the
                // bottles by hand.
                Err(stock::ChangeError::NotFound(sku)) => {
                    tracing::warn!(order = %number, %sku, "a refunded bottle's size is no longer stocked; not put back");
                }
                Err(e) => return Err(e.into()),
            }
        }
        sqlx::query("update order_refund set state = $1, confirmed_at = $2 where refund_id = $3")
            .bind(RefundState::Confirmed.as_str())
            .bind(t)
            .bind(r.get::<String, _>("refund_id"))
            .execute(&mut ***tx)
            .await?;
    }
    let total: i64 = sqlx::query_scalar("select total_minor from customer_order where order_id = $1")
        .bind(order_id)
        .fetch_one(&mut ***tx)
        .await?;
    let currency = crate::catalog::currency_of(&currency);
    let link = format!("{}{}", state.config.public_url, super::links::path(&state.keys.link, order_id));
    let mail = refunded_mail(
        &number,
        display(refunded - before, currency),
        display(refunded, currency),
        refunded >= total,
        &link,
    );
    crate::notify::enqueue(tx, "order_refunded", &format!("order-refunded:{order_id}:{refunded}"), &email, &mail)
        .await?;
    Ok(())
}

/// The e-mail that tells the shopper money came back.
fn refunded_mail(number: &str, amount: String, in_all: String, full: bool, link: &str) -> crate::notify::Mail {
    let whole = if full {
        format!("The order is now refunded in full ({in_all}).")
    } else {
        format!("In all, {in_all} of the order has been refunded.")
    };
    crate::notify::Mail {
        subject: format!("A refund of {amount} for your order {number}"),
        text: format!(
            "Good day,\n\nWe have refunded {amount} for your order {number}, to the card you paid with. {whole} Your bank may take five to ten days to show it.\n\nYour order:\n{link}\n\nWith our regards,\nThe atelier\n"
        ),
        html: None,
    }
}
