//! SQLite storage: the embedded default, one file in the data directory.
//!
//! Durability: WAL journal with `synchronous = FULL`, so a write is on disk before the
//! API acknowledges it and survives a crash or power loss. Concurrency: one writer
//! connection (SQLite allows one writer at a time anyway; queueing in-process avoids
//! `SQLITE_BUSY` and lock upgrades) and a pool of reader connections, which WAL lets run
//! alongside the writer. One database file serves one server process.
//!
//! Search answers come from a write-through cache of each identity's active card (or
//! its absence) when they can: only this process writes the file, so the cache is exact
//! (see [`ActiveCardCache`]). PostgreSQL replicas, where other processes write, keep theirs
//! current through notifications instead (`postgres::search_cache`).

use std::{
    collections::HashMap,
    path::Path,
    str::FromStr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tessera_format::{CardId, Identity};

use super::{
    Backup, BackupWrite, CardRecord, GroupTickets, NewCard, NewGroupTicket, OutdatedCard,
    Precondition, SearchCacheCounters, SearchCacheCounts, Storage, StorageError,
    chain_rules::outdated_from_known,
    migrations,
    queries::sqlite as queries,
    rows::{CARD_COLUMNS, card_record_from_row, known_card_from_row},
};
use crate::{
    log_chain::{LogEntry, LogHead},
    sharded_map::ShardedMap,
};

/// How long a connection waits for a lock held by another connection before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The file path of an `sqlite://PATH` or `sqlite:PATH` URL, or `None` for other URLs.
pub fn path_of_url(url: &str) -> Option<&str> {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
}

/// Identities whose search answer is cached at most (bounds memory: roughly 1 KiB each).
const MAX_CACHED_IDENTITIES: usize = 200_000;

/// Each identity's active card, or `None` for "has none", as the database last said.
///
/// Writers remove an identity's entry after their transaction commits. A reader that
/// missed the cache fills it only if no write committed while it was reading: it notes
/// `generation` before querying and, under the entry's shard lock, inserts only if
/// `generation` is unchanged. Writers bump `generation` before removing (under the same
/// lock), so a stale read can never land after the removal that would have cleared it.
struct ActiveCardCache {
    entries: ShardedMap<String, Option<Arc<CardRecord>>>,
    generation: AtomicU64,
    counters: SearchCacheCounters,
}

impl ActiveCardCache {
    fn new() -> Self {
        Self {
            entries: ShardedMap::new(),
            generation: AtomicU64::new(0),
            counters: SearchCacheCounters::default(),
        }
    }

    /// After a committed change to `identity`'s cards.
    fn invalidate(&self, identity: &str) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.entries.remove(identity);
    }

    /// Caches what a read that started at `generation` found, unless a write committed
    /// since.
    fn fill(&self, identity: &str, card: Option<Arc<CardRecord>>, generation: u64) {
        let shard_capacity =
            ShardedMap::<String, Option<Arc<CardRecord>>>::shard_capacity(MAX_CACHED_IDENTITIES);
        self.entries
            .with_shard(identity.to_owned(), |entries, identity| {
                if self.generation.load(Ordering::SeqCst) != generation {
                    return;
                }
                if entries.len() >= shard_capacity {
                    entries.clear();
                }
                entries.insert(identity, card);
            });
    }
}

/// The SQLite implementation of [`Storage`].
#[derive(Clone)]
pub struct SqliteStorage {
    /// The one writer connection (demo mode's relay writes through it too).
    pub(in crate::storage) writer: SqlitePool,
    pub(in crate::storage) reader: SqlitePool,
    active_cards: Arc<ActiveCardCache>,
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage").finish_non_exhaustive()
    }
}

impl SqliteStorage {
    /// Opens (creating if needed) the database file at `path`, applies migrations, and
    /// opens up to `max_readers` reader connections.
    pub async fn open(path: impl AsRef<Path>, max_readers: u32) -> Result<Self, StorageError> {
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path.as_ref())
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .connect_with(options.clone())
            .await?;
        apply_migrations(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(max_readers.max(1))
            .connect_with(options.read_only(true))
            .await?;
        Ok(Self {
            writer,
            reader,
            active_cards: Arc::new(ActiveCardCache::new()),
        })
    }
}

async fn apply_migrations(writer: &SqlitePool) -> Result<(), StorageError> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS tessera_migrations (
             version INTEGER NOT NULL PRIMARY KEY,
             name TEXT NOT NULL,
             applied_at INTEGER NOT NULL
         )",
    )
    .execute(writer)
    .await?;
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM tessera_migrations")
        .fetch_all(&mut *tx)
        .await?;
    let newest_known = migrations::SQLITE.iter().map(|m| m.0).max().unwrap_or(0);
    if applied.iter().any(|v| *v > newest_known) {
        return Err(StorageError::Corrupt(
            "the database schema is newer than this server; upgrade tessera-server",
        ));
    }
    for (version, name, sql) in migrations::SQLITE {
        if applied.contains(version) {
            continue;
        }
        sqlx::raw_sql(sql).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO tessera_migrations (version, name, applied_at) VALUES (?1, ?2, unixepoch())")
            .bind(version)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tracing::info!(version, name, "applied SQLite migration");
    }
    tx.commit().await?;
    Ok(())
}

/// `items` as a JSON array, for `json_each`.
pub(in crate::storage) fn json_array<T: serde::Serialize>(
    items: &[T],
) -> Result<String, StorageError> {
    serde_json::to_string(items).map_err(|_| StorageError::Corrupt("cannot encode a JSON array"))
}

