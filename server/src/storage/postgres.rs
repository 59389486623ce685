//! PostgreSQL storage: what a team uses once one machine is not enough. Any number of
//! stateless `tessera-server` replicas share one database (or a PostgreSQL-compatible
//! distributed SQL database); every rule that spans rows is a transaction here, so the
//! replicas need no coordination of their own (docs/SERVER.md).
//!
//! Card writes lock the one-row log head first (`SELECT … FOR UPDATE`): that serialises
//! log appends across replicas, so sequence numbers have no gaps and every entry hashes
//! its true predecessor, and a publish racing another for the same identity sees the
//! winner's card once it holds the lock. The partial unique index on active cards backs
//! the rule up should a database run these statements with other locking semantics.
//! Serialization failures and deadlocks, which distributed databases report under
//! contention, are retried a few times.
//!
//! Searches are answered from a per-replica cache of active cards when it is provably
//! current, kept so by LISTEN/NOTIFY ([`search_cache`]).

pub mod search_cache;

use std::{
    collections::HashMap,
    str::FromStr,
    sync::{Arc, LazyLock},
    time::Duration,
};

use async_trait::async_trait;
use sqlx::{
    PgConnection, Row,
    postgres::{PgConnectOptions, PgPool, PgPoolOptions},
};
use tessera_format::{CardId, Identity};

use self::search_cache::{Freshness, SearchCache};
use super::{
    Backup, BackupWrite, CARD_COLUMNS, CardRecord, CardStatus, ChainLink, GroupTicket,
    GroupTickets, NewCard, NewGroupTicket, OutdatedCard, Precondition, SearchCacheCounters,
    SearchCacheCounts, Storage, StorageError, card_id_from_column, card_record_from_row,
    check_chain, hash_from_column, i64_for_column, log_entry_from_row, migrations, u64_from_column,
};
use crate::log_chain::{LogEntry, LogHead, LogOperation};

/// Key of the advisory lock that serialises migrations when several replicas start at once.
const MIGRATION_LOCK_KEY: i64 = 0x7465_7373_6572_6101;
/// How often a transaction that failed with a serialization failure or deadlock is tried.
const MAX_ATTEMPTS: u32 = 5;
/// How long to wait for a connection from the pool.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// The active cards of a list of identities.
static SEARCH_ACTIVE_CARDS: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {CARD_COLUMNS} FROM cards WHERE status = 'active' AND identity = ANY($1)")
});

/// The PostgreSQL implementation of [`Storage`].
#[derive(Clone)]
pub struct PostgresStorage {
    pool: PgPool,
    /// The search cache and the tasks that keep it current (none when disabled).
    search_cache: Option<(Arc<SearchCache>, Arc<Freshness>)>,
    search_counters: Arc<SearchCacheCounters>,
}

impl std::fmt::Debug for PostgresStorage {
    // The pool's options hold the database password: never print them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStorage").finish_non_exhaustive()
    }
}

/// Runs a transactional operation again while it fails with a transient conflict.
macro_rules! retrying {
    ($operation:expr) => {{
        let mut attempt = 1;
        loop {
            match $operation.await {
                Err(error) if attempt < MAX_ATTEMPTS && is_transient(&error) => {
                    attempt += 1;
                    tracing::debug!(attempt, "retrying a transaction after a transient conflict");
                }
                outcome => break outcome,
            }
        }
    }};
}

/// Serialization failure (40001) or deadlock (40P01): safe to retry the transaction.
fn is_transient(error: &StorageError) -> bool {
    match error {
        StorageError::Database(sqlx::Error::Database(db)) => {
            matches!(db.code().as_deref(), Some("40001" | "40P01"))
        }
        _ => false,
    }
}

/// Maps unique violations of the card constraints to the API's conflicts.
fn card_constraint_error(error: sqlx::Error) -> StorageError {
    if let sqlx::Error::Database(db) = &error {
        match db.constraint() {
            Some("cards_one_active_per_identity") => {
                return StorageError::CardConflict(
                    "another card of this identity became active concurrently; fetch it and \
                     rotate from it",
                );
            }
            Some("cards_pkey") => {
                return StorageError::AlreadyExists("a card with this id is already published");
            }
            _ => {}
        }
    }
    StorageError::Database(error)
}

