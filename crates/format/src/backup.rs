//! Password backups of the root secret (docs/FORMAT.md §5), and `derive_passwords`.
//!
//! A backup blob is self-describing: it carries its Argon2id parameters, so blobs made
//! with today's defaults stay restorable after the defaults are raised.

use std::fmt;

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, aead::Aead, aead::Payload};
use thiserror::Error;
use zeroize::Zeroizing;

use sha2::{Digest, Sha256};

use crate::{
    card::Identity,
    encoding::{Reader, b64url_encode},
    keys::{KEY_LENGTH, RootSecret},
    random::{RandomnessUnavailable, random_array},
};

const BLOB_MAGIC: &[u8; 4] = b"TSBK";
/// The backup blob version this release writes and reads.
pub const BACKUP_FORMAT_VERSION: u8 = 1;
const KDF_ARGON2ID_V13: u8 = 1;
const SALT_LENGTH: usize = 16;
const NONCE_LENGTH: usize = 12;
const TAG_LENGTH: usize = 16;
const HEADER_LENGTH: usize = 4 + 1 + 1 + 4 + 4 + 4 + SALT_LENGTH + NONCE_LENGTH;
/// Exact length of a version-1 backup blob.
pub const BACKUP_BLOB_LENGTH: usize = HEADER_LENGTH + KEY_LENGTH + TAG_LENGTH;
const DERIVE_PASSWORDS_LABEL: &[u8] = b"tessera/v2/derive-passwords";
/// Longest app id [`derive_passwords`] takes, in bytes.
pub const MAX_APP_ID_LENGTH: usize = 255;

/// Why a backup could not be made or opened.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum BackupError {
    /// The bytes are not a Tessera backup blob.
    #[error("malformed backup: {0}")]
    Malformed(&'static str),
    /// The blob was written by a newer version.
    #[error("backup format version {0} is not supported; update Tessera")]
    UnsupportedVersion(u8),
    /// The blob names a key-derivation function this version does not know.
    #[error("backup uses unknown key-derivation function {0}")]
    UnsupportedKdf(u8),
    /// The blob's Argon2id parameters are outside the accepted range (a hostile blob
    /// could otherwise demand gigabytes of memory).
    #[error("backup key-derivation parameters are out of range")]
    ParametersOutOfRange,
    /// The password does not open this backup (or the backup was altered).
    #[error("wrong backup password")]
    WrongPassword,
    /// Backups need a non-empty password.
    #[error("the backup password must not be empty")]
    EmptyPassword,
    /// `derive_passwords` needs an app id of 1 to [`MAX_APP_ID_LENGTH`] bytes.
    #[error("the app id must be 1 to {max} bytes long", max = MAX_APP_ID_LENGTH)]
    InvalidAppId,
    /// The platform's random number generator failed.
    #[error(transparent)]
    Randomness(#[from] RandomnessUnavailable),
}

impl BackupError {
    /// A stable snake_case name for this kind of failure (one of [`crate::ERROR_KINDS`]).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::UnsupportedVersion(_) => "unsupported_version",
            Self::UnsupportedKdf(_) => "unsupported_kdf",
            Self::ParametersOutOfRange => "parameters_out_of_range",
            Self::WrongPassword => "wrong_password",
            Self::EmptyPassword => "empty_password",
            Self::InvalidAppId => "invalid_input",
            Self::Randomness(_) => "randomness_unavailable",
        }
    }
}

