//! Large data in pieces: [`EncryptStream`] and [`DecryptStream`] over core's streams
//! (64 KiB chunks, constant memory), with progress reports and cancellation. Feed byte
//! arrays of any size to `update`, then call `finish` once; the Kotlin package adds
//! `pipe(InputStream, OutputStream)` helpers on top.
//!
//! Plaintext released by `DecryptStream.update` is confidential and untampered by
//! non-recipients, but its author is proven only when `finish` succeeds: on any error,
//! discard what was written.

use std::sync::{Arc, Mutex};

use tessera_client::{
    self as core, CancellationToken as CoreCancellationToken, Progress as CoreProgress,
};

use super::platform::ProgressListener;
use crate::{envelope::Decrypted, error::TesseraError};

/// Cancels streams from anywhere (another thread, a UI button): their next `update` or
/// `finish` fails with `Cancelled`, and they stay failed.
#[derive(Debug, Default, uniffi::Object)]
pub struct CancellationToken {
    inner: CoreCancellationToken,
}

#[uniffi::export]
impl CancellationToken {
    /// A token that is not cancelled.
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Cancels every stream watching this token.
    pub fn cancel(&self) {
        self.inner.cancel();
    }

    /// Whether `cancel` was called.
    pub fn is_cancelled(&self) -> bool {
        self.inner.is_cancelled()
    }
}

/// Progress reporting and cancellation for a stream; every field is optional.
#[derive(uniffi::Record)]
pub struct StreamOptions {
    /// Told after each piece of input.
    #[uniffi(default)]
    pub progress: Option<Arc<dyn ProgressListener>>,
    /// Stops the stream with `Cancelled` once cancelled.
    #[uniffi(default)]
    pub cancellation: Option<Arc<CancellationToken>>,
    /// The input's total size, passed through in each progress report.
    #[uniffi(default)]
    pub total_bytes: Option<u64>,
}

impl From<StreamOptions> for core::StreamOptions {
    fn from(options: StreamOptions) -> Self {
        let mut core_options = core::StreamOptions::new();
        if let Some(listener) = options.progress {
            // The listener's errors are ignored, as the contract says.
            core_options = core_options.with_progress(move |progress: CoreProgress| {
                let _ = listener.on_progress(progress.into());
            });
        }
        if let Some(token) = options.cancellation {
            core_options = core_options.with_cancellation(token.inner.clone());
        }
        if let Some(total) = options.total_bytes {
            core_options = core_options.with_total_bytes(total);
        }
        core_options
    }
}

pub(super) fn finished() -> TesseraError {
    tessera_client::Error::InvalidState.into()
}

pub(super) fn poisoned() -> TesseraError {
    TesseraError::Internal {
        reason: "the stream's lock is poisoned".to_owned(),
    }
}

/// Encrypts data of any size: `update` with pieces, then `finish` once. Each call returns
/// the ciphertext it produced (whole 64 KiB chunks as they fill up; often empty).
#[derive(Debug, uniffi::Object)]
pub struct EncryptStream {
    inner: Mutex<Option<core::EncryptStream>>,
}

impl EncryptStream {
    pub(crate) fn wrap(inner: core::EncryptStream) -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(Some(inner)),
        })
    }
}

#[uniffi::export]
impl EncryptStream {
    /// Encrypts the next piece; returns the ciphertext ready so far.
    pub fn update(&self, data: Vec<u8>) -> Result<Vec<u8>, TesseraError> {
        let mut guard = self.inner.lock().map_err(|_| poisoned())?;
        let stream = guard.as_mut().ok_or_else(finished)?;
        let mut out = Vec::new();
        stream.update(&data, &mut out)?;
        Ok(out)
    }

    /// Signs and returns the rest of the envelope. The stream cannot be used afterwards.
    pub fn finish(&self) -> Result<Vec<u8>, TesseraError> {
        let stream = self
            .inner
            .lock()
            .map_err(|_| poisoned())?
            .take()
            .ok_or_else(finished)?;
        let mut out = Vec::new();
        stream.finish(&mut out)?;
        Ok(out)
    }
}

/// Decrypts data of any size: `update` with pieces of the envelope (returns released
/// plaintext), then `finish`, which verifies the sender's signature.
#[derive(Debug, uniffi::Object)]
pub struct DecryptStream {
    inner: Mutex<Option<core::DecryptStream>>,
}

impl DecryptStream {
    pub(crate) fn wrap(inner: core::DecryptStream) -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(Some(inner)),
        })
    }
}

#[uniffi::export]
impl DecryptStream {
    /// Feeds the next piece of the envelope; returns the plaintext released so far.
    pub fn update(&self, data: Vec<u8>) -> Result<Vec<u8>, TesseraError> {
        let mut guard = self.inner.lock().map_err(|_| poisoned())?;
        let stream = guard.as_mut().ok_or_else(finished)?;
        let mut out = Vec::new();
        stream.update(&data, &mut out)?;
        Ok(out)
    }

    /// Decrypts the last piece and verifies the signature: the last plaintext and who
    /// signed. The stream cannot be used afterwards.
    pub fn finish(&self) -> Result<Decrypted, TesseraError> {
        let stream = self
            .inner
            .lock()
            .map_err(|_| poisoned())?
            .take()
            .ok_or_else(finished)?;
        let mut out = Vec::new();
        let verified = stream.finish(&mut out)?;
        Ok(Decrypted::new(out, verified))
    }
}
