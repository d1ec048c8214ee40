//! The console's customers: look one up (an account, or a guest known only by the e-mail their
//! orders carry), see their orders, addresses, Folio subscriptions and newsletter subscription,
//! and pause, resume or cancel a subscription on their behalf (audited); the newsletter's
//! subscribers, with a CSV export (audited).

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit::{self, Change};
use super::guard::Staff;
use super::http::{console, console_after, when};
use super::permissions::Permission;
use crate::checkout::pricing::display;
use crate::error::{ApiError, ApiResult};
use crate::folio::account::{self as folio_account, PauseInput};
use crate::folio::Change as FolioChange;
use crate::http::ApiForm;
use crate::AppState;

/// The customers pages' routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(customers_page))
        .routes(routes!(customer_page))
        .routes(routes!(subscription_action))
        .routes(routes!(subscribers_page))
        .routes(routes!(subscribers_csv))
}

/// How many customers a search shows.
const FOUND_MAX: i64 = 50;

/// A customer found by a search.
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    /// Their address.
    pub email: String,
    /// Their name (an account's, or one their orders carry).
    pub name: String,
    /// Whether they have an account.
    pub account: bool,
    /// Orders placed.
    pub orders: i64,
    /// Their latest order (unix seconds).
    pub last_order: Option<i64>,
}

/// `ada@` finds addresses starting so; a whole address finds it; anything else a part of a name
/// (lowercased; a guest's through the orders' trigram index). Accounts first, then guests.
pub async fn search(state: &AppState, text: &str) -> Result<Vec<Found>, sqlx::Error> {
    let text: String = text.chars().filter(|c| !c.is_control()).collect();
    let text = text.trim().to_lowercase();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let escaped = crate::db::like_escaped(&text);
    // A whole address is found by its index; the start of one, or part of a name, by a scan.
    let whole = text.contains('@') && crate::accounts::parse_email(&text).is_ok();
    let (by, pattern) = if whole {
        ("email", text.clone())
    } else if text.contains('@') {
        ("email", format!("{escaped}%"))
    } else {
        // SQLite's LIKE already ignores ASCII case (and its lower() folds no more than that).
        (if state.db.engine == crate::db::Engine::Sqlite { "name" } else { "lower(name)" }, format!("%{escaped}%"))
    };
    let op = if whole { "=" } else { "like" };
    let escape = if whole { "" } else { "escape '\\'" };
    let accounts_sql = format!(
        "select a.email, a.name,
                (select count(*) from customer_order o where o.account_id = a.account_id) as orders,
                (select max(o.created_at) from customer_order o where o.account_id = a.account_id) as last_order
         from account a where {by} {op} $1 {escape} order by a.email limit $2"
    );
    let accounts = state.db.fetch_all_planned(sqlx::query(&accounts_sql).bind(&pattern).bind(FOUND_MAX)).await?;
    // Addresses with an account are the account's (found above when they match); guests by
    // name through the orders' trigram index.
    let guest_condition = if by == "email" {
        format!("email {op} $1 {escape}")
    } else {
        crate::orders::name_condition(state.db.engine, &pattern, 1)
    };
    let guests_sql = format!(
        "select email, max(name) as name, count(*) as orders, max(created_at) as last_order
         from customer_order o where account_id is null and {guest_condition}
           and not exists (select 1 from account a where a.email = o.email)
         group by email order by email limit $2"
    );
    let guests = state.db.fetch_all_planned(sqlx::query(&guests_sql).bind(&pattern).bind(FOUND_MAX)).await?;
    let mut found: Vec<Found> = accounts
        .into_iter()
        .map(|r| Found {
            email: r.get("email"),
            name: r.get("name"),
            account: true,
            orders: r.get("orders"),
            last_order: r.get("last_order"),
        })
        .collect();
    for r in guests {
        let email: String = r.get("email");
        if found.iter().any(|f| f.email == email) {
            continue;
        }
        found.push(Found {
            email,
            name: r.get("name"),
            account: false,
            orders: r.get("orders"),
            last_order: r.get("last_order"),
        });
    }
    found.truncate(FOUND_MAX as usize);
    Ok(found)
}

/// The customers search.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct CustomerQuery {
    /// An e-mail address (or its start, `ada@`), or part of a name.
    #[serde(default)]
    q: Option<String>,
}

