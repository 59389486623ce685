//! The client's one public error type. Every variant is stable, has a machine code
//! ([`Error::code`]) that the npm, Kotlin and Swift packages expose unchanged, and a
//! message that tells the app what to do next. Errors of the lower layers (envelope,
//! backup, cards, tokens, transport) convert into it; none carries secrets.

use thiserror::Error as ThisError;

use tessera_format::{
    backup::BackupError,
    card::{CardError, CardId},
    envelope::{DecryptError, EncryptError},
    group::GroupError,
    keys::KeyError,
};

/// Everything a [`crate::Tessera`] operation can fail with.
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum Error {
    /// The identity has no active card in the directory.
    #[error("this user is not registered (no active card in the directory); call register() first")]
    NotRegistered,
    /// The user is registered but this device holds no private key.
    #[error(
        "no private key is stored on this device; restore it with restore_private_key(password), \
         or, if the key is lost for good, call rotate_private_key()"
    )]
    MissingPrivateKey,
    /// The identity already has an active card (registered on another device, or twice).
    #[error(
        "this user is already registered; on a new device call restore_private_key(password), \
         or rotate_private_key() if the key was lost"
    )]
    AlreadyRegistered,
    /// The operation would overwrite the private key stored on this device.
    #[error(
        "a private key is already stored on this device; call cleanup() first if it should \
         really be replaced"
    )]
    PrivateKeyAlreadyExists,
    /// No key backup exists on the server.
    #[error("no key backup exists for this user; make one with backup_private_key(password)")]
    NoBackup,
    /// A key backup already exists and would be overwritten.
    #[error(
        "a key backup already exists; use change_password(old, new) to re-encrypt it, or \
         reset_private_key_backup() before making a new one"
    )]
    BackupAlreadyExists,
    /// The backup opened, but its key is not the key of the user's active card (the key
    /// was rotated after the backup was made).
    #[error(
        "the backup holds a key that no longer matches this user's card (the key was rotated \
         after the backup was made); make a new backup from a device with the current key, or \
         call rotate_private_key()"
    )]
    BackupKeyMismatch,
    /// The password does not open the backup.
    #[error("the password does not open the key backup; ask the user to try again")]
    WrongPassword,
    /// Some identities have no active card.
    #[error(
        "these users are not registered: {}; ask them to register, or leave them out",
        .identities.join(", ")
    )]
    UsersNotFound {
        /// Every identity that was not found, sorted.
        identities: Vec<String>,
    },
    /// A card from the directory (or the local cache) failed verification: never use it.
    #[error(
        "the card of {identity} failed verification ({reason}); the directory may be \
         compromised or misconfigured: do not send to this user and report it"
    )]
    CardVerificationFailed {
        /// Whose card it was.
        identity: String,
        /// Which check failed.
        reason: String,
    },
    /// The ciphertext is damaged or was tampered with (deliberately not more specific).
    #[error("decryption failed: the data is damaged or was tampered with; ask for it again")]
    DecryptionFailed,
    /// The data was made for another purpose (a group ticket given as a message, …).
    #[error(
        "this data is not what the call expects ({message}); pass messages to decrypt, group \
         messages to the group's decrypt"
    )]
    WrongPurpose {
        /// Which purpose was expected and which was found.
        message: String,
    },
    /// The data is not encrypted for this user's current key.
    #[error(
        "this data was not encrypted for this user's current key (it was made for someone \
         else, or before a key rotation); ask the sender to encrypt it again"
    )]
    NotARecipient,
    /// The data was signed by someone other than the given sender.
    #[error(
        "the data was not signed by the given sender; check who sent it, or refresh the \
         sender's card with find_users() or update_cached_users()"
    )]
    WrongSender,
    /// The sender's signature does not verify.
    #[error("the sender's signature is invalid: the data may be forged; do not trust it")]
    SignatureInvalid,
    /// Signed with the sender's previous key, and no creation time was given.
    #[error(
        "the data is signed with the sender's previous key ({card_id}); pass the time the data \
         was made (made_at) to verify data from before the sender's key rotation"
    )]
    MadeAtRequired {
        /// The earlier card whose key signed.
        card_id: CardId,
    },
    /// Signed with a key the sender had already replaced at the given creation time.
    #[error(
        "the data is signed with a key the sender had already replaced ({card_id}) at the given \
         time; the data may be forged, or made_at is wrong"
    )]
    SignerKeyReplaced {
        /// The earlier card whose key signed.
        card_id: CardId,
    },
    /// Data or a backup written by a newer version of Tessera.
    #[error("{message}; update Tessera to read it")]
    UnsupportedFormat {
        /// What is not supported.
        message: String,
    },
    /// The server could not be reached.
    #[error("could not reach the Tessera server ({message}); check the connection and retry")]
    Network {
        /// The transport's description of the failure.
        message: String,
    },
    /// The server rejected the token, even a freshly fetched one.
    #[error(
        "the server rejected the access token twice ({message}); check the app backend's \
         token (app key, issuer, audience, lifetime, device clock)"
    )]
    Unauthorized {
        /// The server's explanation.
        message: String,
    },
    /// The server answered with an error this operation does not turn into another variant.
    #[error("the server answered {status} {code}: {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// The server's stable error code (docs/API.md).
        code: String,
        /// The server's explanation.
        message: String,
    },
    /// The server's answer does not follow the API contract.
    #[error(
        "the server's answer is not valid ({message}); check the server URL and that the \
         server runs a compatible version"
    )]
    InvalidServerResponse {
        /// What was wrong with it.
        message: String,
    },
    /// Something changed on the server at the same time (another device rotated the key,
    /// or changed the backup); the operation did nothing.
    #[error("{message}; the operation did nothing: reload and try again")]
    Conflict {
        /// What changed concurrently.
        message: String,
    },
    /// The platform key store failed.
    #[error("the key store failed: {message}")]
    KeyStore {
        /// The key store's message.
        message: String,
    },
    /// The token provider failed or returned an unusable token.
    #[error("the token provider failed: {message}")]
    TokenProvider {
        /// What went wrong.
        message: String,
    },
    /// An argument is not valid.
    #[error("invalid input: {message}")]
    InvalidInput {
        /// Which argument and why.
        message: String,
    },
    /// Reading or writing a stream failed.
    #[error("reading or writing the data failed: {message}")]
    Io {
        /// The I/O error's description.
        message: String,
    },
    /// A stream was used after it finished or failed.
    #[error("this stream has finished or failed; start a new one")]
    InvalidState,
    /// No such group on the server, or this user was never a participant.
    #[error(
        "group '{group_id}' does not exist or this user is not a participant; check the id or \
         ask the group's initiator to add this user"
    )]
    GroupNotFound {
        /// The group id asked for.
        group_id: String,
    },
    /// A group with this id already exists.
    #[error("group '{group_id}' already exists; choose another id or load it")]
    GroupAlreadyExists {
        /// The group id.
        group_id: String,
    },
    /// Only the group's initiator may change its membership or delete it.
    #[error("only the group's initiator ({initiator}) can change its members or delete it")]
    NotGroupInitiator {
        /// Who the initiator is.
        initiator: String,
    },
    /// This user is no longer a participant of the group.
    #[error("this user is not a participant of the group's current epoch and cannot write to it")]
    NotGroupParticipant,
    /// The message belongs to an epoch this device cannot read, even after updating.
    #[error(
        "the group message is from epoch {epoch}, which this user cannot read (not a participant \
         then, or re-added without history)"
    )]
    GroupEpochUnknown {
        /// The message's epoch.
        epoch: u32,
    },
    /// The signer of a group message was not a participant of its epoch.
    #[error("the sender was not a participant of the group when the message was sent")]
    SenderNotParticipant,
    /// The operation was cancelled by the app.
    #[error("the operation was cancelled")]
    Cancelled,
    /// An internal failure (for example the OS random number generator).
    #[error("internal error: {message}")]
    Internal {
        /// What failed.
        message: String,
    },
}

