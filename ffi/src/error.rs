//! Errors as foreign exceptions.
//!
//! - [`TesseraError`]: everything the client ([`crate::client::Tessera`]) and its streams
//!   fail with: one variant per variant of `tessera_client::Error`, each carrying the
//!   client's message (`reason`, which says what to do next) and its structured fields;
//!   `code()` is the client's stable machine code, from its one code table
//!   (`tessera_client::for_each_error_code!`). Kotlin: `TesseraException.WrongPassword`…,
//!   Swift: `TesseraError.WrongPassword(reason:)`.
//! - [`CryptoError`]: the lower layers (cards, keys, envelopes, backups, tokens, groups)
//!   used directly; `kind()` is the error's `kind()` (`tessera_format::ERROR_KINDS`), the
//!   same strings the test vectors and the npm package use.
//! - [`PlatformError`]: what the app's key store, token provider and listeners report;
//!   anything else they throw arrives as UniFFI's unexpected-callback error and converts
//!   into it.
//!
//! No message carries key material, tokens or plaintext (core's messages never do).

use tessera_client::Error as CoreError;

use tessera_format::{
    BackupError, CardError, DecryptError, EncryptError, TokenError, group::GroupError,
    keys::KeyError,
};

/// Why a Tessera client operation failed. `code()` is stable; `reason` says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum TesseraError {
    /// The identity has no active card in the directory: `register()`.
    #[error("{reason}")]
    NotRegistered {
        /// What happened and what to do next.
        reason: String,
    },
    /// No private key on this device: `restorePrivateKey` or `rotatePrivateKey`.
    #[error("{reason}")]
    MissingPrivateKey {
        /// What happened and what to do next.
        reason: String,
    },
    /// The identity already has an active card: restore the key on this device.
    #[error("{reason}")]
    AlreadyRegistered {
        /// What happened and what to do next.
        reason: String,
    },
    /// A private key is stored on this device already: `cleanup()` first if it must go.
    #[error("{reason}")]
    PrivateKeyAlreadyExists {
        /// What happened and what to do next.
        reason: String,
    },
    /// No key backup exists: make one with `backupPrivateKey`.
    #[error("{reason}")]
    NoBackup {
        /// What happened and what to do next.
        reason: String,
    },
    /// A key backup exists already: `changePassword`, or reset it first.
    #[error("{reason}")]
    BackupAlreadyExists {
        /// What happened and what to do next.
        reason: String,
    },
    /// The backup predates a key rotation.
    #[error("{reason}")]
    BackupKeyMismatch {
        /// What happened and what to do next.
        reason: String,
    },
    /// The password does not open the backup: ask again.
    #[error("{reason}")]
    WrongPassword {
        /// What happened and what to do next.
        reason: String,
    },
    /// Some identities have no active card (or are not cached).
    #[error("{reason}")]
    UsersNotFound {
        /// What happened and what to do next.
        reason: String,
        /// Every identity that was not found, sorted.
        identities: Vec<String>,
    },
    /// A card failed verification: never use it.
    #[error("{reason}")]
    CardVerificationFailed {
        /// What happened and what to do next.
        reason: String,
        /// Whose card it was.
        identity: String,
    },
    /// Damaged or tampered data (deliberately opaque).
    #[error("{reason}")]
    DecryptionFailed {
        /// What happened and what to do next.
        reason: String,
    },
    /// Made for another purpose (a group ticket given as a message, …).
    #[error("{reason}")]
    WrongPurpose {
        /// What happened and what to do next.
        reason: String,
    },
    /// Not encrypted for this user's current key.
    #[error("{reason}")]
    NotARecipient {
        /// What happened and what to do next.
        reason: String,
    },
    /// Not signed by the given sender (or by a newer card of theirs: refresh it).
    #[error("{reason}")]
    WrongSender {
        /// What happened and what to do next.
        reason: String,
    },
    /// Forged or corrupted signature.
    #[error("{reason}")]
    SignatureInvalid {
        /// What happened and what to do next.
        reason: String,
    },
    /// Signed with the sender's previous key: pass `madeAt`.
    #[error("{reason}")]
    MadeAtRequired {
        /// What happened and what to do next.
        reason: String,
        /// The earlier card whose key signed (hex).
        card_id: String,
    },
    /// Signed with a key already replaced at `madeAt`.
    #[error("{reason}")]
    SignerKeyReplaced {
        /// What happened and what to do next.
        reason: String,
        /// The earlier card whose key signed (hex).
        card_id: String,
    },
    /// Made by a newer Tessera: update.
    #[error("{reason}")]
    UnsupportedFormat {
        /// What happened and what to do next.
        reason: String,
    },
    /// No response from the server: retry.
    #[error("{reason}")]
    Network {
        /// What happened and what to do next.
        reason: String,
    },
    /// A fresh token was rejected too: check the backend's tokens.
    #[error("{reason}")]
    Unauthorized {
        /// What happened and what to do next.
        reason: String,
    },
    /// Any other server error.
    #[error("{reason}")]
    Server {
        /// What happened and what to do next.
        reason: String,
        /// HTTP status.
        status: u16,
        /// The server's stable error code (docs/API.md), e.g. `rate_limited`.
        server_code: String,
    },
    /// The server's answer breaks the API contract: check the URL and version.
    #[error("{reason}")]
    InvalidServerResponse {
        /// What happened and what to do next.
        reason: String,
    },
    /// Another device changed the card or backup at the same time: reload, retry.
    #[error("{reason}")]
    Conflict {
        /// What happened and what to do next.
        reason: String,
    },
    /// The platform key store failed.
    #[error("{reason}")]
    KeyStore {
        /// What happened and what to do next.
        reason: String,
    },
    /// The token provider failed or returned an unusable token.
    #[error("{reason}")]
    TokenProvider {
        /// What happened and what to do next.
        reason: String,
    },
    /// An argument is invalid (identity, empty password, URL…).
    #[error("{reason}")]
    InvalidInput {
        /// What happened and what to do next.
        reason: String,
    },
    /// Reading or writing a stream failed.
    #[error("{reason}")]
    Io {
        /// What happened and what to do next.
        reason: String,
    },
    /// A stream was used after it finished or failed: start a new one.
    #[error("{reason}")]
    InvalidState {
        /// What happened and what to do next.
        reason: String,
    },
    /// No such group, or this user was never a participant.
    #[error("{reason}")]
    GroupNotFound {
        /// What happened and what to do next.
        reason: String,
        /// The group id asked for.
        group_id: String,
    },
    /// A group with this id already exists.
    #[error("{reason}")]
    GroupAlreadyExists {
        /// What happened and what to do next.
        reason: String,
        /// The group id.
        group_id: String,
    },
    /// Only the group's initiator may change its members or delete it.
    #[error("{reason}")]
    NotGroupInitiator {
        /// What happened and what to do next.
        reason: String,
        /// Who the initiator is.
        initiator: String,
    },
    /// This user is not a participant of the group's current epoch.
    #[error("{reason}")]
    NotGroupParticipant {
        /// What happened and what to do next.
        reason: String,
    },
    /// The group message is from an epoch this user cannot read.
    #[error("{reason}")]
    GroupEpochUnknown {
        /// What happened and what to do next.
        reason: String,
        /// The message's epoch.
        epoch: u32,
    },
    /// The signer of a group message was not a participant of its epoch.
    #[error("{reason}")]
    SenderNotParticipant {
        /// What happened and what to do next.
        reason: String,
    },
    /// The app cancelled a stream.
    #[error("{reason}")]
    Cancelled {
        /// What happened and what to do next.
        reason: String,
    },
    /// An internal failure (for example the OS random number generator).
    #[error("{reason}")]
    Internal {
        /// What happened and what to do next.
        reason: String,
    },
}

