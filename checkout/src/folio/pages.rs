//! The Folio's pages, plain forms that work without JavaScript: subscribing (signed in, the
//! address, then the sandbox's payment page), and the account's subscription page with pause,
//! resume and cancel.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::account::{self, CancelInput, PauseInput};
use super::gift::{self, GiftInput};
use super::http::SubscribeInput;
use super::sandbox;
use super::Change;
use crate::accounts::session::{MaybeSignedIn, SignedIn};
use crate::error::{ApiError, ApiResult};
use crate::http::page::{capitalise, message, page, show_errors};
use crate::http::ApiForm;
use crate::payments::Payments;
use crate::AppState;

/// The Folio's page routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(subscribe_page, subscribe_form))
        .routes(routes!(pay_page, pay_form))
        .routes(routes!(gift_page, gift_form))
        .routes(routes!(gift_pay_page, gift_pay_form))
        .routes(routes!(account_page))
        .routes(routes!(pause_form))
        .routes(routes!(resume_form))
        .routes(routes!(cancel_form))
        .routes(routes!(card_page, card_form))
}

/// The plan a subscribe page is for.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct PlanQuery {
    /// The plan's id; the first open plan when absent.
    #[serde(default)]
    plan: Option<String>,
}

/// A form's page, as new or again with its error said beside its field (422 for what to
/// correct, the error's own status otherwise).
fn form_page(
    state: &AppState,
    title: &str,
    template: &str,
    mut ctx: serde_json::Value,
    error: Option<&ApiError>,
) -> Response {
    let Some(e) = error else { return page(state, title, template, ctx).into_response() };
    let status = show_errors(&mut ctx, std::slice::from_ref(e));
    (status, page(state, title, template, ctx)).into_response()
}

/// The page a signed-out visitor sees instead of a form: the invitation itself when they came
/// to subscribe (a link on the site leads there), 401 when they sent something.
fn sign_in_first(state: &AppState) -> Response {
    sign_in_to_subscribe(state, StatusCode::UNAUTHORIZED)
}

fn sign_in_to_subscribe(state: &AppState, status: StatusCode) -> Response {
    message(
        state,
        status,
        "Sign in to subscribe",
        "A subscription belongs to an account, where you can pause, resume or cancel it at any time. Sign in, or open an account in a minute, then come back to the Folio.",
        ("/account/sign-in", "Sign in or open an account"),
    )
}

/// The subscribe form, as new or again with what to correct.
async fn subscribe_view(
    state: &AppState,
    me: &SignedIn,
    plan_id: Option<&str>,
    again: Option<(&ApiError, &SubscribeInput)>,
) -> ApiResult<Response> {
    let Some(plan) = open_plan(state, plan_id).await? else {
        return Ok(message(
            state,
            StatusCode::NOT_FOUND,
            "No such plan",
            "This Folio plan is not open to new subscribers.",
            ("/folio/", "Back to the Folio"),
        ));
    };
    let currency = plan.currency.parse().unwrap_or(atelier_domain::Currency::Eur);
    let held = account::views(state, &me.account_id)
        .await?
        .into_iter()
        .any(|v| v.subscription.plan_id == plan.plan_id && v.actions.iter().any(|a| *a != "pay"));
    let form = match again {
        Some((_, input)) => json!({
            "name": input.address.name, "line1": input.address.line1, "line2": input.address.line2,
            "postal_code": input.address.postal_code, "city": input.address.city, "country": input.address.country,
            "another": input.another,
        }),
        None => match crate::accounts::addresses::defaults(state, &me.account_id).await?.0 {
            Some(a) => json!({
                "name": a.name, "line1": a.line1, "line2": a.line2, "postal_code": a.postal_code, "city": a.city,
                "country": a.country, "another": false,
            }),
            None => json!({ "name": me.name, "country": "FR", "another": false }),
        },
    };
    let countries: Vec<_> =
        crate::checkout::pricing::COUNTRIES.iter().map(|(c, n, _)| json!({ "code": c, "name": n })).collect();
    let ctx = json!({
        "plan": {
            "plan_id": plan.plan_id,
            "name": plan.name,
            "price": crate::checkout::pricing::display(plan.price_minor, currency),
            "holds": plan.holds,
            "cadence": plan.cadence,
            "shipping_included": plan.shipping_included,
        },
        "held": held,
        "form": form,
        "countries": countries,
        "field_errors": {},
    });
    Ok(form_page(state, "Subscribe to the Folio", "pages/folio/subscribe.html", ctx, again.map(|(e, _)| e)))
}

