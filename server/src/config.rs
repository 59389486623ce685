//! Configuration: the data directory's `config.toml`, overridden by `TESSERA_*`
//! environment variables, overridden by command-line flags. docs/SERVER.md lists every
//! setting; [`ENVIRONMENT_VARIABLES`] is the same list in code.

use std::{
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
};

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Name of the configuration file in the data directory.
pub const CONFIG_FILE_NAME: &str = "config.toml";
/// Name of the app private key file in the data directory.
pub const APP_KEY_FILE_NAME: &str = "app-key.secret";
/// Name of the SQLite database file in the data directory.
pub const SQLITE_FILE_NAME: &str = "tessera.db";
/// Address the API listens on unless configured otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Every environment variable the server reads, with what it sets.
pub const ENVIRONMENT_VARIABLES: &[(&str, &str)] = &[
    (
        "TESSERA_DATA_DIR",
        "data directory (default ./tessera-data)",
    ),
    ("TESSERA_APP_ID", "app id: the `iss` that tokens must carry"),
    (
        "TESSERA_AUDIENCE",
        "this server's audience: the `aud` that tokens must name (default tessera:<app id>)",
    ),
    (
        "TESSERA_APP_PUBLIC_KEYS",
        "accepted app public keys, base64url, separated by commas",
    ),
    (
        "TESSERA_APP_PRIVATE_KEY_FILE",
        "app private key file, for the `token` command only (never read by `serve`)",
    ),
    ("TESSERA_LISTEN", "address and port of the API"),
    ("TESSERA_DATABASE_URL", "sqlite://PATH or postgres://…"),
    (
        "TESSERA_DATABASE_MAX_CONNECTIONS",
        "database connections per server process",
    ),
    (
        "TESSERA_SEARCH_CACHE_CAPACITY",
        "identities in the PostgreSQL search cache (0: no cache)",
    ),
    (
        "TESSERA_TRUST_FORWARDED_FOR",
        "true behind a load balancer that sets X-Forwarded-For",
    ),
    (
        "TESSERA_CORS_ALLOWED_ORIGINS",
        "browser origins allowed to call the API (CORS), separated by commas; * for any",
    ),
    (
        "TESSERA_SHUTDOWN_GRACE_SECONDS",
        "how long shutdown waits for in-flight requests",
    ),
    (
        "TESSERA_TOKEN_LEEWAY_SECONDS",
        "clock skew allowed on tokens",
    ),
    (
        "TESSERA_TOKEN_MAX_LIFETIME_SECONDS",
        "longest accepted token lifetime",
    ),
    ("TESSERA_MAX_BODY_BYTES", "request body limit"),
    (
        "TESSERA_MAX_TICKET_BODY_BYTES",
        "request body limit of group ticket uploads",
    ),
    (
        "TESSERA_MAX_BATCH_ITEMS",
        "identities or card ids per batch",
    ),
    ("TESSERA_MAX_BACKUP_BYTES", "size of one backup blob"),
    ("TESSERA_MAX_TICKET_BYTES", "size of one group ticket"),
    (
        "TESSERA_MAX_GROUP_PARTICIPANTS",
        "participants of one group epoch",
    ),
    (
        "TESSERA_IDENTITY_REQUESTS_PER_SECOND",
        "sustained request rate per identity (0: unlimited)",
    ),
    ("TESSERA_IDENTITY_BURST", "request burst per identity"),
    (
        "TESSERA_ADDRESS_REQUESTS_PER_SECOND",
        "sustained request rate per client address (0: unlimited)",
    ),
    ("TESSERA_ADDRESS_BURST", "request burst per client address"),
    (
        "TESSERA_HEADER_READ_TIMEOUT_SECONDS",
        "seconds a connection may take to send a request header",
    ),
    (
        "TESSERA_DEMO_MAX_MESSAGE_BYTES",
        "size of one demo message's ciphertext",
    ),
    (
        "TESSERA_DEMO",
        "true: demo mode (INSECURE: anyone can sign in as anyone)",
    ),
    (
        "TESSERA_DEMO_WEB_DIR",
        "directory of the web chat that demo mode serves",
    ),
    (
        "TESSERA_DEMO_PUBLIC",
        "true: demo mode may listen on an address other than loopback",
    ),
    (
        "TESSERA_LOG",
        "log filter, e.g. info or tessera_server=debug",
    ),
    ("TESSERA_LOG_FORMAT", "text (default) or json"),
];

