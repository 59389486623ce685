//! Device storage: the [`KeyStore`] trait the platform implements (Keychain, Android
//! Keystore, IndexedDB, an encrypted file…), an [`InMemoryKeyStore`], and the names of
//! the entries the client keeps in it ([`entries`]).
//!
//! Every entry the client writes for an identity is listed in that identity's index
//! entry, so [`crate::Tessera::cleanup`] can remove them all, including entries
//! that later features (groups) add, without the key store having to list its contents.

use std::{
    collections::{BTreeSet, HashMap},
    fmt,
    sync::{Arc, Mutex},
};

use zeroize::Zeroizing;

use super::{
    Error,
    platform::{PlatformError, SendOutsideWasm, SyncOutsideWasm},
};
use tessera_format::card::Identity;

/// Secure storage of named secret byte strings, supplied by the platform.
///
/// Contract:
/// - names are ASCII strings of at most 400 bytes built by [`entries`]; values are at most
///   a few hundred KiB;
/// - `get` of a missing name is `Ok(None)`, `delete` of a missing name is `Ok(())`;
/// - `put` replaces any previous value atomically (a reader sees the old or the new value);
/// - values are secret: store them in the platform's protected storage, never log them.
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
pub trait KeyStore: SendOutsideWasm + SyncOutsideWasm {
    /// The value stored under `name`, if any.
    async fn get(&self, name: &str) -> Result<Option<Vec<u8>>, PlatformError>;
    /// Stores `value` under `name`, replacing any previous value.
    async fn put(&self, name: &str, value: &[u8]) -> Result<(), PlatformError>;
    /// Removes `name`; succeeds when it does not exist.
    async fn delete(&self, name: &str) -> Result<(), PlatformError>;
}

type Entries = HashMap<String, Zeroizing<Vec<u8>>>;

/// A [`KeyStore`] in memory, for tests and for apps that keep nothing between launches.
/// Values are zeroized when replaced or dropped.
#[derive(Default)]
pub struct InMemoryKeyStore {
    entries: Mutex<Entries>,
}

impl InMemoryKeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The names of all stored entries, sorted (values stay private).
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .entries
            .lock()
            .map(|entries| entries.keys().cloned().collect())
            .unwrap_or_default();
        names.sort();
        names
    }

    fn locked(&self) -> Result<std::sync::MutexGuard<'_, Entries>, PlatformError> {
        self.entries
            .lock()
            .map_err(|_| PlatformError::new("the in-memory key store's lock is poisoned"))
    }
}

impl fmt::Debug for InMemoryKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryKeyStore")
            .field("entries", &self.names().len())
            .finish_non_exhaustive()
    }
}

#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
impl KeyStore for InMemoryKeyStore {
    async fn get(&self, name: &str) -> Result<Option<Vec<u8>>, PlatformError> {
        Ok(self.locked()?.get(name).map(|value| value.to_vec()))
    }

    async fn put(&self, name: &str, value: &[u8]) -> Result<(), PlatformError> {
        self.locked()?
            .insert(name.to_owned(), Zeroizing::new(value.to_vec()));
        Ok(())
    }

    async fn delete(&self, name: &str) -> Result<(), PlatformError> {
        self.locked()?.remove(name);
        Ok(())
    }
}

/// The names of the entries the client keeps in a [`KeyStore`] (docs/CLIENT.md
/// "Key store entries"). Identities inside names have `%` and `/` percent-encoded, so
/// every name splits unambiguously at `/`.
pub mod entries {
    use tessera_format::card::Identity;

    /// Every name starts with this.
    pub const PREFIX: &str = "tessera/";

    /// An identity as a name segment: `%` → `%25`, `/` → `%2F`.
    pub fn segment(identity: &Identity) -> String {
        let mut out = String::with_capacity(identity.as_str().len());
        for c in identity.as_str().chars() {
            match c {
                '%' => out.push_str("%25"),
                '/' => out.push_str("%2F"),
                c => out.push(c),
            }
        }
        out
    }

    /// The namespace of one identity on this device: `tessera/<identity>/`.
    pub fn namespace(identity: &Identity) -> String {
        format!("{PREFIX}{}/", segment(identity))
    }

