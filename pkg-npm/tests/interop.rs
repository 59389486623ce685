//! Cross-language check between tessera-core (Rust) and the npm package (JS).
//!
//! `scripts/test` runs, in this order:
//! 1. `cargo test -p tessera-wasm --test interop -- write DIR`: Rust encrypts messages to
//!    the npm side and writes `DIR/from-rust.json`;
//! 2. the npm tests decrypt `from-rust.json` and write `DIR/from-npm.json`;
//! 3. `cargo test -p tessera-wasm --test interop -- read DIR`: Rust decrypts and verifies
//!    `from-npm.json`.
//!
//! Both sides derive their own keys from fixed test root secrets (never real keys):
//! `rust-side` has root secret 0x11 × 32, `npm-side` 0x22 × 32. Files carry only
//! envelopes, the sender's card and the expected plaintext.

use std::{fs, path::Path, process::ExitCode};

use serde_json::{Value, json};
use tessera_core::{
    Card, Identity, IdentityKeyPair, Recipient, RootSecret, Timestamp,
    envelope::{decrypt_message, encrypt_message},
};

fn keys(seed: u8) -> IdentityKeyPair {
    IdentityKeyPair::from_root_secret(RootSecret::from_bytes([seed; 32]))
}

fn card(seed: u8, identity: &str) -> Result<Card, String> {
    let identity = Identity::new(identity).map_err(|e| e.to_string())?;
    Card::create(&keys(seed), identity, Timestamp(1_767_225_600), None).map_err(|e| e.to_string())
}

/// Messages of several shapes: empty, short text, and several 64 KiB chunks.
fn plaintexts() -> Vec<Vec<u8>> {
    let long: Vec<u8> = (0..200_003u32).map(|i| (i * 31 % 251) as u8).collect();
    vec![Vec::new(), b"hello from Rust".to_vec(), long]
}

fn write(dir: &Path) -> Result<(), String> {
    let sender = keys(0x11);
    let sender_card = card(0x11, "rust-side")?;
    let npm_side = card(0x22, "npm-side")?;
    let mut messages = Vec::new();
    for plaintext in plaintexts() {
        let envelope = encrypt_message(&sender, &[Recipient::from(&npm_side)], &plaintext)
            .map_err(|e| e.to_string())?;
        messages.push(
            json!({ "envelope": hex::encode(envelope), "plaintext": hex::encode(&plaintext) }),
        );
    }
    let file = json!({ "sender_card": sender_card.to_text(), "messages": messages });
    fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    fs::write(dir.join("from-rust.json"), file.to_string()).map_err(|e| e.to_string())?;
    println!("wrote {} messages for the npm side", plaintexts().len());
    Ok(())
}

fn read(dir: &Path) -> Result<(), String> {
    let path = dir.join("from-npm.json");
    let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let sender_card = Card::from_text(file["sender_card"].as_str().ok_or("no sender_card")?)
        .map_err(|e| e.to_string())?;
    if sender_card.identity().as_str() != "npm-side"
        || sender_card.public_keys() != keys(0x22).public_keys()
    {
        return Err("the npm side's card does not hold the npm side's keys".into());
    }
    let messages = file["messages"].as_array().ok_or("no messages")?;
    if messages.len() < 3 {
        return Err(format!(
            "expected at least 3 messages, got {}",
            messages.len()
        ));
    }
    let reader = keys(0x11);
    for (i, message) in messages.iter().enumerate() {
        let field = |name: &str| -> Result<Vec<u8>, String> {
            hex::decode(message[name].as_str().ok_or("missing field")?).map_err(|e| e.to_string())
        };
        let (plaintext, verified) = decrypt_message(
            &reader,
            &field("envelope")?,
            std::slice::from_ref(&sender_card),
            None,
        )
        .map_err(|e| format!("message {i}: {e}"))?;
        if plaintext != field("plaintext")? || verified.signer.as_str() != "npm-side" {
            return Err(format!("message {i}: wrong plaintext or signer"));
        }
        let mut tampered = field("envelope")?;
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        if decrypt_message(&reader, &tampered, std::slice::from_ref(&sender_card), None).is_ok() {
            return Err(format!("message {i}: a tampered copy decrypted"));
        }
    }
    println!(
        "decrypted and verified {} messages from the npm side",
        messages.len()
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let result = match args.as_slice() {
        [step, dir] if step == "write" => write(Path::new(dir)),
        [step, dir] if step == "read" => read(Path::new(dir)),
        _ => Err("usage: interop write|read DIR".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("interop: {message}");
            ExitCode::FAILURE
        }
    }
}
