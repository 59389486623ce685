//! Demo mode: the login that mints tokens, the ciphertext relay, the contact list, the
//! web chat's static files, and that none of it exists without demo mode.

use std::{collections::HashSet, time::Duration};

use reqwest::Method;
use serde_json::{Value, json};
use tessera_format::{Audience, Timestamp, TokenError, TokenVerifier, jwt::read_claims_unverified};
use tessera_server::server::StartError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{
    cards::futures_join_all,
    harness::{Database, TestServer, b64, card, send, test_app_key, test_config, unb64},
};

/// `POST /demo/login` as `identity`; the token.
async fn login(server: &TestServer, identity: &str) -> String {
    let reply = server
        .post("/demo/login", None, &json!({ "identity": identity }))
        .await;
    reply.expect(200, "");
    reply.json["token"].as_str().unwrap().to_owned()
}

/// Posts a message; the reply.
async fn post_message(
    server: &TestServer,
    token: &str,
    to: &[&str],
    conversation: &str,
    kind: &str,
    ciphertext: &[u8],
) -> crate::harness::Reply {
    server
        .post(
            "/demo/messages",
            Some(token),
            &json!({
                "to": to,
                "conversation": conversation,
                "kind": kind,
                "ciphertext": b64(ciphertext),
            }),
        )
        .await
}

/// The ids of a listing.
fn ids(reply: &crate::harness::Reply) -> Vec<u64> {
    reply.json["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("not a listing: {}", reply.text))
        .iter()
        .map(|m| m["id"].as_u64().unwrap())
        .collect()
}

pub(crate) async fn login_mints_tokens_the_api_accepts(database: Database) {
    let server = TestServer::start_demo(database, |_| {}).await;
    let before = Timestamp::now().0;
    let reply = server
        .post("/demo/login", None, &json!({ "identity": "alice" }))
        .await;
    reply.expect(200, "");
    assert_eq!(reply.json["identity"], "alice");
    assert_eq!(reply.headers["cache-control"], "no-store");
    let token = reply.json["token"].as_str().unwrap();
    let expires_at = reply.json["expires_at"].as_u64().unwrap();
    let claims = read_claims_unverified(token).unwrap();
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.iss, server.app_id);
    assert_eq!(claims.aud, Some(Audience::One(server.audience.clone())));
    // Not signed with the configured app key: with the demo's own, which no file holds.
    assert_eq!(
        TokenVerifier::new(server.app_id.clone(), server.audience.clone())
            .with_key(&test_app_key().public_key())
            .unwrap()
            .verify(token, Timestamp::now()),
        Err(TokenError::UnknownKey)
    );
    assert_eq!(claims.exp, expires_at);
    assert_eq!(claims.exp - claims.iat, 20 * 60, "20-minute tokens");
    assert!(claims.iat >= before && claims.iat <= Timestamp::now().0);

    // The /v1 API takes it: publish alice's card with it.
    server
        .post(
            "/v1/cards",
            Some(token),
            &json!({ "card": card("alice", 1, None).to_wire() }),
        )
        .await
        .expect(201, "");
    // A token of the configured app key, as a production minter makes it, is refused.
    let production = server.token("alice");
    let refused = server
        .get("/v1/identities/alice/cards", Some(&production))
        .await;
    refused.expect_saying(401, "unauthorized", "unknown app key");
    // A token for bob cannot publish alice's card.
    let bob = login(&server, "bob").await;
    server
        .post(
            "/v1/cards",
            Some(&bob),
            &json!({ "card": card("alice", 2, None).to_wire() }),
        )
        .await
        .expect(403, "forbidden");

    for bad in [
        json!({ "identity": "" }),
        json!({ "identity": "a b" }),
        json!({ "identity": "ünïcode" }),
        json!({ "identity": "x".repeat(129) }),
        json!({ "identity": 7 }),
        json!({ "identity": null }),
        json!({}),
        json!({ "identity": "alice", "admin": true }),
        json!("alice"),
    ] {
        let reply = server.post("/demo/login", None, &bad).await;
        reply.expect(400, "invalid_request");
        assert!(!reply.text.contains("token\""), "{}", reply.text);
    }
    let garbage = send(
        server
            .request(Method::POST, "/demo/login", None)
            .body("{\"identity\":"),
    )
    .await;
    garbage.expect(400, "invalid_request");
    server
        .get("/demo/login", None)
        .await
        .expect(405, "method_not_allowed");
    let longest = "x".repeat(128);
    login(&server, &longest).await;
    server.stop().await;
}

