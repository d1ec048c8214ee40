//! The Folio's JSON API for its subscribers (seed §8.1, SUBSCRIPTIONS): their subscriptions,
//! subscribing, and pause, resume and cancel. Every route needs a signed-in account, and a
//! subscription is only ever its own account's.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::account::{self, CancelInput, PauseInput, SubscriptionView};
use super::Change;
use super::Subscribe;
use crate::accounts::http::required;
use crate::accounts::session::{MaybeSignedIn, SignedIn};
use crate::checkout::AddressInput;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::ApiJson;
use crate::payments::Payments;
use crate::AppState;

/// The Folio's API routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, subscribe))
        .routes(routes!(one))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(cancel))
}

/// The account's subscriptions.
#[derive(Serialize, utoipa::ToSchema)]
struct Subscriptions {
    /// Newest first.
    subscriptions: Vec<SubscriptionView>,
}

/// The account's Folio subscriptions, with what happens next and their invoices.
#[utoipa::path(get, path = "/api/subscriptions", tag = "folio",
    responses(
        (status = 200, description = "The subscriptions, newest first.", body = Subscriptions),
        (status = 401, description = "Not signed in.", body = ErrorBody),
    ))]
async fn list(State(state): State<AppState>, me: MaybeSignedIn) -> ApiResult<Json<Subscriptions>> {
    let me = required(me)?;
    Ok(Json(Subscriptions { subscriptions: account::views(&state, &me.account_id).await? }))
}

/// A subscription to take.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct SubscribeInput {
    /// The plan (`quarterly`).
    #[schema(example = "quarterly")]
    pub plan_id: String,
    /// Where the editions go.
    #[serde(flatten)]
    pub address: AddressInput,
    /// A second subscription to a plan one has already (another address, a gift to oneself).
    pub another: bool,
}

/// A subscription made, waiting for its first payment.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Subscribed {
    /// The subscription.
    pub subscription: SubscriptionView,
    /// Where its first payment is made.
    pub pay_url: String,
}

/// Begins a subscription and says where to pay for it; nothing is charged before that page.
/// Asked twice (a double click), the same subscription.
#[utoipa::path(post, path = "/api/subscriptions", tag = "folio",
    request_body = SubscribeInput,
    responses(
        (status = 201, description = "Made (or the one already waiting), with where to pay.", body = Subscribed),
        (status = 400, description = "A field is invalid (`field` names it).", body = ErrorBody),
        (status = 401, description = "Not signed in.", body = ErrorBody),
        (status = 404, description = "No plan of that id is open.", body = ErrorBody),
        (status = 409, description = "The account subscribes to that plan already (ask for `another`).", body = ErrorBody),
        (status = 502, description = "Stripe could not be reached: nothing was made at Stripe or charged.", body = ErrorBody),
    ))]
async fn subscribe(
    State(state): State<AppState>,
    me: MaybeSignedIn,
    ApiJson(input): ApiJson<SubscribeInput>,
) -> ApiResult<impl IntoResponse> {
    let me = required(me)?;
    let made = begin(&state, &me, &input).await?;
    Ok((StatusCode::CREATED, Json(made)))
}

/// Begins a subscription for the API and the subscribe page alike: its payment page is the
/// sandbox's, or Stripe Checkout's in subscription mode.
pub async fn begin(state: &AppState, me: &SignedIn, input: &SubscribeInput) -> ApiResult<Subscribed> {
    let account_id = me.account_id.as_str();
    let ask = Subscribe {
        account_id,
        plan_id: input.plan_id.trim(),
        address: &input.address,
        provider: state.payments.name(),
        another: input.another,
    };
    let s = super::begin(&state.db, &ask).await?;
    let pay_url = pay_url(state, me, &s).await?;
    Ok(Subscribed { subscription: account::view_of(state, account_id, &s.subscription_id).await?, pay_url })
}

/// Where a pending subscription's first period is paid: the sandbox's page, or a Stripe
/// Checkout Session opened for it.
pub async fn pay_url(state: &AppState, me: &SignedIn, s: &super::Subscription) -> ApiResult<String> {
    match (&state.payments, s.provider.as_str()) {
        (Payments::Sandbox, "sandbox") => Ok(format!("/folio/pay/{}", s.subscription_id)),
        (Payments::Stripe(gateway), "stripe") => super::stripe::checkout(state, gateway, s, &me.email).await,
        (_, other) => Err(ApiError::Conflict(format!(
            "this subscription was begun with {other} payments, which this service no longer takes: begin it again"
        ))),
    }
}

