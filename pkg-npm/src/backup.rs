//! Password backups of a root secret and `derivePasswords` (docs/FORMAT.md §5).

use tessera_format::backup::{self, KdfParams, open_backup, seal_backup};
use wasm_bindgen::prelude::*;

use crate::{error::OrJs, keys::KeyPair};

/// The two passwords `derivePasswords` makes from one.
#[wasm_bindgen(getter_with_clone)]
pub struct DerivedPasswords {
    /// For the app's own login (its backend sees it).
    #[wasm_bindgen(js_name = loginPassword)]
    pub login_password: String,
    /// For the key backup (never leaves the device).
    #[wasm_bindgen(js_name = backupPassword)]
    pub backup_password: String,
}

/// Splits one user password into a login password and a backup password (Argon2id),
/// salted with the app id and the user's identity.
#[wasm_bindgen(js_name = derivePasswords)]
pub fn derive_passwords(
    password: &str,
    app_id: &str,
    identity: &str,
) -> Result<DerivedPasswords, JsValue> {
    let identity = tessera_format::Identity::new(identity).or_js()?;
    Ok(
        tessera_format::derive_passwords(password, app_id, &identity)
            .or_js()?
            .into(),
    )
}

impl From<tessera_format::backup::DerivedPasswords> for DerivedPasswords {
    fn from(derived: tessera_format::backup::DerivedPasswords) -> Self {
        Self {
            login_password: derived.login_password.as_str().to_owned(),
            backup_password: derived.backup_password.as_str().to_owned(),
        }
    }
}

/// Argon2id for the browser worker that runs the client's backup KDF off the main thread
/// (js/kdf-worker.js); not part of the package's API.
#[wasm_bindgen(js_name = argon2id)]
pub fn argon2id(
    password: &str,
    salt: &[u8],
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
    length: usize,
) -> Result<Vec<u8>, JsValue> {
    let params = KdfParams {
        memory_kib,
        iterations,
        parallelism,
    };
    let mut out = vec![0; length];
    backup::argon2id(password.as_bytes(), salt, params, &mut out).or_js()?;
    Ok(out)
}

/// Encrypts the key pair's root secret under `password` (94-byte blob).
#[wasm_bindgen(js_name = sealBackup)]
pub fn seal(key_pair: &KeyPair, password: &str) -> Result<Vec<u8>, JsValue> {
    seal_backup(key_pair.inner.root_secret(), password).or_js()
}

/// Opens a backup blob with `password`, giving back the key pair.
#[wasm_bindgen(js_name = openBackup)]
pub fn open(blob: &[u8], password: &str) -> Result<KeyPair, JsValue> {
    let root = open_backup(blob, password).or_js()?;
    Ok(KeyPair {
        inner: tessera_format::IdentityKeyPair::from_root_secret(root),
    })
}
