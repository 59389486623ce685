//! Cards (docs/FORMAT.md §3): a user's self-signed public keys, as returned by the
//! client's look-ups and taken by its encrypt and decrypt calls, plus [`FoundUsers`], the
//! verified cards of several users.

use std::{collections::HashMap, sync::Arc, time::SystemTime};

use tessera_client::FoundUsers as CoreFoundUsers;

use tessera_format::{Card as CoreCard, CardId, Identity, safety_number as core_safety_number};

use crate::{error::CryptoError, keys::KeyPair, time_of, timestamp_of};

/// A user's card: identity, public keys, creation time and the card it replaces. Every card
/// the client hands out has been verified; `fromParts` / `fromText` verify the
/// self-signature too.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Object)]
#[uniffi::export(Debug, Eq)]
pub struct Card {
    pub(crate) inner: CoreCard,
}

impl Card {
    pub(crate) fn wrap(inner: CoreCard) -> Arc<Self> {
        Arc::new(Self { inner })
    }
}

/// Core cards from foreign ones.
pub(crate) fn core_cards(cards: &[Arc<Card>]) -> Vec<CoreCard> {
    cards.iter().map(|card| card.inner.clone()).collect()
}

#[uniffi::export]
impl Card {
    /// Parses a card's snapshot and verifies its self-signature.
    #[uniffi::constructor]
    pub fn from_parts(snapshot: Vec<u8>, signature: Vec<u8>) -> Result<Arc<Self>, CryptoError> {
        Ok(Self::wrap(CoreCard::from_parts(&snapshot, &signature)?))
    }

    /// Parses the text form (`snapshot.signature`, base64url) and verifies it.
    #[uniffi::constructor]
    pub fn from_text(text: String) -> Result<Arc<Self>, CryptoError> {
        Ok(Self::wrap(CoreCard::from_text(&text)?))
    }

    /// Creates and self-signs a card for `keys` (`previous_card_id`, hex, after a key
    /// rotation). The client makes cards itself; this is for apps that manage keys.
    #[uniffi::constructor]
    pub fn create(
        keys: Arc<KeyPair>,
        identity: String,
        created_at: SystemTime,
        previous_card_id: Option<String>,
    ) -> Result<Arc<Self>, CryptoError> {
        let previous = previous_card_id
            .map(|id| CardId::from_hex(&id))
            .transpose()?;
        Ok(Self::wrap(CoreCard::create(
            &keys.inner,
            Identity::new(identity)?,
            timestamp_of(created_at),
            previous,
        )?))
    }

    /// The card id: SHA-256 of the snapshot, hex.
    pub fn id(&self) -> String {
        self.inner.id().to_hex()
    }

    /// Whose card this is.
    pub fn identity(&self) -> String {
        self.inner.identity().as_str().to_owned()
    }

    /// When the card was made (whole seconds).
    pub fn created_at(&self) -> SystemTime {
        time_of(self.inner.content().created_at)
    }

    /// The id of the card this one replaced (key rotation), hex.
    pub fn previous_card_id(&self) -> Option<String> {
        self.inner.content().previous_card_id.map(|id| id.to_hex())
    }

    /// The Ed25519 public key (32 bytes).
    pub fn signing_public_key(&self) -> Vec<u8> {
        self.inner.public_keys().signing.to_vec()
    }

    /// The X25519 public key (32 bytes).
    pub fn encryption_public_key(&self) -> Vec<u8> {
        self.inner.public_keys().encryption.to_vec()
    }

    /// The signed snapshot bytes.
    pub fn snapshot(&self) -> Vec<u8> {
        self.inner.snapshot().to_vec()
    }

    /// The 64-byte Ed25519 self-signature.
    pub fn signature(&self) -> Vec<u8> {
        self.inner.signature().to_vec()
    }

    /// The text form, `snapshot.signature` in base64url (for QR codes, storage, messages).
    pub fn to_text(&self) -> String {
        self.inner.to_text()
    }
}

/// The safety number of two cards: 60 digits in groups of five, the same whichever order
/// they are given in (docs/FORMAT.md §7).
#[uniffi::export]
pub fn safety_number(a: Arc<Card>, b: Arc<Card>) -> String {
    core_safety_number(
        a.inner.identity(),
        a.inner.public_keys(),
        b.inner.identity(),
        b.inner.public_keys(),
    )
}

/// Verified cards of several users by identity: what `findUsers` returns and what
/// `authEncrypt` and `encryptStream` take. Immutable.
#[derive(Debug, uniffi::Object)]
pub struct FoundUsers {
    pub(crate) inner: CoreFoundUsers,
}

impl FoundUsers {
    pub(crate) fn wrap(inner: CoreFoundUsers) -> Arc<Self> {
        Arc::new(Self { inner })
    }
}

#[uniffi::export]
impl FoundUsers {
    /// Cards obtained elsewhere (a QR code, an earlier look-up), one per identity.
    #[uniffi::constructor]
    pub fn from_cards(cards: Vec<Arc<Card>>) -> Arc<Self> {
        Self::wrap(CoreFoundUsers::from_cards(core_cards(&cards)))
    }

    /// The card of `identity`, if present.
    pub fn get(&self, identity: String) -> Option<Arc<Card>> {
        self.inner.get(&identity).cloned().map(Card::wrap)
    }

    /// The identities, sorted.
    pub fn identities(&self) -> Vec<String> {
        self.inner
            .identities()
            .map(|identity| identity.as_str().to_owned())
            .collect()
    }

    /// The cards, sorted by identity.
    pub fn cards(&self) -> Vec<Arc<Card>> {
        self.inner.cards().cloned().map(Card::wrap).collect()
    }

    /// The cards by identity.
    pub fn as_map(&self) -> HashMap<String, Arc<Card>> {
        self.inner
            .cards()
            .map(|card| {
                (
                    card.identity().as_str().to_owned(),
                    Card::wrap(card.clone()),
                )
            })
            .collect()
    }

    /// The number of users.
    pub fn len(&self) -> u64 {
        self.inner.len() as u64
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }
}
