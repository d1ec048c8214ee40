//! Checkout routes: the JSON endpoint, the shipping options, and the checkout page whose form
//! works without JavaScript.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::pricing::{self, display};
use super::{CheckoutInput, Started};
use crate::accounts::session::MaybeSignedIn;
use crate::cart::{self, CartCookie};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::client::ClientAddr;
use crate::http::limit;
use crate::http::page::{form_errors, page};
use crate::http::{ApiForm, ApiJson, ApiQuery};
use crate::AppState;

/// The checkout routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_shipping))
        .routes(routes!(get_quote))
        .routes(routes!(post_checkout))
        .routes(routes!(checkout_page, checkout_form))
        .routes(routes!(recalculate_form))
}

/// A shipping method as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
struct MethodView {
    /// `standard`, `express`.
    id: &'static str,
    /// What the shopper reads.
    label: &'static str,
    /// Its price.
    price: cart::Amount,
    /// Orders from this subtotal ship free with it.
    free_above: Option<cart::Amount>,
}

/// A country we ship to.
#[derive(Serialize, utoipa::ToSchema)]
struct CountryView {
    /// ISO code.
    code: &'static str,
    /// Its name.
    name: &'static str,
    /// Its standard VAT rate, in percent.
    vat_percent: i64,
}

/// Shipping methods and countries.
#[derive(Serialize, utoipa::ToSchema)]
struct Shipping {
    /// The methods.
    methods: Vec<MethodView>,
    /// The countries.
    countries: Vec<CountryView>,
}

/// Shipping methods and countries.
#[utoipa::path(get, path = "/api/shipping", tag = "checkout",
    responses((status = 200, description = "How and where the atelier ships.", body = Shipping)))]
async fn get_shipping(State(state): State<AppState>) -> ApiResult<Json<Shipping>> {
    let currency = state.currency.get(&state.db).await?;
    let methods = state
        .config
        .shipping
        .methods()
        .into_iter()
        .map(|m| MethodView {
            id: m.id,
            label: m.label,
            price: cart::Amount::new(m.price_minor, currency),
            free_above: m.free_above_minor.map(|l| cart::Amount::new(l, currency)),
        })
        .collect();
    let countries = pricing::COUNTRIES
        .iter()
        .map(|(code, name, vat_percent)| CountryView { code, name, vat_percent: *vat_percent })
        .collect();
    Ok(Json(Shipping { methods, countries }))
}

/// The choices a quote is for.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct QuoteQuery {
    /// How to ship.
    #[param(value_type = pricing::ShippingMethodId)]
    shipping_method: String,
    /// Where to: the ISO code of a country we ship to.
    #[param(value_type = pricing::CountryCode)]
    country: String,
}

/// What the cart comes to, shipped one way to one country: what the checkout's summary shows as
/// the shopper chooses, from the same reckoning as the order.
#[derive(Serialize, utoipa::ToSchema)]
struct Quote {
    /// Sum of the lines.
    subtotal: cart::Amount,
    /// Shipping (zero above the method's threshold).
    shipping: cart::Amount,
    /// The VAT inside the total, at the destination's rate.
    vat: cart::Amount,
    /// What would be charged.
    total: cart::Amount,
    /// The destination's VAT rate, in percent.
    vat_percent: i64,
}

/// The cart's totals for a shipping method and a country.
#[utoipa::path(get, path = "/api/checkout/quote", tag = "checkout",
    params(CartCookie, QuoteQuery),
    responses(
        (status = 200, description = "The totals for these choices.", body = Quote),
        (status = 400, description = "An unknown method or country (`field` names it).", body = ErrorBody),
        (status = 409, description = "The cart is empty.", body = ErrorBody),
    ))]
async fn get_quote(
    State(state): State<AppState>,
    CartCookie(cart, _): CartCookie,
    ApiQuery(q): ApiQuery<QuoteQuery>,
) -> ApiResult<Json<Quote>> {
    let method = super::input::shipping_method(&state.config.shipping.methods(), &q.shipping_method)?;
    let (_, _, vat_percent) = *super::input::country(&q.country)?;
    let c = cart::load(&state, cart.as_deref()).await?;
    if c.items.is_empty() {
        return Err(ApiError::Conflict("your cart is empty".into()));
    }
    let t = pricing::totals(c.subtotal.amount, &method, vat_percent);
    let amount = |minor| cart::Amount::new(minor, c.subtotal.currency);
    Ok(Json(Quote {
        subtotal: amount(t.subtotal),
        shipping: amount(t.shipping),
        vat: amount(t.vat),
        total: amount(t.total),
        vat_percent,
    }))
}

