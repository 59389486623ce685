//! Group parsers, read as Bob: `open_ticket_blob` (ticket blobs of `team:fuzz` from Alice,
//! the initiator, checked against her two-card chain) and group messages
//! (`GroupMessageHeader::parse`, `decrypt_group_message` and `GroupDecryptor` with Bob's
//! epochs 0 and 1; Alice is a participant of epoch 0 only).
//!
//! Mode byte modulo 4:
//! - 0: raw ticket blob, opened as stored at epoch 1 with `made_at` = `NOW` (both of
//!   Alice's keys verify). Whatever opens holds distinct epochs, none above the stored one.
//! - 1: structure-aware ticket blob: an epoch record to fuzz-chosen recipients (Bob at any
//!   position or absent) and optionally history records to newcomers, naming this or
//!   another group, signed by either of Alice's keys or a stranger, sealed with explicit
//!   randomness and mutated; read at the sealed epoch or a fuzz-chosen one. Sealing fails
//!   exactly when it must. The unmodified blob gives exactly the records docs/FORMAT.md
//!   §8.2 predicts (envelope 0's, then envelope 1's; a later record for an epoch already
//!   seen is ignored) or the predicted error. A modified blob is rejected or opens to
//!   exactly what the sealed one gives with some of Bob's envelopes skipped: a change can
//!   hide his stanza (in the ephemeral key, say), and a reader skips an envelope it finds
//!   no stanza in unopened, as one for others.
//! - 2: raw group message: its header parsed, decrypted in one call and by a
//!   `GroupDecryptor` fed two pieces split at `mode / 4` (0–63 bytes, inside or just after
//!   the header). Both give the same outcome; a failed decryptor stays failed; a header
//!   that does not parse fails decryption with the same error; one naming another group or
//!   an unknown epoch fails with `WrongGroup` or `UnknownEpoch`; whatever decrypts has a
//!   signer who is a participant of its epoch.
//! - 3: structure-aware group message: fuzz-chosen plaintext (literal or around a chunk
//!   boundary), epoch (0, 1 or unknown 7), group, signer, nonce and `made_at`, mutated and
//!   fed in up to 16 pieces. The unmodified message has exactly its header and decrypts to
//!   the plaintext and signer, or gives the predicted error; a modified one never
//!   decrypts; pieces and one call agree.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use tessera_format::{
    EncryptError, Timestamp, Verified,
    group::{
        EpochKey, GroupDecryptor, GroupError, GroupMessageHeader, decrypt_group_message,
        encrypt_group_message_with, open_ticket_blob, seal_ticket_blob_with_randomness,
    },
};
use tessera_format_fuzz::{
    MadeAt, Mutation, NOW, PARTICIPANTS, Plaintext, STORED_EPOCH, Sender, fixtures, mutate,
    recipients, split,
};

/// Most records of a history envelope, and most participants of a record.
const MAX_RECORDS: usize = 4;
const MAX_RECORD_PARTICIPANTS: usize = 6;

/// An epoch number: small ones collide and order against each other often.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum EpochNumber {
    Small(u8),
    Any(u32),
}

