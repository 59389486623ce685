//! Row decoding shared by both databases: stored columns into records, and the integer
//! conversions both schemas need.

use tessera_format::{CardId, card::CardWire};

use super::{CardRecord, CardStatus, StorageError, chain_rules::ChainLink};
use crate::log_chain::{LogEntry, LogHead, LogOperation};

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
        op: LogOperation::from_name(&op).ok_or(StorageError::Corrupt("log operation"))?,
        identity: row.try_get("identity")?,
        card_id: card_id_from_column(&row.try_get::<Vec<u8>, _>("card_id")?)?,
        timestamp: u64_from_column(row.try_get("timestamp")?)?,
        prev_hash: hash_from_column(&row.try_get::<Vec<u8>, _>("prev_hash")?)?,
        hash: hash_from_column(&row.try_get::<Vec<u8>, _>("hash")?)?,
    })
}

/// A row of (id, created_at) as a [`ChainLink`].
pub(crate) fn chain_link_from_row<R>(row: &R) -> Result<ChainLink, StorageError>
where
    R: sqlx::Row,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(ChainLink {
        id: card_id_from_column(&row.try_get::<Vec<u8>, _>("id")?)?,
        created_at: u64_from_column(row.try_get("created_at")?)?,
    })
}

/// A row of (id, status, superseded_by) as what [`outdated_from_known`] takes.
///
/// [`outdated_from_known`]: super::chain_rules::outdated_from_known
pub(crate) fn known_card_from_row<R>(
    row: &R,
) -> Result<(CardId, (String, Option<CardId>)), StorageError>
where
    R: sqlx::Row,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let id = card_id_from_column(&row.try_get::<Vec<u8>, _>("id")?)?;
    let superseded_by: Option<Vec<u8>> = row.try_get("superseded_by")?;
    let superseded_by = superseded_by
        .as_deref()
        .map(card_id_from_column)
        .transpose()?;
    Ok((id, (row.try_get("status")?, superseded_by)))
}

/// A row of (size, hash) as a [`LogHead`].
pub(crate) fn log_head_from_row<R>(row: &R) -> Result<LogHead, StorageError>
where
    R: sqlx::Row,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(LogHead {
        size: u64_from_column(row.try_get("size")?)?,
        hash: hash_from_column(&row.try_get::<Vec<u8>, _>("hash")?)?,
    })
}
