//! The storage trait itself, on both databases: migrations are idempotent, the chain
//! and backup rules hold below the HTTP layer, and the log verifies.

use tessera_format::{Card, Identity, card::verify_chain};
use tessera_server::{
    log_chain::{EMPTY_LOG_HASH, LogHead, verify_continuation},
    storage::{self, CardStatus, NewCard, NewGroupTicket, Precondition, StorageError},
};

use crate::harness::{Database, card, card_with_encryption_key, fresh_database};

fn new_card(card: &Card) -> NewCard {
    NewCard {
        id: card.id(),
        identity: card.identity().clone(),
        card: card.to_wire(),
        keys: *card.public_keys(),
        created_at: card.content().created_at.0,
        previous_card_id: card.content().previous_card_id,
    }
}

pub(crate) async fn storage_rules_hold(database: Database) {
    let fresh = fresh_database(database).await;
    let store = storage::connect(&fresh.url, 4).await.unwrap();
    // Opening again runs the migrations again: nothing changes, nothing fails.
    let again = storage::connect(&fresh.url, 4).await.unwrap();
    again.close().await;

    let alice = Identity::new("alice").unwrap();
    let first = card("alice", 1, None);
    let second = card("alice", 2, Some(first.id()));
    let record = store.publish_card(new_card(&first), 1000).await.unwrap();
    assert_eq!(record.status, CardStatus::Active);
    assert_eq!(record.published_at, 1000);
    assert!(matches!(
        store
            .publish_card(new_card(&card("alice", 3, None)), 1001)
            .await,
        Err(StorageError::CardConflict(_))
    ));
    assert!(matches!(
        store.publish_card(new_card(&first), 1001).await,
        Err(StorageError::AlreadyExists(_))
    ));
    store.publish_card(new_card(&second), 1002).await.unwrap();
    let history = store.card_history(&alice).await.unwrap();
    let chain: Vec<Card> = history
        .iter()
        .map(|r| Card::from_parts(&r.card.snapshot, &r.card.signature).unwrap())
        .collect();
    verify_chain(&chain).unwrap();
    assert_eq!(history[0].status, CardStatus::Superseded);
    assert_eq!(history[0].superseded_by, Some(second.id()));

    let bob = Identity::new("bob").unwrap();
    assert!(matches!(
        store.revoke_card(&bob, &second.id(), 1003).await,
        Err(StorageError::Forbidden(_))
    ));
    assert!(matches!(
        store.revoke_card(&alice, &first.id(), 1003).await,
        Err(StorageError::CardNotActive)
    ));
    let revoked = store.revoke_card(&alice, &second.id(), 1003).await.unwrap();
    assert_eq!(revoked.status, CardStatus::Revoked);
    assert!(
        store
            .search_active_cards(std::slice::from_ref(&alice))
            .await
            .unwrap()
            .is_empty()
    );
    // After a revocation: naming an older card is refused, naming the latest works.
    assert!(matches!(
        store
            .publish_card(new_card(&card("alice", 4, Some(first.id()))), 1004)
            .await,
        Err(StorageError::CardConflict(_))
    ));
    store
        .publish_card(new_card(&card("alice", 5, Some(second.id()))), 1005)
        .await
        .unwrap();

    let head = store.log_head().await.unwrap();
    assert_eq!(head.size, 4);
    let entries = store.log_entries(0, 1000).await.unwrap();
    let verified = verify_continuation(
        LogHead {
            size: 0,
            hash: EMPTY_LOG_HASH,
        },
        &entries,
    )
    .unwrap();
    assert_eq!(verified, head);

    // Backups: versions, preconditions, tombstones.
    let write = store
        .put_backup(&alice, "k", b"one", Precondition::MustNotExist, 10)
        .await
        .unwrap();
    assert_eq!((write.version, write.created), (1, true));
    assert!(matches!(
        store
            .put_backup(&alice, "k", b"x", Precondition::MustNotExist, 11)
            .await,
        Err(StorageError::VersionMismatch)
    ));
    let write = store
        .put_backup(&alice, "k", b"two", Precondition::VersionIs(1), 12)
        .await
        .unwrap();
    assert_eq!((write.version, write.created), (2, false));
    store
        .delete_backup(&alice, "k", Precondition::VersionIs(2), 13)
        .await
        .unwrap();
    assert_eq!(store.backup(&alice, "k").await.unwrap(), None);
    let write = store
        .put_backup(&alice, "k", b"three", Precondition::None, 14)
        .await
        .unwrap();
    assert_eq!((write.version, write.created), (4, true));
    assert_eq!(store.backup(&bob, "k").await.unwrap(), None);

    // Group tickets.
    let members = [alice.clone(), bob.clone()];
    store
        .put_group_ticket(
            &alice,
            NewGroupTicket {
                group_id: "g",
                epoch: 7,
                participants: &members,
                ticket: b"t",
            },
            20,
        )
        .await
        .unwrap();
    let seen = store
        .group_tickets(&bob, "g", None, 100)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.initiator, "alice");
    assert_eq!(seen.tickets[0].participants, ["alice", "bob"]);
    assert_eq!(seen.tickets[0].epoch, 7);
    assert!(
        store
            .group_tickets(&bob, "g", Some(7), 100)
            .await
            .unwrap()
            .unwrap()
            .tickets
            .is_empty()
    );
    let carol = Identity::new("carol").unwrap();
    assert_eq!(
        store.group_tickets(&carol, "g", None, 100).await.unwrap(),
        None
    );
    store.delete_group(&alice, "g").await.unwrap();
    assert_eq!(
        store.group_tickets(&alice, "g", None, 100).await.unwrap(),
        None
    );

    store.ping().await.unwrap();
    store.close().await;
}

