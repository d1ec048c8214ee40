//! The console's pages under `/staff`: plain server-rendered forms that work without
//! JavaScript. Each route declares in its OpenAPI security what it needs; the one layer in
//! [`super::guard`] enforces it before the handler runs, and hands the handler the [`Staff`].

use std::collections::{BTreeSet, HashMap};

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use serde::Deserialize;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit::{self, Filter};
use super::guard::Staff;
use super::members;
use super::permissions::Permission;
use crate::error::{ApiError, ApiResult};
use crate::http::page::{page, show_errors};
use crate::http::ApiForm;
use crate::orders::{self, history, OrderSearch, OrderStatus, Step, StepError};
use crate::AppState;

/// The console's routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(home))
        .routes(routes!(order_list))
        .routes(routes!(order_page))
        .routes(routes!(order_step))
        .routes(routes!(order_note))
        .routes(routes!(order_resend))
        .routes(routes!(order_refund))
        .routes(routes!(pick_list))
        .routes(routes!(team_page, team_add))
        .routes(routes!(team_role))
        .routes(routes!(team_remove))
        .routes(routes!(roles_page))
        .routes(routes!(role_permissions))
        .routes(routes!(audit_page))
        .merge(super::stock::router())
        .merge(super::purchasing::router())
        .merge(super::customers::router())
        .merge(super::dashboard::router())
        .merge(super::testimonials::router())
}

/// Orders a page lists at once.
const PAGE: i64 = 50;

/// The areas of the menu: where under `/staff/`, what it is called, what opens it.
const MENU: &[(&str, &str, Permission)] = &[
    ("dashboard", "Dashboard", Permission::ReportsView),
    ("orders", "Orders", Permission::OrdersView),
    ("pick-list", "Pick list", Permission::OrdersView),
    ("stock", "Stock", Permission::StockView),
    ("purchase-orders", "Purchase orders", Permission::StockView),
    ("customers", "Customers", Permission::CustomersView),
    ("subscribers", "Newsletter", Permission::CustomersView),
    ("testimonials", "Testimonials", Permission::TestimonialsWrite),
    ("team", "Team", Permission::StaffManage),
    ("roles", "Roles", Permission::StaffManage),
    ("audit", "Audit log", Permission::AuditView),
];

/// A console page: the menu shows only what this person may open.
pub(super) fn console(
    state: &AppState,
    staff: &Staff,
    title: &str,
    template: &str,
    mut ctx: serde_json::Value,
) -> Response {
    let menu: Vec<_> = MENU
        .iter()
        .filter(|(_, _, p)| staff.may(*p))
        .map(|(area, label, _)| json!({ "area": area, "label": label }))
        .collect();
    if ctx.get("field_errors").is_none() {
        ctx["field_errors"] = json!({});
    }
    ctx["menu"] = json!(menu);
    ctx["me"] = json!({ "name": staff.name, "email": staff.email, "role": staff.role });
    ctx["may"] = json!(staff.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>());
    page(state, title, template, ctx).into_response()
}

/// A console page, again with what went wrong when something did (the error's own status).
pub(super) fn console_after(
    state: &AppState,
    staff: &Staff,
    title: &str,
    template: &str,
    mut ctx: serde_json::Value,
    error: Option<ApiError>,
) -> Response {
    let Some(e) = error else { return console(state, staff, title, template, ctx) };
    if matches!(e, ApiError::Database(_) | ApiError::Internal(_)) {
        return e.into_response();
    }
    let status = show_errors(&mut ctx, std::slice::from_ref(&e));
    (status, console(state, staff, title, template, ctx)).into_response()
}

pub(super) fn when(t: i64) -> String {
    let (y, m, d) = atelier_domain::civil(t);
    let s = t.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", s / 3600, s % 3600 / 60)
}

/// The console's first page: who is signed in, what needs doing, the menu.
#[utoipa::path(get, path = "/staff", tag = "staff",
    security(("staff_session" = [])),
    responses(
        (status = 200, description = "The console's home.", content_type = "text/html"),
        (status = 401, description = "Signed out, or the session idled out.", content_type = "text/html"),
        (status = 403, description = "Not staff, or signed in without a second factor.", content_type = "text/html"),
    ))]
