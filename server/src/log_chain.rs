//! The operation log's hash chain: every card publish and revoke gets a sequence number
//! and a SHA-256 hash over the previous entry's hash and its own fields, so that anyone
//! holding the head can check that history was only appended to. The exact bytes are
//! specified in docs/LOG.md.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tessera_format::CardId;
use thiserror::Error;

/// Domain separation prefix of an entry hash (docs/LOG.md).
pub const ENTRY_HASH_DOMAIN: &[u8] = b"tessera/v1/log-entry\0";

/// The hash that precedes entry 1, and the head hash of an empty log.
pub const EMPTY_LOG_HASH: [u8; 32] = [0; 32];

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogOperation {
    /// A card was published.
    Publish,
    /// A card was revoked.
    Revoke,
}

impl LogOperation {
    /// The byte that stands for the operation in the entry hash.
    pub fn code(self) -> u8 {
        match self {
            Self::Publish => 1,
            Self::Revoke => 2,
        }
    }

    /// The name stored in the database and shown in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Publish => "publish",
            Self::Revoke => "revoke",
        }
    }

    /// Parses [`LogOperation::as_str`] output.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "publish" => Some(Self::Publish),
            "revoke" => Some(Self::Revoke),
            _ => None,
        }
    }
}

/// One entry of the operation log, as served by `GET /v1/log`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogEntry {
    /// Position in the log, starting at 1.
    pub seq: u64,
    /// What happened.
    pub op: LogOperation,
    /// Whose card.
    pub identity: String,
    /// Which card.
    #[serde(serialize_with = "crate::hex::serialize_card_id")]
    pub card_id: CardId,
    /// Server time of the operation, Unix seconds.
    pub timestamp: u64,
    /// Hash of entry `seq - 1` (all zeros for entry 1).
    #[serde(serialize_with = "crate::hex::serialize_hash")]
    pub prev_hash: [u8; 32],
    /// This entry's hash (docs/LOG.md).
    #[serde(serialize_with = "crate::hex::serialize_hash")]
    pub hash: [u8; 32],
}

impl LogEntry {
    /// Builds the entry that follows `prev_hash`, computing its hash.
    pub fn next(
        prev_hash: [u8; 32],
        seq: u64,
        op: LogOperation,
        identity: &str,
        card_id: CardId,
        timestamp: u64,
    ) -> Result<Self, LogChainError> {
        let hash = entry_hash(&prev_hash, seq, op, identity, &card_id, timestamp)?;
        Ok(Self {
            seq,
            op,
            identity: identity.to_owned(),
            card_id,
            timestamp,
            prev_hash,
            hash,
        })
    }
}

/// The log's size and the hash of its last entry, as served by `GET /v1/log/head`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LogHead {
    /// Number of entries (the `seq` of the last one).
    pub size: u64,
    /// Hash of entry `size`, or [`EMPTY_LOG_HASH`] when the log is empty.
    #[serde(serialize_with = "crate::hex::serialize_hash")]
    pub hash: [u8; 32],
}

/// Why a sequence of entries does not form a valid chain.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum LogChainError {
    /// An identity longer than 255 bytes cannot be encoded (identities are at most 128).
    #[error("identity too long for a log entry")]
    IdentityTooLong,
    /// Entry `seq` does not follow its predecessor's number.
    #[error("entry {0} is out of sequence")]
    OutOfSequence(u64),
    /// Entry `seq` names a different previous hash than its predecessor's hash.
    #[error("entry {0} does not link to the previous entry")]
    BrokenLink(u64),
    /// Entry `seq`'s hash is not the hash of its fields.
    #[error("entry {0} has a wrong hash")]
    WrongHash(u64),
}