/// Argon2id cost parameters, stored in every blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl KdfParams {
    /// 64 MiB, 3 passes, 1 lane: RFC 9106's second recommended option with one lane, since
    /// browsers and most phones give a page or an app one core for it (times measured in
    /// docs/BENCHMARKS.md "Argon2id defaults").
    pub const DEFAULT: KdfParams = KdfParams {
        memory_kib: 64 * 1024,
        iterations: 3,
        parallelism: 1,
    };
    /// Largest memory a blob may ask for: 4 × the default, 256 MiB.
    pub const MAX_MEMORY_KIB: u32 = 4 * Self::DEFAULT.memory_kib;
    /// Largest iteration count a blob may ask for: 4 × the default.
    pub const MAX_ITERATIONS: u32 = 4 * Self::DEFAULT.iterations;
    /// Largest lane count a blob may ask for.
    pub const MAX_PARALLELISM: u32 = 4;

    fn to_argon2(self) -> Result<Argon2<'static>, BackupError> {
        if self.memory_kib > Self::MAX_MEMORY_KIB
            || self.iterations == 0
            || self.iterations > Self::MAX_ITERATIONS
            || self.parallelism == 0
            || self.parallelism > Self::MAX_PARALLELISM
        {
            return Err(BackupError::ParametersOutOfRange);
        }
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
            .map_err(|_| BackupError::ParametersOutOfRange)?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// Argon2id (version 0x13, no secret, no associated data) of `password` and `salt` with
/// `params`, filling `out` (4 to 64 bytes). Parameters outside the bounds are refused
/// before any memory is spent. The one KDF of backups and [`derive_passwords`], public so
/// that a platform can run it elsewhere (a browser worker) and hand the key back.
pub fn argon2id(
    password: &[u8],
    salt: &[u8],
    params: KdfParams,
    out: &mut [u8],
) -> Result<(), BackupError> {
    if !(4..=DERIVE_PASSWORDS_OUTPUT).contains(&out.len()) {
        return Err(BackupError::ParametersOutOfRange);
    }
    params
        .to_argon2_with_length(out.len())?
        .hash_password_into(password, salt, out)
        .map_err(|_| BackupError::ParametersOutOfRange)
}

impl Default for KdfParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Encrypts `root` under `password` with default parameters and fresh randomness.
pub fn seal_backup(root: &RootSecret, password: &str) -> Result<Vec<u8>, BackupError> {
    let (salt, nonce) = new_backup_randomness()?;
    seal_backup_with(root, password, KdfParams::DEFAULT, salt, nonce)
}

/// Encrypts with explicit parameters, salt and nonce (deterministic; for test vectors).
pub fn seal_backup_with(
    root: &RootSecret,
    password: &str,
    params: KdfParams,
    salt: [u8; SALT_LENGTH],
    nonce: [u8; NONCE_LENGTH],
) -> Result<Vec<u8>, BackupError> {
    if password.is_empty() {
        return Err(BackupError::EmptyPassword);
    }
    let mut key = Zeroizing::new([0u8; 32]);
    argon2id(password.as_bytes(), &salt, params, key.as_mut())?;
    seal_backup_with_key(root, &key, params, salt, nonce)
}

/// Fresh salt and nonce for a new blob.
pub fn new_backup_randomness() -> Result<([u8; SALT_LENGTH], [u8; NONCE_LENGTH]), BackupError> {
    Ok((random_array()?, random_array()?))
}

/// Seals `root` under `key`, the [`argon2id`] output of the password with `params` and
/// `salt` computed by the caller (for platforms that run the KDF elsewhere).
pub fn seal_backup_with_key(
    root: &RootSecret,
    key: &[u8; 32],
    params: KdfParams,
    salt: [u8; SALT_LENGTH],
    nonce: [u8; NONCE_LENGTH],
) -> Result<Vec<u8>, BackupError> {
    params.to_argon2()?;
    let mut blob = Vec::with_capacity(BACKUP_BLOB_LENGTH);
    blob.extend_from_slice(BLOB_MAGIC);
    blob.push(BACKUP_FORMAT_VERSION);
    blob.push(KDF_ARGON2ID_V13);
    blob.extend_from_slice(&params.memory_kib.to_be_bytes());
    blob.extend_from_slice(&params.iterations.to_be_bytes());
    blob.extend_from_slice(&params.parallelism.to_be_bytes());
    blob.extend_from_slice(&salt);
    blob.extend_from_slice(&nonce);
    let cipher = ChaCha20Poly1305::new(key.into());
    let sealed = cipher
        .encrypt(
            &nonce.into(),
            Payload {
                msg: root.as_bytes(),
                aad: &blob,
            },
        )
        .map_err(|_| BackupError::Malformed("encryption failed"))?;
    blob.extend_from_slice(&sealed);
    Ok(blob)
}