async fn home(State(state): State<AppState>, Extension(staff): Extension<Staff>) -> ApiResult<Response> {
    let mut ctx = json!({});
    if staff.may(Permission::OrdersView) {
        let (to_pack, refunds): (i64, i64) = sqlx::query_as(
            "select cast(coalesce(sum(case when status = $1 then 1 else 0 end), 0) as bigint),
                    cast(coalesce(sum(refund_needed), 0) as bigint) from customer_order where status = $1 or refund_needed = 1",
        )
        .bind(OrderStatus::Paid.as_str())
        .fetch_one(&state.db.pool)
        .await?;
        ctx["to_pack"] = json!(to_pack);
        ctx["refunds"] = json!(refunds);
    }
    Ok(console(&state, &staff, "Staff console", "pages/staff/home.html", ctx))
}

/// The order list's search.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct OrderQuery {
    /// A number (whole, or its counter's digits: `42`), an e-mail address, or part of a name.
    #[serde(default)]
    q: Option<String>,
    /// Only orders in this state.
    #[serde(default)]
    status: Option<String>,
    /// `1`: only orders whose payment must be given back.
    #[serde(default)]
    refund: Option<String>,
    /// Placed on or after this day, `YYYY-MM-DD`.
    #[serde(default)]
    from: Option<String>,
    /// Placed on or before this day, `YYYY-MM-DD`.
    #[serde(default)]
    until: Option<String>,
    /// The next page: after this order (`created_at.order_id`).
    #[serde(default)]
    after: Option<String>,
}

fn day(field: &str, text: &Option<String>) -> ApiResult<Option<i64>> {
    let Some(text) = text.as_deref().map(str::trim).filter(|t| !t.is_empty()) else { return Ok(None) };
    atelier_domain::ships_at(text)
        .map(Some)
        .ok_or_else(|| ApiError::invalid(field, format!("“{text}” is not a day written YYYY-MM-DD")))
}

/// Orders, newest first, with search and filters.
#[utoipa::path(get, path = "/staff/orders", tag = "staff", params(OrderQuery),
    security(("staff_session" = ["orders.view"])),
    responses(
        (status = 200, description = "The list.", content_type = "text/html"),
        (status = 422, description = "A filter is malformed; the list unfiltered by it.", content_type = "text/html"),
    ))]
async fn order_list(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Query(q): Query<OrderQuery>,
) -> ApiResult<Response> {
    let mut search = OrderSearch {
        text: q.q.clone().filter(|t| !t.trim().is_empty()),
        refund_needed: q.refund.as_deref() == Some("1"),
        ..OrderSearch::default()
    };
    let mut problems = Vec::new();
    match q.status.as_deref().filter(|s| !s.is_empty()) {
        None => {}
        Some(s) => match OrderStatus::parse(s) {
            Some(s) => search.status = Some(s),
            None => problems.push(ApiError::invalid("status", format!("“{s}” is not an order state"))),
        },
    }
    match day("from", &q.from) {
        Ok(d) => search.from = d,
        Err(e) => problems.push(e),
    }
    match day("until", &q.until) {
        Ok(d) => search.until = d.map(|d| d + 86_400),
        Err(e) => problems.push(e),
    }
    search.after =
        q.after.as_deref().and_then(|a| a.split_once('.')).and_then(|(t, id)| Some((t.parse().ok()?, id.to_string())));
    let rows = orders::search(&state.db, &search, PAGE + 1).await?;
    let more = rows.len() as i64 > PAGE;
    let shown: Vec<_> = rows
        .iter()
        .take(PAGE as usize)
        .map(|o| {
            json!({
                "number": o.number,
                "status": o.status,
                "status_label": OrderStatus::parse(&o.status).map(|s| s.label()).unwrap_or(o.status.as_str()),
                "email": o.email,
                "name": o.name,
                "total": crate::checkout::pricing::display(o.total_minor, o.currency),
                "placed": orders::date(o.created_at),
                "refund_needed": o.refund_needed,
            })
        })
        .collect();
    let next = if more {
        rows.get(PAGE as usize - 1).map(|o| {
            let mut query = url_query(&q);
            query.push(("after", format!("{}.{}", o.created_at, o.order_id)));
            format!("/staff/orders?{}", serde_urlencoded::to_string(&query).unwrap_or_default())
        })
    } else {
        None
    };
    let statuses: Vec<_> =
        OrderStatus::ALL.iter().map(|s| json!({ "value": s.as_str(), "label": s.label() })).collect();
    let mut ctx = json!({
        "orders": shown,
        "next": next,
        "statuses": statuses,
        "q": q.q, "status": q.status, "refund": q.refund.as_deref() == Some("1"), "from": q.from, "until": q.until,
    });
    if problems.is_empty() {
        return Ok(console(&state, &staff, "Orders", "pages/staff/orders.html", ctx));
    }
    let status = show_errors(&mut ctx, &problems);
    Ok((status, console(&state, &staff, "Orders", "pages/staff/orders.html", ctx)).into_response())
}

