//! Stripe Billing as far as the Folio uses it: products and recurring prices (found by lookup
//! key), subscriptions made by a paid subscription-mode Checkout Session, their updates
//! (`pause_collection`, `cancel_at_period_end`), cancellation and resume, renewals that pay or
//! fail as the customer's card does, and the billing portal's hosted page where a card is
//! mended and what is owed paid. Every change is told by the signed `customer.subscription.*`
//! and `invoice.*` events Stripe sends.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::{authorised, form_pairs, html_escape, objects, send_event, stripe_error, Received, Shared, StripeStandIn};

/// Seconds in one month of a price's interval (the stand-in's calendar is an average one).
const MONTH: i64 = 2_629_746;

/// Days between a failed renewal's attempts; after the last, the subscription is cancelled.
pub const RETRY_DAYS: [i64; 3] = [3, 5, 7];

/// The stand-in's side of a subscription: its object as Stripe shows it, and what it bills.
#[derive(Debug, Clone)]
pub(crate) struct Sub {
    pub object: Value,
    pub price: String,
    pub amount: i64,
    pub currency: String,
    pub months: i64,
    pub invoices: u64,
    pub failed_attempts: i64,
}

fn no_key() -> Response {
    stripe_error(StatusCode::UNAUTHORIZED, "invalid_request_error", "Invalid API Key provided", None)
}

fn invalid(message: &str, param: Option<&str>) -> Response {
    stripe_error(StatusCode::BAD_REQUEST, "invalid_request_error", message, param)
}

fn missing(kind: &str, id: &str) -> Response {
    let body = json!({ "error": { "type": "invalid_request_error", "code": "resource_missing",
        "message": format!("No such {kind}: '{id}'"), "param": "id" } });
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

pub(crate) fn metadata_of(form: &[(String, String)], prefix: &str) -> Value {
    Value::Object(
        form.iter()
            .filter_map(|(k, v)| {
                k.strip_prefix(prefix).and_then(|k| k.strip_suffix(']')).map(|k| (k.to_string(), json!(v)))
            })
            .collect(),
    )
}

fn record(shared: &Shared, route: String, form: &[(String, String)], headers: &HeaderMap) -> Option<String> {
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_string);
    shared.lock().unwrap().received.push(Received { route, form: form.to_vec(), idempotency_key: key.clone() });
    key
}

