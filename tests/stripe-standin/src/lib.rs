//! A local stand-in for the part of Stripe the shop uses, speaking Stripe's wire format:
//! form-encoded requests with bracketed keys (as async-stripe sends them), Bearer-key
//! authentication, JSON objects shaped as Stripe's (so async-stripe's own types parse them),
//! Stripe's error envelope, events signed the way Stripe signs them and POSTed over HTTP to
//! the service's webhook endpoint, and a hosted checkout page on its own origin where a
//! browser pays. Stripe itself cannot be reached from here. The service's Rust tests use it as
//! a library; the browser suite runs its binary.

pub mod billing;
pub mod objects;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The secret key the stand-in accepts.
pub const SECRET_KEY: &str = "sk_test_standin_4eC39HqLyjWDarjtT1zdp7dc";

/// One request the stand-in received: method and path, and its form fields in order.
#[derive(Debug, Clone)]
pub struct Received {
    /// `POST /v1/checkout/sessions`, …
    pub route: String,
    /// The form's fields, in the order sent.
    pub form: Vec<(String, String)>,
    /// Its `Idempotency-Key` header, when it had one.
    pub idempotency_key: Option<String>,
}

impl Received {
    /// A field's value.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
pub(crate) struct Inner {
    sessions: BTreeMap<String, Value>,
    received: Vec<Received>,
    webhook_url: Option<String>,
    webhook_secret: String,
    delivered: Vec<(String, u16)>,
    counter: u64,
    /// Each session's `payment_intent_data[metadata]`, which Stripe gives the payment intent
    /// (and the intent its charge).
    intent_metadata: BTreeMap<String, Value>,
    /// Where the hosted pages are served.
    origin: String,
    /// How long creating a session takes (Stripe is not instant).
    session_delay: std::time::Duration,
    /// What each payment intent has had refunded, in cents.
    refunded: BTreeMap<String, i64>,
    /// Refunds made, by the idempotency key that made them.
    refunds_by_key: BTreeMap<String, Value>,
    /// Events kept back instead of sent, while held (Stripe's deliveries can lag).
    held: Option<Vec<(String, Value)>>,
    /// How refund requests are answered meanwhile: an HTTP status and Stripe's message.
    refund_failure: Option<(u16, String)>,
    /// Billing's products, prices (by id), subscriptions, customers and portal sessions.
    products: BTreeMap<String, Value>,
    prices: BTreeMap<String, Value>,
    subscriptions: BTreeMap<String, billing::Sub>,
    customers: BTreeMap<String, billing::Customer>,
    portal_sessions: BTreeMap<String, Value>,
    /// Each subscription's invoice still owed, while it is past due.
    open_invoices: BTreeMap<String, Value>,
    /// `subscription_data[metadata]` of each subscription-mode session, and the price it bills.
    subscription_metadata: BTreeMap<String, Value>,
    session_prices: BTreeMap<String, String>,
    /// Answers kept by idempotency key (products, prices, sessions), with the request's
    /// parameters: Stripe refuses a key sent again with others.
    replies: BTreeMap<String, (Vec<(String, String)>, Value)>,
    /// How far Stripe's clock is ahead of the real one: a renewal happens when its period
    /// ends, and what follows it happens after.
    clock_ahead: i64,
}

impl Inner {
    /// The answer kept for an idempotency key, when the request repeats one: the same answer
    /// for the same parameters, Stripe's `idempotency_error` for others.
    pub(crate) fn replay(&self, key: Option<&String>, form: &[(String, String)]) -> Option<Response> {
        let (sent, answer) = self.replies.get(key?)?;
        if sent.as_slice() != form {
            let body = json!({ "error": { "type": "idempotency_error",
                "message": "Keys for idempotent requests can only be used with the same parameters they were first used with." } });
            return Some((StatusCode::BAD_REQUEST, Json(body)).into_response());
        }
        Some(Json(answer.clone()).into_response())
    }

