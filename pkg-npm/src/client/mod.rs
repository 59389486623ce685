//! The device client: [`Tessera`] wraps [`tessera_client::Tessera`] (docs/CLIENT.md)
//! as a newtype, the way matrix-sdk-crypto-wasm wraps `OlmMachine`. Every async method
//! clones the (cheap, shared) core client into a future and returns it as a JS `Promise`;
//! arguments and results are converted, nothing else. The JavaScript facade
//! (`pkg-npm/js/client.js`) adds E3Kit's argument shapes (strings ↔ base64, lookup
//! results) and the platform's default key store.
//!
//! Concerns: [`platform`] (the app's JS key store, `getToken` and listener as core's
//! traits), [`group`] ([`group::Group`]), [`streams`] (files in pieces, with progress and
//! cancellation).
//! Built for wasm only: JS objects are not `Send`, which core requires natively.

pub mod group;
pub mod platform;
pub mod streams;

use std::{future::Future, sync::Arc};

use js_sys::{Array, Function, Promise, Uint8Array};
use tessera_client::{self as client, Config, FoundUsers};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use self::{
    group::Group,
    platform::{
        JsKeyChangedListener, JsKeyStore, JsKeyStoreAdapter, JsPasswordKdf, JsTokenProvider,
        JsTransport,
    },
    streams::{AbortSignal, ClientDecryptStream, ClientEncryptStream, stream_options},
};
use crate::{
    backup::DerivedPasswords,
    card::{Card, core_cards},
    error::OrJs,
    timestamp_of,
};

/// Runs a client future as a JS Promise, converting its error.
pub(crate) fn promise<T, F>(future: F) -> Promise
where
    T: Into<JsValue>,
    F: Future<Output = Result<T, client::Error>> + 'static,
{
    future_to_promise(async move { future.await.map(Into::into).or_js() })
}

/// Bytes as a fresh JS `Uint8Array`.
pub(crate) fn bytes(data: Vec<u8>) -> JsValue {
    Uint8Array::from(data.as_slice()).into()
}

/// Cards as a JS array of `Card`.
pub(crate) fn card_array(cards: impl IntoIterator<Item = tessera_format::Card>) -> JsValue {
    cards
        .into_iter()
        .map(|card| JsValue::from(Card::from(card)))
        .collect::<Array>()
        .into()
}

/// Strings as a JS array.
pub(crate) fn string_array<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> JsValue {
    items
        .into_iter()
        .map(|item| JsValue::from_str(item.as_ref()))
        .collect::<Array>()
        .into()
}

/// The end-to-end encryption client of one user on one device.
#[wasm_bindgen]
pub struct Tessera {
    inner: client::Tessera,
}

#[wasm_bindgen]
impl Tessera {
    /// Creates the client for the server at `serverUrl` with the app's key store,
    /// `getToken` callback and HTTP `send` function; resolves to a `Tessera`. With
    /// `identity`, nothing is fetched (offline start); with `kdf`, backups run Argon2id
    /// through it (a Web Worker in browsers) instead of inline.
    pub fn initialize(
        server_url: String,
        key_store: JsKeyStore,
        get_token: Function,
        send: Function,
        on_key_changed: Option<Function>,
        identity: Option<String>,
        kdf: Option<Function>,
    ) -> Promise {
        let mut config = Config::new(
            server_url,
            Arc::new(JsKeyStoreAdapter::new(key_store)),
            Arc::new(JsTokenProvider::new(get_token)),
        )
        .with_transport(Arc::new(JsTransport::new(send)));
        if let Some(callback) = on_key_changed {
            config =
                config.with_key_changed_listener(Arc::new(JsKeyChangedListener::new(callback)));
        }
        if let Some(identity) = identity {
            config = config.with_identity(identity);
        }
        if let Some(kdf) = kdf {
            config = config.with_password_kdf(Arc::new(JsPasswordKdf::new(kdf)));
        }
        promise(async move {
            let inner = client::Tessera::initialize(config).await?;
            Ok(Tessera { inner })
        })
    }

    /// Splits one password into a login password and a backup password (Argon2id),
    /// salted with the app id and the user's identity.
    #[wasm_bindgen(js_name = derivePasswords)]
    pub fn derive_passwords(
        password: &str,
        app_id: &str,
        identity: &str,
    ) -> Result<DerivedPasswords, JsValue> {
        Ok(
            client::Tessera::derive_passwords(password, app_id, identity)
                .or_js()?
                .into(),
        )
    }

