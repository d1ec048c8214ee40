//! Stripe Billing's side of the Folio, what [`super::sandbox`] does in the sandbox: a plan's
//! Stripe Price kept in step with git, a Checkout Session in subscription mode for a first
//! payment (in payment mode for a gift), the subscriber's pause, resume and cancel sent as
//! Stripe's API takes them, and the billing portal for mending a card.
//!
//! Nothing here changes a subscription: Stripe's answer is read for its id and address only,
//! and the subscription follows Stripe's signed events, as in the sandbox. A change waits a
//! few seconds for its event, so the page that follows shows it.

use std::collections::HashMap;
use std::time::Duration;

use atelier_domain::{Cadence, SubscriptionStatus};
use sha2::Digest as _;
use stripe::{IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_billing::subscription::{
    CancelSubscription, RetrieveSubscription, UpdateSubscription, UpdateSubscriptionItems,
    UpdateSubscriptionPauseCollection, UpdateSubscriptionPauseCollectionBehavior, UpdateSubscriptionProrationBehavior,
};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    CreateCheckoutSessionPaymentIntentData, CreateCheckoutSessionSubscriptionData, ProductData,
    RetrieveCheckoutSession,
};
use stripe_checkout::CheckoutSessionMode;
use stripe_client_core::{RequestBuilder, StripeMethod};
use stripe_product::price::{CreatePrice, CreatePriceRecurring, CreatePriceRecurringInterval, ListPrice};
use stripe_product::product::CreateProduct;

use super::gift::Gift;
use super::{Change, Plan, Subscription};
use crate::error::{ApiError, ApiResult};
use crate::payments::stripe::{provider_error, StripeGateway};
use crate::AppState;

/// The part of Stripe's answer the Folio reads: the object's id, and the page a session or
/// portal opened (every other field is Stripe's to change between API versions).
#[derive(miniserde::Deserialize)]
struct Answer {
    id: String,
    url: Option<String>,
}

/// A subscription's items, for the id of the one to move to another price.
#[derive(miniserde::Deserialize)]
struct WithItems {
    items: Listed,
}

/// A list's objects.
#[derive(miniserde::Deserialize)]
struct Listed {
    data: Vec<Answer>,
}

/// Sends a request, under an idempotency key when one is given (retries and second clicks
/// then make nothing twice).
async fn send<T: miniserde::Deserialize>(
    gateway: &StripeGateway,
    request: RequestBuilder,
    key: Option<&str>,
) -> Result<T, StripeError> {
    let mut request = request.customize::<T>();
    if let Some(key) = key {
        let key = IdempotencyKey::new(key).map_err(|e| StripeError::ClientError(format!("idempotency key: {e}")))?;
        request = request.request_strategy(RequestStrategy::Idempotent(key));
    }
    request.send(gateway.client()).await
}

/// The Price's lookup key for a plan at a price per edition: a changed price is a new Price,
/// and the one before stays for the subscriptions still paying it.
pub fn lookup_key(plan: &Plan, cadence: Cadence, per_edition: i64) -> String {
    format!("folio_{}_{}_{}_{}", plan.plan_id, cadence.as_str(), plan.currency.to_lowercase(), per_edition)
}

