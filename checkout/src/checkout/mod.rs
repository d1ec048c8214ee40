//! Checkout: from a cart and an address to an order with its stock reserved and a payment
//! session open.

pub mod http;
mod input;
pub mod pricing;

use serde::Serialize;

pub use input::{validate, CheckoutInput, Valid};

use crate::error::{ApiError, ApiResult};
use crate::ids::{new_id, now};
use crate::orders::{self, links, NewOrder};
use crate::payments::{SessionLine, SessionRequest};
use crate::{stock, AppState};

/// The order a checkout opened.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Started {
    /// Internal id.
    pub order_id: String,
    /// Readable number.
    pub number: String,
    /// Where the shopper pays.
    pub payment_url: String,
    /// The order's page (with its token).
    pub order_url: String,
    /// What will be charged, in minor units.
    pub total: i64,
}

/// Opens an order for the cart: prices from the catalog, stock reserved, payment session made.
pub async fn start(state: &AppState, cart_id: &str, valid: &Valid) -> ApiResult<Started> {
    let cart = crate::cart::load(&state.db, Some(cart_id)).await?;
    if cart.items.is_empty() {
        return Err(ApiError::Conflict("your cart is empty".into()));
    }
    let totals = pricing::totals(cart.subtotal.amount, &valid.method, valid.vat);
    let order_id = new_id("ord");
    let expires_at = now() + state.config.reservation_seconds;
    let country = valid.input.country.trim().to_uppercase();
    let address = serde_json::json!({
        "line1": valid.input.line1.trim(),
        "line2": valid.input.line2.trim(),
        "postal_code_city": format!("{} {}", valid.input.postal_code.trim(), valid.input.city.trim()),
        "postal_code": valid.input.postal_code.trim(),
        "city": valid.input.city.trim(),
        "country": country,
        "country_name": valid.country_name,
    });
    let new = NewOrder {
        order_id: &order_id,
        email: &valid.email,
        name: valid.input.name.trim(),
        address: &address,
        country: &country,
        shipping_method: valid.method.id,
        currency: "EUR",
        totals: &totals,
        provider: state.payments.name(),
        cart_id,
        expires_at,
    };
    let mut tx = state.db.begin_write().await?;
    let number = orders::insert_pending(&mut tx, &new).await?;
    // Lines in SKU order, so concurrent checkouts lock rows in the same order.
    for line in &cart.items {
        stock::reserve(&mut tx, &line.sku, line.quantity).await.map_err(|e| match e {
            ApiError::Conflict(_) => ApiError::Conflict(if line.available <= 0 {
                format!("{} {} has just sold out", line.title, line.label)
            } else {
                format!("only {} of {} {} left", line.available, line.title, line.label)
            }),
            other => other,
        })?;
        orders::add_line(&mut tx, &order_id, line).await?;
        stock::alerts::after_stock_change(&mut tx, &line.sku).await?;
    }
    tx.commit().await?;

    // The stock is held; now the provider opens its session. Should it fail, the order is
    // cancelled at once and the stock given back: nothing was charged.
    let order_url = links::path(&state.keys.link, &order_id);
    let mut lines: Vec<SessionLine> = cart
        .items
        .iter()
        .map(|l| SessionLine {
            name: format!("{} — {}", l.title, l.label),
            unit_minor: l.unit_price.amount,
            quantity: l.quantity,
        })
        .collect();
    if totals.shipping > 0 {
        lines.push(SessionLine {
            name: format!("Shipping — {}", valid.method.label),
            unit_minor: totals.shipping,
            quantity: 1,
        });
    }
    let request = SessionRequest {
        order_id: order_id.clone(),
        number: number.clone(),
        email: valid.email.clone(),
        currency: "eur".into(),
        lines,
        total_minor: totals.total,
        success_url: format!("{}{order_url}", state.config.public_url),
        cancel_url: format!("{}{order_url}", state.config.public_url),
        expires_at,
    };
    let session = match state.payments.open(&request).await {
        Ok(s) => s,
        Err(e) => {
            if let Err(undo) = orders::cancel_unopened(&state.db, &order_id).await {
                // The expiry worker releases it in the end.
                tracing::error!(order = %order_id, error = %undo, "could not cancel an order whose payment failed to open");
            }
            return Err(e);
        }
    };
    orders::attach_session(&state.db, &order_id, &session.id, &session.url).await?;
    Ok(Started { payment_url: session.url, order_url, order_id, number, total: totals.total })
}
