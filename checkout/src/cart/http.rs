//! Cart routes: the JSON API the cart drawer uses, and the cart page with its plain forms.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{cookie, Cart, CartCookie, Edit, EditError, Edited, Notice, Target};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::extract::whole_number;
use crate::http::page::page;
use crate::http::{ApiForm, ApiJson};
use crate::AppState;

/// The cart routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_cart))
        .routes(routes!(post_cart_item))
        .routes(routes!(patch_cart_item, delete_cart_item))
        .routes(routes!(cart_page))
        .routes(routes!(cart_add_form))
        .routes(routes!(cart_update_form))
        .routes(routes!(cart_remove_form))
}

/// The edited cart, handed to its shopper when the edit made it (a guest's in a cookie).
async fn edited(state: &AppState, account: Option<&str>, edited: Edited) -> ApiResult<Response> {
    let jar = cookie::hand_over(state, account, &edited.cart_id, edited.created).await?;
    Ok((jar, Json(edited.cart)).into_response())
}

/// The shopper's cart.
#[utoipa::path(get, path = "/api/cart", tag = "cart", params(CartCookie),
    responses((status = 200, description = "The cart (empty without a cookie).", body = Cart)))]
async fn get_cart(State(state): State<AppState>, CartCookie(cart, _): CartCookie) -> ApiResult<Json<Cart>> {
    Ok(Json(super::load(&state, cart.as_deref()).await?))
}

/// Bottles of a size to add.
#[derive(Deserialize, utoipa::ToSchema)]
struct AddItem {
    /// The size's SKU.
    #[schema(min_length = 2, max_length = 40, pattern = "^[A-Z0-9]+(-[A-Z0-9]+)*$", example = "LAV-PROV-30")]
    sku: String,
    /// How many to add (1 when left out).
    #[serde(default = "one", deserialize_with = "whole_number")]
    #[schema(minimum = 1, maximum = 12, default = 1)]
    quantity: i64,
}

fn one() -> i64 {
    1
}

/// A line's new quantity.
#[derive(Deserialize, utoipa::ToSchema)]
struct SetQuantity {
    /// How many (0 removes the line).
    #[serde(deserialize_with = "whole_number")]
    #[schema(minimum = 0, maximum = 12)]
    quantity: i64,
}

/// Adds bottles of a size to the cart (making the cart, and setting its cookie, on the first).
#[utoipa::path(post, path = "/api/cart/items", tag = "cart", params(CartCookie),
    request_body = AddItem,
    responses(
        (status = 200, description = "The cart with the bottles added.", body = Cart),
        (status = 400, description = "A malformed body, SKU or quantity.", body = ErrorBody),
        (status = 404, description = "No essence size has that SKU.", body = ErrorBody),
        (status = 409, description = "Not that many left, or the cart would hold more than 12 of it.", body = ErrorBody),
    ))]
async fn post_cart_item(
    State(state): State<AppState>,
    CartCookie(cart, account): CartCookie,
    ApiJson(body): ApiJson<AddItem>,
) -> ApiResult<Response> {
    let done = state.carts.edit(Target::OrNew(cart), body.sku.trim(), Edit::Add(body.quantity)).await?;
    edited(&state, account.as_deref(), done).await
}

/// A size's SKU in a path.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // describes the path for the document; the handlers take it as a `String`
pub(crate) struct SkuPath {
    /// The size's SKU.
    #[param(min_length = 2, max_length = 40, pattern = "^[A-Z0-9]+(-[A-Z0-9]+)*$", example = "LAV-PROV-30")]
    sku: String,
}

fn no_cart() -> ApiError {
    ApiError::NotFound("you have no cart yet".into())
}

/// Sets the quantity of a line (0 removes it).
#[utoipa::path(patch, path = "/api/cart/items/{sku}", tag = "cart",
    params(SkuPath, CartCookie),
    request_body = SetQuantity,
    responses(
        (status = 200, description = "The cart.", body = Cart),
        (status = 400, description = "A malformed body, SKU or quantity.", body = ErrorBody),
        (status = 404, description = "No cart, no longer open, or no such SKU.", body = ErrorBody),
        (status = 409, description = "Not that many left.", body = ErrorBody),
    ))]
async fn patch_cart_item(
    State(state): State<AppState>,
    CartCookie(cart, _): CartCookie,
    Path(sku): Path<String>,
    ApiJson(body): ApiJson<SetQuantity>,
) -> ApiResult<Json<Cart>> {
    let id = cart.ok_or_else(no_cart)?;
    Ok(Json(state.carts.edit(Target::Existing(id), &sku, Edit::Set(body.quantity)).await?.cart))
}

/// Removes a line.
#[utoipa::path(delete, path = "/api/cart/items/{sku}", tag = "cart",
    params(SkuPath, CartCookie),
    responses(
        (status = 200, description = "The cart.", body = Cart),
        (status = 400, description = "A malformed SKU.", body = ErrorBody),
        (status = 404, description = "No cart, no longer open, or no such SKU.", body = ErrorBody),
    ))]
async fn delete_cart_item(
    State(state): State<AppState>,
    CartCookie(cart, _): CartCookie,
    Path(sku): Path<String>,
) -> ApiResult<Json<Cart>> {
    let id = cart.ok_or_else(no_cart)?;
    Ok(Json(state.carts.edit(Target::Existing(id), &sku, Edit::Set(0)).await?.cart))
}

