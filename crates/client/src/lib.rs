//! The device-side client: [`Tessera`], the Rust counterpart of E3Kit's `EThree`, which the
//! npm, Kotlin and Swift packages wrap (docs/CLIENT.md).
//!
//! It owns the user's private key on this device (in the platform [`KeyStore`]), talks to
//! tessera-server over HTTP (docs/API.md) with tokens from the app's [`TokenProvider`],
//! verifies every card it receives, and encrypts and decrypts with the envelope of
//! [`tessera_format::envelope`]. The client stays runtime-agnostic: no async runtime is named here.
//!
//! Concerns, one module each: [`config`], [`error`], [`key_store`], [`token`],
//! [`transport`], `server_api` (the HTTP contract), `card_cache`, `registration`,
//! `key_backup`, `lookup`, `messages`, [`streams`].

// On wasm the platform objects are JS values (not Send); one thread shares them via Arc.
#![cfg_attr(target_family = "wasm", allow(clippy::arc_with_non_send_sync))]

mod card_cache;
pub mod config;
pub mod error;
mod groups;
mod key_backup;
pub mod key_store;
mod lookup;
mod messages;
pub mod password_kdf;
pub mod platform;
mod registration;
mod server_api;
pub mod streams;
pub mod token;
pub mod transport;

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, Mutex, OnceLock, RwLock, Weak},
};

pub use config::{Config, KeyChangedListener};
pub use error::Error;
pub use groups::{Group, MAX_GROUP_PARTICIPANTS};
pub use key_backup::BACKUP_NAME;
pub use key_store::{InMemoryKeyStore, KeyStore, entries};
pub use lookup::FoundUsers;
pub use password_kdf::PasswordKdf;
pub use platform::{PlatformError, SendOutsideWasm, SyncOutsideWasm};
pub use streams::{CancellationToken, DecryptStream, EncryptStream, Progress, StreamOptions};
pub use token::TokenProvider;
#[cfg(feature = "http-reqwest")]
pub use transport::ReqwestTransport;
pub use transport::{HttpRequest, HttpResponse, HttpTransport, Method};

use self::{
    card_cache::CardCache, key_store::LocalStore, server_api::ServerApi, token::TokenCache,
};
use tessera_format::{
    card::{Card, Identity},
    keys::{IdentityKeyPair, RootSecret},
};

/// The private key on this device and, when known, its card.
#[derive(Clone)]
pub(crate) struct LocalKey {
    pub(crate) keys: Arc<IdentityKeyPair>,
    pub(crate) card: Option<Card>,
}

/// The end-to-end encryption client of one user on one device. Cheap to clone (shared
/// state); safe to use from several tasks at once.
#[derive(Clone)]
pub struct Tessera {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    identity: Identity,
    api: ServerApi,
    store: Arc<LocalStore>,
    cache: CardCache,
    key_changed: Option<Arc<dyn KeyChangedListener>>,
    password_kdf: Arc<dyn PasswordKdf>,
    local: RwLock<Option<LocalKey>>,
    /// Serialises operations that create or replace the identity's key, across every
    /// `Tessera` of this identity and server in the process.
    key_lock: Arc<async_lock::Mutex<()>>,
}

impl fmt::Debug for Tessera {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tessera")
            .field("identity", &self.inner.identity)
            .field("has_local_key", &self.local().is_some())
            .finish_non_exhaustive()
    }
}

/// The process-wide lock of one identity on one server.
fn key_lock(server_url: &str, identity: &Identity) -> Arc<async_lock::Mutex<()>> {
    type Locks = Mutex<HashMap<String, Weak<async_lock::Mutex<()>>>>;
    static LOCKS: OnceLock<Locks> = OnceLock::new();
    let key = format!("{server_url}\n{identity}");
    let Ok(mut locks) = LOCKS.get_or_init(Locks::default).lock() else {
        return Arc::new(async_lock::Mutex::new(()));
    };
    locks.retain(|_, lock| lock.strong_count() > 0);
    if let Some(lock) = locks.get(&key).and_then(Weak::upgrade) {
        return lock;
    }
    let lock = Arc::new(async_lock::Mutex::new(()));
    locks.insert(key, Arc::downgrade(&lock));
    lock
}

