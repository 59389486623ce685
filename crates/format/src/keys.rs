//! Identity keys: one 32-byte root secret per user, from which the Ed25519 signing key
//! and the X25519 encryption key are derived (docs/FORMAT.md §2).

use std::fmt;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;
use x25519_dalek::{PublicKey as X25519Public, StaticSecret};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::random::{RandomnessUnavailable, random_array};

const IDENTITY_KDF_SALT: &[u8] = b"tessera/v1/identity-key";
const SIGNING_KEY_INFO: &[u8] = b"tessera/v1/ed25519-signing-key";
const ENCRYPTION_KEY_INFO: &[u8] = b"tessera/v1/x25519-encryption-key";
const SIGNING_KEY_ID_LABEL: &[u8] = b"tessera/v1/key-id/ed25519";
const ENCRYPTION_KEY_ID_LABEL: &[u8] = b"tessera/v1/key-id/x25519";

/// Length of every public key, secret and root secret in bytes.
pub const KEY_LENGTH: usize = 32;

/// Problems with key material.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// A root secret must be exactly 32 bytes.
    #[error("a root secret must be 32 bytes, got {0}")]
    InvalidRootSecretLength(usize),
    /// The bytes are not a valid Ed25519 public key (not on the curve, or of small order).
    #[error("the Ed25519 public key is invalid or of small order")]
    InvalidSigningKey,
    /// The X25519 public key is of small order and would give an all-zero shared secret.
    #[error("the X25519 public key is of small order")]
    InvalidEncryptionKey,
    /// The platform's random number generator failed.
    #[error(transparent)]
    Randomness(#[from] RandomnessUnavailable),
}

impl KeyError {
    /// A stable snake_case name for this kind of failure (one of [`crate::ERROR_KINDS`]).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidRootSecretLength(_)
            | Self::InvalidSigningKey
            | Self::InvalidEncryptionKey => "invalid_key",
            Self::Randomness(_) => "randomness_unavailable",
        }
    }
}

/// The 32-byte secret every other private key of an identity is derived from. This is
/// what a password backup protects. Zeroized on drop, never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct RootSecret(Box<[u8; KEY_LENGTH]>);

impl RootSecret {
    /// A fresh root secret from the operating system's randomness.
    pub fn generate() -> Result<Self, KeyError> {
        Ok(Self(Box::new(random_array()?)))
    }

    /// Wraps existing secret bytes (for example read back from a key store).
    pub fn from_bytes(bytes: [u8; KEY_LENGTH]) -> Self {
        Self(Box::new(bytes))
    }

    /// Wraps a slice that must be exactly 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        let array: [u8; KEY_LENGTH] = bytes
            .try_into()
            .map_err(|_| KeyError::InvalidRootSecretLength(bytes.len()))?;
        Ok(Self::from_bytes(array))
    }

    /// The secret bytes, for storing in a key store or a backup.
    pub fn as_bytes(&self) -> &[u8; KEY_LENGTH] {
        &self.0
    }
}

impl fmt::Debug for RootSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RootSecret").finish_non_exhaustive()
    }
}

/// A short identifier of a public key: the first 8 bytes of a domain-separated SHA-256.
/// Used to find one's stanza in an envelope and to name the signer inside it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 8]);

impl KeyId {
    /// The id of an Ed25519 public key.
    pub fn of_signing_key(key: &[u8; KEY_LENGTH]) -> Self {
        Self::labelled(SIGNING_KEY_ID_LABEL, key)
    }

    /// The id of an X25519 public key.
    pub fn of_encryption_key(key: &[u8; KEY_LENGTH]) -> Self {
        Self::labelled(ENCRYPTION_KEY_ID_LABEL, key)
    }

    fn labelled(label: &[u8], key: &[u8; KEY_LENGTH]) -> Self {
        let digest = Sha256::new()
            .chain_update(label)
            .chain_update(key)
            .finalize();
        let mut id = [0u8; 8];
        id.iter_mut()
            .zip(digest.iter())
            .for_each(|(out, byte)| *out = *byte);
        Self(id)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId(")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// The public half of an identity: what a card publishes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PublicKeys {
    /// Ed25519 public key (RFC 8032 encoding).
    pub signing: [u8; KEY_LENGTH],
    /// X25519 public key (RFC 7748 encoding).
    pub encryption: [u8; KEY_LENGTH],
}

/// An Ed25519 public key that is valid in the sense of docs/FORMAT.md §2: a canonical
/// encoding of a point that is not of small order. Every key Tessera verifies with (card
/// keys, app keys) passes through here.
pub(crate) fn valid_verifying_key(bytes: &[u8; KEY_LENGTH]) -> Result<VerifyingKey, KeyError> {
    let key = VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::InvalidSigningKey)?;
    // Small-order keys verify forged signatures; non-canonical encodings (y >= p) would
    // give one key two ids.
    let canonical = key.to_edwards().compress().to_bytes() == *bytes;
    if key.is_weak() || !canonical {
        return Err(KeyError::InvalidSigningKey);
    }
    Ok(key)
}

impl PublicKeys {
    /// Checks both keys: the Ed25519 key is a canonical encoding of a point that is not
    /// of small order, and the X25519 key is canonical (bit 255 clear, below p) and not of
    /// small order.
    pub fn validate(&self) -> Result<(), KeyError> {
        self.verifying_key()?;
        // One key, one encoding: bit 255 clear and u < p = 2^255 - 19 (otherwise two byte
        // strings, with two key ids, would name the same key).
        let [low, middle @ .., high] = &self.encryption;
        let at_least_p = *high == 0x7f && middle.iter().all(|b| *b == 0xff) && *low >= 0xed;
        if *high & 0x80 != 0 || at_least_p {
            return Err(KeyError::InvalidEncryptionKey);
        }
        // A small-order X25519 point gives the same shared secret for every private key.
        let probe = StaticSecret::from([0x42; KEY_LENGTH]);
        if !probe
            .diffie_hellman(&X25519Public::from(self.encryption))
            .was_contributory()
        {
            return Err(KeyError::InvalidEncryptionKey);
        }
        Ok(())
    }

