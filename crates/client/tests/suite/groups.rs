//! Groups against the real server: create, load, messages, add with and without history,
//! remove, re-add after a key rotation, initiator-only changes, rejected messages,
//! deletion, and a group of 1000 participants.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // Test code: failures should panic.

use crate::common::{Device, TestServer};
use tessera_client::{Error, FoundUsers};
use tessera_format::Card;

async fn find(device: &Device, names: &[&str]) -> FoundUsers {
    device.tessera.find_users(names).await.unwrap()
}

fn card(device: &Device) -> Card {
    device.tessera.own_card().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_through_its_whole_life() {
    let server = TestServer::start().await;
    let alice = server.registered("alice").await;
    let bob = server.registered("bob").await;
    let carol = server.registered("carol").await;
    let dave = server.registered("dave").await;
    let erin = server.registered("erin").await;

    // Alice creates the group; Bob and Carol load it and everyone talks.
    let group = alice
        .tessera
        .create_group("team", &find(&alice, &["bob", "carol"]).await)
        .await
        .unwrap();
    assert_eq!(group.epoch().unwrap(), 0);
    assert_eq!(group.participants().unwrap().len(), 3);
    let bob_group = bob.tessera.load_group("team", &card(&alice)).await.unwrap();
    let carol_group = carol
        .tessera
        .load_group("team", &card(&alice))
        .await
        .unwrap();
    let hello = alice
        .tessera
        .create_group("team", &FoundUsers::default())
        .await;
    assert_eq!(hello.unwrap_err().code(), "group_already_exists");

    let from_bob = bob_group.encrypt(b"hi from bob").await.unwrap();
    assert_eq!(
        group.decrypt(&from_bob, &card(&bob), None).await.unwrap(),
        b"hi from bob"
    );
    assert_eq!(
        carol_group
            .decrypt(&from_bob, &card(&bob), None)
            .await
            .unwrap(),
        b"hi from bob"
    );
    let before_dave = alice.tessera.get_group("team").await.unwrap().unwrap();
    let early = before_dave.encrypt(b"before dave").await.unwrap();

    // Only the initiator changes membership.
    let refused = bob_group
        .add(&find(&bob, &["dave"]).await, true)
        .await
        .unwrap_err();
    assert_eq!(
        refused,
        Error::NotGroupInitiator {
            initiator: "alice".into()
        }
    );
    assert_eq!(
        bob_group.remove(&["carol"]).await.unwrap_err().code(),
        "not_group_initiator"
    );

    // Dave joins with history and reads the earlier message; Erin joins without it.
    group
        .add(&find(&alice, &["dave"]).await, true)
        .await
        .unwrap();
    let dave_group = dave
        .tessera
        .load_group("team", &card(&alice))
        .await
        .unwrap();
    assert_eq!(
        dave_group
            .decrypt(&early, &card(&alice), None)
            .await
            .unwrap(),
        b"before dave"
    );
    group
        .add(&find(&alice, &["erin"]).await, false)
        .await
        .unwrap();
    let erin_group = erin
        .tessera
        .load_group("team", &card(&alice))
        .await
        .unwrap();
    assert_eq!(
        erin_group
            .decrypt(&early, &card(&alice), None)
            .await
            .unwrap_err(),
        Error::GroupEpochUnknown { epoch: 0 }
    );
    let welcome = group.encrypt(b"welcome erin").await.unwrap();
    assert_eq!(
        erin_group
            .decrypt(&welcome, &card(&alice), None)
            .await
            .unwrap(),
        b"welcome erin"
    );
    // Bob has not updated, but decrypting a newer epoch updates once by itself.
    assert_eq!(
        bob_group
            .decrypt(&welcome, &card(&alice), None)
            .await
            .unwrap(),
        b"welcome erin"
    );

    // Carol is removed: she still reads what she could, never what follows.
    group.remove(&["carol"]).await.unwrap();
    assert!(
        !group
            .participants()
            .unwrap()
            .iter()
            .any(|p| p.as_str() == "carol")
    );
    let after = group.encrypt(b"after carol").await.unwrap();
    assert_eq!(
        carol_group
            .decrypt(&from_bob, &card(&bob), None)
            .await
            .unwrap(),
        b"hi from bob"
    );
    assert_eq!(
        carol_group
            .decrypt(&after, &card(&alice), None)
            .await
            .unwrap_err(),
        Error::GroupEpochUnknown { epoch: 3 }
    );
    // Carol does not learn later epochs, so her client still writes to epoch 2; the others
    // refuse it unless the app's timestamp shows it was sent before she was removed.
    carol_group.update().await.unwrap();
    bob_group.update().await.unwrap();
    let late = carol_group.encrypt(b"still here?").await.unwrap();
    assert_eq!(
        bob_group
            .decrypt(&late, &card(&carol), None)
            .await
            .unwrap_err(),
        Error::SenderNotParticipant
    );
    let long_ago = Some(tessera_format::Timestamp(1_767_225_600));
    assert_eq!(
        bob_group
            .decrypt(&late, &card(&carol), long_ago)
            .await
            .unwrap(),
        b"still here?"
    );
    // A user who was never a participant cannot write at all.
    let outsider_group = alice
        .tessera
        .create_group("outsiders", &find(&alice, &["erin"]).await)
        .await
        .unwrap();
    let erin_outsiders = erin
        .tessera
        .load_group("outsiders", &card(&alice))
        .await
        .unwrap();
    outsider_group.remove(&["erin"]).await.unwrap();
    erin_outsiders.update().await.unwrap();
    assert_eq!(erin_outsiders.epoch().unwrap(), 0);
    assert_eq!(
        bob_group
            .decrypt(&after, &card(&alice), None)
            .await
            .unwrap(),
        b"after carol"
    );

    // Tampered messages and messages of another group fail with typed errors.
    let mut tampered = after.clone();
    let last = tampered.len() - 30;
    tampered[last] ^= 1;
    assert_eq!(
        bob_group
            .decrypt(&tampered, &card(&alice), None)
            .await
            .unwrap_err(),
        Error::DecryptionFailed
    );
    let other = alice
        .tessera
        .create_group("other", &find(&alice, &["bob"]).await)
        .await
        .unwrap();
    let elsewhere = other.encrypt(b"elsewhere").await.unwrap();
    assert_eq!(
        bob_group
            .decrypt(&elsewhere, &card(&alice), None)
            .await
            .unwrap_err(),
        Error::DecryptionFailed
    );
    // A message Bob wrote cannot pass as Alice's.
    let bobs = bob_group.encrypt(b"from bob").await.unwrap();
    assert_eq!(
        dave_group
            .decrypt(&bobs, &card(&alice), None)
            .await
            .unwrap_err(),
        Error::WrongSender
    );

    // Group state survives a restart of the app: a new client over the same key store.
    let dave_again = server.device_with_store("dave", dave.store.clone()).await;
    let restored = dave_again.tessera.get_group("team").await.unwrap().unwrap();
    assert_eq!(
        restored.decrypt(&after, &card(&alice), None).await.unwrap(),
        b"after carol"
    );

    // Deleting: only the initiator; afterwards nobody can load it.
    assert_eq!(
        bob.tessera.delete_group("team").await.unwrap_err().code(),
        "not_group_initiator"
    );
    alice.tessera.delete_group("team").await.unwrap();
    assert!(alice.tessera.get_group("team").await.unwrap().is_none());
    assert_eq!(
        erin.tessera
            .load_group("team", &card(&alice))
            .await
            .unwrap_err(),
        Error::GroupNotFound {
            group_id: "team".into()
        }
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_who_lost_their_key_is_re_added() {
    let server = TestServer::start().await;
    let alice = server.registered("alice").await;
    let bob = server.registered("bob").await;
    let group = alice
        .tessera
        .create_group("crew", &find(&alice, &["bob"]).await)
        .await
        .unwrap();
    let old = group.encrypt(b"old news").await.unwrap();

    // Bob loses his device and rotates; his new key cannot open the old tickets.
    let new_bob = server.device("bob").await;
    let new_card = new_bob.tessera.rotate_private_key().await.unwrap();
    assert_eq!(
        new_bob
            .tessera
            .load_group("crew", &card(&alice))
            .await
            .unwrap_err(),
        Error::NotARecipient
    );
    // Alice re-adds him: a new epoch for everyone, and the old epochs for his new key.
    alice.tessera.update_cached_users().await.unwrap();
    group.re_add(&new_card).await.unwrap();
    let bob_group = new_bob
        .tessera
        .load_group("crew", &card(&alice))
        .await
        .unwrap();
    assert_eq!(
        bob_group.decrypt(&old, &card(&alice), None).await.unwrap(),
        b"old news"
    );
    let reply = bob_group.encrypt(b"back again").await.unwrap();
    assert_eq!(
        group.decrypt(&reply, &new_card, None).await.unwrap(),
        b"back again"
    );
    drop(bob);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_of_a_thousand() {
    let server = TestServer::start().await;
    let alice = server.registered("alice").await;
    let mut names = Vec::new();
    let mut last = None;
    for i in 0..1000 {
        let name = format!("member-{i:04}");
        let device = server.registered(&name).await;
        if i == 999 {
            last = Some(device);
        }
        names.push(name);
    }
    let last = last.unwrap();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let everyone = find(&alice, &refs).await;
    let group = alice
        .tessera
        .create_group("all-hands", &everyone)
        .await
        .unwrap();
    assert_eq!(group.participants().unwrap().len(), 1001);

    let member = last
        .tessera
        .load_group("all-hands", &card(&alice))
        .await
        .unwrap();
    let message = group.encrypt(&[7u8; 1024]).await.unwrap();
    assert!(
        message.len() < 1024 + 300,
        "group messages do not grow with the group"
    );
    assert_eq!(
        member.decrypt(&message, &card(&alice), None).await.unwrap(),
        vec![7u8; 1024]
    );
    let reply = member.encrypt(b"ack").await.unwrap();
    assert_eq!(
        group.decrypt(&reply, &card(&last), None).await.unwrap(),
        b"ack"
    );

    // Removing one and adding one at this size.
    group.remove(&["member-0000"]).await.unwrap();
    let newcomer = server.registered("newcomer").await;
    group
        .add(&find(&alice, &["newcomer"]).await, false)
        .await
        .unwrap();
    assert_eq!(group.participants().unwrap().len(), 1001);
    let joined = newcomer
        .tessera
        .load_group("all-hands", &card(&alice))
        .await
        .unwrap();
    let latest = group.encrypt(b"latest").await.unwrap();
    assert_eq!(
        joined.decrypt(&latest, &card(&alice), None).await.unwrap(),
        b"latest"
    );
    assert_eq!(
        member.decrypt(&latest, &card(&alice), None).await.unwrap(),
        b"latest"
    );
    server.stop().await;
}
