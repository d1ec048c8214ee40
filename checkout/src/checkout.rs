//! Checkout: from a cart and an address to an order with its stock reserved and a payment
//! session open, in one transaction; and the confirmation e-mail once it is paid.

use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};
use crate::ids::{new_id, now};
use crate::payments::{SessionLine, SessionRequest};
use crate::pricing::{self, COUNTRIES};
use crate::AppState;

/// What the shopper gives at checkout (JSON or form).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct CheckoutInput {
    /// E-mail for the confirmation.
    pub email: String,
    /// Full name.
    pub name: String,
    /// Street and number.
    pub line1: String,
    /// Apartment, building.
    pub line2: String,
    /// Town.
    pub city: String,
    /// Postal code.
    pub postal_code: String,
    /// ISO country code.
    pub country: String,
    /// `standard` or `express`.
    pub shipping_method: String,
}

/// Validated checkout details.
#[derive(Debug, Clone)]
pub struct Valid {
    email: String,
    input: CheckoutInput,
    country_name: &'static str,
    vat: i64,
    method: pricing::ShippingMethod,
}

/// Parses the input at the edge: every problem, named by field.
pub fn validate(input: &CheckoutInput, methods: &[pricing::ShippingMethod]) -> Result<Valid, Vec<ApiError>> {
    let mut errors = Vec::new();
    let email = input.email.trim().to_lowercase();
    let plausible = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && !email.contains(char::is_whitespace);
    if !plausible {
        errors.push(ApiError::invalid("email", "enter an e-mail address such as name@example.com"));
    }
    for (field, value, label, max) in [
        ("name", &input.name, "your name", 120),
        ("line1", &input.line1, "the street and number", 200),
        ("city", &input.city, "the town or city", 120),
        ("postal_code", &input.postal_code, "the postal code", 16),
    ] {
        if value.trim().is_empty() {
            errors.push(ApiError::invalid(field, format!("enter {label}")));
        } else if value.chars().count() > max {
            errors.push(ApiError::invalid(field, format!("at most {max} characters")));
        }
    }
    if input.line2.chars().count() > 200 {
        errors.push(ApiError::invalid("line2", "at most 200 characters"));
    }
    let country = COUNTRIES.iter().find(|(c, _, _)| c.eq_ignore_ascii_case(input.country.trim()));
    if country.is_none() {
        errors.push(ApiError::invalid("country", "we ship within the European Union: choose a country from the list"));
    }
    let method = methods.iter().find(|m| m.id == input.shipping_method.trim()).cloned();
    if method.is_none() {
        errors.push(ApiError::invalid("shipping_method", "choose standard or express shipping"));
    }
    match (errors.is_empty(), country, method) {
        (true, Some((_, name, vat)), Some(method)) => {
            Ok(Valid { email, input: input.clone(), country_name: name, vat: *vat, method })
        }
        _ => Err(errors),
    }
}

