//! Operations endpoints: liveness, readiness, Prometheus metrics and the OpenAPI
//! document. None needs a token.

use axum::{
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};

use crate::{error::ApiError, server::AppState};

/// The API's OpenAPI document (server/openapi.json), compiled in.
pub const OPENAPI_JSON: &str = include_str!("../../openapi.json");

/// `GET /healthz`: 200 while the process runs.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: 200 once the database answers, 503 otherwise.
pub async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    match state.storage.ping().await {
        Ok(()) => Ok("ready\n"),
        Err(error) => {
            tracing::warn!(%error, "readiness check: database not reachable");
            Err(ApiError::Unavailable)
        }
    }
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut response = state
        .metrics
        .render(state.storage.search_cache_counts())
        .into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// `GET /openapi.json`.
pub async fn openapi() -> Response {
    let mut response = OPENAPI_JSON.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