/// Why the configuration could not be loaded.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// `config.toml` is not valid.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// The parser's explanation.
        message: String,
    },
    /// A setting has an invalid value or is missing.
    #[error("setting {setting}: {reason}")]
    Invalid {
        /// The setting (config key or environment variable).
        setting: String,
        /// What is wrong and what to do.
        reason: String,
    },
}

fn invalid(setting: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting: setting.to_owned(),
        reason: reason.into(),
    }
}

/// Size, batch and rate limits (docs/SERVER.md "Limits").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest request body, in bytes (except group ticket uploads).
    pub max_body_bytes: usize,
    /// Largest body of `PUT /v1/groups/{id}/tickets/{epoch}`, in bytes.
    pub max_ticket_body_bytes: usize,
    /// Most identities in a search or card ids in an outdated check.
    pub max_batch_items: usize,
    /// Largest backup blob, in bytes (decoded).
    pub max_backup_bytes: usize,
    /// Largest group ticket, in bytes (decoded).
    pub max_ticket_bytes: usize,
    /// Most participants in one group epoch.
    pub max_group_participants: usize,
    /// Sustained requests per second per authenticated identity; 0 disables the limit.
    pub identity_requests_per_second: u32,
    /// Requests an identity may make at once above the sustained rate.
    pub identity_burst: u32,
    /// Sustained requests per second per client address; 0 disables the limit.
    pub address_requests_per_second: u32,
    /// Requests an address may make at once above the sustained rate.
    pub address_burst: u32,
    /// Largest ciphertext of one demo message, in bytes (decoded); demo mode only.
    pub demo_max_message_bytes: usize,
    /// Seconds a connection may take to send a request's complete header.
    pub header_read_timeout_seconds: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            max_ticket_body_bytes: 8 * 1024 * 1024,
            max_batch_items: 1000,
            max_backup_bytes: 64 * 1024,
            max_ticket_bytes: 2 * 1024 * 1024,
            max_group_participants: 10_000,
            identity_requests_per_second: 50,
            identity_burst: 500,
            address_requests_per_second: 500,
            address_burst: 5000,
            demo_max_message_bytes: 16 * 1024 * 1024,
            header_read_timeout_seconds: 30,
        }
    }
}

/// An Ed25519 app public key accepted for tokens.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AppPublicKey(pub [u8; 32]);

impl AppPublicKey {
    /// Parses the base64url (unpadded) text form.
    pub fn from_text(text: &str) -> Result<Self, String> {
        let bytes = Base64UrlUnpadded::decode_vec(text.trim())
            .map_err(|_| "an app public key is 43 characters of base64url".to_owned())?;
        <[u8; 32]>::try_from(bytes)
            .map(Self)
            .map_err(|_| "an app public key is 32 bytes".to_owned())
    }

    /// The base64url (unpadded) text form.
    pub fn to_text(&self) -> String {
        Base64UrlUnpadded::encode_string(&self.0)
    }
}

impl fmt::Debug for AppPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AppPublicKey({})", self.to_text())
    }
}

