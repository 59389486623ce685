//! The user's own key and card: register, unregister, rotate a lost key, forget it.
//!
//! Every operation that creates or replaces the key holds the process-wide lock of the
//! identity, and relies on the server's rule of one active card per identity (of
//! concurrent publishes exactly one succeeds): two racing `register` calls leave one card
//! and the matching key in the key store, never two cards.

use super::{Error, Tessera};
use tessera_format::{card::Card, keys::IdentityKeyPair, time::Timestamp};

impl Tessera {
    /// Creates the user's key, publishes its card and stores the key on this device.
    ///
    /// Fails with [`Error::PrivateKeyAlreadyExists`] when this device already has a key,
    /// and [`Error::AlreadyRegistered`] when the identity already has an active card
    /// (registered on another device: use `restore_private_key`, or `rotate_private_key`
    /// when the key is lost).
    pub async fn register(&self) -> Result<Card, Error> {
        let _guard = self.lock_key().await;
        if self.local().is_some() {
            return Err(Error::PrivateKeyAlreadyExists);
        }
        if self.current_own_card().await?.is_some() {
            return Err(Error::AlreadyRegistered);
        }
        let keys = IdentityKeyPair::generate()?;
        let card = Card::create(&keys, self.identity().clone(), Timestamp::now(), None)?;
        match self.api().publish_card(&card).await {
            Ok(_) => {}
            Err(error)
                if error.is_server(409, "card_conflict")
                    || error.is_server(409, "already_exists") =>
            {
                return Err(Error::AlreadyRegistered);
            }
            Err(error) => return Err(error),
        }
        self.store_or_revoke(keys, card).await
    }

    /// Replaces a lost private key: publishes a new card that names the current one as
    /// its predecessor, so data signed before the rotation still verifies (with `made_at`).
    ///
    /// Fails with [`Error::PrivateKeyAlreadyExists`] when this device has a key (nothing
    /// is lost then), and [`Error::NotRegistered`] when the identity has no active card.
    pub async fn rotate_private_key(&self) -> Result<Card, Error> {
        let _guard = self.lock_key().await;
        if self.local().is_some() {
            return Err(Error::PrivateKeyAlreadyExists);
        }
        let current = self.current_own_card().await?.ok_or(Error::NotRegistered)?;
        let keys = IdentityKeyPair::generate()?;
        // A chain never goes back in time, even when this device's clock is behind.
        let created_at = Timestamp::now().max(current.content().created_at);
        let card = Card::create(
            &keys,
            self.identity().clone(),
            created_at,
            Some(current.id()),
        )?;
        match self.api().publish_card(&card).await {
            Ok(_) => {}
            Err(error) if error.is_server(409, "card_conflict") => {
                return Err(Error::Conflict {
                    message: "the card was replaced by another device at the same time".into(),
                });
            }
            Err(error) => return Err(error),
        }
        self.store_or_revoke(keys, card).await
    }

    /// Stores a freshly published key; if that fails, revokes the card again so no card
    /// is left without a key (best effort) and reports the key store's error.
    async fn store_or_revoke(&self, keys: IdentityKeyPair, card: Card) -> Result<Card, Error> {
        match self.save_local_key(keys, card.clone()).await {
            Ok(()) => Ok(card),
            Err(error) => {
                let _ = self.api().revoke_card(&card.id()).await;
                Err(error)
            }
        }
    }

    /// Revokes the user's active card and deletes the private key from this device.
    /// Afterwards nobody can encrypt to this identity until it registers again.
    pub async fn unregister(&self) -> Result<(), Error> {
        let _guard = self.lock_key().await;
        let current = self.current_own_card().await?.ok_or(Error::NotRegistered)?;
        match self.api().revoke_card(&current.id()).await {
            Ok(()) => {}
            Err(error) if error.is_server(409, "card_not_active") => {
                return Err(Error::Conflict {
                    message: "the card was replaced or revoked by another device at the same time"
                        .into(),
                });
            }
            Err(error) => return Err(error),
        }
        self.forget_local_key().await
    }

    /// Whether this device holds the user's private key.
    pub fn has_local_private_key(&self) -> bool {
        self.local().is_some()
    }

    /// Deletes everything this client stored on the device for this identity: the private
    /// key, the own card and the card cache (every entry under `tessera/<identity>/`).
    /// The card on the server stays; restore the key from a backup later.
    pub async fn cleanup(&self) -> Result<(), Error> {
        let _guard = self.lock_key().await;
        self.store().wipe().await?;
        self.cache().clear_memory();
        self.set_local(None);
        Ok(())
    }

    async fn forget_local_key(&self) -> Result<(), Error> {
        let identity = self.identity();
        self.store()
            .delete_all(&[
                super::entries::root_secret(identity),
                super::entries::own_card(identity),
            ])
            .await?;
        self.set_local(None);
        Ok(())
    }

    /// The identity's active card according to the server, verified.
    pub(crate) async fn current_own_card(&self) -> Result<Option<Card>, Error> {
        let found = self
            .search_verified(std::slice::from_ref(self.identity()))
            .await?;
        Ok(found.into_iter().next().map(|(_, card)| card))
    }
}
