//! The routes: JSON under `/api/`, and the HTML pages and plain form posts that work without
//! JavaScript. Handlers are thin: they parse, call the domain modules, and shape the answer.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use crate::cart::{self, Edit, Target};
use crate::checkout::{self, CheckoutInput};
use crate::error::{ApiError, ApiResult};
use crate::payments::{self, SandboxAction};
use crate::pricing::{self, display};
use crate::{orders, AppState};

/// The name of the cart cookie.
pub const CART_COOKIE: &str = "atelier_cart";

/// Every route of the service.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/health", get(get_health))
        .route("/api/openapi.json", get(get_openapi))
        .route("/api/cart", get(get_cart))
        .route("/api/cart/items", post(post_cart_item))
        .route("/api/cart/items/{sku}", patch(patch_cart_item).delete(delete_cart_item))
        .route("/api/stock", get(get_stock))
        .route("/api/shipping", get(get_shipping))
        .route("/api/checkout", post(post_checkout))
        .route("/api/orders/{order_id}", get(get_order))
        .route("/api/webhooks/stripe", post(post_stripe_webhook))
        .route("/api/newsletter", post(post_newsletter))
        .route("/cart", get(cart_page))
        .route("/cart/add", post(cart_add_form))
        .route("/cart/update", post(cart_update_form))
        .route("/cart/remove", post(cart_remove_form))
        .route("/checkout", get(checkout_page).post(checkout_form))
        .route("/pay/{session}", get(pay_page).post(pay_form))
        .route("/orders/{order_id}", get(order_page))
        .route("/newsletter", post(newsletter_form))
}

/// The client's socket address, when the server knows it.
pub struct ClientAddr(Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0)))
    }
}

/// JSON in our error format when malformed.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::MissingJsonContentType(_)) => {
                Err(ApiError::BadRequest("send JSON with Content-Type: application/json".into()))
            }
            Err(JsonRejection::BytesRejection(_)) => Err(ApiError::TooLarge),
            Err(e) => Err(ApiError::BadRequest(format!("invalid JSON body: {}", e.body_text()))),
        }
    }
}

/// A form in our error format when malformed.
pub struct ApiForm<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiForm<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(v)) => Ok(ApiForm(v)),
            Err(FormRejection::BytesRejection(_)) => Err(ApiError::TooLarge),
            Err(e) => Err(ApiError::BadRequest(format!("invalid form: {}", e.body_text()))),
        }
    }
}

fn cart_cookie(headers: &HeaderMap) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|part| {
        let (k, v) = part.trim().split_once('=')?;
        (k == CART_COOKIE && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
            .then(|| v.to_string())
    })
}

/// The cookie that hands a new cart to the browser (`Secure` when the shop is served over
/// HTTPS).
fn cart_cookie_for(state: &AppState, edited: &cart::Edited) -> Option<HeaderValue> {
    if !edited.created {
        return None;
    }
    let secure = if state.config.public_url.starts_with("https://") { "; Secure" } else { "" };
    let c = format!(
        "{CART_COOKIE}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
        edited.cart_id,
        cart::CART_LIFETIME_SECONDS
    );
    HeaderValue::from_str(&c).ok()
}

fn with_cookie(mut res: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(c) = cookie {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

/// Health of the service and its database.
async fn get_health(State(state): State<AppState>) -> ApiResult<Json<serde_json::Value>> {
    let one: i64 = sqlx::query_scalar("select 1").fetch_one(&state.db.pool).await?;
    let engine = match state.db.engine {
        crate::db::Engine::Sqlite => "sqlite",
        crate::db::Engine::Postgres => "postgres",
    };
    Ok(Json(
        json!({ "status": if one == 1 { "ok" } else { "degraded" }, "database": engine, "payments": state.payments.name() }),
    ))
}

/// The OpenAPI description of every JSON endpoint.
async fn get_openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], crate::OPENAPI)
}