fn normalize_url(url: &str) -> Result<String, Error> {
    let trimmed = url.trim().trim_end_matches('/');
    let (rest, plain_http) = match (
        trimmed.strip_prefix("https://"),
        trimmed.strip_prefix("http://"),
    ) {
        (Some(rest), _) => (rest, false),
        (None, Some(rest)) => (rest, true),
        (None, None) => {
            return Err(Error::invalid_input(
                "the server URL must start with https:// (or http:// on this machine's loopback)",
            ));
        }
    };
    if rest.is_empty() || rest.contains(['?', '#', ' ']) {
        return Err(Error::invalid_input(
            "the server URL must be a plain base URL such as https://tessera.example.com",
        ));
    }
    // Without TLS the network reads tokens and rewrites every answer: only a server on
    // this machine may be reached that way.
    if plain_http && !is_loopback_host(rest) {
        return Err(Error::invalid_input(
            "http:// is allowed only for a server on this machine (localhost, 127.0.0.1, [::1]); use https://",
        ));
    }
    Ok(trimmed.to_owned())
}

/// Whether the authority at the start of `rest` (`host[:port][/path]`) names loopback.
fn is_loopback_host(rest: &str) -> bool {
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

impl Tessera {
    /// Creates the client. Without [`Config::with_identity`] this asks the token provider
    /// for a token to learn the identity (its subject); with it, nothing is fetched, so
    /// initialization works offline. The private key and own card are loaded from the key
    /// store when present.
    pub async fn initialize(config: Config) -> Result<Self, Error> {
        let server_url = normalize_url(&config.server_url)?;
        let transport = match config.transport {
            Some(transport) => transport,
            None => default_transport()?,
        };
        let (identity, tokens) = match &config.identity {
            Some(identity) => {
                let identity = Identity::new(identity.clone())?;
                let tokens = TokenCache::new(config.token_provider.clone(), identity.clone());
                (identity, tokens)
            }
            None => {
                let token = token::fetch(config.token_provider.as_ref()).await?;
                let (identity, _) = token::inspect(&token)?;
                let tokens = TokenCache::new(config.token_provider.clone(), identity.clone());
                tokens.seed(token).await?;
                (identity, tokens)
            }
        };
        let store = Arc::new(LocalStore::new(config.key_store.clone(), identity.clone()));
        let tessera = Tessera {
            inner: Arc::new(Inner {
                key_lock: key_lock(&server_url, &identity),
                api: ServerApi::new(server_url, transport, tokens),
                cache: CardCache::new(store.clone()),
                store,
                identity,
                key_changed: config.key_changed,
                password_kdf: config.password_kdf.unwrap_or_else(password_kdf::inline),
                local: RwLock::new(None),
            }),
        };
        let local = tessera.load_local_key().await?;
        tessera.set_local(local);
        Ok(tessera)
    }

    /// The user's identity (the token subject).
    pub fn identity(&self) -> &Identity {
        &self.inner.identity
    }

    /// The user's own current card, when this device has the key and knows the card.
    pub fn own_card(&self) -> Option<Card> {
        self.local().and_then(|local| local.card)
    }

    pub(crate) fn local(&self) -> Option<LocalKey> {
        self.inner.local.read().ok().and_then(|local| local.clone())
    }

    pub(crate) fn set_local(&self, value: Option<LocalKey>) {
        if let Ok(mut local) = self.inner.local.write() {
            *local = value;
        }
    }

    /// The private key on this device, or [`Error::MissingPrivateKey`].
    pub(crate) fn require_local(&self) -> Result<LocalKey, Error> {
        self.local().ok_or(Error::MissingPrivateKey)
    }

    /// Reads the root secret and own card from the key store.
    async fn load_local_key(&self) -> Result<Option<LocalKey>, Error> {
        let store = &self.inner.store;
        let Some(secret) = store.get(&entries::root_secret(self.identity())).await? else {
            return Ok(None);
        };
        let root = RootSecret::from_slice(&secret).map_err(|_| Error::KeyStore {
            message: "the stored root secret is not 32 bytes; it was modified outside Tessera"
                .into(),
        })?;
        let keys = Arc::new(IdentityKeyPair::from_root_secret(root));
        let card = match store.get(&entries::own_card(self.identity())).await? {
            Some(text) => std::str::from_utf8(&text)
                .ok()
                .and_then(|text| Card::from_text(text).ok())
                .filter(|card| {
                    card.identity() == self.identity() && card.public_keys() == keys.public_keys()
                }),
            None => None,
        };
        Ok(Some(LocalKey { keys, card }))
    }

    /// Stores a new key and its card, then makes them current.
    pub(crate) async fn save_local_key(
        &self,
        keys: IdentityKeyPair,
        card: Card,
    ) -> Result<(), Error> {
        self.inner
            .store
            .put_all(&[
                (
                    entries::own_card(self.identity()),
                    card.to_text().into_bytes(),
                ),
                (
                    entries::root_secret(self.identity()),
                    keys.root_secret().as_bytes().to_vec(),
                ),
            ])
            .await?;
        self.set_local(Some(LocalKey {
            keys: Arc::new(keys),
            card: Some(card),
        }));
        Ok(())
    }

    pub(crate) fn api(&self) -> &ServerApi {
        &self.inner.api
    }

    pub(crate) fn password_kdf(&self) -> &dyn PasswordKdf {
        self.inner.password_kdf.as_ref()
    }

    pub(crate) fn store(&self) -> &LocalStore {
        &self.inner.store
    }

    pub(crate) fn cache(&self) -> &CardCache {
        &self.inner.cache
    }

    pub(crate) fn key_changed_listener(&self) -> Option<&Arc<dyn KeyChangedListener>> {
        self.inner.key_changed.as_ref()
    }

    pub(crate) async fn lock_key(&self) -> async_lock::MutexGuard<'_, ()> {
        self.inner.key_lock.lock().await
    }
}

