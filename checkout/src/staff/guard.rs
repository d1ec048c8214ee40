//! The one layer in front of every staff route. Each route says in its OpenAPI declaration what
//! it needs (`security(("staff_session" = ["orders.view"]))`, or `[]` for any staff member); the
//! layer reads that table, made once from the document, and refuses before any handler runs.
//! A `/staff` route that declares nothing is refused to everyone, so a route added without a
//! declaration is closed, not open.

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::audit::Actor;
use super::permissions::Permission;
use crate::accounts::session::token_of;
use crate::accounts::tokens::digest;
use crate::http::page::message;
use crate::ids::now;
use crate::AppState;

/// The name of the security scheme staff routes declare.
pub const SCHEME: &str = "staff_session";
/// How long a staff session may sit unused before it must sign in again: twelve hours.
pub const IDLE: i64 = 12 * 3600;
/// How often a staff session's last use is written down (one write a minute at most).
const SEEN_EVERY: i64 = 60;

/// The staff member behind a request, put in its extensions by [`enforce`].
#[derive(Debug, Clone)]
pub struct Staff {
    /// Their account.
    pub account_id: String,
    /// Their address.
    pub email: String,
    /// Their name.
    pub name: String,
    /// Their role.
    pub role: String,
    /// What their role may do, read at this request.
    pub permissions: BTreeSet<Permission>,
    /// Where the request came from.
    pub client: Option<String>,
}

impl Staff {
    /// Whether they may do this.
    pub fn may(&self, p: Permission) -> bool {
        self.permissions.contains(&p)
    }

    /// Them, as the audit log records them.
    pub fn actor(&self) -> Actor {
        Actor::Staff { account_id: self.account_id.clone(), email: self.email.clone(), client: self.client.clone() }
    }
}

/// What a staff route needs: the permissions it names (none: any staff member).
pub type Needs = Vec<Permission>;

/// Every staff route's needs, by method and path, from the OpenAPI document.
pub fn table() -> &'static HashMap<(Method, String), Needs> {
    static TABLE: OnceLock<HashMap<(Method, String), Needs>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let doc: serde_json::Value = serde_json::from_str(crate::openapi_json()).unwrap_or_default();
        let mut table = HashMap::new();
        let Some(paths) = doc["paths"].as_object() else { return table };
        for (path, item) in paths.iter().filter(|(p, _)| is_staff(p)) {
            let Some(ops) = item.as_object() else { continue };
            for (method, op) in ops {
                let Ok(method) = method.to_uppercase().parse::<Method>() else { continue };
                let declared = op["security"].as_array().and_then(|list| {
                    list.iter().find_map(|req| req.get(SCHEME)).and_then(|scopes| scopes.as_array()).map(|scopes| {
                        scopes.iter().filter_map(|s| s.as_str()).map(|s| Permission::parse(s).ok_or(s)).collect()
                    })
                });
                // A scope that names no permission closes the route (a typo must not open it).
                if let Some(Ok(needs)) = declared.map(|d: Vec<Result<Permission, &str>>| d.into_iter().collect()) {
                    table.insert((method, path.clone()), needs);
                }
            }
        }
        table
    })
}

/// Whether a path is the console's.
pub fn is_staff(path: &str) -> bool {
    path == "/staff" || path.starts_with("/staff/")
}

/// Why a request was refused.
enum Refusal {
    SignedOut,
    NotStaff,
    NoSecondFactor,
    Idle,
    Lacks(Permission),
    Undeclared,
}

