//! Single use of client-assertion `jti` values within their lifetime (RFC 7523 §3).

use std::collections::HashMap;
use std::sync::Mutex;

use portcullis_core::clock::UnixSeconds;

/// Remembers each client's assertion ids until they expire. Bounded per client: when a
/// client's share is full of live ids, that client's new assertions are refused rather
/// than live ids forgotten (which would reopen replay), and no other client is affected.
/// Only authenticated clients in good standing reach the cache, so the number of clients
/// is bounded by the registrations.
pub struct ReplayCache {
    seen: Mutex<HashMap<String, HashMap<String, UnixSeconds>>>,
    per_client: usize,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ReplayVerdict {
    Fresh,
    Replayed,
    /// This client has too many live assertions.
    Full,
}

impl ReplayCache {
    pub fn new(per_client: usize) -> Self {
        Self {
            seen: Mutex::new(HashMap::new()),
            per_client,
        }
    }

    pub fn check_and_record(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: UnixSeconds,
        now: UnixSeconds,
    ) -> ReplayVerdict {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let ids = seen.entry(client_id.to_string()).or_default();
        if ids.get(jti).is_some_and(|&exp| exp >= now) {
            return ReplayVerdict::Replayed;
        }
        if ids.len() >= self.per_client {
            ids.retain(|_, exp| *exp >= now);
            if ids.len() >= self.per_client {
                return ReplayVerdict::Full;
            }
        }
        ids.insert(jti.to_string(), expires_at);
        ReplayVerdict::Fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_reuse_until_expiry_and_bounds_each_client_alone() {
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
            cache.check_and_record("c", "j2", 100, 60),
            ReplayVerdict::Fresh
        );
        assert_eq!(
            cache.check_and_record("c", "j3", 100, 60),
            ReplayVerdict::Full
        );
        // A flooding client does not lock out another.
        assert_eq!(
            cache.check_and_record("other", "j1", 100, 60),
            ReplayVerdict::Fresh
        );
        // Once its ids expire there is room again, and expired ids may not be replayed
        // anyway because the assertion itself has expired by then.
        assert_eq!(
            cache.check_and_record("c", "j3", 300, 150),
            ReplayVerdict::Fresh
        );
    }
}
