//! Storage: one trait, [`Storage`], with an SQLite implementation (the embedded default)
//! and a PostgreSQL one (several stateless replicas against one database). The rules
//! that span rows live here, inside transactions: at most one active card per identity
//! (backed by a partial unique index), the operation log's hash chain (backed by a
//! one-row head locked for the duration of an append), backup versions, and group
//! initiators.
//!
//! Both implementations run the same embedded migrations at start ([`migrations`]).

pub mod postgres;
pub mod sqlite;

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tessera_format::{CardId, Identity, card::CardWire};
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

/// What a demo message carries, as the web chat labels it (docs/API.md "Demo mode").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DemoMessageKind {
    /// A chat message.
    Text,
    /// A file (or a part of one).
    File,
    /// A message for the chat client itself (e.g. a group change).
    System,
}

impl DemoMessageKind {
    /// The name stored in the database and shown in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::File => "file",
            Self::System => "system",
        }
    }

    /// Parses [`DemoMessageKind::as_str`] output.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "text" => Some(Self::Text),
            "file" => Some(Self::File),
            "system" => Some(Self::System),
            _ => None,
        }
    }
}

/// A demo message to store: validated by the API, ciphertext opaque.
#[derive(Debug, Clone)]
pub struct NewDemoMessage<'a> {
    /// The sender (the token subject).
    pub sender: &'a Identity,
    /// The recipients, distinct, in the sender's order.
    pub to: &'a [Identity],
    /// The conversation label the client chose.
    pub conversation: &'a str,
    /// The kind of message.
    pub kind: DemoMessageKind,
    /// The ciphertext, stored as received.
    pub ciphertext: &'a [u8],
}

/// A stored demo message, as `GET /demo/messages` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DemoMessage {
    /// Its id: grows with every message, in commit order.
    pub id: u64,
    /// Who sent it.
    #[serde(rename = "from")]
    pub sender: String,
    /// Its recipients, in the sender's order.
    pub to: Vec<String>,
    /// The conversation label.
    pub conversation: String,
    /// The kind of message.
    pub kind: DemoMessageKind,
    /// The ciphertext, as received.
    #[serde(serialize_with = "crate::api::serialize_base64url")]
    pub ciphertext: Vec<u8>,
    /// When the server stored it.
    pub created_at: u64,
}

/// A stored demo message without its ciphertext and recipients: what a listing reads
/// first, to decide how many messages fit into one answer.
#[derive(Debug, Clone)]
pub(crate) struct DemoMessageHeader {
    pub(crate) id: i64,
    pub(crate) sender: String,
    pub(crate) conversation: String,
    pub(crate) kind: DemoMessageKind,
    pub(crate) created_at: u64,
    pub(crate) ciphertext_bytes: u64,
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

    /// Stores a demo message and returns its id, which is larger than every id committed
    /// before it.
    async fn post_demo_message(
        &self,
        message: NewDemoMessage<'_>,
        now: u64,
    ) -> Result<u64, StorageError>;

    /// The demo messages `reader` sent or receives with an id above `after`, ascending:
    /// at most `limit`, and no more than fit into `max_ciphertext_bytes` of ciphertext
    /// (but always the first one, however large).
    async fn demo_messages(
        &self,
        reader: &Identity,
        after: u64,
        limit: u32,
        max_ciphertext_bytes: u64,
    ) -> Result<Vec<DemoMessage>, StorageError>;

    /// One demo message, if it exists and `reader` sent or receives it.
    async fn demo_message(
        &self,
        reader: &Identity,
        id: u64,
    ) -> Result<Option<DemoMessage>, StorageError>;

