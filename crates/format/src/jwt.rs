//! Access tokens: compact JWS with EdDSA (RFC 7519, RFC 8037), minted by the app's
//! backend with its app key and verified by the Tessera server (docs/FORMAT.md §6).

use std::{collections::HashMap, fmt};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use zeroize::Zeroizing;

use crate::{
    card::Identity,
    encoding::{b64url_decode, b64url_encode},
    keys::KeyId,
    random::{RandomnessUnavailable, random_array},
    time::Timestamp,
};

/// Longest token accepted, in bytes; anything larger is rejected before decoding.
pub const MAX_TOKEN_LENGTH: usize = 4096;
/// Default clock-skew allowance when checking `iat` and `exp`.
pub const DEFAULT_LEEWAY_SECONDS: u64 = 60;
/// Default longest accepted lifetime (`exp - iat`): one day.
pub const DEFAULT_MAX_LIFETIME_SECONDS: u64 = 24 * 3600;
/// Default lifetime of a minted token: 20 minutes, as E3Kit's.
pub const DEFAULT_TOKEN_TTL_SECONDS: u64 = 20 * 60;

/// Why a token was rejected. Messages never contain the token itself.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Not three base64url parts of JSON, or a required field is missing.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// `alg` is not `EdDSA` (this includes `none`).
    #[error("token algorithm is not EdDSA")]
    UnsupportedAlgorithm,
    /// The header names critical extensions Tessera does not implement.
    #[error("token has unsupported critical header parameters")]
    UnsupportedCritical,
    /// `kid` names no accepted app key.
    #[error("token is signed by an unknown app key")]
    UnknownKey,
    /// The signature does not verify.
    #[error("token signature is invalid")]
    BadSignature,
    /// `exp` has passed.
    #[error("token has expired; fetch a new one")]
    Expired,
    /// `iat` or `nbf` is in the future.
    #[error("token is not valid yet (check the clocks)")]
    NotYetValid,
    /// `exp - iat` is longer than the verifier allows.
    #[error("token lifetime is longer than allowed")]
    LifetimeTooLong,
    /// `iss` is not this app.
    #[error("token was issued for another app")]
    WrongIssuer,
    /// `sub` is not a valid identity.
    #[error("token subject is not a valid identity")]
    InvalidSubject,
    /// The platform's random number generator failed.
    #[error(transparent)]
    Randomness(#[from] RandomnessUnavailable),
}

impl TokenError {
    /// A stable snake_case name for this kind of failure (one of [`crate::ERROR_KINDS`]).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::UnsupportedAlgorithm => "unsupported_algorithm",
            Self::UnsupportedCritical => "unsupported_critical",
            Self::UnknownKey => "unknown_key",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::LifetimeTooLong => "lifetime_too_long",
            Self::WrongIssuer => "wrong_issuer",
            Self::InvalidSubject => "invalid_subject",
            Self::Randomness(_) => "randomness_unavailable",
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    crit: Option<serde_json::Value>,
}

/// The claims Tessera reads from a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenClaims {
    /// The app id (issuer).
    pub iss: String,
    /// The user's identity (subject).
    pub sub: String,
    /// Issued at, seconds since the epoch.
    pub iat: u64,
    /// Expires at, seconds since the epoch.
    pub exp: u64,
    /// Not before, seconds since the epoch (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
}

impl TokenClaims {
    /// The subject as a validated identity.
    pub fn identity(&self) -> Result<Identity, TokenError> {
        Identity::new(self.sub.clone()).map_err(|_| TokenError::InvalidSubject)
    }
}

/// An app's Ed25519 signing key for minting tokens. Lives on the app's backend.
pub struct AppKey {
    seed: Zeroizing<[u8; 32]>,
    signing: SigningKey,
    kid: String,
}

impl AppKey {
    /// A fresh app key.
    pub fn generate() -> Result<Self, TokenError> {
        Ok(Self::from_seed(random_array()?))
    }