/// Customers found by address or name.
#[utoipa::path(get, path = "/staff/customers", tag = "staff", params(CustomerQuery),
    security(("staff_session" = ["customers.view"])),
    responses((status = 200, description = "The customers found.", content_type = "text/html")))]
async fn customers_page(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Query(q): Query<CustomerQuery>,
) -> ApiResult<Response> {
    let text = q.q.unwrap_or_default();
    let found: Vec<_> = search(&state, &text)
        .await?
        .into_iter()
        .map(|f| json!({ "last": f.last_order.map(when), "found": f }))
        .collect();
    let ctx = json!({ "q": text, "found": found, "searched": !text.trim().is_empty(), "max": FOUND_MAX });
    Ok(console(&state, &staff, "Customers", "pages/staff/customers.html", ctx))
}

async fn customer_view(
    state: &AppState,
    staff: &Staff,
    email: &str,
    flash: Option<&str>,
    error: Option<ApiError>,
) -> ApiResult<Response> {
    let email = email.trim().to_lowercase();
    let account: Option<(String, String, i64, Option<i64>)> =
        sqlx::query_as("select account_id, name, created_at, email_verified_at from account where email = $1")
            .bind(&email)
            .fetch_optional(&state.db.pool)
            .await?;
    let account_id = account.as_ref().map(|a| a.0.clone()).unwrap_or_default();
    let rows = sqlx::query(
        "select number, status, total_minor, currency, created_at, name from customer_order
         where email = $1 or account_id = $2 order by created_at desc, order_id desc limit 200",
    )
    .bind(&email)
    .bind(&account_id)
    .fetch_all(&state.db.pool)
    .await?;
    let newsletter: Option<(i64, Option<i64>)> =
        sqlx::query_as("select created_at, confirmed_at from newsletter_subscriber where email = $1")
            .bind(&email)
            .fetch_optional(&state.db.pool)
            .await?;
    if account.is_none() && rows.is_empty() && newsletter.is_none() {
        return Err(ApiError::NotFound("no account, order or newsletter subscription of that address".into()));
    }
    let orders: Vec<_> = rows
        .iter()
        .map(|r| {
            let status: String = r.get("status");
            json!({
                "number": r.get::<String, _>("number"),
                "status": crate::orders::OrderStatus::parse(&status).map(|s| s.label()).unwrap_or("?"),
                "total": display(r.get("total_minor"), crate::catalog::currency_of(&r.get::<String, _>("currency"))),
                "placed": when(r.get("created_at")),
            })
        })
        .collect();
    let name =
        account.as_ref().map(|a| a.1.clone()).or_else(|| rows.first().map(|r| r.get("name"))).unwrap_or_default();
    let addresses: Vec<String> = match &account {
        Some((id, ..)) => sqlx::query("select name, line1, line2, postal_code, city, country from account_address where account_id = $1 order by created_at")
            .bind(id)
            .fetch_all(&state.db.pool)
            .await?
            .into_iter()
            .map(|r| {
                ["name", "line1", "line2"]
                    .iter()
                    .map(|k| r.get::<String, _>(*k))
                    .chain([format!("{} {}", r.get::<String, _>("postal_code"), r.get::<String, _>("city")), r.get("country")])
                    .filter(|l| !l.trim().is_empty())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .collect(),
        None => Vec::new(),
    };
    let subscriptions = match &account {
        Some((id, ..)) => folio_account::views(state, id).await?,
        None => Vec::new(),
    };
    // The first pause form's day is `#until`, where a mistake in it is said (and linked to).
    let first_pausable = subscriptions.iter().position(|s| s.actions.contains(&"pause"));
    let subscriptions: Vec<_> = subscriptions
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let until = if Some(i) == first_pausable { "until".to_string() } else { format!("until-{i}") };
            json!({ "until_id": until, "s": s })
        })
        .collect();
    let title = if name.is_empty() { email.clone() } else { name.clone() };
    let ctx = json!({
        "email": email,
        "page": page_of(&email),
        "name": name,
        "account": account.as_ref().map(|(_, _, since, verified)| json!({ "since": when(*since), "verified": verified.is_some() })),
        "orders": orders,
        "addresses": addresses,
        "subscriptions": subscriptions,
        "newsletter": newsletter.map(|(since, confirmed)| json!({ "since": when(since), "confirmed": confirmed.is_some() })),
        "may_manage": staff.may(Permission::CustomersManage),
        "flash": flash,
    });
    let template = "pages/staff/customer.html";
    Ok(console_after(state, staff, &title, template, ctx, error))
}