#[uniffi::export]
impl TesseraError {
    /// The stable machine code (snake_case, `tessera_client::Error::code`), the same
    /// in Rust, JS, Kotlin and Swift.
    pub fn code(&self) -> String {
        self.client_code().to_owned()
    }

    /// The message: what went wrong and what to do next (no secrets).
    pub fn reason(&self) -> String {
        self.to_string()
    }
}

// One variant per entry of the client's code table, with the same name: a variant missing
// here or left over fails to compile.
macro_rules! client_codes {
    ($($variant:ident => $code:literal,)*) => {
        impl TesseraError {
            fn client_code(&self) -> &'static str {
                match self {
                    $(Self::$variant { .. } => $code,)*
                }
            }
        }
    };
}

tessera_client::for_each_error_code!(client_codes);

impl From<CoreError> for TesseraError {
    fn from(error: CoreError) -> Self {
        let reason = error.to_string();
        match error {
            CoreError::NotRegistered => Self::NotRegistered { reason },
            CoreError::MissingPrivateKey => Self::MissingPrivateKey { reason },
            CoreError::AlreadyRegistered => Self::AlreadyRegistered { reason },
            CoreError::PrivateKeyAlreadyExists => Self::PrivateKeyAlreadyExists { reason },
            CoreError::NoBackup => Self::NoBackup { reason },
            CoreError::BackupAlreadyExists => Self::BackupAlreadyExists { reason },
            CoreError::BackupKeyMismatch => Self::BackupKeyMismatch { reason },
            CoreError::WrongPassword => Self::WrongPassword { reason },
            CoreError::UsersNotFound { identities } => Self::UsersNotFound { reason, identities },
            CoreError::CardVerificationFailed { identity, .. } => {
                Self::CardVerificationFailed { reason, identity }
            }
            CoreError::DecryptionFailed => Self::DecryptionFailed { reason },
            CoreError::WrongPurpose { .. } => Self::WrongPurpose { reason },
            CoreError::NotARecipient => Self::NotARecipient { reason },
            CoreError::WrongSender => Self::WrongSender { reason },
            CoreError::SignatureInvalid => Self::SignatureInvalid { reason },
            CoreError::MadeAtRequired { card_id } => Self::MadeAtRequired {
                reason,
                card_id: card_id.to_hex(),
            },
            CoreError::SignerKeyReplaced { card_id } => Self::SignerKeyReplaced {
                reason,
                card_id: card_id.to_hex(),
            },
            CoreError::UnsupportedFormat { .. } => Self::UnsupportedFormat { reason },
            CoreError::Network { .. } => Self::Network { reason },
            CoreError::Unauthorized { .. } => Self::Unauthorized { reason },
            CoreError::Server { status, code, .. } => Self::Server {
                reason,
                status,
                server_code: code,
            },
            CoreError::InvalidServerResponse { .. } => Self::InvalidServerResponse { reason },
            CoreError::Conflict { .. } => Self::Conflict { reason },
            CoreError::KeyStore { .. } => Self::KeyStore { reason },
            CoreError::TokenProvider { .. } => Self::TokenProvider { reason },
            CoreError::InvalidInput { .. } => Self::InvalidInput { reason },
            CoreError::Io { .. } => Self::Io { reason },
            CoreError::InvalidState => Self::InvalidState { reason },
            CoreError::GroupNotFound { group_id } => Self::GroupNotFound { reason, group_id },
            CoreError::GroupAlreadyExists { group_id } => {
                Self::GroupAlreadyExists { reason, group_id }
            }
            CoreError::NotGroupInitiator { initiator } => {
                Self::NotGroupInitiator { reason, initiator }
            }
            CoreError::NotGroupParticipant => Self::NotGroupParticipant { reason },
            CoreError::GroupEpochUnknown { epoch } => Self::GroupEpochUnknown { reason, epoch },
            CoreError::SenderNotParticipant => Self::SenderNotParticipant { reason },
            CoreError::Cancelled => Self::Cancelled { reason },
            // `Error` is non-exhaustive; a variant added to core without one here is
            // caught by the test below (its code would not round-trip).
            _ => Self::Internal { reason },
        }
    }
}