    /// Stripe's time now.
    pub(crate) fn clock(&self) -> i64 {
        objects::now() + self.clock_ahead
    }
}

/// The running stand-in.
#[derive(Clone)]
pub struct StripeStandIn {
    /// `http://127.0.0.1:PORT`: the service's `STRIPE_API_BASE`, and the origin of the hosted
    /// checkout pages (its `STRIPE_CHECKOUT_ORIGIN`).
    pub url: String,
    inner: Shared,
}

pub(crate) type Shared = Arc<Mutex<Inner>>;

impl StripeStandIn {
    /// Starts the stand-in on a free loopback port; events are signed with `webhook_secret`.
    pub async fn start(webhook_secret: &str) -> StripeStandIn {
        StripeStandIn::start_on(0, webhook_secret).await.expect("a loopback port")
    }

    /// Starts the stand-in on a loopback port (0: any free one).
    pub async fn start_on(port: u16, webhook_secret: &str) -> std::io::Result<StripeStandIn> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let inner: Shared = Arc::new(Mutex::new(Inner {
            webhook_secret: webhook_secret.to_string(),
            origin: url.clone(),
            ..Inner::default()
        }));
        let app = Router::new()
            .route("/v1/checkout/sessions", post(create_session))
            .route("/v1/checkout/sessions/{id}", get(retrieve_session))
            .route("/v1/checkout/sessions/{id}/expire", post(expire_session))
            .route("/v1/refunds", post(create_refund))
            .route("/v1/products", post(billing::create_product))
            .route("/v1/prices", get(billing::list_prices).post(billing::create_price))
            .route(
                "/v1/subscriptions/{id}",
                get(billing::retrieve_subscription)
                    .post(billing::update_subscription)
                    .delete(billing::cancel_subscription),
            )
            .route("/v1/subscriptions/{id}/resume", post(billing::resume_subscription))
            .route("/v1/billing_portal/sessions", post(billing::create_portal))
            .route("/c/pay/{id}", get(hosted_page).post(hosted_pay))
            .route("/p/session/{id}", get(billing::portal_page).post(billing::portal_mend))
            .with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(StripeStandIn { url, inner })
    }