/// The shopper's cart.
async fn get_cart(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<cart::Cart>> {
    Ok(Json(cart::load(&state.db, cart_cookie(&headers).as_deref()).await?))
}

#[derive(Deserialize)]
struct AddItem {
    sku: String,
    #[serde(default = "one")]
    quantity: i64,
}

fn one() -> i64 {
    1
}

#[derive(Deserialize)]
struct SetQuantity {
    quantity: i64,
}

/// Adds bottles of a size to the cart.
async fn post_cart_item(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AddItem>,
) -> ApiResult<Response> {
    let target = Target::OrNew(cart_cookie(&headers));
    let edited = state.carts.edit(target, body.sku.trim(), Edit::Add(body.quantity)).await?;
    let cookie = cart_cookie_for(&state, &edited);
    Ok(with_cookie(Json(edited.cart).into_response(), cookie))
}

/// Sets the quantity of a line (0 removes it).
async fn patch_cart_item(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(sku): Path<String>,
    ApiJson(body): ApiJson<SetQuantity>,
) -> ApiResult<Response> {
    let id = cart_cookie(&headers).ok_or_else(|| ApiError::NotFound("you have no cart yet".into()))?;
    let edited = state.carts.edit(Target::Existing(id), &sku, Edit::Set(body.quantity)).await?;
    Ok(Json(edited.cart).into_response())
}

/// Removes a line.
async fn delete_cart_item(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(sku): Path<String>,
) -> ApiResult<Response> {
    let id = cart_cookie(&headers).ok_or_else(|| ApiError::NotFound("you have no cart yet".into()))?;
    let edited = state.carts.edit(Target::Existing(id), &sku, Edit::Set(0)).await?;
    Ok(Json(edited.cart).into_response())
}

/// Stock levels, cacheable for a few seconds (pages refresh their badges from it).
async fn get_stock(State(state): State<AppState>, Query(query): Query<Vec<(String, String)>>) -> ApiResult<Response> {
    let skus: Vec<String> = query.into_iter().filter(|(k, _)| k == "sku").map(|(_, v)| v).collect();
    if skus.len() > 200 {
        return Err(ApiError::BadRequest("ask for at most 200 SKUs at once".into()));
    }
    let levels = state.levels.levels(&state.db).await?;
    // The members are rendered once per refresh; a request only joins the ones it asks for.
    let mut body = String::from("{\"items\":{");
    let mut first = true;
    for (_, _, member) in levels.iter().filter(|(sku, _, _)| skus.is_empty() || skus.contains(sku)) {
        if !first {
            body.push(',');
        }
        body.push_str(member);
        first = false;
    }
    body.push_str("}}");
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=10")),
        ],
        body,
    )
        .into_response())
}

/// Shipping methods and countries.
async fn get_shipping(State(state): State<AppState>) -> Json<serde_json::Value> {
    let methods: Vec<serde_json::Value> = state
        .config
        .shipping
        .methods()
        .iter()
        .map(|m| json!({ "id": m.id, "label": m.label, "price": cart::Amount::eur(m.price_minor), "free_above": m.free_above_minor.map(cart::Amount::eur) }))
        .collect();
    let countries: Vec<serde_json::Value> =
        pricing::COUNTRIES.iter().map(|(c, n, v)| json!({ "code": c, "name": n, "vat_percent": v })).collect();
    Json(json!({ "methods": methods, "countries": countries }))
}

fn limit(state: &AppState, headers: &HeaderMap, socket: Option<SocketAddr>) -> ApiResult<()> {
    if state.limiter.allow(crate::security::client_ip(headers, socket.map(|s| s.ip()))) {
        Ok(())
    } else {
        Err(ApiError::RateLimited)
    }
}

/// Starts a checkout: order, stock reserved, payment session.
async fn post_checkout(
    State(state): State<AppState>,
    ClientAddr(connect): ClientAddr,
    headers: HeaderMap,
    ApiJson(input): ApiJson<CheckoutInput>,
) -> ApiResult<Response> {
    limit(&state, &headers, connect)?;
    let id = cart_cookie(&headers).ok_or_else(|| ApiError::Conflict("your cart is empty".into()))?;
    let valid = checkout::validate(&input, &state.config.shipping.methods()).map_err(|mut errors| errors.remove(0))?;
    let started = checkout::start(&state, &id, &valid).await?;
    Ok((StatusCode::CREATED, Json(started)).into_response())
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

async fn order_for(state: &AppState, order_id: &str, token: &str) -> ApiResult<orders::OrderView> {
    let not_found = || ApiError::NotFound("no order at this address; check the link in your e-mail".into());
    if !orders::token_matches(&state.config.link_key, order_id, token) {
        return Err(not_found());
    }
    orders::load(&state.db, order_id).await?.ok_or_else(not_found)
}

/// An order, for the holder of its signed link.
async fn get_order(
    State(state): State<AppState>,
    Path(order_id): Path<String>,
    Query(q): Query<TokenQuery>,
) -> ApiResult<Json<orders::OrderView>> {
    Ok(Json(order_for(&state, &order_id, &q.token).await?))
}

/// Stripe's (and the sandbox's) events.
async fn post_stripe_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    let signature = headers.get("stripe-signature").and_then(|v| v.to_str().ok());
    let applied = crate::webhooks::handle(&state, signature, &body).await?;
    Ok(Json(json!({ "received": true, "result": applied })))
}

