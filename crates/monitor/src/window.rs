//! Sliding windows of events, per key, with the last few request ids as samples.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

const SAMPLES: usize = 10;

/// Event times within the last `span_ms`, and the most recent request ids.
#[derive(Debug, Default)]
pub(crate) struct Window {
    times: VecDeque<i64>,
    samples: VecDeque<String>,
}

impl Window {
    pub fn push(&mut self, time_ms: i64, request_id: Option<&str>) {
        self.times.push_back(time_ms);
        if let Some(id) = request_id {
            if self.samples.len() == SAMPLES {
                self.samples.pop_front();
            }
            self.samples.push_back(id.to_string());
        }
    }

    /// Forgets events older than `span_ms` before `now_ms`.
    pub fn expire(&mut self, now_ms: i64, span_ms: i64) {
        while self.times.front().is_some_and(|&t| t <= now_ms - span_ms) {
            self.times.pop_front();
        }
    }

    pub fn count(&self) -> u64 {
        self.times.len() as u64
    }

    pub fn first_ms(&self) -> Option<i64> {
        self.times.front().copied()
    }

    pub fn samples(&self) -> Vec<String> {
        self.samples.iter().cloned().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }
}

/// Per-key state with a bound on the number of keys: an attacker rotating source
/// addresses or client ids cannot grow it without limit. When full, keys whose state is
/// idle are dropped first; if none is, the new key is not tracked.
#[derive(Debug)]
pub(crate) struct Keyed<K, V> {
    map: HashMap<K, V>,
    max_keys: usize,
}

impl<K: Hash + Eq + Clone, V: Default> Keyed<K, V> {
    pub fn new(max_keys: usize) -> Self {
        Self {
            map: HashMap::new(),
            max_keys,
        }
    }

    /// The state for `key`, created if there is room after dropping idle keys.
    pub fn entry(&mut self, key: &K, idle: impl Fn(&V) -> bool) -> Option<&mut V> {
        if !self.map.contains_key(key) {
            if self.map.len() >= self.max_keys {
                self.map.retain(|_, v| !idle(v));
                if self.map.len() >= self.max_keys {
                    return None;
                }
            }
            self.map.insert(key.clone(), V::default());
        }
        self.map.get_mut(key)
    }

    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.map.get_mut(key)
    }

    pub fn remove(&mut self, key: &K) {
        self.map.remove(key);
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_forget_old_events_and_keep_recent_samples() {
        let mut w = Window::default();
        for i in 0..15 {
            w.push(i * 1000, Some(&format!("r{i}")));
        }
        w.expire(14_000, 5_000);
        assert_eq!(w.count(), 5);
        assert_eq!(w.first_ms(), Some(10_000));
        assert_eq!(w.samples().len(), 10);
        assert_eq!(w.samples().last().map(String::as_str), Some("r14"));
    }

    #[test]
    fn keyed_state_is_bounded_and_drops_idle_keys_first() {
        let mut k: Keyed<u32, Window> = Keyed::new(2);
        k.entry(&1, Window::is_empty).unwrap().push(1, None);
        k.entry(&2, Window::is_empty).unwrap();
        // Key 2 is idle: it makes room for 3.
        assert!(k.entry(&3, Window::is_empty).is_some());
        k.entry(&3, Window::is_empty).unwrap().push(1, None);
        assert_eq!(k.len(), 2);
        // Both are busy now: a fourth key is not tracked.
        assert!(k.entry(&4, Window::is_empty).is_none());
    }
}
