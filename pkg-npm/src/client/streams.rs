//! The client's streams for files of any size, wrapping core's push-style
//! [`tessera_client::EncryptStream`] / [`tessera_client::DecryptStream`]. The
//! JavaScript facade feeds them from a `Blob` or `ReadableStream` and reports progress.

use tessera_client::{DecryptStream, EncryptStream};
use wasm_bindgen::prelude::*;

use crate::{envelope::Decrypted, error::OrJs};

fn finished() -> JsValue {
    crate::error::IntoJsError::into_js(tessera_client::Error::InvalidState)
}

/// Encrypts a file piece by piece (from `Tessera.encryptStream`).
#[wasm_bindgen]
pub struct ClientEncryptStream {
    inner: Option<EncryptStream>,
}

impl ClientEncryptStream {
    pub(crate) fn new(inner: EncryptStream) -> Self {
        Self { inner: Some(inner) }
    }
}

#[wasm_bindgen]
impl ClientEncryptStream {
    /// Encrypts the next piece; returns the ciphertext ready so far (possibly empty).
    pub fn update(&mut self, data: &[u8]) -> Result<Vec<u8>, JsValue> {
        let stream = self.inner.as_mut().ok_or_else(finished)?;
        let mut out = Vec::with_capacity(data.len() + 256);
        stream.update(data, &mut out).or_js()?;
        Ok(out)
    }

    /// Signs and returns the last bytes. The stream cannot be used afterwards.
    pub fn finish(&mut self) -> Result<Vec<u8>, JsValue> {
        let stream = self.inner.take().ok_or_else(finished)?;
        let mut out = Vec::new();
        stream.finish(&mut out).or_js()?;
        Ok(out)
    }
}

/// Decrypts a file piece by piece (from `Tessera.decryptStream`); `finish` verifies the
/// sender. Bytes from `update` are attributed to the sender only once `finish` succeeds.
#[wasm_bindgen]
pub struct ClientDecryptStream {
    inner: Option<DecryptStream>,
}

impl ClientDecryptStream {
    pub(crate) fn new(inner: DecryptStream) -> Self {
        Self { inner: Some(inner) }
    }
}

#[wasm_bindgen]
impl ClientDecryptStream {
    /// Decrypts the next piece; returns the plaintext released so far (possibly empty).
    pub fn update(&mut self, data: &[u8]) -> Result<Vec<u8>, JsValue> {
        let stream = self.inner.as_mut().ok_or_else(finished)?;
        let mut out = Vec::with_capacity(data.len());
        stream.update(data, &mut out).or_js()?;
        Ok(out)
    }

    /// Decrypts the rest and verifies the signature.
    pub fn finish(&mut self) -> Result<Decrypted, JsValue> {
        let stream = self.inner.take().ok_or_else(finished)?;
        let mut tail = Vec::new();
        let verified = stream.finish(&mut tail).or_js()?;
        Ok(Decrypted::new(tail, verified))
    }
}
