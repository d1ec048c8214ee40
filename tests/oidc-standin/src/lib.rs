//! A local OpenID provider standing in for Google, speaking the protocol as Google does: a
//! discovery document, a JWKS with the RSA key that signs ID tokens (RS256), an authorisation
//! page on its own origin that sends the browser back with a code, and a token endpoint that
//! checks the client's secret, the redirect address and the PKCE verifier (S256) before it
//! answers with an ID token. Tests choose who signs in and can spoil the next token in the ways
//! a relying party must notice. The service's Rust tests use it as a library; the browser suite
//! runs its binary.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The client id the stand-in knows (the service's `GOOGLE_CLIENT_ID`).
pub const CLIENT_ID: &str = "atelier-test.apps.standin.example";
/// That client's secret (the service's `GOOGLE_CLIENT_SECRET`).
pub const CLIENT_SECRET: &str = "standin-secret-7Q2vXk";
/// The id of the key in the JWKS.
pub const KEY_ID: &str = "standin-2026";

const PROVIDER_KEY: &[u8] = include_bytes!("../keys/provider.der");
const PROVIDER_MODULUS: &str = include_str!("../keys/provider.modulus");
const STRANGER_KEY: &[u8] = include_bytes!("../keys/stranger.der");

/// Someone with an account at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The provider's id for them (`sub`), which never changes.
    pub subject: String,
    /// Their address.
    pub email: String,
    /// Whether the provider has checked they own it.
    pub email_verified: bool,
    /// Their name.
    pub name: String,
}

impl Identity {
    /// Someone whose address the provider has checked, with a subject made from it.
    pub fn verified(email: &str, name: &str) -> Identity {
        let subject = format!("1{:020}", email.bytes().fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(b.into())));
        Identity { subject, email: email.into(), email_verified: true, name: name.into() }
    }
}

/// How the next ID token is spoiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spoil {
    /// Issued for another client.
    Audience(String),
    /// Expired an hour ago.
    Expired,
    /// Carries another nonce than the one asked for.
    Nonce(String),
    /// Claims another issuer.
    Issuer(String),
    /// Signed with a key that is not the provider's (under the provider's key id).
    StrangerKey,
}

/// A code handed out and what it stands for.
#[derive(Debug, Clone)]
struct Grant {
    identity: Identity,
    client_id: String,
    redirect_uri: String,
    nonce: Option<String>,
    challenge: String,
    used: bool,
}

#[derive(Default)]
struct Inner {
    url: String,
    waiting: VecDeque<Identity>,
    spoil: Option<Spoil>,
    grants: BTreeMap<String, Grant>,
    counter: u64,
    tokens_issued: u64,
}

type Shared = Arc<Mutex<Inner>>;

/// The running stand-in.
#[derive(Clone)]
pub struct OidcStandIn {
    /// `http://127.0.0.1:PORT`: the issuer (the service's `GOOGLE_ISSUER_URL`).
    pub url: String,
    inner: Shared,
}

impl OidcStandIn {
    /// Starts the stand-in on a free loopback port.
    pub async fn start() -> OidcStandIn {
        OidcStandIn::start_on(0).await.expect("a loopback port")
    }