/// The subscribe form: the plan, and where the editions go.
#[utoipa::path(get, path = "/folio/subscribe", tag = "pages", params(PlanQuery),
    responses(
        (status = 200, description = "The form; signed out, how to sign in or open an account first.", content_type = "text/html"),
        (status = 404, description = "No such plan is open.", content_type = "text/html"),
    ))]
async fn subscribe_page(
    State(state): State<AppState>,
    me: MaybeSignedIn,
    Query(q): Query<PlanQuery>,
) -> ApiResult<Response> {
    let Some(me) = me.0 else { return Ok(sign_in_to_subscribe(&state, StatusCode::OK)) };
    subscribe_view(&state, &me, q.plan.as_deref(), None).await
}

/// Begins a subscription from the form and goes to its payment page.
#[utoipa::path(post, path = "/folio/subscribe", tag = "pages",
    request_body(content = SubscribeInput, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Made: to its payment page."),
        (status = 401, description = "Not signed in: nothing was made.", content_type = "text/html"),
        (status = 409, description = "The form again: the account subscribes already (tick `another`).", content_type = "text/html"),
        (status = 422, description = "The form again: what to correct.", content_type = "text/html"),
    ))]
async fn subscribe_form(
    State(state): State<AppState>,
    me: MaybeSignedIn,
    ApiForm(input): ApiForm<SubscribeInput>,
) -> ApiResult<Response> {
    let Some(me) = me.0 else { return Ok(sign_in_first(&state)) };
    match super::http::begin(&state, &me, &input).await {
        Ok(made) => Ok(Redirect::to(&made.pay_url).into_response()),
        Err(
            e @ (ApiError::Invalid { .. }
            | ApiError::BadRequest(_)
            | ApiError::Conflict(_)
            | ApiError::NotFound(_)
            | ApiError::Provider(_)),
        ) => subscribe_view(&state, &me, Some(input.plan_id.as_str()), Some((&e, &input))).await,
        Err(e) => Err(e),
    }
}

/// The payment page for a subscription's first period: the sandbox's, or a page that goes on
/// to Stripe Checkout.
#[utoipa::path(get, path = "/folio/pay/{subscription_id}", tag = "pages",
    params(("subscription_id" = String, Path, description = "The subscription, `sub_…`.")),
    responses(
        (status = 200, description = "The sandbox's page (pay or decline), or Stripe's button.", content_type = "text/html"),
        (status = 303, description = "Paid already: to the account's Folio page."),
        (status = 401, description = "Not signed in.", content_type = "text/html"),
        (status = 404, description = "No such subscription of the account.", content_type = "text/html"),
    ))]
async fn pay_page(State(state): State<AppState>, me: MaybeSignedIn, Path(id): Path<String>) -> ApiResult<Response> {
    let Some(me) = me.0 else { return Ok(sign_in_first(&state)) };
    let view = match account::view_of(&state, &me.account_id, &id).await {
        Ok(v) => v,
        Err(e @ ApiError::NotFound(_)) => return Ok(not_yours(&state, &e)),
        Err(e) => return Err(e),
    };
    if !view.actions.contains(&"pay") {
        return Ok(Redirect::to("/account/folio").into_response());
    }
    let ctx = json!({ "s": view, "stripe": !state.payments.is_sandbox() });
    Ok(page(&state, "Payment", "pages/folio/pay.html", ctx).into_response())
}