impl EpochNumber {
    fn get(self) -> u32 {
        match self {
            EpochNumber::Small(n) => u32::from(n % 8),
            EpochNumber::Any(n) => n,
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Record {
    epoch: EpochNumber,
    secret: [u8; 32],
    /// Indices into [`PARTICIPANTS`]; none at all is refused when sealing.
    participants: Vec<u8>,
}

impl Record {
    fn key(&self) -> EpochKey {
        let names = self
            .participants
            .iter()
            .take(MAX_RECORD_PARTICIPANTS)
            .map(|&i| PARTICIPANTS[usize::from(i) % PARTICIPANTS.len()]);
        EpochKey::from_parts(self.epoch.get(), self.secret, names).expect("valid identities")
    }
}

/// Who an envelope of the blob is addressed to.
#[derive(Arbitrary, Debug)]
struct Addressed {
    others: u8,
    reader_position: Option<u8>,
}

#[derive(Arbitrary, Debug)]
struct History {
    records: Vec<Record>,
    newcomers: Addressed,
}

#[derive(Arbitrary, Debug)]
struct TicketInput {
    sender: Sender,
    made_at: MadeAt,
    other_group: bool,
    current: Record,
    to: Addressed,
    history: Option<History>,
    /// The epoch the blob is read as stored at; `None`: the sealed epoch.
    read_as: Option<EpochNumber>,
    /// Per envelope: the content key; the payload nonce is its first half, the ephemeral
    /// secret its bytes reversed.
    randomness: [[u8; 32]; 2],
    mutations: Vec<Mutation>,
}

/// Outcomes compared by value, errors by kind (the messages of `InvalidTicket` are prose).
fn outcome(result: &Result<Vec<EpochKey>, GroupError>) -> Result<&[EpochKey], &'static str> {
    result.as_ref().map(Vec::as_slice).map_err(GroupError::kind)
}

fn structured_ticket(input: TicketInput) {
    let f = fixtures();
    let group = if input.other_group {
        &f.other_group_id
    } else {
        &f.group_id
    };
    let current = input.current.key();
    let to = recipients(input.to.others, input.to.reader_position);
    let history: Option<(Vec<EpochKey>, _)> = input.history.as_ref().map(|history| {
        let records = history.records.iter().take(MAX_RECORDS).map(Record::key);
        let newcomers = &history.newcomers;
        (
            records.collect(),
            recipients(newcomers.others, newcomers.reader_position),
        )
    });
    // Envelopes in blob order: whether Bob is addressed, and the records.
    let mut envelopes = vec![(input.to.reader_position.is_some(), vec![current.clone()])];
    let mut refused = if current.participants.is_empty() {
        Some(GroupError::ParticipantCount)
    } else if to.is_empty() {
        Some(GroupError::Encrypt(EncryptError::NoRecipients))
    } else {
        None
    };
    if let (None, Some((records, newcomers))) = (&refused, &history) {
        if records.iter().any(|r| r.epoch >= current.epoch) {
            refused = Some(GroupError::InvalidTicket(
                "history must be older than the new epoch",
            ));
        } else if !records.is_empty() && !newcomers.is_empty() {
            if records.iter().any(|r| r.participants.is_empty()) {
                refused = Some(GroupError::ParticipantCount);
            }
            let bob_is_newcomer = input.history.as_ref().map(|h| h.newcomers.reader_position);
            envelopes.push((bob_is_newcomer.flatten().is_some(), records.clone()));
        }
    }
    let randomness = input.randomness.map(|key| {
        let mut nonce = [0; 16];
        nonce.copy_from_slice(&key[..16]);
        let mut ephemeral = key;
        ephemeral.reverse();
        (key, nonce, ephemeral)
    });
    let sealed = seal_ticket_blob_with_randomness(
        input.sender.keys(),
        group,
        &current,
        &to,
        history.as_ref().map(|(r, n)| (r.as_slice(), n.as_slice())),
        randomness,
    );
    let original = match (sealed, refused) {
        (Ok(blob), None) => blob,
        (Err(error), Some(expected)) => {
            assert_eq!(error, expected);
            return;
        }
        (sealed, refused) => panic!("sealing gave {sealed:?}, expected {refused:?}"),
    };

    let stored_epoch = input.read_as.map_or(current.epoch, EpochNumber::get);
    let made_at = input.made_at.timestamp();
    let expected = expected_records(&input, &envelopes, stored_epoch, made_at);
    let mut blob = original.clone();
    mutate(&mut blob, &input.mutations);
    let result = open_ticket_blob(
        &blob,
        &f.bob,
        &f.group_id,
        stored_epoch,
        &f.alice_chain,
        made_at,
    );
    if blob == original {
        assert_eq!(outcome(&result), outcome(&expected));
    } else if let Ok(records) = &result {
        // A change can hide Bob's stanza in an envelope addressed to him, which he then
        // skips unopened like any envelope for others (§8.2); nothing else may open.
        let skipping = |skipped: usize| {
            let seen: Vec<(bool, Vec<EpochKey>)> = envelopes
                .iter()
                .enumerate()
                .map(|(i, (to_bob, records))| {
                    let hidden = skipped & (1 << i) != 0;
                    (*to_bob && !hidden, records.clone())
                })
                .collect();
            expected_records(&input, &seen, stored_epoch, made_at)
        };
        assert!(
            (0..1 << envelopes.len()).any(|skipped| skipping(skipped).as_ref() == Ok(records)),
            "a modified ticket blob opened to {records:?}: {:?}",
            input.mutations
        );
    }
}

/// docs/FORMAT.md §8.2 for Bob reading the sealed envelopes, each with its records and
/// whether he finds his stanza in it.
fn expected_records(
    input: &TicketInput,
    envelopes: &[(bool, Vec<EpochKey>)],
    stored_epoch: u32,
    made_at: Option<Timestamp>,
) -> Result<Vec<EpochKey>, GroupError> {
    let mut found: Vec<EpochKey> = Vec::new();
    let mut addressed = false;
    for (index, (to_bob, records)) in envelopes.iter().enumerate() {
        if !to_bob {
            continue;
        }
        input.sender.expected(made_at)?;
        addressed = true;
        if input.other_group {
            return Err(GroupError::InvalidTicket("the ticket names another group"));
        }
        let consistent = if index == 0 {
            matches!(records.as_slice(), [only] if only.epoch == stored_epoch)
        } else {
            records.iter().all(|r| r.epoch < stored_epoch)
        };
        if !consistent {
            return Err(GroupError::InvalidTicket(
                "the ticket's epochs disagree with where it is stored",
            ));
        }
        for record in records {
            if !found.iter().any(|seen| seen.epoch == record.epoch) {
                found.push(record.clone());
            }
        }
    }
    if !addressed {
        return Err(GroupError::NotInTicket);
    }
    Ok(found)
}

fn raw_ticket(blob: &[u8]) {
    let f = fixtures();
    let Ok(records) = open_ticket_blob(
        blob,
        &f.bob,
        &f.group_id,
        STORED_EPOCH,
        &f.alice_chain,
        Some(NOW),
    ) else {
        return;
    };
    assert!(!records.is_empty());
    for (i, record) in records.iter().enumerate() {
        assert!(
            record.epoch <= STORED_EPOCH,
            "epoch {} opened",
            record.epoch
        );
        assert!(!record.participants.is_empty());
        assert!(
            records[..i].iter().all(|seen| seen.epoch != record.epoch),
            "epoch {} returned twice",
            record.epoch
        );
    }
}

/// Which of the fixtures' epochs a structured message is sealed with.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum MessageEpoch {
    /// Alice and Bob.
    Zero,
    /// Bob and Carol: Alice's messages fail with `SenderNotParticipant`.
    One,
    /// Epoch 7: Bob does not hold it.
    Unknown,
}

#[derive(Arbitrary, Debug)]
struct MessageInput {
    plaintext: Plaintext,
    sender: Sender,
    epoch: MessageEpoch,
    other_group: bool,
    nonce: [u8; 16],
    made_at: MadeAt,
    mutations: Vec<Mutation>,
    pieces: Vec<u32>,
}

type Decrypted = Result<(Vec<u8>, Verified), GroupError>;

fn decrypt_in_pieces(pieces: &[&[u8]], made_at: Option<Timestamp>) -> Decrypted {
    let f = fixtures();
    let mut decryptor = GroupDecryptor::new(f.group_id.clone(), f.group_keys.clone());
    let mut plaintext = Vec::new();
    for piece in pieces {
        if let Err(error) = decryptor.update(piece, &mut plaintext) {
            assert!(
                decryptor.update(b"", &mut plaintext).is_err(),
                "a failed group decryptor took more input after {error:?}"
            );
            return Err(error);
        }
    }
    let verified = decryptor.finish(&mut plaintext, &f.alice_chain, made_at)?;
    Ok((plaintext, verified))
}

fn structured_message(input: MessageInput) {
    let f = fixtures();
    let group = if input.other_group {
        &f.other_group_id
    } else {
        &f.group_id
    };
    let key = &f.group_epochs[input.epoch as usize];
    let plaintext = input.plaintext.bytes();
    let original =
        encrypt_group_message_with(input.sender.keys(), group, key, &plaintext, input.nonce)
            .expect("group encryption with a valid epoch cannot fail");
    let made_at = input.made_at.timestamp();
    let expected = || -> Decrypted {
        if input.other_group {
            return Err(GroupError::WrongGroup);
        }
        if let MessageEpoch::Unknown = input.epoch {
            return Err(GroupError::UnknownEpoch(key.epoch));
        }
        let verified = input.sender.expected(made_at)?;
        if !key.participants.contains(&verified.signer) {
            return Err(GroupError::SenderNotParticipant);
        }
        Ok((plaintext.clone(), verified))
    };
    let mut message = original.clone();
    mutate(&mut message, &input.mutations);
    let result = decrypt_group_message(
        &f.group_id,
        &f.group_keys,
        &message,
        &f.alice_chain,
        made_at,
    );
    let pieces = split(&message, input.pieces.iter().map(|&l| l as usize));
    assert_eq!(decrypt_in_pieces(&pieces, made_at), result);
    if message == original {
        assert_eq!(
            GroupMessageHeader::parse(&message),
            Ok(GroupMessageHeader {
                group_id: group.clone(),
                epoch: key.epoch,
            })
        );
        assert_eq!(result, expected());
    } else {
        assert!(
            result.is_err(),
            "a modified group message decrypted: {:?}",
            input.mutations
        );
    }
}

fn raw_message(message: &[u8], split_at: usize) {
    let f = fixtures();
    let result = decrypt_group_message(&f.group_id, &f.group_keys, message, &f.alice_chain, None);
    let (first, second) = message.split_at(split_at.min(message.len()));
    assert_eq!(decrypt_in_pieces(&[first, second], None), result);
    match GroupMessageHeader::parse(message) {
        Err(error) => assert_eq!(result, Err(error)),
        Ok(header) if header.group_id != f.group_id => {
            assert_eq!(result, Err(GroupError::WrongGroup));
        }
        Ok(header) => match f.group_keys.get(header.epoch) {
            None => assert_eq!(result, Err(GroupError::UnknownEpoch(header.epoch))),
            Some(key) => {
                if let Ok((_, verified)) = result {
                    assert!(key.participants.contains(&verified.signer));
                }
            }
        },
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => raw_ticket(rest),
        1 => {
            if let Ok(input) = TicketInput::arbitrary_take_rest(Unstructured::new(rest)) {
                structured_ticket(input);
            }
        }
        2 => raw_message(rest, usize::from(mode / 4)),
        _ => {
            if let Ok(input) = MessageInput::arbitrary_take_rest(Unstructured::new(rest)) {
                structured_message(input);
            }
        }
    }
});
