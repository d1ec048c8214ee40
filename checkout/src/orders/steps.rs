//! The steps staff take with a paid order: packed, shipped (the shopper is told), delivered.

use super::{links, load_in, lock, OrderStatus, OrderView};
use crate::config::Secret;
use crate::db::Db;
use crate::error::ApiError;
use crate::ids::now;
use crate::staff::audit::{self, Actor, Change};

/// A step staff take with a paid order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Packed: paid → fulfilled.
    Fulfil,
    /// Handed to the carrier: paid or fulfilled → shipped, with the carrier's reference.
    Ship {
        /// Tracking reference, shown to the shopper.
        tracking: Option<String>,
    },
    /// Arrived: shipped → delivered.
    Deliver,
}

impl Step {
    /// The states the step may start from, and where it leads.
    fn moves(&self) -> (&'static [OrderStatus], OrderStatus) {
        match self {
            Step::Fulfil => (&[OrderStatus::Paid], OrderStatus::Fulfilled),
            Step::Ship { .. } => (&[OrderStatus::Paid, OrderStatus::Fulfilled], OrderStatus::Shipped),
            Step::Deliver => (&[OrderStatus::Shipped], OrderStatus::Delivered),
        }
    }

    fn audit_action(&self) -> &'static str {
        match self {
            Step::Fulfil => "order.fulfil",
            Step::Ship { .. } => "order.ship",
            Step::Deliver => "order.deliver",
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Step::Fulfil => "fulfil",
            Step::Ship { .. } => "ship",
            Step::Deliver => "deliver",
        }
    }
}

/// Why a step could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// No order has that number or id.
    #[error("no order {0}")]
    NotFound(String),
    /// The order is not in a state the step starts from.
    #[error("order {number} is {status}; {step} needs it to be {from}")]
    WrongState {
        /// Order number.
        number: String,
        /// Its state now.
        status: String,
        /// The step.
        step: &'static str,
        /// What the step starts from.
        from: String,
    },
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The shopper's e-mail could not be queued.
    #[error("{0}")]
    Mail(#[from] ApiError),
}

/// The e-mail that tells the shopper their parcel left, with its tracking reference.
pub fn shipped_mail(key: &Secret, public_url: &str, order: &OrderView) -> crate::notify::Mail {
    let number = &order.number;
    let link = format!("{public_url}{}", links::path(key, &order.order_id));
    let tracking =
        order.tracking.as_deref().map(|t| format!("The carrier's tracking reference is {t}.\n\n")).unwrap_or_default();
    crate::notify::Mail {
        subject: format!("Your order {number} is on its way"),
        text: format!(
            "Good day,\n\nYour parcel from Atelier Arôme has left the atelier and is travelling to you.\n\n{tracking}You can follow your order here:\n{link}\n\nPlease keep the bottles upright once they arrive.\n\nWith our regards,\nThe atelier\n"
        ),
        html: None,
    }
}