/// Counts a checkout against its client's limit (only a real attempt counts: one with a cart).
async fn limit(state: &AppState, headers: &HeaderMap, socket: &ClientAddr) -> ApiResult<()> {
    let client = state.config.trusted_proxies.client(headers, socket.0.map(|s| s.ip()));
    match state.checkout_limit.hit(&state.db, &limit::bucket("checkout", client)).await? {
        None => Ok(()),
        Some(wait) => Err(ApiError::RateLimited(wait)),
    }
}

/// Starts a checkout: order, stock reserved, payment session.
#[utoipa::path(post, path = "/api/checkout", tag = "checkout",
    params(CartCookie),
    request_body = CheckoutInput,
    responses(
        (status = 201, description = "The order is open and its stock held; pay at `payment_url`.", body = Started),
        (status = 400, description = "A field is invalid (`field` names it).", body = ErrorBody),
        (status = 409, description = "The cart is empty, or a bottle sold out meanwhile.", body = ErrorBody),
        (status = 429, description = "Too many checkouts from this client; try again after `Retry-After` seconds.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until the client may start another checkout."))),
        (status = 502, description = "The payment provider failed; nothing was charged.", body = ErrorBody),
    ))]
async fn post_checkout(
    State(state): State<AppState>,
    connect: ClientAddr,
    headers: HeaderMap,
    CartCookie(cart, _): CartCookie,
    me: MaybeSignedIn,
    ApiJson(input): ApiJson<CheckoutInput>,
) -> ApiResult<Response> {
    let id = cart.ok_or_else(|| ApiError::Conflict("your cart is empty".into()))?;
    let valid = super::validate(&input, &state.config.shipping.methods()).map_err(|mut errors| errors.remove(0))?;
    limit(&state, &headers, &connect).await?;
    let started = super::start(&state, &id, &valid, me.account_id()).await?;
    Ok((StatusCode::CREATED, Json(started)).into_response())
}

/// The checkout page: the form as given, its problems beside their fields, the totals for the
/// shipping method and country chosen.
fn checkout_view(state: &AppState, c: &cart::Cart, form: &CheckoutInput, errors: &[ApiError]) -> Html<String> {
    let methods = state.config.shipping.methods();
    let chosen = methods.iter().find(|m| m.id == form.shipping_method).unwrap_or(&methods[0]);
    let vat = pricing::vat_rate(&form.country.to_uppercase()).unwrap_or(20);
    let t = pricing::totals(c.subtotal.amount, chosen, vat);
    let currency = c.subtotal.currency;
    let display = |minor| display(minor, currency);
    let mut form = form.clone();
    if form.shipping_method.is_empty() {
        form.shipping_method = chosen.id.to_string();
    }
    if form.country.is_empty() {
        form.country = "FR".into();
    }
    let shown = form_errors(errors);
    page(
        state,
        // Read first by a screen reader: the page came back with problems.
        if errors.is_empty() { "Checkout" } else { "Error: Checkout" },
        "pages/checkout.html",
        json!({
            "cart": cart::view(c),
            "form": form,
            "errors": shown["errors"],
            "field_errors": shown["field_errors"],
            "countries": pricing::COUNTRIES.iter().map(|(c, n, _)| json!({"code": c, "name": n})).collect::<Vec<_>>(),
            "shipping_methods": methods.iter().map(|m| json!({
                "id": m.id, "label": m.label, "price": display(m.price_minor), "free": m.free_above_minor.is_some_and(|l| c.subtotal.amount >= l),
                "note": m.free_above_minor.map(|l| format!("Free above {}", display(l))).unwrap_or_default(),
            })).collect::<Vec<_>>(),
            "totals": { "subtotal": display(t.subtotal), "shipping": display(t.shipping), "vat": display(t.vat), "total": display(t.total) },
        }),
    )
}

/// The checkout page (signed in, filled in with the account's address, its shipping address and,
/// when it is another, its billing address).
#[utoipa::path(get, path = "/checkout", tag = "pages",
    params(CartCookie),
    responses(
        (status = 200, description = "The checkout form.", content_type = "text/html"),
        (status = 303, description = "The cart is empty: back to the cart."),
    ))]
