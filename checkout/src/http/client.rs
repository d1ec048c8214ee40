//! Who the client is: the socket's address, unless the connection comes from a proxy the
//! configuration trusts (`TRUSTED_PROXIES`), whose headers then say who it forwards. Headers
//! from anyone else are whatever the client chose to send, and are not believed.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use ipnet::IpNet;

use crate::config::Secret;

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
    /// Netlify's `X-Nf-Client-Connection-Ip` is believed on requests that carry Netlify's
    /// signature of its proxy (`X-Nf-Sign`, made with this secret: the `signed` option of
    /// `netlify.toml`'s proxy rules). Netlify publishes no addresses to trust instead.
    pub netlify: Option<Secret>,
}

/// `TRUSTED_PROXIES` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ProxiesError {
    /// An item that is none of the three.
    #[error("`{0}` is neither an address, a network such as 10.0.0.0/8, nor `netlify`")]
    Unknown(String),
    /// `netlify` without the secret to check Netlify's signature with.
    #[error("`netlify` needs NETLIFY_PROXY_SECRET, the secret Netlify signs its proxy requests with")]
    NetlifyWithoutSecret,
}

impl TrustedProxies {
    /// Reads a comma-separated list of addresses, networks and `netlify`; `netlify` takes the
    /// secret Netlify signs its proxy requests with.
    pub fn parse(list: &str, netlify_secret: Option<Secret>) -> Result<TrustedProxies, ProxiesError> {
        let mut trusted = TrustedProxies::default();
        for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            if item.eq_ignore_ascii_case("netlify") {
                trusted.netlify = Some(netlify_secret.clone().ok_or(ProxiesError::NetlifyWithoutSecret)?);
            } else if let Ok(net) = item.parse::<IpNet>() {
                trusted.networks.push(net);
            } else if let Ok(ip) = item.parse::<IpAddr>() {
                trusted.networks.push(IpNet::from(ip.to_canonical()));
            } else {
                return Err(ProxiesError::Unknown(item.to_string()));
            }
        }
        Ok(trusted)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.networks.iter().any(|n| n.contains(&ip))
    }

    /// The client's address: the socket's, unless Netlify signed the request (then its
    /// `X-Nf-Client-Connection-Ip`), or the socket is a trusted proxy (then the last
    /// `X-Forwarded-For` entry that is not itself a trusted proxy: the entries before it are
    /// whatever the client sent).
    pub fn client(&self, headers: &HeaderMap, socket: Option<IpAddr>) -> Option<IpAddr> {
        // An IPv4 peer of a dual-stack listener arrives as ::ffff:a.b.c.d.
        let socket = socket.map(|s| s.to_canonical());
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if let Some(secret) = &self.netlify {
            if header("x-nf-sign").is_some_and(|jws| netlify_signed(jws, secret, crate::ids::now())) {
                if let Some(ip) = header("x-nf-client-connection-ip").and_then(forwarded) {
                    return Some(ip);
                }
            }
        }
        if socket.is_some_and(|s| self.trusts(s)) {
            let chain: Vec<&str> = headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .collect();
            for entry in chain.iter().rev() {
                match forwarded(entry) {
                    Some(ip) if self.trusts(ip) => continue,
                    Some(ip) => return Some(ip),
                    None => {
                        // Nothing before an entry that is not an address can be believed.
                        tracing::warn!(entry = %entry.trim(), "a trusted proxy forwarded something that is not an address");
                        break;
                    }
                }
            }
        }
        socket
    }
}

