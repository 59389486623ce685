//! Identity key pairs (docs/FORMAT.md §2), for apps that manage keys themselves, the test
//! vectors and cross-language checks. The client keeps its own key in the key store.

use std::sync::Arc;

use tessera_format::{IdentityKeyPair, RootSecret};

use crate::error::CryptoError;

/// An identity: Ed25519 signing and X25519 encryption keys derived from one 32-byte root
/// secret. The secret stays inside Rust (zeroized on drop).
#[derive(uniffi::Object)]
pub struct KeyPair {
    pub(crate) inner: IdentityKeyPair,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

#[uniffi::export]
impl KeyPair {
    /// A new identity from the operating system's randomness.
    #[uniffi::constructor]
    pub fn generate() -> Result<Arc<Self>, CryptoError> {
        Ok(Arc::new(Self {
            inner: IdentityKeyPair::generate()?,
        }))
    }

    /// The identity of a 32-byte root secret (deterministic).
    #[uniffi::constructor]
    pub fn from_root_secret(root_secret: Vec<u8>) -> Result<Arc<Self>, CryptoError> {
        let root = RootSecret::from_slice(&root_secret)
            .map_err(|_| CryptoError::invalid_key("a root secret is 32 bytes"))?;
        Ok(Arc::new(Self {
            inner: IdentityKeyPair::from_root_secret(root),
        }))
    }

    /// The Ed25519 public key (32 bytes).
    pub fn signing_public_key(&self) -> Vec<u8> {
        self.inner.public_keys().signing.to_vec()
    }

    /// The X25519 public key (32 bytes).
    pub fn encryption_public_key(&self) -> Vec<u8> {
        self.inner.public_keys().encryption.to_vec()
    }

    /// The 8-byte id of the signing key.
    pub fn signing_key_id(&self) -> Vec<u8> {
        self.inner.public_keys().signing_key_id().0.to_vec()
    }

    /// The 8-byte id of the encryption key (it names the recipient in envelopes).
    pub fn encryption_key_id(&self) -> Vec<u8> {
        self.inner.public_keys().encryption_key_id().0.to_vec()
    }
}
