//! The console's stock pages: every size's level and forecast, a size's ledger, and setting or
//! adjusting what is on the shelf with a reason.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use serde::Deserialize;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::guard::Staff;
use super::http::{console, console_after, when};
use super::permissions::Permission;
use crate::error::{ApiError, ApiResult};
use crate::http::ApiForm;
use crate::stock::{self, forecast, Change, ChangeError};
use crate::AppState;

/// The stock pages' routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stock_page)).routes(routes!(size_page, size_change))
}

/// The stock list's filter.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct StockQuery {
    /// `1`: only sizes that are low, sold out, or should be reordered.
    #[serde(default)]
    low: Option<String>,
}

fn days(d: Option<f64>) -> String {
    match d {
        None => "—".into(),
        Some(d) if d >= 999.0 => "999+".into(),
        Some(d) => format!("{d:.0}"),
    }
}

/// Every size: on hand, reserved, available, sales over 30 and 90 days, days of cover and what
/// to reorder.
#[utoipa::path(get, path = "/staff/stock", tag = "staff", params(StockQuery),
    security(("staff_session" = ["stock.view"])),
    responses((status = 200, description = "The stock.", content_type = "text/html")))]
async fn stock_page(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Query(q): Query<StockQuery>,
) -> ApiResult<Response> {
    let low = q.low.as_deref() == Some("1");
    let rows: Vec<_> = forecast::overview(&state.db, crate::ids::now())
        .await?
        .into_iter()
        .filter(|r| !low || r.status != "in_stock" || r.reorder > 0)
        .map(|r| {
            json!({
                "sku": r.sku, "title": r.title, "label": r.label, "on_hand": r.on_hand, "reserved": r.reserved,
                "available": r.available, "status": r.status, "sold_30": r.sold_30, "sold_90": r.sold_90,
                "per_day": format!("{:.1}", r.per_day), "cover": days(r.cover_days), "on_order": r.on_order, "reorder": r.reorder,
            })
        })
        .collect();
    let ctx = json!({
        "rows": rows, "low": low, "lead_days": forecast::LEAD_DAYS, "safety_days": forecast::SAFETY_DAYS,
        "may_adjust": staff.may(Permission::StockAdjust),
    });
    Ok(console(&state, &staff, "Stock", "pages/staff/stock.html", ctx))
}

async fn size_view(
    state: &AppState,
    staff: &Staff,
    sku: &str,
    flash: Option<&str>,
    error: Option<ApiError>,
) -> ApiResult<Response> {
    let now = crate::ids::now();
    let row = forecast::overview(&state.db, now).await?.into_iter().find(|r| r.sku == sku);
    let Some(row) = row else { return Err(ApiError::NotFound(format!("no size {sku} on sale"))) };
    let ledger: Vec<_> = forecast::ledger(&state.db, sku, 100)
        .await?
        .into_iter()
        .map(|e| json!({ "when": when(e.at), "delta": format!("{:+}", e.delta), "after": e.on_hand_after, "reason": e.reason, "who": e.actor_label }))
        .collect();
    let title = format!("{}, {}", row.title, row.label);
    let ctx = json!({
        "row": row, "cover": days(row.cover_days), "per_day": format!("{:.1}", row.per_day), "ledger": ledger,
        "flash": flash, "may_adjust": staff.may(Permission::StockAdjust),
    });
    Ok(console_after(state, staff, &title, "pages/staff/stock_size.html", ctx, error))
}

/// A size: its level, forecast and ledger, and the form to change what is on the shelf.
#[utoipa::path(get, path = "/staff/stock/{sku}", tag = "staff",
    params(("sku" = String, Path, description = "The size's SKU.")),
    security(("staff_session" = ["stock.view"])),
    responses(
        (status = 200, description = "The size.", content_type = "text/html"),
        (status = 404, description = "No such size on sale.", content_type = "application/json"),
    ))]
async fn size_page(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(sku): Path<String>,
) -> ApiResult<Response> {
    size_view(&state, &staff, &sku, None, None).await
}

/// A change of what is on the shelf.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct ChangeInput {
    /// `set` (the count is this) or `adjust` (add this, negative to take away).
    how: String,
    /// Bottles.
    quantity: String,
    /// Why: a count, breakage, a delivery.
    #[serde(default)]
    reason: String,
}

/// Sets or adjusts the bottles on hand, with a reason (a ledger row and an audit row).
#[utoipa::path(post, path = "/staff/stock/{sku}", tag = "staff",
    params(("sku" = String, Path, description = "The size's SKU.")),
    request_body(content = ChangeInput, content_type = "application/x-www-form-urlencoded"),
    security(("staff_session" = ["stock.adjust"])),
    responses(
        (status = 303, description = "Changed: back to the size."),
        (status = 404, description = "No such size.", content_type = "application/json"),
        (status = 409, description = "The size's page again: below zero or below what checkouts hold.", content_type = "text/html"),
        (status = 422, description = "The size's page again: what to correct.", content_type = "text/html"),
    ))]
async fn size_change(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(sku): Path<String>,
    ApiForm(input): ApiForm<ChangeInput>,
) -> ApiResult<Response> {
    let Ok(n) = input.quantity.trim().trim_start_matches('+').parse::<i64>() else {
        let e = ApiError::invalid("quantity", format!("“{}” is not a whole number of bottles", input.quantity.trim()));
        return size_view(&state, &staff, &sku, None, Some(e)).await;
    };
    let change = match input.how.as_str() {
        "set" => Change::Set(n),
        "adjust" => Change::Adjust(n),
        _ => {
            let e = ApiError::invalid("how", "choose to set the count or to adjust it");
            return size_view(&state, &staff, &sku, None, Some(e)).await;
        }
    };
    match stock::change(&state.db, &sku, change, &input.reason, &staff.actor()).await {
        Ok(_) => Ok(Redirect::to(&format!("/staff/stock/{sku}")).into_response()),
        Err(ChangeError::NotFound(s)) => Err(ApiError::NotFound(format!("no size {s}"))),
        Err(e @ (ChangeError::Below(_) | ChangeError::NoReason)) => {
            size_view(&state, &staff, &sku, None, Some(e.into())).await
        }
        Err(ChangeError::Database(e)) => Err(e.into()),
    }
}