fn url_query(q: &OrderQuery) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for (k, v) in [("q", &q.q), ("status", &q.status), ("refund", &q.refund), ("from", &q.from), ("until", &q.until)] {
        if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
            out.push((k, v.clone()));
        }
    }
    out
}

/// What a console page says after a change, from its query.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct Done {
    /// What was just done, which the page says (`ship`, `note`, `refund`, `send`, `approve`, …).
    #[serde(default)]
    pub(super) done: Option<String>,
}

async fn order_view(
    state: &AppState,
    staff: &Staff,
    number: &str,
    flash: Option<String>,
    error: Option<ApiError>,
) -> ApiResult<Response> {
    order_view_typed(state, staff, number, flash, error, json!({})).await
}

/// [`order_view`] with what was typed into the refund form kept in it.
async fn order_view_typed(
    state: &AppState,
    staff: &Staff,
    number: &str,
    flash: Option<String>,
    error: Option<ApiError>,
    typed: serde_json::Value,
) -> ApiResult<Response> {
    let found = orders::find_by_number_or_id(&state.db, number).await?;
    let Some(order) = found else {
        return Err(ApiError::NotFound(format!("no order {number}")));
    };
    let events: Vec<_> = history::history(&state.db, &order.order_id)
        .await?
        .into_iter()
        .map(|e| json!({ "when": when(e.at), "what": e.what, "who": e.who }))
        .collect();
    let notes: Vec<_> = history::notes(&state.db, &order.order_id)
        .await?
        .into_iter()
        .map(|n| json!({ "when": when(n.created_at), "author": n.author, "body": n.body }))
        .collect();
    let steps: Vec<&str> = match order.status {
        OrderStatus::Paid => vec!["fulfil", "ship"],
        OrderStatus::Fulfilled => vec!["ship"],
        OrderStatus::Shipped => vec!["deliver"],
        _ => vec![],
    };
    let refunds: Vec<_> = orders::refunds::of_order(&state.db, &order.order_id, &order.currency)
        .await?
        .into_iter()
        .map(|r| json!({ "when": when(r.requested_at), "refund": r }))
        .collect();
    let refundable = if staff.may(Permission::OrdersRefund) {
        orders::refunds::refundable(&state.db, &order.order_id).await?
    } else {
        None
    };
    let title = format!("Order {}", order.number);
    let ctx = json!({
        "order": order,
        "refunds": refunds,
        "refundable": refundable,
        "reason_max": orders::refunds::REASON_MAX,
        "typed": typed,
        "events": events,
        "notes": notes,
        "steps": if staff.may(Permission::OrdersFulfil) { steps } else { vec![] },
        "may_note": staff.may(Permission::OrdersNote),
        "may_mail": staff.may(Permission::OrdersMail),
        "flash": flash,
        "note_max": history::NOTE_MAX,
    });
    Ok(console_after(state, staff, &title, "pages/staff/order.html", ctx, error))
}

/// An order: its lines, address, full history (who, when), notes, and the next step.
#[utoipa::path(get, path = "/staff/orders/{order_id}", tag = "staff",
    params(("order_id" = String, Path, description = "The order's number, `AA-2026-000042` (or its id)."), Done),
    security(("staff_session" = ["orders.view"])),
    responses(
        (status = 200, description = "The order.", content_type = "text/html"),
        (status = 404, description = "No such order.", content_type = "application/json"),
    ))]