/// The Stripe Price that bills a plan at `per_edition` (minor units an edition), found by its
/// lookup key or made (with the plan's Product, `folio_<plan>`, when Stripe has none).
pub async fn price(gateway: &StripeGateway, plan: &Plan, per_edition: i64) -> ApiResult<String> {
    let cadence: Cadence = plan
        .cadence
        .parse()
        .map_err(|_| ApiError::Internal(format!("plan {}: cadence `{}`", plan.plan_id, plan.cadence)))?;
    let key = lookup_key(plan, cadence, per_edition);
    if let Some(id) = gateway.looked_up(&key) {
        return Ok(id);
    }
    let listed: Listed = send(gateway, ListPrice::new().lookup_keys(vec![key.clone()]).active(true).build(), None)
        .await
        .map_err(provider_error)?;
    let id = match listed.data.into_iter().next() {
        Some(found) => found.id,
        None => {
            let product = format!("folio_{}", plan.plan_id);
            // Its fixed id keeps it single; a key would refuse a renamed plan for a day.
            let made =
                send::<Answer>(gateway, CreateProduct::new(plan.name.clone()).id(product.clone()).build(), None).await;
            match made {
                Ok(_) => {}
                // Made before (by another instance, or an earlier price): it is the one wanted.
                Err(StripeError::Stripe(e, 400))
                    if e.code.as_ref().is_some_and(|c| c.as_str() == "resource_already_exists") => {}
                Err(e) => return Err(provider_error(e)),
            }
            let currency: stripe_types::Currency = plan
                .currency
                .to_lowercase()
                .parse()
                .map_err(|_| ApiError::Internal(format!("Stripe does not know the currency {}", plan.currency)))?;
            let mut recurring = CreatePriceRecurring::new(CreatePriceRecurringInterval::Month);
            recurring.interval_count = Some(u64::from(cadence.months()));
            let request = CreatePrice::new(currency)
                .product(product)
                .unit_amount(per_edition * i64::from(cadence.editions()))
                .recurring(recurring)
                .lookup_key(key.clone())
                // Two instances making it at once: the later holds the key; both bill alike.
                .transfer_lookup_key(true)
                .metadata(HashMap::from([("folio_plan".to_string(), plan.plan_id.clone())]))
                .build();
            send::<Answer>(gateway, request, Some(&key)).await.map_err(provider_error)?.id
        }
    };
    gateway.remember(&key, &id);
    Ok(id)
}

/// The Stripe customer an account pays with already, when it has subscribed before.
async fn customer_of(state: &AppState, account_id: &str) -> ApiResult<Option<String>> {
    Ok(sqlx::query_scalar(
        "select provider_customer_id from subscription
         where account_id = $1 and provider = 'stripe' and provider_customer_id is not null
         order by created_at desc limit 1",
    )
    .bind(account_id)
    .fetch_optional(&state.db.pool)
    .await?)
}

/// A Checkout Session as the Folio reads it back (all empty when Stripe does not know it).
#[derive(Default, miniserde::Deserialize)]
struct SessionState {
    url: Option<String>,
    status: Option<String>,
    amount_total: Option<i64>,
}

/// The session recorded for a subscription or a gift, as Stripe has it now: one it does not
/// know (another account's, or test and live keys swapped) reads as none.
async fn recorded(gateway: &StripeGateway, session_id: &str) -> ApiResult<SessionState> {
    match send(gateway, RetrieveCheckoutSession::new(session_id).build(), None).await {
        Ok(s) => Ok(s),
        Err(e) if missing(&e) => Ok(SessionState::default()),
        Err(e) => Err(provider_error(e)),
    }
}

/// Opens a Checkout Session under `key` and records its id with `record` (an update of the
/// subscription or gift, `$1` the session, `$2` the id); the page's address.
async fn open_recorded(
    state: &AppState,
    gateway: &StripeGateway,
    request: RequestBuilder,
    key: &str,
    record: &str,
    id: &str,
) -> ApiResult<String> {
    let session: Answer = send(gateway, request, Some(key)).await.map_err(provider_error)?;
    let url = session
        .url
        .ok_or_else(|| ApiError::Provider(format!("Stripe opened session {} without a payment page", session.id)))?;
    let mut tx = state.db.begin_write().await?;
    sqlx::query(record).bind(&session.id).bind(id).execute(&mut **tx).await?;
    tx.commit().await?;
    Ok(url)
}

/// Whether Stripe answered that the object asked for does not exist.
fn missing(e: &StripeError) -> bool {
    matches!(e, StripeError::Stripe(e, 404) if e.code.as_ref().is_none_or(|c| c.as_str() == "resource_missing"))
}