    /// `tessera/<identity>/root-secret`: the 32-byte root secret of the identity's key.
    pub fn root_secret(identity: &Identity) -> String {
        format!("{}root-secret", namespace(identity))
    }

    /// `tessera/<identity>/card`: the identity's own current card (text form), so
    /// encryption works offline.
    pub fn own_card(identity: &Identity) -> String {
        format!("{}card", namespace(identity))
    }

    /// `tessera/<identity>/cards/<other>`: the cached card chain of another user (text
    /// form, one card per line, oldest first; the last line is the current card).
    pub fn cached_cards(identity: &Identity, other: &Identity) -> String {
        format!("{}{}", cached_cards_prefix(identity), segment(other))
    }

    /// `tessera/<identity>/cards/`: the prefix of every cached card entry.
    pub fn cached_cards_prefix(identity: &Identity) -> String {
        format!("{}cards/", namespace(identity))
    }

    /// `tessera/<identity>/groups/<group id>`: a group's initiator card and the epochs
    /// (secrets and participants) this device can read.
    pub fn group(identity: &Identity, group_id: &tessera_format::group::GroupId) -> String {
        format!("{}groups/{}", namespace(identity), group_id.as_str())
    }

    /// `tessera/<identity>/index`: the names of every other entry written for the
    /// identity, one per line; `cleanup` deletes them all.
    pub fn index(identity: &Identity) -> String {
        format!("{}index", namespace(identity))
    }

    /// Reverses [`segment`].
    pub fn parse_segment(segment: &str) -> Option<Identity> {
        let decoded = segment.replace("%2F", "/").replace("%25", "%");
        Identity::new(decoded).ok()
    }
}

/// One identity's view of the key store: namespaced names and the index of entries.
pub(crate) struct LocalStore {
    store: Arc<dyn KeyStore>,
    identity: Identity,
    /// The index, once read; guarded so concurrent writers do not lose names.
    index: async_lock::Mutex<Option<BTreeSet<String>>>,
}

fn key_store_error(error: PlatformError) -> Error {
    Error::KeyStore {
        message: error.message,
    }
}

impl LocalStore {
    pub(crate) fn new(store: Arc<dyn KeyStore>, identity: Identity) -> Self {
        Self {
            store,
            identity,
            index: async_lock::Mutex::new(None),
        }
    }

    pub(crate) fn identity(&self) -> &Identity {
        &self.identity
    }

    pub(crate) async fn get(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
        Ok(self
            .store
            .get(name)
            .await
            .map_err(key_store_error)?
            .map(Zeroizing::new))
    }

    /// Stores several entries, recording their names in the index first (so a crash
    /// between the two leaves at worst a listed name without a value).
    pub(crate) async fn put_all(&self, entries: &[(String, Vec<u8>)]) -> Result<(), Error> {
        if entries.is_empty() {
            return Ok(());
        }
        {
            let mut guard = self.index.lock().await;
            let index = self.loaded_index(&mut guard).await?;
            let before = index.len();
            index.extend(entries.iter().map(|(name, _)| name.clone()));
            if index.len() != before {
                let text = index.iter().cloned().collect::<Vec<_>>().join("\n");
                self.store
                    .put(&entries::index(&self.identity), text.as_bytes())
                    .await
                    .map_err(key_store_error)?;
            }
        }
        for (name, value) in entries {
            self.store.put(name, value).await.map_err(key_store_error)?;
        }
        Ok(())
    }

    pub(crate) async fn put(&self, name: &str, value: &[u8]) -> Result<(), Error> {
        self.put_all(&[(name.to_owned(), value.to_vec())]).await
    }

    /// Deletes entries, then drops their names from the index.
    pub(crate) async fn delete_all(&self, names: &[String]) -> Result<(), Error> {
        for name in names {
            self.store.delete(name).await.map_err(key_store_error)?;
        }
        let mut guard = self.index.lock().await;
        let index = self.loaded_index(&mut guard).await?;
        let before = index.len();
        for name in names {
            index.remove(name);
        }
        if index.len() != before {
            let text = index.iter().cloned().collect::<Vec<_>>().join("\n");
            self.store
                .put(&entries::index(&self.identity), text.as_bytes())
                .await
                .map_err(key_store_error)?;
        }
        Ok(())
    }

