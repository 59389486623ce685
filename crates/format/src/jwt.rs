//! Access tokens: compact JWS with EdDSA (RFC 7519, RFC 8037), minted by the app's
//! backend with its app key and verified by the Tessera server (docs/FORMAT.md §6).

mod json;

use std::{collections::HashMap, fmt};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::Serialize;
use thiserror::Error;
use zeroize::Zeroizing;

use self::json::Json;
use crate::{
    card::Identity,
    encoding::{b64url_decode, b64url_encode},
    keys::KeyId,
    random::{RandomnessUnavailable, random_array},
    time::Timestamp,
};

/// Longest token accepted, in bytes of its text (all three parts and both dots); anything
/// longer is rejected before decoding.
pub const MAX_TOKEN_LENGTH: usize = 4096;
/// Deepest nesting of objects and arrays in a token's header or claims (the header or
/// claims object itself is level 1).
pub const MAX_JSON_DEPTH: usize = 32;
/// Default clock-skew allowance when checking `iat` and `exp`.
pub const DEFAULT_LEEWAY_SECONDS: u64 = 60;
/// Default longest accepted lifetime (`exp - iat`): one day.
pub const DEFAULT_MAX_LIFETIME_SECONDS: u64 = 24 * 3600;
/// Default lifetime of a minted token: 20 minutes, as E3Kit's.
pub const DEFAULT_TOKEN_TTL_SECONDS: u64 = 20 * 60;
/// What a Tessera server's default audience starts with; the app id follows.
pub const DEFAULT_AUDIENCE_PREFIX: &str = "tessera:";

/// The audience a Tessera server of `app_id` expects unless configured otherwise:
/// `tessera:<app id>`. It tells tokens for the app's Tessera server apart from tokens the
/// same app key signs for the app's other services, which name themselves in `aud`.
pub fn default_audience(app_id: &str) -> String {
    format!("{DEFAULT_AUDIENCE_PREFIX}{app_id}")
}

/// Why a token was rejected. Messages never contain the token itself.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Not three base64url parts of JSON, or a member is missing or of the wrong type.
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
    /// `aud` is missing or does not name this verifier's audience: the token was minted
    /// for another server or service.
    #[error("token is not meant for this server ({0}); mint it with the server's audience")]
    WrongAudience(&'static str),
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
            Self::WrongAudience(_) => "wrong_audience",
            Self::InvalidSubject => "invalid_subject",
            Self::Randomness(_) => "randomness_unavailable",
        }
    }
}

/// The header Tessera writes; the verifier reads headers member by member.
#[derive(Serialize)]
struct Header<'a> {
    alg: &'a str,
    typ: &'a str,
    kid: &'a str,
}

/// A token's `aud` claim: one audience or several (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Audience {
    /// `"aud": "<audience>"`, as Tessera mints it.
    One(String),
    /// `"aud": ["<audience>", …]`: valid for each audience listed.
    Several(Vec<String>),
}

impl Audience {
    /// The audiences named, in order.
    pub fn as_slice(&self) -> &[String] {
        match self {
            Self::One(audience) => std::slice::from_ref(audience),
            Self::Several(audiences) => audiences,
        }
    }

    /// Whether `audience` is one of the audiences named (exact, case-sensitive).
    pub fn names(&self, audience: &str) -> bool {
        self.as_slice().iter().any(|named| named == audience)
    }
}