/// One of the account's subscriptions.
#[utoipa::path(get, path = "/api/subscriptions/{subscription_id}", tag = "folio",
    params(("subscription_id" = String, Path, description = "The subscription, `sub_…`.")),
    responses(
        (status = 200, description = "The subscription.", body = SubscriptionView),
        (status = 401, description = "Not signed in.", body = ErrorBody),
        (status = 404, description = "The account has no such subscription.", body = ErrorBody),
    ))]
async fn one(
    State(state): State<AppState>,
    me: MaybeSignedIn,
    Path(id): Path<String>,
) -> ApiResult<Json<SubscriptionView>> {
    let me = required(me)?;
    Ok(Json(account::view_of(&state, &me.account_id, &id).await?))
}

/// Pauses a subscription: no edition and nothing billed until the day given, or until resumed.
#[utoipa::path(put, path = "/api/subscriptions/{subscription_id}/pause", tag = "folio",
    params(("subscription_id" = String, Path, description = "The subscription, `sub_…`.")),
    request_body = PauseInput,
    responses(
        (status = 200, description = "Paused; confirmed by e-mail.", body = SubscriptionView),
        (status = 400, description = "`until` is not a day within a year.", body = ErrorBody),
        (status = 401, description = "Not signed in.", body = ErrorBody),
        (status = 404, description = "The account has no such subscription.", body = ErrorBody),
        (status = 409, description = "It cannot be paused now (ended, ending, past due, not started).", body = ErrorBody),
        (status = 502, description = "Stripe could not be reached: nothing changed.", body = ErrorBody),
    ))]
async fn pause(
    State(state): State<AppState>,
    me: MaybeSignedIn,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<PauseInput>,
) -> ApiResult<Json<SubscriptionView>> {
    let me = required(me)?;
    let change = account::pause_of(&state, &input).await?;
    Ok(Json(account::ask(&state, &me.account_id, &id, change).await?))
}

/// Resumes a paused subscription (nothing billed now, the billing date kept), or keeps on one
/// that was to end with its period.
#[utoipa::path(put, path = "/api/subscriptions/{subscription_id}/resume", tag = "folio",
    params(("subscription_id" = String, Path, description = "The subscription, `sub_…`.")),
    responses(
        (status = 200, description = "Running again; confirmed by e-mail.", body = SubscriptionView),
        (status = 401, description = "Not signed in.", body = ErrorBody),
        (status = 404, description = "The account has no such subscription.", body = ErrorBody),
        (status = 409, description = "It is neither paused nor ending.", body = ErrorBody),
        (status = 502, description = "Stripe could not be reached: nothing changed.", body = ErrorBody),
    ))]
async fn resume(
    State(state): State<AppState>,
    me: MaybeSignedIn,
    Path(id): Path<String>,
) -> ApiResult<Json<SubscriptionView>> {
    let me = required(me)?;
    Ok(Json(account::ask(&state, &me.account_id, &id, Change::Resume).await?))
}

/// Cancels a subscription: at the end of the paid period, or now (nothing is refunded).
#[utoipa::path(put, path = "/api/subscriptions/{subscription_id}/cancel", tag = "folio",
    params(("subscription_id" = String, Path, description = "The subscription, `sub_…`.")),
    request_body = CancelInput,
    responses(
        (status = 200, description = "Ending or ended; confirmed by e-mail.", body = SubscriptionView),
        (status = 401, description = "Not signed in.", body = ErrorBody),
        (status = 404, description = "The account has no such subscription.", body = ErrorBody),
        (status = 409, description = "It has ended already, or ends with its period already.", body = ErrorBody),
        (status = 502, description = "Stripe could not be reached: nothing changed.", body = ErrorBody),
    ))]
async fn cancel(
    State(state): State<AppState>,
    me: MaybeSignedIn,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<CancelInput>,
) -> ApiResult<Json<SubscriptionView>> {
    let me = required(me)?;
    Ok(Json(account::ask(&state, &me.account_id, &id, Change::Cancel { now: input.now }).await?))
}