/// The sandbox's payment page's buttons.
#[derive(Deserialize, utoipa::ToSchema)]
struct PayInput {
    /// `pay` or `decline`.
    action: String,
}

/// Pays (or declines) a subscription's first period on the sandbox's page; with Stripe, goes on
/// to a Checkout Session for it.
#[utoipa::path(post, path = "/folio/pay/{subscription_id}", tag = "pages",
    params(("subscription_id" = String, Path, description = "The subscription, `sub_…`.")),
    request_body(content = PayInput, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "To the account's Folio page, or to Stripe Checkout."),
        (status = 400, description = "Neither `pay` nor `decline`.", content_type = "application/json"),
        (status = 401, description = "Not signed in.", content_type = "text/html"),
        (status = 404, description = "No such subscription of the account.", content_type = "text/html"),
        (status = 409, description = "The Folio page: the payment has been made, Stripe's confirmation is awaited.", content_type = "text/html"),
        (status = 502, description = "The Folio page, saying Stripe could not be reached: nothing was charged.", content_type = "text/html"),
    ))]
async fn pay_form(
    State(state): State<AppState>,
    me: MaybeSignedIn,
    Path(id): Path<String>,
    ApiForm(input): ApiForm<PayInput>,
) -> ApiResult<Response> {
    let Some(me) = me.0 else { return Ok(sign_in_first(&state)) };
    let pay = match input.action.as_str() {
        "pay" => true,
        "decline" => false,
        other => return Err(ApiError::invalid("action", format!("`{other}` is neither pay nor decline"))),
    };
    let s = match super::load(&state.db, &id).await?.filter(|s| s.account_id == me.account_id) {
        Some(s) => s,
        None => return Ok(not_yours(&state, &ApiError::NotFound(format!("you have no subscription {id}")))),
    };
    if !state.payments.is_sandbox() {
        if !pay || s.status != atelier_domain::SubscriptionStatus::Pending {
            return Ok(Redirect::to("/account/folio").into_response());
        }
        return match super::http::pay_url(&state, &me, &s).await {
            Ok(url) => Ok(Redirect::to(&url).into_response()),
            Err(e @ (ApiError::Conflict(_) | ApiError::Provider(_))) => account_view(&state, &me, None, Some(&e)).await,
            Err(e) => Err(e),
        };
    }
    if s.provider != "sandbox" {
        return Err(ApiError::NotFound("the sandbox's payment page is not served here".into()));
    }
    if !pay {
        return Ok(message(
            &state,
            StatusCode::PAYMENT_REQUIRED,
            "The payment was declined",
            "Nothing was charged and your subscription has not started. You can try again whenever you like.",
            (&format!("/folio/pay/{id}"), "Try the payment again"),
        ));
    }
    sandbox::start(&state, &s, true).await?;
    Ok(Redirect::to("/account/folio").into_response())
}

fn not_yours(state: &AppState, e: &ApiError) -> Response {
    message(
        state,
        StatusCode::NOT_FOUND,
        "No such subscription",
        &capitalise(&e.public_message()),
        ("/account/folio", "Your Folio"),
    )
}

/// The account's Folio page, with a note or an error.
async fn account_view(
    state: &AppState,
    me: &SignedIn,
    flash: Option<&str>,
    error: Option<&ApiError>,
) -> ApiResult<Response> {
    let subscriptions = account::views(state, &me.account_id).await?;
    let mut gifts = Vec::new();
    for g in gift::of_account(&state.db, &me.account_id).await? {
        gifts.push(gift::view(&state.db, g).await?);
    }
    let mut ctx = json!({ "subscriptions": subscriptions, "gifts": gifts, "field_errors": {} });
    if let Some(flash) = flash {
        ctx["flash"] = json!(flash);
    }
    Ok(form_page(state, "Your Folio", "pages/account/folio.html", ctx, error))
}