/// A short digest of what a request depends on, for its idempotency key (Stripe refuses a key
/// sent again with other parameters, and a key should carry no one's address).
fn digest(parts: &[&str]) -> String {
    sha2::Sha256::digest(parts.join("|").as_bytes()).iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The page where a pending subscription's first period is paid: its Checkout Session (subscription
/// mode, at the price it was begun with) while that is open, else a new one, recorded on the
/// subscription. One subscription never has two sessions open, so it can be paid only once; a
/// double click, a second tab or a second instance gets the same session.
pub async fn checkout(state: &AppState, gateway: &StripeGateway, sub: &Subscription, email: &str) -> ApiResult<String> {
    let before: Option<String> =
        sqlx::query_scalar("select checkout_session_id from subscription where subscription_id = $1")
            .bind(&sub.subscription_id)
            .fetch_optional(&state.db.pool)
            .await?
            .flatten();
    if let Some(before) = &before {
        let session = recorded(gateway, before).await?;
        match (session.status.as_deref(), session.url) {
            (Some("open"), Some(url)) => return Ok(url),
            (Some("complete"), _) => return Err(ApiError::Conflict(
                "your payment has been made: your Folio starts as soon as Stripe confirms it, usually within a minute"
                    .into(),
            )),
            _ => {}
        }
    }
    let plan = super::plan(&state.db, &sub.plan_id)
        .await?
        .ok_or_else(|| ApiError::Internal(format!("no Folio plan `{}`", sub.plan_id)))?;
    let price = price(gateway, &plan, sub.price_minor).await?;
    let metadata = HashMap::from([("subscription_id".to_string(), sub.subscription_id.clone())]);
    let mut item = CreateCheckoutSessionLineItems::new();
    item.price = Some(price.clone());
    item.quantity = Some(1);
    let mut data = CreateCheckoutSessionSubscriptionData::new();
    data.metadata = Some(metadata.clone());
    let base = &state.config.public_url;
    let mut request = CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Subscription)
        .line_items(vec![item])
        .client_reference_id(sub.subscription_id.clone())
        .metadata(metadata)
        .subscription_data(data)
        .success_url(format!("{base}/account/folio?paid={}", sub.subscription_id))
        .cancel_url(format!("{base}/account/folio"));
    let payer = match customer_of(state, &sub.account_id).await? {
        Some(customer) => {
            request = request.customer(customer.clone());
            customer
        }
        None => {
            request = request.customer_email(email.to_string());
            email.to_string()
        }
    };
    // The session it follows is in the key: racing requests open one session between them.
    let after = before.as_deref().unwrap_or("first");
    let key = format!("folio-{}-{after}-{}", sub.subscription_id, digest(&[&price, &payer]));
    let record = "update subscription set checkout_session_id = $1 where subscription_id = $2 and status = 'pending'";
    open_recorded(state, gateway, request.build(), &key, record, &sub.subscription_id).await
}

/// The page where a gift is paid: its Checkout Session (payment mode) while that is open and
/// charges what the gift costs now, else a new one, recorded on the gift; a session for what
/// the gift was before it was changed is closed first. Its paid `checkout.session.completed` (or, paid later by a bank debit,
/// `checkout.session.async_payment_succeeded`) gives the gift, for its price only.
pub async fn gift_checkout(state: &AppState, gateway: &StripeGateway, gift: &Gift, email: &str) -> ApiResult<String> {
    let before: Option<String> =
        sqlx::query_scalar("select checkout_session_id from folio_gift where gift_id = $1 and status = 'pending'")
            .bind(&gift.gift_id)
            .fetch_optional(&state.db.pool)
            .await?
            .flatten();
    if let Some(before) = &before {
        let session = recorded(gateway, before).await?;
        let open = session.status.as_deref() == Some("open");
        if session.status.as_deref() == Some("complete") {
            return Err(gift_paid());
        }
        if let (true, Some(url)) = (open && session.amount_total == Some(gift.price_minor), session.url) {
            return Ok(url);
        }
        // What it charges is no longer the gift's price: closed before another opens.
        if open
            && gateway.expire(before).await.map_err(provider_error)? == crate::payments::stripe::SessionStatus::Complete
        {
            return Err(gift_paid());
        }
    }
    let currency: stripe_types::Currency = gift
        .currency
        .to_lowercase()
        .parse()
        .map_err(|_| ApiError::Internal(format!("Stripe does not know the currency {}", gift.currency)))?;
    let mut price = CreateCheckoutSessionLineItemsPriceData::new(currency);
    price.unit_amount = Some(gift.price_minor);
    price.product_data = Some(ProductData::new(format!(
        "The Folio for {}: {}",
        gift.ship.name,
        super::gift::editions_label(gift.editions)
    )));
    let mut item = CreateCheckoutSessionLineItems::new();
    item.price_data = Some(price);
    item.quantity = Some(1);
    let metadata = HashMap::from([("folio_gift".to_string(), gift.gift_id.clone())]);
    let mut intent = CreateCheckoutSessionPaymentIntentData::new();
    intent.metadata = Some(metadata.clone());
    let base = &state.config.public_url;
    let request = CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Payment)
        .line_items(vec![item])
        .customer_email(email.to_string())
        .client_reference_id(gift.gift_id.clone())
        .metadata(metadata)
        .payment_intent_data(intent)
        .success_url(format!("{base}/account/folio"))
        .cancel_url(format!("{base}/account/folio"))
        .build();
    let after = before.as_deref().unwrap_or("first");
    let sent = [
        gift.plan_id.as_str(),
        &gift.price_minor.to_string(),
        &gift.currency,
        &gift.editions.to_string(),
        &gift.ship.name,
        email,
    ];
    let key = format!("folio-gift-{}-{after}-{}", gift.gift_id, digest(&sent));
    let record = "update folio_gift set checkout_session_id = $1 where gift_id = $2 and status = 'pending'";
    open_recorded(state, gateway, request, &key, record, &gift.gift_id).await
}

