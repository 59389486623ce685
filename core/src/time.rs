//! Time as Tessera's formats carry it: whole seconds since the Unix epoch.
//!
//! Core never reads a clock itself (`SystemTime::now` panics on wasm32-unknown-unknown);
//! callers pass `now` explicitly, which also makes every check testable.

use serde::{Deserialize, Serialize};

/// Seconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The earliest time a Tessera card may carry: 2020-01-01T00:00:00Z.
    pub const EARLIEST: Timestamp = Timestamp(1_577_836_800);
    /// The latest time a Tessera card may carry: 9999-12-31T23:59:59Z.
    pub const LATEST: Timestamp = Timestamp(253_402_300_799);

    /// Reads the system clock. Not available on wasm32-unknown-unknown, where the
    /// adapters read `Date.now()` instead.
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    pub fn now() -> Timestamp {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Timestamp(secs)
    }

    /// This time plus `seconds`, saturating.
    pub fn plus(self, seconds: u64) -> Timestamp {
        Timestamp(self.0.saturating_add(seconds))
    }

    /// This time minus `seconds`, saturating at the epoch.
    pub fn minus(self, seconds: u64) -> Timestamp {
        Timestamp(self.0.saturating_sub(seconds))
    }
}