    /// The user's identity.
    #[wasm_bindgen(getter)]
    pub fn identity(&self) -> String {
        self.inner.identity().as_str().to_owned()
    }

    /// The user's own card, when this device has the key and knows the card.
    #[wasm_bindgen(getter, js_name = ownCard)]
    pub fn own_card(&self) -> Option<Card> {
        self.inner.own_card().map(Card::from)
    }

    /// Whether this device holds the user's private key.
    #[wasm_bindgen(js_name = hasLocalPrivateKey)]
    pub fn has_local_private_key(&self) -> bool {
        self.inner.has_local_private_key()
    }

    /// Publishes a new card and keeps its key here; resolves to the card.
    pub fn register(&self) -> Promise {
        let inner = self.inner.clone();
        promise(async move { inner.register().await.map(Card::from) })
    }

    /// Replaces a lost key: a new card naming the current one; resolves to the card.
    #[wasm_bindgen(js_name = rotatePrivateKey)]
    pub fn rotate_private_key(&self) -> Promise {
        let inner = self.inner.clone();
        promise(async move { inner.rotate_private_key().await.map(Card::from) })
    }

    /// Revokes the user's card and deletes the key from this device.
    pub fn unregister(&self) -> Promise {
        let inner = self.inner.clone();
        promise(async move { inner.unregister().await.map(|()| JsValue::UNDEFINED) })
    }

    /// Deletes everything this client stored for the user on this device.
    pub fn cleanup(&self) -> Promise {
        let inner = self.inner.clone();
        promise(async move { inner.cleanup().await.map(|()| JsValue::UNDEFINED) })
    }

