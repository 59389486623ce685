//! Streams for files of any size, wrapping the client's push-style
//! [`tessera_client::EncryptStream`] / [`tessera_client::DecryptStream`] with their
//! [`StreamOptions`]: the app's `onProgress` callback becomes the client's progress
//! listener and its `AbortSignal` the client's [`CancellationToken`]. The JavaScript facade
//! only feeds them from a `Blob` or `ReadableStream` and collects what they return.

use js_sys::{Function, Object, Reflect};
use tessera_client::{CancellationToken, DecryptStream, EncryptStream, Progress, StreamOptions};
use wasm_bindgen::{JsCast, prelude::*};

use crate::{
    card::{Card, core_cards},
    envelope::{Decrypted, recipients_of},
    error::OrJs,
    keys::KeyPair,
    timestamp_of,
};

#[wasm_bindgen]
extern "C" {
    /// A DOM `AbortSignal` (from an `AbortController`).
    pub type AbortSignal;

    #[wasm_bindgen(method, getter)]
    fn aborted(this: &AbortSignal) -> bool;

    #[wasm_bindgen(method, js_name = addEventListener)]
    fn add_event_listener(this: &AbortSignal, kind: &str, listener: &Function);

    #[wasm_bindgen(method, js_name = removeEventListener)]
    fn remove_event_listener(this: &AbortSignal, kind: &str, listener: &Function);
}

/// An `AbortSignal` cancelling a token while a stream lives; the listener is removed on
/// drop, so a long-lived signal does not keep finished streams' closures.
pub(crate) struct AbortBinding {
    signal: AbortSignal,
    listener: Closure<dyn FnMut()>,
}

impl AbortBinding {
    fn new(signal: AbortSignal, token: CancellationToken) -> Self {
        if signal.aborted() {
            token.cancel();
        }
        let listener = Closure::<dyn FnMut()>::new(move || token.cancel());
        signal.add_event_listener("abort", listener.as_ref().unchecked_ref());
        Self { signal, listener }
    }
}

impl Drop for AbortBinding {
    fn drop(&mut self) {
        self.signal
            .remove_event_listener("abort", self.listener.as_ref().unchecked_ref());
    }
}

/// `{ bytesProcessed, fileSize }`, the shape `onProgress` receives (`fileSize` undefined
/// when unknown).
fn progress_event(progress: Progress) -> JsValue {
    let event = Object::new();
    let file_size = progress
        .total_bytes
        .map_or(JsValue::UNDEFINED, |total| JsValue::from_f64(total as f64));
    // Setting a property on a fresh plain object cannot fail.
    let _ = Reflect::set(
        &event,
        &"bytesProcessed".into(),
        &JsValue::from_f64(progress.processed_bytes as f64),
    );
    let _ = Reflect::set(&event, &"fileSize".into(), &file_size);
    event.into()
}

/// The client's stream options from the JS ones, and the binding that must live as long
/// as the stream.
pub(crate) fn stream_options(
    on_progress: Option<Function>,
    signal: Option<AbortSignal>,
    file_size: Option<f64>,
) -> (StreamOptions, Option<AbortBinding>) {
    let mut options = StreamOptions::new();
    if let Some(callback) = on_progress {
        // What the callback returns or throws does not affect the stream.
        options = options.with_progress(move |progress: Progress| {
            let _ = callback.call1(&JsValue::UNDEFINED, &progress_event(progress));
        });
    }
    if let Some(size) = file_size {
        options = options.with_total_bytes(size as u64);
    }
    let mut abort = None;
    if let Some(signal) = signal {
        let token = CancellationToken::new();
        options = options.with_cancellation(token.clone());
        abort = Some(AbortBinding::new(signal, token));
    }
    (options, abort)
}

fn finished() -> JsValue {
    crate::error::IntoJsError::into_js(tessera_client::Error::InvalidState)
}

/// Encrypts a file piece by piece (from `Tessera.encryptStream` or [`seal_stream`]).
#[wasm_bindgen]
pub struct ClientEncryptStream {
    inner: Option<EncryptStream>,
    _abort: Option<AbortBinding>,
}

impl ClientEncryptStream {
    pub(crate) fn new(inner: EncryptStream, abort: Option<AbortBinding>) -> Self {
        Self {
            inner: Some(inner),
            _abort: abort,
        }
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

/// Decrypts a file piece by piece (from `Tessera.decryptStream` or [`open_stream`]);
/// `finish` verifies the sender. Bytes from `update` are attributed to the sender only
/// once `finish` succeeds.
#[wasm_bindgen]
pub struct ClientDecryptStream {
    inner: Option<DecryptStream>,
    _abort: Option<AbortBinding>,
}

impl ClientDecryptStream {
    pub(crate) fn new(inner: DecryptStream, abort: Option<AbortBinding>) -> Self {
        Self {
            inner: Some(inner),
            _abort: abort,
        }
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

/// Starts a file envelope from `sender` to the cards' keys, with explicit keys (for
/// `sealFile`), reporting progress to `onProgress` and stopping when `signal` aborts.
#[wasm_bindgen(js_name = sealStream)]
pub fn seal_stream(
    sender: &KeyPair,
    recipients: Vec<Card>,
    on_progress: Option<Function>,
    signal: Option<AbortSignal>,
    file_size: Option<f64>,
) -> Result<ClientEncryptStream, JsValue> {
    let (options, abort) = stream_options(on_progress, signal, file_size);
    let stream =
        EncryptStream::with_keys(&sender.inner, &recipients_of(&recipients), options).or_js()?;
    Ok(ClientEncryptStream::new(stream, abort))
}

/// Starts decrypting a file with `recipient`'s keys, verified at the end against the
/// sender's card chain (oldest first), with explicit keys (for `openFile`).
#[wasm_bindgen(js_name = openStream)]
pub fn open_stream(
    recipient: &KeyPair,
    sender_chain: Vec<Card>,
    made_at: Option<js_sys::Date>,
    on_progress: Option<Function>,
    signal: Option<AbortSignal>,
    file_size: Option<f64>,
) -> Result<ClientDecryptStream, JsValue> {
    let (options, abort) = stream_options(on_progress, signal, file_size);
    let stream = DecryptStream::with_keys(
        &recipient.inner,
        core_cards(&sender_chain),
        made_at.as_ref().map(timestamp_of),
        options,
    )
    .or_js()?;
    Ok(ClientDecryptStream::new(stream, abort))
}