/// A parsed backup blob: its parameters are known, its secret still sealed.
#[derive(Clone, PartialEq, Eq)]
pub struct BackupBlob<'a> {
    header: &'a [u8],
    params: KdfParams,
    salt: [u8; SALT_LENGTH],
    nonce: [u8; NONCE_LENGTH],
    sealed: &'a [u8],
}

impl fmt::Debug for BackupBlob<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackupBlob")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl<'a> BackupBlob<'a> {
    /// Parses a blob and checks its parameters, without running the KDF.
    pub fn parse(blob: &'a [u8]) -> Result<Self, BackupError> {
        const TRUNCATED: BackupError = BackupError::Malformed("truncated backup");
        let mut r = Reader::new(blob);
        if r.take(4).ok_or(TRUNCATED)? != BLOB_MAGIC {
            return Err(BackupError::Malformed("not a Tessera backup (bad magic)"));
        }
        let version = r.u8().ok_or(TRUNCATED)?;
        if version != BACKUP_FORMAT_VERSION {
            return Err(BackupError::UnsupportedVersion(version));
        }
        let kdf = r.u8().ok_or(TRUNCATED)?;
        if kdf != KDF_ARGON2ID_V13 {
            return Err(BackupError::UnsupportedKdf(kdf));
        }
        let params = KdfParams {
            memory_kib: r.u32().ok_or(TRUNCATED)?,
            iterations: r.u32().ok_or(TRUNCATED)?,
            parallelism: r.u32().ok_or(TRUNCATED)?,
        };
        let salt = r.array().ok_or(TRUNCATED)?;
        let nonce = r.array().ok_or(TRUNCATED)?;
        let header = blob.get(..r.position()).ok_or(TRUNCATED)?;
        let sealed = r.remaining();
        if sealed.len() != KEY_LENGTH + TAG_LENGTH {
            return Err(BackupError::Malformed("wrong backup length"));
        }
        // Refuse hostile parameters before anyone spends memory on them.
        params.to_argon2()?;
        Ok(Self {
            header,
            params,
            salt,
            nonce,
            sealed,
        })
    }

    /// The Argon2id parameters the blob was made with.
    pub fn params(&self) -> KdfParams {
        self.params
    }

    /// The KDF salt.
    pub fn salt(&self) -> &[u8; SALT_LENGTH] {
        &self.salt
    }

    /// Runs the KDF and decrypts. A wrong password gives [`BackupError::WrongPassword`].
    pub fn open(&self, password: &str) -> Result<RootSecret, BackupError> {
        let mut key = Zeroizing::new([0u8; 32]);
        argon2id(password.as_bytes(), &self.salt, self.params, key.as_mut())?;
        self.open_with_key(&key)
    }

    /// Decrypts with `key`, the [`argon2id`] output of the password with this blob's
    /// [`params`](Self::params) and [`salt`](Self::salt).
    pub fn open_with_key(&self, key: &[u8; 32]) -> Result<RootSecret, BackupError> {
        let cipher = ChaCha20Poly1305::new(key.into());
        let plain = Zeroizing::new(
            cipher
                .decrypt(
                    &self.nonce.into(),
                    Payload {
                        msg: self.sealed,
                        aad: self.header,
                    },
                )
                .map_err(|_| BackupError::WrongPassword)?,
        );
        RootSecret::from_slice(&plain).map_err(|_| BackupError::Malformed("wrong secret length"))
    }
}

/// Decrypts a backup blob. A wrong password gives [`BackupError::WrongPassword`].
pub fn open_backup(blob: &[u8], password: &str) -> Result<RootSecret, BackupError> {
    BackupBlob::parse(blob)?.open(password)
}

