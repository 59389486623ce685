//! Password backup of the private key for multi-device use: the root secret sealed with
//! Argon2id + ChaCha20-Poly1305 on the device (docs/FORMAT.md §5) and stored on the
//! server as the named blob [`BACKUP_NAME`]. The password never leaves the device.

use zeroize::Zeroizing;

use super::{Error, Tessera, server_api::Precondition};
use tessera_format::{
    Identity,
    backup::{
        BackupBlob, DerivedPasswords, KdfParams, new_backup_randomness, seal_backup_with_key,
    },
    keys::{IdentityKeyPair, RootSecret},
};

/// The name of the key backup on the server (docs/API.md "Key backups").
pub const BACKUP_NAME: &str = "tessera.identity-key";

fn check_password(password: &str) -> Result<(), Error> {
    if password.is_empty() {
        return Err(Error::invalid_input(
            "the backup password must not be empty",
        ));
    }
    Ok(())
}

impl Tessera {
    /// Encrypts the private key with `password` and stores it on the server. Fails with
    /// [`Error::BackupAlreadyExists`] when a backup exists (see `change_password`).
    pub async fn backup_private_key(&self, password: &str) -> Result<(), Error> {
        check_password(password)?;
        let local = self.require_local()?;
        let blob = self.seal(local.keys.root_secret(), password).await?;
        match self
            .api()
            .put_backup(BACKUP_NAME, &blob, Precondition::Create)
            .await
        {
            Ok(()) => Ok(()),
            Err(error) if error.is_server(412, "version_mismatch") => {
                Err(Error::BackupAlreadyExists)
            }
            Err(error) => Err(error),
        }
    }

    /// Downloads the backup, opens it with `password` and stores the key on this device.
    /// The key must be the key of the user's active card.
    pub async fn restore_private_key(&self, password: &str) -> Result<(), Error> {
        check_password(password)?;
        let _guard = self.lock_key().await;
        if self.local().is_some() {
            return Err(Error::PrivateKeyAlreadyExists);
        }
        let stored = self
            .api()
            .get_backup(BACKUP_NAME)
            .await?
            .ok_or(Error::NoBackup)?;
        let keys = IdentityKeyPair::from_root_secret(self.open(&stored.blob, password).await?);
        let card = self.current_own_card().await?.ok_or(Error::NotRegistered)?;
        if card.public_keys() != keys.public_keys() {
            return Err(Error::BackupKeyMismatch);
        }
        self.save_local_key(keys, card).await
    }

    /// Re-encrypts the backup under a new password (the old one must open it).
    pub async fn change_password(
        &self,
        old_password: &str,
        new_password: &str,
    ) -> Result<(), Error> {
        check_password(old_password)?;
        check_password(new_password)?;
        let stored = self
            .api()
            .get_backup(BACKUP_NAME)
            .await?
            .ok_or(Error::NoBackup)?;
        let root = self.open(&stored.blob, old_password).await?;
        let blob = self.seal(&root, new_password).await?;
        match self
            .api()
            .put_backup(BACKUP_NAME, &blob, Precondition::Version(stored.version))
            .await
        {
            Ok(()) => Ok(()),
            Err(error) if error.is_server(412, "version_mismatch") => Err(Error::Conflict {
                message: "the backup was changed by another device at the same time".into(),
            }),
            Err(error) => Err(error),
        }
    }

    /// Deletes the key backup from the server. Fails with [`Error::NoBackup`] when there
    /// is none.
    pub async fn reset_private_key_backup(&self) -> Result<(), Error> {
        if self.api().delete_backup(BACKUP_NAME).await? {
            Ok(())
        } else {
            Err(Error::NoBackup)
        }
    }

    /// Seals `root` under `password` at the default cost, the KDF run by the configured
    /// [`crate::PasswordKdf`].
    async fn seal(&self, root: &RootSecret, password: &str) -> Result<Vec<u8>, Error> {
        let params = KdfParams::DEFAULT;
        let (salt, nonce) = new_backup_randomness()?;
        let key = self.backup_key(password, &salt, params).await?;
        Ok(seal_backup_with_key(root, &key, params, salt, nonce)?)
    }

    /// Opens a stored blob; its parameters are checked before the KDF runs.
    async fn open(&self, blob: &[u8], password: &str) -> Result<RootSecret, Error> {
        let blob = BackupBlob::parse(blob)?;
        let key = self
            .backup_key(password, blob.salt(), blob.params())
            .await?;
        Ok(blob.open_with_key(&key)?)
    }

    async fn backup_key(
        &self,
        password: &str,
        salt: &[u8],
        params: KdfParams,
    ) -> Result<Zeroizing<[u8; 32]>, Error> {
        let out = self
            .password_kdf()
            .argon2id(password, salt, params, 32)
            .await
            .map_err(|error| Error::Internal {
                message: format!("the password KDF failed: {error}"),
            })?;
        let key: [u8; 32] = out.as_slice().try_into().map_err(|_| Error::Internal {
            message: format!("the password KDF returned {} bytes, not 32", out.len()),
        })?;
        Ok(Zeroizing::new(key))
    }

    /// Splits one password the user types into a login password for the app's backend and
    /// a backup password for `backup_private_key` (Argon2id; deterministic). `app_id` is a
    /// stable string naming the app (the server's app id is a good choice) and `identity`
    /// the user's: both salt the derivation, so equal passwords of two users, or of one
    /// user in two apps, give unrelated results (docs/FORMAT.md §5.3).
    pub fn derive_passwords(
        password: &str,
        app_id: &str,
        identity: &str,
    ) -> Result<DerivedPasswords, Error> {
        let identity = Identity::new(identity)?;
        Ok(tessera_format::backup::derive_passwords(
            password, app_id, &identity,
        )?)
    }
}
