//! "Order again": an earlier order's lines put back in the cart at today's prices and with
//! today's stock, each change said in words.

use serde::Serialize;

use super::{load, Edit, EditError, Target, MAX_PER_LINE};
use crate::checkout::pricing::display;
use crate::error::ApiResult;
use crate::orders::BoughtLine;
use crate::AppState;

/// What ordering again did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Reordered {
    /// The cart the lines went to (the cookie's value).
    pub cart_id: String,
    /// Whether the cart was made for them (its cookie must be set).
    #[serde(skip)]
    pub created: bool,
    /// Bottles added.
    pub added: i64,
    /// What differs from the order, one sentence each (sold out, fewer left, a new price).
    pub changes: Vec<String>,
}

/// Adds an order's lines to a cart (made when there is none): each size as many as were
/// bought, within what is left and what an order may hold.
pub async fn reorder(state: &AppState, cart_id: Option<String>, lines: &[BoughtLine]) -> ApiResult<Reordered> {
    let mut cart_id = cart_id;
    let mut created = false;
    let mut added = 0;
    let mut changes = Vec::new();
    for line in lines {
        let what = format!("{}, {}", line.title, line.label);
        let Some((now_named, available)) = super::size_now(&state.db, &line.sku).await? else {
            changes.push(format!("{what} is no longer sold; it was not added."));
            continue;
        };
        let cart = load(state, cart_id.as_deref()).await?;
        let held = cart.items.iter().find(|l| l.sku == line.sku).map_or(0, |l| l.quantity);
        let wanted = (held + line.quantity).min(MAX_PER_LINE);
        let room = available.max(0);
        let target = wanted.min(room.max(held));
        if target <= held {
            changes.push(if available <= 0 {
                format!("{now_named} is sold out; it was not added.")
            } else {
                format!("{now_named}: your cart holds all that can be added ({held}).")
            });
            continue;
        }
        let edit = Edit::Set(target);
        match state.carts.edit(Target::OrNew(cart_id.clone()), &line.sku, edit).await {
            Ok(edited) => {
                created |= edited.created;
                cart_id = Some(edited.cart_id.clone());
                added += target - held;
                if target - held < line.quantity {
                    // What held it back: the stock, or the most an order may hold of a size.
                    let why = if target == MAX_PER_LINE && available > MAX_PER_LINE {
                        format!("an order holds at most {MAX_PER_LINE} of one size")
                    } else {
                        format!("only {available} left")
                    };
                    changes.push(format!(
                        "{now_named}: {} added of the {} you ordered ({why}).",
                        target - held,
                        line.quantity
                    ));
                }
                if let Some(now) = edited.cart.items.iter().find(|l| l.sku == line.sku) {
                    if now.unit_price.amount != line.unit_minor {
                        let then = display(line.unit_minor, now.unit_price.currency);
                        changes.push(format!("{now_named} now costs {} (it was {then}).", now.unit_price.display));
                    }
                }
            }
            Err(EditError::SoldOut { what, .. }) => {
                changes.push(format!("{what} sold out just now; it was not added."))
            }
            Err(EditError::OnlyLeft { what, available, .. }) => {
                changes.push(format!("{what}: only {available} left just now; it was not added."))
            }
            Err(EditError::NoSuchSku(_)) => changes.push(format!("{what} is no longer sold; it was not added.")),
            Err(e) => return Err(e.into()),
        }
    }
    // No cart when nothing could be added to one that did not exist.
    Ok(Reordered { cart_id: cart_id.unwrap_or_default(), created, added, changes })
}
