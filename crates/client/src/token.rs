//! Access tokens: the [`TokenProvider`] the app implements (it asks the app's backend for a
//! JWT) and the cache that reuses a token until shortly before it expires.

use std::{fmt, sync::Arc};

use zeroize::Zeroizing;

use super::{
    Error,
    platform::{PlatformError, SendOutsideWasm, SyncOutsideWasm},
};
use tessera_format::{card::Identity, jwt::read_claims_unverified, time::Timestamp};

/// Supplies access tokens: a fresh JWT for the signed-in user from the app's backend
/// (docs/FORMAT.md §6). Called when no cached token is usable and after the server
/// rejected a token (one retry). The token's `sub` is the user's identity.
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
pub trait TokenProvider: SendOutsideWasm + SyncOutsideWasm {
    /// A fresh token for the current user.
    async fn token(&self) -> Result<String, PlatformError>;
}

/// A token is refreshed this many seconds before its `exp` (or at half its lifetime for
/// tokens shorter than twice this).
pub const TOKEN_REFRESH_MARGIN_SECONDS: u64 = 60;

struct CachedToken {
    token: Zeroizing<String>,
    refresh_at: Timestamp,
}

/// Caches the provider's token until shortly before expiry; one refresh at a time.
pub(crate) struct TokenCache {
    provider: Arc<dyn TokenProvider>,
    identity: Identity,
    cached: async_lock::Mutex<Option<CachedToken>>,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

/// A token's subject and when to refresh it, read without verification (the server
/// verifies; the client only needs to know whose it is and when it runs out).
pub(crate) fn inspect(token: &str) -> Result<(Identity, Timestamp), Error> {
    let claims = read_claims_unverified(token).map_err(|error| Error::TokenProvider {
        message: format!("the token from the app backend is unusable: {error}"),
    })?;
    let identity = claims.identity().map_err(|_| Error::TokenProvider {
        message: "the token's subject (sub) is not a valid identity".into(),
    })?;
    let lifetime = claims.exp.saturating_sub(claims.iat);
    let margin = TOKEN_REFRESH_MARGIN_SECONDS.min(lifetime / 2);
    Ok((identity, Timestamp(claims.exp.saturating_sub(margin))))
}

/// Asks the provider for a token.
pub(crate) async fn fetch(provider: &dyn TokenProvider) -> Result<Zeroizing<String>, Error> {
    provider
        .token()
        .await
        .map(Zeroizing::new)
        .map_err(|error| Error::TokenProvider {
            message: error.message,
        })
}

impl TokenCache {
    pub(crate) fn new(provider: Arc<dyn TokenProvider>, identity: Identity) -> Self {
        Self {
            provider,
            identity,
            cached: async_lock::Mutex::new(None),
        }
    }

    /// Seeds the cache with a token already fetched (during initialization).
    pub(crate) async fn seed(&self, token: Zeroizing<String>) -> Result<(), Error> {
        let entry = self.check(token)?;
        *self.cached.lock().await = Some(entry);
        Ok(())
    }

    /// A usable token: the cached one unless it is due for refresh or `stale` is the
    /// token the server just rejected.
    pub(crate) async fn token(&self, stale: Option<&str>) -> Result<Zeroizing<String>, Error> {
        self.token_at(Timestamp::now(), stale).await
    }

    pub(crate) async fn token_at(
        &self,
        now: Timestamp,
        stale: Option<&str>,
    ) -> Result<Zeroizing<String>, Error> {
        let mut cached = self.cached.lock().await;
        if let Some(entry) = cached.as_ref() {
            let rejected = stale.is_some_and(|s| s == entry.token.as_str());
            if !rejected && now < entry.refresh_at {
                return Ok(entry.token.clone());
            }
            if !rejected && stale.is_some() {
                // Another request already refreshed after the rejection.
                return Ok(entry.token.clone());
            }
        }
        let entry = self.check(fetch(self.provider.as_ref()).await?)?;
        let token = entry.token.clone();
        *cached = Some(entry);
        Ok(token)
    }

    fn check(&self, token: Zeroizing<String>) -> Result<CachedToken, Error> {
        let (subject, refresh_at) = inspect(&token)?;
        if subject != self.identity {
            return Err(Error::TokenProvider {
                message: format!(
                    "the token is for '{subject}', but this Tessera instance belongs to '{}'; \
                     create a new instance after the user changes",
                    self.identity
                ),
            });
        }
        Ok(CachedToken { token, refresh_at })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use tessera_format::jwt::AppKey;

    struct Minting {
        key: AppKey,
        subject: Identity,
        issued_at: Timestamp,
        calls: AtomicU64,
    }

    #[async_trait::async_trait]
    impl TokenProvider for Minting {
        async fn token(&self) -> Result<String, PlatformError> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            Ok(self.key.mint(
                "app",
                "tessera:app",
                &self.subject,
                self.issued_at.plus(n),
                1200,
            ))
        }
    }

    fn provider(subject: &str) -> Arc<Minting> {
        Arc::new(Minting {
            key: AppKey::from_seed([3; 32]),
            subject: Identity::new(subject).unwrap(),
            issued_at: Timestamp(1_800_000_000),
            calls: AtomicU64::new(0),
        })
    }

    #[tokio::test]
    async fn cached_until_shortly_before_expiry_and_refreshed_after_rejection() {
        let minting = provider("alice");
        let cache = TokenCache::new(minting.clone(), Identity::new("alice").unwrap());
        let t0 = Timestamp(1_800_000_000);
        let first = cache.token_at(t0, None).await.unwrap();
        let again = cache.token_at(t0.plus(1000), None).await.unwrap();
        assert_eq!(*first, *again);
        assert_eq!(minting.calls.load(Ordering::SeqCst), 1);
        // 60 s before exp (1200 s) the token is refreshed.
        let refreshed = cache.token_at(t0.plus(1141), None).await.unwrap();
        assert_ne!(*first, *refreshed);
        assert_eq!(minting.calls.load(Ordering::SeqCst), 2);
        // A rejected token is replaced once; a second caller with the same stale token
        // gets the replacement without another fetch.
        let replaced = cache
            .token_at(t0.plus(1142), Some(&refreshed))
            .await
            .unwrap();
        let shared = cache
            .token_at(t0.plus(1142), Some(&refreshed))
            .await
            .unwrap();
        assert_eq!(*replaced, *shared);
        assert_eq!(minting.calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn tokens_for_someone_else_are_refused() {
        let cache = TokenCache::new(provider("mallory"), Identity::new("alice").unwrap());
        let error = cache.token(None).await.unwrap_err();
        assert_eq!(error.code(), "token_provider");
        assert!(!format!("{cache:?}").contains("eyJ"));
    }
}
