//! The HTTP handlers of docs/API.md, one module per resource, and the request parsing
//! they share: every rejection becomes an [`ApiError`] with a stable code, so garbage
//! input never produces a non-JSON answer.

pub mod backups;
pub mod cards;
pub mod demo;
pub mod groups;
pub mod health;
pub mod log;

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Path, Query, Request},
    http::{StatusCode, request::Parts},
};
use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Serializer, de::DeserializeOwned};

use crate::error::ApiError;

/// A JSON request body. Unlike axum's `Json`, it maps every failure to the API's errors
/// (413 `payload_too_large` over the body limit, else 400 `invalid_request`) and does
/// not insist on a `Content-Type`.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge(
                        "the request body is larger than the server's limit".into(),
                    )
                } else {
                    ApiError::InvalidRequest("the request body could not be read".into())
                }
            })?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::InvalidRequest(format!("invalid JSON body: {e}")))
    }
}

/// Path parameters, with rejections as 400 `invalid_request`.
pub struct PathParams<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for PathParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| PathParams(value))
            .map_err(|e| ApiError::InvalidRequest(format!("invalid path: {}", e.body_text())))
    }
}

/// Query parameters, with rejections as 400 `invalid_request`.
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| QueryParams(value))
            .map_err(|e| ApiError::InvalidRequest(format!("invalid query: {}", e.body_text())))
    }
}

/// Decodes a base64url (unpadded) field.
pub(crate) fn decode_base64url(field: &str, text: &str) -> Result<Vec<u8>, ApiError> {
    Base64UrlUnpadded::decode_vec(text)
        .map_err(|_| ApiError::InvalidRequest(format!("{field} is not base64url without padding")))
}

/// Serde: bytes as base64url (unpadded).
pub(crate) fn serialize_base64url<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&Base64UrlUnpadded::encode_string(bytes))
}

/// Checks a batch's size against the configured limit: 1..=limit items.
pub(crate) fn check_batch<T>(
    what: &'static str,
    items: &[T],
    limit: usize,
) -> Result<(), ApiError> {
    if items.is_empty() {
        return Err(ApiError::InvalidRequest(format!(
            "{what} must not be empty"
        )));
    }
    if items.len() > limit {
        return Err(ApiError::TooManyItems { what, limit });
    }
    Ok(())
}