/// `POST /v1/products`: a product, under the id asked for (Stripe refuses an id in use).
pub(crate) async fn create_product(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !authorised(&headers) {
        return no_key();
    }
    let form = form_pairs(&body);
    let field = |k: &str| form.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let key = record(&shared, "POST /v1/products".into(), &form, &headers);
    let mut inner = shared.lock().unwrap();
    if let Some(replayed) = inner.replay(key.as_ref(), &form) {
        return replayed;
    }
    let Some(name) = field("name") else { return invalid("Missing required param: name.", Some("name")) };
    inner.counter += 1;
    let id = field("id").unwrap_or_else(|| format!("prod_standin_{:06}", inner.counter));
    if inner.products.contains_key(&id) {
        let body = json!({ "error": { "type": "invalid_request_error", "code": "resource_already_exists",
            "message": "Product already exists.", "param": "id" } });
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
    let product = json!({ "id": id, "object": "product", "active": true, "name": name, "created": objects::now(), "livemode": false });
    inner.products.insert(id, product.clone());
    if let Some(k) = key {
        inner.replies.insert(k, (form.clone(), product.clone()));
    }
    Json(product).into_response()
}

/// `GET /v1/prices?lookup_keys[0]=…&active=true`: the prices holding those lookup keys.
pub(crate) async fn list_prices(
    State(shared): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if !authorised(&headers) {
        return no_key();
    }
    let pairs = form_pairs(query.unwrap_or_default().as_bytes());
    record(&shared, "GET /v1/prices".into(), &pairs, &headers);
    let keys: Vec<&str> =
        pairs.iter().filter(|(k, _)| k.starts_with("lookup_keys[")).map(|(_, v)| v.as_str()).collect();
    let inner = shared.lock().unwrap();
    let data: Vec<Value> = inner
        .prices
        .values()
        .filter(|p| p["active"] == true && p["lookup_key"].as_str().is_some_and(|k| keys.contains(&k)))
        .cloned()
        .collect();
    Json(json!({ "object": "list", "data": data, "has_more": false, "url": "/v1/prices" })).into_response()
}

/// `POST /v1/prices`: a recurring price of a product; a lookup key in use moves only with
/// `transfer_lookup_key`.
pub(crate) async fn create_price(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !authorised(&headers) {
        return no_key();
    }
    let form = form_pairs(&body);
    let field = |k: &str| form.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let key = record(&shared, "POST /v1/prices".into(), &form, &headers);
    let mut inner = shared.lock().unwrap();
    if let Some(replayed) = inner.replay(key.as_ref(), &form) {
        return replayed;
    }
    let (Some(currency), Some(product), Some(amount)) = (field("currency"), field("product"), field("unit_amount"))
    else {
        return invalid("A price needs currency, product and unit_amount.", None);
    };
    if !inner.products.contains_key(&product) {
        return missing("product", &product);
    }
    let Ok(amount) = amount.parse::<i64>() else { return invalid("Invalid integer.", Some("unit_amount")) };
    let interval = field("recurring[interval]");
    let count = field("recurring[interval_count]").and_then(|c| c.parse::<i64>().ok()).unwrap_or(1);
    let lookup = field("lookup_key");
    if let Some(l) = &lookup {
        let holder = inner.prices.values().find(|p| p["lookup_key"] == l.as_str()).map(|p| p["id"].clone());
        match (holder, field("transfer_lookup_key").as_deref()) {
            (None, _) => {}
            (Some(held), Some("true")) => {
                if let Some(p) = inner.prices.get_mut(held.as_str().unwrap_or_default()) {
                    p["lookup_key"] = Value::Null;
                }
            }
            (Some(_), _) => {
                return invalid(&format!("A price (`{l}`) already uses that lookup key."), Some("lookup_key"));
            }
        }
    }
    inner.counter += 1;
    let id = format!("price_standin_{:06}", inner.counter);
    let price = json!({
        "id": id, "object": "price", "active": true, "currency": currency, "product": product,
        "unit_amount": amount, "lookup_key": lookup, "livemode": false, "created": objects::now(),
        "type": if interval.is_some() { "recurring" } else { "one_time" },
        "recurring": interval.map(|i| json!({ "interval": i, "interval_count": count })),
        "metadata": metadata_of(&form, "metadata["),
    });
    inner.prices.insert(id, price.clone());
    if let Some(k) = key {
        inner.replies.insert(k, (form.clone(), price.clone()));
    }
    Json(price).into_response()
}

/// A recurring price's amount, currency and months, as a subscription-mode session bills it.
pub(crate) fn recurring(inner: &crate::Inner, price: &str) -> Option<(i64, String, i64)> {
    let p = inner.prices.get(price)?;
    let months = match p["recurring"]["interval"].as_str()? {
        "month" => p["recurring"]["interval_count"].as_i64().unwrap_or(1),
        "year" => 12 * p["recurring"]["interval_count"].as_i64().unwrap_or(1),
        _ => return None,
    };
    Some((p["unit_amount"].as_i64()?, p["currency"].as_str()?.to_string(), months))
}

fn subscription_object(id: &str, customer: &str, metadata: &Value, period: (i64, i64), price: &str) -> Value {
    json!({
        "id": id,
        "object": "subscription",
        "cancel_at": null,
        "cancel_at_period_end": false,
        "canceled_at": null,
        "collection_method": "charge_automatically",
        "created": objects::now(),
        "customer": customer,
        "items": { "object": "list", "data": [{
            "id": format!("si_{}", &id[4..]),
            "object": "subscription_item",
            "current_period_start": period.0,
            "current_period_end": period.1,
            "price": { "id": price },
            "quantity": 1,
        }]},
        "livemode": false,
        "metadata": metadata,
        "pause_collection": null,
        "status": "active",
    })
}

fn invoice_object(inner: &mut crate::Inner, sub: &Sub, paid: bool, next_attempt: Option<i64>) -> Value {
    inner.counter += 1;
    let o = &sub.object;
    let item = &o["items"]["data"][0];
    json!({
        "id": format!("in_standin_{:06}", inner.counter),
        "object": "invoice",
        "amount_due": sub.amount,
        "amount_paid": if paid { sub.amount } else { 0 },
        "attempt_count": sub.failed_attempts + i64::from(paid),
        "billing_reason": if sub.invoices <= 1 { "subscription_create" } else { "subscription_cycle" },
        "currency": sub.currency,
        "customer": o["customer"],
        "lines": { "object": "list", "data": [{ "period": {
            "start": item["current_period_start"], "end": item["current_period_end"] } }] },
        "livemode": false,
        "next_payment_attempt": next_attempt,
        "parent": { "type": "subscription_details", "subscription_details": {
            "subscription": o["id"], "metadata": o["metadata"] } },
        "status": if paid { "paid" } else { "open" },
    })
}

/// A subscription-mode session is paid: its subscription is made with its first invoice paid.
/// The session, and the events Stripe sends about it before the session's own.
pub(crate) fn start(inner: &mut crate::Inner, session: &mut Value, price: &str) -> Vec<(String, Value)> {
    let Some((amount, currency, months)) = recurring(inner, price) else { return Vec::new() };
    inner.counter += 1;
    let customer =
        session["customer"].as_str().map(str::to_string).unwrap_or_else(|| format!("cus_standin_{:06}", inner.counter));
    let id = format!("sub_standin_{:06}", inner.counter);
    let now = inner.clock();
    let metadata =
        inner.subscription_metadata.get(session["id"].as_str().unwrap_or_default()).cloned().unwrap_or(json!({}));
    let object = subscription_object(&id, &customer, &metadata, (now, now + months * MONTH), price);
    let sub = Sub { object, price: price.to_string(), amount, currency, months, invoices: 1, failed_attempts: 0 };
    let invoice = invoice_object(inner, &sub, true, None);
    session["customer"] = json!(customer);
    session["subscription"] = json!(id);
    session["invoice"] = invoice["id"].clone();
    // As Stripe: made incomplete, then its first invoice paid, then active.
    let mut created = sub.object.clone();
    created["status"] = json!("incomplete");
    let active = sub.object.clone();
    inner.customers.entry(customer).or_default();
    inner.subscriptions.insert(id, sub);
    vec![
        ("customer.subscription.created".into(), created),
        ("invoice.paid".into(), invoice),
        ("customer.subscription.updated".into(), active),
    ]
}

/// Sends events after answering, as Stripe does (or keeps them back while events are held).
fn after_answer(shared: &Shared, events: Vec<(String, Value)>) {
    if let Some(held) = shared.lock().unwrap().held.as_mut() {
        held.extend(events);
        return;
    }
    let shared = shared.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        for (kind, object) in events {
            send_event(&shared, &kind, object).await;
        }
    });
}

