//! Traffic spikes against each partner's learned baseline. The baseline is an exponentially
//! weighted average of requests per second, kept per hour of the day (UTC) so a partner's
//! busy morning is not compared with its quiet night; an hour not yet learned falls back to
//! the partner's all-day average.

use portcullis_audit::AuditEvent;

use super::{secs, MAX_KEYS};
use crate::alert::{Evidence, Finding, Severity, Subject};
use crate::config::SpikeConfig;
use crate::window::{Keyed, Window};
use crate::AlertKind;

#[derive(Debug, Clone, Copy, Default)]
struct Average {
    mean: f64,
    /// Seconds fed.
    seconds: u64,
}

impl Average {
    /// Feeds `n` seconds of `rate` requests per second. Until it has seen `1 / alpha`
    /// seconds it keeps the plain mean (a moving average started from its first second
    /// would remember that one second for hours); then it moves exponentially.
    fn feed(&mut self, rate: f64, n: u64, alpha: f64) {
        let mut n = n;
        let warm = (1.0 / alpha) as u64;
        if self.seconds < warm {
            let k = n.min(warm - self.seconds);
            self.mean =
                (self.mean * self.seconds as f64 + rate * k as f64) / (self.seconds + k) as f64;
            self.seconds += k;
            n -= k;
        }
        if n > 0 {
            // n steps of mean += alpha * (rate - mean), in closed form.
            let keep = (1.0 - alpha).powf(n as f64);
            self.mean = rate + (self.mean - rate) * keep;
            self.seconds += n;
        }
    }
}

#[derive(Default)]
struct PartnerState {
    window: Window,
    /// The second being counted and its count so far.
    second: i64,
    in_second: u64,
    all_day: Average,
    by_hour: [Average; 24],
    /// The current spike: since when, and until when it counts as going on.
    spike_started_ms: i64,
    spiking_until_ms: i64,
    client_id: Option<String>,
}

pub(super) struct Spike {
    config: SpikeConfig,
    alpha: f64,
    partners: Keyed<String, PartnerState>,
}

/// Seconds in an hour: quiet spells are fed to the baseline an hour of the day at a time.
const HOUR: i64 = 3600;
/// How long a spike's seconds are kept out of the baseline. Past this, the partner's
/// new level is learned as normal (its operators have had the alert).
const SPIKE_UNLEARNED_MS: i64 = 300_000;

impl Spike {
    pub fn new(config: SpikeConfig) -> Self {
        let alpha = 1.0 - 0.5f64.powf(1.0 / config.half_life_seconds.max(1) as f64);
        Self {
            config,
            alpha,
            partners: Keyed::new(MAX_KEYS),
        }
    }

    /// Clears the current window; the baseline stays.
    pub fn forget(&mut self, partner: &str) {
        if let Some(s) = self.partners.get_mut(&partner.to_string()) {
            s.window = Window::default();
        }
    }

    pub fn observe(&mut self, partner: &str, e: &AuditEvent, out: &mut Vec<Finding>) {
        let now = e.time_ms;
        let second = now.div_euclid(1000);
        let alpha = self.alpha;
        let window_ms = secs(self.config.window_seconds);
        let Some(s) = self.partners.entry(partner, now, |s| {
            s.window.idle(now, window_ms) && s.all_day.seconds == 0
        }) else {
            return;
        };
        s.client_id.clone_from(&e.actor.client_id);
        if s.all_day.seconds == 0 && s.in_second == 0 {
            s.second = second;
        }
        if second > s.second {
            // Close the counted second (unless it was part of a young spike: a spike is
            // not learned as normal, but a level that lasts becomes the new normal),
            // then the quiet seconds up to this one.
            let at_ms = s.second * 1000;
            let in_young_spike =
                at_ms < s.spiking_until_ms && at_ms - s.spike_started_ms < SPIKE_UNLEARNED_MS;
            if !in_young_spike {
                let hour = hour_of(s.second);
                let rate = s.in_second as f64;
                s.all_day.feed(rate, 1, alpha);
                s.by_hour[hour].feed(rate, 1, alpha);
            }
            let mut quiet = second - s.second - 1;
            let mut at = s.second + 1;
            while quiet > 0 {
                // Quiet seconds within one hour of the day at a time.
                let in_this_hour = (HOUR - at.rem_euclid(HOUR)).min(quiet);
                s.all_day.feed(0.0, in_this_hour as u64, alpha);
                s.by_hour[hour_of(at)].feed(0.0, in_this_hour as u64, alpha);
                at += in_this_hour;
                quiet -= in_this_hour;
                if quiet > 24 * HOUR {
                    // A day or more of quiet: every hour saw only zeros.
                    let days = quiet / (24 * HOUR);
                    for avg in s.by_hour.iter_mut() {
                        avg.feed(0.0, (days * HOUR) as u64, alpha);
                    }
                    s.all_day.feed(0.0, (days * 24 * HOUR) as u64, alpha);
                    at += days * 24 * HOUR;
                    quiet -= days * 24 * HOUR;
                }
            }
            s.second = second;
            s.in_second = 0;
        }
        s.in_second += 1;
        let span = secs(self.config.window_seconds);
        s.window.expire(now, span);
        s.window.push(now, e.request_id.as_deref());

        let learned = |a: &Average| a.seconds >= self.config.learning_seconds;
        let hour = &s.by_hour[hour_of(second)];
        let baseline = if learned(hour) {
            hour.mean
        } else if learned(&s.all_day) {
            s.all_day.mean
        } else {
            return;
        };
        let rate = s.window.count() as f64 / self.config.window_seconds as f64;
        let threshold = (baseline * self.config.factor).max(self.config.min_rate_per_second);
        if rate < threshold {
            return;
        }
        if now >= s.spiking_until_ms {
            s.spike_started_ms = now;
        }
        s.spiking_until_ms = now + span;
        let mut evidence = Evidence {
            count: s.window.count(),
            window_seconds: self.config.window_seconds,
            threshold,
            baseline: Some(baseline),
            sample_request_ids: s.window.samples(),
            ..Evidence::default()
        };
        evidence
            .details
            .insert("rate_per_second".into(), rate.into());
        evidence
            .details
            .insert("hour_of_day_utc".into(), (hour_of(second) as u64).into());
        out.push(Finding {
            kind: AlertKind::TrafficSpike,
            severity: if rate >= threshold * 2.0 {
                Severity::High
            } else {
                Severity::Medium
            },
            subject: Subject::Partner(partner.to_string()),
            partner_id: Some(partner.to_string()),
            client_id: s.client_id.clone(),
            source_ip: e.source_ip.clone(),
            summary: format!(
                "partner {partner} at {rate:.1} requests/s against a baseline of {baseline:.1}/s"
            ),
            evidence,
            onset_ms: s.window.first_ms().unwrap_or(now),
        });
    }
}

fn hour_of(second: i64) -> usize {
    (second.div_euclid(HOUR).rem_euclid(24)) as usize
}