/// The one table of the client's error codes: each [`Error`] variant and its stable machine
/// code, in declaration order. Calls `$callback! { Variant => "code", … }`, so the bindings
/// build their mirrors of [`Error`] from this table instead of copying it (a variant missing
/// on either side fails to compile there).
#[macro_export]
macro_rules! for_each_error_code {
    ($callback:ident) => {
        $callback! {
            NotRegistered => "not_registered",
            MissingPrivateKey => "missing_private_key",
            AlreadyRegistered => "already_registered",
            PrivateKeyAlreadyExists => "private_key_already_exists",
            NoBackup => "no_backup",
            BackupAlreadyExists => "backup_already_exists",
            BackupKeyMismatch => "backup_key_mismatch",
            WrongPassword => "wrong_password",
            UsersNotFound => "users_not_found",
            CardVerificationFailed => "card_verification_failed",
            DecryptionFailed => "decryption_failed",
            WrongPurpose => "wrong_purpose",
            NotARecipient => "not_a_recipient",
            WrongSender => "wrong_sender",
            SignatureInvalid => "signature_invalid",
            MadeAtRequired => "made_at_required",
            SignerKeyReplaced => "signer_key_replaced",
            UnsupportedFormat => "unsupported_format",
            Network => "network",
            Unauthorized => "unauthorized",
            Server => "server",
            InvalidServerResponse => "invalid_server_response",
            Conflict => "conflict",
            KeyStore => "key_store",
            TokenProvider => "token_provider",
            InvalidInput => "invalid_input",
            Io => "io",
            InvalidState => "invalid_state",
            GroupNotFound => "group_not_found",
            GroupAlreadyExists => "group_already_exists",
            NotGroupInitiator => "not_group_initiator",
            NotGroupParticipant => "not_group_participant",
            GroupEpochUnknown => "group_epoch_unknown",
            SenderNotParticipant => "sender_not_participant",
            Cancelled => "cancelled",
            Internal => "internal",
        }
    };
}