async fn checkout_page(State(state): State<AppState>, CartCookie(cart, account): CartCookie) -> ApiResult<Response> {
    let c = cart::load(&state, cart.as_deref()).await?;
    if c.items.is_empty() {
        return Ok(Redirect::to("/cart").into_response());
    }
    let mut form = CheckoutInput::default();
    if let Some(account_id) = account.as_deref() {
        form.email = crate::accounts::email_of(&state, account_id).await?.unwrap_or_default();
        let (shipping, billing) = crate::accounts::addresses::defaults(&state, account_id).await?;
        if let Some(a) = shipping {
            (form.name, form.line1, form.line2, form.postal_code, form.city, form.country) =
                (a.name, a.line1, a.line2, a.postal_code, a.city, a.country);
        }
        if let Some(b) = billing {
            (
                form.billing_name,
                form.billing_line1,
                form.billing_line2,
                form.billing_postal_code,
                form.billing_city,
                form.billing_country,
            ) = (b.name, b.line1, b.line2, b.postal_code, b.city, b.country);
        }
    }
    Ok(checkout_view(&state, &c, &form, &[]).into_response())
}

/// The checkout form: on success, off to pay; otherwise the form again with every problem.
#[utoipa::path(post, path = "/checkout", tag = "pages",
    params(CartCookie),
    request_body(content = CheckoutInput, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "The order is open: off to the payment page (or, without a cart, back to the cart)."),
        (status = 409, description = "The form again: the cart changed meanwhile (a bottle sold out, it was emptied).", content_type = "text/html"),
        (status = 422, description = "The form again, with what to correct.", content_type = "text/html"),
        (status = 429, description = "Too many checkouts from this client; try again after `Retry-After` seconds.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until the client may start another checkout."))),
        (status = 502, description = "The payment provider failed; nothing was charged.", body = ErrorBody),
    ))]
async fn checkout_form(
    State(state): State<AppState>,
    connect: ClientAddr,
    headers: HeaderMap,
    CartCookie(cart, _): CartCookie,
    me: MaybeSignedIn,
    ApiForm(input): ApiForm<CheckoutInput>,
) -> ApiResult<Response> {
    let c = cart::load(&state, cart.as_deref()).await?;
    let again = |errors: &[ApiError]| {
        (StatusCode::UNPROCESSABLE_ENTITY, checkout_view(&state, &c, &input, errors)).into_response()
    };
    // The form is answered first: what to correct, even if the cart has lapsed meanwhile.
    let valid = match super::validate(&input, &state.config.shipping.methods()) {
        Ok(v) => v,
        Err(errors) => return Ok(again(&errors)),
    };
    let Some(id) = cart else { return Ok(Redirect::to("/cart").into_response()) };
    limit(&state, &headers, &connect).await?;
    match super::start(&state, &id, &valid, me.account_id()).await {
        Ok(started) => Ok(Redirect::to(&started.payment_url).into_response()),
        // The form again, saying what changed (a bottle sold out, the cart emptied).
        Err(e @ ApiError::Conflict(_)) => {
            let mut res = again(&[e]);
            *res.status_mut() = StatusCode::CONFLICT;
            Ok(res)
        }
        Err(e) => Err(e),
    }
}

/// What "Update the total" needs of the checkout form (the rest of the form comes along, as
/// typed, to be shown again).
#[derive(Deserialize, utoipa::ToSchema)]
#[allow(dead_code)] // describes the body for the document; the handler takes the whole form
struct TotalsChoice {
    /// How to ship.
    #[schema(required = true, value_type = pricing::ShippingMethodId)]
    shipping_method: String,
    /// Where to.
    #[schema(required = true, value_type = pricing::CountryCode)]
    country: String,
}

/// The checkout form again with the totals for the shipping method and country now chosen (the
/// "Update the total" button, for a browser without JavaScript); nothing else is checked or kept.
#[utoipa::path(post, path = "/checkout/recalculate", tag = "pages",
    params(CartCookie),
    request_body(content = TotalsChoice, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The form as given, with its totals.", content_type = "text/html"),
        (status = 303, description = "The cart is empty: back to the cart."),
        (status = 422, description = "The form again: an unknown shipping method or country.", content_type = "text/html"),
    ))]
async fn recalculate_form(
    State(state): State<AppState>,
    CartCookie(cart, _): CartCookie,
    ApiForm(input): ApiForm<CheckoutInput>,
) -> ApiResult<Response> {
    let errors: Vec<ApiError> = [
        super::input::shipping_method(&state.config.shipping.methods(), &input.shipping_method).err(),
        super::input::country(&input.country).err(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let c = cart::load(&state, cart.as_deref()).await?;
    if !errors.is_empty() {
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, checkout_view(&state, &c, &input, &errors)).into_response());
    }
    if c.items.is_empty() {
        return Ok(Redirect::to("/cart").into_response());
    }
    Ok(checkout_view(&state, &c, &input, &[]).into_response())
}
