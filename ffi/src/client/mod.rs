//! The device client: [`Tessera`] over `tessera_client::Tessera` (docs/CLIENT.md).
//! Async methods become Kotlin `suspend` functions and Swift `async` ones; they run on
//! UniFFI's tokio support because core's default HTTP transport (reqwest) needs a tokio
//! runtime natively. Core itself stays runtime-agnostic.
//!
//! Concerns: [`platform`] (the traits Kotlin and Swift implement), [`group`]
//! ([`group::Group`]), [`streams`] (large data in pieces with progress and cancellation).

pub mod group;
pub mod platform;
pub mod streams;

use std::{sync::Arc, time::SystemTime};

use tessera_client::{Config, Tessera as CoreTessera};

use self::{
    group::Group,
    platform::{
        KeyChangedAdapter, KeyChangedListener, KeyStore, KeyStoreAdapter, TokenProvider,
        TokenProviderAdapter,
    },
    streams::{DecryptStream, EncryptStream, StreamOptions},
};
use crate::{
    card::{Card, FoundUsers},
    error::TesseraError,
    timestamp_of,
};

/// What a [`Tessera`] instance is created from.
#[derive(uniffi::Record)]
pub struct TesseraConfig {
    /// The Tessera server, `https://…` (`http://` only for development).
    pub server_url: String,
    /// Where the private key and the card cache live on this device.
    pub key_store: Arc<dyn KeyStore>,
    /// Fresh JWTs for the signed-in user from the app's backend.
    pub token_provider: Arc<dyn TokenProvider>,
    /// Told when a cached user's card changed.
    #[uniffi(default)]
    pub key_changed_listener: Option<Arc<dyn KeyChangedListener>>,
    /// The user's identity when known: `initialize` then works offline (no token fetched).
    #[uniffi(default)]
    pub identity: Option<String>,
}

/// The end-to-end encryption client of one user on one device (E3Kit's `EThree`). Safe to
/// use from several coroutines / tasks at once.
#[derive(Debug, uniffi::Object)]
pub struct Tessera {
    inner: CoreTessera,
}

type Result<T> = std::result::Result<T, TesseraError>;

#[uniffi::export(async_runtime = "tokio")]
impl Tessera {
    /// Creates the client: asks the token provider for a token to learn the identity
    /// (unless `config.identity` is given) and loads the key and own card from the key
    /// store.
    #[uniffi::constructor]
    pub async fn initialize(config: TesseraConfig) -> Result<Arc<Self>> {
        let mut core_config = Config::new(
            config.server_url,
            Arc::new(KeyStoreAdapter(config.key_store)),
            Arc::new(TokenProviderAdapter(config.token_provider)),
        );
        if let Some(listener) = config.key_changed_listener {
            core_config =
                core_config.with_key_changed_listener(Arc::new(KeyChangedAdapter(listener)));
        }
        if let Some(identity) = config.identity {
            core_config = core_config.with_identity(identity);
        }
        Ok(Arc::new(Self {
            inner: CoreTessera::initialize(core_config).await?,
        }))
    }

    /// The user's identity (the token subject).
    pub fn identity(&self) -> String {
        self.inner.identity().as_str().to_owned()
    }

    /// The user's own current card, when this device has the key and knows the card.
    pub fn own_card(&self) -> Option<Arc<Card>> {
        self.inner.own_card().map(Card::wrap)
    }

    /// Whether this device holds the user's private key.
    pub fn has_local_private_key(&self) -> bool {
        self.inner.has_local_private_key()
    }

    /// Generates a key, publishes its card and stores the key (first device of a user).
    /// `AlreadyRegistered` when the identity has an active card; `PrivateKeyAlreadyExists`
    /// when this device has a key.
    pub async fn register(&self) -> Result<Arc<Card>> {
        Ok(Card::wrap(self.inner.register().await?))
    }

    /// Replaces a lost key: a new card naming the current one as its predecessor.
    pub async fn rotate_private_key(&self) -> Result<Arc<Card>> {
        Ok(Card::wrap(self.inner.rotate_private_key().await?))
    }

    /// Revokes the active card and deletes the key from this device.
    pub async fn unregister(&self) -> Result<()> {
        Ok(self.inner.unregister().await?)
    }

    /// Deletes everything Tessera stored for this user on this device (key, own card,
    /// card cache). No network.
    pub async fn cleanup(&self) -> Result<()> {
        Ok(self.inner.cleanup().await?)
    }

    /// Stores the key, sealed with `password` (Argon2id), on the server.
    pub async fn backup_private_key(&self, password: String) -> Result<()> {
        Ok(self.inner.backup_private_key(&password).await?)
    }

    /// Fetches the backup and stores the key it holds on this device.
    pub async fn restore_private_key(&self, password: String) -> Result<()> {
        Ok(self.inner.restore_private_key(&password).await?)
    }