async fn order_page(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(number): Path<String>,
    Query(done): Query<Done>,
) -> ApiResult<Response> {
    let flash = done.done.as_deref().and_then(|d| match d {
        "fulfil" => Some("Marked as packed."),
        "ship" => Some("Marked as shipped; the shopper has been e-mailed."),
        "deliver" => Some("Marked as delivered."),
        "note" => Some("Note added."),
        "confirmation" => Some("The confirmation e-mail is on its way to the shopper again."),
        "tracking" => Some("The tracking e-mail is on its way to the shopper again."),
        "refund" => Some("Refunded: the payment provider confirmed it and the shopper has been e-mailed."),
        "refund-asked" => Some("Refund asked: the order follows when the payment provider confirms it."),
        "refund-unsent" => Some(
            "The payment provider gave no clear answer: the refund is sent again within minutes under the same key, so it cannot be made twice; the order follows its confirmation.",
        ),
        _ => None,
    });
    order_view(&state, &staff, &number, flash.map(str::to_string), None).await
}

/// A step's form: the tracking reference when shipping.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
struct StepInput {
    /// The carrier's tracking reference (shipping).
    #[serde(default)]
    tracking: Option<String>,
}

/// Takes an order's next step: `fulfil` (packed), `ship` (with tracking; the shopper is
/// e-mailed), `deliver`.
#[utoipa::path(post, path = "/staff/orders/{order_id}/{step}", tag = "staff",
    params(("order_id" = String, Path, description = "The order's number (or its id)."),
           ("step" = String, Path, description = "`fulfil`, `ship` or `deliver`.")),
    request_body(content = StepInput, content_type = "application/x-www-form-urlencoded"),
    security(("staff_session" = ["orders.fulfil"])),
    responses(
        (status = 303, description = "Done: back to the order."),
        (status = 404, description = "No such order or step.", content_type = "application/json"),
        (status = 409, description = "The order page again: the order is not in a state the step starts from.", content_type = "text/html"),
    ))]
async fn order_step(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path((number, step)): Path<(String, String)>,
    ApiForm(input): ApiForm<StepInput>,
) -> ApiResult<Response> {
    let step = match step.as_str() {
        "fulfil" => Step::Fulfil,
        "ship" => Step::Ship { tracking: input.tracking },
        "deliver" => Step::Deliver,
        other => return Err(ApiError::NotFound(format!("no step “{other}”: fulfil, ship or deliver"))),
    };
    let name = match step {
        Step::Fulfil => "fulfil",
        Step::Ship { .. } => "ship",
        Step::Deliver => "deliver",
    };
    let keys = &state.keys;
    match orders::advance(&state.db, &keys.link, &state.config.public_url, &number, &step, &staff.actor()).await {
        Ok(_) => Ok(Redirect::to(&format!("/staff/orders/{number}?done={name}")).into_response()),
        Err(StepError::NotFound(n)) => Err(ApiError::NotFound(format!("no order {n}"))),
        Err(e @ StepError::WrongState { .. }) => {
            order_view(&state, &staff, &number, None, Some(ApiError::Conflict(e.to_string()))).await
        }
        Err(StepError::Database(e)) => Err(e.into()),
        Err(StepError::Mail(e)) => Err(e),
    }
}

/// A note's form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct NoteInput {
    /// The note (at most 2,000 characters).
    body: String,
}

/// Adds an internal note to an order.
#[utoipa::path(post, path = "/staff/orders/{order_id}/notes", tag = "staff",
    params(("order_id" = String, Path, description = "The order's number (or its id).")),
    request_body(content = NoteInput, content_type = "application/x-www-form-urlencoded"),
    security(("staff_session" = ["orders.note"])),
    responses(
        (status = 303, description = "Added: back to the order."),
        (status = 404, description = "No such order.", content_type = "application/json"),
        (status = 422, description = "The order page again: the note is empty or too long.", content_type = "text/html"),
    ))]
