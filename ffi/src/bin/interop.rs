//! Cross-language check between tessera-client (Rust) and the Kotlin package (and the Swift
//! package where it runs). `scripts/build-kotlin --test` runs, in this order:
//! 1. `tessera-interop write DIR`: Rust encrypts messages for the Kotlin side and writes
//!    `DIR/from-rust.json`;
//! 2. the JUnit suite decrypts `from-rust.json` (and the npm package's `from-npm.json`
//!    when scripts/test-npm wrote one) and writes `DIR/from-kotlin.json`;
//! 3. `tessera-interop read DIR/from-kotlin.json kotlin-side`: Rust decrypts and verifies it.
//!
//! Every side derives its keys from fixed test root secrets (never real keys):
//! `rust-side` 0x11 × 32, `npm-side` 0x22 × 32, `kotlin-side` (and `swift-side`) 0x33 × 32.
//! Files carry only envelopes, the sender's card and the expected plaintext; the format is
//! the npm package's (pkg-npm/tests/interop.rs).

use std::{fs, path::Path, process::ExitCode};

use serde_json::{Value, json};
use tessera_format::{
    Card, Identity, IdentityKeyPair, Recipient, RootSecret, Timestamp,
    envelope::{decrypt_message, encrypt_message},
};

const RUST_SIDE: u8 = 0x11;
const FOREIGN_SIDE: u8 = 0x33;

fn keys(seed: u8) -> IdentityKeyPair {
    IdentityKeyPair::from_root_secret(RootSecret::from_bytes([seed; 32]))
}

fn card(seed: u8, identity: &str) -> Result<Card, String> {
    let identity = Identity::new(identity).map_err(|e| e.to_string())?;
    Card::create(&keys(seed), identity, Timestamp(1_767_225_600), None).map_err(|e| e.to_string())
}

/// Empty, short text, and several 64 KiB chunks.
fn plaintexts() -> Vec<Vec<u8>> {
    let long: Vec<u8> = (0..200_003u32).map(|i| (i * 31 % 251) as u8).collect();
    vec![Vec::new(), b"hello from Rust".to_vec(), long]
}

fn write(dir: &Path) -> Result<(), String> {
    let sender = keys(RUST_SIDE);
    let sender_card = card(RUST_SIDE, "rust-side")?;
    let reader = card(FOREIGN_SIDE, "kotlin-side")?;
    let mut messages = Vec::new();
    for plaintext in plaintexts() {
        let envelope = encrypt_message(&sender, &[Recipient::from(&reader)], &plaintext)
            .map_err(|e| e.to_string())?;
        messages.push(
            json!({ "envelope": hex::encode(envelope), "plaintext": hex::encode(&plaintext) }),
        );
    }
    let file = json!({ "sender_card": sender_card.to_text(), "messages": messages });
    fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    fs::write(dir.join("from-rust.json"), file.to_string()).map_err(|e| e.to_string())?;
    println!("wrote {} messages for the foreign side", plaintexts().len());
    Ok(())
}

fn read(path: &Path, sender_identity: &str) -> Result<(), String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let sender_card = Card::from_text(file["sender_card"].as_str().ok_or("no sender_card")?)
        .map_err(|e| e.to_string())?;
    if sender_card.identity().as_str() != sender_identity
        || sender_card.public_keys() != keys(FOREIGN_SIDE).public_keys()
    {
        return Err(format!(
            "the sender card is not {sender_identity}'s with the fixed test keys"
        ));
    }
    let messages = file["messages"].as_array().ok_or("no messages")?;
    if messages.len() < 3 {
        return Err(format!(
            "expected at least 3 messages, got {}",
            messages.len()
        ));
    }
    let reader = keys(RUST_SIDE);
    for (i, message) in messages.iter().enumerate() {
        let field = |name: &str| -> Result<Vec<u8>, String> {
            hex::decode(message[name].as_str().ok_or("missing field")?).map_err(|e| e.to_string())
        };
        let envelope = field("envelope")?;
        let (plaintext, verified) =
            decrypt_message(&reader, &envelope, std::slice::from_ref(&sender_card), None)
                .map_err(|e| format!("message {i}: {e}"))?;
        if plaintext != field("plaintext")? || verified.signer.as_str() != sender_identity {
            return Err(format!("message {i}: wrong plaintext or signer"));
        }
        let mut tampered = envelope;
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        if decrypt_message(&reader, &tampered, std::slice::from_ref(&sender_card), None).is_ok() {
            return Err(format!("message {i}: a tampered copy decrypted"));
        }
    }
    println!(
        "decrypted and verified {} messages from {sender_identity}",
        messages.len()
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [step, dir] if step == "write" => write(Path::new(dir)),
        [step, file, sender] if step == "read" => read(Path::new(file), sender),
        _ => Err("usage: tessera-interop write DIR | read FILE SENDER_IDENTITY".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("tessera-interop: {message}");
            ExitCode::FAILURE
        }
    }
}
