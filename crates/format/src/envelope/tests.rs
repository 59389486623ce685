//! Envelope round trips, tamper detection and sender verification.

use proptest::prelude::*;

use super::*;
use crate::keys::RootSecret;

const T0: Timestamp = Timestamp(1_767_225_600);

fn keys(seed: u8) -> IdentityKeyPair {
    IdentityKeyPair::from_root_secret(RootSecret::from_bytes([seed; 32]))
}

fn card(keys: &IdentityKeyPair, name: &str) -> Card {
    Card::create(keys, Identity::new(name).unwrap(), T0, None).unwrap()
}

fn seal(sender: &IdentityKeyPair, recipients: &[&IdentityKeyPair], data: &[u8]) -> Vec<u8> {
    let recipients: Vec<Recipient> = recipients
        .iter()
        .map(|k| Recipient::from(k.public_keys()))
        .collect();
    encrypt_message(sender, &recipients, data).unwrap()
}

#[test]
fn every_recipient_decrypts_and_verifies() {
    let (alice, bob, carol) = (keys(1), keys(2), keys(3));
    let alice_card = card(&alice, "alice");
    let envelope = seal(&alice, &[&bob, &carol, &alice], b"hello");
    for reader in [&bob, &carol, &alice] {
        let (plain, verified) =
            decrypt_message(reader, &envelope, std::slice::from_ref(&alice_card), None).unwrap();
        assert_eq!(plain, b"hello");
        assert_eq!(verified.signer.as_str(), "alice");
        assert_eq!(verified.signer_card_id, alice_card.id());
    }
}

#[test]
fn non_recipient_and_wrong_sender_get_typed_errors() {
    let (alice, bob, eve) = (keys(1), keys(2), keys(9));
    let envelope = seal(&alice, &[&bob], b"secret");
    let alice_card = card(&alice, "alice");
    assert_eq!(
        decrypt_message(&eve, &envelope, std::slice::from_ref(&alice_card), None).unwrap_err(),
        DecryptError::NotARecipient
    );
    let eve_card = card(&eve, "eve");
    assert_eq!(
        decrypt_message(&bob, &envelope, &[eve_card], None).unwrap_err(),
        DecryptError::WrongSender
    );
}

#[test]
fn every_single_bit_flip_is_rejected() {
    let (alice, bob) = (keys(1), keys(2));
    let alice_card = card(&alice, "alice");
    let envelope = seal(&alice, &[&bob], b"bit flips must never go unnoticed");
    for bit in 0..envelope.len() * 8 {
        let mut tampered = envelope.clone();
        tampered[bit / 8] ^= 1 << (bit % 8);
        let result = decrypt_message(&bob, &tampered, std::slice::from_ref(&alice_card), None);
        assert!(result.is_err(), "flip of bit {bit} went unnoticed");
    }
}

#[test]
fn truncation_extension_and_chunk_reordering_are_rejected() {
    let (alice, bob) = (keys(1), keys(2));
    let alice_card = card(&alice, "alice");
    let data: Vec<u8> = (0..3 * CHUNK_LENGTH + 100).map(|i| i as u8).collect();
    let envelope = seal(&alice, &[&bob], &data);
    let cards = std::slice::from_ref(&alice_card);
    let header_length = header::FIXED_LENGTH + X25519_STANZA_LENGTH;
    let sealed = CHUNK_LENGTH + 16;
    // Truncated at a chunk boundary, anywhere in the header, or by one byte.
    for cut in [
        header_length + sealed,
        header_length + 2 * sealed,
        10,
        60,
        envelope.len() - 1,
    ] {
        assert!(
            decrypt_message(&bob, &envelope[..cut], cards, None).is_err(),
            "cut {cut}"
        );
    }
    // Trailing garbage.
    let mut extended = envelope.clone();
    extended.extend_from_slice(&[0; 17]);
    assert!(decrypt_message(&bob, &extended, cards, None).is_err());
    // Two full chunks swapped.
    let mut swapped = envelope.clone();
    let (first, second) = (header_length, header_length + sealed);
    let chunk_a = envelope[first..first + sealed].to_vec();
    let chunk_b = envelope[second..second + sealed].to_vec();
    swapped[first..first + sealed].copy_from_slice(&chunk_b);
    swapped[second..second + sealed].copy_from_slice(&chunk_a);
    assert_eq!(
        decrypt_message(&bob, &swapped, cards, None).unwrap_err(),
        DecryptError::DecryptionFailed
    );
}

