//! The message envelope: sign-then-encrypt to many recipients with one shared ephemeral
//! key, and the matching decrypt-then-verify (docs/FORMAT.md §4).
//!
//! [`encrypt_message`] / [`decrypt_message`] handle data in memory; [`Encryptor`] /
//! [`Decryptor`] handle streams of any size in constant memory. Both produce and read the
//! same bytes.

#[cfg(not(target_arch = "wasm32"))]
mod chunk_worker;
pub(crate) mod header;
pub(crate) mod stream;

use thiserror::Error;

pub use header::{MAX_HEADER_LENGTH, MAX_RECIPIENTS, MAX_STANZAS_TRIED, X25519_STANZA_LENGTH};
pub use stream::{CHUNK_LENGTH, Decryptor, Encryptor, TRAILER_LENGTH};

use crate::{
    card::{Card, CardError, CardId, Identity},
    keys::{IdentityKeyPair, PublicKeys},
    random::RandomnessUnavailable,
    time::Timestamp,
};

/// Someone an envelope is encrypted to: the public key pair of their card. The content key
/// is wrapped to the X25519 key and bound to the Ed25519 key as well (docs/FORMAT.md §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recipient {
    pub(crate) keys: PublicKeys,
}

impl From<&PublicKeys> for Recipient {
    fn from(keys: &PublicKeys) -> Self {
        Self { keys: *keys }
    }
}

impl From<&Card> for Recipient {
    fn from(card: &Card) -> Self {
        Self::from(card.public_keys())
    }
}

/// What an envelope or group message is for. The purpose is bound into the header, the
/// payload key and the signature, so bytes made for one purpose never decrypt or verify as
/// another (docs/FORMAT.md §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Application data: messages and files, one-shot or streamed.
    Data,
    /// A group ticket: epoch secrets from a group's initiator (§8.2).
    GroupTicket,
    /// A message to a group under an epoch secret (§8.3); never an envelope.
    GroupMessage,
}

impl Purpose {
    /// The purpose's name, also its label in key derivation and signatures.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Data => "data",
            Self::GroupTicket => "group-ticket",
            Self::GroupMessage => "group-message",
        }
    }

    pub(crate) fn header_byte(self) -> u8 {
        match self {
            Self::Data => 1,
            Self::GroupTicket => 2,
            Self::GroupMessage => 3,
        }
    }

    /// The purpose an envelope header names (group messages have a format of their own).
    pub(crate) fn from_header_byte(byte: u8) -> Option<Self> {
        match byte {
            1 => Some(Self::Data),
            2 => Some(Self::GroupTicket),
            _ => None,
        }
    }
}

/// What a successful decrypt-then-verify proves: who signed it, with which card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The sender's identity.
    pub signer: Identity,
    /// The card whose key made the signature.
    pub signer_card_id: CardId,
}

/// Why encryption failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum EncryptError {
    /// An envelope needs at least one recipient.
    #[error("no recipients given")]
    NoRecipients,
    /// More than [`MAX_RECIPIENTS`] distinct recipients.
    #[error("{0} recipients is more than the {max} one envelope supports", max = MAX_RECIPIENTS)]
    TooManyRecipients(usize),
    /// A recipient's key is of small order (cannot be a real key).
    #[error("a recipient's encryption key is invalid")]
    InvalidRecipientKey,
    /// The data exceeds the format's chunk counter.
    #[error("data too large for one envelope")]
    TooLarge,
    /// The platform's random number generator failed.
    #[error(transparent)]
    Randomness(#[from] RandomnessUnavailable),
    /// A fault inside Tessera, not caused by the input (a bug to report).
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl EncryptError {
    /// A stable snake_case name for this kind of failure (one of [`crate::ERROR_KINDS`]).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NoRecipients
            | Self::TooManyRecipients(_)
            | Self::InvalidRecipientKey
            | Self::TooLarge => "invalid_input",
            Self::Randomness(_) => "randomness_unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

/// Why decryption or verification failed. Failures of the ciphertext itself are
/// deliberately one opaque variant, [`DecryptError::DecryptionFailed`].
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DecryptError {
    /// The header is not a Tessera envelope.
    #[error("malformed envelope: {0}")]
    Malformed(&'static str),
    /// The envelope was made by a newer version of Tessera.
    #[error("envelope version {0} is not supported; update Tessera")]
    UnsupportedVersion(u8),
    /// The envelope ends before its header or payload is complete.
    #[error("the envelope is truncated")]
    Truncated,
    /// The envelope was made for another purpose (a group ticket read as a message, …).
    #[error("this envelope is a {found} envelope, not {expected}")]
    WrongPurpose {
        /// The purpose the reader expected.
        expected: &'static str,
        /// The purpose the header names.
        found: &'static str,
    },
    /// The envelope is not encrypted to this key.
    #[error("this message was not encrypted for this user's current key")]
    NotARecipient,
    /// The ciphertext was modified, truncated, reordered or extended.
    #[error("decryption failed: the data is damaged or was tampered with")]
    DecryptionFailed,
    /// The message was signed by a key not in the sender cards given.
    #[error("the message was not signed by the expected sender")]
    WrongSender,
    /// The signature does not match the content.
    #[error("the sender's signature is invalid")]
    SignatureInvalid,
    /// Signed by an earlier card of the sender's chain, and no creation time was given.
    #[error(
        "the message is signed with the sender's previous key ({card_id}); pass the time the \
         data was created to verify messages from before the sender's key rotation"
    )]
    SignedWithPreviousKey {
        /// The earlier card whose key signed.
        card_id: CardId,
    },
    /// Signed by an earlier card, but the data claims to be made after it was replaced.
    #[error("the message is signed with a key the sender had already replaced ({card_id})")]
    SignerKeyReplaced {
        /// The earlier card whose key signed.
        card_id: CardId,
    },
    /// The sender cards given do not form a valid rotation chain.
    #[error("the sender's cards are invalid: {0}")]
    InvalidSenderCards(CardError),
    /// A fault inside Tessera, not caused by the input (a bug to report).
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl DecryptError {
    /// A stable snake_case name for this kind of failure (one of [`crate::ERROR_KINDS`];
    /// used by the test vectors).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::UnsupportedVersion(_) => "unsupported_version",
            Self::Truncated => "truncated",
            Self::WrongPurpose { .. } => "wrong_purpose",
            Self::NotARecipient => "not_a_recipient",
            Self::DecryptionFailed => "decryption_failed",
            Self::WrongSender => "wrong_sender",
            Self::SignatureInvalid => "signature_invalid",
            Self::SignedWithPreviousKey { .. } => "made_at_required",
            Self::SignerKeyReplaced { .. } => "signer_key_replaced",
            Self::InvalidSenderCards(_) => "invalid_sender_cards",
            Self::Internal(_) => "internal",
        }
    }
}

