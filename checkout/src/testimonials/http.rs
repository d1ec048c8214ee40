//! The approved testimonials, for the site's production build.

use axum::extract::State;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{shown, Shown};
use crate::error::ApiResult;
use crate::AppState;

/// The testimonials routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_testimonials))
}

/// The approved testimonials as the home page shows them, featured first
/// (`atelier build --testimonials-from` writes them to `data/testimonials.json`).
#[utoipa::path(get, path = "/api/testimonials", tag = "content",
    responses((status = 200, description = "The approved testimonials.", body = Vec<Shown>)))]
async fn get_testimonials(State(state): State<AppState>) -> ApiResult<Json<Vec<Shown>>> {
    Ok(Json(shown(&state.db).await?))
}