macro_rules! error_codes {
    ($($variant:ident => $code:literal,)*) => {
        impl Error {
            /// Every machine code, in declaration order (for the bindings' documentation
            /// and tests).
            pub const ALL_CODES: &'static [&'static str] = &[$($code),*];

            /// The stable machine code of this error (snake_case; never changes meaning).
            pub fn code(&self) -> &'static str {
                match self {
                    $(Error::$variant { .. } => $code,)*
                }
            }
        }
    };
}

for_each_error_code!(error_codes);

impl Error {
    pub(crate) fn invalid_input(message: impl Into<String>) -> Self {
        Error::InvalidInput {
            message: message.into(),
        }
    }

    pub(crate) fn invalid_response(message: impl Into<String>) -> Self {
        Error::InvalidServerResponse {
            message: message.into(),
        }
    }

    pub(crate) fn card_verification(identity: &str, reason: impl ToString) -> Self {
        Error::CardVerificationFailed {
            identity: identity.to_owned(),
            reason: reason.to_string(),
        }
    }

    /// True for a server answer with this status and code.
    pub(crate) fn is_server(&self, status: u16, code: &str) -> bool {
        matches!(self, Error::Server { status: s, code: c, .. } if *s == status && c == code)
    }
}

impl From<DecryptError> for Error {
    fn from(error: DecryptError) -> Self {
        match error {
            DecryptError::Malformed(_)
            | DecryptError::Truncated
            | DecryptError::DecryptionFailed => Error::DecryptionFailed,
            DecryptError::UnsupportedVersion(_) => Error::UnsupportedFormat {
                message: error.to_string(),
            },
            DecryptError::WrongPurpose { .. } => Error::WrongPurpose {
                message: error.to_string(),
            },
            DecryptError::NotARecipient => Error::NotARecipient,
            DecryptError::WrongSender => Error::WrongSender,
            DecryptError::SignatureInvalid => Error::SignatureInvalid,
            DecryptError::SignedWithPreviousKey { card_id } => Error::MadeAtRequired { card_id },
            DecryptError::SignerKeyReplaced { card_id } => Error::SignerKeyReplaced { card_id },
            DecryptError::InvalidSenderCards(reason) => Error::CardVerificationFailed {
                identity: "the sender".into(),
                reason: reason.to_string(),
            },
            DecryptError::Internal(_) => Error::Internal {
                message: error.to_string(),
            },
        }
    }
}

impl From<EncryptError> for Error {
    fn from(error: EncryptError) -> Self {
        match error {
            EncryptError::Randomness(_) | EncryptError::Internal(_) => Error::Internal {
                message: error.to_string(),
            },
            EncryptError::NoRecipients
            | EncryptError::TooManyRecipients(_)
            | EncryptError::InvalidRecipientKey
            | EncryptError::TooLarge => Error::InvalidInput {
                message: error.to_string(),
            },
        }
    }
}

impl From<BackupError> for Error {
    fn from(error: BackupError) -> Self {
        match error {
            BackupError::WrongPassword => Error::WrongPassword,
            BackupError::EmptyPassword | BackupError::InvalidAppId => {
                Error::invalid_input(error.to_string())
            }
            BackupError::UnsupportedVersion(_) | BackupError::UnsupportedKdf(_) => {
                Error::UnsupportedFormat {
                    message: error.to_string(),
                }
            }
            BackupError::Malformed(_) | BackupError::ParametersOutOfRange => {
                Error::invalid_response(format!("the stored key backup is unusable: {error}"))
            }
            BackupError::Randomness(_) => Error::Internal {
                message: error.to_string(),
            },
        }
    }
}

impl From<GroupError> for Error {
    fn from(error: GroupError) -> Self {
        match error {
            GroupError::Decrypt(error) => error.into(),
            GroupError::Encrypt(error) => error.into(),
            GroupError::Identity(error) => error.into(),
            GroupError::UnknownEpoch(epoch) => Error::GroupEpochUnknown { epoch },
            GroupError::SenderNotParticipant => Error::SenderNotParticipant,
            GroupError::NotInTicket => Error::NotARecipient,
            GroupError::WrongGroup | GroupError::Malformed(_) => Error::DecryptionFailed,
            GroupError::UnsupportedVersion(_) => Error::UnsupportedFormat {
                message: error.to_string(),
            },
            GroupError::InvalidGroupId(_) | GroupError::ParticipantCount => {
                Error::invalid_input(error.to_string())
            }
            GroupError::InvalidTicket(_) => {
                Error::invalid_response(format!("a group ticket is invalid: {error}"))
            }
        }
    }
}