/// Two independent passwords derived from the one a user types: `login_password` goes to
/// the app's own sign-in, `backup_password` protects the key backup and never leaves the
/// device. Knowing one does not reveal the other.
#[derive(Clone)]
pub struct DerivedPasswords {
    /// For the app's authentication backend.
    pub login_password: Zeroizing<String>,
    /// For `backup_private_key` / `restore_private_key`.
    pub backup_password: Zeroizing<String>,
}

impl fmt::Debug for DerivedPasswords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DerivedPasswords").finish_non_exhaustive()
    }
}

/// Splits one user password into a login password and a backup password (docs/FORMAT.md
/// §5.3). Uses Argon2id at the default backup cost, so the login password handed to the
/// app's backend is as expensive to brute-force as the backup itself. The salt names the
/// app and the user, so one precomputed table cannot serve every user: `app_id` is any
/// stable string unique to the app (the server's app id is a good choice), the same on
/// every device.
pub fn derive_passwords(
    password: &str,
    app_id: &str,
    identity: &Identity,
) -> Result<DerivedPasswords, BackupError> {
    derive_passwords_with(password, app_id, identity, KdfParams::DEFAULT)
}

/// [`derive_passwords`] with explicit parameters (for test vectors).
pub fn derive_passwords_with(
    password: &str,
    app_id: &str,
    identity: &Identity,
    params: KdfParams,
) -> Result<DerivedPasswords, BackupError> {
    if password.is_empty() {
        return Err(BackupError::EmptyPassword);
    }
    let salt = derive_passwords_salt(app_id, identity)?;
    let mut out = Zeroizing::new([0u8; DERIVE_PASSWORDS_OUTPUT]);
    argon2id(password.as_bytes(), &salt, params, out.as_mut())?;
    Ok(DerivedPasswords::from_kdf_output(&out))
}

/// Bytes of Argon2id output [`derive_passwords`] splits in two.
const DERIVE_PASSWORDS_OUTPUT: usize = 64;

impl DerivedPasswords {
    fn from_kdf_output(out: &[u8; DERIVE_PASSWORDS_OUTPUT]) -> Self {
        let (login, backup) = out.split_at(32);
        Self {
            login_password: Zeroizing::new(b64url_encode(login)),
            backup_password: Zeroizing::new(b64url_encode(backup)),
        }
    }
}

/// `SHA-256(label || u8 len || app id || u8 len || identity)`: length-prefixed, so no two
/// (app, identity) pairs share a salt.
fn derive_passwords_salt(app_id: &str, identity: &Identity) -> Result<[u8; 32], BackupError> {
    let app_length = u8::try_from(app_id.len())
        .ok()
        .filter(|length| *length > 0)
        .ok_or(BackupError::InvalidAppId)?;
    // Identities are 1..=128 bytes.
    let identity_length = identity.as_str().len() as u8;
    Ok(Sha256::new()
        .chain_update(DERIVE_PASSWORDS_LABEL)
        .chain_update([app_length])
        .chain_update(app_id)
        .chain_update([identity_length])
        .chain_update(identity.as_str())
        .finalize()
        .into())
}

impl KdfParams {
    fn to_argon2_with_length(self, length: usize) -> Result<Argon2<'static>, BackupError> {
        self.to_argon2()?;
        let params = Params::new(
            self.memory_kib,
            self.iterations,
            self.parallelism,
            Some(length),
        )
        .map_err(|_| BackupError::ParametersOutOfRange)?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: KdfParams = KdfParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    #[test]
    fn round_trip_and_wrong_password() {
        let root = RootSecret::from_bytes([5; 32]);
        let blob = seal_backup_with(&root, "correct horse", FAST, [1; 16], [2; 12]).unwrap();
        assert_eq!(blob.len(), BACKUP_BLOB_LENGTH);
        assert_eq!(
            open_backup(&blob, "correct horse").unwrap().as_bytes(),
            root.as_bytes()
        );
        assert_eq!(
            open_backup(&blob, "wrong").unwrap_err(),
            BackupError::WrongPassword
        );
    }

