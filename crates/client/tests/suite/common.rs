//! Shared set-up of the client integration tests: the real tessera-server in-process on
//! 127.0.0.1 with a random port and SQLite in a temporary directory, tokens minted with an
//! app key the way an app's backend would, and devices with in-memory key stores.
#![allow(dead_code, unreachable_pub)] // Each test file uses a different part.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // Test code: failures should panic.

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

use tessera_client::{
    Config, InMemoryKeyStore, KeyChangedListener, PlatformError, Tessera, TokenProvider,
};

use tessera_format::{Identity, Timestamp, jwt::AppKey};

pub const APP_ID: &str = "tessera-client-tests";

/// The audience of the test server: the default for [`APP_ID`].
pub fn audience() -> String {
    tessera_format::jwt::default_audience(APP_ID)
}

/// A running server and the app key its tokens are minted with.
pub struct TestServer {
    pub url: String,
    pub port: u16,
    app_key: Arc<AppKey>,
    running: Option<tessera_server::RunningServer>,
    _dir: tempfile::TempDir,
}

/// Where scripts/test puts the URL of its private PostgreSQL (an admin connection).
pub const POSTGRES_URL_VARIABLE: &str = "TESSERA_TEST_POSTGRES_URL";

impl TestServer {
    /// The server on SQLite in a temporary directory.
    pub async fn start() -> Self {
        Self::start_on(None).await
    }

    /// The server on a new, empty PostgreSQL database of the instance at
    /// `$TESSERA_TEST_POSTGRES_URL`, or `None` when the variable is not set.
    pub async fn start_postgres() -> Option<Self> {
        use sqlx::{Connection, Executor};
        let admin_url = std::env::var(POSTGRES_URL_VARIABLE).ok()?;
        let mut name = [0u8; 8];
        getrandom::fill(&mut name).unwrap();
        let name = format!("tessera_client_{}", hex::encode(name));
        let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap();
        admin.close().await.unwrap();
        let base = admin_url.split('?').next().unwrap();
        let (instance, _) = base.rsplit_once('/').unwrap();
        Some(Self::start_on(Some(format!("{instance}/{name}"))).await)
    }

    async fn start_on(database_url: Option<String>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let app_key = Arc::new(AppKey::generate().unwrap());
        let mut config = tessera_server::Config::new(
            APP_ID,
            vec![tessera_server::AppPublicKey(app_key.public_key())],
            &dir.path().join("tessera.db"),
        );
        if let Some(url) = database_url {
            config.database_url = url;
        }
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.shutdown_grace_seconds = 2;
        // The tests make thousands of calls in seconds from one address.
        config.limits.identity_requests_per_second = 0;
        config.limits.address_requests_per_second = 0;
        let running = tessera_server::spawn(&config).await.unwrap();
        let port = running.local_addr.port();
        Self {
            url: format!("http://127.0.0.1:{port}"),
            port,
            app_key,
            running: Some(running),
            _dir: dir,
        }
    }

    pub fn tokens(&self, identity: &str) -> Arc<TestTokens> {
        Arc::new(TestTokens::new(self.app_key.clone(), identity))
    }

    /// A new device (empty key store) of `identity`.
    pub async fn device(&self, identity: &str) -> Device {
        self.device_with_store(identity, Arc::new(InMemoryKeyStore::new()))
            .await
    }

    /// A device of `identity` over an existing key store.
    pub async fn device_with_store(&self, identity: &str, store: Arc<InMemoryKeyStore>) -> Device {
        let tokens = self.tokens(identity);
        let changes = Arc::new(ChangeLog::default());
        let config = Config::new(&self.url, store.clone(), tokens.clone())
            .with_key_changed_listener(changes.clone());
        let tessera = Tessera::initialize(config).await.unwrap();
        Device {
            tessera,
            store,
            tokens,
            changes,
        }
    }

    /// A registered device.
    pub async fn registered(&self, identity: &str) -> Device {
        let device = self.device(identity).await;
        device.tessera.register().await.unwrap();
        device
    }

    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await.unwrap();
        }
    }
}

/// One device of one user.
pub struct Device {
    pub tessera: Tessera,
    pub store: Arc<InMemoryKeyStore>,
    pub tokens: Arc<TestTokens>,
    pub changes: Arc<ChangeLog>,
}

/// The app backend's token endpoint: mints a 20-minute token per call. Can be told to
/// hand out a token the server rejects first, or to fail (as offline).
pub struct TestTokens {
    key: Arc<AppKey>,
    identity: Identity,
    pub calls: AtomicUsize,
    pub rejected_next: AtomicBool,
    pub offline: AtomicBool,
}

impl TestTokens {
    pub fn new(key: Arc<AppKey>, identity: &str) -> Self {
        Self {
            key,
            identity: Identity::new(identity).unwrap(),
            calls: AtomicUsize::new(0),
            rejected_next: AtomicBool::new(false),
            offline: AtomicBool::new(false),
        }
    }
}

#[async_trait::async_trait]
impl TokenProvider for TestTokens {
    async fn token(&self) -> Result<String, PlatformError> {
        if self.offline.load(Ordering::SeqCst) {
            return Err(PlatformError::new("the app backend is unreachable"));
        }
        self.calls.fetch_add(1, Ordering::SeqCst);
        let now = Timestamp::now();
        if self.rejected_next.swap(false, Ordering::SeqCst) {
            // Valid-looking to the client, but signed by a key the server does not know.
            let stranger = AppKey::from_seed([0x55; 32]);
            return Ok(stranger.mint(APP_ID, &audience(), &self.identity, now, 1200));
        }
        Ok(self
            .key
            .mint(APP_ID, &audience(), &self.identity, now, 1200))
    }
}

/// Records key-changed notifications.
#[derive(Default)]
pub struct ChangeLog {
    pub identities: std::sync::Mutex<Vec<String>>,
}

impl ChangeLog {
    pub fn seen(&self) -> Vec<String> {
        self.identities.lock().unwrap().clone()
    }
}

impl KeyChangedListener for ChangeLog {
    fn key_changed(&self, identity: &Identity) -> Result<(), PlatformError> {
        self.identities
            .lock()
            .unwrap()
            .push(identity.as_str().to_owned());
        Ok(())
    }
}
