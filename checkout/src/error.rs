//! The service's one error type. Every failure maps to an HTTP status and a JSON body
//! `{"error": code, "message": text}` ([`ErrorBody`]); database and unexpected errors are logged
//! and answered with a fixed message, never echoed. Library parts of the service that staff
//! commands call (order steps, stock changes) have their own `thiserror` types, whose text is
//! the real cause.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed or a value is invalid.
    #[error("{0}")]
    BadRequest(String),
    /// A field failed validation.
    #[error("{field}: {message}")]
    Invalid {
        /// The field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// Nothing at that address.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state (not enough stock, wrong order state).
    #[error("{0}")]
    Conflict(String),
    /// A form post from another site.
    #[error("cross-site form posts are not accepted")]
    CrossSite,
    /// Too many requests; try again after this many seconds.
    #[error("too many attempts; try again in {0} seconds")]
    RateLimited(u64),
    /// Not signed in, or the credentials given do not match an account.
    #[error("{0}")]
    Unauthorized(String),
    /// Signed in, but not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    /// Too much work at once (passwords being hashed); try again after this many seconds.
    #[error("the atelier is busy; try again in {0} seconds")]
    Busy(u64),
    /// The webhook signature did not verify.
    #[error("{0}")]
    Signature(String),
    /// The body is larger than allowed.
    #[error("the request body is too large")]
    TooLarge,
    /// The payment provider failed or could not be reached (nothing was charged).
    #[error("payment provider: {0}")]
    Provider(String),
    /// A database failure.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// Anything else that should not happen.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status of the error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::Invalid { .. } | ApiError::Signature(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::CrossSite | ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Provider(_) => StatusCode::BAD_GATEWAY,
            ApiError::Database(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the client may read.
    pub fn public_message(&self) -> String {
        match self {
            ApiError::Database(_) | ApiError::Internal(_) => {
                "something went wrong on our side; nothing was charged".into()
            }
            ApiError::Provider(_) => {
                "the payment service could not be reached; nothing was charged and your cart is kept, try again in a moment".into()
            }
            other => other.to_string(),
        }
    }

    /// A validation error on a field.
    pub fn invalid(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::Invalid { field: field.to_string(), message: message.into() }
    }
}

/// The body of every error answer.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A short machine-readable code.
    #[schema(example = "invalid")]
    pub error: ErrorCode,
    /// What went wrong, for people.
    pub message: String,
    /// The field at fault, when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// The codes of [`ErrorBody::error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request is malformed.
    BadRequest,
    /// A field failed validation (see `field`).
    Invalid,
    /// Nothing at that address.
    NotFound,
    /// The request conflicts with the current state.
    Conflict,
    /// Signed in, but not allowed.
    Forbidden,
    /// A state-changing request from another site.
    CrossSite,
    /// Too many requests.
    RateLimited,
    /// Not signed in, or the credentials do not match an account.
    Unauthorized,
    /// Too much work at once; try again shortly.
    Busy,
    /// A webhook's signature did not verify.
    BadSignature,
    /// The body is too large.
    TooLarge,
    /// The payment provider failed.
    PaymentProvider,
    /// Something failed on our side.
    Internal,
}

impl ApiError {
    /// The body this error answers with.
    pub fn body(&self) -> ErrorBody {
        let error = match self {
            ApiError::BadRequest(_) => ErrorCode::BadRequest,
            ApiError::Invalid { .. } => ErrorCode::Invalid,
            ApiError::NotFound(_) => ErrorCode::NotFound,
            ApiError::Conflict(_) => ErrorCode::Conflict,
            ApiError::CrossSite => ErrorCode::CrossSite,
            ApiError::RateLimited(_) => ErrorCode::RateLimited,
            ApiError::Unauthorized(_) => ErrorCode::Unauthorized,
            ApiError::Forbidden(_) => ErrorCode::Forbidden,
            ApiError::Busy(_) => ErrorCode::Busy,
            ApiError::Signature(_) => ErrorCode::BadSignature,
            ApiError::TooLarge => ErrorCode::TooLarge,
            ApiError::Provider(_) => ErrorCode::PaymentProvider,
            ApiError::Database(_) | ApiError::Internal(_) => ErrorCode::Internal,
        };
        let field = match self {
            ApiError::Invalid { field, .. } => Some(field.clone()),
            _ => None,
        };
        ErrorBody { error, message: self.public_message(), field }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if matches!(self, ApiError::Database(_) | ApiError::Internal(_) | ApiError::Provider(_)) {
            tracing::error!(error = %self, "request failed");
        }
        let res = (self.status(), Json(self.body())).into_response();
        self.with_retry_after(res)
    }
}

impl ApiError {
    /// `res` with the `Retry-After` this error asks for (a limit, a busy moment), if any: for the
    /// JSON answer and for a page that shows the error alike.
    pub fn with_retry_after(&self, mut res: Response) -> Response {
        if let ApiError::RateLimited(seconds) | ApiError::Busy(seconds) = self {
            res.headers_mut().insert(axum::http::header::RETRY_AFTER, (*seconds).into());
        }
        res
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
