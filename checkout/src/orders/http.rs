//! An order for the holder of its signed link: as JSON, and as the page that follows it until
//! it is paid.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{links, OrderStatus, OrderView};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::page::{message, page};
use crate::AppState;

/// The order routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_order)).routes(routes!(order_page))
}

/// The token of an order's link.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct TokenQuery {
    /// The token from the order's link (in the confirmation e-mail).
    #[serde(default)]
    token: String,
}

async fn order_for(state: &AppState, order_id: &str, token: &str) -> ApiResult<OrderView> {
    let not_found = || ApiError::NotFound("no order at this address; check the link in your e-mail".into());
    if !links::token_matches(&state.keys.link, order_id, token) {
        return Err(not_found());
    }
    super::load(&state.db, order_id).await?.ok_or_else(not_found)
}

/// An order, for the holder of its signed link.
#[utoipa::path(get, path = "/api/orders/{order_id}", tag = "orders",
    params(("order_id" = String, Path, description = "The order's id, `ord_…`."), TokenQuery),
    responses(
        (status = 200, description = "The order.", body = OrderView),
        (status = 404, description = "No order at this address, or the token does not open it.", body = ErrorBody),
    ))]
async fn get_order(
    State(state): State<AppState>,
    Path(order_id): Path<String>,
    Query(q): Query<TokenQuery>,
) -> ApiResult<Json<OrderView>> {
    Ok(Json(order_for(&state, &order_id, &q.token).await?))
}

/// The order page that follows an order until it is paid.
#[utoipa::path(get, path = "/orders/{order_id}", tag = "pages",
    params(("order_id" = String, Path, description = "The order's id, `ord_…`."), TokenQuery),
    responses(
        (status = 200, description = "The order's page.", content_type = "text/html"),
        (status = 404, description = "No order at this address.", content_type = "text/html"),
    ))]
async fn order_page(
    State(state): State<AppState>,
    Path(order_id): Path<String>,
    Query(q): Query<TokenQuery>,
) -> ApiResult<Response> {
    match order_for(&state, &order_id, &q.token).await {
        Ok(order) => {
            let pending = order.status == OrderStatus::PendingPayment;
            let title = format!("Order {}", order.number);
            let mut res =
                page(&state, &title, "pages/order.html", serde_json::json!({ "order": order, "refresh": pending }))
                    .into_response();
            if pending {
                // Follows the order until the payment's webhook lands (no script needed).
                res.headers_mut().insert(header::REFRESH, HeaderValue::from_static("3"));
            }
            Ok(res)
        }
        Err(ApiError::NotFound(m)) => {
            Ok(message(&state, StatusCode::NOT_FOUND, "Order not found", &m, ("/", "Back to the atelier")))
        }
        Err(e) => Err(e),
    }
}