impl PostgresStorage {
    /// Connects with up to `max_connections` connections, applies migrations, and keeps
    /// a search cache of up to `search_cache_capacity` identities (0: no cache), which
    /// takes two more connections.
    pub async fn connect(
        url: &str,
        max_connections: u32,
        search_cache_capacity: usize,
    ) -> Result<Self, StorageError> {
        let options = PgConnectOptions::from_str(url)?.application_name("tessera-server");
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await?;
        apply_migrations(&pool).await?;
        let search_cache = (search_cache_capacity > 0).then(|| {
            let cache = Arc::new(SearchCache::new(search_cache_capacity));
            let freshness = Arc::new(Freshness::start(cache.clone(), &options));
            (cache, freshness)
        });
        Ok(Self {
            pool,
            search_cache,
            search_counters: Arc::default(),
        })
    }

    /// Whether searches are answered from the cache at this moment (its listener is
    /// connected and proven current); for monitoring and tests.
    pub fn search_cache_is_current(&self) -> bool {
        self.search_cache
            .as_ref()
            .is_some_and(|(cache, _)| cache.is_current())
    }

    /// After a card write of `identity` ended, however it ended: this replica sees its
    /// own writes at once, without waiting for the notification.
    fn evict(&self, identity: &str) {
        if let Some((cache, _)) = &self.search_cache {
            cache.evict(identity);
        }
    }

    /// The active cards of `names`, by identity, from the database.
    async fn read_active_cards(
        &self,
        names: &[&str],
    ) -> Result<HashMap<String, CardRecord>, StorageError> {
        let rows = sqlx::query(&SEARCH_ACTIVE_CARDS)
            .bind(names)
            .fetch_all(&self.pool)
            .await?;
        let mut by_identity = HashMap::with_capacity(rows.len());
        for row in &rows {
            let record = card_record_from_row(row)?;
            by_identity.insert(record.identity.clone(), record);
        }
        Ok(by_identity)
    }

    async fn publish_card_once(
        &self,
        card: &NewCard,
        now: u64,
    ) -> Result<CardRecord, StorageError> {
        let mut tx = self.pool.begin().await?;
        let head = lock_log_head(&mut tx).await?;
        let identity = card.identity.as_str();
        if sqlx::query("SELECT 1 FROM cards WHERE id = $1")
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
            "SELECT id, created_at FROM cards WHERE identity = $1 AND status = 'active'",
            identity,
        )
        .await?;
        let latest = chain_link(
            &mut tx,
            "SELECT id, created_at FROM cards WHERE identity = $1 ORDER BY log_seq DESC LIMIT 1",
            identity,
        )
        .await?;
        let predecessor = check_chain(card, active, latest)?;
        let entry =
            append_log(&mut tx, head, LogOperation::Publish, identity, card.id, now).await?;
        if let Some(predecessor) = predecessor {
            sqlx::query(
                "UPDATE cards SET superseded_by = $1,
                     status = CASE WHEN status = 'active' THEN 'superseded' ELSE status END
                 WHERE id = $2",
            )
            .bind(&card.id.0[..])
            .bind(&predecessor.id.0[..])
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO cards (id, identity, snapshot, signature, status, created_at,
                                published_at, previous_card_id, superseded_by, log_seq)
             VALUES ($1, $2, $3, $4, 'active', $5, $6, $7, NULL, $8)",
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
        .await
        .map_err(card_constraint_error)?;
        let record = card_by_id(&mut tx, &card.id)
            .await?
            .ok_or(StorageError::Corrupt(
                "a card vanished inside its transaction",
            ))?;
        tx.commit().await.map_err(card_constraint_error)?;
        Ok(record)
    }

