//! Password backup of the private key for multi-device use: the root secret sealed with
//! Argon2id + ChaCha20-Poly1305 on the device (docs/FORMAT.md §5) and stored on the
//! server as the named blob [`BACKUP_NAME`]. The password never leaves the device.

use super::{Error, Tessera, server_api::Precondition};
use tessera_format::{
    backup::{DerivedPasswords, open_backup, seal_backup},
    keys::IdentityKeyPair,
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
        let blob = seal_backup(local.keys.root_secret(), password)?;
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
        let keys = IdentityKeyPair::from_root_secret(open_backup(&stored.blob, password)?);
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
        let root = open_backup(&stored.blob, old_password)?;
        let blob = seal_backup(&root, new_password)?;
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

    /// Splits one password the user types into a login password for the app's backend and
    /// a backup password for `backup_private_key` (Argon2id; deterministic).
    pub fn derive_passwords(password: &str) -> Result<DerivedPasswords, Error> {
        Ok(tessera_format::backup::derive_passwords(password)?)
    }
}