/// The order a checkout opened.
#[derive(Debug, Clone, Serialize)]
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
    let t = now();
    let address = serde_json::json!({
        "line1": valid.input.line1.trim(),
        "line2": valid.input.line2.trim(),
        "postal_code_city": format!("{} {}", valid.input.postal_code.trim(), valid.input.city.trim()),
        "postal_code": valid.input.postal_code.trim(),
        "city": valid.input.city.trim(),
        "country": valid.input.country.trim().to_uppercase(),
        "country_name": valid.country_name,
    });
    let mut tx = state.db.begin_write().await?;
    let number = crate::orders::next_number(&mut tx).await?;
    sqlx::query(
        "insert into customer_order (order_id, number, email, name, address, country, shipping_method, status, currency,
           subtotal_minor, shipping_minor, vat_minor, total_minor, payment_provider, cart_id, stock_state,
           created_at, updated_at, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7, 'pending_payment', 'EUR', $8, $9, $10, $11, $12, $13, 'reserved', $14, $15, $16)",
    )
    .bind(&order_id)
    .bind(&number)
    .bind(&valid.email)
    .bind(valid.input.name.trim())
    .bind(address.to_string())
    .bind(valid.input.country.trim().to_uppercase())
    .bind(valid.method.id)
    .bind(totals.subtotal)
    .bind(totals.shipping)
    .bind(totals.vat)
    .bind(totals.total)
    .bind(state.payments.name())
    .bind(cart_id)
    .bind(t)
    .bind(t)
    .bind(t + state.config.reservation_seconds)
    .execute(&mut **tx)
    .await?;
    // Lines in SKU order, so concurrent checkouts lock rows in the same order.
    for line in &cart.items {
        crate::stock::reserve(&mut tx, &line.sku, line.quantity).await.map_err(|e| match e {
            ApiError::Conflict(_) => ApiError::Conflict(if line.available <= 0 {
                format!("{} {} has just sold out", line.title, line.label)
            } else {
                format!("only {} of {} {} left", line.available, line.title, line.label)
            }),
            other => other,
        })?;
        sqlx::query("insert into order_item (order_id, sku, title, label, unit_minor, quantity) values ($1, $2, $3, $4, $5, $6)")
            .bind(&order_id)
            .bind(&line.sku)
            .bind(&line.title)
            .bind(&line.label)
            .bind(line.unit_price.amount)
            .bind(line.quantity)
            .execute(&mut **tx)
            .await?;
        crate::alerts::after_stock_change(&mut tx, &line.sku).await?;
    }
    tx.commit().await?;

    // The stock is held; now the provider opens its session. Should it fail, the order is
    // cancelled at once and the stock given back: nothing was charged.
    let token = crate::orders::token(&state.config.link_key, &order_id);
    let order_url = format!("/orders/{order_id}?token={token}");
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
        expires_at: t + state.config.reservation_seconds,
    };
    let session = match state.payments.open(&request).await {
        Ok(s) => s,
        Err(e) => {
            if let Err(undo) = crate::webhooks::cancel_unopened(state, &order_id).await {
                // The expiry worker releases it in the end.
                tracing::error!(order = %order_id, error = %undo, "could not cancel an order whose payment failed to open");
            }
            return Err(e);
        }
    };
    // Through a write transaction: on SQLite that takes the writer lock like every other write.
    let mut tx = state.db.begin_write().await?;
    sqlx::query("update customer_order set payment_session = $1, payment_url = $2 where order_id = $3")
        .bind(&session.id)
        .bind(&session.url)
        .bind(&order_id)
        .execute(&mut **tx)
        .await?;
    tx.commit().await?;
    Ok(Started { payment_url: session.url, order_url, order_id, number, total: totals.total })
}

/// Queues the confirmation of a paid order (once, whatever happens).
pub async fn queue_confirmation(state: &AppState, tx: &mut crate::db::WriteTx, order_id: &str) -> ApiResult<()> {
    let order = crate::orders::load_in(tx, order_id)
        .await?
        .ok_or_else(|| ApiError::Internal(format!("order {order_id} vanished")))?;
    let token = crate::orders::token(&state.config.link_key, order_id);
    let ctx = serde_json::json!({
        "order": order,
        "order_url": format!("{}/orders/{order_id}?token={token}", state.config.public_url),
        "site_title": state.config.site_title,
        "site_url": state.config.public_url,
    });
    let mail = crate::mail::Mail {
        subject: format!("Your order {} at Atelier Arôme", order.number),
        text: crate::views::render("email/order_confirmation.txt", &ctx),
        html: Some(crate::views::render("email/order_confirmation.html", &ctx)),
    };
    crate::mail::enqueue(tx, "order_confirmation", &format!("order-confirmation:{order_id}"), &order.email, &mail)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> CheckoutInput {
        CheckoutInput {
            email: "Ada@Example.com".into(),
            name: "Ada".into(),
            line1: "1 rue des Fleurs".into(),
            line2: String::new(),
            city: "Grasse".into(),
            postal_code: "06130".into(),
            country: "fr".into(),
            shipping_method: "standard".into(),
        }
    }

    #[test]
    fn validates_every_field() {
        let v = validate(&input(), &pricing::ShippingRates::default().methods()).unwrap();
        assert_eq!((v.email.as_str(), v.vat), ("ada@example.com", 20));
        let bad = CheckoutInput {
            email: "nope".into(),
            city: " ".into(),
            country: "US".into(),
            shipping_method: "drone".into(),
            ..input()
        };
        let fields: Vec<String> = validate(&bad, &pricing::ShippingRates::default().methods())
            .unwrap_err()
            .into_iter()
            .map(|e| match e {
                ApiError::Invalid { field, .. } => field,
                other => other.to_string(),
            })
            .collect();
        assert_eq!(fields, ["email", "city", "country", "shipping_method"]);
    }
}