#[test]
fn a_recipient_cannot_readdress_a_signed_message() {
    // Bob opens Alice's message to him and re-encrypts the same plaintext and trailer
    // (Alice's signature) to Carol under a new header. Carol can decrypt it, but the
    // signature covers the original header, so it must not verify as Alice's.
    let (alice, bob, carol) = (keys(1), keys(2), keys(3));
    let alice_card = card(&alice, "alice");
    let to_bob = [Recipient::from(bob.public_keys())];
    let envelope =
        encrypt_message_with(&alice, &to_bob, b"for bob only", [1; 32], [2; 16], [3; 32]).unwrap();
    let (_, inner) = stream::open_inner(&envelope, &[1; 32]);
    let mut new_header = Vec::new();
    header::write(
        &mut new_header,
        Purpose::Data,
        &[5; 16],
        &x25519_dalek::StaticSecret::from([6; 32]),
        &[4; 32],
        &[Recipient::from(carol.public_keys())],
    )
    .unwrap();
    let forged = stream::seal_inner(Purpose::Data, &new_header, &[4; 32], &[5; 16], &inner);
    assert_eq!(
        decrypt_message(&carol, &forged, std::slice::from_ref(&alice_card), None).unwrap_err(),
        DecryptError::SignatureInvalid
    );
    // The untouched original still verifies, so the failure is the re-addressing.
    decrypt_message(&bob, &envelope, &[alice_card], None).unwrap();
}

#[test]
fn rotation_needs_the_creation_time_for_old_messages() {
    let (old_keys, new_keys, bob) = (keys(1), keys(4), keys(2));
    let alice = Identity::new("alice").unwrap();
    let old_card = Card::create(&old_keys, alice.clone(), T0, None).unwrap();
    let new_card = Card::create(&new_keys, alice, T0.plus(3600), Some(old_card.id())).unwrap();
    let chain = [old_card.clone(), new_card.clone()];
    let old_message = seal(&old_keys, &[&bob], b"before rotation");
    let new_message = seal(&new_keys, &[&bob], b"after rotation");

    let (_, verified) = decrypt_message(&bob, &new_message, &chain, None).unwrap();
    assert_eq!(verified.signer_card_id, new_card.id());
    assert_eq!(
        decrypt_message(&bob, &old_message, &chain, None).unwrap_err(),
        DecryptError::SignedWithPreviousKey {
            card_id: old_card.id()
        }
    );
    let (plain, verified) = decrypt_message(&bob, &old_message, &chain, Some(T0.plus(60))).unwrap();
    assert_eq!(
        (plain.as_slice(), verified.signer_card_id),
        (&b"before rotation"[..], old_card.id())
    );
    assert_eq!(
        decrypt_message(&bob, &old_message, &chain, Some(T0.plus(7200))).unwrap_err(),
        DecryptError::SignerKeyReplaced {
            card_id: old_card.id()
        }
    );
    // A chain given in the wrong order is refused.
    assert!(matches!(
        decrypt_message(&bob, &new_message, &[new_card, old_card], None).unwrap_err(),
        DecryptError::InvalidSenderCards(_)
    ));
}

#[test]
fn streaming_in_odd_pieces_matches_one_shot() {
    let (alice, bob) = (keys(1), keys(2));
    let alice_card = card(&alice, "alice");
    let data: Vec<u8> = (0..200_003u32).map(|i| (i * 7) as u8).collect();
    let mut encryptor = Encryptor::new(&alice, &[Recipient::from(bob.public_keys())]).unwrap();
    let mut envelope = Vec::new();
    for piece in data.chunks(9_999) {
        encryptor.update(piece, &mut envelope).unwrap();
    }
    encryptor.finish(&mut envelope).unwrap();
    let mut decryptor = Decryptor::new(&bob);
    let mut plain = Vec::new();
    for piece in envelope.chunks(4_097) {
        decryptor.update(piece, &mut plain).unwrap();
    }
    decryptor
        .finish(&mut plain, std::slice::from_ref(&alice_card), None)
        .unwrap();
    assert_eq!(plain, data);
}

