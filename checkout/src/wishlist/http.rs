//! Wishlist routes: the JSON API the essence pages' script uses, and the wishlist page with its
//! plain forms (the essence page's "Keep in wishlist" button posts its chosen size here).

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use axum_extra::extract::cookie::CookieJar;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{back_in_stock, Owner, Wishlist};
use crate::accounts::attempts::{self, for_address, for_client, MAIL_ADDRESS, MAIL_CLIENT};
use crate::accounts::session;
use crate::cart::http::SkuPath;
use crate::email::EmailAddress;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::client::ClientAddr;
use crate::http::page::{capitalise, message, page};
use crate::http::{ApiForm, ApiJson};
use crate::AppState;

/// The wishlist routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_wishlist))
        .routes(routes!(post_wish))
        .routes(routes!(delete_wish))
        .routes(routes!(post_alert))
        .routes(routes!(wishlist_page, wishlist_form))
        .routes(routes!(alert_form))
}

/// Whose wishlist a request is about: the signed-in account's, else the guest cookie's.
#[derive(Debug, Clone, utoipa::IntoParams)]
#[into_params(names("atelier_wishlist", "atelier_session"), parameter_in = Cookie)]
#[allow(dead_code)] // describes the cookies for the document; the handlers take a `Who`
struct WishlistOf(
    /// A guest's wishlist: SKUs joined by dots (set by the first size kept).
    Option<String>,
    /// The session, when signed in: the wishlist is the account's.
    Option<String>,
);

/// The owner and, signed in, the account's address.
struct Who {
    owner: Owner,
    email: Option<String>,
}

impl FromRequestParts<AppState> for Who {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(token) = session::token_of(&parts.headers) {
            if let Some(me) = session::lookup(state, &token).await? {
                return Ok(Who { owner: Owner::Account(me.account_id), email: Some(me.email) });
            }
        }
        Ok(Who { owner: Owner::Guest(super::guest_of(&parts.headers)), email: None })
    }
}

/// The wishlist after a change, with a guest's cookie holding it.
async fn answer(state: &AppState, owner: Owner) -> ApiResult<Response> {
    let list = super::view(state, &owner).await?;
    Ok((cookie_of(state, &owner), Json(list)).into_response())
}

fn cookie_of(state: &AppState, owner: &Owner) -> Option<CookieJar> {
    match owner {
        Owner::Guest(skus) => Some(CookieJar::new().add(super::guest_cookie(skus, &state.config.public_url))),
        Owner::Account(_) => None,
    }
}

/// The shopper's wishlist.
#[utoipa::path(get, path = "/api/wishlist", tag = "wishlist", params(WishlistOf),
    responses((status = 200, description = "The wishlist (empty without a cookie or a session).", body = Wishlist)))]
async fn get_wishlist(State(state): State<AppState>, who: Who) -> ApiResult<Json<Wishlist>> {
    Ok(Json(super::view(&state, &who.owner).await?))
}

/// A size to keep.
#[derive(Deserialize, utoipa::ToSchema)]
struct Keep {
    /// The size's SKU.
    #[schema(min_length = 2, max_length = 40, pattern = "^[A-Z0-9]+(-[A-Z0-9]+)*$", example = "LAV-PROV-30")]
    sku: String,
}

/// Keeps a size in the wishlist (a guest's in its cookie, a signed-in shopper's in the account).
#[utoipa::path(post, path = "/api/wishlist/items", tag = "wishlist", params(WishlistOf),
    request_body = Keep,
    responses(
        (status = 200, description = "The wishlist with the size in it.", body = Wishlist),
        (status = 404, description = "No essence size on sale has that SKU.", body = ErrorBody),
        (status = 409, description = "The wishlist holds 50 sizes already.", body = ErrorBody),
    ))]
async fn post_wish(State(state): State<AppState>, who: Who, ApiJson(body): ApiJson<Keep>) -> ApiResult<Response> {
    let owner = super::add(&state, who.owner, body.sku.trim()).await?;
    answer(&state, owner).await
}

/// Takes a size out of the wishlist (not in it: nothing changes).
#[utoipa::path(delete, path = "/api/wishlist/items/{sku}", tag = "wishlist", params(SkuPath, WishlistOf),
    responses(
        (status = 200, description = "The wishlist without the size.", body = Wishlist),
        (status = 400, description = "Not a SKU.", body = ErrorBody),
    ))]
