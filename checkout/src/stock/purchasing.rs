//! Suppliers and purchase orders: a draft of sizes and quantities for one supplier, sent (the
//! supplier e-mailed it when they have an address), then received in one or more deliveries,
//! each bottle added to the stock through its ledger; cancelled while nothing has arrived. Every
//! change is audited.

use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::db::{Db, WriteTx};
use crate::error::{ApiError, ApiResult};
use crate::ids::{new_id, now};
use crate::staff::audit::{self, Actor, Change};

/// Where a purchase order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PoState {
    /// Being written; nothing sent.
    Draft,
    /// Sent to the supplier; nothing arrived yet.
    Sent,
    /// Some bottles arrived.
    PartlyReceived,
    /// Every bottle arrived.
    Received,
    /// Called off before anything arrived.
    Cancelled,
}

impl PoState {
    const ALL: [PoState; 5] =
        [PoState::Draft, PoState::Sent, PoState::PartlyReceived, PoState::Received, PoState::Cancelled];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            PoState::Draft => "draft",
            PoState::Sent => "sent",
            PoState::PartlyReceived => "partly_received",
            PoState::Received => "received",
            PoState::Cancelled => "cancelled",
        }
    }

    /// For people.
    pub fn label(self) -> &'static str {
        match self {
            PoState::Draft => "Draft",
            PoState::Sent => "Sent",
            PoState::PartlyReceived => "Partly received",
            PoState::Received => "Received",
            PoState::Cancelled => "Cancelled",
        }
    }

    fn parse(s: &str) -> Option<PoState> {
        PoState::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// A supplier.
#[derive(Debug, Clone, Serialize)]
pub struct Supplier {
    /// Our id.
    pub supplier_id: String,
    /// Their name.
    pub name: String,
    /// Where purchase orders are e-mailed (may be empty: sent by other means).
    pub email: String,
    /// Days from sending an order to its arrival, usually.
    pub lead_days: i64,
}

/// Every supplier, by name.
pub async fn suppliers(db: &Db) -> Result<Vec<Supplier>, sqlx::Error> {
    let rows: Vec<(String, String, String, i64)> =
        sqlx::query_as("select supplier_id, name, email, lead_days from supplier order by lower(name)")
            .fetch_all(&db.pool)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(supplier_id, name, email, lead_days)| Supplier { supplier_id, name, email, lead_days })
        .collect())
}

/// Adds a supplier (audited); names are unique whatever their case.
pub async fn add_supplier(db: &Db, actor: &Actor, name: &str, email: &str, lead_days: i64) -> ApiResult<Supplier> {
    let name = name.trim();
    let email = email.trim();
    if name.is_empty() || name.chars().count() > 120 {
        return Err(ApiError::invalid("name", "a supplier's name, at most 120 characters"));
    }
    if !email.is_empty() {
        crate::accounts::parse_email(email)?;
    }
    if !(1..=365).contains(&lead_days) {
        return Err(ApiError::invalid("lead_days", "the usual delivery time, from 1 to 365 days"));
    }
    let mut tx = db.begin_write().await?;
    let taken: i64 = sqlx::query_scalar("select count(*) from supplier where lower(name) = lower($1)")
        .bind(name)
        .fetch_one(&mut **tx)
        .await?;
    if taken > 0 {
        return Err(ApiError::invalid("name", format!("there is already a supplier called {name}")));
    }
    let supplier = Supplier { supplier_id: new_id("sup"), name: name.into(), email: email.into(), lead_days };
    sqlx::query("insert into supplier (supplier_id, name, email, lead_days, created_at) values ($1, $2, $3, $4, $5)")
        .bind(&supplier.supplier_id)
        .bind(&supplier.name)
        .bind(&supplier.email)
        .bind(lead_days)
        .bind(now())
        .execute(&mut **tx)
        .await
        .map_err(|e| match &e {
            // Added at the same moment by someone else.
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                ApiError::invalid("name", format!("there is already a supplier called {name}"))
            }
            _ => e.into(),
        })?;
    let change = Change {
        action: "supplier.add",
        subject: Some(format!("supplier:{name}")),
        before: None,
        after: Some(json!({ "name": name, "email": email, "lead_days": lead_days })),
    };
    audit::record(&mut tx, actor, change).await?;
    tx.commit().await?;
    Ok(supplier)
}

