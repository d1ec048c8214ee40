//! Who the client is: the socket's address, unless the connection comes from a proxy the
//! configuration trusts (`TRUSTED_PROXIES`), whose headers then say who it forwards. Headers
//! from anyone else are whatever the client chose to send, and are not believed.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use ipnet::IpNet;

/// The client's socket address, when the server knows it.
pub struct ClientAddr(pub Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0)))
    }
}

/// The proxies whose word on the client's address is taken.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    /// Networks whose connections are our own proxies: they append the address they saw to
    /// `X-Forwarded-For`.
    pub networks: Vec<IpNet>,
    /// Netlify's `X-Nf-Client-Connection-Ip` is believed (from the networks above, or from any
    /// connection when none are given: then the service must accept connections from Netlify
    /// alone).
    pub netlify: bool,
}

/// `TRUSTED_PROXIES` could not be read.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is neither an address, a network such as 10.0.0.0/8, nor `netlify`")]
pub struct ProxiesError(String);

impl FromStr for TrustedProxies {
    type Err = ProxiesError;
    /// A comma-separated list of addresses, networks and `netlify`.
    fn from_str(s: &str) -> Result<TrustedProxies, ProxiesError> {
        let mut trusted = TrustedProxies::default();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            if item.eq_ignore_ascii_case("netlify") {
                trusted.netlify = true;
            } else if let Ok(net) = item.parse::<IpNet>() {
                trusted.networks.push(net);
            } else if let Ok(ip) = item.parse::<IpAddr>() {
                trusted.networks.push(IpNet::from(ip));
            } else {
                return Err(ProxiesError(item.to_string()));
            }
        }
        Ok(trusted)
    }
}

impl TrustedProxies {
    fn trusts(&self, ip: IpAddr) -> bool {
        self.networks.iter().any(|n| n.contains(&ip))
    }

    /// The client's address: the socket's, or, when the socket is a trusted proxy, the one it
    /// forwards — Netlify's header (when trusted), else the last `X-Forwarded-For` entry that
    /// is not itself a trusted proxy (the entries before it are whatever the client sent).
    pub fn client(&self, headers: &HeaderMap, socket: Option<IpAddr>) -> Option<IpAddr> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let from_proxy = socket.is_some_and(|s| self.trusts(s));
        if self.netlify && (from_proxy || self.networks.is_empty()) {
            if let Some(ip) = header("x-nf-client-connection-ip").and_then(|v| v.trim().parse().ok()) {
                return Some(ip);
            }
        }
        if from_proxy {
            let forwarded = headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .collect::<Vec<_>>();
            for entry in forwarded.iter().rev() {
                match entry.parse::<IpAddr>() {
                    Ok(ip) if self.trusts(ip) => continue,
                    Ok(ip) => return Some(ip),
                    // Garbage in the chain: nothing before it can be believed.
                    Err(_) => break,
                }
            }
        }
        socket
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(*k, HeaderValue::from_static(v));
        }
        m
    }

    #[test]
    fn headers_count_only_from_trusted_proxies() {
        let socket: IpAddr = [203, 0, 113, 9].into();
        let forged = h(&[("x-forwarded-for", "1.2.3.4"), ("x-nf-client-connection-ip", "5.6.7.8")]);
        assert_eq!(TrustedProxies::default().client(&forged, Some(socket)), Some(socket), "nobody trusted");

        let proxy: IpAddr = [10, 0, 0, 2].into();
        let trusted: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        let chain = h(&[("x-forwarded-for", "1.2.3.4, 198.51.100.7, 10.0.0.9")]);
        assert_eq!(trusted.client(&chain, Some(proxy)), Some([198, 51, 100, 7].into()), "the last untrusted hop");
        assert_eq!(trusted.client(&chain, Some(socket)), Some(socket), "not from the proxy: not believed");
        let garbage = h(&[("x-forwarded-for", "1.2.3.4, nonsense")]);
        assert_eq!(trusted.client(&garbage, Some(proxy)), Some(proxy));

        let netlify: TrustedProxies = "netlify".parse().unwrap();
        assert_eq!(netlify.client(&forged, Some(socket)), Some([5, 6, 7, 8].into()));
        let netlify_from: TrustedProxies = "netlify, 10.0.0.0/8".parse().unwrap();
        assert_eq!(netlify_from.client(&forged, Some(socket)), Some(socket), "Netlify's header only from its network");
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
        assert!("everyone".parse::<TrustedProxies>().is_err());
    }
}
