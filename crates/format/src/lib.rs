//! Tessera's cryptography and formats: identity keys, cards, the message and stream
//! envelope, password backups, group tickets and messages, tokens and safety numbers, as
//! specified byte by byte in `docs/FORMAT.md`. No networking and no async: the device
//! client (`tessera-client`) and the server (`tessera-server`) are built on this crate.
//!
//! Every parser in this crate returns a typed error on malformed input and never panics.
//! Secrets are zeroized on drop and redacted in `Debug` output.
#![forbid(unsafe_code)]

pub mod backup;
pub mod card;
pub mod encoding;
pub mod envelope;
pub mod group;
pub mod jwt;
pub mod keys;
mod random;
pub mod safety_number;
pub mod time;

pub use backup::{BackupError, DerivedPasswords, KdfParams, derive_passwords};
pub use card::{Card, CardContent, CardError, CardId, Identity};
pub use envelope::{DecryptError, EncryptError, Recipient, Verified};
pub use jwt::{AppKey, TokenClaims, TokenError, TokenVerifier};
pub use keys::{IdentityKeyPair, KeyId, PublicKeys, RootSecret};
pub use safety_number::safety_number;
pub use time::Timestamp;

#[cfg(test)]
mod test_vectors;