/// Which customer, and what their page says after an action.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Which {
    /// The customer's e-mail address (in the query, so that it stays out of the request log).
    #[serde(default)]
    email: String,
    /// The action just taken on a subscription (`pause`, `resume`, `cancel`, `cancel_now`).
    #[serde(default)]
    done: Option<String>,
}

/// A customer's page: its address, the e-mail in the query.
fn page_of(email: &str) -> String {
    format!(
        "/staff/customers/one?email={}",
        percent_encoding::utf8_percent_encode(email, percent_encoding::NON_ALPHANUMERIC)
    )
}

/// A customer: their orders, addresses, Folio subscriptions and newsletter subscription.
#[utoipa::path(get, path = "/staff/customers/one", tag = "staff",
    params(Which),
    security(("staff_session" = ["customers.view"])),
    responses(
        (status = 200, description = "The customer.", content_type = "text/html"),
        (status = 404, description = "No account, order or newsletter subscription of that address.", content_type = "application/json"),
    ))]
async fn customer_page(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Query(which): Query<Which>,
) -> ApiResult<Response> {
    let email = which.email;
    let flash = which.done.as_deref().and_then(|d| match d {
        "pause" => Some("Paused on their behalf; they have been e-mailed."),
        "resume" => Some("Resumed on their behalf; they have been e-mailed."),
        "cancel" | "cancel_now" => Some("Cancelled on their behalf; they have been e-mailed."),
        _ => None,
    });
    customer_view(&state, &staff, &email, flash, None).await
}

/// A change to a customer's subscription: `until` (`YYYY-MM-DD`) for a pause.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
struct ActionInput {
    /// The day a pause ends by itself; empty: until resumed.
    #[serde(default)]
    until: Option<String>,
}

/// Pauses, resumes or cancels a customer's Folio subscription on their behalf, as they could
/// themselves (the same rules, the same e-mail to them); audited.
#[utoipa::path(post, path = "/staff/customers/subscriptions/{subscription_id}/{action}", tag = "staff",
    params(("subscription_id" = String, Path, description = "The customer's subscription."),
           ("action" = String, Path, description = "`pause`, `resume`, `cancel` (with the paid period) or `cancel_now`.")),
    request_body(content = ActionInput, content_type = "application/x-www-form-urlencoded"),
    security(("staff_session" = ["customers.manage"])),
    responses(
        (status = 303, description = "Done: back to the customer."),
        (status = 404, description = "No such subscription or action.", content_type = "application/json"),
        (status = 409, description = "The customer's page again: the subscription cannot be changed so now.", content_type = "text/html"),
        (status = 422, description = "The customer's page again: the pause's day is wrong.", content_type = "text/html"),
    ))]
async fn subscription_action(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path((subscription_id, action)): Path<(String, String)>,
    ApiForm(input): ApiForm<ActionInput>,
) -> ApiResult<Response> {
    let owner: Option<(String, String)> = sqlx::query_as(
        "select a.account_id, a.email from subscription s join account a on a.account_id = s.account_id
         where s.subscription_id = $1",
    )
    .bind(&subscription_id)
    .fetch_optional(&state.db.pool)
    .await?;
    let Some((account_id, email)) = owner else {
        return Err(ApiError::NotFound(format!("no subscription {subscription_id}")));
    };
    let change = match action.as_str() {
        "pause" => folio_account::pause_of(&state, &PauseInput { until: input.until.clone() }).await,
        "resume" => Ok(FolioChange::Resume),
        "cancel" => Ok(FolioChange::Cancel { now: false }),
        "cancel_now" => Ok(FolioChange::Cancel { now: true }),
        other => return Err(ApiError::NotFound(format!("no action “{other}”: pause, resume, cancel or cancel_now"))),
    };
    let before = folio_account::view_of(&state, &account_id, &subscription_id).await?;
    let done = match change {
        Ok(change) => folio_account::ask(&state, &account_id, &subscription_id, change).await,
        Err(e) => Err(e),
    };
    match done {
        Ok(after) => {
            let mut tx = state.db.begin_write().await?;
            let change = Change {
                action: match action.as_str() {
                    "pause" => "folio.pause",
                    "resume" => "folio.resume",
                    _ => "folio.cancel",
                },
                subject: Some(format!("subscription:{subscription_id}")),
                before: Some(json!({ "customer": email, "status": before.subscription.status })),
                after: Some(json!({
                    "customer": email,
                    "status": after.subscription.status,
                    "until": input.until.filter(|u| !u.trim().is_empty()),
                    "now": action == "cancel_now",
                })),
            };
            audit::record(&mut tx, &staff.actor(), change).await?;
            tx.commit().await?;
            Ok(Redirect::to(&format!("{}&done={action}", page_of(&email))).into_response())
        }
        Err(e @ (ApiError::Conflict(_) | ApiError::Invalid { .. })) => {
            customer_view(&state, &staff, &email, None, Some(e)).await
        }
        Err(e) => Err(e),
    }
}

