//! A hash map split into mutex-guarded shards, so that the per-request bookkeeping of
//! the hot path (rate-limit buckets, the verified-token cache) rarely makes two requests
//! wait for each other.

use std::{
    borrow::Borrow,
    collections::HashMap,
    hash::{BuildHasher, Hash, RandomState},
    sync::{Mutex, MutexGuard, PoisonError},
};

/// Shards; a power of two comfortably above the worker thread count.
const SHARDS: usize = 32;

/// See the module documentation.
pub(crate) struct ShardedMap<K, V> {
    shards: Vec<Mutex<HashMap<K, V>>>,
    hasher: RandomState,
}

impl<K: Hash + Eq, V> ShardedMap<K, V> {
    /// An empty map.
    pub(crate) fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
        }
    }

    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> Option<MutexGuard<'_, HashMap<K, V>>> {
        let index = (self.hasher.hash_one(key) as usize) % SHARDS;
        // A panic while holding the lock cannot leave an entry half-updated (every update
        // is a single insert or remove), so a poisoned shard is still used.
        self.shards
            .get(index)
            .map(|shard| shard.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// A copy of the value at `key`.
    pub(crate) fn get_cloned<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        self.shard(key)?.get(key).cloned()
    }

    /// Removes `key`.
    pub(crate) fn remove<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some(mut shard) = self.shard(key) {
            shard.remove(key);
        }
    }

    /// Runs `f` on the shard that holds `key`, under its lock, handing the key on.
    pub(crate) fn with_shard<R>(&self, key: K, f: impl FnOnce(&mut HashMap<K, V>, K) -> R) -> R {
        let index = (self.hasher.hash_one(&key) as usize) % SHARDS;
        match self.shards.get(index) {
            // A panic while holding the lock cannot leave an entry half-updated (every
            // update is a single insert), so a poisoned shard is still used.
            Some(shard) => f(
                &mut shard.lock().unwrap_or_else(PoisonError::into_inner),
                key,
            ),
            // Unreachable: index < SHARDS == shards.len(). Behaves as an empty map.
            None => f(&mut HashMap::new(), key),
        }
    }

    /// The most entries one shard holds before it is pruned, for a total `capacity`.
    pub(crate) fn shard_capacity(capacity: usize) -> usize {
        (capacity / SHARDS).max(1)
    }

    /// How many entries shard `index` holds.
    #[cfg(test)]
    pub(crate) fn shard_len(&self, index: usize) -> usize {
        self.shards.get(index).map_or(0, |shard| {
            shard.lock().unwrap_or_else(PoisonError::into_inner).len()
        })
    }
}
