//! Cards: an identity's self-signed public keys, as published in the directory
//! (docs/FORMAT.md §3).
//!
//! A [`Card`] value always holds a verified self-signature: the only ways to obtain one
//! are [`Card::create`] and [`Card::from_parts`], and the latter verifies before
//! returning. The signed snapshot bytes are kept verbatim and never re-serialized.

use std::fmt;

use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::{
    encoding::{Reader, b64url_bytes, b64url_decode, b64url_encode},
    keys::{IdentityKeyPair, KEY_LENGTH, KeyError, PublicKeys},
    time::Timestamp,
};

const SNAPSHOT_MAGIC: &[u8; 4] = b"TSCD";
/// The card snapshot format this version writes and reads.
pub const CARD_FORMAT_VERSION: u8 = 1;
const SELF_SIGNATURE_PREFIX: &[u8] = b"tessera/v1/card-self-signature\0";
/// Longest identity, in bytes.
pub const MAX_IDENTITY_LENGTH: usize = 128;
/// Longest snapshot a parser accepts (header + identity + keys + time + previous id).
pub const MAX_SNAPSHOT_LENGTH: usize = 4 + 1 + 1 + MAX_IDENTITY_LENGTH + 32 + 32 + 8 + 1 + 32;

/// Why a card, an identity or a chain of cards was rejected.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CardError {
    /// The snapshot bytes do not follow the card format.
    #[error("malformed card: {0}")]
    Malformed(&'static str),
    /// The snapshot was written by a newer format version.
    #[error("card format version {0} is not supported; update Tessera")]
    UnsupportedVersion(u8),
    /// The identity is empty, too long or has characters outside printable ASCII.
    #[error("invalid identity: {0}")]
    InvalidIdentity(&'static str),
    /// A public key in the card is invalid.
    #[error("invalid key in card: {0}")]
    InvalidKey(#[from] KeyError),
    /// `created_at` is before 2020 or after 9999, or too far in the future.
    #[error("card creation time is out of range")]
    TimestampOutOfRange,
    /// The self-signature does not verify against the card's own signing key.
    #[error("the card's self-signature is invalid")]
    BadSignature,
    /// Cards given as a rotation chain do not link up.
    #[error("broken card chain: {0}")]
    BrokenChain(&'static str),
}

impl CardError {
    /// A stable snake_case name for this kind of failure (one of [`crate::ERROR_KINDS`]).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::UnsupportedVersion(_) => "unsupported_version",
            Self::InvalidIdentity(_) => "invalid_identity",
            Self::InvalidKey(_) => "invalid_key",
            Self::TimestampOutOfRange => "timestamp_out_of_range",
            Self::BadSignature => "bad_signature",
            Self::BrokenChain(_) => "broken_chain",
        }
    }
}

/// The name a user is known by (the token subject, the card's identity):
/// 1 to 128 bytes of printable ASCII without spaces (0x21..=0x7E).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identity(String);

impl Identity {
    /// Validates and wraps an identity.
    pub fn new(identity: impl Into<String>) -> Result<Self, CardError> {
        let identity = identity.into();
        if identity.is_empty() {
            return Err(CardError::InvalidIdentity("empty"));
        }
        if identity.len() > MAX_IDENTITY_LENGTH {
            return Err(CardError::InvalidIdentity("longer than 128 bytes"));
        }
        if !identity.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(CardError::InvalidIdentity(
                "only printable ASCII without spaces is allowed",
            ));
        }
        Ok(Self(identity))
    }

    /// The identity as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity({:?})", self.0)
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Identity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Identity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Identity::new(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A card's id: SHA-256 of its snapshot.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CardId(pub [u8; 32]);

impl CardId {
    /// The id of a snapshot.
    pub fn of_snapshot(snapshot: &[u8]) -> Self {
        Self(Sha256::digest(snapshot).into())
    }

    /// Lower-case hex, the form used in URLs and JSON.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Self, CardError> {
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return Err(CardError::Malformed("a card id is 64 hex digits"));
        }
        let mut id = [0u8; 32];
        for (out, pair) in id.iter_mut().zip(bytes.chunks_exact(2)) {
            match pair {
                [hi, lo] => match (hex_value(*hi), hex_value(*lo)) {
                    (Some(hi), Some(lo)) => *out = (hi << 4) | lo,
                    _ => return Err(CardError::Malformed("a card id is 64 hex digits")),
                },
                _ => return Err(CardError::Malformed("a card id is 64 hex digits")),
            }
        }
        Ok(Self(id))
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

impl fmt::Debug for CardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardId({})", self.to_hex())
    }
}