/// `POST /v1/subscriptions/{id}`: `pause_collection` (set, or unset when sent empty),
/// `cancel_at_period_end`, and an item's price (`proration_behavior=none`: from the next
/// renewal).
pub(crate) async fn update_subscription(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if !authorised(&headers) {
        return no_key();
    }
    let form = form_pairs(&body);
    let field = |k: &str| form.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    record(&shared, format!("POST /v1/subscriptions/{id}"), &form, &headers);
    let object = {
        let mut inner = shared.lock().unwrap();
        let known_price = field("items[0][price]").is_none_or(|p| inner.prices.contains_key(&p));
        let Some(sub) = inner.subscriptions.get_mut(&id) else { return missing("subscription", &id) };
        if sub.object["status"] == "canceled" {
            return invalid("A canceled subscription can only update its cancellation_details and metadata.", None);
        }
        if !known_price {
            return invalid("No such price.", Some("items[0][price]"));
        }
        let item = sub.object["items"]["data"][0]["id"].clone();
        if field("items[0][id]").is_some_and(|i| item != i.as_str()) {
            return invalid("No such subscription item.", Some("items[0][id]"));
        }
        let o = &mut sub.object;
        match field("pause_collection").as_deref() {
            Some("") => o["pause_collection"] = Value::Null,
            Some(_) => return invalid("Invalid pause_collection.", Some("pause_collection")),
            None => {}
        }
        if let Some(behavior) = field("pause_collection[behavior]") {
            let resumes = field("pause_collection[resumes_at]").and_then(|r| r.parse::<i64>().ok());
            o["pause_collection"] = json!({ "behavior": behavior, "resumes_at": resumes });
        }
        if let Some(end) = field("cancel_at_period_end") {
            let end = end == "true";
            o["cancel_at_period_end"] = json!(end);
            o["cancel_at"] = if end { o["items"]["data"][0]["current_period_end"].clone() } else { Value::Null };
        }
        if let Some(price) = field("items[0][price]") {
            o["items"]["data"][0]["price"] = json!({ "id": price });
            let amount = inner.prices.get(&price).and_then(|p| p["unit_amount"].as_i64());
            let sub = inner.subscriptions.get_mut(&id).expect("looked up above");
            sub.amount = amount.unwrap_or(sub.amount);
            sub.price = price;
        }
        inner.subscriptions[&id].object.clone()
    };
    after_answer(&shared, vec![("customer.subscription.updated".into(), object.clone())]);
    Json(object).into_response()
}

