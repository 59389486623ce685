//! The relay's statements both dialects share, written once (as `storage::queries` does
//! for the API's).

/// Defines the shared relay statements for one database; `$header_columns` are the
/// columns [`demo_message_header_from_row`] reads, measuring the ciphertext without
/// loading it.
///
/// [`demo_message_header_from_row`]: super::demo_message_header_from_row
macro_rules! shared_relay_queries {
    (database: $database:ty, header_columns: $header_columns:literal $(,)?) => {
        use sqlx::Executor;
        use tessera_format::Identity;

        use $crate::storage::{
            StorageError,
            demo_relay::{
                DemoMessageHeader, NewDemoMessage, demo_message_header_from_row, demo_page_length,
            },
            rows::i64_for_column,
        };

        /// Inserts `message` without its recipients, inside the caller's transaction, and
        /// returns its id.
        pub(in crate::storage) async fn insert_message(
            conn: &mut <$database as sqlx::Database>::Connection,
            message: &NewDemoMessage<'_>,
            now: u64,
        ) -> Result<i64, StorageError> {
            Ok(sqlx::query_scalar(
                "INSERT INTO demo_messages (sender, conversation, kind, ciphertext, created_at)
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(message.sender.as_str())
            .bind(message.conversation)
            .bind(message.kind.as_str())
            .bind(message.ciphertext)
            .bind(i64_for_column(now)?)
            .fetch_one(&mut *conn)
            .await?)
        }

        /// The headers of the messages `reader` sent or receives after `after`: at most
        /// `limit`, cut to what fits into `max_ciphertext_bytes`.
        pub(in crate::storage) async fn page_headers<'e>(
            executor: impl Executor<'e, Database = $database>,
            reader: &Identity,
            after: u64,
            limit: u32,
            max_ciphertext_bytes: u64,
        ) -> Result<Vec<DemoMessageHeader>, StorageError> {
            // Each branch stops at `limit` rows, so a reader with a long history costs no
            // more than one page.
            let rows = sqlx::query(concat!(
                "SELECT ",
                $header_columns,
                " FROM demo_messages
                 WHERE id IN (
                     SELECT s.id FROM (SELECT id FROM demo_messages
                                       WHERE sender = $1 AND id > $2 ORDER BY id LIMIT $3) AS s
                     UNION
                     SELECT r.message_id FROM (SELECT message_id FROM demo_message_recipients
                                               WHERE identity = $1 AND message_id > $2
                                               ORDER BY message_id LIMIT $3) AS r)
                 ORDER BY id
                 LIMIT $3"
            ))
            .bind(reader.as_str())
            .bind(i64_for_column(after)?)
            .bind(i64::from(limit))
            .fetch_all(executor)
            .await?;
            let mut headers = rows
                .iter()
                .map(demo_message_header_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            headers.truncate(demo_page_length(&headers, max_ciphertext_bytes));
            Ok(headers)
        }

        /// The header of message `id`, if it exists and `reader` sent or receives it.
        pub(in crate::storage) async fn message_header<'e>(
            executor: impl Executor<'e, Database = $database>,
            reader: &Identity,
            id: u64,
        ) -> Result<Option<DemoMessageHeader>, StorageError> {
            let Ok(id) = i64::try_from(id) else {
                return Ok(None);
            };
            let row = sqlx::query(concat!(
                "SELECT ",
                $header_columns,
                " FROM demo_messages m
                 WHERE id = $1 AND (sender = $2 OR EXISTS (
                     SELECT 1 FROM demo_message_recipients r
                     WHERE r.message_id = m.id AND r.identity = $2))"
            ))
            .bind(id)
            .bind(reader.as_str())
            .fetch_optional(executor)
            .await?;
            row.as_ref().map(demo_message_header_from_row).transpose()
        }
    };
}

/// The shared relay statements for SQLite; `length` does not load the blob.
pub(super) mod sqlite {
    shared_relay_queries! {
        database: sqlx::Sqlite,
        header_columns: "id, sender, conversation, kind, created_at, \
                         length(ciphertext) AS ciphertext_bytes",
    }
}

/// The shared relay statements for PostgreSQL; `octet_length` does not fetch the
/// (possibly TOASTed) value.
pub(super) mod postgres {
    shared_relay_queries! {
        database: sqlx::Postgres,
        header_columns: "id, sender, conversation, kind, created_at, \
                         octet_length(ciphertext)::BIGINT AS ciphertext_bytes",
    }
}