/// What the cart page shows after a form.
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct FlashQuery {
    /// Set after a bottle was added.
    #[serde(default)]
    added: Option<String>,
    /// The code of a notice the service put there.
    #[serde(default)]
    error: Option<String>,
    /// The SKU the notice is about.
    #[serde(default)]
    sku: Option<String>,
    /// The service's signature of the notice.
    #[serde(default)]
    sig: Option<String>,
}

/// The cart page.
#[utoipa::path(get, path = "/cart", tag = "pages", params(CartCookie, FlashQuery),
    responses((status = 200, description = "The cart page.", content_type = "text/html")))]
async fn cart_page(
    State(state): State<AppState>,
    CartCookie(cart, _): CartCookie,
    Query(q): Query<FlashQuery>,
) -> ApiResult<Response> {
    let c = super::load(&state, cart.as_deref()).await?;
    let flash = q.added.map(|_| "Added to your cart.".to_string());
    // Only notices the service itself signed are shown, in its own words: a link from
    // elsewhere cannot put anything on the atelier's page.
    let sku = q.sku.as_deref().unwrap_or("");
    let notice = match (q.error.as_deref(), q.sig.as_deref()) {
        (Some(code), Some(sig)) => Notice::verified(code, sku, sig, &state.keys.link),
        _ => None,
    };
    let mut errors = Vec::new();
    if let Some(notice) = notice {
        errors.push(notice.sentence(&state.db, sku).await?);
    }
    let ctx = json!({ "cart": super::view(&c), "flash": flash, "errors": errors });
    Ok(page(&state, "Your cart", "pages/cart.html", ctx).into_response())
}

/// Why a form's edit was refused.
enum Refused {
    /// The cart refused it.
    Edit(EditError),
    /// The quantity was not a number.
    NotANumber,
}

impl From<EditError> for Refused {
    fn from(e: EditError) -> Refused {
        Refused::Edit(e)
    }
}

fn back_to_cart(state: &AppState, result: Result<(), Refused>, ok: &str) -> Response {
    let (notice, sku) = match &result {
        Ok(()) => return Redirect::to(ok).into_response(),
        Err(Refused::NotANumber) => (Notice::NotANumber, None),
        Err(Refused::Edit(e)) => Notice::of(e),
    };
    Redirect::to(&format!("/cart?{}", notice.query(sku, &state.keys.link))).into_response()
}

/// A cart form's fields.
#[derive(Deserialize, utoipa::ToSchema)]
struct LineForm {
    /// The size's SKU.
    #[serde(default)]
    sku: String,
    /// How many (adding: 1 when left out).
    #[serde(default)]
    quantity: Option<String>,
}

fn quantity(form: &LineForm, default: i64) -> Result<i64, Refused> {
    match form.quantity.as_deref().map(str::trim) {
        None | Some("") => Ok(default),
        Some(q) => q.parse().map_err(|_| Refused::NotANumber),
    }
}

/// "Add to cart" from an essence page, without JavaScript.
#[utoipa::path(post, path = "/cart/add", tag = "pages", params(CartCookie),
    request_body(content = LineForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Back to the cart page, which says what happened.")))]
async fn cart_add_form(
    State(state): State<AppState>,
    CartCookie(cart, account): CartCookie,
    ApiForm(form): ApiForm<LineForm>,
) -> ApiResult<Response> {
    let result = match quantity(&form, 1) {
        Ok(q) => state.carts.edit(Target::OrNew(cart), form.sku.trim(), Edit::Add(q)).await.map_err(Refused::from),
        Err(e) => Err(e),
    };
    let jar = match &result {
        Ok(e) => cookie::hand_over(&state, account.as_deref(), &e.cart_id, e.created).await?,
        Err(_) => None,
    };
    Ok((jar, back_to_cart(&state, result.map(|_| ()), "/cart?added=1")).into_response())
}

/// A quantity changed on the cart page.
#[utoipa::path(post, path = "/cart/update", tag = "pages", params(CartCookie),
    request_body(content = LineForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Back to the cart page, which says what happened.")))]
async fn cart_update_form(
    State(state): State<AppState>,
    CartCookie(cart, _): CartCookie,
    ApiForm(form): ApiForm<LineForm>,
) -> ApiResult<Response> {
    let Some(id) = cart else { return Ok(Redirect::to("/cart").into_response()) };
    let result = match quantity(&form, 1) {
        Ok(q) => state
            .carts
            .edit(Target::Existing(id), form.sku.trim(), Edit::Set(q))
            .await
            .map(|_| ())
            .map_err(Refused::from),
        Err(e) => Err(e),
    };
    Ok(back_to_cart(&state, result, "/cart"))
}

/// A line removed on the cart page.
#[utoipa::path(post, path = "/cart/remove", tag = "pages", params(CartCookie),
    request_body(content = LineForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Back to the cart page, which says what happened.")))]
async fn cart_remove_form(
    State(state): State<AppState>,
    CartCookie(cart, _): CartCookie,
    ApiForm(form): ApiForm<LineForm>,
) -> ApiResult<Response> {
    let Some(id) = cart else { return Ok(Redirect::to("/cart").into_response()) };
    let result =
        state.carts.edit(Target::Existing(id), form.sku.trim(), Edit::Set(0)).await.map(|_| ()).map_err(Refused::from);
    Ok(back_to_cart(&state, result, "/cart"))
}
