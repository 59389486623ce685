//! Demo mode's relay store (docs/API.md "Demo mode"): the ciphertext messages the web
//! chat exchanges, and the identities it lists. A store of its own over the API's
//! database connections, so the production [`Storage`](super::Storage) knows nothing of
//! it; the relay's tables come with the regular migrations.

pub mod postgres;
mod queries;
pub mod sqlite;

use std::collections::HashMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tessera_format::Identity;

use super::{
    StorageError,
    rows::{StoredRow, u64_from_column},
};

/// What the relay stores. Implementations must make each method atomic.
#[async_trait]
pub trait DemoRelayStore: Send + Sync + 'static {
    /// Stores a message and returns its id, which is larger than every id committed
    /// before it.
    async fn post_message(
        &self,
        message: NewDemoMessage<'_>,
        now: u64,
    ) -> Result<u64, StorageError>;

    /// The messages `reader` sent or receives with an id above `after`, ascending: at
    /// most `limit`, and no more than fit into `max_ciphertext_bytes` of ciphertext (but
    /// always the first one, however large).
    async fn messages(
        &self,
        reader: &Identity,
        after: u64,
        limit: u32,
        max_ciphertext_bytes: u64,
    ) -> Result<Vec<DemoMessage>, StorageError>;

    /// One message, if it exists and `reader` sent or receives it.
    async fn message(
        &self,
        reader: &Identity,
        id: u64,
    ) -> Result<Option<DemoMessage>, StorageError>;

    /// Up to `limit` identities that have an active card, in byte order.
    async fn identities_with_active_cards(&self, limit: u32) -> Result<Vec<String>, StorageError>;
}

/// What a demo message carries, as the web chat labels it (docs/API.md "Demo mode").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DemoMessageKind {
    /// A chat message.
    Text,
    /// A file (or a part of one).
    File,
    /// A message for the chat client itself (e.g. a group change).
    System,
}

impl DemoMessageKind {
    /// The name stored in the database and shown in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::File => "file",
            Self::System => "system",
        }
    }

    /// Parses [`DemoMessageKind::as_str`] output.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "text" => Some(Self::Text),
            "file" => Some(Self::File),
            "system" => Some(Self::System),
            _ => None,
        }
    }
}

/// A demo message to store: validated by the API, ciphertext opaque.
#[derive(Debug, Clone)]
pub struct NewDemoMessage<'a> {
    /// The sender (the token subject).
    pub sender: &'a Identity,
    /// The recipients, distinct, in the sender's order.
    pub to: &'a [Identity],
    /// The conversation label the client chose.
    pub conversation: &'a str,
    /// The kind of message.
    pub kind: DemoMessageKind,
    /// The ciphertext, stored as received.
    pub ciphertext: &'a [u8],
}

/// A stored demo message, as `GET /demo/messages` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DemoMessage {
    /// Its id: grows with every message, in commit order.
    pub id: u64,
    /// Who sent it.
    #[serde(rename = "from")]
    pub sender: String,
    /// Its recipients, in the sender's order.
    pub to: Vec<String>,
    /// The conversation label.
    pub conversation: String,
    /// The kind of message.
    pub kind: DemoMessageKind,
    /// The ciphertext, as received.
    #[serde(serialize_with = "crate::api::serialize_base64url")]
    pub ciphertext: Vec<u8>,
    /// When the server stored it.
    pub created_at: u64,
}

/// A stored demo message without its ciphertext and recipients: what a listing reads
/// first, to decide how many messages fit into one answer.
#[derive(Debug, Clone)]
pub(crate) struct DemoMessageHeader {
    pub(crate) id: i64,
    pub(crate) sender: String,
    pub(crate) conversation: String,
    pub(crate) kind: DemoMessageKind,
    pub(crate) created_at: u64,
    pub(crate) ciphertext_bytes: u64,
}

/// How many of `headers` (ascending ids) one listing answers: at most as many as fit
/// into `max_ciphertext_bytes`, but at least one, so a large message never blocks a
/// reader's cursor.
pub(crate) fn demo_page_length(headers: &[DemoMessageHeader], max_ciphertext_bytes: u64) -> usize {
    let mut total: u64 = 0;
    headers
        .iter()
        .take_while(|header| {
            total = total.saturating_add(header.ciphertext_bytes);
            total <= max_ciphertext_bytes
        })
        .count()
        .max(headers.len().min(1))
}

/// A demo message header row (id, sender, conversation, kind, created_at,
/// ciphertext_bytes) as a [`DemoMessageHeader`], for either database.
pub(crate) fn demo_message_header_from_row(
    row: &impl StoredRow,
) -> Result<DemoMessageHeader, StorageError> {
    let kind = row.text("kind")?;
    Ok(DemoMessageHeader {
        id: row.integer("id")?,
        sender: row.text("sender")?,
        conversation: row.text("conversation")?,
        kind: DemoMessageKind::from_name(&kind).ok_or(StorageError::Corrupt("message kind"))?,
        created_at: u64_from_column(row.integer("created_at")?)?,
        ciphertext_bytes: u64_from_column(row.integer("ciphertext_bytes")?)?,
    })
}

/// Joins message headers with their ciphertext rows (id, ciphertext) and recipient rows
/// (message_id, identity; in position order).
pub(crate) fn assemble_demo_messages<R: StoredRow>(
    headers: Vec<DemoMessageHeader>,
    ciphertext_rows: &[R],
    recipient_rows: &[R],
) -> Result<Vec<DemoMessage>, StorageError> {
    let mut ciphertexts: HashMap<i64, Vec<u8>> = HashMap::with_capacity(headers.len());
    for row in ciphertext_rows {
        ciphertexts.insert(row.integer("id")?, row.bytes("ciphertext")?);
    }
    let mut recipients: HashMap<i64, Vec<String>> = HashMap::with_capacity(headers.len());
    for row in recipient_rows {
        recipients
            .entry(row.integer("message_id")?)
            .or_default()
            .push(row.text("identity")?);
    }
    headers
        .into_iter()
        .map(|header| {
            Ok(DemoMessage {
                id: u64_from_column(header.id)?,
                sender: header.sender,
                to: recipients.remove(&header.id).unwrap_or_default(),
                conversation: header.conversation,
                kind: header.kind,
                ciphertext: ciphertexts
                    .remove(&header.id)
                    .ok_or(StorageError::Corrupt("a message lost its ciphertext"))?,
                created_at: header.created_at,
            })
        })
        .collect()
}