/// SHA-256 over the entry's fields, exactly as docs/LOG.md lays them out:
/// domain ‖ prev_hash ‖ seq (u64 BE) ‖ op (u8) ‖ timestamp (u64 BE) ‖ len(identity) (u8)
/// ‖ identity ‖ card_id.
pub fn entry_hash(
    prev_hash: &[u8; 32],
    seq: u64,
    op: LogOperation,
    identity: &str,
    card_id: &CardId,
    timestamp: u64,
) -> Result<[u8; 32], LogChainError> {
    let identity_length =
        u8::try_from(identity.len()).map_err(|_| LogChainError::IdentityTooLong)?;
    let mut hasher = Sha256::new();
    hasher.update(ENTRY_HASH_DOMAIN);
    hasher.update(prev_hash);
    hasher.update(seq.to_be_bytes());
    hasher.update([op.code()]);
    hasher.update(timestamp.to_be_bytes());
    hasher.update([identity_length]);
    hasher.update(identity.as_bytes());
    hasher.update(card_id.0);
    Ok(hasher.finalize().into())
}

/// Checks that `entries` continue a log whose head is `head` (size and hash) and returns
/// the new head. Clients use this to follow the log; the tests use it after a crash.
pub fn verify_continuation(head: LogHead, entries: &[LogEntry]) -> Result<LogHead, LogChainError> {
    let mut head = head;
    for entry in entries {
        if entry.seq != head.size + 1 {
            return Err(LogChainError::OutOfSequence(entry.seq));
        }
        if entry.prev_hash != head.hash {
            return Err(LogChainError::BrokenLink(entry.seq));
        }
        let expected = entry_hash(
            &entry.prev_hash,
            entry.seq,
            entry.op,
            &entry.identity,
            &entry.card_id,
            entry.timestamp,
        )?;
        if expected != entry.hash {
            return Err(LogChainError::WrongHash(entry.seq));
        }
        head = LogHead {
            size: entry.seq,
            hash: entry.hash,
        };
    }
    Ok(head)
}

pub use crate::hex::hex32;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_links_and_detects_tampering() {
        let card = CardId([7; 32]);
        let first =
            LogEntry::next(EMPTY_LOG_HASH, 1, LogOperation::Publish, "alice", card, 10).unwrap();
        let second =
            LogEntry::next(first.hash, 2, LogOperation::Revoke, "alice", card, 11).unwrap();
        let empty = LogHead {
            size: 0,
            hash: EMPTY_LOG_HASH,
        };
        let head = verify_continuation(empty, &[first.clone(), second.clone()]).unwrap();
        assert_eq!(head.size, 2);
        assert_eq!(head.hash, second.hash);

        let mut tampered = second.clone();
        tampered.identity = "mallory".into();
        assert_eq!(
            verify_continuation(empty, &[first.clone(), tampered]),
            Err(LogChainError::WrongHash(2))
        );
        assert_eq!(
            verify_continuation(empty, &[second]),
            Err(LogChainError::OutOfSequence(2))
        );
    }

    #[test]
    fn entry_hash_matches_the_documented_layout() {
        // docs/LOG.md lays the bytes out; this recomputes them independently.
        let card = CardId([0xab; 32]);
        let mut bytes = Vec::new();
        bytes.extend_from_slice(b"tessera/v1/log-entry\0");
        bytes.extend_from_slice(&[0u8; 32]);
        bytes.extend_from_slice(&1u64.to_be_bytes());
        bytes.push(1);
        bytes.extend_from_slice(&1_767_225_600u64.to_be_bytes());
        bytes.push(5);
        bytes.extend_from_slice(b"alice");
        bytes.extend_from_slice(&[0xab; 32]);
        let expected: [u8; 32] = Sha256::digest(&bytes).into();
        let hash = entry_hash(
            &EMPTY_LOG_HASH,
            1,
            LogOperation::Publish,
            "alice",
            &card,
            1_767_225_600,
        )
        .unwrap();
        assert_eq!(hash, expected);
        // The example of docs/LOG.md.
        assert_eq!(
            hex32(&hash),
            "5cc90d0fdf48815f66e7c45cc592d8238e87e993726487b0a7528c060bec3801"
        );
        let next = entry_hash(
            &hash,
            2,
            LogOperation::Revoke,
            "alice",
            &card,
            1_767_225_660,
        )
        .unwrap();
        assert_eq!(
            hex32(&next),
            "7d6eb43074f502d4b0eee9e08ef2140c9732e2cadb093ea9ff03b0b4fbfdcc92"
        );
    }
}
