//! Atelier Arôme's checkout service: everything that cannot be static — cart, checkout,
//! payments and their webhooks, orders, stock and e-mail — as an Axum router over SQLite or
//! PostgreSQL.
//!
//! One folder per domain, each with its logic, its queries and an `http.rs` whose `router()`
//! is merged here: [`cart`], [`checkout`], [`orders`], [`payments`], [`stock`], [`newsletter`],
//! [`notify`], [`accounts`]. What every route shares is in [`http`], what differs between the engines in
//! [`db`].

pub mod accounts;
pub mod cart;
pub mod catalog;
pub mod checkout;
pub mod config;
pub mod contact;
pub mod db;
pub mod email;
pub mod error;
pub mod folio;
pub mod http;
pub mod ids;
pub mod newsletter;
pub mod notify;
pub mod orders;
pub mod payments;
pub mod secrets;
pub mod staff;
pub mod stock;
pub mod testimonials;
pub mod views;
pub mod wishlist;

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use tokio::sync::watch;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub use config::ServiceConfig;
pub use db::Db;
pub use error::{ApiError, ApiResult};

/// What every handler shares, behind one `Arc`: Axum clones the state for every request, and
/// one reference count is cheaper than one per part.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The parts of [`AppState`].
pub struct Shared {
    /// The database.
    pub db: Db,
    /// Where cart edits are committed, many to a transaction.
    pub carts: cart::CartWriter,
    /// Configuration.
    pub config: ServiceConfig,
    /// The keys every instance shares.
    pub keys: secrets::Keys,
    /// The site's layout for the service's pages.
    pub shell: views::Shell,
    /// The payment provider.
    pub payments: payments::Payments,
    /// Stock levels for the badge endpoint.
    pub levels: stock::LevelCache,
    /// The shop's currency, for empty carts and shipping prices.
    pub currency: catalog::CurrencyCache,
    /// The limit on starting checkouts.
    pub checkout_limit: http::limit::Limit,
    /// The security policy the service's answers carry.
    pub policy: http::guard::Policy,
    /// The sessions this instance read in the last second.
    pub sessions: accounts::session::SessionCache,
    /// Sign-in with Google, and its provider's keys as last fetched.
    pub google: accounts::google::Google,
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// State for a configuration and an open (migrated) database; the shell comes from the
    /// built site. Starts the cart writer, so it must be called inside the Tokio runtime.
    pub async fn new(db: Db, config: ServiceConfig, site_dir: &Path) -> Result<AppState, StartError> {
        let keys = secrets::Keys::load(&db, &config).await.map_err(StartError::Keys)?;
        let policy = http::guard::Policy::for_payments(&config.payments)
            .ok_or(StartError::Policy)?
            .with_metrics(config.metrics_token.is_some());
        tokio::spawn(accounts::password::warm_up());
        Ok(AppState(Arc::new(Shared {
            keys,
            policy,
            payments: payments::Payments::from_mode(&config.payments)?,
            levels: stock::LevelCache::new(Duration::from_secs(1)),
            currency: catalog::CurrencyCache::default(),
            sessions: accounts::session::SessionCache::default(),
            google: accounts::google::Google::new(config.google.clone()),
            checkout_limit: http::limit::Limit::new(config.checkouts_per_minute),
            carts: cart::CartWriter::start(db.clone())?,
            shell: views::Shell::load(site_dir),
            config,
            db,
        })))
    }
}

/// Why the service's state could not be made.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The Stripe client.
    #[error(transparent)]
    Payments(#[from] payments::stripe::GatewayError),
    /// The cart writer.
    #[error(transparent)]
    CartWriter(#[from] cart::writer::OpenError),
    /// The shared keys could not be read or made.
    #[error("reading the shared signing keys from the database: {0}")]
    Keys(sqlx::Error),
    /// The security policy would not be a valid header.
    #[error("STRIPE_CHECKOUT_ORIGIN: the security policy with it is not a valid header")]
    Policy,
}

/// The document's frame; the paths come from the domains' routers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Atelier Arôme",
        description = "The shop's service: cart, checkout, payments, orders, stock, newsletter, accounts. \
        JSON under `/api/`; the pages under `/cart`, `/checkout`, `/pay/…`, `/orders/…`, `/account…` and `/newsletter` work without JavaScript."
    ),
    components(schemas(error::ErrorBody)),
    modifiers(&StaffScheme)
)]
struct ApiDoc;

/// The staff console's security scheme: the session cookie, whose scopes on each `/staff`
/// route name the permissions it needs (the guard reads them from here).
struct StaffScheme;

