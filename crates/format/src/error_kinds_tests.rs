//! Every error variant's kind is in [`crate::ERROR_KINDS`], and every listed kind is used.

use std::collections::BTreeSet;

use crate::{
    BackupError, CardError, CardId, DecryptError, ERROR_KINDS, EncryptError, TokenError,
    group::GroupError, keys::KeyError, random::RandomnessUnavailable,
};

fn every_variants_kind() -> Vec<&'static str> {
    let card_id = CardId([0; 32]);
    let mut kinds = Vec::new();
    kinds.extend(
        [
            BackupError::Malformed("x"),
            BackupError::UnsupportedVersion(9),
            BackupError::UnsupportedKdf(9),
            BackupError::ParametersOutOfRange,
            BackupError::WrongPassword,
            BackupError::EmptyPassword,
            BackupError::Randomness(RandomnessUnavailable),
        ]
        .iter()
        .map(BackupError::kind),
    );
    let cards = [
        CardError::Malformed("x"),
        CardError::UnsupportedVersion(9),
        CardError::InvalidIdentity("x"),
        CardError::InvalidKey(KeyError::InvalidSigningKey),
        CardError::TimestampOutOfRange,
        CardError::BadSignature,
        CardError::BrokenChain("x"),
    ];
    kinds.extend(cards.iter().map(CardError::kind));
    let encrypts = [
        EncryptError::NoRecipients,
        EncryptError::TooManyRecipients(9),
        EncryptError::InvalidRecipientKey,
        EncryptError::TooLarge,
        EncryptError::Randomness(RandomnessUnavailable),
        EncryptError::Internal("x"),
    ];
    kinds.extend(encrypts.iter().map(EncryptError::kind));
    let decrypts = [
        DecryptError::Malformed("x"),
        DecryptError::UnsupportedVersion(9),
        DecryptError::Truncated,
        DecryptError::WrongPurpose {
            expected: "data",
            found: "group-ticket",
        },
        DecryptError::NotARecipient,
        DecryptError::DecryptionFailed,
        DecryptError::WrongSender,
        DecryptError::SignatureInvalid,
        DecryptError::SignedWithPreviousKey { card_id },
        DecryptError::SignerKeyReplaced { card_id },
        DecryptError::InvalidSenderCards(CardError::BadSignature),
        DecryptError::Internal("x"),
    ];
    kinds.extend(decrypts.iter().map(DecryptError::kind));
    kinds.extend(
        [
            KeyError::InvalidRootSecretLength(9),
            KeyError::InvalidSigningKey,
            KeyError::InvalidEncryptionKey,
            KeyError::Randomness(RandomnessUnavailable),
        ]
        .iter()
        .map(KeyError::kind),
    );
    kinds.extend(
        [
            TokenError::Malformed("x"),
            TokenError::UnsupportedAlgorithm,
            TokenError::UnsupportedCritical,
            TokenError::UnknownKey,
            TokenError::BadSignature,
            TokenError::Expired,
            TokenError::NotYetValid,
            TokenError::LifetimeTooLong,
            TokenError::WrongIssuer,
            TokenError::WrongAudience("x"),
            TokenError::InvalidSubject,
            TokenError::Randomness(RandomnessUnavailable),
        ]
        .iter()
        .map(TokenError::kind),
    );
    let mut groups = vec![
        GroupError::Malformed("x"),
        GroupError::UnsupportedVersion(9),
        GroupError::InvalidGroupId("x"),
        GroupError::WrongGroup,
        GroupError::UnknownEpoch(9),
        GroupError::SenderNotParticipant,
        GroupError::NotInTicket,
        GroupError::InvalidTicket("x"),
        GroupError::ParticipantCount,
    ];
    groups.extend(cards.into_iter().map(GroupError::Identity));
    groups.extend(encrypts.into_iter().map(GroupError::Encrypt));
    groups.extend(decrypts.into_iter().map(GroupError::Decrypt));
    kinds.extend(groups.iter().map(GroupError::kind));
    kinds
}

#[test]
fn every_kind_is_listed_once_and_every_listed_kind_is_used() {
    let listed: BTreeSet<&str> = ERROR_KINDS.iter().copied().collect();
    assert_eq!(listed.len(), ERROR_KINDS.len(), "a kind is listed twice");
    let used: BTreeSet<&str> = every_variants_kind().into_iter().collect();
    assert_eq!(used, listed);
}

#[test]
fn a_wrapped_error_keeps_its_kind() {
    let inner = EncryptError::Randomness(RandomnessUnavailable);
    assert_eq!(GroupError::Encrypt(inner.clone()).kind(), inner.kind());
}
