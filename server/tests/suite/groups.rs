//! Group tickets: the initiator rules, participant-only visibility, and groups of
//! thousands.

use serde_json::json;

use crate::harness::{Database, TestServer, b64, unb64};

pub(crate) async fn group_ticket_rules_and_visibility(database: Database) {
    let server = TestServer::start(database).await;
    let alice = server.token("alice");
    let bob = server.token("bob");
    let carol = server.token("carol");
    let mallory = server.token("mallory");

    let epoch0 = server
        .put(
            "/v1/groups/team:42/tickets/0",
            Some(&alice),
            &json!({ "participants": ["alice", "bob", "carol"], "ticket": b64(b"epoch 0") }),
        )
        .await;
    epoch0.expect(201, "");
    assert_eq!(epoch0.json, json!({ "group_id": "team:42", "epoch": 0 }));
    // Carol is removed in epoch 1.
    server
        .put(
            "/v1/groups/team:42/tickets/1",
            Some(&alice),
            &json!({ "participants": ["alice", "bob"], "ticket": b64(b"epoch 1") }),
        )
        .await
        .expect(201, "");

    // An existing epoch is never overwritten.
    server
        .put(
            "/v1/groups/team:42/tickets/1",
            Some(&alice),
            &json!({ "participants": ["alice"], "ticket": b64(b"replacement") }),
        )
        .await
        .expect(409, "already_exists");
    // Only the initiator adds tickets.
    server
        .put(
            "/v1/groups/team:42/tickets/2",
            Some(&bob),
            &json!({ "participants": ["bob"], "ticket": b64(b"takeover") }),
        )
        .await
        .expect(403, "forbidden");

    let for_bob = server.get("/v1/groups/team:42/tickets", Some(&bob)).await;
    for_bob.expect(200, "");
    assert_eq!(for_bob.json["initiator"], "alice");
    let tickets = for_bob.json["tickets"].as_array().unwrap();
    assert_eq!(tickets.len(), 2);
    assert_eq!(tickets[0]["epoch"], 0);
    assert_eq!(tickets[0]["participants"], json!(["alice", "bob", "carol"]));
    assert_eq!(unb64(tickets[1]["ticket"].as_str().unwrap()), b"epoch 1");
    assert!(tickets[1]["created_at"].as_u64().unwrap() > 1_700_000_000);

    let after = server
        .get("/v1/groups/team:42/tickets?after=0", Some(&bob))
        .await;
    assert_eq!(after.json["tickets"].as_array().unwrap().len(), 1);
    assert_eq!(after.json["tickets"][0]["epoch"], 1);
    let first_page = server
        .get("/v1/groups/team:42/tickets?limit=1", Some(&bob))
        .await;
    assert_eq!(first_page.json["tickets"].as_array().unwrap().len(), 1);
    assert_eq!(first_page.json["tickets"][0]["epoch"], 0);
    for query in ["limit=0", "limit=1001", "after=2147483648", "page=2"] {
        server
            .get(&format!("/v1/groups/team:42/tickets?{query}"), Some(&bob))
            .await
            .expect(400, "invalid_request");
    }

    // Carol sees only the epoch she belongs to.
    let for_carol = server.get("/v1/groups/team:42/tickets", Some(&carol)).await;
    for_carol.expect(200, "");
    let tickets = for_carol.json["tickets"].as_array().unwrap();
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0]["epoch"], 0);
    assert!(!for_carol.text.contains(&b64(b"epoch 1")));
    let none_left = server
        .get("/v1/groups/team:42/tickets?after=0", Some(&carol))
        .await;
    none_left.expect(200, "");
    assert_eq!(none_left.json["tickets"], json!([]));

    // A stranger learns nothing, not even that the group exists.
    let for_mallory = server
        .get("/v1/groups/team:42/tickets", Some(&mallory))
        .await;
    for_mallory.expect(404, "not_found");
    assert!(!for_mallory.text.contains("epoch"));
    server
        .get("/v1/groups/no-such-group/tickets", Some(&mallory))
        .await
        .expect(404, "not_found");
    server
        .delete("/v1/groups/team:42", Some(&mallory))
        .await
        .expect(404, "not_found");
    // A participant may not delete it; the initiator may.
    server
        .delete("/v1/groups/team:42", Some(&bob))
        .await
        .expect(403, "forbidden");
    server
        .delete("/v1/groups/team:42", Some(&alice))
        .await
        .expect(204, "");
    server
        .get("/v1/groups/team:42/tickets", Some(&alice))
        .await
        .expect(404, "not_found");
    server
        .delete("/v1/groups/team:42", Some(&alice))
        .await
        .expect(404, "not_found");

    // Invalid input.
    for (path, body) in [
        (
            "/v1/groups/bad%20id/tickets/0",
            json!({ "participants": ["alice"], "ticket": "" }),
        ),
        (
            "/v1/groups/g/tickets/-1",
            json!({ "participants": ["alice"], "ticket": "" }),
        ),
        (
            "/v1/groups/g/tickets/2147483648",
            json!({ "participants": ["alice"], "ticket": "" }),
        ),
        (
            "/v1/groups/g/tickets/0",
            json!({ "participants": ["bob"], "ticket": "" }),
        ),
        (
            "/v1/groups/g/tickets/0",
            json!({ "participants": ["alice", "alice"], "ticket": "" }),
        ),
        (
            "/v1/groups/g/tickets/0",
            json!({ "participants": [], "ticket": "" }),
        ),
        (
            "/v1/groups/g/tickets/0",
            json!({ "participants": ["alice"], "ticket": "@@" }),
        ),
    ] {
        server
            .put(path, Some(&alice), &body)
            .await
            .expect(400, "invalid_request");
    }
    server
        .get("/v1/groups/g/tickets?after=x", Some(&alice))
        .await
        .expect(400, "invalid_request");
    server.stop().await;
}

pub(crate) async fn groups_hold_thousands_of_participants(database: Database) {
    let server = TestServer::start_with(database, |config| {
        config.limits.max_group_participants = 2000;
    })
    .await;
    let initiator = server.token("member0");
    let members: Vec<String> = (0..2000).map(|i| format!("member{i}")).collect();
    let ticket = vec![0xa5u8; 256 * 1024];
    server
        .put(
            "/v1/groups/big/tickets/0",
            Some(&initiator),
            &json!({ "participants": members, "ticket": b64(&ticket) }),
        )
        .await
        .expect(201, "");
    for member in ["member0", "member1", "member999", "member1999"] {
        let reply = server
            .get("/v1/groups/big/tickets", Some(&server.token(member)))
            .await;
        reply.expect(200, "");
        let listed = &reply.json["tickets"][0];
        assert_eq!(listed["participants"].as_array().unwrap().len(), 2000);
        assert_eq!(listed["participants"][1999], "member1999");
        assert_eq!(unb64(listed["ticket"].as_str().unwrap()), ticket);
    }
    server
        .get("/v1/groups/big/tickets", Some(&server.token("member2000")))
        .await
        .expect(404, "not_found");

    let too_many: Vec<String> = (0..2001).map(|i| format!("member{i}")).collect();
    server
        .put(
            "/v1/groups/big/tickets/1",
            Some(&initiator),
            &json!({ "participants": too_many, "ticket": "" }),
        )
        .await
        .expect(400, "too_many_items");
    server.stop().await;
}