/// Why a lower-layer operation (cards, envelopes, backups, tokens, groups) failed.
/// `kind()` is core's stable kind of the failure, as in the test vectors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum CryptoError {
    /// A card is malformed or its self-signature does not verify (`CardError`).
    #[error("{reason}")]
    Card {
        /// The stable kind, e.g. `bad_signature`.
        kind: String,
        /// What went wrong.
        reason: String,
    },
    /// Key material is unusable, or randomness is unavailable (`KeyError`).
    #[error("{reason}")]
    Key {
        /// The stable kind, e.g. `invalid_key`.
        kind: String,
        /// What went wrong.
        reason: String,
    },
    /// Encryption could not start (`EncryptError`).
    #[error("{reason}")]
    Encrypt {
        /// The stable kind, e.g. `invalid_input`.
        kind: String,
        /// What went wrong.
        reason: String,
    },
    /// Decryption or verification failed (`DecryptError`).
    #[error("{reason}")]
    Decrypt {
        /// The stable kind, e.g. `not_a_recipient`.
        kind: String,
        /// What went wrong.
        reason: String,
    },
    /// A backup could not be made or opened (`BackupError`).
    #[error("{reason}")]
    Backup {
        /// The stable kind, e.g. `wrong_password`.
        kind: String,
        /// What went wrong.
        reason: String,
    },
    /// A token is invalid (`TokenError`).
    #[error("{reason}")]
    Token {
        /// The stable kind, e.g. `expired`.
        kind: String,
        /// What went wrong.
        reason: String,
    },
    /// A group ticket or group message failed (`GroupError`).
    #[error("{reason}")]
    Group {
        /// The stable kind, e.g. `group_epoch_unknown`.
        kind: String,
        /// What went wrong.
        reason: String,
    },
}

