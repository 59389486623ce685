//! Authentication: `Authorization: Bearer <token>` checked against the configured app
//! public keys, app id and audience (docs/FORMAT.md §6 via
//! [`tessera_format::TokenVerifier`]); the token's subject is the caller. Tokens are never
//! logged or echoed.
//!
//! A client sends the same token for its whole lifetime (20 minutes by default), so the
//! outcome of a successful verification is cached, keyed by the token's SHA-256, until
//! the token expires; a request with a cached token costs a hash instead of an Ed25519
//! verification.

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, header, request::Parts},
};
use sha2::{Digest, Sha256};
use tessera_format::{Identity, Timestamp, TokenError, TokenVerifier};

use crate::{
    config::Config, error::ApiError, limits::retry_after_seconds, server::AppState,
    sharded_map::ShardedMap,
};

/// Tokens remembered at most.
const MAX_CACHED_TOKENS: usize = 100_000;

struct VerifiedToken {
    identity: Identity,
    expires_at: u64,
}

/// Verifies bearer tokens, remembering the ones that verified.
pub struct Authenticator {
    verifier: TokenVerifier,
    leeway_seconds: u64,
    verified: ShardedMap<[u8; 32], VerifiedToken>,
}

impl Authenticator {
    /// An authenticator for the app id, audience, app public keys and token settings of
    /// `config`.
    pub fn new(config: &Config) -> Result<Self, TokenError> {
        let keys: Vec<[u8; 32]> = config.app_public_keys.iter().map(|key| key.0).collect();
        Self::with_keys(config, &keys)
    }

    /// An authenticator for the app id, audience and token settings of `config` that
    /// accepts the app public keys `keys` instead of the configured ones.
    pub fn with_keys(config: &Config, keys: &[[u8; 32]]) -> Result<Self, TokenError> {
        let mut verifier = TokenVerifier::new(config.app_id.clone(), config.audience.clone())
            .with_leeway(config.token_leeway_seconds)
            .with_max_lifetime(config.token_max_lifetime_seconds);
        for key in keys {
            verifier = verifier.with_key(key)?;
        }
        Ok(Self {
            verifier,
            leeway_seconds: config.token_leeway_seconds,
            verified: ShardedMap::new(),
        })
    }

    /// The identity the `Authorization` header of `headers` proves at `now`. A request
    /// with several `Authorization` headers is refused: which one counts would depend on
    /// the proxies in between.
    pub fn authenticate(&self, headers: &HeaderMap, now: Timestamp) -> Result<Identity, ApiError> {
        let mut authorizations = headers.get_all(header::AUTHORIZATION).iter();
        let header = authorizations.next().ok_or_else(|| {
            ApiError::Unauthorized(
                "missing Authorization header; send `Authorization: Bearer <token>`".into(),
            )
        })?;
        if authorizations.next().is_some() {
            return Err(ApiError::InvalidRequest(
                "send one Authorization header, not several".into(),
            ));
        }
        let token = header
            .to_str()
            .ok()
            .and_then(|value| {
                let (scheme, token) = value.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                ApiError::Unauthorized(
                    "malformed Authorization header; expected `Bearer <token>`".into(),
                )
            })?;

        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let still_valid = |expires_at: u64| expires_at > now.minus(self.leeway_seconds).0;
        let cached = self.verified.with_shard(digest, |cache, digest| {
            cache
                .get(&digest)
                .filter(|hit| still_valid(hit.expires_at))
                .map(|hit| hit.identity.clone())
        });
        if let Some(identity) = cached {
            return Ok(identity);
        }

        let claims = self
            .verifier
            .verify(token, now)
            .map_err(|error| ApiError::Unauthorized(self.explain(&error)))?;
        let identity = claims
            .identity()
            .map_err(|e| ApiError::Unauthorized(format!("invalid token: {e}")))?;
        let shard_capacity =
            ShardedMap::<[u8; 32], VerifiedToken>::shard_capacity(MAX_CACHED_TOKENS);
        self.verified.with_shard(digest, |cache, digest| {
            if cache.len() >= shard_capacity {
                cache.retain(|_, entry| still_valid(entry.expires_at));
                if cache.len() >= shard_capacity {
                    cache.clear();
                }
            }
            cache.insert(
                digest,
                VerifiedToken {
                    identity: identity.clone(),
                    expires_at: claims.exp,
                },
            );
        });
        Ok(identity)
    }
}

impl Authenticator {
    /// The 401 message for a refused token: what is wrong and, for the audience, which
    /// one this server expects (it is configuration, not a secret).
    fn explain(&self, error: &TokenError) -> String {
        match error {
            TokenError::WrongAudience(reason) => format!(
                "invalid token: it is not meant for this server ({reason}); mint tokens with \
                 aud {:?}, this server's audience",
                self.verifier.audience()
            ),
            other => format!("invalid token: {other}"),
        }
    }
}

/// The authenticated caller of a request, after the per-identity rate limit.
#[derive(Debug, Clone)]
pub struct Caller(pub Identity);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let identity = state.auth.authenticate(&parts.headers, Timestamp::now())?;
        if let Some(limiter) = &state.identity_limiter {
            limiter
                .check(identity.as_str().to_owned())
                .map_err(|wait| {
                    state.metrics.count_rate_limited("identity");
                    ApiError::RateLimited {
                        retry_after_seconds: retry_after_seconds(wait),
                    }
                })?;
        }
        Ok(Caller(identity))
    }
}