/// `GET /v1/subscriptions/{id}`.
pub(crate) async fn retrieve_subscription(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if !authorised(&headers) {
        return no_key();
    }
    record(&shared, format!("GET /v1/subscriptions/{id}"), &[], &headers);
    match shared.lock().unwrap().subscriptions.get(&id) {
        Some(sub) => Json(sub.object.clone()).into_response(),
        None => missing("subscription", &id),
    }
}

/// `DELETE /v1/subscriptions/{id}`: cancelled now.
pub(crate) async fn cancel_subscription(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if !authorised(&headers) {
        return no_key();
    }
    let form = form_pairs(&body);
    record(&shared, format!("DELETE /v1/subscriptions/{id}"), &form, &headers);
    let object = {
        let mut inner = shared.lock().unwrap();
        let now = inner.clock();
        let Some(sub) = inner.subscriptions.get_mut(&id) else { return missing("subscription", &id) };
        if sub.object["status"] == "canceled" {
            return invalid(&format!("No such subscription: '{id}'"), None);
        }
        sub.object["status"] = json!("canceled");
        sub.object["canceled_at"] = json!(now);
        sub.object.clone()
    };
    after_answer(&shared, vec![("customer.subscription.deleted".into(), object.clone())]);
    Json(object).into_response()
}

/// `POST /v1/subscriptions/{id}/resume`: a subscription in Stripe's `paused` status runs again.
/// As Stripe's defaults do, without `billing_cycle_anchor=unchanged` the cycle restarts now
/// and a whole period is charged at once.
pub(crate) async fn resume_subscription(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if !authorised(&headers) {
        return no_key();
    }
    let form = form_pairs(&body);
    let field = |k: &str| form.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    record(&shared, format!("POST /v1/subscriptions/{id}/resume"), &form, &headers);
    let (object, events) = {
        let mut inner = shared.lock().unwrap();
        let Some(sub) = inner.subscriptions.get(&id).cloned() else { return missing("subscription", &id) };
        if sub.object["status"] != "paused" {
            return invalid("Only a paused subscription can be resumed.", None);
        }
        let mut sub = sub;
        sub.object["status"] = json!("active");
        let mut events = Vec::new();
        if field("billing_cycle_anchor").as_deref() != Some("unchanged") {
            let now = inner.clock();
            let item = &mut sub.object["items"]["data"][0];
            item["current_period_start"] = json!(now);
            item["current_period_end"] = json!(now + sub.months * MONTH);
            sub.invoices += 1;
            let invoice = invoice_object(&mut inner, &sub, true, None);
            events.push(("invoice.paid".to_string(), invoice));
        }
        events.push(("customer.subscription.resumed".to_string(), sub.object.clone()));
        inner.subscriptions.insert(id.clone(), sub.clone());
        (sub.object, events)
    };
    after_answer(&shared, events);
    Json(object).into_response()
}

/// `POST /v1/billing_portal/sessions`: the customer's portal, on the stand-in's origin.
pub(crate) async fn create_portal(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !authorised(&headers) {
        return no_key();
    }
    let form = form_pairs(&body);
    let field = |k: &str| form.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    record(&shared, "POST /v1/billing_portal/sessions".into(), &form, &headers);
    let mut inner = shared.lock().unwrap();
    let Some(customer) = field("customer") else {
        return invalid("Missing required param: customer.", Some("customer"));
    };
    if !inner.customers.contains_key(&customer) {
        return missing("customer", &customer);
    }
    inner.counter += 1;
    let id = format!("bps_standin_{:06}", inner.counter);
    let session = json!({
        "id": id, "object": "billing_portal.session", "customer": customer, "livemode": false,
        "created": objects::now(), "return_url": field("return_url"),
        "url": format!("{}/p/session/{id}", inner.origin),
    });
    inner.portal_sessions.insert(id, session.clone());
    Json(session).into_response()
}