impl utoipa::Modify for StaffScheme {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
        let components = doc.components.get_or_insert_with(Default::default);
        let cookie = ApiKeyValue::with_description(
            accounts::session::SESSION_COOKIE,
            "A session signed in with two factors, of an account on the staff; the scopes are the permissions the route needs.",
        );
        components.add_security_scheme(staff::guard::SCHEME, SecurityScheme::ApiKey(ApiKey::Cookie(cookie)));
        let bearer = utoipa::openapi::security::HttpBuilder::new()
            .scheme(utoipa::openapi::security::HttpAuthScheme::Bearer)
            .description(Some("The operators' METRICS_TOKEN."))
            .build();
        components.add_security_scheme("metrics_token", SecurityScheme::Http(bearer));
    }
}

/// Every route, with the document that describes it: both are made by the same `routes!`
/// calls, so neither can list a route the other lacks.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(http::meta::router())
        .merge(cart::http::router())
        .merge(checkout::http::router())
        .merge(orders::http::router())
        .merge(payments::http::router())
        .merge(stock::http::router())
        .merge(newsletter::http::router())
        .merge(contact::http::router())
        .merge(accounts::http::router())
        .merge(wishlist::http::router())
        .merge(folio::http::router())
        .merge(folio::pages::router())
        .merge(staff::http::router())
        .merge(testimonials::http::router())
}

/// The OpenAPI document of [`api`], as JSON (made once).
pub fn openapi_json() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = api().into_openapi();
        CommonAnswers::add(&mut doc);
        doc.to_pretty_json().unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    })
}

/// The answers every route of a kind can give, whatever its handler does: the guard's 403 to
/// a cross-site state change, the body limit's 413, and a 500 when the database fails.
struct CommonAnswers;

impl CommonAnswers {
    fn add(doc: &mut utoipa::openapi::OpenApi) {
        let error = || {
            ContentBuilder::new()
                .schema(Some(RefOr::<utoipa::openapi::schema::Schema>::Ref(Ref::from_schema_name("ErrorBody"))))
                .build()
        };
        let answer = |text: &str| {
            RefOr::T(ResponseBuilder::new().description(text).content("application/json", error()).build())
        };
        let add = |op: &mut Operation, code: &str, text: &str| {
            op.responses.responses.entry(code.to_string()).or_insert_with(|| answer(text));
        };
        for item in doc.paths.paths.values_mut() {
            for op in [&mut item.post, &mut item.put, &mut item.patch, &mut item.delete].into_iter().flatten() {
                add(op, "403", "A state-changing request from another site.");
                if op.request_body.is_some() {
                    add(op, "400", "The body is malformed, or not of the content type documented.");
                    add(op, "413", "The body is larger than 64 KiB.");
                }
            }
            for op in
                [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete].into_iter().flatten()
            {
                add(op, "500", "Something failed on our side; nothing was charged.");
                // The staff guard's answers, before any handler runs.
                let staff =
                    serde_json::to_value(&op.security).is_ok_and(|v| v.to_string().contains(staff::guard::SCHEME));
                if staff {
                    let page = |text: &str| {
                        RefOr::T(
                            ResponseBuilder::new()
                                .description(text)
                                .content("text/html", ContentBuilder::new().build())
                                .build(),
                        )
                    };
                    op.responses.responses.entry("401".into()).or_insert_with(|| {
                        page("Signed out, or the staff session idled out: the page says to sign in.")
                    });
                    op.responses.responses.entry("403".into()).or_insert_with(|| page("Not staff, signed in without a second factor, or the role lacks the permission the route declares."));
                }
            }
        }
    }
}

/// The service's router: routes, body limit, cross-site refusal, security headers, request log.
pub fn app(state: AppState) -> Router {
    let (routes, _) = api().split_for_parts();
    let policy = state.policy.clone();
    routes
        // After routing (it reads the matched route): every `/staff` route's declared permissions.
        .layer(axum::middleware::from_fn_with_state(state.clone(), staff::guard::enforce))
        .layer(DefaultBodyLimit::max(64 * 1024))
        // Outermost: every answer logged (and, when metrics are on, counted), refusals too.
        .layer(axum::middleware::from_fn_with_state(policy, http::guard::guard))
        .with_state(state)
}

