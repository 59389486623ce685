//! Several replicas on one PostgreSQL database: each keeps a search cache, and a card
//! write through one replica reaches the others' searches within the documented bound
//! (`MAX_STALENESS`, docs/SERVER.md "Search cache on PostgreSQL"), also across a lost
//! listener connection.

use std::{
    str::FromStr,
    sync::Arc,
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use sqlx::{Connection, postgres::PgConnectOptions};
use tessera_format::{Card, Identity, Timestamp};
use tessera_server::{
    server::{AppState, serve},
    storage::{
        DEFAULT_SEARCH_CACHE_CAPACITY, Storage,
        postgres::{
            PostgresStorage,
            search_cache::{LISTENER_APPLICATION_NAME, MAX_STALENESS},
        },
    },
};
use tokio::{net::TcpListener, sync::Notify, task::JoinHandle};

use crate::harness::{
    Database, FreshDatabase, POSTGRES_URL_VARIABLE, card, fresh_database, random_card, send,
    test_app_key, test_config,
};

/// One tessera-server replica on a loopback port, with a handle on its storage.
struct Replica {
    base: String,
    storage: PostgresStorage,
    client: reqwest::Client,
    stop: Arc<Notify>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Replica {
    async fn start(url: &str) -> Self {
        Self::start_with_pool(url, 4).await
    }

    /// A replica whose pool has `max_connections` connections. With one, a request
    /// waits for the previous one's connection rather than opening another.
    async fn start_with_pool(url: &str, max_connections: u32) -> Self {
        let mut config = test_config(url);
        // These tests search in tight loops from one identity and one address.
        config.limits.identity_requests_per_second = 0;
        config.limits.address_requests_per_second = 0;
        let storage = PostgresStorage::connect(url, max_connections, DEFAULT_SEARCH_CACHE_CAPACITY)
            .await
            .unwrap();
        let state = AppState::new(&config, Arc::new(storage.clone()), None).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let stop = Arc::new(Notify::new());
        let signal = {
            let stop = stop.clone();
            async move { stop.notified().await }
        };
        let task = tokio::spawn(serve(listener, state, signal, Duration::from_secs(5)));
        Self {
            base,
            storage,
            client: reqwest::Client::new(),
            stop,
            task,
        }
    }

    async fn shutdown(self) {
        self.stop.notify_one();
        self.task.await.unwrap().unwrap();
    }

    fn token(identity: &str) -> String {
        test_app_key().mint(
            "tessera-test-app",
            "tessera:tessera-test-app",
            &Identity::new(identity).unwrap(),
            Timestamp::now(),
            1200,
        )
    }

    async fn post(&self, path: &str, identity: &str, body: &Value) -> crate::harness::Reply {
        send(
            self.client
                .post(format!("{}{path}", self.base))
                .bearer_auth(Self::token(identity))
                .json(body),
        )
        .await
    }

    async fn publish(&self, card: &Card) {
        let identity = card.identity().as_str();
        self.post("/v1/cards", identity, &json!({ "card": card.to_wire() }))
            .await
            .expect(201, "");
    }

    async fn revoke(&self, card: &Card) {
        let identity = card.identity().as_str();
        self.post(
            &format!("/v1/cards/{}/revoke", card.id().to_hex()),
            identity,
            &json!({}),
        )
        .await
        .expect(200, "");
    }

    /// The id of `identity`'s active card by this replica's search, or None.
    async fn active_card(&self, identity: &str) -> Option<String> {
        let reply = self.search(identity).await;
        reply.expect(200, "");
        let cards = reply.json["cards"].as_array().unwrap();
        assert!(cards.len() <= 1, "{}", reply.text);
        cards.first().map(|c| c["id"].as_str().unwrap().to_owned())
    }

    async fn search(&self, identity: &str) -> crate::harness::Reply {
        self.post(
            "/v1/cards/search",
            "searcher",
            &json!({ "identities": [identity] }),
        )
        .await
    }

    /// Waits until the search cache answers (listener connected and proven current).
    async fn wait_until_cache_is_current(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !self.storage.search_cache_is_current() {
            assert!(
                Instant::now() < deadline,
                "the search cache did not become current within 15 s"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Polls this replica's search until it answers `expected` for `identity`, asserting
    /// the freshness rule: every search that started more than `MAX_STALENESS` after
    /// `written` (a moment after the write committed) sees the write. Returns how long
    /// it took.
    async fn wait_for(
        &self,
        identity: &str,
        expected: Option<String>,
        written: Instant,
    ) -> Duration {
        loop {
            let started = Instant::now();
            if self.active_card(identity).await == expected {
                return started.duration_since(written);
            }
            assert!(
                started.duration_since(written) <= MAX_STALENESS,
                "a search that started {:?} after the write still missed it (bound {:?})",
                started.duration_since(written),
                MAX_STALENESS
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

async fn admin_connection() -> sqlx::PgConnection {
    let admin_url = std::env::var(POSTGRES_URL_VARIABLE).unwrap();
    sqlx::PgConnection::connect_with(&PgConnectOptions::from_str(&admin_url).unwrap())
        .await
        .unwrap()
}

/// Refuses new connections to database `name` and terminates those whose application
/// name is `application_name`; one `true` per terminated connection.
async fn cut_off(admin: &mut sqlx::PgConnection, name: &str, application_name: &str) -> Vec<bool> {
    allow_connections(admin, name, false).await;
    sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = $1 AND application_name = $2",
    )
    .bind(name)
    .bind(application_name)
    .fetch_all(admin)
    .await
    .unwrap()
}

async fn allow_connections(admin: &mut sqlx::PgConnection, name: &str, allow: bool) {
    sqlx::query(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS {allow}"))
        .execute(admin)
        .await
        .unwrap();
}

fn database_name(fresh: &FreshDatabase) -> String {
    fresh.url.rsplit('/').next().unwrap().to_owned()
}

async fn drop_database(name: &str) {
    let mut admin = admin_connection().await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
}

/// Publish, rotation and revocation through replica A reach replica B's (cached)
/// searches within the bound; B sees its own writes at once.
pub(crate) async fn writes_reach_other_replicas_within_the_bound() {
    let fresh = fresh_database(Database::Postgres).await;
    let a = Replica::start(&fresh.url).await;
    let b = Replica::start(&fresh.url).await;
    a.wait_until_cache_is_current().await;
    b.wait_until_cache_is_current().await;

    // B caches "alice has no card".
    assert_eq!(b.active_card("alice").await, None);
    assert_eq!(b.active_card("alice").await, None);

    let first = card("alice", 1, None);
    a.publish(&first).await;
    let delay = b
        .wait_for("alice", Some(first.id().to_hex()), Instant::now())
        .await;
    eprintln!("publish through A seen by B after {delay:?}");

    let second = card("alice", 2, Some(first.id()));
    a.publish(&second).await;
    let delay = b
        .wait_for("alice", Some(second.id().to_hex()), Instant::now())
        .await;
    eprintln!("rotation through A seen by B after {delay:?}");

    a.revoke(&second).await;
    let delay = b.wait_for("alice", None, Instant::now()).await;
    eprintln!("revocation through A seen by B after {delay:?}");

    // A replica's own writes: visible to its next search, with nothing to wait for.
    assert_eq!(b.active_card("bob").await, None);
    let bob = random_card("bob", None);
    b.publish(&bob).await;
    assert_eq!(b.active_card("bob").await, Some(bob.id().to_hex()));
    a.wait_for("bob", Some(bob.id().to_hex()), Instant::now())
        .await;
    assert!(a.storage.search_cache_is_current());
    assert!(b.storage.search_cache_is_current());

    a.shutdown().await;
    b.shutdown().await;
    drop_database(&database_name(&fresh)).await;
}

/// Rotations through A race B's searches (cache fills) for the same identities; once
/// the writes stop, B answers every identity's true active card within the bound. A
/// cache that stored reads which raced an eviction would keep a superseded card.
pub(crate) async fn racing_searches_never_keep_a_superseded_card() {
    const IDENTITIES: usize = 6;
    const ROTATIONS: usize = 25;
    let fresh = fresh_database(Database::Postgres).await;
    let a = Arc::new(Replica::start(&fresh.url).await);
    let b = Arc::new(Replica::start(&fresh.url).await);
    a.wait_until_cache_is_current().await;
    b.wait_until_cache_is_current().await;
    let names: Vec<String> = (0..IDENTITIES).map(|i| format!("racer{i}")).collect();

    let writing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let mut searchers = Vec::new();
    for _ in 0..3 {
        let b = b.clone();
        let names = names.clone();
        let writing = writing.clone();
        searchers.push(tokio::spawn(async move {
            let mut searches = 0u64;
            while writing.load(std::sync::atomic::Ordering::SeqCst) {
                for name in &names {
                    b.active_card(name).await;
                    searches += 1;
                }
            }
            searches
        }));
    }
    let mut latest = Vec::new();
    for name in &names {
        let mut previous = None;
        for _ in 0..ROTATIONS {
            let next = random_card(name, previous);
            a.publish(&next).await;
            previous = Some(next.id());
        }
        latest.push(previous.unwrap().to_hex());
    }
    writing.store(false, std::sync::atomic::Ordering::SeqCst);
    let mut searches = 0;
    for searcher in searchers {
        searches += searcher.await.unwrap();
    }
    eprintln!(
        "{searches} searches on B raced {} rotations on A",
        IDENTITIES * ROTATIONS
    );

    let written = Instant::now();
    tokio::time::sleep(MAX_STALENESS + Duration::from_millis(50)).await;
    assert!(b.storage.search_cache_is_current());
    for (name, expected) in names.iter().zip(&latest) {
        // Twice: the first may fill the cache, the second is answered from it.
        for _ in 0..2 {
            assert_eq!(
                b.active_card(name).await.as_deref(),
                Some(expected.as_str()),
                "{name} {:?} after the last write",
                written.elapsed()
            );
        }
    }

    Arc::into_inner(a).unwrap().shutdown().await;
    Arc::into_inner(b).unwrap().shutdown().await;
    drop_database(&database_name(&fresh)).await;
}

/// The listener connections are terminated (`pg_terminate_backend`) and cannot come
/// back for a while; a card is published meanwhile, so its notification is lost. The
/// replicas stop answering from their caches, answer from the database (correctly),
/// and once the listeners are back they start from empty caches.
pub(crate) async fn a_lost_listener_bypasses_then_resets_the_cache() {
    let fresh = fresh_database(Database::Postgres).await;
    let name = database_name(&fresh);
    // One pool connection each: nothing needs a new connection while they are refused.
    let a = Replica::start_with_pool(&fresh.url, 1).await;
    let b = Replica::start_with_pool(&fresh.url, 1).await;
    a.wait_until_cache_is_current().await;
    b.wait_until_cache_is_current().await;
    // Both cache "carol has no card".
    assert_eq!(a.active_card("carol").await, None);
    assert_eq!(b.active_card("carol").await, None);

    let mut admin = admin_connection().await;
    let terminated = cut_off(&mut admin, &name, LISTENER_APPLICATION_NAME).await;
    assert_eq!(terminated, vec![true, true], "one listener per replica");

    // The loss is noticed promptly (at the latest when the last tick is older than the
    // bound); the listeners cannot reconnect yet.
    let deadline = Instant::now() + MAX_STALENESS + Duration::from_millis(200);
    while a.storage.search_cache_is_current() || b.storage.search_cache_is_current() {
        assert!(
            Instant::now() < deadline,
            "a replica kept answering from its cache after losing its listener"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // Nobody listens: this notification is lost for both replicas.
    let first = card("carol", 1, None);
    a.publish(&first).await;
    assert_eq!(b.active_card("carol").await, Some(first.id().to_hex()));
    assert_eq!(a.active_card("carol").await, Some(first.id().to_hex()));
    assert!(!b.storage.search_cache_is_current());

    allow_connections(&mut admin, &name, true).await;
    a.wait_until_cache_is_current().await;
    b.wait_until_cache_is_current().await;
    let listeners: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = $2",
    )
    .bind(&name)
    .bind(LISTENER_APPLICATION_NAME)
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(listeners, 2);
    admin.close().await.unwrap();

    // The caches were emptied: the "no card" answered before the loss is gone.
    assert_eq!(b.active_card("carol").await, Some(first.id().to_hex()));
    assert_eq!(a.active_card("carol").await, Some(first.id().to_hex()));
    // And they follow writes again.
    let second = card("carol", 2, Some(first.id()));
    a.publish(&second).await;
    b.wait_for("carol", Some(second.id().to_hex()), Instant::now())
        .await;

    a.shutdown().await;
    b.shutdown().await;
    drop_database(&name).await;
}

/// A current cache answers searches of identities it holds even when the database is
/// out of reach; identities it does not hold need the database.
pub(crate) async fn a_current_cache_answers_without_the_database() {
    let fresh = fresh_database(Database::Postgres).await;
    let name = database_name(&fresh);
    let a = Replica::start(&fresh.url).await;
    a.wait_until_cache_is_current().await;
    let dave = card("dave", 1, None);
    a.publish(&dave).await;
    // The publish's own notification evicts dave again when it arrives. Once the cache is
    // current more than the bound after the publish, it has arrived.
    tokio::time::sleep(MAX_STALENESS + Duration::from_millis(200)).await;
    assert!(a.storage.search_cache_is_current());
    assert_eq!(a.active_card("dave").await, Some(dave.id().to_hex()));
    assert_eq!(a.active_card("erin").await, None);

    // Close the pool's connections and refuse new ones; the listener and the ticker,
    // which keep the cache current, stay connected.
    let mut admin = admin_connection().await;
    let terminated = cut_off(&mut admin, &name, "tessera-server").await;
    assert!(!terminated.is_empty() && terminated.iter().all(|t| *t));
    assert!(a.storage.search_cache_is_current());
    assert_eq!(a.active_card("dave").await, Some(dave.id().to_hex()));
    assert_eq!(a.active_card("erin").await, None);
    a.search("frank").await.expect(500, "internal");

    allow_connections(&mut admin, &name, true).await;
    admin.close().await.unwrap();
    a.shutdown().await;
    drop_database(&name).await;
}

/// With the cache disabled (capacity 0) a replica always asks the database.
pub(crate) async fn a_disabled_cache_never_answers() {
    let fresh = fresh_database(Database::Postgres).await;
    let a = Replica::start(&fresh.url).await;
    let b = PostgresStorage::connect(&fresh.url, 2, 0).await.unwrap();
    let alice = Identity::new("alice").unwrap();
    assert!(
        b.search_active_cards(std::slice::from_ref(&alice))
            .await
            .unwrap()
            .is_empty()
    );
    let first = card("alice", 1, None);
    a.publish(&first).await;
    let found = b
        .search_active_cards(std::slice::from_ref(&alice))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, first.id());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!b.search_cache_is_current());
    b.close().await;
    a.shutdown().await;
    drop_database(&database_name(&fresh)).await;
}
