//! An end-to-end walk through Tessera: a real tessera-server on 127.0.0.1 (SQLite in a
//! temporary directory), an app backend minting tokens, and three users on their devices
//! registering, finding each other, exchanging signed and encrypted messages, backing a key
//! up and restoring it on a new device, and talking in a group. It ends by showing what the
//! server holds: public keys, signatures and ciphertext only.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A demonstration: stop at the first error.

use std::sync::Arc;

use tessera_client::{Config, InMemoryKeyStore, PlatformError, Tessera, TokenProvider};

use tessera_format::{Identity, Timestamp, jwt::AppKey};

const APP_ID: &str = "tessera-demo";

/// Stands in for the app's backend: it has authenticated the user and mints a token.
struct Backend {
    key: Arc<AppKey>,
    user: Identity,
}

#[async_trait::async_trait]
impl TokenProvider for Backend {
    async fn token(&self) -> Result<String, PlatformError> {
        // The server's audience: the default for the app id (docs/SERVER.md).
        let audience = tessera_format::jwt::default_audience(APP_ID);
        Ok(self
            .key
            .mint(APP_ID, &audience, &self.user, Timestamp::now(), 20 * 60))
    }
}

async fn device(url: &str, key: &Arc<AppKey>, user: &str) -> Tessera {
    let backend = Arc::new(Backend {
        key: key.clone(),
        user: Identity::new(user).unwrap(),
    });
    Tessera::initialize(Config::new(url, Arc::new(InMemoryKeyStore::new()), backend))
        .await
        .unwrap()
}

fn step(text: &str) {
    println!("\n-- {text}");
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("tessera.db");
    let app_key = Arc::new(AppKey::generate().unwrap());
    let mut config = tessera_server::Config::new(
        APP_ID,
        vec![tessera_server::AppPublicKey(app_key.public_key())],
        &database,
    );
    config.listen = "127.0.0.1:0".parse().unwrap();
    let server = tessera_server::spawn(&config).await.unwrap();
    let url = format!("http://{}", server.local_addr);
    step(&format!(
        "tessera-server is listening on {url} (SQLite: {})",
        database.display()
    ));

    step(
        "alice, bob and carol register: each device makes its keys and publishes a self-signed card",
    );
    let alice = device(&url, &app_key, "alice").await;
    let bob = device(&url, &app_key, "bob").await;
    let carol = device(&url, &app_key, "carol").await;
    for user in [&alice, &bob, &carol] {
        let card = user.register().await.unwrap();
        println!("   {:<6} card {}", user.identity(), card.id());
    }

    step("alice finds bob (his card's signature is verified on her device) and writes to him");
    let found = alice.find_users(&["bob"]).await.unwrap();
    let secret = b"The launch moves to Thursday. Keep it quiet.";
    let ciphertext = alice.auth_encrypt(secret, &found).await.unwrap();
    println!(
        "   {} bytes of plaintext -> {} bytes of envelope",
        secret.len(),
        ciphertext.len()
    );
    let alice_card = bob
        .find_users(&["alice"])
        .await
        .unwrap()
        .get("alice")
        .unwrap()
        .clone();
    let plaintext = bob
        .auth_decrypt(&ciphertext, &alice_card, None)
        .await
        .unwrap();
    println!(
        "   bob reads: {:?} (signature by alice verified)",
        String::from_utf8_lossy(&plaintext)
    );
    let safety = bob.safety_number(&alice_card).await.unwrap();
    println!("   safety number bob/alice: {safety}");

    step("carol was not a recipient and cannot read it");
    let refused = carol
        .auth_decrypt(&ciphertext, &alice_card, None)
        .await
        .unwrap_err();
    println!("   carol gets: [{}] {refused}", refused.code());

    step("bob backs his key up under a password, then restores it on a brand-new device");
    let passwords =
        Tessera::derive_passwords("correct horse battery staple", APP_ID, "bob").unwrap();
    bob.backup_private_key(&passwords.backup_password)
        .await
        .unwrap();
    let bob_laptop = device(&url, &app_key, "bob").await;
    let wrong = bob_laptop
        .restore_private_key("not the password")
        .await
        .unwrap_err();
    println!("   wrong password: [{}] {wrong}", wrong.code());
    bob_laptop
        .restore_private_key(&passwords.backup_password)
        .await
        .unwrap();
    let again = bob_laptop
        .auth_decrypt(&ciphertext, &alice_card, None)
        .await
        .unwrap();
    println!(
        "   the new device reads the old message: {:?}",
        String::from_utf8_lossy(&again)
    );

    step("alice starts a group with bob and carol, then removes carol");
    let everyone = alice.find_users(&["bob", "carol"]).await.unwrap();
    let group = alice.create_group("launch-team", &everyone).await.unwrap();
    let carol_group = carol.load_group("launch-team", &alice_card).await.unwrap();
    let hello = group.encrypt(b"Welcome to the launch team").await.unwrap();
    println!(
        "   carol reads: {:?}",
        String::from_utf8_lossy(
            &carol_group
                .decrypt(&hello, &alice_card, None)
                .await
                .unwrap()
        )
    );
    group.remove(&["carol"]).await.unwrap();
    let later = group
        .encrypt(b"Carol has left; new plan attached")
        .await
        .unwrap();
    let locked_out = carol_group
        .decrypt(&later, &alice_card, None)
        .await
        .unwrap_err();
    println!("   after removal carol gets: [{}]", locked_out.code());
    let bob_group = bob_laptop
        .load_group("launch-team", &alice_card)
        .await
        .unwrap();
    println!(
        "   bob reads: {:?}",
        String::from_utf8_lossy(&bob_group.decrypt(&later, &alice_card, None).await.unwrap())
    );

    server.shutdown().await.unwrap();
    step("what the server stored (the SQLite file, scanned for the plaintexts)");
    let stored = std::fs::read(&database).unwrap_or_default();
    let wal = std::fs::read(dir.path().join("tessera.db-wal")).unwrap_or_default();
    let everything = [stored, wal].concat();
    for text in [
        &secret[..],
        b"Welcome to the launch team",
        b"correct horse battery staple",
    ] {
        let found = everything.windows(text.len()).any(|w| w == text);
        println!(
            "   {:<45} {}",
            format!("{:?}", String::from_utf8_lossy(text)),
            if found { "FOUND" } else { "absent" }
        );
    }
    println!("\nDone: the server only ever held public keys, signatures and ciphertext.");
}
