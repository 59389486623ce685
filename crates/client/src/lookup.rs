//! Finding other users' cards: batched directory searches, verification of every card
//! (self-signature, identity, date, and the rotation chain whenever the server returns
//! one), the local card cache and the outdated-card check.
//!
//! Verification never depends on the server URL: a self-hosted directory is checked
//! exactly like any other.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::Arc,
};

use super::{
    Error, Tessera,
    card_cache::{Chain, check_chain},
    server_api::{CardRecord, MAX_BATCH},
};
use tessera_format::{
    card::{Card, CardId, Identity},
    time::Timestamp,
};

/// How far in the future a card's `created_at` may be, to tolerate device clocks that are
/// behind (the server itself refuses cards more than 10 minutes ahead of its clock).
const FUTURE_LEEWAY_SECONDS: u64 = 24 * 3600;

/// Verified cards of several users, by identity: what `find_users` returns and what
/// `auth_encrypt` takes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FoundUsers {
    cards: BTreeMap<Identity, Card>,
}

impl FoundUsers {
    /// Cards of several users (for cards obtained elsewhere, for example a QR code).
    pub fn from_cards(cards: impl IntoIterator<Item = Card>) -> Self {
        Self {
            cards: cards
                .into_iter()
                .map(|card| (card.identity().clone(), card))
                .collect(),
        }
    }

    /// The card of `identity`.
    pub fn get(&self, identity: &str) -> Option<&Card> {
        self.cards
            .iter()
            .find(|(id, _)| id.as_str() == identity)
            .map(|(_, card)| card)
    }

    /// The number of users.
    pub fn len(&self) -> usize {
        self.cards.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.cards.is_empty()
    }

    /// The identities, sorted.
    pub fn identities(&self) -> impl Iterator<Item = &Identity> {
        self.cards.keys()
    }

    /// The cards, sorted by identity.
    pub fn cards(&self) -> impl Iterator<Item = &Card> {
        self.cards.values()
    }

    /// Adds (or replaces) a user's card.
    pub fn insert(&mut self, card: Card) {
        self.cards.insert(card.identity().clone(), card);
    }
}

impl<'a> IntoIterator for &'a FoundUsers {
    type Item = &'a Card;
    type IntoIter = std::collections::btree_map::Values<'a, Identity, Card>;
    fn into_iter(self) -> Self::IntoIter {
        self.cards.values()
    }
}

impl IntoIterator for FoundUsers {
    type Item = Card;
    type IntoIter = std::collections::btree_map::IntoValues<Identity, Card>;
    fn into_iter(self) -> Self::IntoIter {
        self.cards.into_values()
    }
}

