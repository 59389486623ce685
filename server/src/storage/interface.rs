//! The [`Storage`] trait and the records it takes and returns.

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use serde::Serialize;
use tessera_format::{CardId, Identity, card::CardWire, keys::PublicKeys};
use thiserror::Error;

use crate::log_chain::{LogEntry, LogHead};

/// Why a storage operation failed. Rule violations carry a message for the client.
#[derive(Debug, Error)]
pub enum StorageError {
    /// No such card, backup or group (or the caller may not see it).
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// The resource belongs to someone else.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// The card does not continue its identity's chain.
    #[error("card conflict: {0}")]
    CardConflict(&'static str),
    /// One of the card's public keys belongs to another identity.
    #[error("key in use: {0}")]
    KeyInUse(&'static str),
    /// The card id or group epoch exists already.
    #[error("already exists: {0}")]
    AlreadyExists(&'static str),
    /// A card to revoke is not active.
    #[error("card is not active")]
    CardNotActive,
    /// A backup precondition does not hold.
    #[error("backup version mismatch")]
    VersionMismatch,
    /// A stored value does not decode (a bug or a tampered database).
    #[error("corrupt stored data: {0}")]
    Corrupt(&'static str),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// A card's place in its identity's chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CardStatus {
    /// The identity's current card.
    Active,
    /// Replaced by a newer card of the same identity.
    Superseded,
    /// Revoked by its owner.
    Revoked,
}

impl CardStatus {
    /// The name stored in the database and shown in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Superseded => "superseded",
            Self::Revoked => "revoked",
        }
    }

    /// Parses [`CardStatus::as_str`] output.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "active" => Some(Self::Active),
            "superseded" => Some(Self::Superseded),
            "revoked" => Some(Self::Revoked),
            _ => None,
        }
    }
}

/// A card as the directory holds it: the signed parts verbatim plus the directory's
/// bookkeeping. This is the `CardRecord` of docs/API.md.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CardRecord {
    /// SHA-256 of the snapshot.
    #[serde(serialize_with = "crate::hex::serialize_card_id")]
    pub id: CardId,
    /// The card's identity.
    pub identity: String,
    /// The snapshot and self-signature, exactly as published.
    #[serde(flatten)]
    pub card: CardWire,
    /// Where the card stands in its chain.
    pub status: CardStatus,
    /// The card's own creation time (from the snapshot).
    pub created_at: u64,
    /// When the directory accepted it.
    pub published_at: u64,
    /// The card it replaces, if any.
    #[serde(serialize_with = "crate::hex::serialize_optional_card_id")]
    pub previous_card_id: Option<CardId>,
    /// The card that replaced it, if any.
    #[serde(serialize_with = "crate::hex::serialize_optional_card_id")]
    pub superseded_by: Option<CardId>,
}

/// A verified card to publish, with the fields the storage rules need.
#[derive(Debug, Clone)]
pub struct NewCard {
    /// SHA-256 of the snapshot.
    pub id: CardId,
    /// The card's identity (already checked against the caller).
    pub identity: Identity,
    /// The snapshot and self-signature.
    pub card: CardWire,
    /// The card's public keys.
    pub keys: PublicKeys,
    /// The card's creation time.
    pub created_at: u64,
    /// The card it claims to replace.
    pub previous_card_id: Option<CardId>,
}

/// One non-active card in an "outdated" answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutdatedCard {
    /// The card asked about.
    #[serde(serialize_with = "crate::hex::serialize_card_id")]
    pub card_id: CardId,
    /// `superseded`, `revoked` or `unknown`.
    pub status: &'static str,
    /// Its successor, if one names it.
    #[serde(serialize_with = "crate::hex::serialize_optional_card_id")]
    pub superseded_by: Option<CardId>,
}

/// The condition a backup write or delete is made under (HTTP `If-Match` /
/// `If-None-Match`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// No condition.
    None,
    /// `If-None-Match: *`: only if the backup does not exist.
    MustNotExist,
    /// `If-Match: *`: only if the backup exists.
    MustExist,
    /// `If-Match: "<version>"`: only if this is the current version.
    VersionIs(u64),
}

/// The outcome of a backup write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupWrite {
    /// The version now stored.
    pub version: u64,
    /// Whether the backup did not exist before (201 rather than 200).
    pub created: bool,
}

/// A stored backup blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    /// Its current version.
    pub version: u64,
    /// The opaque (client-encrypted) blob.
    pub blob: Vec<u8>,
    /// When it was last written.
    pub updated_at: u64,
}

/// One epoch's ticket of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupTicket {
    /// The epoch number.
    pub epoch: u32,
    /// Who may read it, in the order the initiator gave.
    pub participants: Vec<String>,
    /// The opaque ticket blob.
    pub ticket: Vec<u8>,
    /// When it was stored.
    pub created_at: u64,
}

/// The tickets of a group that a caller may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupTickets {
    /// Who created the group.
    pub initiator: String,
    /// The visible epochs, oldest first.
    pub tickets: Vec<GroupTicket>,
}