    /// The app key for a 32-byte Ed25519 seed (RFC 8032 private key).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let signing = SigningKey::from_bytes(&seed);
        let kid = app_key_id(&signing.verifying_key().to_bytes());
        Self {
            seed: Zeroizing::new(seed),
            signing,
            kid,
        }
    }

    /// The seed, for writing the key to a file readable only by its owner.
    pub fn seed(&self) -> &[u8; 32] {
        &self.seed
    }

    /// The public key to configure on the server.
    pub fn public_key(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    /// The key id placed in the `kid` header: derived from the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Mints a token for `subject`, valid from `issued_at` for `ttl_seconds`.
    pub fn mint(
        &self,
        issuer: &str,
        subject: &Identity,
        issued_at: Timestamp,
        ttl_seconds: u64,
    ) -> String {
        let claims = TokenClaims {
            iss: issuer.to_owned(),
            sub: subject.as_str().to_owned(),
            iat: issued_at.0,
            exp: issued_at.plus(ttl_seconds).0,
            nbf: None,
        };
        self.sign_claims(&claims)
    }

    /// Signs arbitrary claims; for tests of the verifier's checks.
    pub fn sign_claims(&self, claims: &TokenClaims) -> String {
        let header = Header {
            alg: "EdDSA".into(),
            typ: Some("JWT".into()),
            kid: Some(self.kid.clone()),
            crit: None,
        };
        // Serializing these plain structs to JSON cannot fail.
        let header = serde_json::to_vec(&header).unwrap_or_default();
        let claims = serde_json::to_vec(claims).unwrap_or_default();
        let signing_input = format!("{}.{}", b64url_encode(&header), b64url_encode(&claims));
        let signature = self.signing.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", b64url_encode(&signature.to_bytes()))
    }
}

impl fmt::Debug for AppKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// The `kid` of an app public key: hex of its Ed25519 [`KeyId`].
pub fn app_key_id(public_key: &[u8; 32]) -> String {
    KeyId::of_signing_key(public_key)
        .0
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Verifies tokens against a set of accepted app public keys (several at once, so an app
/// key can be rotated without downtime).
#[derive(Debug, Clone)]
pub struct TokenVerifier {
    issuer: String,
    keys: HashMap<String, VerifyingKey>,
    leeway_seconds: u64,
    max_lifetime_seconds: u64,
}

impl TokenVerifier {
    /// A verifier for tokens issued by `issuer` (the app id).
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            keys: HashMap::new(),
            leeway_seconds: DEFAULT_LEEWAY_SECONDS,
            max_lifetime_seconds: DEFAULT_MAX_LIFETIME_SECONDS,
        }
    }

    /// Accepts tokens signed by this app public key (its `kid` is derived from it).
    pub fn with_key(mut self, public_key: &[u8; 32]) -> Result<Self, TokenError> {
        let key = VerifyingKey::from_bytes(public_key)
            .map_err(|_| TokenError::Malformed("invalid app public key"))?;
        if key.is_weak() {
            return Err(TokenError::Malformed("invalid app public key"));
        }
        self.keys.insert(app_key_id(public_key), key);
        Ok(self)
    }

    /// Clock-skew allowance for `iat`, `nbf` and `exp`.
    pub fn with_leeway(mut self, seconds: u64) -> Self {
        self.leeway_seconds = seconds;
        self
    }

    /// Longest accepted `exp - iat`.
    pub fn with_max_lifetime(mut self, seconds: u64) -> Self {
        self.max_lifetime_seconds = seconds;
        self
    }

    /// The app id tokens must carry in `iss`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Checks a token's form, signature, issuer, subject and times at `now`.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<TokenClaims, TokenError> {
        if token.len() > MAX_TOKEN_LENGTH {
            return Err(TokenError::Malformed("token too long"));
        }
        let mut parts = token.split('.');
        let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed("expected three dot-separated parts"));
        };
        let header_json =
            b64url_decode(header_b64).ok_or(TokenError::Malformed("header is not base64url"))?;
        let header: Header = serde_json::from_slice(&header_json)
            .map_err(|_| TokenError::Malformed("header is not valid JSON"))?;
        if header.alg != "EdDSA" {
            return Err(TokenError::UnsupportedAlgorithm);
        }
        if header.crit.is_some() {
            return Err(TokenError::UnsupportedCritical);
        }
        if header
            .typ
            .as_deref()
            .is_some_and(|t| !t.eq_ignore_ascii_case("JWT"))
        {
            return Err(TokenError::Malformed("typ must be JWT"));
        }
        let kid = header.kid.ok_or(TokenError::Malformed("kid is missing"))?;
        let key = self.keys.get(&kid).ok_or(TokenError::UnknownKey)?;
        let signature = b64url_decode(signature_b64)
            .ok_or(TokenError::Malformed("signature is not base64url"))?;
        let signature: [u8; 64] = signature
            .try_into()
            .map_err(|_| TokenError::Malformed("signature is not 64 bytes"))?;
        let signing_input_length = header_b64.len() + 1 + claims_b64.len();
        let signing_input = token
            .get(..signing_input_length)
            .ok_or(TokenError::Malformed("truncated"))?;
        key.verify_strict(signing_input.as_bytes(), &Signature::from_bytes(&signature))
            .map_err(|_| TokenError::BadSignature)?;

        let claims_json =
            b64url_decode(claims_b64).ok_or(TokenError::Malformed("claims are not base64url"))?;
        let claims: TokenClaims = serde_json::from_slice(&claims_json).map_err(|_| {
            TokenError::Malformed("claims are not valid JSON with iss, sub, iat, exp")
        })?;
        if claims.iss != self.issuer {
            return Err(TokenError::WrongIssuer);
        }
        claims.identity()?;
        if claims.exp <= now.minus(self.leeway_seconds).0 {
            return Err(TokenError::Expired);
        }
        let latest_start = now.plus(self.leeway_seconds).0;
        if claims.iat > latest_start || claims.nbf.is_some_and(|nbf| nbf > latest_start) {
            return Err(TokenError::NotYetValid);
        }
        if claims.exp < claims.iat || claims.exp - claims.iat > self.max_lifetime_seconds {
            return Err(TokenError::LifetimeTooLong);
        }
        Ok(claims)
    }
}

