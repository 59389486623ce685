//! The data directory that `tessera-server init` creates: `config.toml`, the app key
//! pair (`app-key.secret`, readable by its owner only) and, by default, the SQLite file.

use std::{
    fs,
    io::Write,
    os::unix::fs::{DirBuilderExt, OpenOptionsExt},
    path::{Path, PathBuf},
};

use base64ct::{Base64UrlUnpadded, Encoding};
use tessera_format::AppKey;
use zeroize::Zeroizing;

use crate::config::{
    APP_KEY_FILE_NAME, AppPublicKey, CONFIG_FILE_NAME, ConfigError, ConfigFile, DEFAULT_LISTEN,
    Limits, SQLITE_FILE_NAME,
};

/// What `init` created.
#[derive(Debug)]
pub struct Initialized {
    /// The new app id.
    pub app_id: String,
    /// The server's audience, written to the configuration: `tessera:<app id>`.
    pub audience: String,
    /// The new app public key.
    pub app_public_key: AppPublicKey,
    /// The configuration file.
    pub config_path: PathBuf,
    /// The private key file (mode 0600).
    pub private_key_path: PathBuf,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ConfigError + '_ {
    move |source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates a data directory with a fresh app id and app key. Refuses to touch a
/// directory that already holds a configuration, so keys are never overwritten.
pub fn init(dir: &Path) -> Result<Initialized, ConfigError> {
    let config_path = dir.join(CONFIG_FILE_NAME);
    let private_key_path = dir.join(APP_KEY_FILE_NAME);
    if config_path.exists() || private_key_path.exists() {
        return Err(ConfigError::Invalid {
            setting: "data directory".into(),
            reason: format!(
                "{} is already initialized; use another --data-dir or remove it",
                dir.display()
            ),
        });
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_error(dir))?;

    let key = AppKey::generate().map_err(|e| ConfigError::Invalid {
        setting: "app key".into(),
        reason: e.to_string(),
    })?;
    let mut id_bytes = [0u8; 8];
    getrandom::fill(&mut id_bytes).map_err(|e| ConfigError::Invalid {
        setting: "app id".into(),
        reason: e.to_string(),
    })?;
    let app_id = format!(
        "app-{}",
        id_bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let app_public_key = AppPublicKey(key.public_key());
    let audience = tessera_format::jwt::default_audience(&app_id);

    // create_new + mode 0600: the key is never readable by others, not even briefly.
    let mut key_file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&private_key_path)
        .map_err(io_error(&private_key_path))?;
    let encoded = Zeroizing::new(Base64UrlUnpadded::encode_string(key.seed()));
    key_file
        .write_all(encoded.as_bytes())
        .and_then(|()| key_file.write_all(b"\n"))
        .and_then(|()| key_file.sync_all())
        .map_err(io_error(&private_key_path))?;

    let file = ConfigFile {
        app_id: Some(app_id.clone()),
        audience: Some(audience.clone()),
        app_public_keys: Some(vec![app_public_key.to_text()]),
        app_private_key_file: Some(APP_KEY_FILE_NAME.into()),
        listen: Some(DEFAULT_LISTEN.into()),
        database_url: Some(format!("sqlite://{SQLITE_FILE_NAME}")),
        limits: Some(Limits::default()),
        ..ConfigFile::default()
    };
    let body = toml::to_string_pretty(&file).map_err(|e| ConfigError::Invalid {
        setting: "config".into(),
        reason: e.to_string(),
    })?;
    let text = format!(
        "# tessera-server configuration (docs/SERVER.md). Every setting can be overridden\n\
         # by an environment variable, e.g. TESSERA_DATABASE_URL or TESSERA_LISTEN.\n\
         # Relative paths are relative to this directory.\n\n{body}"
    );
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&config_path)
        .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()))
        .map_err(io_error(&config_path))?;

    Ok(Initialized {
        app_id,
        audience,
        app_public_key,
        config_path,
        private_key_path,
    })
}

/// Reads the app key written by [`init`].
pub fn read_app_key(path: &Path) -> Result<AppKey, ConfigError> {
    let text = Zeroizing::new(fs::read_to_string(path).map_err(io_error(path))?);
    let seed = Zeroizing::new(Base64UrlUnpadded::decode_vec(text.trim()).map_err(|_| {
        ConfigError::Invalid {
            setting: path.display().to_string(),
            reason: "the app key file does not hold base64url".into(),
        }
    })?);
    let seed: [u8; 32] = seed
        .as_slice()
        .try_into()
        .map_err(|_| ConfigError::Invalid {
            setting: path.display().to_string(),
            reason: "the app key file does not hold a 32-byte key".into(),
        })?;
    let key = AppKey::from_seed(seed);
    let mut seed = seed;
    zeroize::Zeroize::zeroize(&mut seed);
    Ok(key)
}