/// A line of a purchase order.
#[derive(Debug, Clone, Serialize)]
pub struct PoLine {
    /// Size SKU.
    pub sku: String,
    /// Essence and size, `Provence Lavender, 30 ml`.
    pub name: String,
    /// Bottles ordered.
    pub ordered: i64,
    /// Bottles arrived so far.
    pub received: i64,
    /// Bottles still to come.
    pub outstanding: i64,
}

/// A purchase order.
#[derive(Debug, Clone, Serialize)]
pub struct PurchaseOrder {
    /// Our id.
    pub po_id: String,
    /// `PO-2026-0007`.
    pub number: String,
    /// Who it is for.
    pub supplier: Supplier,
    /// Where it stands.
    pub state: PoState,
    /// For people.
    pub state_label: &'static str,
    /// A note for the supplier.
    pub note: String,
    /// When it was drafted (unix seconds).
    pub created_at: i64,
    /// When it was sent.
    pub sent_at: Option<i64>,
    /// When it should arrive: sent plus the supplier's lead time.
    pub expected_at: Option<i64>,
    /// Its lines.
    pub lines: Vec<PoLine>,
}

/// The purchase orders, open ones first, newest first (at most `limit`).
pub async fn list(db: &Db, limit: i64) -> Result<Vec<PurchaseOrder>, sqlx::Error> {
    let ids: Vec<String> = sqlx::query_scalar(
        "select po_id from purchase_order
         order by case when state in ('received', 'cancelled') then 1 else 0 end, created_at desc, seq desc limit $1",
    )
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.extend(load(db, &id).await?);
    }
    Ok(out)
}

/// A purchase order by its number or id.
pub async fn load(db: &Db, number_or_id: &str) -> Result<Option<PurchaseOrder>, sqlx::Error> {
    let mut conn = db.pool.acquire().await?;
    load_with(&mut conn, number_or_id).await
}

async fn load_with(conn: &mut sqlx::AnyConnection, number_or_id: &str) -> Result<Option<PurchaseOrder>, sqlx::Error> {
    let Some(r) = sqlx::query(
        "select p.po_id, p.number, p.state, p.note, p.created_at, p.sent_at,
                s.supplier_id, s.name, s.email, s.lead_days
         from purchase_order p join supplier s on s.supplier_id = p.supplier_id
         where p.po_id = $1 or p.number = $1",
    )
    .bind(number_or_id.trim())
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let po_id: String = r.get("po_id");
    let state: String = r.get("state");
    let state = PoState::parse(&state)
        .ok_or_else(|| sqlx::Error::Decode(format!("purchase order {po_id} has an unknown state `{state}`").into()))?;
    let lines: Vec<(String, String, String, i64, i64)> = sqlx::query_as(
        "select l.sku, p.title, p.label, l.ordered, l.received from purchase_order_line l
         join product p on p.sku = l.sku where l.po_id = $1 order by l.sku",
    )
    .bind(&po_id)
    .fetch_all(&mut *conn)
    .await?;
    let supplier = Supplier {
        supplier_id: r.get("supplier_id"),
        name: r.get("name"),
        email: r.get("email"),
        lead_days: r.get("lead_days"),
    };
    let sent_at: Option<i64> = r.get("sent_at");
    Ok(Some(PurchaseOrder {
        number: r.get("number"),
        state_label: state.label(),
        state,
        note: r.get("note"),
        created_at: r.get("created_at"),
        expected_at: sent_at.map(|t| t + supplier.lead_days * 86_400),
        sent_at,
        supplier,
        lines: lines
            .into_iter()
            .map(|(sku, title, label, ordered, received)| PoLine {
                sku,
                name: format!("{title}, {label}"),
                ordered,
                received,
                outstanding: ordered - received,
            })
            .collect(),
        po_id,
    }))
}

/// Bottles ordered from suppliers and not arrived yet, per size (sent and partly received
/// orders): what the reorder suggestion counts as coming.
pub async fn on_order(db: &Db) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "select l.sku, cast(sum(l.ordered - l.received) as bigint) from purchase_order_line l
         join purchase_order p on p.po_id = l.po_id where p.state in ($1, $2) group by l.sku",
    )
    .bind(PoState::Sent.as_str())
    .bind(PoState::PartlyReceived.as_str())
    .fetch_all(&db.pool)
    .await
}

/// Lines with a size named twice added up into one, in the order first named.
fn added_up(lines: &[(String, i64)]) -> Vec<(String, i64)> {
    let mut out: Vec<(String, i64)> = Vec::new();
    for (sku, q) in lines {
        match out.iter_mut().find(|(s, _)| s == sku) {
            Some((_, n)) => *n += q,
            None => out.push((sku.clone(), *q)),
        }
    }
    out
}

