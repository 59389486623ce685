//! The one place where the client's platform traits differ between native targets and
//! the browser (after matrix-sdk-common's `SendOutsideWasm`).
//!
//! Natively, everything the client holds (key stores, token providers, transports,
//! listeners) must be `Send + Sync` and every future it returns is `Send`, so apps can drive
//! it from any async runtime and UniFFI can export it. On `wasm32` there are no threads,
//! and JS objects are never `Send`, so the bounds disappear. Trait definitions and
//! implementations pick the matching `async-trait` flavour with:
//!
//! ```text
//! #[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
//! #[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
//! ```

use std::fmt;

/// `Send` on native targets, nothing on wasm.
#[cfg(not(target_family = "wasm"))]
pub trait SendOutsideWasm: Send {}
#[cfg(not(target_family = "wasm"))]
impl<T: Send + ?Sized> SendOutsideWasm for T {}

/// `Send` on native targets, nothing on wasm.
#[cfg(target_family = "wasm")]
pub trait SendOutsideWasm {}
#[cfg(target_family = "wasm")]
impl<T: ?Sized> SendOutsideWasm for T {}

/// `Sync` on native targets, nothing on wasm.
#[cfg(not(target_family = "wasm"))]
pub trait SyncOutsideWasm: Sync {}
#[cfg(not(target_family = "wasm"))]
impl<T: Sync + ?Sized> SyncOutsideWasm for T {}

/// `Sync` on native targets, nothing on wasm.
#[cfg(target_family = "wasm")]
pub trait SyncOutsideWasm {}
#[cfg(target_family = "wasm")]
impl<T: ?Sized> SyncOutsideWasm for T {}

/// The error every platform trait method (key store, token provider, HTTP transport,
/// key-changed listener) returns: a message for the app developer. It must not contain
/// secrets or tokens; the client passes it on inside [`crate::Error`].
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PlatformError {
    /// What went wrong, in words for a developer.
    pub message: String,
}

impl PlatformError {
    /// A platform error with a message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Debug for PlatformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlatformError")
            .field("message", &self.message)
            .finish()
    }
}