    /// Where events go (the service's `/api/webhooks/stripe`).
    pub fn deliver_to(&self, url: &str) {
        self.inner.lock().unwrap().webhook_url = Some(url.to_string());
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// Creating a session takes this long from now on.
    pub fn delay_sessions(&self, delay: std::time::Duration) {
        self.inner.lock().unwrap().session_delay = delay;
    }

    /// The ids of the sessions still open (a shopper could pay on their page).
    pub fn open_sessions(&self) -> Vec<String> {
        let inner = self.inner.lock().unwrap();
        inner.sessions.iter().filter(|(_, s)| s["status"] == "open").map(|(id, _)| id.clone()).collect()
    }

    /// A session as the stand-in holds it.
    pub fn session(&self, id: &str) -> Value {
        self.inner.lock().unwrap().sessions.get(id).cloned().unwrap_or(Value::Null)
    }

    /// Events delivered so far: (type, HTTP status the service answered).
    pub fn delivered(&self) -> Vec<(String, u16)> {
        self.inner.lock().unwrap().delivered.clone()
    }

    /// The shopper pays on the hosted page: the session completes and Stripe sends
    /// `checkout.session.completed`. Returns the service's HTTP status.
    /// In subscription mode, the subscription is made first, with `customer.subscription.created`
    /// and `invoice.paid`.
    pub async fn pay(&self, session_id: &str) -> u16 {
        let mut events = self.complete_with_events(session_id);
        let (kind, session) = events.pop().expect("the session's own event");
        for (kind, object) in events {
            self.send_event(&kind, object).await;
        }
        self.send_event(&kind, session).await
    }

    /// The session completes at Stripe, and its event has not arrived yet.
    pub fn complete_quietly(&self, session_id: &str) -> Value {
        self.complete_with_events(session_id).pop().expect("the session's own event").1
    }

    /// The session completes at Stripe; the events Stripe sends about it, unsent (the
    /// session's own last), for a test to deliver in any order and as often as it likes.
    pub fn complete_with_events(&self, session_id: &str) -> Vec<(String, Value)> {
        complete(&mut self.inner.lock().unwrap(), session_id).expect("an open session the stand-in made")
    }

    /// The charge id the stand-in gives a session's payment.
    fn charge_id(session_id: &str) -> String {
        format!("ch_standin_{}", &session_id[session_id.len().saturating_sub(8)..])
    }

    /// The payment is refunded in full: Stripe sends `charge.refunded` for the charge.
    pub async fn refund(&self, session_id: &str) -> u16 {
        let session = self.session(session_id);
        let id = StripeStandIn::charge_id(session_id);
        let amount = session["amount_total"].as_i64().unwrap_or(0);
        let currency = session["currency"].as_str().unwrap_or("eur").to_string();
        let intent = session["payment_intent"].as_str().map(str::to_string);
        let metadata = self.intent_metadata(session_id);
        let charge = objects::charge(&id, intent.as_deref(), amount, &currency, metadata, true);
        self.send_event("charge.refunded", charge).await
    }

    /// The metadata the session's payment intent was given (`payment_intent_data[metadata]`),
    /// which Stripe copies onto the intent's charge.
    pub fn intent_metadata(&self, session_id: &str) -> Value {
        self.inner.lock().unwrap().intent_metadata.get(session_id).cloned().unwrap_or_else(|| json!({}))
    }

    /// Sends a signed event about an object, as Stripe does.
    pub async fn send_event(&self, kind: &str, object: Value) -> u16 {
        send_event(&self.inner, kind, object).await
    }

    /// From now on, the events Stripe sends by itself (after a refund) are kept back until
    /// [`StripeStandIn::release_events`].
    pub fn hold_events(&self) {
        self.inner.lock().unwrap().held.get_or_insert_with(Vec::new);
    }

    /// From now on refund requests are answered with this HTTP status and message (a 4xx is
    /// Stripe refusing; a 5xx is Stripe failing, the refund perhaps made); `None`: answered.
    pub fn fail_refunds(&self, failure: Option<(u16, &str)>) {
        self.inner.lock().unwrap().refund_failure = failure.map(|(s, m)| (s, m.to_string()));
    }

    /// Forgets the events kept back and stops holding them.
    pub fn drop_events(&self) {
        self.inner.lock().unwrap().held = None;
    }

    /// Sends the events kept back, in order, and stops holding them; the service's statuses.
    pub async fn release_events(&self) -> Vec<u16> {
        let held = self.inner.lock().unwrap().held.take().unwrap_or_default();
        let mut statuses = Vec::new();
        for (kind, object) in held {
            statuses.push(send_event(&self.inner, &kind, object).await);
        }
        statuses
    }
}

/// Sends a signed event about an object to the service, as Stripe does; the service's status.
pub(crate) async fn send_event(shared: &Shared, kind: &str, object: Value) -> u16 {
    let (url, secret, id, created) = {
        let mut inner = shared.lock().unwrap();
        inner.counter += 1;
        (
            inner.webhook_url.clone().expect("deliver_to first"),
            inner.webhook_secret.clone(),
            format!("evt_standin_{:06}", inner.counter),
            inner.clock(),
        )
    };
    let mut event = objects::event(&id, kind, object);
    event["created"] = json!(created);
    let body = event.to_string();
    let signature = signature_header(&secret, objects::now(), body.as_bytes());
    let status = post_json(&url, &body, &signature).await;
    shared.lock().unwrap().delivered.push((kind.to_string(), status));
    status
}

/// A `Stripe-Signature` header for a body, as Stripe makes them: `t=…,v1=` HMAC-SHA256 of
/// `t.body` with the endpoint's secret.
pub fn signature_header(secret: &str, t: i64, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

/// The hosted checkout page, on the stand-in's own origin: what the shopper pays, a button to
/// pay and a way back.
async fn hosted_page(State(shared): State<Shared>, Path(id): Path<String>) -> Response {
    let Some(session) = shared.lock().unwrap().sessions.get(&id).cloned() else {
        return (StatusCode::NOT_FOUND, axum::response::Html("<h1>No such checkout session</h1>")).into_response();
    };
    if session["status"] != "open" {
        return (StatusCode::GONE, axum::response::Html("<h1>This checkout session is no longer open</h1>"))
            .into_response();
    }
    let amount = session["amount_total"].as_i64().unwrap_or(0);
    let currency = session["currency"].as_str().unwrap_or("").to_uppercase();
    let email = html_escape(session["customer_email"].as_str().unwrap_or(""));
    let back = html_escape(session["cancel_url"].as_str().unwrap_or("/"));
    axum::response::Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Pay — Stripe stand-in</title></head><body>\
         <main><h1>Stripe stand-in checkout</h1><p>Pay <strong id=\"amount\">{}.{:02} {currency}</strong> as {email}.</p>\
         <form method=\"post\"><button type=\"submit\">Pay</button></form><p><a href=\"{back}\">Back</a></p></main></body></html>",
        amount / 100,
        amount % 100
    ))
    .into_response()
}