/// Background work every instance runs: the outbox, the expiry of unpaid checkouts, kept
/// refunds whose order has become known, account requests whose own task was lost, and the
/// deletion of ended rate-limit windows, of lapsed sessions, account links and attempts, of
/// answered back-in-stock requests and of carts whose cookie has lapsed, and the Folio's
/// editions to their subscribers. All are safe to run on many instances sharing one database.
pub struct Workers {
    stop: watch::Sender<bool>,
    handles: Vec<tokio::task::JoinHandle<()>>,
}

impl Workers {
    /// Starts the workers.
    pub fn start(state: &AppState) -> Result<Workers, notify::MailerError> {
        let (stop, rx) = watch::channel(false);
        let c = &state.config;
        let mailer =
            notify::Mailer::new(state.db.clone(), &c.mail, &c.mail_from, &c.staff_email, c.build_hook_url.clone())?;
        let mut handles = vec![tokio::spawn(mailer.run(rx.clone()))];
        let expiry_state = state.clone();
        let mut expiry_stop = rx;
        handles.push(tokio::spawn(async move {
            let mut pruned_at: Option<std::time::Instant> = None;
            let mut delivered_at: Option<std::time::Instant> = None;
            loop {
                if let Err(e) = payments::expire_due(&expiry_state).await {
                    tracing::warn!(error = %e, "expiring unpaid checkouts failed; will retry");
                }
                match orders::refunds::send_unsent(&expiry_state).await {
                    Ok(n) if n > 0 => tracing::info!(refunds = n, "refunds without an answer sent to Stripe again"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "sending unanswered refunds again failed; will retry"),
                }
                match orders::settle_kept_refunds(&expiry_state).await {
                    Ok(n) if n > 0 => tracing::info!(refunds = n, "kept refunds applied to their orders"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "applying kept refunds failed; will retry"),
                }
                if let Err(e) = http::limit::prune(&expiry_state.db).await {
                    tracing::warn!(error = %e, "deleting ended rate-limit windows failed; will retry");
                }
                if let Err(e) = accounts::work(&expiry_state).await {
                    tracing::warn!(error = %e, "account requests or deleting lapsed sessions and links failed; will retry");
                }
                // Folio editions whose day has come, to whoever paid for them: once a minute.
                if delivered_at.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
                    delivered_at = Some(std::time::Instant::now());
                    // The sandbox renews what its clock says has ended, as Stripe would.
                    if expiry_state.payments.is_sandbox() {
                        if let Err(e) = folio::sandbox::renew_due(&expiry_state).await {
                            tracing::warn!(error = %e, "sandbox renewals failed; will retry");
                        }
                    }
                    if let Err(e) = folio::notices::price_changes(&expiry_state).await {
                        tracing::warn!(error = %e, "telling subscribers of a new price failed; will retry");
                    }
                    // Stripe bills a changed price once its notice has run, when told to.
                    if let payments::Payments::Stripe(gateway) = &expiry_state.payments {
                        match folio::stripe::reprice_due(&expiry_state, gateway).await {
                            Ok(n) if n > 0 => tracing::info!(subscriptions = n, "moved to a changed Folio price at Stripe"),
                            Ok(_) => {}
                            Err(e) => tracing::warn!(error = %e, "moving subscriptions to a changed price failed; will retry"),
                        }
                    }
                    if let Err(e) = folio::delivery::deliver_due(&expiry_state).await {
                        tracing::warn!(error = %e, "delivering Folio editions failed; will retry");
                    }
                }
                // Carts whose cookie has lapsed: a batch a turn while there is a backlog, then
                // once an hour (so unpaid checkouts keep expiring on time meanwhile).
                if pruned_at.is_none_or(|t| t.elapsed() >= Duration::from_secs(3600)) {
                    if let Err(e) = wishlist::back_in_stock::prune(&expiry_state.db).await {
                        tracing::warn!(error = %e, "deleting answered back-in-stock requests failed; will retry");
                    }
                    let before = ids::now() - cart::CART_LIFETIME_SECONDS;
                    match cart::prune(&expiry_state.db, before).await {
                        Ok(n) if n > 0 => tracing::info!(carts = n, "deleted carts whose cookie has lapsed"),
                        Ok(_) => pruned_at = Some(std::time::Instant::now()),
                        Err(e) => tracing::warn!(error = %e, "deleting lapsed carts failed; will retry"),
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                    _ = expiry_stop.changed() => {}
                }
                if *expiry_stop.borrow() {
                    return;
                }
            }
        }));
        Ok(Workers { stop, handles })
    }

    /// Asks the workers to stop and waits for them.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for h in self.handles {
            let _ = h.await;
        }
    }
}
