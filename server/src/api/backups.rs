//! Key backups: named blobs of the caller only, with optimistic concurrency through
//! `ETag` / `If-Match` / `If-None-Match` (docs/API.md "Key backups").

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use tessera_format::Timestamp;

use super::{JsonBody, PathParams, decode_base64url, serialize_base64url};
use crate::{auth::Caller, error::ApiError, server::AppState, storage::Precondition};

/// Longest backup name.
pub const MAX_NAME_LENGTH: usize = 64;

/// `PUT /v1/backups/{name}` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutRequest {
    blob: String,
}

/// Answer of a write.
#[derive(Serialize)]
pub struct WriteResponse {
    name: String,
    version: u64,
}

/// Answer of a read.
#[derive(Serialize)]
pub struct BackupResponse {
    name: String,
    version: u64,
    #[serde(serialize_with = "serialize_base64url")]
    blob: Vec<u8>,
    updated_at: u64,
}

fn check_name(name: &str) -> Result<(), ApiError> {
    let valid = (1..=MAX_NAME_LENGTH).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(ApiError::InvalidRequest(
            "a backup name is 1 to 64 characters of A-Z a-z 0-9 . _ -".into(),
        ))
    }
}

fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// The precondition of `If-Match` / `If-None-Match`.
fn precondition(headers: &HeaderMap, allow_if_none_match: bool) -> Result<Precondition, ApiError> {
    let text = |name: header::HeaderName| -> Result<Option<String>, ApiError> {
        headers
            .get(&name)
            .map(|value| {
                value
                    .to_str()
                    .map(|v| v.trim().to_owned())
                    .map_err(|_| ApiError::InvalidRequest(format!("{name} is not ASCII")))
            })
            .transpose()
    };
    match (text(header::IF_MATCH)?, text(header::IF_NONE_MATCH)?) {
        (None, None) => Ok(Precondition::None),
        (Some(_), Some(_)) => Err(ApiError::InvalidRequest(
            "send either If-Match or If-None-Match, not both".into(),
        )),
        (None, Some(value)) if allow_if_none_match && value == "*" => {
            Ok(Precondition::MustNotExist)
        }
        (None, Some(_)) => Err(ApiError::InvalidRequest(
            "If-None-Match supports only `*`, and only on PUT".into(),
        )),
        (Some(value), None) if value == "*" => Ok(Precondition::MustExist),
        (Some(value), None) => {
            let digits = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(&value);
            let version: u64 = digits.parse().map_err(|_| {
                ApiError::InvalidRequest("If-Match must be `*` or an ETag such as \"3\"".into())
            })?;
            // Versions are stored as signed 64-bit integers: a larger ETag names a version
            // no backup can have.
            if i64::try_from(version).is_err() {
                return Err(ApiError::VersionMismatch(
                    "no backup has this version".into(),
                ));
            }
            Ok(Precondition::VersionIs(version))
        }
    }
}

/// `PUT /v1/backups/{name}`: creates or replaces the caller's backup.
pub async fn put(
    State(state): State<AppState>,
    Caller(caller): Caller,
    PathParams(name): PathParams<String>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<PutRequest>,
) -> Result<Response, ApiError> {
    check_name(&name)?;
    let precondition = precondition(&headers, true)?;
    let blob = decode_base64url("blob", &request.blob)?;
    if blob.len() > state.limits.max_backup_bytes {
        return Err(ApiError::PayloadTooLarge(format!(
            "a backup blob is at most {} bytes",
            state.limits.max_backup_bytes
        )));
    }
    let written = state
        .storage
        .put_backup(&caller, &name, &blob, precondition, Timestamp::now().0)
        .await?;
    let status = if written.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut response = (
        status,
        Json(WriteResponse {
            name,
            version: written.version,
        }),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::ETAG, etag(written.version));
    Ok(response)
}

/// `GET /v1/backups/{name}`: the caller's backup.
pub async fn get(
    State(state): State<AppState>,
    Caller(caller): Caller,
    PathParams(name): PathParams<String>,
) -> Result<Response, ApiError> {
    check_name(&name)?;
    let backup = state
        .storage
        .backup(&caller, &name)
        .await?
        .ok_or_else(|| ApiError::NotFound("no backup with this name".into()))?;
    let version = backup.version;
    let mut response = Json(BackupResponse {
        name,
        version,
        blob: backup.blob,
        updated_at: backup.updated_at,
    })
    .into_response();
    response.headers_mut().insert(header::ETAG, etag(version));
    Ok(response)
}

/// `DELETE /v1/backups/{name}`: deletes the caller's backup.
pub async fn delete(
    State(state): State<AppState>,
    Caller(caller): Caller,
    PathParams(name): PathParams<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    check_name(&name)?;
    let precondition = precondition(&headers, false)?;
    state
        .storage
        .delete_backup(&caller, &name, precondition, Timestamp::now().0)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