/// The newsletter's subscribers, newest first (the page shows this many).
const SUBSCRIBERS_SHOWN: i64 = 100;

/// The newsletter's subscribers: how many, the newest, and the export.
#[utoipa::path(get, path = "/staff/subscribers", tag = "staff",
    security(("staff_session" = ["customers.view"])),
    responses((status = 200, description = "The subscribers.", content_type = "text/html")))]
async fn subscribers_page(State(state): State<AppState>, Extension(staff): Extension<Staff>) -> ApiResult<Response> {
    let (all, confirmed): (i64, i64) = sqlx::query_as(
        "select count(*), cast(coalesce(sum(case when confirmed_at is not null then 1 else 0 end), 0) as bigint)
         from newsletter_subscriber",
    )
    .fetch_one(&state.db.pool)
    .await?;
    let newest: Vec<_> = sqlx::query(
        "select email, created_at, confirmed_at from newsletter_subscriber order by created_at desc, email limit $1",
    )
    .bind(SUBSCRIBERS_SHOWN)
    .fetch_all(&state.db.pool)
    .await?
    .into_iter()
    .map(|r| {
        json!({
            "email": r.get::<String, _>("email"),
            "since": when(r.get("created_at")),
            "confirmed": r.get::<Option<i64>, _>("confirmed_at").is_some(),
        })
    })
    .collect();
    let ctx = json!({
        "all": all, "confirmed": confirmed, "newest": newest, "shown": SUBSCRIBERS_SHOWN,
        "may_export": staff.may(Permission::CustomersManage),
    });
    Ok(console(&state, &staff, "Newsletter", "pages/staff/subscribers.html", ctx))
}

/// A CSV field as spreadsheets read it safely: quoted, inner quotes doubled, and a leading
/// `=`, `+`, `-`, `@`, tab or return (which a spreadsheet would run as a formula) behind a `'`.
fn csv_field(value: &str) -> String {
    let guarded =
        if value.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{value}") } else { value.to_string() };
    format!("\"{}\"", guarded.replace('"', "\"\""))
}

/// Every confirmed subscriber as CSV (e-mail, subscribed, confirmed; dates in UTC), for the
/// mailing tool; the export is audited.
#[utoipa::path(get, path = "/staff/subscribers.csv", tag = "staff",
    security(("staff_session" = ["customers.manage"])),
    responses((status = 200, description = "The confirmed subscribers.", content_type = "text/csv")))]
async fn subscribers_csv(State(state): State<AppState>, Extension(staff): Extension<Staff>) -> ApiResult<Response> {
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "select email, created_at, confirmed_at from newsletter_subscriber where confirmed_at is not null order by email",
    )
    .fetch_all(&state.db.pool)
    .await?;
    let day = |t: i64| crate::orders::date(t);
    let mut out = String::from("email,subscribed_on,confirmed_on\r\n");
    for (email, created, confirmed) in &rows {
        out.push_str(&format!("{},{},{}\r\n", csv_field(email), day(*created), day(*confirmed)));
    }
    let mut tx = state.db.begin_write().await?;
    let change = Change {
        action: "newsletter.export",
        subject: Some("newsletter".into()),
        before: None,
        after: Some(json!({ "subscribers": rows.len() })),
    };
    audit::record(&mut tx, &staff.actor(), change).await?;
    tx.commit().await?;
    let name = format!("attachment; filename=\"newsletter-{}.csv\"", day(crate::ids::now()));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, name),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        out,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(csv_field("ada@example.com"), "\"ada@example.com\"");
        assert_eq!(csv_field("\"odd, one\"@example.com"), "\"\"\"odd, one\"\"@example.com\"");
        assert_eq!(csv_field("=cmd|' /C calc'!A0@example.com"), "\"'=cmd|' /C calc'!A0@example.com\"");
        assert_eq!(csv_field("+1@example.com"), "\"'+1@example.com\"");
    }
}