#[derive(Deserialize)]
struct NewsletterInput {
    #[serde(default)]
    email: String,
}

async fn subscribe(state: &AppState, email: &str) -> ApiResult<()> {
    let email = email.trim().to_lowercase();
    if !(email.contains('@')
        && email.len() <= 254
        && email.rsplit_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.')))
    {
        return Err(ApiError::invalid("email", "enter an e-mail address such as name@example.com"));
    }
    let mut tx = state.db.begin_write().await?;
    sqlx::query("insert into newsletter_subscriber (email, created_at) values ($1, $2) on conflict (email) do nothing")
        .bind(&email)
        .bind(crate::ids::now())
        .execute(&mut **tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Newsletter sign-up (JSON).
async fn post_newsletter(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewsletterInput>,
) -> ApiResult<Json<serde_json::Value>> {
    subscribe(&state, &body.email).await?;
    Ok(Json(json!({ "subscribed": true })))
}

// ——— HTML pages ———

fn page(state: &AppState, title: &str, template: &str, ctx: serde_json::Value) -> Html<String> {
    let mut ctx = ctx;
    ctx["site_title"] = json!(state.config.site_title);
    ctx["checkout_url"] = json!("");
    if ctx.get("errors").is_none() {
        ctx["errors"] = json!([]);
    }
    Html(state.shell.page(title, &crate::views::render(template, &ctx)))
}

fn cart_view(c: &cart::Cart) -> serde_json::Value {
    json!({
        "items": c.items.iter().map(|l| json!({
            "sku": l.sku, "title": l.title, "label": l.label, "path": l.path, "quantity": l.quantity,
            "unit_price": l.unit_price.display, "line_total": l.line_total.display, "available": l.available,
        })).collect::<Vec<_>>(),
        "count": c.count,
        "subtotal": c.subtotal.display,
        "empty": c.items.is_empty(),
    })
}

#[derive(Deserialize, Default)]
struct FlashQuery {
    #[serde(default)]
    added: Option<String>,
    #[serde(default)]
    error: Option<String>,
    /// The service's signature of `error`.
    #[serde(default)]
    sig: Option<String>,
}

/// The cart page.
async fn cart_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<FlashQuery>,
) -> ApiResult<Html<String>> {
    let c = cart::load(&state.db, cart_cookie(&headers).as_deref()).await?;
    let flash = q.added.map(|_| "Added to your cart.".to_string());
    // Only messages the service itself signed are shown: a link from elsewhere cannot put its
    // own words on the atelier's page.
    let signed = |e: &String| {
        q.sig
            .as_deref()
            .is_some_and(|sig| crate::security::signature_matches(&state.config.link_key, "cart-error", e, sig))
    };
    let errors: Vec<String> = q.error.iter().filter(|e| signed(e)).map(|e| e.chars().take(200).collect()).collect();
    Ok(page(&state, "Your cart", "pages/cart.html", json!({ "cart": cart_view(&c), "flash": flash, "errors": errors })))
}

fn back_to_cart(state: &AppState, result: ApiResult<()>, ok: &str) -> Response {
    match result {
        Ok(()) => Redirect::to(ok).into_response(),
        Err(e @ (ApiError::Database(_) | ApiError::Internal(_))) => e.into_response(),
        Err(e) => {
            let message = e.public_message();
            let sig = crate::security::sign(&state.config.link_key, "cart-error", &message);
            Redirect::to(&format!("/cart?error={}&sig={sig}", encode(&message))).into_response()
        }
    }
}

#[derive(Deserialize)]
struct LineForm {
    #[serde(default)]
    sku: String,
    #[serde(default)]
    quantity: Option<String>,
}

fn quantity(form: &LineForm, default: i64) -> ApiResult<i64> {
    match form.quantity.as_deref().map(str::trim) {
        None | Some("") => Ok(default),
        Some(q) => q.parse().map_err(|_| ApiError::invalid("quantity", format!("`{q}` is not a number of bottles"))),
    }
}

/// "Add to cart" from an essence page, without JavaScript.
async fn cart_add_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiForm(form): ApiForm<LineForm>,
) -> ApiResult<Response> {
    let id = cart_cookie(&headers);
    let result = match quantity(&form, 1) {
        Ok(q) => state.carts.edit(Target::OrNew(id), form.sku.trim(), Edit::Add(q)).await,
        Err(e) => Err(e),
    };
    let cookie = result.as_ref().ok().and_then(|e| cart_cookie_for(&state, e));
    Ok(with_cookie(back_to_cart(&state, result.map(|_| ()), "/cart?added=1"), cookie))
}

/// A quantity changed on the cart page.
async fn cart_update_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiForm(form): ApiForm<LineForm>,
) -> ApiResult<Response> {
    let Some(id) = cart_cookie(&headers) else { return Ok(Redirect::to("/cart").into_response()) };
    let result = match quantity(&form, 1) {
        Ok(q) => state.carts.edit(Target::Existing(id), form.sku.trim(), Edit::Set(q)).await.map(|_| ()),
        Err(e) => Err(e),
    };
    Ok(back_to_cart(&state, result, "/cart"))
}

