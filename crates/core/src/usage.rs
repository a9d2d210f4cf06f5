//! When each credential was last used, gathered in memory on the token path and written to
//! the store in batches: a database write per token would put the store on the hot path,
//! and dormancy is judged in days, so a delay of one sweep interval changes nothing.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::clock::UnixSeconds;

#[derive(Debug, Default)]
pub struct ClientUsage {
    last_used: Mutex<HashMap<String, UnixSeconds>>,
}

impl ClientUsage {
    /// Notes that `client_id` obtained a token at `now`.
    pub fn touch(&self, client_id: &str, now: UnixSeconds) {
        let mut map = self.last_used.lock().unwrap_or_else(|p| p.into_inner());
        match map.get_mut(client_id) {
            Some(at) => *at = (*at).max(now),
            None => {
                map.insert(client_id.to_string(), now);
            }
        }
    }

    /// Everything noted since the last drain, for writing to the store.
    pub fn drain(&self) -> Vec<(String, UnixSeconds)> {
        let mut map = self.last_used.lock().unwrap_or_else(|p| p.into_inner());
        map.drain().collect()
    }

    /// Puts back what could not be written, keeping the later of two times.
    pub fn restore(&self, entries: Vec<(String, UnixSeconds)>) {
        for (client_id, at) in entries {
            self.touch(&client_id, at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_latest_use_per_client_until_drained() {
        let usage = ClientUsage::default();
        usage.touch("a", 10);
        usage.touch("a", 5);
        usage.touch("b", 7);
        let mut drained = usage.drain();
        drained.sort();
        assert_eq!(drained, vec![("a".into(), 10), ("b".into(), 7)]);
        assert!(usage.drain().is_empty());
        usage.restore(drained);
        usage.touch("a", 12);
        let mut again = usage.drain();
        again.sort();
        assert_eq!(again, vec![("a".into(), 12), ("b".into(), 7)]);
    }
}
