//! The authorization matrix: every protected endpoint refuses every kind of bad token
//! with 401 and no data, and other identities' resources answer 403 or 404.

use reqwest::Method;
use serde_json::{Value, json};
use tessera_format::{AppKey, Audience, Identity, Timestamp, TokenClaims};

use crate::harness::{Database, Reply, TestServer, b64, card, send};

struct Fixture {
    card_id: String,
    snapshot: String,
    backup_blob: String,
    ticket: String,
}

async fn alice_owns_things(server: &TestServer) -> Fixture {
    let alice = server.token("alice");
    let card = card("alice", 1, None);
    server.publish("alice", &card).await.expect(201, "");
    let backup_blob = b64(b"alice's backup blob");
    server
        .put(
            "/v1/backups/k",
            Some(&alice),
            &json!({ "blob": backup_blob }),
        )
        .await
        .expect(201, "");
    let ticket = b64(b"alice's group ticket");
    server
        .put(
            "/v1/groups/g/tickets/0",
            Some(&alice),
            &json!({ "participants": ["alice", "bob"], "ticket": ticket }),
        )
        .await
        .expect(201, "");
    Fixture {
        card_id: card.id().to_hex(),
        snapshot: b64(card.snapshot()),
        backup_blob,
        ticket,
    }
}

/// Every endpoint that needs a token, with a body that would succeed for Alice.
fn protected_endpoints(fixture: &Fixture) -> Vec<(Method, String, Option<Value>)> {
    let next = card("alice", 2, None);
    vec![
        (
            Method::POST,
            "/v1/cards".into(),
            Some(json!({ "card": next.to_wire() })),
        ),
        (
            Method::POST,
            "/v1/cards/search".into(),
            Some(json!({ "identities": ["alice"] })),
        ),
        (Method::GET, format!("/v1/cards/{}", fixture.card_id), None),
        (
            Method::POST,
            format!("/v1/cards/{}/revoke", fixture.card_id),
            Some(json!({})),
        ),
        (Method::GET, "/v1/identities/alice/cards".into(), None),
        (
            Method::POST,
            "/v1/cards/outdated".into(),
            Some(json!({ "card_ids": [fixture.card_id] })),
        ),
        (
            Method::PUT,
            "/v1/backups/k".into(),
            Some(json!({ "blob": b64(b"overwrite") })),
        ),
        (Method::GET, "/v1/backups/k".into(), None),
        (Method::DELETE, "/v1/backups/k".into(), None),
        (
            Method::PUT,
            "/v1/groups/g/tickets/1".into(),
            Some(json!({ "participants": ["alice"], "ticket": "" })),
        ),
        (Method::GET, "/v1/groups/g/tickets".into(), None),
        (Method::DELETE, "/v1/groups/g".into(), None),
    ]
}

fn jwt(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes()),
        b64(signature)
    )
}

