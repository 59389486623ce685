//! Health, readiness, metrics, the OpenAPI document, unknown paths and methods.

use serde_json::Value;

use crate::harness::{Database, TestServer, card};

/// Every path of docs/API.md, as the OpenAPI document must list it.
pub(crate) const API_PATHS: &[(&str, &[&str])] = &[
    ("/v1/cards", &["post"]),
    ("/v1/cards/search", &["post"]),
    ("/v1/cards/{id}", &["get"]),
    ("/v1/cards/{id}/revoke", &["post"]),
    ("/v1/identities/{identity}/cards", &["get"]),
    ("/v1/cards/outdated", &["post"]),
    ("/v1/backups/{name}", &["put", "get", "delete"]),
    ("/v1/groups/{group_id}/tickets/{epoch}", &["put"]),
    ("/v1/groups/{group_id}/tickets", &["get"]),
    ("/v1/groups/{group_id}", &["delete"]),
    ("/v1/log/head", &["get"]),
    ("/v1/log", &["get"]),
    ("/healthz", &["get"]),
    ("/readyz", &["get"]),
    ("/metrics", &["get"]),
    ("/openapi.json", &["get"]),
    // Demo only: present in demo mode (docs/SERVER.md "Demo mode").
    ("/demo/login", &["post"]),
    ("/demo/messages", &["post", "get"]),
    ("/demo/messages/{id}", &["get"]),
    ("/demo/users", &["get"]),
];

pub(crate) async fn operations_endpoints_answer(database: Database) {
    let server = TestServer::start(database).await;
    let health = server.get("/healthz", None).await;
    assert_eq!((health.status, health.text.trim()), (200, "ok"));
    let ready = server.get("/readyz", None).await;
    assert_eq!(ready.status, 200);

    server
        .publish("alice", &card("alice", 1, None))
        .await
        .expect(201, "");
    let metrics = server.get("/metrics", None).await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    assert!(metrics.text.contains(
        "tessera_http_requests_total{route=\"/v1/cards\",method=\"POST\",status=\"201\"} 1"
    ));
    assert!(metrics.text.contains("tessera_http_request_duration_seconds_bucket{route=\"/v1/cards\",method=\"POST\",le=\"+Inf\"} 1"));
    assert!(!metrics.text.contains("alice"), "no identities in metrics");

    // Two searches for one identity with a card and one without: each lookup is counted
    // once, by where its answer came from.
    let token = server.token("bob");
    for _ in 0..2 {
        server
            .post(
                "/v1/cards/search",
                Some(&token),
                &serde_json::json!({ "identities": ["alice", "nobody"] }),
            )
            .await
            .expect(200, "");
    }
    let metrics = server.get("/metrics", None).await.text;
    let [hits, misses, bypassed] = ["hit", "miss", "bypass"].map(|result| {
        let line = format!("tessera_search_cache_lookups_total{{result=\"{result}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&line)?.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no {result} count in /metrics"))
    });
    assert_eq!(hits + misses + bypassed, 4);
    match database {
        // SQLite's cache is exact at once: the first search fills, the second hits.
        Database::Sqlite => assert_eq!((hits, misses, bypassed), (2, 2, 0)),
        // PostgreSQL's answers only once its listener has proven itself current, which
        // may not yet be the case just after start.
        Database::Postgres => assert!(hits <= misses, "a hit follows a miss: {metrics}"),
    }

    let openapi = server.get("/openapi.json", None).await;
    assert_eq!(openapi.status, 200);
    assert_eq!(
        openapi.json["openapi"].as_str().unwrap().get(..2),
        Some("3.")
    );
    let paths = openapi.json["paths"].as_object().unwrap();
    for (path, methods) in API_PATHS {
        let item = paths
            .get(*path)
            .unwrap_or_else(|| panic!("openapi.json lacks {path}"));
        for method in *methods {
            assert!(
                item.get(*method).is_some(),
                "openapi.json lacks {method} {path}"
            );
        }
    }
    assert_eq!(
        paths.len(),
        API_PATHS.len(),
        "openapi.json lists unknown paths"
    );
    check_refs_resolve(&openapi.json, &openapi.json);

    server
        .get("/v2/nothing", None)
        .await
        .expect(404, "not_found");
    server
        .delete("/v1/log", None)
        .await
        .expect(405, "method_not_allowed");
    server.stop().await;
}