#[test]
fn every_piece_size_around_chunk_boundaries_works() {
    let (alice, bob) = (keys(1), keys(2));
    let alice_card = card(&alice, "alice");
    let data: Vec<u8> = (0..2 * CHUNK_LENGTH + 5).map(|i| (i * 3) as u8).collect();
    let envelope = seal(&alice, &[&bob, &alice], &data);
    for piece in [
        1,
        16,
        17,
        57,
        1000,
        CHUNK_LENGTH,
        CHUNK_LENGTH + 16,
        CHUNK_LENGTH + 17,
    ] {
        let mut decryptor = Decryptor::new(&bob);
        let mut plain = Vec::new();
        for part in envelope.chunks(piece) {
            decryptor.update(part, &mut plain).unwrap();
        }
        decryptor
            .finish(&mut plain, std::slice::from_ref(&alice_card), None)
            .unwrap();
        assert!(plain == data, "piece size {piece}");
    }
}

#[test]
fn released_plaintext_is_never_the_trailer() {
    let (alice, bob) = (keys(1), keys(2));
    let data = vec![7u8; CHUNK_LENGTH - 10];
    let envelope = seal(&alice, &[&bob], &data);
    let mut decryptor = Decryptor::new(&bob);
    let mut plain = Vec::new();
    decryptor.update(&envelope, &mut plain).unwrap();
    assert!(plain.len() <= data.len());
    assert!(plain.iter().all(|b| *b == 7));
}

#[test]
fn ten_thousand_recipients() {
    let alice = keys(1);
    let recipients: Vec<Recipient> = (0..10_000u32)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..4].copy_from_slice(&i.to_be_bytes());
            seed[31] = 7;
            Recipient::from(
                IdentityKeyPair::from_root_secret(RootSecret::from_bytes(seed)).public_keys(),
            )
        })
        .collect();
    let envelope = encrypt_message(&alice, &recipients, b"all hands").unwrap();
    let mut seed = [0u8; 32];
    seed[..4].copy_from_slice(&9_999u32.to_be_bytes());
    seed[31] = 7;
    let last = IdentityKeyPair::from_root_secret(RootSecret::from_bytes(seed));
    let (plain, _) = decrypt_message(&last, &envelope, &[card(&alice, "alice")], None).unwrap();
    assert_eq!(plain, b"all hands");
}

/// A header of `count` stanzas of an unknown algorithm with empty bodies (not for `bob`).
fn header_of_unknown_stanzas(count: u32) -> Vec<u8> {
    let mut envelope = b"TSEV".to_vec();
    envelope.extend_from_slice(&[header::VERSION, Purpose::Data.header_byte()]);
    envelope.extend_from_slice(&[7; 16]);
    envelope.extend_from_slice(&keys(5).public_keys().encryption);
    envelope.extend_from_slice(&count.to_be_bytes());
    for i in 0..u64::from(count) {
        envelope.push(0xEE);
        envelope.extend_from_slice(&i.to_be_bytes());
        envelope.extend_from_slice(&0u16.to_be_bytes());
    }
    envelope
}

#[test]
fn a_header_with_the_most_stanzas_parses_in_linear_time() {
    // Regression: the decryptor re-parsed the header from its first byte after each
    // stanza arrived, so 100 000 stanzas (1.1 MB) took about a minute of CPU.
    let bob = keys(2);
    let envelope = header_of_unknown_stanzas(MAX_RECIPIENTS as u32);
    let started = std::time::Instant::now();
    assert_eq!(
        decrypt_message(&bob, &envelope, &[], None).unwrap_err(),
        DecryptError::NotARecipient
    );
    let mut decryptor = Decryptor::new(&bob);
    let mut plain = Vec::new();
    let mut result = Ok(());
    for piece in envelope.chunks(7) {
        result = decryptor.update(piece, &mut plain);
        if result.is_err() {
            break;
        }
    }
    assert_eq!(result, Err(DecryptError::NotARecipient));
    // Linear parsing takes milliseconds; the margin absorbs debug builds and a busy machine.
    let elapsed = started.elapsed();
    assert!(elapsed < std::time::Duration::from_secs(10), "{elapsed:?}");
}