/// Drafts a purchase order of `lines` (SKU, bottles; lines of none are left out) for a
/// supplier (audited).
pub async fn draft(
    db: &Db,
    actor: &Actor,
    supplier_id: &str,
    lines: &[(String, i64)],
    note: &str,
) -> ApiResult<String> {
    let note = note.trim();
    if note.chars().count() > 1000 {
        return Err(ApiError::invalid("note", "a note holds at most 1,000 characters"));
    }
    let lines: Vec<(String, i64)> = added_up(lines).into_iter().filter(|(_, q)| *q != 0).collect();
    if lines.is_empty() {
        return Err(ApiError::invalid("lines", "order at least one bottle"));
    }
    let mut tx = db.begin_write().await?;
    let supplier: Option<String> = sqlx::query_scalar("select name from supplier where supplier_id = $1")
        .bind(supplier_id)
        .fetch_optional(&mut **tx)
        .await?;
    let Some(supplier) = supplier else {
        return Err(ApiError::invalid("supplier", "choose a supplier (add one first if needed)"));
    };
    for (sku, q) in &lines {
        if !(1..=100_000).contains(q) {
            return Err(ApiError::invalid("lines", format!("order from 1 to 100,000 bottles of {sku}")));
        }
        let known: i64 =
            sqlx::query_scalar("select count(*) from product where sku = $1").bind(sku).fetch_one(&mut **tx).await?;
        if known == 0 {
            return Err(ApiError::invalid("lines", format!("there is no size {sku}")));
        }
    }
    let t = now();
    let seq: i64 = sqlx::query_scalar("select cast(coalesce(max(seq), 0) + 1 as bigint) from purchase_order")
        .fetch_one(&mut **tx)
        .await?;
    let (year, _, _) = atelier_domain::civil(t);
    let number = format!("PO-{year}-{seq:04}");
    let po_id = new_id("po");
    sqlx::query(
        "insert into purchase_order (po_id, seq, number, supplier_id, state, note, created_at, created_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&po_id)
    .bind(seq)
    .bind(&number)
    .bind(supplier_id)
    .bind(PoState::Draft.as_str())
    .bind(note)
    .bind(t)
    .bind(actor.label())
    .execute(&mut **tx)
    .await
    .map_err(|e| match &e {
        // Two drafts at the same moment took the same number: the second asks again.
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            ApiError::Conflict("another purchase order was drafted at the same moment; draft it again".into())
        }
        _ => e.into(),
    })?;
    for (sku, q) in &lines {
        sqlx::query("insert into purchase_order_line (po_id, sku, ordered) values ($1, $2, $3)")
            .bind(&po_id)
            .bind(sku)
            .bind(q)
            .execute(&mut **tx)
            .await?;
    }
    let change = Change {
        action: "po.draft",
        subject: Some(format!("po:{number}")),
        before: None,
        after: Some(json!({
            "supplier": supplier,
            "lines": lines.iter().map(|(s, q)| format!("{s} × {q}")).collect::<Vec<_>>(),
        })),
    };
    audit::record(&mut tx, actor, change).await?;
    tx.commit().await?;
    Ok(number)
}

/// Reads and locks a purchase order for a change.
async fn lock(tx: &mut WriteTx, number: &str) -> ApiResult<PurchaseOrder> {
    let id: Option<String> = sqlx::query_scalar(&format!(
        "select po_id from purchase_order where po_id = $1 or number = $1{}",
        tx.lock_rows()
    ))
    .bind(number.trim())
    .fetch_optional(&mut *tx.tx)
    .await?;
    let id = id.ok_or_else(|| ApiError::NotFound(format!("no purchase order {number}")))?;
    load_with(&mut tx.tx, &id).await?.ok_or_else(|| ApiError::NotFound(format!("no purchase order {number}")))
}

fn wrong_state(po: &PurchaseOrder, what: &str, from: &[PoState]) -> ApiError {
    ApiError::Conflict(format!(
        "purchase order {} is {}; it can be {what} when it is {}",
        po.number,
        po.state.label().to_lowercase(),
        from.iter().map(|s| s.label().to_lowercase()).collect::<Vec<_>>().join(" or ")
    ))
}

