//! Access tokens (docs/FORMAT.md §6): `AppKey` mints them on an app's Node backend,
//! `TokenVerifier` checks them, wrapping `tessera_format::jwt`.

use tessera_format::{
    AppKey as CoreAppKey, Identity, TokenClaims as CoreClaims, TokenVerifier as CoreVerifier,
    jwt::{DEFAULT_TOKEN_TTL_SECONDS, default_audience},
};
use wasm_bindgen::prelude::*;

use crate::{
    error::{OrJs, invalid_input},
    timestamp_of,
};

fn key_bytes(bytes: &[u8], what: &str) -> Result<[u8; 32], JsValue> {
    bytes
        .try_into()
        .map_err(|_| invalid_input(&format!("{what} must be 32 bytes")))
}

/// An app's Ed25519 token-signing key. Keep it on the backend, never in a browser.
#[wasm_bindgen]
pub struct AppKey {
    inner: CoreAppKey,
}

#[wasm_bindgen]
impl AppKey {
    /// A fresh app key.
    pub fn generate() -> Result<AppKey, JsValue> {
        Ok(Self {
            inner: CoreAppKey::generate().or_js()?,
        })
    }

    /// The app key of a 32-byte Ed25519 seed.
    #[wasm_bindgen(js_name = fromSeed)]
    pub fn from_seed(seed: &[u8]) -> Result<AppKey, JsValue> {
        Ok(Self {
            inner: CoreAppKey::from_seed(key_bytes(seed, "an app key seed")?),
        })
    }

    /// A copy of the 32-byte seed, for the backend's secret storage.
    pub fn seed(&self) -> Vec<u8> {
        self.inner.seed().to_vec()
    }

    /// The public key to configure on the server.
    #[wasm_bindgen(getter, js_name = publicKey)]
    pub fn public_key(&self) -> Vec<u8> {
        self.inner.public_key().to_vec()
    }

    /// The key id placed in tokens' `kid` header.
    #[wasm_bindgen(getter)]
    pub fn kid(&self) -> String {
        self.inner.kid().to_owned()
    }

    /// The audience a Tessera server of `appId` expects unless configured otherwise:
    /// `tessera:<appId>`.
    #[wasm_bindgen(js_name = defaultAudience)]
    pub fn default_audience(app_id: &str) -> String {
        default_audience(app_id)
    }

    /// Mints a token for `subject` issued by `issuer` (the app id) for `audience` (the
    /// Tessera server's audience), valid from `issuedAt` (default now) for `ttlSeconds`
    /// (default 20 minutes).
    pub fn mint(
        &self,
        issuer: &str,
        audience: &str,
        subject: &str,
        issued_at: Option<js_sys::Date>,
        ttl_seconds: Option<u32>,
    ) -> Result<String, JsValue> {
        let subject = Identity::new(subject).or_js()?;
        let issued_at = issued_at
            .as_ref()
            .map_or_else(tessera_format::Timestamp::now, timestamp_of);
        let ttl = ttl_seconds.map_or(DEFAULT_TOKEN_TTL_SECONDS, u64::from);
        Ok(self.inner.mint(issuer, audience, &subject, issued_at, ttl))
    }
}

/// The claims of a verified token.
#[wasm_bindgen(getter_with_clone)]
pub struct TokenClaims {
    /// Issuer: the app id.
    pub iss: String,
    /// Subject: the identity.
    pub sub: String,
    /// Audience: the servers the token is for (one for a string `aud`).
    pub aud: Vec<String>,
    /// Issued at (Unix seconds).
    pub iat: f64,
    /// Expires at (Unix seconds).
    pub exp: f64,
    /// Not before (Unix seconds), when present.
    pub nbf: Option<f64>,
}

impl From<CoreClaims> for TokenClaims {
    fn from(claims: CoreClaims) -> Self {
        Self {
            iss: claims.iss,
            sub: claims.sub,
            aud: claims
                .aud
                .as_ref()
                .map(|aud| aud.as_slice().to_vec())
                .unwrap_or_default(),
            iat: claims.iat as f64,
            exp: claims.exp as f64,
            nbf: claims.nbf.map(|n| n as f64),
        }
    }
}

/// Verifies tokens of one app against a set of accepted app public keys.
#[wasm_bindgen]
pub struct TokenVerifier {
    inner: CoreVerifier,
}

#[wasm_bindgen]
impl TokenVerifier {
    /// A verifier for tokens issued by `issuer` for `audience`, accepting the given
    /// 32-byte public keys.
    #[wasm_bindgen(constructor)]
    pub fn new(
        issuer: &str,
        audience: &str,
        public_keys: Vec<js_sys::Uint8Array>,
    ) -> Result<TokenVerifier, JsValue> {
        let mut inner = CoreVerifier::new(issuer, audience);
        for key in public_keys {
            inner = inner
                .with_key(&key_bytes(&key.to_vec(), "an app public key")?)
                .or_js()?;
        }
        Ok(Self { inner })
    }

    /// Checks `token` at time `now` (default: the current time) and returns its claims.
    pub fn verify(&self, token: &str, now_: Option<js_sys::Date>) -> Result<TokenClaims, JsValue> {
        let at = now_
            .as_ref()
            .map_or_else(tessera_format::Timestamp::now, timestamp_of);
        Ok(self.inner.verify(token, at).or_js()?.into())
    }
}
