//! The cart's cookie: read by an extractor, handed out once when an edit makes the cart.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

use super::CART_LIFETIME_SECONDS;

/// The name of the cart cookie.
pub const CART_COOKIE: &str = "atelier_cart";

/// The shopper's cart id from its cookie, when they have one; a value that cannot be one of
/// ours is no cart.
#[derive(Debug, Clone, utoipa::IntoParams)]
#[into_params(names("atelier_cart"), parameter_in = Cookie)]
pub struct CartCookie(
    /// The shopper's cart, `cart_…` (set by the first bottle added).
    pub Option<String>,
);

impl<S: Send + Sync> FromRequestParts<S> for CartCookie {
    type Rejection = Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(CartCookie(cart_of(&parts.headers)))
    }
}

/// The cookie that hands the cart an edit made to the browser (none when the edit went to the
/// shopper's own cart); `Secure` when the shop is served over HTTPS.
pub fn for_edit(edited: &super::Edited, public_url: &str) -> Option<CookieJar> {
    edited.created.then(|| new_cart(&edited.cart_id, public_url.starts_with("https://")))
}

/// The cart id in a request's cookie, when it has one of the right shape.
pub fn cart_of(headers: &axum::http::HeaderMap) -> Option<String> {
    let jar = CookieJar::from_headers(headers);
    jar.get(CART_COOKIE)
        .map(Cookie::value)
        .filter(|v| v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .map(str::to_string)
}

/// The answer's cookie that removes the cart's from the browser (at sign-out: the account's
/// cart stays with the account).
pub fn cookie_removal(public_url: &str) -> CookieJar {
    let cookie = Cookie::build((CART_COOKIE, ""))
        .path("/")
        .max_age(cookie::time::Duration::seconds(0))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(public_url.starts_with("https://"));
    CookieJar::new().add(cookie)
}

/// The cookie that hands the browser a cart made for it (by ordering again, say).
pub fn for_cart(cart_id: &str, public_url: &str) -> CookieJar {
    new_cart(cart_id, public_url.starts_with("https://"))
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