/// The portal's hosted page: mend the card.
pub(crate) async fn portal_page(State(shared): State<Shared>, Path(id): Path<String>) -> Response {
    let Some(session) = shared.lock().unwrap().portal_sessions.get(&id).cloned() else {
        return (StatusCode::NOT_FOUND, axum::response::Html("<h1>No such portal session</h1>")).into_response();
    };
    let back = html_escape(session["return_url"].as_str().unwrap_or("/"));
    axum::response::Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Billing — Stripe stand-in</title></head><body>\
         <main><h1>Stripe stand-in billing portal</h1><p>Customer {}</p>\
         <form method=\"post\"><button type=\"submit\">Update the card</button></form><p><a href=\"{back}\">Back</a></p></main></body></html>",
        html_escape(session["customer"].as_str().unwrap_or(""))
    ))
    .into_response()
}

/// The portal's card is mended: it pays from now on, and what is owed is paid now.
pub(crate) async fn portal_mend(State(shared): State<Shared>, Path(id): Path<String>) -> Response {
    let Some(session) = shared.lock().unwrap().portal_sessions.get(&id).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let customer = session["customer"].as_str().unwrap_or_default().to_string();
    let owing: Vec<String> = {
        let mut inner = shared.lock().unwrap();
        if let Some(c) = inner.customers.get_mut(&customer) {
            c.declines = false;
        }
        inner
            .subscriptions
            .iter()
            .filter(|(_, s)| s.object["customer"] == customer.as_str() && s.object["status"] == "past_due")
            .map(|(id, _)| id.clone())
            .collect()
    };
    let standin = StripeStandIn { url: String::new(), inner: shared.clone() };
    for sub in owing {
        standin.retry(&sub).await;
    }
    let back = session["return_url"].as_str().unwrap_or("/").to_string();
    (StatusCode::SEE_OTHER, [(axum::http::header::LOCATION, back)]).into_response()
}

/// A customer's card, as the stand-in keeps it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Customer {
    pub declines: bool,
}

impl StripeStandIn {
    /// A subscription as Stripe shows it.
    pub fn subscription(&self, id: &str) -> Value {
        self.inner.lock().unwrap().subscriptions.get(id).map(|s| s.object.clone()).unwrap_or(Value::Null)
    }

    /// The prices made so far.
    pub fn prices(&self) -> Vec<Value> {
        self.inner.lock().unwrap().prices.values().cloned().collect()
    }

    /// The subscriptions made so far, by id.
    pub fn subscriptions(&self) -> Vec<String> {
        self.inner.lock().unwrap().subscriptions.keys().cloned().collect()
    }

    /// Stripe pauses the subscription itself (its `paused` status, as from the Dashboard or
    /// after a trial without a card), and says so; the service's status.
    pub async fn pause_at_stripe(&self, id: &str) -> u16 {
        let object = {
            let mut inner = self.inner.lock().unwrap();
            let Some(sub) = inner.subscriptions.get_mut(id) else { return 0 };
            sub.object["status"] = json!("paused");
            sub.object.clone()
        };
        send_event(&self.inner, "customer.subscription.paused", object).await
    }

    /// From now on the customer's card declines (or pays again).
    pub fn card_declines(&self, customer: &str, declines: bool) {
        self.inner.lock().unwrap().customers.entry(customer.to_string()).or_default().declines = declines;
    }

