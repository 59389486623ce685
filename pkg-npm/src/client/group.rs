//! `Group`: a group conversation, wrapping [`tessera_client::Group`] (create, load,
//! update, add, remove, re-add; group messages). Async methods return Promises.

use tessera_client::{self as client, FoundUsers};
use wasm_bindgen::prelude::*;

use super::{bytes, promise, string_array};
use crate::{
    card::{Card, core_cards},
    error::OrJs,
    timestamp_of,
};

/// An end-to-end encrypted group conversation, as this device knows it.
#[wasm_bindgen]
pub struct Group {
    inner: client::Group,
}

impl From<client::Group> for Group {
    fn from(inner: client::Group) -> Self {
        Self { inner }
    }
}

#[wasm_bindgen]
impl Group {
    /// The group id.
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> Result<String, JsValue> {
        self.inner.id().or_js()
    }

    /// The initiator's identity.
    #[wasm_bindgen(getter)]
    pub fn initiator(&self) -> Result<String, JsValue> {
        Ok(self.inner.initiator().or_js()?.as_str().to_owned())
    }

    /// The participants of the current epoch.
    #[wasm_bindgen(getter)]
    pub fn participants(&self) -> Result<JsValue, JsValue> {
        Ok(string_array(
            self.inner
                .participants()
                .or_js()?
                .iter()
                .map(|p| p.as_str()),
        ))
    }

    /// The current epoch number.
    #[wasm_bindgen(getter)]
    pub fn epoch(&self) -> Result<u32, JsValue> {
        self.inner.epoch().or_js()
    }

    /// Signs and encrypts `data` for the current participants; resolves to the message.
    pub fn encrypt(&self, data: Vec<u8>) -> js_sys::Promise {
        let inner = self.inner.clone();
        promise(async move { inner.encrypt(&data).await.map(bytes) })
    }

    /// Decrypts a group message and verifies that `sender` signed it as a participant;
    /// resolves to the plaintext.
    pub fn decrypt(
        &self,
        data: Vec<u8>,
        sender: &Card,
        made_at: Option<js_sys::Date>,
    ) -> js_sys::Promise {
        let inner = self.inner.clone();
        let sender = sender.inner.clone();
        let made_at = made_at.as_ref().map(timestamp_of);
        promise(async move { inner.decrypt(&data, &sender, made_at).await.map(bytes) })
    }

    /// Fetches the epochs started since this device last looked.
    pub fn update(&self) -> js_sys::Promise {
        let inner = self.inner.clone();
        promise(async move { inner.update().await.map(|()| JsValue::UNDEFINED) })
    }

    /// Adds participants (initiator only); with `shareHistory` they can read earlier
    /// messages too.
    pub fn add(&self, participants: Vec<Card>, share_history: bool) -> js_sys::Promise {
        let inner = self.inner.clone();
        let participants = FoundUsers::from_cards(core_cards(&participants));
        promise(async move {
            inner
                .add(&participants, share_history)
                .await
                .map(|()| JsValue::UNDEFINED)
        })
    }

    /// Removes participants by identity (initiator only).
    pub fn remove(&self, identities: Vec<String>) -> js_sys::Promise {
        let inner = self.inner.clone();
        promise(async move { inner.remove(&identities).await.map(|()| JsValue::UNDEFINED) })
    }

    /// Gives a participant who rotated their key access again (initiator only).
    #[wasm_bindgen(js_name = reAdd)]
    pub fn re_add(&self, participant: &Card) -> js_sys::Promise {
        let inner = self.inner.clone();
        let participant = participant.inner.clone();
        promise(async move {
            inner
                .re_add(&participant)
                .await
                .map(|()| JsValue::UNDEFINED)
        })
    }
}
