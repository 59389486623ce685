//! Password backups (docs/FORMAT.md §5) with explicit keys, and `derivePasswords`. The
//! client's `backupPrivateKey` / `restorePrivateKey` use the same format through the
//! server.

use std::{fmt, sync::Arc};

use tessera_format::{Identity, IdentityKeyPair, backup};

use crate::{error::CryptoError, keys::KeyPair};

/// Seals `keys`' root secret under `password` (Argon2id at the default cost).
#[uniffi::export]
pub fn seal_backup(keys: Arc<KeyPair>, password: String) -> Result<Vec<u8>, CryptoError> {
    Ok(backup::seal_backup(keys.inner.root_secret(), &password)?)
}

/// Opens a backup blob with `password`: the identity it holds.
#[uniffi::export]
pub fn open_backup(blob: Vec<u8>, password: String) -> Result<Arc<KeyPair>, CryptoError> {
    let root = backup::open_backup(&blob, &password)?;
    Ok(Arc::new(KeyPair {
        inner: IdentityKeyPair::from_root_secret(root),
    }))
}

/// A login password for the app's backend and a backup password for the key backup,
/// derived from the one password the user types. An object rather than a record so that
/// printing it (Kotlin `toString`, Swift `description`) never shows the passwords.
#[derive(uniffi::Object)]
pub struct DerivedPasswords {
    inner: backup::DerivedPasswords,
}

impl fmt::Debug for DerivedPasswords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

#[uniffi::export]
impl DerivedPasswords {
    /// For the app's own sign-in.
    pub fn login_password(&self) -> String {
        self.inner.login_password.to_string()
    }

    /// For `backupPrivateKey` / `restorePrivateKey`; never leaves the device.
    pub fn backup_password(&self) -> String {
        self.inner.backup_password.to_string()
    }
}

/// Splits one user password into a login password and a backup password (Argon2id,
/// deterministic; docs/FORMAT.md §5.3), salted with the app's id (a stable string naming
/// the app, such as the server's app id) and the user's identity.
#[uniffi::export]
pub fn derive_passwords(
    password: String,
    app_id: String,
    identity: String,
) -> Result<Arc<DerivedPasswords>, CryptoError> {
    let identity = Identity::new(identity)?;
    Ok(Arc::new(DerivedPasswords {
        inner: backup::derive_passwords(&password, &app_id, &identity)?,
    }))
}
