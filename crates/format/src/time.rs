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

    /// Reads the clock: the system clock natively, `Date.now()` on wasm32-unknown-unknown
    /// (browsers and Node, where `std::time::SystemTime::now` panics). A clock before 1970
    /// reads as 0.
    pub fn now() -> Timestamp {
        #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
        let now = Timestamp(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        );
        #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
        let now = Timestamp::from_js_millis(js_sys::Date::now());
        now
    }

    /// A JavaScript time value (milliseconds since 1970, as `Date.now()` returns) in whole
    /// seconds; NaN, infinities and times before 1970 become 0.
    pub fn from_js_millis(millis: f64) -> Timestamp {
        if millis.is_finite() && millis > 0.0 {
            Timestamp((millis / 1000.0) as u64)
        } else {
            Timestamp(0)
        }
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
