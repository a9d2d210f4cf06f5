//! Rate limits by the generic cell rate algorithm (GCRA): one timestamp per key, no timers,
//! exact at any rate, and a burst that refills continuously rather than at window edges.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// A rate with a burst: `per_second` requests per second on average, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

impl RateLimit {
    /// Checks the values an operator stated; the error names the field and the fix.
    pub fn validate(&self) -> Result<(), String> {
        if self.per_second == 0 {
            return Err("per_second must be at least 1; to stop traffic, suspend the partner or withdraw the scope".into());
        }
        if self.burst == 0 {
            return Err("burst must be at least 1 (the requests allowed at once)".into());
        }
        if self.per_second > MAX_RATE || self.burst > MAX_RATE {
            return Err(format!(
                "per_second and burst must be at most {MAX_RATE}; a higher limit is no limit, so leave the partner's rate to the gateway default instead"
            ));
        }
        Ok(())
    }

    /// Microseconds between requests at the sustained rate; at least 1 whatever was stated,
    /// so an unvalidated limit can never divide by zero.
    fn emission_interval_us(&self) -> i64 {
        (1_000_000 / i64::from(self.per_second.max(1))).max(1)
    }
}

/// The highest rate and burst a limit may state.
pub const MAX_RATE: u32 = 1_000_000;

/// The answer of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    Allowed {
        /// Requests that could still be made right now.
        remaining: u32,
        /// Seconds until the full burst is available again.
        reset_seconds: u64,
    },
    Limited {
        /// Seconds until the next request would be allowed (rounded up).
        retry_after_seconds: u64,
        /// Seconds until the full burst is available again.
        reset_seconds: u64,
    },
}

impl RateDecision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, RateDecision::Allowed { .. })
    }
}

const SHARDS: usize = 16;

/// GCRA state for many keys: the theoretical arrival time of each key's next request.
/// Memory is bounded: keys whose bucket is full again carry no information and are dropped,
/// and each shard holds at most `max_keys / SHARDS` keys.
pub struct RateLimiter<K> {
    shards: Vec<Mutex<HashMap<K, i64>>>,
    hasher: std::collections::hash_map::RandomState,
    max_keys_per_shard: usize,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    pub fn new(max_keys: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: Default::default(),
            max_keys_per_shard: (max_keys / SHARDS).max(16),
        }
    }

    /// Takes one request from `key`'s bucket if it has one; a refused request takes nothing.
    /// The key is borrowed (a client id as `&str`): it is copied only when a bucket is new.
    pub fn check<Q>(&self, key: &Q, limit: RateLimit, now_us: i64) -> RateDecision
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let interval = limit.emission_interval_us();
        let capacity = interval * i64::from(limit.burst.max(1));
        let shard = &self.shards[self.hasher.hash_one(key) as usize % SHARDS];
        let mut map = shard
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let tat = map.get(key).copied().unwrap_or(now_us).max(now_us);
        let new_tat = tat + interval;
        if new_tat - now_us > capacity {
            let wait_us = new_tat - now_us - capacity;
            return RateDecision::Limited {
                retry_after_seconds: ceil_seconds(wait_us),
                reset_seconds: ceil_seconds(tat - now_us),
            };
        }
        match map.get_mut(key) {
            Some(stored) => *stored = new_tat,
            None => {
                if map.len() >= self.max_keys_per_shard {
                    evict(&mut map, now_us);
                }
                map.insert(key.to_owned(), new_tat);
            }
        }
        RateDecision::Allowed {
            remaining: ((capacity - (new_tat - now_us)) / interval) as u32,
            reset_seconds: ceil_seconds(new_tat - now_us),
        }
    }

    /// Number of keys currently tracked, for metrics and tests of the memory bound.
    pub fn tracked_keys(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).len())
            .sum()
    }
}

/// Makes room in a full shard: first the keys whose buckets have refilled (they carry no
/// state), then, if every key is still draining, the one closest to refilled — the key that
/// loses least by being forgotten.
fn evict<K: Hash + Eq + Clone>(map: &mut HashMap<K, i64>, now_us: i64) {
    let before = map.len();
    map.retain(|_, tat| *tat > now_us);
    if map.len() < before {
        return;
    }
    if let Some(oldest) = map
        .iter()
        .min_by_key(|(_, tat)| **tat)
        .map(|(k, _)| k.clone())
    {
        map.remove(&oldest);
    }
}

