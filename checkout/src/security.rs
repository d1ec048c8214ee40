//! Security at the edge: response headers with a CSP without `unsafe-inline`, cross-site form
//! posts refused, and a per-client limit on starting checkouts.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The policy every response carries.
pub const CSP: &str =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; \
connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'";

/// Adds the security headers to a response.
pub fn add_headers(res: &mut Response) {
    let h = res.headers_mut();
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
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
/// cross-site state changes, adds the security headers, and logs the request with its method,
/// path, status and time (POSTs and failures at info, the rest at debug), as structured fields.
pub async fn guard(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    // A clone of the URI shares its bytes: no allocation per request just in case it is logged.
    let uri = req.uri().clone();
    let mut res = if same_origin(&method, uri.path(), req.headers()) {
        next.run(req).await
    } else {
        ApiError::CrossSite.into_response()
    };
    add_headers(&mut res);
    let status = res.status().as_u16();
    let micros = started.elapsed().as_micros() as u64;
    if method != Method::GET || status >= 400 {
        tracing::info!(%method, path = uri.path(), status, micros, "request");
    } else {
        tracing::debug!(%method, path = uri.path(), status, micros, "request");
    }
    res
}

/// A short signature of `data` for one purpose (order links, messages carried in redirects),
/// so only the service can make one.
pub fn sign(key: &crate::config::Secret, purpose: &str, data: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.expose().as_bytes()).expect("HMAC takes any key length");
    mac.update(purpose.as_bytes());
    mac.update(b":");
    mac.update(data.as_bytes());
    crate::ids::hex(&mac.finalize().into_bytes()[..16])
}

/// Whether `given` is the signature of `data` for `purpose` (compared in constant time).
pub fn signature_matches(key: &crate::config::Secret, purpose: &str, data: &str, given: &str) -> bool {
    same_bytes(sign(key, purpose, data).as_bytes(), given.as_bytes())
}

/// Whether two byte strings are equal, in a time that does not depend on where they differ
/// (so a signature cannot be guessed byte by byte from response times).
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A fixed-window limit per client address.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl RateLimiter {
    /// At most `per_minute` per client per minute.
    pub fn new(per_minute: u32) -> RateLimiter {
        RateLimiter { per_minute, windows: Mutex::new(HashMap::new()) }
    }

    /// Counts one request; false when over the limit.
    pub fn allow(&self, client: IpAddr) -> bool {
        let Ok(mut w) = self.windows.lock() else { return true };
        let now = Instant::now();
        if w.len() > 10_000 {
            w.retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(60));
        }
        let entry = w.entry(client).or_insert((now, 0));
        if now.duration_since(entry.0) >= Duration::from_secs(60) {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= self.per_minute
    }
}

/// The client's address: Netlify's `X-Nf-Client-Connection-Ip`, else the last
/// `X-Forwarded-For` entry (the one our own proxy appended: the entries before it are whatever
/// the client chose to send), else the socket's.
pub fn client_ip(headers: &HeaderMap, socket: Option<IpAddr>) -> IpAddr {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    header("x-nf-client-connection-ip")
        .and_then(|v| v.trim().parse().ok())
        .or_else(|| header("x-forwarded-for").and_then(|v| v.rsplit(',').next()).and_then(|v| v.trim().parse().ok()))
        .or(socket)
        .unwrap_or(IpAddr::from([0, 0, 0, 0]))
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
    fn cross_site_posts_are_refused() {
        let post = Method::POST;
        assert!(same_origin(&post, "/cart/add", &h(&[("sec-fetch-site", "same-origin")])));
        assert!(!same_origin(&post, "/cart/add", &h(&[("sec-fetch-site", "cross-site")])));
        assert!(same_origin(&post, "/cart/add", &h(&[("origin", "http://shop.example"), ("host", "shop.example")])));
        assert!(!same_origin(&post, "/cart/add", &h(&[("origin", "http://evil.example"), ("host", "shop.example")])));
        assert!(same_origin(&post, "/api/webhooks/stripe", &h(&[("sec-fetch-site", "cross-site")])));
        assert!(same_origin(&Method::GET, "/cart", &h(&[("sec-fetch-site", "cross-site")])));
    }

    #[test]
    fn a_forged_forwarded_for_does_not_change_the_client() {
        let socket: IpAddr = [203, 0, 113, 9].into();
        let proxied = h(&[("x-forwarded-for", "1.2.3.4, 198.51.100.7")]);
        assert_eq!(client_ip(&proxied, Some(socket)), IpAddr::from([198, 51, 100, 7]));
        let netlify = h(&[("x-forwarded-for", "1.2.3.4"), ("x-nf-client-connection-ip", "198.51.100.8")]);
        assert_eq!(client_ip(&netlify, Some(socket)), IpAddr::from([198, 51, 100, 8]));
        assert_eq!(client_ip(&h(&[]), Some(socket)), socket);
    }

    #[test]
    fn limits_per_client() {
        let l = RateLimiter::new(2);
        let ip: IpAddr = [10, 0, 0, 1].into();
        assert!(l.allow(ip) && l.allow(ip));
        assert!(!l.allow(ip));
        assert!(l.allow([10, 0, 0, 2].into()));
    }
}
