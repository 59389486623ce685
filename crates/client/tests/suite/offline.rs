//! Offline: with the key and cached cards on the device, initialization, encryption and
//! decryption work with the server gone and the app backend unreachable.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // Test code: failures should panic.

use std::sync::{Arc, atomic::Ordering};

use crate::common::TestServer;
use tessera_client::{Config, Error, StreamOptions, Tessera};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encryption_and_decryption_work_without_the_network() {
    let server = TestServer::start().await;
    let alice = server.registered("alice").await;
    let bob = server.registered("bob").await;
    alice.tessera.find_users(&["bob"]).await.unwrap();
    bob.tessera.find_users(&["alice"]).await.unwrap();
    let from_bob = bob
        .tessera
        .auth_encrypt(
            b"sent while online",
            &bob.tessera.find_cached_users(&["alice"]).await.unwrap(),
        )
        .await
        .unwrap();
    let dead_url = server.url.clone();
    server.stop().await;

    // The app restarts without network: the server is gone and so is the app backend.
    alice.tokens.offline.store(true, Ordering::SeqCst);
    let config = Config::new(dead_url.clone(), alice.store.clone(), alice.tokens.clone())
        .with_identity("alice");
    let offline = Tessera::initialize(config).await.unwrap();
    assert!(offline.has_local_private_key());
    let cached = offline.find_cached_users(&["bob"]).await.unwrap();
    let bob_card = cached.get("bob").unwrap().clone();
    assert_eq!(
        offline
            .auth_decrypt(&from_bob, &bob_card, None)
            .await
            .unwrap(),
        b"sent while online"
    );
    let to_bob = offline
        .auth_encrypt(b"written offline", &cached)
        .await
        .unwrap();
    let own = offline.own_card().unwrap();
    // No sender named: the user's own card, known offline.
    assert_eq!(offline.sender_or_self(None).unwrap(), own);
    assert_eq!(offline.sender_or_self(Some(&bob_card)).unwrap(), bob_card);
    let keyless = Tessera::initialize(
        Config::new(
            dead_url.clone(),
            Arc::new(tessera_client::InMemoryKeyStore::new()),
            alice.tokens.clone(),
        )
        .with_identity("alice"),
    )
    .await
    .unwrap();
    assert_eq!(
        keyless.sender_or_self(None).unwrap_err(),
        Error::MissingPrivateKey
    );
    assert_eq!(
        offline.auth_decrypt(&to_bob, &own, None).await.unwrap(),
        b"written offline"
    );
    let mut sealed = Vec::new();
    offline
        .encrypt_stream(&cached, StreamOptions::new())
        .await
        .unwrap()
        .pipe(&b"a small file"[..], &mut sealed)
        .unwrap();
    let mut opened = Vec::new();
    offline
        .decrypt_stream(&own, None, StreamOptions::new())
        .await
        .unwrap()
        .pipe(sealed.as_slice(), &mut opened)
        .unwrap();
    assert_eq!(opened, b"a small file");
    assert_eq!(offline.safety_number(&bob_card).await.unwrap().len(), 71);

    // Bob, also offline (a dead port), reads it.
    let bob_offline = Tessera::initialize(
        Config::new(
            "http://127.0.0.1:9",
            bob.store.clone(),
            Arc::new(crate::common::TestTokens::new(
                Arc::new(tessera_format::jwt::AppKey::generate().unwrap()),
                "bob",
            )),
        )
        .with_identity("bob"),
    )
    .await
    .unwrap();
    let alice_card = bob_offline.find_cached_users(&["alice"]).await.unwrap();
    assert_eq!(
        bob_offline
            .auth_decrypt(&to_bob, alice_card.get("alice").unwrap(), None)
            .await
            .unwrap(),
        b"written offline"
    );

    // What needs the network says so, with a typed error.
    assert_eq!(
        offline.find_users(&["bob"]).await.unwrap_err().code(),
        "token_provider"
    );
    alice.tokens.offline.store(false, Ordering::SeqCst);
    let error = offline.find_users(&["bob"]).await.unwrap_err();
    assert!(matches!(error, Error::Network { .. }), "{error:?}");
    // Without an identity, initialization needs the token provider.
    alice.tokens.offline.store(true, Ordering::SeqCst);
    let error = Tessera::initialize(Config::new(
        dead_url,
        alice.store.clone(),
        alice.tokens.clone(),
    ))
    .await
    .unwrap_err();
    assert_eq!(error.code(), "token_provider");
}