impl fmt::Display for CardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for CardId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for CardId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        CardId::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// What a card says: decoded from (or encoded into) the snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardContent {
    /// Snapshot format version.
    pub version: u8,
    /// Who this card belongs to.
    pub identity: Identity,
    /// The identity's public keys.
    pub keys: PublicKeys,
    /// When the card was made.
    pub created_at: Timestamp,
    /// The card this one replaces (key rotation), if any.
    pub previous_card_id: Option<CardId>,
}

impl CardContent {
    /// Encodes the content into snapshot bytes (docs/FORMAT.md §3.1).
    pub fn to_snapshot(&self) -> Vec<u8> {
        let identity = self.identity.as_str().as_bytes();
        let mut out = Vec::with_capacity(MAX_SNAPSHOT_LENGTH);
        out.extend_from_slice(SNAPSHOT_MAGIC);
        out.push(self.version);
        // Identity::new guarantees 1..=128 bytes, so the length fits in one byte.
        out.push(identity.len() as u8);
        out.extend_from_slice(identity);
        out.extend_from_slice(&self.keys.signing);
        out.extend_from_slice(&self.keys.encryption);
        out.extend_from_slice(&self.created_at.0.to_be_bytes());
        match &self.previous_card_id {
            None => out.push(0),
            Some(previous) => {
                out.push(1);
                out.extend_from_slice(&previous.0);
            }
        }
        out
    }

    /// Decodes snapshot bytes, checking every field; trailing bytes are an error.
    pub fn from_snapshot(snapshot: &[u8]) -> Result<Self, CardError> {
        const TRUNCATED: CardError = CardError::Malformed("truncated snapshot");
        if snapshot.len() > MAX_SNAPSHOT_LENGTH {
            return Err(CardError::Malformed("snapshot too long"));
        }
        let mut r = Reader::new(snapshot);
        if r.take(4).ok_or(TRUNCATED)? != SNAPSHOT_MAGIC {
            return Err(CardError::Malformed("not a card snapshot (bad magic)"));
        }
        let version = r.u8().ok_or(TRUNCATED)?;
        if version != CARD_FORMAT_VERSION {
            return Err(CardError::UnsupportedVersion(version));
        }
        let identity_length = usize::from(r.u8().ok_or(TRUNCATED)?);
        let identity_bytes = r.take(identity_length).ok_or(TRUNCATED)?;
        let identity = std::str::from_utf8(identity_bytes)
            .map_err(|_| CardError::InvalidIdentity("not UTF-8"))?;
        let identity = Identity::new(identity)?;
        let keys = PublicKeys {
            signing: r.array::<KEY_LENGTH>().ok_or(TRUNCATED)?,
            encryption: r.array::<KEY_LENGTH>().ok_or(TRUNCATED)?,
        };
        keys.validate()?;
        let created_at = Timestamp(r.u64().ok_or(TRUNCATED)?);
        if created_at < Timestamp::EARLIEST || created_at > Timestamp::LATEST {
            return Err(CardError::TimestampOutOfRange);
        }
        let previous_card_id = match r.u8().ok_or(TRUNCATED)? {
            0 => None,
            1 => Some(CardId(r.array().ok_or(TRUNCATED)?)),
            _ => return Err(CardError::Malformed("previous-card flag must be 0 or 1")),
        };
        if !r.is_empty() {
            return Err(CardError::Malformed("trailing bytes after snapshot"));
        }
        Ok(Self {
            version,
            identity,
            keys,
            created_at,
            previous_card_id,
        })
    }
}

/// A self-signed card whose signature has been verified.
#[derive(Clone, PartialEq, Eq)]
pub struct Card {
    snapshot: Vec<u8>,
    signature: [u8; 64],
    content: CardContent,
    id: CardId,
    /// The decompressed signing key, kept so each verification skips decompression.
    verifying_key: VerifyingKey,
}

