//! The platform seams Kotlin and Swift implement, as UniFFI foreign traits (the way
//! matrix-rust-sdk exports `ClientSessionDelegate`): [`KeyStore`], [`TokenProvider`],
//! [`KeyChangedListener`] and the streams' [`ProgressListener`]. Every method returns a
//! `Result` whose error, [`PlatformError`], also absorbs any other exception the foreign
//! code throws, so nothing foreign unwinds into Rust.
//!
//! The contracts are core's (docs/CLIENT.md "Platform contracts"); the adapters below only
//! forward calls. [`in_memory_key_store`] exports core's `InMemoryKeyStore` for tests and
//! ephemeral sessions.

use std::{fmt, sync::Arc};

use tessera_client::{self as core, PlatformError as CorePlatformError, Progress as CoreProgress};

use tessera_format::Identity;

use crate::error::PlatformError;

/// Secure storage of named secret byte strings (Keychain, Android Keystore-wrapped files,
/// an encrypted file…). Contract: `get` of a missing name returns null / nil; `delete` of a
/// missing name succeeds; `put` replaces atomically; values are secret and never logged.
#[uniffi::export(with_foreign)]
#[async_trait::async_trait]
pub trait KeyStore: Send + Sync {
    /// The value stored under `name`, if any.
    async fn get(&self, name: String) -> Result<Option<Vec<u8>>, PlatformError>;
    /// Stores `value` under `name`, replacing any previous value.
    async fn put(&self, name: String, value: Vec<u8>) -> Result<(), PlatformError>;
    /// Removes `name`; succeeds when it does not exist.
    async fn delete(&self, name: String) -> Result<(), PlatformError>;
}

/// Supplies access tokens: a fresh JWT for the signed-in user from the app's backend. Its
/// `sub` is the user's identity. Called when no cached token is usable and after the
/// server rejected one.
#[uniffi::export(with_foreign)]
#[async_trait::async_trait]
pub trait TokenProvider: Send + Sync {
    /// A fresh token for the current user.
    async fn token(&self) -> Result<String, PlatformError>;
}

/// Told when a cached user's card changed on the server (rotation, unregistration), from
/// `updateCachedUsers` and `findUsers`. Errors are ignored (the cache is updated already).
#[uniffi::export(with_foreign)]
pub trait KeyChangedListener: Send + Sync {
    /// `identity`'s card changed.
    fn key_changed(&self, identity: String) -> Result<(), PlatformError>;
}

/// How far a stream has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct Progress {
    /// Input bytes processed so far.
    pub processed_bytes: u64,
    /// The total announced in `StreamOptions.totalBytes`, if any.
    pub total_bytes: Option<u64>,
}

impl From<CoreProgress> for Progress {
    fn from(progress: CoreProgress) -> Self {
        Self {
            processed_bytes: progress.processed_bytes,
            total_bytes: progress.total_bytes,
        }
    }
}

/// Receives a stream's progress after each piece (on the thread that called `update`).
/// Errors are ignored.
#[uniffi::export(with_foreign)]
pub trait ProgressListener: Send + Sync {
    /// Called after each piece of input is processed.
    fn on_progress(&self, progress: Progress) -> Result<(), PlatformError>;
}

/// A foreign key store as core's [`core::KeyStore`].
pub(crate) struct KeyStoreAdapter(pub(crate) Arc<dyn KeyStore>);

#[async_trait::async_trait]
impl core::KeyStore for KeyStoreAdapter {
    async fn get(&self, name: &str) -> Result<Option<Vec<u8>>, CorePlatformError> {
        Ok(self.0.get(name.to_owned()).await?)
    }

    async fn put(&self, name: &str, value: &[u8]) -> Result<(), CorePlatformError> {
        Ok(self.0.put(name.to_owned(), value.to_vec()).await?)
    }

    async fn delete(&self, name: &str) -> Result<(), CorePlatformError> {
        Ok(self.0.delete(name.to_owned()).await?)
    }
}

/// A foreign token provider as core's [`core::TokenProvider`].
pub(crate) struct TokenProviderAdapter(pub(crate) Arc<dyn TokenProvider>);

#[async_trait::async_trait]
impl core::TokenProvider for TokenProviderAdapter {
    async fn token(&self) -> Result<String, CorePlatformError> {
        Ok(self.0.token().await?)
    }
}

/// A foreign listener as core's [`core::KeyChangedListener`].
pub(crate) struct KeyChangedAdapter(pub(crate) Arc<dyn KeyChangedListener>);

impl core::KeyChangedListener for KeyChangedAdapter {
    fn key_changed(&self, identity: &Identity) -> Result<(), CorePlatformError> {
        Ok(self.0.key_changed(identity.as_str().to_owned())?)
    }
}

/// Core's [`core::InMemoryKeyStore`]: values zeroized on drop, gone when the app exits.
struct InMemoryKeyStore(core::InMemoryKeyStore);

impl fmt::Debug for InMemoryKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

fn platform_error(error: CorePlatformError) -> PlatformError {
    PlatformError::Failed {
        reason: error.message,
    }
}

#[async_trait::async_trait]
impl KeyStore for InMemoryKeyStore {
    async fn get(&self, name: String) -> Result<Option<Vec<u8>>, PlatformError> {
        core::KeyStore::get(&self.0, &name)
            .await
            .map_err(platform_error)
    }

    async fn put(&self, name: String, value: Vec<u8>) -> Result<(), PlatformError> {
        core::KeyStore::put(&self.0, &name, &value)
            .await
            .map_err(platform_error)
    }

    async fn delete(&self, name: String) -> Result<(), PlatformError> {
        core::KeyStore::delete(&self.0, &name)
            .await
            .map_err(platform_error)
    }
}

/// A key store in memory (tests, sessions that keep nothing between launches).
#[uniffi::export]
pub fn in_memory_key_store() -> Arc<dyn KeyStore> {
    Arc::new(InMemoryKeyStore(core::InMemoryKeyStore::new()))
}