    /// The Ed25519 verifying key, rejecting invalid and small-order (weak) keys.
    pub fn verifying_key(&self) -> Result<VerifyingKey, KeyError> {
        valid_verifying_key(&self.signing)
    }

    /// The id of the Ed25519 key (names the signer inside an envelope).
    pub fn signing_key_id(&self) -> KeyId {
        KeyId::of_signing_key(&self.signing)
    }

    /// The id of the X25519 key (finds a recipient's stanza in an envelope).
    pub fn encryption_key_id(&self) -> KeyId {
        KeyId::of_encryption_key(&self.encryption)
    }
}

impl fmt::Debug for PublicKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKeys")
            .field("signing", &self.signing_key_id())
            .field("encryption", &self.encryption_key_id())
            .finish()
    }
}

/// A user's private keys, derived from a [`RootSecret`].
pub struct IdentityKeyPair {
    root: RootSecret,
    signing: SigningKey,
    encryption: StaticSecret,
    public: PublicKeys,
}

impl IdentityKeyPair {
    /// Generates a new identity from fresh randomness.
    pub fn generate() -> Result<Self, KeyError> {
        Ok(Self::from_root_secret(RootSecret::generate()?))
    }

    /// Derives the signing and encryption keys from a root secret (deterministic).
    pub fn from_root_secret(root: RootSecret) -> Self {
        let hkdf = Hkdf::<Sha256>::new(Some(IDENTITY_KDF_SALT), root.as_bytes());
        let mut signing_seed = zeroize::Zeroizing::new([0u8; KEY_LENGTH]);
        let mut encryption_seed = zeroize::Zeroizing::new([0u8; KEY_LENGTH]);
        // 32 bytes is far below HKDF-SHA-256's 8160-byte limit, so expand cannot fail.
        let _ = hkdf.expand(SIGNING_KEY_INFO, signing_seed.as_mut());
        let _ = hkdf.expand(ENCRYPTION_KEY_INFO, encryption_seed.as_mut());
        let signing = SigningKey::from_bytes(&signing_seed);
        let encryption = StaticSecret::from(*encryption_seed);
        let public = PublicKeys {
            signing: signing.verifying_key().to_bytes(),
            encryption: X25519Public::from(&encryption).to_bytes(),
        };
        Self {
            root,
            signing,
            encryption,
            public,
        }
    }

    /// The root secret (for key stores and backups).
    pub fn root_secret(&self) -> &RootSecret {
        &self.root
    }

    /// The public keys to publish in a card.
    pub fn public_keys(&self) -> &PublicKeys {
        &self.public
    }

    /// Ed25519 signature over `message`.
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }

    /// The Ed25519 private key, for signers that outlive a borrow (stream encryptors).
    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    /// The X25519 private key, for unwrapping envelope stanzas.
    pub(crate) fn encryption_secret(&self) -> &StaticSecret {
        &self.encryption
    }
}

impl Clone for IdentityKeyPair {
    fn clone(&self) -> Self {
        Self::from_root_secret(self.root.clone())
    }
}

impl fmt::Debug for IdentityKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityKeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivation_is_deterministic_and_labels_differ() {
        let a = IdentityKeyPair::from_root_secret(RootSecret::from_bytes([1; 32]));
        let b = IdentityKeyPair::from_root_secret(RootSecret::from_bytes([1; 32]));
        assert_eq!(a.public_keys(), b.public_keys());
        assert_ne!(a.public_keys().signing, a.public_keys().encryption);
        a.public_keys().validate().unwrap();
    }

    #[test]
    fn small_order_keys_are_rejected() {
        let zero = PublicKeys {
            signing: [0; 32],
            encryption: [0; 32],
        };
        assert!(zero.validate().is_err());
        let good = IdentityKeyPair::generate().unwrap();
        let mut bad = *good.public_keys();
        bad.encryption = [0; 32];
        assert_eq!(bad.validate(), Err(KeyError::InvalidEncryptionKey));
    }

    #[test]
    fn debug_never_prints_secret_bytes() {
        let pair = IdentityKeyPair::from_root_secret(RootSecret::from_bytes([0xAB; 32]));
        for text in [format!("{pair:?}"), format!("{:?}", pair.root_secret())] {
            assert!(!text.to_lowercase().contains("ab, ab"), "{text}");
            assert!(!text.contains("171"), "{text}");
            assert!(!text.to_lowercase().contains("abab"), "{text}");
        }
    }
}
