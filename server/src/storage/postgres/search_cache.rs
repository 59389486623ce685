//! The PostgreSQL search cache: each replica's copy of identities' active cards (or their
//! absence), kept fresh by LISTEN/NOTIFY (docs/SERVER.md "Search cache on PostgreSQL",
//! docs/DECISIONS.md).
//!
//! Invalidation: a trigger on `cards` (migration 0002) sends the identity of every changed
//! row on [`CARDS_CHANNEL`]; notifications are delivered only after commit and in commit
//! order. Each replica's listener task evicts those identities; a replica's own writes
//! also evict as they commit, so it reads its own writes at once.
//!
//! Freshness bound: a ticker sends this replica a notification on its own channel every
//! [`TICK_INTERVAL`], stamped with the time it was sent. Because the notification queue
//! is in commit order, receiving a tick sent at `s` proves that every card change
//! committed before `s` has been evicted. The cache answers only while the latest tick
//! received was sent less than [`MAX_STALENESS`] ago: a search never misses a card change
//! that committed `MAX_STALENESS` before it started. Otherwise (listener down, not yet
//! connected, notifications late) searches go to the database.
//!
//! Fill race: a search that missed notes the generations ([`FillTicket`]) before reading
//! the database and stores what it read only if no eviction touched those identities'
//! shards since, and the listener stayed connected throughout (`epoch` unchanged).

use std::{
    collections::HashMap,
    hash::{BuildHasher, RandomState},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};

use crate::storage::CardRecord;

/// The channel the `cards` trigger notifies, with the changed identity as payload.
pub(super) const CARDS_CHANNEL: &str = "tessera_cards";
/// How often the ticker proves that the listener is current.
const TICK_INTERVAL: Duration = Duration::from_millis(200);
/// The freshness bound: the cache answers only while its last proof is younger.
pub const MAX_STALENESS: Duration = Duration::from_secs(1);
/// Silence on the listener connection after which it is presumed dead and replaced
/// (ticks arrive every [`TICK_INTERVAL`] when it works).
const LISTENER_SILENCE_LIMIT: Duration = Duration::from_secs(5);
/// Pause before connecting again after a failure.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);
/// Longest wait for one tick to be sent.
const TICK_TIMEOUT: Duration = Duration::from_secs(2);
/// Shards; a power of two comfortably above the worker thread count.
const SHARDS: usize = 32;
/// The `application_name` of the listener connection (operators and tests find it in
/// `pg_stat_activity`).
pub const LISTENER_APPLICATION_NAME: &str = "tessera-server search cache";

/// An identity's active card, or `None` for "has none".
type Answer = Option<Arc<CardRecord>>;

struct Shard {
    entries: Mutex<HashMap<String, Answer>>,
    /// Bumped, under `entries`' lock, by every eviction from this shard.
    generation: AtomicU64,
}

/// What a search that missed notes before it reads the database.
pub(super) struct FillTicket {
    epoch: u64,
    generations: [u64; SHARDS],
}

/// See the module documentation.
pub(super) struct SearchCache {
    shards: Vec<Shard>,
    hasher: RandomState,
    shard_capacity: usize,
    /// Even while the listener is known to receive every notification; odd otherwise.
    epoch: AtomicU64,
    /// Send time of the latest tick received, in microseconds after `base`, plus one
    /// (0: none since the listener last connected).
    confirmed: AtomicU64,
    base: Instant,
}

