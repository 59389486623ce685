//! Group conversations: epochs, tickets and group messages (docs/FORMAT.md §8).
//!
//! A group has an initiator, participants and numbered epochs. Each epoch has a random
//! 32-byte secret that the initiator distributes in a *ticket*: an envelope (§4) to the
//! epoch's participants, stored on the server. Group messages are encrypted with the
//! epoch secret through the same payload construction as envelopes, so their cost does
//! not depend on the group's size, and they are signed by the sender.
//!
//! This module is the cryptography and formats only; the client's group operations
//! (create, load, add, remove, …) build on it.

mod message;
pub(crate) mod ticket;

use std::{collections::BTreeMap, fmt, sync::Arc};

use thiserror::Error;
use zeroize::Zeroizing;

pub use message::{
    GroupDecryptor, GroupEncryptor, GroupMessageHeader, decrypt_group_message,
    encrypt_group_message,
};
pub use ticket::{MAX_PARTICIPANTS, open_ticket_blob, seal_ticket_blob};
#[cfg(any(test, fuzzing))]
#[doc(hidden)]
pub use {message::encrypt_group_message_with, ticket::seal_ticket_blob_with_randomness};

use crate::{
    card::{CardError, Identity},
    envelope::{DecryptError, EncryptError},
    random::{RandomnessUnavailable, random_array},
};

/// Longest group id, in bytes.
pub const MAX_GROUP_ID_LENGTH: usize = 128;

/// Why a group operation on formats failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum GroupError {
    /// The bytes are not a Tessera group message or ticket.
    #[error("malformed group data: {0}")]
    Malformed(&'static str),
    /// Written by a newer version of Tessera.
    #[error("group format version {0} is not supported; update Tessera")]
    UnsupportedVersion(u8),
    /// Group ids are 1–128 characters of `A–Z a–z 0–9 . _ : -`.
    #[error("invalid group id: {0}")]
    InvalidGroupId(&'static str),
    /// The message belongs to another group.
    #[error("the message belongs to another group")]
    WrongGroup,
    /// This device does not hold the secret of the message's epoch.
    #[error("unknown epoch {0}: update the group, or this user was not a participant then")]
    UnknownEpoch(u32),
    /// The signer was not a participant of the message's epoch.
    #[error("the sender was not a participant of this group at that epoch")]
    SenderNotParticipant,
    /// No envelope in the ticket is addressed to this user.
    #[error("this ticket is not addressed to this user")]
    NotInTicket,
    /// A ticket's content disagrees with where it is stored or who signed it.
    #[error("invalid ticket: {0}")]
    InvalidTicket(&'static str),
    /// Too many or too few participants.
    #[error("a group epoch needs 1 to {max} participants", max = MAX_PARTICIPANTS)]
    ParticipantCount,
    /// A participant identity is invalid.
    #[error(transparent)]
    Identity(#[from] CardError),
    /// Encryption failed.
    #[error(transparent)]
    Encrypt(#[from] EncryptError),
    /// Decryption or verification failed.
    #[error(transparent)]
    Decrypt(#[from] DecryptError),
}

impl GroupError {
    /// A stable snake_case name for this kind of failure (one of [`crate::ERROR_KINDS`]).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::UnsupportedVersion(_) => "unsupported_version",
            Self::InvalidGroupId(_) => "invalid_group_id",
            Self::WrongGroup => "wrong_group",
            Self::UnknownEpoch(_) => "group_epoch_unknown",
            Self::SenderNotParticipant => "sender_not_participant",
            Self::NotInTicket => "not_in_ticket",
            Self::InvalidTicket(_) => "invalid_ticket",
            Self::ParticipantCount => "participant_count",
            Self::Identity(e) => e.kind(),
            Self::Encrypt(e) => e.kind(),
            Self::Decrypt(e) => e.kind(),
        }
    }
}

impl From<RandomnessUnavailable> for GroupError {
    fn from(e: RandomnessUnavailable) -> Self {
        Self::Encrypt(EncryptError::Randomness(e))
    }
}

/// A group's name, chosen by the app: 1–128 characters of `A–Z a–z 0–9 . _ : -`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(String);

impl GroupId {
    /// Validates and wraps a group id.
    pub fn new(id: impl Into<String>) -> Result<Self, GroupError> {
        let id = id.into();
        if id.is_empty() || id.len() > MAX_GROUP_ID_LENGTH {
            return Err(GroupError::InvalidGroupId("must be 1 to 128 characters"));
        }
        if !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:".contains(&b))
        {
            return Err(GroupError::InvalidGroupId(
                "only A-Z a-z 0-9 . _ : - are allowed",
            ));
        }
        Ok(Self(id))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One epoch of a group: its number, secret and participants.
#[derive(Clone, PartialEq, Eq)]
pub struct EpochKey {
    /// Epoch number (0 for the group's first).
    pub epoch: u32,
    /// The epoch's 32-byte secret.
    pub secret: Zeroizing<[u8; 32]>,
    /// Who may read and write at this epoch.
    pub participants: Vec<Identity>,
}

impl EpochKey {
    /// A new epoch with a fresh secret.
    pub fn generate(epoch: u32, participants: Vec<Identity>) -> Result<Self, GroupError> {
        Ok(Self {
            epoch,
            secret: Zeroizing::new(random_array()?),
            participants,
        })
    }

    /// An epoch rebuilt from its parts (as stored or exported by an app); fails on an
    /// invalid participant identity.
    pub fn from_parts<S: Into<String>>(
        epoch: u32,
        secret: [u8; 32],
        participants: impl IntoIterator<Item = S>,
    ) -> Result<Self, CardError> {
        Ok(Self {
            epoch,
            secret: Zeroizing::new(secret),
            participants: participants
                .into_iter()
                .map(Identity::new)
                .collect::<Result<_, _>>()?,
        })
    }
}

impl fmt::Debug for EpochKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EpochKey")
            .field("epoch", &self.epoch)
            .field("participants", &self.participants.len())
            .finish_non_exhaustive()
    }
}

/// The epochs of one group that this device can read, by number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupKeys {
    /// Shared, so cloning the set (once per message) does not copy participant lists.
    epochs: BTreeMap<u32, Arc<EpochKey>>,
}

impl GroupKeys {
    /// Adds or replaces an epoch.
    pub fn insert(&mut self, key: EpochKey) {
        self.epochs.insert(key.epoch, Arc::new(key));
    }

    /// The epoch `epoch`, if known.
    pub fn get(&self, epoch: u32) -> Option<&EpochKey> {
        self.epochs.get(&epoch).map(Arc::as_ref)
    }

    /// The newest known epoch.
    pub fn latest(&self) -> Option<&EpochKey> {
        self.epochs.values().next_back().map(Arc::as_ref)
    }

    /// All known epochs, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &EpochKey> {
        self.epochs.values().map(Arc::as_ref)
    }

    /// The epoch `epoch`, shared.
    pub(crate) fn get_shared(&self, epoch: u32) -> Option<Arc<EpochKey>> {
        self.epochs.get(&epoch).cloned()
    }
}

#[cfg(test)]
mod tests;
