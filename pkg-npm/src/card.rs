//! `Card`: a self-signed public key record (docs/FORMAT.md §3), wrapping
//! [`tessera_format::Card`], and safety numbers (§7).

use tessera_format::{Card as CoreCard, CardId, Identity, card::verify_chain};
use wasm_bindgen::prelude::*;

use crate::{
    date_of,
    error::{OrJs, js_error},
    keys::KeyPair,
    timestamp_of,
};

/// A verified card: every way of obtaining one checks its self-signature.
#[wasm_bindgen]
#[derive(Clone)]
pub struct Card {
    pub(crate) inner: CoreCard,
}

impl From<CoreCard> for Card {
    fn from(inner: CoreCard) -> Self {
        Self { inner }
    }
}

/// Clones the core cards out of JS `Card` objects (which stay usable).
pub(crate) fn core_cards(cards: &[Card]) -> Vec<CoreCard> {
    cards.iter().map(|card| card.inner.clone()).collect()
}

#[wasm_bindgen]
impl Card {
    /// Creates and self-signs the card of `identity` for `keyPair`, dated `createdAt`
    /// (default: now), replacing `previousCardId` (hex) when given.
    pub fn create(
        key_pair: &KeyPair,
        identity: &str,
        created_at: Option<js_sys::Date>,
        previous_card_id: Option<String>,
    ) -> Result<Card, JsValue> {
        let identity = Identity::new(identity).or_js()?;
        let created_at = created_at
            .as_ref()
            .map_or_else(tessera_format::Timestamp::now, timestamp_of);
        let previous = previous_card_id
            .map(|id| CardId::from_hex(&id))
            .transpose()
            .or_js()?;
        Ok(
            CoreCard::create(&key_pair.inner, identity, created_at, previous)
                .or_js()?
                .into(),
        )
    }

    /// Parses a snapshot and verifies its self-signature.
    #[wasm_bindgen(js_name = fromParts)]
    pub fn from_parts(snapshot: &[u8], signature: &[u8]) -> Result<Card, JsValue> {
        Ok(CoreCard::from_parts(snapshot, signature).or_js()?.into())
    }

    /// Parses the text form `b64url(snapshot).b64url(signature)` and verifies it.
    #[wasm_bindgen(js_name = fromText)]
    pub fn from_text(text: &str) -> Result<Card, JsValue> {
        Ok(CoreCard::from_text(text).or_js()?.into())
    }

    /// The text form, for storage and copy/paste.
    #[wasm_bindgen(js_name = toText)]
    pub fn to_text(&self) -> String {
        self.inner.to_text()
    }

    /// An independent copy of this card.
    #[wasm_bindgen(js_name = clone)]
    pub fn duplicate(&self) -> Card {
        self.clone()
    }

    /// The card id: 64 lower-case hex digits.
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        self.inner.id().to_hex()
    }

    /// The identity the card belongs to.
    #[wasm_bindgen(getter)]
    pub fn identity(&self) -> String {
        self.inner.identity().as_str().to_owned()
    }

    /// When the card was created.
    #[wasm_bindgen(getter, js_name = createdAt)]
    pub fn created_at(&self) -> js_sys::Date {
        date_of(self.inner.content().created_at)
    }

    /// The id of the card this one replaces, if any.
    #[wasm_bindgen(getter, js_name = previousCardId)]
    pub fn previous_card_id(&self) -> Option<String> {
        self.inner.content().previous_card_id.map(|id| id.to_hex())
    }

    /// The signed snapshot bytes.
    #[wasm_bindgen(getter)]
    pub fn snapshot(&self) -> Vec<u8> {
        self.inner.snapshot().to_vec()
    }

    /// The 64-byte self-signature.
    #[wasm_bindgen(getter)]
    pub fn signature(&self) -> Vec<u8> {
        self.inner.signature().to_vec()
    }

    /// The Ed25519 public key (32 bytes).
    #[wasm_bindgen(getter, js_name = signingPublicKey)]
    pub fn signing_public_key(&self) -> Vec<u8> {
        self.inner.public_keys().signing.to_vec()
    }

    /// The X25519 public key (32 bytes).
    #[wasm_bindgen(getter, js_name = encryptionPublicKey)]
    pub fn encryption_public_key(&self) -> Vec<u8> {
        self.inner.public_keys().encryption.to_vec()
    }
}

/// Checks that `cards` (oldest first) form a rotation chain; a `broken_chain` error
/// otherwise.
#[wasm_bindgen(js_name = verifyCardChain)]
pub fn verify_card_chain(cards: Vec<Card>) -> Result<(), JsValue> {
    verify_chain(&core_cards(&cards)).or_js()
}

/// The 60-digit safety number of two cards' identities and keys (order-independent).
#[wasm_bindgen(js_name = safetyNumber)]
pub fn safety_number(a: &Card, b: &Card) -> String {
    tessera_format::safety_number(
        a.inner.identity(),
        a.inner.public_keys(),
        b.inner.identity(),
        b.inner.public_keys(),
    )
}

/// Whether `identity` is a valid Tessera identity; an `invalid_identity` error otherwise.
#[wasm_bindgen(js_name = checkIdentity)]
pub fn check_identity(identity: &str) -> Result<(), JsValue> {
    Identity::new(identity)
        .map(|_| ())
        .map_err(|e| js_error(e.kind(), &e.to_string()))
}