impl SearchCache {
    /// An empty cache for up to `capacity` identities, not answering until the listener
    /// has connected.
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS)
                .map(|_| Shard {
                    entries: Mutex::new(HashMap::new()),
                    generation: AtomicU64::new(0),
                })
                .collect(),
            hasher: RandomState::new(),
            shard_capacity: (capacity / SHARDS).max(1),
            epoch: AtomicU64::new(1),
            confirmed: AtomicU64::new(0),
            base: Instant::now(),
        }
    }

    fn shard_index(&self, identity: &str) -> usize {
        (self.hasher.hash_one(identity) as usize) % SHARDS
    }

    fn lock(&self, index: usize) -> Option<std::sync::MutexGuard<'_, HashMap<String, Answer>>> {
        // Every update under the lock is one insert, remove or clear: a panic elsewhere
        // cannot leave a shard half-updated, so a poisoned shard is still used.
        self.shards
            .get(index)
            .map(|shard| shard.entries.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn micros_since_base(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.base).as_micros()).unwrap_or(u64::MAX)
    }

    /// Whether answers may come from the cache now (listener connected and proven
    /// current within [`MAX_STALENESS`]).
    pub(super) fn is_current(&self) -> bool {
        self.is_current_at(Instant::now())
    }

    fn is_current_at(&self, now: Instant) -> bool {
        if !self.epoch.load(Ordering::SeqCst).is_multiple_of(2) {
            return false;
        }
        match self.confirmed.load(Ordering::SeqCst) {
            0 => false,
            confirmed => {
                let age = self.micros_since_base(now).saturating_sub(confirmed - 1);
                u128::from(age) <= MAX_STALENESS.as_micros()
            }
        }
    }

    /// The cached answer for `identity`, if any.
    pub(super) fn get(&self, identity: &str) -> Option<Answer> {
        self.lock(self.shard_index(identity))?
            .get(identity)
            .cloned()
    }

    /// Notes the state a database read is about to start from.
    pub(super) fn ticket(&self) -> FillTicket {
        let epoch = self.epoch.load(Ordering::SeqCst);
        let mut generations = [0; SHARDS];
        for (generation, shard) in generations.iter_mut().zip(&self.shards) {
            *generation = shard.generation.load(Ordering::SeqCst);
        }
        FillTicket { epoch, generations }
    }

    /// Stores what a read that started at `ticket` found for `identity`, unless an
    /// eviction or a listener loss happened since.
    pub(super) fn fill(&self, identity: &str, answer: Answer, ticket: &FillTicket) {
        if !ticket.epoch.is_multiple_of(2) {
            return;
        }
        let index = self.shard_index(identity);
        let (Some(shard), Some(generation)) =
            (self.shards.get(index), ticket.generations.get(index))
        else {
            return;
        };
        let Some(mut entries) = self.lock(index) else {
            return;
        };
        if shard.generation.load(Ordering::SeqCst) != *generation
            || self.epoch.load(Ordering::SeqCst) != ticket.epoch
        {
            return;
        }
        if entries.len() >= self.shard_capacity && !entries.contains_key(identity) {
            entries.clear();
        }
        entries.insert(identity.to_owned(), answer);
    }

    /// After a committed change to `identity`'s cards.
    pub(super) fn evict(&self, identity: &str) {
        let index = self.shard_index(identity);
        if let (Some(shard), Some(mut entries)) = (self.shards.get(index), self.lock(index)) {
            shard.generation.fetch_add(1, Ordering::SeqCst);
            entries.remove(identity);
        }
    }

    /// The listener may have missed notifications: stop answering, forget everything and
    /// refuse fills of reads that started before.
    fn listener_lost(&self) {
        let _ = self
            .epoch
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |epoch| {
                (epoch % 2 == 0).then_some(epoch + 1)
            });
        self.confirmed.store(0, Ordering::SeqCst);
        for (index, shard) in self.shards.iter().enumerate() {
            if let Some(mut entries) = self.lock(index) {
                shard.generation.fetch_add(1, Ordering::SeqCst);
                entries.clear();
            }
        }
    }

    /// A tick sent at `sent_at` arrived on a listener connection that has been listening
    /// since `listening_since`: every change committed before `sent_at` has been evicted.
    fn tick_received(&self, sent_at: Instant, listening_since: Instant) {
        if sent_at < listening_since {
            // Sent before this connection listened: proves nothing about it.
            return;
        }
        self.confirmed
            .fetch_max(self.micros_since_base(sent_at) + 1, Ordering::SeqCst);
        let _ = self
            .epoch
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |epoch| {
                (epoch % 2 != 0).then_some(epoch + 1)
            });
    }
}

/// The background tasks that keep a [`SearchCache`] current; they stop when this is
/// dropped.
pub(super) struct Freshness {
    cache: Arc<SearchCache>,
    listener: tokio::task::JoinHandle<()>,
    ticker: tokio::task::JoinHandle<()>,
}

