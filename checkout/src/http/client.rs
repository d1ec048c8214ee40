//! Who the client is: its address, as far as the service can know it.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;

/// The client's socket address, when the server knows it.
pub struct ClientAddr(pub Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0)))
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
