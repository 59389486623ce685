//! Access tokens (docs/FORMAT.md §6): verifying one as the server does, for the shared
//! test vectors and for apps that want to inspect what their backend mints. Apps never
//! need this to use the client (the server verifies; the client only reads the claims).

use std::time::SystemTime;

use tessera_format::{TokenClaims as CoreClaims, TokenVerifier};

use crate::{error::CryptoError, timestamp_of};

/// The claims of a verified token.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TokenClaims {
    /// The app id (issuer).
    pub iss: String,
    /// The user's identity (subject).
    pub sub: String,
    /// The servers the token is for (audience; one for a string `aud`).
    pub aud: Vec<String>,
    /// Issued at, seconds since 1970.
    pub iat: u64,
    /// Expires at, seconds since 1970.
    pub exp: u64,
    /// Not before, seconds since 1970.
    pub nbf: Option<u64>,
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
            iat: claims.iat,
            exp: claims.exp,
            nbf: claims.nbf,
        }
    }
}

/// Verifies `token` at `now` as tessera-server does with its default leeway (60 s) and
/// maximum lifetime (24 h): form, EdDSA signature by one of `app_public_keys` (32 bytes
/// each), issuer, audience (the server's, `tessera:<app id>` by default), subject and
/// times.
#[uniffi::export]
pub fn verify_token(
    token: String,
    issuer: String,
    audience: String,
    app_public_keys: Vec<Vec<u8>>,
    now: SystemTime,
) -> Result<TokenClaims, CryptoError> {
    let mut verifier = TokenVerifier::new(issuer, audience);
    for key in app_public_keys {
        let key: [u8; 32] = key
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::invalid_key("an app public key is 32 bytes"))?;
        verifier = verifier.with_key(&key)?;
    }
    Ok(verifier.verify(&token, timestamp_of(now))?.into())
}
