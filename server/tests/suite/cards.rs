//! Cards: every endpoint's happy path, the publish rules, the concurrent-publish race and
//! batch search.

use serde_json::json;
use tessera_format::{Card, Timestamp};

use crate::harness::{Database, TestServer, card, card_with_encryption_key, random_card, unb64};

pub(crate) async fn card_endpoints_happy_path(database: Database) {
    let server = TestServer::start(database).await;
    let alice = server.token("alice");

    // Searched before she has a card (the SQLite search cache remembers "none")...
    let before = server
        .post(
            "/v1/cards/search",
            Some(&alice),
            &json!({ "identities": ["alice"] }),
        )
        .await;
    assert_eq!(before.json["cards"], json!([]));

    let first = card("alice", 1, None);
    let published = server.publish("alice", &first).await;
    published.expect(201, "");
    let record = &published.json["card"];
    assert_eq!(record["id"], first.id().to_hex());
    assert_eq!(record["identity"], "alice");
    assert_eq!(record["status"], "active");
    assert_eq!(record["previous_card_id"], serde_json::Value::Null);
    assert_eq!(record["created_at"], first.content().created_at.0);
    // The client can verify what it gets back.
    let echoed = Card::from_parts(
        &unb64(record["snapshot"].as_str().unwrap()),
        &unb64(record["signature"].as_str().unwrap()),
    )
    .unwrap();
    assert_eq!(echoed, first);

    // Rotation: the new card names the active one.
    let second = card("alice", 2, Some(first.id()));
    server.publish("alice", &second).await.expect(201, "");

    let search = server
        .post(
            "/v1/cards/search",
            Some(&alice),
            &json!({ "identities": ["alice", "nobody"] }),
        )
        .await;
    search.expect(200, "");
    let cards = search.json["cards"].as_array().unwrap();
    assert_eq!(cards.len(), 1);
    assert_eq!(cards[0]["id"], second.id().to_hex());

    let old = server
        .get(&format!("/v1/cards/{}", first.id().to_hex()), Some(&alice))
        .await;
    old.expect(200, "");
    assert_eq!(old.json["card"]["status"], "superseded");
    assert_eq!(old.json["card"]["superseded_by"], second.id().to_hex());

    let history = server.get("/v1/identities/alice/cards", Some(&alice)).await;
    history.expect(200, "");
    let ids: Vec<&str> = history.json["cards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [first.id().to_hex(), second.id().to_hex()]);

    let unknown = random_card("carol", None);
    let outdated = server
        .post(
            "/v1/cards/outdated",
            Some(&alice),
            &json!({ "card_ids": [first.id().to_hex(), second.id().to_hex(), unknown.id().to_hex()] }),
        )
        .await;
    outdated.expect(200, "");
    assert_eq!(
        outdated.json["outdated"],
        json!([
            { "card_id": first.id().to_hex(), "status": "superseded", "superseded_by": second.id().to_hex() },
            { "card_id": unknown.id().to_hex(), "status": "unknown", "superseded_by": null },
        ])
    );

    let revoked = server
        .post(
            &format!("/v1/cards/{}/revoke", second.id().to_hex()),
            Some(&alice),
            &json!({}),
        )
        .await;
    revoked.expect(200, "");
    assert_eq!(revoked.json["card"]["status"], "revoked");
    let search = server
        .post(
            "/v1/cards/search",
            Some(&alice),
            &json!({ "identities": ["alice"] }),
        )
        .await;
    assert_eq!(search.json["cards"], json!([]));
    server
        .post(
            &format!("/v1/cards/{}/revoke", second.id().to_hex()),
            Some(&alice),
            &json!({}),
        )
        .await
        .expect(409, "card_not_active");

    // After a revocation the next card continues the chain from the latest card.
    let third = card("alice", 3, Some(second.id()));
    server.publish("alice", &third).await.expect(201, "");
    // ...and every publish and revoke shows in the next search.
    let search = server
        .post(
            "/v1/cards/search",
            Some(&alice),
            &json!({ "identities": ["alice"] }),
        )
        .await;
    assert_eq!(search.json["cards"][0]["id"], third.id().to_hex());
    let second_now = server
        .get(&format!("/v1/cards/{}", second.id().to_hex()), Some(&alice))
        .await;
    assert_eq!(second_now.json["card"]["status"], "revoked");
    assert_eq!(
        second_now.json["card"]["superseded_by"],
        third.id().to_hex()
    );
    server.stop().await;
}

pub(crate) async fn publish_rules_are_enforced(database: Database) {
    let server = TestServer::start(database).await;
    let alice = server.token("alice");
    let first = card("alice", 1, None);

    // Someone else's card.
    server.publish("bob", &first).await.expect(403, "forbidden");
    // A broken signature.
    let mut wire = first.to_wire();
    wire.signature[0] ^= 1;
    server
        .post("/v1/cards", Some(&alice), &json!({ "card": wire }))
        .await
        .expect(400, "invalid_card");
    // Garbage snapshot.
    server
        .post(
            "/v1/cards",
            Some(&alice),
            &json!({ "card": { "snapshot": "AAAA", "signature": "AAAA" } }),
        )
        .await
        .expect(400, "invalid_card");
    // Not base64url, missing fields, unknown fields.
    for body in [
        json!({ "card": { "snapshot": "!!", "signature": "AAAA" } }),
        json!({ "card": {} }),
        json!({}),
        json!({ "card": first.to_wire(), "extra": 1 }),
        json!([1, 2, 3]),
    ] {
        server
            .post("/v1/cards", Some(&alice), &body)
            .await
            .expect(400, "invalid_request");
    }
    // From the future.
    let future = Card::create(
        &crate::harness::keys(9),
        tessera_format::Identity::new("alice").unwrap(),
        Timestamp::now().plus(3600),
        None,
    )
    .unwrap();
    server
        .publish("alice", &future)
        .await
        .expect(400, "invalid_card");
    // From the past: a backdated card (a rotation dated at its predecessor's time would
    // make its owner's earlier messages look signed with a replaced key).
    let backdated = Card::create(
        &crate::harness::keys(1),
        tessera_format::Identity::new("alice").unwrap(),
        Timestamp::now().minus(3600),
        None,
    )
    .unwrap();
    let refused = server.publish("alice", &backdated).await;
    refused.expect_saying(400, "invalid_card", "behind");
    server.publish("alice", &first).await.expect(201, "");
    // The same card again.
    server
        .publish("alice", &first)
        .await
        .expect(409, "already_exists");
    // A second card that does not name the active one.
    server
        .publish("alice", &card("alice", 2, None))
        .await
        .expect(409, "card_conflict");
    // Naming a card that is not the active one.
    let stranger = random_card("alice", None);
    server
        .publish("alice", &card("alice", 3, Some(stranger.id())))
        .await
        .expect(409, "card_conflict");
    // Another identity's card with alice's keys: her X25519 key alone (the unknown-key-share
    // setup of docs/FORMAT.md §4.2), or both (a copy of her key pair).
    let copied_x25519 = card_with_encryption_key("mallory", 7, first.public_keys().encryption);
    let refused = server.publish("mallory", &copied_x25519).await;
    refused.expect_saying(409, "key_in_use", "X25519");
    server
        .publish("mallory", &card("mallory", 1, None))
        .await
        .expect(409, "key_in_use");
    // Revoking someone else's card, or an unknown one.
    let bob = server.token("bob");
    server
        .post(
            &format!("/v1/cards/{}/revoke", first.id().to_hex()),
            Some(&bob),
            &json!({}),
        )
        .await
        .expect(403, "forbidden");
    server
        .post(
            &format!("/v1/cards/{}/revoke", stranger.id().to_hex()),
            Some(&alice),
            &json!({}),
        )
        .await
        .expect(404, "not_found");
    // Bad ids and identities in paths.
    server
        .get("/v1/cards/xyz", Some(&alice))
        .await
        .expect(400, "invalid_request");
    server
        .get(
            &format!("/v1/cards/{}", stranger.id().to_hex()),
            Some(&alice),
        )
        .await
        .expect(404, "not_found");
    server
        .get("/v1/identities/a%20b/cards", Some(&alice))
        .await
        .expect(400, "invalid_request");
    let empty = server
        .get("/v1/identities/nobody/cards", Some(&alice))
        .await;
    empty.expect(200, "");
    assert_eq!(empty.json["cards"], json!([]));
    server.stop().await;
}

/// N concurrent publishes of different first cards for one identity: exactly one wins,
/// the others get 409, and the directory and the log agree on the winner.
pub(crate) async fn concurrent_publishes_have_one_winner(database: Database) {
    const CONTENDERS: usize = 16;
    let server = TestServer::start(database).await;
    let cards: Vec<Card> = (0..CONTENDERS)
        .map(|_| random_card("racer", None))
        .collect();
    let token = server.token("racer");
    let requests = cards.iter().map(|card| {
        let request = server
            .request(reqwest::Method::POST, "/v1/cards", Some(&token))
            .json(&json!({ "card": card.to_wire() }));
        crate::harness::send(request)
    });
    let replies = futures_join_all(requests).await;
    let winners: Vec<usize> = replies
        .iter()
        .enumerate()
        .filter(|(_, r)| r.status == 201)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "statuses: {:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for reply in &replies {
        if reply.status != 201 {
            reply.expect(409, "card_conflict");
        }
    }
    let winner = &cards[winners[0]];
    let history = server.get("/v1/identities/racer/cards", Some(&token)).await;
    let history = history.json["cards"].as_array().unwrap().clone();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["id"], winner.id().to_hex());
    let log = server.get("/v1/log?after=0&limit=100", None).await;
    let entries = log.json["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["card_id"], winner.id().to_hex());

    // The same race for a rotation: every contender names the active card.
    let rotations: Vec<Card> = (0..CONTENDERS)
        .map(|_| random_card("racer", Some(winner.id())))
        .collect();
    let requests = rotations.iter().map(|card| {
        let request = server
            .request(reqwest::Method::POST, "/v1/cards", Some(&token))
            .json(&json!({ "card": card.to_wire() }));
        crate::harness::send(request)
    });
    let replies = futures_join_all(requests).await;
    assert_eq!(replies.iter().filter(|r| r.status == 201).count(), 1);
    assert_eq!(
        replies.iter().filter(|r| r.status == 409).count(),
        CONTENDERS - 1
    );
    let search = server
        .post(
            "/v1/cards/search",
            Some(&token),
            &json!({ "identities": ["racer"] }),
        )
        .await;
    assert_eq!(search.json["cards"].as_array().unwrap().len(), 1);
    server.stop().await;
}

