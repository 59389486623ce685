//! Two users register, find each other and exchange messages both ways; tampered data,
//! unknown senders and unknown users give the right typed errors; one message to 1000
//! recipients; the token's 401 retry; nothing secret in Debug output.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // Test code: failures should panic.

use std::sync::atomic::Ordering;

use crate::common::TestServer;
use tessera_client::{Error, FoundUsers, Tessera};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_exchange_messages_both_ways() {
    exchange_both_ways(TestServer::start().await).await;
}

/// The same on PostgreSQL (scripts/test starts a private instance).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_exchange_messages_both_ways_on_postgresql() {
    match TestServer::start_postgres().await {
        Some(server) => exchange_both_ways(server).await,
        None => eprintln!(
            "skipped: {} is not set (scripts/test sets it)",
            crate::common::POSTGRES_URL_VARIABLE
        ),
    }
}

async fn exchange_both_ways(server: TestServer) {
    let alice = server.registered("alice").await;
    let bob = server.registered("bob").await;

    let found_by_alice = alice.tessera.find_users(&["bob"]).await.unwrap();
    let found_by_bob = bob.tessera.find_users(&["alice"]).await.unwrap();
    let bob_card = found_by_alice.get("bob").unwrap().clone();
    let alice_card = found_by_bob.get("alice").unwrap().clone();
    assert_eq!(Some(bob_card.clone()), bob.tessera.own_card());
    assert_eq!(Some(alice_card.clone()), alice.tessera.own_card());

    let to_bob = alice
        .tessera
        .auth_encrypt(b"hello bob", &found_by_alice)
        .await
        .unwrap();
    assert_eq!(
        bob.tessera
            .auth_decrypt(&to_bob, &alice_card, None)
            .await
            .unwrap(),
        b"hello bob"
    );
    // The sender can read what she sent.
    let own = alice.tessera.own_card().unwrap();
    assert_eq!(
        alice
            .tessera
            .auth_decrypt(&to_bob, &own, None)
            .await
            .unwrap(),
        b"hello bob"
    );

    let to_alice = bob
        .tessera
        .auth_encrypt(b"hello alice", [&alice_card])
        .await
        .unwrap();
    assert_eq!(
        alice
            .tessera
            .auth_decrypt(&to_alice, &bob_card, None)
            .await
            .unwrap(),
        b"hello alice"
    );

    // Both see the same safety number.
    assert_eq!(
        alice.tessera.safety_number(&bob_card).await.unwrap(),
        bob.tessera.safety_number(&alice_card).await.unwrap()
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_senders_tampering_and_unknown_users_give_typed_errors() {
    let server = TestServer::start().await;
    let alice = server.registered("alice").await;
    let bob = server.registered("bob").await;
    let carol = server.registered("carol").await;
    let found = alice.tessera.find_users(&["bob", "carol"]).await.unwrap();
    let by_bob = bob.tessera.find_users(&["alice", "carol"]).await.unwrap();
    let alice_card = by_bob.get("alice").unwrap().clone();
    let carol_card = by_bob.get("carol").unwrap().clone();

    let message = alice
        .tessera
        .auth_encrypt(b"for bob and carol", &found)
        .await
        .unwrap();

    // Claimed to come from carol, but alice signed it.
    assert_eq!(
        bob.tessera.auth_decrypt(&message, &carol_card, None).await,
        Err(Error::WrongSender)
    );
    // Any flipped byte in the payload: opaque decryption failure.
    let mut tampered = message.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    assert_eq!(
        bob.tessera.auth_decrypt(&tampered, &alice_card, None).await,
        Err(Error::DecryptionFailed)
    );
    let mut truncated = message.clone();
    truncated.truncate(message.len() - 10);
    assert_eq!(
        bob.tessera
            .auth_decrypt(&truncated, &alice_card, None)
            .await,
        Err(Error::DecryptionFailed)
    );
    assert_eq!(
        bob.tessera
            .auth_decrypt(b"not an envelope at all", &alice_card, None)
            .await,
        Err(Error::DecryptionFailed)
    );
    // Not encrypted for dave.
    let dave = server.registered("dave").await;
    assert_eq!(
        dave.tessera.auth_decrypt(&message, &alice_card, None).await,
        Err(Error::NotARecipient)
    );
    drop(carol);

    // Unknown users are all named.
    let error = alice
        .tessera
        .find_users(&["bob", "nobody", "ghost"])
        .await
        .unwrap_err();
    assert_eq!(
        error,
        Error::UsersNotFound {
            identities: vec!["ghost".into(), "nobody".into()]
        }
    );
    assert_eq!(error.code(), "users_not_found");
    assert_eq!(
        alice
            .tessera
            .find_users(&["not valid"])
            .await
            .unwrap_err()
            .code(),
        "invalid_input"
    );
    // A device without a key cannot encrypt.
    let fresh = server.device("erin").await;
    assert_eq!(
        fresh.tessera.auth_encrypt(b"x", &found).await,
        Err(Error::MissingPrivateKey)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_message_to_a_thousand_recipients() {
    let server = TestServer::start().await;
    let alice = server.registered("alice").await;
    let mut readers = Vec::new();
    for i in 0..1000 {
        readers.push(server.registered(&format!("reader-{i:04}")).await);
    }
    let names: Vec<String> = (0..1000).map(|i| format!("reader-{i:04}")).collect();
    let found = alice.tessera.find_users(&names).await.unwrap();
    assert_eq!(found.len(), 1000);
    let message = alice
        .tessera
        .auth_encrypt(b"to everyone", &found)
        .await
        .unwrap();
    let alice_card = alice.tessera.own_card().unwrap();
    for reader in [&readers[0], &readers[499], &readers[999]] {
        assert_eq!(
            reader
                .tessera
                .auth_decrypt(&message, &alice_card, None)
                .await
                .unwrap(),
            b"to everyone"
        );
    }
    // Cached lookups of all of them, offline-capable.
    let cached = alice.tessera.find_cached_users(&names).await.unwrap();
    assert_eq!(cached, found);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_is_replaced_once() {
    let server = TestServer::start().await;
    let alice = server.registered("alice").await;
    let _bob = server.registered("bob").await;
    let before = alice.tokens.calls.load(Ordering::SeqCst);
    alice.tokens.rejected_next.store(true, Ordering::SeqCst);
    // A new instance fetches its first token during initialization: one the server
    // rejects. The first call gets a 401, fetches a fresh token and succeeds.
    let fresh = Tessera::initialize(tessera_client::Config::new(
        &server.url,
        alice.store.clone(),
        alice.tokens.clone(),
    ))
    .await;
    let fresh = fresh.unwrap();
    let found: FoundUsers = fresh.find_users(&["bob"]).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(alice.tokens.calls.load(Ordering::SeqCst), before + 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_output_carries_no_secrets() {
    let server = TestServer::start().await;
    let alice = server.registered("alice").await;
    alice
        .tessera
        .backup_private_key("correct horse")
        .await
        .unwrap();
    let root = alice
        .store
        .names()
        .into_iter()
        .find(|name| name.ends_with("root-secret"))
        .unwrap();
    use tessera_client::KeyStore;
    let secret = alice.store.get(&root).await.unwrap().unwrap();
    let secret_hex = hex::encode(&secret);
    let secret_decimal = format!("{:?}", &secret[..4]);
    let texts = [
        format!("{:?}", alice.tessera),
        format!("{:?}", alice.store),
        format!("{:?}", alice.tessera.own_card()),
        format!(
            "{:?}",
            Tessera::derive_passwords("correct horse", "app-test", "alice").unwrap()
        ),
        format!(
            "{:?}",
            tessera_client::Config::new(&server.url, alice.store.clone(), alice.tokens.clone())
        ),
    ];
    for text in texts {
        assert!(!text.contains(&secret_hex), "{text}");
        assert!(
            !text.contains(secret_decimal.trim_matches(['[', ']'])),
            "{text}"
        );
        assert!(!text.contains("eyJ"), "token in {text}");
        assert!(!text.contains("correct horse"), "{text}");
    }
    // Errors name what went wrong, never key material.
    let error = alice.tessera.register().await.unwrap_err();
    assert_eq!(error.code(), "private_key_already_exists");
    assert!(!format!("{error:?} {error}").contains(&secret_hex));
    server.stop().await;
}
