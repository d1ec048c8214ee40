//! The console's purchasing pages: suppliers, purchase orders drafted from the stock's reorder
//! suggestions, sent, received (each delivery added to the stock through its ledger) or
//! cancelled.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use serde::Deserialize;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::guard::Staff;
use super::http::{console_after, when, Done};
use super::permissions::Permission;
use crate::error::{ApiError, ApiResult};
use crate::http::ApiForm;
use crate::stock::forecast;
use crate::stock::purchasing::{self, PoState};
use crate::AppState;

/// The purchasing pages' routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_page, draft_po))
        .routes(routes!(add_supplier))
        .routes(routes!(new_page))
        .routes(routes!(po_page))
        .routes(routes!(po_action))
}

async fn list_view(
    state: &AppState,
    staff: &Staff,
    flash: Option<&str>,
    error: Option<ApiError>,
    typed: serde_json::Value,
) -> ApiResult<Response> {
    let orders: Vec<_> = purchasing::list(&state.db, 200)
        .await?
        .into_iter()
        .map(|po| {
            let ordered: i64 = po.lines.iter().map(|l| l.ordered).sum();
            let received: i64 = po.lines.iter().map(|l| l.received).sum();
            json!({
                "number": po.number, "supplier": po.supplier.name, "state": po.state, "state_label": po.state_label,
                "created": when(po.created_at), "ordered": ordered, "received": received,
                "expected": po.expected_at.filter(|_| matches!(po.state, PoState::Sent | PoState::PartlyReceived)).map(when),
            })
        })
        .collect();
    let ctx = json!({
        "orders": orders,
        "suppliers": purchasing::suppliers(&state.db).await?,
        "may_adjust": staff.may(Permission::StockAdjust),
        "flash": flash,
        "typed": typed,
    });
    let template = "pages/staff/purchase_orders.html";
    Ok(console_after(state, staff, "Purchase orders", template, ctx, error))
}

/// Purchase orders (open ones first) and suppliers.
#[utoipa::path(get, path = "/staff/purchase-orders", tag = "staff", params(Done),
    security(("staff_session" = ["stock.view"])),
    responses((status = 200, description = "Purchase orders and suppliers.", content_type = "text/html")))]
async fn list_page(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Query(done): Query<Done>,
) -> ApiResult<Response> {
    let flash = (done.done.as_deref() == Some("supplier")).then_some("Supplier added.");
    list_view(&state, &staff, flash, None, json!({})).await
}

/// A new supplier.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct SupplierInput {
    /// Their name.
    #[serde(default)]
    name: String,
    /// Where purchase orders are e-mailed (may be empty).
    #[serde(default)]
    email: String,
    /// Days they usually take to deliver.
    #[serde(default)]
    lead_days: String,
}

/// Adds a supplier.
#[utoipa::path(post, path = "/staff/suppliers", tag = "staff",
    request_body(content = SupplierInput, content_type = "application/x-www-form-urlencoded"),
    security(("staff_session" = ["stock.adjust"])),
    responses(
        (status = 303, description = "Added: back to the purchase orders."),
        (status = 422, description = "The page again: what to correct.", content_type = "text/html"),
    ))]
async fn add_supplier(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    ApiForm(input): ApiForm<SupplierInput>,
) -> ApiResult<Response> {
    let typed = json!({ "name": input.name, "email": input.email, "lead_days": input.lead_days });
    let Ok(lead_days) = input.lead_days.trim().parse::<i64>() else {
        let e = ApiError::invalid("lead_days", "the usual delivery time, in days");
        return list_view(&state, &staff, None, Some(e), typed).await;
    };
    match purchasing::add_supplier(&state.db, &staff.actor(), &input.name, &input.email, lead_days).await {
        Ok(_) => Ok(Redirect::to("/staff/purchase-orders?done=supplier").into_response()),
        Err(e @ ApiError::Invalid { .. }) => list_view(&state, &staff, None, Some(e), typed).await,
        Err(e) => Err(e),
    }
}