/// The claims Tessera reads from a token. Serialized, the members are in the order
/// Tessera mints them: `iss`, `sub`, `aud`, `iat`, `exp`, `nbf`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenClaims {
    /// The app id (issuer).
    pub iss: String,
    /// The user's identity (subject).
    pub sub: String,
    /// The server or servers the token is for. Always present in a verified token;
    /// `None` only in what [`read_claims_unverified`] reads from a token without `aud`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    /// Issued at, seconds since the epoch.
    pub iat: u64,
    /// Expires at, seconds since the epoch.
    pub exp: u64,
    /// Not before, seconds since the epoch (optional).
    #[serde(skip_serializing_if = "Option::is_none")]
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

    /// Mints a token for `subject` from `issuer` (the app id) to `audience` (the Tessera
    /// server's audience, [`default_audience`] unless the server is configured
    /// otherwise), valid from `issued_at` for `ttl_seconds`.
    pub fn mint(
        &self,
        issuer: &str,
        audience: &str,
        subject: &Identity,
        issued_at: Timestamp,
        ttl_seconds: u64,
    ) -> String {
        let claims = TokenClaims {
            iss: issuer.to_owned(),
            sub: subject.as_str().to_owned(),
            aud: Some(Audience::One(audience.to_owned())),
            iat: issued_at.0,
            exp: issued_at.plus(ttl_seconds).0,
            nbf: None,
        };
        self.sign_claims(&claims)
    }

    /// Signs arbitrary claims; for tests of the verifier's checks.
    pub fn sign_claims(&self, claims: &TokenClaims) -> String {
        let header = Header {
            alg: "EdDSA",
            typ: "JWT",
            kid: &self.kid,
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
    audience: String,
    keys: HashMap<String, VerifyingKey>,
    leeway_seconds: u64,
    max_lifetime_seconds: u64,
}

impl TokenVerifier {
    /// A verifier for tokens issued by `issuer` (the app id) for `audience` (this server's
    /// audience; [`default_audience`] of the app id unless configured otherwise).
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            keys: HashMap::new(),
            leeway_seconds: DEFAULT_LEEWAY_SECONDS,
            max_lifetime_seconds: DEFAULT_MAX_LIFETIME_SECONDS,
        }
    }

    /// Accepts tokens signed by this app public key (its `kid` is derived from it).
    pub fn with_key(mut self, public_key: &[u8; 32]) -> Result<Self, TokenError> {
        let key = crate::keys::valid_verifying_key(public_key)
            .map_err(|_| TokenError::Malformed("invalid app public key"))?;
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

    /// The audience tokens must name in `aud`.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// Checks a token's form, signature, issuer, audience, subject and times at `now`, in
    /// the order of docs/FORMAT.md §6: the first rule that fails gives the error.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<TokenClaims, TokenError> {
        // 1. Length, three parts, the header's JSON and its `alg` member's type.
        let [header_b64, claims_b64, signature_b64] = split(token)?;
        let header_json =
            b64url_decode(header_b64).ok_or(TokenError::Malformed("header is not base64url"))?;
        let header = json::parse_object(&header_json).map_err(TokenError::Malformed)?;
        let Some(Json::String(alg)) = header.get("alg") else {
            return Err(TokenError::Malformed("alg is missing or not a string"));
        };
        // 2. Algorithm, critical extensions, type.
        if alg != "EdDSA" {
            return Err(TokenError::UnsupportedAlgorithm);
        }
        if header.contains_key("crit") {
            return Err(TokenError::UnsupportedCritical);
        }
        match header.get("typ") {
            None => {}
            Some(Json::String(typ)) if typ.eq_ignore_ascii_case("JWT") => {}
            Some(_) => return Err(TokenError::Malformed("typ is not the string JWT")),
        }
        // 3. The key.
        let Some(Json::String(kid)) = header.get("kid") else {
            return Err(TokenError::Malformed("kid is missing or not a string"));
        };
        let key = self.keys.get(kid).ok_or(TokenError::UnknownKey)?;
        // 4. The signature, over the token's bytes before the second dot.
        let signature = b64url_decode(signature_b64)
            .ok_or(TokenError::Malformed("signature is not base64url"))?;
        let signature: [u8; 64] = signature
            .try_into()
            .map_err(|_| TokenError::Malformed("signature is not 64 bytes"))?;
        let signing_input_length = header_b64.len() + 1 + claims_b64.len();
        let signing_input = token
            .as_bytes()
            .get(..signing_input_length)
            .ok_or(TokenError::Malformed("truncated"))?;
        key.verify_strict(signing_input, &Signature::from_bytes(&signature))
            .map_err(|_| TokenError::BadSignature)?;
        // 5. The claims: their JSON and types, then issuer, audience, subject.
        let claims = parse_claims(claims_b64)?;
        if claims.iss != self.issuer {
            return Err(TokenError::WrongIssuer);
        }
        match &claims.aud {
            None => return Err(TokenError::WrongAudience("it has no aud claim")),
            Some(audience) if !audience.names(&self.audience) => {
                return Err(TokenError::WrongAudience("its aud names another audience"));
            }
            Some(_) => {}
        }
        claims.identity()?;
        // 6. Times.
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

/// The three parts of a token no longer than [`MAX_TOKEN_LENGTH`].
fn split(token: &str) -> Result<[&str; 3], TokenError> {
    if token.len() > MAX_TOKEN_LENGTH {
        return Err(TokenError::Malformed("token too long"));
    }
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(header), Some(claims), Some(signature), None) => Ok([header, claims, signature]),
        _ => Err(TokenError::Malformed("expected three dot-separated parts")),
    }
}

