//! `/metrics` for Prometheus (the OpenMetrics text format): requests by route, method and
//! status, their latency by route, webhook deliveries refused or failed, the cart writer's batch
//! sizes, and the outbox's depth, oldest wait and messages given up on (read at each scrape).
//! Closed unless `METRICS_TOKEN` is set, and then only to `Authorization: Bearer` that token;
//! the CDN does not proxy it ([`super::meta::NOT_PROXIED`]). Requests are counted by the one
//! guard every request passes ([`super::guard::guard`]), only when metrics are on.

use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// A request's labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: u16,
}

/// A route's labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: &'static str,
}

/// Why a webhook delivery was not applied.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WebhookLabels {
    reason: &'static str,
}

fn latency_histogram() -> Histogram {
    Histogram::new([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0])
}

/// The process's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    webhook_failures: Family<WebhookLabels, Counter>,
    cart_batch: Histogram,
    outbox_pending: Gauge,
    outbox_oldest: Gauge,
    outbox_failed: Gauge,
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("atelier");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let webhook_failures = Family::<WebhookLabels, Counter>::default();
        let cart_batch = Histogram::new([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]);
        let (outbox_pending, outbox_oldest, outbox_failed) = (Gauge::default(), Gauge::default(), Gauge::default());
        registry.register("http_requests", "Requests answered, by route, method and status", requests.clone());
        registry.register("http_request_duration_seconds", "Time to answer, by route and method", latency.clone());
        registry.register(
            "webhook_failures",
            "Webhook deliveries not applied: bad signature, unreadable, or failed while applying",
            webhook_failures.clone(),
        );
        registry.register("cart_writer_batch_edits", "Cart edits written together in one batch", cart_batch.clone());
        registry.register("outbox_pending", "E-mails waiting to be sent", outbox_pending.clone());
        registry.register(
            "outbox_oldest_pending_seconds",
            "How long the oldest waiting e-mail has waited",
            outbox_oldest.clone(),
        );
        registry.register("outbox_failed", "E-mails given up on", outbox_failed.clone());
        Metrics {
            registry,
            requests,
            latency,
            webhook_failures,
            cart_batch,
            outbox_pending,
            outbox_oldest,
            outbox_failed,
        }
    }
}

/// The process's metrics, made on first use.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// A webhook delivery was refused (`signature`, `bad_request`) or failed (`internal`).
pub fn webhook_failed(reason: &'static str) {
    metrics().webhook_failures.get_or_create(&WebhookLabels { reason }).inc();
}

/// The cart writer wrote a batch of `edits`.
pub fn cart_batch(edits: usize) {
    metrics().cart_batch.observe(edits as f64);
}

/// A method as a label: the few the service answers, or `other` (a label's values stay few).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Each route's counters and timers, kept by each thread once made (by method and status): a
/// request costs a lookup by its route's text, no allocation and no shared lock but the
/// timer's.
type Handles = std::collections::HashMap<String, Vec<(&'static str, u16, Counter, Histogram)>>;

thread_local! {
    static HANDLES: std::cell::RefCell<Handles> = std::cell::RefCell::new(Handles::new());
}

/// Counts and times a request by the route it matched (`unmatched` for the rest, so that a
/// scan of made-up paths cannot grow the labels).
pub fn request(route: Option<&str>, method: &Method, status: u16, took: Duration) {
    let route = route.unwrap_or("unmatched");
    let method = method_label(method);
    HANDLES.with(|cell| {
        let mut handles = cell.borrow_mut();
        if !handles.contains_key(route) {
            handles.insert(route.to_owned(), Vec::new());
        }
        let Some(kinds) = handles.get_mut(route) else { return };
        let at = match kinds.iter().position(|(m, s, ..)| *m == method && *s == status) {
            Some(at) => at,
            None => {
                let m = metrics();
                let counter =
                    m.requests.get_or_create_owned(&RequestLabels { route: route.to_owned(), method, status });
                let timer = m.latency.get_or_create_owned(&RouteLabels { route: route.to_owned(), method });
                kinds.push((method, status, counter, timer));
                kinds.len() - 1
            }
        };
        let (_, _, counter, timer) = &kinds[at];
        counter.inc();
        timer.observe(took.as_secs_f64());
    });
}

/// Whether the request carries the metrics token (compared in constant time).
fn authorised(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = state.config.metrics_token.as_ref() else {
        return Err(ApiError::NotFound("metrics are off: set METRICS_TOKEN to open /metrics".into()));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let want = token.expose().as_bytes();
    let same = given.len() == want.len() && given.bytes().zip(want).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0;
    if same {
        Ok(())
    } else {
        Err(ApiError::Unauthorized("send Authorization: Bearer with the metrics token".into()))
    }
}

/// The metrics, for Prometheus.
#[utoipa::path(get, path = "/metrics", tag = "service",
    security(("metrics_token" = [])),
    responses(
        (status = 200, description = "The metrics, OpenMetrics text.", content_type = "application/openmetrics-text"),
        (status = 401, description = "No token, or not the metrics token.", content_type = "application/json"),
        (status = 404, description = "Metrics are off (no METRICS_TOKEN).", content_type = "application/json"),
    ))]
pub(super) async fn get_metrics(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    authorised(&state, &headers)?;
    let m = metrics();
    let outbox = crate::notify::health(&state.db).await?;
    m.outbox_pending.set(outbox.pending);
    m.outbox_oldest.set(outbox.oldest_pending_seconds);
    m.outbox_failed.set(outbox.failed);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &m.registry)
        .map_err(|e| ApiError::Internal(format!("encoding the metrics: {e}")))?;
    Ok(([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text).into_response())
}
