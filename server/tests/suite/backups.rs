//! Key backups: the happy path, optimistic concurrency (412) and per-caller isolation.

use reqwest::Method;
use serde_json::json;

use crate::{
    cards::futures_join_all,
    harness::{Database, TestServer, b64, send, unb64},
};

pub(crate) async fn backup_endpoints_happy_path(database: Database) {
    let server = TestServer::start(database).await;
    let alice = server.token("alice");

    let created = server
        .put(
            "/v1/backups/main-key",
            Some(&alice),
            &json!({ "blob": b64(b"v1 blob") }),
        )
        .await;
    created.expect(201, "");
    assert_eq!(created.json, json!({ "name": "main-key", "version": 1 }));
    assert_eq!(created.headers["etag"], "\"1\"");

    let read = server.get("/v1/backups/main-key", Some(&alice)).await;
    read.expect(200, "");
    assert_eq!(read.json["version"], 1);
    assert_eq!(unb64(read.json["blob"].as_str().unwrap()), b"v1 blob");
    assert!(read.json["updated_at"].as_u64().unwrap() > 1_700_000_000);
    assert_eq!(read.headers["etag"], "\"1\"");

    let replaced = server
        .put(
            "/v1/backups/main-key",
            Some(&alice),
            &json!({ "blob": b64(b"v2 blob") }),
        )
        .await;
    replaced.expect(200, "");
    assert_eq!(replaced.json["version"], 2);

    server
        .delete("/v1/backups/main-key", Some(&alice))
        .await
        .expect(204, "");
    server
        .get("/v1/backups/main-key", Some(&alice))
        .await
        .expect(404, "not_found");
    server
        .delete("/v1/backups/main-key", Some(&alice))
        .await
        .expect(404, "not_found");

    // Re-created after a delete: versions keep growing, so an old ETag cannot match.
    let again = server
        .put(
            "/v1/backups/main-key",
            Some(&alice),
            &json!({ "blob": b64(b"v3") }),
        )
        .await;
    again.expect(201, "");
    assert_eq!(again.json["version"], 4);
    server.stop().await;
}

pub(crate) async fn backup_preconditions_give_412(database: Database) {
    let server = TestServer::start(database).await;
    let alice = server.token("alice");
    let put = |headers: Vec<(&'static str, String)>, blob: &'static [u8]| {
        let mut request = server
            .request(Method::PUT, "/v1/backups/k", Some(&alice))
            .json(&json!({ "blob": b64(blob) }));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        send(request)
    };

    // If-Match on a backup that does not exist.
    put(vec![("if-match", "\"1\"".into())], b"x")
        .await
        .expect(412, "version_mismatch");
    put(vec![("if-match", "*".into())], b"x")
        .await
        .expect(412, "version_mismatch");
    // Create-only.
    put(vec![("if-none-match", "*".into())], b"one")
        .await
        .expect(201, "");
    put(vec![("if-none-match", "*".into())], b"two")
        .await
        .expect(412, "version_mismatch");
    // Replace a known version.
    let updated = put(vec![("if-match", "\"1\"".into())], b"two").await;
    updated.expect(200, "");
    assert_eq!(updated.json["version"], 2);
    // A stale version.
    put(vec![("if-match", "\"1\"".into())], b"three")
        .await
        .expect(412, "version_mismatch");
    put(vec![("if-match", "*".into())], b"three")
        .await
        .expect(200, "");
    let read = server.get("/v1/backups/k", Some(&alice)).await;
    assert_eq!(unb64(read.json["blob"].as_str().unwrap()), b"three");
    assert_eq!(read.json["version"], 3);
    // Nonsense preconditions.
    put(vec![("if-match", "soon".into())], b"x")
        .await
        .expect(400, "invalid_request");
    put(vec![("if-none-match", "\"3\"".into())], b"x")
        .await
        .expect(400, "invalid_request");
    put(
        vec![("if-match", "\"3\"".into()), ("if-none-match", "*".into())],
        b"x",
    )
    .await
    .expect(400, "invalid_request");
    // Conditional delete.
    let delete = |version: &str| {
        send(
            server
                .request(Method::DELETE, "/v1/backups/k", Some(&alice))
                .header("if-match", version.to_owned()),
        )
    };
    delete("\"2\"").await.expect(412, "version_mismatch");
    delete("\"3\"").await.expect(204, "");

    // Concurrent writers that all read version 1: exactly one replaces it.
    put(vec![("if-none-match", "*".into())], b"base")
        .await
        .expect(201, "");
    let current = server.get("/v1/backups/k", Some(&alice)).await.json["version"]
        .as_u64()
        .unwrap();
    let writers = (0..8).map(|i| {
        send(
            server
                .request(Method::PUT, "/v1/backups/k", Some(&alice))
                .header("if-match", format!("\"{current}\""))
                .json(&json!({ "blob": b64(format!("writer {i}").as_bytes()) })),
        )
    });
    let replies = futures_join_all(writers).await;
    assert_eq!(replies.iter().filter(|r| r.status == 200).count(), 1);
    assert_eq!(replies.iter().filter(|r| r.status == 412).count(), 7);
    server.stop().await;
}

pub(crate) async fn backups_are_private_and_validated(database: Database) {
    let server = TestServer::start(database).await;
    let alice = server.token("alice");
    let bob = server.token("bob");
    server
        .put(
            "/v1/backups/secret",
            Some(&alice),
            &json!({ "blob": b64(b"alice only") }),
        )
        .await
        .expect(201, "");
    // Bob's namespace has no such backup; he can neither read nor delete Alice's.
    let read = server.get("/v1/backups/secret", Some(&bob)).await;
    read.expect(404, "not_found");
    assert!(!read.text.contains(&b64(b"alice only")));
    server
        .delete("/v1/backups/secret", Some(&bob))
        .await
        .expect(404, "not_found");
    server
        .get("/v1/backups/secret", Some(&alice))
        .await
        .expect(200, "");

    for name in ["a%20b", "x%2Fy", &"n".repeat(65)] {
        server
            .put(
                &format!("/v1/backups/{name}"),
                Some(&alice),
                &json!({ "blob": "" }),
            )
            .await
            .expect(400, "invalid_request");
    }
    server
        .put(
            "/v1/backups/k",
            Some(&alice),
            &json!({ "blob": "not base64!" }),
        )
        .await
        .expect(400, "invalid_request");
    server
        .put(
            "/v1/backups/k",
            Some(&alice),
            &json!({ "blob": b64(&vec![7u8; 64 * 1024 + 1]) }),
        )
        .await
        .expect(413, "payload_too_large");
    server
        .put(
            "/v1/backups/k",
            Some(&alice),
            &json!({ "blob": b64(&vec![7u8; 64 * 1024]) }),
        )
        .await
        .expect(201, "");
    server.stop().await;
}
