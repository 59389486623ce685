//! Storage: one trait, [`Storage`], with an SQLite implementation (the embedded default)
//! and a PostgreSQL one (several stateless replicas against one database). The rules
//! that span rows live in the backends, inside transactions: at most one active card per
//! identity (backed by a partial unique index), the operation log's hash chain (backed
//! by a one-row head locked for the duration of an append), backup versions, and group
//! initiators. Statements both dialects share are written once ([`queries`]); demo
//! mode's relay has a store of its own ([`demo_relay`]) over the same connections.
//!
//! Both implementations run the same embedded migrations at start ([`migrations`]).

pub(crate) mod chain_rules;
pub mod demo_relay;
mod interface;
pub mod postgres;
mod queries;
pub(crate) mod rows;
pub mod sqlite;

use std::sync::Arc;

use self::demo_relay::DemoRelayStore;
pub(crate) use self::interface::SearchCacheCounters;
pub use self::interface::{
    Backup, BackupWrite, CardRecord, CardStatus, GroupTicket, GroupTickets, NewCard,
    NewGroupTicket, OutdatedCard, Precondition, SearchCacheCounts, Storage, StorageError,
};

/// Identities the PostgreSQL search cache holds unless configured otherwise.
pub const DEFAULT_SEARCH_CACHE_CAPACITY: usize = 200_000;

/// An open database: the API's [`Storage`] and, for demo mode, the relay's store over
/// the same connections.
#[derive(Debug, Clone)]
pub enum Database {
    /// An SQLite file.
    Sqlite(sqlite::SqliteStorage),
    /// A PostgreSQL database.
    Postgres(postgres::PostgresStorage),
}

impl Database {
    /// Opens the database named by `url` (`sqlite://PATH` or `postgres://…`) and applies
    /// the embedded migrations; PostgreSQL keeps a search cache of up to
    /// `search_cache_capacity` identities (0: none). SQLite always keeps its own exact
    /// cache.
    pub async fn open(
        url: &str,
        max_connections: u32,
        search_cache_capacity: usize,
    ) -> Result<Self, StorageError> {
        if let Some(path) = sqlite::path_of_url(url) {
            Ok(Self::Sqlite(
                sqlite::SqliteStorage::open(path, max_connections).await?,
            ))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(
                postgres::PostgresStorage::connect(url, max_connections, search_cache_capacity)
                    .await?,
            ))
        } else {
            Err(StorageError::Database(sqlx::Error::Configuration(
                "database URL must start with sqlite:// or postgres://".into(),
            )))
        }
    }

    /// The store behind the API.
    pub fn storage(&self) -> Arc<dyn Storage> {
        match self {
            Self::Sqlite(storage) => Arc::new(storage.clone()),
            Self::Postgres(storage) => Arc::new(storage.clone()),
        }
    }

    /// Demo mode's relay store.
    pub fn demo_relay(&self) -> Arc<dyn DemoRelayStore> {
        match self {
            Self::Sqlite(storage) => Arc::new(demo_relay::sqlite::SqliteDemoRelay::new(storage)),
            Self::Postgres(storage) => {
                Arc::new(demo_relay::postgres::PostgresDemoRelay::new(storage))
            }
        }
    }
}

/// Connects to the database named by `url` (`sqlite://PATH` or `postgres://…`) and
/// applies the embedded migrations; PostgreSQL gets the default search cache.
pub async fn connect(url: &str, max_connections: u32) -> Result<Arc<dyn Storage>, StorageError> {
    connect_with_search_cache(url, max_connections, DEFAULT_SEARCH_CACHE_CAPACITY).await
}

/// [`connect`], with a PostgreSQL search cache of up to `search_cache_capacity`
/// identities (0: none) ([`Database::open`]).
pub async fn connect_with_search_cache(
    url: &str,
    max_connections: u32,
    search_cache_capacity: usize,
) -> Result<Arc<dyn Storage>, StorageError> {
    Ok(Database::open(url, max_connections, search_cache_capacity)
        .await?
        .storage())
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
        (
            3,
            "card_keys",
            include_str!("../../migrations/sqlite/0003_card_keys.sql"),
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
        (
            4,
            "card_keys",
            include_str!("../../migrations/postgres/0004_card_keys.sql"),
        ),
    ];
}