/// The server's effective configuration. Its `Debug` output hides the database password.
#[derive(Clone)]
pub struct Config {
    /// The app id: tokens must carry it as `iss`.
    pub app_id: String,
    /// This server's audience: tokens must name it in `aud`, so that a token minted for
    /// another server or another service of the app is refused. Default
    /// `tessera:<app id>` ([`tessera_format::jwt::default_audience`]).
    pub audience: String,
    /// Accepted app public keys (several during a key rotation).
    pub app_public_keys: Vec<AppPublicKey>,
    /// The app private key file (used by the `token` command only; `serve` never reads
    /// it, not even in demo mode).
    pub app_private_key_file: PathBuf,
    /// Where the API listens.
    pub listen: SocketAddr,
    /// `sqlite://PATH` or `postgres://…`.
    pub database_url: String,
    /// Database connections per process (SQLite: reader connections).
    pub database_max_connections: u32,
    /// Identities whose active card each PostgreSQL replica caches for searches (0: no
    /// cache); docs/SERVER.md "Search cache on PostgreSQL".
    pub search_cache_capacity: usize,
    /// Take the client address from the last `X-Forwarded-For` entry (behind a proxy).
    pub trust_forwarded_for: bool,
    /// Browser origins (`https://app.example.com`) whose pages may call the API (CORS);
    /// `*` allows any origin. Empty (the default): no CORS headers, so browsers allow only
    /// pages served from the server's own origin.
    pub cors_allowed_origins: Vec<String>,
    /// How long shutdown waits for in-flight requests before giving up.
    pub shutdown_grace_seconds: u64,
    /// Clock skew allowed on token times.
    pub token_leeway_seconds: u64,
    /// Longest accepted `exp - iat`.
    pub token_max_lifetime_seconds: u64,
    /// Size, batch and rate limits.
    pub limits: Limits,
    /// Demo mode (docs/SERVER.md "Demo mode"): `POST /demo/login` mints a token for any
    /// identity. Insecure by design; set only by `--demo` or `TESSERA_DEMO`, never by
    /// `config.toml`, so a copied configuration cannot turn it on.
    pub demo: bool,
    /// In demo mode, the web chat's files, served for every path outside the API.
    pub demo_web_dir: Option<PathBuf>,
    /// Demo mode may listen on an address other than loopback. Like `demo`, set only by
    /// `--demo-public` or `TESSERA_DEMO_PUBLIC`, never by `config.toml`.
    pub demo_public: bool,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("app_id", &self.app_id)
            .field("audience", &self.audience)
            .field("app_public_keys", &self.app_public_keys)
            .field("app_private_key_file", &self.app_private_key_file)
            .field("listen", &self.listen)
            .field("database_url", &redact_password(&self.database_url))
            .field("database_max_connections", &self.database_max_connections)
            .field("search_cache_capacity", &self.search_cache_capacity)
            .field("trust_forwarded_for", &self.trust_forwarded_for)
            .field("cors_allowed_origins", &self.cors_allowed_origins)
            .field("shutdown_grace_seconds", &self.shutdown_grace_seconds)
            .field("token_leeway_seconds", &self.token_leeway_seconds)
            .field(
                "token_max_lifetime_seconds",
                &self.token_max_lifetime_seconds,
            )
            .field("limits", &self.limits)
            .field("demo", &self.demo)
            .field("demo_web_dir", &self.demo_web_dir)
            .field("demo_public", &self.demo_public)
            .finish()
    }
}

/// A database URL with the password (if any) replaced by `***`, for diagnostics.
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}{path}")
        }
        None => url.to_owned(),
    }
}

impl Config {
    /// A configuration for `app_id` and `keys` with every other setting at its default,
    /// and an SQLite database at `sqlite_path` (for tests and embedding).
    pub fn new(app_id: &str, keys: Vec<AppPublicKey>, sqlite_path: &Path) -> Self {
        Self {
            app_id: app_id.to_owned(),
            audience: tessera_format::jwt::default_audience(app_id),
            app_public_keys: keys,
            app_private_key_file: PathBuf::from(APP_KEY_FILE_NAME),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: format!("sqlite://{}", sqlite_path.display()),
            database_max_connections: 8,
            search_cache_capacity: crate::storage::DEFAULT_SEARCH_CACHE_CAPACITY,
            trust_forwarded_for: false,
            cors_allowed_origins: Vec::new(),
            shutdown_grace_seconds: 30,
            token_leeway_seconds: tessera_format::jwt::DEFAULT_LEEWAY_SECONDS,
            token_max_lifetime_seconds: tessera_format::jwt::DEFAULT_MAX_LIFETIME_SECONDS,
            limits: Limits::default(),
            demo: false,
            demo_web_dir: None,
            demo_public: false,
        }
    }

