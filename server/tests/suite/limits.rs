//! Limits (413, 400 too_many_items, 429) and hostile input: clear errors, and the server
//! keeps serving.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{Database, TestServer, b64, card, send, unb64};

pub(crate) async fn size_and_batch_limits(database: Database) {
    let server = TestServer::start_with(database, |config| {
        config.limits.max_body_bytes = 1024;
        config.limits.max_ticket_body_bytes = 4096;
        config.limits.max_batch_items = 10;
        config.limits.max_backup_bytes = 100;
        config.limits.max_ticket_bytes = 2500;
    })
    .await;
    let alice = server.token("alice");

    let big: Vec<String> = (0..200).map(|i| format!("identity-{i}")).collect();
    server
        .post(
            "/v1/cards/search",
            Some(&alice),
            &json!({ "identities": big }),
        )
        .await
        .expect(413, "payload_too_large");
    // Without Content-Length (chunked), the limit still holds.
    let address = server.base.strip_prefix("http://").unwrap().to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let mut request = format!(
        "POST /v1/cards/search HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {alice}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    for _ in 0..8 {
        request.push_str(&format!("200\r\n{}\r\n", " ".repeat(0x200)));
    }
    request.push_str("0\r\n\r\n");
    let _ = stream.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload_too_large"), "{answer}");

    let eleven: Vec<String> = (0..11).map(|i| format!("u{i}")).collect();
    server
        .post(
            "/v1/cards/search",
            Some(&alice),
            &json!({ "identities": eleven }),
        )
        .await
        .expect(400, "too_many_items");
    server
        .put(
            "/v1/backups/k",
            Some(&alice),
            &json!({ "blob": b64(&[1; 101]) }),
        )
        .await
        .expect(413, "payload_too_large");
    // Ticket uploads have their own, larger body limit.
    server
        .put(
            "/v1/groups/g/tickets/0",
            Some(&alice),
            &json!({ "participants": ["alice"], "ticket": b64(&[2; 2400]) }),
        )
        .await
        .expect(201, "");
    server
        .put(
            "/v1/groups/g/tickets/1",
            Some(&alice),
            &json!({ "participants": ["alice"], "ticket": b64(&[2; 2600]) }),
        )
        .await
        .expect(413, "payload_too_large");
    server
        .put(
            "/v1/groups/g/tickets/1",
            Some(&alice),
            &json!({ "participants": ["alice"], "ticket": b64(&[2; 3500]) }),
        )
        .await
        .expect(413, "payload_too_large");
    server.stop().await;
}

pub(crate) async fn rate_limits_answer_429(database: Database) {
    let server = TestServer::start_with(database, |config| {
        config.limits.identity_requests_per_second = 1;
        config.limits.identity_burst = 3;
        config.limits.address_requests_per_second = 0;
    })
    .await;
    let alice = server.token("alice");
    for _ in 0..3 {
        server
            .get("/v1/identities/alice/cards", Some(&alice))
            .await
            .expect(200, "");
    }
    let limited = server.get("/v1/identities/alice/cards", Some(&alice)).await;
    limited.expect(429, "rate_limited");
    let retry_after: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after));
    // Another identity is not affected; after the wait Alice may go on.
    server
        .get("/v1/identities/alice/cards", Some(&server.token("bob")))
        .await
        .expect(200, "");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    server
        .get("/v1/identities/alice/cards", Some(&alice))
        .await
        .expect(200, "");
    server.stop().await;

    let server = TestServer::start_with(database, |config| {
        config.limits.address_requests_per_second = 1;
        config.limits.address_burst = 5;
    })
    .await;
    for _ in 0..5 {
        server.get("/v1/log/head", None).await.expect(200, "");
    }
    let limited = server.get("/v1/log/head", None).await;
    limited.expect(429, "rate_limited");
    assert!(limited.headers.contains_key("retry-after"));
    // Unauthenticated floods count too.
    server
        .get("/v1/backups/k", None)
        .await
        .expect(429, "rate_limited");
    // Operations endpoints are not limited.
    assert_eq!(server.get("/healthz", None).await.status, 200);
    let metrics = server.get("/metrics", None).await;
    assert!(
        metrics
            .text
            .contains("tessera_rate_limited_total{scope=\"address\"} 2")
    );
    server.stop().await;
}