    /// Stores the private key on the server, encrypted under `password`.
    #[wasm_bindgen(js_name = backupPrivateKey)]
    pub fn backup_private_key(&self, password: String) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            inner
                .backup_private_key(&password)
                .await
                .map(|()| JsValue::UNDEFINED)
        })
    }

    /// Restores the private key from the server's backup with `password`.
    #[wasm_bindgen(js_name = restorePrivateKey)]
    pub fn restore_private_key(&self, password: String) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            inner
                .restore_private_key(&password)
                .await
                .map(|()| JsValue::UNDEFINED)
        })
    }

    /// Re-encrypts the backup under a new password.
    #[wasm_bindgen(js_name = changePassword)]
    pub fn change_password(&self, old_password: String, new_password: String) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            inner
                .change_password(&old_password, &new_password)
                .await
                .map(|()| JsValue::UNDEFINED)
        })
    }

    /// Deletes the key backup from the server.
    #[wasm_bindgen(js_name = resetPrivateKeyBackup)]
    pub fn reset_private_key_backup(&self) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            inner
                .reset_private_key_backup()
                .await
                .map(|()| JsValue::UNDEFINED)
        })
    }

    /// Looks up and verifies the users' cards; resolves to an array of `Card`.
    #[wasm_bindgen(js_name = findUsers)]
    pub fn find_users(&self, identities: Vec<String>) -> Promise {
        let inner = self.inner.clone();
        promise(async move { inner.find_users(&identities).await.map(card_array) })
    }

    /// The users' cards from this device's cache; resolves to an array of `Card`.
    #[wasm_bindgen(js_name = findCachedUsers)]
    pub fn find_cached_users(&self, identities: Vec<String>) -> Promise {
        let inner = self.inner.clone();
        promise(async move { inner.find_cached_users(&identities).await.map(card_array) })
    }

    /// Refreshes the cached cards; resolves to the identities whose card changed.
    #[wasm_bindgen(js_name = updateCachedUsers)]
    pub fn update_cached_users(&self) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let changed = inner.update_cached_users().await?;
            Ok(string_array(
                changed.iter().map(|identity| identity.as_str()),
            ))
        })
    }

    /// Signs and encrypts `data` for `recipients` and the user; resolves to the envelope.
    #[wasm_bindgen(js_name = authEncrypt)]
    pub fn auth_encrypt(&self, data: Vec<u8>, recipients: Vec<Card>) -> Promise {
        let inner = self.inner.clone();
        let recipients = core_cards(&recipients);
        promise(async move { inner.auth_encrypt(&data, &recipients).await.map(bytes) })
    }

    /// Decrypts `data` and verifies that `sender` (the user when omitted; or an earlier
    /// card of theirs, with `madeAt`) signed it; resolves to the plaintext.
    #[wasm_bindgen(js_name = authDecrypt)]
    pub fn auth_decrypt(
        &self,
        data: Vec<u8>,
        sender: Option<Card>,
        made_at: Option<js_sys::Date>,
    ) -> Promise {
        let inner = self.inner.clone();
        let made_at = made_at.as_ref().map(timestamp_of);
        promise(async move {
            let sender = inner.sender_or_self(sender.as_ref().map(|card| &card.inner))?;
            inner.auth_decrypt(&data, &sender, made_at).await.map(bytes)
        })
    }

    /// Starts encrypting data of any size for `recipients` and the user, reporting
    /// progress to `onProgress` and stopping when `signal` aborts.
    #[wasm_bindgen(js_name = encryptStream)]
    pub fn encrypt_stream(
        &self,
        recipients: Vec<Card>,
        on_progress: Option<Function>,
        signal: Option<AbortSignal>,
        file_size: Option<f64>,
    ) -> Promise {
        let inner = self.inner.clone();
        let recipients = core_cards(&recipients);
        let (options, abort) = stream_options(on_progress, signal, file_size);
        promise(async move {
            let stream = inner.encrypt_stream(&recipients, options).await?;
            Ok(ClientEncryptStream::new(stream, abort))
        })
    }

    /// Starts decrypting data of any size from `sender` (the user when omitted).
    #[wasm_bindgen(js_name = decryptStream)]
    pub fn decrypt_stream(
        &self,
        sender: Option<Card>,
        made_at: Option<js_sys::Date>,
        on_progress: Option<Function>,
        signal: Option<AbortSignal>,
        file_size: Option<f64>,
    ) -> Promise {
        let inner = self.inner.clone();
        let made_at = made_at.as_ref().map(timestamp_of);
        let (options, abort) = stream_options(on_progress, signal, file_size);
        promise(async move {
            let sender = inner.sender_or_self(sender.as_ref().map(|card| &card.inner))?;
            let stream = inner.decrypt_stream(&sender, made_at, options).await?;
            Ok(ClientDecryptStream::new(stream, abort))
        })
    }

    /// The 60-digit safety number of the user and `other`.
    #[wasm_bindgen(js_name = safetyNumber)]
    pub fn safety_number(&self, other: &Card) -> Promise {
        let inner = self.inner.clone();
        let other = other.inner.clone();
        promise(async move { inner.safety_number(&other).await.map(JsValue::from) })
    }

    /// Creates a group with the user as initiator and the `participants`' cards.
    #[wasm_bindgen(js_name = createGroup)]
    pub fn create_group(&self, group_id: String, participants: Vec<Card>) -> Promise {
        let inner = self.inner.clone();
        let participants = FoundUsers::from_cards(core_cards(&participants));
        promise(async move {
            inner
                .create_group(&group_id, &participants)
                .await
                .map(Group::from)
        })
    }

    /// Loads a group another user created, given the initiator's card.
    #[wasm_bindgen(js_name = loadGroup)]
    pub fn load_group(&self, group_id: String, initiator: &Card) -> Promise {
        let inner = self.inner.clone();
        let initiator = initiator.inner.clone();
        promise(async move {
            inner
                .load_group(&group_id, &initiator)
                .await
                .map(Group::from)
        })
    }

    /// The group as this device last saw it (offline); resolves to `undefined` when
    /// unknown here.
    #[wasm_bindgen(js_name = getGroup)]
    pub fn get_group(&self, group_id: String) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            inner
                .get_group(&group_id)
                .await
                .map(|group| group.map_or(JsValue::UNDEFINED, |g| Group::from(g).into()))
        })
    }

    /// Deletes a group (initiator only) and forgets it here.
    #[wasm_bindgen(js_name = deleteGroup)]
    pub fn delete_group(&self, group_id: String) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            inner
                .delete_group(&group_id)
                .await
                .map(|()| JsValue::UNDEFINED)
        })
    }
}
