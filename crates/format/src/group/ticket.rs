//! Tickets: how an initiator hands epoch secrets to participants (docs/FORMAT.md §8.2).
//!
//! A ticket *blob* (what the server stores for one epoch) holds one or more envelopes
//! signed by the initiator: the first to every participant of the epoch with that epoch's
//! secret, and optionally a second to newly added participants with the secrets of
//! earlier epochs (shared history).

use std::collections::BTreeSet;

use zeroize::Zeroizing;

use super::{EpochKey, GroupError, GroupId};
use crate::{
    card::{Card, Identity},
    encoding::Reader,
    envelope::{DecryptError, Purpose, Recipient, decrypt_for, encrypt_for},
    keys::IdentityKeyPair,
    time::Timestamp,
};

const TICKET_MAGIC: &[u8; 4] = b"TSGT";
const BLOB_MAGIC: &[u8; 4] = b"TSGB";
const VERSION: u8 = 2;
/// Most participants of one epoch.
pub const MAX_PARTICIPANTS: usize = crate::envelope::MAX_RECIPIENTS;
/// Envelope 0 (the epoch, to everyone) and optionally envelope 1 (history, to newcomers).
const MAX_ENVELOPES: usize = 2;

fn encode_ticket(
    group_id: &GroupId,
    records: &[&EpochKey],
) -> Result<Zeroizing<Vec<u8>>, GroupError> {
    let mut out = Zeroizing::new(Vec::new());
    out.extend_from_slice(TICKET_MAGIC);
    out.push(VERSION);
    // GroupId::new bounds the length to 128 bytes.
    out.push(group_id.as_str().len() as u8);
    out.extend_from_slice(group_id.as_str().as_bytes());
    let count =
        u16::try_from(records.len()).map_err(|_| GroupError::Malformed("too many epochs"))?;
    out.extend_from_slice(&count.to_be_bytes());
    for record in records {
        if record.participants.is_empty() || record.participants.len() > MAX_PARTICIPANTS {
            return Err(GroupError::ParticipantCount);
        }
        out.extend_from_slice(&record.epoch.to_be_bytes());
        out.extend_from_slice(record.secret.as_ref());
        out.extend_from_slice(&(record.participants.len() as u32).to_be_bytes());
        for participant in &record.participants {
            // Identity::new bounds the length to 128 bytes.
            out.push(participant.as_str().len() as u8);
            out.extend_from_slice(participant.as_str().as_bytes());
        }
    }
    Ok(out)
}

fn decode_ticket(bytes: &[u8]) -> Result<(GroupId, Vec<EpochKey>), GroupError> {
    const TRUNCATED: GroupError = GroupError::Malformed("truncated ticket");
    let mut r = Reader::new(bytes);
    if r.take(4).ok_or(TRUNCATED)? != TICKET_MAGIC {
        return Err(GroupError::Malformed("not a group ticket (bad magic)"));
    }
    let version = r.u8().ok_or(TRUNCATED)?;
    if version != VERSION {
        return Err(GroupError::UnsupportedVersion(version));
    }
    let id_length = usize::from(r.u8().ok_or(TRUNCATED)?);
    let id = std::str::from_utf8(r.take(id_length).ok_or(TRUNCATED)?)
        .map_err(|_| GroupError::InvalidGroupId("not UTF-8"))?;
    let group_id = GroupId::new(id)?;
    let count = r.u16().ok_or(TRUNCATED)?;
    if count == 0 {
        return Err(GroupError::Malformed("ticket has no epochs"));
    }
    let mut records = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let epoch = r.u32().ok_or(TRUNCATED)?;
        let secret = Zeroizing::new(r.array::<32>().ok_or(TRUNCATED)?);
        let participant_count = r.u32().ok_or(TRUNCATED)? as usize;
        if participant_count == 0 || participant_count > MAX_PARTICIPANTS {
            return Err(GroupError::ParticipantCount);
        }
        // Each participant takes at least 2 bytes; refuse counts the input cannot hold.
        if participant_count > r.remaining().len() / 2 {
            return Err(TRUNCATED);
        }
        let mut participants = Vec::with_capacity(participant_count);
        for _ in 0..participant_count {
            let length = usize::from(r.u8().ok_or(TRUNCATED)?);
            let name = std::str::from_utf8(r.take(length).ok_or(TRUNCATED)?)
                .map_err(|_| GroupError::Malformed("participant is not UTF-8"))?;
            participants.push(Identity::new(name)?);
        }
        records.push(EpochKey {
            epoch,
            secret,
            participants,
        });
    }
    if !r.is_empty() {
        return Err(GroupError::Malformed("trailing bytes after ticket"));
    }
    Ok((group_id, records))
}

/// Builds the blob stored for epoch `current.epoch`: an envelope of `current` to
/// `recipients` (the epoch's participants' cards, the initiator included) and, when
/// `history` is given, an envelope of the earlier epochs to the newcomers only.
pub fn seal_ticket_blob(
    initiator: &IdentityKeyPair,
    group_id: &GroupId,
    current: &EpochKey,
    recipients: &[Recipient],
    history: Option<(&[EpochKey], &[Recipient])>,
) -> Result<Vec<u8>, GroupError> {
    seal_ticket_blob_with(group_id, current, recipients, history, |to, plaintext| {
        Ok(encrypt_for(Purpose::GroupTicket, initiator, to, plaintext)?)
    })
}