/// An address as proxies write it: `203.0.113.9`, `203.0.113.9:5678`, `2001:db8::1`,
/// `[2001:db8::1]:5678`.
fn forwarded(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    let host = match entry.strip_prefix('[') {
        Some(rest) => rest.split_once(']').map(|(h, _)| h)?,
        None => entry.rsplit_once(':').map(|(h, _)| h)?,
    };
    host.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

/// Whether `X-Nf-Sign` is Netlify's signature of its proxy: a JWS (HS256) made with the
/// secret, issued by `netlify`, not expired (Netlify gives it five minutes).
fn netlify_signed(jws: &str, secret: &Secret, now: i64) -> bool {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts = jws.trim().split('.');
    let (Some(head), Some(body), Some(sig), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let json = |part: &str| b64.decode(part).ok().and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    let (Some(header), Some(claims), Ok(sig)) = (json(head), json(body), b64.decode(sig)) else { return false };
    if header["alg"] != "HS256" {
        return false;
    }
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret.expose().as_bytes()) else { return false };
    mac.update(head.as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    // `verify_slice` compares in constant time.
    mac.verify_slice(&sig).is_ok() && claims["iss"] == "netlify" && claims["exp"].as_i64().is_some_and(|exp| exp > now)
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

    /// A JWS as Netlify makes it for a signed proxy rule.
    fn netlify_jws(secret: &str, claims: serde_json::Value) -> String {
        use base64::Engine;
        use hmac::{Hmac, Mac};
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let head = b64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let body = b64.encode(claims.to_string());
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{head}.{body}").as_bytes());
        format!("{head}.{body}.{}", b64.encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn headers_count_only_from_trusted_proxies() {
        let socket: IpAddr = [203, 0, 113, 9].into();
        let forged = h(&[("x-forwarded-for", "1.2.3.4"), ("x-nf-client-connection-ip", "5.6.7.8")]);
        assert_eq!(TrustedProxies::default().client(&forged, Some(socket)), Some(socket), "nobody trusted");

        let proxy: IpAddr = [10, 0, 0, 2].into();
        let trusted = TrustedProxies::parse("10.0.0.0/8", None).unwrap();
        let chain = h(&[("x-forwarded-for", "1.2.3.4, 198.51.100.7, 10.0.0.9")]);
        assert_eq!(trusted.client(&chain, Some(proxy)), Some([198, 51, 100, 7].into()), "the last untrusted hop");
        assert_eq!(trusted.client(&chain, Some(socket)), Some(socket), "not from the proxy: not believed");
        let mapped: IpAddr = "::ffff:10.0.0.2".parse().unwrap();
        assert_eq!(trusted.client(&chain, Some(mapped)), Some([198, 51, 100, 7].into()), "a dual-stack listener");
        let ported = h(&[("x-forwarded-for", "198.51.100.7:5678, [2001:db8::1]:443")]);
        assert_eq!(trusted.client(&ported, Some(proxy)), "2001:db8::1".parse().ok());
        let garbage = h(&[("x-forwarded-for", "1.2.3.4, nonsense")]);
        assert_eq!(trusted.client(&garbage, Some(proxy)), Some(proxy));
        assert!(TrustedProxies::parse("10.0.0.0/33", None).is_err());
        assert!(TrustedProxies::parse("everyone", None).is_err());
        assert!(TrustedProxies::parse("netlify", None).is_err(), "netlify needs the secret it signs with");
    }

    #[test]
    fn netlify_is_believed_only_with_its_signature() {
        let secret = Secret::new("netlify-proxy-secret");
        let netlify = TrustedProxies::parse("netlify", Some(secret)).unwrap();
        let socket: IpAddr = [198, 51, 100, 1].into();
        let now = crate::ids::now();
        let signed = |jws: &str| {
            let mut m = h(&[("x-nf-client-connection-ip", "5.6.7.8")]);
            m.insert("x-nf-sign", HeaderValue::from_str(jws).unwrap());
            m
        };
        let good = netlify_jws("netlify-proxy-secret", serde_json::json!({ "iss": "netlify", "exp": now + 300 }));
        assert_eq!(netlify.client(&signed(&good), Some(socket)), Some([5, 6, 7, 8].into()));
        let forged = netlify_jws("guessed", serde_json::json!({ "iss": "netlify", "exp": now + 300 }));
        let expired = netlify_jws("netlify-proxy-secret", serde_json::json!({ "iss": "netlify", "exp": now - 1 }));
        let other = netlify_jws("netlify-proxy-secret", serde_json::json!({ "iss": "someone", "exp": now + 300 }));
        for jws in [forged.as_str(), expired.as_str(), other.as_str(), "x.y.z", "nonsense"] {
            assert_eq!(netlify.client(&signed(jws), Some(socket)), Some(socket), "{jws}");
        }
        let unsigned = h(&[("x-nf-client-connection-ip", "5.6.7.8")]);
        assert_eq!(netlify.client(&unsigned, Some(socket)), Some(socket));
    }
}