    /// Re-seals the backup with a new password (`Conflict` if changed concurrently).
    pub async fn change_password(&self, old_password: String, new_password: String) -> Result<()> {
        Ok(self
            .inner
            .change_password(&old_password, &new_password)
            .await?)
    }

    /// Deletes the key backup from the server.
    pub async fn reset_private_key_backup(&self) -> Result<()> {
        Ok(self.inner.reset_private_key_backup().await?)
    }

    /// Looks users up (batches of 1000), verifies and caches their cards;
    /// `UsersNotFound` names every identity without an active card.
    pub async fn find_users(&self, identities: Vec<String>) -> Result<Arc<FoundUsers>> {
        Ok(FoundUsers::wrap(self.inner.find_users(&identities).await?))
    }

    /// The cached cards of users found earlier (no network).
    pub async fn find_cached_users(&self, identities: Vec<String>) -> Result<Arc<FoundUsers>> {
        Ok(FoundUsers::wrap(
            self.inner.find_cached_users(&identities).await?,
        ))
    }

    /// Re-checks every cached card against the directory; returns the identities whose
    /// card changed (the key-changed listener is told too).
    pub async fn update_cached_users(&self) -> Result<Vec<String>> {
        Ok(self
            .inner
            .update_cached_users()
            .await?
            .into_iter()
            .map(|identity| identity.as_str().to_owned())
            .collect())
    }

    /// Signs `data` and encrypts it to `recipients` and to the user (works offline).
    pub async fn auth_encrypt(
        &self,
        data: Vec<u8>,
        recipients: Arc<FoundUsers>,
    ) -> Result<Vec<u8>> {
        Ok(self.inner.auth_encrypt(&data, &recipients.inner).await?)
    }

    /// Decrypts `data` and verifies that `sender` (or, with `made_at` before their key
    /// rotation, an earlier card of theirs) signed it; null / nil `sender`: the user.
    pub async fn auth_decrypt(
        &self,
        data: Vec<u8>,
        sender: Option<Arc<Card>>,
        made_at: Option<SystemTime>,
    ) -> Result<Vec<u8>> {
        let sender = self
            .inner
            .sender_or_self(sender.as_deref().map(|c| &c.inner))?;
        Ok(self
            .inner
            .auth_decrypt(&data, &sender, made_at.map(timestamp_of))
            .await?)
    }

    /// Starts encrypting data of any size to `recipients` and the user.
    pub async fn encrypt_stream(
        &self,
        recipients: Arc<FoundUsers>,
        options: StreamOptions,
    ) -> Result<Arc<EncryptStream>> {
        Ok(EncryptStream::wrap(
            self.inner
                .encrypt_stream(&recipients.inner, options.into())
                .await?,
        ))
    }

    /// Starts decrypting data of any size from `sender` (null / nil: the user).
    pub async fn decrypt_stream(
        &self,
        sender: Option<Arc<Card>>,
        made_at: Option<SystemTime>,
        options: StreamOptions,
    ) -> Result<Arc<DecryptStream>> {
        let sender = self
            .inner
            .sender_or_self(sender.as_deref().map(|c| &c.inner))?;
        Ok(DecryptStream::wrap(
            self.inner
                .decrypt_stream(&sender, made_at.map(timestamp_of), options.into())
                .await?,
        ))
    }

    /// The 60-digit safety number of the user and `other`, the same on both sides.
    pub async fn safety_number(&self, other: Arc<Card>) -> Result<String> {
        Ok(self.inner.safety_number(&other.inner).await?)
    }

    /// Creates a group with the user as initiator and participant, and `participants`
    /// (from `findUsers`); `GroupAlreadyExists` when the id is taken.
    pub async fn create_group(
        &self,
        group_id: String,
        participants: Arc<FoundUsers>,
    ) -> Result<Arc<Group>> {
        Ok(Group::wrap(
            self.inner
                .create_group(&group_id, &participants.inner)
                .await?,
        ))
    }

    /// Loads a group another user created, given the initiator's card.
    pub async fn load_group(&self, group_id: String, initiator: Arc<Card>) -> Result<Arc<Group>> {
        Ok(Group::wrap(
            self.inner.load_group(&group_id, &initiator.inner).await?,
        ))
    }

    /// The group as this device last saw it (no network); null / nil when unknown here.
    pub async fn get_group(&self, group_id: String) -> Result<Option<Arc<Group>>> {
        Ok(self.inner.get_group(&group_id).await?.map(Group::wrap))
    }

    /// Deletes a group on the server (initiator only) and forgets it on this device.
    pub async fn delete_group(&self, group_id: String) -> Result<()> {
        Ok(self.inner.delete_group(&group_id).await?)
    }
}