#[cfg(feature = "http-reqwest")]
fn default_transport() -> Result<Arc<dyn HttpTransport>, Error> {
    let transport = ReqwestTransport::new().map_err(|error| Error::Network {
        message: error.message,
    })?;
    Ok(Arc::new(transport))
}

#[cfg(not(feature = "http-reqwest"))]
fn default_transport() -> Result<Arc<dyn HttpTransport>, Error> {
    Err(Error::invalid_input(
        "no HTTP transport: enable the `http-reqwest` feature or pass one with Config::with_transport",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_are_checked() {
        assert_eq!(
            normalize_url("https://t.example.com/").unwrap(),
            "https://t.example.com"
        );
        assert!(normalize_url("ftp://x").is_err());
        for loopback in [
            "http://127.0.0.1:8080",
            "http://127.1.2.3/tessera",
            "http://localhost:3000",
            "http://[::1]:8080",
        ] {
            assert!(normalize_url(loopback).is_ok(), "{loopback}");
        }
        for remote in [
            "http://tessera.example.com",
            "http://192.168.1.10:8080",
            "http://10.0.2.2:8080",
            "http://[2001:db8::1]:8080",
            "http://localhost.example.com",
            "http://127.0.0.1.example.com",
        ] {
            assert_eq!(
                normalize_url(remote).map_err(|e| e.code()),
                Err("invalid_input"),
                "{remote}"
            );
        }
        assert!(normalize_url("https://").is_err());
    }

    #[cfg(not(target_family = "wasm"))]
    #[test]
    fn the_client_and_its_futures_are_send_and_sync() {
        fn send_sync<T: Send + Sync>(_: &T) {}
        fn send<T: Send>(_: T) {}
        fn check(t: &Tessera) {
            send_sync(t);
            send(t.register());
            send(t.find_users(&["bob"]));
            send(t.auth_decrypt(
                &[],
                t.own_card().as_ref().unwrap_or_else(|| unreachable!()),
                None,
            ));
            send(t.update_cached_users());
            send(t.restore_private_key("pw"));
        }
        let _ = check;
    }
}