/// The claims part decoded and type-checked (docs/FORMAT.md §6 step 5, up to the issuer).
fn parse_claims(claims_b64: &str) -> Result<TokenClaims, TokenError> {
    let claims_json =
        b64url_decode(claims_b64).ok_or(TokenError::Malformed("claims are not base64url"))?;
    let mut claims = json::parse_object(&claims_json).map_err(TokenError::Malformed)?;
    let mut string = |name, error| match claims.remove(name) {
        Some(Json::String(value)) => Ok(value),
        _ => Err(TokenError::Malformed(error)),
    };
    let iss = string("iss", "iss is missing or not a string")?;
    let sub = string("sub", "sub is missing or not a string")?;
    let integer = |value: Option<&Json>, error| match value {
        Some(Json::Integer(value)) => Ok(*value),
        _ => Err(TokenError::Malformed(error)),
    };
    let iat = integer(claims.get("iat"), "iat is missing or not an integer")?;
    let exp = integer(claims.get("exp"), "exp is missing or not an integer")?;
    let nbf = match claims.get("nbf") {
        None => None,
        value => Some(integer(value, "nbf is not an integer")?),
    };
    let aud = match claims.remove("aud") {
        None => None,
        Some(Json::String(audience)) => Some(Audience::One(audience)),
        Some(Json::Array(items)) => Some(Audience::Several(
            items
                .into_iter()
                .map(|item| match item {
                    Json::String(audience) => Ok(audience),
                    _ => Err(TokenError::Malformed("aud is not a string or strings")),
                })
                .collect::<Result<_, _>>()?,
        )),
        Some(_) => return Err(TokenError::Malformed("aud is not a string or strings")),
    };
    Ok(TokenClaims {
        iss,
        sub,
        aud,
        iat,
        exp,
        nbf,
    })
}