fn self_signature_input(snapshot: &[u8]) -> Vec<u8> {
    [SELF_SIGNATURE_PREFIX, snapshot].concat()
}

impl Card {
    /// Creates and self-signs a card for `keys`. `previous` names the card this one
    /// replaces after a key rotation.
    pub fn create(
        keys: &IdentityKeyPair,
        identity: Identity,
        created_at: Timestamp,
        previous: Option<CardId>,
    ) -> Result<Self, CardError> {
        if created_at < Timestamp::EARLIEST || created_at > Timestamp::LATEST {
            return Err(CardError::TimestampOutOfRange);
        }
        let content = CardContent {
            version: CARD_FORMAT_VERSION,
            identity,
            keys: *keys.public_keys(),
            created_at,
            previous_card_id: previous,
        };
        let snapshot = content.to_snapshot();
        let signature = keys.sign(&self_signature_input(&snapshot));
        let id = CardId::of_snapshot(&snapshot);
        let verifying_key = content.keys.verifying_key()?;
        Ok(Self {
            snapshot,
            signature,
            content,
            id,
            verifying_key,
        })
    }

    /// Parses a snapshot and verifies its self-signature.
    pub fn from_parts(snapshot: &[u8], signature: &[u8]) -> Result<Self, CardError> {
        let content = CardContent::from_snapshot(snapshot)?;
        let signature: [u8; 64] = signature
            .try_into()
            .map_err(|_| CardError::Malformed("a signature is 64 bytes"))?;
        let verifying_key = content.keys.verifying_key()?;
        verifying_key
            .verify_strict(
                &self_signature_input(snapshot),
                &Signature::from_bytes(&signature),
            )
            .map_err(|_| CardError::BadSignature)?;
        let id = CardId::of_snapshot(snapshot);
        Ok(Self {
            snapshot: snapshot.to_vec(),
            signature,
            content,
            id,
            verifying_key,
        })
    }

    /// The card id (SHA-256 of the snapshot).
    pub fn id(&self) -> CardId {
        self.id
    }

    /// The decoded content.
    pub fn content(&self) -> &CardContent {
        &self.content
    }

    /// Shorthand for `content().identity`.
    pub fn identity(&self) -> &Identity {
        &self.content.identity
    }

    /// Shorthand for `content().keys`.
    pub fn public_keys(&self) -> &PublicKeys {
        &self.content.keys
    }

    /// The card's Ed25519 key, ready to verify signatures.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.verifying_key
    }

    /// The signed snapshot bytes, verbatim.
    pub fn snapshot(&self) -> &[u8] {
        &self.snapshot
    }

    /// The Ed25519 self-signature.
    pub fn signature(&self) -> &[u8; 64] {
        &self.signature
    }

    /// Fails if the card claims to be made later than `now + leeway_seconds`.
    pub fn check_not_from_future(
        &self,
        now: Timestamp,
        leeway_seconds: u64,
    ) -> Result<(), CardError> {
        if self.content.created_at > now.plus(leeway_seconds) {
            return Err(CardError::TimestampOutOfRange);
        }
        Ok(())
    }

    /// The card in its JSON wire form.
    pub fn to_wire(&self) -> CardWire {
        CardWire {
            snapshot: self.snapshot.clone(),
            signature: self.signature.to_vec(),
        }
    }

    /// Compact text form (`snapshot.signature`, both base64url) for storing a card in a
    /// key store or passing it between apps.
    pub fn to_text(&self) -> String {
        format!(
            "{}.{}",
            b64url_encode(&self.snapshot),
            b64url_encode(&self.signature)
        )
    }

    /// Parses and verifies [`Card::to_text`] output.
    pub fn from_text(text: &str) -> Result<Self, CardError> {
        let (snapshot, signature) = text
            .split_once('.')
            .ok_or(CardError::Malformed("expected snapshot.signature"))?;
        let snapshot = b64url_decode(snapshot).ok_or(CardError::Malformed("invalid base64url"))?;
        let signature =
            b64url_decode(signature).ok_or(CardError::Malformed("invalid base64url"))?;
        Self::from_parts(&snapshot, &signature)
    }
}

