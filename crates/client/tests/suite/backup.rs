//! Multi-device use through the password backup: device A backs up, device B restores and
//! reads A's old messages; change password; typed errors for every misuse.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // Test code: failures should panic.

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

use tessera_client::{
    Config, Error, InMemoryKeyStore, PasswordKdf, PlatformError, Tessera, TokenProvider,
};
use tessera_format::{backup::KdfParams, encoding::b64url_encode};
use zeroize::Zeroizing;

use crate::common::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_device_restores_the_key_and_reads_old_messages() {
    let server = TestServer::start().await;
    let alice_a = server.registered("alice").await;
    let bob = server.registered("bob").await;

    // Before any backup.
    assert_eq!(
        alice_a.tessera.reset_private_key_backup().await,
        Err(Error::NoBackup)
    );
    let found = alice_a.tessera.find_users(&["bob"]).await.unwrap();
    let old_message = alice_a
        .tessera
        .auth_encrypt(b"sent from device A", &found)
        .await
        .unwrap();
    let alice_card = bob.tessera.find_users(&["alice"]).await.unwrap();
    let from_bob = bob
        .tessera
        .auth_encrypt(b"to alice, before device B existed", &alice_card)
        .await
        .unwrap();

    let passwords =
        tessera_client::Tessera::derive_passwords("one password", "app-test", "alice").unwrap();
    let backup_password = passwords.backup_password.as_str();
    alice_a
        .tessera
        .backup_private_key(backup_password)
        .await
        .unwrap();
    assert_eq!(
        alice_a.tessera.backup_private_key(backup_password).await,
        Err(Error::BackupAlreadyExists)
    );

    // Device B: empty key store; registering again is refused, restoring works.
    let alice_b = server.device("alice").await;
    assert!(!alice_b.tessera.has_local_private_key());
    assert_eq!(
        alice_b.tessera.register().await,
        Err(Error::AlreadyRegistered)
    );
    assert_eq!(
        alice_b
            .tessera
            .restore_private_key("not the password")
            .await,
        Err(Error::WrongPassword)
    );
    alice_b
        .tessera
        .restore_private_key(backup_password)
        .await
        .unwrap();
    assert!(alice_b.tessera.has_local_private_key());
    assert_eq!(alice_b.tessera.own_card(), alice_a.tessera.own_card());
    assert_eq!(
        alice_b.tessera.restore_private_key(backup_password).await,
        Err(Error::PrivateKeyAlreadyExists)
    );

    let own = alice_b.tessera.own_card().unwrap();
    assert_eq!(
        alice_b
            .tessera
            .auth_decrypt(&old_message, &own, None)
            .await
            .unwrap(),
        b"sent from device A"
    );
    let bob_card = alice_b.tessera.find_users(&["bob"]).await.unwrap();
    assert_eq!(
        alice_b
            .tessera
            .auth_decrypt(&from_bob, bob_card.get("bob").unwrap(), None)
            .await
            .unwrap(),
        b"to alice, before device B existed"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_password_then_only_the_new_one_restores() {
    let server = TestServer::start().await;
    let alice = server.registered("alice").await;
    alice
        .tessera
        .backup_private_key("old password")
        .await
        .unwrap();
    assert_eq!(
        alice.tessera.change_password("wrong", "new password").await,
        Err(Error::WrongPassword)
    );
    alice
        .tessera
        .change_password("old password", "new password")
        .await
        .unwrap();

    let device_b = server.device("alice").await;
    let error = device_b
        .tessera
        .restore_private_key("old password")
        .await
        .unwrap_err();
    assert_eq!(error, Error::WrongPassword);
    assert_eq!(error.code(), "wrong_password");
    device_b
        .tessera
        .restore_private_key("new password")
        .await
        .unwrap();
    assert_eq!(device_b.tessera.own_card(), alice.tessera.own_card());

    // Reset removes it; afterwards restoring reports that there is none.
    alice.tessera.reset_private_key_backup().await.unwrap();
    let device_c = server.device("alice").await;
    assert_eq!(
        device_c.tessera.restore_private_key("new password").await,
        Err(Error::NoBackup)
    );
    assert_eq!(
        device_c.tessera.change_password("new password", "x").await,
        Err(Error::NoBackup)
    );
    assert_eq!(
        device_c.tessera.backup_private_key("x").await,
        Err(Error::MissingPrivateKey)
    );
    assert_eq!(
        alice
            .tessera
            .backup_private_key("")
            .await
            .unwrap_err()
            .code(),
        "invalid_input"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outdated_backup_is_recognised() {
    let server = TestServer::start().await;
    let alice = server.registered("alice").await;
    alice.tessera.backup_private_key("pw").await.unwrap();
    // The key is lost on every device and rotated; the backup still holds the old key.
    alice.tessera.cleanup().await.unwrap();
    alice.tessera.rotate_private_key().await.unwrap();
    let device_b = server.device("alice").await;
    assert_eq!(
        device_b.tessera.restore_private_key("pw").await,
        Err(Error::BackupKeyMismatch)
    );
    assert!(!device_b.tessera.has_local_private_key());
    server.stop().await;
}

/// A [`PasswordKdf`] that counts its calls and computes the real Argon2id, or fails.
#[derive(Default)]
struct CountingKdf {
    calls: AtomicUsize,
    fail: AtomicBool,
}

#[async_trait::async_trait]
impl PasswordKdf for CountingKdf {
    async fn argon2id(
        &self,
        password: &str,
        salt: &[u8],
        params: KdfParams,
        length: usize,
    ) -> Result<Zeroizing<Vec<u8>>, PlatformError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.fail.load(Ordering::SeqCst) {
            return Err(PlatformError::new("the worker is gone"));
        }
        let mut out = Zeroizing::new(vec![0; length]);
        tessera_format::backup::argon2id(password.as_bytes(), salt, params, &mut out).unwrap();
        Ok(out)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configured_password_kdf_runs_every_argon2id_and_hostile_blobs_never_reach_it() {
    let server = TestServer::start().await;
    let alice = server.registered("alice").await;
    let kdf = Arc::new(CountingKdf::default());
    let device = |kdf: Arc<CountingKdf>| {
        let config = Config::new(&server.url, alice.store.clone(), server.tokens("alice"))
            .with_password_kdf(kdf);
        Tessera::initialize(config)
    };
    let with_kdf = device(kdf.clone()).await.unwrap();
    with_kdf.backup_private_key("pw").await.unwrap();
    assert_eq!(kdf.calls.load(Ordering::SeqCst), 1);
    with_kdf.change_password("pw", "new pw").await.unwrap();
    assert_eq!(kdf.calls.load(Ordering::SeqCst), 3);
    // What it computed is the real thing: the default client opens the backup.
    let plain = server.device("alice").await;
    plain.tessera.restore_private_key("new pw").await.unwrap();

    // A failing KDF is an internal error, and nothing is uploaded.
    kdf.fail.store(true, Ordering::SeqCst);
    let error = with_kdf
        .change_password("new pw", "other")
        .await
        .unwrap_err();
    assert_eq!(error.code(), "internal");
    assert!(error.to_string().contains("the worker is gone"), "{error}");
    kdf.fail.store(false, Ordering::SeqCst);

    // A blob whose parameters exceed the bounds (put there by a hostile server, or by a
    // stolen token) is refused before any KDF runs.
    let mut hostile = tessera_format::backup::seal_backup_with(
        &tessera_format::keys::RootSecret::from_bytes([9; 32]),
        "new pw",
        KdfParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        [1; 16],
        [2; 12],
    )
    .unwrap();
    hostile[6..10].copy_from_slice(&(KdfParams::MAX_MEMORY_KIB + 1).to_be_bytes());
    let token = TokenProvider::token(server.tokens("alice").as_ref())
        .await
        .unwrap();
    let put = reqwest::Client::new()
        .put(format!(
            "{}/v1/backups/{}",
            server.url,
            tessera_client::BACKUP_NAME
        ))
        .bearer_auth(token)
        .json(&serde_json::json!({ "blob": b64url_encode(&hostile) }))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let calls = kdf.calls.load(Ordering::SeqCst);
    let fresh = Tessera::initialize(
        Config::new(
            &server.url,
            Arc::new(InMemoryKeyStore::new()),
            server.tokens("alice"),
        )
        .with_password_kdf(kdf.clone()),
    )
    .await
    .unwrap();
    let error = fresh.restore_private_key("new pw").await.unwrap_err();
    assert_eq!(error.code(), "invalid_server_response", "{error}");
    assert_eq!(kdf.calls.load(Ordering::SeqCst), calls);
    server.stop().await;
}