/// The account's Folio: each subscription, what happens next and when, its invoices, and
/// pause, resume and cancel.
#[utoipa::path(get, path = "/account/folio", tag = "pages",
    params(PaidQuery),
    responses(
        (status = 200, description = "The subscriptions.", content_type = "text/html"),
        (status = 303, description = "Not signed in: to the sign-in page."),
    ))]
async fn account_page(
    State(state): State<AppState>,
    me: MaybeSignedIn,
    Query(q): Query<PaidQuery>,
) -> ApiResult<Response> {
    let Some(me) = me.0 else { return Ok(Redirect::to("/account/sign-in").into_response()) };
    // Back from Stripe Checkout before its event: the payment is made, the page not yet told.
    let waiting = match q.paid.as_deref() {
        Some(id) => super::load(&state.db, id)
            .await?
            .is_some_and(|s| s.account_id == me.account_id && s.status == atelier_domain::SubscriptionStatus::Pending),
        None => false,
    };
    account_view(&state, &me, waiting.then_some(PAID_WAITING), None).await
}

/// The page's note when a change has gone to Stripe and its event has not come back yet.
const CONFIRMING: &str =
    "Stripe has your change. This page shows it as soon as Stripe confirms it, usually within a minute; an e-mail confirms it too.";

/// The page's note when Stripe Checkout sent the subscriber back before its event came.
const PAID_WAITING: &str =
    "Thank you: your payment is with Stripe. Your Folio starts as soon as Stripe confirms it, usually within a minute; an e-mail confirms it.";

/// Stripe Checkout's way back after a payment.
#[derive(Deserialize, utoipa::IntoParams)]
struct PaidQuery {
    /// The subscription just paid for.
    paid: Option<String>,
}

/// A change from the account's page, answered with the page saying what happened.
async fn changed(
    state: &AppState,
    me: MaybeSignedIn,
    id: &str,
    change: ApiResult<Change>,
    done: &str,
) -> ApiResult<Response> {
    let Some(me) = me.0 else { return Ok(sign_in_first(state)) };
    let result = match change {
        Ok(change) => account::ask(state, &me.account_id, id, change).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(view) if view.confirming => account_view(state, &me, Some(CONFIRMING), None).await,
        Ok(_) => account_view(state, &me, Some(done), None).await,
        Err(e @ (ApiError::Invalid { .. } | ApiError::Conflict(_) | ApiError::NotFound(_) | ApiError::Provider(_))) => {
            account_view(state, &me, None, Some(&e)).await
        }
        Err(e) => Err(e),
    }
}

/// Pauses a subscription from its page.
#[utoipa::path(post, path = "/account/folio/{subscription_id}/pause", tag = "pages",
    params(("subscription_id" = String, Path, description = "The subscription, `sub_…`.")),
    request_body(content = PauseInput, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The page again, saying so; confirmed by e-mail.", content_type = "text/html"),
        (status = 401, description = "Not signed in: nothing changed.", content_type = "text/html"),
        (status = 409, description = "The page again: it cannot be paused now.", content_type = "text/html"),
        (status = 422, description = "The page again: the day is not one within a year.", content_type = "text/html"),
    ))]
async fn pause_form(
    State(state): State<AppState>,
    me: MaybeSignedIn,
    Path(id): Path<String>,
    ApiForm(input): ApiForm<PauseInput>,
) -> ApiResult<Response> {
    let change = account::pause_of(&state, &input).await;
    changed(&state, me, &id, change, "Your Folio is paused; an e-mail confirms it.").await
}

/// Resumes a subscription (or keeps on one that was ending) from its page.
#[utoipa::path(post, path = "/account/folio/{subscription_id}/resume", tag = "pages",
    params(("subscription_id" = String, Path, description = "The subscription, `sub_…`.")),
    responses(
        (status = 200, description = "The page again, saying so; confirmed by e-mail.", content_type = "text/html"),
        (status = 401, description = "Not signed in: nothing changed.", content_type = "text/html"),
        (status = 409, description = "The page again: it is neither paused nor ending.", content_type = "text/html"),
    ))]
