//! Single use of client-assertion `jti` values within their lifetime (RFC 7523 §3).

use std::collections::HashMap;
use std::sync::Mutex;

use portcullis_core::clock::UnixSeconds;

/// Remembers each (client, jti) until the assertion expires. Bounded: when full, expired
/// entries are dropped first; if still full, new assertions are refused rather than
/// forgetting live ones, which would reopen replay.
pub struct ReplayCache {
    seen: Mutex<HashMap<(String, String), UnixSeconds>>,
    capacity: usize,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ReplayVerdict {
    Fresh,
    Replayed,
    Full,
}

impl ReplayCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            seen: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    pub fn check_and_record(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: UnixSeconds,
        now: UnixSeconds,
    ) -> ReplayVerdict {
        let mut seen = match self.seen.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let key = (client_id.to_string(), jti.to_string());
        if let Some(&exp) = seen.get(&key) {
            if exp >= now {
                return ReplayVerdict::Replayed;
            }
        }
        if seen.len() >= self.capacity {
            seen.retain(|_, exp| *exp >= now);
            if seen.len() >= self.capacity {
                return ReplayVerdict::Full;
            }
        }
        seen.insert(key, expires_at);
        ReplayVerdict::Fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_reuse_until_expiry_and_stays_bounded() {
        let cache = ReplayCache::new(2);
        assert_eq!(
            cache.check_and_record("c", "j1", 100, 50),
            ReplayVerdict::Fresh
        );
        assert_eq!(
            cache.check_and_record("c", "j1", 100, 60),
            ReplayVerdict::Replayed
        );
        assert_eq!(
            cache.check_and_record("other", "j1", 100, 60),
            ReplayVerdict::Fresh
        );
        assert_eq!(
            cache.check_and_record("c", "j2", 100, 60),
            ReplayVerdict::Full
        );
        // Once the first two expire there is room again.
        assert_eq!(
            cache.check_and_record("c", "j2", 300, 150),
            ReplayVerdict::Fresh
        );
    }
}
