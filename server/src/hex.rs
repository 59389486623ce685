//! Lower-case hex for card ids and hashes in JSON. Written out with a table rather than
//! `format!` per byte: every card in a search answer carries up to three ids, so this is
//! on the hot path.

use serde::Serializer;
use tessera_format::CardId;

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// 64 lower-case hex digits of 32 bytes.
pub fn hex32(bytes: &[u8; 32]) -> String {
    let mut out = String::with_capacity(64);
    for byte in bytes {
        for nibble in [byte >> 4, byte & 0x0f] {
            out.push(char::from(
                DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0'),
            ));
        }
    }
    out
}

/// Serde: a card id as hex.
pub fn serialize_card_id<S: Serializer>(id: &CardId, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex32(&id.0))
}

/// Serde: an optional card id as hex or null.
pub fn serialize_optional_card_id<S: Serializer>(
    id: &Option<CardId>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match id {
        Some(id) => s.serialize_str(&hex32(&id.0)),
        None => s.serialize_none(),
    }
}

/// Serde: 32 bytes as hex.
pub fn serialize_hash<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex32(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_core_card_id_hex() {
        let id = CardId(core::array::from_fn(|i| (i * 37 + 5) as u8));
        assert_eq!(hex32(&id.0), id.to_hex());
    }
}