async fn resume_form(State(state): State<AppState>, me: MaybeSignedIn, Path(id): Path<String>) -> ApiResult<Response> {
    let done = "Your Folio runs on: nothing is charged today and your billing date is kept; an e-mail confirms it.";
    changed(&state, me, &id, Ok(Change::Resume), done).await
}

/// Cancels a subscription from its page: at the end of the paid period, or now.
#[utoipa::path(post, path = "/account/folio/{subscription_id}/cancel", tag = "pages",
    params(("subscription_id" = String, Path, description = "The subscription, `sub_…`.")),
    request_body(content = CancelInput, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The page again, saying so; confirmed by e-mail.", content_type = "text/html"),
        (status = 401, description = "Not signed in: nothing changed.", content_type = "text/html"),
        (status = 409, description = "The page again: it has ended, or ends already.", content_type = "text/html"),
    ))]
async fn cancel_form(
    State(state): State<AppState>,
    me: MaybeSignedIn,
    Path(id): Path<String>,
    ApiForm(input): ApiForm<CancelInput>,
) -> ApiResult<Response> {
    let done = if input.now {
        "Your Folio has ended; an e-mail confirms it."
    } else {
        "Your Folio will end with the period you have paid for; an e-mail confirms it."
    };
    changed(&state, me, &id, Ok(Change::Cancel { now: input.now }), done).await
}

/// Where a subscriber mends their card (the failed-payment e-mail links here): Stripe's billing
/// portal for their customer, or, in the sandbox, the Folio page with its card controls.
#[utoipa::path(get, path = "/account/folio/{subscription_id}/card", tag = "pages",
    params(("subscription_id" = String, Path, description = "The subscription, `sub_…`.")),
    responses(
        (status = 303, description = "To Stripe's billing portal; in the sandbox, or not signed in, to the Folio page or the sign-in page."),
        (status = 404, description = "No subscription of the account has that id.", content_type = "text/html"),
        (status = 409, description = "The Folio page, saying Stripe has not confirmed the subscription yet.", content_type = "text/html"),
        (status = 502, description = "The Folio page, saying Stripe could not be reached.", content_type = "text/html"),
    ))]
async fn card_page(State(state): State<AppState>, me: MaybeSignedIn, Path(id): Path<String>) -> ApiResult<Response> {
    let Some(me) = me.0 else { return Ok(Redirect::to("/account/sign-in").into_response()) };
    let Some(s) = super::load(&state.db, &id).await?.filter(|s| s.account_id == me.account_id) else {
        return Ok(not_yours(&state, &ApiError::NotFound(format!("you have no subscription {id}"))));
    };
    match (&state.payments, s.provider.as_str()) {
        (Payments::Stripe(gateway), "stripe") => match super::stripe::portal(&state, gateway, &s).await {
            Ok(url) => Ok(Redirect::to(&url).into_response()),
            Err(e @ (ApiError::Conflict(_) | ApiError::Provider(_))) => account_view(&state, &me, None, Some(&e)).await,
            Err(e) => Err(e),
        },
        _ => Ok(Redirect::to(&format!("/account/folio#{id}-card-title")).into_response()),
    }
}

/// The sandbox's card for a subscription.
#[derive(Deserialize, utoipa::ToSchema)]
struct CardInput {
    /// `decline` (renewals fail) or `pay` (renewals pay; a payment owed is taken now).
    card: String,
}

/// The sandbox's stand-in for Stripe's billing portal: makes its card decline renewals, or
/// mends it (and pays what is owed).
#[utoipa::path(post, path = "/account/folio/{subscription_id}/card", tag = "pages",
    params(("subscription_id" = String, Path, description = "The subscription, `sub_…`.")),
    request_body(content = CardInput, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The page again, saying so.", content_type = "text/html"),
        (status = 400, description = "Neither `decline` nor `pay`.", content_type = "application/json"),
        (status = 401, description = "Not signed in: nothing changed.", content_type = "text/html"),
        (status = 404, description = "No sandbox subscription of the account has that id.", content_type = "text/html"),
    ))]