pub(crate) async fn relay_round_trip_and_visibility(database: Database) {
    let server = TestServer::start_demo(database, |_| {}).await;
    let alice = login(&server, "alice").await;
    let bob = login(&server, "bob").await;
    let carol = login(&server, "carol").await;

    let ciphertext: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    let before = Timestamp::now().0;
    let posted = post_message(&server, &alice, &["bob"], "alice+bob", "text", &ciphertext).await;
    posted.expect(201, "");
    let first = posted.json["id"].as_u64().unwrap();
    let created_at = posted.json["created_at"].as_u64().unwrap();
    assert!(created_at >= before && created_at <= Timestamp::now().0);
    assert_eq!(posted.json.as_object().unwrap().len(), 2, "{}", posted.text);

    let expected = json!({
        "id": first,
        "from": "alice",
        "to": ["bob"],
        "conversation": "alice+bob",
        "kind": "text",
        "ciphertext": b64(&ciphertext),
        "created_at": created_at,
    });
    for reader in [&bob, &alice] {
        let listed = server.get("/demo/messages", Some(reader)).await;
        listed.expect(200, "");
        assert_eq!(listed.json, json!({ "messages": [expected.clone()] }));
        let one = server
            .get(&format!("/demo/messages/{first}"), Some(reader))
            .await;
        one.expect(200, "");
        assert_eq!(one.json, expected);
        assert_eq!(unb64(one.json["ciphertext"].as_str().unwrap()), ciphertext);
    }
    let carols = server.get("/demo/messages", Some(&carol)).await;
    carols.expect(200, "");
    assert_eq!(carols.json, json!({ "messages": [] }));
    server
        .get(&format!("/demo/messages/{first}"), Some(&carol))
        .await
        .expect(404, "not_found");
    server
        .get(&format!("/demo/messages/{}", first + 1000), Some(&alice))
        .await
        .expect(404, "not_found");
    for bad in ["abc", "-1", "1.5", "99999999999999999999999"] {
        server
            .get(&format!("/demo/messages/{bad}"), Some(&alice))
            .await
            .expect(400, "invalid_request");
    }

    // Several recipients, in the sender's order; each sees only what concerns them.
    let group = post_message(
        &server,
        &bob,
        &["carol", "alice", "bob"],
        "team: Ünïcode ✓",
        "system",
        b"",
    )
    .await;
    group.expect(201, "");
    let second = group.json["id"].as_u64().unwrap();
    assert!(second > first);
    let file = post_message(&server, &carol, &["dave"], "carol+dave", "file", b"f").await;
    file.expect(201, "");
    let third = file.json["id"].as_u64().unwrap();
    let carols = server.get("/demo/messages", Some(&carol)).await;
    assert_eq!(ids(&carols), [second, third]);
    assert_eq!(
        carols.json["messages"][0]["to"],
        json!(["carol", "alice", "bob"])
    );
    assert_eq!(carols.json["messages"][0]["from"], "bob");
    assert_eq!(carols.json["messages"][0]["kind"], "system");
    assert_eq!(
        carols.json["messages"][0]["conversation"],
        "team: Ünïcode ✓"
    );
    assert_eq!(carols.json["messages"][0]["ciphertext"], "");
    assert_eq!(carols.json["messages"][1]["kind"], "file");
    assert_eq!(
        ids(&server.get("/demo/messages", Some(&alice)).await),
        [first, second]
    );
    server
        .get(&format!("/demo/messages/{third}"), Some(&alice))
        .await
        .expect(404, "not_found");
    let dave = login(&server, "dave").await;
    assert_eq!(
        ids(&server.get("/demo/messages", Some(&dave)).await),
        [third]
    );

    // Paging: `after` is the last id received, `limit` caps the page.
    let mut sent = vec![first, second];
    for i in 0..5u8 {
        let reply = post_message(&server, &alice, &["bob"], "alice+bob", "text", &[i]).await;
        reply.expect(201, "");
        sent.push(reply.json["id"].as_u64().unwrap());
    }
    let mut cursor = 0;
    let mut seen = Vec::new();
    loop {
        let page = server
            .get(
                &format!("/demo/messages?after={cursor}&limit=2"),
                Some(&bob),
            )
            .await;
        page.expect(200, "");
        let page_ids = ids(&page);
        assert!(page_ids.len() <= 2);
        let Some(last) = page_ids.last() else { break };
        cursor = *last;
        seen.extend(page_ids);
    }
    assert_eq!(seen, sent, "bob pages through everything, in order");
    let default_page = server.get("/demo/messages", Some(&bob)).await;
    assert_eq!(ids(&default_page), sent);
    let after_second = server
        .get(&format!("/demo/messages?after={second}"), Some(&bob))
        .await;
    assert_eq!(ids(&after_second), sent[2..]);
    for bad in [
        "?limit=0",
        "?limit=1001",
        "?limit=x",
        "?after=-1",
        "?after=9223372036854775808",
        "?after=1&since=2",
    ] {
        server
            .get(&format!("/demo/messages{bad}"), Some(&bob))
            .await
            .expect(400, "invalid_request");
    }
    assert_eq!(
        ids(&server.get("/demo/messages?limit=1000", Some(&bob)).await).len(),
        sent.len()
    );

    // No token, no relay.
    for (method, path) in [
        (Method::GET, "/demo/messages".to_owned()),
        (Method::GET, format!("/demo/messages/{first}")),
        (Method::GET, "/demo/users".to_owned()),
    ] {
        send(server.request(method, &path, None))
            .await
            .expect(401, "unauthorized");
    }
    send(
        server
            .request(Method::POST, "/demo/messages", None)
            .json(&json!({"to": ["bob"], "conversation": "c", "kind": "text", "ciphertext": ""})),
    )
    .await
    .expect(401, "unauthorized");
    send(
        server
            .request(Method::GET, "/demo/messages", None)
            .bearer_auth(format!("{alice}x")),
    )
    .await
    .expect(401, "unauthorized");

    // Hostile or invalid bodies: a clear 400 each.
    let many: Vec<String> = (0..1001).map(|i| format!("user{i}")).collect();
    let valid = json!({"to": ["bob"], "conversation": "c", "kind": "text", "ciphertext": "AAEC"});
    let with = |field: &str, value: Value| {
        let mut body = valid.clone();
        body[field] = value;
        body
    };
    let mut without_kind = valid.clone();
    without_kind.as_object_mut().unwrap().remove("kind");
    for (body, code) in [
        (with("kind", json!("video")), "invalid_request"),
        (with("kind", json!("Text")), "invalid_request"),
        (with("kind", json!(null)), "invalid_request"),
        (without_kind, "invalid_request"),
        (with("to", json!([])), "invalid_request"),
        (with("to", json!("bob")), "invalid_request"),
        (with("to", json!(["bob", "bob"])), "invalid_request"),
        (with("to", json!(["b o b"])), "invalid_request"),
        (with("to", json!([""])), "invalid_request"),
        (with("to", json!(many)), "too_many_items"),
        (with("conversation", json!("")), "invalid_request"),
        (
            with("conversation", json!("x".repeat(201))),
            "invalid_request",
        ),
        (
            with("conversation", json!("nul\u{0}byte")),
            "invalid_request",
        ),
        (with("conversation", json!(17)), "invalid_request"),
        (with("ciphertext", json!("AAEC==")), "invalid_request"),
        (with("ciphertext", json!("not base64!")), "invalid_request"),
        (with("ciphertext", json!([1, 2])), "invalid_request"),
        (with("from", json!("mallory")), "invalid_request"),
        (json!(null), "invalid_request"),
    ] {
        server
            .post("/demo/messages", Some(&alice), &body)
            .await
            .expect(400, code);
    }
    // At the edges: 1000 recipients, a 200-character (not byte) conversation.
    let thousand: Vec<String> = (0..1000).map(|i| format!("user{i}")).collect();
    server
        .post("/demo/messages", Some(&alice), &with("to", json!(thousand)))
        .await
        .expect(201, "");
    server
        .post(
            "/demo/messages",
            Some(&alice),
            &with("conversation", json!("é".repeat(200))),
        )
        .await
        .expect(201, "");
    let user999 = login(&server, "user999").await;
    let theirs = server.get("/demo/messages", Some(&user999)).await;
    assert_eq!(ids(&theirs).len(), 1);
    assert_eq!(
        theirs.json["messages"][0]["to"].as_array().unwrap().len(),
        1000
    );
    server.stop().await;
}