fn gift_paid() -> ApiError {
    ApiError::Conflict("this gift has been paid: it shows on your Folio page as soon as Stripe confirms it".into())
}

/// Sends a subscriber's change to Stripe, then waits a little for the event that applies it;
/// whether it has arrived.
///
/// - pause: `pause_collection` with `void`, so nothing is billed meanwhile;
/// - resume of a pause: `pause_collection` unset, which bills nothing now and keeps the date;
///   of a subscription Stripe itself paused, its resume endpoint with the billing cycle
///   `unchanged` and no proration (its defaults re-anchor the cycle and charge a whole period
///   at once);
/// - resume of an ending one: `cancel_at_period_end` false;
/// - cancel: `cancel_at_period_end`, or now without proration or a final invoice.
pub async fn change(state: &AppState, gateway: &StripeGateway, sub: &Subscription, change: Change) -> ApiResult<bool> {
    let id = sub.provider_subscription_id.clone().ok_or_else(|| {
        ApiError::Conflict("Stripe has not confirmed this subscription yet: try again in a minute".into())
    })?;
    let request = match change {
        Change::Pause { until } => {
            let mut pause = UpdateSubscriptionPauseCollection::new(UpdateSubscriptionPauseCollectionBehavior::Void);
            pause.resumes_at = until;
            UpdateSubscription::new(id.as_str()).pause_collection(pause).build()
        }
        Change::Resume if sub.status == SubscriptionStatus::Paused => {
            let collection_paused: i64 =
                sqlx::query_scalar("select paused from subscription where subscription_id = $1")
                    .bind(&sub.subscription_id)
                    .fetch_one(&state.db.pool)
                    .await?;
            if collection_paused == 1 {
                // The typed builder cannot unset a field: Stripe unsets one sent empty.
                let mut request = UpdateSubscription::new(id.as_str()).build();
                request.body = Some("pause_collection=".into());
                request
            } else {
                RequestBuilder::new(StripeMethod::Post, format!("/subscriptions/{id}/resume"))
                    .form(&HashMap::from([("billing_cycle_anchor", "unchanged"), ("proration_behavior", "none")]))
            }
        }
        Change::Resume => UpdateSubscription::new(id.as_str()).cancel_at_period_end(false).build(),
        Change::Cancel { now: false } => UpdateSubscription::new(id.as_str()).cancel_at_period_end(true).build(),
        Change::Cancel { now: true } => CancelSubscription::new(id.as_str()).prorate(false).invoice_now(false).build(),
    };
    match send::<Answer>(gateway, request, None).await {
        Ok(_) => {}
        // Stripe refuses (it changed meanwhile: ended, or changed from another tab): say so.
        Err(StripeError::Stripe(e, status)) if (400..500).contains(&status) && ![401, 403, 429].contains(&status) => {
            let why = e.message.clone().unwrap_or_else(|| format!("Stripe answered {status}"));
            return Err(ApiError::Conflict(format!("Stripe refused the change: {why}")));
        }
        Err(e) => return Err(provider_error(e)),
    }
    wait_for(state, &sub.subscription_id, change).await
}

/// How long a change waits for Stripe's event before the page is shown without it.
const EVENT_WAIT: Duration = Duration::from_secs(5);

