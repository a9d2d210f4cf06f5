//! Sliding windows of events, per key, with the last few request ids as samples.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

const SAMPLES: usize = 10;

/// Events closer together than this share one entry, so a window's memory follows its
/// length rather than the request rate. An entry leaves the window with its newest event:
/// a count may include events up to this much older than the window.
pub(crate) const RUN_MS: i64 = 100;

/// Events within `RUN_MS` of the first of them.
#[derive(Debug, Clone, Copy)]
struct Run {
    first_ms: i64,
    last_ms: i64,
    count: u64,
}

/// Event times within the last `span_ms`, and the most recent request ids.
#[derive(Debug, Default)]
pub(crate) struct Window {
    runs: VecDeque<Run>,
    count: u64,
    samples: VecDeque<String>,
}

impl Window {
    pub fn push(&mut self, time_ms: i64, request_id: Option<&str>) {
        match self.runs.back_mut() {
            Some(run) if time_ms - run.first_ms < RUN_MS => {
                run.count += 1;
                run.last_ms = run.last_ms.max(time_ms);
            }
            _ => self.runs.push_back(Run {
                first_ms: time_ms,
                last_ms: time_ms,
                count: 1,
            }),
        }
        self.count += 1;
        if let Some(id) = request_id {
            // The oldest sample's buffer takes the new id: no allocation per event once
            // the samples are full.
            let mut sample = if self.samples.len() == SAMPLES {
                self.samples.pop_front().unwrap_or_default()
            } else {
                String::new()
            };
            sample.clear();
            sample.push_str(id);
            self.samples.push_back(sample);
        }
    }

    /// Forgets events older than `span_ms` before `now_ms`.
    pub fn expire(&mut self, now_ms: i64, span_ms: i64) {
        while let Some(run) = self.runs.front().filter(|r| r.last_ms <= now_ms - span_ms) {
            self.count -= run.count;
            self.runs.pop_front();
        }
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn first_ms(&self) -> Option<i64> {
        self.runs.front().map(|r| r.first_ms)
    }

    /// Whether nothing in the window is newer than `span_ms` before `now_ms` (an expired
    /// window is only emptied when its key is seen again).
    pub fn idle(&self, now_ms: i64, span_ms: i64) -> bool {
        self.runs
            .back()
            .is_none_or(|r| r.last_ms <= now_ms - span_ms)
    }

    pub fn samples(&self) -> Vec<String> {
        self.samples.iter().cloned().collect()
    }
}

/// Per-key state with a bound on the number of keys: an attacker rotating source
/// addresses or client ids cannot grow it without limit. When full, keys whose state is
/// idle (nothing within its window) are dropped, at most once a second; if none is, the
/// new key is not tracked until one goes idle.
#[derive(Debug)]
pub(crate) struct Keyed<K, V> {
    map: HashMap<K, V>,
    max_keys: usize,
    last_sweep_ms: i64,
}

impl<K: Hash + Eq + Clone, V: Default> Keyed<K, V> {
    pub fn new(max_keys: usize) -> Self {
        Self {
            map: HashMap::new(),
            max_keys,
            last_sweep_ms: i64::MIN,
        }
    }

    /// The state for `key`, created if there is room after dropping idle keys.
    /// The state of `key`, created if there is room; the key is copied only then.
    pub fn entry<Q>(&mut self, key: &Q, now_ms: i64, idle: impl Fn(&V) -> bool) -> Option<&mut V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if !self.map.contains_key(key) {
            if self.map.len() >= self.max_keys {
                if now_ms.saturating_sub(self.last_sweep_ms) < 1000 {
                    return None;
                }
                self.last_sweep_ms = now_ms;
                self.map.retain(|_, v| !idle(v));
                if self.map.len() >= self.max_keys {
                    return None;
                }
            }
            self.map.insert(key.to_owned(), V::default());
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

    /// 100,000 events a second for 10 s through a 5 s window: the count is the window's
    /// (give or take one run at its edge) and the memory is one entry per RUN_MS.
    #[test]
    fn a_window_holds_runs_not_events() {
        let mut w = Window::default();
        for i in 0..1_000_000i64 {
            let t = i / 100; // 100 events per millisecond
            w.expire(t, 5_000);
            w.push(t, None);
        }
        let (now, span) = (9_999, 5_000);
        w.expire(now, span);
        let exact = 5_000 * 100;
        assert!(
            (exact..=exact + (RUN_MS as u64) * 100).contains(&w.count()),
            "{}",
            w.count()
        );
        assert!(w.runs.len() as i64 <= span / RUN_MS + 1, "{}", w.runs.len());
        assert!(!w.idle(now, span));
        assert!(w.idle(now + span, span));
    }

    #[test]
    fn keyed_state_is_bounded_and_drops_keys_idle_for_their_window() {
        let idle = |now: i64| move |w: &Window| w.idle(now, 1000);
        let mut k: Keyed<u32, Window> = Keyed::new(2);
        k.entry(&1, 0, idle(0)).unwrap().push(0, None);
        k.entry(&2, 0, idle(0)).unwrap().push(900, None);
        // Both are busy: a third key is not tracked.
        assert!(k.entry(&3, 600, idle(600)).is_none());
        // Key 1's last event is older than its window now, though its window was never
        // emptied: it makes room (after the once-a-second sweep allows).
        assert!(
            k.entry(&3, 1200, idle(1200)).is_none(),
            "swept less than a second ago"
        );
        assert!(k.entry(&3, 1700, idle(1700)).is_some());
        assert_eq!(k.len(), 2);
        assert!(k.map.contains_key(&2) && k.map.contains_key(&3));
    }

    #[test]
    fn an_address_spray_does_not_switch_tracking_off_for_good() {
        let span = 30_000;
        let mut k: Keyed<u32, Window> = Keyed::new(1000);
        for i in 0..5000u32 {
            let now = i64::from(i) * 10;
            if let Some(w) = k.entry(&i, now, |w: &Window| w.idle(now, span)) {
                w.push(now, None);
            }
        }
        // Long after the spray, a new address is tracked again.
        let later = 5000 * 10 + span + 1;
        assert!(k
            .entry(&99_999, later, |w: &Window| w.idle(later, span))
            .is_some());
    }
}