    /// Up to `limit` identities that have an active card, in byte order.
    async fn identities_with_active_cards(&self, limit: u32) -> Result<Vec<String>, StorageError>;

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

/// Identities the PostgreSQL search cache holds unless configured otherwise.
pub const DEFAULT_SEARCH_CACHE_CAPACITY: usize = 200_000;

/// Connects to the database named by `url` (`sqlite://PATH` or `postgres://…`) and
/// applies the embedded migrations; PostgreSQL gets the default search cache.
pub async fn connect(
    url: &str,
    max_connections: u32,
) -> Result<std::sync::Arc<dyn Storage>, StorageError> {
    connect_with_search_cache(url, max_connections, DEFAULT_SEARCH_CACHE_CAPACITY).await
}

/// [`connect`], with a PostgreSQL search cache of up to `search_cache_capacity`
/// identities (0: none). SQLite always keeps its own exact cache.
pub async fn connect_with_search_cache(
    url: &str,
    max_connections: u32,
    search_cache_capacity: usize,
) -> Result<std::sync::Arc<dyn Storage>, StorageError> {
    if let Some(path) = sqlite::path_of_url(url) {
        Ok(std::sync::Arc::new(
            sqlite::SqliteStorage::open(path, max_connections).await?,
        ))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(std::sync::Arc::new(
            postgres::PostgresStorage::connect(url, max_connections, search_cache_capacity).await?,
        ))
    } else {
        Err(StorageError::Database(sqlx::Error::Configuration(
            "database URL must start with sqlite:// or postgres://".into(),
        )))
    }
}

/// Converts a stored 32-byte column into a card id.
pub(crate) fn card_id_from_column(bytes: &[u8]) -> Result<CardId, StorageError> {
    <[u8; 32]>::try_from(bytes)
        .map(CardId)
        .map_err(|_| StorageError::Corrupt("a card id is not 32 bytes"))
}

/// Converts a stored 32-byte column into a hash.
pub(crate) fn hash_from_column(bytes: &[u8]) -> Result<[u8; 32], StorageError> {
    <[u8; 32]>::try_from(bytes).map_err(|_| StorageError::Corrupt("a hash is not 32 bytes"))
}

/// Converts a stored non-negative integer column into `u64`.
pub(crate) fn u64_from_column(value: i64) -> Result<u64, StorageError> {
    u64::try_from(value).map_err(|_| StorageError::Corrupt("a stored number is negative"))
}

/// Converts a `u64` into the signed 64-bit integer both databases store.
pub(crate) fn i64_for_column(value: u64) -> Result<i64, StorageError> {
    i64::try_from(value).map_err(|_| StorageError::Corrupt("a number exceeds 2^63-1"))
}

/// The embedded schema migrations, applied in order at start.
pub mod migrations {
    /// SQLite migrations: (version, name, SQL).
    pub const SQLITE: &[(i64, &str, &str)] = &[
        (
            1,
            "initial",
            include_str!("../../migrations/sqlite/0001_initial.sql"),
        ),
        (
            2,
            "demo_messages",
            include_str!("../../migrations/sqlite/0002_demo_messages.sql"),
        ),
    ];
    /// PostgreSQL migrations: (version, name, SQL).
    pub const POSTGRES: &[(i64, &str, &str)] = &[
        (
            1,
            "initial",
            include_str!("../../migrations/postgres/0001_initial.sql"),
        ),
        (
            2,
            "demo_messages",
            include_str!("../../migrations/postgres/0002_demo_messages.sql"),
        ),
        (
            3,
            "card_change_notifications",
            include_str!("../../migrations/postgres/0003_card_change_notifications.sql"),
        ),
    ];
}

/// The SQL column list that [`card_record_from_row`] reads.
pub(crate) const CARD_COLUMNS: &str = "id, identity, snapshot, signature, status, created_at, published_at, previous_card_id, superseded_by";

/// A card row (columns [`CARD_COLUMNS`]) as a [`CardRecord`], for either database.
pub(crate) fn card_record_from_row<R>(row: &R) -> Result<CardRecord, StorageError>
where
    R: sqlx::Row,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let status: String = row.try_get("status")?;
    let previous: Option<Vec<u8>> = row.try_get("previous_card_id")?;
    let superseded_by: Option<Vec<u8>> = row.try_get("superseded_by")?;
    Ok(CardRecord {
        id: card_id_from_column(&row.try_get::<Vec<u8>, _>("id")?)?,
        identity: row.try_get("identity")?,
        card: CardWire {
            snapshot: row.try_get("snapshot")?,
            signature: row.try_get("signature")?,
        },
        status: CardStatus::from_name(&status).ok_or(StorageError::Corrupt("card status"))?,
        created_at: u64_from_column(row.try_get("created_at")?)?,
        published_at: u64_from_column(row.try_get("published_at")?)?,
        previous_card_id: previous.as_deref().map(card_id_from_column).transpose()?,
        superseded_by: superseded_by
            .as_deref()
            .map(card_id_from_column)
            .transpose()?,
    })
}

/// A log row (seq, op, identity, card_id, timestamp, prev_hash, hash) as a [`LogEntry`].
pub(crate) fn log_entry_from_row<R>(row: &R) -> Result<LogEntry, StorageError>
where
    R: sqlx::Row,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let op: String = row.try_get("op")?;
    Ok(LogEntry {
        seq: u64_from_column(row.try_get("seq")?)?,
        op: crate::log_chain::LogOperation::from_name(&op)
            .ok_or(StorageError::Corrupt("log operation"))?,
        identity: row.try_get("identity")?,
        card_id: card_id_from_column(&row.try_get::<Vec<u8>, _>("card_id")?)?,
        timestamp: u64_from_column(row.try_get("timestamp")?)?,
        prev_hash: hash_from_column(&row.try_get::<Vec<u8>, _>("prev_hash")?)?,
        hash: hash_from_column(&row.try_get::<Vec<u8>, _>("hash")?)?,
    })
}