#[uniffi::export]
impl CryptoError {
    /// The stable kind of failure (snake_case), as in `test-vectors/`.
    pub fn kind(&self) -> String {
        match self {
            Self::Card { kind, .. }
            | Self::Key { kind, .. }
            | Self::Encrypt { kind, .. }
            | Self::Decrypt { kind, .. }
            | Self::Backup { kind, .. }
            | Self::Token { kind, .. }
            | Self::Group { kind, .. } => kind.clone(),
        }
    }
}

macro_rules! kinded {
    ($($core:ty => $variant:ident),* $(,)?) => {$(
        impl From<$core> for CryptoError {
            fn from(error: $core) -> Self {
                Self::$variant {
                    kind: error.kind().to_owned(),
                    reason: error.to_string(),
                }
            }
        }
    )*};
}

kinded!(
    CardError => Card,
    KeyError => Key,
    EncryptError => Encrypt,
    DecryptError => Decrypt,
    BackupError => Backup,
    TokenError => Token,
    GroupError => Group,
);

impl CryptoError {
    /// A `Key` error of kind `invalid_key`: bytes of the wrong length.
    pub(crate) fn invalid_key(reason: &str) -> Self {
        Self::Key {
            kind: "invalid_key".to_owned(),
            reason: reason.to_owned(),
        }
    }
}