#[async_trait]
impl Storage for SqliteStorage {
    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    async fn ping(&self) -> Result<(), StorageError> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn publish_card(&self, card: NewCard, now: u64) -> Result<CardRecord, StorageError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let head = queries::log_head(&mut *tx).await?;
        let record = queries::publish_card(&mut tx, &card, head, now).await?;
        tx.commit().await?;
        self.active_cards.invalidate(card.identity.as_str());
        Ok(record)
    }

    async fn search_active_cards(
        &self,
        identities: &[Identity],
    ) -> Result<Vec<CardRecord>, StorageError> {
        let mut answers: Vec<Option<Option<Arc<CardRecord>>>> = identities
            .iter()
            .map(|identity| self.active_cards.entries.get_cloned(identity.as_str()))
            .collect();
        let missed: Vec<&str> = identities
            .iter()
            .zip(&answers)
            .filter(|(_, answer)| answer.is_none())
            .map(|(identity, _)| identity.as_str())
            .collect();
        self.active_cards
            .counters
            .record(identities.len() - missed.len(), missed.len());
        if !missed.is_empty() {
            let generation = self.active_cards.generation.load(Ordering::SeqCst);
            let sql = format!(
                "SELECT {CARD_COLUMNS} FROM cards
                 WHERE status = 'active' AND identity IN (SELECT value FROM json_each(?1))"
            );
            let rows = sqlx::query(&sql)
                .bind(json_array(&missed)?)
                .fetch_all(&self.reader)
                .await?;
            let mut found: HashMap<String, Arc<CardRecord>> = HashMap::with_capacity(rows.len());
            for row in &rows {
                let record = card_record_from_row(row)?;
                found.insert(record.identity.clone(), Arc::new(record));
            }
            for (identity, answer) in identities.iter().zip(answers.iter_mut()) {
                if answer.is_none() {
                    let card = found.get(identity.as_str()).cloned();
                    self.active_cards
                        .fill(identity.as_str(), card.clone(), generation);
                    *answer = Some(card);
                }
            }
        }
        Ok(answers
            .into_iter()
            .flatten()
            .flatten()
            .map(|card| CardRecord::clone(&card))
            .collect())
    }

    async fn card(&self, id: &CardId) -> Result<Option<CardRecord>, StorageError> {
        queries::card_by_id(&self.reader, id).await
    }

    async fn revoke_card(
        &self,
        owner: &Identity,
        id: &CardId,
        now: u64,
    ) -> Result<CardRecord, StorageError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let head = queries::log_head(&mut *tx).await?;
        let record = queries::revoke_card(&mut tx, owner, id, head, now).await?;
        tx.commit().await?;
        self.active_cards.invalidate(owner.as_str());
        Ok(record)
    }

    async fn card_history(&self, identity: &Identity) -> Result<Vec<CardRecord>, StorageError> {
        queries::card_history(&self.reader, identity).await
    }

    async fn outdated_cards(&self, ids: &[CardId]) -> Result<Vec<OutdatedCard>, StorageError> {
        let hex_ids: Vec<String> = ids.iter().map(|id| crate::hex::hex32(&id.0)).collect();
        let rows = sqlx::query(
            "SELECT id, status, superseded_by FROM cards
             WHERE id IN (SELECT unhex(value) FROM json_each($1))",
        )
        .bind(json_array(&hex_ids)?)
        .fetch_all(&self.reader)
        .await?;
        let known = rows
            .iter()
            .map(known_card_from_row)
            .collect::<Result<HashMap<_, _>, _>>()?;
        Ok(outdated_from_known(ids, &known))
    }

    async fn put_backup(
        &self,
        owner: &Identity,
        name: &str,
        blob: &[u8],
        precondition: Precondition,
        now: u64,
    ) -> Result<BackupWrite, StorageError> {
        queries::put_backup(&self.writer, owner, name, blob, precondition, now).await
    }

    async fn backup(&self, owner: &Identity, name: &str) -> Result<Option<Backup>, StorageError> {
        queries::backup(&self.reader, owner, name).await
    }

    async fn delete_backup(
        &self,
        owner: &Identity,
        name: &str,
        precondition: Precondition,
        now: u64,
    ) -> Result<(), StorageError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        queries::delete_backup(&mut tx, owner, name, precondition, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn put_group_ticket(
        &self,
        caller: &Identity,
        ticket: NewGroupTicket<'_>,
        now: u64,
    ) -> Result<(), StorageError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        queries::insert_group_ticket(&mut tx, caller, &ticket, now).await?;
        let names: Vec<&str> = ticket.participants.iter().map(Identity::as_str).collect();
        sqlx::query(
            "INSERT INTO group_participants (group_id, epoch, position, identity)
             SELECT $1, $2, key, value FROM json_each($3)",
        )
        .bind(ticket.group_id)
        .bind(i64::from(ticket.epoch))
        .bind(json_array(&names)?)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn group_tickets(
        &self,
        caller: &Identity,
        group_id: &str,
        after: Option<u32>,
        limit: u32,
    ) -> Result<Option<GroupTickets>, StorageError> {
        // One read transaction, so the tickets and their participants are one snapshot.
        let mut tx = self.reader.begin().await?;
        let tickets = queries::group_tickets(&mut tx, caller, group_id, after, limit).await?;
        tx.commit().await?;
        Ok(tickets)
    }

    async fn delete_group(&self, caller: &Identity, group_id: &str) -> Result<(), StorageError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        queries::delete_group(&mut tx, caller, group_id).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn log_head(&self) -> Result<LogHead, StorageError> {
        queries::log_head(&self.reader).await
    }

    async fn log_entries(&self, after: u64, limit: u32) -> Result<Vec<LogEntry>, StorageError> {
        queries::log_entries(&self.reader, after, limit).await
    }

    fn search_cache_counts(&self) -> SearchCacheCounts {
        self.active_cards.counters.counts()
    }
}
