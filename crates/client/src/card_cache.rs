//! The local card cache: other users' verified card chains, kept in the key store (entries
//! `tessera/<me>/cards/<them>`) so that encryption and decryption work offline, with an
//! in-memory copy so that a cached card is parsed and verified once per process.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use super::{
    Error,
    key_store::{LocalStore, entries},
};
use tessera_format::card::{Card, Identity, verify_chain};

/// A verified chain of one identity's cards, oldest first; the last is the current card.
pub(crate) type Chain = Arc<Vec<Card>>;

pub(crate) struct CardCache {
    store: Arc<LocalStore>,
    memory: Mutex<HashMap<Identity, Chain>>,
}

/// Checks that `chain` is non-empty, belongs to `identity` and links up.
pub(crate) fn check_chain(identity: &Identity, chain: &[Card]) -> Result<(), Error> {
    if chain.is_empty() {
        return Err(Error::card_verification(
            identity.as_str(),
            "empty card chain",
        ));
    }
    if let Some(stranger) = chain.iter().find(|card| card.identity() != identity) {
        return Err(Error::card_verification(
            identity.as_str(),
            format!("a card of '{}' was given in its place", stranger.identity()),
        ));
    }
    verify_chain(chain).map_err(|error| Error::card_verification(identity.as_str(), error))
}

fn encode(chain: &[Card]) -> Vec<u8> {
    chain
        .iter()
        .map(Card::to_text)
        .collect::<Vec<_>>()
        .join("\n")
        .into_bytes()
}

fn decode(identity: &Identity, bytes: &[u8]) -> Result<Vec<Card>, Error> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| Error::card_verification(identity.as_str(), "cached cards are not text"))?;
    let chain = text
        .lines()
        .map(|line| {
            Card::from_text(line).map_err(|error| {
                Error::card_verification(identity.as_str(), format!("cached card: {error}"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    check_chain(identity, &chain)?;
    Ok(chain)
}

impl CardCache {
    pub(crate) fn new(store: Arc<LocalStore>) -> Self {
        Self {
            store,
            memory: Mutex::new(HashMap::new()),
        }
    }

    fn remembered(&self, identity: &Identity) -> Option<Chain> {
        self.memory
            .lock()
            .ok()
            .and_then(|memory| memory.get(identity).cloned())
    }

    fn remember(&self, identity: Identity, chain: Chain) {
        if let Ok(mut memory) = self.memory.lock() {
            memory.insert(identity, chain);
        }
    }

    fn forget(&self, identity: &Identity) {
        if let Ok(mut memory) = self.memory.lock() {
            memory.remove(identity);
        }
    }

    /// Forgets the in-memory copies (after `cleanup`).
    pub(crate) fn clear_memory(&self) {
        if let Ok(mut memory) = self.memory.lock() {
            memory.clear();
        }
    }

    /// The cached chain of `identity`, verified again when read from the key store.
    pub(crate) async fn chain(&self, identity: &Identity) -> Result<Option<Chain>, Error> {
        if let Some(chain) = self.remembered(identity) {
            return Ok(Some(chain));
        }
        let name = entries::cached_cards(self.store.identity(), identity);
        let Some(bytes) = self.store.get(&name).await? else {
            return Ok(None);
        };
        let chain = Arc::new(decode(identity, &bytes)?);
        self.remember(identity.clone(), chain.clone());
        Ok(Some(chain))
    }

    /// Stores verified chains (callers check them with [`check_chain`]).
    pub(crate) async fn store(&self, chains: Vec<(Identity, Chain)>) -> Result<(), Error> {
        let writes: Vec<(String, Vec<u8>)> = chains
            .iter()
            .map(|(identity, chain)| {
                (
                    entries::cached_cards(self.store.identity(), identity),
                    encode(chain),
                )
            })
            .collect();
        self.store.put_all(&writes).await?;
        for (identity, chain) in chains {
            self.remember(identity, chain);
        }
        Ok(())
    }

    /// Drops identities from the cache.
    pub(crate) async fn remove(&self, identities: &[Identity]) -> Result<(), Error> {
        let names: Vec<String> = identities
            .iter()
            .map(|identity| entries::cached_cards(self.store.identity(), identity))
            .collect();
        self.store.delete_all(&names).await?;
        for identity in identities {
            self.forget(identity);
        }
        Ok(())
    }

    /// Every identity with cached cards.
    pub(crate) async fn identities(&self) -> Result<Vec<Identity>, Error> {
        let prefix = entries::cached_cards_prefix(self.store.identity());
        Ok(self
            .store
            .names_with_prefix(&prefix)
            .await?
            .iter()
            .filter_map(|name| name.strip_prefix(&prefix))
            .filter_map(entries::parse_segment)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key_store::{InMemoryKeyStore, KeyStore};
    use tessera_format::{
        keys::{IdentityKeyPair, RootSecret},
        time::Timestamp,
    };

    fn card(seed: u8, name: &str, previous: Option<&Card>) -> Card {
        let keys = IdentityKeyPair::from_root_secret(RootSecret::from_bytes([seed; 32]));
        Card::create(
            &keys,
            Identity::new(name).unwrap(),
            Timestamp(1_800_000_000 + u64::from(seed)),
            previous.map(Card::id),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn chains_round_trip_through_the_key_store_and_are_reverified() {
        let memory = Arc::new(InMemoryKeyStore::new());
        let me = Identity::new("me").unwrap();
        let bob = Identity::new("bob").unwrap();
        let first = card(1, "bob", None);
        let second = card(2, "bob", Some(&first));
        let cache = CardCache::new(Arc::new(LocalStore::new(memory.clone(), me.clone())));
        cache
            .store(vec![(
                bob.clone(),
                Arc::new(vec![first.clone(), second.clone()]),
            )])
            .await
            .unwrap();
        let fresh = CardCache::new(Arc::new(LocalStore::new(memory.clone(), me.clone())));
        assert_eq!(fresh.identities().await.unwrap(), vec![bob.clone()]);
        let chain = fresh.chain(&bob).await.unwrap().unwrap();
        assert_eq!(chain.as_slice(), &[first.clone(), second.clone()]);

        // A chain edited in the key store (cards swapped) is refused.
        let name = entries::cached_cards(&me, &bob);
        memory.put(&name, &encode(&[second, first])).await.unwrap();
        let fresh = CardCache::new(Arc::new(LocalStore::new(memory, me)));
        assert_eq!(
            fresh.chain(&bob).await.unwrap_err().code(),
            "card_verification_failed"
        );
    }

    #[test]
    fn foreign_cards_do_not_pass_as_someone_else() {
        let bob = Identity::new("bob").unwrap();
        let error = check_chain(&bob, &[card(1, "mallory", None)]).unwrap_err();
        assert_eq!(error.code(), "card_verification_failed");
    }
}
