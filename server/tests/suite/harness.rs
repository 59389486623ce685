//! Test harness: a real tessera-server on a random 127.0.0.1 port, backed by a fresh
//! SQLite file or a fresh PostgreSQL database, and a real HTTP client.
//!
//! PostgreSQL comes from `TESSERA_TEST_POSTGRES_URL` (scripts/test starts a private
//! instance and sets it). Without it the PostgreSQL tests fail: they are never skipped.

use std::{path::PathBuf, str::FromStr};

use reqwest::{Method, RequestBuilder, header::HeaderMap};
use serde_json::{Value, json};
use sqlx::{Connection, Executor, postgres::PgConnectOptions};
use tempfile::TempDir;
use tessera_format::{
    AppKey, Card, CardId, Identity, IdentityKeyPair, RootSecret, Timestamp, TokenClaims,
};
use tessera_server::{AppPublicKey, Config, RunningServer};

/// The environment variable naming the PostgreSQL server the tests create databases on.
pub(crate) const POSTGRES_URL_VARIABLE: &str = "TESSERA_TEST_POSTGRES_URL";

/// Which database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Database {
    Sqlite,
    Postgres,
}

/// A fresh, empty database of the given kind: its URL and what keeps it alive.
pub(crate) struct FreshDatabase {
    pub(crate) url: String,
    /// Holds the SQLite file; removed on drop.
    _dir: TempDir,
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).unwrap();
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Creates an empty database (a temporary SQLite file, or a new PostgreSQL database).
pub(crate) async fn fresh_database(kind: Database) -> FreshDatabase {
    let dir = tempfile::tempdir().unwrap();
    let url = match kind {
        Database::Sqlite => format!("sqlite://{}", dir.path().join("tessera.db").display()),
        Database::Postgres => {
            let admin_url = std::env::var(POSTGRES_URL_VARIABLE).unwrap_or_else(|_| {
                panic!(
                    "{POSTGRES_URL_VARIABLE} is not set. The PostgreSQL tests need a server: \
                     run scripts/test (it starts a private PostgreSQL), or set the variable to \
                     postgres://USER:PASSWORD@127.0.0.1:PORT/postgres"
                )
            });
            let name = format!("tessera_test_{}", random_hex(8));
            let options = PgConnectOptions::from_str(&admin_url).unwrap();
            let mut admin = sqlx::PgConnection::connect_with(&options).await.unwrap();
            admin
                .execute(format!("CREATE DATABASE {name}").as_str())
                .await
                .unwrap();
            admin.close().await.unwrap();
            let (base, _) = admin_url
                .split_once('?')
                .map_or((admin_url.as_str(), ""), |(b, q)| (b, q));
            let (server, _) = base.rsplit_once('/').unwrap();
            format!("{server}/{name}")
        }
    };
    FreshDatabase { url, _dir: dir }
}

/// A running server and a client for it.
pub(crate) struct TestServer {
    pub(crate) base: String,
    pub(crate) app_key: AppKey,
    pub(crate) app_id: String,
    pub(crate) audience: String,
    pub(crate) client: reqwest::Client,
    pub(crate) database_url: String,
    running: Option<RunningServer>,
    _database: FreshDatabase,
}

/// The app key every test server accepts.
pub(crate) fn test_app_key() -> AppKey {
    AppKey::from_seed([42; 32])
}

/// A configuration for `url` with the test app key, listening on a random port, with
/// the default limits.
pub(crate) fn test_config(url: &str) -> Config {
    let key = test_app_key();
    let mut config = Config::new(
        "tessera-test-app",
        vec![AppPublicKey(key.public_key())],
        &PathBuf::new(),
    );
    config.database_url = url.to_owned();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.shutdown_grace_seconds = 5;
    config
}

impl TestServer {
    /// A server with the default configuration.
    pub(crate) async fn start(database: Database) -> Self {
        Self::start_with(database, |_| {}).await
    }

    /// A server whose configuration `adjust` changes first (e.g. low limits).
    pub(crate) async fn start_with(database: Database, adjust: impl FnOnce(&mut Config)) -> Self {
        let fresh = fresh_database(database).await;
        let mut config = test_config(&fresh.url);
        adjust(&mut config);
        let running = tessera_server::spawn(&config).await.unwrap();
        let base = format!("http://{}", running.local_addr);
        Self {
            base,
            app_key: test_app_key(),
            app_id: config.app_id.clone(),
            audience: config.audience.clone(),
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()
                .unwrap(),
            database_url: fresh.url.clone(),
            running: Some(running),
            _database: fresh,
        }
    }

    /// A server in demo mode, with whatever `adjust` changes (e.g. a web directory). It
    /// accepts only the tokens of its own login, not those of [`TestServer::token`].
    pub(crate) async fn start_demo(database: Database, adjust: impl FnOnce(&mut Config)) -> Self {
        Self::start_with(database, |config| {
            config.demo = true;
            adjust(config);
        })
        .await
    }