    /// Loads `data_dir/config.toml` (optional when the environment supplies the app id
    /// and keys) and applies overrides from `env` (normally [`std::env::var`]).
    pub fn load(
        data_dir: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let path = data_dir.join(CONFIG_FILE_NAME);
        let file = match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str::<ConfigFile>(&text).map_err(|e| ConfigError::File {
                path: path.clone(),
                message: e.message().to_owned(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => ConfigFile::default(),
            Err(source) => return Err(ConfigError::Io { path, source }),
        };
        let in_data_dir = |p: &str| {
            let p = Path::new(p);
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                data_dir.join(p)
            }
        };

        let app_id = env("TESSERA_APP_ID").or(file.app_id).ok_or_else(|| {
            invalid(
                "app_id",
                format!(
                    "no app id: run `tessera-server init` or set TESSERA_APP_ID ({} not found)",
                    path.display()
                ),
            )
        })?;
        if app_id.is_empty() {
            return Err(invalid("app_id", "must not be empty"));
        }
        let audience = env("TESSERA_AUDIENCE")
            .or(file.audience)
            .unwrap_or_else(|| tessera_format::jwt::default_audience(&app_id));
        check_audience(&audience)?;
        let key_texts = match env("TESSERA_APP_PUBLIC_KEYS") {
            Some(list) => list
                .split([',', ' ', '\n'])
                .filter(|k| !k.is_empty())
                .map(str::to_owned)
                .collect(),
            None => file.app_public_keys.unwrap_or_default(),
        };
        let app_public_keys = key_texts
            .iter()
            .map(|k| AppPublicKey::from_text(k).map_err(|e| invalid("app_public_keys", e)))
            .collect::<Result<Vec<_>, _>>()?;
        if app_public_keys.is_empty() {
            return Err(invalid(
                "app_public_keys",
                "no accepted app public key: set app_public_keys or TESSERA_APP_PUBLIC_KEYS",
            ));
        }
        let app_private_key_file = match env("TESSERA_APP_PRIVATE_KEY_FILE") {
            Some(p) => PathBuf::from(p),
            None => in_data_dir(
                file.app_private_key_file
                    .as_deref()
                    .unwrap_or(APP_KEY_FILE_NAME),
            ),
        };
        let listen_text = env("TESSERA_LISTEN")
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen = listen_text.parse().map_err(|_| {
            invalid(
                "listen",
                format!("{listen_text:?} is not an IP:port address"),
            )
        })?;
        // A relative SQLite path in config.toml is relative to the data directory, so the
        // directory can be moved as a whole; in the environment it is relative to the
        // working directory, as any path given on a command line.
        let database_url = match env("TESSERA_DATABASE_URL") {
            Some(url) => url,
            None => match file.database_url {
                Some(url) => match crate::storage::sqlite::path_of_url(&url) {
                    Some(p) => format!("sqlite://{}", in_data_dir(p).display()),
                    None => url,
                },
                None => format!("sqlite://{}", data_dir.join(SQLITE_FILE_NAME).display()),
            },
        };

        let cors_allowed_origins = match env("TESSERA_CORS_ALLOWED_ORIGINS") {
            Some(list) => list
                .split([',', ' ', '\n'])
                .filter(|o| !o.is_empty())
                .map(str::to_owned)
                .collect(),
            None => file.cors_allowed_origins.unwrap_or_default(),
        };
        for origin in &cors_allowed_origins {
            check_origin(origin)?;
        }

        let defaults = Config::new(&app_id, Vec::new(), Path::new(""));
        let mut limits = file.limits.unwrap_or_default();
        override_limits(&mut limits, &env)?;
        Ok(Config {
            app_id,
            audience,
            app_public_keys,
            app_private_key_file,
            listen,
            database_url,
            database_max_connections: number(
                &env,
                "TESSERA_DATABASE_MAX_CONNECTIONS",
                file.database_max_connections,
                defaults.database_max_connections,
            )?,
            search_cache_capacity: number(
                &env,
                "TESSERA_SEARCH_CACHE_CAPACITY",
                file.search_cache_capacity,
                defaults.search_cache_capacity,
            )?,
            trust_forwarded_for: boolean(
                &env,
                "TESSERA_TRUST_FORWARDED_FOR",
                file.trust_forwarded_for,
                false,
            )?,
            cors_allowed_origins,
            shutdown_grace_seconds: number(
                &env,
                "TESSERA_SHUTDOWN_GRACE_SECONDS",
                file.shutdown_grace_seconds,
                defaults.shutdown_grace_seconds,
            )?,
            token_leeway_seconds: number(
                &env,
                "TESSERA_TOKEN_LEEWAY_SECONDS",
                file.token_leeway_seconds,
                defaults.token_leeway_seconds,
            )?,
            token_max_lifetime_seconds: number(
                &env,
                "TESSERA_TOKEN_MAX_LIFETIME_SECONDS",
                file.token_max_lifetime_seconds,
                defaults.token_max_lifetime_seconds,
            )?,
            limits,
            demo: boolean(&env, "TESSERA_DEMO", None, false)?,
            demo_web_dir: env("TESSERA_DEMO_WEB_DIR")
                .filter(|dir| !dir.is_empty())
                .map(PathBuf::from),
            demo_public: boolean(&env, "TESSERA_DEMO_PUBLIC", None, false)?,
        })
    }
}

/// An audience is a non-empty string without control characters; tokens name it
/// exactly (docs/FORMAT.md §6 compares it byte for byte).
fn check_audience(audience: &str) -> Result<(), ConfigError> {
    if audience.is_empty() || audience.chars().any(char::is_control) {
        return Err(invalid(
            "audience",
            "must be a non-empty string without control characters, e.g. tessera:<app id>",
        ));
    }
    Ok(())
}

/// An allowed CORS origin is `*` or exactly what browsers send in `Origin`:
/// `scheme://host[:port]`, without a path or a trailing slash.
fn check_origin(origin: &str) -> Result<(), ConfigError> {
    if origin == "*" {
        return Ok(());
    }
    let host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    match host {
        Some(host)
            if !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c)) =>
        {
            Ok(())
        }
        _ => Err(invalid(
            "cors_allowed_origins",
            format!(
                "{origin:?} is not an origin: write scheme://host[:port] as the browser sends \
                 it (no path, no trailing slash), or * for any origin"
            ),
        )),
    }
}

