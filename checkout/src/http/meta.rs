//! The service's own routes: its health, and its OpenAPI document.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::db::Engine;
use crate::error::{ApiResult, ErrorBody};
use crate::AppState;

/// The service's own routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_health))
        .routes(routes!(get_openapi))
        .routes(routes!(super::metrics::get_metrics))
}

/// The service's routes the CDN must not hand to the service (`netlify.toml` leaves them out;
/// a test checks it): what is for the operators' own scraper.
pub const NOT_PROXIED: &[&str] = &["/metrics"];

/// A message waiting longer than this means the outbox is stuck (the mail server refuses, or
/// no instance runs the worker).
pub const OUTBOX_STUCK_SECONDS: i64 = 15 * 60;
/// A database slower than this to answer a ping makes the service degraded.
pub const DATABASE_SLOW_MS: u128 = 500;

/// How the service is.
#[derive(Serialize, utoipa::ToSchema)]
struct Health {
    /// `ok`, or `degraded` when something below is wrong (the service still answers).
    status: &'static str,
    /// What is wrong, for people: empty when `ok`.
    problems: Vec<String>,
    /// `sqlite` or `postgres`.
    database: &'static str,
    /// How long the database took to answer, in milliseconds.
    database_ms: u64,
    /// `sandbox` or `stripe`.
    payments: &'static str,
}

/// Health of the service, its database and its outbox: `degraded` when the database is slow
/// or a message has waited too long.
#[utoipa::path(get, path = "/api/health", tag = "service",
    responses(
        (status = 200, description = "The service answers: `ok`, or `degraded` with what is wrong.", body = Health),
        (status = 500, description = "The database does not answer.", body = ErrorBody),
    ))]
async fn get_health(State(state): State<AppState>) -> ApiResult<Json<Health>> {
    let started = std::time::Instant::now();
    state.db.ping().await?;
    let elapsed = started.elapsed().as_millis();
    let outbox = crate::notify::health(&state.db).await?;
    let database = match state.db.engine {
        Engine::Sqlite => "sqlite",
        Engine::Postgres => "postgres",
    };
    let mut problems = Vec::new();
    if elapsed > DATABASE_SLOW_MS {
        problems.push(format!("the database took {elapsed} ms to answer (more than {DATABASE_SLOW_MS} ms)"));
    }
    if outbox.oldest_pending_seconds > OUTBOX_STUCK_SECONDS {
        problems.push(format!(
            "the oldest of {} e-mails waiting has waited {} minutes (more than {})",
            outbox.pending,
            outbox.oldest_pending_seconds / 60,
            OUTBOX_STUCK_SECONDS / 60
        ));
    }
    Ok(Json(Health {
        status: if problems.is_empty() { "ok" } else { "degraded" },
        problems,
        database,
        database_ms: elapsed as u64,
        payments: state.payments.name(),
    }))
}

/// The OpenAPI description of every route, generated from the code.
#[utoipa::path(get, path = "/api/openapi.json", tag = "service",
    responses((status = 200, description = "This document.", content_type = "application/json")))]
async fn get_openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], crate::openapi_json())
}
