//! Cards: publish, search, get, revoke, history, outdated (docs/API.md "Cards").

use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use tessera_format::{Card, CardId, Identity, Timestamp, card::CardWire};

use super::{JsonBody, PathParams, check_batch};
use crate::{
    auth::Caller,
    error::ApiError,
    server::AppState,
    storage::{CardRecord, NewCard, OutdatedCard},
};

/// How far from the server clock, ahead or behind, a new card's `created_at` may be: a
/// card is published when it is made, and a backdated rotation would make its owner's
/// earlier messages look signed with a replaced key.
pub const MAX_CARD_CLOCK_SKEW_SECONDS: u64 = 600;

/// `POST /v1/cards` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    card: CardWire,
}

/// `{"card": CardRecord}`.
#[derive(Serialize)]
pub struct CardResponse {
    card: CardRecord,
}

/// `{"cards": [CardRecord]}`.
#[derive(Serialize)]
pub struct CardsResponse {
    cards: Vec<CardRecord>,
}

/// `POST /v1/cards/search` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    identities: Vec<String>,
}

/// `POST /v1/cards/outdated` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutdatedRequest {
    card_ids: Vec<String>,
}

/// `{"outdated": [...]}`.
#[derive(Serialize)]
pub struct OutdatedResponse {
    outdated: Vec<OutdatedCard>,
}

fn parse_card_id(text: &str) -> Result<CardId, ApiError> {
    CardId::from_hex(text)
        .map_err(|_| ApiError::InvalidRequest("a card id is 64 hexadecimal digits".into()))
}

fn parse_identity(text: String) -> Result<Identity, ApiError> {
    Identity::new(text).map_err(|e| ApiError::InvalidRequest(e.to_string()))
}

/// `POST /v1/cards`: publishes the caller's new card.
pub async fn publish(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(request): JsonBody<PublishRequest>,
) -> Result<(StatusCode, Json<CardResponse>), ApiError> {
    let card = Card::try_from(&request.card).map_err(|e| ApiError::InvalidCard(e.to_string()))?;
    if card.identity() != &caller {
        return Err(ApiError::Forbidden(
            "the card's identity is not the token's subject".into(),
        ));
    }
    let now = Timestamp::now();
    card.check_not_from_future(now, MAX_CARD_CLOCK_SKEW_SECONDS)
        .map_err(|_| {
            ApiError::InvalidCard(
                "the card's created_at is more than 10 minutes ahead of the server clock".into(),
            )
        })?;
    if card.content().created_at.plus(MAX_CARD_CLOCK_SKEW_SECONDS) < now {
        return Err(ApiError::InvalidCard(
            "the card's created_at is more than 10 minutes behind the server clock; make \
             cards when publishing them, and check the device clock"
                .into(),
        ));
    }
    let new = NewCard {
        id: card.id(),
        identity: caller,
        card: request.card,
        keys: *card.public_keys(),
        created_at: card.content().created_at.0,
        previous_card_id: card.content().previous_card_id,
    };
    let record = state.storage.publish_card(new, now.0).await?;
    tracing::info!(card_id = %record.id, "card published");
    Ok((StatusCode::CREATED, Json(CardResponse { card: record })))
}

/// `POST /v1/cards/search`: the active cards of up to `max_batch_items` identities.
pub async fn search(
    State(state): State<AppState>,
    Caller(_): Caller,
    JsonBody(request): JsonBody<SearchRequest>,
) -> Result<Json<CardsResponse>, ApiError> {
    check_batch(
        "identities",
        &request.identities,
        state.limits.max_batch_items,
    )?;
    let mut identities = Vec::with_capacity(request.identities.len());
    let mut seen = std::collections::HashSet::with_capacity(request.identities.len());
    for text in request.identities {
        if seen.insert(text.clone()) {
            identities.push(parse_identity(text)?);
        }
    }
    let cards = state.storage.search_active_cards(&identities).await?;
    Ok(Json(CardsResponse { cards }))
}

/// `GET /v1/cards/{id}`: one card, any status.
pub async fn get(
    State(state): State<AppState>,
    Caller(_): Caller,
    PathParams(id): PathParams<String>,
) -> Result<Json<CardResponse>, ApiError> {
    let id = parse_card_id(&id)?;
    let card = state
        .storage
        .card(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound("no card with this id".into()))?;
    Ok(Json(CardResponse { card }))
}

/// `POST /v1/cards/{id}/revoke`: revokes the caller's active card.
pub async fn revoke(
    State(state): State<AppState>,
    Caller(caller): Caller,
    PathParams(id): PathParams<String>,
) -> Result<Json<CardResponse>, ApiError> {
    let id = parse_card_id(&id)?;
    let card = state
        .storage
        .revoke_card(&caller, &id, Timestamp::now().0)
        .await?;
    tracing::info!(card_id = %card.id, "card revoked");
    Ok(Json(CardResponse { card }))
}

/// `GET /v1/identities/{identity}/cards`: the identity's cards, oldest first.
pub async fn history(
    State(state): State<AppState>,
    Caller(_): Caller,
    PathParams(identity): PathParams<String>,
) -> Result<Json<CardsResponse>, ApiError> {
    let identity = parse_identity(identity)?;
    let cards = state.storage.card_history(&identity).await?;
    Ok(Json(CardsResponse { cards }))
}

/// `POST /v1/cards/outdated`: which of the given cards are no longer active.
pub async fn outdated(
    State(state): State<AppState>,
    Caller(_): Caller,
    JsonBody(request): JsonBody<OutdatedRequest>,
) -> Result<Json<OutdatedResponse>, ApiError> {
    check_batch("card_ids", &request.card_ids, state.limits.max_batch_items)?;
    let ids = request
        .card_ids
        .iter()
        .map(|id| parse_card_id(id))
        .collect::<Result<Vec<_>, _>>()?;
    let outdated = state.storage.outdated_cards(&ids).await?;
    Ok(Json(OutdatedResponse { outdated }))
}