/// The shopper pays on the hosted page: the session completes, Stripe's event goes to the
/// service, and the browser is sent to the session's success address.
async fn hosted_pay(State(shared): State<Shared>, Path(id): Path<String>) -> Response {
    let events = match complete(&mut shared.lock().unwrap(), &id) {
        Ok(events) => events,
        Err(status) => return status.into_response(),
    };
    let session = events.last().map(|e| e.1.clone()).unwrap_or_default();
    for (kind, object) in events {
        send_event(&shared, &kind, object).await;
    }
    let success = session["success_url"].as_str().unwrap_or("/").to_string();
    (StatusCode::SEE_OTHER, [(axum::http::header::LOCATION, success)]).into_response()
}

/// An open session is paid: a payment intent (payment mode) or a subscription (subscription
/// mode) is made. The events Stripe sends, the session's `checkout.session.completed` last.
fn complete(inner: &mut Inner, id: &str) -> Result<Vec<(String, Value)>, StatusCode> {
    inner.counter += 1;
    let intent = format!("pi_standin_{:06}", inner.counter);
    let mut session = inner.sessions.get(id).cloned().ok_or(StatusCode::NOT_FOUND)?;
    if session["status"] != "open" {
        return Err(StatusCode::GONE);
    }
    session["status"] = json!("complete");
    session["payment_status"] = json!("paid");
    session["url"] = Value::Null;
    let mut events = Vec::new();
    if session["mode"] == "subscription" {
        let price = inner.session_prices.get(id).cloned().unwrap_or_default();
        events = billing::start(inner, &mut session, &price);
    } else {
        session["payment_intent"] = json!(intent);
    }
    inner.sessions.insert(id.to_string(), session.clone());
    events.push(("checkout.session.completed".to_string(), session));
    Ok(events)
}

pub(crate) fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A bare HTTP/1.1 POST over a loopback socket; returns the status code.
async fn post_json(url: &str, body: &str, signature: &str) -> u16 {
    let rest = url.strip_prefix("http://").expect("an http:// webhook address");
    let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).unwrap_or((rest, "/".into()));
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("the service listens");
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)\r\nContent-Type: application/json; charset=utf-8\r\nStripe-Signature: {signature}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// Stripe's error envelope.
pub(crate) fn stripe_error(status: StatusCode, kind: &str, message: &str, param: Option<&str>) -> Response {
    (status, Json(json!({ "error": { "type": kind, "message": message, "param": param } }))).into_response()
}