/// Authorization header values that must all be refused.
fn bad_authorizations(server: &TestServer) -> Vec<(&'static str, Option<String>)> {
    let now = Timestamp::now().0;
    let claims = |iat: u64, exp: u64, nbf: Option<u64>, iss: &str| TokenClaims {
        iss: iss.into(),
        sub: "alice".into(),
        aud: Some(Audience::One(server.audience.clone())),
        iat,
        exp,
        nbf,
    };
    let app = &server.app_id;
    let good = server.token("alice");
    let good_parts: Vec<&str> = good.split('.').collect();
    let stranger = AppKey::from_seed([7; 32]);
    let strangers_token = stranger.mint(
        app,
        &server.audience,
        &tessera_format::Identity::new("alice").unwrap(),
        Timestamp::now(),
        600,
    );
    let strangers_parts: Vec<&str> = strangers_token.split('.').collect();
    // Stranger's claims and signature under our header (our kid): signed by the wrong key.
    let wrong_key = format!(
        "{}.{}.{}",
        good_parts[0], strangers_parts[1], strangers_parts[2]
    );
    // Bob's valid token with the subject changed to alice.
    let bobs = server.token("bob");
    let bobs_parts: Vec<&str> = bobs.split('.').collect();
    let forged_claims = b64(
        json!({ "iss": app, "sub": "alice", "aud": server.audience, "iat": now, "exp": now + 600 })
            .to_string()
            .as_bytes(),
    );
    let tampered = format!("{}.{}.{}", bobs_parts[0], forged_claims, bobs_parts[2]);
    let kid = server.app_key.kid().to_owned();
    let alice_claims =
        json!({ "iss": app, "sub": "alice", "aud": server.audience, "iat": now, "exp": now + 600 });
    let alice = Identity::new("alice").unwrap();
    let for_audience = |audience: &str| {
        server
            .app_key
            .mint(app, audience, &alice, Timestamp::now(), 600)
    };
    let without_audience = TokenClaims {
        aud: None,
        ..claims(now, now + 600, None, app)
    };
    vec![
        ("missing", None),
        ("empty bearer", Some("Bearer ".into())),
        ("basic scheme", Some("Basic YWxpY2U6cGFzc3dvcmQ=".into())),
        ("no scheme", Some(good.clone())),
        ("not a jwt", Some("Bearer not-a-token".into())),
        ("four parts", Some(format!("Bearer {good}.extra"))),
        ("garbage parts", Some("Bearer !!!.???.***".into())),
        ("too long", Some(format!("Bearer {}", "a".repeat(5000)))),
        (
            "expired",
            Some(format!(
                "Bearer {}",
                server.token_with_claims(&claims(now - 7200, now - 3600, None, app))
            )),
        ),
        (
            "not yet valid (iat)",
            Some(format!(
                "Bearer {}",
                server.token_with_claims(&claims(now + 3600, now + 4000, None, app))
            )),
        ),
        (
            "not yet valid (nbf)",
            Some(format!(
                "Bearer {}",
                server.token_with_claims(&claims(now, now + 4000, Some(now + 3600), app))
            )),
        ),
        (
            "lifetime too long",
            Some(format!(
                "Bearer {}",
                server.token_with_claims(&claims(now, now + 3 * 86_400, None, app))
            )),
        ),
        (
            "other app",
            Some(format!(
                "Bearer {}",
                server.token_with_claims(&claims(now, now + 600, None, "other-app"))
            )),
        ),
        (
            "no audience",
            Some(format!(
                "Bearer {}",
                server.token_with_claims(&without_audience)
            )),
        ),
        (
            "another deployment's audience",
            Some(format!(
                "Bearer {}",
                for_audience("tessera:other-deployment")
            )),
        ),
        (
            "another service's audience",
            Some(format!(
                "Bearer {}",
                for_audience("https://api.example.com")
            )),
        ),
        ("unknown kid", Some(format!("Bearer {strangers_token}"))),
        ("wrong key", Some(format!("Bearer {wrong_key}"))),
        ("tampered claims", Some(format!("Bearer {tampered}"))),
        (
            "alg none",
            Some(format!(
                "Bearer {}",
                jwt(
                    &json!({ "alg": "none", "typ": "JWT", "kid": kid }),
                    &alice_claims,
                    b""
                )
            )),
        ),
        (
            "alg HS256",
            Some(format!(
                "Bearer {}",
                jwt(
                    &json!({ "alg": "HS256", "typ": "JWT", "kid": kid }),
                    &alice_claims,
                    &[1; 32]
                )
            )),
        ),
        (
            "no kid",
            Some(format!(
                "Bearer {}",
                jwt(
                    &json!({ "alg": "EdDSA", "typ": "JWT" }),
                    &alice_claims,
                    &[0; 64]
                )
            )),
        ),
    ]
}

fn assert_reveals_nothing(reply: &Reply, fixture: &Fixture, what: &str) {
    for secret in [&fixture.snapshot, &fixture.backup_blob, &fixture.ticket] {
        assert!(
            !reply.text.contains(secret.as_str()),
            "{what}: leaked data: {}",
            reply.text
        );
    }
}