async fn new_view(state: &AppState, staff: &Staff, error: Option<ApiError>) -> ApiResult<Response> {
    let rows: Vec<_> = forecast::overview(&state.db, crate::ids::now())
        .await?
        .into_iter()
        .map(|r| {
            json!({
                "sku": r.sku, "name": format!("{}, {}", r.title, r.label), "available": r.available,
                "on_order": r.on_order, "reorder": r.reorder,
            })
        })
        .collect();
    let ctx = json!({
        "rows": rows,
        "suppliers": purchasing::suppliers(&state.db).await?,
        "lead_days": forecast::LEAD_DAYS,
        "safety_days": forecast::SAFETY_DAYS,
    });
    let template = "pages/staff/purchase_order_new.html";
    Ok(console_after(state, staff, "New purchase order", template, ctx, error))
}

/// The form for a new purchase order, each size's suggested reorder filled in.
#[utoipa::path(get, path = "/staff/purchase-orders/new", tag = "staff",
    security(("staff_session" = ["stock.adjust"])),
    responses((status = 200, description = "The form.", content_type = "text/html")))]
async fn new_page(State(state): State<AppState>, Extension(staff): Extension<Staff>) -> ApiResult<Response> {
    new_view(&state, &staff, None).await
}

/// Reads `qty:SKU` fields as bottles per size (empty fields are none).
fn quantities(input: &HashMap<String, String>, field: &str) -> Result<Vec<(String, i64)>, ApiError> {
    let mut out = Vec::new();
    for (key, value) in input {
        let Some(sku) = key.strip_prefix("qty:") else { continue };
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        let q: i64 =
            value.parse().map_err(|_| ApiError::invalid(field, format!("bottles of {sku}: a whole number")))?;
        out.push((sku.to_string(), q));
    }
    out.sort();
    Ok(out)
}

/// Drafts a purchase order.
#[utoipa::path(post, path = "/staff/purchase-orders", tag = "staff",
    request_body(content = HashMap<String, String>, content_type = "application/x-www-form-urlencoded",
        description = "`supplier=sup_…`, `note=…`, and `qty:LAV-PROV-30=24` for each size ordered."),
    security(("staff_session" = ["stock.adjust"])),
    responses(
        (status = 303, description = "Drafted: to the purchase order."),
        (status = 409, description = "The form again: another was drafted at the same moment.", content_type = "text/html"),
        (status = 422, description = "The form again: what to correct.", content_type = "text/html"),
    ))]
async fn draft_po(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    ApiForm(input): ApiForm<HashMap<String, String>>,
) -> ApiResult<Response> {
    let drafted = match quantities(&input, "lines") {
        Ok(lines) => {
            let supplier = input.get("supplier").map(String::as_str).unwrap_or("");
            let note = input.get("note").map(String::as_str).unwrap_or("");
            purchasing::draft(&state.db, &staff.actor(), supplier, &lines, note).await
        }
        Err(e) => Err(e),
    };
    match drafted {
        Ok(number) => Ok(Redirect::to(&format!("/staff/purchase-orders/{number}")).into_response()),
        Err(e @ (ApiError::Invalid { .. } | ApiError::Conflict(_))) => new_view(&state, &staff, Some(e)).await,
        Err(e) => Err(e),
    }
}

async fn po_view(
    state: &AppState,
    staff: &Staff,
    number: &str,
    flash: Option<&str>,
    error: Option<ApiError>,
) -> ApiResult<Response> {
    let Some(po) = purchasing::load(&state.db, number).await? else {
        return Err(ApiError::NotFound(format!("no purchase order {number}")));
    };
    let title = format!("Purchase order {}", po.number);
    let ctx = json!({
        "created": when(po.created_at),
        "sent": po.sent_at.map(when),
        "expected": po.expected_at.map(when),
        "po": po,
        "may_adjust": staff.may(Permission::StockAdjust),
        "flash": flash,
    });
    let template = "pages/staff/purchase_order.html";
    Ok(console_after(state, staff, &title, template, ctx, error))
}

