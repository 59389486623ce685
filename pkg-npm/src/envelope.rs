//! Sign-then-encrypt envelopes (docs/FORMAT.md §4): one-shot [`encrypt`] / [`decrypt`]
//! and the streaming [`EncryptStream`] / [`DecryptStream`], wrapping
//! `tessera_format::envelope`.

use tessera_format::{
    Recipient, Verified,
    envelope::{Decryptor, Encryptor, decrypt_message, encrypt_message},
};
use wasm_bindgen::prelude::*;

use crate::{
    card::{Card, core_cards},
    error::OrJs,
    keys::KeyPair,
    timestamp_of,
};

pub(crate) fn recipients_of(cards: &[Card]) -> Vec<Recipient> {
    cards
        .iter()
        .map(|card| Recipient::from(&card.inner))
        .collect()
}

/// What a successful decrypt-then-verify returns.
#[wasm_bindgen(getter_with_clone)]
pub struct Decrypted {
    /// The plaintext (for streams: the final piece, released only after verification).
    pub plaintext: Vec<u8>,
    /// The identity that signed.
    pub signer: String,
    /// The id of the card whose key signed (hex).
    #[wasm_bindgen(js_name = signerCardId)]
    pub signer_card_id: String,
}

impl Decrypted {
    pub(crate) fn new(plaintext: Vec<u8>, verified: Verified) -> Self {
        Self {
            plaintext,
            signer: verified.signer.as_str().to_owned(),
            signer_card_id: verified.signer_card_id.to_hex(),
        }
    }
}

/// Signs `plaintext` with `sender` and encrypts it to the cards' keys.
#[wasm_bindgen]
pub fn encrypt(
    sender: &KeyPair,
    recipients: Vec<Card>,
    plaintext: &[u8],
) -> Result<Vec<u8>, JsValue> {
    encrypt_message(&sender.inner, &recipients_of(&recipients), plaintext).or_js()
}

/// Decrypts `envelope` with `recipient` and verifies the signature against the sender's
/// card chain (oldest first). `madeAt` lets data signed before a rotation verify.
#[wasm_bindgen]
pub fn decrypt(
    recipient: &KeyPair,
    envelope: &[u8],
    sender_chain: Vec<Card>,
    made_at: Option<js_sys::Date>,
) -> Result<Decrypted, JsValue> {
    let made_at = made_at.as_ref().map(timestamp_of);
    let (plaintext, verified) = decrypt_message(
        &recipient.inner,
        envelope,
        &core_cards(&sender_chain),
        made_at,
    )
    .or_js()?;
    Ok(Decrypted::new(plaintext, verified))
}

fn finished() -> JsValue {
    crate::error::IntoJsError::into_js(tessera_client::Error::InvalidState)
}

/// Encrypts data of any size in pieces: `update` per piece, then `finish` once.
#[wasm_bindgen]
pub struct EncryptStream {
    inner: Option<Encryptor>,
}

#[wasm_bindgen]
impl EncryptStream {
    /// Starts an envelope from `sender` to the cards' keys.
    #[wasm_bindgen(constructor)]
    pub fn new(sender: &KeyPair, recipients: Vec<Card>) -> Result<EncryptStream, JsValue> {
        Ok(Self {
            inner: Some(Encryptor::new(&sender.inner, &recipients_of(&recipients)).or_js()?),
        })
    }

    /// Encrypts the next piece; returns the ciphertext ready so far (possibly empty).
    pub fn update(&mut self, data: &[u8]) -> Result<Vec<u8>, JsValue> {
        let encryptor = self.inner.as_mut().ok_or_else(finished)?;
        let mut out = Vec::with_capacity(data.len() + 256);
        if let Err(error) = encryptor.update(data, &mut out) {
            self.inner = None;
            return Err(error.into_js_error());
        }
        Ok(out)
    }

    /// Signs and returns the last chunk. The stream cannot be used afterwards.
    pub fn finish(&mut self) -> Result<Vec<u8>, JsValue> {
        let encryptor = self.inner.take().ok_or_else(finished)?;
        let mut out = Vec::new();
        encryptor.finish(&mut out).or_js()?;
        Ok(out)
    }
}

/// Decrypts data of any size in pieces; `finish` verifies the signature. Bytes returned by
/// `update` are confidential and tamper-checked but not attributed to the sender until
/// `finish` succeeds (docs/FORMAT.md §4.6).
#[wasm_bindgen]
pub struct DecryptStream {
    inner: Option<Decryptor>,
}

#[wasm_bindgen]
impl DecryptStream {
    /// Starts decrypting with `recipient`'s keys.
    #[wasm_bindgen(constructor)]
    pub fn new(recipient: &KeyPair) -> DecryptStream {
        Self {
            inner: Some(Decryptor::new(&recipient.inner)),
        }
    }

    /// Decrypts the next piece; returns the plaintext released so far (possibly empty).
    pub fn update(&mut self, data: &[u8]) -> Result<Vec<u8>, JsValue> {
        let decryptor = self.inner.as_mut().ok_or_else(finished)?;
        let mut out = Vec::with_capacity(data.len());
        if let Err(error) = decryptor.update(data, &mut out) {
            self.inner = None;
            return Err(error.into_js_error());
        }
        Ok(out)
    }

    /// Decrypts the rest and verifies the signature against the sender's card chain.
    pub fn finish(
        &mut self,
        sender_chain: Vec<Card>,
        made_at: Option<js_sys::Date>,
    ) -> Result<Decrypted, JsValue> {
        let decryptor = self.inner.take().ok_or_else(finished)?;
        let made_at = made_at.as_ref().map(timestamp_of);
        let mut tail = Vec::new();
        let verified = decryptor
            .finish(&mut tail, &core_cards(&sender_chain), made_at)
            .or_js()?;
        Ok(Decrypted::new(tail, verified))
    }
}

/// `IntoJsError::into_js` under a name that does not clash with wasm-bindgen's traits.
trait IntoJsErrorExt {
    fn into_js_error(self) -> JsValue;
}

impl<E: crate::error::IntoJsError> IntoJsErrorExt for E {
    fn into_js_error(self) -> JsValue {
        self.into_js()
    }
}
