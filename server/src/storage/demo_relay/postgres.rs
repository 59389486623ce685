//! The relay store on PostgreSQL, through the API store's pool.

use async_trait::async_trait;
use sqlx::postgres::PgPool;
use tessera_format::Identity;

use super::{
    DemoMessage, DemoMessageHeader, DemoRelayStore, NewDemoMessage, assemble_demo_messages,
    queries::postgres as queries,
};
use crate::storage::{
    StorageError,
    postgres::{PostgresStorage, retrying},
    rows::u64_from_column,
};

/// Key of the advisory lock that orders message inserts (see the migration).
const MESSAGE_LOCK_KEY: i64 = 0x7465_7373_6572_6102;

/// The PostgreSQL implementation of [`DemoRelayStore`].
#[derive(Clone)]
pub struct PostgresDemoRelay {
    pool: PgPool,
}

impl std::fmt::Debug for PostgresDemoRelay {
    // The pool's options hold the database password: never print them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresDemoRelay").finish_non_exhaustive()
    }
}

impl PostgresDemoRelay {
    /// The relay over `storage`'s pool.
    pub fn new(storage: &PostgresStorage) -> Self {
        Self {
            pool: storage.pool.clone(),
        }
    }

    async fn post_message_once(
        &self,
        message: &NewDemoMessage<'_>,
        now: u64,
    ) -> Result<u64, StorageError> {
        let mut tx = self.pool.begin().await?;
        // Held until commit: ids are drawn in commit order (see the migration).
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MESSAGE_LOCK_KEY)
            .execute(&mut *tx)
            .await?;
        let id = queries::insert_message(&mut tx, message, now).await?;
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
    async fn complete(
        &self,
        headers: Vec<DemoMessageHeader>,
    ) -> Result<Vec<DemoMessage>, StorageError> {
        if headers.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = headers.iter().map(|h| h.id).collect();
        let ciphertext_rows =
            sqlx::query("SELECT id, ciphertext FROM demo_messages WHERE id = ANY($1)")
                .bind(&ids)
                .fetch_all(&self.pool)
                .await?;
        let recipient_rows = sqlx::query(
            "SELECT message_id, identity FROM demo_message_recipients
             WHERE message_id = ANY($1) ORDER BY message_id, position",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?;
        assemble_demo_messages(headers, &ciphertext_rows, &recipient_rows)
    }
}

#[async_trait]
impl DemoRelayStore for PostgresDemoRelay {
    async fn post_message(
        &self,
        message: NewDemoMessage<'_>,
        now: u64,
    ) -> Result<u64, StorageError> {
        retrying!(self.post_message_once(&message, now))
    }

    async fn messages(
        &self,
        reader: &Identity,
        after: u64,
        limit: u32,
        max_ciphertext_bytes: u64,
    ) -> Result<Vec<DemoMessage>, StorageError> {
        let headers =
            queries::page_headers(&self.pool, reader, after, limit, max_ciphertext_bytes).await?;
        self.complete(headers).await
    }

    async fn message(
        &self,
        reader: &Identity,
        id: u64,
    ) -> Result<Option<DemoMessage>, StorageError> {
        let Some(header) = queries::message_header(&self.pool, reader, id).await? else {
            return Ok(None);
        };
        Ok(self.complete(vec![header]).await?.pop())
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
}