async fn order_note(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(number): Path<String>,
    ApiForm(input): ApiForm<NoteInput>,
) -> ApiResult<Response> {
    match history::add_note(&state.db, &staff.actor(), &number, &input.body).await {
        Ok(()) => Ok(Redirect::to(&format!("/staff/orders/{number}?done=note")).into_response()),
        Err(e @ ApiError::Invalid { .. }) => order_view(&state, &staff, &number, None, Some(e)).await,
        Err(e) => Err(e),
    }
}

/// Which e-mail to send again.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct ResendInput {
    /// `confirmation` or `tracking`.
    mail: String,
}

/// Sends the shopper their confirmation or tracking e-mail again.
#[utoipa::path(post, path = "/staff/orders/{order_id}/resend", tag = "staff",
    params(("order_id" = String, Path, description = "The order's number (or its id).")),
    request_body(content = ResendInput, content_type = "application/x-www-form-urlencoded"),
    security(("staff_session" = ["orders.mail"])),
    responses(
        (status = 303, description = "Queued: back to the order."),
        (status = 404, description = "No such order.", content_type = "application/json"),
        (status = 409, description = "The order page again: that e-mail does not exist yet (not paid, not shipped).", content_type = "text/html"),
        (status = 422, description = "Neither `confirmation` nor `tracking`.", content_type = "text/html"),
    ))]
async fn order_resend(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(number): Path<String>,
    ApiForm(input): ApiForm<ResendInput>,
) -> ApiResult<Response> {
    let Some(which) = orders::Resend::parse(&input.mail) else {
        let e = ApiError::BadRequest("choose the confirmation or the tracking e-mail".into());
        return order_view(&state, &staff, &number, None, Some(e)).await;
    };
    match orders::resend(&state, &staff.actor(), &number, which).await {
        Ok(_) => Ok(Redirect::to(&format!("/staff/orders/{number}?done={}", input.mail)).into_response()),
        Err(e @ ApiError::Conflict(_)) => order_view(&state, &staff, &number, None, Some(e)).await,
        Err(e) => Err(e),
    }
}

/// Refunds part or all of an order through the payment provider, putting bottles back on the
/// shelf or not; the order and the shopper's e-mail follow the provider's confirmation.
#[utoipa::path(post, path = "/staff/orders/{order_id}/refund", tag = "staff",
    params(("order_id" = String, Path, description = "The order's number (or its id).")),
    request_body(content = HashMap<String, String>, content_type = "application/x-www-form-urlencoded",
        description = "`amount=12.50` (what goes back), `reason=…`, and `restock:LAV-10=1` for each size whose bottles go back on the shelf."),
    security(("staff_session" = ["orders.refund"])),
    responses(
        (status = 303, description = "Asked (and, in the sandbox, confirmed): back to the order."),
        (status = 404, description = "No such order.", content_type = "application/json"),
        (status = 409, description = "The order page again: nothing is left to refund, or the payment provider refused it (it is marked refused on the order).", content_type = "text/html"),
        (status = 422, description = "The order page again: the amount, a quantity to put back or the reason is wrong.", content_type = "text/html"),
    ))]
async fn order_refund(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(number): Path<String>,
    ApiForm(input): ApiForm<HashMap<String, String>>,
) -> ApiResult<Response> {
    let typed = json!(input);
    let ask = match refund_ask(&input) {
        Ok(ask) => ask,
        Err(e) => return order_view_typed(&state, &staff, &number, None, Some(e), typed).await,
    };
    match orders::refunds::request(&state, &staff.actor(), &number, &ask).await {
        Ok(done) => {
            let flash = match (done.confirmed, done.unsent) {
                (true, _) => "refund",
                (false, true) => "refund-unsent",
                (false, false) => "refund-asked",
            };
            Ok(Redirect::to(&format!("/staff/orders/{}?done={flash}", done.number)).into_response())
        }
        Err(e @ (ApiError::Conflict(_) | ApiError::Invalid { .. })) => {
            order_view_typed(&state, &staff, &number, None, Some(e), typed).await
        }
        Err(e) => Err(e),
    }
}