    #[cfg(test)]
    pub(crate) async fn delete(&self, name: &str) -> Result<(), Error> {
        self.delete_all(&[name.to_owned()]).await
    }

    /// The indexed names that start with `prefix`.
    pub(crate) async fn names_with_prefix(&self, prefix: &str) -> Result<Vec<String>, Error> {
        let mut guard = self.index.lock().await;
        let index = self.loaded_index(&mut guard).await?;
        Ok(index
            .iter()
            .filter(|name| name.starts_with(prefix))
            .cloned()
            .collect())
    }

    /// Deletes every entry of this identity, the index last.
    pub(crate) async fn wipe(&self) -> Result<(), Error> {
        let mut guard = self.index.lock().await;
        let index = self.loaded_index(&mut guard).await?;
        // The well-known entries too, in case an older index lost them.
        let mut names: BTreeSet<String> = index.clone();
        names.insert(entries::root_secret(&self.identity));
        names.insert(entries::own_card(&self.identity));
        for name in &names {
            self.store.delete(name).await.map_err(key_store_error)?;
        }
        self.store
            .delete(&entries::index(&self.identity))
            .await
            .map_err(key_store_error)?;
        index.clear();
        Ok(())
    }

    async fn loaded_index<'a>(
        &self,
        slot: &'a mut Option<BTreeSet<String>>,
    ) -> Result<&'a mut BTreeSet<String>, Error> {
        if slot.is_none() {
            let stored = self
                .store
                .get(&entries::index(&self.identity))
                .await
                .map_err(key_store_error)?
                .unwrap_or_default();
            let text = String::from_utf8(stored).map_err(|_| Error::KeyStore {
                message: "the entry index is not UTF-8 text; it was modified outside Tessera"
                    .into(),
            })?;
            *slot = Some(
                text.lines()
                    .filter(|line| !line.is_empty())
                    .map(str::to_owned)
                    .collect(),
            );
        }
        Ok(slot.get_or_insert_with(BTreeSet::new))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> Identity {
        Identity::new(s).unwrap()
    }

    #[test]
    fn names_are_namespaced_and_unambiguous() {
        let a = entries::cached_cards(&id("a"), &id("b/cards/x"));
        let b = entries::cached_cards(&id("a/cards/b"), &id("x"));
        assert_ne!(a, b);
        assert_eq!(a, "tessera/a/cards/b%2Fcards%2Fx");
        assert_eq!(
            entries::root_secret(&id("alice")),
            "tessera/alice/root-secret"
        );
        assert_eq!(
            entries::parse_segment("b%2Fcards%2Fx"),
            Some(id("b/cards/x"))
        );
        assert_eq!(entries::parse_segment("100%25"), Some(id("100%")));
    }

    #[tokio::test]
    async fn index_tracks_entries_and_wipe_removes_everything() {
        let memory = Arc::new(InMemoryKeyStore::new());
        memory.put("other/app", b"keep").await.unwrap();
        let alice = id("alice");
        let store = LocalStore::new(memory.clone(), alice.clone());
        store
            .put(&entries::root_secret(&alice), &[1; 32])
            .await
            .unwrap();
        store
            .put(&entries::cached_cards(&alice, &id("bob")), b"card")
            .await
            .unwrap();
        store
            .put(&entries::cached_cards(&alice, &id("carol")), b"card")
            .await
            .unwrap();
        store
            .delete(&entries::cached_cards(&alice, &id("carol")))
            .await
            .unwrap();
        // A fresh view reads the index back from the store.
        let again = LocalStore::new(memory.clone(), alice.clone());
        assert_eq!(
            again
                .names_with_prefix(&entries::cached_cards_prefix(&alice))
                .await
                .unwrap(),
            vec!["tessera/alice/cards/bob".to_owned()]
        );
        again.wipe().await.unwrap();
        assert_eq!(memory.names(), vec!["other/app".to_owned()]);
    }

    #[test]
    fn debug_shows_no_values() {
        let memory = InMemoryKeyStore::new();
        futures_lite_block_on(memory.put("tessera/x/root-secret", &[0xAB; 32])).unwrap();
        let text = format!("{memory:?}");
        assert!(
            !text.contains("171") && !text.to_lowercase().contains("ab"),
            "{text}"
        );
    }

    fn futures_lite_block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }
}
