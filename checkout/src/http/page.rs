//! The service's HTML pages, inside the site's own layout.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use crate::AppState;

/// A page of the service: an embedded template rendered inside the site's shell.
pub fn page(state: &AppState, title: &str, template: &str, ctx: serde_json::Value) -> Html<String> {
    let mut ctx = ctx;
    ctx["site_title"] = json!(state.config.site_title);
    ctx["checkout_url"] = json!("");
    ctx["google_sign_in"] = json!(state.google.enabled());
    if ctx.get("errors").is_none() {
        ctx["errors"] = json!([]);
    }
    Html(state.shell.page(title, &crate::views::render(template, &ctx)))
}

/// A page that says one thing, with a link onwards.
pub fn message(state: &AppState, status: StatusCode, heading: &str, message: &str, link: (&str, &str)) -> Response {
    let ctx = json!({ "heading": heading, "message": message, "link_href": link.0, "link_text": link.1 });
    (status, page(state, heading, "pages/message.html", ctx)).into_response()
}

/// A sentence as a page shows it: its first letter capitalised.
pub fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}