    async fn revoke_card_once(
        &self,
        owner: &Identity,
        id: &CardId,
        now: u64,
    ) -> Result<CardRecord, StorageError> {
        let mut tx = self.pool.begin().await?;
        let head = lock_log_head(&mut tx).await?;
        let record = card_by_id(&mut tx, id)
            .await?
            .ok_or(StorageError::NotFound("no card with this id"))?;
        if record.identity != owner.as_str() {
            return Err(StorageError::Forbidden(
                "the card belongs to another identity",
            ));
        }
        if record.status != CardStatus::Active {
            return Err(StorageError::CardNotActive);
        }
        append_log(
            &mut tx,
            head,
            LogOperation::Revoke,
            owner.as_str(),
            *id,
            now,
        )
        .await?;
        sqlx::query("UPDATE cards SET status = 'revoked' WHERE id = $1")
            .bind(&id.0[..])
            .execute(&mut *tx)
            .await?;
        let record = card_by_id(&mut tx, id).await?.ok_or(StorageError::Corrupt(
            "a card vanished inside its transaction",
        ))?;
        tx.commit().await?;
        Ok(record)
    }

    async fn put_backup_once(
        &self,
        owner: &Identity,
        name: &str,
        blob: &[u8],
        precondition: Precondition,
        now: u64,
    ) -> Result<BackupWrite, StorageError> {
        const UPSERT: &str =
            "INSERT INTO backups (identity, name, version, live_since_version, blob, updated_at)
             VALUES ($1, $2, 1, 1, $3, $4)
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
                    .fetch_optional(&self.pool)
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
                    .fetch_optional(&self.pool)
                    .await?
            }
            Precondition::MustExist | Precondition::VersionIs(_) => {
                let expected = match precondition {
                    Precondition::VersionIs(version) => Some(i64_for_column(version)?),
                    _ => None,
                };
                sqlx::query(
                    "UPDATE backups SET version = version + 1, blob = $3, updated_at = $4
                     WHERE identity = $1 AND name = $2 AND blob IS NOT NULL
                       AND ($5::BIGINT IS NULL OR version = $5)
                     RETURNING version, live_since_version",
                )
                .bind(owner.as_str())
                .bind(name)
                .bind(blob)
                .bind(now)
                .bind(expected)
                .fetch_optional(&self.pool)
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

    async fn delete_backup_once(
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
        let mut tx = self.pool.begin().await?;
        let current: Option<i64> = sqlx::query_scalar(
            "SELECT version FROM backups
             WHERE identity = $1 AND name = $2 AND blob IS NOT NULL FOR UPDATE",
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
            "UPDATE backups SET version = version + 1, blob = NULL, updated_at = $3
             WHERE identity = $1 AND name = $2",
        )
        .bind(owner.as_str())
        .bind(name)
        .bind(i64_for_column(now)?)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn put_group_ticket_once(
        &self,
        caller: &Identity,
        ticket: &NewGroupTicket<'_>,
        now: u64,
    ) -> Result<(), StorageError> {
        let now = i64_for_column(now)?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO groups (group_id, initiator, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (group_id) DO NOTHING",
        )
        .bind(ticket.group_id)
        .bind(caller.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        // FOR SHARE: a concurrent delete of the group waits for this transaction.
        let initiator: String =
            sqlx::query_scalar("SELECT initiator FROM groups WHERE group_id = $1 FOR SHARE")
                .bind(ticket.group_id)
                .fetch_one(&mut *tx)
                .await?;
        if initiator != caller.as_str() {
            return Err(StorageError::Forbidden(
                "only the group's initiator may store its tickets",
            ));
        }
        let inserted = sqlx::query(
            "INSERT INTO group_tickets (group_id, epoch, ticket, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (group_id, epoch) DO NOTHING",
        )
        .bind(ticket.group_id)
        .bind(epoch_column(ticket.epoch)?)
        .bind(ticket.ticket)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StorageError::AlreadyExists(
                "this epoch of the group already has a ticket",
            ));
        }
        let names: Vec<String> = ticket
            .participants
            .iter()
            .map(|identity| identity.as_str().to_owned())
            .collect();
        sqlx::query(
            "INSERT INTO group_participants (group_id, epoch, position, identity)
             SELECT $1, $2, (p.ordinality - 1)::INTEGER, p.identity
             FROM unnest($3::TEXT[]) WITH ORDINALITY AS p(identity, ordinality)",
        )
        .bind(ticket.group_id)
        .bind(epoch_column(ticket.epoch)?)
        .bind(&names)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_group_once(
        &self,
        caller: &Identity,
        group_id: &str,
    ) -> Result<(), StorageError> {
        let mut tx = self.pool.begin().await?;
        let initiator: Option<String> =
            sqlx::query_scalar("SELECT initiator FROM groups WHERE group_id = $1 FOR UPDATE")
                .bind(group_id)
                .fetch_optional(&mut *tx)
                .await?;
        let initiator = initiator.ok_or(StorageError::NotFound("no such group"))?;
        if initiator != caller.as_str() {
            let took_part = sqlx::query(
                "SELECT 1 FROM group_participants WHERE group_id = $1 AND identity = $2 LIMIT 1",
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
        sqlx::query("DELETE FROM groups WHERE group_id = $1")
            .bind(group_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Epochs are 0..=2^31-1, stored as INTEGER.
fn epoch_column(epoch: u32) -> Result<i32, StorageError> {
    i32::try_from(epoch).map_err(|_| StorageError::Corrupt("group epoch above 2^31-1"))
}

async fn apply_migrations(pool: &PgPool) -> Result<(), StorageError> {
    let mut tx = pool.begin().await?;
    // Replicas starting together take turns; the lock ends with the transaction.
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK_KEY)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS tessera_migrations (
             version BIGINT NOT NULL PRIMARY KEY,
             name TEXT NOT NULL,
             applied_at BIGINT NOT NULL
         )",
    )
    .execute(&mut *tx)
    .await?;
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM tessera_migrations")
        .fetch_all(&mut *tx)
        .await?;
    let newest_known = migrations::POSTGRES.iter().map(|m| m.0).max().unwrap_or(0);
    if applied.iter().any(|v| *v > newest_known) {
        return Err(StorageError::Corrupt(
            "the database schema is newer than this server; upgrade tessera-server",
        ));
    }
    for (version, name, sql) in migrations::POSTGRES {
        if applied.contains(version) {
            continue;
        }
        sqlx::raw_sql(sql).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO tessera_migrations (version, name, applied_at)
             VALUES ($1, $2, EXTRACT(EPOCH FROM now())::BIGINT)",
        )
        .bind(version)
        .bind(name)
        .execute(&mut *tx)
        .await?;
        tracing::info!(version, name, "applied PostgreSQL migration");
    }
    tx.commit().await?;
    Ok(())
}

async fn chain_link(
    conn: &mut PgConnection,
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

/// Locks the log head row until the transaction ends and returns it.
async fn lock_log_head(conn: &mut PgConnection) -> Result<LogHead, StorageError> {
    let head = sqlx::query("SELECT size, hash FROM log_head WHERE singleton = 1 FOR UPDATE")
        .fetch_one(&mut *conn)
        .await?;
    Ok(LogHead {
        size: u64_from_column(head.try_get("size")?)?,
        hash: hash_from_column(&head.try_get::<Vec<u8>, _>("hash")?)?,
    })
}

/// Appends an entry after `head`, which the caller's transaction has locked.
async fn append_log(
    conn: &mut PgConnection,
    head: LogHead,
    op: LogOperation,
    identity: &str,
    card_id: CardId,
    now: u64,
) -> Result<LogEntry, StorageError> {
    let entry = LogEntry::next(head.hash, head.size + 1, op, identity, card_id, now)
        .map_err(|_| StorageError::Corrupt("identity too long for the log"))?;
    sqlx::query(
        "INSERT INTO log_entries (seq, op, identity, card_id, timestamp, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
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
    sqlx::query("UPDATE log_head SET size = $1, hash = $2 WHERE singleton = 1")
        .bind(i64_for_column(entry.seq)?)
        .bind(&entry.hash[..])
        .execute(&mut *conn)
        .await?;
    Ok(entry)
}

async fn card_by_id(
    conn: &mut PgConnection,
    id: &CardId,
) -> Result<Option<CardRecord>, StorageError> {
    let sql = format!("SELECT {CARD_COLUMNS} FROM cards WHERE id = $1");
    let row = sqlx::query(&sql)
        .bind(&id.0[..])
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(card_record_from_row).transpose()
}

#[async_trait]
impl Storage for PostgresStorage {
    async fn close(&self) {
        if let Some((_, freshness)) = &self.search_cache {
            freshness.stop();
        }
        self.pool.close().await;
    }

    async fn ping(&self) -> Result<(), StorageError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn publish_card(&self, card: NewCard, now: u64) -> Result<CardRecord, StorageError> {
        let outcome = retrying!(self.publish_card_once(&card, now));
        self.evict(card.identity.as_str());
        outcome
    }

    async fn search_active_cards(
        &self,
        identities: &[Identity],
    ) -> Result<Vec<CardRecord>, StorageError> {
        let Some((cache, _)) = self
            .search_cache
            .as_ref()
            .filter(|(cache, _)| cache.is_current())
        else {
            self.search_counters.record_bypass(identities.len());
            let names: Vec<&str> = identities.iter().map(Identity::as_str).collect();
            let mut found = self.read_active_cards(&names).await?;
            return Ok(names
                .iter()
                .filter_map(|name| found.remove(*name))
                .collect());
        };
        let mut answers: Vec<Option<Option<Arc<CardRecord>>>> = identities
            .iter()
            .map(|identity| cache.get(identity.as_str()))
            .collect();
        let missed: Vec<&str> = identities
            .iter()
            .zip(&answers)
            .filter(|(_, answer)| answer.is_none())
            .map(|(identity, _)| identity.as_str())
            .collect();
        self.search_counters
            .record(identities.len() - missed.len(), missed.len());
        if !missed.is_empty() {
            let ticket = cache.ticket();
            let mut found = self.read_active_cards(&missed).await?;
            for (identity, answer) in identities.iter().zip(answers.iter_mut()) {
                if answer.is_none() {
                    let card = found.remove(identity.as_str()).map(Arc::new);
                    cache.fill(identity.as_str(), card.clone(), &ticket);
                    *answer = Some(card);
                }
            }
        }
        Ok(answers
            .into_iter()
            .flatten()
            .flatten()
            .map(Arc::unwrap_or_clone)
            .collect())
    }

    async fn card(&self, id: &CardId) -> Result<Option<CardRecord>, StorageError> {
        let mut conn = self.pool.acquire().await?;
        card_by_id(&mut conn, id).await
    }

    async fn revoke_card(
        &self,
        owner: &Identity,
        id: &CardId,
        now: u64,
    ) -> Result<CardRecord, StorageError> {
        let outcome = retrying!(self.revoke_card_once(owner, id, now));
        self.evict(owner.as_str());
        outcome
    }

    async fn card_history(&self, identity: &Identity) -> Result<Vec<CardRecord>, StorageError> {
        let sql = format!("SELECT {CARD_COLUMNS} FROM cards WHERE identity = $1 ORDER BY log_seq");
        let rows = sqlx::query(&sql)
            .bind(identity.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(card_record_from_row).collect()
    }

    async fn outdated_cards(&self, ids: &[CardId]) -> Result<Vec<OutdatedCard>, StorageError> {
        let raw_ids: Vec<Vec<u8>> = ids.iter().map(|id| id.0.to_vec()).collect();
        let rows = sqlx::query("SELECT id, status, superseded_by FROM cards WHERE id = ANY($1)")
            .bind(&raw_ids)
            .fetch_all(&self.pool)
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
        retrying!(self.put_backup_once(owner, name, blob, precondition, now))
    }

    async fn backup(&self, owner: &Identity, name: &str) -> Result<Option<Backup>, StorageError> {
        let row = sqlx::query(
            "SELECT version, blob, updated_at FROM backups
             WHERE identity = $1 AND name = $2 AND blob IS NOT NULL",
        )
        .bind(owner.as_str())
        .bind(name)
        .fetch_optional(&self.pool)
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
        retrying!(self.delete_backup_once(owner, name, precondition, now))
    }

    async fn put_group_ticket(
        &self,
        caller: &Identity,
        ticket: NewGroupTicket<'_>,
        now: u64,
    ) -> Result<(), StorageError> {
        retrying!(self.put_group_ticket_once(caller, &ticket, now))
    }

    async fn group_tickets(
        &self,
        caller: &Identity,
        group_id: &str,
        after: Option<u32>,
        limit: u32,
    ) -> Result<Option<GroupTickets>, StorageError> {
        // REPEATABLE READ: the tickets and their participants come from one snapshot.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        let initiator: Option<String> =
            sqlx::query_scalar("SELECT initiator FROM groups WHERE group_id = $1")
                .bind(group_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(initiator) = initiator else {
            return Ok(None);
        };
        let took_part = sqlx::query(
            "SELECT 1 FROM group_participants WHERE group_id = $1 AND identity = $2 LIMIT 1",
        )
        .bind(group_id)
        .bind(caller.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if took_part.is_none() {
            return Ok(None);
        }
        let after = after.map_or(Ok(-1), epoch_column)?;
        let ticket_rows = sqlx::query(
            "SELECT t.epoch, t.ticket, t.created_at FROM group_tickets t
             JOIN group_participants p ON p.group_id = t.group_id AND p.epoch = t.epoch
             WHERE t.group_id = $1 AND p.identity = $2 AND t.epoch > $3
             ORDER BY t.epoch
             LIMIT $4",
        )
        .bind(group_id)
        .bind(caller.as_str())
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        let participant_rows = sqlx::query(
            "SELECT epoch, identity FROM group_participants
             WHERE group_id = $1 AND epoch IN (
                 SELECT epoch FROM group_participants
                 WHERE group_id = $1 AND identity = $2 AND epoch > $3
                 ORDER BY epoch
                 LIMIT $4)
             ORDER BY epoch, position",
        )
        .bind(group_id)
        .bind(caller.as_str())
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut participants: HashMap<i32, Vec<String>> = HashMap::new();
        for row in &participant_rows {
            participants
                .entry(row.try_get("epoch")?)
                .or_default()
                .push(row.try_get("identity")?);
        }
        let tickets = ticket_rows
            .iter()
            .map(|row| {
                let epoch: i32 = row.try_get("epoch")?;
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
        retrying!(self.delete_group_once(caller, group_id))
    }

    async fn log_head(&self) -> Result<LogHead, StorageError> {
        let row = sqlx::query("SELECT size, hash FROM log_head WHERE singleton = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(LogHead {
            size: u64_from_column(row.try_get("size")?)?,
            hash: hash_from_column(&row.try_get::<Vec<u8>, _>("hash")?)?,
        })
    }

    async fn log_entries(&self, after: u64, limit: u32) -> Result<Vec<LogEntry>, StorageError> {
        let rows = sqlx::query(
            "SELECT seq, op, identity, card_id, timestamp, prev_hash, hash FROM log_entries
             WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(i64_for_column(after)?)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(log_entry_from_row).collect()
    }

    async fn post_demo_message(
        &self,
        message: super::NewDemoMessage<'_>,
        now: u64,
    ) -> Result<u64, StorageError> {
        retrying!(self.post_demo_message_once(&message, now))
    }

    async fn demo_messages(
        &self,
        reader: &Identity,
        after: u64,
        limit: u32,
        max_ciphertext_bytes: u64,
    ) -> Result<Vec<super::DemoMessage>, StorageError> {
        // Each branch stops at `limit` rows, so a reader with a long history costs no more
        // than one page.
        let sql = format!(
            "SELECT {DEMO_HEADER_COLUMNS} FROM demo_messages
             WHERE id IN (
                 SELECT s.id FROM (SELECT id FROM demo_messages
                                   WHERE sender = $1 AND id > $2 ORDER BY id LIMIT $3) AS s
                 UNION
                 SELECT r.message_id FROM (SELECT message_id FROM demo_message_recipients
                                           WHERE identity = $1 AND message_id > $2
                                           ORDER BY message_id LIMIT $3) AS r)
             ORDER BY id
             LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(reader.as_str())
            .bind(i64_for_column(after)?)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        let mut headers = rows
            .iter()
            .map(super::demo_message_header_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        headers.truncate(super::demo_page_length(&headers, max_ciphertext_bytes));
        self.complete_demo_messages(headers).await
    }

    async fn demo_message(
        &self,
        reader: &Identity,
        id: u64,
    ) -> Result<Option<super::DemoMessage>, StorageError> {
        let Ok(id) = i64::try_from(id) else {
            return Ok(None);
        };
        let sql = format!(
            "SELECT {DEMO_HEADER_COLUMNS} FROM demo_messages m
             WHERE id = $1 AND (sender = $2 OR EXISTS (
                 SELECT 1 FROM demo_message_recipients r
                 WHERE r.message_id = m.id AND r.identity = $2))"
        );
        let row = sqlx::query(&sql)
            .bind(id)
            .bind(reader.as_str())
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let header = super::demo_message_header_from_row(&row)?;
        Ok(self.complete_demo_messages(vec![header]).await?.pop())
    }

    async fn identities_with_active_cards(&self, limit: u32) -> Result<Vec<String>, StorageError> {
        // COLLATE "C": byte order whatever the database's locale, as on SQLite.
        Ok(sqlx::query_scalar(
            "SELECT identity FROM cards WHERE status = 'active'
             ORDER BY identity COLLATE \"C\" LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?)
    }

    fn search_cache_counts(&self) -> SearchCacheCounts {
        self.search_counters.counts()
    }
}

/// Key of the advisory lock that orders demo message inserts (see the migration).
const DEMO_MESSAGE_LOCK_KEY: i64 = 0x7465_7373_6572_6102;

/// The columns [`super::demo_message_header_from_row`] reads; `octet_length` does not
/// fetch the (possibly TOASTed) value.
const DEMO_HEADER_COLUMNS: &str = "id, sender, conversation, kind, created_at, \
     octet_length(ciphertext)::BIGINT AS ciphertext_bytes";

/// Demo mode's message relay.
impl PostgresStorage {
    async fn post_demo_message_once(
        &self,
        message: &super::NewDemoMessage<'_>,
        now: u64,
    ) -> Result<u64, StorageError> {
        let mut tx = self.pool.begin().await?;
        // Held until commit: ids are drawn in commit order (see the migration).
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(DEMO_MESSAGE_LOCK_KEY)
            .execute(&mut *tx)
            .await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO demo_messages (sender, conversation, kind, ciphertext, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(message.sender.as_str())
        .bind(message.conversation)
        .bind(message.kind.as_str())
        .bind(message.ciphertext)
        .bind(i64_for_column(now)?)
        .fetch_one(&mut *tx)
        .await?;
        let names: Vec<String> = message
            .to
            .iter()
            .map(|identity| identity.as_str().to_owned())
            .collect();
        sqlx::query(
            "INSERT INTO demo_message_recipients (message_id, position, identity)
             SELECT $1, (p.ordinality - 1)::INTEGER, p.identity
             FROM unnest($2::TEXT[]) WITH ORDINALITY AS p(identity, ordinality)",
        )
        .bind(id)
        .bind(&names)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        u64_from_column(id)
    }

    /// The ciphertexts and recipients of `headers`, joined into messages.
    async fn complete_demo_messages(
        &self,
        headers: Vec<super::DemoMessageHeader>,
    ) -> Result<Vec<super::DemoMessage>, StorageError> {
        if headers.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = headers.iter().map(|h| h.id).collect();
        let mut ciphertexts = HashMap::with_capacity(headers.len());
        for row in sqlx::query("SELECT id, ciphertext FROM demo_messages WHERE id = ANY($1)")
            .bind(&ids)
            .fetch_all(&self.pool)
            .await?
        {
            ciphertexts.insert(row.try_get::<i64, _>("id")?, row.try_get("ciphertext")?);
        }
        let mut recipients: HashMap<i64, Vec<String>> = HashMap::with_capacity(headers.len());
        for row in sqlx::query(
            "SELECT message_id, identity FROM demo_message_recipients
             WHERE message_id = ANY($1) ORDER BY message_id, position",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?
        {
            recipients
                .entry(row.try_get("message_id")?)
                .or_default()
                .push(row.try_get("identity")?);
        }
        super::assemble_demo_messages(headers, ciphertexts, recipients)
    }
}