impl From<KeyError> for Error {
    fn from(error: KeyError) -> Self {
        Error::Internal {
            message: error.to_string(),
        }
    }
}

impl From<CardError> for Error {
    fn from(error: CardError) -> Self {
        match error {
            CardError::InvalidIdentity(_) => Error::invalid_input(error.to_string()),
            _ => Error::Internal {
                message: error.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn one_of_each() -> Vec<Error> {
        let text = |s: &str| s.to_owned();
        vec![
            Error::NotRegistered,
            Error::MissingPrivateKey,
            Error::AlreadyRegistered,
            Error::PrivateKeyAlreadyExists,
            Error::NoBackup,
            Error::BackupAlreadyExists,
            Error::BackupKeyMismatch,
            Error::WrongPassword,
            Error::UsersNotFound {
                identities: vec![text("a"), text("b")],
            },
            Error::card_verification("a", "bad"),
            Error::DecryptionFailed,
            Error::WrongPurpose { message: text("x") },
            Error::NotARecipient,
            Error::WrongSender,
            Error::SignatureInvalid,
            Error::MadeAtRequired {
                card_id: CardId([0; 32]),
            },
            Error::SignerKeyReplaced {
                card_id: CardId([0; 32]),
            },
            Error::UnsupportedFormat { message: text("x") },
            Error::Network { message: text("x") },
            Error::Unauthorized { message: text("x") },
            Error::Server {
                status: 500,
                code: text("internal"),
                message: text("x"),
            },
            Error::invalid_response("x"),
            Error::Conflict { message: text("x") },
            Error::KeyStore { message: text("x") },
            Error::TokenProvider { message: text("x") },
            Error::invalid_input("x"),
            Error::Io { message: text("x") },
            Error::InvalidState,
            Error::GroupNotFound {
                group_id: text("g"),
            },
            Error::GroupAlreadyExists {
                group_id: text("g"),
            },
            Error::NotGroupInitiator {
                initiator: text("alice"),
            },
            Error::NotGroupParticipant,
            Error::GroupEpochUnknown { epoch: 3 },
            Error::SenderNotParticipant,
            Error::Cancelled,
            Error::Internal { message: text("x") },
        ]
    }

    #[test]
    fn every_variant_has_a_unique_listed_code_and_a_message() {
        let errors = one_of_each();
        let codes: Vec<&str> = errors.iter().map(Error::code).collect();
        assert_eq!(codes, Error::ALL_CODES);
        assert_eq!(codes.iter().collect::<HashSet<_>>().len(), codes.len());
        for error in errors {
            assert!(error.to_string().len() > 10, "{error:?}");
        }
    }

    /// The backticked names in the given column of every table row of `section` (a doc
    /// section from its heading to the next heading of the same level).
    fn codes_in_doc_tables(doc: &str, heading: &str, column: usize) -> Vec<String> {
        let path = format!("{}/../../docs/{doc}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        let section = text.split(heading).nth(1).unwrap();
        let section = section.split("\n## ").next().unwrap();
        section
            .lines()
            .filter(|line| line.starts_with("| `"))
            .filter_map(|line| line.split('|').nth(column))
            .flat_map(|cell| cell.split('`').skip(1).step_by(2).map(str::to_owned))
            .collect()
    }

    #[test]
    fn client_docs_list_every_code_in_order() {
        let documented = codes_in_doc_tables("CLIENT.md", "\n## Errors\n", 2);
        assert_eq!(documented, Error::ALL_CODES);
    }

    #[test]
    fn npm_docs_list_every_client_code_and_only_known_codes() {
        let sections = "\n## Errors\n";
        let all = codes_in_doc_tables("NPM.md", sections, 1);
        let known: HashSet<&str> = Error::ALL_CODES
            .iter()
            .chain(tessera_format::ERROR_KINDS)
            .copied()
            .collect();
        for code in &all {
            assert!(
                known.contains(code.as_str()),
                "docs/NPM.md lists unknown code {code}"
            );
        }
        let documented: HashSet<&str> = all.iter().map(String::as_str).collect();
        for code in Error::ALL_CODES {
            assert!(documented.contains(code), "docs/NPM.md misses {code}");
        }
    }

    #[test]
    fn users_not_found_names_everyone() {
        let error = Error::UsersNotFound {
            identities: vec!["carol".into(), "dave".into()],
        };
        let text = error.to_string();
        assert!(text.contains("carol") && text.contains("dave"), "{text}");
    }
}