/// Runs the futures concurrently on the runtime's threads and collects their outputs in
/// order.
pub(crate) async fn futures_join_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut outputs = Vec::with_capacity(handles.len());
    for handle in handles {
        outputs.push(handle.await.unwrap());
    }
    outputs
}

pub(crate) async fn search_and_outdated_take_batches_of_a_thousand(database: Database) {
    let server = TestServer::start(database).await;
    let token = server.token("searcher");
    let mut published = Vec::new();
    for i in 0..40 {
        let identity = format!("user{i}");
        let card = random_card(&identity, None);
        server.publish(&identity, &card).await.expect(201, "");
        published.push(card);
    }
    let identities: Vec<String> = (0..1000).map(|i| format!("user{i}")).collect();
    let reply = server
        .post(
            "/v1/cards/search",
            Some(&token),
            &json!({ "identities": identities }),
        )
        .await;
    reply.expect(200, "");
    let found = reply.json["cards"].as_array().unwrap();
    assert_eq!(found.len(), 40);
    for (card, record) in published.iter().zip(found) {
        assert_eq!(
            record["id"],
            card.id().to_hex(),
            "results follow the request order"
        );
    }

    let too_many: Vec<String> = (0..1001).map(|i| format!("user{i}")).collect();
    server
        .post(
            "/v1/cards/search",
            Some(&token),
            &json!({ "identities": too_many }),
        )
        .await
        .expect(400, "too_many_items");
    server
        .post(
            "/v1/cards/search",
            Some(&token),
            &json!({ "identities": [] }),
        )
        .await
        .expect(400, "invalid_request");
    server
        .post(
            "/v1/cards/search",
            Some(&token),
            &json!({ "identities": ["bad identity"] }),
        )
        .await
        .expect(400, "invalid_request");

    let ids: Vec<String> = published.iter().map(|c| c.id().to_hex()).collect();
    let reply = server
        .post(
            "/v1/cards/outdated",
            Some(&token),
            &json!({ "card_ids": ids }),
        )
        .await;
    reply.expect(200, "");
    assert_eq!(reply.json["outdated"], json!([]), "every card is active");
    let too_many: Vec<String> = (0..1001).map(|_| published[0].id().to_hex()).collect();
    server
        .post(
            "/v1/cards/outdated",
            Some(&token),
            &json!({ "card_ids": too_many }),
        )
        .await
        .expect(400, "too_many_items");
    server
        .post(
            "/v1/cards/outdated",
            Some(&token),
            &json!({ "card_ids": ["nothex"] }),
        )
        .await
        .expect(400, "invalid_request");
    server.stop().await;
}