fn number<T: std::str::FromStr>(
    env: &impl Fn(&str) -> Option<String>,
    variable: &str,
    from_file: Option<T>,
    default: T,
) -> Result<T, ConfigError> {
    match env(variable) {
        Some(text) => text
            .trim()
            .parse()
            .map_err(|_| invalid(variable, format!("{text:?} is not a valid number"))),
        None => Ok(from_file.unwrap_or(default)),
    }
}

fn boolean(
    env: &impl Fn(&str) -> Option<String>,
    variable: &str,
    from_file: Option<bool>,
    default: bool,
) -> Result<bool, ConfigError> {
    match env(variable).as_deref().map(str::trim) {
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(other) => Err(invalid(variable, format!("{other:?} is not true or false"))),
        None => Ok(from_file.unwrap_or(default)),
    }
}

fn override_limits(
    limits: &mut Limits,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    limits.max_body_bytes = number(env, "TESSERA_MAX_BODY_BYTES", None, limits.max_body_bytes)?;
    limits.max_ticket_body_bytes = number(
        env,
        "TESSERA_MAX_TICKET_BODY_BYTES",
        None,
        limits.max_ticket_body_bytes,
    )?;
    limits.max_batch_items = number(env, "TESSERA_MAX_BATCH_ITEMS", None, limits.max_batch_items)?;
    limits.max_backup_bytes = number(
        env,
        "TESSERA_MAX_BACKUP_BYTES",
        None,
        limits.max_backup_bytes,
    )?;
    limits.max_ticket_bytes = number(
        env,
        "TESSERA_MAX_TICKET_BYTES",
        None,
        limits.max_ticket_bytes,
    )?;
    limits.max_group_participants = number(
        env,
        "TESSERA_MAX_GROUP_PARTICIPANTS",
        None,
        limits.max_group_participants,
    )?;
    limits.identity_requests_per_second = number(
        env,
        "TESSERA_IDENTITY_REQUESTS_PER_SECOND",
        None,
        limits.identity_requests_per_second,
    )?;
    limits.identity_burst = number(env, "TESSERA_IDENTITY_BURST", None, limits.identity_burst)?;
    limits.address_requests_per_second = number(
        env,
        "TESSERA_ADDRESS_REQUESTS_PER_SECOND",
        None,
        limits.address_requests_per_second,
    )?;
    limits.address_burst = number(env, "TESSERA_ADDRESS_BURST", None, limits.address_burst)?;
    limits.header_read_timeout_seconds = number(
        env,
        "TESSERA_HEADER_READ_TIMEOUT_SECONDS",
        None,
        limits.header_read_timeout_seconds,
    )?;
    limits.demo_max_message_bytes = number(
        env,
        "TESSERA_DEMO_MAX_MESSAGE_BYTES",
        None,
        limits.demo_max_message_bytes,
    )?;
    if limits.max_batch_items == 0
        || limits.max_group_participants == 0
        || limits.header_read_timeout_seconds == 0
    {
        return Err(invalid(
            "limits",
            "max_batch_items, max_group_participants and header_read_timeout_seconds must be at least 1",
        ));
    }
    Ok(())
}