/// Moves an order one step along (one conditional update, so two staff members racing take
/// the step once); the shopper is e-mailed when the parcel ships, and the audit log records
/// who took the step in the same transaction.
pub async fn advance(
    db: &Db,
    key: &Secret,
    public_url: &str,
    number_or_id: &str,
    step: &Step,
    actor: &Actor,
) -> Result<OrderView, StepError> {
    let found: Option<(String, String, String)> =
        sqlx::query_as("select order_id, number, status from customer_order where number = $1 or order_id = $1")
            .bind(number_or_id.trim())
            .fetch_optional(&db.pool)
            .await?;
    let (order_id, number, status) = found.ok_or_else(|| StepError::NotFound(number_or_id.to_string()))?;
    let (from, to) = step.moves();
    let wrong = |status: String| StepError::WrongState {
        number: number.clone(),
        status,
        step: step.name(),
        from: from.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" or "),
    };
    let Some(current) = OrderStatus::parse(&status).filter(|s| from.contains(s)) else {
        return Err(wrong(status));
    };
    let t = now();
    let mut tx = db.begin_write().await?;
    let moved = sqlx::query(
        "update customer_order set status = $1, updated_at = $2,
           tracking = coalesce($3, tracking),
           shipped_at = case when $1 = $6 then $2 else shipped_at end,
           delivered_at = case when $1 = $7 then $2 else delivered_at end
         where order_id = $4 and status = $5",
    )
    .bind(to.as_str())
    .bind(t)
    .bind(match step {
        Step::Ship { tracking } => tracking.as_deref().map(str::trim).filter(|s| !s.is_empty()),
        _ => None,
    })
    .bind(&order_id)
    .bind(current.as_str())
    .bind(OrderStatus::Shipped.as_str())
    .bind(OrderStatus::Delivered.as_str())
    .execute(&mut **tx)
    .await?;
    if moved.rows_affected() == 0 {
        let now = lock(&mut tx, &order_id).await?.status;
        return Err(wrong(now.to_string()));
    }
    let order = load_in(&mut tx, &order_id).await?.ok_or_else(|| StepError::NotFound(order_id.clone()))?;
    if to == OrderStatus::Shipped {
        let mail = shipped_mail(key, public_url, &order);
        crate::notify::enqueue(&mut tx, "order_shipped", &format!("order-shipped:{order_id}"), &order.email, &mail)
            .await?;
    }
    let change = Change {
        action: step.audit_action(),
        subject: Some(format!("order:{number}")),
        before: Some(serde_json::json!({ "status": current.as_str() })),
        after: Some(serde_json::json!({ "status": to.as_str(), "tracking": order.tracking })),
    };
    audit::record(&mut tx, actor, change).await?;
    tx.commit().await?;
    Ok(order)
}

/// An e-mail staff may send a shopper again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resend {
    /// The order's confirmation (once paid).
    Confirmation,
    /// The parcel's tracking e-mail (once shipped).
    Tracking,
}

impl Resend {
    /// The form's name of it.
    pub fn parse(name: &str) -> Option<Resend> {
        match name {
            "confirmation" => Some(Resend::Confirmation),
            "tracking" => Some(Resend::Tracking),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Resend::Confirmation => "confirmation",
            Resend::Tracking => "tracking",
        }
    }
}

/// Sends a shopper their confirmation or tracking e-mail again (a new message each time, as
/// asked), audited.
pub async fn resend(
    state: &crate::AppState,
    actor: &Actor,
    number: &str,
    which: Resend,
) -> Result<OrderView, crate::error::ApiError> {
    use crate::error::ApiError;
    let order = super::find_by_number_or_id(&state.db, number)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no order {number}")))?;
    let (allowed, kind, mail): (&[OrderStatus], &str, _) = match which {
        Resend::Confirmation => (
            &[OrderStatus::Paid, OrderStatus::Fulfilled, OrderStatus::Shipped, OrderStatus::Delivered],
            "order_confirmation",
            super::confirmation_mail(state, &order),
        ),
        Resend::Tracking => (
            &[OrderStatus::Shipped, OrderStatus::Delivered],
            "order_shipped",
            shipped_mail(&state.keys.link, &state.config.public_url, &order),
        ),
    };
    if !allowed.contains(&order.status) {
        return Err(ApiError::Conflict(format!(
            "order {number} is {}; its {} e-mail is sent once it is {}",
            order.status.as_str(),
            which.name(),
            allowed.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" or ")
        )));
    }
    let mut tx = state.db.begin_write().await?;
    let key = format!("{kind}:{}:again:{}", order.order_id, crate::ids::new_id("msg"));
    crate::notify::enqueue(&mut tx, kind, &key, &order.email, &mail).await?;
    let change = Change {
        action: "order.resend",
        subject: Some(format!("order:{}", order.number)),
        before: None,
        after: Some(serde_json::json!({ "mail": which.name(), "to": order.email })),
    };
    audit::record(&mut tx, actor, change).await?;
    tx.commit().await?;
    Ok(order)
}