/// Signs `plaintext` as `sender` and encrypts it to `recipients` in one call.
pub fn encrypt_message(
    sender: &IdentityKeyPair,
    recipients: &[Recipient],
    plaintext: &[u8],
) -> Result<Vec<u8>, EncryptError> {
    encrypt_for(Purpose::Data, sender, recipients, plaintext)
}

pub(crate) fn encrypt_for(
    purpose: Purpose,
    sender: &IdentityKeyPair,
    recipients: &[Recipient],
    plaintext: &[u8],
) -> Result<Vec<u8>, EncryptError> {
    let encryptor = Encryptor::for_purpose(purpose, sender, recipients)?;
    seal_all(encryptor, recipients.len(), plaintext)
}

fn seal_all(
    mut encryptor: Encryptor,
    recipient_count: usize,
    plaintext: &[u8],
) -> Result<Vec<u8>, EncryptError> {
    let chunks = plaintext.len() / CHUNK_LENGTH + 1;
    let mut out = Vec::with_capacity(
        80 + recipient_count * X25519_STANZA_LENGTH
            + plaintext.len()
            + TRAILER_LENGTH
            + chunks * 16,
    );
    encryptor.update(plaintext, &mut out)?;
    encryptor.finish(&mut out)?;
    Ok(out)
}

/// Decrypts an envelope and verifies the sender's signature in one call; plaintext is
/// returned only when both succeed. See [`Decryptor::finish`] for `sender_chain` and
/// `made_at`.
pub fn decrypt_message(
    recipient: &IdentityKeyPair,
    envelope: &[u8],
    sender_chain: &[Card],
    made_at: Option<Timestamp>,
) -> Result<(Vec<u8>, Verified), DecryptError> {
    decrypt_for(Purpose::Data, recipient, envelope, sender_chain, made_at)
}

pub(crate) fn decrypt_for(
    purpose: Purpose,
    recipient: &IdentityKeyPair,
    envelope: &[u8],
    sender_chain: &[Card],
    made_at: Option<Timestamp>,
) -> Result<(Vec<u8>, Verified), DecryptError> {
    let mut decryptor = Decryptor::for_purpose(purpose, recipient);
    let mut plaintext = Vec::with_capacity(envelope.len());
    decryptor.update(envelope, &mut plaintext)?;
    let verified = decryptor.finish(&mut plaintext, sender_chain, made_at)?;
    Ok((plaintext, verified))
}

/// Deterministic encryption for test vectors and fuzz targets: every random value given
/// explicitly. Compiled only for tests and under `cfg(fuzzing)` (set by cargo-fuzz), never
/// into a release build: reusing randomness across messages breaks the envelope.
#[cfg(any(test, fuzzing))]
#[doc(hidden)]
pub fn encrypt_message_with(
    sender: &IdentityKeyPair,
    recipients: &[Recipient],
    plaintext: &[u8],
    content_key: [u8; 32],
    payload_nonce: [u8; 16],
    ephemeral_secret: [u8; 32],
) -> Result<Vec<u8>, EncryptError> {
    encrypt_with(
        Purpose::Data,
        sender,
        recipients,
        plaintext,
        content_key,
        payload_nonce,
        ephemeral_secret,
    )
}

/// [`encrypt_message_with`] for any purpose.
#[cfg(any(test, fuzzing))]
pub(crate) fn encrypt_with(
    purpose: Purpose,
    sender: &IdentityKeyPair,
    recipients: &[Recipient],
    plaintext: &[u8],
    content_key: [u8; 32],
    payload_nonce: [u8; 16],
    ephemeral_secret: [u8; 32],
) -> Result<Vec<u8>, EncryptError> {
    let randomness = stream::Randomness {
        content_key: zeroize::Zeroizing::new(content_key),
        payload_nonce,
        ephemeral_secret: zeroize::Zeroizing::new(ephemeral_secret),
    };
    let encryptor = Encryptor::with_randomness(purpose, sender, recipients, randomness)?;
    seal_all(encryptor, recipients.len(), plaintext)
}

#[cfg(test)]
mod tests;
