//! The wasm-bindgen adapter of `tessera-client` for the `tessera-e2ee` npm package.
//!
//! Thin by rule (ARCHITECTURE.md): every exported item is a newtype around a core type or
//! a one-line call into core, as matrix-sdk-crypto-wasm does. Conversions between JS and
//! Rust values (bytes, `Date`, errors) are the only code here; anything that two adapters
//! would both need lives in core. The JavaScript facade in `pkg-npm/js/` adds the platform
//! parts (key stores, `Blob`/`ReadableStream` plumbing) and the E3Kit-compatible names.
//!
//! Concerns, one module each: [`error`] (JS errors with stable codes), [`keys`], [`card`],
//! [`envelope`] (messages and streams), [`backup`], [`token`], [`group`], and `client`
//! (the E3Kit-style device client over tessera-server; wasm only, since the app's JS
//! objects are not `Send`).

pub mod backup;
pub mod card;
#[cfg(target_family = "wasm")]
pub mod client;
pub mod envelope;
pub mod error;
pub mod group;
pub mod keys;
pub mod token;

use base64ct::{Base64, Encoding};
use tessera_format::Timestamp;
use wasm_bindgen::prelude::*;

pub use error::set_error_factory;

/// Standard base64 with padding (RFC 4648 §4), the text form `authEncrypt` returns for
/// string input, as E3Kit does.
#[wasm_bindgen(js_name = toBase64)]
pub fn to_base64(bytes: &[u8]) -> String {
    Base64::encode_string(bytes)
}

/// Decodes standard padded base64; an `invalid_input` error otherwise.
#[wasm_bindgen(js_name = fromBase64)]
pub fn from_base64(text: &str) -> Result<Vec<u8>, JsValue> {
    Base64::decode_vec(text.trim())
        .map_err(|_| error::js_error("invalid_input", "the text is not valid base64"))
}

/// A JS `Date` as a Tessera timestamp (whole seconds; dates before 1970 become 0).
pub(crate) fn timestamp_of(date: &js_sys::Date) -> Timestamp {
    Timestamp::from_js_millis(date.get_time())
}

/// A Tessera timestamp as a JS `Date`.
pub(crate) fn date_of(timestamp: Timestamp) -> js_sys::Date {
    js_sys::Date::new(&JsValue::from_f64(timestamp.0 as f64 * 1000.0))
}