impl Drop for Freshness {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Freshness {
    /// Stops both tasks (their connections close) and the cache's answers.
    pub(super) fn stop(&self) {
        self.listener.abort();
        self.ticker.abort();
        self.cache.listener_lost();
    }

    /// Starts the listener and the ticker, each on its own connection.
    pub(super) fn start(cache: Arc<SearchCache>, options: &PgConnectOptions) -> Self {
        let mut random = [0u8; 8];
        let suffix = match getrandom::fill(&mut random) {
            Ok(()) => u64::from_le_bytes(random),
            // Unique enough among replicas even without randomness.
            Err(_) => u64::from(std::process::id()) ^ cache.micros_since_base(Instant::now()),
        };
        let tick_channel = format!("tessera_tick_{suffix:016x}");
        let listener_pool =
            single_connection_pool(options.clone().application_name(LISTENER_APPLICATION_NAME));
        let tick_options = options
            .clone()
            .application_name("tessera-server search cache ticker")
            // Ticks need no durability.
            .options([("synchronous_commit", "off")]);
        let listener = tokio::spawn(listen(cache.clone(), listener_pool, tick_channel.clone()));
        let ticker = tokio::spawn(tick(cache.clone(), tick_options, tick_channel));
        Self {
            cache,
            listener,
            ticker,
        }
    }
}

fn single_connection_pool(options: PgConnectOptions) -> PgPool {
    PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_lazy_with(options)
}

/// The listener task: evicts notified identities, confirms ticks, and replaces its
/// connection (clearing the cache) whenever it may have missed a notification.
async fn listen(cache: Arc<SearchCache>, pool: PgPool, tick_channel: String) {
    let mut was_connected = false;
    loop {
        cache.listener_lost();
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "search cache listener cannot connect; searches bypass the cache");
                tokio::time::sleep(RECONNECT_DELAY).await;
                continue;
            }
        };
        // A lost connection is reported (and replaced here) rather than silently renewed.
        listener.eager_reconnect(false);
        listener.ignore_pool_close_event(true);
        if let Err(error) = listener
            .listen_all([CARDS_CHANNEL, tick_channel.as_str()])
            .await
        {
            tracing::warn!(%error, "search cache listener cannot LISTEN; searches bypass the cache");
            tokio::time::sleep(RECONNECT_DELAY).await;
            continue;
        }
        let listening_since = Instant::now();
        if was_connected {
            tracing::info!("search cache listener reconnected");
        }
        was_connected = true;
        loop {
            // Dropping `try_recv` at the timeout may lose a message; the listener is
            // replaced (and the cache cleared) then, so nothing depends on it.
            match tokio::time::timeout(LISTENER_SILENCE_LIMIT, listener.try_recv()).await {
                Ok(Ok(Some(notification))) => {
                    if notification.channel() == CARDS_CHANNEL {
                        cache.evict(notification.payload());
                    } else if notification.channel() == tick_channel
                        && let Some(sent_at) =
                            notification
                                .payload()
                                .parse::<u64>()
                                .ok()
                                .and_then(|micros| {
                                    cache.base.checked_add(Duration::from_micros(micros))
                                })
                    {
                        cache.tick_received(sent_at, listening_since);
                    }
                }
                Ok(Ok(None)) => {
                    tracing::warn!("search cache listener lost its connection; reconnecting");
                    break;
                }
                Ok(Err(error)) => {
                    tracing::warn!(%error, "search cache listener failed; reconnecting");
                    break;
                }
                Err(_) => {
                    tracing::warn!(
                        "search cache listener heard nothing, not even its own ticks; reconnecting"
                    );
                    break;
                }
            }
        }
        cache.listener_lost();
        drop(listener);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The ticker task: every [`TICK_INTERVAL`], notifies this replica's tick channel with