async fn set_state(tx: &mut WriteTx, po: &PurchaseOrder, to: PoState) -> Result<(), sqlx::Error> {
    let t = now();
    sqlx::query(
        "update purchase_order set state = $1,
           sent_at = case when $1 = $2 then $3 else sent_at end,
           closed_at = case when $1 in ($4, $5) then $3 else closed_at end
         where po_id = $6",
    )
    .bind(to.as_str())
    .bind(PoState::Sent.as_str())
    .bind(t)
    .bind(PoState::Received.as_str())
    .bind(PoState::Cancelled.as_str())
    .bind(&po.po_id)
    .execute(&mut *tx.tx)
    .await?;
    Ok(())
}

/// Changes a draft before it is sent: each size given gets its quantity (0 takes it off; a
/// size not on it yet is added), and the note is replaced when one is given; at least one
/// bottle must remain (audited, with the lines before and after).
pub async fn edit(
    db: &Db,
    actor: &Actor,
    number: &str,
    lines: &[(String, i64)],
    note: Option<&str>,
) -> ApiResult<PurchaseOrder> {
    let note = note.map(str::trim);
    let note_len = note.map_or(0, |n| n.chars().count());
    if note_len > 1000 {
        return Err(ApiError::invalid("note", "a note holds at most 1,000 characters"));
    }
    let mut tx = db.begin_write().await?;
    let po = lock(&mut tx, number).await?;
    if po.state != PoState::Draft {
        return Err(wrong_state(&po, "changed", &[PoState::Draft]));
    }
    let note = note.unwrap_or(&po.note).to_string();
    let mut after: Vec<(String, i64)> = po.lines.iter().map(|l| (l.sku.clone(), l.ordered)).collect();
    for (sku, q) in added_up(lines) {
        if !(0..=100_000).contains(&q) {
            return Err(ApiError::invalid("lines", format!("order from 0 to 100,000 bottles of {sku}")));
        }
        match after.iter_mut().find(|(s, _)| *s == sku) {
            Some(line) => line.1 = q,
            None if q == 0 => {}
            None => {
                let known: i64 = sqlx::query_scalar("select count(*) from product where sku = $1")
                    .bind(&sku)
                    .fetch_one(&mut **tx)
                    .await?;
                if known == 0 {
                    return Err(ApiError::invalid("lines", format!("there is no size {sku}")));
                }
                after.push((sku, q));
            }
        }
    }
    after.retain(|(_, q)| *q > 0);
    if after.is_empty() {
        return Err(ApiError::invalid("lines", "keep at least one bottle on the order, or cancel it"));
    }
    sqlx::query("delete from purchase_order_line where po_id = $1").bind(&po.po_id).execute(&mut **tx).await?;
    for (sku, q) in &after {
        sqlx::query("insert into purchase_order_line (po_id, sku, ordered) values ($1, $2, $3)")
            .bind(&po.po_id)
            .bind(sku)
            .bind(q)
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query("update purchase_order set note = $1 where po_id = $2")
        .bind(&note)
        .bind(&po.po_id)
        .execute(&mut **tx)
        .await?;
    let written = |lines: &[(String, i64)]| lines.iter().map(|(s, q)| format!("{s} × {q}")).collect::<Vec<_>>();
    let before: Vec<(String, i64)> = po.lines.iter().map(|l| (l.sku.clone(), l.ordered)).collect();
    let change = Change {
        action: "po.edit",
        subject: Some(format!("po:{}", po.number)),
        before: Some(json!({ "lines": written(&before), "note": po.note })),
        after: Some(json!({ "lines": written(&after), "note": note })),
    };
    audit::record(&mut tx, actor, change).await?;
    tx.commit().await?;
    Ok(load(db, &po.po_id).await?.unwrap_or(po))
}

/// Sends a draft: the supplier is e-mailed it when they have an address (audited).
pub async fn send(db: &Db, actor: &Actor, number: &str) -> ApiResult<PurchaseOrder> {
    let mut tx = db.begin_write().await?;
    let po = lock(&mut tx, number).await?;
    if po.state != PoState::Draft {
        return Err(wrong_state(&po, "sent", &[PoState::Draft]));
    }
    set_state(&mut tx, &po, PoState::Sent).await?;
    if !po.supplier.email.is_empty() {
        let lines: String = po.lines.iter().map(|l| format!("  {} × {} ({})\n", l.ordered, l.name, l.sku)).collect();
        let note = if po.note.is_empty() { String::new() } else { format!("\n{}\n", po.note) };
        let mail = crate::notify::Mail {
            subject: format!("Purchase order {} from Atelier Arôme", po.number),
            text: format!(
                "Good day,\n\nPlease supply the following for our purchase order {}:\n\n{lines}{note}\nKindly quote the order's number on the delivery note.\n\nWith our regards,\nAtelier Arôme\n",
                po.number
            ),
            html: None,
        };
        crate::notify::enqueue(&mut tx, "purchase_order", &format!("po-sent:{}", po.po_id), &po.supplier.email, &mail)
            .await?;
    }
    let change = Change {
        action: "po.send",
        subject: Some(format!("po:{}", po.number)),
        before: Some(json!({ "state": po.state.as_str() })),
        after: Some(json!({ "state": PoState::Sent.as_str(), "to": po.supplier.email })),
    };
    audit::record(&mut tx, actor, change).await?;
    tx.commit().await?;
    Ok(load(db, &po.po_id).await?.unwrap_or(po))
}

/// Cancels a purchase order, or what has not come of one partly received (the supplier will
/// not send the rest): nothing more is on order (audited).
pub async fn cancel(db: &Db, actor: &Actor, number: &str) -> ApiResult<PurchaseOrder> {
    let mut tx = db.begin_write().await?;
    let po = lock(&mut tx, number).await?;
    let from = [PoState::Draft, PoState::Sent, PoState::PartlyReceived];
    if !from.contains(&po.state) {
        return Err(wrong_state(&po, "cancelled", &from));
    }
    set_state(&mut tx, &po, PoState::Cancelled).await?;
    let change = Change {
        action: "po.cancel",
        subject: Some(format!("po:{}", po.number)),
        before: Some(json!({ "state": po.state.as_str() })),
        after: Some(json!({ "state": PoState::Cancelled.as_str() })),
    };
    audit::record(&mut tx, actor, change).await?;
    tx.commit().await?;
    Ok(load(db, &po.po_id).await?.unwrap_or(po))
}

/// Records a delivery against a sent order: each line's bottles (at most what is still to come)
/// are added to the stock through its ledger, and the order is partly received or received
/// (audited).
pub async fn receive(db: &Db, actor: &Actor, number: &str, delivered: &[(String, i64)]) -> ApiResult<PurchaseOrder> {
    let mut tx = db.begin_write().await?;
    let po = lock(&mut tx, number).await?;
    if !matches!(po.state, PoState::Sent | PoState::PartlyReceived) {
        return Err(wrong_state(&po, "received", &[PoState::Sent, PoState::PartlyReceived]));
    }
    let delivered: Vec<(String, i64)> = added_up(delivered).into_iter().filter(|(_, q)| *q != 0).collect();
    if delivered.is_empty() {
        return Err(ApiError::invalid("lines", "say how many bottles of each size arrived"));
    }
    let why = format!("received on purchase order {} from {}", po.number, po.supplier.name);
    for (sku, q) in &delivered {
        let Some(line) = po.lines.iter().find(|l| l.sku == *sku) else {
            return Err(ApiError::invalid("lines", format!("{sku} is not on purchase order {}", po.number)));
        };
        if *q < 0 || *q > line.outstanding {
            return Err(ApiError::invalid(
                "lines",
                format!("{} of {sku} are still to come; receive from 0 to {}", line.outstanding, line.outstanding),
            ));
        }
        sqlx::query("update purchase_order_line set received = received + $1 where po_id = $2 and sku = $3")
            .bind(q)
            .bind(&po.po_id)
            .bind(sku)
            .execute(&mut **tx)
            .await?;
        crate::stock::change_in(&mut tx, sku, crate::stock::Change::Adjust(*q), &why, actor).await?;
    }
    let outstanding: i64 = sqlx::query_scalar(
        "select cast(coalesce(sum(ordered - received), 0) as bigint) from purchase_order_line where po_id = $1",
    )
    .bind(&po.po_id)
    .fetch_one(&mut **tx)
    .await?;
    let to = if outstanding == 0 { PoState::Received } else { PoState::PartlyReceived };
    set_state(&mut tx, &po, to).await?;
    let change = Change {
        action: "po.receive",
        subject: Some(format!("po:{}", po.number)),
        before: Some(json!({ "state": po.state.as_str() })),
        after: Some(json!({
            "state": to.as_str(),
            "received": delivered.iter().map(|(s, q)| format!("{s} × {q}")).collect::<Vec<_>>(),
        })),
    };
    audit::record(&mut tx, actor, change).await?;
    tx.commit().await?;
    Ok(load(db, &po.po_id).await?.unwrap_or(po))
}
