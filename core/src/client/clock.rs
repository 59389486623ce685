//! The client's clock: the system clock natively, `Date.now()` in the browser and Node
//! (where `std::time::SystemTime::now` panics).

use crate::time::Timestamp;

/// The current time in whole seconds.
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub(crate) fn now() -> Timestamp {
    Timestamp::now()
}

/// The current time in whole seconds.
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub(crate) fn now() -> Timestamp {
    let millis = js_sys::Date::now();
    if millis.is_finite() && millis > 0.0 {
        Timestamp((millis / 1000.0) as u64)
    } else {
        Timestamp(0)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn now_is_after_2020() {
        assert!(super::now() > crate::time::Timestamp::EARLIEST);
    }
}
