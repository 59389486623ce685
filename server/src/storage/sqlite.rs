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
use sqlx::{
    Row, SqliteConnection,
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
    },
};
use tessera_format::{CardId, Identity};

use super::{
    Backup, BackupWrite, CARD_COLUMNS, CardRecord, ChainLink, DemoMessage, DemoMessageHeader,
    GroupTicket, GroupTickets, NewCard, NewDemoMessage, NewGroupTicket, OutdatedCard, Precondition,
    SearchCacheCounters, SearchCacheCounts, Storage, StorageError, assemble_demo_messages,
    card_id_from_column, card_record_from_row, check_chain, demo_message_header_from_row,
    demo_page_length, hash_from_column, i64_for_column, log_entry_from_row, migrations,
    u64_from_column,
};
use crate::{
    log_chain::{LogEntry, LogHead, LogOperation},
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
    writer: SqlitePool,
    reader: SqlitePool,
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

async fn chain_link(
    conn: &mut SqliteConnection,
    sql: &str,
    identity: &str,
) -> Result<Option<ChainLink>, StorageError> {
    let row = sqlx::query(sql)
        .bind(identity)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|row| {
        Ok(ChainLink {
            id: card_id_from_column(&row.try_get::<Vec<u8>, _>("id")?)?,
            created_at: u64_from_column(row.try_get("created_at")?)?,
        })
    })
    .transpose()
}