/// A line removed on the cart page.
async fn cart_remove_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiForm(form): ApiForm<LineForm>,
) -> ApiResult<Response> {
    let Some(id) = cart_cookie(&headers) else { return Ok(Redirect::to("/cart").into_response()) };
    Ok(back_to_cart(
        &state,
        state.carts.edit(Target::Existing(id), form.sku.trim(), Edit::Set(0)).await.map(|_| ()),
        "/cart",
    ))
}

fn checkout_view(state: &AppState, c: &cart::Cart, form: &CheckoutInput, errors: Vec<String>) -> Html<String> {
    let methods = state.config.shipping.methods();
    let chosen = methods.iter().find(|m| m.id == form.shipping_method).unwrap_or(&methods[0]);
    let vat = pricing::vat_rate(&form.country.to_uppercase()).unwrap_or(20);
    let t = pricing::totals(c.subtotal.amount, chosen, vat);
    let mut form = form.clone();
    if form.shipping_method.is_empty() {
        form.shipping_method = chosen.id.to_string();
    }
    if form.country.is_empty() {
        form.country = "FR".into();
    }
    page(
        state,
        "Checkout",
        "pages/checkout.html",
        json!({
            "cart": cart_view(c),
            "form": form,
            "errors": errors,
            "countries": pricing::COUNTRIES.iter().map(|(c, n, _)| json!({"code": c, "name": n})).collect::<Vec<_>>(),
            "shipping_methods": methods.iter().map(|m| json!({
                "id": m.id, "label": m.label, "price": display(m.price_minor), "free": m.free_above_minor.is_some_and(|l| c.subtotal.amount >= l),
                "note": m.free_above_minor.map(|l| format!("Free above {}", display(l))).unwrap_or_default(),
            })).collect::<Vec<_>>(),
            "totals": { "subtotal": display(t.subtotal), "shipping": display(t.shipping), "vat": display(t.vat), "total": display(t.total) },
        }),
    )
}

/// The checkout page.
async fn checkout_page(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let c = cart::load(&state.db, cart_cookie(&headers).as_deref()).await?;
    if c.items.is_empty() {
        return Ok(Redirect::to("/cart").into_response());
    }
    Ok(checkout_view(&state, &c, &CheckoutInput::default(), Vec::new()).into_response())
}

/// The checkout form: on success, off to pay; otherwise the form again with every problem.
async fn checkout_form(
    State(state): State<AppState>,
    ClientAddr(connect): ClientAddr,
    headers: HeaderMap,
    ApiForm(input): ApiForm<CheckoutInput>,
) -> ApiResult<Response> {
    limit(&state, &headers, connect)?;
    let Some(id) = cart_cookie(&headers) else { return Ok(Redirect::to("/cart").into_response()) };
    let c = cart::load(&state.db, Some(&id)).await?;
    let again = |errors: Vec<String>| {
        (StatusCode::UNPROCESSABLE_ENTITY, checkout_view(&state, &c, &input, errors)).into_response()
    };
    let valid = match checkout::validate(&input, &state.config.shipping.methods()) {
        Ok(v) => v,
        Err(errors) => return Ok(again(errors.iter().map(shown).collect())),
    };
    match checkout::start(&state, &id, &valid).await {
        Ok(started) => Ok(Redirect::to(&started.payment_url).into_response()),
        Err(e @ (ApiError::Conflict(_) | ApiError::Invalid { .. })) => Ok(again(vec![shown(&e)])),
        Err(e) => Err(e),
    }
}