pub(crate) fn authorised(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(format!("Bearer {SECRET_KEY}").as_str())
}

/// Reads a form-encoded body as async-stripe writes it (`a[b][0][c]=v`), keeping the order.
pub(crate) fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).unwrap_or_default()
}

async fn create_session(State(inner): State<Shared>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if !authorised(&headers) {
        return stripe_error(StatusCode::UNAUTHORIZED, "invalid_request_error", "Invalid API Key provided", None);
    }
    let delay = inner.lock().unwrap().session_delay;
    tokio::time::sleep(delay).await;
    let form = form_pairs(&body);
    let field = |k: &str| form.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_string);
    let mut inner = inner.lock().unwrap();
    inner.received.push(Received {
        route: "POST /v1/checkout/sessions".into(),
        form: form.clone(),
        idempotency_key: key.clone(),
    });
    if let Some(replayed) = inner.replay(key.as_ref(), &form) {
        return replayed;
    }
    let mode = field("mode").unwrap_or_default();
    if mode != "payment" && mode != "subscription" {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "Missing required param: mode.",
            Some("mode"),
        );
    }
    let Some(success_url) = field("success_url") else {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "Missing required param: success_url.",
            Some("success_url"),
        );
    };
    let mut total = 0i64;
    let mut currency = None;
    let mut i = 0;
    let mut price_id = None;
    while let Some(quantity) = field(&format!("line_items[{i}][quantity]")) {
        if mode == "subscription" {
            let price = field(&format!("line_items[{i}][price]")).unwrap_or_default();
            let (Some((amount, c, _)), Ok(quantity)) = (billing::recurring(&inner, &price), quantity.parse::<i64>())
            else {
                return stripe_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    "In subscription mode, each line item needs the id of a recurring price.",
                    Some(&format!("line_items[{i}][price]")),
                );
            };
            currency = Some(c);
            total += amount * quantity;
            price_id = Some(price);
            i += 1;
            continue;
        }
        let p = |k: &str| field(&format!("line_items[{i}][price_data][{k}]"));
        let (Some(c), Some(amount), Some(_name)) = (p("currency"), p("unit_amount"), p("product_data][name")) else {
            return stripe_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "Each line item needs price_data with currency, unit_amount and product_data[name].",
                Some(&format!("line_items[{i}]")),
            );
        };
        let (Ok(amount), Ok(quantity)) = (amount.parse::<i64>(), quantity.parse::<i64>()) else {
            return stripe_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "Invalid integer.",
                Some(&format!("line_items[{i}]")),
            );
        };
        if currency.get_or_insert(c.clone()) != &c {
            return stripe_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "All line items must share one currency.",
                Some("line_items"),
            );
        }
        total += amount * quantity;
        i += 1;
    }
    if i == 0 {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "You must provide at least one line item.",
            Some("line_items"),
        );
    }
    let now = objects::now();
    let expires_at = field("expires_at").and_then(|e| e.parse::<i64>().ok()).unwrap_or(now + 86_400);
    if !(now + 1800 - 5..=now + 86_400).contains(&expires_at) {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout Session creation.",
            Some("expires_at"),
        );
    }
    let metadata: serde_json::Map<String, Value> = form
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("metadata[").and_then(|k| k.strip_suffix(']')).map(|k| (k.to_string(), json!(v)))
        })
        .collect();
    inner.counter += 1;
    let id = format!("cs_test_standin{:06}", inner.counter);
    let session = json!({
        "id": id.clone(),
        "object": "checkout.session",
        "adaptive_pricing": null,
        "after_expiration": null,
        "allow_promotion_codes": null,
        "amount_subtotal": total,
        "amount_total": total,
        "automatic_tax": { "enabled": false, "liability": null, "provider": null, "status": null },
        "billing_address_collection": null,
        "cancel_url": field("cancel_url"),
        "client_reference_id": field("client_reference_id"),
        "client_secret": null,
        "collected_information": null,
        "consent": null,
        "consent_collection": null,
        "created": now,
        "currency": currency,
        "currency_conversion": null,
        "custom_fields": [],
        "custom_text": { "after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null },
    });
    // Split in two: one `json!` this size exceeds the macro recursion limit.
    let rest = json!({
        "customer": field("customer"),
        "customer_creation": "if_required",
        "customer_details": null,
        "customer_email": field("customer_email"),
        "discounts": [],
        "expires_at": expires_at,
        "invoice": null,
        "invoice_creation": null,
        "livemode": false,
        "locale": null,
        "metadata": metadata,
        "mode": mode,
        "payment_intent": null,
        "payment_link": null,
        "payment_method_collection": "if_required",
        "payment_method_configuration_details": null,
        "payment_method_options": null,
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "phone_number_collection": { "enabled": false },
        "recovered_from": null,
        "saved_payment_method_options": null,
        "setup_intent": null,
        "shipping_address_collection": null,
        "shipping_cost": null,
        "shipping_options": [],
        "status": "open",
        "submit_type": null,
        "subscription": null,
        "success_url": success_url,
        "total_details": { "amount_discount": 0, "amount_shipping": 0, "amount_tax": 0 },
        "ui_mode": "hosted",
        "url": format!("{}/c/pay/{id}", inner.origin),
    });
    let mut session = session;
    if let (Some(a), Value::Object(b)) = (session.as_object_mut(), rest) {
        a.extend(b);
    }
    let intent_metadata: serde_json::Map<String, Value> = form
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("payment_intent_data[metadata][")
                .and_then(|k| k.strip_suffix(']'))
                .map(|k| (k.to_string(), json!(v)))
        })
        .collect();
    inner.intent_metadata.insert(id.clone(), Value::Object(intent_metadata));
    inner.subscription_metadata.insert(id.clone(), billing::metadata_of(&form, "subscription_data[metadata]["));
    if let Some(price) = price_id {
        inner.session_prices.insert(id.clone(), price);
    }
    if let Some(k) = key {
        inner.replies.insert(k, (form.clone(), session.clone()));
    }
    inner.sessions.insert(id, session.clone());
    Json(session).into_response()
}

