//! Extractors shared by the routes: JSON and forms whose rejections speak our error format.

use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::ApiError;

/// JSON in our error format when malformed.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::MissingJsonContentType(_)) => {
                Err(ApiError::BadRequest("send JSON with Content-Type: application/json".into()))
            }
            Err(JsonRejection::BytesRejection(_)) => Err(ApiError::TooLarge),
            Err(e) => Err(ApiError::BadRequest(format!("invalid JSON body: {}", e.body_text()))),
        }
    }
}

/// A form in our error format when malformed.
pub struct ApiForm<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiForm<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(v)) => Ok(ApiForm(v)),
            Err(FormRejection::BytesRejection(_)) => Err(ApiError::TooLarge),
            Err(e) => Err(ApiError::BadRequest(format!("invalid form: {}", e.body_text()))),
        }
    }
}

/// A query string in our error format when malformed.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(e) => Err(ApiError::BadRequest(format!("invalid query: {}", e.body_text()))),
        }
    }
}

/// A whole number from JSON, written `2` or `2.0` (JSON Schema's `integer` is any number without
/// a fractional part, and some clients write every number with one).
pub fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    n.as_i64()
        .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| f as i64))
        .ok_or_else(|| serde::de::Error::custom(format!("expected a whole number, found {n}")))
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize)]
    struct Q {
        #[serde(deserialize_with = "super::whole_number")]
        quantity: i64,
    }

    #[test]
    fn whole_numbers_may_be_written_with_a_point() {
        let q = |s: &str| serde_json::from_str::<Q>(s).map(|q| q.quantity).map_err(|e| e.to_string());
        assert_eq!(q(r#"{"quantity":2}"#), Ok(2));
        assert_eq!(q(r#"{"quantity":2.0}"#), Ok(2));
        assert_eq!(q(r#"{"quantity":-3.0}"#), Ok(-3));
        assert!(q(r#"{"quantity":2.5}"#).unwrap_err().contains("whole number"));
        assert!(q(r#"{"quantity":"2"}"#).is_err());
        assert!(q(r#"{"quantity":1e300}"#).is_err());
    }
}
