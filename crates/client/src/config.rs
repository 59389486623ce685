//! What a [`crate::Tessera`] is created from.

use std::{fmt, sync::Arc};

use super::{
    key_store::KeyStore,
    password_kdf::PasswordKdf,
    platform::{PlatformError, SendOutsideWasm, SyncOutsideWasm},
    token::TokenProvider,
    transport::HttpTransport,
};
use tessera_format::card::Identity;

/// Told when a cached user's card changed on the server (key rotation, unregistration):
/// the app may warn the user, as messengers do with "safety number changed".
pub trait KeyChangedListener: SendOutsideWasm + SyncOutsideWasm {
    /// `identity`'s card changed; its new card (if any) is in the cache already.
    fn key_changed(&self, identity: &Identity) -> Result<(), PlatformError>;
}

impl<F> KeyChangedListener for F
where
    F: Fn(&Identity) + SendOutsideWasm + SyncOutsideWasm,
{
    fn key_changed(&self, identity: &Identity) -> Result<(), PlatformError> {
        self(identity);
        Ok(())
    }
}

/// The configuration of a [`crate::Tessera`] instance.
#[derive(Clone)]
pub struct Config {
    pub(crate) server_url: String,
    pub(crate) key_store: Arc<dyn KeyStore>,
    pub(crate) token_provider: Arc<dyn TokenProvider>,
    pub(crate) transport: Option<Arc<dyn HttpTransport>>,
    pub(crate) key_changed: Option<Arc<dyn KeyChangedListener>>,
    pub(crate) identity: Option<String>,
    pub(crate) password_kdf: Option<Arc<dyn PasswordKdf>>,
}

impl Config {
    /// The Tessera server at `server_url` (`https://…`; `http://` only for a server on this machine's loopback),
    /// the device's key store and the app's token provider.
    pub fn new(
        server_url: impl Into<String>,
        key_store: Arc<dyn KeyStore>,
        token_provider: Arc<dyn TokenProvider>,
    ) -> Self {
        Self {
            server_url: server_url.into(),
            key_store,
            token_provider,
            transport: None,
            key_changed: None,
            identity: None,
            password_kdf: None,
        }
    }

    /// Uses this HTTP transport instead of the default one.
    pub fn with_transport(mut self, transport: Arc<dyn HttpTransport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// Calls `listener` when `update_cached_users` or `find_users` notices a changed card.
    pub fn with_key_changed_listener(mut self, listener: Arc<dyn KeyChangedListener>) -> Self {
        self.key_changed = Some(listener);
        self
    }

    /// Runs the key backup's Argon2id with `kdf` instead of inline (for example off a
    /// browser's main thread).
    pub fn with_password_kdf(mut self, kdf: Arc<dyn PasswordKdf>) -> Self {
        self.password_kdf = Some(kdf);
        self
    }

    /// Offline initialization: the user's identity is known (the subject of the tokens the
    /// provider will return), so `initialize` needs neither the token provider nor the
    /// network. Tokens with another subject are refused later.
    pub fn with_identity(mut self, identity: impl Into<String>) -> Self {
        self.identity = Some(identity.into());
        self
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("server_url", &self.server_url)
            .field("identity", &self.identity)
            .field("custom_transport", &self.transport.is_some())
            .field("key_changed_listener", &self.key_changed.is_some())
            .field("custom_password_kdf", &self.password_kdf.is_some())
            .finish_non_exhaustive()
    }
}
