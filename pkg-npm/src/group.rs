//! Group cryptography (docs/FORMAT.md §8): epoch keys, ticket blobs and group messages,
//! wrapping `tessera_format::group`. The client's group operations (create, load, add, …)
//! build on these once they exist in core's client.

use tessera_format::{
    Identity, Recipient,
    group::{
        EpochKey as CoreEpochKey, GroupId, GroupKeys as CoreGroupKeys, GroupMessageHeader,
        decrypt_group_message, encrypt_group_message, open_ticket_blob, seal_ticket_blob,
    },
};
use wasm_bindgen::prelude::*;

use crate::{
    card::{Card, core_cards},
    envelope::Decrypted,
    error::{OrJs, invalid_input},
    keys::KeyPair,
    timestamp_of,
};

fn group_id(id: &str) -> Result<GroupId, JsValue> {
    GroupId::new(id).or_js()
}

fn identities(names: Vec<String>) -> Result<Vec<Identity>, JsValue> {
    names
        .into_iter()
        .map(|name| Identity::new(name).or_js())
        .collect()
}

/// One epoch of a group: its number, secret and participants.
#[wasm_bindgen]
#[derive(Clone)]
pub struct EpochKey {
    inner: CoreEpochKey,
}

#[wasm_bindgen]
impl EpochKey {
    /// A new epoch with a fresh random secret.
    pub fn generate(epoch: u32, participants: Vec<String>) -> Result<EpochKey, JsValue> {
        Ok(Self {
            inner: CoreEpochKey::generate(epoch, identities(participants)?).or_js()?,
        })
    }

    /// An epoch from its parts (for example read back from storage).
    #[wasm_bindgen(js_name = fromParts)]
    pub fn from_parts(
        epoch: u32,
        secret: &[u8],
        participants: Vec<String>,
    ) -> Result<EpochKey, JsValue> {
        let secret: [u8; 32] = secret
            .try_into()
            .map_err(|_| invalid_input("an epoch secret must be 32 bytes"))?;
        Ok(Self {
            inner: CoreEpochKey::from_parts(epoch, secret, participants).or_js()?,
        })
    }

    /// An independent copy of this epoch key.
    #[wasm_bindgen(js_name = clone)]
    pub fn duplicate(&self) -> EpochKey {
        self.clone()
    }

    /// The epoch number.
    #[wasm_bindgen(getter)]
    pub fn epoch(&self) -> u32 {
        self.inner.epoch
    }

    /// A copy of the 32-byte epoch secret.
    #[wasm_bindgen(getter)]
    pub fn secret(&self) -> Vec<u8> {
        self.inner.secret.to_vec()
    }

    /// The participants of this epoch.
    #[wasm_bindgen(getter)]
    pub fn participants(&self) -> Vec<String> {
        self.inner
            .participants
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect()
    }
}

/// The epoch keys a participant holds for one group.
#[wasm_bindgen]
#[derive(Default)]
pub struct GroupKeys {
    inner: CoreGroupKeys,
}

#[wasm_bindgen]
impl GroupKeys {
    /// No epochs yet.
    #[wasm_bindgen(constructor)]
    pub fn new() -> GroupKeys {
        Self::default()
    }

    /// Adds (or replaces) an epoch.
    pub fn insert(&mut self, key: &EpochKey) {
        self.inner.insert(key.inner.clone());
    }

    /// Every epoch, oldest first.
    pub fn epochs(&self) -> Vec<EpochKey> {
        self.inner
            .iter()
            .map(|key| EpochKey { inner: key.clone() })
            .collect()
    }
}

/// Builds the ticket blob for `current`: an envelope to `recipients` (the epoch's
/// participants, initiator included) and, with `history` and `newcomers`, the earlier
/// epochs for the newcomers only.
#[wasm_bindgen(js_name = sealTicketBlob)]
pub fn seal_ticket(
    initiator: &KeyPair,
    group: &str,
    current: &EpochKey,
    recipients: Vec<Card>,
    history: Option<Vec<EpochKey>>,
    newcomers: Option<Vec<Card>>,
) -> Result<Vec<u8>, JsValue> {
    let to = |cards: &[Card]| -> Vec<Recipient> {
        cards.iter().map(|c| Recipient::from(&c.inner)).collect()
    };
    let history: Option<Vec<CoreEpochKey>> =
        history.map(|keys| keys.into_iter().map(|k| k.inner).collect());
    let newcomers = newcomers.map(|cards| to(&cards)).unwrap_or_default();
    let shared = history.as_deref().map(|keys| (keys, newcomers.as_slice()));
    seal_ticket_blob(
        &initiator.inner,
        &group_id(group)?,
        &current.inner,
        &to(&recipients),
        shared,
    )
    .or_js()
}

/// Opens the envelopes of a ticket blob addressed to `reader`, verified against the
/// initiator's card chain; returns the epochs it carries.
#[wasm_bindgen(js_name = openTicketBlob)]
pub fn open_ticket(
    blob: &[u8],
    reader: &KeyPair,
    group: &str,
    stored_epoch: u32,
    initiator_chain: Vec<Card>,
    made_at: Option<js_sys::Date>,
) -> Result<Vec<EpochKey>, JsValue> {
    let keys = open_ticket_blob(
        blob,
        &reader.inner,
        &group_id(group)?,
        stored_epoch,
        &core_cards(&initiator_chain),
        made_at.as_ref().map(timestamp_of),
    )
    .or_js()?;
    Ok(keys.into_iter().map(|inner| EpochKey { inner }).collect())
}

/// Encrypts and signs a group message for epoch `epoch` of `group`.
#[wasm_bindgen(js_name = encryptGroupMessage)]
pub fn encrypt_group(
    sender: &KeyPair,
    group: &str,
    epoch: &EpochKey,
    plaintext: &[u8],
) -> Result<Vec<u8>, JsValue> {
    encrypt_group_message(&sender.inner, &group_id(group)?, &epoch.inner, plaintext).or_js()
}

/// Decrypts a group message and verifies its sender (a participant of that epoch).
#[wasm_bindgen(js_name = decryptGroupMessage)]
pub fn decrypt_group(
    group: &str,
    keys: &GroupKeys,
    message: &[u8],
    sender_chain: Vec<Card>,
    made_at: Option<js_sys::Date>,
) -> Result<Decrypted, JsValue> {
    let (plaintext, verified) = decrypt_group_message(
        &group_id(group)?,
        &keys.inner,
        message,
        &core_cards(&sender_chain),
        made_at.as_ref().map(timestamp_of),
    )
    .or_js()?;
    Ok(Decrypted::new(plaintext, verified))
}

/// The clear header of a group message: which group and epoch it belongs to.
#[wasm_bindgen(getter_with_clone)]
pub struct GroupMessageInfo {
    /// The group id.
    #[wasm_bindgen(js_name = groupId)]
    pub group_id: String,
    /// The epoch number.
    pub epoch: u32,
}

/// Reads the group id and epoch of a group message without any key.
#[wasm_bindgen(js_name = groupMessageInfo)]
pub fn group_message_info(message: &[u8]) -> Result<GroupMessageInfo, JsValue> {
    let header = GroupMessageHeader::parse(message).or_js()?;
    Ok(GroupMessageInfo {
        group_id: header.group_id.as_str().to_owned(),
        epoch: header.epoch,
    })
}