async fn retrieve_session(State(inner): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !authorised(&headers) {
        return stripe_error(StatusCode::UNAUTHORIZED, "invalid_request_error", "Invalid API Key provided", None);
    }
    let mut inner = inner.lock().unwrap();
    inner.received.push(Received {
        route: format!("GET /v1/checkout/sessions/{id}"),
        form: Vec::new(),
        idempotency_key: None,
    });
    match inner.sessions.get(&id) {
        Some(s) => Json(s.clone()).into_response(),
        None => stripe_error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            &format!("No such checkout.session: '{id}'"),
            Some("session"),
        ),
    }
}

async fn expire_session(State(shared): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !authorised(&headers) {
        return stripe_error(StatusCode::UNAUTHORIZED, "invalid_request_error", "Invalid API Key provided", None);
    }
    let mut inner = shared.lock().unwrap();
    inner.received.push(Received {
        route: format!("POST /v1/checkout/sessions/{id}/expire"),
        form: Vec::new(),
        idempotency_key: None,
    });
    let Some(s) = inner.sessions.get_mut(&id) else {
        return stripe_error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            &format!("No such checkout.session: '{id}'"),
            Some("session"),
        );
    };
    if s["status"] != "open" {
        let message = format!("Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout Session has a status of \"{}\".", s["status"].as_str().unwrap_or(""));
        return stripe_error(StatusCode::BAD_REQUEST, "invalid_request_error", &message, None);
    }
    s["status"] = json!("expired");
    s["url"] = Value::Null;
    Json(s.clone()).into_response()
}