/// Deterministic [`seal_ticket_blob`] for fuzz targets: envelope `i` of the blob is
/// encrypted with `randomness[i]` (content key, payload nonce, ephemeral secret). Compiled
/// only for tests and under `cfg(fuzzing)` (set by cargo-fuzz), never into a release build:
/// reusing randomness across envelopes breaks them.
#[cfg(any(test, fuzzing))]
#[doc(hidden)]
pub fn seal_ticket_blob_with_randomness(
    initiator: &IdentityKeyPair,
    group_id: &GroupId,
    current: &EpochKey,
    recipients: &[Recipient],
    history: Option<(&[EpochKey], &[Recipient])>,
    randomness: [([u8; 32], [u8; 16], [u8; 32]); 2],
) -> Result<Vec<u8>, GroupError> {
    use crate::envelope::{EncryptError, encrypt_with};
    const TOO_MANY: EncryptError = EncryptError::Internal("more than two envelopes in a blob");
    let mut randomness = randomness.into_iter();
    seal_ticket_blob_with(group_id, current, recipients, history, |to, plaintext| {
        let (content_key, payload_nonce, ephemeral_secret) = randomness.next().ok_or(TOO_MANY)?;
        Ok(encrypt_with(
            Purpose::GroupTicket,
            initiator,
            to,
            plaintext,
            content_key,
            payload_nonce,
            ephemeral_secret,
        )?)
    })
}

/// [`seal_ticket_blob`] with the envelope encryption supplied (deterministic in tests).
pub(crate) fn seal_ticket_blob_with(
    group_id: &GroupId,
    current: &EpochKey,
    recipients: &[Recipient],
    history: Option<(&[EpochKey], &[Recipient])>,
    mut encrypt: impl FnMut(&[Recipient], &[u8]) -> Result<Vec<u8>, GroupError>,
) -> Result<Vec<u8>, GroupError> {
    let mut envelopes = vec![encrypt(recipients, &encode_ticket(group_id, &[current])?)?];
    if let Some((epochs, newcomers)) = history {
        if epochs.iter().any(|e| e.epoch >= current.epoch) {
            return Err(GroupError::InvalidTicket(
                "history must be older than the new epoch",
            ));
        }
        if !epochs.is_empty() && !newcomers.is_empty() {
            let records: Vec<&EpochKey> = epochs.iter().collect();
            envelopes.push(encrypt(newcomers, &encode_ticket(group_id, &records)?)?);
        }
    }
    let mut blob = Vec::with_capacity(envelopes.iter().map(|e| e.len() + 4).sum::<usize>() + 6);
    blob.extend_from_slice(BLOB_MAGIC);
    blob.push(VERSION);
    blob.push(envelopes.len() as u8);
    for envelope in &envelopes {
        let length =
            u32::try_from(envelope.len()).map_err(|_| GroupError::Malformed("ticket too large"))?;
        blob.extend_from_slice(&length.to_be_bytes());
        blob.extend_from_slice(envelope);
    }
    Ok(blob)
}

/// Opens the envelopes of a ticket blob addressed to `reader`, checking that the
/// initiator signed them, that they name `group_id`, and that the first carries exactly
/// epoch `stored_epoch` (where the server stored the blob). `made_at` is the ticket's
/// creation time, so tickets signed before the initiator rotated keys still verify.
/// Returns envelope 0's records, then envelope 1's in their order, each epoch once (the
/// first record for it).
pub fn open_ticket_blob(
    blob: &[u8],
    reader: &IdentityKeyPair,
    group_id: &GroupId,
    stored_epoch: u32,
    initiator_chain: &[Card],
    made_at: Option<Timestamp>,
) -> Result<Vec<EpochKey>, GroupError> {
    const TRUNCATED: GroupError = GroupError::Malformed("truncated ticket blob");
    let mut r = Reader::new(blob);
    if r.take(4).ok_or(TRUNCATED)? != BLOB_MAGIC {
        return Err(GroupError::Malformed("not a ticket blob (bad magic)"));
    }
    let version = r.u8().ok_or(TRUNCATED)?;
    if version != VERSION {
        return Err(GroupError::UnsupportedVersion(version));
    }
    let count = usize::from(r.u8().ok_or(TRUNCATED)?);
    if count == 0 || count > MAX_ENVELOPES {
        return Err(GroupError::Malformed(
            "a ticket blob holds 1 or 2 envelopes",
        ));
    }
    let mut found = Vec::new();
    let mut seen = BTreeSet::new();
    let mut addressed = false;
    for index in 0..count {
        let length = r.u32().ok_or(TRUNCATED)? as usize;
        let envelope = r.take(length).ok_or(TRUNCATED)?;
        let plaintext = match decrypt_for(
            Purpose::GroupTicket,
            reader,
            envelope,
            initiator_chain,
            made_at,
        ) {
            Ok((plaintext, _)) => Zeroizing::new(plaintext),
            Err(DecryptError::NotARecipient) => continue,
            Err(e) => return Err(e.into()),
        };
        addressed = true;
        let (ticket_group, records) = decode_ticket(&plaintext)?;
        if &ticket_group != group_id {
            return Err(GroupError::InvalidTicket("the ticket names another group"));
        }
        let consistent = if index == 0 {
            matches!(records.as_slice(), [only] if only.epoch == stored_epoch)
        } else {
            records.iter().all(|record| record.epoch < stored_epoch)
        };
        if !consistent {
            return Err(GroupError::InvalidTicket(
                "the ticket's epochs disagree with where it is stored",
            ));
        }
        // A later record for an epoch already seen is ignored.
        found.extend(
            records
                .into_iter()
                .filter(|record| seen.insert(record.epoch)),
        );
    }
    if !r.is_empty() {
        return Err(GroupError::Malformed("trailing bytes after ticket blob"));
    }
    if !addressed {
        return Err(GroupError::NotInTicket);
    }
    Ok(found)
}
