//! The OpenID provider as the shop reaches it: an HTTP client for the openidconnect crate (the
//! same hyper and rustls the Stripe client is built on, so nothing new is linked), and the
//! provider's discovery document and keys, fetched when first needed and kept for an hour.

use std::time::{Duration, Instant};

use openidconnect::core::{CoreClient, CoreProviderMetadata};
use openidconnect::{ClientId, ClientSecret, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, RedirectUrl};
use tokio::sync::Mutex;

use crate::config::GoogleConfig;
pub use crate::http::outbound::Http;

/// How long the discovery document and keys are used before they are fetched again.
const KEEP: Duration = Duration::from_secs(3600);

/// The client the flows use: the authorisation and token endpoints come from discovery.
pub type Client =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// Sign-in with Google as this instance knows it: unset when the shop has no OAuth client.
pub struct Google {
    config: Option<GoogleConfig>,
    http: Http,
    known: Mutex<Option<(Instant, CoreProviderMetadata)>>,
}

impl Google {
    /// Google for a configuration (nothing is fetched until someone signs in).
    pub fn new(config: Option<GoogleConfig>) -> Google {
        Google { config, http: Http::new(), known: Mutex::new(None) }
    }

    /// Whether the shop offers sign-in with Google.
    pub fn enabled(&self) -> bool {
        self.config.is_some()
    }

    /// The HTTP client, for the token request.
    pub fn http(&self) -> &Http {
        &self.http
    }

    /// The client for the provider as discovered (again when `fresh`, after an hour, or when
    /// the last discovery failed), sending people back to `redirect`.
    pub async fn client(&self, redirect: &str, fresh: bool) -> Result<Client, String> {
        let config = self.config.as_ref().ok_or("sign-in with Google is not set up")?;
        let metadata = {
            let mut known = self.known.lock().await;
            match known.as_ref() {
                Some((at, metadata)) if !fresh && at.elapsed() < KEEP => metadata.clone(),
                _ => {
                    let issuer = IssuerUrl::new(config.issuer_url.clone()).map_err(|e| e.to_string())?;
                    let http = self.http.clone();
                    let fetch = move |request| {
                        let http = http.clone();
                        async move { http.send(request).await }
                    };
                    let metadata = CoreProviderMetadata::discover_async(issuer, &fetch)
                        .await
                        .map_err(|e| format!("discovery at {}: {}", config.issuer_url, error_chain(&e)))?;
                    *known = Some((Instant::now(), metadata.clone()));
                    metadata
                }
            }
        };
        let redirect = RedirectUrl::new(redirect.to_string()).map_err(|e| e.to_string())?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(config.client_id.clone()),
            Some(ClientSecret::new(config.client_secret.expose().to_string())),
        )
        .set_redirect_uri(redirect))
    }
}

/// An error with its causes, for the log.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
