//! The relay store on SQLite, through the API store's writer and reader connections.

use async_trait::async_trait;
use sqlx::sqlite::SqlitePool;
use tessera_format::Identity;

use super::{
    DemoMessage, DemoMessageHeader, DemoRelayStore, NewDemoMessage, assemble_demo_messages,
    queries::sqlite as queries,
};
use crate::storage::{
    StorageError,
    rows::u64_from_column,
    sqlite::{SqliteStorage, json_array},
};

/// The SQLite implementation of [`DemoRelayStore`].
#[derive(Debug, Clone)]
pub struct SqliteDemoRelay {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteDemoRelay {
    /// The relay over `storage`'s connections (one writer for both).
    pub fn new(storage: &SqliteStorage) -> Self {
        Self {
            writer: storage.writer.clone(),
            reader: storage.reader.clone(),
        }
    }

    /// The ciphertexts and recipients of `headers`, joined into messages.
    async fn complete(
        &self,
        headers: Vec<DemoMessageHeader>,
    ) -> Result<Vec<DemoMessage>, StorageError> {
        if headers.is_empty() {
            return Ok(Vec::new());
        }
        let ids = json_array(&headers.iter().map(|h| h.id).collect::<Vec<_>>())?;
        let ciphertext_rows = sqlx::query(
            "SELECT id, ciphertext FROM demo_messages
             WHERE id IN (SELECT value FROM json_each(?1))",
        )
        .bind(&ids)
        .fetch_all(&self.reader)
        .await?;
        let recipient_rows = sqlx::query(
            "SELECT message_id, identity FROM demo_message_recipients
             WHERE message_id IN (SELECT value FROM json_each(?1))
             ORDER BY message_id, position",
        )
        .bind(&ids)
        .fetch_all(&self.reader)
        .await?;
        assemble_demo_messages(headers, &ciphertext_rows, &recipient_rows)
    }
}

#[async_trait]
impl DemoRelayStore for SqliteDemoRelay {
    async fn post_message(
        &self,
        message: NewDemoMessage<'_>,
        now: u64,
    ) -> Result<u64, StorageError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let id = queries::insert_message(&mut tx, &message, now).await?;
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

    async fn messages(
        &self,
        reader: &Identity,
        after: u64,
        limit: u32,
        max_ciphertext_bytes: u64,
    ) -> Result<Vec<DemoMessage>, StorageError> {
        let headers =
            queries::page_headers(&self.reader, reader, after, limit, max_ciphertext_bytes).await?;
        self.complete(headers).await
    }

    async fn message(
        &self,
        reader: &Identity,
        id: u64,
    ) -> Result<Option<DemoMessage>, StorageError> {
        let Some(header) = queries::message_header(&self.reader, reader, id).await? else {
            return Ok(None);
        };
        Ok(self.complete(vec![header]).await?.pop())
    }

    async fn identities_with_active_cards(&self, limit: u32) -> Result<Vec<String>, StorageError> {
        Ok(sqlx::query_scalar(
            "SELECT identity FROM cards WHERE status = 'active' ORDER BY identity LIMIT ?1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?)
    }
}
