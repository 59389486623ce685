//! Tickets and group messages: round trips, history sharing and every rejection.

use super::*;
use crate::{
    card::Card,
    envelope::{DecryptError, Recipient},
    keys::{IdentityKeyPair, RootSecret},
    time::Timestamp,
};

const T0: Timestamp = Timestamp(1_767_225_600);

struct Member {
    keys: IdentityKeyPair,
    card: Card,
}

fn member(seed: u8, name: &str) -> Member {
    let keys = IdentityKeyPair::from_root_secret(RootSecret::from_bytes([seed; 32]));
    let card = Card::create(&keys, Identity::new(name).unwrap(), T0, None).unwrap();
    Member { keys, card }
}

fn names(members: &[&Member]) -> Vec<Identity> {
    members.iter().map(|m| m.card.identity().clone()).collect()
}

fn to(members: &[&Member]) -> Vec<Recipient> {
    members.iter().map(|m| Recipient::from(&m.card)).collect()
}

fn group() -> GroupId {
    GroupId::new("team:launch-2026").unwrap()
}

#[test]
fn participants_open_tickets_and_exchange_messages() {
    let (alice, bob, carol) = (member(1, "alice"), member(2, "bob"), member(3, "carol"));
    let everyone = [&alice, &bob, &carol];
    let epoch0 = EpochKey::generate(0, names(&everyone)).unwrap();
    let blob = seal_ticket_blob(&alice.keys, &group(), &epoch0, &to(&everyone), None).unwrap();
    let initiator = std::slice::from_ref(&alice.card);

    let mut bob_keys = GroupKeys::default();
    for key in open_ticket_blob(&blob, &bob.keys, &group(), 0, initiator, None).unwrap() {
        bob_keys.insert(key);
    }
    assert_eq!(bob_keys.get(0).unwrap(), &epoch0);

    let message = encrypt_group_message(&carol.keys, &group(), &epoch0, b"hi team").unwrap();
    assert_eq!(GroupMessageHeader::parse(&message).unwrap().epoch, 0);
    let (plain, verified) = decrypt_group_message(
        &group(),
        &bob_keys,
        &message,
        std::slice::from_ref(&carol.card),
        None,
    )
    .unwrap();
    assert_eq!(
        (plain.as_slice(), verified.signer.as_str()),
        (&b"hi team"[..], "carol")
    );
}

#[test]
fn tickets_reject_strangers_forgeries_and_misplacement() {
    let (alice, bob, eve) = (member(1, "alice"), member(2, "bob"), member(9, "eve"));
    let epoch0 = EpochKey::generate(0, names(&[&alice, &bob])).unwrap();
    let blob =
        seal_ticket_blob(&alice.keys, &group(), &epoch0, &to(&[&alice, &bob]), None).unwrap();
    let initiator = std::slice::from_ref(&alice.card);
    let open = |reader: &Member, id: &GroupId, epoch: u32, signer: &[Card]| {
        open_ticket_blob(&blob, &reader.keys, id, epoch, signer, None).unwrap_err()
    };
    assert_eq!(open(&eve, &group(), 0, initiator), GroupError::NotInTicket);
    assert!(matches!(
        open(&bob, &group(), 1, initiator),
        GroupError::InvalidTicket(_)
    ));
    let other = GroupId::new("other").unwrap();
    assert!(matches!(
        open(&bob, &other, 0, initiator),
        GroupError::InvalidTicket(_)
    ));
    assert_eq!(
        open(&bob, &group(), 0, std::slice::from_ref(&eve.card)),
        GroupError::Decrypt(crate::envelope::DecryptError::WrongSender)
    );
    let mut damaged = blob.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 1;
    assert!(open_ticket_blob(&damaged, &bob.keys, &group(), 0, initiator, None).is_err());
}

