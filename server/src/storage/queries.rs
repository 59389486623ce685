//! The statements both dialects share, written once: sqlx-sqlite accepts `$N`
//! placeholders, so one SQL text serves both databases. A macro rather than generics
//! over `sqlx::Database`: the bounds every bind and decode would need are longer than
//! the statements. What differs is a parameter of the macro (row locks, the epoch
//! column's type); whatever else differs stays in the backend files.

/// Defines the shared statements for one database.
///
/// - `$database`: the sqlx database type.
/// - `$epoch`: the Rust type of the group epoch column; `$epoch_column` converts into it.
/// - `$for_update` / `$for_share`: the row lock clause appended to the reads that guard
///   a delete / a ticket insert (empty where a transaction already excludes writers).
macro_rules! shared_queries {
    (
        database: $database:ty,
        epoch: $epoch:ty,
        epoch_column: $epoch_column:path,
        for_update: $for_update:literal,
        for_share: $for_share:literal $(,)?
    ) => {
        use std::collections::HashMap;

        use sqlx::{Executor, Row};
        use tessera_format::{CardId, Identity};

        use $crate::{
            log_chain::{LogEntry, LogHead, LogOperation},
            storage::{
                Backup, BackupWrite, CardRecord, CardStatus, GroupTicket, GroupTickets, NewCard,
                NewGroupTicket, Precondition, StorageError,
                chain_rules::check_chain,
                rows::{
                    CARD_COLUMNS, card_record_from_row, chain_link_from_row, i64_for_column,
                    log_entry_from_row, log_head_from_row, u64_from_column,
                },
            },
        };

        type Connection = <$database as sqlx::Database>::Connection;

        /// The log's size and head hash, without locking it.
        pub(crate) async fn log_head<'e>(
            executor: impl Executor<'e, Database = $database>,
        ) -> Result<LogHead, StorageError> {
            let row = sqlx::query("SELECT size, hash FROM log_head WHERE singleton = 1")
                .fetch_one(executor)
                .await?;
            log_head_from_row(&row)
        }

        /// Up to `limit` log entries after `after`, in order.
        pub(crate) async fn log_entries<'e>(
            executor: impl Executor<'e, Database = $database>,
            after: u64,
            limit: u32,
        ) -> Result<Vec<LogEntry>, StorageError> {
            let rows = sqlx::query(
                "SELECT seq, op, identity, card_id, timestamp, prev_hash, hash FROM log_entries
                 WHERE seq > $1 ORDER BY seq LIMIT $2",
            )
            .bind(i64_for_column(after)?)
            .bind(i64::from(limit))
            .fetch_all(executor)
            .await?;
            rows.iter().map(log_entry_from_row).collect()
        }

        /// Appends an entry after `head`, which the caller's transaction holds (by its
        /// own lock or the database's single writer).
        async fn append_log(
            conn: &mut Connection,
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

        /// One card by id, any status.
        pub(crate) async fn card_by_id<'e>(
            executor: impl Executor<'e, Database = $database>,
            id: &CardId,
        ) -> Result<Option<CardRecord>, StorageError> {
            let sql = format!("SELECT {CARD_COLUMNS} FROM cards WHERE id = $1");
            let row = sqlx::query(&sql)
                .bind(&id.0[..])
                .fetch_optional(executor)
                .await?;
            row.as_ref().map(card_record_from_row).transpose()
        }

        /// [`card_by_id`] for a card the transaction has just written.
        async fn written_card(
            conn: &mut Connection,
            id: &CardId,
        ) -> Result<CardRecord, StorageError> {
            card_by_id(&mut *conn, id)
                .await?
                .ok_or(StorageError::Corrupt("a card vanished inside its transaction"))
        }

        /// Publishes `card` under the chain rules and appends its log entry after `head`,
        /// inside the caller's transaction.
        pub(crate) async fn publish_card(
            conn: &mut Connection,
            card: &NewCard,
            head: LogHead,
            now: u64,
        ) -> Result<CardRecord, StorageError> {
            let identity = card.identity.as_str();
            if sqlx::query("SELECT 1 FROM cards WHERE id = $1")
                .bind(&card.id.0[..])
                .fetch_optional(&mut *conn)
                .await?
                .is_some()
            {
                return Err(StorageError::AlreadyExists(
                    "a card with this id is already published",
                ));
            }
            let active = sqlx::query(
                "SELECT id, created_at FROM cards WHERE identity = $1 AND status = 'active'",
            )
            .bind(identity)
            .fetch_optional(&mut *conn)
            .await?;
            let latest = sqlx::query(
                "SELECT id, created_at FROM cards WHERE identity = $1
                 ORDER BY log_seq DESC LIMIT 1",
            )
            .bind(identity)
            .fetch_optional(&mut *conn)
            .await?;
            let predecessor = check_chain(
                card,
                active.as_ref().map(chain_link_from_row).transpose()?,
                latest.as_ref().map(chain_link_from_row).transpose()?,
            )?;
            claim_keys(conn, card).await?;
            let entry =
                append_log(conn, head, LogOperation::Publish, identity, card.id, now).await?;
            if let Some(predecessor) = predecessor {
                sqlx::query(
                    "UPDATE cards SET superseded_by = $1,
                         status = CASE WHEN status = 'active' THEN 'superseded' ELSE status END
                     WHERE id = $2",
                )
                .bind(&card.id.0[..])
                .bind(&predecessor.id.0[..])
                .execute(&mut *conn)
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
            .execute(&mut *conn)
            .await?;
            written_card(conn, &card.id).await
        }

        /// Records that the card's public keys belong to its identity, or refuses the card
        /// when another identity published one of them first (docs/API.md `key_in_use`).
        async fn claim_keys(conn: &mut Connection, card: &NewCard) -> Result<(), StorageError> {
            let keys = [
                (
                    "ed25519",
                    &card.keys.signing,
                    "the card's Ed25519 key is already published by another identity",
                ),
                (
                    "x25519",
                    &card.keys.encryption,
                    "the card's X25519 key is already published by another identity",
                ),
            ];
            for (algorithm, key, in_use) in keys {
                let owner: Option<String> = sqlx::query_scalar(
                    "SELECT identity FROM card_keys WHERE algorithm = $1 AND key = $2",
                )
                .bind(algorithm)
                .bind(&key[..])
                .fetch_optional(&mut *conn)
                .await?;
                match owner {
                    Some(owner) if owner == card.identity.as_str() => {}
                    Some(_) => return Err(StorageError::KeyInUse(in_use)),
                    None => {
                        sqlx::query(
                            "INSERT INTO card_keys (algorithm, key, identity) VALUES ($1, $2, $3)",
                        )
                        .bind(algorithm)
                        .bind(&key[..])
                        .bind(card.identity.as_str())
                        .execute(&mut *conn)
                        .await?;
                    }
                }
            }
            Ok(())
        }

        /// Revokes `owner`'s active card `id` and appends its log entry after `head`,
        /// inside the caller's transaction.
        pub(crate) async fn revoke_card(
            conn: &mut Connection,
            owner: &Identity,
            id: &CardId,
            head: LogHead,
            now: u64,
        ) -> Result<CardRecord, StorageError> {
            let record = card_by_id(&mut *conn, id)
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
            append_log(conn, head, LogOperation::Revoke, owner.as_str(), *id, now).await?;
            sqlx::query("UPDATE cards SET status = 'revoked' WHERE id = $1")
                .bind(&id.0[..])
                .execute(&mut *conn)
                .await?;
            written_card(conn, id).await
        }

        /// Every card the identity published, oldest first.
        pub(crate) async fn card_history<'e>(
            executor: impl Executor<'e, Database = $database>,
            identity: &Identity,
        ) -> Result<Vec<CardRecord>, StorageError> {
            let sql =
                format!("SELECT {CARD_COLUMNS} FROM cards WHERE identity = $1 ORDER BY log_seq");
            let rows = sqlx::query(&sql)
                .bind(identity.as_str())
                .fetch_all(executor)
                .await?;
            rows.iter().map(card_record_from_row).collect()
        }

        /// Writes `owner`'s backup `name` under `precondition`, in one statement.
        pub(crate) async fn put_backup<'e>(
            executor: impl Executor<'e, Database = $database>,
            owner: &Identity,
            name: &str,
            blob: &[u8],
            precondition: Precondition,
            now: u64,
        ) -> Result<BackupWrite, StorageError> {
            const UPSERT: &str = "INSERT INTO backups
                     (identity, name, version, live_since_version, blob, updated_at)
                 VALUES ($1, $2, 1, 1, $3, $4)
                 ON CONFLICT (identity, name) DO UPDATE SET
                     version = backups.version + 1,
                     live_since_version = CASE WHEN backups.blob IS NULL
                         THEN backups.version + 1 ELSE backups.live_since_version END,
                     blob = excluded.blob,
                     updated_at = excluded.updated_at";
            let now = i64_for_column(now)?;
            let sql = match precondition {
                Precondition::None => format!("{UPSERT} RETURNING version, live_since_version"),
                Precondition::MustNotExist => format!(
                    "{UPSERT} WHERE backups.blob IS NULL RETURNING version, live_since_version"
                ),
                Precondition::MustExist | Precondition::VersionIs(_) => {
                    "UPDATE backups SET version = version + 1, blob = $3, updated_at = $4
                     WHERE identity = $1 AND name = $2 AND blob IS NOT NULL
                       AND (CAST($5 AS BIGINT) IS NULL OR version = $5)
                     RETURNING version, live_since_version"
                        .to_owned()
                }
            };
            let mut query = sqlx::query(&sql)
                .bind(owner.as_str())
                .bind(name)
                .bind(blob)
                .bind(now);
            if let Precondition::MustExist | Precondition::VersionIs(_) = precondition {
                query = query.bind(expected_version(precondition)?);
            }
            let row = query
                .fetch_optional(executor)
                .await?
                .ok_or(StorageError::VersionMismatch)?;
            let version = u64_from_column(row.try_get("version")?)?;
            let live_since = u64_from_column(row.try_get("live_since_version")?)?;
            Ok(BackupWrite {
                version,
                created: version == live_since,
            })
        }

        /// The version `precondition` demands, if it names one.
        fn expected_version(precondition: Precondition) -> Result<Option<i64>, StorageError> {
            match precondition {
                Precondition::VersionIs(version) => Ok(Some(i64_for_column(version)?)),
                _ => Ok(None),
            }
        }

        /// Reads `owner`'s backup `name`.
        pub(crate) async fn backup<'e>(
            executor: impl Executor<'e, Database = $database>,
            owner: &Identity,
            name: &str,
        ) -> Result<Option<Backup>, StorageError> {
            let row = sqlx::query(
                "SELECT version, blob, updated_at FROM backups
                 WHERE identity = $1 AND name = $2 AND blob IS NOT NULL",
            )
            .bind(owner.as_str())
            .bind(name)
            .fetch_optional(executor)
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

        /// Deletes `owner`'s backup `name` under `precondition`, inside the caller's
        /// transaction.
        pub(crate) async fn delete_backup(
            conn: &mut Connection,
            owner: &Identity,
            name: &str,
            precondition: Precondition,
            now: u64,
        ) -> Result<(), StorageError> {
            let expected = expected_version(precondition)?;
            let current: Option<i64> = sqlx::query_scalar(concat!(
                "SELECT version FROM backups
                 WHERE identity = $1 AND name = $2 AND blob IS NOT NULL",
                $for_update
            ))
            .bind(owner.as_str())
            .bind(name)
            .fetch_optional(&mut *conn)
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
            .execute(&mut *conn)
            .await?;
            Ok(())
        }

        /// Stores a group ticket without its participants, inside the caller's
        /// transaction; the first ticket of a group makes `caller` its initiator.
        pub(crate) async fn insert_group_ticket(
            conn: &mut Connection,
            caller: &Identity,
            ticket: &NewGroupTicket<'_>,
            now: u64,
        ) -> Result<(), StorageError> {
            let now = i64_for_column(now)?;
            sqlx::query(
                "INSERT INTO groups (group_id, initiator, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (group_id) DO NOTHING",
            )
            .bind(ticket.group_id)
            .bind(caller.as_str())
            .bind(now)
            .execute(&mut *conn)
            .await?;
            let initiator: String = sqlx::query_scalar(concat!(
                "SELECT initiator FROM groups WHERE group_id = $1",
                $for_share
            ))
            .bind(ticket.group_id)
            .fetch_one(&mut *conn)
            .await?;
            if initiator != caller.as_str() {
                return Err(StorageError::Forbidden(
                    "only the group's initiator may store its tickets",
                ));
            }
            let inserted = sqlx::query(
                "INSERT INTO group_tickets (group_id, epoch, ticket, created_at)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (group_id, epoch) DO NOTHING",
            )
            .bind(ticket.group_id)
            .bind($epoch_column(ticket.epoch)?)
            .bind(ticket.ticket)
            .bind(now)
            .execute(&mut *conn)
            .await?;
            if inserted.rows_affected() == 0 {
                return Err(StorageError::AlreadyExists(
                    "this epoch of the group already has a ticket",
                ));
            }
            Ok(())
        }

        /// Whether `caller` is a participant of any epoch of `group_id`.
        async fn took_part(
            conn: &mut Connection,
            caller: &Identity,
            group_id: &str,
        ) -> Result<bool, StorageError> {
            Ok(sqlx::query(
                "SELECT 1 FROM group_participants WHERE group_id = $1 AND identity = $2 LIMIT 1",
            )
            .bind(group_id)
            .bind(caller.as_str())
            .fetch_optional(&mut *conn)
            .await?
            .is_some())
        }

        /// The tickets of `group_id` that `caller` may see, read inside the caller's
        /// (snapshot) transaction.
        pub(crate) async fn group_tickets(
            conn: &mut Connection,
            caller: &Identity,
            group_id: &str,
            after: Option<u32>,
            limit: u32,
        ) -> Result<Option<GroupTickets>, StorageError> {
            let initiator: Option<String> =
                sqlx::query_scalar("SELECT initiator FROM groups WHERE group_id = $1")
                    .bind(group_id)
                    .fetch_optional(&mut *conn)
                    .await?;
            let Some(initiator) = initiator else {
                return Ok(None);
            };
            if !took_part(conn, caller, group_id).await? {
                return Ok(None);
            }
            let after = after.map_or(Ok(-1), $epoch_column)?;
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
            .fetch_all(&mut *conn)
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
            .fetch_all(&mut *conn)
            .await?;
            let mut participants: HashMap<$epoch, Vec<String>> = HashMap::new();
            for row in &participant_rows {
                participants
                    .entry(row.try_get("epoch")?)
                    .or_default()
                    .push(row.try_get("identity")?);
            }
            let tickets = ticket_rows
                .iter()
                .map(|row| {
                    let epoch: $epoch = row.try_get("epoch")?;
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

        /// Deletes a group and all its tickets if `caller` is its initiator, inside the
        /// caller's transaction.
        pub(crate) async fn delete_group(
            conn: &mut Connection,
            caller: &Identity,
            group_id: &str,
        ) -> Result<(), StorageError> {
            let initiator: Option<String> = sqlx::query_scalar(concat!(
                "SELECT initiator FROM groups WHERE group_id = $1",
                $for_update
            ))
            .bind(group_id)
            .fetch_optional(&mut *conn)
            .await?;
            let initiator = initiator.ok_or(StorageError::NotFound("no such group"))?;
            if initiator != caller.as_str() {
                return Err(if took_part(conn, caller, group_id).await? {
                    StorageError::Forbidden("only the group's initiator may delete it")
                } else {
                    StorageError::NotFound("no such group")
                });
            }
            sqlx::query("DELETE FROM groups WHERE group_id = $1")
                .bind(group_id)
                .execute(&mut *conn)
                .await?;
            Ok(())
        }
    };
}

/// The shared statements for SQLite, whose write transactions (`BEGIN IMMEDIATE`)
/// exclude other writers, so reads take no row locks.
pub(crate) mod sqlite {
    shared_queries! {
        database: sqlx::Sqlite,
        epoch: i64,
        epoch_column: epoch_column,
        for_update: "",
        for_share: "",
    }

    /// SQLite stores epochs as 64-bit integers.
    // Fallible only for the macro's sake: PostgreSQL's conversion can fail.
    pub(in crate::storage) fn epoch_column(epoch: u32) -> Result<i64, StorageError> {
        Ok(i64::from(epoch))
    }
}

/// The shared statements for PostgreSQL, which lock the rows a decision reads.
pub(crate) mod postgres {
    shared_queries! {
        database: sqlx::Postgres,
        epoch: i32,
        epoch_column: epoch_column,
        // A concurrent write of the row waits for this transaction.
        for_update: " FOR UPDATE",
        // A concurrent delete of the group waits for this transaction.
        for_share: " FOR SHARE",
    }

    /// Epochs are 0..=2^31-1, stored as INTEGER.
    pub(in crate::storage) fn epoch_column(epoch: u32) -> Result<i32, StorageError> {
        i32::try_from(epoch).map_err(|_| StorageError::Corrupt("group epoch above 2^31-1"))
    }
}
