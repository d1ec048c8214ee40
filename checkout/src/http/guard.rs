//! The guard every request passes: response headers with a CSP without `unsafe-inline`,
//! cross-site state changes refused, and the request log.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::PaymentMode;
use crate::error::ApiError;

/// The policy of the site's pages (`netlify.toml` has a copy, checked by a test), and of the
/// service's own with the sandbox: everything from our own origin, no inline script or style.
pub const CSP: &str =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; \
connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'";

/// The service's policy for a payment mode: [`CSP`], and with Stripe its checkout page's origin
/// in `form-action`, since the checkout form's answer is a redirect there and browsers hold a
/// form's redirects to `form-action` too.
pub fn service_csp(payments: &PaymentMode) -> String {
    match payments {
        PaymentMode::Sandbox => CSP.to_string(),
        PaymentMode::Stripe { checkout_origin, .. } => {
            CSP.replace("form-action 'self'", &format!("form-action 'self' {checkout_origin}"))
        }
    }
}

/// The policy a layer adds to every response.
#[derive(Clone, Debug)]
pub struct Policy(HeaderValue, bool);

impl Policy {
    /// The service's policy for a payment mode; `None` when it cannot be a header (the
    /// configuration's check of Stripe's origin lets no such value through).
    pub fn for_payments(payments: &PaymentMode) -> Option<Policy> {
        HeaderValue::from_str(&service_csp(payments)).ok().map(|v| Policy(v, false))
    }

    /// The same, every request also counted and timed for `/metrics`.
    pub fn with_metrics(self, on: bool) -> Policy {
        Policy(self.0, on)
    }
}

/// Adds the security headers to a response, with the site's policy.
pub fn add_headers(res: &mut Response) {
    add_headers_with(res, HeaderValue::from_static(CSP));
}

fn add_headers_with(res: &mut Response, csp: HeaderValue) {
    let h = res.headers_mut();
    h.insert("content-security-policy", csp);
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("referrer-policy", HeaderValue::from_static("strict-origin-when-cross-origin"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("permissions-policy", HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"));
}

/// The security headers as a layer of their own, for routes outside [`crate::app`] (the
/// site's files under `atelier serve`).
pub async fn headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    add_headers(&mut res);
    res
}

/// Whether a state-changing request comes from our own pages: browsers say where a request
/// comes from (`Sec-Fetch-Site`, `Origin`); a cross-site one is refused. Webhooks are exempt
/// (they are signed instead).
pub fn same_origin(method: &Method, path: &str, headers: &HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) || path == "/api/webhooks/stripe" {
        return true;
    }
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    match (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) {
        (Some(origin), Some(host)) => origin.split_once("://").map(|(_, rest)| rest) == Some(host),
        (Some(_), None) => false,
        // No Origin: not a browser form post from another site (curl, server-to-server).
        (None, _) => true,
    }
}

/// Every request's guard, in one layer (each layer costs a service clone per request): refuses
/// cross-site state changes, adds the security headers with the service's policy, logs the
/// request with its method, path, status and time (POSTs and failures at info, the rest at
/// debug), as structured fields, and, when metrics are on, counts and times it by its route.
pub async fn guard(State(policy): State<Policy>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    // The matched route (an `Arc<str>`: no allocation), read before the request is handed on.
    let route = if policy.1 { req.extensions().get::<axum::extract::MatchedPath>().cloned() } else { None };
    // A clone of the URI shares its bytes: no allocation per request just in case it is logged.
    let uri = req.uri().clone();
    let mut res = if same_origin(&method, uri.path(), req.headers()) {
        next.run(req).await
    } else {
        ApiError::CrossSite.into_response()
    };
    add_headers_with(&mut res, policy.0);
    // The service's answers are made for one shopper (carts, orders, payment pages): no cache
    // keeps them unless a route says it may (the stock levels).
    if !res.headers().contains_key(header::CACHE_CONTROL) {
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    let status = res.status().as_u16();
    let took = started.elapsed();
    if policy.1 {
        super::metrics::request(route.as_ref().map(|r| r.as_str()), &method, status, took);
    }
    let micros = took.as_micros() as u64;
    if method != Method::GET || status >= 400 {
        tracing::info!(%method, path = uri.path(), status, micros, "request");
    } else {
        tracing::debug!(%method, path = uri.path(), status, micros, "request");
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(*k, HeaderValue::from_static(v));
        }
        m
    }

    #[test]
    fn the_policy_lets_the_checkout_form_reach_stripe_only_when_stripe_is_configured() {
        assert_eq!(service_csp(&PaymentMode::Sandbox), CSP);
        let stripe = PaymentMode::Stripe {
            secret_key: crate::config::Secret::new("sk"),
            api_base: "https://api.stripe.com".into(),
            checkout_origin: "https://checkout.stripe.com".into(),
        };
        let csp = service_csp(&stripe);
        assert!(csp.contains("form-action 'self' https://checkout.stripe.com;"), "{csp}");
        assert_eq!(csp.replace(" https://checkout.stripe.com", ""), CSP, "nothing else changes");
    }

    #[test]
    fn cross_site_posts_are_refused() {
        let post = Method::POST;
        assert!(same_origin(&post, "/cart/add", &h(&[("sec-fetch-site", "same-origin")])));
        assert!(!same_origin(&post, "/cart/add", &h(&[("sec-fetch-site", "cross-site")])));
        assert!(same_origin(&post, "/cart/add", &h(&[("origin", "http://shop.example"), ("host", "shop.example")])));
        assert!(!same_origin(&post, "/cart/add", &h(&[("origin", "http://evil.example"), ("host", "shop.example")])));
        assert!(same_origin(&post, "/api/webhooks/stripe", &h(&[("sec-fetch-site", "cross-site")])));
        assert!(same_origin(&Method::GET, "/cart", &h(&[("sec-fetch-site", "cross-site")])));
    }
}