#[test]
fn history_goes_to_newcomers_only_and_removal_locks_out() {
    let (alice, bob, carol, dave) = (
        member(1, "alice"),
        member(2, "bob"),
        member(3, "carol"),
        member(4, "dave"),
    );
    let initiator = std::slice::from_ref(&alice.card);
    let epoch0 = EpochKey::generate(0, names(&[&alice, &bob, &carol])).unwrap();
    let old_message = encrypt_group_message(&bob.keys, &group(), &epoch0, b"before dave").unwrap();

    // Dave joins with history: epoch 1 for everyone, epoch 0 for Dave alone.
    let epoch1 = EpochKey::generate(1, names(&[&alice, &bob, &carol, &dave])).unwrap();
    let blob1 = seal_ticket_blob(
        &alice.keys,
        &group(),
        &epoch1,
        &to(&[&alice, &bob, &carol, &dave]),
        Some((std::slice::from_ref(&epoch0), &to(&[&dave]))),
    )
    .unwrap();
    let dave_epochs = open_ticket_blob(&blob1, &dave.keys, &group(), 1, initiator, None).unwrap();
    assert_eq!(
        dave_epochs.iter().map(|e| e.epoch).collect::<Vec<_>>(),
        [1, 0]
    );
    let bob_epochs = open_ticket_blob(&blob1, &bob.keys, &group(), 1, initiator, None).unwrap();
    assert_eq!(bob_epochs.iter().map(|e| e.epoch).collect::<Vec<_>>(), [1]);
    let mut dave_keys = GroupKeys::default();
    dave_epochs.into_iter().for_each(|k| dave_keys.insert(k));
    let (plain, _) = decrypt_group_message(
        &group(),
        &dave_keys,
        &old_message,
        std::slice::from_ref(&bob.card),
        None,
    )
    .unwrap();
    assert_eq!(plain, b"before dave");

    // Dave was not a participant of epoch 0, so he cannot speak in it.
    let forged = encrypt_group_message(&dave.keys, &group(), &epoch0, b"backdated").unwrap();
    let mut bob_keys = GroupKeys::default();
    bob_keys.insert(epoch0.clone());
    bob_keys.insert(epoch1.clone());
    assert_eq!(
        decrypt_group_message(
            &group(),
            &bob_keys,
            &forged,
            std::slice::from_ref(&dave.card),
            None
        )
        .unwrap_err(),
        GroupError::SenderNotParticipant
    );

    // Carol is removed: epoch 2 excludes her, and she holds no secret for it.
    let epoch2 = EpochKey::generate(2, names(&[&alice, &bob, &dave])).unwrap();
    let blob2 = seal_ticket_blob(
        &alice.keys,
        &group(),
        &epoch2,
        &to(&[&alice, &bob, &dave]),
        None,
    )
    .unwrap();
    assert_eq!(
        open_ticket_blob(&blob2, &carol.keys, &group(), 2, initiator, None).unwrap_err(),
        GroupError::NotInTicket
    );
    let new_message =
        encrypt_group_message(&alice.keys, &group(), &epoch2, b"after carol").unwrap();
    let mut carol_keys = GroupKeys::default();
    carol_keys.insert(epoch0);
    carol_keys.insert(epoch1);
    assert_eq!(
        decrypt_group_message(
            &group(),
            &carol_keys,
            &new_message,
            std::slice::from_ref(&alice.card),
            None
        )
        .unwrap_err(),
        GroupError::UnknownEpoch(2)
    );
}

/// Found by the `group` fuzz target: a history envelope holding two records of one epoch
/// returned both, so a caller storing them in order kept the later one; docs/FORMAT.md
/// §8.2 keeps the first.
#[test]
fn a_later_record_for_an_epoch_already_seen_is_ignored() {
    let (alice, dave) = (member(1, "alice"), member(4, "dave"));
    let initiator = std::slice::from_ref(&alice.card);
    let first = EpochKey::from_parts(0, [1; 32], ["alice"]).unwrap();
    let again = EpochKey::from_parts(0, [2; 32], ["alice", "dave"]).unwrap();
    let older = EpochKey::from_parts(1, [3; 32], ["alice"]).unwrap();
    let current = EpochKey::from_parts(2, [4; 32], ["alice", "dave"]).unwrap();
    let history = [first.clone(), again, older.clone()];
    let blob = seal_ticket_blob(
        &alice.keys,
        &group(),
        &current,
        &to(&[&alice, &dave]),
        Some((&history, &to(&[&dave]))),
    )
    .unwrap();
    assert_eq!(
        open_ticket_blob(&blob, &dave.keys, &group(), 2, initiator, None).unwrap(),
        [current, first, older]
    );
}

#[test]
fn messages_reject_tampering_and_wrong_groups() {
    let (alice, bob) = (member(1, "alice"), member(2, "bob"));
    let epoch0 = EpochKey::generate(0, names(&[&alice, &bob])).unwrap();
    let mut keys = GroupKeys::default();
    keys.insert(epoch0.clone());
    let message = encrypt_group_message(&alice.keys, &group(), &epoch0, b"payload").unwrap();
    let cards = std::slice::from_ref(&alice.card);
    let other = GroupId::new("other").unwrap();
    assert_eq!(
        decrypt_group_message(&other, &keys, &message, cards, None).unwrap_err(),
        GroupError::WrongGroup
    );
    for bit in 0..message.len() * 8 {
        let mut tampered = message.clone();
        tampered[bit / 8] ^= 1 << (bit % 8);
        assert!(
            decrypt_group_message(&group(), &keys, &tampered, cards, None).is_err(),
            "bit {bit}"
        );
    }
}