async fn card_form(
    State(state): State<AppState>,
    me: MaybeSignedIn,
    Path(id): Path<String>,
    ApiForm(input): ApiForm<CardInput>,
) -> ApiResult<Response> {
    let Some(me) = me.0 else { return Ok(sign_in_first(&state)) };
    let declines = match input.card.as_str() {
        "decline" => true,
        "pay" => false,
        other => return Err(ApiError::invalid("card", format!("`{other}` is neither decline nor pay"))),
    };
    let owned = super::load(&state.db, &id).await?.filter(|s| s.account_id == me.account_id && s.provider == "sandbox");
    if owned.is_none() || !sandbox::set_card_declines(&state, &id, declines).await? {
        let e = ApiError::NotFound(format!("you have no sandbox subscription {id} that has started"));
        return account_view(&state, &me, None, Some(&e)).await;
    }
    let done = if declines {
        "The sandbox's card now declines: the next renewal fails, as a lapsed card would."
    } else {
        "The sandbox's card pays again; anything owed has been paid."
    };
    account_view(&state, &me, Some(done), None).await
}

/// The open plan a page is for: the one asked for, else the cheapest.
async fn open_plan(state: &AppState, plan_id: Option<&str>) -> ApiResult<Option<super::Plan>> {
    Ok(match plan_id {
        Some(id) => super::plan(&state.db, id).await?.filter(|p| p.active),
        None => {
            let id: Option<String> = sqlx::query_scalar(
                "select plan_id from folio_plan where active = 1 order by price_minor, plan_id limit 1",
            )
            .fetch_optional(&state.db.pool)
            .await?;
            match id {
                Some(id) => super::plan(&state.db, &id).await?,
                None => None,
            }
        }
    })
}

/// The gift form, as new or again with what to correct.
async fn gift_view(
    state: &AppState,
    me: &SignedIn,
    plan_id: Option<&str>,
    again: Option<(&ApiError, &GiftInput)>,
) -> ApiResult<Response> {
    let Some(plan) = open_plan(state, plan_id).await? else {
        return Ok(message(
            state,
            StatusCode::NOT_FOUND,
            "No such plan",
            "This Folio plan is not open.",
            ("/folio/", "Back to the Folio"),
        ));
    };
    let currency = plan.currency.parse().unwrap_or(atelier_domain::Currency::Eur);
    let options: Vec<_> = gift::EDITIONS
        .iter()
        .map(|&n| {
            json!({
                "editions": n,
                "label": capitalise(&gift::editions_label(n)),
                "price": crate::checkout::pricing::display(plan.price_minor * n, currency),
            })
        })
        .collect();
    let form = match again {
        Some((_, i)) => json!({
            "editions": i.editions, "recipient_email": i.recipient_email, "from_name": i.from_name, "message": i.message,
            "name": i.address.name, "line1": i.address.line1, "line2": i.address.line2,
            "postal_code": i.address.postal_code, "city": i.address.city, "country": i.address.country,
        }),
        None => json!({ "editions": gift::EDITIONS[1], "from_name": me.name, "country": "FR" }),
    };
    let today = crate::orders::date(super::account::now_for(state).await?);
    let next: Option<(String, String)> = sqlx::query_as(
        "select title, ships_on from folio_edition where ships_on >= $1 order by ships_on, slug limit 1",
    )
    .bind(&today)
    .fetch_optional(&state.db.pool)
    .await?;
    let countries: Vec<_> =
        crate::checkout::pricing::COUNTRIES.iter().map(|(c, n, _)| json!({ "code": c, "name": n })).collect();
    let ctx = json!({
        "plan": {
            "plan_id": plan.plan_id,
            "name": plan.name,
            "price": crate::checkout::pricing::display(plan.price_minor, currency),
            "holds": plan.holds,
            "shipping_included": plan.shipping_included,
        },
        "next_edition": next.map(|(title, day)| json!({
            "title": title,
            "written": atelier_domain::ships_at(&day).map(crate::orders::written_date).unwrap_or(day),
        })),
        "options": options,
        "form": form,
        "countries": countries,
        "message_max": gift::MESSAGE_MAX,
        "field_errors": {},
    });
    Ok(form_page(state, "Give the Folio", "pages/folio/gift.html", ctx, again.map(|(e, _)| e)))
}