    /// Stops the server gracefully and drops its PostgreSQL database (so a developer's
    /// own PostgreSQL does not fill up with test databases).
    pub(crate) async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await.unwrap();
        }
        if self.database_url.starts_with("postgres") {
            let admin_url = std::env::var(POSTGRES_URL_VARIABLE).unwrap();
            let name = self.database_url.rsplit('/').next().unwrap().to_owned();
            let options = PgConnectOptions::from_str(&admin_url).unwrap();
            let mut admin = sqlx::PgConnection::connect_with(&options).await.unwrap();
            admin
                .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                .await
                .unwrap();
            admin.close().await.unwrap();
        }
    }

    /// A valid 20-minute token for `identity`.
    pub(crate) fn token(&self, identity: &str) -> String {
        self.app_key.mint(
            &self.app_id,
            &self.audience,
            &Identity::new(identity).unwrap(),
            Timestamp::now(),
            1200,
        )
    }

    /// A token with arbitrary claims signed by the test app key.
    pub(crate) fn token_with_claims(&self, claims: &TokenClaims) -> String {
        self.app_key.sign_claims(claims)
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub(crate) fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
    ) -> RequestBuilder {
        let builder = self.client.request(method, self.url(path));
        match token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    pub(crate) async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        send(self.request(Method::GET, path, token)).await
    }

    pub(crate) async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        send(self.request(Method::POST, path, token).json(body)).await
    }

    pub(crate) async fn put(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        send(self.request(Method::PUT, path, token).json(body)).await
    }

    pub(crate) async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        send(self.request(Method::DELETE, path, token)).await
    }

    /// Publishes `card` as `identity`.
    pub(crate) async fn publish(&self, identity: &str, card: &Card) -> Reply {
        self.post(
            "/v1/cards",
            Some(&self.token(identity)),
            &json!({ "card": card.to_wire() }),
        )
        .await
    }
}

/// An answer: status, headers, and the body as JSON (Null when it is not JSON).
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) text: String,
    pub(crate) json: Value,
}

impl Reply {
    /// The error `code` of an error body.
    pub(crate) fn code(&self) -> &str {
        self.json["code"].as_str().unwrap_or("")
    }

    /// Asserts the status and, for errors, a JSON body with this code.
    #[track_caller]
    pub(crate) fn expect(&self, status: u16, code: &str) -> &Self {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        assert_eq!(
            self.code(),
            code,
            "unexpected error code; body: {}",
            self.text
        );
        if !code.is_empty() {
            assert!(
                self.json["message"].as_str().is_some_and(|m| !m.is_empty()),
                "an error needs a message: {}",
                self.text
            );
        }
        self
    }

    /// [`Reply::expect`], and the error message says `fragment`.
    #[track_caller]
    pub(crate) fn expect_saying(&self, status: u16, code: &str, fragment: &str) -> &Self {
        self.expect(status, code);
        assert!(
            self.json["message"]
                .as_str()
                .is_some_and(|m| m.contains(fragment)),
            "the message does not say {fragment:?}: {}",
            self.text
        );
        self
    }
}

pub(crate) async fn send(builder: RequestBuilder) -> Reply {
    let response = builder.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        text,
        json,
    }
}

/// Deterministic identity keys from a seed byte.
pub(crate) fn keys(seed: u8) -> IdentityKeyPair {
    IdentityKeyPair::from_root_secret(RootSecret::from_bytes([seed; 32]))
}

/// A card for `identity` made now with `seed`'s keys, replacing `previous`.
pub(crate) fn card(identity: &str, seed: u8, previous: Option<CardId>) -> Card {
    Card::create(
        &keys(seed),
        Identity::new(identity).unwrap(),
        Timestamp::now(),
        previous,
    )
    .unwrap()
}

/// A card for `identity` whose X25519 key is `encryption` (someone else's, say) and whose
/// Ed25519 key is `signer`'s: what a card that copies another user's encryption key looks
/// like. Built from docs/FORMAT.md §3.1–3.2, since nothing in Tessera makes such a card.
pub(crate) fn card_with_encryption_key(identity: &str, signer: u8, encryption: [u8; 32]) -> Card {
    let signing_key = ed25519_dalek::SigningKey::from_bytes(&[signer; 32]);
    let mut snapshot = b"TSCD\x01".to_vec();
    snapshot.push(identity.len() as u8);
    snapshot.extend_from_slice(identity.as_bytes());
    snapshot.extend_from_slice(signing_key.verifying_key().as_bytes());
    snapshot.extend_from_slice(&encryption);
    snapshot.extend_from_slice(&Timestamp::now().0.to_be_bytes());
    snapshot.push(0);
    let signature = ed25519_dalek::Signer::sign(
        &signing_key,
        &[b"tessera/v1/card-self-signature\0".as_slice(), &snapshot].concat(),
    );
    Card::from_parts(&snapshot, &signature.to_bytes()).unwrap()
}

/// A card made with fresh random keys.
pub(crate) fn random_card(identity: &str, previous: Option<CardId>) -> Card {
    Card::create(
        &IdentityKeyPair::generate().unwrap(),
        Identity::new(identity).unwrap(),
        Timestamp::now(),
        previous,
    )
    .unwrap()
}

/// base64url without padding.
pub(crate) fn b64(bytes: &[u8]) -> String {
    use base64ct::{Base64UrlUnpadded, Encoding};
    Base64UrlUnpadded::encode_string(bytes)
}

/// Decodes base64url without padding.
pub(crate) fn unb64(text: &str) -> Vec<u8> {
    use base64ct::{Base64UrlUnpadded, Encoding};
    Base64UrlUnpadded::decode_vec(text).unwrap()
}