/// Reads the refund form: the amount as a decimal, each `restock:SKU` as a count.
fn refund_ask(input: &HashMap<String, String>) -> Result<orders::refunds::Ask, ApiError> {
    let amount = input.get("amount").map(String::as_str).unwrap_or("");
    let amount = atelier_domain::Money::parse_decimal(amount, atelier_domain::Currency::Eur)
        .map_err(|_| ApiError::invalid("amount", "write the amount as a decimal, such as 12.50"))?;
    let mut restock = Vec::new();
    for (key, value) in input {
        let Some(sku) = key.strip_prefix("restock:") else { continue };
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        let q: i64 = value
            .parse()
            .map_err(|_| ApiError::invalid("restock", format!("how many of {sku} go back is a whole number")))?;
        restock.push((sku.to_string(), q));
    }
    restock.sort();
    Ok(orders::refunds::Ask {
        amount_minor: amount.minor,
        restock,
        reason: input.get("reason").cloned().unwrap_or_default(),
    })
}

/// The pick list of every paid order not yet packed (each size and how many), then a packing
/// slip per order, one to a printed page.
#[utoipa::path(get, path = "/staff/pick-list", tag = "staff",
    security(("staff_session" = ["orders.view"])),
    responses((status = 200, description = "The pick list and slips, ready to print.", content_type = "text/html")))]
async fn pick_list(State(state): State<AppState>, Extension(staff): Extension<Staff>) -> ApiResult<Response> {
    let orders = orders::to_pack(&state.db).await?;
    let mut picks: std::collections::BTreeMap<String, (String, String, i64, Vec<String>)> = Default::default();
    for o in &orders {
        for l in &o.items {
            let e = picks.entry(l.sku.clone()).or_insert_with(|| (l.title.clone(), l.label.clone(), 0, Vec::new()));
            e.2 += l.quantity;
            e.3.push(o.number.clone());
        }
    }
    let picks: Vec<_> = picks
        .into_iter()
        .map(|(sku, (title, label, quantity, numbers))| {
            json!({ "sku": sku, "title": title, "label": label, "quantity": quantity, "orders": numbers.join(", ") })
        })
        .collect();
    let bottles: i64 = orders.iter().flat_map(|o| o.items.iter()).map(|l| l.quantity).sum();
    let ctx = json!({ "orders": orders, "picks": picks, "bottles": bottles, "printed": when(crate::ids::now()) });
    Ok(console(&state, &staff, "Pick list and packing slips", "pages/staff/pick_list.html", ctx))
}

async fn team_view(
    state: &AppState,
    staff: &Staff,
    flash: Option<&str>,
    error: Option<ApiError>,
) -> ApiResult<Response> {
    team_view_typed(state, staff, flash, error, json!({})).await
}

/// [`team_view`] with what was typed into the form to add someone kept in it.
async fn team_view_typed(
    state: &AppState,
    staff: &Staff,
    flash: Option<&str>,
    error: Option<ApiError>,
    typed: serde_json::Value,
) -> ApiResult<Response> {
    let team = members::members(&state.db).await?;
    let roles = members::roles(&state.db).await?;
    let ctx = json!({ "team": team, "roles": roles, "flash": flash, "me_id": staff.account_id, "typed": typed });
    Ok(console_after(state, staff, "Team", "pages/staff/team.html", ctx, error))
}

/// The staff and their roles, and the form to add someone.
#[utoipa::path(get, path = "/staff/team", tag = "staff",
    security(("staff_session" = ["staff.manage"])),
    responses((status = 200, description = "The team.", content_type = "text/html")))]
async fn team_page(State(state): State<AppState>, Extension(staff): Extension<Staff>) -> ApiResult<Response> {
    team_view(&state, &staff, None, None).await
}

/// Someone to add to the staff.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct AddInput {
    /// Their e-mail address.
    email: String,
    /// Their name (needed when the address has no account yet).
    #[serde(default)]
    name: String,
    /// The role to give them.
    role: String,
}

