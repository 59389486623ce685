//! Messages in memory: sign-then-encrypt to users' cards (the sender always among the
//! recipients, so they can read what they sent) and decrypt-then-verify against the
//! sender's card chain, plus the safety number of two users.

use std::sync::Arc;

use super::{Error, LocalKey, Tessera, card_cache::Chain};
use tessera_format::{
    card::Card,
    envelope::{Recipient, decrypt_message, encrypt_message},
    safety_number::safety_number,
    time::Timestamp,
};

impl Tessera {
    /// Signs `data` with the user's key and encrypts it to `recipients` and to the user.
    /// Works offline with cached cards. `recipients` is anything that yields cards: a
    /// [`super::FoundUsers`], `&[card]`, `[&card]`…
    pub async fn auth_encrypt<'a>(
        &self,
        data: &[u8],
        recipients: impl IntoIterator<Item = &'a Card>,
    ) -> Result<Vec<u8>, Error> {
        let (local, own) = self.local_with_card().await?;
        let recipients = recipient_keys(&own, recipients);
        Ok(encrypt_message(&local.keys, &recipients, data)?)
    }

    /// The card to verify a sender against: `sender`, or, when the app names none, the
    /// user's own (decrypting what the user encrypted, as E3Kit does).
    /// [`Error::MissingPrivateKey`] without a key on this device, [`Error::NotRegistered`]
    /// when the user's card is not known here.
    pub fn sender_or_self(&self, sender: Option<&Card>) -> Result<Card, Error> {
        if let Some(card) = sender {
            return Ok(card.clone());
        }
        self.require_local()?.card.ok_or(Error::NotRegistered)
    }

    /// Decrypts `data` and verifies that `sender` signed it (use the user's own card for
    /// data the user encrypted). `made_at`, when the app knows when the data was made,
    /// lets data signed before the sender's key rotation verify against the sender's
    /// previous card; the chain is fetched from the directory when it is not cached.
    pub async fn auth_decrypt(
        &self,
        data: &[u8],
        sender: &Card,
        made_at: Option<Timestamp>,
    ) -> Result<Vec<u8>, Error> {
        let local = self.require_local()?;
        let chain = self.known_chain(sender).await?;
        match decrypt_message(&local.keys, data, &chain, made_at) {
            Ok((plaintext, _)) => Ok(plaintext),
            // Signed by a key not in the known chain: a rotated sender's older key. Fetch
            // the history (online only) and try again.
            Err(tessera_format::envelope::DecryptError::WrongSender)
                if chain.len() == 1 && sender.content().previous_card_id.is_some() =>
            {
                let Ok(full) = self.fetch_and_cache_chain(sender).await else {
                    return Err(Error::WrongSender);
                };
                let (plaintext, _) = decrypt_message(&local.keys, data, &full, made_at)?;
                Ok(plaintext)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// The safety number of the user and `other`: 60 digits both compare, out of band, to
    /// make sure each sees the other's real keys.
    pub async fn safety_number(&self, other: &Card) -> Result<String, Error> {
        let (_, own) = self.local_with_card().await?;
        Ok(safety_number(
            own.identity(),
            own.public_keys(),
            other.identity(),
            other.public_keys(),
        ))
    }

    /// The local key and own card; fetches the card from the directory once if the key
    /// store has the key but not the card.
    pub(crate) async fn local_with_card(&self) -> Result<(LocalKey, Card), Error> {
        let local = self.require_local()?;
        if let Some(card) = &local.card {
            return Ok((local.clone(), card.clone()));
        }
        let card = self.current_own_card().await?.ok_or(Error::NotRegistered)?;
        if card.public_keys() != local.keys.public_keys() {
            return Err(Error::BackupKeyMismatch);
        }
        self.store()
            .put(
                &super::entries::own_card(self.identity()),
                card.to_text().as_bytes(),
            )
            .await?;
        let updated = LocalKey {
            keys: local.keys.clone(),
            card: Some(card.clone()),
        };
        self.set_local(Some(updated.clone()));
        Ok((updated, card))
    }

    /// The sender's chain known locally, ending at `sender`: the cached ancestry when the
    /// cache has it, else the card alone.
    pub(crate) async fn known_chain(&self, sender: &Card) -> Result<Chain, Error> {
        if let Ok(Some(cached)) = self.cache().chain(sender.identity()).await
            && let Some(position) = cached.iter().position(|card| card.id() == sender.id())
        {
            if position + 1 == cached.len() {
                return Ok(cached);
            }
            return Ok(Arc::new(
                cached.iter().take(position + 1).cloned().collect(),
            ));
        }
        if let Some(own) = self.own_card().filter(|own| own.id() == sender.id()) {
            return Ok(Arc::new(vec![own]));
        }
        Ok(Arc::new(vec![sender.clone()]))
    }

    /// Fetches and verifies the chain ending at `sender`, caching it when `sender` is the
    /// cached current card of that user.
    pub(crate) async fn fetch_and_cache_chain(&self, sender: &Card) -> Result<Chain, Error> {
        let chain = self.fetch_chain(sender).await?;
        let identity = sender.identity();
        if let Ok(Some(cached)) = self.cache().chain(identity).await
            && cached.last().map(Card::id) == Some(sender.id())
            && cached.len() < chain.len()
        {
            self.cache()
                .store(vec![(identity.clone(), chain.clone())])
                .await?;
        }
        Ok(chain)
    }
}

/// The recipients' encryption keys plus the sender's own, without duplicates.
pub(crate) fn recipient_keys<'a>(
    own: &Card,
    recipients: impl IntoIterator<Item = &'a Card>,
) -> Vec<Recipient> {
    std::iter::once(Recipient::from(own))
        .chain(recipients.into_iter().map(Recipient::from))
        .collect()
}