/// the time of sending.
async fn tick(cache: Arc<SearchCache>, options: PgConnectOptions, tick_channel: String) {
    let mut pool = single_connection_pool(options.clone());
    let mut interval = tokio::time::interval(TICK_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        interval.tick().await;
        let sent_at = Instant::now();
        let payload = cache.micros_since_base(sent_at).to_string();
        let sent = tokio::time::timeout(
            TICK_TIMEOUT,
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(&tick_channel)
                .bind(&payload)
                .execute(&pool),
        )
        .await;
        match sent {
            Ok(Ok(_)) => failing = false,
            Ok(Err(error)) => {
                if !failing {
                    tracing::warn!(%error, "search cache ticker cannot reach the database");
                }
                failing = true;
            }
            Err(_) => {
                if !failing {
                    tracing::warn!("search cache ticker timed out; reconnecting");
                }
                failing = true;
                // The connection may be stuck mid-query: start over with a new one.
                pool = single_connection_pool(options.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tessera_format::{CardId, card::CardWire};

    use super::*;
    use crate::storage::CardStatus;

    fn record(identity: &str, byte: u8) -> Arc<CardRecord> {
        Arc::new(CardRecord {
            id: CardId([byte; 32]),
            identity: identity.to_owned(),
            card: CardWire {
                snapshot: vec![byte],
                signature: vec![byte],
            },
            status: CardStatus::Active,
            created_at: 1,
            published_at: 1,
            previous_card_id: None,
            superseded_by: None,
        })
    }

    fn connected_cache(capacity: usize) -> SearchCache {
        let cache = SearchCache::new(capacity);
        let since = Instant::now();
        cache.tick_received(since, since);
        assert!(cache.is_current());
        cache
    }

    #[test]
    fn answers_only_after_a_tick_sent_since_listening() {
        let cache = SearchCache::new(100);
        assert!(!cache.is_current());
        let before = Instant::now();
        let since = before + Duration::from_millis(1);
        cache.tick_received(before, since);
        assert!(
            !cache.is_current(),
            "a tick older than the connection proves nothing"
        );
        cache.tick_received(since, since);
        assert!(cache.is_current());
        let ticket = cache.ticket();
        cache.fill("alice", Some(record("alice", 1)), &ticket);
        assert!(cache.get("alice").is_some());
        cache.listener_lost();
        assert!(!cache.is_current());
        assert!(
            cache.get("alice").is_none(),
            "a lost listener clears the cache"
        );
    }

    #[test]
    fn a_read_that_raced_an_eviction_is_not_stored() {
        let cache = connected_cache(100);
        let ticket = cache.ticket();
        // The database changed (and notified) while the read was in flight.
        cache.evict("alice");
        cache.fill("alice", Some(record("alice", 1)), &ticket);
        assert!(
            cache.get("alice").is_none(),
            "a stale read must not be cached"
        );
        // A read that starts after the eviction is stored.
        let ticket = cache.ticket();
        cache.fill("alice", Some(record("alice", 2)), &ticket);
        assert_eq!(cache.get("alice"), Some(Some(record("alice", 2))));
    }

    #[test]
    fn a_read_that_raced_a_listener_loss_is_not_stored() {
        let cache = connected_cache(100);
        let ticket = cache.ticket();
        cache.listener_lost();
        let reconnected = Instant::now();
        cache.tick_received(reconnected, reconnected);
        assert!(cache.is_current());
        cache.fill("alice", None, &ticket);
        assert!(cache.get("alice").is_none());
    }

    #[test]
    fn answers_stop_when_the_last_proof_is_older_than_the_bound() {
        let cache = SearchCache::new(100);
        let sent = Instant::now();
        cache.tick_received(sent, sent);
        assert!(cache.is_current_at(sent + MAX_STALENESS));
        assert!(!cache.is_current_at(sent + MAX_STALENESS + Duration::from_millis(1)));
        // A later tick renews the proof.
        let later = sent + Duration::from_secs(5);
        cache.tick_received(later, sent);
        assert!(cache.is_current_at(later + MAX_STALENESS));
    }

    #[test]
    fn memory_stays_bounded() {
        let cache = connected_cache(64);
        for n in 0..10_000 {
            let identity = format!("user{n}");
            let ticket = cache.ticket();
            cache.fill(&identity, None, &ticket);
        }
        let held: usize = (0..SHARDS)
            .map(|index| cache.lock(index).map_or(0, |entries| entries.len()))
            .sum();
        assert!(held <= 64, "held {held}");
    }
}