    #[test]
    fn hostile_parameters_are_refused_before_allocating() {
        let root = RootSecret::from_bytes([5; 32]);
        let mut blob = seal_backup_with(&root, "pw", FAST, [1; 16], [2; 12]).unwrap();
        blob[6..10].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(
            open_backup(&blob, "pw").unwrap_err(),
            BackupError::ParametersOutOfRange
        );
    }

    #[test]
    fn default_parameters_round_trip() {
        let root = RootSecret::from_bytes([6; 32]);
        let blob = seal_backup(&root, "pw").unwrap();
        assert_eq!(
            open_backup(&blob, "pw").unwrap().as_bytes(),
            root.as_bytes()
        );
    }

    #[test]
    fn derived_passwords_differ_and_are_stable() {
        let alice = Identity::new("alice").unwrap();
        let a = derive_passwords_with("hunter2", "app", &alice, FAST).unwrap();
        let b = derive_passwords_with("hunter2", "app", &alice, FAST).unwrap();
        assert_eq!(*a.login_password, *b.login_password);
        assert_ne!(*a.login_password, *a.backup_password);
        assert!(!format!("{a:?}").contains(a.login_password.as_str()));
    }

    #[test]
    fn derived_passwords_are_salted_per_app_and_identity() {
        let login = |app: &str, identity: &str| {
            let identity = Identity::new(identity).unwrap();
            derive_passwords_with("the same password", app, &identity, FAST)
                .unwrap()
                .login_password
        };
        let alice = login("app", "alice");
        assert_ne!(alice, login("app", "bob"));
        assert_ne!(alice, login("other-app", "alice"));
        // Length prefixes: moving bytes between app id and identity changes the salt.
        assert_ne!(login("ab", "c"), login("a", "bc"));
    }

    #[test]
    fn app_ids_outside_the_bounds_are_refused() {
        let alice = Identity::new("alice").unwrap();
        for app in [String::new(), "a".repeat(MAX_APP_ID_LENGTH + 1)] {
            assert_eq!(
                derive_passwords_with("pw", &app, &alice, FAST).unwrap_err(),
                BackupError::InvalidAppId
            );
        }
        derive_passwords_with("pw", &"a".repeat(MAX_APP_ID_LENGTH), &alice, FAST).unwrap();
    }

    #[test]
    fn parameter_bounds_are_four_times_the_defaults() {
        let root = RootSecret::from_bytes([5; 32]);
        let blob = |params: KdfParams| {
            let mut blob = seal_backup_with(&root, "pw", FAST, [1; 16], [2; 12]).unwrap();
            blob[6..10].copy_from_slice(&params.memory_kib.to_be_bytes());
            blob[10..14].copy_from_slice(&params.iterations.to_be_bytes());
            blob[14..18].copy_from_slice(&params.parallelism.to_be_bytes());
            blob
        };
        let d = KdfParams::DEFAULT;
        let refused = [
            KdfParams {
                memory_kib: 4 * d.memory_kib + 1,
                ..d
            },
            KdfParams {
                iterations: 4 * d.iterations + 1,
                ..d
            },
            KdfParams {
                parallelism: 5,
                ..d
            },
            KdfParams { iterations: 0, ..d },
            KdfParams {
                parallelism: 0,
                ..d
            },
            KdfParams {
                memory_kib: 7,
                iterations: 1,
                parallelism: 1,
            },
        ];
        for params in refused {
            assert_eq!(
                BackupBlob::parse(&blob(params)).unwrap_err(),
                BackupError::ParametersOutOfRange,
                "{params:?}"
            );
        }
        let at_the_bounds = KdfParams {
            memory_kib: 4 * d.memory_kib,
            iterations: 4 * d.iterations,
            parallelism: 4,
        };
        assert_eq!(
            BackupBlob::parse(&blob(at_the_bounds)).unwrap().params(),
            at_the_bounds
        );
    }
}