/// Reads a token's claims WITHOUT verifying it. Clients use this to learn their own
/// identity and the expiry of a token their backend just gave them; servers never do.
pub fn read_claims_unverified(token: &str) -> Result<TokenClaims, TokenError> {
    if token.len() > MAX_TOKEN_LENGTH {
        return Err(TokenError::Malformed("token too long"));
    }
    let claims_b64 = token
        .split('.')
        .nth(1)
        .ok_or(TokenError::Malformed("expected three dot-separated parts"))?;
    let json =
        b64url_decode(claims_b64).ok_or(TokenError::Malformed("claims are not base64url"))?;
    serde_json::from_slice(&json)
        .map_err(|_| TokenError::Malformed("claims are not valid JSON with iss, sub, iat, exp"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp(1_767_225_600);

    fn setup() -> (AppKey, TokenVerifier) {
        let key = AppKey::from_seed([9; 32]);
        let verifier = TokenVerifier::new("app-1")
            .with_key(&key.public_key())
            .unwrap();
        (key, verifier)
    }

    #[test]
    fn minted_tokens_verify() {
        let (key, verifier) = setup();
        let token = key.mint("app-1", &Identity::new("alice").unwrap(), NOW, 1200);
        let claims = verifier.verify(&token, NOW.plus(5)).unwrap();
        assert_eq!(claims.sub, "alice");
        assert_eq!(read_claims_unverified(&token).unwrap(), claims);
    }

    #[test]
    fn times_issuer_and_keys_are_checked() {
        let (key, verifier) = setup();
        let alice = Identity::new("alice").unwrap();
        let token = key.mint("app-1", &alice, NOW, 1200);
        assert_eq!(
            verifier.verify(&token, NOW.plus(1200 + 61)),
            Err(TokenError::Expired)
        );
        assert_eq!(
            verifier.verify(&token, NOW.minus(120)),
            Err(TokenError::NotYetValid)
        );
        let other_app = key.mint("app-2", &alice, NOW, 1200);
        assert_eq!(
            verifier.verify(&other_app, NOW),
            Err(TokenError::WrongIssuer)
        );
        let stranger = AppKey::from_seed([8; 32]).mint("app-1", &alice, NOW, 1200);
        assert_eq!(verifier.verify(&stranger, NOW), Err(TokenError::UnknownKey));
        let long = key.mint("app-1", &alice, NOW, 3 * 24 * 3600);
        assert_eq!(
            verifier.verify(&long, NOW),
            Err(TokenError::LifetimeTooLong)
        );
    }

    #[test]
    fn debug_never_prints_the_app_key_seed() {
        let key = AppKey::from_seed([0xAB; 32]);
        let text = format!("{key:?}");
        assert!(
            !text.contains("171") && !text.to_lowercase().contains("abab"),
            "{text}"
        );
    }

    #[test]
    fn alg_none_and_garbage_are_rejected() {
        let (key, verifier) = setup();
        let token = key.mint("app-1", &Identity::new("alice").unwrap(), NOW, 1200);
        let claims = token.split('.').nth(1).unwrap();
        let none_header = b64url_encode(br#"{"alg":"none","typ":"JWT","kid":"x"}"#);
        let forged = format!("{none_header}.{claims}.");
        assert_eq!(
            verifier.verify(&forged, NOW),
            Err(TokenError::UnsupportedAlgorithm)
        );
        for garbage in ["", "a.b", "a.b.c.d", "!!.!!.!!", &"x".repeat(5000)] {
            assert!(matches!(
                verifier.verify(garbage, NOW),
                Err(TokenError::Malformed(_))
            ));
        }
    }
}
