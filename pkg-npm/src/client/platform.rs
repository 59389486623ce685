//! The app's JavaScript objects as core's platform traits: a key store object
//! `{ get, set, delete }`, the `getToken` callback, the key-changed listener and the HTTP
//! `send` function (the JS facade's one-call wrapper of `fetch`), imported duck-typed
//! (any object with these methods), as matrix-rust-sdk's bindings import
//! `ClientSessionDelegate`. Conversions only: every method calls the JS function, awaits
//! what it returns (a value or a Promise) and converts the result.

use async_trait::async_trait;
use js_sys::{Array, Function, Promise, Uint8Array};
use tessera_client::{
    HttpRequest, HttpResponse, HttpTransport, KeyChangedListener, KeyStore, PasswordKdf,
    PlatformError, TokenProvider,
};
use tessera_format::Identity;
use tessera_format::backup::KdfParams;
use wasm_bindgen::{JsCast, prelude::*};
use wasm_bindgen_futures::JsFuture;
use zeroize::Zeroizing;

#[wasm_bindgen]
extern "C" {
    /// The app's key store: any object with async `get(name)`, `set(name, bytes)` and
    /// `delete(name)` (docs/NPM.md "Key stores").
    pub type JsKeyStore;

    #[wasm_bindgen(method, catch)]
    fn get(this: &JsKeyStore, name: &str) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn set(this: &JsKeyStore, name: &str, value: Uint8Array) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn delete(this: &JsKeyStore, name: &str) -> Result<JsValue, JsValue>;
}

/// What a thrown JS value says, for a [`PlatformError`] (its `message` when it is an
/// `Error`; the app's own words, never data Tessera gave it).
fn describe(thrown: &JsValue) -> String {
    if let Some(error) = thrown.dyn_ref::<js_sys::Error>() {
        return String::from(error.message());
    }
    thrown
        .as_string()
        .unwrap_or_else(|| "a non-Error value was thrown".into())
}

/// Awaits a JS call's result, which may be a plain value or a Promise.
async fn settle(called: Result<JsValue, JsValue>, what: &str) -> Result<JsValue, PlatformError> {
    let fail =
        |thrown: JsValue| PlatformError::new(format!("{what} failed: {}", describe(&thrown)));
    let value = called.map_err(fail)?;
    JsFuture::from(Promise::resolve(&value)).await.map_err(fail)
}

/// [`KeyStore`] over the app's JS key store object.
pub(crate) struct JsKeyStoreAdapter {
    store: JsKeyStore,
}

impl JsKeyStoreAdapter {
    pub(crate) fn new(store: JsKeyStore) -> Self {
        Self { store }
    }
}

#[async_trait(?Send)]
impl KeyStore for JsKeyStoreAdapter {
    async fn get(&self, name: &str) -> Result<Option<Vec<u8>>, PlatformError> {
        let value = settle(self.store.get(name), "keyStore.get").await?;
        if value.is_null() || value.is_undefined() {
            return Ok(None);
        }
        value
            .dyn_into::<Uint8Array>()
            .map(|bytes| Some(bytes.to_vec()))
            .map_err(|_| {
                PlatformError::new("keyStore.get must resolve to a Uint8Array, null or undefined")
            })
    }

    async fn put(&self, name: &str, value: &[u8]) -> Result<(), PlatformError> {
        // A copy in JS memory: the store may keep it across awaits.
        settle(
            self.store.set(name, Uint8Array::from(value)),
            "keyStore.set",
        )
        .await?;
        Ok(())
    }

    async fn delete(&self, name: &str) -> Result<(), PlatformError> {
        settle(self.store.delete(name), "keyStore.delete").await?;
        Ok(())
    }
}

/// [`TokenProvider`] over the app's `getToken` callback (sync or async).
pub(crate) struct JsTokenProvider {
    get_token: Function,
}

impl JsTokenProvider {
    pub(crate) fn new(get_token: Function) -> Self {
        Self { get_token }
    }
}

