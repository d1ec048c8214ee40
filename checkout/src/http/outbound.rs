//! The service's one outbound HTTP client (hyper and rustls, as the Stripe client is built on):
//! no redirects followed, a time limit and a size limit on every answer. The Google sign-in
//! reaches its provider with it, and `atelier build --stock-from` the service.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;

/// A request: the `http` crate's, with its body as bytes (what openidconnect sends).
pub type HttpRequest = http::Request<Vec<u8>>;
/// An answer, its body read whole.
pub type HttpResponse = http::Response<Vec<u8>>;

/// How long the other end may take to answer one request.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read (a provider's documents are a few KiB, a stock export some tens).
const MAX_BODY: usize = 1 << 20;

/// Why the other end could not be asked.
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
    /// A client (no connection is made until a request).
    pub fn new() -> Http {
        let https =
            hyper_rustls::HttpsConnectorBuilder::new().with_webpki_roots().https_or_http().enable_http1().build();
        Http(HyperClient::builder(TokioExecutor::new()).build(https))
    }

    /// GETs `url` and reads its answer.
    pub async fn get(&self, url: &str, accept: &str) -> Result<HttpResponse, HttpError> {
        let request = http::Request::get(url)
            .header(http::header::ACCEPT, accept)
            .header(http::header::USER_AGENT, concat!("atelier/", env!("CARGO_PKG_VERSION")))
            .body(Vec::new())
            .map_err(|e| HttpError::Request(format!("`{url}`: {e}")))?;
        self.send(request).await
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

impl Default for Http {
    fn default() -> Http {
        Http::new()
    }
}
