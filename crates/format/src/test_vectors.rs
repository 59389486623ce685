//! The shared vectors in `test-vectors/`: generated deterministically here, compared with
//! the committed files (so any format change is caught), and read back through the public
//! API exactly as the JS and Kotlin tests read them.
//!
//! Regenerate after an intentional format change with
//! `TESSERA_WRITE_VECTORS=1 cargo test -p tessera-format test_vectors`.

use std::path::PathBuf;

use serde_json::{Value, json};
use x25519_dalek::StaticSecret;

use crate::{
    backup::{self, KdfParams},
    card::{Card, CardContent, CardId, Identity},
    envelope::{self, Purpose, Recipient, encrypt_message_with, encrypt_with, header, stream},
    jwt::{AppKey, TokenClaims, TokenVerifier},
    keys::{IdentityKeyPair, PublicKeys, RootSecret},
    safety_number::safety_number,
    time::Timestamp,
};

const T0: Timestamp = Timestamp(1_767_225_600); // 2026-01-01T00:00:00Z
const FAST_KDF: KdfParams = KdfParams {
    memory_kib: 64,
    iterations: 1,
    parallelism: 1,
};

fn root(seed: u8) -> [u8; 32] {
    let mut bytes = [0u8; 32];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = seed.wrapping_mul(31).wrapping_add(i as u8);
    }
    bytes
}

fn pair(seed: u8) -> IdentityKeyPair {
    IdentityKeyPair::from_root_secret(RootSecret::from_bytes(root(seed)))
}