    /// Starts the stand-in on a loopback port (0: any free one).
    pub async fn start_on(port: u16) -> std::io::Result<OidcStandIn> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let inner: Shared = Arc::new(Mutex::new(Inner { url: url.clone(), ..Inner::default() }));
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize_page).post(authorize_form))
            .route("/token", post(token))
            .with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(OidcStandIn { url, inner })
    }

    /// The next visit to the authorisation page signs this person in at once (as Google does
    /// for someone signed in who agreed before), instead of showing its form.
    pub fn sign_in_as(&self, identity: Identity) {
        self.inner.lock().unwrap().waiting.push_back(identity);
    }

    /// The next ID token is spoiled this way.
    pub fn spoil_next(&self, spoil: Spoil) {
        self.inner.lock().unwrap().spoil = Some(spoil);
    }

    /// How many ID tokens the token endpoint has issued.
    pub fn tokens_issued(&self) -> u64 {
        self.inner.lock().unwrap().tokens_issued
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

async fn discovery(State(inner): State<Shared>) -> Json<Value> {
    let url = inner.lock().unwrap().url.clone();
    Json(json!({
        "issuer": url,
        "authorization_endpoint": format!("{url}/authorize"),
        "token_endpoint": format!("{url}/token"),
        "jwks_uri": format!("{url}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "claims_supported": ["aud", "email", "email_verified", "exp", "iat", "iss", "name", "nonce", "sub"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

/// Hex to base64url without padding, as a JWK writes the modulus.
fn hex_to_b64url(hex: &str) -> String {
    let bytes: Vec<u8> =
        (0..hex.trim().len()).step_by(2).map(|i| u8::from_str_radix(&hex.trim()[i..i + 2], 16).unwrap_or(0)).collect();
    URL_SAFE_NO_PAD.encode(bytes)
}

async fn jwks() -> Json<Value> {
    Json(json!({ "keys": [{
        "kty": "RSA", "alg": "RS256", "use": "sig", "kid": KEY_ID,
        "n": hex_to_b64url(PROVIDER_MODULUS), "e": "AQAB",
    }]}))
}

/// What the service's browser brings to the authorisation page.
fn checked_request(q: &BTreeMap<String, String>) -> Result<(), String> {
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    if get("response_type") != "code" {
        return Err(format!("response_type must be code, not `{}`", get("response_type")));
    }
    if get("client_id") != CLIENT_ID {
        return Err(format!("unknown client `{}`", get("client_id")));
    }
    if !get("scope").split(' ').any(|s| s == "openid") {
        return Err("the scope must hold openid".into());
    }
    if get("redirect_uri").is_empty() || get("state").is_empty() {
        return Err("redirect_uri and state are required".into());
    }
    if get("code_challenge_method") != "S256" || get("code_challenge").len() < 43 {
        return Err("PKCE with S256 is required".into());
    }
    Ok(())
}

/// Hands out a code for this person and sends the browser back with it.
fn approve(inner: &Shared, q: &BTreeMap<String, String>, identity: Identity) -> Response {
    let mut inner = inner.lock().unwrap();
    inner.counter += 1;
    let code = format!("code-{}-{}", inner.counter, now());
    let redirect_uri = q["redirect_uri"].clone();
    inner.grants.insert(
        code.clone(),
        Grant {
            identity,
            client_id: q["client_id"].clone(),
            redirect_uri: redirect_uri.clone(),
            nonce: q.get("nonce").cloned(),
            challenge: q["code_challenge"].clone(),
            used: false,
        },
    );
    let query = serde_urlencoded::to_string([("code", code.as_str()), ("state", q["state"].as_str())]).unwrap();
    Redirect::to(&format!("{redirect_uri}?{query}")).into_response()
}

async fn authorize_page(State(inner): State<Shared>, Query(q): Query<BTreeMap<String, String>>) -> Response {
    if let Err(e) = checked_request(&q) {
        return (StatusCode::BAD_REQUEST, format!("invalid_request: {e}")).into_response();
    }
    let waiting = inner.lock().unwrap().waiting.pop_front();
    if let Some(identity) = waiting {
        return approve(&inner, &q, identity);
    }
    let hidden: String = q
        .iter()
        .map(|(k, v)| format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", html_escape(k), html_escape(v)))
        .collect();
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign in — OpenID stand-in</title></head>\
         <body><main><h1>Choose an account</h1><form method=\"post\" action=\"/authorize\">{hidden}\
         <p><label>E-mail <input name=\"email\" type=\"email\" required></label></p>\
         <p><label>Name <input name=\"name\" required></label></p>\
         <p><label><input name=\"email_verified\" type=\"checkbox\" value=\"true\" checked> Address confirmed</label></p>\
         <p><button type=\"submit\" name=\"decision\" value=\"allow\">Continue</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\" formnovalidate>Cancel</button></p>\
         </form></main></body></html>"
    ))
    .into_response()
}

async fn authorize_form(State(inner): State<Shared>, Form(q): Form<BTreeMap<String, String>>) -> Response {
    if let Err(e) = checked_request(&q) {
        return (StatusCode::BAD_REQUEST, format!("invalid_request: {e}")).into_response();
    }
    if q.get("decision").map(String::as_str) == Some("deny") {
        let query = serde_urlencoded::to_string([("error", "access_denied"), ("state", q["state"].as_str())]).unwrap();
        return Redirect::to(&format!("{}?{query}", q["redirect_uri"])).into_response();
    }
    let email = q.get("email").cloned().unwrap_or_default();
    let mut identity = Identity::verified(&email, q.get("name").map(String::as_str).unwrap_or(""));
    identity.email_verified = q.get("email_verified").map(String::as_str) == Some("true");
    approve(&inner, &q, identity)
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, Json(json!({ "error": error, "error_description": description }))).into_response()
}

/// The client's id and secret, from HTTP Basic (RFC 6749 §2.3.1, each form-encoded) or the form.
fn client_credentials(headers: &HeaderMap, form: &BTreeMap<String, String>) -> Option<(String, String)> {
    if let Some(basic) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()?.strip_prefix("Basic ")) {
        let decoded = String::from_utf8(STANDARD.decode(basic.trim()).ok()?).ok()?;
        let (id, secret) = decoded.split_once(':')?;
        let unform = |s: &str| serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={s}")).ok()?.pop();
        return Some((unform(id)?.1, unform(secret)?.1));
    }
    Some((form.get("client_id")?.clone(), form.get("client_secret")?.clone()))
}

async fn token(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let Some((client_id, secret)) = client_credentials(&headers, &form) else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "no client authentication");
    };
    if client_id != CLIENT_ID || secret != CLIENT_SECRET {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "unknown client or wrong secret");
    }
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "only authorization_code");
    }
    let field = |k: &str| form.get(k).cloned().unwrap_or_default();
    let mut guard = inner.lock().unwrap();
    let issuer = guard.url.clone();
    let Some(grant) = guard.grants.get_mut(&field("code")) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown code");
    };
    if grant.used {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "the code was used");
    }
    if grant.client_id != client_id || grant.redirect_uri != field("redirect_uri") {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "redirect_uri or client differs");
    }
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(field("code_verifier").as_bytes()));
    if challenge != grant.challenge {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "the PKCE verifier does not match");
    }
    grant.used = true;
    let grant = grant.clone();
    let spoil = guard.spoil.take();
    guard.tokens_issued += 1;
    drop(guard);
    let issued = now();
    let mut claims = json!({
        "iss": issuer, "aud": client_id, "sub": grant.identity.subject,
        "email": grant.identity.email, "email_verified": grant.identity.email_verified,
        "name": grant.identity.name, "iat": issued, "exp": issued + 3600,
    });
    if let Some(nonce) = &grant.nonce {
        claims["nonce"] = json!(nonce);
    }
    let mut key = PROVIDER_KEY;
    match spoil {
        Some(Spoil::Audience(aud)) => claims["aud"] = json!(aud),
        Some(Spoil::Expired) => {
            claims["iat"] = json!(issued - 7200);
            claims["exp"] = json!(issued - 3600);
        }
        Some(Spoil::Nonce(nonce)) => claims["nonce"] = json!(nonce),
        Some(Spoil::Issuer(iss)) => claims["iss"] = json!(iss),
        Some(Spoil::StrangerKey) => key = STRANGER_KEY,
        None => {}
    }
    let id_token = sign(key, &claims);
    Json(json!({
        "access_token": format!("ya29.standin-{}", grant.identity.subject),
        "token_type": "Bearer", "expires_in": 3599, "scope": "openid email profile", "id_token": id_token,
    }))
    .into_response()
}

/// A compact JWS of the claims, RS256 under the provider's key id.
fn sign(key: &[u8], claims: &Value) -> String {
    let header = json!({ "alg": "RS256", "kid": KEY_ID, "typ": "JWT" });
    let input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let pair = RsaKeyPair::from_der(key).expect("the stand-in's test key");
    let mut signature = vec![0; pair.public().modulus_len()];
    pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), input.as_bytes(), &mut signature).expect("signing");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
