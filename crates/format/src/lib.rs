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
pub use jwt::{AppKey, Audience, TokenClaims, TokenError, TokenVerifier};
pub use keys::{IdentityKeyPair, KeyId, PublicKeys, RootSecret};
pub use safety_number::safety_number;
pub use time::Timestamp;

/// Every `kind()` of this crate's errors (`BackupError`, `CardError`, `DecryptError`,
/// `EncryptError`, `GroupError`, `KeyError`, `TokenError`): one vocabulary, so a condition
/// has the same name whichever error reports it, and the same name as the client's code
/// for it where the client has one. The test vectors' `error` fields use these names.
pub const ERROR_KINDS: &[&str] = &[
    "malformed",
    "unsupported_version",
    "truncated",
    "wrong_purpose",
    "internal",
    "randomness_unavailable",
    "invalid_input",
    "invalid_key",
    "invalid_identity",
    "timestamp_out_of_range",
    "bad_signature",
    "broken_chain",
    "not_a_recipient",
    "decryption_failed",
    "wrong_sender",
    "signature_invalid",
    "made_at_required",
    "signer_key_replaced",
    "invalid_sender_cards",
    "wrong_password",
    "empty_password",
    "unsupported_kdf",
    "parameters_out_of_range",
    "unsupported_algorithm",
    "unsupported_critical",
    "unknown_key",
    "expired",
    "not_yet_valid",
    "lifetime_too_long",
    "wrong_issuer",
    "wrong_audience",
    "invalid_subject",
    "invalid_group_id",
    "wrong_group",
    "group_epoch_unknown",
    "sender_not_participant",
    "not_in_ticket",
    "invalid_ticket",
    "participant_count",
];

#[cfg(test)]
mod error_kinds_tests;
#[cfg(test)]
mod test_vectors;