fn h(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

fn unhex(value: &Value) -> Vec<u8> {
    hex::decode(value.as_str().expect("hex string")).expect("valid hex")
}

fn file(name: &str, description: &str, spec: &str, cases: Vec<Value>) -> (String, Value) {
    (
        name.to_owned(),
        json!({ "description": description, "spec": spec, "cases": cases }),
    )
}

/// `S + ℓ`: the same signature with a non-canonical scalar, which strict verifiers reject.
fn with_non_canonical_s(signature: &[u8]) -> Vec<u8> {
    const ORDER: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut out = signature.to_vec();
    let mut carry = 0u16;
    for (byte, add) in out[32..].iter_mut().zip(ORDER) {
        let sum = u16::from(*byte) + u16::from(add) + carry;
        *byte = sum as u8;
        carry = sum >> 8;
    }
    out
}

/// The signature with `R` replaced by the identity point (small order).
fn with_small_order_r(signature: &[u8]) -> Vec<u8> {
    let mut out = signature.to_vec();
    out[..32].copy_from_slice(&[0; 32]);
    out[0] = 1;
    out
}

fn card_json(card: &Card) -> Value {
    json!({ "snapshot": h(card.snapshot()), "signature": h(card.signature()) })
}

fn generate_keys() -> (String, Value) {
    let cases = (1..=3u8)
        .map(|seed| {
            let p = pair(seed);
            let keys = p.public_keys();
            json!({
                "root_secret": h(&root(seed)),
                "ed25519_public_key": h(&keys.signing),
                "x25519_public_key": h(&keys.encryption),
                "signing_key_id": h(&keys.signing_key_id().0),
                "encryption_key_id": h(&keys.encryption_key_id().0),
            })
        })
        .collect();
    file(
        "keys.json",
        "Identity key derivation from a root secret, and key ids.",
        "docs/FORMAT.md §2",
        cases,
    )
}

fn generate_safety_numbers() -> (String, Value) {
    let cases = [
        (1u8, "alice", 2u8, "bob"),
        (1, "alice", 3, "carol@example.com"),
    ]
    .into_iter()
    .map(|(sa, a, sb, b)| {
        let (ka, kb) = (pair(sa), pair(sb));
        let number = safety_number(
            &Identity::new(a).unwrap(),
            ka.public_keys(),
            &Identity::new(b).unwrap(),
            kb.public_keys(),
        );
        json!({
            "identity_a": a, "root_secret_a": h(&root(sa)),
            "identity_b": b, "root_secret_b": h(&root(sb)),
            "safety_number": number,
        })
    })
    .collect();
    file(
        "safety-numbers.json",
        "Safety numbers of identity pairs (order-independent).",
        "docs/FORMAT.md §7",
        cases,
    )
}

fn generate_cards() -> (String, Value) {
    let alice = Identity::new("alice").unwrap();
    let first = Card::create(&pair(1), alice.clone(), T0, None).unwrap();
    let rotated = Card::create(&pair(4), alice, T0.plus(86_400), Some(first.id())).unwrap();
    let email = Card::create(
        &pair(2),
        Identity::new("bob@example.com").unwrap(),
        T0,
        None,
    )
    .unwrap();
    let mut cases: Vec<Value> = [(&first, 1u8), (&rotated, 4), (&email, 2)]
        .into_iter()
        .map(|(card, seed)| {
            json!({
                "name": format!("valid card of {}", card.identity()),
                "root_secret": h(&root(seed)),
                "identity": card.identity().as_str(),
                "created_at": card.content().created_at.0,
                "previous_card_id": card.content().previous_card_id.map(|id| id.to_hex()),
                "snapshot": h(card.snapshot()),
                "signature": h(card.signature()),
                "card_id": card.id().to_hex(),
                "text": card.to_text(),
                "valid": true,
            })
        })
        .collect();

    let snapshot = first.snapshot().to_vec();
    let signature = first.signature().to_vec();
    let mut negative = |name: &str, snapshot: Vec<u8>, signature: Vec<u8>, error: &str| {
        cases.push(json!({
            "name": name, "snapshot": h(&snapshot), "signature": h(&signature),
            "valid": false, "error": error,
        }));
    };
    let mut flipped = signature.clone();
    flipped[10] ^= 0x01;
    negative(
        "signature bit flipped",
        snapshot.clone(),
        flipped,
        "bad_signature",
    );
    negative(
        "signed by another key",
        snapshot.clone(),
        rotated.signature().to_vec(),
        "bad_signature",
    );
    negative(
        "truncated snapshot",
        snapshot[..snapshot.len() - 1].to_vec(),
        signature.clone(),
        "malformed",
    );
    let mut trailing = snapshot.clone();
    trailing.push(0);
    negative("trailing byte", trailing, signature.clone(), "malformed");
    let mut magic = snapshot.clone();
    magic[0] = b'X';
    negative("bad magic", magic, signature.clone(), "malformed");
    let mut version = snapshot.clone();
    version[4] = 2;
    negative(
        "unknown format version",
        version,
        signature.clone(),
        "unsupported_version",
    );
    let mut identity = snapshot.clone();
    identity[6] = b' ';
    negative(
        "space in identity",
        identity,
        signature.clone(),
        "invalid_identity",
    );
    let mut early = CardContent::from_snapshot(&snapshot).unwrap();
    early.created_at = Timestamp(1_000_000_000);
    negative(
        "created before 2020",
        early.to_snapshot(),
        signature.clone(),
        "timestamp_out_of_range",
    );
    let mut flag = snapshot.clone();
    *flag.last_mut().unwrap() = 2;
    negative("previous-card flag 2", flag, signature.clone(), "malformed");
    negative(
        "short signature",
        snapshot.clone(),
        signature[..63].to_vec(),
        "malformed",
    );
    negative(
        "signature with S + order",
        snapshot.clone(),
        with_non_canonical_s(&signature),
        "bad_signature",
    );
    negative(
        "signature with small-order R",
        snapshot.clone(),
        with_small_order_r(&signature),
        "bad_signature",
    );
    let content = CardContent::from_snapshot(&snapshot).unwrap();
    let mut small_key = content.clone();
    small_key.keys.signing = [0; 32];
    small_key.keys.signing[0] = 1;
    negative(
        "small-order Ed25519 key",
        small_key.to_snapshot(),
        signature.clone(),
        "invalid_key",
    );
    let mut high_bit = content.clone();
    high_bit.keys.encryption[31] |= 0x80;
    negative(
        "X25519 key with bit 255 set",
        high_bit.to_snapshot(),
        signature.clone(),
        "invalid_key",
    );
    // p = 2^255 - 19, little-endian: the first value that is not a canonical field element.
    let mut p = [0xff; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    let mut x_is_p = content.clone();
    x_is_p.keys.encryption = p;
    negative(
        "X25519 key u = p (not canonical)",
        x_is_p.to_snapshot(),
        signature.clone(),
        "invalid_key",
    );
    let mut x_zero = content.clone();
    x_zero.keys.encryption = [0; 32];
    negative(
        "X25519 key u = 0 (small order)",
        x_zero.to_snapshot(),
        signature.clone(),
        "invalid_key",
    );
    let mut x_one = content.clone();
    x_one.keys.encryption = [0; 32];
    x_one.keys.encryption[0] = 1;
    negative(
        "X25519 key u = 1 (small order)",
        x_one.to_snapshot(),
        signature.clone(),
        "invalid_key",
    );
    // y = p + 1 encodes the identity (small order) non-canonically; y = p + 3 encodes the
    // point with y = 3, of large order, non-canonically: refused for its encoding alone.
    for (name, low) in [
        ("Ed25519 key y = p + 1 (not canonical)", 0xee),
        ("Ed25519 key y = p + 3 (not canonical)", 0xf0),
    ] {
        let mut y = content.clone();
        y.keys.signing = p;
        y.keys.signing[0] = low;
        negative(name, y.to_snapshot(), signature.clone(), "invalid_key");
    }
    let mut late = content;
    late.created_at = Timestamp::LATEST.plus(1);
    negative(
        "created after 9999",
        late.to_snapshot(),
        signature,
        "timestamp_out_of_range",
    );
    file(
        "cards.json",
        "Card snapshots, self-signatures and ids; invalid cards with the error kind.",
        "docs/FORMAT.md §3",
        cases,
    )
}

struct EnvelopeCase {
    name: &'static str,
    sender: u8,
    recipients: Vec<PublicKeys>,
    /// Whose root secret decrypts the vector.
    reader: u8,
    plaintext: Vec<u8>,
}

fn keys(seeds: &[u8]) -> Vec<PublicKeys> {
    seeds.iter().map(|s| *pair(*s).public_keys()).collect()
}

fn randomness(n: u8) -> ([u8; 32], [u8; 16], [u8; 32]) {
    ([0xC0 ^ n; 32], [0x90 ^ n; 16], root(0x40 + n))
}

fn generate_envelopes() -> (String, Value) {
    let alice = Identity::new("alice").unwrap();
    let alice_card = Card::create(&pair(1), alice.clone(), T0, None).unwrap();
    let alice_rotated =
        Card::create(&pair(4), alice, T0.plus(86_400), Some(alice_card.id())).unwrap();
    let eve_card = Card::create(&pair(9), Identity::new("eve").unwrap(), T0, None).unwrap();
    let chain = json!([card_json(&alice_card)]);
    let rotated_chain = json!([card_json(&alice_card), card_json(&alice_rotated)]);

    let positives = [
        EnvelopeCase {
            name: "hello to bob",
            sender: 1,
            recipients: keys(&[2]),
            reader: 2,
            plaintext: b"hello, bob".to_vec(),
        },
        EnvelopeCase {
            name: "empty message to bob and alice",
            sender: 1,
            recipients: keys(&[2, 1]),
            reader: 2,
            plaintext: vec![],
        },
        EnvelopeCase {
            name: "three recipients",
            sender: 1,
            recipients: keys(&[2, 3, 1]),
            reader: 2,
            plaintext: b"group hello".to_vec(),
        },
        EnvelopeCase {
            name: "inner stream exactly one full chunk",
            sender: 1,
            recipients: keys(&[2]),
            reader: 2,
            plaintext: (0..envelope::CHUNK_LENGTH - envelope::TRAILER_LENGTH)
                .map(|i| (i % 251) as u8)
                .collect(),
        },
        EnvelopeCase {
            name: "two chunks",
            sender: 1,
            recipients: keys(&[2]),
            reader: 2,
            plaintext: (0..envelope::CHUNK_LENGTH + 1000)
                .map(|i| (i % 253) as u8)
                .collect(),
        },
        EnvelopeCase {
            name: "bob twice and alice: one stanza each",
            sender: 1,
            recipients: keys(&[2, 2, 1]),
            reader: 2,
            plaintext: b"deduplicated".to_vec(),
        },
        EnvelopeCase {
            name: "bob and a card sharing bob's encryption key: one stanza each",
            sender: 1,
            recipients: vec![
                *pair(2).public_keys(),
                PublicKeys {
                    signing: pair(9).public_keys().signing,
                    encryption: pair(2).public_keys().encryption,
                },
            ],
            reader: 2,
            plaintext: b"deduplicated by key pair".to_vec(),
        },
    ];
    let mut cases = Vec::new();
    let mut hello = Vec::new();
    let mut two_chunks = Vec::new();
    for (n, case) in positives.iter().enumerate() {
        let (content_key, payload_nonce, ephemeral) = randomness(n as u8);
        let recipients: Vec<Recipient> = case.recipients.iter().map(Recipient::from).collect();
        let sealed = encrypt_message_with(
            &pair(case.sender),
            &recipients,
            &case.plaintext,
            content_key,
            payload_nonce,
            ephemeral,
        )
        .unwrap();
        if n == 0 {
            hello = sealed.clone();
        }
        if n == 4 {
            two_chunks = sealed.clone();
        }
        cases.push(json!({
            "name": case.name,
            "sender_root_secret": h(&root(case.sender)),
            "recipients": case.recipients.iter().map(|k| json!({
                "signing": h(&k.signing), "encryption": h(&k.encryption),
            })).collect::<Vec<_>>(),
            "content_key": h(&content_key),
            "payload_nonce": h(&payload_nonce),
            "ephemeral_secret": h(&ephemeral),
            "plaintext": h(&case.plaintext),
            "envelope": h(&sealed),
            "decrypt_with_root_secret": h(&root(case.reader)),
            "sender_cards": chain,
            "made_at": null,
            "valid": true,
            "signer_card_id": alice_card.id().to_hex(),
        }));
    }

    let bob = root(2);
    let mut negative = |name: &str,
                        envelope: Vec<u8>,
                        reader: [u8; 32],
                        cards: Value,
                        made_at: Option<u64>,
                        error: &str| {
        cases.push(json!({
            "name": name, "envelope": h(&envelope), "decrypt_with_root_secret": h(&reader),
            "sender_cards": cards, "made_at": made_at, "valid": false, "error": error,
        }));
    };
    let payload_start = header::FIXED_LENGTH + header::X25519_STANZA_LENGTH;
    let mut flipped = hello.clone();
    flipped[payload_start + 3] ^= 0x80;
    negative(
        "payload bit flipped",
        flipped,
        bob,
        chain.clone(),
        None,
        "decryption_failed",
    );
    let mut stanza = hello.clone();
    stanza[header::FIXED_LENGTH + 12] ^= 0x01;
    negative(
        "wrapped key bit flipped",
        stanza,
        bob,
        chain.clone(),
        None,
        "decryption_failed",
    );
    negative(
        "truncated by one byte",
        hello[..hello.len() - 1].to_vec(),
        bob,
        chain.clone(),
        None,
        "decryption_failed",
    );
    negative(
        "header only",
        hello[..payload_start].to_vec(),
        bob,
        chain.clone(),
        None,
        "decryption_failed",
    );
    negative(
        "cut inside the header",
        hello[..40].to_vec(),
        bob,
        chain.clone(),
        None,
        "truncated",
    );
    let mut extended = hello.clone();
    extended.extend_from_slice(&[0u8; 20]);
    negative(
        "trailing garbage",
        extended,
        bob,
        chain.clone(),
        None,
        "decryption_failed",
    );
    negative(
        "not a recipient",
        hello.clone(),
        root(3),
        chain.clone(),
        None,
        "not_a_recipient",
    );
    negative(
        "wrong sender card",
        hello.clone(),
        bob,
        json!([card_json(&eve_card)]),
        None,
        "wrong_sender",
    );
    let mut magic = hello.clone();
    magic[0] = b'X';
    negative("bad magic", magic, bob, chain.clone(), None, "malformed");
    let mut version = hello.clone();
    version[4] = 9;
    negative(
        "unknown version",
        version,
        bob,
        chain.clone(),
        None,
        "unsupported_version",
    );
    negative(
        "signed before rotation, no time given",
        hello.clone(),
        bob,
        rotated_chain.clone(),
        None,
        "made_at_required",
    );
    negative(
        "signed before rotation, made after it",
        hello.clone(),
        bob,
        rotated_chain.clone(),
        Some(T0.plus(90_000).0),
        "signer_key_replaced",
    );

    // Bob re-addresses Alice's signed message to Carol under a new header. Decryption
    // succeeds for Carol, but the signature covers the original header.
    let (content_key, _, _) = randomness(0);
    let (_, inner) = stream::open_inner(&hello, &content_key);
    let (new_key, new_nonce, new_ephemeral) = randomness(77);
    let mut new_header = Vec::new();
    header::write(
        &mut new_header,
        Purpose::Data,
        &new_nonce,
        &StaticSecret::from(new_ephemeral),
        &new_key,
        &[Recipient::from(pair(3).public_keys())],
    )
    .unwrap();
    let readdressed = stream::seal_inner(Purpose::Data, &new_header, &new_key, &new_nonce, &inner);
    negative(
        "re-addressed by a recipient",
        readdressed,
        root(3),
        chain.clone(),
        None,
        "signature_invalid",
    );

    let mut no_stanzas = hello[..header::FIXED_LENGTH - 4].to_vec();
    no_stanzas.extend_from_slice(&[0; 4]);
    no_stanzas.extend_from_slice(&hello[header::FIXED_LENGTH + header::X25519_STANZA_LENGTH..]);
    negative(
        "no stanzas",
        no_stanzas,
        bob,
        chain.clone(),
        None,
        "malformed",
    );
    let mut short_stanza = hello.clone();
    short_stanza[header::FIXED_LENGTH + 10] = 47;
    negative(
        "X25519 stanza of 47 bytes",
        short_stanza,
        bob,
        chain.clone(),
        None,
        "malformed",
    );
    let sealed_chunk = envelope::CHUNK_LENGTH + 16;
    let mut dropped = two_chunks[..payload_start].to_vec();
    dropped.extend_from_slice(&two_chunks[payload_start + sealed_chunk..]);
    negative(
        "first of two chunks dropped",
        dropped,
        bob,
        chain.clone(),
        None,
        "decryption_failed",
    );
    let (hello_header, hello_inner) = stream::open_inner(&hello, &content_key);
    let hello_nonce = randomness(0).1;
    let short_inner = stream::seal_inner(
        Purpose::Data,
        &hello_header,
        &content_key,
        &hello_nonce,
        &hello_inner[..50],
    );
    negative(
        "inner stream shorter than the trailer",
        short_inner,
        bob,
        chain.clone(),
        None,
        "decryption_failed",
    );
    let trailer_at = hello_inner.len() - 64;
    let mut high_s = hello_inner.clone();
    high_s[trailer_at..].copy_from_slice(&with_non_canonical_s(&hello_inner[trailer_at..]));
    let high_s = stream::seal_inner(
        Purpose::Data,
        &hello_header,
        &content_key,
        &hello_nonce,
        &high_s,
    );
    negative(
        "message signature with S + order",
        high_s,
        bob,
        chain.clone(),
        None,
        "signature_invalid",
    );
    let mut small_r = hello_inner.clone();
    small_r[trailer_at..].copy_from_slice(&with_small_order_r(&hello_inner[trailer_at..]));
    let small_r = stream::seal_inner(
        Purpose::Data,
        &hello_header,
        &content_key,
        &hello_nonce,
        &small_r,
    );
    negative(
        "message signature with small-order R",
        small_r,
        bob,
        chain.clone(),
        None,
        "signature_invalid",
    );
    let reversed = json!([card_json(&alice_rotated), card_json(&alice_card)]);
    negative(
        "sender chain in the wrong order",
        hello.clone(),
        bob,
        reversed,
        None,
        "invalid_sender_cards",
    );
    negative(
        "empty sender chain",
        hello.clone(),
        bob,
        json!([]),
        None,
        "invalid_sender_cards",
    );

    let (ticket_key, ticket_nonce, ticket_ephemeral) = randomness(30);
    let ticket = encrypt_with(
        Purpose::GroupTicket,
        &pair(1),
        &[Recipient::from(pair(2).public_keys())],
        b"hello, bob",
        ticket_key,
        ticket_nonce,
        ticket_ephemeral,
    )
    .unwrap();
    negative(
        "group ticket envelope read as data",
        ticket,
        bob,
        chain.clone(),
        None,
        "wrong_purpose",
    );
    let mut purpose = hello.clone();
    purpose[5] = 9;
    negative(
        "unknown purpose",
        purpose,
        bob,
        chain.clone(),
        None,
        "malformed",
    );
    // Mallory's card: her own signing key, Bob's X25519 key. A message to it is not one
    // to Bob.
    let mallory = PublicKeys {
        signing: pair(13).public_keys().signing,
        encryption: pair(2).public_keys().encryption,
    };
    let (k, nonce, e) = randomness(31);
    let to_mallory = encrypt_message_with(
        &pair(1),
        &[Recipient::from(&mallory)],
        b"for mallory",
        k,
        nonce,
        e,
    )
    .unwrap();
    negative(
        "to a card that copies the reader's encryption key",
        to_mallory,
        bob,
        chain.clone(),
        None,
        "not_a_recipient",
    );
    let ephemeral_at = header::FIXED_LENGTH - 4 - 32;
    let mut small_order = hello.clone();
    small_order[ephemeral_at..ephemeral_at + 32].fill(0);
    negative(
        "ephemeral key of small order",
        small_order,
        bob,
        chain.clone(),
        None,
        "decryption_failed",
    );
    let mut too_many = hello[..header::FIXED_LENGTH - 4].to_vec();
    too_many.extend_from_slice(&(envelope::MAX_RECIPIENTS as u32 + 1).to_be_bytes());
    negative(
        "100 001 stanzas",
        too_many,
        bob,
        chain.clone(),
        None,
        "malformed",
    );
    // Headers no conforming writer produces, signed by Alice over exactly these bytes.
    let hello_stanza = hello[header::FIXED_LENGTH..payload_start].to_vec();
    let mut decoy = hello_stanza.clone();
    decoy[20] ^= 0x01;
    let signed_with_header = |stanzas: &[&[u8]], plaintext: &[u8]| {
        let mut header_bytes = hello[..header::FIXED_LENGTH - 4].to_vec();
        header_bytes.extend_from_slice(&(stanzas.len() as u32).to_be_bytes());
        for stanza in stanzas {
            header_bytes.extend_from_slice(stanza);
        }
        let (content_key, payload_nonce, _) = randomness(0);
        let mut encryptor = envelope::Encryptor::from_header(
            Purpose::Data,
            header_bytes,
            &content_key,
            &payload_nonce,
            &pair(1),
        );
        let mut out = Vec::new();
        encryptor.update(plaintext, &mut out).unwrap();
        encryptor.finish(&mut out).unwrap();
        out
    };
    let unknown_stanza: &[u8] = b"\x7f\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\x00\x03pq!";
    let tried = envelope::MAX_STANZAS_TRIED;
    let decoys = |count: usize| {
        let mut stanzas: Vec<&[u8]> = vec![&decoy; count];
        stanzas.push(&hello_stanza);
        signed_with_header(&stanzas, b"decoys")
    };
    negative(
        "the reader's stanza after 4 copies that do not open",
        decoys(tried),
        bob,
        chain.clone(),
        None,
        "decryption_failed",
    );
    let mut positive = |name: &str, envelope: Vec<u8>, plaintext: &[u8]| {
        cases.push(json!({
            "name": name, "envelope": h(&envelope), "decrypt_with_root_secret": h(&bob),
            "sender_cards": chain, "made_at": null, "plaintext": h(plaintext), "valid": true,
            "signer_card_id": alice_card.id().to_hex(),
        }));
    };
    positive(
        "a stanza of an unknown algorithm is skipped",
        signed_with_header(&[unknown_stanza, &hello_stanza], b"skip it"),
        b"skip it",
    );
    positive(
        "the reader's stanza after 3 copies that do not open",
        decoys(tried - 1),
        b"decoys",
    );

    cases.push(json!({
        "name": "signed before rotation, made before it",
        "envelope": h(&hello), "decrypt_with_root_secret": h(&bob),
        "sender_cards": rotated_chain, "made_at": T0.plus(3600).0,
        "plaintext": h(b"hello, bob"), "valid": true, "signer_card_id": alice_card.id().to_hex(),
    }));
    file(
        "envelopes.json",
        "Sign-then-encrypt envelopes built from explicit randomness, and damaged or misused envelopes with the error kind.",
        "docs/FORMAT.md §4",
        cases,
    )
}

fn generate_backups() -> (String, Value) {
    let secret = RootSecret::from_bytes(root(1));
    let blob = backup::seal_backup_with(
        &secret,
        "correct horse battery staple",
        FAST_KDF,
        [0x11; 16],
        [0x22; 12],
    )
    .unwrap();
    let default_blob = backup::seal_backup_with(
        &secret,
        "pässwörd ✓",
        KdfParams::DEFAULT,
        [0x33; 16],
        [0x44; 12],
    )
    .unwrap();
    let mut cases = vec![
        json!({ "name": "tiny parameters", "root_secret": h(secret.as_bytes()), "password": "correct horse battery staple",
                "memory_kib": 64, "iterations": 1, "parallelism": 1, "salt": h(&[0x11; 16]), "nonce": h(&[0x22; 12]),
                "blob": h(&blob), "valid": true }),
        json!({ "name": "default parameters, non-ASCII password", "root_secret": h(secret.as_bytes()), "password": "pässwörd ✓",
                "memory_kib": KdfParams::DEFAULT.memory_kib, "iterations": KdfParams::DEFAULT.iterations,
                "parallelism": KdfParams::DEFAULT.parallelism, "salt": h(&[0x33; 16]), "nonce": h(&[0x44; 12]),
                "blob": h(&default_blob), "valid": true }),
    ];
    // Version 1's default cost (19 MiB, 2 passes): blobs made before the defaults were
    // raised still open.
    let before = KdfParams {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };
    let before_blob =
        backup::seal_backup_with(&secret, "made in 2026", before, [0x55; 16], [0x66; 12]).unwrap();
    cases.push(json!({ "name": "the previous default parameters", "root_secret": h(secret.as_bytes()), "password": "made in 2026",
            "memory_kib": before.memory_kib, "iterations": before.iterations, "parallelism": before.parallelism,
            "salt": h(&[0x55; 16]), "nonce": h(&[0x66; 12]), "blob": h(&before_blob), "valid": true }));
    let mut negative = |name: &str, blob: Vec<u8>, password: &str, error: &str| {
        cases.push(json!({ "name": name, "blob": h(&blob), "password": password, "valid": false, "error": error }));
    };
    negative(
        "wrong password",
        blob.clone(),
        "Correct horse battery staple",
        "wrong_password",
    );
    let mut tampered = blob.clone();
    tampered[60] ^= 1;
    negative(
        "ciphertext bit flipped",
        tampered,
        "correct horse battery staple",
        "wrong_password",
    );
    let mut params = blob.clone();
    params[13] = 2; // iterations 1 -> 2: the header is authenticated
    negative(
        "parameters changed",
        params,
        "correct horse battery staple",
        "wrong_password",
    );
    let mut hostile = blob.clone();
    hostile[6..10].copy_from_slice(&u32::MAX.to_be_bytes());
    negative(
        "hostile memory cost",
        hostile,
        "correct horse battery staple",
        "parameters_out_of_range",
    );
    let mut version = blob.clone();
    version[4] = 2;
    negative(
        "unknown version",
        version,
        "correct horse battery staple",
        "unsupported_version",
    );
    let mut kdf = blob.clone();
    kdf[5] = 7;
    negative(
        "unknown kdf",
        kdf,
        "correct horse battery staple",
        "unsupported_kdf",
    );
    negative(
        "truncated",
        blob[..blob.len() - 1].to_vec(),
        "correct horse battery staple",
        "malformed",
    );
    // Parameter bounds (docs/FORMAT.md §5.2): refused before the KDF runs, so a wrong
    // password still gives parameters_out_of_range.
    let defaults = KdfParams::DEFAULT;
    let bounds = [
        (
            "memory above 4 x the default",
            4 * defaults.memory_kib + 1,
            defaults.iterations,
            1,
        ),
        (
            "iterations above 4 x the default",
            defaults.memory_kib,
            4 * defaults.iterations + 1,
            1,
        ),
        ("parallelism 5", defaults.memory_kib, defaults.iterations, 5),
        ("zero iterations", defaults.memory_kib, 0, 1),
        (
            "zero parallelism",
            defaults.memory_kib,
            defaults.iterations,
            0,
        ),
        ("memory below 8 KiB per lane", 15, 1, 2),
    ];
    for (name, memory_kib, iterations, parallelism) in bounds {
        let mut out_of_range = blob.clone();
        out_of_range[6..10].copy_from_slice(&u32::to_be_bytes(memory_kib));
        out_of_range[10..14].copy_from_slice(&u32::to_be_bytes(iterations));
        out_of_range[14..18].copy_from_slice(&u32::to_be_bytes(parallelism));
        negative(
            name,
            out_of_range,
            "wrong password",
            "parameters_out_of_range",
        );
    }

    let alice = Identity::new("alice").unwrap();
    let bob = Identity::new("bob").unwrap();
    for (app_id, identity) in [
        ("app-test", &alice),
        ("app-test", &bob),
        ("other-app", &alice),
    ] {
        let derived =
            backup::derive_passwords("correct horse battery staple", app_id, identity).unwrap();
        cases.push(json!({
            "name": format!("derive_passwords for {identity} of {app_id} (default parameters)"),
            "derive_passwords": "correct horse battery staple",
            "app_id": app_id,
            "identity": identity.as_str(),
            "login_password": derived.login_password.as_str(),
            "backup_password": derived.backup_password.as_str(),
            "valid": true,
        }));
    }
    cases.push(json!({
        "name": "derive_passwords of an empty password",
        "derive_passwords": "", "app_id": "app-test", "identity": "alice",
        "valid": false, "error": "empty_password",
    }));
    cases.push(json!({
        "name": "derive_passwords with an empty app id",
        "derive_passwords": "pw", "app_id": "", "identity": "alice",
        "valid": false, "error": "invalid_input",
    }));
    cases.push(json!({
        "name": "derive_passwords with a 256-byte app id",
        "derive_passwords": "pw", "app_id": "a".repeat(256), "identity": "alice",
        "valid": false, "error": "invalid_input",
    }));
    file(
        "backups.json",
        "Password backup blobs of a root secret, derive_passwords, and blobs that must not open.",
        "docs/FORMAT.md §5",
        cases,
    )
}

fn generate_tokens() -> (String, Value) {
    const ISSUER: &str = "app-test";
    let audience = crate::jwt::default_audience(ISSUER);
    let key = AppKey::from_seed([0x5A; 32]);
    let other = AppKey::from_seed([0x5B; 32]);
    let alice = Identity::new("alice").unwrap();
    let b64 = crate::encoding::b64url_encode;
    let good = key.mint(ISSUER, &audience, &alice, T0, 1200);
    let claims_of = |aud: Value| json!({ "iss": ISSUER, "sub": "alice", "aud": aud, "iat": T0.0, "exp": T0.plus(1200).0 });
    // `minted`: the minter reproduces the token byte for byte from its claims.
    let mut cases = vec![json!({
        "name": "valid token", "token": good, "now": T0.plus(60).0, "valid": true,
        "minted": true, "claims": claims_of(json!(audience)),
    })];
    // A token of this header and claims text, signed with the app key.
    let raw_sign = |header: &[u8], claims: &[u8]| {
        use ed25519_dalek::Signer;
        let input = format!("{}.{}", b64(header), b64(claims));
        let signature = ed25519_dalek::SigningKey::from_bytes(key.seed()).sign(input.as_bytes());
        format!("{input}.{}", b64(&signature.to_bytes()))
    };
    let header = format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{}"}}"#, key.kid());
    let claims_text = |extra: &str| {
        format!(
            r#"{{"iss":"{ISSUER}","sub":"alice","aud":"{audience}","iat":{},"exp":{}{extra}}}"#,
            T0.0,
            T0.plus(1200).0
        )
    };
    let with_claims = |claims: &str| raw_sign(header.as_bytes(), claims.as_bytes());
    let with_header = |header: &str| raw_sign(header.as_bytes(), claims_text("").as_bytes());
    let mut valid = |name: &str, token: String, claims: Value| {
        cases.push(json!({
            "name": name, "token": token, "now": T0.0, "valid": true, "minted": false,
            "claims": claims,
        }));
    };
    let several = json!(["https://api.example.com", audience]);
    valid(
        "aud: an array naming this server among others",
        with_claims(&claims_text("").replace(&format!("\"{audience}\""), &several.to_string())),
        claims_of(several.clone()),
    );
    let mut with_nbf = claims_of(json!(audience));
    with_nbf["nbf"] = json!(T0.minus(30).0);
    valid(
        "nbf in the past",
        with_claims(&claims_text(&format!(r#","nbf":{}"#, T0.minus(30).0))),
        with_nbf,
    );
    valid(
        "typ in lower case",
        with_header(&format!(
            r#"{{"alg":"EdDSA","typ":"jwt","kid":"{}"}}"#,
            key.kid()
        )),
        claims_of(json!(audience)),
    );
    valid(
        "ignored claims hold any JSON: -0, 1e400, nesting to level 32, escapes",
        with_claims(&claims_text(&format!(
            r#","jti":"\u00e9\ud83d\ude00","n":-0,"big":1e400,"deep":{}null{}"#,
            "[".repeat(31),
            "]".repeat(31)
        ))),
        claims_of(json!(audience)),
    );
    valid(
        "whitespace around JSON tokens, no typ",
        raw_sign(
            format!(
                " {{ \"alg\" : \"EdDSA\" ,\n\"kid\":\"{}\"\t}}\r\n",
                key.kid()
            )
            .as_bytes(),
            claims_text("").replace(',', " ,\n ").as_bytes(),
        ),
        claims_of(json!(audience)),
    );
    // Exactly the length limit, and one byte over it: padding in an ignored claim, and a
    // space in the header where base64url cannot reach the length otherwise.
    let padded = |spaces: usize, padding: usize| {
        let header = format!(
            r#"{{"alg":"EdDSA",{}"typ":"JWT","kid":"{}"}}"#,
            " ".repeat(spaces),
            key.kid()
        );
        let claims = claims_text(&format!(r#","pad":"{}""#, "x".repeat(padding)));
        raw_sign(header.as_bytes(), claims.as_bytes())
    };
    let of_length = |length: usize| {
        (0..4)
            .flat_map(|spaces| (2500..3100).map(move |padding| (spaces, padding)))
            .map(|(spaces, padding)| padded(spaces, padding))
            .find(|token| token.len() == length)
            .unwrap()
    };
    valid(
        "exactly 4096 bytes long",
        of_length(crate::jwt::MAX_TOKEN_LENGTH),
        claims_of(json!(audience)),
    );

    let mut negative = |name: &str, token: String, now: Timestamp, error: &str| {
        cases.push(
            json!({ "name": name, "token": token, "now": now.0, "valid": false, "error": error }),
        );
    };
    negative(
        "4097 bytes long",
        of_length(crate::jwt::MAX_TOKEN_LENGTH + 1),
        T0,
        "malformed",
    );
    negative(
        "expired (past exp + 60 s leeway)",
        good.clone(),
        T0.plus(1200 + 61),
        "expired",
    );
    negative(
        "issued in the future",
        good.clone(),
        T0.minus(120),
        "not_yet_valid",
    );
    negative(
        "nbf in the future (past the leeway)",
        with_claims(&claims_text(&format!(r#","nbf":{}"#, T0.plus(61).0))),
        T0,
        "not_yet_valid",
    );
    negative(
        "unknown kid",
        other.mint(ISSUER, &audience, &alice, T0, 1200),
        T0,
        "unknown_key",
    );
    negative(
        "other app",
        key.mint("app-other", &audience, &alice, T0, 1200),
        T0,
        "wrong_issuer",
    );
    negative(
        "aud missing",
        with_claims(&format!(
            r#"{{"iss":"{ISSUER}","sub":"alice","iat":{},"exp":{}}}"#,
            T0.0,
            T0.plus(1200).0
        )),
        T0,
        "wrong_audience",
    );
    negative(
        "aud names another server",
        key.mint(ISSUER, "tessera:app-test:staging", &alice, T0, 1200),
        T0,
        "wrong_audience",
    );
    negative(
        "aud differs in case",
        key.mint(ISSUER, "Tessera:app-test", &alice, T0, 1200),
        T0,
        "wrong_audience",
    );
    let retargeted =
        |aud: &str| with_claims(&claims_text("").replace(&format!("\"{audience}\""), aud));
    negative(
        "aud: an array without this server",
        retargeted(r#"["https://api.example.com"]"#),
        T0,
        "wrong_audience",
    );
    negative(
        "aud: an empty array",
        retargeted("[]"),
        T0,
        "wrong_audience",
    );
    negative("aud: a number", retargeted("7"), T0, "malformed");
    negative("aud: null", retargeted("null"), T0, "malformed");
    negative(
        "aud: an array holding a non-string",
        retargeted(&format!(r#"["{audience}",7]"#)),
        T0,
        "malformed",
    );
    negative(
        "other app and aud missing: the issuer is checked first",
        with_claims(&format!(
            r#"{{"iss":"app-other","sub":"alice","iat":{},"exp":{}}}"#,
            T0.0,
            T0.plus(1200).0
        )),
        T0,
        "wrong_issuer",
    );
    negative(
        "aud wrong and subject invalid: the audience is checked first",
        with_claims(
            &claims_text("")
                .replace(&format!("\"{audience}\""), "\"elsewhere\"")
                .replace("alice", "alice smith"),
        ),
        T0,
        "wrong_audience",
    );
    let parts: Vec<&str> = good.split('.').collect();
    let none_header = b64(br#"{"alg":"none","typ":"JWT"}"#);
    negative(
        "alg none",
        format!("{none_header}.{}.", parts[1]),
        T0,
        "unsupported_algorithm",
    );
    let hs_header = b64(br#"{"alg":"HS256","typ":"JWT","kid":"x"}"#);
    negative(
        "alg HS256",
        format!("{hs_header}.{}.{}", parts[1], parts[2]),
        T0,
        "unsupported_algorithm",
    );
    negative(
        "alg none with a typ and kid that are not strings: alg is checked first",
        format!(
            "{}.{}.{}",
            b64(br#"{"alg":"none","typ":1,"kid":1}"#),
            parts[1],
            parts[2]
        ),
        T0,
        "unsupported_algorithm",
    );
    negative(
        "alg missing",
        with_header(&format!(r#"{{"typ":"JWT","kid":"{}"}}"#, key.kid())),
        T0,
        "malformed",
    );
    negative(
        "typ not a string",
        with_header(&format!(
            r#"{{"alg":"EdDSA","typ":1,"kid":"{}"}}"#,
            key.kid()
        )),
        T0,
        "malformed",
    );
    negative(
        "typ null",
        with_header(&format!(
            r#"{{"alg":"EdDSA","typ":null,"kid":"{}"}}"#,
            key.kid()
        )),
        T0,
        "malformed",
    );
    negative(
        "typ JWS",
        with_header(&format!(
            r#"{{"alg":"EdDSA","typ":"JWS","kid":"{}"}}"#,
            key.kid()
        )),
        T0,
        "malformed",
    );
    negative(
        "typ not a string and crit present: crit is checked first",
        with_header(&format!(
            r#"{{"alg":"EdDSA","typ":1,"crit":null,"kid":"{}"}}"#,
            key.kid()
        )),
        T0,
        "unsupported_critical",
    );
    negative(
        "kid not a string",
        with_header(r#"{"alg":"EdDSA","typ":"JWT","kid":1}"#),
        T0,
        "malformed",
    );
    negative(
        "kid in upper case",
        with_header(&format!(
            r#"{{"alg":"EdDSA","typ":"JWT","kid":"{}"}}"#,
            key.kid().to_uppercase()
        )),
        T0,
        "unknown_key",
    );
    negative(
        "header with a duplicate member",
        with_header(&format!(
            r#"{{"alg":"EdDSA","typ":"JWT","kid":"{0}","kid":"{0}"}}"#,
            key.kid()
        )),
        T0,
        "malformed",
    );
    negative(
        "header with a duplicate member inside an ignored member",
        with_header(&format!(
            r#"{{"alg":"EdDSA","typ":"JWT","kid":"{}","x5u":{{"a":1,"a":1}}}}"#,
            key.kid()
        )),
        T0,
        "malformed",
    );
    negative(
        "header with a duplicate member written with an escape",
        with_header(&format!(
            r#"{{"alg":"EdDSA","typ":"JWT","kid":"{}","\u0061lg":"EdDSA"}}"#,
            key.kid()
        )),
        T0,
        "malformed",
    );
    negative(
        "claims with a duplicate member",
        with_claims(&claims_text(r#","sub":"alice""#)),
        T0,
        "malformed",
    );
    negative(
        "claims with a duplicate member inside an ignored member",
        with_claims(&claims_text(r#","ext":[{"role":"a","role":"b"}]"#)),
        T0,
        "malformed",
    );
    negative(
        "iat -0",
        with_claims(&claims_text("").replace(&T0.0.to_string(), "-0")),
        T0,
        "malformed",
    );
    negative(
        "iat with a fraction",
        with_claims(&claims_text("").replace(&T0.0.to_string(), "1767225600.0")),
        T0,
        "malformed",
    );
    negative(
        "iat with an exponent",
        with_claims(&claims_text("").replace(&T0.0.to_string(), "17672256e2")),
        T0,
        "malformed",
    );
    negative(
        "exp of 2^64",
        with_claims(&claims_text("").replace(&T0.plus(1200).0.to_string(), "18446744073709551616")),
        T0,
        "malformed",
    );
    negative(
        "nbf null",
        with_claims(&claims_text(r#","nbf":null"#)),
        T0,
        "malformed",
    );
    let mut invalid_utf8 = claims_text(r#","jti":"??""#).into_bytes();
    let at = invalid_utf8.iter().position(|&b| b == b'?').unwrap();
    invalid_utf8[at] = 0xC3; // a lead byte followed by `?`: not UTF-8
    negative(
        "invalid UTF-8 inside an ignored claim",
        raw_sign(header.as_bytes(), &invalid_utf8),
        T0,
        "malformed",
    );
    negative(
        "escaped lone surrogate inside an ignored claim",
        with_claims(&claims_text(r#","jti":"\ud800""#)),
        T0,
        "malformed",
    );
    negative(
        "ignored claim nested to level 33",
        with_claims(&claims_text(&format!(
            r#","deep":{}null{}"#,
            "[".repeat(32),
            "]".repeat(32)
        ))),
        T0,
        "malformed",
    );
    negative(
        "trailing comma in the claims",
        with_claims(&claims_text(",")),
        T0,
        "malformed",
    );
    let forged_claims = b64(&serde_json::to_vec(&TokenClaims {
        iss: ISSUER.into(),
        sub: "mallory".into(),
        aud: Some(crate::jwt::Audience::One(audience.clone())),
        iat: T0.0,
        exp: T0.plus(1200).0,
        nbf: None,
    })
    .unwrap());
    negative(
        "claims swapped",
        format!("{}.{forged_claims}.{}", parts[0], parts[2]),
        T0,
        "bad_signature",
    );
    negative(
        "claims not base64url: read only after the signature",
        format!("{}.not*base64.{}", parts[0], parts[2]),
        T0,
        "bad_signature",
    );
    negative(
        "signature not base64url and kid unknown: the key is checked first",
        format!(
            "{}.{}.not*base64",
            other
                .mint(ISSUER, &audience, &alice, T0, 1200)
                .split('.')
                .next()
                .unwrap(),
            parts[1]
        ),
        T0,
        "unknown_key",
    );
    negative(
        "two parts",
        format!("{}.{}", parts[0], parts[1]),
        T0,
        "malformed",
    );
    negative(
        "lifetime of two days",
        key.mint(ISSUER, &audience, &alice, T0, 2 * 86_400),
        T0,
        "lifetime_too_long",
    );
    negative(
        "critical header extension",
        with_header(&format!(
            r#"{{"alg":"EdDSA","typ":"JWT","kid":"{}","crit":["exp"]}}"#,
            key.kid()
        )),
        T0,
        "unsupported_critical",
    );
    negative(
        "subject with a space",
        with_claims(&claims_text("").replace("alice", "alice smith")),
        T0,
        "invalid_subject",
    );
    let signature = crate::encoding::b64url_decode(parts[2]).unwrap();
    let high_s = b64(&with_non_canonical_s(&signature));
    negative(
        "signature with S + order",
        format!("{}.{}.{high_s}", parts[0], parts[1]),
        T0,
        "bad_signature",
    );
    file(
        "tokens.json",
        "EdDSA JWTs: the verifier accepts app-test tokens for audience tessera:app-test signed by app_public_keys, leeway 60 s, max lifetime 86400 s.",
        "docs/FORMAT.md §6",
        cases,
    )
    .map_header(|v| {
        v["app_public_keys"] = json!([h(&key.public_key())]);
        v["app_seed"] = json!(h(key.seed()));
        v["issuer"] = json!(ISSUER);
        v["audience"] = json!(audience);
    })
}

trait MapHeader {
    fn map_header(self, f: impl FnOnce(&mut Value)) -> Self;
}

impl MapHeader for (String, Value) {
    fn map_header(mut self, f: impl FnOnce(&mut Value)) -> Self {
        f(&mut self.1);
        self
    }
}

fn generate_groups() -> (String, Value) {
    use crate::group::{self, EpochKey, GroupEncryptor, GroupId};
    let names = ["alice", "bob", "carol", "dave"];
    let cards: Vec<Card> = names
        .iter()
        .zip(1u8..)
        .map(|(name, seed)| {
            Card::create(&pair(seed), Identity::new(*name).unwrap(), T0, None).unwrap()
        })
        .collect();
    let ids = |members: &[usize]| -> Vec<Identity> {
        members
            .iter()
            .map(|i| cards[*i].identity().clone())
            .collect()
    };
    let recipients = |members: &[usize]| -> Vec<Recipient> {
        members
            .iter()
            .map(|i| Recipient::from(&cards[*i]))
            .collect()
    };
    let group_id = GroupId::new("team:vectors").unwrap();
    let epoch0 = EpochKey {
        epoch: 0,
        secret: zeroize::Zeroizing::new([0xE0; 32]),
        participants: ids(&[0, 1, 2]),
    };
    let epoch1 = EpochKey {
        epoch: 1,
        secret: zeroize::Zeroizing::new([0xE1; 32]),
        participants: ids(&[0, 1, 2, 3]),
    };
    let alice = pair(1);
    // A blob for epoch 1 to `to`, with `history` for `newcomers`; envelope randomness
    // from `first + 1` on.
    let seal_blob = |first: u8, to: &[usize], history: &[EpochKey], newcomers: &[usize]| {
        let mut n = first;
        group::ticket::seal_ticket_blob_with(
            &group_id,
            &epoch1,
            &recipients(to),
            Some((history, &recipients(newcomers))),
            |to, plaintext| {
                n += 1;
                let (k, nonce, e) = randomness(n);
                Ok(encrypt_with(
                    Purpose::GroupTicket,
                    &alice,
                    to,
                    plaintext,
                    k,
                    nonce,
                    e,
                )?)
            },
        )
        .unwrap()
    };
    let blob = seal_blob(100, &[0, 1, 2, 3], std::slice::from_ref(&epoch0), &[3]);
    let seal = |sender: u8, epoch: &EpochKey, nonce: u8, plaintext: &[u8]| {
        let mut out = Vec::new();
        let mut encryptor =
            GroupEncryptor::with_nonce(&pair(sender), &group_id, epoch, [nonce; 16]);
        encryptor.update(plaintext, &mut out).unwrap();
        encryptor.finish(&mut out).unwrap();
        out
    };
    let from_bob = seal(2, &epoch0, 0x51, b"hello from epoch 0");
    let from_dave = seal(4, &epoch1, 0x52, b"dave joined");
    let backdated = seal(4, &epoch0, 0x53, b"dave was not here");
    let card = |i: usize| json!([card_json(&cards[i])]);
    let mut tampered = from_bob.clone();
    let last = tampered.len() - 20;
    tampered[last] ^= 0x04;
    let secrets = |epochs: &[&EpochKey]| -> Value {
        epochs
            .iter()
            .map(|e| {
                json!({ "epoch": e.epoch, "secret": h(e.secret.as_ref()),
            "participants": e.participants.iter().map(Identity::as_str).collect::<Vec<_>>() })
            })
            .collect()
    };
    let mut bad_group = from_bob.clone();
    bad_group[4 + 1 + 1 + 4] = b' ';
    let mut empty_record = b"TSGT\x02".to_vec();
    empty_record.push(group_id.as_str().len() as u8);
    empty_record.extend_from_slice(group_id.as_str().as_bytes());
    empty_record.extend_from_slice(&1u16.to_be_bytes());
    empty_record.extend_from_slice(&2u32.to_be_bytes());
    empty_record.extend_from_slice(&[0xE2; 32]);
    empty_record.extend_from_slice(&0u32.to_be_bytes());
    let (k, nonce, e) = randomness(120);
    let blob_of = |envelope: &[u8]| {
        let mut blob = b"TSGB\x02\x01".to_vec();
        blob.extend_from_slice(&(envelope.len() as u32).to_be_bytes());
        blob.extend_from_slice(envelope);
        blob
    };
    let envelope = encrypt_with(
        Purpose::GroupTicket,
        &alice,
        &recipients(&[0, 1]),
        &empty_record,
        k,
        nonce,
        e,
    )
    .unwrap();
    let empty_blob = blob_of(&envelope);
    // The initiator signed an ordinary message whose plaintext happens to be a well-formed
    // ticket (the server got it to forward attacker-chosen bytes): not a ticket.
    let mut planted = b"TSGT\x02".to_vec();
    planted.push(group_id.as_str().len() as u8);
    planted.extend_from_slice(group_id.as_str().as_bytes());
    planted.extend_from_slice(&1u16.to_be_bytes());
    planted.extend_from_slice(&2u32.to_be_bytes());
    planted.extend_from_slice(&[0x66; 32]);
    planted.extend_from_slice(&1u32.to_be_bytes());
    planted.push(3);
    planted.extend_from_slice(b"bob");
    let (k, nonce, e) = randomness(121);
    let forwarded =
        encrypt_message_with(&alice, &recipients(&[0, 1]), &planted, k, nonce, e).unwrap();
    let forwarded_blob = blob_of(&forwarded);
    // Dave left out of envelope 0 (no honest initiator does that): the history he is sent
    // in envelope 1 still opens for him, and only it.
    let left_out = seal_blob(130, &[0, 1, 2], std::slice::from_ref(&epoch0), &[3]);
    // History with two records for epoch 0: the first one counts (§8.2).
    let epoch0_again = EpochKey {
        epoch: 0,
        secret: zeroize::Zeroizing::new([0xEE; 32]),
        participants: ids(&[0, 3]),
    };
    let duplicated = seal_blob(140, &[0, 1, 2, 3], &[epoch0.clone(), epoch0_again], &[3]);
    let mut forwarded_and_trailing = forwarded_blob.clone();
    forwarded_and_trailing.push(0);
    let structure = |name: &str, blob: Vec<u8>, error: &str| {
        json!({ "name": name, "kind": "ticket", "group_id": group_id.as_str(),
                "stored_epoch": 1, "blob": h(&blob), "initiator_cards": card(0),
                "readers": [{ "root_secret": h(&root(2)), "valid": false, "error": error }] })
    };
    let mut three = blob.clone();
    three[5] = 3;
    let mut trailing = blob.clone();
    trailing.push(0);
    let mut version1 = blob.clone();
    version1[4] = 1;
    let mut cases = vec![
        structure(
            "ticket blob without envelopes",
            b"TSGB\x02\x00".to_vec(),
            "malformed",
        ),
        structure("ticket blob claiming 3 envelopes", three, "malformed"),
        structure("ticket blob with a trailing byte", trailing, "malformed"),
        structure(
            "ticket blob cut inside its last envelope",
            blob[..blob.len() - 1].to_vec(),
            "malformed",
        ),
        structure("ticket blob of version 1", version1, "unsupported_version"),
        json!({ "name": "history with two records of one epoch: the first counts", "kind": "ticket",
                "group_id": group_id.as_str(), "stored_epoch": 1, "blob": h(&duplicated), "initiator_cards": card(0),
                "readers": [{ "root_secret": h(&root(4)), "valid": true, "epochs": secrets(&[&epoch1, &epoch0]) }] }),
        json!({ "name": "a data envelope in a blob, then a trailing byte: the envelope fails first", "kind": "ticket",
                "group_id": group_id.as_str(), "stored_epoch": 2, "blob": h(&forwarded_and_trailing), "initiator_cards": card(0),
                "readers": [{ "root_secret": h(&root(2)), "valid": false, "error": "wrong_purpose" }] }),
        json!({ "name": "only the second envelope opens", "kind": "ticket", "group_id": group_id.as_str(),
                "stored_epoch": 1, "blob": h(&left_out), "initiator_cards": card(0),
                "readers": [
                    { "root_secret": h(&root(4)), "valid": true, "epochs": secrets(&[&epoch0]) },
                    { "root_secret": h(&root(2)), "valid": true, "epochs": secrets(&[&epoch1]) },
                ] }),
    ];
    cases.extend([
        json!({ "name": "ticket read as if stored at epoch 2", "kind": "ticket", "group_id": group_id.as_str(),
                "stored_epoch": 2, "blob": h(&blob), "initiator_cards": card(0),
                "readers": [{ "root_secret": h(&root(2)), "valid": false, "error": "invalid_ticket" }] }),
        json!({ "name": "ticket whose epoch has no participants", "kind": "ticket", "group_id": group_id.as_str(),
                "stored_epoch": 2, "blob": h(&empty_blob), "initiator_cards": card(0),
                "readers": [{ "root_secret": h(&root(2)), "valid": false, "error": "participant_count" }] }),
        json!({ "name": "an ordinary signed message carrying a ticket", "kind": "ticket", "group_id": group_id.as_str(),
                "stored_epoch": 2, "blob": h(&forwarded_blob), "initiator_cards": card(0),
                "readers": [{ "root_secret": h(&root(2)), "valid": false, "error": "wrong_purpose" }] }),
        json!({ "name": "space in the message's group id", "kind": "message", "group_id": group_id.as_str(),
                "epochs": secrets(&[&epoch0, &epoch1]), "message": h(&bad_group), "sender_cards": card(1),
                "valid": false, "error": "invalid_group_id" }),
        json!({ "name": "ticket for epoch 1 with history for dave", "kind": "ticket", "group_id": group_id.as_str(),
                "stored_epoch": 1, "blob": h(&blob), "initiator_cards": card(0),
                "readers": [
                    { "root_secret": h(&root(2)), "valid": true, "epochs": secrets(&[&epoch1]) },
                    { "root_secret": h(&root(4)), "valid": true, "epochs": secrets(&[&epoch1, &epoch0]) },
                    { "root_secret": h(&root(9)), "valid": false, "error": "not_in_ticket" },
                ] }),
        json!({ "name": "message from bob at epoch 0", "kind": "message", "group_id": group_id.as_str(),
                "epochs": secrets(&[&epoch0, &epoch1]), "message": h(&from_bob), "sender_cards": card(1),
                "valid": true, "plaintext": h(b"hello from epoch 0"), "epoch": 0 }),
        json!({ "name": "message from dave at epoch 1", "kind": "message", "group_id": group_id.as_str(),
                "epochs": secrets(&[&epoch0, &epoch1]), "message": h(&from_dave), "sender_cards": card(3),
                "valid": true, "plaintext": h(b"dave joined"), "epoch": 1 }),
        json!({ "name": "dave writing into epoch 0", "kind": "message", "group_id": group_id.as_str(),
                "epochs": secrets(&[&epoch0, &epoch1]), "message": h(&backdated), "sender_cards": card(3),
                "valid": false, "error": "sender_not_participant" }),
        json!({ "name": "epoch unknown to the reader", "kind": "message", "group_id": group_id.as_str(),
                "epochs": secrets(&[&epoch0]), "message": h(&from_dave), "sender_cards": card(3),
                "valid": false, "error": "group_epoch_unknown" }),
        json!({ "name": "payload bit flipped", "kind": "message", "group_id": group_id.as_str(),
                "epochs": secrets(&[&epoch0, &epoch1]), "message": h(&tampered), "sender_cards": card(1),
                "valid": false, "error": "decryption_failed" }),
        json!({ "name": "other group", "kind": "message", "group_id": "team:other",
                "epochs": secrets(&[&epoch0, &epoch1]), "message": h(&from_bob), "sender_cards": card(1),
                "valid": false, "error": "wrong_group" }),
        json!({ "name": "wrong sender card", "kind": "message", "group_id": group_id.as_str(),
                "epochs": secrets(&[&epoch0, &epoch1]), "message": h(&from_bob), "sender_cards": card(2),
                "valid": false, "error": "wrong_sender" }),
    ]);
    file(
        "groups.json",
        "Group ticket blobs and group messages; invalid messages with the error kind.",
        "docs/FORMAT.md §8",
        cases,
    )
}

fn all_files() -> Vec<(String, Value)> {
    vec![
        generate_keys(),
        generate_safety_numbers(),
        generate_cards(),
        generate_envelopes(),
        generate_backups(),
        generate_tokens(),
        generate_groups(),
    ]
}

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../test-vectors")
}

fn read(name: &str) -> Value {
    let path = vectors_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("vector file is JSON")
}

#[test]
fn committed_vectors_match_the_implementation() {
    for (name, value) in all_files() {
        let text = serde_json::to_string_pretty(&value).unwrap() + "\n";
        let path = vectors_dir().join(&name);
        if std::env::var_os("TESSERA_WRITE_VECTORS").is_some() {
            std::fs::write(&path, &text).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == text,
            "{name} differs from what this implementation produces"
        );
    }
}

fn cases(name: &str) -> Vec<Value> {
    read(name)["cases"].as_array().expect("cases").clone()
}

fn cards_of(value: &Value) -> Vec<Card> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Card::from_parts(&unhex(&c["snapshot"]), &unhex(&c["signature"])).unwrap())
        .collect()
}

fn root_of(value: &Value) -> IdentityKeyPair {
    IdentityKeyPair::from_root_secret(RootSecret::from_slice(&unhex(value)).unwrap())
}

#[test]
fn key_vectors() {
    for case in cases("keys.json") {
        let keys = root_of(&case["root_secret"]);
        assert_eq!(h(&keys.public_keys().signing), case["ed25519_public_key"]);
        assert_eq!(h(&keys.public_keys().encryption), case["x25519_public_key"]);
        assert_eq!(
            h(&keys.public_keys().signing_key_id().0),
            case["signing_key_id"]
        );
        assert_eq!(
            h(&keys.public_keys().encryption_key_id().0),
            case["encryption_key_id"]
        );
    }
    for case in cases("safety-numbers.json") {
        let a = root_of(&case["root_secret_a"]);
        let b = root_of(&case["root_secret_b"]);
        let ia = Identity::new(case["identity_a"].as_str().unwrap()).unwrap();
        let ib = Identity::new(case["identity_b"].as_str().unwrap()).unwrap();
        assert_eq!(
            safety_number(&ib, b.public_keys(), &ia, a.public_keys()),
            case["safety_number"]
        );
    }
}

#[test]
fn card_vectors() {
    for case in cases("cards.json") {
        let result = Card::from_parts(&unhex(&case["snapshot"]), &unhex(&case["signature"]));
        if case["valid"] == true {
            let card = result.unwrap();
            assert_eq!(card.id().to_hex(), case["card_id"]);
            assert_eq!(card.identity().as_str(), case["identity"]);
            assert_eq!(card.to_text(), case["text"]);
            let keys = root_of(&case["root_secret"]);
            assert_eq!(card.public_keys(), keys.public_keys());
            let previous = case["previous_card_id"]
                .as_str()
                .map(|id| CardId::from_hex(id).unwrap());
            let remade = Card::create(
                &keys,
                card.identity().clone(),
                Timestamp(case["created_at"].as_u64().unwrap()),
                previous,
            )
            .unwrap();
            assert_eq!(remade, card, "Ed25519 signing is deterministic");
        } else {
            assert_eq!(
                result.unwrap_err().kind(),
                case["error"],
                "{}",
                case["name"]
            );
        }
    }
}

#[test]
fn envelope_vectors() {
    for case in cases("envelopes.json") {
        let reader = root_of(&case["decrypt_with_root_secret"]);
        let chain = cards_of(&case["sender_cards"]);
        let made_at = case["made_at"].as_u64().map(Timestamp);
        let result = envelope::decrypt_message(&reader, &unhex(&case["envelope"]), &chain, made_at);
        if case["valid"] == true {
            let (plain, verified) = result.unwrap_or_else(|e| panic!("{}: {e}", case["name"]));
            assert_eq!(h(&plain), case["plaintext"], "{}", case["name"]);
            assert_eq!(verified.signer_card_id.to_hex(), case["signer_card_id"]);
        } else {
            assert_eq!(
                result.unwrap_err().kind(),
                case["error"],
                "{}",
                case["name"]
            );
        }
    }
}

#[test]
fn backup_vectors() {
    for case in cases("backups.json") {
        if let Some(password) = case["derive_passwords"].as_str() {
            let app_id = case["app_id"].as_str().unwrap();
            let identity = Identity::new(case["identity"].as_str().unwrap()).unwrap();
            let derived = backup::derive_passwords(password, app_id, &identity);
            if case["valid"] == false {
                assert_eq!(derived.unwrap_err().kind(), case["error"]);
                continue;
            }
            let derived = derived.unwrap();
            assert_eq!(derived.login_password.as_str(), case["login_password"]);
            assert_eq!(derived.backup_password.as_str(), case["backup_password"]);
            continue;
        }
        let result = backup::open_backup(&unhex(&case["blob"]), case["password"].as_str().unwrap());
        if case["valid"] == true {
            assert_eq!(h(result.unwrap().as_bytes()), case["root_secret"]);
        } else {
            assert_eq!(
                result.unwrap_err().kind(),
                case["error"],
                "{}",
                case["name"]
            );
        }
    }
}

#[test]
fn token_vectors() {
    let file = read("tokens.json");
    let mut verifier = TokenVerifier::new(
        file["issuer"].as_str().unwrap(),
        file["audience"].as_str().unwrap(),
    );
    for key in file["app_public_keys"].as_array().unwrap() {
        verifier = verifier.with_key(&unhex(key).try_into().unwrap()).unwrap();
    }
    for case in file["cases"].as_array().unwrap() {
        let result = verifier.verify(
            case["token"].as_str().unwrap(),
            Timestamp(case["now"].as_u64().unwrap()),
        );
        if case["valid"] == true {
            let claims = result.unwrap();
            assert_eq!(
                serde_json::to_value(&claims).unwrap(),
                case["claims"],
                "{}",
                case["name"]
            );
            let token = case["token"].as_str().unwrap();
            assert_eq!(crate::jwt::read_claims_unverified(token).unwrap(), claims);
            if case["minted"] == true {
                let key = AppKey::from_seed(unhex(&file["app_seed"]).try_into().unwrap());
                let audience = claims.aud.as_ref().unwrap().as_slice()[0].clone();
                let minted = key.mint(
                    &claims.iss,
                    &audience,
                    &claims.identity().unwrap(),
                    Timestamp(claims.iat),
                    claims.exp - claims.iat,
                );
                assert_eq!(minted, token, "{}", case["name"]);
            }
        } else {
            assert_eq!(
                result.unwrap_err().kind(),
                case["error"],
                "{}",
                case["name"]
            );
        }
    }
}

fn epochs_of(value: &Value) -> crate::group::GroupKeys {
    let mut keys = crate::group::GroupKeys::default();
    for e in value.as_array().unwrap() {
        keys.insert(crate::group::EpochKey {
            epoch: e["epoch"].as_u64().unwrap() as u32,
            secret: zeroize::Zeroizing::new(unhex(&e["secret"]).try_into().unwrap()),
            participants: e["participants"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| Identity::new(p.as_str().unwrap()).unwrap())
                .collect(),
        });
    }
    keys
}

#[test]
fn group_vectors() {
    use crate::group::{GroupId, decrypt_group_message, open_ticket_blob};
    for case in cases("groups.json") {
        let group_id = GroupId::new(case["group_id"].as_str().unwrap()).unwrap();
        if case["kind"] == "ticket" {
            let initiator = cards_of(&case["initiator_cards"]);
            let stored = case["stored_epoch"].as_u64().unwrap() as u32;
            for reader in case["readers"].as_array().unwrap() {
                let result = open_ticket_blob(
                    &unhex(&case["blob"]),
                    &root_of(&reader["root_secret"]),
                    &group_id,
                    stored,
                    &initiator,
                    None,
                );
                if reader["valid"] == true {
                    let expected = epochs_of(&reader["epochs"]);
                    let mut got: Vec<_> = result.unwrap();
                    got.sort_by_key(|e| e.epoch);
                    assert_eq!(got, expected.iter().cloned().collect::<Vec<_>>());
                } else {
                    assert_eq!(result.unwrap_err().kind(), reader["error"]);
                }
            }
            continue;
        }
        let result = decrypt_group_message(
            &group_id,
            &epochs_of(&case["epochs"]),
            &unhex(&case["message"]),
            &cards_of(&case["sender_cards"]),
            None,
        );
        if case["valid"] == true {
            let (plain, _) = result.unwrap_or_else(|e| panic!("{}: {e}", case["name"]));
            assert_eq!(h(&plain), case["plaintext"]);
        } else {
            assert_eq!(
                result.unwrap_err().kind(),
                case["error"],
                "{}",
                case["name"]
            );
        }
    }
}
