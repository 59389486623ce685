//! Shared pieces of tessera-format's fuzz targets: fixed identities, cards, app keys and
//! group epochs, the structure-aware envelope spec, and the mutations applied to valid
//! encodings.
//!
//! Every target takes a first "mode" byte: raw modes hand the rest of the input straight
//! to a parser (so libFuzzer's byte mutations and the seeds in `seeds/` act on real
//! encodings), structured modes decode it with `arbitrary`, build a valid encoding, mutate
//! it at fuzz-chosen positions and check what the parser must say about the result.

use std::sync::LazyLock;

use arbitrary::Arbitrary;
use tessera_format::{
    AppKey, Card, DecryptError, Identity, IdentityKeyPair, Recipient, RootSecret, Timestamp,
    TokenVerifier, Verified,
    envelope::{CHUNK_LENGTH, TRAILER_LENGTH},
    group::{EpochKey, GroupId, GroupKeys},
};

/// The fixed "now" of every target: 2026-01-01T00:00:00Z.
pub const NOW: Timestamp = Timestamp(1_767_225_600);
/// Seconds after [`NOW`] at which Alice rotated her key.
pub const ROTATION_AFTER: u64 = 3600;
/// The app id the token verifier accepts.
pub const ISSUER: &str = "app-1";
/// The audience the token verifier accepts: the default for [`ISSUER`].
pub const AUDIENCE: &str = "tessera:app-1";
/// Most mutations a structured input applies: a few, so the result stays near-valid.
pub const MAX_MUTATIONS: usize = 4;
/// The group of every group target, as its reader (Bob) knows it.
pub const GROUP_ID: &str = "team:fuzz";
/// Another valid group id.
pub const OTHER_GROUP_ID: &str = "team:other";
/// The epoch raw ticket blobs are read as stored at.
pub const STORED_EPOCH: u32 = 1;
/// Identities a fuzz-chosen participant list draws from.
pub const PARTICIPANTS: [&str; 4] = ["alice", "bob", "carol", "dave"];

/// An identity from a one-byte seed (deterministic).
pub fn keys(seed: u8) -> IdentityKeyPair {
    IdentityKeyPair::from_root_secret(RootSecret::from_bytes([seed; 32]))
}

/// Identities, cards and keys shared by all targets, derived once per process.
pub struct Fixtures {
    /// Alice's key before her rotation.
    pub alice_previous: IdentityKeyPair,
    /// Alice's current key.
    pub alice_current: IdentityKeyPair,
    /// Someone whose key is in no card of Alice's chain.
    pub stranger: IdentityKeyPair,
    /// The reader every envelope target decrypts as.
    pub bob: IdentityKeyPair,
    /// Other recipients an envelope may also address.
    pub others: Vec<Recipient>,
    /// Alice's chain, oldest first: the previous card, then the current one.
    pub alice_chain: [Card; 2],
    /// The app key the verifier accepts.
    pub app_key: AppKey,
    /// An app key the verifier does not know.
    pub stranger_app_key: AppKey,
    /// Verifier for [`ISSUER`] and [`AUDIENCE`] with `app_key` and the default leeway and
    /// lifetime.
    pub verifier: TokenVerifier,
    /// [`GROUP_ID`].
    pub group_id: GroupId,
    /// [`OTHER_GROUP_ID`].
    pub other_group_id: GroupId,
    /// Epochs of the group: 0 (alice, bob), 1 (bob, carol; Alice is not a participant)
    /// and 7 (alice, bob), whose secret Bob does not hold.
    pub group_epochs: [EpochKey; 3],
    /// What Bob holds: epochs 0 and 1.
    pub group_keys: GroupKeys,
}

fn epoch(number: u32, fill: u8, participants: &[&str]) -> EpochKey {
    EpochKey::from_parts(number, [fill; 32], participants.iter().copied())
        .expect("valid identities")
}

static FIXTURES: LazyLock<Fixtures> = LazyLock::new(|| {
    let alice_previous = keys(1);
    let alice_current = keys(4);
    let alice = Identity::new("alice").expect("valid identity");
    let previous_card =
        Card::create(&alice_previous, alice.clone(), NOW, None).expect("valid card");
    let current_card = Card::create(
        &alice_current,
        alice,
        NOW.plus(ROTATION_AFTER),
        Some(previous_card.id()),
    )
    .expect("valid card");
    let app_key = AppKey::from_seed([9; 32]);
    let verifier = TokenVerifier::new(ISSUER, AUDIENCE)
        .with_key(&app_key.public_key())
        .expect("valid app key");
    let group_epochs = [
        epoch(0, 0xE0, &["alice", "bob"]),
        epoch(1, 0xE1, &["bob", "carol"]),
        epoch(7, 0xE7, &["alice", "bob"]),
    ];
    let mut group_keys = GroupKeys::default();
    group_keys.insert(group_epochs[0].clone());
    group_keys.insert(group_epochs[1].clone());
    Fixtures {
        alice_previous,
        alice_current,
        stranger: keys(66),
        bob: keys(2),
        others: (100..108)
            .map(|seed| Recipient::from(keys(seed).public_keys()))
            .collect(),
        alice_chain: [previous_card, current_card],
        app_key,
        stranger_app_key: AppKey::from_seed([8; 32]),
        verifier,
        group_id: GroupId::new(GROUP_ID).expect("valid group id"),
        other_group_id: GroupId::new(OTHER_GROUP_ID).expect("valid group id"),
        group_epochs,
        group_keys,
    }
});