/// `POST /v1/refunds`: refunds (part of) a payment intent's charge, at most what is left of it;
/// a request repeated with its `Idempotency-Key` gets the first answer and refunds nothing more.
/// Stripe then sends `charge.refunded`, after answering.
async fn create_refund(State(shared): State<Shared>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if !authorised(&headers) {
        return stripe_error(StatusCode::UNAUTHORIZED, "invalid_request_error", "Invalid API Key provided", None);
    }
    let form = form_pairs(&body);
    let field = |k: &str| form.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_string);
    let (refund, charge) = {
        let mut inner = shared.lock().unwrap();
        inner.received.push(Received {
            route: "POST /v1/refunds".into(),
            form: form.clone(),
            idempotency_key: key.clone(),
        });
        if let Some((status, message)) = inner.refund_failure.clone() {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let kind = if status.is_server_error() { "api_error" } else { "invalid_request_error" };
            return stripe_error(status, kind, &message, None);
        }
        if let Some(done) = key.as_ref().and_then(|k| inner.refunds_by_key.get(k)) {
            return Json(done.clone()).into_response();
        }
        let Some(intent) = field("payment_intent") else {
            return stripe_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "You must pass either charge or payment_intent.",
                None,
            );
        };
        let Some((session_id, session)) = inner
            .sessions
            .iter()
            .find(|(_, s)| s["payment_intent"] == intent.as_str())
            .map(|(k, v)| (k.clone(), v.clone()))
        else {
            let message = format!("No such payment_intent: '{intent}'");
            return stripe_error(StatusCode::NOT_FOUND, "invalid_request_error", &message, Some("payment_intent"));
        };
        let total = session["amount_total"].as_i64().unwrap_or(0);
        let currency = session["currency"].as_str().unwrap_or("eur").to_string();
        let before = inner.refunded.get(&intent).copied().unwrap_or(0);
        let left = total - before;
        if left <= 0 {
            let message = format!("Charge {} has already been refunded.", StripeStandIn::charge_id(&session_id));
            return stripe_error(StatusCode::BAD_REQUEST, "invalid_request_error", &message, None);
        }
        let amount = match field("amount").map(|a| a.parse::<i64>()) {
            None => left,
            Some(Ok(a)) if a > 0 => a,
            Some(_) => {
                return stripe_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    "Invalid integer.",
                    Some("amount"),
                )
            }
        };
        if amount > left {
            let message = format!("Refund amount ({amount}) is greater than unrefunded amount on charge ({left})");
            return stripe_error(StatusCode::BAD_REQUEST, "invalid_request_error", &message, Some("amount"));
        }
        inner.refunded.insert(intent.clone(), before + amount);
        inner.counter += 1;
        let charge_id = StripeStandIn::charge_id(&session_id);
        let metadata: serde_json::Map<String, Value> = form
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("metadata[").and_then(|k| k.strip_suffix(']')).map(|k| (k.to_string(), json!(v)))
            })
            .collect();
        let refund = objects::refund(
            &format!("re_standin_{:06}", inner.counter),
            &charge_id,
            &intent,
            amount,
            &currency,
            Value::Object(metadata),
        );
        if let Some(k) = key {
            inner.refunds_by_key.insert(k, refund.clone());
        }
        let intent_metadata = inner.intent_metadata.get(&session_id).cloned().unwrap_or_else(|| json!({}));
        let charge =
            objects::charge_refunded(&charge_id, Some(&intent), total, before + amount, &currency, intent_metadata);
        (refund, charge)
    };
    // Stripe answers, then tells the webhook endpoint.
    if let Some(held) = shared.lock().unwrap().held.as_mut() {
        held.push(("charge.refunded".into(), charge));
        return Json(refund).into_response();
    }
    let events = shared.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        send_event(&events, "charge.refunded", charge).await;
    });
    Json(refund).into_response()
}