/// Parses identities given by the app, sorted and without duplicates.
fn parse_identities(identities: &[impl AsRef<str>]) -> Result<Vec<Identity>, Error> {
    if identities.is_empty() {
        return Err(Error::invalid_input("no identities given"));
    }
    let set: BTreeSet<Identity> = identities
        .iter()
        .map(|identity| {
            Identity::new(identity.as_ref()).map_err(|error| {
                Error::invalid_input(format!(
                    "'{}' is not an identity: {error}",
                    identity.as_ref()
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(set.into_iter().collect())
}

/// Verifies one card record claimed to belong to `identity`.
pub(crate) fn verify_record(identity: &Identity, record: &CardRecord) -> Result<Card, Error> {
    let card = Card::from_parts(&record.snapshot, &record.signature)
        .map_err(|error| Error::card_verification(identity.as_str(), error))?;
    if card.identity() != identity {
        return Err(Error::card_verification(
            identity.as_str(),
            format!(
                "the directory returned a card of '{}' instead",
                card.identity()
            ),
        ));
    }
    if !record.id.eq_ignore_ascii_case(&card.id().to_hex()) {
        return Err(Error::card_verification(
            identity.as_str(),
            "the card id does not match the card's content",
        ));
    }
    card.check_not_from_future(Timestamp::now(), FUTURE_LEEWAY_SECONDS)
        .map_err(|_| {
            Error::card_verification(identity.as_str(), "the card is dated in the future")
        })?;
    Ok(card)
}

impl Tessera {
    /// Looks users up in the directory (in batches of up to 1000), verifies every card and
    /// caches the result on the device. Fails with [`Error::UsersNotFound`] naming every
    /// identity without an active card. When a cached card changed, the key-changed
    /// listener is told.
    pub async fn find_users(&self, identities: &[impl AsRef<str>]) -> Result<FoundUsers, Error> {
        let identities = parse_identities(identities)?;
        let found = self.search_verified(&identities).await?;
        let missing: Vec<String> = identities
            .iter()
            .filter(|identity| !found.contains_key(*identity))
            .map(|identity| identity.as_str().to_owned())
            .collect();
        if !missing.is_empty() {
            return Err(Error::UsersNotFound {
                identities: missing,
            });
        }
        let mut updates = Vec::new();
        let mut changed = Vec::new();
        for (identity, card) in &found {
            let cached = self.cache().chain(identity).await.ok().flatten();
            match cached {
                Some(chain) if chain.last() == Some(card) => {}
                Some(chain) => {
                    changed.push(identity.clone());
                    updates.push((identity.clone(), extend_chain(identity, &chain, card)));
                }
                None => updates.push((identity.clone(), Arc::new(vec![card.clone()]))),
            }
        }
        self.cache().store(updates).await?;
        self.notify_key_changed(&changed);
        Ok(FoundUsers {
            cards: found.into_iter().collect(),
        })
    }

    /// The cached cards of users found earlier (no network). Fails with
    /// [`Error::UsersNotFound`] naming every identity not in the cache.
    pub async fn find_cached_users(
        &self,
        identities: &[impl AsRef<str>],
    ) -> Result<FoundUsers, Error> {
        let identities = parse_identities(identities)?;
        let mut found = FoundUsers::default();
        let mut missing = Vec::new();
        for identity in identities {
            match self.cache().chain(&identity).await? {
                Some(chain) => {
                    if let Some(card) = chain.last() {
                        found.insert(card.clone());
                    }
                }
                None => missing.push(identity.as_str().to_owned()),
            }
        }
        if !missing.is_empty() {
            return Err(Error::UsersNotFound {
                identities: missing,
            });
        }
        Ok(found)
    }

    /// Asks the server which cached cards are no longer active and refreshes them: a
    /// replaced card is swapped for the verified new one, a revoked one is dropped from the
    /// cache. Calls the key-changed listener for each such identity and returns them.
    pub async fn update_cached_users(&self) -> Result<Vec<Identity>, Error> {
        let identities = self.cache().identities().await?;
        let mut by_card: HashMap<CardId, (Identity, Chain)> = HashMap::new();
        for identity in identities {
            if let Some(chain) = self.cache().chain(&identity).await?
                && let Some(card) = chain.last()
            {
                by_card.insert(card.id(), (identity, chain.clone()));
            }
        }
        let ids: Vec<CardId> = by_card.keys().copied().collect();
        let mut stale: Vec<(Identity, Chain)> = Vec::new();
        for batch in ids.chunks(MAX_BATCH) {
            for outdated in self.api().outdated_cards(batch).await? {
                let id = CardId::from_hex(&outdated.card_id).map_err(|_| {
                    Error::invalid_response("the outdated check returned a bad card id")
                })?;
                if let Some(entry) = by_card.get(&id) {
                    stale.push(entry.clone());
                }
            }
        }
        if stale.is_empty() {
            return Ok(Vec::new());
        }
        let stale_identities: Vec<Identity> = stale.iter().map(|(id, _)| id.clone()).collect();
        let found = self.search_verified(&stale_identities).await?;
        let mut updates = Vec::new();
        let mut removed = Vec::new();
        for (identity, chain) in &stale {
            match found.get(identity) {
                Some(card) if chain.last() != Some(card) => {
                    updates.push((identity.clone(), extend_chain(identity, chain, card)));
                }
                Some(_) => {}
                None => removed.push(identity.clone()),
            }
        }
        self.cache().store(updates.clone()).await?;
        self.cache().remove(&removed).await?;
        let mut changed: Vec<Identity> = updates
            .into_iter()
            .map(|(identity, _)| identity)
            .chain(removed)
            .collect();
        changed.sort();
        self.notify_key_changed(&changed);
        Ok(changed)
    }

    fn notify_key_changed(&self, identities: &[Identity]) {
        if let Some(listener) = self.key_changed_listener() {
            for identity in identities {
                // The listener's failure is the app's concern; the cache is already updated.
                let _ = listener.key_changed(identity);
            }
        }
    }

    /// Searches the directory in batches and verifies every card returned.
    pub(crate) async fn search_verified(
        &self,
        identities: &[Identity],
    ) -> Result<BTreeMap<Identity, Card>, Error> {
        let wanted: BTreeSet<&Identity> = identities.iter().collect();
        let mut found = BTreeMap::new();
        for batch in identities.chunks(MAX_BATCH) {
            let names: Vec<&str> = batch.iter().map(Identity::as_str).collect();
            for record in self.api().search_cards(&names).await? {
                let claimed = Identity::new(record.identity.clone()).map_err(|_| {
                    Error::invalid_response(
                        "the directory returned a card with an invalid identity",
                    )
                })?;
                if !wanted.contains(&claimed) {
                    return Err(Error::card_verification(
                        claimed.as_str(),
                        "the directory returned a card that was not asked for",
                    ));
                }
                let card = verify_record(&claimed, &record)?;
                if found.insert(claimed.clone(), card).is_some() {
                    return Err(Error::card_verification(
                        claimed.as_str(),
                        "the directory returned two active cards",
                    ));
                }
            }
        }
        Ok(found)
    }

    /// The verified chain that ends with `card`: its ancestors from the directory's history
    /// (every card's self-signature checked, links checked), oldest first.
    pub(crate) async fn fetch_chain(&self, card: &Card) -> Result<Chain, Error> {
        let identity = card.identity();
        let history = self.api().card_history(identity.as_str()).await?;
        let mut by_id: HashMap<CardId, Card> = HashMap::new();
        for record in &history {
            let verified = verify_record(identity, record)?;
            by_id.insert(verified.id(), verified);
        }
        let mut chain = vec![card.clone()];
        let mut cursor = card.content().previous_card_id;
        while let Some(previous) = cursor {
            // A cycle is impossible (ids are hashes of content naming earlier ids), but a
            // hostile history could be long: stop at its length.
            if chain.len() > by_id.len() {
                break;
            }
            let Some(older) = by_id.get(&previous) else {
                return Err(Error::card_verification(
                    identity.as_str(),
                    "the card's predecessor is missing from the directory's history",
                ));
            };
            chain.push(older.clone());
            cursor = older.content().previous_card_id;
        }
        chain.reverse();
        check_chain(identity, &chain)?;
        Ok(Arc::new(chain))
    }
}

/// The cached chain extended by `card` when it names the cached current card as its
/// predecessor; otherwise `card` alone (its history is fetched when needed).
fn extend_chain(identity: &Identity, chain: &Chain, card: &Card) -> Chain {
    let mut extended: Vec<Card> = chain.as_ref().clone();
    extended.push(card.clone());
    if check_chain(identity, &extended).is_ok() {
        Arc::new(extended)
    } else {
        Arc::new(vec![card.clone()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_are_validated_sorted_and_deduplicated() {
        let parsed = parse_identities(&["bob", "alice", "bob"]).unwrap();
        let names: Vec<&str> = parsed.iter().map(Identity::as_str).collect();
        assert_eq!(names, ["alice", "bob"]);
        assert_eq!(
            parse_identities(&["has space"]).unwrap_err().code(),
            "invalid_input"
        );
        assert_eq!(
            parse_identities(&[] as &[&str]).unwrap_err().code(),
            "invalid_input"
        );
    }
}
