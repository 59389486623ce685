//! Writes the seed corpus in `seeds/<target>/`: valid encodings in each target's raw mode,
//! so libFuzzer's byte-level mutations start from real envelopes, cards, blobs, tokens,
//! ticket blobs and group messages.
//! Deterministic; the committed files are its output. Regenerate with
//!
//! ```sh
//! cd crates/format/fuzz && RUSTFLAGS='--cfg fuzzing' cargo +nightly run --example seeds
//! ```

use std::{fs, io, path::Path};

use tessera_format::{
    Identity, KdfParams, Recipient, RootSecret,
    backup::seal_backup_with,
    envelope::encrypt_message_with,
    group::{encrypt_group_message_with, seal_ticket_blob_with_randomness},
};
use tessera_format_fuzz::{AUDIENCE, ISSUER, NOW, STORED_EPOCH, fixtures};

fn write(target: &str, name: &str, mode: u8, body: &[u8]) -> io::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("seeds")
        .join(target);
    fs::create_dir_all(&dir)?;
    fs::write(dir.join(name), [&[mode][..], body].concat())
}

fn main() -> io::Result<()> {
    let f = fixtures();
    let bob = Recipient::from(f.bob.public_keys());
    let to = [f.others[0], bob, f.others[1]];
    let seal = |signer, recipients: &[Recipient], plaintext: &[u8]| {
        encrypt_message_with(signer, recipients, plaintext, [1; 32], [2; 16], [3; 32])
            .expect("valid recipients")
    };
    let hello = seal(&f.alice_current, &to, b"hello, bob");
    let old = seal(&f.alice_previous, &[bob], b"before the rotation");
    let empty = seal(&f.alice_current, &[bob], b"");
    let not_for_bob = seal(&f.alice_current, &[f.others[2]], b"not for bob");

    write("envelope", "three-recipients", 0, &hello)?;
    write("envelope", "previous-key", 0, &old)?;
    write("envelope", "empty-plaintext", 0, &empty)?;
    write("envelope", "not-a-recipient", 0, &not_for_bob)?;

    // Stream raw mode: a piece count, big-endian u16 lengths, then the envelope. These
    // split inside the fixed header, at a stanza boundary and inside the payload.
    let pieces = |lengths: &[u16], envelope: &[u8]| {
        let mut out = vec![lengths.len() as u8];
        lengths
            .iter()
            .for_each(|l| out.extend_from_slice(&l.to_be_bytes()));
        out.extend_from_slice(envelope);
        out
    };
    write(
        "stream",
        "three-recipients",
        0,
        &pieces(&[5, 52, 59, 1, 100], &hello),
    )?;
    write("stream", "previous-key", 0, &pieces(&[57], &old))?;
    write(
        "stream",
        "empty-plaintext",
        0,
        &pieces(&[0, 116, 0], &empty),
    )?;

    let [previous, current] = &f.alice_chain;
    write(
        "card",
        "parts",
        0,
        &[current.snapshot(), &current.signature()[..]].concat(),
    )?;
    write("card", "text", 1, current.to_text().as_bytes())?;
    write("card", "snapshot-first", 2, previous.snapshot())?;
    write("card", "snapshot-rotated", 2, current.snapshot())?;
    write("card", "hex-id", 3, current.id().to_hex().as_bytes())?;
    write(
        "card",
        "json",
        4,
        &serde_json::to_vec(current).expect("serializable"),
    )?;

    let tiny = KdfParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };
    let blob = seal_backup_with(
        &RootSecret::from_bytes([5; 32]),
        "pw",
        tiny,
        [1; 16],
        [2; 12],
    )
    .expect("valid parameters");
    write(
        "backup",
        "tiny-params",
        0,
        &[&[2u8][..], b"pw", &blob].concat(),
    )?;
    let default_blob = seal_backup_with(
        &RootSecret::from_bytes([5; 32]),
        "pw",
        KdfParams::DEFAULT,
        [1; 16],
        [2; 12],
    )
    .expect("valid parameters");
    write(
        "backup",
        "default-params",
        0,
        &[&[2u8][..], b"pw", &default_blob].concat(),
    )?;

    let alice = Identity::new("alice").expect("valid identity");
    let valid = f
        .app_key
        .mint(ISSUER, AUDIENCE, &alice, NOW.minus(60), 1200);
    let expired = f
        .app_key
        .mint(ISSUER, AUDIENCE, &alice, NOW.minus(7200), 1200);
    let stranger = f.stranger_app_key.mint(ISSUER, AUDIENCE, &alice, NOW, 1200);
    write("token", "valid", 0, valid.as_bytes())?;
    write("token", "expired", 0, expired.as_bytes())?;
    write("token", "unknown-key", 0, stranger.as_bytes())?;

    // Group raw modes: 0 a ticket blob (read as stored at STORED_EPOCH), 2 + 4k a group
    // message (the group decryptor gets it in two pieces split at k).
    let [epoch0, epoch1, _] = &f.group_epochs;
    let randomness = [([1; 32], [2; 16], [3; 32]), ([4; 32], [5; 16], [6; 32])];
    let ticket = |signer, to: &[Recipient], history| {
        seal_ticket_blob_with_randomness(signer, &f.group_id, epoch1, to, history, randomness)
            .expect("valid ticket")
    };
    let newcomers = [bob];
    let with_history = ticket(
        &f.alice_current,
        &[f.others[0], bob],
        Some((std::slice::from_ref(epoch0), &newcomers)),
    );
    assert_eq!(epoch1.epoch, STORED_EPOCH);
    write("group", "ticket", 0, &ticket(&f.alice_current, &to, None))?;
    write("group", "ticket-history", 0, &with_history)?;
    write(
        "group",
        "ticket-previous-key",
        0,
        &ticket(&f.alice_previous, &[bob], None),
    )?;
    write(
        "group",
        "ticket-not-for-bob",
        0,
        &ticket(&f.alice_current, &[f.others[2]], None),
    )?;
    let message = |signer, epoch, plaintext: &[u8]| {
        encrypt_group_message_with(signer, &f.group_id, epoch, plaintext, [7; 16])
            .expect("valid epoch")
    };
    write(
        "group",
        "message",
        2,
        &message(&f.alice_current, epoch0, b"hello, group"),
    )?;
    write(
        "group",
        "message-split-in-header",
        2 + 4 * 12,
        &message(&f.alice_current, epoch0, b""),
    )?;
    write(
        "group",
        "message-not-participant",
        2 + 4 * 40,
        &message(&f.alice_current, epoch1, b"not a participant"),
    )?;
    Ok(())
}