async fn delete_wish(State(state): State<AppState>, who: Who, Path(sku): Path<String>) -> ApiResult<Response> {
    let owner = super::remove(&state, who.owner, &sku).await?;
    answer(&state, owner).await
}

/// A request to hear when a sold-out size is back.
#[derive(Deserialize, utoipa::ToSchema)]
struct AlertInput {
    /// The size's SKU.
    #[schema(min_length = 2, max_length = 40, pattern = "^[A-Z0-9]+(-[A-Z0-9]+)*$", example = "LAV-PROV-30")]
    sku: String,
    /// Where to write (signed in: left out, the account's address).
    #[serde(default)]
    #[schema(example = "ada@example.com")]
    email: Option<String>,
}

/// What a request to hear became.
#[derive(Serialize, utoipa::ToSchema)]
struct Watching {
    /// What happens next.
    message: String,
}

/// Asks for one e-mail when a sold-out size is back. Limited like the account's mail: five an
/// hour for an address, twenty for a client.
async fn ask_alert(
    state: &AppState,
    who: &Who,
    headers: &HeaderMap,
    connect: &ClientAddr,
    input: &AlertInput,
) -> ApiResult<String> {
    let given = input.email.as_deref().map(str::trim).filter(|e| !e.is_empty());
    let email = match (&who.email, given) {
        (Some(mine), None) => mine.clone(),
        (_, Some(email)) => email.to_string(),
        (None, None) => return Err(ApiError::invalid("email", "tell us where to write when it is back")),
    };
    let email = EmailAddress::parse(&email).map_err(|e| ApiError::invalid("email", e.to_string()))?;
    let client = state.config.trusted_proxies.client(headers, connect.0.map(|s| s.ip()));
    let by_address = for_address(MAIL_ADDRESS, email.as_str());
    let by_client = for_client(MAIL_CLIENT, client);
    attempts::enter(&state.db, &[(MAIL_ADDRESS, &by_address), (MAIL_CLIENT, &by_client)]).await?.keep();
    let account = match &who.owner {
        Owner::Account(id) if who.email.as_deref() == Some(email.as_str()) => Some(id.as_str()),
        _ => None,
    };
    back_in_stock::watch(state, input.sku.trim(), &email, account).await?;
    Ok(format!("we will write to {} once, when it is back", email.as_str()))
}

/// Asks for one e-mail when a sold-out size is back.
#[utoipa::path(post, path = "/api/wishlist/alerts", tag = "wishlist", params(WishlistOf),
    request_body = AlertInput,
    responses(
        (status = 202, description = "Noted: one e-mail when the size is back.", body = Watching),
        (status = 400, description = "No address (a guest must give one), or not an address.", body = ErrorBody),
        (status = 404, description = "No essence size on sale has that SKU.", body = ErrorBody),
        (status = 409, description = "The size is in stock now.", body = ErrorBody),
        (status = 429, description = "Too many requests for this address or from this client; wait `Retry-After` seconds.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    ))]
async fn post_alert(
    State(state): State<AppState>,
    who: Who,
    connect: ClientAddr,
    headers: HeaderMap,
    ApiJson(input): ApiJson<AlertInput>,
) -> ApiResult<Response> {
    let message = ask_alert(&state, &who, &headers, &connect, &input).await?;
    Ok((StatusCode::ACCEPTED, Json(Watching { message })).into_response())
}

/// The wishlist page: each size with today's price and stock, to buy, to be told of, or to
/// let go.
#[utoipa::path(get, path = "/wishlist", tag = "pages", params(WishlistOf),
    responses((status = 200, description = "The wishlist.", content_type = "text/html")))]
async fn wishlist_page(State(state): State<AppState>, who: Who) -> ApiResult<Response> {
    let list = super::view(&state, &who.owner).await?;
    let ctx = json!({
        "wishlist": list,
        "signed_in": matches!(who.owner, Owner::Account(_)),
        "email": who.email,
        "field_errors": {},
    });
    Ok(page(&state, "Your wishlist", "pages/wishlist.html", ctx).into_response())
}