/// `config.toml` as written by `tessera-server init`; every key is optional.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// See [`Config::app_id`].
    pub app_id: Option<String>,
    /// See [`Config::audience`].
    pub audience: Option<String>,
    /// See [`Config::app_public_keys`], base64url.
    pub app_public_keys: Option<Vec<String>>,
    /// See [`Config::app_private_key_file`]; relative to the data directory.
    pub app_private_key_file: Option<String>,
    /// See [`Config::listen`].
    pub listen: Option<String>,
    /// See [`Config::database_url`]; a relative SQLite path is relative to the data
    /// directory.
    pub database_url: Option<String>,
    /// See [`Config::database_max_connections`].
    pub database_max_connections: Option<u32>,
    /// See [`Config::search_cache_capacity`].
    pub search_cache_capacity: Option<usize>,
    /// See [`Config::trust_forwarded_for`].
    pub trust_forwarded_for: Option<bool>,
    /// See [`Config::cors_allowed_origins`].
    pub cors_allowed_origins: Option<Vec<String>>,
    /// See [`Config::shutdown_grace_seconds`].
    pub shutdown_grace_seconds: Option<u64>,
    /// See [`Config::token_leeway_seconds`].
    pub token_leeway_seconds: Option<u64>,
    /// See [`Config::token_max_lifetime_seconds`].
    pub token_max_lifetime_seconds: Option<u64>,
    /// See [`Config::limits`].
    pub limits: Option<Limits>,
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn environment_overrides_the_file() {
        let dir = std::env::temp_dir().join(format!("tessera-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = AppPublicKey([1; 32]).to_text();
        std::fs::write(
            dir.join(CONFIG_FILE_NAME),
            format!(
                "app_id = \"app-1\"\napp_public_keys = [\"{key}\"]\n\
                 database_url = \"sqlite://data.db\"\n[limits]\nmax_batch_items = 7\n"
            ),
        )
        .unwrap();
        let other = AppPublicKey([2; 32]).to_text();
        let env: HashMap<&str, String> = HashMap::from([
            ("TESSERA_APP_PUBLIC_KEYS", format!("{key},{other}")),
            ("TESSERA_LISTEN", "127.0.0.1:9999".to_owned()),
            ("TESSERA_ADDRESS_BURST", "3".to_owned()),
        ]);
        let config = Config::load(&dir, |name| env.get(name).cloned()).unwrap();
        assert_eq!(config.app_id, "app-1");
        assert_eq!(config.audience, "tessera:app-1", "the default audience");
        assert_eq!(config.app_public_keys.len(), 2);
        assert_eq!(config.listen.port(), 9999);
        assert_eq!(config.limits.max_batch_items, 7);
        assert_eq!(config.limits.address_burst, 3);
        assert_eq!(
            config.database_url,
            format!("sqlite://{}", dir.join("data.db").display())
        );
        let bad = Config::load(&dir, |name| {
            (name == "TESSERA_MAX_BODY_BYTES").then(|| "lots".to_owned())
        });
        assert!(matches!(bad, Err(ConfigError::Invalid { .. })));

        let with_password = Config::load(&dir, |name| {
            (name == "TESSERA_DATABASE_URL")
                .then(|| "postgres://tessera:hunter2secret@db.internal:5432/tessera".to_owned())
        })
        .unwrap();
        let cors = Config::load(&dir, |name| {
            (name == "TESSERA_CORS_ALLOWED_ORIGINS")
                .then(|| "https://app.example.com, http://127.0.0.1:5173".to_owned())
        })
        .unwrap();
        assert_eq!(
            cors.cors_allowed_origins,
            ["https://app.example.com", "http://127.0.0.1:5173"]
        );
        assert!(config.cors_allowed_origins.is_empty());
        for bad in [
            "app.example.com",
            "https://app.example.com/",
            "https://a/b",
            "*.example.com",
        ] {
            let refused = Config::load(&dir, |name| {
                (name == "TESSERA_CORS_ALLOWED_ORIGINS").then(|| bad.to_owned())
            });
            assert!(matches!(refused, Err(ConfigError::Invalid { .. })), "{bad}");
        }
        assert!(!config.demo && config.demo_web_dir.is_none());
        assert_eq!(config.limits.demo_max_message_bytes, 16 * 1024 * 1024);
        let demo_env: HashMap<&str, String> = HashMap::from([
            ("TESSERA_DEMO", "true".to_owned()),
            ("TESSERA_DEMO_WEB_DIR", "/srv/chat".to_owned()),
            ("TESSERA_DEMO_MAX_MESSAGE_BYTES", "4096".to_owned()),
        ]);
        let demo = Config::load(&dir, |name| demo_env.get(name).cloned()).unwrap();
        assert!(demo.demo);
        assert_eq!(demo.demo_web_dir.as_deref(), Some(Path::new("/srv/chat")));
        assert_eq!(demo.limits.demo_max_message_bytes, 4096);
        let unclear = Config::load(&dir, |name| {
            (name == "TESSERA_DEMO").then(|| "maybe".to_owned())
        });
        assert!(matches!(unclear, Err(ConfigError::Invalid { .. })));
        let audience = Config::load(&dir, |name| {
            (name == "TESSERA_AUDIENCE").then(|| "tessera:app-1:staging".to_owned())
        })
        .unwrap();
        assert_eq!(audience.audience, "tessera:app-1:staging");
        for bad in ["", "tessera:\napp"] {
            let refused = Config::load(&dir, |name| {
                (name == "TESSERA_AUDIENCE").then(|| bad.to_owned())
            });
            assert!(
                matches!(refused, Err(ConfigError::Invalid { .. })),
                "{bad:?}"
            );
        }
        let debug = format!("{with_password:?}");
        assert!(!debug.contains("hunter2secret"), "{debug}");
        assert!(debug.contains("postgres://tessera:***@db.internal:5432/tessera"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
