//! The operation log (docs/API.md "Operation log", docs/LOG.md). Public: no token.

use axum::{Json, extract::State};
use serde::{Deserialize, Serialize};

use super::QueryParams;
use crate::{
    error::ApiError,
    log_chain::{LogEntry, LogHead},
    server::AppState,
};

/// Most entries in one page.
pub const MAX_PAGE: u32 = 1000;
/// Entries in a page unless `limit` says otherwise.
pub const DEFAULT_PAGE: u32 = 100;

/// `?after=<seq>&limit=<n>`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntriesQuery {
    after: Option<u64>,
    limit: Option<u32>,
}

/// `{"entries": [...]}`.
#[derive(Serialize)]
pub struct EntriesResponse {
    entries: Vec<LogEntry>,
}

/// `GET /v1/log/head`.
pub async fn head(State(state): State<AppState>) -> Result<Json<LogHead>, ApiError> {
    Ok(Json(state.storage.log_head().await?))
}

/// `GET /v1/log`.
pub async fn entries(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<EntriesQuery>,
) -> Result<Json<EntriesResponse>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::InvalidRequest(format!(
            "limit must be 1..={MAX_PAGE}"
        )));
    }
    let after = query.after.unwrap_or(0);
    if after > i64::MAX as u64 {
        return Err(ApiError::InvalidRequest("after is too large".into()));
    }
    let entries = state.storage.log_entries(after, limit).await?;
    Ok(Json(EntriesResponse { entries }))
}