/// What a platform trait implementation (key store, token provider, listener) reports.
/// Kotlin: throw `PlatformException.Failed("…")` (any other exception arrives too, as its
/// `toString()`); Swift: throw `PlatformError.Failed(reason:)`. Never put secrets in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum PlatformError {
    /// The operation failed.
    #[error("{reason}")]
    Failed {
        /// What went wrong, for the app developer.
        reason: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for PlatformError {
    fn from(error: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Failed {
            reason: error.reason,
        }
    }
}

impl From<PlatformError> for tessera_client::PlatformError {
    fn from(error: PlatformError) -> Self {
        tessera_client::PlatformError::new(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use tessera_format::CardId;

    use super::*;

    fn one_of_each() -> Vec<CoreError> {
        let text = || "x".to_owned();
        vec![
            CoreError::NotRegistered,
            CoreError::MissingPrivateKey,
            CoreError::AlreadyRegistered,
            CoreError::PrivateKeyAlreadyExists,
            CoreError::NoBackup,
            CoreError::BackupAlreadyExists,
            CoreError::BackupKeyMismatch,
            CoreError::WrongPassword,
            CoreError::UsersNotFound {
                identities: vec!["carol".into(), "dave".into()],
            },
            CoreError::CardVerificationFailed {
                identity: "bob".into(),
                reason: text(),
            },
            CoreError::DecryptionFailed,
            CoreError::WrongPurpose { message: text() },
            CoreError::NotARecipient,
            CoreError::WrongSender,
            CoreError::SignatureInvalid,
            CoreError::MadeAtRequired {
                card_id: CardId([7; 32]),
            },
            CoreError::SignerKeyReplaced {
                card_id: CardId([7; 32]),
            },
            CoreError::UnsupportedFormat { message: text() },
            CoreError::Network { message: text() },
            CoreError::Unauthorized { message: text() },
            CoreError::Server {
                status: 429,
                code: "rate_limited".into(),
                message: text(),
            },
            CoreError::InvalidServerResponse { message: text() },
            CoreError::Conflict { message: text() },
            CoreError::KeyStore { message: text() },
            CoreError::TokenProvider { message: text() },
            CoreError::InvalidInput { message: text() },
            CoreError::Io { message: text() },
            CoreError::InvalidState,
            CoreError::GroupNotFound {
                group_id: "team".into(),
            },
            CoreError::GroupAlreadyExists {
                group_id: "team".into(),
            },
            CoreError::NotGroupInitiator {
                initiator: "alice".into(),
            },
            CoreError::NotGroupParticipant,
            CoreError::GroupEpochUnknown { epoch: 3 },
            CoreError::SenderNotParticipant,
            CoreError::Cancelled,
            CoreError::Internal { message: text() },
        ]
    }

    #[test]
    fn every_core_error_keeps_its_code_message_and_fields() {
        let errors = one_of_each();
        // A variant added to core grows ALL_CODES and fails here until it is mapped.
        let codes: Vec<&str> = errors.iter().map(CoreError::code).collect();
        assert_eq!(codes, CoreError::ALL_CODES);
        for error in errors {
            let mapped = TesseraError::from(error.clone());
            assert_eq!(mapped.code(), error.code(), "{error:?}");
            assert_eq!(mapped.reason(), error.to_string());
        }
        assert_eq!(
            TesseraError::from(CoreError::UsersNotFound {
                identities: vec!["carol".into()]
            }),
            TesseraError::UsersNotFound {
                reason: CoreError::UsersNotFound {
                    identities: vec!["carol".into()]
                }
                .to_string(),
                identities: vec!["carol".into()],
            }
        );
        let TesseraError::MadeAtRequired { card_id, .. } =
            TesseraError::from(CoreError::MadeAtRequired {
                card_id: CardId([7; 32]),
            })
        else {
            unreachable!("mapped to another variant")
        };
        assert_eq!(card_id, "07".repeat(32));
    }

    #[test]
    fn lower_layer_errors_keep_their_kind() {
        let error = CryptoError::from(DecryptError::NotARecipient);
        assert_eq!(error.kind(), "not_a_recipient");
        let error = CryptoError::from(BackupError::WrongPassword);
        assert_eq!(error.kind(), "wrong_password");
        let error = CryptoError::from(EncryptError::NoRecipients);
        assert_eq!(error.kind(), EncryptError::NoRecipients.kind());
        let error = CryptoError::from(KeyError::InvalidSigningKey);
        assert_eq!(error.kind(), KeyError::InvalidSigningKey.kind());
        assert!(
            tessera_format::ERROR_KINDS.contains(&CryptoError::invalid_key("x").kind().as_str())
        );
    }

    #[test]
    fn unexpected_foreign_exceptions_become_platform_errors() {
        let error = PlatformError::from(uniffi::UnexpectedUniFFICallbackError::new(
            "java.io.IOException: disk full",
        ));
        assert_eq!(error.to_string(), "java.io.IOException: disk full");
    }
}
