//! `KeyPair`: a user's identity keys (docs/FORMAT.md §2), wrapping
//! [`tessera_format::IdentityKeyPair`].

use tessera_format::{IdentityKeyPair, RootSecret};
use wasm_bindgen::prelude::*;

use crate::error::OrJs;

/// A user's private keys, derived from a 32-byte root secret. Lives in wasm memory;
/// `free()` (or garbage collection) zeroizes it.
#[wasm_bindgen]
pub struct KeyPair {
    pub(crate) inner: IdentityKeyPair,
}

#[wasm_bindgen]
impl KeyPair {
    /// A new identity from the platform's CSPRNG (`crypto.getRandomValues`).
    pub fn generate() -> Result<KeyPair, JsValue> {
        Ok(Self {
            inner: IdentityKeyPair::generate().or_js()?,
        })
    }

    /// The identity whose root secret is `rootSecret` (32 bytes).
    #[wasm_bindgen(js_name = fromRootSecret)]
    pub fn from_root_secret(root_secret: &[u8]) -> Result<KeyPair, JsValue> {
        Ok(Self {
            inner: IdentityKeyPair::from_root_secret(RootSecret::from_slice(root_secret).or_js()?),
        })
    }

    /// A copy of the 32-byte root secret, for a key store. Treat it as the private key.
    #[wasm_bindgen(js_name = rootSecret)]
    pub fn root_secret(&self) -> Vec<u8> {
        self.inner.root_secret().as_bytes().to_vec()
    }

    /// The Ed25519 public key (32 bytes).
    #[wasm_bindgen(getter, js_name = signingPublicKey)]
    pub fn signing_public_key(&self) -> Vec<u8> {
        self.inner.public_keys().signing.to_vec()
    }

    /// The X25519 public key (32 bytes).
    #[wasm_bindgen(getter, js_name = encryptionPublicKey)]
    pub fn encryption_public_key(&self) -> Vec<u8> {
        self.inner.public_keys().encryption.to_vec()
    }

    /// The 8-byte id of the signing key.
    #[wasm_bindgen(getter, js_name = signingKeyId)]
    pub fn signing_key_id(&self) -> Vec<u8> {
        self.inner.public_keys().signing_key_id().0.to_vec()
    }

    /// The 8-byte id of the encryption key.
    #[wasm_bindgen(getter, js_name = encryptionKeyId)]
    pub fn encryption_key_id(&self) -> Vec<u8> {
        self.inner.public_keys().encryption_key_id().0.to_vec()
    }
}
