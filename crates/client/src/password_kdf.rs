//! Where the backup's Argon2id runs. By default inline, in the calling task; a platform
//! may run it elsewhere — the npm package runs it in a Web Worker in browsers, so a page
//! stays responsive during the ~0.5 s a backup or restore takes there.

use std::sync::Arc;

use tessera_format::backup::{self, KdfParams};
use zeroize::Zeroizing;

use crate::platform::{PlatformError, SendOutsideWasm, SyncOutsideWasm};

/// Computes Argon2id for key backups: exactly
/// [`tessera_format::backup::argon2id`] (version 0x13, no secret, no associated data).
/// The client checks `params` against the bounds before calling it.
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
pub trait PasswordKdf: SendOutsideWasm + SyncOutsideWasm {
    /// `length` bytes of Argon2id output for `password` and `salt` under `params`.
    async fn argon2id(
        &self,
        password: &str,
        salt: &[u8],
        params: KdfParams,
        length: usize,
    ) -> Result<Zeroizing<Vec<u8>>, PlatformError>;
}

/// Argon2id in the calling task.
pub(crate) struct InlineKdf;

#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
impl PasswordKdf for InlineKdf {
    async fn argon2id(
        &self,
        password: &str,
        salt: &[u8],
        params: KdfParams,
        length: usize,
    ) -> Result<Zeroizing<Vec<u8>>, PlatformError> {
        let mut out = Zeroizing::new(vec![0; length]);
        backup::argon2id(password.as_bytes(), salt, params, &mut out)
            .map_err(|error| PlatformError::new(format!("Argon2id failed: {error}")))?;
        Ok(out)
    }
}

pub(crate) fn inline() -> Arc<dyn PasswordKdf> {
    Arc::new(InlineKdf)
}
