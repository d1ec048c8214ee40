//! Stock levels for the pages' badges.

use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::AppState;

/// The stock routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_stock))
}

// The answer is joined from members rendered once per refresh (see `LevelCache`); these types
// describe it for the document.

/// A size's level as the badges show it.
#[allow(dead_code)]
#[derive(Serialize, utoipa::ToSchema)]
struct Badge {
    /// Bottles that can be bought now.
    available: i64,
    /// `in_stock`, `low_stock` or `sold_out`.
    #[schema(pattern = "^(in_stock|low_stock|sold_out)$")]
    status: String,
}

/// Levels by SKU.
#[allow(dead_code)]
#[derive(Serialize, utoipa::ToSchema)]
struct Levels {
    /// Each asked-for (or every) active SKU's level.
    items: std::collections::BTreeMap<String, Badge>,
}

/// Stock levels, cacheable for a few seconds (pages refresh their badges from it).
#[utoipa::path(get, path = "/api/stock", tag = "stock", params(("sku" = Option<Vec<String>>, Query, description = "A size's SKU; repeat for several (at most 200); none for every active size.")),
    responses(
        (status = 200, description = "The levels.", body = Levels),
        (status = 400, description = "More than 200 SKUs asked for.", body = ErrorBody),
    ))]
async fn get_stock(State(state): State<AppState>, Query(query): Query<Vec<(String, String)>>) -> ApiResult<Response> {
    let skus: Vec<String> = query.into_iter().filter(|(k, _)| k == "sku").map(|(_, v)| v).collect();
    if skus.len() > 200 {
        return Err(ApiError::BadRequest("ask for at most 200 SKUs at once".into()));
    }
    let levels = state.levels.levels(&state.db).await?;
    // The members are rendered once per refresh; a request only joins the ones it asks for.
    let mut body = String::from("{\"items\":{");
    let mut first = true;
    for (_, _, member) in levels.iter().filter(|(sku, _, _)| skus.is_empty() || skus.contains(sku)) {
        if !first {
            body.push(',');
        }
        body.push_str(member);
        first = false;
    }
    body.push_str("}}");
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=10")),
        ],
        body,
    )
        .into_response())
}