pub(crate) async fn hostile_input_gets_clear_errors(database: Database) {
    let server = TestServer::start(database).await;
    let alice = server.token("alice");
    let raw = |path: &str, body: Vec<u8>| {
        send(
            server
                .request(Method::POST, path, Some(&alice))
                .header("content-type", "application/json")
                .body(body),
        )
    };
    let nested = format!(
        "{{\"identities\": {}{}}}",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"{".to_vec(),
        b"\xff\xfe\x00garbage".to_vec(),
        b"null".to_vec(),
        b"{\"identities\": \"alice\"}".to_vec(),
        b"{\"identities\": [1, 2]}".to_vec(),
        b"{\"identities\": [\"a\\u0000b\"]}".to_vec(),
        b"{\"identities\": [\"alice\"]} trailing".to_vec(),
        nested.into_bytes(),
        format!("{{\"identities\": [\"{}\"]}}", "x".repeat(200)).into_bytes(),
    ];
    for body in bodies {
        let reply = raw("/v1/cards/search", body).await;
        reply.expect(400, "invalid_request");
    }
    for body in [
        b"{\"card\": {\"snapshot\": 12, \"signature\": []}}".to_vec(),
        b"{\"card\": {\"snapshot\": \"VFNDRAE\", \"signature\": \"\"}}".to_vec(),
    ] {
        let reply = raw("/v1/cards", body).await;
        assert_eq!(reply.status, 400, "{}", reply.text);
    }
    // Garbage that is not HTTP at all, then a request line with a huge header.
    let address = server.base.strip_prefix("http://").unwrap().to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    stream
        .write_all(b"\x16\x03\x01garbage\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let huge_header = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(1 << 20)
    );
    let _ = stream.write_all(huge_header.as_bytes()).await;
    drop(stream);
    // Still serving.
    assert_eq!(server.get("/healthz", None).await.status, 200);
    server
        .post(
            "/v1/cards/search",
            Some(&alice),
            &json!({ "identities": ["alice"] }),
        )
        .await
        .expect(200, "");
    server.stop().await;
}

pub(crate) async fn hostile_headers_are_refused_cleanly(database: Database) {
    let server = TestServer::start(database).await;
    let alice = server.token("alice");
    server
        .put(
            "/v1/backups/k",
            Some(&alice),
            &json!({ "blob": b64(b"one") }),
        )
        .await
        .expect(201, "");
    // ETags beyond the stored versions' range: a failed precondition, never a 500.
    for huge in [
        "\"9223372036854775808\"",
        "\"18446744073709551615\"",
        "9223372036854775808",
    ] {
        let put = server
            .request(Method::PUT, "/v1/backups/k", Some(&alice))
            .header("if-match", huge)
            .json(&json!({ "blob": b64(b"two") }));
        send(put).await.expect(412, "version_mismatch");
        let delete = server
            .request(Method::DELETE, "/v1/backups/k", Some(&alice))
            .header("if-match", huge);
        send(delete).await.expect(412, "version_mismatch");
    }
    let kept = server.get("/v1/backups/k", Some(&alice)).await;
    assert_eq!(unb64(kept.json["blob"].as_str().unwrap()), b"one");

    // Two Authorization headers: which one a proxy would have used is unknowable.
    let twice = server
        .request(Method::GET, "/v1/identities/alice/cards", Some(&alice))
        .header("authorization", format!("Bearer {}", server.token("bob")));
    send(twice).await.expect(400, "invalid_request");

    // An unknown member inside the card object, on an otherwise valid card.
    let first = card("alice", 1, None);
    let mut wire = serde_json::to_value(first.to_wire()).unwrap();
    wire["note"] = json!("extra");
    server
        .post("/v1/cards", Some(&alice), &json!({ "card": wire }))
        .await
        .expect(400, "invalid_request");
    server.publish("alice", &first).await.expect(201, "");
    server.stop().await;
}

pub(crate) async fn ipv6_clients_share_their_64_budget(database: Database) {
    let server = TestServer::start_with(database, |config| {
        config.trust_forwarded_for = true;
        config.limits.address_requests_per_second = 1;
        config.limits.address_burst = 2;
    })
    .await;
    let from = |address: &str| {
        send(
            server
                .request(Method::GET, "/v1/log/head", None)
                .header("x-forwarded-for", address.to_owned()),
        )
    };
    from("2001:db8:1:2::1").await.expect(200, "");
    from("2001:db8:1:2::2").await.expect(200, "");
    // A third address of the same /64 gets no budget of its own.
    from("2001:db8:1:2:ffff:ffff:ffff:ffff")
        .await
        .expect(429, "rate_limited");
    from("2001:db8:1:3::1").await.expect(200, "");
    server.stop().await;
}

pub(crate) async fn half_sent_requests_are_cut_off(database: Database) {
    let server = TestServer::start_with(database, |config| {
        config.limits.header_read_timeout_seconds = 1;
    })
    .await;
    let address = server.base.strip_prefix("http://").unwrap().to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    let closed =
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    assert!(
        closed.is_ok(),
        "a connection that never finished its header was still open after 10 s"
    );
    assert!(started.elapsed() >= Duration::from_millis(500));
    // Complete requests are served as before.
    assert_eq!(server.get("/healthz", None).await.status, 200);
    server.stop().await;
}
