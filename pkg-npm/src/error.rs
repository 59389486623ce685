//! Errors as JS `Error` subclasses with a stable `code`.
//!
//! The JS facade registers a factory at initialisation (`setErrorFactory`) that builds the
//! right subclass for a code; every error leaving Rust goes through it, so even the
//! low-level classes throw `TesseraError` subclasses. Codes are the client's codes
//! (`tessera_client::Error::code`) and the format crate's kinds (`DecryptError::kind`, …,
//! `tessera_format::ERROR_KINDS`), unchanged; [`error_codes`] and [`error_kinds`] list them
//! for the package's tests. Messages never carry secrets: the Rust `Display` texts name
//! what went wrong, not the data.

use std::cell::RefCell;

use wasm_bindgen::prelude::*;

thread_local! {
    static ERROR_FACTORY: RefCell<Option<js_sys::Function>> = const { RefCell::new(None) };
}

/// Registers `factory(code, message, details)`, which returns the JS error object to throw
/// (`details` is an object with extra fields, such as `identities` for `users_not_found`,
/// or `undefined`).
#[wasm_bindgen(js_name = setErrorFactory)]
pub fn set_error_factory(factory: js_sys::Function) {
    ERROR_FACTORY.with(|slot| *slot.borrow_mut() = Some(factory));
}

/// The JS error for `code` and `message`: built by the registered factory, or a plain
/// `Error` with a `code` property when none is registered (or the factory throws).
pub fn js_error(code: &str, message: &str) -> JsValue {
    js_error_with(code, message, &JsValue::UNDEFINED)
}

/// Like [`js_error`], with `details` (an object of extra fields) for the factory.
pub fn js_error_with(code: &str, message: &str, details: &JsValue) -> JsValue {
    let built = ERROR_FACTORY.with(|slot| {
        slot.borrow().as_ref().and_then(|factory| {
            factory
                .call3(
                    &JsValue::NULL,
                    &JsValue::from_str(code),
                    &JsValue::from_str(message),
                    details,
                )
                .ok()
        })
    });
    built.unwrap_or_else(|| {
        let error = js_sys::Error::new(message);
        error.set_name("TesseraError");
        // Setting a property on a fresh Error object cannot fail.
        let _ = js_sys::Reflect::set(&error, &"code".into(), &code.into());
        error.into()
    })
}

/// Every code the client's errors carry (`tessera_client::Error::ALL_CODES`), in order.
#[wasm_bindgen(js_name = errorCodes)]
pub fn error_codes() -> js_sys::Array {
    tessera_client::Error::ALL_CODES
        .iter()
        .copied()
        .map(JsValue::from_str)
        .collect()
}

/// Every kind the low-level errors carry (`tessera_format::ERROR_KINDS`).
#[wasm_bindgen(js_name = errorKinds)]
pub fn error_kinds() -> js_sys::Array {
    tessera_format::ERROR_KINDS
        .iter()
        .copied()
        .map(JsValue::from_str)
        .collect()
}

/// An `invalid_input` error: an argument does not have the expected shape.
pub fn invalid_input(message: &str) -> JsValue {
    js_error("invalid_input", message)
}

/// Converts an error that has a stable code or kind into a JS error.
pub(crate) trait IntoJsError {
    /// The JS error for this value.
    fn into_js(self) -> JsValue;
}

macro_rules! kinded {
    ($($t:ty),*) => {$(
        impl IntoJsError for $t {
            fn into_js(self) -> JsValue {
                js_error(self.kind(), &self.to_string())
            }
        }
    )*};
}

kinded!(
    tessera_format::CardError,
    tessera_format::keys::KeyError,
    tessera_format::EncryptError,
    tessera_format::DecryptError,
    tessera_format::BackupError,
    tessera_format::TokenError,
    tessera_format::group::GroupError
);

/// The client's errors: `code()` is the stable code; `users_not_found` carries the
/// missing identities and `server` the HTTP status and the server's own code.
impl IntoJsError for tessera_client::Error {
    fn into_js(self) -> JsValue {
        use tessera_client::Error;
        let details = js_sys::Object::new();
        let set = |name: &str, value: JsValue| {
            // Setting a property on a fresh plain object cannot fail.
            let _ = js_sys::Reflect::set(&details, &name.into(), &value);
        };
        match &self {
            Error::UsersNotFound { identities } => {
                let list: js_sys::Array = identities.iter().map(JsValue::from).collect();
                set("identities", list.into());
            }
            Error::Server { status, code, .. } => {
                set("status", (*status).into());
                set("serverCode", code.into());
            }
            _ => return js_error(self.code(), &self.to_string()),
        }
        js_error_with(self.code(), &self.to_string(), &details.into())
    }
}

/// `result.map_err(IntoJsError::into_js)` in one word.
pub(crate) trait OrJs<T> {
    /// Converts the error side into a JS error.
    fn or_js(self) -> Result<T, JsValue>;
}

impl<T, E: IntoJsError> OrJs<T> for Result<T, E> {
    fn or_js(self) -> Result<T, JsValue> {
        self.map_err(IntoJsError::into_js)
    }
}
