//! Group tickets: per-epoch blobs stored by the group's initiator and readable only by
//! the participants listed in each epoch (docs/API.md "Group tickets").

use std::collections::HashSet;

use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use tessera_format::{Identity, Timestamp};

use super::{JsonBody, PathParams, QueryParams, decode_base64url, serialize_base64url};
use crate::{
    auth::Caller,
    error::ApiError,
    server::AppState,
    storage::{GroupTicket, NewGroupTicket},
};

/// Longest group id.
pub const MAX_GROUP_ID_LENGTH: usize = 128;
/// Largest epoch number (epochs are 0..=2^31-1).
pub const MAX_EPOCH: u32 = i32::MAX as u32;

/// `PUT /v1/groups/{group_id}/tickets/{epoch}` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutTicketRequest {
    participants: Vec<String>,
    ticket: String,
}

/// Answer of a ticket upload.
#[derive(Serialize)]
pub struct PutTicketResponse {
    group_id: String,
    epoch: u32,
}

/// Most epochs in one listing.
pub const MAX_TICKETS_PAGE: u32 = 1000;
/// Epochs in a listing unless `limit` says otherwise.
pub const DEFAULT_TICKETS_PAGE: u32 = 100;

/// `?after=<epoch>&limit=<n>`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    after: Option<u32>,
    limit: Option<u32>,
}

/// One epoch as listed.
#[derive(Serialize)]
pub struct TicketJson {
    epoch: u32,
    participants: Vec<String>,
    #[serde(serialize_with = "serialize_base64url")]
    ticket: Vec<u8>,
    created_at: u64,
}

/// Answer of a listing.
#[derive(Serialize)]
pub struct ListResponse {
    group_id: String,
    initiator: String,
    tickets: Vec<TicketJson>,
}

fn check_group_id(group_id: &str) -> Result<(), ApiError> {
    let valid = (1..=MAX_GROUP_ID_LENGTH).contains(&group_id.len())
        && group_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(ApiError::InvalidRequest(
            "a group id is 1 to 128 characters of A-Z a-z 0-9 . _ : -".into(),
        ))
    }
}

fn parse_epoch(text: &str) -> Result<u32, ApiError> {
    text.parse::<u32>()
        .ok()
        .filter(|epoch| *epoch <= MAX_EPOCH)
        .ok_or_else(|| ApiError::InvalidRequest("an epoch is an integer 0..=2147483647".into()))
}

/// `PUT /v1/groups/{group_id}/tickets/{epoch}`: stores one epoch's ticket.
pub async fn put_ticket(
    State(state): State<AppState>,
    Caller(caller): Caller,
    PathParams((group_id, epoch)): PathParams<(String, String)>,
    JsonBody(request): JsonBody<PutTicketRequest>,
) -> Result<(StatusCode, Json<PutTicketResponse>), ApiError> {
    check_group_id(&group_id)?;
    let epoch = parse_epoch(&epoch)?;
    let limit = state.limits.max_group_participants;
    if request.participants.len() > limit {
        return Err(ApiError::TooManyItems {
            what: "participants",
            limit,
        });
    }
    let mut seen = HashSet::with_capacity(request.participants.len());
    let mut participants = Vec::with_capacity(request.participants.len());
    for text in request.participants {
        if !seen.insert(text.clone()) {
            return Err(ApiError::InvalidRequest(
                "participants must not repeat an identity".into(),
            ));
        }
        participants
            .push(Identity::new(text).map_err(|e| ApiError::InvalidRequest(e.to_string()))?);
    }
    if !participants.contains(&caller) {
        return Err(ApiError::InvalidRequest(
            "participants must include the caller".into(),
        ));
    }
    let ticket = decode_base64url("ticket", &request.ticket)?;
    if ticket.len() > state.limits.max_ticket_bytes {
        return Err(ApiError::PayloadTooLarge(format!(
            "a group ticket is at most {} bytes",
            state.limits.max_ticket_bytes
        )));
    }
    state
        .storage
        .put_group_ticket(
            &caller,
            NewGroupTicket {
                group_id: &group_id,
                epoch,
                participants: &participants,
                ticket: &ticket,
            },
            Timestamp::now().0,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(PutTicketResponse { group_id, epoch }),
    ))
}

/// `GET /v1/groups/{group_id}/tickets`: the epochs the caller takes part in.
pub async fn list_tickets(
    State(state): State<AppState>,
    Caller(caller): Caller,
    PathParams(group_id): PathParams<String>,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<ListResponse>, ApiError> {
    check_group_id(&group_id)?;
    if query.after.is_some_and(|after| after > MAX_EPOCH) {
        return Err(ApiError::InvalidRequest(
            "after is an epoch, 0..=2147483647".into(),
        ));
    }
    let limit = query.limit.unwrap_or(DEFAULT_TICKETS_PAGE);
    if !(1..=MAX_TICKETS_PAGE).contains(&limit) {
        return Err(ApiError::InvalidRequest(format!(
            "limit must be 1..={MAX_TICKETS_PAGE}"
        )));
    }
    let tickets = state
        .storage
        .group_tickets(&caller, &group_id, query.after, limit)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such group".into()))?;
    Ok(Json(ListResponse {
        group_id,
        initiator: tickets.initiator,
        tickets: tickets
            .tickets
            .into_iter()
            .map(
                |GroupTicket {
                     epoch,
                     participants,
                     ticket,
                     created_at,
                 }| TicketJson {
                    epoch,
                    participants,
                    ticket,
                    created_at,
                },
            )
            .collect(),
    }))
}

/// `DELETE /v1/groups/{group_id}`: deletes the group (initiator only).
pub async fn delete(
    State(state): State<AppState>,
    Caller(caller): Caller,
    PathParams(group_id): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    check_group_id(&group_id)?;
    state.storage.delete_group(&caller, &group_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