    /// A subscription's period ends: it renews (its invoice paid, or failed when the card
    /// declines; voided while collection is paused), or ends when it was to end with the
    /// period. The statuses the service answered the events with.
    pub async fn renew(&self, id: &str) -> Vec<u16> {
        let events = {
            let mut inner = self.inner.lock().unwrap();
            let Some(mut sub) = inner.subscriptions.get(id).cloned() else { return Vec::new() };
            if sub.object["status"] == "canceled" {
                return Vec::new();
            }
            let end = sub.object["items"]["data"][0]["current_period_end"].as_i64().unwrap_or_default();
            // Stripe renews when the period ends: its clock is there from now on.
            inner.clock_ahead = inner.clock_ahead.max(end - objects::now());
            if sub.object["cancel_at_period_end"] == true {
                sub.object["status"] = json!("canceled");
                sub.object["canceled_at"] = json!(end);
                let object = sub.object.clone();
                inner.subscriptions.insert(id.to_string(), sub);
                vec![("customer.subscription.deleted".to_string(), object)]
            } else {
                let item = &mut sub.object["items"]["data"][0];
                item["current_period_start"] = json!(end);
                item["current_period_end"] = json!(end + sub.months * MONTH);
                sub.invoices += 1;
                let paused = sub.object["pause_collection"].is_object();
                let declines = inner
                    .customers
                    .get(sub.object["customer"].as_str().unwrap_or_default())
                    .is_some_and(|c| c.declines);
                let mut events = Vec::new();
                if paused {
                    // `void`: the period's invoice is voided, nothing is charged.
                } else if declines {
                    sub.failed_attempts = 1;
                    sub.object["status"] = json!("past_due");
                    let retry_at = inner.clock() + RETRY_DAYS[0] * 86_400;
                    let invoice = invoice_object(&mut inner, &sub, false, Some(retry_at));
                    inner.open_invoices.insert(id.to_string(), invoice.clone());
                    events.push(("invoice.payment_failed".to_string(), invoice));
                } else {
                    sub.failed_attempts = 0;
                    events.push(("invoice.paid".to_string(), invoice_object(&mut inner, &sub, true, None)));
                }
                events.push(("customer.subscription.updated".to_string(), sub.object.clone()));
                inner.subscriptions.insert(id.to_string(), sub);
                events
            }
        };
        let mut statuses = Vec::new();
        for (kind, object) in events {
            statuses.push(send_event(&self.inner, &kind, object).await);
        }
        statuses
    }

    /// Stripe tries a past-due subscription's open invoice again: paid when the card pays, else
    /// failed again, and after the last attempt the subscription is cancelled. The statuses.
    pub async fn retry(&self, id: &str) -> Vec<u16> {
        let events = {
            let mut inner = self.inner.lock().unwrap();
            let Some(mut sub) = inner.subscriptions.get(id).cloned() else { return Vec::new() };
            let Some(open) = inner.open_invoices.get(id).cloned() else { return Vec::new() };
            if sub.object["status"] != "past_due" {
                return Vec::new();
            }
            let declines =
                inner.customers.get(sub.object["customer"].as_str().unwrap_or_default()).is_some_and(|c| c.declines);
            let mut invoice = open;
            let mut events = Vec::new();
            if !declines {
                inner.open_invoices.remove(id);
                invoice["status"] = json!("paid");
                invoice["amount_paid"] = invoice["amount_due"].clone();
                invoice["attempt_count"] = json!(sub.failed_attempts + 1);
                invoice["next_payment_attempt"] = Value::Null;
                sub.failed_attempts = 0;
                sub.object["status"] = json!("active");
                events.push(("invoice.paid".to_string(), invoice));
            } else if (sub.failed_attempts as usize) < RETRY_DAYS.len() {
                sub.failed_attempts += 1;
                let next = inner.clock() + RETRY_DAYS[sub.failed_attempts as usize - 1] * 86_400;
                invoice["attempt_count"] = json!(sub.failed_attempts);
                invoice["next_payment_attempt"] = json!(next);
                inner.open_invoices.insert(id.to_string(), invoice.clone());
                events.push(("invoice.payment_failed".to_string(), invoice));
            } else {
                sub.failed_attempts += 1;
                invoice["attempt_count"] = json!(sub.failed_attempts);
                invoice["next_payment_attempt"] = Value::Null;
                inner.open_invoices.remove(id);
                sub.object["status"] = json!("canceled");
                sub.object["canceled_at"] = json!(inner.clock());
                events.push(("invoice.payment_failed".to_string(), invoice));
            }
            let kind = if sub.object["status"] == "canceled" {
                "customer.subscription.deleted"
            } else {
                "customer.subscription.updated"
            };
            events.push((kind.to_string(), sub.object.clone()));
            inner.subscriptions.insert(id.to_string(), sub);
            events
        };
        let mut statuses = Vec::new();
        for (kind, object) in events {
            statuses.push(send_event(&self.inner, &kind, object).await);
        }
        statuses
    }
}