pub(crate) async fn message_size_limits(database: Database) {
    // The default limit: 16 MiB of ciphertext goes through, although it is far beyond
    // the API's usual body limit; one byte more is refused.
    let server = TestServer::start_demo(database, |_| {}).await;
    let alice = login(&server, "alice").await;
    let bob = login(&server, "bob").await;
    let largest: Vec<u8> = (0..16 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let mut ids_posted = Vec::new();
    for _ in 0..3 {
        let reply = post_message(&server, &alice, &["bob"], "files", "file", &largest).await;
        reply.expect(201, "");
        ids_posted.push(reply.json["id"].as_u64().unwrap());
    }
    let mut over = largest.clone();
    over.push(0);
    post_message(&server, &alice, &["bob"], "files", "file", &over)
        .await
        .expect(413, "payload_too_large");
    // A page carries at most 32 MiB of ciphertext, but always one message.
    let page = server.get("/demo/messages", Some(&bob)).await;
    assert_eq!(ids(&page), ids_posted[..2]);
    assert_eq!(
        unb64(page.json["messages"][1]["ciphertext"].as_str().unwrap()),
        largest
    );
    let rest = server
        .get(
            &format!("/demo/messages?after={}", ids_posted[1]),
            Some(&bob),
        )
        .await;
    assert_eq!(ids(&rest), ids_posted[2..]);
    server.stop().await;

    // A configured limit, and a body larger than the route's body limit. The bodies that
    // break the body limit stay a few KiB: the server answers 413 without reading them,
    // and a multi-MiB upload could still be writing when it closes the connection.
    let server = TestServer::start_demo(database, |config| {
        config.limits.demo_max_message_bytes = 1000;
        config.limits.max_body_bytes = 1024;
    })
    .await;
    let alice = login(&server, "alice").await;
    post_message(&server, &alice, &["bob"], "c", "text", &[7; 1000])
        .await
        .expect(201, "");
    post_message(&server, &alice, &["bob"], "c", "text", &[7; 1001])
        .await
        .expect(413, "payload_too_large");
    post_message(&server, &alice, &["bob"], "c", "text", &[7; 3000])
        .await
        .expect(413, "payload_too_large");
    // Other routes keep the usual body limit.
    server
        .post(
            "/demo/login",
            None,
            &json!({ "identity": "x".repeat(2000) }),
        )
        .await
        .expect(413, "payload_too_large");
    server.stop().await;
}

/// Many writers at once and a reader that follows with `after`: the reader sees every
/// message exactly once, in ascending order (ids are assigned in commit order).
pub(crate) async fn concurrent_posts_are_never_skipped(database: Database) {
    const WRITERS: usize = 8;
    const EACH: usize = 25;
    // The reader polls as fast as it can: no rate limits here.
    let server = std::sync::Arc::new(
        TestServer::start_demo(database, |config| {
            config.limits.identity_requests_per_second = 0;
            config.limits.address_requests_per_second = 0;
        })
        .await,
    );
    let bob = login(&server, "bob").await;
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let server = server.clone();
        let token = login(&server, &format!("writer{w}")).await;
        writers.push(async move {
            let mut ids = Vec::new();
            for i in 0..EACH {
                let reply = post_message(
                    &server,
                    &token,
                    &["bob"],
                    "race",
                    "text",
                    &[w as u8, i as u8],
                )
                .await;
                reply.expect(201, "");
                ids.push(reply.json["id"].as_u64().unwrap());
            }
            ids
        });
    }
    let reader = {
        let server = server.clone();
        tokio::spawn(async move {
            let mut cursor = 0;
            let mut seen = Vec::new();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
            while seen.len() < WRITERS * EACH {
                assert!(tokio::time::Instant::now() < deadline, "reader timed out");
                let page = server
                    .get(
                        &format!("/demo/messages?after={cursor}&limit=7"),
                        Some(&bob),
                    )
                    .await;
                page.expect(200, "");
                let page_ids = ids(&page);
                match page_ids.last() {
                    Some(last) => cursor = *last,
                    None => tokio::time::sleep(Duration::from_millis(2)).await,
                }
                seen.extend(page_ids);
            }
            seen
        })
    };
    let written: HashSet<u64> = futures_join_all(writers)
        .await
        .into_iter()
        .flatten()
        .collect();
    let seen = reader.await.unwrap();
    assert_eq!(seen.len(), WRITERS * EACH, "no message twice");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "ascending");
    assert_eq!(
        seen.into_iter().collect::<HashSet<_>>(),
        written,
        "none skipped"
    );
    std::sync::Arc::into_inner(server).unwrap().stop().await;
}