/// A purchase order: its supplier, lines (ordered, received, still to come), and what can be
/// done next.
#[utoipa::path(get, path = "/staff/purchase-orders/{po_id}", tag = "staff",
    params(("po_id" = String, Path, description = "The purchase order's number, `PO-2026-0001` (or its id)."), Done),
    security(("staff_session" = ["stock.view"])),
    responses(
        (status = 200, description = "The purchase order.", content_type = "text/html"),
        (status = 404, description = "No such purchase order.", content_type = "application/json"),
    ))]
async fn po_page(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(number): Path<String>,
    Query(done): Query<Done>,
) -> ApiResult<Response> {
    let flash = done.done.as_deref().and_then(|d| match d {
        "edit" => Some("The draft is saved."),
        "send" => Some("Sent; the supplier has been e-mailed it if they have an address."),
        "receive" => Some("Received: the bottles are on the shelf and in the stock's ledger."),
        "cancel" => Some("Cancelled."),
        _ => None,
    });
    po_view(&state, &staff, &number, flash, None).await
}

/// Changes a draft (`qty:SKU` for each size to order, `note`), sends, receives (with `qty:SKU`
/// for each size that arrived) or cancels a purchase order.
#[utoipa::path(post, path = "/staff/purchase-orders/{po_id}/{action}", tag = "staff",
    params(("po_id" = String, Path, description = "The purchase order's number (or its id)."),
           ("action" = String, Path, description = "`edit` (a draft), `send`, `receive` or `cancel`.")),
    request_body(content = HashMap<String, String>, content_type = "application/x-www-form-urlencoded",
        description = "For `receive`: `qty:LAV-PROV-30=12` for each size that arrived. For `edit`: `qty:SKU=N` for each size to order (0 takes it off) and `note`."),
    security(("staff_session" = ["stock.adjust"])),
    responses(
        (status = 303, description = "Done: back to the purchase order."),
        (status = 404, description = "No such purchase order or action.", content_type = "application/json"),
        (status = 409, description = "The page again: the order is not in a state the action starts from.", content_type = "text/html"),
        (status = 422, description = "The page again: a quantity received is wrong.", content_type = "text/html"),
    ))]
async fn po_action(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path((number, action)): Path<(String, String)>,
    ApiForm(input): ApiForm<HashMap<String, String>>,
) -> ApiResult<Response> {
    let actor = staff.actor();
    let done = match action.as_str() {
        "edit" => match quantities(&input, "lines") {
            Ok(lines) => {
                let saved =
                    purchasing::edit(&state.db, &actor, &number, &lines, input.get("note").map(String::as_str)).await;
                // "Save and send": the draft as the form has it goes to the supplier.
                match saved {
                    Ok(_) if input.get("then").map(String::as_str) == Some("send") => {
                        return match purchasing::send(&state.db, &actor, &number).await {
                            Ok(po) => Ok(Redirect::to(&format!("/staff/purchase-orders/{}?done=send", po.number))
                                .into_response()),
                            Err(e @ (ApiError::Invalid { .. } | ApiError::Conflict(_))) => {
                                po_view(&state, &staff, &number, None, Some(e)).await
                            }
                            Err(e) => Err(e),
                        };
                    }
                    other => other,
                }
            }
            Err(e) => Err(e),
        },
        "send" => purchasing::send(&state.db, &actor, &number).await,
        "cancel" => purchasing::cancel(&state.db, &actor, &number).await,
        "receive" => match quantities(&input, "lines") {
            Ok(lines) => purchasing::receive(&state.db, &actor, &number, &lines).await,
            Err(e) => Err(e),
        },
        other => return Err(ApiError::NotFound(format!("no action “{other}”: edit, send, receive or cancel"))),
    };
    match done {
        Ok(po) => Ok(Redirect::to(&format!("/staff/purchase-orders/{}?done={action}", po.number)).into_response()),
        Err(e @ (ApiError::Invalid { .. } | ApiError::Conflict(_))) => {
            po_view(&state, &staff, &number, None, Some(e)).await
        }
        Err(e) => Err(e),
    }
}
