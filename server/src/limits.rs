//! Request-rate limits per identity and per client address (docs/SERVER.md "Limits"),
//! with the generic cell rate algorithm: one timestamp per key, no background task.
//! Size and batch limits are checked where the request is parsed (api/).

use std::{
    collections::HashMap,
    hash::Hash,
    net::{IpAddr, Ipv6Addr},
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
    /// Keys one shard holds at most.
    shard_capacity: usize,
    /// Per key: its schedule.
    schedules: ShardedMap<K, Schedule>,
}

/// One key's state, in ns since the limiter's epoch.
#[derive(Clone, Copy)]
struct Schedule {
    /// The theoretical arrival time of the key's next request.
    next: u64,
    /// When the key last made a request (for least-recently-used eviction).
    last_seen: u64,
}

impl<K: Hash + Eq> RateLimiter<K> {
    /// A limiter, or `None` when `per_second` is 0 (unlimited).
    pub fn new(per_second: u32, burst: u32) -> Option<Self> {
        Self::with_capacity(per_second, burst, MAX_TRACKED_KEYS)
    }

    /// A limiter that tracks about `capacity` keys at most.
    fn with_capacity(per_second: u32, burst: u32, capacity: usize) -> Option<Self> {
        if per_second == 0 {
            return None;
        }
        let interval_ns = 1_000_000_000 / u64::from(per_second);
        Some(Self {
            interval_ns,
            tolerance_ns: interval_ns.saturating_mul(u64::from(burst.max(1) - 1)),
            epoch: Instant::now(),
            shard_capacity: ShardedMap::<K, Schedule>::shard_capacity(capacity),
            schedules: ShardedMap::new(),
        })
    }

    /// Counts a request by `key`; `Err(wait)` when it exceeds the limit.
    pub fn check(&self, key: K) -> Result<(), Duration> {
        let now = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.schedules.with_shard(key, |schedules, key| {
            if schedules.len() >= self.shard_capacity && !schedules.contains_key(&key) {
                make_room(schedules, self.shard_capacity, now);
            }
            let next = schedules.get(&key).map_or(now, |s| s.next).max(now);
            let ahead = next - now;
            if ahead > self.tolerance_ns {
                if let Some(schedule) = schedules.get_mut(&key) {
                    schedule.last_seen = now;
                }
                return Err(Duration::from_nanos(ahead - self.tolerance_ns));
            }
            let schedule = Schedule {
                next: next + self.interval_ns,
                last_seen: now,
            };
            schedules.insert(key, schedule);
            Ok(())
        })
    }
}

/// Frees room in a shard that holds `capacity` keys. Keys whose schedule lies in the
/// past are back at a full burst, so dropping them changes nothing; if that is not
/// enough, the least recently seen eighth goes. (Clearing the whole shard instead would
/// let a flood of fresh keys reset the limit of whoever sends the flood.)
fn make_room<K>(schedules: &mut HashMap<K, Schedule>, capacity: usize, now: u64) {
    schedules.retain(|_, schedule| schedule.next > now);
    if schedules.len() < capacity {
        return;
    }
    let mut seen: Vec<u64> = schedules.values().map(|s| s.last_seen).collect();
    let cut = seen.len() / 8;
    if cut < seen.len() {
        let threshold = *seen.select_nth_unstable(cut).1;
        schedules.retain(|_, schedule| schedule.last_seen > threshold);
    }
}

/// The key a client address is limited under: an IPv4 address as it is, an IPv6 address
/// by its /64 prefix (one subscriber usually holds a whole /64, so a limit per address
/// would give it 2^64 budgets), an IPv4-mapped IPv6 address as the IPv4 address.
pub fn address_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        },
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

    #[test]
    fn a_flood_of_new_keys_does_not_reset_a_busy_key() {
        // 8 keys per shard: the flood fills every shard many times over.
        let limiter = RateLimiter::with_capacity(1, 2, 32 * 8).unwrap();
        assert!(limiter.check(0u32).is_ok());
        assert!(limiter.check(0u32).is_ok());
        assert!(limiter.check(0u32).is_err(), "key 0 used its burst");
        for flood in 1..10_000u32 {
            let _ = limiter.check(flood);
            assert!(
                limiter.check(0u32).is_err(),
                "key 0 was reset after {flood} new keys"
            );
        }
    }

    #[test]
    fn ipv6_addresses_are_limited_by_their_64_prefix() {
        let key = |text: &str| address_key(text.parse().unwrap());
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:ffff:1:2:3"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:192.0.2.7"), key("192.0.2.7"));
        assert_ne!(key("192.0.2.7"), key("192.0.2.8"));
    }

    #[test]
    fn eviction_keeps_the_shard_within_its_capacity() {
        let limiter = RateLimiter::with_capacity(1, 1, 32 * 16).unwrap();
        for key in 0..100_000u32 {
            assert!(limiter.check(key).is_ok(), "a fresh key has its burst");
        }
        for shard in 0..32 {
            let len = limiter.schedules.shard_len(shard);
            assert!(len <= 16, "shard {shard} holds {len} keys");
        }
    }
}
