//! The service's HTML pages, inside the site's own layout.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use crate::error::ApiError;
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

/// Puts a form's problems into a page's context and gives the page's status: 422 when all are
/// for the person to correct, else the first one's own status.
pub fn show_errors(ctx: &mut serde_json::Value, errors: &[ApiError]) -> StatusCode {
    let shown = form_errors(errors);
    ctx["errors"] = shown["errors"].clone();
    ctx["field_errors"] = shown["field_errors"].clone();
    errors
        .iter()
        .find(|e| !matches!(e, ApiError::Invalid { .. } | ApiError::BadRequest(_)))
        .map_or(StatusCode::UNPROCESSABLE_ENTITY, ApiError::status)
}

/// A form's problems as the page shows them (the GOV.UK pattern): `errors`, the summary's list,
/// each linked to its field (`#field`, the control's id); `field_errors`, each field's own message.
pub fn form_errors(errors: &[ApiError]) -> serde_json::Value {
    let mut list = Vec::new();
    let mut by_field = serde_json::Map::new();
    for e in errors {
        match e {
            ApiError::Invalid { field, message } => {
                let message = capitalise(message);
                list.push(json!({ "message": message, "href": format!("#{field}") }));
                by_field.entry(field.clone()).or_insert(json!(message));
            }
            other => list.push(json!({ "message": capitalise(&other.public_message()) })),
        }
    }
    json!({ "errors": list, "field_errors": by_field })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_problem_links_to_its_field_and_is_told_beside_it() {
        let shown = form_errors(&[
            ApiError::invalid("postal_code", "a postal code in France has five digits"),
            ApiError::Conflict("a bottle sold out".into()),
        ]);
        assert_eq!(shown["errors"][0]["href"], "#postal_code");
        assert_eq!(shown["errors"][0]["message"], "A postal code in France has five digits");
        assert_eq!(shown["errors"][1]["message"], "A bottle sold out");
        assert!(shown["errors"][1].get("href").is_none());
        assert_eq!(shown["field_errors"]["postal_code"], "A postal code in France has five digits");
    }
}
