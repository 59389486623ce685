//! Request-rate limits per identity and per client address (docs/SERVER.md "Limits"),
//! with the generic cell rate algorithm: one timestamp per key, no background task.
//! Size and batch limits are checked where the request is parsed (api/).

use std::{
    hash::Hash,
    time::{Duration, Instant},
};

use crate::sharded_map::ShardedMap;

/// Keys tracked at most before idle ones are dropped (bounds memory under a flood of
/// distinct addresses).
const MAX_TRACKED_KEYS: usize = 1 << 20;

/// A token-bucket-equivalent limiter: `per_second` sustained, `burst` at once.
pub struct RateLimiter<K> {
    /// Nanoseconds between two requests at the sustained rate.
    interval_ns: u64,
    /// How far ahead of now a key's schedule may run (the burst).
    tolerance_ns: u64,
    epoch: Instant,
    /// Per key: the theoretical arrival time of its next request, in ns since `epoch`.
    schedules: ShardedMap<K, u64>,
}

impl<K: Hash + Eq> RateLimiter<K> {
    /// A limiter, or `None` when `per_second` is 0 (unlimited).
    pub fn new(per_second: u32, burst: u32) -> Option<Self> {
        if per_second == 0 {
            return None;
        }
        let interval_ns = 1_000_000_000 / u64::from(per_second);
        Some(Self {
            interval_ns,
            tolerance_ns: interval_ns.saturating_mul(u64::from(burst.max(1) - 1)),
            epoch: Instant::now(),
            schedules: ShardedMap::new(),
        })
    }

    /// Counts a request by `key`; `Err(wait)` when it exceeds the limit.
    pub fn check(&self, key: K) -> Result<(), Duration> {
        let now = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let shard_capacity = ShardedMap::<K, u64>::shard_capacity(MAX_TRACKED_KEYS);
        self.schedules.with_shard(key, |schedules, key| {
            if schedules.len() >= shard_capacity && !schedules.contains_key(&key) {
                // Keys whose schedule lies in the past are back at a full burst: dropping
                // them changes nothing.
                schedules.retain(|_, next| *next > now);
                if schedules.len() >= shard_capacity {
                    schedules.clear();
                }
            }
            let next = schedules.get(&key).copied().unwrap_or(now).max(now);
            let ahead = next - now;
            if ahead > self.tolerance_ns {
                return Err(Duration::from_nanos(ahead - self.tolerance_ns));
            }
            schedules.insert(key, next + self.interval_ns);
            Ok(())
        })
    }
}

/// Whole seconds to put in `Retry-After`, rounded up, at least 1.
pub fn retry_after_seconds(wait: Duration) -> u64 {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    seconds.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_burst_then_refuses() {
        let limiter = RateLimiter::new(1, 3).unwrap();
        for _ in 0..3 {
            assert!(limiter.check("a").is_ok());
        }
        let wait = limiter.check("a").unwrap_err();
        assert!(wait <= Duration::from_secs(1));
        assert_eq!(retry_after_seconds(wait), 1);
        assert!(limiter.check("b").is_ok(), "keys are independent");
        assert!(RateLimiter::<&str>::new(0, 10).is_none());
    }
}
