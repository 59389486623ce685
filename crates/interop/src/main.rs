//! Rust's side of the cross-language checks with the npm, Kotlin and Swift packages. Each
//! package's test suite runs between a `write` and a `read`:
//!
//! - `write SIDE DIR`: Rust encrypts messages for SIDE (`npm`, `kotlin` or `swift`) and
//!   writes `DIR/from-rust.json`;
//! - the package's tests decrypt `from-rust.json` and write `DIR/from-SIDE.json`;
//! - `read SIDE DIR`: Rust decrypts and verifies `DIR/from-SIDE.json`.
//!
//! Every side derives its keys from a fixed test root secret (never real keys), listed in
//! [`RUST_SIDE`] and [`FOREIGN_SIDES`]. Files carry only envelopes, the sender's card and
//! the expected plaintext.
//!
//! `client-write DIR` and `client-read DIR` do the same between Rust's client and the npm
//! client through a real tessera-server (src/client.rs).

use std::{
    fs,
    path::{Path, PathBuf},
    process::ExitCode,
};

use serde_json::{Value, json};
use tessera_format::{
    Card, Identity, IdentityKeyPair, Recipient, RootSecret, Timestamp,
    envelope::{decrypt_message, encrypt_message},
};

mod client;

/// One implementation taking part, with its fixed test keys.
struct Side {
    /// The name on the command line and in `from-NAME.json`.
    name: &'static str,
    /// The identity on its card.
    identity: &'static str,
    /// Every byte of its test root secret.
    seed: u8,
}

const RUST_SIDE: Side = Side::new("rust", "rust-side", 0x11);

/// Every side's card is dated 2026-01-01, as in the other sides' tests.
const CARDS_CREATED_AT: Timestamp = Timestamp(1_767_225_600);

/// Kotlin and Swift share keys: Swift's tests mirror Kotlin's.
const FOREIGN_SIDES: [Side; 3] = [
    Side::new("npm", "npm-side", 0x22),
    Side::new("kotlin", "kotlin-side", 0x33),
    Side::new("swift", "swift-side", 0x33),
];

impl Side {
    const fn new(name: &'static str, identity: &'static str, seed: u8) -> Self {
        Self {
            name,
            identity,
            seed,
        }
    }

    fn named(name: &str) -> Result<&'static Side, String> {
        FOREIGN_SIDES
            .iter()
            .find(|side| side.name == name)
            .ok_or_else(|| format!("unknown side {name:?} (npm, kotlin or swift)"))
    }

    fn keys(&self) -> IdentityKeyPair {
        IdentityKeyPair::from_root_secret(RootSecret::from_bytes([self.seed; 32]))
    }

    fn card(&self) -> Result<Card, String> {
        let identity = Identity::new(self.identity).map_err(|e| e.to_string())?;
        Card::create(&self.keys(), identity, CARDS_CREATED_AT, None).map_err(|e| e.to_string())
    }

    /// The file this side writes its messages into.
    fn file(&self, dir: &Path) -> PathBuf {
        dir.join(format!("from-{}.json", self.name))
    }
}

/// The JSON file at `path`.
fn read_json(path: &Path) -> Result<Value, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The string `json[name]`.
fn string_field<'a>(json: &'a Value, name: &str) -> Result<&'a str, String> {
    json.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("no string {name:?}"))
}

/// The array `json[name]`.
fn array_field<'a>(json: &'a Value, name: &str) -> Result<&'a [Value], String> {
    json.get(name)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .ok_or_else(|| format!("no array {name:?}"))
}

/// Messages of several shapes: empty, short text, and several 64 KiB chunks.
fn plaintexts() -> Vec<Vec<u8>> {
    let long: Vec<u8> = (0..200_003u32).map(|i| (i * 31 % 251) as u8).collect();
    vec![Vec::new(), b"hello from Rust".to_vec(), long]
}

/// Encrypts [`plaintexts`] from [`RUST_SIDE`] to `reader` into `DIR/from-rust.json`.
fn write(reader: &Side, dir: &Path) -> Result<(), String> {
    let reader_card = reader.card()?;
    let mut messages = Vec::new();
    for plaintext in plaintexts() {
        let envelope = encrypt_message(
            &RUST_SIDE.keys(),
            &[Recipient::from(&reader_card)],
            &plaintext,
        )
        .map_err(|e| e.to_string())?;
        messages.push(
            json!({ "envelope": hex::encode(envelope), "plaintext": hex::encode(&plaintext) }),
        );
    }
    let file = json!({ "sender_card": RUST_SIDE.card()?.to_text(), "messages": messages });
    fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    fs::write(RUST_SIDE.file(dir), file.to_string()).map_err(|e| e.to_string())?;
    println!("wrote {} messages for {}", messages.len(), reader.identity);
    Ok(())
}

/// Decrypts and verifies what `sender` wrote for [`RUST_SIDE`], and checks that a tampered
/// copy of each message is refused.
fn read(sender: &Side, dir: &Path) -> Result<(), String> {
    let file = read_json(&sender.file(dir))?;
    let sender_card =
        Card::from_text(string_field(&file, "sender_card")?).map_err(|e| e.to_string())?;
    if sender_card.identity().as_str() != sender.identity
        || sender_card.public_keys() != sender.keys().public_keys()
    {
        return Err(format!(
            "the sender card is not {}'s with the fixed test keys",
            sender.identity
        ));
    }
    let messages = array_field(&file, "messages")?;
    if messages.len() < 3 {
        return Err(format!(
            "expected at least 3 messages, got {}",
            messages.len()
        ));
    }
    let reader = RUST_SIDE.keys();
    for (i, message) in messages.iter().enumerate() {
        let field = |name: &str| -> Result<Vec<u8>, String> {
            hex::decode(string_field(message, name)?).map_err(|e| e.to_string())
        };
        let envelope = field("envelope")?;
        let (plaintext, verified) =
            decrypt_message(&reader, &envelope, std::slice::from_ref(&sender_card), None)
                .map_err(|e| format!("message {i}: {e}"))?;
        if plaintext != field("plaintext")? || verified.signer.as_str() != sender.identity {
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
        "decrypted and verified {} messages from {}",
        messages.len(),
        sender.identity
    );
    Ok(())
}

const USAGE: &str =
    "usage: tessera-interop write|read npm|kotlin|swift DIR | client-write|client-read DIR";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["write", side, dir] => Side::named(side).and_then(|side| write(side, Path::new(dir))),
        ["read", side, dir] => Side::named(side).and_then(|side| read(side, Path::new(dir))),
        ["client-write", dir] => client::write(Path::new(dir)),
        ["client-read", dir] => client::read(Path::new(dir)),
        _ => Err(USAGE.into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("tessera-interop: {message}");
            ExitCode::FAILURE
        }
    }
}