/// The shared fixtures.
pub fn fixtures() -> &'static Fixtures {
    &FIXTURES
}

/// Who signs a structured envelope, ticket or group message (checked against Alice's
/// chain).
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// Alice's current card: verifies.
    Current,
    /// Alice's previous card: verifies only with a `made_at` before the rotation.
    Previous,
    /// Not in the chain: `WrongSender`.
    Stranger,
}

impl Sender {
    /// The signer's keys.
    pub fn keys(self) -> &'static IdentityKeyPair {
        let f = fixtures();
        match self {
            Sender::Current => &f.alice_current,
            Sender::Previous => &f.alice_previous,
            Sender::Stranger => &f.stranger,
        }
    }

    /// What verifying this signer's signature with Alice's chain and `made_at` gives.
    pub fn expected(self, made_at: Option<Timestamp>) -> Result<Verified, DecryptError> {
        let [previous, current] = &fixtures().alice_chain;
        let card = match (self, made_at) {
            (Sender::Stranger, _) => return Err(DecryptError::WrongSender),
            (Sender::Current, _) => current,
            (Sender::Previous, Some(t)) if t < current.content().created_at => previous,
            (Sender::Previous, Some(_)) => {
                return Err(DecryptError::SignerKeyReplaced {
                    card_id: previous.id(),
                });
            }
            (Sender::Previous, None) => {
                return Err(DecryptError::SignedWithPreviousKey {
                    card_id: previous.id(),
                });
            }
        };
        Ok(Verified {
            signer: card.identity().clone(),
            signer_card_id: card.id(),
        })
    }
}

/// Recipients in header order: the first `others % 8` of the fixtures' other recipients,
/// with Bob inserted at `reader_position` (modulo their count plus one) unless `None`.
pub fn recipients(others: u8, reader_position: Option<u8>) -> Vec<Recipient> {
    let f = fixtures();
    let count = usize::from(others % 8).min(f.others.len());
    let mut recipients: Vec<Recipient> = f.others.iter().take(count).copied().collect();
    if let Some(position) = reader_position {
        let at = usize::from(position) % (recipients.len() + 1);
        recipients.insert(at, Recipient::from(f.bob.public_keys()));
    }
    recipients
}

/// The plaintext of a structured envelope.
#[derive(Arbitrary, Debug, Clone)]
pub enum Plaintext {
    /// Literal bytes from the fuzz input (short).
    Bytes(Vec<u8>),
    /// A filled buffer near a chunk boundary: `chunks` (0..=2) whole chunks, minus the
    /// trailer, plus `offset` (-128..=127), so the payload's last chunk and the trailer
    /// land on, just before or just after a 64 KiB boundary.
    NearChunkBoundary {
        /// The byte repeated.
        fill: u8,
        /// Whole chunks, taken modulo 3.
        chunks: u8,
        /// Distance from the boundary.
        offset: i8,
    },
}

impl Plaintext {
    /// The bytes.
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Plaintext::Bytes(bytes) => bytes.clone(),
            Plaintext::NearChunkBoundary {
                fill,
                chunks,
                offset,
            } => {
                let boundary = usize::from(chunks % 3) * CHUNK_LENGTH;
                let length = (boundary as i64 - TRAILER_LENGTH as i64 + i64::from(*offset)).max(0);
                vec![*fill; length as usize]
            }
        }
    }
}

/// A valid envelope, described by the fuzz input; every random value comes from it so the
/// target is deterministic.
#[derive(Arbitrary, Debug, Clone)]
pub struct EnvelopeSpec {
    /// What is encrypted.
    pub plaintext: Plaintext,
    /// Who signs.
    pub sender: Sender,
    /// How many other recipients (modulo 8) are addressed besides Bob.
    pub other_recipients: u8,
    /// Where Bob's stanza goes among them; `None`: Bob is not a recipient.
    pub reader_position: Option<u8>,
    /// The content key.
    pub content_key: [u8; 32],
    /// The payload nonce.
    pub payload_nonce: [u8; 16],
    /// The ephemeral X25519 secret.
    pub ephemeral_secret: [u8; 32],
}

impl EnvelopeSpec {
    /// The recipients in header order.
    pub fn recipients(&self) -> Vec<Recipient> {
        recipients(self.other_recipients, self.reader_position)
    }

