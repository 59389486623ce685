//! The card chain rules of docs/API.md, independent of the database: which card a new
//! one replaces, and what an "outdated" answer says about stored cards.

use std::collections::{HashMap, HashSet};

use tessera_format::CardId;

use super::{CardStatus, NewCard, OutdatedCard, StorageError};

/// A card already stored, as the chain rules see it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChainLink {
    /// Its id.
    pub(crate) id: CardId,
    /// Its creation time.
    pub(crate) created_at: u64,
}

/// The chain rules of docs/API.md (`POST /v1/cards`), shared by both databases: given
/// the identity's active card and its most recent card, returns the card the new one
/// replaces (if any), or why it may not be published.
pub(crate) fn check_chain(
    new: &NewCard,
    active: Option<ChainLink>,
    latest: Option<ChainLink>,
) -> Result<Option<ChainLink>, StorageError> {
    let predecessor = match (active, new.previous_card_id) {
        (Some(active), Some(previous)) if active.id == previous => Some(active),
        (Some(_), _) => {
            return Err(StorageError::CardConflict(
                "the identity has an active card and the new card does not name it as \
                 previous_card_id; fetch the active card and rotate from it",
            ));
        }
        (None, None) => None,
        (None, Some(previous)) => match latest {
            Some(latest) if latest.id == previous => Some(latest),
            _ => {
                return Err(StorageError::CardConflict(
                    "previous_card_id does not name the identity's most recent card",
                ));
            }
        },
    };
    if predecessor.is_some_and(|p| p.created_at > new.created_at) {
        return Err(StorageError::CardConflict(
            "the card is older than the card it replaces",
        ));
    }
    Ok(predecessor)
}

/// The "outdated" answer for `asked`, given the status and successor of each known card.
pub(crate) fn outdated_from_known(
    asked: &[CardId],
    known: &HashMap<CardId, (String, Option<CardId>)>,
) -> Vec<OutdatedCard> {
    let mut seen = HashSet::new();
    asked
        .iter()
        .filter(|id| seen.insert(**id))
        .filter_map(|id| match known.get(id) {
            None => Some(OutdatedCard {
                card_id: *id,
                status: "unknown",
                superseded_by: None,
            }),
            Some((status, superseded_by)) => match CardStatus::from_name(status) {
                Some(CardStatus::Active) => None,
                Some(status) => Some(OutdatedCard {
                    card_id: *id,
                    status: status.as_str(),
                    superseded_by: *superseded_by,
                }),
                // A status the schema's CHECK forbids; report it as unknown rather than
                // failing the whole batch.
                None => Some(OutdatedCard {
                    card_id: *id,
                    status: "unknown",
                    superseded_by: None,
                }),
            },
        })
        .collect()
}