pub(crate) async fn users_lists_identities_with_cards(database: Database) {
    let server = TestServer::start_demo(database, |_| {}).await;
    let alice = login(&server, "alice").await;
    let users = server.get("/demo/users", Some(&alice)).await;
    users.expect(200, "");
    assert_eq!(users.json, json!({ "identities": [] }));
    let mut cards = std::collections::HashMap::new();
    for (identity, seed) in [
        ("zoe", 1),
        ("alice", 2),
        ("Bob", 3),
        ("carol", 4),
        ("_x", 5),
    ] {
        let token = login(&server, identity).await;
        let published = card(identity, seed, None);
        server
            .post(
                "/v1/cards",
                Some(&token),
                &json!({ "card": published.to_wire() }),
            )
            .await
            .expect(201, "");
        cards.insert(identity, published);
    }
    // carol revokes her card: no longer a contact. alice rotates: listed once.
    let carol = login(&server, "carol").await;
    let carols_card = &cards["carol"];
    server
        .post(
            &format!("/v1/cards/{}/revoke", carols_card.id().to_hex()),
            Some(&carol),
            &json!({}),
        )
        .await
        .expect(200, "");
    let rotated = card("alice", 6, Some(cards["alice"].id()));
    server
        .post(
            "/v1/cards",
            Some(&alice),
            &json!({ "card": rotated.to_wire() }),
        )
        .await
        .expect(201, "");
    let users = server.get("/demo/users", Some(&alice)).await;
    users.expect(200, "");
    // Byte order: upper case before `_` before lower case.
    assert_eq!(
        users.json,
        json!({ "identities": ["Bob", "_x", "alice", "zoe"] })
    );
    server.stop().await;
}

