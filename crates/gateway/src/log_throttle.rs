//! At most one log line per interval for a condition that strikes request after request
//! (the audit log behind or gone), with the count of those left out. One line per
//! request would be written exactly when the gateway has the least CPU and disk to spare
//! (30,000 lines a second at bench rates) and would bury the first line, the one an
//! operator needs. Each request's own outcome stays in its log line and its answer.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

pub(crate) struct LogThrottle {
    interval_ms: i64,
    /// When the next line may be written, in ms since the Unix epoch.
    next_ms: AtomicI64,
    /// Occurrences not logged since the last line.
    unlogged: AtomicU64,
}

impl LogThrottle {
    pub(crate) const fn new(interval_ms: i64) -> Self {
        Self {
            interval_ms,
            next_ms: AtomicI64::new(i64::MIN),
            unlogged: AtomicU64::new(0),
        }
    }

    /// One more occurrence at `now_ms`: `Some(n)` when it is to be logged, `n` being how
    /// many were not logged before it (an occurrence racing a line on another thread may
    /// be counted in that line or the next; every one is counted once); `None` when it
    /// is only counted.
    pub(crate) fn admit(&self, now_ms: i64) -> Option<u64> {
        let next = self.next_ms.load(Ordering::Relaxed);
        // A wall clock stepped back to before the last line (by more than an interval, so
        // that threads reading the clock a moment apart do not count) would otherwise
        // silence the condition for as long as the step.
        let stepped_back = now_ms < next.saturating_sub(self.interval_ms.saturating_mul(2));
        let due = (now_ms >= next || stepped_back)
            && self
                .next_ms
                .compare_exchange(
                    next,
                    now_ms.saturating_add(self.interval_ms),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok();
        if due {
            Some(self.unlogged.swap(0, Ordering::Relaxed))
        } else {
            self.unlogged.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_occurrence_is_logged_then_one_per_interval_with_the_count_left_out() {
        let throttle = LogThrottle::new(1_000);
        assert_eq!(throttle.admit(5_000), Some(0));
        assert_eq!(throttle.admit(5_000), None);
        assert_eq!(throttle.admit(5_999), None);
        assert_eq!(throttle.admit(6_000), Some(2));
        assert_eq!(throttle.admit(6_001), None);
        // A quiet spell longer than the interval: the next one is logged at once.
        assert_eq!(throttle.admit(60_000), Some(1));
        assert_eq!(throttle.admit(60_000), None);
    }

    #[test]
    fn a_clock_stepped_back_does_not_silence_the_condition() {
        let throttle = LogThrottle::new(1_000);
        assert_eq!(throttle.admit(10_000), Some(0));
        // Back within an interval: still the same second, as far as lines go.
        assert_eq!(throttle.admit(9_500), None);
        // Back by an hour: logged at once, and paced from there.
        assert_eq!(throttle.admit(10_000 - 3_600_000), Some(1));
        assert_eq!(throttle.admit(10_000 - 3_600_000 + 999), None);
        assert_eq!(throttle.admit(10_000 - 3_600_000 + 1_000), Some(1));
    }

    #[test]
    fn the_far_end_of_time_does_not_overflow() {
        let throttle = LogThrottle::new(1_000);
        assert_eq!(throttle.admit(i64::MAX - 10), Some(0));
        assert_eq!(throttle.admit(i64::MAX), Some(0));
        assert_eq!(throttle.admit(i64::MAX), Some(0));
    }

    /// Every occurrence is either logged or counted in the next line, whichever thread
    /// it comes from.
    #[test]
    fn concurrent_occurrences_are_all_accounted_for() {
        const THREADS: usize = 4;
        const EACH: i64 = 100_000;
        let throttle = std::sync::Arc::new(LogThrottle::new(1));
        let start = std::sync::Arc::new(std::sync::Barrier::new(THREADS));
        let handles: Vec<_> = (0..THREADS as i64)
            .map(|t| {
                let (throttle, start) = (throttle.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    let mut logged = 0u64;
                    let mut reported = 0u64;
                    for i in 0..EACH {
                        if let Some(n) = throttle.admit(i / 100 + t) {
                            logged += 1;
                            reported += n;
                        }
                    }
                    (logged, reported)
                })
            })
            .collect();
        let (logged, reported) = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        let pending = throttle.unlogged.load(Ordering::Relaxed);
        assert_eq!(logged + reported + pending, THREADS as u64 * EACH as u64);
        assert!(logged >= 1_000, "{logged}");
    }
}