/// Reads a token's claims WITHOUT verifying it: the length, the three parts and the
/// claims' JSON and types are checked as the verifier checks them, nothing else. Clients
/// use this to learn their own identity and the expiry of a token their backend just gave
/// them; servers never do.
pub fn read_claims_unverified(token: &str) -> Result<TokenClaims, TokenError> {
    let [_, claims_b64, _] = split(token)?;
    parse_claims(claims_b64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp(1_767_225_600);
    const AUDIENCE: &str = "tessera:app-1";

    fn setup() -> (AppKey, TokenVerifier) {
        let key = AppKey::from_seed([9; 32]);
        let verifier = TokenVerifier::new("app-1", AUDIENCE)
            .with_key(&key.public_key())
            .unwrap();
        (key, verifier)
    }

    fn alice() -> Identity {
        Identity::new("alice").unwrap()
    }

    /// A token with this header and these claims (JSON texts as given), signed by `key`.
    fn signed(key: &AppKey, header: &str, claims: &str) -> String {
        let input = format!(
            "{}.{}",
            b64url_encode(header.as_bytes()),
            b64url_encode(claims.as_bytes())
        );
        let signature = SigningKey::from_bytes(key.seed()).sign(input.as_bytes());
        format!("{input}.{}", b64url_encode(&signature.to_bytes()))
    }

    fn header(key: &AppKey) -> String {
        format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{}"}}"#, key.kid())
    }

    fn claims_with(extra: &str) -> String {
        format!(
            r#"{{"iss":"app-1","sub":"alice","aud":"{AUDIENCE}","iat":{},"exp":{}{extra}}}"#,
            NOW.0,
            NOW.plus(600).0
        )
    }

    #[test]
    fn minted_tokens_verify() {
        let (key, verifier) = setup();
        let token = key.mint("app-1", AUDIENCE, &alice(), NOW, 1200);
        let claims = verifier.verify(&token, NOW.plus(5)).unwrap();
        assert_eq!(claims.sub, "alice");
        assert_eq!(claims.aud, Some(Audience::One(AUDIENCE.into())));
        assert_eq!(read_claims_unverified(&token).unwrap(), claims);
        assert_eq!(default_audience("app-1"), AUDIENCE);
        let text =
            String::from_utf8(b64url_decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap();
        assert_eq!(
            text,
            format!(
                r#"{{"iss":"app-1","sub":"alice","aud":"{AUDIENCE}","iat":{},"exp":{}}}"#,
                NOW.0,
                NOW.plus(1200).0
            )
        );
    }

    #[test]
    fn only_valid_app_keys_are_accepted() {
        // The identity point (small order), and y = p + 1 and y = p + 3: non-canonical
        // encodings of the identity and of a point of large order (y = 3). As for card
        // keys (docs/FORMAT.md §2), a verifier holds only canonical keys of large order.
        let mut identity = [0; 32];
        identity[0] = 1;
        let mut p_plus_1 = [0xff; 32];
        p_plus_1[0] = 0xee;
        p_plus_1[31] = 0x7f;
        let mut p_plus_3 = p_plus_1;
        p_plus_3[0] = 0xf0;
        for key in [identity, p_plus_1, p_plus_3] {
            assert!(matches!(
                TokenVerifier::new("app-1", AUDIENCE).with_key(&key),
                Err(TokenError::Malformed("invalid app public key"))
            ));
        }
    }

    #[test]
    fn times_issuer_and_keys_are_checked() {
        let (key, verifier) = setup();
        let token = key.mint("app-1", AUDIENCE, &alice(), NOW, 1200);
        assert_eq!(
            verifier.verify(&token, NOW.plus(1200 + 61)),
            Err(TokenError::Expired)
        );
        assert_eq!(
            verifier.verify(&token, NOW.minus(120)),
            Err(TokenError::NotYetValid)
        );
        let other_app = key.mint("app-2", AUDIENCE, &alice(), NOW, 1200);
        assert_eq!(
            verifier.verify(&other_app, NOW),
            Err(TokenError::WrongIssuer)
        );
        let stranger = AppKey::from_seed([8; 32]).mint("app-1", AUDIENCE, &alice(), NOW, 1200);
        assert_eq!(verifier.verify(&stranger, NOW), Err(TokenError::UnknownKey));
        let long = key.mint("app-1", AUDIENCE, &alice(), NOW, 3 * 24 * 3600);
        assert_eq!(
            verifier.verify(&long, NOW),
            Err(TokenError::LifetimeTooLong)
        );
    }

    #[test]
    fn the_audience_must_name_this_verifier() {
        let (key, verifier) = setup();
        let kind = |claims: &str| {
            verifier
                .verify(&signed(&key, &header(&key), claims), NOW)
                .map_err(|e| e.kind())
        };
        let without = format!(
            r#"{{"iss":"app-1","sub":"alice","iat":{},"exp":{}}}"#,
            NOW.0,
            NOW.plus(600).0
        );
        assert_eq!(kind(&without), Err("wrong_audience"));
        let retargeted = |aud: &str| claims_with("").replace(&format!("\"{AUDIENCE}\""), aud);
        for wrong in [
            r#""tessera:app-2""#,
            r#""TESSERA:APP-1""#,
            r#""tessera:app-1 ""#,
            r#""""#,
            r#"[]"#,
            r#"["https://api.example.com"]"#,
        ] {
            assert_eq!(kind(&retargeted(wrong)), Err("wrong_audience"), "{wrong}");
        }
        for malformed in [
            "null",
            "7",
            "{}",
            r#"["tessera:app-1",7]"#,
            r#"[["tessera:app-1"]]"#,
        ] {
            assert_eq!(
                kind(&retargeted(malformed)),
                Err("malformed"),
                "{malformed}"
            );
        }
        let several = kind(&retargeted(
            r#"["https://api.example.com","tessera:app-1"]"#,
        ));
        assert_eq!(
            several.unwrap().aud,
            Some(Audience::Several(vec![
                "https://api.example.com".into(),
                AUDIENCE.into()
            ]))
        );
        // The issuer is checked first, the subject after.
        let other_issuer =
            retargeted(r#""tessera:app-2""#).replace("app-1\",\"sub", "app-2\",\"sub");
        assert_eq!(kind(&other_issuer), Err("wrong_issuer"));
        let bad_subject = retargeted(r#""tessera:app-2""#).replace("alice", "a b");
        assert_eq!(kind(&bad_subject), Err("wrong_audience"));
        // A minter for another audience.
        let elsewhere = key.mint("app-1", "tessera:app-1:staging", &alice(), NOW, 600);
        assert_eq!(
            verifier.verify(&elsewhere, NOW),
            Err(TokenError::WrongAudience("its aud names another audience"))
        );
    }

    #[test]
    fn header_members_are_checked_in_order() {
        let (key, verifier) = setup();
        let kid = key.kid();
        let claims = claims_with("");
        let kind = |header: &str| {
            verifier
                .verify(&signed(&key, header, &claims), NOW)
                .map(|_| "valid")
                .unwrap_or_else(|e| e.kind())
        };
        let cases = [
            (format!(r#"{{"alg":"EdDSA","kid":"{kid}"}}"#), "valid"),
            (
                format!(r#"{{"alg":"EdDSA","typ":"jwt","kid":"{kid}"}}"#),
                "valid",
            ),
            (
                format!(r#"{{"alg":"EdDSA","typ":"JWS","kid":"{kid}"}}"#),
                "malformed",
            ),
            (
                format!(r#"{{"alg":"EdDSA","typ":null,"kid":"{kid}"}}"#),
                "malformed",
            ),
            (
                format!(r#"{{"alg":"EdDSA","typ":["JWT"],"kid":"{kid}"}}"#),
                "malformed",
            ),
            (format!(r#"{{"typ":"JWT","kid":"{kid}"}}"#), "malformed"),
            (format!(r#"{{"alg":null,"kid":"{kid}"}}"#), "malformed"),
            // Types are checked where the member is: alg and crit come before typ and kid.
            (
                r#"{"alg":"none","typ":7,"kid":7}"#.into(),
                "unsupported_algorithm",
            ),
            (
                format!(r#"{{"alg":"EdDSA","typ":7,"crit":null,"kid":"{kid}"}}"#),
                "unsupported_critical",
            ),
            (
                r#"{"alg":"EdDSA","typ":7,"kid":"0000000000000000"}"#.into(),
                "malformed",
            ),
            (r#"{"alg":"EdDSA","kid":7}"#.into(), "malformed"),
            (r#"{"alg":"EdDSA","kid":null}"#.into(), "malformed"),
            (
                r#"{"alg":"EdDSA","kid":"0000000000000000"}"#.into(),
                "unknown_key",
            ),
            (
                format!(r#"{{"alg":"EdDSA","kid":"{}"}}"#, kid.to_uppercase()),
                "unknown_key",
            ),
            // Duplicates anywhere in the header, even in a member Tessera ignores.
            (
                format!(r#"{{"alg":"EdDSA","alg":"EdDSA","kid":"{kid}"}}"#),
                "malformed",
            ),
            (
                format!(r#"{{"alg":"EdDSA","kid":"{kid}","x":{{"y":1,"y":1}}}}"#),
                "malformed",
            ),
            (
                format!(r#"{{"alg":"EdDSA","kid":"{kid}","x":{{"y":1}},"y":1}}"#),
                "valid",
            ),
        ];
        for (header, expected) in cases {
            assert_eq!(kind(&header), expected, "{header}");
        }
    }

    #[test]
    fn claims_are_read_after_the_signature() {
        let (key, verifier) = setup();
        let header = header(&key);
        let kind = |claims: &[u8]| {
            let input = format!(
                "{}.{}",
                b64url_encode(header.as_bytes()),
                b64url_encode(claims)
            );
            let signature = SigningKey::from_bytes(key.seed()).sign(input.as_bytes());
            let token = format!("{input}.{}", b64url_encode(&signature.to_bytes()));
            verifier
                .verify(&token, NOW)
                .map(|_| "valid")
                .unwrap_or_else(|e| e.kind())
        };
        let good = claims_with("");
        assert_eq!(kind(good.as_bytes()), "valid");
        for malformed in [
            claims_with(r#","iat":1"#),
            claims_with(r#","x":{"a":[{"b":1,"b":2}]}"#),
            claims_with(r#","nbf":null"#),
            claims_with(r#","nbf":-0"#),
            claims_with(r#","nbf":1.0"#),
            claims_with(r#","nbf":"1""#),
            claims_with(r#","x":"\ud800""#),
            good.replace(&NOW.0.to_string(), "-0"),
            good.replace(&NOW.0.to_string(), "1767225600.0"),
            good.replace(&NOW.0.to_string(), "1.7672256e9"),
            good.replace(&NOW.0.to_string(), "18446744073709551616"),
            good.replace("\"alice\"", "null"),
        ] {
            assert_eq!(kind(malformed.as_bytes()), "malformed", "{malformed}");
        }
        // Ignored members may hold any valid JSON, including numbers of any size.
        assert_eq!(
            kind(claims_with(r#","jti":-0,"x":1e400,"y":[1,{"z":null}]"#).as_bytes()),
            "valid"
        );
        // Invalid UTF-8, even inside a member Tessera ignores.
        let mut invalid = claims_with(r#","x":"?""#).into_bytes();
        let at = invalid.iter().position(|&b| b == b'?').unwrap();
        invalid[at] = 0xFF;
        assert_eq!(kind(&invalid), "malformed");
        // Claims that are not even base64url fail only once the signature is checked.
        let token = format!(
            "{}.!!.{}",
            b64url_encode(header.as_bytes()),
            b64url_encode(&[0; 64])
        );
        assert_eq!(verifier.verify(&token, NOW), Err(TokenError::BadSignature));
    }

    #[test]
    fn the_length_limit_counts_the_whole_text() {
        let (key, verifier) = setup();
        let header = header(&key);
        // Pad an ignored claim until the token is exactly the limit, then one byte more.
        let token_of = |padding: usize| {
            signed(
                &key,
                &header,
                &claims_with(&format!(r#","pad":"{}""#, "x".repeat(padding))),
            )
        };
        let base = token_of(0).len();
        // Three padding bytes make four base64url characters.
        let mut padding = (MAX_TOKEN_LENGTH - base) / 4 * 3;
        while token_of(padding + 1).len() <= MAX_TOKEN_LENGTH {
            padding += 1;
        }
        let at_limit = token_of(padding);
        assert!(at_limit.len() <= MAX_TOKEN_LENGTH && at_limit.len() > MAX_TOKEN_LENGTH - 2);
        assert!(verifier.verify(&at_limit, NOW).is_ok());
        let over = token_of(padding + 1);
        assert!(over.len() > MAX_TOKEN_LENGTH);
        assert_eq!(
            verifier.verify(&over, NOW),
            Err(TokenError::Malformed("token too long"))
        );
        assert_eq!(
            read_claims_unverified(&over),
            Err(TokenError::Malformed("token too long"))
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 256,
            ..proptest::prelude::ProptestConfig::default()
        })]

        /// Whatever claims the minter signs (any strings, control characters and non-ASCII
        /// included, one audience or several) read back the same, as the verifier reads them.
        #[test]
        fn signed_claims_read_back_the_same(
            iss in "\\PC{0,40}|[\\x00-\\x1f\"\\\\/]{0,8}",
            sub in "[!-~]{1,20}",
            audiences in proptest::collection::vec("\\PC{0,20}", 0..4),
            several in proptest::bool::ANY,
            iat in proptest::num::u64::ANY,
            exp in proptest::num::u64::ANY,
            nbf in proptest::option::of(proptest::num::u64::ANY),
        ) {
            let aud = match (several, audiences.first()) {
                (false, Some(one)) => Some(Audience::One(one.clone())),
                (false, None) => None,
                (true, _) => Some(Audience::Several(audiences.clone())),
            };
            let claims = TokenClaims { iss, sub, aud, iat, exp, nbf };
            let token = AppKey::from_seed([9; 32]).sign_claims(&claims);
            proptest::prop_assert_eq!(read_claims_unverified(&token), Ok(claims));
        }
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
        let token = key.mint("app-1", AUDIENCE, &alice(), NOW, 1200);
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
