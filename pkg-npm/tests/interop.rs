//! Cross-language check between tessera-client (Rust) and the npm package (JS).
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
//!
//! The clients too, through the real tessera-server that scripts/test-npm runs
//! (`TESSERA_SERVER_URL`, tokens from `TESSERA_SERVER_BIN token --data-dir
//! TESSERA_SERVER_DATA`): `write` registers `rust-client` and `npm-client` with Rust's
//! client and backs both keys up under [`CLIENT_PASSWORD`], then `authEncrypt`s to
//! `npm-client` (`from-rust-client.json`); the npm package restores `npm-client`, decrypts
//! it and `authEncrypt`s to `rust-client` (`from-npm-client.json`); `read` restores
//! `rust-client` in Rust and decrypts that. Keys cross languages only as password backups.

use std::{fs, path::Path, process::ExitCode, sync::Arc};

use base64ct::{Base64, Encoding};
use serde_json::{Value, json};
use tessera_client::{Config, InMemoryKeyStore, PlatformError, Tessera, TokenProvider};
use tessera_format::{
    Card, Identity, IdentityKeyPair, Recipient, RootSecret, Timestamp,
    envelope::{decrypt_message, encrypt_message},
};

/// The backup password of the interop test's client identities (test data, not a secret).
const CLIENT_PASSWORD: &str = "interop: rust <-> npm";
/// What the Rust client sends the npm client.
const RUST_CLIENT_TEXT: &str = "hello npm client, from the Rust client ✓";

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

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} must be set (scripts/test-npm sets it)"))
}

/// Development tokens from `tessera-server token`, as the docs tell app developers.
struct CliTokens {
    identity: String,
}

#[async_trait::async_trait]
impl TokenProvider for CliTokens {
    async fn token(&self) -> Result<String, PlatformError> {
        let fail = |e: String| PlatformError::new(format!("tessera-server token: {e}"));
        let output = tokio::process::Command::new(env("TESSERA_SERVER_BIN").map_err(fail)?)
            .args(["token", "--identity", &self.identity, "--data-dir"])
            .arg(env("TESSERA_SERVER_DATA").map_err(fail)?)
            .output()
            .await
            .map_err(|e| fail(e.to_string()))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        match stdout.lines().last() {
            Some(token) if output.status.success() => Ok(token.trim().to_owned()),
            _ => Err(fail(String::from_utf8_lossy(&output.stderr).into_owned())),
        }
    }
}

/// A fresh device (empty in-memory key store) of `identity` on the test server.
async fn client(identity: &str) -> Result<Tessera, String> {
    let config = Config::new(
        env("TESSERA_SERVER_URL")?,
        Arc::new(InMemoryKeyStore::new()),
        Arc::new(CliTokens {
            identity: identity.to_owned(),
        }),
    );
    Tessera::initialize(config)
        .await
        .map_err(|e| format!("{identity}: {e}"))
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

/// Registers both client identities, backs up their keys, and encrypts for `npm-client`.
async fn write_client(dir: &Path) -> Result<(), String> {
    let text = |e: tessera_client::Error| e.to_string();
    let rust = client("rust-client").await?;
    let npm = client("npm-client").await?;
    for device in [&rust, &npm] {
        device.register().await.map_err(text)?;
        device
            .backup_private_key(CLIENT_PASSWORD)
            .await
            .map_err(text)?;
    }
    let found = rust.find_users(&["npm-client"]).await.map_err(text)?;
    let envelope = rust
        .auth_encrypt(RUST_CLIENT_TEXT.as_bytes(), &found)
        .await
        .map_err(text)?;
    let file = json!({
        "password": CLIENT_PASSWORD,
        "message": Base64::encode_string(&envelope),
        "plaintext": RUST_CLIENT_TEXT,
    });
    fs::write(dir.join("from-rust-client.json"), file.to_string()).map_err(|e| e.to_string())?;
    println!("the Rust client wrote a message for npm-client");
    Ok(())
}

/// Restores `rust-client` from its backup and decrypts what the npm client sent.
async fn read_client(dir: &Path) -> Result<(), String> {
    let text = |e: tessera_client::Error| e.to_string();
    let path = dir.join("from-npm-client.json");
    let file: Value = serde_json::from_str(
        &fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?,
    )
    .map_err(|e| e.to_string())?;
    let rust = client("rust-client").await?;
    rust.restore_private_key(CLIENT_PASSWORD)
        .await
        .map_err(text)?;
    let found = rust.find_users(&["npm-client"]).await.map_err(text)?;
    let sender = found.get("npm-client").ok_or("npm-client not found")?;
    let messages = file["messages"].as_array().ok_or("no messages")?;
    for (i, message) in messages.iter().enumerate() {
        let envelope = Base64::decode_vec(message["message"].as_str().ok_or("no message")?)
            .map_err(|e| e.to_string())?;
        let expected = hex::decode(message["plaintext"].as_str().ok_or("no plaintext")?)
            .map_err(|e| e.to_string())?;
        let plaintext = rust
            .auth_decrypt(&envelope, sender, None)
            .await
            .map_err(|e| format!("client message {i}: {e}"))?;
        if plaintext != expected {
            return Err(format!("client message {i}: wrong plaintext"));
        }
    }
    if messages.len() < 2 {
        return Err("expected at least 2 client messages".into());
    }
    println!(
        "the Rust client decrypted {} messages from the npm client",
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
        [step, dir] if step == "write" => {
            write(Path::new(dir)).and_then(|()| runtime()?.block_on(write_client(Path::new(dir))))
        }
        [step, dir] if step == "read" => {
            read(Path::new(dir)).and_then(|()| runtime()?.block_on(read_client(Path::new(dir))))
        }
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
