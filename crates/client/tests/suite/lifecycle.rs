//! The key's life: loss and rotation (old messages still verify), unregistration, the card
//! cache noticing changes, racing registrations, and cleanup of every key store entry.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // Test code: failures should panic.

use crate::common::TestServer;
use tessera_client::{Config, Error, KeyStore, Tessera};
use tessera_format::Timestamp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_key_loss_and_rotation_old_messages_still_verify() {
    let server = TestServer::start().await;
    let alice = server.registered("alice").await;
    let bob = server.registered("bob").await;
    let old_alice_card = alice.tessera.own_card().unwrap();
    let found = alice.tessera.find_users(&["bob"]).await.unwrap();
    let old_message = alice
        .tessera
        .auth_encrypt(b"before the loss", &found)
        .await
        .unwrap();
    let made_before = Timestamp::now();
    // Card times are whole seconds: let the rotation happen in a later second.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let seen = bob.tessera.find_users(&["alice"]).await.unwrap();
    assert_eq!(seen.get("alice"), Some(&old_alice_card));

    // Alice loses her key: rotating is refused while it is still there.
    assert_eq!(
        alice.tessera.rotate_private_key().await,
        Err(Error::PrivateKeyAlreadyExists)
    );
    let lost = server.device("alice").await;
    let new_card = lost.tessera.rotate_private_key().await.unwrap();
    assert_eq!(
        new_card.content().previous_card_id,
        Some(old_alice_card.id())
    );
    assert_ne!(new_card.public_keys(), old_alice_card.public_keys());

    // Bob refreshes Alice's card; her message from before the rotation verifies against
    // the previous card when he says when it was made (the chain is fetched).
    let changed = bob.tessera.update_cached_users().await.unwrap();
    assert_eq!(
        changed.iter().map(|i| i.as_str()).collect::<Vec<_>>(),
        ["alice"]
    );
    assert_eq!(bob.changes.seen(), vec!["alice".to_owned()]);
    let current = bob.tessera.find_cached_users(&["alice"]).await.unwrap();
    let current = current.get("alice").unwrap().clone();
    assert_eq!(current, new_card);
    assert_eq!(
        bob.tessera
            .auth_decrypt(&old_message, &current, Some(made_before))
            .await
            .unwrap(),
        b"before the loss"
    );
    // Without the time, the typed error says what to pass.
    let error = bob
        .tessera
        .auth_decrypt(&old_message, &current, None)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        Error::MadeAtRequired {
            card_id: old_alice_card.id()
        }
    );
    // A device that never cached Alice fetches her history on demand.
    bob.tessera.backup_private_key("bob-pw").await.unwrap();
    let fresh_bob = server.device("bob").await;
    fresh_bob
        .tessera
        .restore_private_key("bob-pw")
        .await
        .unwrap();
    let current_for_fresh = fresh_bob.tessera.find_users(&["alice"]).await.unwrap();
    assert_eq!(
        fresh_bob
            .tessera
            .auth_decrypt(
                &old_message,
                current_for_fresh.get("alice").unwrap(),
                Some(made_before)
            )
            .await
            .unwrap(),
        b"before the loss"
    );

    // New messages use the new card: Bob reads them with it; the old card is not enough.
    let bob_found = lost.tessera.find_users(&["bob"]).await.unwrap();
    let new_message = lost
        .tessera
        .auth_encrypt(b"after the rotation", &bob_found)
        .await
        .unwrap();
    assert_eq!(
        bob.tessera
            .auth_decrypt(&new_message, &current, None)
            .await
            .unwrap(),
        b"after the rotation"
    );
    assert_eq!(
        bob.tessera
            .auth_decrypt(&new_message, &old_alice_card, None)
            .await,
        Err(Error::WrongSender)
    );
    // Messages to the old key cannot be read with the new one.
    let to_old_alice = bob
        .tessera
        .auth_encrypt(b"to the lost key", [&old_alice_card])
        .await
        .unwrap();
    let bob_card = bob.tessera.own_card().unwrap();
    assert_eq!(
        lost.tessera
            .auth_decrypt(&to_old_alice, &bob_card, None)
            .await,
        Err(Error::NotARecipient)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unregistered_users_are_not_found_and_caches_drop_them() {
    let server = TestServer::start().await;
    let alice = server.registered("alice").await;
    let carol = server.registered("carol").await;
    alice.tessera.find_users(&["carol"]).await.unwrap();

    carol.tessera.unregister().await.unwrap();
    assert!(!carol.tessera.has_local_private_key());
    assert_eq!(carol.tessera.unregister().await, Err(Error::NotRegistered));
    assert_eq!(
        alice.tessera.find_users(&["carol"]).await,
        Err(Error::UsersNotFound {
            identities: vec!["carol".into()]
        })
    );
    let changed = alice.tessera.update_cached_users().await.unwrap();
    assert_eq!(
        changed.iter().map(|i| i.as_str()).collect::<Vec<_>>(),
        ["carol"]
    );
    assert_eq!(alice.changes.seen(), vec!["carol".to_owned()]);
    assert_eq!(
        alice
            .tessera
            .find_cached_users(&["carol"])
            .await
            .unwrap_err()
            .code(),
        "users_not_found"
    );
    // Nothing changed since: no notification.
    assert!(
        alice
            .tessera
            .update_cached_users()
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(alice.changes.seen().len(), 1);

    // Carol may register again with a new key.
    let card = carol.tessera.register().await.unwrap();
    assert_eq!(
        alice
            .tessera
            .find_users(&["carol"])
            .await
            .unwrap()
            .get("carol"),
        Some(&card)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_registrations_leave_one_card_and_a_consistent_key() {
    let server = TestServer::start().await;

    // Same instance, twice at once.
    let alice = server.device("alice").await;
    let (a, b) = tokio::join!(alice.tessera.register(), alice.tessera.register());
    let outcomes = [a.clone().map(|_| ()), b.clone().map(|_| ())];
    assert_eq!(
        outcomes.iter().filter(|r| r.is_ok()).count(),
        1,
        "{outcomes:?}"
    );
    assert!(outcomes.contains(&Err(Error::PrivateKeyAlreadyExists)));

    // Many devices of one identity at once, half of them through another spelling of the
    // server URL so the in-process lock does not serialise them: only the server's
    // one-active-card rule can keep this to one card.
    let mut devices = Vec::new();
    for i in 0..8 {
        let store = std::sync::Arc::new(tessera_client::InMemoryKeyStore::new());
        let url = if i % 2 == 0 {
            server.url.clone()
        } else {
            format!("http://localhost:{}", server.port)
        };
        let tessera = Tessera::initialize(Config::new(url, store.clone(), server.tokens("bob")))
            .await
            .unwrap();
        devices.push((tessera, store));
    }
    let handles: Vec<_> = devices
        .iter()
        .map(|(tessera, _)| {
            let tessera = tessera.clone();
            tokio::spawn(async move { tessera.register().await })
        })
        .collect();
    let mut results = Vec::new();
    for handle in handles {
        results.push(handle.await.unwrap());
    }
    let winners: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_ok())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for (i, result) in results.iter().enumerate() {
        if i != winners[0] {
            assert_eq!(result, &Err(Error::AlreadyRegistered));
        }
    }
    let winner_card = results[winners[0]].clone().unwrap();
    let observer = server.registered("observer").await;
    let found = observer.tessera.find_users(&["bob"]).await.unwrap();
    assert_eq!(found.get("bob"), Some(&winner_card));
    for (i, (tessera, store)) in devices.iter().enumerate() {
        let has_secret = store
            .get("tessera/bob/root-secret")
            .await
            .unwrap()
            .is_some();
        assert_eq!(has_secret, i == winners[0]);
        assert_eq!(tessera.has_local_private_key(), i == winners[0]);
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_are_namespaced_and_cleanup_removes_them_all() {
    let server = TestServer::start().await;
    let store = std::sync::Arc::new(tessera_client::InMemoryKeyStore::new());
    store.put("app/own-entry", b"untouched").await.unwrap();
    let alice = server.device_with_store("alice", store.clone()).await;
    alice.tessera.register().await.unwrap();
    let _bob = server.registered("bob").await;
    let _carol = server.registered("carol/with/slashes").await;
    alice
        .tessera
        .find_users(&["bob", "carol/with/slashes"])
        .await
        .unwrap();
    let names = store.names();
    assert_eq!(
        names,
        vec![
            "app/own-entry",
            "tessera/alice/card",
            "tessera/alice/cards/bob",
            "tessera/alice/cards/carol%2Fwith%2Fslashes",
            "tessera/alice/index",
            "tessera/alice/root-secret",
        ]
    );
    // A second user on the same device has a separate namespace.
    let other = server.device_with_store("bob", store.clone()).await;
    assert!(!other.tessera.has_local_private_key());

    alice.tessera.cleanup().await.unwrap();
    assert!(!alice.tessera.has_local_private_key());
    assert_eq!(store.names(), vec!["app/own-entry"]);
    assert_eq!(
        alice
            .tessera
            .find_cached_users(&["bob"])
            .await
            .unwrap_err()
            .code(),
        "users_not_found"
    );
    // The card stays on the server; the key is gone from this device.
    assert_eq!(
        alice.tessera.auth_encrypt(b"x", std::iter::empty()).await,
        Err(Error::MissingPrivateKey)
    );
    server.stop().await;
}