impl fmt::Debug for Card {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Card")
            .field("id", &self.id)
            .field("identity", &self.content.identity)
            .field("created_at", &self.content.created_at)
            .field("previous_card_id", &self.content.previous_card_id)
            .finish()
    }
}

/// A card as it travels in JSON: `{"snapshot": base64url, "signature": base64url}`.
/// Unverified until turned into a [`Card`]. Any other member is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardWire {
    /// The snapshot bytes.
    #[serde(with = "b64url_bytes")]
    pub snapshot: Vec<u8>,
    /// The self-signature bytes.
    #[serde(with = "b64url_bytes")]
    pub signature: Vec<u8>,
}

impl TryFrom<&CardWire> for Card {
    type Error = CardError;
    fn try_from(wire: &CardWire) -> Result<Self, CardError> {
        Card::from_parts(&wire.snapshot, &wire.signature)
    }
}

impl Serialize for Card {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_wire().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Card {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire = CardWire::deserialize(d)?;
        Card::try_from(&wire).map_err(serde::de::Error::custom)
    }
}

/// Checks that `chain` (oldest first) is one identity's rotation history: every card
/// names the one before it as `previous_card_id` and none is older than its predecessor.
pub fn verify_chain(chain: &[Card]) -> Result<(), CardError> {
    let first = chain.first().ok_or(CardError::BrokenChain("empty chain"))?;
    for pair in chain.windows(2) {
        let [older, newer] = pair else { continue };
        if newer.identity() != first.identity() {
            return Err(CardError::BrokenChain(
                "cards belong to different identities",
            ));
        }
        if newer.content.previous_card_id != Some(older.id) {
            return Err(CardError::BrokenChain(
                "a card does not name its predecessor",
            ));
        }
        if newer.content.created_at < older.content.created_at {
            return Err(CardError::BrokenChain(
                "a card is older than its predecessor",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::RootSecret;

    fn keys(seed: u8) -> IdentityKeyPair {
        IdentityKeyPair::from_root_secret(RootSecret::from_bytes([seed; 32]))
    }

    const T: Timestamp = Timestamp(1_767_225_600);

    #[test]
    fn create_parse_round_trip() {
        let card = Card::create(&keys(1), Identity::new("alice").unwrap(), T, None).unwrap();
        let parsed = Card::from_parts(card.snapshot(), card.signature()).unwrap();
        assert_eq!(parsed, card);
        assert_eq!(Card::from_text(&card.to_text()).unwrap(), card);
        let json = serde_json::to_string(&card).unwrap();
        assert_eq!(serde_json::from_str::<Card>(&json).unwrap(), card);
    }

    #[test]
    fn identities_are_checked() {
        assert!(Identity::new("").is_err());
        assert!(Identity::new("a b").is_err());
        assert!(Identity::new("é").is_err());
        assert!(Identity::new("a".repeat(129)).is_err());
        assert!(Identity::new("alice@example.com").is_ok());
    }

    #[test]
    fn signature_by_another_key_is_rejected() {
        let card = Card::create(&keys(1), Identity::new("alice").unwrap(), T, None).unwrap();
        let other = Card::create(&keys(2), Identity::new("alice").unwrap(), T, None).unwrap();
        assert_eq!(
            Card::from_parts(card.snapshot(), other.signature()),
            Err(CardError::BadSignature)
        );
    }

    #[test]
    fn chain_links_are_checked() {
        let alice = Identity::new("alice").unwrap();
        let first = Card::create(&keys(1), alice.clone(), T, None).unwrap();
        let second = Card::create(&keys(2), alice.clone(), T.plus(10), Some(first.id())).unwrap();
        verify_chain(&[first.clone(), second.clone()]).unwrap();
        assert!(verify_chain(&[second.clone(), first.clone()]).is_err());
        let unlinked = Card::create(&keys(3), alice, T.plus(20), None).unwrap();
        assert!(verify_chain(&[first, unlinked]).is_err());
    }

    #[test]
    fn card_ids_round_trip_through_hex() {
        let card = Card::create(&keys(1), Identity::new("alice").unwrap(), T, None).unwrap();
        assert_eq!(CardId::from_hex(&card.id().to_hex()).unwrap(), card.id());
        assert!(CardId::from_hex("zz").is_err());
    }
}