#[async_trait(?Send)]
impl TokenProvider for JsTokenProvider {
    async fn token(&self) -> Result<String, PlatformError> {
        let token = settle(self.get_token.call0(&JsValue::UNDEFINED), "getToken").await?;
        token
            .as_string()
            .ok_or_else(|| PlatformError::new("getToken must return (a Promise of) a string"))
    }
}

/// [`PasswordKdf`] over the facade's `kdf(password, salt, memoryKib, iterations,
/// parallelism, length)`, which runs Argon2id in a Web Worker (js/kdf.js).
pub(crate) struct JsPasswordKdf {
    kdf: Function,
}

impl JsPasswordKdf {
    pub(crate) fn new(kdf: Function) -> Self {
        Self { kdf }
    }
}

#[async_trait(?Send)]
impl PasswordKdf for JsPasswordKdf {
    async fn argon2id(
        &self,
        password: &str,
        salt: &[u8],
        params: KdfParams,
        length: usize,
    ) -> Result<Zeroizing<Vec<u8>>, PlatformError> {
        let args: Array = [
            JsValue::from_str(password),
            Uint8Array::from(salt).into(),
            params.memory_kib.into(),
            params.iterations.into(),
            params.parallelism.into(),
            (length as u32).into(),
        ]
        .into_iter()
        .collect();
        let key = settle(self.kdf.apply(&JsValue::UNDEFINED, &args), "kdf").await?;
        let key = key
            .dyn_into::<Uint8Array>()
            .map_err(|_| PlatformError::new("kdf must resolve to a Uint8Array"))?;
        Ok(Zeroizing::new(key.to_vec()))
    }
}

/// [`KeyChangedListener`] over the app's `onKeyChanged(identity)` callback.
pub(crate) struct JsKeyChangedListener {
    callback: Function,
}

impl JsKeyChangedListener {
    pub(crate) fn new(callback: Function) -> Self {
        Self { callback }
    }
}

impl KeyChangedListener for JsKeyChangedListener {
    fn key_changed(&self, identity: &Identity) -> Result<(), PlatformError> {
        self.callback
            .call1(&JsValue::UNDEFINED, &JsValue::from_str(identity.as_str()))
            .map(|_| ())
            .map_err(|thrown| {
                PlatformError::new(format!("onKeyChanged failed: {}", describe(&thrown)))
            })
    }
}

/// [`HttpTransport`] over `send(method, url, headers, body)`, the JS facade's wrapper of
/// `fetch` (the browser's, Node's, or one the app passes), which resolves to
/// `{ status, headers: [name, value][], body: Uint8Array }`. A rejection means no response.
pub(crate) struct JsTransport {
    send: Function,
}

impl JsTransport {
    pub(crate) fn new(send: Function) -> Self {
        Self { send }
    }
}

fn bad_response() -> PlatformError {
    PlatformError::new(
        "the HTTP send function returned something other than { status, headers, body }",
    )
}

#[async_trait(?Send)]
impl HttpTransport for JsTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, PlatformError> {
        let headers: Array = request
            .headers
            .iter()
            .map(|(name, value)| Array::of2(&name.into(), &value.into()))
            .collect();
        let body = if request.body.is_empty() {
            JsValue::UNDEFINED
        } else {
            Uint8Array::from(request.body.as_slice()).into()
        };
        let arguments = Array::of4(
            &request.method.as_str().into(),
            &request.url.as_str().into(),
            &headers.into(),
            &body,
        );
        let response = settle(self.send.apply(&JsValue::UNDEFINED, &arguments), "fetch").await?;
        if !response.is_object() {
            return Err(bad_response());
        }
        let field =
            |name: &str| js_sys::Reflect::get(&response, &name.into()).map_err(|_| bad_response());
        let status = field("status")?
            .as_f64()
            .filter(|status| (100.0..=999.0).contains(status))
            .ok_or_else(bad_response)? as u16;
        let headers = Array::from(&field("headers")?)
            .iter()
            .filter_map(|pair| {
                let pair = Array::from(&pair);
                Some((pair.get(0).as_string()?, pair.get(1).as_string()?))
            })
            .collect();
        let body = field("body")?
            .dyn_into::<Uint8Array>()
            .map_err(|_| bad_response())?
            .to_vec();
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}