pub(crate) async fn every_bad_token_is_refused(database: Database) {
    let server = TestServer::start(database).await;
    let fixture = alice_owns_things(&server).await;
    let endpoints = protected_endpoints(&fixture);
    for (label, authorization) in bad_authorizations(&server) {
        for (method, path, body) in &endpoints {
            let mut request = server.request(method.clone(), path, None);
            if let Some(value) = &authorization {
                request = request.header("authorization", value);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let reply = send(request).await;
            let what = format!("{label}: {method} {path}");
            assert_eq!(reply.status, 401, "{what}: {}", reply.text);
            assert_eq!(reply.code(), "unauthorized", "{what}");
            assert_reveals_nothing(&reply, &fixture, &what);
        }
    }
    // Nothing changed.
    let alice = server.token("alice");
    let card = server
        .get(&format!("/v1/cards/{}", fixture.card_id), Some(&alice))
        .await;
    assert_eq!(card.json["card"]["status"], "active");
    let backup = server.get("/v1/backups/k", Some(&alice)).await;
    assert_eq!(backup.json["blob"], fixture.backup_blob);
    assert_eq!(backup.json["version"], 1);
    let tickets = server.get("/v1/groups/g/tickets", Some(&alice)).await;
    assert_eq!(tickets.json["tickets"].as_array().unwrap().len(), 1);
    server.stop().await;
}

pub(crate) async fn other_identities_resources_are_refused(database: Database) {
    let server = TestServer::start(database).await;
    let fixture = alice_owns_things(&server).await;
    let bob = server.token("bob");
    let mallory = server.token("mallory");

    let checks: Vec<(&str, Reply, u16, &str)> = vec![
        (
            "bob revokes alice's card",
            server
                .post(&format!("/v1/cards/{}/revoke", fixture.card_id), Some(&bob), &json!({}))
                .await,
            403,
            "forbidden",
        ),
        (
            "bob publishes a card of alice",
            server
                .post("/v1/cards", Some(&bob), &json!({ "card": card("alice", 3, Some(tessera_format::CardId::from_hex(&fixture.card_id).unwrap())).to_wire() }))
                .await,
            403,
            "forbidden",
        ),
        ("bob reads alice's backup", server.get("/v1/backups/k", Some(&bob)).await, 404, "not_found"),
        ("bob deletes alice's backup", server.delete("/v1/backups/k", Some(&bob)).await, 404, "not_found"),
        (
            "bob adds a ticket to alice's group",
            server
                .put("/v1/groups/g/tickets/1", Some(&bob), &json!({ "participants": ["bob"], "ticket": "" }))
                .await,
            403,
            "forbidden",
        ),
        ("bob deletes alice's group", server.delete("/v1/groups/g", Some(&bob)).await, 403, "forbidden"),
        ("mallory lists alice's group", server.get("/v1/groups/g/tickets", Some(&mallory)).await, 404, "not_found"),
        ("mallory deletes alice's group", server.delete("/v1/groups/g", Some(&mallory)).await, 404, "not_found"),
    ];
    for (what, reply, status, code) in checks {
        assert_eq!(
            (reply.status, reply.code()),
            (status, code),
            "{what}: {}",
            reply.text
        );
        assert_reveals_nothing(&reply, &fixture, what);
    }
    // Bob's own namespace is separate: his write does not touch Alice's backup.
    server
        .put(
            "/v1/backups/k",
            Some(&bob),
            &json!({ "blob": b64(b"bob's") }),
        )
        .await
        .expect(201, "");
    let alices = server
        .get("/v1/backups/k", Some(&server.token("alice")))
        .await;
    assert_eq!(alices.json["blob"], fixture.backup_blob);
    server.stop().await;
}

/// During an app key rotation the server accepts tokens of every configured key, and
/// only those.
pub(crate) async fn every_configured_app_key_is_accepted(database: Database) {
    let new_key = AppKey::from_seed([43; 32]);
    let public = tessera_server::AppPublicKey(new_key.public_key());
    let server = TestServer::start_with(database, |config| {
        config.app_public_keys.push(public);
    })
    .await;
    let alice = Identity::new("alice").unwrap();
    let old_token = server.token("alice");
    let mint = |key: &AppKey| {
        key.mint(
            &server.app_id,
            &server.audience,
            &alice,
            Timestamp::now(),
            600,
        )
    };
    let new_token = mint(&new_key);
    let retired = mint(&AppKey::from_seed([44; 32]));
    for token in [&old_token, &new_token] {
        server
            .get("/v1/identities/alice/cards", Some(token))
            .await
            .expect(200, "");
    }
    server
        .get("/v1/identities/alice/cards", Some(&retired))
        .await
        .expect(401, "unauthorized");
    server.stop().await;
}

/// Two deployments of one app share its app key (production and staging, say), each with
/// its own audience. A token correctly signed with the app key but minted for the other
/// deployment, or for no audience at all, is refused with 401 and a message naming this
/// server's audience; a token whose `aud` array names both is accepted by both.
pub(crate) async fn tokens_for_another_audience_are_refused(database: Database) {
    const STAGING: &str = "tessera:tessera-test-app:staging";
    let production = TestServer::start(database).await;
    let staging = TestServer::start_with(database, |config| {
        config.audience = STAGING.to_owned();
    })
    .await;
    assert_eq!(production.audience, "tessera:tessera-test-app");
    assert_eq!(production.app_id, staging.app_id);
    assert_eq!(production.app_key.kid(), staging.app_key.kid());

    let path = "/v1/identities/alice/cards";
    let staging_token = staging.token("alice");
    staging
        .get(path, Some(&staging_token))
        .await
        .expect(200, "");
    let refused = production.get(path, Some(&staging_token)).await;
    refused.expect(401, "unauthorized");
    let message = refused.json["message"].as_str().unwrap();
    assert!(
        message.contains("not meant for this server")
            && message.contains("\"tessera:tessera-test-app\""),
        "{message}"
    );
    assert!(!message.contains(STAGING), "{message}");
    production
        .get(path, Some(&production.token("alice")))
        .await
        .expect(200, "");
    let reverse = staging.get(path, Some(&production.token("alice"))).await;
    reverse.expect(401, "unauthorized");
    assert!(
        reverse.json["message"].as_str().unwrap().contains(STAGING),
        "{}",
        reverse.text
    );

    let now = Timestamp::now().0;
    let claims = |aud: Option<Audience>| TokenClaims {
        iss: production.app_id.clone(),
        sub: "alice".into(),
        aud,
        iat: now,
        exp: now + 600,
        nbf: None,
    };
    let unaddressed = production.token_with_claims(&claims(None));
    for server in [&production, &staging] {
        let reply = server.get(path, Some(&unaddressed)).await;
        reply.expect_saying(401, "unauthorized", "no aud claim");
    }
    let both = production.token_with_claims(&claims(Some(Audience::Several(vec![
        STAGING.to_owned(),
        production.audience.clone(),
    ]))));
    for server in [&production, &staging] {
        server.get(path, Some(&both)).await.expect(200, "");
    }
    production.stop().await;
    staging.stop().await;
}
