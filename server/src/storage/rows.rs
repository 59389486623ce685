//! Row decoding shared by both databases: stored columns into records, and the integer
//! conversions both schemas need.

use tessera_format::{CardId, card::CardWire};

use super::{CardRecord, CardStatus, StorageError, chain_rules::ChainLink};
use crate::log_chain::{LogEntry, LogHead, LogOperation};

/// Typed reads of a row's columns, for either database: the sqlx bounds that generic
/// decoding needs, written once.
pub(crate) trait StoredRow {
    /// A BLOB / BYTEA column.
    fn bytes(&self, column: &str) -> Result<Vec<u8>, sqlx::Error>;
    /// A nullable BLOB / BYTEA column.
    fn optional_bytes(&self, column: &str) -> Result<Option<Vec<u8>>, sqlx::Error>;
    /// A TEXT column.
    fn text(&self, column: &str) -> Result<String, sqlx::Error>;
    /// A 64-bit INTEGER / BIGINT column.
    fn integer(&self, column: &str) -> Result<i64, sqlx::Error>;
}

impl<R> StoredRow for R
where
    R: sqlx::Row,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn bytes(&self, column: &str) -> Result<Vec<u8>, sqlx::Error> {
        self.try_get(column)
    }

    fn optional_bytes(&self, column: &str) -> Result<Option<Vec<u8>>, sqlx::Error> {
        self.try_get(column)
    }

    fn text(&self, column: &str) -> Result<String, sqlx::Error> {
        self.try_get(column)
    }

    fn integer(&self, column: &str) -> Result<i64, sqlx::Error> {
        self.try_get(column)
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

/// The SQL column list that [`card_record_from_row`] reads.
pub(crate) const CARD_COLUMNS: &str = "id, identity, snapshot, signature, status, created_at, published_at, previous_card_id, superseded_by";

/// A card row (columns [`CARD_COLUMNS`]) as a [`CardRecord`], for either database.
pub(crate) fn card_record_from_row(row: &impl StoredRow) -> Result<CardRecord, StorageError> {
    let status = row.text("status")?;
    let previous = row.optional_bytes("previous_card_id")?;
    let superseded_by = row.optional_bytes("superseded_by")?;
    Ok(CardRecord {
        id: card_id_from_column(&row.bytes("id")?)?,
        identity: row.text("identity")?,
        card: CardWire {
            snapshot: row.bytes("snapshot")?,
            signature: row.bytes("signature")?,
        },
        status: CardStatus::from_name(&status).ok_or(StorageError::Corrupt("card status"))?,
        created_at: u64_from_column(row.integer("created_at")?)?,
        published_at: u64_from_column(row.integer("published_at")?)?,
        previous_card_id: previous.as_deref().map(card_id_from_column).transpose()?,
        superseded_by: superseded_by
            .as_deref()
            .map(card_id_from_column)
            .transpose()?,
    })
}

/// A log row (seq, op, identity, card_id, timestamp, prev_hash, hash) as a [`LogEntry`].
pub(crate) fn log_entry_from_row(row: &impl StoredRow) -> Result<LogEntry, StorageError> {
    let op = row.text("op")?;
    Ok(LogEntry {
        seq: u64_from_column(row.integer("seq")?)?,
        op: LogOperation::from_name(&op).ok_or(StorageError::Corrupt("log operation"))?,
        identity: row.text("identity")?,
        card_id: card_id_from_column(&row.bytes("card_id")?)?,
        timestamp: u64_from_column(row.integer("timestamp")?)?,
        prev_hash: hash_from_column(&row.bytes("prev_hash")?)?,
        hash: hash_from_column(&row.bytes("hash")?)?,
    })
}

/// A row of (id, created_at) as a [`ChainLink`].
pub(crate) fn chain_link_from_row(row: &impl StoredRow) -> Result<ChainLink, StorageError> {
    Ok(ChainLink {
        id: card_id_from_column(&row.bytes("id")?)?,
        created_at: u64_from_column(row.integer("created_at")?)?,
    })
}

/// A row of (id, status, superseded_by) as what [`outdated_from_known`] takes.
///
/// [`outdated_from_known`]: super::chain_rules::outdated_from_known
pub(crate) fn known_card_from_row(
    row: &impl StoredRow,
) -> Result<(CardId, (String, Option<CardId>)), StorageError> {
    let id = card_id_from_column(&row.bytes("id")?)?;
    let superseded_by = row.optional_bytes("superseded_by")?;
    let superseded_by = superseded_by
        .as_deref()
        .map(card_id_from_column)
        .transpose()?;
    Ok((id, (row.text("status")?, superseded_by)))
}

/// A row of (size, hash) as a [`LogHead`].
pub(crate) fn log_head_from_row(row: &impl StoredRow) -> Result<LogHead, StorageError> {
    Ok(LogHead {
        size: u64_from_column(row.integer("size")?)?,
        hash: hash_from_column(&row.bytes("hash")?)?,
    })
}