/// A new group ticket to store.
#[derive(Debug, Clone)]
pub struct NewGroupTicket<'a> {
    /// The group.
    pub group_id: &'a str,
    /// The epoch.
    pub epoch: u32,
    /// The participants (validated, distinct, including the caller).
    pub participants: &'a [Identity],
    /// The opaque ticket.
    pub ticket: &'a [u8],
}
/// Everything the API stores. Implementations must make each method atomic.
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// Checks that the database answers (readiness).
    async fn ping(&self) -> Result<(), StorageError>;

    /// Closes the connections (at shutdown; SQLite checkpoints its WAL).
    async fn close(&self);

    /// Publishes a card under the chain rules of docs/API.md and appends a `publish`
    /// log entry, atomically.
    async fn publish_card(&self, card: NewCard, now: u64) -> Result<CardRecord, StorageError>;

    /// The active cards of these identities, in the order asked; identities without an
    /// active card are absent.
    async fn search_active_cards(
        &self,
        identities: &[Identity],
    ) -> Result<Vec<CardRecord>, StorageError>;

    /// One card by id, any status.
    async fn card(&self, id: &CardId) -> Result<Option<CardRecord>, StorageError>;

    /// Revokes `owner`'s active card `id` and appends a `revoke` log entry, atomically.
    async fn revoke_card(
        &self,
        owner: &Identity,
        id: &CardId,
        now: u64,
    ) -> Result<CardRecord, StorageError>;

    /// Every card the identity published, oldest first.
    async fn card_history(&self, identity: &Identity) -> Result<Vec<CardRecord>, StorageError>;

    /// The given cards that are not active, in the order asked.
    async fn outdated_cards(&self, ids: &[CardId]) -> Result<Vec<OutdatedCard>, StorageError>;

    /// Writes `owner`'s backup `name` under `precondition`.
    async fn put_backup(
        &self,
        owner: &Identity,
        name: &str,
        blob: &[u8],
        precondition: Precondition,
        now: u64,
    ) -> Result<BackupWrite, StorageError>;

    /// Reads `owner`'s backup `name`.
    async fn backup(&self, owner: &Identity, name: &str) -> Result<Option<Backup>, StorageError>;

    /// Deletes `owner`'s backup `name` under `precondition`.
    async fn delete_backup(
        &self,
        owner: &Identity,
        name: &str,
        precondition: Precondition,
        now: u64,
    ) -> Result<(), StorageError>;

    /// Stores a group ticket; the first one of a group makes `caller` its initiator.
    async fn put_group_ticket(
        &self,
        caller: &Identity,
        ticket: NewGroupTicket<'_>,
        now: u64,
    ) -> Result<(), StorageError>;

    /// Up to `limit` tickets of `group_id` whose participants include `caller`, after
    /// epoch `after`, oldest first; `None` when the group does not exist or `caller`
    /// never took part.
    async fn group_tickets(
        &self,
        caller: &Identity,
        group_id: &str,
        after: Option<u32>,
        limit: u32,
    ) -> Result<Option<GroupTickets>, StorageError>;

    /// Deletes a group and all its tickets; only its initiator may.
    async fn delete_group(&self, caller: &Identity, group_id: &str) -> Result<(), StorageError>;

    /// The log's size and head hash.
    async fn log_head(&self) -> Result<LogHead, StorageError>;

    /// Up to `limit` log entries after `after`, in order.
    async fn log_entries(&self, after: u64, limit: u32) -> Result<Vec<LogEntry>, StorageError>;

    /// Where searches' answers came from since the start (for /metrics).
    fn search_cache_counts(&self) -> SearchCacheCounts;
}

/// Identities looked up by searches since the start, by where each answer came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchCacheCounts {
    /// Answered from the cache.
    pub hits: u64,
    /// Not cached: read from the database (and cached when possible).
    pub misses: u64,
    /// Read from the database because the cache could not vouch for its freshness
    /// (PostgreSQL: the listener is not connected or its proof is late; or no cache).
    pub bypassed: u64,
}

/// The counters behind [`SearchCacheCounts`].
#[derive(Debug, Default)]
pub(crate) struct SearchCacheCounters {
    hits: AtomicU64,
    misses: AtomicU64,
    bypassed: AtomicU64,
}

impl SearchCacheCounters {
    /// One search's lookups: `hits` from the cache, `misses` read from the database.
    pub(crate) fn record(&self, hits: usize, misses: usize) {
        self.hits.fetch_add(hits as u64, Ordering::Relaxed);
        self.misses.fetch_add(misses as u64, Ordering::Relaxed);
    }

    /// One search's lookups that bypassed the cache.
    pub(crate) fn record_bypass(&self, lookups: usize) {
        self.bypassed.fetch_add(lookups as u64, Ordering::Relaxed);
    }

    pub(crate) fn counts(&self) -> SearchCacheCounts {
        SearchCacheCounts {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            bypassed: self.bypassed.load(Ordering::Relaxed),
        }
    }
}