/// An error as a sentence on a page (a field's message without its name).
fn shown(e: &ApiError) -> String {
    match e {
        ApiError::Invalid { message, .. } => capitalise(message),
        other => capitalise(&other.public_message()),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

/// The sandbox's pay page (there is none when Stripe takes the payments).
async fn pay_page(State(state): State<AppState>, Path(session): Path<String>) -> ApiResult<Response> {
    if !state.payments.is_sandbox() {
        return Err(ApiError::NotFound("payments are taken by Stripe; there is no sandbox pay page".into()));
    }
    let order_id: Option<String> = sqlx::query_scalar("select order_id from customer_order where payment_session = $1")
        .bind(&session)
        .fetch_optional(&state.db.pool)
        .await?;
    let order = match order_id {
        Some(id) => orders::load(&state.db, &id).await?,
        None => None,
    };
    let Some(order) = order else {
        return Ok((StatusCode::NOT_FOUND, page(&state, "Payment", "pages/message.html", json!({
            "heading": "No such payment", "message": "This payment link is not known to us.", "link_href": "/cart", "link_text": "Back to your cart",
        }))).into_response());
    };
    if order.status != "pending_payment" {
        let token = orders::token(&state.config.link_key, &order.order_id);
        return Ok(Redirect::to(&format!("/orders/{}?token={token}", order.order_id)).into_response());
    }
    Ok(page(&state, "Payment", "pages/pay.html", json!({ "order": order, "session_id": session })).into_response())
}

#[derive(Deserialize)]
struct PayForm {
    #[serde(default)]
    action: String,
}

/// Pay or decline on the sandbox page: the event goes through the webhook handler.
async fn pay_form(
    State(state): State<AppState>,
    Path(session): Path<String>,
    ApiForm(form): ApiForm<PayForm>,
) -> ApiResult<Response> {
    // Only the sandbox signs its own events: with Stripe this would be a free "paid" button.
    if !state.payments.is_sandbox() {
        return Err(ApiError::NotFound("payments are taken by Stripe; there is no sandbox pay page".into()));
    }
    let action = match form.action.as_str() {
        "pay" => SandboxAction::Pay,
        "decline" => SandboxAction::Decline,
        other => return Err(ApiError::invalid("action", format!("`{other}` is neither pay nor decline"))),
    };
    let found: Option<(String, String)> =
        sqlx::query_as("select order_id, status from customer_order where payment_session = $1")
            .bind(&session)
            .fetch_optional(&state.db.pool)
            .await?;
    let (order_id, status) = found.ok_or_else(|| ApiError::NotFound(format!("no payment session {session}")))?;
    // A session already settled (paid, expired, declined) takes no second verdict; the order
    // page says where it stands.
    if status == "pending_payment" {
        payments::sandbox::act(&state, &session, action).await?;
    }
    let token = orders::token(&state.config.link_key, &order_id);
    Ok(Redirect::to(&format!("/orders/{order_id}?token={token}")).into_response())
}

/// The order page that follows an order until it is paid.
async fn order_page(
    State(state): State<AppState>,
    Path(order_id): Path<String>,
    Query(q): Query<TokenQuery>,
) -> ApiResult<Response> {
    match order_for(&state, &order_id, &q.token).await {
        Ok(order) => {
            let pending = order.status == "pending_payment";
            let title = format!("Order {}", order.number);
            let mut res =
                page(&state, &title, "pages/order.html", json!({ "order": order, "refresh": pending })).into_response();
            if pending {
                // Follows the order until the payment's webhook lands (no script needed).
                res.headers_mut().insert(header::REFRESH, HeaderValue::from_static("3"));
            }
            res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(res)
        }
        Err(ApiError::NotFound(m)) => Ok((
            StatusCode::NOT_FOUND,
            page(
                &state,
                "Order not found",
                "pages/message.html",
                json!({
                    "heading": "Order not found", "message": m, "link_href": "/", "link_text": "Back to the atelier",
                }),
            ),
        )
            .into_response()),
        Err(e) => Err(e),
    }
}

/// Newsletter sign-up from the home page's form.
async fn newsletter_form(
    State(state): State<AppState>,
    ApiForm(form): ApiForm<NewsletterInput>,
) -> ApiResult<Response> {
    let (status, heading, message) = match subscribe(&state, &form.email).await {
        Ok(()) => (
            StatusCode::OK,
            "Thank you",
            "You will hear from us when the season turns — a few letters a year, never more.",
        ),
        Err(ApiError::Invalid { .. }) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "Please check your address",
            "That does not look like an e-mail address; please try again.",
        ),
        Err(e) => return Err(e),
    };
    Ok((
        status,
        page(
            &state,
            heading,
            "pages/message.html",
            json!({ "heading": heading, "message": message, "link_href": "/", "link_text": "Back to the atelier" }),
        ),
    )
        .into_response())
}

/// Percent-encodes a query value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