fn sign_in_to_give(state: &AppState, status: StatusCode) -> Response {
    message(
        state,
        status,
        "Sign in to give the Folio",
        "A gift is paid from an account, where you can follow each edition on its way. Sign in, or open an account in a minute, then come back to the Folio.",
        ("/account/sign-in", "Sign in or open an account"),
    )
}

/// The gift form: how many editions, for whom, where, and a message.
#[utoipa::path(get, path = "/folio/gift", tag = "pages", params(PlanQuery),
    responses(
        (status = 200, description = "The form; signed out, how to sign in or open an account first.", content_type = "text/html"),
        (status = 404, description = "No such plan is open.", content_type = "text/html"),
    ))]
async fn gift_page(
    State(state): State<AppState>,
    me: MaybeSignedIn,
    Query(q): Query<PlanQuery>,
) -> ApiResult<Response> {
    let Some(me) = me.0 else { return Ok(sign_in_to_give(&state, StatusCode::OK)) };
    gift_view(&state, &me, q.plan.as_deref(), None).await
}

/// Makes a gift from the form (or finds the same one waiting) and goes to its payment page.
#[utoipa::path(post, path = "/folio/gift", tag = "pages",
    request_body(content = GiftInput, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Made: to its payment page."),
        (status = 401, description = "Not signed in: nothing was made.", content_type = "text/html"),
        (status = 404, description = "The form again: no such plan is open.", content_type = "text/html"),
        (status = 502, description = "The form again: Stripe could not be reached.", content_type = "text/html"),
        (status = 422, description = "The form again: what to correct.", content_type = "text/html"),
    ))]
async fn gift_form(
    State(state): State<AppState>,
    me: MaybeSignedIn,
    ApiForm(input): ApiForm<GiftInput>,
) -> ApiResult<Response> {
    let Some(me) = me.0 else { return Ok(sign_in_to_give(&state, StatusCode::UNAUTHORIZED)) };
    let made = match gift::begin(&state.db, &me.account_id, &input).await {
        Ok(g) => gift_pay_url(&state, &me, &g).await,
        Err(e) => Err(e),
    };
    match made {
        Ok(url) => Ok(Redirect::to(&url).into_response()),
        Err(
            e @ (ApiError::Invalid { .. }
            | ApiError::BadRequest(_)
            | ApiError::Conflict(_)
            | ApiError::NotFound(_)
            | ApiError::Provider(_)),
        ) => gift_view(&state, &me, Some(input.plan_id.as_str()), Some((&e, &input))).await,
        Err(e) => Err(e),
    }
}

/// Where a gift is paid: the sandbox's page, or a Stripe Checkout Session opened for it.
async fn gift_pay_url(state: &AppState, me: &SignedIn, g: &gift::Gift) -> ApiResult<String> {
    match &state.payments {
        Payments::Sandbox => Ok(format!("/folio/gift/{}/pay", g.gift_id)),
        Payments::Stripe(gateway) => super::stripe::gift_checkout(state, gateway, g, &me.email).await,
    }
}

/// The signed-in giver's own gift, or the page saying there is no such gift.
async fn own_gift(state: &AppState, me: &SignedIn, id: &str) -> ApiResult<Result<gift::Gift, Response>> {
    Ok(match gift::load(&state.db, id).await?.filter(|g| g.account_id == me.account_id) {
        Some(g) => Ok(g),
        None => Err(message(
            state,
            StatusCode::NOT_FOUND,
            "No such gift",
            &format!("You have no gift {id}."),
            ("/account/folio", "Your Folio"),
        )),
    })
}

