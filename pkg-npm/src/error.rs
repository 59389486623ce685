//! Errors as JS `Error` subclasses with a stable `code`.
//!
//! The JS facade registers a factory at initialisation (`setErrorFactory`) that builds the
//! right subclass for a code; every error leaving Rust goes through it, so even the
//! low-level classes throw `TesseraError` subclasses. Codes are core's stable kinds
//! (`DecryptError::kind`, `CardError::kind`, …), unchanged. Messages never carry secrets:
//! core's `Display` texts name what went wrong, not the data.

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

/// An `invalid_input` error: an argument does not have the expected shape.
pub fn invalid_input(message: &str) -> JsValue {
    js_error("invalid_input", message)
}

/// Converts a core error that has a stable `kind()` into a JS error.
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
    tessera_format::DecryptError,
    tessera_format::BackupError,
    tessera_format::TokenError,
    tessera_format::group::GroupError
);

impl IntoJsError for tessera_format::EncryptError {
    fn into_js(self) -> JsValue {
        let code = match self {
            tessera_format::EncryptError::Randomness(_) => "randomness_unavailable",
            tessera_format::EncryptError::Internal(_) => "internal",
            _ => "invalid_input",
        };
        js_error(code, &self.to_string())
    }
}

impl IntoJsError for tessera_format::keys::KeyError {
    fn into_js(self) -> JsValue {
        let code = match self {
            tessera_format::keys::KeyError::Randomness(_) => "randomness_unavailable",
            _ => "invalid_key",
        };
        js_error(code, &self.to_string())
    }
}

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
