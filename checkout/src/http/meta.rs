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
    OpenApiRouter::new().routes(routes!(get_health)).routes(routes!(get_openapi))
}

/// How the service is.
#[derive(Serialize, utoipa::ToSchema)]
struct Health {
    /// `ok` when the database answers.
    status: &'static str,
    /// `sqlite` or `postgres`.
    database: &'static str,
    /// `sandbox` or `stripe`.
    payments: &'static str,
}

/// Health of the service and its database.
#[utoipa::path(get, path = "/api/health", tag = "service",
    responses(
        (status = 200, description = "The service and its database answer.", body = Health),
        (status = 500, description = "The database does not answer.", body = ErrorBody),
    ))]
async fn get_health(State(state): State<AppState>) -> ApiResult<Json<Health>> {
    state.db.ping().await?;
    let database = match state.db.engine {
        Engine::Sqlite => "sqlite",
        Engine::Postgres => "postgres",
    };
    Ok(Json(Health { status: "ok", database, payments: state.payments.name() }))
}

/// The OpenAPI description of every route, generated from the code.
#[utoipa::path(get, path = "/api/openapi.json", tag = "service",
    responses((status = 200, description = "This document.", content_type = "application/json")))]
async fn get_openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], crate::openapi_json())
}
