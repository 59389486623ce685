//! The client's groups (docs/CLIENT.md "Groups"): [`Group`] over `tessera_client::Group`,
//! created and loaded through [`crate::client::Tessera`]. Group cryptography with explicit
//! keys is in [`crate::group`].

use std::{
    sync::{Arc, Mutex},
    time::SystemTime,
};

use tessera_client::Group as CoreGroup;

use tessera_format::group::GroupEncryptor;

use crate::{
    card::{Card, FoundUsers},
    error::TesseraError,
    timestamp_of,
};

type Result<T> = std::result::Result<T, TesseraError>;

/// An end-to-end encrypted group conversation. Membership changes (add, remove, re-add)
/// are for the initiator; every participant encrypts and decrypts.
#[derive(Debug, uniffi::Object)]
pub struct Group {
    inner: CoreGroup,
}

impl Group {
    pub(crate) fn wrap(inner: CoreGroup) -> Arc<Self> {
        Arc::new(Self { inner })
    }
}

fn identities(names: Vec<tessera_format::Identity>) -> Vec<String> {
    names
        .into_iter()
        .map(|identity| identity.as_str().to_owned())
        .collect()
}

#[uniffi::export(async_runtime = "tokio")]
impl Group {
    /// The group id.
    pub fn id(&self) -> Result<String> {
        Ok(self.inner.id()?)
    }

    /// The initiator's identity.
    pub fn initiator(&self) -> Result<String> {
        Ok(self.inner.initiator()?.as_str().to_owned())
    }

    /// The participants of the current epoch.
    pub fn participants(&self) -> Result<Vec<String>> {
        Ok(identities(self.inner.participants()?))
    }

    /// The current epoch number.
    pub fn epoch(&self) -> Result<u32> {
        Ok(self.inner.epoch()?)
    }

    /// Encrypts `data` for the current participants, signed by the user.
    pub async fn encrypt(&self, data: Vec<u8>) -> Result<Vec<u8>> {
        Ok(self.inner.encrypt(&data).await?)
    }

    /// Starts encrypting data of any size for the current participants.
    pub fn encrypt_stream(&self) -> Result<Arc<GroupEncryptStream>> {
        Ok(Arc::new(GroupEncryptStream {
            inner: Mutex::new(Some(self.inner.encryptor()?)),
        }))
    }

    /// Decrypts a group message and verifies that `sender` signed it and was a participant
    /// of its epoch (fetching new epochs once when needed). `made_at` as for `authDecrypt`.
    pub async fn decrypt(
        &self,
        data: Vec<u8>,
        sender: Arc<Card>,
        made_at: Option<SystemTime>,
    ) -> Result<Vec<u8>> {
        Ok(self
            .inner
            .decrypt(&data, &sender.inner, made_at.map(timestamp_of))
            .await?)
    }

    /// Fetches epochs added since this device last looked.
    pub async fn update(&self) -> Result<()> {
        Ok(self.inner.update().await?)
    }

    /// Adds participants (initiator only); with `share_history` they can also read what
    /// was sent before they joined.
    pub async fn add(&self, participants: Arc<FoundUsers>, share_history: bool) -> Result<()> {
        Ok(self.inner.add(&participants.inner, share_history).await?)
    }

    /// Removes participants (initiator only): they cannot read anything sent afterwards.
    pub async fn remove(&self, identities: Vec<String>) -> Result<()> {
        Ok(self.inner.remove(&identities).await?)
    }

    /// Gives a participant who rotated their key access again (initiator only).
    pub async fn re_add(&self, participant: Arc<Card>) -> Result<()> {
        Ok(self.inner.re_add(&participant.inner).await?)
    }
}

/// Encrypts data of any size for a group: `update` with pieces, then `finish` once.
#[derive(Debug, uniffi::Object)]
pub struct GroupEncryptStream {
    inner: Mutex<Option<GroupEncryptor>>,
}

fn finished() -> TesseraError {
    tessera_client::Error::InvalidState.into()
}

fn poisoned() -> TesseraError {
    TesseraError::Internal {
        reason: "the stream's lock is poisoned".to_owned(),
    }
}

#[uniffi::export]
impl GroupEncryptStream {
    /// Encrypts the next piece; returns the ciphertext ready so far.
    pub fn update(&self, data: Vec<u8>) -> Result<Vec<u8>> {
        let mut guard = self.inner.lock().map_err(|_| poisoned())?;
        let stream = guard.as_mut().ok_or_else(finished)?;
        let mut out = Vec::new();
        stream
            .update(&data, &mut out)
            .map_err(tessera_client::Error::from)?;
        Ok(out)
    }

    /// Signs and returns the rest of the message. The stream cannot be used afterwards.
    pub fn finish(&self) -> Result<Vec<u8>> {
        let stream = self
            .inner
            .lock()
            .map_err(|_| poisoned())?
            .take()
            .ok_or_else(finished)?;
        let mut out = Vec::new();
        stream
            .finish(&mut out)
            .map_err(tessera_client::Error::from)?;
        Ok(out)
    }
}