/// Sends one raw HTTP/1.1 request and returns the whole answer as text (for paths that
/// an HTTP client would normalise).
async fn raw_get(server: &TestServer, path: &str) -> String {
    let address = server.base.strip_prefix("http://").unwrap();
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

/// The web chat's files: index.html at `/`, content types (wasm included), nested
/// files, no caching, 404 for what is missing (no single-page-app fallback), the API's
/// paths never looked up on disk, nothing outside the directory.
pub(crate) async fn web_chat_files_are_served() {
    let root = tempfile::tempdir().unwrap();
    let web = root.path().join("web");
    std::fs::create_dir_all(web.join("assets/js")).unwrap();
    std::fs::write(web.join("index.html"), "<!doctype html><title>chat</title>").unwrap();
    let wasm = b"\0asm\x01\0\0\0";
    std::fs::write(web.join("tessera_bg.wasm"), wasm).unwrap();
    std::fs::write(web.join("assets/js/app.js"), "console.log('chat');").unwrap();
    std::fs::write(web.join("assets/style.css"), "body{}").unwrap();
    std::fs::write(web.join("v1"), "a file named like the API").unwrap();
    std::fs::write(root.path().join("secret.txt"), "outside the web directory").unwrap();

    let server = TestServer::start_demo(Database::Sqlite, |config| {
        config.demo_web_dir = Some(web.clone());
    })
    .await;
    let get = |path: &'static str| server.client.get(server.url(path)).send();

    let index = get("/").await.unwrap();
    assert_eq!(index.status(), 200);
    assert_eq!(index.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(index.headers()["cache-control"], "no-cache");
    assert_eq!(
        index.text().await.unwrap(),
        "<!doctype html><title>chat</title>"
    );
    let wasm_answer = get("/tessera_bg.wasm").await.unwrap();
    assert_eq!(wasm_answer.status(), 200);
    assert_eq!(wasm_answer.headers()["content-type"], "application/wasm");
    assert_eq!(wasm_answer.headers()["cache-control"], "no-cache");
    assert_eq!(&wasm_answer.bytes().await.unwrap()[..], wasm);
    let script = get("/assets/js/app.js").await.unwrap();
    assert_eq!(script.status(), 200);
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(script.text().await.unwrap(), "console.log('chat');");
    let style = get("/assets/style.css").await.unwrap();
    assert_eq!(style.headers()["content-type"], "text/css; charset=utf-8");
    let index_by_name = get("/index.html").await.unwrap();
    assert_eq!(index_by_name.status(), 200);

    for missing in ["/missing.js", "/assets/js/nope.js", "/chat/room/1"] {
        let reply = send(server.request(Method::GET, missing, None)).await;
        reply.expect(404, "not_found");
    }
    // The API's paths stay the API's, even where a file of that name exists.
    for api in ["/v1", "/v1/nothing", "/demo", "/demo/nothing", "/healthz/x"] {
        send(server.request(Method::GET, api, None))
            .await
            .expect(404, "not_found");
    }
    assert_eq!(server.get("/healthz", None).await.text.trim(), "ok");
    assert_eq!(server.get("/openapi.json", None).await.status, 200);
    send(server.request(Method::POST, "/index.html", None))
        .await
        .expect(405, "method_not_allowed");
    for escape in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/assets/..%2f..%2fsecret.txt",
        "/..%5csecret.txt",
    ] {
        let answer = raw_get(&server, escape).await;
        assert!(
            !answer.contains("outside the web directory"),
            "{escape}: {answer}"
        );
        assert!(!answer.starts_with("HTTP/1.1 200"), "{escape}: {answer}");
    }
    server.stop().await;

    // Demo mode without a web directory: `/` explains how to get the chat.
    let server = TestServer::start_demo(Database::Sqlite, |_| {}).await;
    let page = server.get("/", None).await;
    assert_eq!(page.status, 200);
    assert!(
        page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.text.contains("scripts/run"), "{}", page.text);
    assert!(page.text.contains("not built"), "{}", page.text);
    server
        .get("/index.html", None)
        .await
        .expect(404, "not_found");
    server.stop().await;
}

/// Without demo mode, nothing of it exists: every /demo route is 404, `/` too, and a
/// web directory is not served even when one is configured.
pub(crate) async fn without_demo_mode_nothing_is_there(database: Database) {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("index.html"), "chat").unwrap();
    let web = root.path().to_path_buf();
    let server = TestServer::start_with(database, |config| {
        config.demo_web_dir = Some(web);
    })
    .await;
    let alice = server.token("alice");
    server
        .post("/demo/login", None, &json!({ "identity": "alice" }))
        .await
        .expect(404, "not_found");
    server
        .post(
            "/demo/messages",
            Some(&alice),
            &json!({"to": ["bob"], "conversation": "c", "kind": "text", "ciphertext": ""}),
        )
        .await
        .expect(404, "not_found");
    for path in [
        "/demo/messages",
        "/demo/messages/1",
        "/demo/users",
        "/",
        "/index.html",
    ] {
        server
            .get(path, Some(&alice))
            .await
            .expect(404, "not_found");
    }
    server.stop().await;
}