/// The wishlist form: keep or let go of a size.
#[derive(Deserialize, utoipa::ToSchema)]
struct WishForm {
    /// The size's SKU (the essence page's chosen size).
    #[serde(default)]
    #[schema(required = true, example = "LAV-PROV-30")]
    sku: String,
    /// `keep` (the default) or `remove`.
    #[serde(default)]
    #[schema(example = "keep")]
    wish: Option<String>,
    /// The page to go back to (a path on this site; the wishlist page when left out).
    #[serde(default)]
    #[schema(example = "/compendium/lavender/")]
    return_to: Option<String>,
}

/// A path on this site to go back to, never another site's address.
fn local_path(path: Option<&str>) -> Option<&str> {
    path.filter(|p| p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') && p.len() <= 200)
}

/// Keeps or lets go of a size from a form; back to the page it came from.
#[utoipa::path(post, path = "/wishlist", tag = "pages", params(WishlistOf),
    request_body(content = WishForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Done: back to the page named, or to the wishlist."),
        (status = 404, description = "No size on sale has that SKU.", content_type = "text/html"),
        (status = 409, description = "The wishlist holds 50 sizes already.", content_type = "text/html"),
    ))]
async fn wishlist_form(
    State(state): State<AppState>,
    who: Who,
    ApiForm(form): ApiForm<WishForm>,
) -> ApiResult<Response> {
    let sku = form.sku.trim();
    let done = match form.wish.as_deref() {
        Some("remove") => super::remove(&state, who.owner, sku).await,
        _ => super::add(&state, who.owner, sku).await,
    };
    match done {
        Ok(owner) => {
            let back = local_path(form.return_to.as_deref()).unwrap_or("/wishlist").to_string();
            Ok((cookie_of(&state, &owner), Redirect::to(&back)).into_response())
        }
        Err(e @ (ApiError::NotFound(_) | ApiError::Conflict(_) | ApiError::Invalid { .. })) => {
            let status = if matches!(e, ApiError::Invalid { .. }) { StatusCode::NOT_FOUND } else { e.status() };
            Ok(message(&state, status, "Not kept", &capitalise(&e.public_message()), ("/wishlist", "Your wishlist")))
        }
        Err(e) => Err(e),
    }
}

/// The form of a request to hear when a size is back.
#[derive(Deserialize, utoipa::ToSchema)]
struct AlertForm {
    /// The size's SKU.
    #[serde(default)]
    #[schema(required = true, example = "LAV-PROV-30")]
    sku: String,
    /// Where to write (signed in: the account's address when left out).
    #[serde(default)]
    email: Option<String>,
}

/// Asks for one e-mail when a sold-out size is back, from a form.
#[utoipa::path(post, path = "/wishlist/alerts", tag = "pages",
    request_body(content = AlertForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Noted.", content_type = "text/html"),
        (status = 404, description = "No size on sale has that SKU.", content_type = "text/html"),
        (status = 409, description = "The size is in stock now.", content_type = "text/html"),
        (status = 422, description = "No address, or not an address.", content_type = "text/html"),
        (status = 429, description = "Too many requests; wait `Retry-After` seconds.", content_type = "text/html",
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    ))]
async fn alert_form(
    State(state): State<AppState>,
    who: Who,
    connect: ClientAddr,
    headers: HeaderMap,
    ApiForm(form): ApiForm<AlertForm>,
) -> ApiResult<Response> {
    let input = AlertInput { sku: form.sku, email: form.email };
    match ask_alert(&state, &who, &headers, &connect, &input).await {
        Ok(text) => {
            Ok(message(&state, StatusCode::OK, "We will tell you", &capitalise(&text), ("/wishlist", "Your wishlist")))
        }
        Err(e) => {
            let status = match &e {
                ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                ApiError::NotFound(_) | ApiError::Conflict(_) | ApiError::RateLimited(_) => e.status(),
                _ => return Err(e),
            };
            let res =
                message(&state, status, "Not noted", &capitalise(&e.public_message()), ("/wishlist", "Your wishlist"));
            Ok(e.with_retry_after(res))
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_paths_on_this_site_are_gone_back_to() {
        for good in ["/compendium/lavender/", "/wishlist"] {
            assert_eq!(super::local_path(Some(good)), Some(good));
        }
        for bad in ["//evil.example/", "https://evil.example/", "/\\evil.example", "evil"] {
            assert_eq!(super::local_path(Some(bad)), None, "{bad}");
        }
    }
}