/// Adds someone to the staff: an account holder is told; an address without an account gets
/// an invitation to choose a password.
#[utoipa::path(post, path = "/staff/team", tag = "staff",
    request_body(content = AddInput, content_type = "application/x-www-form-urlencoded"),
    security(("staff_session" = ["staff.manage"])),
    responses(
        (status = 200, description = "The team page again, saying who was added.", content_type = "text/html"),
        (status = 403, description = "The role holds a permission you do not.", content_type = "text/html"),
        (status = 409, description = "They are on the staff already.", content_type = "text/html"),
        (status = 422, description = "What to correct.", content_type = "text/html"),
    ))]
async fn team_add(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    ApiForm(input): ApiForm<AddInput>,
) -> ApiResult<Response> {
    match members::add(&state, &staff.actor(), &input.email, &input.name, &input.role).await {
        Ok(added) => {
            let flash = if added.invited {
                "Added; an invitation to choose a password is on its way."
            } else {
                "Added; they have been told by e-mail."
            };
            team_view(&state, &staff, Some(flash), None).await
        }
        Err(e) => {
            let typed = json!({ "email": input.email, "name": input.name, "role": input.role });
            team_view_typed(&state, &staff, None, Some(e), typed).await
        }
    }
}

/// A new role for a member.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct RoleInput {
    /// The role.
    role: String,
}

/// Gives a staff member another role.
#[utoipa::path(post, path = "/staff/team/{account_id}/role", tag = "staff",
    params(("account_id" = String, Path, description = "The member's account.")),
    request_body(content = RoleInput, content_type = "application/x-www-form-urlencoded"),
    security(("staff_session" = ["staff.manage"])),
    responses(
        (status = 200, description = "The team page again.", content_type = "text/html"),
        (status = 403, description = "Either role holds a permission you do not.", content_type = "text/html"),
        (status = 409, description = "They are the last owner.", content_type = "text/html"),
    ))]
async fn team_role(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(account_id): Path<String>,
    ApiForm(input): ApiForm<RoleInput>,
) -> ApiResult<Response> {
    match members::set_role(&state, &staff.actor(), &account_id, &input.role).await {
        Ok(()) => team_view(&state, &staff, Some("Role changed."), None).await,
        Err(e) => team_view(&state, &staff, None, Some(e)).await,
    }
}

/// Takes someone off the staff (their customer account stays).
#[utoipa::path(post, path = "/staff/team/{account_id}/remove", tag = "staff",
    params(("account_id" = String, Path, description = "The member's account.")),
    security(("staff_session" = ["staff.manage"])),
    responses(
        (status = 200, description = "The team page again.", content_type = "text/html"),
        (status = 403, description = "Their role holds a permission you do not.", content_type = "text/html"),
        (status = 409, description = "They are the last owner.", content_type = "text/html"),
    ))]
async fn team_remove(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(account_id): Path<String>,
) -> ApiResult<Response> {
    match members::remove(&state, &staff.actor(), &account_id).await {
        Ok(()) => team_view(&state, &staff, Some("Taken off the staff."), None).await,
        Err(e) => team_view(&state, &staff, None, Some(e)).await,
    }
}

async fn roles_view(
    state: &AppState,
    staff: &Staff,
    flash: Option<&str>,
    error: Option<ApiError>,
) -> ApiResult<Response> {
    let roles: Vec<_> = members::roles(&state.db)
        .await?
        .into_iter()
        .map(|r| {
            let rows: Vec<_> = Permission::ALL
                .iter()
                .map(|p| {
                    json!({
                        "name": p.as_str(),
                        "describe": p.describe(),
                        "held": r.permissions.contains(p),
                        // A box for a permission one does not hold cannot be changed.
                        "mine": staff.may(*p),
                    })
                })
                .collect();
            json!({ "role": r.role, "label": r.label, "members": r.members, "owner": r.role == super::permissions::OWNER, "permissions": rows })
        })
        .collect();
    let ctx = json!({ "roles": roles, "flash": flash });
    Ok(console_after(state, staff, "Roles", "pages/staff/roles.html", ctx, error))
}

/// Each role and what it may do, editable.
#[utoipa::path(get, path = "/staff/roles", tag = "staff",
    security(("staff_session" = ["staff.manage"])),
    responses((status = 200, description = "The roles.", content_type = "text/html")))]