/// Demo mode needs no app private key (it mints with a key of its own), refuses a listen
/// address other than loopback unless `demo_public` allows it, and refuses a web
/// directory that does not exist; each refusal says why and leaves no database behind.
pub(crate) async fn demo_mode_start_checks() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("t.db").display());
    let start = |adjust: &dyn Fn(&mut tessera_server::Config)| {
        let mut config = test_config(&database);
        config.demo = true;
        config.app_private_key_file = dir.path().join("no-such-key");
        adjust(&mut config);
        async move { tessera_server::spawn(&config).await }
    };
    let refusal =
        |outcome: Result<tessera_server::RunningServer, StartError>, what: &str| match outcome {
            Err(error) => {
                assert!(matches!(error, StartError::Demo(_)), "{error:?}");
                error.to_string()
            }
            Ok(_) => panic!("demo mode started {what}"),
        };

    for public in ["0.0.0.0:0", "192.0.2.1:0", "[::]:0", "[::ffff:10.0.0.1]:0"] {
        let text = refusal(
            start(&|config| config.listen = public.parse().unwrap()).await,
            "on a public address",
        );
        assert!(
            text.contains(&public.parse::<std::net::SocketAddr>().unwrap().to_string())
                && text.contains("loopback")
                && text.contains("--demo-public")
                && text.contains("TESSERA_DEMO_PUBLIC=true"),
            "{text}"
        );
    }
    assert!(
        !dir.path().join("t.db").exists(),
        "a refused start leaves no database behind"
    );

    let text = refusal(
        start(&|config| config.demo_web_dir = Some(dir.path().join("no-web"))).await,
        "with a missing web directory",
    );
    assert!(text.contains("no-web"), "{text}");

    // The operator's explicit opt-in: a public address is served.
    let running = start(&|config| {
        config.listen = "0.0.0.0:0".parse().unwrap();
        config.demo_public = true;
    })
    .await
    .unwrap();
    let base = format!("http://127.0.0.1:{}", running.local_addr.port());
    let login = send(
        reqwest::Client::new()
            .post(format!("{base}/demo/login"))
            .json(&json!({ "identity": "alice" })),
    )
    .await;
    login.expect(200, "");
    running.shutdown().await.unwrap();

    // On loopback (the default) no key file is needed: demo mode mints with its own key.
    let running = start(&|_| {}).await.unwrap();
    running.shutdown().await.unwrap();
}
