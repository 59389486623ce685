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
    PgConnection,
    postgres::{PgConnectOptions, PgPool, PgPoolOptions},
};
use tessera_format::{CardId, Identity};

use self::search_cache::{Freshness, SearchCache};
use super::{
    Backup, BackupWrite, CardRecord, GroupTickets, NewCard, NewGroupTicket, OutdatedCard,
    Precondition, SearchCacheCounters, SearchCacheCounts, Storage, StorageError,
    chain_rules::outdated_from_known,
    migrations,
    queries::postgres as queries,
    rows::{CARD_COLUMNS, card_record_from_row, known_card_from_row, log_head_from_row},
};
use crate::log_chain::{LogEntry, LogHead};

/// Key of the advisory lock that serialises migrations when several replicas start at once.
const MIGRATION_LOCK_KEY: i64 = 0x7465_7373_6572_6101;
/// How often a transaction that failed with a serialization failure or deadlock is tried.
pub(in crate::storage) const MAX_ATTEMPTS: u32 = 5;
/// How long to wait for a connection from the pool.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// The active cards of a list of identities.
static SEARCH_ACTIVE_CARDS: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {CARD_COLUMNS} FROM cards WHERE status = 'active' AND identity = ANY($1)")
});

/// The PostgreSQL implementation of [`Storage`].
#[derive(Clone)]
pub struct PostgresStorage {
    /// Shared with demo mode's relay.
    pub(in crate::storage) pool: PgPool,
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
                Err(error)
                    if attempt < $crate::storage::postgres::MAX_ATTEMPTS
                        && $crate::storage::postgres::is_transient(&error) =>
                {
                    attempt += 1;
                    tracing::debug!(attempt, "retrying a transaction after a transient conflict");
                }
                outcome => break outcome,
            }
        }
    }};
}
pub(in crate::storage) use retrying;

/// Serialization failure (40001) or deadlock (40P01): safe to retry the transaction.
pub(in crate::storage) fn is_transient(error: &StorageError) -> bool {
    match error {
        StorageError::Database(sqlx::Error::Database(db)) => {
            matches!(db.code().as_deref(), Some("40001" | "40P01"))
        }
        _ => false,
    }
}

/// Maps unique violations of the card constraints to the API's conflicts.
fn card_constraint_error(error: StorageError) -> StorageError {
    if let StorageError::Database(sqlx::Error::Database(db)) = &error {
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
    error
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
        let record = queries::publish_card(&mut tx, card, head, now)
            .await
            .map_err(card_constraint_error)?;
        tx.commit()
            .await
            .map_err(|error| card_constraint_error(error.into()))?;
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
        let record = queries::revoke_card(&mut tx, owner, id, head, now).await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn delete_backup_once(
        &self,
        owner: &Identity,
        name: &str,
        precondition: Precondition,
        now: u64,
    ) -> Result<(), StorageError> {
        let mut tx = self.pool.begin().await?;
        queries::delete_backup(&mut tx, owner, name, precondition, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn put_group_ticket_once(
        &self,
        caller: &Identity,
        ticket: &NewGroupTicket<'_>,
        now: u64,
    ) -> Result<(), StorageError> {
        let mut tx = self.pool.begin().await?;
        queries::insert_group_ticket(&mut tx, caller, ticket, now).await?;
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
        .bind(queries::epoch_column(ticket.epoch)?)
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
        queries::delete_group(&mut tx, caller, group_id).await?;
        tx.commit().await?;
        Ok(())
    }
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

/// Locks the log head row until the transaction ends and returns it.
async fn lock_log_head(conn: &mut PgConnection) -> Result<LogHead, StorageError> {
    let head = sqlx::query("SELECT size, hash FROM log_head WHERE singleton = 1 FOR UPDATE")
        .fetch_one(&mut *conn)
        .await?;
    log_head_from_row(&head)
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
        queries::card_by_id(&self.pool, id).await
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
        queries::card_history(&self.pool, identity).await
    }

    async fn outdated_cards(&self, ids: &[CardId]) -> Result<Vec<OutdatedCard>, StorageError> {
        let raw_ids: Vec<Vec<u8>> = ids.iter().map(|id| id.0.to_vec()).collect();
        let rows = sqlx::query("SELECT id, status, superseded_by FROM cards WHERE id = ANY($1)")
            .bind(&raw_ids)
            .fetch_all(&self.pool)
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
        retrying!(queries::put_backup(
            &self.pool,
            owner,
            name,
            blob,
            precondition,
            now
        ))
    }

    async fn backup(&self, owner: &Identity, name: &str) -> Result<Option<Backup>, StorageError> {
        queries::backup(&self.pool, owner, name).await
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
        let tickets = queries::group_tickets(&mut tx, caller, group_id, after, limit).await?;
        tx.commit().await?;
        Ok(tickets)
    }

    async fn delete_group(&self, caller: &Identity, group_id: &str) -> Result<(), StorageError> {
        retrying!(self.delete_group_once(caller, group_id))
    }

    async fn log_head(&self) -> Result<LogHead, StorageError> {
        queries::log_head(&self.pool).await
    }

    async fn log_entries(&self, after: u64, limit: u32) -> Result<Vec<LogEntry>, StorageError> {
        queries::log_entries(&self.pool, after, limit).await
    }

    fn search_cache_counts(&self) -> SearchCacheCounts {
        self.search_counters.counts()
    }
}