    /// The signer's keys.
    pub fn signer(&self) -> &'static IdentityKeyPair {
        self.sender.keys()
    }

    /// Builds the envelope, or `None` when it has no recipient at all.
    #[cfg(fuzzing)]
    pub fn seal(&self, plaintext: &[u8]) -> Option<Vec<u8>> {
        let recipients = self.recipients();
        if recipients.is_empty() {
            return None;
        }
        let envelope = tessera_format::envelope::encrypt_message_with(
            self.signer(),
            &recipients,
            plaintext,
            self.content_key,
            self.payload_nonce,
            self.ephemeral_secret,
        )
        .expect("encryption to valid recipients cannot fail");
        Some(envelope)
    }

    /// What Bob must get from decrypting the unmodified envelope with Alice's chain.
    pub fn expected(
        &self,
        plaintext: &[u8],
        made_at: Option<Timestamp>,
    ) -> Result<(Vec<u8>, Verified), DecryptError> {
        if self.reader_position.is_none() {
            return Err(DecryptError::NotARecipient);
        }
        Ok((plaintext.to_vec(), self.sender.expected(made_at)?))
    }
}

/// `made_at` as the fuzz input gives it: absent, near the rotation, or any value.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum MadeAt {
    /// No creation time given.
    Unknown,
    /// Seconds relative to the rotation time (the interesting edge).
    NearRotation(i16),
    /// Any time.
    Any(u64),
}

impl MadeAt {
    /// The timestamp passed to the decryptor.
    pub fn timestamp(self) -> Option<Timestamp> {
        let rotation = NOW.plus(ROTATION_AFTER).0 as i64;
        match self {
            MadeAt::Unknown => None,
            MadeAt::NearRotation(delta) => Some(Timestamp((rotation + i64::from(delta)) as u64)),
            MadeAt::Any(t) => Some(Timestamp(t)),
        }
    }
}

/// One edit of an encoding at a fuzz-chosen position (taken modulo the current length).
#[derive(Arbitrary, Debug, Clone)]
pub enum Mutation {
    /// Flips one bit.
    FlipBit {
        /// Position.
        at: u32,
        /// Bit, modulo 8.
        bit: u8,
    },
    /// Overwrites one byte.
    SetByte {
        /// Position.
        at: u32,
        /// New value.
        value: u8,
    },
    /// Overwrites up to four bytes with a big-endian integer (counts, lengths, params).
    SetU32 {
        /// Position.
        at: u32,
        /// New value.
        value: u32,
    },
    /// Inserts bytes.
    Insert {
        /// Position.
        at: u32,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// Removes up to `length` bytes.
    Remove {
        /// Position.
        at: u32,
        /// How many.
        length: u16,
    },
    /// Cuts the encoding at a position.
    Truncate {
        /// Position.
        at: u32,
    },
    /// Copies a range over another one (reordered or duplicated chunks and stanzas).
    CopyWithin {
        /// Source position.
        from: u32,
        /// Destination position.
        to: u32,
        /// Length, clamped to what fits.
        length: u32,
    },
}

fn position(at: u32, length: usize) -> usize {
    at as usize % length.max(1)
}

/// Applies the first [`MAX_MUTATIONS`] mutations in order.
pub fn mutate(bytes: &mut Vec<u8>, mutations: &[Mutation]) {
    for mutation in mutations.iter().take(MAX_MUTATIONS) {
        let length = bytes.len();
        match mutation {
            Mutation::FlipBit { at, bit } => {
                if let Some(byte) = bytes.get_mut(position(*at, length)) {
                    *byte ^= 1 << (bit % 8);
                }
            }
            Mutation::SetByte { at, value } => {
                if let Some(byte) = bytes.get_mut(position(*at, length)) {
                    *byte = *value;
                }
            }
            Mutation::SetU32 { at, value } => {
                let start = position(*at, length);
                for (byte, new) in bytes.iter_mut().skip(start).zip(value.to_be_bytes()) {
                    *byte = new;
                }
            }
            Mutation::Insert { at, bytes: insert } => {
                let start = position(*at, length + 1);
                bytes.splice(start..start, insert.iter().copied());
            }
            Mutation::Remove { at, length: count } => {
                let start = position(*at, length);
                let end = start.saturating_add(usize::from(*count)).min(length);
                if start < end {
                    bytes.drain(start..end);
                }
            }
            Mutation::Truncate { at } => bytes.truncate(position(*at, length + 1)),
            Mutation::CopyWithin {
                from,
                to,
                length: count,
            } => {
                let (from, to) = (position(*from, length), position(*to, length));
                let count = (*count as usize).min(length - from.max(to));
                bytes.copy_within(from..from + count, to);
            }
        }
    }
}

/// Most pieces a structured input is split into.
pub const MAX_PIECES: usize = 16;

/// Splits `bytes` at the given lengths (each taken modulo what is left, plus one; at most
/// [`MAX_PIECES`]); the rest is the last piece.
pub fn split(bytes: &[u8], pieces: impl Iterator<Item = usize>) -> Vec<&[u8]> {
    let mut rest = bytes;
    let mut out = Vec::new();
    for length in pieces.take(MAX_PIECES) {
        let (piece, after) = rest.split_at(length % (rest.len() + 1));
        out.push(piece);
        rest = after;
    }
    out.push(rest);
    out
}