/// Every `$ref` in the document points at something that exists.
fn check_refs_resolve(document: &Value, node: &Value) {
    match node {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                let pointer = reference.strip_prefix('#').unwrap();
                assert!(
                    document.pointer(pointer).is_some(),
                    "dangling $ref {reference}"
                );
            }
            map.values().for_each(|v| check_refs_resolve(document, v));
        }
        Value::Array(items) => items.iter().for_each(|v| check_refs_resolve(document, v)),
        _ => {}
    }
}

/// The PostgreSQL database goes away: /readyz says 503, /healthz still 200, and a
/// request that needs the database gets a JSON 500 instead of hanging or crashing.
/// (PostgreSQL only: an SQLite file cannot go away under open connections.)
pub(crate) async fn readiness_follows_the_database() {
    let server = TestServer::start(Database::Postgres).await;
    assert_eq!(server.get("/readyz", None).await.status, 200);
    let admin_url = std::env::var(crate::harness::POSTGRES_URL_VARIABLE).unwrap();
    let name = server.database_url.rsplit('/').next().unwrap().to_owned();
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
        .await
        .unwrap();
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
    server.get("/readyz", None).await.expect(503, "unavailable");
    server
        .get("/v1/log/head", None)
        .await
        .expect(500, "internal");
    assert_eq!(server.get("/healthz", None).await.status, 200);
    server.stop().await;
}

/// CORS: none by default; with `cors_allowed_origins`, preflights from a listed origin are
/// answered with what the client SDKs send (Authorization, JSON, If-Match), answers carry
/// the origin, and other origins get no CORS headers (so browsers block them).
pub(crate) async fn cors_follows_the_configured_origins() {
    let preflight = |server: &TestServer, origin: &str| {
        server
            .client
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/v1/cards/search", server.base),
            )
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
    };
    let allowed = |response: &reqwest::Response| {
        response
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_owned())
    };

    let closed = TestServer::start(Database::Sqlite).await;
    let answer = preflight(&closed, "http://app.example").await.unwrap();
    assert_eq!(allowed(&answer), None);
    let health = closed
        .client
        .get(format!("{}/healthz", closed.base))
        .header("origin", "http://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(allowed(&health), None);
    closed.stop().await;

    let open = TestServer::start_with(Database::Sqlite, |config| {
        config.cors_allowed_origins =
            vec!["http://app.example".into(), "https://b.example:8443".into()];
    })
    .await;
    let answer = preflight(&open, "http://app.example").await.unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
    assert_eq!(allowed(&answer).as_deref(), Some("http://app.example"));
    let headers = answer.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        headers.contains("authorization") && headers.contains("content-type"),
        "{headers}"
    );
    let methods = answer.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_owned();
    for method in ["GET", "POST", "PUT", "DELETE"] {
        assert!(methods.contains(method), "{methods}");
    }
    assert_eq!(
        allowed(&preflight(&open, "https://b.example:8443").await.unwrap()).as_deref(),
        Some("https://b.example:8443")
    );
    assert_eq!(
        allowed(&preflight(&open, "http://evil.example").await.unwrap()),
        None
    );
    // A real request from an allowed page: the answer names the origin, errors included.
    let search = open
        .client
        .post(format!("{}/v1/cards/search", open.base))
        .header("origin", "http://app.example")
        .json(&serde_json::json!({ "identities": ["alice"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(search.status(), 401);
    assert_eq!(allowed(&search).as_deref(), Some("http://app.example"));
    open.stop().await;

    let any = TestServer::start_with(Database::Sqlite, |config| {
        config.cors_allowed_origins = vec!["*".into()];
    })
    .await;
    assert_eq!(
        allowed(&preflight(&any, "http://anything.example").await.unwrap()).as_deref(),
        Some("*")
    );
    any.stop().await;
}
