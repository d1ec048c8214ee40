//! Checkout: from a cart and an address to an order with its stock reserved and a payment
//! session open.

pub mod http;
mod input;
mod postal;
pub mod pricing;

use std::time::{Duration, Instant};

use serde::Serialize;

pub use input::{check_address, country, validate, AddressInput, CheckoutInput, Valid};

use crate::cart::Cart;
use crate::error::{ApiError, ApiResult};
use crate::ids::{new_id, now};
use crate::orders::{self, links, NewOrder, OpenOrder};
use crate::payments::stripe::SessionStatus;
use crate::payments::{Payments, Session, SessionLine, SessionRequest};
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

/// How long a checkout waits for another request's payment session on the same cart.
const WAIT_FOR_SESSION: Duration = Duration::from_secs(15);

/// An open order without its payment session yet is being opened by another request while it
/// is younger than this (the provider's timeout and retries); older, it was abandoned (the
/// process stopped in between) and a new checkout may replace it.
const OPENING_AT_MOST: i64 = 120;

/// Opens an order for the cart: prices from the catalog, stock reserved, payment session made.
/// A cart has one open order at most: the same checkout again (same lines, prices, address and
/// shipping) finds it, a changed one replaces it (its stock given back first), so however often
/// a cart is checked out, and however many requests race, its bottles are held once.
pub async fn start(state: &AppState, cart_id: &str, valid: &Valid, account: Option<&str>) -> ApiResult<Started> {
    let deadline = Instant::now() + WAIT_FOR_SESSION;
    loop {
        if Instant::now() > deadline {
            return Err(ApiError::Conflict("this cart's checkout is still being opened; try again".into()));
        }
        let open = orders::open_for_cart(&state.db, cart_id).await?;
        // Another request is opening this order's payment session: its answer, whatever this
        // one asks, is awaited (replacing it now would leave that request's shopper a live
        // payment page for a cancelled order).
        if open.as_ref().is_some_and(|o| o.payment_url.is_none() && o.created_at > now() - OPENING_AT_MOST) {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        // Read afresh each turn: an order replaced meanwhile may have been paid, emptying it.
        let cart = crate::cart::load(state, Some(cart_id)).await?;
        if cart.items.is_empty() {
            return Err(ApiError::Conflict("your cart is empty".into()));
        }
        let key = checkout_key(&cart, valid, account);
        if let Some(open) = open {
            // The same checkout, with time left to pay: its page.
            if open.checkout_key.as_deref() == Some(key.as_str()) && open.expires_at > now() + 60 {
                if let Some(payment_url) = open.payment_url {
                    let order_url = links::path(&state.keys.link, &open.order_id);
                    let OpenOrder { order_id, number, total, .. } = open;
                    return Ok(Started { order_id, number, payment_url, order_url, total });
                }
            }
            replace(state, &open).await?;
            continue;
        }
        let totals = pricing::totals(cart.subtotal.amount, &valid.method, valid.vat);
        match open_order(state, cart_id, valid, &cart, &totals, &key, account).await {
            Err(ApiError::Database(e)) if orders::is_taken(&e) => continue,
            done => return done,
        }
    }
}

/// A digest of what a checkout is opened with: the same cart, prices, address, shipping and
/// account (signing in between makes another order, the account's) give the same key.
fn checkout_key(cart: &Cart, valid: &Valid, account: Option<&str>) -> String {
    use sha2::{Digest, Sha256};
    let i = &valid.input;
    let mut h = Sha256::new();
    h.update(account.unwrap_or("").as_bytes());
    h.update([0]);
    let b = valid.billing.as_ref().map(|(b, _)| b.clone()).unwrap_or_default();
    for part in [
        valid.email.as_str(),
        &i.name,
        &i.line1,
        &i.line2,
        &i.city,
        &i.postal_code,
        &i.country,
        valid.method.id,
        &valid.phone,
        &b.name,
        &b.line1,
        &b.line2,
        &b.city,
        &b.postal_code,
        &b.country,
    ] {
        h.update(part.trim().as_bytes());
        h.update([0]);
    }
    for line in &cart.items {
        h.update(format!("{}:{}:{}", line.sku, line.quantity, line.unit_price.amount).as_bytes());
        h.update([0]);
    }
    crate::ids::hex(&h.finalize()[..16])
}

/// Ends an open order that a changed checkout replaces, giving its stock back (unless it was
/// settled meanwhile: the caller looks again). With Stripe the session is closed first: one
/// Stripe still takes money on must not lose its bottles.
async fn replace(state: &AppState, open: &OpenOrder) -> ApiResult<()> {
    if let (Payments::Stripe(gateway), Some(session)) = (&state.payments, &open.session) {
        match gateway.expire(session).await {
            Ok(SessionStatus::Expired) => {}
            Ok(SessionStatus::Complete) => {
                return Err(ApiError::Conflict(
                    "this cart was paid for a moment ago; your confirmation is on its way by e-mail".into(),
                ))
            }
            Ok(SessionStatus::Open) => {
                return Err(ApiError::Conflict("your earlier payment page is still open; try again in a moment".into()))
            }
            Err(e) => return Err(ApiError::Provider(e.to_string())),
        }
    }
    orders::cancel(&state.db, &open.order_id).await?;
    Ok(())
}

/// Opens a new order for the cart: the order, its lines and their stock in one transaction,
/// then the payment session.
async fn open_order(
    state: &AppState,
    cart_id: &str,
    valid: &Valid,
    cart: &Cart,
    totals: &pricing::Totals,
    key: &str,
    account_id: Option<&str>,
) -> ApiResult<Started> {
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
        "phone": valid.phone,
        "billing": valid.billing.as_ref().map(|(b, country_name)| serde_json::json!({
            "name": b.name.trim(),
            "line1": b.line1.trim(),
            "line2": b.line2.trim(),
            "postal_code_city": format!("{} {}", b.postal_code, b.city.trim()),
            "postal_code": b.postal_code,
            "city": b.city.trim(),
            "country": b.country,
            "country_name": country_name,
        })),
    });
    let new = NewOrder {
        order_id: &order_id,
        email: valid.email.as_str(),
        name: valid.input.name.trim(),
        address: &address,
        country: &country,
        shipping_method: valid.method.id,
        currency: cart.subtotal.currency.code(),
        totals,
        provider: state.payments.name(),
        cart_id,
        expires_at,
        checkout_key: key,
        account_id,
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
        email: valid.email.to_string(),
        currency: cart.subtotal.currency.code().to_lowercase(),
        lines,
        total_minor: totals.total,
        success_url: format!("{}{order_url}", state.config.public_url),
        cancel_url: format!("{}{order_url}", state.config.public_url),
        expires_at,
    };
    // On a task of its own: a shopper who goes away meanwhile (the request dropped) must not
    // leave an order holding stock without a session, which would block the cart.
    let opening = tokio::spawn(open_session(state.clone(), request));
    let session = opening.await.map_err(|e| ApiError::Internal(format!("opening the payment session: {e}")))??;
    Ok(Started { payment_url: session.url, order_url, order_id, number, total: totals.total })
}

/// Opens the payment session of an order whose stock is held, and records it; on failure the
/// order is cancelled and its stock given back.
async fn open_session(state: AppState, request: SessionRequest) -> ApiResult<Session> {
    let order_id = &request.order_id;
    let session = match state.payments.open(&request).await {
        Ok(s) => s,
        Err(e) => {
            if let Err(undo) = orders::cancel(&state.db, order_id).await {
                // The expiry worker releases it in the end.
                tracing::error!(order = %order_id, error = %undo, "could not cancel an order whose payment failed to open");
            }
            return Err(e);
        }
    };
    if !orders::attach_session(&state.db, order_id, &session.id, &session.url).await? {
        // Closed meanwhile (expired): its new session must not take money for it.
        if let Payments::Stripe(gateway) = &state.payments {
            if let Err(e) = gateway.expire(&session.id).await {
                tracing::warn!(order = %order_id, error = %e, "could not close the session of an order closed meanwhile");
            }
        }
        return Err(ApiError::Conflict("this checkout was closed meanwhile; please check out again".into()));
    }
    Ok(session)
}