#[test]
fn a_header_arriving_in_pieces_is_checked_as_a_whole() {
    let bob = keys(2);
    let envelope = header_of_unknown_stanzas(3);
    for split in 0..envelope.len() {
        let (first, second) = envelope.split_at(split);
        let mut decryptor = Decryptor::new(&bob);
        let mut plain = Vec::new();
        assert_eq!(
            decryptor.update(first, &mut plain),
            Ok(()),
            "split at {split}"
        );
        assert_eq!(
            decryptor.update(second, &mut plain),
            Err(DecryptError::NotARecipient),
            "split at {split}"
        );
    }
}

#[test]
fn empty_and_duplicate_recipients() {
    let (alice, bob) = (keys(1), keys(2));
    assert_eq!(
        encrypt_message(&alice, &[], b"x").unwrap_err(),
        EncryptError::NoRecipients
    );
    let bob_r = Recipient::from(bob.public_keys());
    let twice = encrypt_message(&alice, &[bob_r, bob_r], b"x").unwrap();
    let once = encrypt_message(&alice, &[bob_r], b"x").unwrap();
    assert_eq!(twice.len(), once.len());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn round_trip_any_size_and_recipient_count(
        size in prop_oneof![0usize..300, 65_500usize..65_700, 0usize..(4 << 20)],
        recipients in 1usize..200,
        piece in 1usize..100_000,
    ) {
        let alice = keys(1);
        let alice_card = card(&alice, "alice");
        let readers: Vec<IdentityKeyPair> = (0..recipients).map(|i| keys(10 + (i % 200) as u8)).collect();
        let list: Vec<Recipient> = readers.iter().map(|k| Recipient::from(k.public_keys())).collect();
        let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let envelope = encrypt_message(&alice, &list, &data).unwrap();
        let reader = readers.last().unwrap();
        let mut decryptor = Decryptor::new(reader);
        let mut plain = Vec::new();
        for part in envelope.chunks(piece) {
            decryptor.update(part, &mut plain).unwrap();
        }
        decryptor.finish(&mut plain, std::slice::from_ref(&alice_card), None).unwrap();
        prop_assert_eq!(plain, data);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let bob = keys(2);
        let _ = decrypt_message(&bob, &bytes, &[card(&keys(1), "alice")], None);
    }
}

/// Yields at most `step` bytes per `read`, failing with `Interrupted` before every other
/// read, like a slow pipe.
struct TrickleReader<'a> {
    data: &'a [u8],
    step: usize,
    interrupt: bool,
}

impl std::io::Read for TrickleReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.interrupt = !self.interrupt;
        if self.interrupt {
            return Err(std::io::ErrorKind::Interrupted.into());
        }
        let n = buf.len().min(self.step).min(self.data.len());
        let (now, rest) = self.data.split_at(n);
        buf[..n].copy_from_slice(now);
        self.data = rest;
        Ok(n)
    }
}