fn ceil_seconds(us: i64) -> u64 {
    (us.max(0) as u64).div_ceil(1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i64 = 1_000_000;

    #[test]
    fn the_burst_is_allowed_at_once_and_the_next_request_is_limited() {
        let limiter = RateLimiter::new(1000);
        let limit = RateLimit {
            per_second: 10,
            burst: 5,
        };
        let t0 = 1_000 * SECOND;
        for i in 0..5 {
            let d = limiter.check(&"c", limit, t0);
            assert_eq!(
                d,
                RateDecision::Allowed {
                    remaining: 4 - i,
                    reset_seconds: 1
                },
                "request {i}"
            );
        }
        assert_eq!(
            limiter.check(&"c", limit, t0),
            RateDecision::Limited {
                retry_after_seconds: 1,
                reset_seconds: 1
            }
        );
        // Other keys have their own buckets.
        assert!(limiter.check(&"d", limit, t0).is_allowed());
    }

    #[test]
    fn service_returns_at_the_configured_rate() {
        let limiter = RateLimiter::new(1000);
        let limit = RateLimit {
            per_second: 10,
            burst: 1,
        };
        let t0 = 1_000 * SECOND;
        assert!(limiter.check(&1u8, limit, t0).is_allowed());
        assert!(!limiter.check(&1u8, limit, t0 + 50_000).is_allowed());
        assert!(limiter.check(&1u8, limit, t0 + 100_000).is_allowed());
        // Over ten seconds at 20 attempts per second, exactly the rate gets through.
        let allowed = (1..=200)
            .filter(|i| {
                limiter
                    .check(&1u8, limit, t0 + 100_000 + i * 50_000)
                    .is_allowed()
            })
            .count();
        assert_eq!(allowed, 100);
    }

    #[test]
    fn a_refused_request_takes_nothing_from_the_bucket() {
        let limiter = RateLimiter::new(1000);
        let limit = RateLimit {
            per_second: 1,
            burst: 1,
        };
        assert!(limiter.check(&0, limit, 0).is_allowed());
        for _ in 0..100 {
            assert!(!limiter.check(&0, limit, SECOND / 2).is_allowed());
        }
        assert!(limiter.check(&0, limit, SECOND).is_allowed());
    }

    #[test]
    fn memory_stays_bounded_under_many_keys() {
        let limiter = RateLimiter::new(1024);
        let limit = RateLimit {
            per_second: 1,
            burst: 1,
        };
        for key in 0..100_000u32 {
            limiter.check(&key, limit, 0);
        }
        assert!(limiter.tracked_keys() <= 1024, "{}", limiter.tracked_keys());
    }

    #[test]
    fn limits_beyond_the_clock_resolution_neither_panic_nor_validate() {
        let limiter = RateLimiter::new(1000);
        let absurd = RateLimit {
            per_second: u32::MAX,
            burst: u32::MAX,
        };
        assert!(absurd.validate().unwrap_err().contains("at most 1000000"));
        for i in 0..10 {
            assert!(limiter.check(&0, absurd, i).is_allowed());
        }
        let top = RateLimit {
            per_second: MAX_RATE,
            burst: 1,
        };
        assert!(top.validate().is_ok());
        assert!(limiter.check(&1, top, 0).is_allowed());
        assert!(!limiter.check(&1, top, 0).is_allowed());
        assert!(limiter.check(&1, top, 1).is_allowed());
    }

    #[test]
    fn zero_rates_are_refused_with_the_field_named() {
        let e = RateLimit {
            per_second: 0,
            burst: 1,
        }
        .validate()
        .unwrap_err();
        assert!(e.contains("per_second"), "{e}");
        let e = RateLimit {
            per_second: 1,
            burst: 0,
        }
        .validate()
        .unwrap_err();
        assert!(e.contains("burst"), "{e}");
    }
}