/// The sandbox's payment page for a gift.
#[utoipa::path(get, path = "/folio/gift/{gift_id}/pay", tag = "pages",
    params(("gift_id" = String, Path, description = "The gift, `gft_…`.")),
    responses(
        (status = 200, description = "The sandbox's page: pay or decline.", content_type = "text/html"),
        (status = 303, description = "Paid already: to the account's Folio page."),
        (status = 401, description = "Not signed in.", content_type = "text/html"),
        (status = 404, description = "No such gift of the account.", content_type = "text/html"),
    ))]
async fn gift_pay_page(
    State(state): State<AppState>,
    me: MaybeSignedIn,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let Some(me) = me.0 else { return Ok(sign_in_to_give(&state, StatusCode::UNAUTHORIZED)) };
    let g = match own_gift(&state, &me, &id).await? {
        Ok(g) => g,
        Err(page) => return Ok(page),
    };
    if g.status != "pending" {
        return Ok(Redirect::to("/account/folio").into_response());
    }
    let ctx = json!({ "g": gift::view(&state.db, g).await?, "stripe": !state.payments.is_sandbox() });
    Ok(page(&state, "Payment", "pages/folio/gift_pay.html", ctx).into_response())
}

/// Pays (or declines) a gift on the sandbox's page.
#[utoipa::path(post, path = "/folio/gift/{gift_id}/pay", tag = "pages",
    params(("gift_id" = String, Path, description = "The gift, `gft_…`.")),
    request_body(content = PayInput, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Paid (or paid already): to the account's Folio page; with Stripe, to Stripe Checkout."),
        (status = 400, description = "Neither `pay` nor `decline`.", content_type = "application/json"),
        (status = 401, description = "Not signed in.", content_type = "text/html"),
        (status = 402, description = "Declined: nothing was charged.", content_type = "text/html"),
        (status = 404, description = "No such gift of the account.", content_type = "text/html"),
        (status = 409, description = "The Folio page: the gift has been paid, Stripe's confirmation is awaited.", content_type = "text/html"),
        (status = 502, description = "The Folio page, saying Stripe could not be reached: nothing was charged.", content_type = "text/html"),
    ))]
async fn gift_pay_form(
    State(state): State<AppState>,
    me: MaybeSignedIn,
    Path(id): Path<String>,
    ApiForm(input): ApiForm<PayInput>,
) -> ApiResult<Response> {
    let Some(me) = me.0 else { return Ok(sign_in_to_give(&state, StatusCode::UNAUTHORIZED)) };
    let pay = match input.action.as_str() {
        "pay" => true,
        "decline" => false,
        other => return Err(ApiError::invalid("action", format!("`{other}` is neither pay nor decline"))),
    };
    let g = match own_gift(&state, &me, &id).await? {
        Ok(g) => g,
        Err(page) => return Ok(page),
    };
    if !state.payments.is_sandbox() {
        if !pay || g.status != "pending" {
            return Ok(Redirect::to("/account/folio").into_response());
        }
        return match gift_pay_url(&state, &me, &g).await {
            Ok(url) => Ok(Redirect::to(&url).into_response()),
            Err(e @ (ApiError::Conflict(_) | ApiError::Provider(_))) => account_view(&state, &me, None, Some(&e)).await,
            Err(e) => Err(e),
        };
    }
    if !pay {
        return Ok(message(
            &state,
            StatusCode::PAYMENT_REQUIRED,
            "The payment was declined",
            "Nothing was charged and the gift has not been made. You can try again whenever you like.",
            (&format!("/folio/gift/{id}/pay"), "Try the payment again"),
        ));
    }
    if g.status == "pending" {
        gift::sandbox_pay(&state, &g).await?;
    }
    Ok(Redirect::to("/account/folio").into_response())
}
