//! Whose cart a request is about. A guest's cart is named by its cookie; a signed-in shopper's
//! cart is the account's, found from the session and never named by a cookie (its id is never
//! given to a browser), so a cart id seen on a shared computer, or planted before a sign-in,
//! reaches no account's cart.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

use super::CART_LIFETIME_SECONDS;
use crate::accounts::session;
use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// The name of the cart cookie.
pub const CART_COOKIE: &str = "atelier_cart";

/// The shopper's cart — the account's when signed in, else the one its cookie names — and the
/// account, when signed in.
#[derive(Debug, Clone, utoipa::IntoParams)]
#[into_params(names("atelier_cart", "atelier_session"), parameter_in = Cookie)]
pub struct CartCookie(
    /// A guest's cart, `cart_…` (set by the first bottle added; a signed-in shopper's cart is
    /// found from the session instead).
    pub Option<String>,
    /// The session, when signed in: the cart is the account's.
    pub Option<String>,
);

impl FromRequestParts<AppState> for CartCookie {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(token) = session::token_of(&parts.headers) {
            if let Some(me) = session::lookup(state, &token).await? {
                return Ok(CartCookie(me.cart_id, Some(me.account_id)));
            }
        }
        Ok(CartCookie(cart_of(&parts.headers), None))
    }
}

/// The cart id in a request's cookie, when it has one of the right shape.
pub fn cart_of(headers: &axum::http::HeaderMap) -> Option<String> {
    let jar = CookieJar::from_headers(headers);
    jar.get(CART_COOKIE)
        .map(Cookie::value)
        .filter(|v| v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .map(str::to_string)
}

/// What hands a cart an edit made to its shopper: a guest's, in a cookie; a signed-in
/// shopper's, to the account (no cookie). None when the edit went to an existing cart.
pub async fn hand_over(
    state: &AppState,
    account: Option<&str>,
    cart_id: &str,
    created: bool,
) -> ApiResult<Option<CookieJar>> {
    if !created {
        return Ok(None);
    }
    match account {
        None => Ok(Some(new_cart(cart_id, state.config.public_url.starts_with("https://")))),
        Some(account_id) => {
            super::merge::bind(state, account_id, cart_id).await?;
            Ok(None)
        }
    }
}

/// The answer's cookie that removes the cart's from the browser (its cart merged into an
/// account's at sign-in).
pub fn cookie_removal(public_url: &str) -> CookieJar {
    let cookie = Cookie::build((CART_COOKIE, ""))
        .path("/")
        .max_age(cookie::time::Duration::seconds(0))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(public_url.starts_with("https://"));
    CookieJar::new().add(cookie)
}

/// The cookie of a new cart: it lives as long as the cart.
fn new_cart(cart_id: &str, secure: bool) -> CookieJar {
    let cookie = Cookie::build((CART_COOKIE, cart_id.to_string()))
        .path("/")
        .max_age(cookie::time::Duration::seconds(CART_LIFETIME_SECONDS))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure);
    CookieJar::new().add(cookie)
}