/// Appends an entry after the current head, inside the caller's transaction.
async fn append_log(
    conn: &mut SqliteConnection,
    op: LogOperation,
    identity: &str,
    card_id: CardId,
    now: u64,
) -> Result<LogEntry, StorageError> {
    let head = sqlx::query("SELECT size, hash FROM log_head WHERE singleton = 1")
        .fetch_one(&mut *conn)
        .await?;
    let size = u64_from_column(head.try_get("size")?)?;
    let prev_hash = hash_from_column(&head.try_get::<Vec<u8>, _>("hash")?)?;
    let entry = LogEntry::next(prev_hash, size + 1, op, identity, card_id, now)
        .map_err(|_| StorageError::Corrupt("identity too long for the log"))?;
    sqlx::query(
        "INSERT INTO log_entries (seq, op, identity, card_id, timestamp, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .bind(i64_for_column(entry.seq)?)
    .bind(op.as_str())
    .bind(identity)
    .bind(&card_id.0[..])
    .bind(i64_for_column(now)?)
    .bind(&entry.prev_hash[..])
    .bind(&entry.hash[..])
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE log_head SET size = ?1, hash = ?2 WHERE singleton = 1")
        .bind(i64_for_column(entry.seq)?)
        .bind(&entry.hash[..])
        .execute(&mut *conn)
        .await?;
    Ok(entry)
}

async fn card_by_id(
    conn: &mut SqliteConnection,
    id: &CardId,
) -> Result<Option<CardRecord>, StorageError> {
    let sql = format!("SELECT {CARD_COLUMNS} FROM cards WHERE id = ?1");
    let row = sqlx::query(&sql)
        .bind(&id.0[..])
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(card_record_from_row).transpose()
}

fn json_array<T: serde::Serialize>(items: &[T]) -> Result<String, StorageError> {
    serde_json::to_string(items).map_err(|_| StorageError::Corrupt("cannot encode a JSON array"))
}

impl SqliteStorage {
    /// The ciphertexts and recipients of `headers`, joined into messages.
    async fn complete_demo_messages(
        &self,
        headers: Vec<DemoMessageHeader>,
    ) -> Result<Vec<DemoMessage>, StorageError> {
        if headers.is_empty() {
            return Ok(Vec::new());
        }
        let ids = json_array(&headers.iter().map(|h| h.id).collect::<Vec<_>>())?;
        let mut ciphertexts = HashMap::with_capacity(headers.len());
        for row in sqlx::query(
            "SELECT id, ciphertext FROM demo_messages
             WHERE id IN (SELECT value FROM json_each(?1))",
        )
        .bind(&ids)
        .fetch_all(&self.reader)
        .await?
        {
            ciphertexts.insert(row.try_get::<i64, _>("id")?, row.try_get("ciphertext")?);
        }
        let mut recipients: HashMap<i64, Vec<String>> = HashMap::with_capacity(headers.len());
        for row in sqlx::query(
            "SELECT message_id, identity FROM demo_message_recipients
             WHERE message_id IN (SELECT value FROM json_each(?1))
             ORDER BY message_id, position",
        )
        .bind(&ids)
        .fetch_all(&self.reader)
        .await?
        {
            recipients
                .entry(row.try_get("message_id")?)
                .or_default()
                .push(row.try_get("identity")?);
        }
        assemble_demo_messages(headers, ciphertexts, recipients)
    }
}

/// The columns [`demo_message_header_from_row`] reads; `length` does not load the blob.
const DEMO_HEADER_COLUMNS: &str =
    "id, sender, conversation, kind, created_at, length(ciphertext) AS ciphertext_bytes";

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
        let identity = card.identity.as_str();
        if sqlx::query("SELECT 1 FROM cards WHERE id = ?1")
            .bind(&card.id.0[..])
            .fetch_optional(&mut *tx)
            .await?
            .is_some()
        {
            return Err(StorageError::AlreadyExists(
                "a card with this id is already published",
            ));
        }
        let active = chain_link(
            &mut tx,
            "SELECT id, created_at FROM cards WHERE identity = ?1 AND status = 'active'",
            identity,
        )
        .await?;
        let latest = chain_link(
            &mut tx,
            "SELECT id, created_at FROM cards WHERE identity = ?1 ORDER BY log_seq DESC LIMIT 1",
            identity,
        )
        .await?;
        let predecessor = check_chain(&card, active, latest)?;
        let entry = append_log(&mut tx, LogOperation::Publish, identity, card.id, now).await?;
        if let Some(predecessor) = predecessor {
            sqlx::query(
                "UPDATE cards SET superseded_by = ?1,
                     status = CASE WHEN status = 'active' THEN 'superseded' ELSE status END
                 WHERE id = ?2",
            )
            .bind(&card.id.0[..])
            .bind(&predecessor.id.0[..])
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO cards (id, identity, snapshot, signature, status, created_at,
                                published_at, previous_card_id, superseded_by, log_seq)
             VALUES (?1, ?2, ?3, ?4, 'active', ?5, ?6, ?7, NULL, ?8)",
        )
        .bind(&card.id.0[..])
        .bind(identity)
        .bind(&card.card.snapshot)
        .bind(&card.card.signature)
        .bind(i64_for_column(card.created_at)?)
        .bind(i64_for_column(now)?)
        .bind(card.previous_card_id.as_ref().map(|id| id.0.to_vec()))
        .bind(i64_for_column(entry.seq)?)
        .execute(&mut *tx)
        .await?;
        let record = card_by_id(&mut tx, &card.id)
            .await?
            .ok_or(StorageError::Corrupt(
                "a card vanished inside its transaction",
            ))?;
        tx.commit().await?;
        self.active_cards.invalidate(identity);
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
        let mut conn = self.reader.acquire().await?;
        card_by_id(&mut conn, id).await
    }

    async fn revoke_card(
        &self,
        owner: &Identity,
        id: &CardId,
        now: u64,
    ) -> Result<CardRecord, StorageError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let record = card_by_id(&mut tx, id)
            .await?
            .ok_or(StorageError::NotFound("no card with this id"))?;
        if record.identity != owner.as_str() {
            return Err(StorageError::Forbidden(
                "the card belongs to another identity",
            ));
        }
        if record.status != super::CardStatus::Active {
            return Err(StorageError::CardNotActive);
        }
        append_log(&mut tx, LogOperation::Revoke, owner.as_str(), *id, now).await?;
        sqlx::query("UPDATE cards SET status = 'revoked' WHERE id = ?1")
            .bind(&id.0[..])
            .execute(&mut *tx)
            .await?;
        let record = card_by_id(&mut tx, id).await?.ok_or(StorageError::Corrupt(
            "a card vanished inside its transaction",
        ))?;
        tx.commit().await?;
        self.active_cards.invalidate(owner.as_str());
        Ok(record)
    }

    async fn card_history(&self, identity: &Identity) -> Result<Vec<CardRecord>, StorageError> {
        let sql = format!("SELECT {CARD_COLUMNS} FROM cards WHERE identity = ?1 ORDER BY log_seq");
        let rows = sqlx::query(&sql)
            .bind(identity.as_str())
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(card_record_from_row).collect()
    }

    async fn outdated_cards(&self, ids: &[CardId]) -> Result<Vec<OutdatedCard>, StorageError> {
        let hex_ids: Vec<String> = ids.iter().map(|id| crate::hex::hex32(&id.0)).collect();
        let rows = sqlx::query(
            "SELECT id, status, superseded_by FROM cards
             WHERE id IN (SELECT unhex(value) FROM json_each(?1))",
        )
        .bind(json_array(&hex_ids)?)
        .fetch_all(&self.reader)
        .await?;
        let mut known: HashMap<CardId, (String, Option<CardId>)> = HashMap::new();
        for row in &rows {
            let id = card_id_from_column(&row.try_get::<Vec<u8>, _>("id")?)?;
            let superseded_by: Option<Vec<u8>> = row.try_get("superseded_by")?;
            let superseded_by = superseded_by
                .as_deref()
                .map(card_id_from_column)
                .transpose()?;
            known.insert(id, (row.try_get("status")?, superseded_by));
        }
        Ok(super::outdated_from_known(ids, &known))
    }

    async fn put_backup(
        &self,
        owner: &Identity,
        name: &str,
        blob: &[u8],
        precondition: Precondition,
        now: u64,
    ) -> Result<BackupWrite, StorageError> {
        const UPSERT: &str =
            "INSERT INTO backups (identity, name, version, live_since_version, blob, updated_at)
             VALUES (?1, ?2, 1, 1, ?3, ?4)
             ON CONFLICT (identity, name) DO UPDATE SET
                 version = backups.version + 1,
                 live_since_version = CASE WHEN backups.blob IS NULL
                     THEN backups.version + 1 ELSE backups.live_since_version END,
                 blob = excluded.blob,
                 updated_at = excluded.updated_at";
        let now = i64_for_column(now)?;
        let row = match precondition {
            Precondition::None => {
                let sql = format!("{UPSERT} RETURNING version, live_since_version");
                sqlx::query(&sql)
                    .bind(owner.as_str())
                    .bind(name)
                    .bind(blob)
                    .bind(now)
                    .fetch_optional(&self.writer)
                    .await?
            }
            Precondition::MustNotExist => {
                let sql = format!(
                    "{UPSERT} WHERE backups.blob IS NULL RETURNING version, live_since_version"
                );
                sqlx::query(&sql)
                    .bind(owner.as_str())
                    .bind(name)
                    .bind(blob)
                    .bind(now)
                    .fetch_optional(&self.writer)
                    .await?
            }
            Precondition::MustExist | Precondition::VersionIs(_) => {
                let expected = match precondition {
                    Precondition::VersionIs(version) => Some(i64_for_column(version)?),
                    _ => None,
                };
                sqlx::query(
                    "UPDATE backups SET version = version + 1, blob = ?3, updated_at = ?4
                     WHERE identity = ?1 AND name = ?2 AND blob IS NOT NULL
                       AND (?5 IS NULL OR version = ?5)
                     RETURNING version, live_since_version",
                )
                .bind(owner.as_str())
                .bind(name)
                .bind(blob)
                .bind(now)
                .bind(expected)
                .fetch_optional(&self.writer)
                .await?
            }
        };
        let row = row.ok_or(StorageError::VersionMismatch)?;
        let version = u64_from_column(row.try_get("version")?)?;
        let live_since = u64_from_column(row.try_get("live_since_version")?)?;
        Ok(BackupWrite {
            version,
            created: version == live_since,
        })
    }

    async fn backup(&self, owner: &Identity, name: &str) -> Result<Option<Backup>, StorageError> {
        let row = sqlx::query(
            "SELECT version, blob, updated_at FROM backups
             WHERE identity = ?1 AND name = ?2 AND blob IS NOT NULL",
        )
        .bind(owner.as_str())
        .bind(name)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|row| {
            Ok(Backup {
                version: u64_from_column(row.try_get("version")?)?,
                blob: row.try_get("blob")?,
                updated_at: u64_from_column(row.try_get("updated_at")?)?,
            })
        })
        .transpose()
    }

    async fn delete_backup(
        &self,
        owner: &Identity,
        name: &str,
        precondition: Precondition,
        now: u64,
    ) -> Result<(), StorageError> {
        let expected = match precondition {
            Precondition::VersionIs(version) => Some(i64_for_column(version)?),
            _ => None,
        };
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let current: Option<i64> = sqlx::query_scalar(
            "SELECT version FROM backups WHERE identity = ?1 AND name = ?2 AND blob IS NOT NULL",
        )
        .bind(owner.as_str())
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        let current = current.ok_or(StorageError::NotFound("no backup with this name"))?;
        if expected.is_some_and(|expected| expected != current) {
            return Err(StorageError::VersionMismatch);
        }
        sqlx::query(
            "UPDATE backups SET version = version + 1, blob = NULL, updated_at = ?3
             WHERE identity = ?1 AND name = ?2",
        )
        .bind(owner.as_str())
        .bind(name)
        .bind(i64_for_column(now)?)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn put_group_ticket(
        &self,
        caller: &Identity,
        ticket: NewGroupTicket<'_>,
        now: u64,
    ) -> Result<(), StorageError> {
        let now = i64_for_column(now)?;
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "INSERT INTO groups (group_id, initiator, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (group_id) DO NOTHING",
        )
        .bind(ticket.group_id)
        .bind(caller.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let initiator: String =
            sqlx::query_scalar("SELECT initiator FROM groups WHERE group_id = ?1")
                .bind(ticket.group_id)
                .fetch_one(&mut *tx)
                .await?;
        if initiator != caller.as_str() {
            return Err(StorageError::Forbidden(
                "only the group's initiator may store its tickets",
            ));
        }
        let inserted = sqlx::query(
            "INSERT INTO group_tickets (group_id, epoch, ticket, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (group_id, epoch) DO NOTHING",
        )
        .bind(ticket.group_id)
        .bind(i64::from(ticket.epoch))
        .bind(ticket.ticket)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StorageError::AlreadyExists(
                "this epoch of the group already has a ticket",
            ));
        }
        let names: Vec<&str> = ticket.participants.iter().map(Identity::as_str).collect();
        sqlx::query(
            "INSERT INTO group_participants (group_id, epoch, position, identity)
             SELECT ?1, ?2, key, value FROM json_each(?3)",
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
        let initiator: Option<String> =
            sqlx::query_scalar("SELECT initiator FROM groups WHERE group_id = ?1")
                .bind(group_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(initiator) = initiator else {
            return Ok(None);
        };
        let took_part = sqlx::query(
            "SELECT 1 FROM group_participants WHERE group_id = ?1 AND identity = ?2 LIMIT 1",
        )
        .bind(group_id)
        .bind(caller.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if took_part.is_none() {
            return Ok(None);
        }
        let after = after.map_or(-1, i64::from);
        let ticket_rows = sqlx::query(
            "SELECT t.epoch, t.ticket, t.created_at FROM group_tickets t
             JOIN group_participants p ON p.group_id = t.group_id AND p.epoch = t.epoch
             WHERE t.group_id = ?1 AND p.identity = ?2 AND t.epoch > ?3
             ORDER BY t.epoch
             LIMIT ?4",
        )
        .bind(group_id)
        .bind(caller.as_str())
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        let participant_rows = sqlx::query(
            "SELECT epoch, identity FROM group_participants
             WHERE group_id = ?1 AND epoch IN (
                 SELECT epoch FROM group_participants
                 WHERE group_id = ?1 AND identity = ?2 AND epoch > ?3
                 ORDER BY epoch
                 LIMIT ?4)
             ORDER BY epoch, position",
        )
        .bind(group_id)
        .bind(caller.as_str())
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut participants: HashMap<i64, Vec<String>> = HashMap::new();
        for row in &participant_rows {
            participants
                .entry(row.try_get("epoch")?)
                .or_default()
                .push(row.try_get("identity")?);
        }
        let tickets = ticket_rows
            .iter()
            .map(|row| {
                let epoch: i64 = row.try_get("epoch")?;
                Ok(GroupTicket {
                    epoch: u32::try_from(epoch)
                        .map_err(|_| StorageError::Corrupt("group epoch"))?,
                    participants: participants.remove(&epoch).unwrap_or_default(),
                    ticket: row.try_get("ticket")?,
                    created_at: u64_from_column(row.try_get("created_at")?)?,
                })
            })
            .collect::<Result<Vec<_>, StorageError>>()?;
        Ok(Some(GroupTickets { initiator, tickets }))
    }

    async fn delete_group(&self, caller: &Identity, group_id: &str) -> Result<(), StorageError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let initiator: Option<String> =
            sqlx::query_scalar("SELECT initiator FROM groups WHERE group_id = ?1")
                .bind(group_id)
                .fetch_optional(&mut *tx)
                .await?;
        let initiator = initiator.ok_or(StorageError::NotFound("no such group"))?;
        if initiator != caller.as_str() {
            let took_part = sqlx::query(
                "SELECT 1 FROM group_participants WHERE group_id = ?1 AND identity = ?2 LIMIT 1",
            )
            .bind(group_id)
            .bind(caller.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            return Err(if took_part.is_some() {
                StorageError::Forbidden("only the group's initiator may delete it")
            } else {
                StorageError::NotFound("no such group")
            });
        }
        sqlx::query("DELETE FROM groups WHERE group_id = ?1")
            .bind(group_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn log_head(&self) -> Result<LogHead, StorageError> {
        let row = sqlx::query("SELECT size, hash FROM log_head WHERE singleton = 1")
            .fetch_one(&self.reader)
            .await?;
        Ok(LogHead {
            size: u64_from_column(row.try_get("size")?)?,
            hash: hash_from_column(&row.try_get::<Vec<u8>, _>("hash")?)?,
        })
    }

    async fn log_entries(&self, after: u64, limit: u32) -> Result<Vec<LogEntry>, StorageError> {
        let rows = sqlx::query(
            "SELECT seq, op, identity, card_id, timestamp, prev_hash, hash FROM log_entries
             WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )
        .bind(i64_for_column(after)?)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(log_entry_from_row).collect()
    }

    async fn post_demo_message(
        &self,
        message: NewDemoMessage<'_>,
        now: u64,
    ) -> Result<u64, StorageError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO demo_messages (sender, conversation, kind, ciphertext, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
        )
        .bind(message.sender.as_str())
        .bind(message.conversation)
        .bind(message.kind.as_str())
        .bind(message.ciphertext)
        .bind(i64_for_column(now)?)
        .fetch_one(&mut *tx)
        .await?;
        let names: Vec<&str> = message.to.iter().map(Identity::as_str).collect();
        sqlx::query(
            "INSERT INTO demo_message_recipients (message_id, position, identity)
             SELECT ?1, key, value FROM json_each(?2)",
        )
        .bind(id)
        .bind(json_array(&names)?)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        u64_from_column(id)
    }

    async fn demo_messages(
        &self,
        reader: &Identity,
        after: u64,
        limit: u32,
        max_ciphertext_bytes: u64,
    ) -> Result<Vec<DemoMessage>, StorageError> {
        // Each branch stops at `limit` rows, so a reader with a long history costs no more
        // than one page.
        let sql = format!(
            "SELECT {DEMO_HEADER_COLUMNS} FROM demo_messages
             WHERE id IN (
                 SELECT id FROM (SELECT id FROM demo_messages
                                 WHERE sender = ?1 AND id > ?2 ORDER BY id LIMIT ?3)
                 UNION
                 SELECT message_id FROM (SELECT message_id FROM demo_message_recipients
                                         WHERE identity = ?1 AND message_id > ?2
                                         ORDER BY message_id LIMIT ?3))
             ORDER BY id
             LIMIT ?3"
        );
        let rows = sqlx::query(&sql)
            .bind(reader.as_str())
            .bind(i64_for_column(after)?)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?;
        let mut headers = rows
            .iter()
            .map(demo_message_header_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        headers.truncate(demo_page_length(&headers, max_ciphertext_bytes));
        self.complete_demo_messages(headers).await
    }

    async fn demo_message(
        &self,
        reader: &Identity,
        id: u64,
    ) -> Result<Option<DemoMessage>, StorageError> {
        let Ok(id) = i64::try_from(id) else {
            return Ok(None);
        };
        let sql = format!(
            "SELECT {DEMO_HEADER_COLUMNS} FROM demo_messages m
             WHERE id = ?1 AND (sender = ?2 OR EXISTS (
                 SELECT 1 FROM demo_message_recipients r
                 WHERE r.message_id = m.id AND r.identity = ?2))"
        );
        let row = sqlx::query(&sql)
            .bind(id)
            .bind(reader.as_str())
            .fetch_optional(&self.reader)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let header = demo_message_header_from_row(&row)?;
        Ok(self.complete_demo_messages(vec![header]).await?.pop())
    }

    async fn identities_with_active_cards(&self, limit: u32) -> Result<Vec<String>, StorageError> {
        Ok(sqlx::query_scalar(
            "SELECT identity FROM cards WHERE status = 'active' ORDER BY identity LIMIT ?1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?)
    }

    fn search_cache_counts(&self) -> SearchCacheCounts {
        self.active_cards.counters.counts()
    }
}