/// Found by the `group` fuzz target: after a header error (here an invalid group id) a
/// `GroupDecryptor` started over on the next piece, so a caller that went on feeding it
/// could have a message accepted whose first bytes were refused.
#[test]
fn a_failed_group_decryptor_stays_failed() {
    let (alice, bob) = (member(1, "alice"), member(2, "bob"));
    let epoch0 = EpochKey::generate(0, names(&[&alice, &bob])).unwrap();
    let epoch5 = EpochKey::generate(5, names(&[&alice, &bob])).unwrap();
    let mut keys = GroupKeys::default();
    keys.insert(epoch0.clone());
    let message = encrypt_group_message(&alice.keys, &group(), &epoch0, b"payload").unwrap();
    let cards = std::slice::from_ref(&alice.card);
    let other = GroupId::new("other").unwrap();
    let mut bad_id = message.clone();
    bad_id[6] = b' ';
    let refused = [
        (b"junk".to_vec(), "malformed"),
        (bad_id, "invalid_group_id"),
        (
            encrypt_group_message(&alice.keys, &other, &epoch0, b"x").unwrap(),
            "wrong_group",
        ),
        (
            encrypt_group_message(&alice.keys, &group(), &epoch5, b"x").unwrap(),
            "group_epoch_unknown",
        ),
    ];
    for (bad, kind) in refused {
        let mut decryptor = GroupDecryptor::new(group(), keys.clone());
        let mut plain = Vec::new();
        assert_eq!(decryptor.update(&bad, &mut plain).unwrap_err().kind(), kind);
        let failed = GroupError::Decrypt(DecryptError::DecryptionFailed);
        assert_eq!(decryptor.update(b"", &mut plain), Err(failed.clone()));
        assert_eq!(decryptor.update(&message, &mut plain), Err(failed.clone()));
        assert_eq!(decryptor.finish(&mut plain, cards, None), Err(failed));
        assert!(plain.is_empty(), "{kind}");
    }
}

/// Found by the `group` fuzz target: the header parser called a message cut inside its
/// header `malformed` where decrypting it (and docs/FORMAT.md §8) says `truncated`.
#[test]
fn a_message_cut_in_its_header_is_truncated_for_every_reader() {
    let alice = member(1, "alice");
    let epoch0 = EpochKey::generate(0, names(&[&alice])).unwrap();
    let mut keys = GroupKeys::default();
    keys.insert(epoch0.clone());
    let message = encrypt_group_message(&alice.keys, &group(), &epoch0, b"payload").unwrap();
    let header_length = 4 + 1 + 1 + group().as_str().len() + 4 + 16;
    let cards = std::slice::from_ref(&alice.card);
    for cut in 0..header_length {
        let truncated = GroupError::Decrypt(DecryptError::Truncated);
        let prefix = &message[..cut];
        assert_eq!(GroupMessageHeader::parse(prefix), Err(truncated.clone()));
        assert_eq!(
            decrypt_group_message(&group(), &keys, prefix, cards, None),
            Err(truncated)
        );
    }
    assert!(GroupMessageHeader::parse(&message[..header_length]).is_ok());
}

#[test]
fn large_messages_stream_in_pieces() {
    let (alice, bob) = (member(1, "alice"), member(2, "bob"));
    let epoch0 = EpochKey::generate(0, names(&[&alice, &bob])).unwrap();
    let data: Vec<u8> = (0..300_001u32).map(|i| (i % 241) as u8).collect();
    let mut encryptor = GroupEncryptor::new(&alice.keys, &group(), &epoch0).unwrap();
    let mut message = Vec::new();
    for piece in data.chunks(7_777) {
        encryptor.update(piece, &mut message).unwrap();
    }
    encryptor.finish(&mut message).unwrap();
    let mut keys = GroupKeys::default();
    keys.insert(epoch0);
    for piece_size in [1, 100, 65_552, 1 << 20] {
        let mut decryptor = GroupDecryptor::new(group(), keys.clone());
        let mut plain = Vec::new();
        for piece in message.chunks(piece_size) {
            decryptor.update(piece, &mut plain).unwrap();
        }
        decryptor
            .finish(&mut plain, std::slice::from_ref(&alice.card), None)
            .unwrap();
        assert!(plain == data, "piece size {piece_size}");
    }
}

#[test]
fn group_ids_are_checked() {
    assert!(GroupId::new("").is_err());
    assert!(GroupId::new("a b").is_err());
    assert!(GroupId::new("x".repeat(129)).is_err());
    assert!(GroupId::new("team:42_a-b.c").is_ok());
}

#[test]
fn epoch_keys_rebuild_from_parts() {
    let key = EpochKey::generate(3, vec![Identity::new("alice").unwrap()]).unwrap();
    let rebuilt = EpochKey::from_parts(3, *key.secret, ["alice"]).unwrap();
    assert_eq!(rebuilt.epoch, key.epoch);
    assert_eq!(rebuilt.secret, key.secret);
    assert_eq!(rebuilt.participants, key.participants);
    assert!(matches!(
        EpochKey::from_parts(3, [0; 32], [""]),
        Err(CardError::InvalidIdentity(_))
    ));
}