async fn roles_page(State(state): State<AppState>, Extension(staff): Extension<Staff>) -> ApiResult<Response> {
    roles_view(&state, &staff, None, None).await
}

/// Sets what a role may do: every `permission:NAME` field present is held, every other not.
#[utoipa::path(post, path = "/staff/roles/{role}", tag = "staff",
    params(("role" = String, Path, description = "The role, `fulfilment`.")),
    request_body(content = HashMap<String, String>, content_type = "application/x-www-form-urlencoded",
        description = "`permission:orders.view=on` for each permission the role holds."),
    security(("staff_session" = ["staff.manage"])),
    responses(
        (status = 200, description = "The roles page again.", content_type = "text/html"),
        (status = 403, description = "A permission changed is one you do not hold.", content_type = "text/html"),
        (status = 409, description = "The owner role always holds everything.", content_type = "text/html"),
        (status = 422, description = "A permission of no known name.", content_type = "text/html"),
    ))]
async fn role_permissions(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(role): Path<String>,
    ApiForm(input): ApiForm<HashMap<String, String>>,
) -> ApiResult<Response> {
    let mut wanted = BTreeSet::new();
    for key in input.keys() {
        let Some(name) = key.strip_prefix("permission:") else { continue };
        match Permission::parse(name) {
            Some(p) => {
                wanted.insert(p);
            }
            None => {
                let e = ApiError::BadRequest(format!("there is no permission “{name}”"));
                return roles_view(&state, &staff, None, Some(e)).await;
            }
        }
    }
    match members::set_permissions(&state, &staff.actor(), &role, &wanted).await {
        Ok(()) => roles_view(&state, &staff, Some("Saved."), None).await,
        Err(e) => roles_view(&state, &staff, None, Some(e)).await,
    }
}

/// The audit log's filters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    /// Rows whose actor's address (or shell user) contains this.
    #[serde(default)]
    actor: Option<String>,
    /// Rows whose action starts with this (`order.`, `staff.sign_in`).
    #[serde(default)]
    action: Option<String>,
    /// Rows about this subject (`order:AA-2026-000042`).
    #[serde(default)]
    subject: Option<String>,
    /// The next page: older than this row (`at.audit_id`).
    #[serde(default)]
    before: Option<String>,
}

/// The audit log, newest first, filtered by who, what and what about. Read-only.
#[utoipa::path(get, path = "/staff/audit", tag = "staff", params(AuditQuery),
    security(("staff_session" = ["audit.view"])),
    responses((status = 200, description = "The log.", content_type = "text/html")))]
async fn audit_page(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Response> {
    let keep = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
    let filter = Filter {
        actor: keep(&q.actor),
        action: keep(&q.action),
        subject: keep(&q.subject),
        before: q
            .before
            .as_deref()
            .and_then(|b| b.split_once('.'))
            .and_then(|(t, id)| Some((t.parse().ok()?, id.to_string()))),
    };
    let rows = audit::list(&state.db, &filter, PAGE + 1).await?;
    let more = rows.len() as i64 > PAGE;
    let next = if more {
        rows.get(PAGE as usize - 1).map(|r| {
            let mut query: Vec<(&str, String)> = Vec::new();
            for (k, v) in [("actor", &filter.actor), ("action", &filter.action), ("subject", &filter.subject)] {
                if let Some(v) = v {
                    query.push((k, v.clone()));
                }
            }
            query.push(("before", format!("{}.{}", r.at, r.audit_id)));
            format!("/staff/audit?{}", serde_urlencoded::to_string(&query).unwrap_or_default())
        })
    } else {
        None
    };
    let shown: Vec<_> = rows
        .iter()
        .take(PAGE as usize)
        .map(|r| {
            json!({
                "when": when(r.at), "who": r.actor_label, "action": r.action, "subject": r.subject,
                "before": r.before_json, "after": r.after_json, "client": r.client,
            })
        })
        .collect();
    let ctx = json!({ "rows": shown, "next": next, "actor": filter.actor, "action": filter.action, "subject": filter.subject });
    Ok(console(&state, &staff, "Audit log", "pages/staff/audit.html", ctx))
}