/// A public key belongs to the first identity that publishes it: another identity's card
/// with it is refused, the owner's next card may keep it, and the rule holds for cards
/// published before the server recorded key owners (the migration fills the table).
pub(crate) async fn keys_belong_to_their_first_identity(database: Database) {
    let fresh = fresh_database(database).await;
    let store = storage::connect(&fresh.url, 4).await.unwrap();
    let first = card("alice", 1, None);
    store.publish_card(new_card(&first), 1000).await.unwrap();
    let copied = card_with_encryption_key("mallory", 7, first.public_keys().encryption);
    assert!(matches!(
        store.publish_card(new_card(&copied), 1001).await,
        Err(StorageError::KeyInUse(m)) if m.contains("X25519")
    ));
    assert!(matches!(
        store.publish_card(new_card(&card("mallory", 1, None)), 1001).await,
        Err(StorageError::KeyInUse(m)) if m.contains("Ed25519")
    ));
    // A refused card leaves nothing behind: mallory's own keys are still free.
    store
        .publish_card(new_card(&card("mallory", 2, None)), 1002)
        .await
        .unwrap();
    let same_keys = card("alice", 1, Some(first.id()));
    store
        .publish_card(new_card(&same_keys), 1003)
        .await
        .unwrap();
    store.close().await;

    // Forget the owners, as a database from before the table existed, and migrate again.
    let forget = [
        "DROP TABLE card_keys",
        "DELETE FROM tessera_migrations WHERE name = 'card_keys'",
    ];
    match database {
        Database::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&fresh.url).await.unwrap();
            for statement in forget {
                sqlx::query(statement).execute(&pool).await.unwrap();
            }
            pool.close().await;
        }
        Database::Postgres => {
            let pool = sqlx::PgPool::connect(&fresh.url).await.unwrap();
            for statement in forget {
                sqlx::query(statement).execute(&pool).await.unwrap();
            }
            pool.close().await;
        }
    }
    let store = storage::connect(&fresh.url, 4).await.unwrap();
    let copied_by_trent = card_with_encryption_key("trent", 7, first.public_keys().encryption);
    assert!(matches!(
        store.publish_card(new_card(&copied_by_trent), 1004).await,
        Err(StorageError::KeyInUse(_))
    ));
    let copied_from_mallory =
        card_with_encryption_key("eve", 9, card("mallory", 2, None).public_keys().encryption);
    assert!(matches!(
        store
            .publish_card(new_card(&copied_from_mallory), 1005)
            .await,
        Err(StorageError::KeyInUse(_))
    ));
    store.close().await;
}