impl Refusal {
    fn answer(&self, state: &AppState) -> Response {
        let (status, heading, text, link) = match self {
            Refusal::SignedOut => (
                StatusCode::UNAUTHORIZED,
                "Sign in to the staff console",
                "The staff console is for the atelier's staff. Sign in with your password and your second factor, then come back to /staff.",
                ("/account/sign-in", "Sign in"),
            ),
            Refusal::Idle => (
                StatusCode::UNAUTHORIZED,
                "Sign in again",
                "Your staff session was unused for twelve hours and has ended. Sign in again with your password and your second factor.",
                ("/account/sign-in", "Sign in"),
            ),
            Refusal::NotStaff => (
                StatusCode::FORBIDDEN,
                "Not a staff account",
                "This account is not one of the atelier's staff.",
                ("/account", "Your account"),
            ),
            Refusal::NoSecondFactor => (
                StatusCode::FORBIDDEN,
                "Two factors needed",
                "Staff sign in with two factors, always. Turn on two-factor sign-in for your account (or sign out and in again with your code), then come back to /staff.",
                ("/account/two-factor", "Two-factor sign-in"),
            ),
            Refusal::Lacks(p) => {
                let text = format!("Your role does not allow this ({}). An owner can change what your role may do.", p.as_str());
                return message(state, StatusCode::FORBIDDEN, "Not allowed", &text, ("/staff", "The console"));
            }
            Refusal::Undeclared => (
                StatusCode::FORBIDDEN,
                "Not allowed",
                "This page of the console declares no permission, so nobody may open it.",
                ("/staff", "The console"),
            ),
        };
        message(state, status, heading, text, link)
    }
}

/// The layer: finds the staff member, checks the second factor, the idle time and the route's
/// permissions, and hands the handler a [`Staff`].
pub async fn enforce(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(path) = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()) else {
        return next.run(req).await;
    };
    if !is_staff(&path) {
        return next.run(req).await;
    }
    // A HEAD is answered as its GET.
    let method = if req.method() == Method::HEAD { Method::GET } else { req.method().clone() };
    let needs = table().get(&(method, path.clone())).cloned();
    let socket = req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
    let client = state.config.trusted_proxies.client(req.headers(), socket).map(|a| a.to_string());
    match who(&state, req.headers(), client).await {
        Ok(Ok(staff)) => {
            let Some(needs) = needs else { return Refusal::Undeclared.answer(&state) };
            if let Some(lacking) = needs.iter().find(|p| !staff.may(**p)) {
                return Refusal::Lacks(*lacking).answer(&state);
            }
            req.extensions_mut().insert(staff);
            next.run(req).await
        }
        Ok(Err(refusal)) => refusal.answer(&state),
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}

type Row = (String, String, String, String, Option<String>, Option<i64>, i64);

async fn who(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    client: Option<String>,
) -> Result<Result<Staff, Refusal>, sqlx::Error> {
    let Some(token) = token_of(headers) else { return Ok(Err(Refusal::SignedOut)) };
    let t = now();
    let row: Option<Row> = sqlx::query_as(
        "select s.session_id, s.account_id, a.email, a.name, m.role, s.two_factor_at,
                coalesce(s.staff_seen_at, s.two_factor_at, s.created_at)
         from account_session s join account a on a.account_id = s.account_id
         left join staff_member m on m.account_id = s.account_id
         where s.token_hash = $1 and s.expires_at > $2",
    )
    .bind(digest(&token))
    .bind(t)
    .fetch_optional(&state.db.pool)
    .await?;
    let Some((session_id, account_id, email, name, role, two_factor_at, seen_at)) = row else {
        return Ok(Err(Refusal::SignedOut));
    };
    let Some(role) = role else { return Ok(Err(Refusal::NotStaff)) };
    if two_factor_at.is_none() {
        return Ok(Err(Refusal::NoSecondFactor));
    }
    if t - seen_at > IDLE {
        // The whole session ends: a browser left open at the atelier signs nobody in again.
        crate::accounts::session::end(&state.db, &account_id, &session_id).await?;
        state.sessions.forget_token(&token);
        return Ok(Err(Refusal::Idle));
    }
    if t - seen_at >= SEEN_EVERY {
        let mut tx = state.db.begin_write().await?;
        sqlx::query("update account_session set staff_seen_at = $1 where session_id = $2")
            .bind(t)
            .bind(&session_id)
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
    }
    // The owner role holds everything, a permission newer than the shop's roles too.
    let permissions = if role == super::permissions::OWNER {
        Permission::ALL.into_iter().collect()
    } else {
        super::members::permissions_of(&state.db, &role).await?
    };
    Ok(Ok(Staff { account_id, email, name, role, permissions, client }))
}
