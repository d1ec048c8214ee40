//! The console's testimonials: write one down (shown at once, or waiting for approval), approve
//! or hide, feature, delete.

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
use crate::testimonials::{self, Draft, Edit};
use crate::AppState;

/// The testimonials pages' routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(testimonials_page, add_testimonial)).routes(routes!(edit_testimonial))
}

async fn view(
    state: &AppState,
    staff: &Staff,
    flash: Option<&str>,
    error: Option<ApiError>,
    typed: serde_json::Value,
) -> ApiResult<Response> {
    let all: Vec<_> = testimonials::all(&state.db)
        .await?
        .into_iter()
        .map(|t| json!({ "when": when(t.created_at), "t": t }))
        .collect();
    let ctx = json!({
        "all": all, "flash": flash, "typed": typed, "quote_max": testimonials::QUOTE_MAX,
        "may_approve": staff.may(Permission::TestimonialsApprove),
    });
    let template = "pages/staff/testimonials.html";
    Ok(console_after(state, staff, "Testimonials", template, ctx, error))
}

/// Every testimonial, those waiting for approval first, and the form to write one down.
#[utoipa::path(get, path = "/staff/testimonials", tag = "staff", params(Done),
    security(("staff_session" = ["testimonials.write"])),
    responses((status = 200, description = "The testimonials.", content_type = "text/html")))]
async fn testimonials_page(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Query(done): Query<Done>,
) -> ApiResult<Response> {
    let flash = done.done.as_deref().and_then(|d| match d {
        "added" => Some("Written down."),
        "approve" => Some("Approved: the home page shows it after the site's next build."),
        "hide" => Some("Hidden from the home page after the site's next build."),
        "feature" | "unfeature" => Some("Saved; the home page follows after the site's next build."),
        "delete" => Some("Deleted."),
        _ => None,
    });
    view(&state, &staff, flash, None, json!({})).await
}

/// A testimonial as written in the form.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
struct TestimonialInput {
    /// Who said it.
    #[serde(default)]
    author: String,
    /// Their title or town.
    #[serde(default)]
    title: String,
    /// What they said.
    #[serde(default)]
    quote: String,
    /// 1 to 5, or empty.
    #[serde(default)]
    rating: String,
    /// `on`: listed first.
    #[serde(default)]
    featured: Option<String>,
    /// `on`: shown at once.
    #[serde(default)]
    approved: Option<String>,
}

/// Writes a testimonial down.
#[utoipa::path(post, path = "/staff/testimonials", tag = "staff",
    request_body(content = TestimonialInput, content_type = "application/x-www-form-urlencoded"),
    security(("staff_session" = ["testimonials.write"])),
    responses(
        (status = 303, description = "Written down: back to the testimonials."),
        (status = 403, description = "The page again: showing one at once needs testimonials.approve.", content_type = "text/html"),
        (status = 422, description = "The page again: what to correct.", content_type = "text/html"),
    ))]
async fn add_testimonial(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    ApiForm(input): ApiForm<TestimonialInput>,
) -> ApiResult<Response> {
    let typed = json!({
        "author": input.author, "title": input.title, "quote": input.quote, "rating": input.rating,
        "approved": input.approved.is_some(), "featured": input.featured.is_some(),
    });
    // Shown at once, or featured, only by who may approve.
    if (input.approved.is_some() || input.featured.is_some()) && !staff.may(Permission::TestimonialsApprove) {
        let e = ApiError::Forbidden("only who may approve testimonials shows one at once".into());
        return view(&state, &staff, None, Some(e), typed).await;
    }
    let rating = match input.rating.trim() {
        "" => Ok(None),
        r => r.parse::<i64>().map(Some).map_err(|_| ApiError::invalid("rating", "a rating is from 1 to 5, or none")),
    };
    let added = match rating {
        Ok(rating) => {
            let draft = Draft {
                author: input.author,
                title: input.title,
                quote: input.quote,
                rating,
                featured: input.featured.is_some(),
                approved: input.approved.is_some(),
            };
            testimonials::add(&state.db, &staff.actor(), &draft).await.map(|_| ())
        }
        Err(e) => Err(e),
    };
    match added {
        Ok(()) => Ok(Redirect::to("/staff/testimonials?done=added").into_response()),
        Err(e @ ApiError::Invalid { .. }) => view(&state, &staff, None, Some(e), typed).await,
        Err(e) => Err(e),
    }
}

/// Approves, hides, features, unfeatures or deletes a testimonial.
#[utoipa::path(post, path = "/staff/testimonials/{testimonial_id}/{edit}", tag = "staff",
    params(("testimonial_id" = String, Path, description = "The testimonial."),
           ("edit" = String, Path, description = "`approve`, `hide`, `feature`, `unfeature` or `delete`.")),
    security(("staff_session" = ["testimonials.approve"])),
    responses(
        (status = 303, description = "Done: back to the testimonials."),
        (status = 404, description = "No such testimonial or change.", content_type = "application/json"),
    ))]
async fn edit_testimonial(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path((testimonial_id, edit)): Path<(String, String)>,
) -> ApiResult<Response> {
    let Some(change) = Edit::parse(&edit) else {
        return Err(ApiError::NotFound(format!("no change “{edit}”: approve, hide, feature, unfeature or delete")));
    };
    testimonials::edit(&state.db, &staff.actor(), &testimonial_id, change).await?;
    Ok(Redirect::to(&format!("/staff/testimonials?done={edit}")).into_response())
}