/// Whether the subscription shows the change, once its event has come (or after
/// [`EVENT_WAIT`], not).
async fn wait_for(state: &AppState, subscription_id: &str, change: Change) -> ApiResult<bool> {
    let deadline = tokio::time::Instant::now() + EVENT_WAIT;
    loop {
        if let Some(s) = super::load(&state.db, subscription_id).await? {
            let shown = match change {
                Change::Pause { until } => s.status == SubscriptionStatus::Paused && s.pause_resumes_at == until,
                Change::Resume => s.status == SubscriptionStatus::Active && !s.cancel_at_period_end,
                Change::Cancel { now: false } => s.cancel_at_period_end || s.status == SubscriptionStatus::Cancelled,
                Change::Cancel { now: true } => s.status == SubscriptionStatus::Cancelled,
            };
            if shown {
                return Ok(true);
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Opens Stripe's billing portal for the subscription's customer, to mend a card (a failed
/// renewal is paid from there); the portal's address.
pub async fn portal(state: &AppState, gateway: &StripeGateway, sub: &Subscription) -> ApiResult<String> {
    let customer: Option<String> =
        sqlx::query_scalar("select provider_customer_id from subscription where subscription_id = $1")
            .bind(&sub.subscription_id)
            .fetch_optional(&state.db.pool)
            .await?
            .flatten();
    let customer = customer.ok_or_else(|| {
        ApiError::Conflict("Stripe has not confirmed this subscription yet: try again in a minute".into())
    })?;
    let request = CreateBillingPortalSession::new()
        .customer(customer)
        .return_url(format!("{}/account/folio", state.config.public_url))
        .build();
    let session: Answer = send(gateway, request, None).await.map_err(provider_error)?;
    session.url.ok_or_else(|| ApiError::Provider(format!("Stripe opened portal session {} without a page", session.id)))
}

/// Moves running Stripe subscriptions whose plan's price changed, once the change's notice has
/// run (see [`super::PRICE_NOTICE_SECONDS`]) and their subscriber has been told, onto the Price
/// at the new price, without proration: the renewal after pays it, the period already paid is
/// untouched. `billed_price_minor` records what was asked of Stripe (bookkeeping for this
/// worker; the subscription's state still follows only events). Safe on many instances: moving
/// one twice moves it once. How many were moved.
pub async fn reprice_due(state: &AppState, gateway: &StripeGateway) -> ApiResult<usize> {
    let due: Vec<(String, String, String)> = sqlx::query_as(
        "select s.subscription_id, s.provider_subscription_id, s.plan_id from subscription s
         join folio_plan p on p.plan_id = s.plan_id
         where s.provider = 'stripe' and s.status in ('active', 'paused', 'past_due')
           and s.provider_subscription_id is not null and p.price_changed_at is not null
           and p.price_changed_at <= $1 and coalesce(s.billed_price_minor, s.price_minor) <> p.price_minor
           and s.price_told_at >= p.price_changed_at
         order by s.created_at limit 100",
    )
    .bind(crate::ids::now() - super::PRICE_NOTICE_SECONDS)
    .fetch_all(&state.db.pool)
    .await?;
    let mut moved = 0;
    for (ours, theirs, plan_id) in due {
        let Some(plan) = super::plan(&state.db, &plan_id).await? else { continue };
        // One subscription Stripe will not move does not hold back the others.
        match reprice(gateway, &plan, &theirs).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(subscription = %ours, error = %e, "moving to a changed price failed; will retry");
                continue;
            }
        }
        let mut tx = state.db.begin_write().await?;
        sqlx::query("update subscription set billed_price_minor = $1 where subscription_id = $2")
            .bind(plan.price_minor)
            .bind(&ours)
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
        moved += 1;
    }
    Ok(moved)
}

/// Moves one Stripe subscription's item onto the plan's Price now; false when it has no item.
async fn reprice(gateway: &StripeGateway, plan: &Plan, theirs: &str) -> ApiResult<bool> {
    let price = price(gateway, plan, plan.price_minor).await?;
    let held: WithItems =
        send(gateway, RetrieveSubscription::new(theirs).build(), None).await.map_err(provider_error)?;
    let Some(item) = held.items.data.into_iter().next() else {
        tracing::warn!(subscription = %theirs, "a Stripe subscription without items; its price is left as it is");
        return Ok(false);
    };
    let mut moving = UpdateSubscriptionItems::new();
    moving.id = Some(item.id);
    moving.price = Some(price);
    let request = UpdateSubscription::new(theirs)
        .items(vec![moving])
        .proration_behavior(UpdateSubscriptionProrationBehavior::None)
        .build();
    send::<Answer>(gateway, request, None).await.map_err(provider_error)?;
    Ok(true)
}