fn fixed_randomness() -> stream::Randomness {
    stream::Randomness {
        content_key: zeroize::Zeroizing::new([1; 32]),
        payload_nonce: [2; 16],
        ephemeral_secret: zeroize::Zeroizing::new([3; 32]),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Pushed slices and reads from a reader, in any mix and any sizes, give exactly the
    /// bytes of a one-shot encryption with the same randomness.
    #[test]
    fn pieces_and_reader_match_one_shot(
        size in prop_oneof![
            0usize..300,
            (CHUNK_LENGTH - TRAILER_LENGTH - 2)..(CHUNK_LENGTH + 2),
            (2 * CHUNK_LENGTH - TRAILER_LENGTH - 2)..(2 * CHUNK_LENGTH + 2),
            0usize..(600 << 10),
        ],
        steps in proptest::collection::vec((any::<bool>(), 1usize..(3 * CHUNK_LENGTH)), 1..12),
        on_worker in any::<bool>(),
    ) {
        let (alice, bob) = (keys(1), keys(2));
        let to = [Recipient::from(bob.public_keys())];
        let data: Vec<u8> = (0..size).map(|i| (i % 253) as u8).collect();
        let expected = encrypt_message_with(&alice, &to, &data, [1; 32], [2; 16], [3; 32]).unwrap();
        let mut encryptor = Encryptor::with_randomness(Purpose::Data, &alice, &to, fixed_randomness()).unwrap();
        encryptor.worker.allow(on_worker);
        let mut envelope = Vec::new();
        let mut rest = data.as_slice();
        for &(from_reader, step) in steps.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let take = step.min(rest.len());
            let (piece, after) = rest.split_at(take);
            if from_reader {
                let mut reader = TrickleReader { data: piece, step: step / 3 + 1, interrupt: false };
                let mut written = Vec::new();
                // Earlier pushed output goes first, as a caller mixing both would do.
                std::mem::swap(&mut written, &mut envelope);
                while encryptor.update_from_reader(&mut reader, &mut written).unwrap() > 0 {}
                envelope = written;
            } else {
                encryptor.update(piece, &mut envelope).unwrap();
            }
            rest = after;
        }
        if steps.first().is_some_and(|s| s.0) {
            encryptor.finish_to(&mut envelope).unwrap();
        } else {
            encryptor.finish(&mut envelope).unwrap();
        }
        prop_assert_eq!(envelope, expected);
    }
}

/// Long streams sealed on the worker thread give the same bytes as on the caller's
/// thread, through both `update` and `update_from_reader`; opened on the worker, they give
/// the same plaintext, and damage is caught there too.
#[test]
fn worker_threads_change_no_byte() {
    let (alice, bob) = (keys(1), keys(2));
    let alice_card = card(&alice, "alice");
    let to = [Recipient::from(bob.public_keys())];
    let data: Vec<u8> = (0..(17 * CHUNK_LENGTH + 5))
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    let encrypt = |on_worker: bool, pieces: usize, from_reader: bool| {
        let mut encryptor =
            Encryptor::with_randomness(Purpose::Data, &alice, &to, fixed_randomness()).unwrap();
        encryptor.worker.allow(on_worker);
        let mut envelope = Vec::new();
        for piece in data.chunks(pieces) {
            if from_reader {
                let mut reader = TrickleReader {
                    data: piece,
                    step: 40_000,
                    interrupt: false,
                };
                while encryptor
                    .update_from_reader(&mut reader, &mut envelope)
                    .unwrap()
                    > 0
                {}
            } else {
                encryptor.update(piece, &mut envelope).unwrap();
            }
        }
        assert_eq!(encryptor.worker.is_running(), on_worker);
        encryptor.finish(&mut envelope).unwrap();
        envelope
    };
    let decrypt = |envelope: &[u8], on_worker: bool, pieces: usize, out: &mut Vec<u8>| {
        let mut decryptor = Decryptor::new(&bob);
        decryptor.worker.allow(on_worker);
        for piece in envelope.chunks(pieces) {
            decryptor.update(piece, out)?;
        }
        assert_eq!(decryptor.worker.is_running(), on_worker);
        decryptor.finish(out, std::slice::from_ref(&alice_card), None)
    };

    let inline = encrypt(false, CHUNK_LENGTH, false);
    assert_eq!(
        inline,
        encrypt_message_with(&alice, &to, &data, [1; 32], [2; 16], [3; 32]).unwrap()
    );
    for (pieces, from_reader) in [
        (CHUNK_LENGTH, false),
        (1000, false),
        (300_001, false),
        (CHUNK_LENGTH, true),
    ] {
        assert_eq!(
            encrypt(true, pieces, from_reader),
            inline,
            "pieces of {pieces}, reader {from_reader}"
        );
    }
    for (on_worker, pieces) in [
        (false, CHUNK_LENGTH),
        (true, CHUNK_LENGTH),
        (true, 999),
        (true, 500_000),
    ] {
        let mut plaintext = Vec::new();
        let verified = decrypt(&inline, on_worker, pieces, &mut plaintext).unwrap();
        assert_eq!(plaintext, data, "worker {on_worker}, pieces of {pieces}");
        assert_eq!(verified.signer.as_str(), "alice");
    }

    // A flipped byte in chunk 10, and chunks 8 and 9 swapped: nothing from chunk 8 on is
    // released, on either thread.
    let header_length = inline.len() - data.len() - 18 * 16 - TRAILER_LENGTH;
    let sealed = CHUNK_LENGTH + 16;
    let mut flipped = inline.clone();
    flipped[header_length + 10 * sealed + 7] ^= 1;
    let mut swapped = inline.clone();
    swapped[header_length + 8 * sealed..header_length + 10 * sealed].copy_from_slice(
        &[
            &inline[header_length + 9 * sealed..header_length + 10 * sealed],
            &inline[header_length + 8 * sealed..header_length + 9 * sealed],
        ]
        .concat(),
    );
    for (damaged, first_bad_chunk) in [(&flipped, 10), (&swapped, 8)] {
        for on_worker in [false, true] {
            let mut released = Vec::new();
            let error = decrypt(damaged, on_worker, CHUNK_LENGTH, &mut released).unwrap_err();
            assert_eq!(error, DecryptError::DecryptionFailed);
            assert!(released.len() <= first_bad_chunk * CHUNK_LENGTH);
            assert_eq!(released[..], data[..released.len()]);
        }
    }
}

