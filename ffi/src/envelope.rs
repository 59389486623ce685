//! Sign-then-encrypt envelopes (docs/FORMAT.md §4) with explicit keys: the one-shot core
//! calls, for the shared test vectors, cross-language checks and apps that manage keys
//! themselves. The client's `authEncrypt` / `authDecrypt` wrap the same calls.

use std::{sync::Arc, time::SystemTime};

use tessera_format::{
    Recipient, Verified,
    envelope::{decrypt_message as core_decrypt, encrypt_message as core_encrypt},
};

use crate::{
    card::{Card, core_cards},
    error::CryptoError,
    keys::KeyPair,
    timestamp_of,
};

/// A verified decryption: the plaintext and who signed it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Decrypted {
    /// The plaintext (for a stream's `finish`: the last piece).
    pub plaintext: Vec<u8>,
    /// The identity that signed.
    pub signer: String,
    /// The id of the card whose key signed (hex).
    pub signer_card_id: String,
}

impl Decrypted {
    pub(crate) fn new(plaintext: Vec<u8>, verified: Verified) -> Self {
        Self {
            plaintext,
            signer: verified.signer.as_str().to_owned(),
            signer_card_id: verified.signer_card_id.to_hex(),
        }
    }
}

/// Signs `plaintext` as `sender` and encrypts it to the keys of `recipients` (include the
/// sender's own card to be able to read it back).
#[uniffi::export]
pub fn encrypt_message(
    sender: Arc<KeyPair>,
    recipients: Vec<Arc<Card>>,
    plaintext: Vec<u8>,
) -> Result<Vec<u8>, CryptoError> {
    let recipients: Vec<Recipient> = recipients
        .iter()
        .map(|card| Recipient::from(&card.inner))
        .collect();
    Ok(core_encrypt(&sender.inner, &recipients, &plaintext)?)
}

/// Decrypts `envelope` as `recipient` and verifies the signature against the sender's card
/// chain (oldest first, current last). `made_at` lets data signed before the sender's key
/// rotation verify against an earlier card.
#[uniffi::export]
pub fn decrypt_message(
    recipient: Arc<KeyPair>,
    envelope: Vec<u8>,
    sender_chain: Vec<Arc<Card>>,
    made_at: Option<SystemTime>,
) -> Result<Decrypted, CryptoError> {
    let (plaintext, verified) = core_decrypt(
        &recipient.inner,
        &envelope,
        &core_cards(&sender_chain),
        made_at.map(timestamp_of),
    )?;
    Ok(Decrypted::new(plaintext, verified))
}