/// A card already stored, as the chain rules see it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChainLink {
    /// Its id.
    pub(crate) id: CardId,
    /// Its creation time.
    pub(crate) created_at: u64,
}

/// The chain rules of docs/API.md (`POST /v1/cards`), shared by both databases: given
/// the identity's active card and its most recent card, returns the card the new one
/// replaces (if any), or why it may not be published.
pub(crate) fn check_chain(
    new: &NewCard,
    active: Option<ChainLink>,
    latest: Option<ChainLink>,
) -> Result<Option<ChainLink>, StorageError> {
    let predecessor = match (active, new.previous_card_id) {
        (Some(active), Some(previous)) if active.id == previous => Some(active),
        (Some(_), _) => {
            return Err(StorageError::CardConflict(
                "the identity has an active card and the new card does not name it as \
                 previous_card_id; fetch the active card and rotate from it",
            ));
        }
        (None, None) => None,
        (None, Some(previous)) => match latest {
            Some(latest) if latest.id == previous => Some(latest),
            _ => {
                return Err(StorageError::CardConflict(
                    "previous_card_id does not name the identity's most recent card",
                ));
            }
        },
    };
    if predecessor.is_some_and(|p| p.created_at > new.created_at) {
        return Err(StorageError::CardConflict(
            "the card is older than the card it replaces",
        ));
    }
    Ok(predecessor)
}

/// The "outdated" answer for `asked`, given the status and successor of each known card.
pub(crate) fn outdated_from_known(
    asked: &[CardId],
    known: &std::collections::HashMap<CardId, (String, Option<CardId>)>,
) -> Vec<OutdatedCard> {
    let mut seen = std::collections::HashSet::new();
    asked
        .iter()
        .filter(|id| seen.insert(**id))
        .filter_map(|id| match known.get(id) {
            None => Some(OutdatedCard {
                card_id: *id,
                status: "unknown",
                superseded_by: None,
            }),
            Some((status, superseded_by)) => match CardStatus::from_name(status) {
                Some(CardStatus::Active) => None,
                Some(status) => Some(OutdatedCard {
                    card_id: *id,
                    status: status.as_str(),
                    superseded_by: *superseded_by,
                }),
                // A status the schema's CHECK forbids; report it as unknown rather than
                // failing the whole batch.
                None => Some(OutdatedCard {
                    card_id: *id,
                    status: "unknown",
                    superseded_by: None,
                }),
            },
        })
        .collect()
}

/// How many of `headers` (ascending ids) one listing answers: at most as many as fit
/// into `max_ciphertext_bytes`, but at least one, so a large message never blocks a
/// reader's cursor.
pub(crate) fn demo_page_length(headers: &[DemoMessageHeader], max_ciphertext_bytes: u64) -> usize {
    let mut total: u64 = 0;
    headers
        .iter()
        .take_while(|header| {
            total = total.saturating_add(header.ciphertext_bytes);
            total <= max_ciphertext_bytes
        })
        .count()
        .max(headers.len().min(1))
}

/// A demo message header row (id, sender, conversation, kind, created_at,
/// ciphertext_bytes) as a [`DemoMessageHeader`], for either database.
pub(crate) fn demo_message_header_from_row<R>(row: &R) -> Result<DemoMessageHeader, StorageError>
where
    R: sqlx::Row,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let kind: String = row.try_get("kind")?;
    Ok(DemoMessageHeader {
        id: row.try_get("id")?,
        sender: row.try_get("sender")?,
        conversation: row.try_get("conversation")?,
        kind: DemoMessageKind::from_name(&kind).ok_or(StorageError::Corrupt("message kind"))?,
        created_at: u64_from_column(row.try_get("created_at")?)?,
        ciphertext_bytes: u64_from_column(row.try_get("ciphertext_bytes")?)?,
    })
}

/// Joins message headers with their ciphertexts and recipients (keyed by message id).
pub(crate) fn assemble_demo_messages(
    headers: Vec<DemoMessageHeader>,
    mut ciphertexts: std::collections::HashMap<i64, Vec<u8>>,
    mut recipients: std::collections::HashMap<i64, Vec<String>>,
) -> Result<Vec<DemoMessage>, StorageError> {
    headers
        .into_iter()
        .map(|header| {
            Ok(DemoMessage {
                id: u64_from_column(header.id)?,
                sender: header.sender,
                to: recipients.remove(&header.id).unwrap_or_default(),
                conversation: header.conversation,
                kind: header.kind,
                ciphertext: ciphertexts
                    .remove(&header.id)
                    .ok_or(StorageError::Corrupt("a message lost its ciphertext"))?,
                created_at: header.created_at,
            })
        })
        .collect()
}