#[test]
fn encryption_is_a_function_of_its_randomness() {
    let (alice, bob) = (keys(1), keys(2));
    let to = [Recipient::from(bob.public_keys())];
    let a = encrypt_message_with(&alice, &to, b"x", [1; 32], [2; 16], [3; 32]).unwrap();
    let b = encrypt_message_with(&alice, &to, b"x", [1; 32], [2; 16], [3; 32]).unwrap();
    let c = encrypt_message_with(&alice, &to, b"x", [1; 32], [2; 16], [4; 32]).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn a_group_ticket_envelope_is_not_a_message_and_back() {
    let (alice, bob) = (keys(1), keys(2));
    let alice_card = card(&alice, "alice");
    let to_bob = [Recipient::from(bob.public_keys())];
    let ticket = encrypt_for(Purpose::GroupTicket, &alice, &to_bob, b"TSGT...").unwrap();
    let cards = std::slice::from_ref(&alice_card);
    assert_eq!(
        decrypt_message(&bob, &ticket, cards, None).unwrap_err(),
        DecryptError::WrongPurpose {
            expected: "data",
            found: "group-ticket"
        }
    );
    let message = encrypt_message(&alice, &to_bob, b"TSGT...").unwrap();
    assert_eq!(
        decrypt_for(Purpose::GroupTicket, &bob, &message, cards, None)
            .unwrap_err()
            .kind(),
        "wrong_purpose"
    );
    // Relabelling the header does not help: the purpose is in the payload key too.
    let mut relabelled = ticket.clone();
    relabelled[5] = Purpose::Data.header_byte();
    assert_eq!(
        decrypt_message(&bob, &relabelled, cards, None).unwrap_err(),
        DecryptError::DecryptionFailed
    );
    decrypt_for(Purpose::GroupTicket, &bob, &ticket, cards, None).unwrap();
}

#[test]
fn a_card_copying_someones_encryption_key_does_not_address_them() {
    // Mallory publishes a card with her own signing key and Alice's X25519 key. A message
    // Carol encrypts "to mallory" must not open on Alice's device as one addressed to her.
    let (alice, carol, mallory) = (keys(1), keys(3), keys(13));
    let carol_card = card(&carol, "carol");
    let mallory_keys = PublicKeys {
        signing: mallory.public_keys().signing,
        encryption: alice.public_keys().encryption,
    };
    let envelope = encrypt_message(&carol, &[Recipient::from(&mallory_keys)], b"hi").unwrap();
    assert_eq!(
        decrypt_message(&alice, &envelope, std::slice::from_ref(&carol_card), None).unwrap_err(),
        DecryptError::NotARecipient
    );
}

#[test]
fn stanzas_reveal_neither_recipients_nor_sender() {
    let (alice, bob, carol) = (keys(1), keys(2), keys(3));
    let stanza_ids = |envelope: &[u8]| -> Vec<[u8; 8]> {
        let header::Parsed::Complete(parsed, _) =
            header::parse(envelope, Purpose::Data, &mut header::Progress::default()).unwrap()
        else {
            unreachable!("complete envelope")
        };
        parsed.stanzas.iter().map(|s| s.stanza_id).collect()
    };
    let one = stanza_ids(&seal(&alice, &[&alice, &bob, &carol], b"x"));
    let two = stanza_ids(&seal(&alice, &[&alice, &bob, &carol], b"x"));
    let public_ids: Vec<[u8; 8]> = [&alice, &bob, &carol]
        .iter()
        .map(|k| k.public_keys().encryption_key_id().0)
        .collect();
    // Written in ascending stanza id order, whatever the order recipients were given in.
    assert!(one.windows(2).all(|w| w[0] < w[1]));
    // No stanza id is a public key id, and ids differ from message to message.
    assert!(one.iter().all(|id| !public_ids.contains(id)));
    assert!(one.iter().all(|id| !two.contains(id)));
}

#[test]
fn a_reader_tries_at_most_a_few_stanzas_with_its_id() {
    // A hostile sender repeats the reader's stanza with broken bodies before the real one:
    // the reader gives up after MAX_STANZAS_TRIED instead of trying every copy.
    let (alice, bob) = (keys(1), keys(2));
    let alice_card = card(&alice, "alice");
    let cards = std::slice::from_ref(&alice_card);
    let to_bob = [Recipient::from(bob.public_keys())];
    let honest = encrypt_message_with(&alice, &to_bob, b"x", [1; 32], [2; 16], [3; 32]).unwrap();
    let stanza_start = header::FIXED_LENGTH;
    let stanza = honest[stanza_start..stanza_start + X25519_STANZA_LENGTH].to_vec();
    let mut broken = stanza.clone();
    broken[20] ^= 1;
    let with_decoys = |decoys: usize| {
        let mut header = honest[..stanza_start].to_vec();
        header[stanza_start - 4..].copy_from_slice(&(decoys as u32 + 1).to_be_bytes());
        for _ in 0..decoys {
            header.extend_from_slice(&broken);
        }
        header.extend_from_slice(&stanza);
        let (_, inner) = stream::open_inner(&honest, &[1; 32]);
        stream::seal_inner(Purpose::Data, &header, &[1; 32], &[2; 16], &inner)
    };
    // Within the cap the real stanza is found (the signature then fails: the sender signed
    // the honest header, not this one).
    assert_eq!(
        decrypt_message(&bob, &with_decoys(MAX_STANZAS_TRIED - 1), cards, None).unwrap_err(),
        DecryptError::SignatureInvalid
    );
    assert_eq!(
        decrypt_message(&bob, &with_decoys(MAX_STANZAS_TRIED), cards, None).unwrap_err(),
        DecryptError::DecryptionFailed
    );
}

#[test]
fn the_header_limit_holds_for_one_shot_decryption() {
    // 300 stanzas of an unknown algorithm, 65 535 bytes each: a 19.7 MB header.
    let bob = keys(2);
    let mut envelope = b"TSEV".to_vec();
    envelope.extend_from_slice(&[header::VERSION, Purpose::Data.header_byte()]);
    envelope.extend_from_slice(&[0; 16 + 32]);
    envelope.extend_from_slice(&300u32.to_be_bytes());
    for _ in 0..300 {
        envelope.extend_from_slice(&[0x7F, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]);
        envelope.extend_from_slice(&[0; 65_535]);
    }
    let card = card(&keys(1), "alice");
    assert_eq!(
        decrypt_message(&bob, &envelope, &[card], None).unwrap_err(),
        DecryptError::Malformed("envelope header too large")
    );
}
