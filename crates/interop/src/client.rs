//! The clients' check, through the real tessera-server that scripts/test-npm runs
//! (`TESSERA_SERVER_URL`, tokens from `TESSERA_SERVER_BIN token --data-dir
//! TESSERA_SERVER_DATA`): `client-write` registers `rust-client` and `npm-client` with
//! Rust's client and backs both keys up under [`PASSWORD`], then `authEncrypt`s to
//! `npm-client` (`from-rust-client.json`); the npm package restores `npm-client`, decrypts
//! it and `authEncrypt`s to `rust-client` (`from-npm-client.json`); `client-read` restores
//! `rust-client` in Rust and decrypts that. Keys cross languages only as password backups.

use std::{fs, path::Path, sync::Arc};

use base64ct::{Base64, Encoding};
use serde_json::json;
use tessera_client::{Config, InMemoryKeyStore, PlatformError, Tessera, TokenProvider};

use crate::{array_field, read_json, string_field};

/// The backup password of both client identities (test data, not a secret).
const PASSWORD: &str = "interop: rust <-> npm";
/// What the Rust client sends the npm client.
const RUST_CLIENT_TEXT: &str = "hello npm client, from the Rust client ✓";

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
async fn device(identity: &str) -> Result<Tessera, String> {
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

fn block_on(future: impl Future<Output = Result<(), String>>) -> Result<(), String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?
        .block_on(future)
}

/// Registers both client identities, backs up their keys, and encrypts for `npm-client`.
pub(crate) fn write(dir: &Path) -> Result<(), String> {
    block_on(async {
        let text = |e: tessera_client::Error| e.to_string();
        let rust = device("rust-client").await?;
        let npm = device("npm-client").await?;
        for device in [&rust, &npm] {
            device.register().await.map_err(text)?;
            device.backup_private_key(PASSWORD).await.map_err(text)?;
        }
        let found = rust.find_users(&["npm-client"]).await.map_err(text)?;
        let envelope = rust
            .auth_encrypt(RUST_CLIENT_TEXT.as_bytes(), &found)
            .await
            .map_err(text)?;
        let file = json!({
            "password": PASSWORD,
            "message": Base64::encode_string(&envelope),
            "plaintext": RUST_CLIENT_TEXT,
        });
        fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        fs::write(dir.join("from-rust-client.json"), file.to_string())
            .map_err(|e| e.to_string())?;
        println!("the Rust client wrote a message for npm-client");
        Ok(())
    })
}

/// Restores `rust-client` from its backup and decrypts what the npm client sent.
pub(crate) fn read(dir: &Path) -> Result<(), String> {
    block_on(async {
        let text = |e: tessera_client::Error| e.to_string();
        let file = read_json(&dir.join("from-npm-client.json"))?;
        let rust = device("rust-client").await?;
        rust.restore_private_key(PASSWORD).await.map_err(text)?;
        let found = rust.find_users(&["npm-client"]).await.map_err(text)?;
        let sender = found.get("npm-client").ok_or("npm-client not found")?;
        let messages = array_field(&file, "messages")?;
        if messages.len() < 2 {
            return Err("expected at least 2 client messages".into());
        }
        for (i, message) in messages.iter().enumerate() {
            let envelope =
                Base64::decode_vec(string_field(message, "message")?).map_err(|e| e.to_string())?;
            let expected =
                hex::decode(string_field(message, "plaintext")?).map_err(|e| e.to_string())?;
            let plaintext = rust
                .auth_decrypt(&envelope, sender, None)
                .await
                .map_err(|e| format!("client message {i}: {e}"))?;
            if plaintext != expected {
                return Err(format!("client message {i}: wrong plaintext"));
            }
        }
        println!(
            "the Rust client decrypted {} messages from the npm client",
            messages.len()
        );
        Ok(())
    })
}
