//! The OpenID provider as the shop reaches it: an HTTP client for the openidconnect crate (the
//! same hyper and rustls the Stripe client is built on, so nothing new is linked), and the
//! provider's discovery document and keys, fetched when first needed and kept for an hour.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use openidconnect::core::{CoreClient, CoreProviderMetadata};
use openidconnect::{ClientId, ClientSecret, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, RedirectUrl};
use openidconnect::{HttpRequest, HttpResponse};
use tokio::sync::Mutex;

use crate::config::GoogleConfig;

/// How long the provider may take to answer one request.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read from the provider (its documents are a few KiB).
const MAX_BODY: usize = 1 << 20;
/// How long the discovery document and keys are used before they are fetched again.
const KEEP: Duration = Duration::from_secs(3600);

/// Why the provider could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// No answer in time.
    #[error("no answer within {}s", TIMEOUT.as_secs())]
    Timeout,
    /// The connection or request failed.
    #[error("{0}")]
    Request(String),
    /// The answer was larger than allowed, or broke off.
    #[error("reading the answer: {0}")]
    Body(String),
}

/// An HTTP client that follows no redirects (the crate's advice against SSRF: hyper's client
/// never does) and gives up after [`TIMEOUT`].
#[derive(Clone)]
pub struct Http(HyperClient<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>);

impl Http {
    fn new() -> Http {
        let https =
            hyper_rustls::HttpsConnectorBuilder::new().with_webpki_roots().https_or_http().enable_http1().build();
        Http(HyperClient::builder(TokioExecutor::new()).build(https))
    }

    /// Sends one request and reads its answer.
    pub async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let (parts, body) = request.into_parts();
        let request = http::Request::from_parts(parts, Full::new(Bytes::from(body)));
        let answer = async {
            let response = self.0.request(request).await.map_err(|e| HttpError::Request(e.to_string()))?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_BODY).collect().await.map_err(|e| HttpError::Body(e.to_string()))?;
            Ok(http::Response::from_parts(parts, body.to_bytes().to_vec()))
        };
        tokio::time::timeout(TIMEOUT, answer).await.map_err(|_| HttpError::Timeout)?
    }
}

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
