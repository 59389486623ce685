//! Group cryptography (docs/FORMAT.md §8) with explicit keys: epoch keys, ticket blobs and
//! group messages, wrapping `tessera_format::group`. For the shared test vectors and apps
//! that manage group keys themselves; the client's group operations (create, load, add,
//! remove…) are exported here once they exist in core's client.

use std::{sync::Arc, time::SystemTime};

use tessera_format::{
    Identity,
    group::{
        EpochKey as CoreEpochKey, GroupId, GroupKeys, GroupMessageHeader,
        decrypt_group_message as core_decrypt, encrypt_group_message as core_encrypt,
        open_ticket_blob as core_open_ticket_blob,
    },
};

use crate::{
    card::{Card, core_cards},
    envelope::Decrypted,
    error::CryptoError,
    keys::KeyPair,
    timestamp_of,
};

/// One epoch of a group: its number, 32-byte secret and participants. The secret is
/// key material: keep it in the key store, never log it.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct EpochKey {
    /// Epoch number (0 for the group's first).
    pub epoch: u32,
    /// The epoch's 32-byte secret.
    pub secret: Vec<u8>,
    /// Who may read and write at this epoch.
    pub participants: Vec<String>,
}

impl std::fmt::Debug for EpochKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EpochKey")
            .field("epoch", &self.epoch)
            .field("participants", &self.participants.len())
            .finish_non_exhaustive()
    }
}

impl From<CoreEpochKey> for EpochKey {
    fn from(key: CoreEpochKey) -> Self {
        Self {
            epoch: key.epoch,
            secret: key.secret.to_vec(),
            participants: key
                .participants
                .into_iter()
                .map(|identity| identity.as_str().to_owned())
                .collect(),
        }
    }
}

impl TryFrom<EpochKey> for CoreEpochKey {
    type Error = CryptoError;

    fn try_from(key: EpochKey) -> Result<Self, CryptoError> {
        let secret: [u8; 32] = key
            .secret
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::invalid_key("an epoch secret is 32 bytes"))?;
        Ok(Self::from_parts(key.epoch, secret, key.participants)?)
    }
}

/// A new epoch with a fresh random secret.
#[uniffi::export]
pub fn generate_epoch_key(epoch: u32, participants: Vec<String>) -> Result<EpochKey, CryptoError> {
    let participants = participants
        .into_iter()
        .map(Identity::new)
        .collect::<Result<_, _>>()?;
    Ok(CoreEpochKey::generate(epoch, participants)?.into())
}

/// Opens the envelopes of a ticket blob addressed to `reader`: the epochs it holds.
/// Checks that the initiator signed them, that they name `group_id`, and that the first
/// carries `stored_epoch`; `made_at` (the ticket's time) lets tickets signed before the
/// initiator's key rotation verify.
#[uniffi::export]
pub fn open_ticket_blob(
    blob: Vec<u8>,
    reader: Arc<KeyPair>,
    group_id: String,
    stored_epoch: u32,
    initiator_chain: Vec<Arc<Card>>,
    made_at: Option<SystemTime>,
) -> Result<Vec<EpochKey>, CryptoError> {
    let keys = core_open_ticket_blob(
        &blob,
        &reader.inner,
        &GroupId::new(group_id)?,
        stored_epoch,
        &core_cards(&initiator_chain),
        made_at.map(timestamp_of),
    )?;
    Ok(keys.into_iter().map(EpochKey::from).collect())
}

/// Signs `plaintext` as `sender` and encrypts it for the participants of `epoch`.
#[uniffi::export]
pub fn encrypt_group_message(
    sender: Arc<KeyPair>,
    group_id: String,
    epoch: EpochKey,
    plaintext: Vec<u8>,
) -> Result<Vec<u8>, CryptoError> {
    Ok(core_encrypt(
        &sender.inner,
        &GroupId::new(group_id)?,
        &epoch.try_into()?,
        &plaintext,
    )?)
}

/// Decrypts a group message with the known `epochs` and verifies that a participant of
/// its epoch signed it (`sender_chain`: the sender's cards, oldest first).
#[uniffi::export]
pub fn decrypt_group_message(
    group_id: String,
    epochs: Vec<EpochKey>,
    message: Vec<u8>,
    sender_chain: Vec<Arc<Card>>,
    made_at: Option<SystemTime>,
) -> Result<Decrypted, CryptoError> {
    let mut keys = GroupKeys::default();
    for epoch in epochs {
        keys.insert(epoch.try_into()?);
    }
    let (plaintext, verified) = core_decrypt(
        &GroupId::new(group_id)?,
        &keys,
        &message,
        &core_cards(&sender_chain),
        made_at.map(timestamp_of),
    )?;
    Ok(Decrypted::new(plaintext, verified))
}

/// The group and epoch a group message names in clear (to route it).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct GroupMessageInfo {
    /// The group id.
    pub group_id: String,
    /// The epoch whose secret encrypts the message.
    pub epoch: u32,
}

/// Reads a group message's clear header.
#[uniffi::export]
pub fn group_message_info(message: Vec<u8>) -> Result<GroupMessageInfo, CryptoError> {
    let header = GroupMessageHeader::parse(&message)?;
    Ok(GroupMessageInfo {
        group_id: header.group_id.as_str().to_owned(),
        epoch: header.epoch,
    })
}
