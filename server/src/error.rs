//! The API's error responses: a stable `code` for clients to branch on and a `message`
//! for people, with the status codes of docs/API.md ("Errors").
//!
//! Messages never echo tokens, keys or payloads. Internal faults are logged here, once,
//! and the client only learns that one happened.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use crate::storage::StorageError;

/// An error answered to an API client.
#[derive(Debug)]
pub enum ApiError {
    /// 400 `invalid_request`: malformed JSON, a missing or invalid field or path parameter.
    InvalidRequest(String),
    /// 400 `invalid_card`: the card does not parse, its self-signature does not verify, or
    /// its creation time is unacceptable.
    InvalidCard(String),
    /// 400 `too_many_items`: a batch is larger than the configured limit.
    TooManyItems {
        /// What the batch holds ("identities", "card_ids", "participants").
        what: &'static str,
        /// The configured limit.
        limit: usize,
    },
    /// 401 `unauthorized`: no acceptable token.
    Unauthorized(String),
    /// 403 `forbidden`: the resource belongs to someone else.
    Forbidden(String),
    /// 404 `not_found`: no such resource, or the caller may not see it.
    NotFound(String),
    /// 405 `method_not_allowed`: the path exists, the method does not.
    MethodNotAllowed,
    /// 409 `card_conflict`: the new card does not continue the identity's chain.
    CardConflict(String),
    /// 409 `already_exists`: the card id or the group epoch already exists.
    AlreadyExists(String),
    /// 409 `key_in_use`: another identity already published one of the card's keys.
    KeyInUse(String),
    /// 409 `card_not_active`: revoking a card that is not active.
    CardNotActive,
    /// 412 `version_mismatch`: a backup precondition does not hold.
    VersionMismatch(String),
    /// 413 `payload_too_large`: the body or a blob in it exceeds a configured limit.
    PayloadTooLarge(String),
    /// 429 `rate_limited`: too many requests; retry after this many seconds.
    RateLimited {
        /// Whole seconds until a request will be accepted again (at least 1).
        retry_after_seconds: u64,
    },
    /// 503 `unavailable`: the database does not answer (readiness).
    Unavailable,
    /// 500 `internal`: a server fault; the detail goes to the log, never to the client.
    Internal(String),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    /// The HTTP status and the stable error code.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            Self::InvalidCard(_) => (StatusCode::BAD_REQUEST, "invalid_card"),
            Self::TooManyItems { .. } => (StatusCode::BAD_REQUEST, "too_many_items"),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::CardConflict(_) => (StatusCode::CONFLICT, "card_conflict"),
            Self::AlreadyExists(_) => (StatusCode::CONFLICT, "already_exists"),
            Self::KeyInUse(_) => (StatusCode::CONFLICT, "key_in_use"),
            Self::CardNotActive => (StatusCode::CONFLICT, "card_not_active"),
            Self::VersionMismatch(_) => (StatusCode::PRECONDITION_FAILED, "version_mismatch"),
            Self::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    fn message(&self) -> String {
        match self {
            Self::InvalidRequest(m)
            | Self::InvalidCard(m)
            | Self::Unauthorized(m)
            | Self::Forbidden(m)
            | Self::NotFound(m)
            | Self::CardConflict(m)
            | Self::AlreadyExists(m)
            | Self::KeyInUse(m)
            | Self::VersionMismatch(m)
            | Self::PayloadTooLarge(m) => m.clone(),
            Self::TooManyItems { what, limit } => {
                format!("too many {what} in one request: at most {limit}; split the batch")
            }
            Self::MethodNotAllowed => "this path does not support that method".into(),
            Self::CardNotActive => "the card is not active (already superseded or revoked)".into(),
            Self::RateLimited {
                retry_after_seconds,
            } => format!("too many requests; retry in {retry_after_seconds} s"),
            Self::Unavailable => "the database is not reachable".into(),
            Self::Internal(_) => "internal server error; the details are in the server log".into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let Self::Internal(detail) = &self {
            // The detail comes from the database driver or the server itself, never from
            // request payloads.
            tracing::error!(error = %detail, "request failed with an internal error");
        }
        let message = self.message();
        let mut response = (
            status,
            Json(ErrorBody {
                code,
                message: &message,
            }),
        )
            .into_response();
        if let Self::RateLimited {
            retry_after_seconds,
        } = self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds));
        }
        response
    }
}

impl From<StorageError> for ApiError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::NotFound(what) => Self::NotFound(what.into()),
            StorageError::Forbidden(what) => Self::Forbidden(what.into()),
            StorageError::CardConflict(what) => Self::CardConflict(what.into()),
            StorageError::KeyInUse(what) => Self::KeyInUse(what.into()),
            StorageError::AlreadyExists(what) => Self::AlreadyExists(what.into()),
            StorageError::CardNotActive => Self::CardNotActive,
            StorageError::VersionMismatch => Self::VersionMismatch(
                "the backup's current version does not match the precondition; \
                 read it again and retry"
                    .into(),
            ),
            StorageError::Database(error) => Self::Internal(error.to_string()),
            StorageError::Corrupt(what) => Self::Internal(format!("corrupt stored data: {what}")),
        }
    }
}
