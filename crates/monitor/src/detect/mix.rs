//! An unusual mix of operations: the share of each operation in a partner's recent requests,
//! compared with its learned mix by total variation distance (half the sum of the share
//! differences: 0 for the same mix, 1 for operations never used before). Scraping shows up
//! here: a partner that lists accounts now and then suddenly fetching transactions in bulk.

use std::collections::{HashMap, VecDeque};

use portcullis_audit::AuditEvent;

use super::{secs, MAX_KEYS};
use crate::alert::{Evidence, Finding, Severity, Subject};
use crate::config::OperationMixConfig;
use crate::window::{Keyed, Window, RUN_MS};
use crate::AlertKind;

/// Baseline counts are halved when their total reaches this, so old habits fade.
const DECAY_AT: f64 = 100_000.0;

/// The operations of the requests within `RUN_MS` of the first of them.
struct Slot {
    first_ms: i64,
    last_ms: i64,
    ops: Vec<(String, u64)>,
}

#[derive(Default)]
struct PartnerState {
    window: Window,
    /// Recent requests by operation, a slot per `RUN_MS` (memory follows the window's
    /// length, not the request rate); a slot leaves with its newest request.
    recent: VecDeque<Slot>,
    recent_total: u64,
    recent_counts: HashMap<String, u64>,
    baseline: HashMap<String, f64>,
    baseline_total: f64,
    learned_requests: u64,
    /// Until then, requests leaving the window are not learned.
    anomalous_until_ms: i64,
    client_id: Option<String>,
}

pub(super) struct OperationMix {
    config: OperationMixConfig,
    partners: Keyed<String, PartnerState>,
}

impl OperationMix {
    pub fn new(config: OperationMixConfig) -> Self {
        Self {
            config,
            partners: Keyed::new(MAX_KEYS),
        }
    }

    /// Clears the current window, unlearned; the baseline stays.
    pub fn forget(&mut self, partner: &str) {
        if let Some(s) = self.partners.get_mut(&partner.to_string()) {
            s.window = Window::default();
            s.recent.clear();
            s.recent_total = 0;
            s.recent_counts.clear();
        }
    }

    pub fn observe(&mut self, partner: &str, e: &AuditEvent, out: &mut Vec<Finding>) {
        let now = e.time_ms;
        let span = secs(self.config.window_seconds);
        let Some(s) = self.partners.entry(partner, now, |s| {
            s.window.idle(now, span) && s.learned_requests == 0
        }) else {
            return;
        };
        s.client_id.clone_from(&e.actor.client_id);
        s.window.expire(now, span);
        s.window.push(now, e.request_id.as_deref());
        // Requests join the baseline as they leave the window, and only when the mix was
        // not off meanwhile: what is being compared is never part of what it is compared
        // with, and an attack that ramps up cannot teach itself as normal.
        let learn = now >= s.anomalous_until_ms;
        while s
            .recent
            .front()
            .is_some_and(|slot| slot.last_ms <= now - span)
        {
            let Some(slot) = s.recent.pop_front() else {
                break;
            };
            for (op, n) in slot.ops {
                s.recent_total -= n;
                if let Some(c) = s.recent_counts.get_mut(&op) {
                    *c = c.saturating_sub(n);
                    if *c == 0 {
                        s.recent_counts.remove(&op);
                    }
                }
                if learn {
                    s.learn(op, n);
                }
            }
        }
        s.add_recent(now, &e.action);

        let learned = s.learned_requests >= self.config.learning_requests;
        let in_window = s.recent_total;
        let mut finding = None;
        if learned && in_window >= self.config.min_requests {
            let distance = distance(&s.recent_counts, in_window, &s.baseline, s.baseline_total);
            if distance >= self.config.distance {
                finding = Some(distance);
            }
        }
        if let Some(distance) = finding {
            s.anomalous_until_ms = now + span;
            {
                let mut evidence = Evidence {
                    count: in_window,
                    window_seconds: self.config.window_seconds,
                    threshold: self.config.distance,
                    baseline: Some(s.baseline_total),
                    sample_request_ids: s.window.samples(),
                    ..Evidence::default()
                };
                evidence.details.insert("distance".into(), distance.into());
                evidence.details.insert(
                    "window_shares".into(),
                    shares(
                        s.recent_counts.iter().map(|(k, v)| (k, *v as f64)),
                        in_window as f64,
                    ),
                );
                evidence.details.insert(
                    "baseline_shares".into(),
                    shares(s.baseline.iter().map(|(k, v)| (k, *v)), s.baseline_total),
                );
                out.push(Finding {
                    kind: AlertKind::OperationMix,
                    severity: Severity::Medium,
                    subject: Subject::Partner(partner.to_string()),
                    partner_id: Some(partner.to_string()),
                    client_id: s.client_id.clone(),
                    source_ip: e.source_ip.clone(),
                    summary: format!(
                        "partner {partner}'s mix of operations moved {:.0}% from its usual mix",
                        distance * 100.0
                    ),
                    evidence,
                    onset_ms: s.window.first_ms().unwrap_or(now),
                });
            }
        }
    }
}

impl PartnerState {
    fn add_recent(&mut self, now: i64, op: &str) {
        let slot = match self.recent.back_mut() {
            Some(slot) if now - slot.first_ms < RUN_MS => slot,
            _ => {
                self.recent.push_back(Slot {
                    first_ms: now,
                    last_ms: now,
                    ops: Vec::new(),
                });
                let Some(slot) = self.recent.back_mut() else {
                    return;
                };
                slot
            }
        };
        slot.last_ms = slot.last_ms.max(now);
        match slot.ops.iter_mut().find(|(o, _)| o == op) {
            Some((_, n)) => *n += 1,
            None => slot.ops.push((op.to_string(), 1)),
        }
        self.recent_total += 1;
        match self.recent_counts.get_mut(op) {
            Some(c) => *c += 1,
            None => {
                self.recent_counts.insert(op.to_string(), 1);
            }
        }
    }

    fn learn(&mut self, op: String, requests: u64) {
        *self.baseline.entry(op).or_default() += requests as f64;
        self.baseline_total += requests as f64;
        self.learned_requests += requests;
        if self.baseline_total >= DECAY_AT {
            self.baseline.values_mut().for_each(|v| *v /= 2.0);
            self.baseline.retain(|_, v| *v >= 0.5);
            self.baseline_total = self.baseline.values().sum();
        }
    }
}

fn distance(
    recent: &HashMap<String, u64>,
    recent_total: u64,
    baseline: &HashMap<String, f64>,
    baseline_total: f64,
) -> f64 {
    let mut sum = 0.0;
    for (op, count) in recent {
        let p = *count as f64 / recent_total as f64;
        let q = baseline.get(op).copied().unwrap_or(0.0) / baseline_total;
        sum += (p - q).abs();
    }
    for (op, count) in baseline {
        if !recent.contains_key(op) {
            sum += count / baseline_total;
        }
    }
    sum / 2.0
}

fn shares<'a>(counts: impl Iterator<Item = (&'a String, f64)>, total: f64) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for (op, count) in counts {
        let share = (count / total.max(1.0) * 1000.0).round() / 1000.0;
        map.insert(op.clone(), share.into());
    }
    serde_json::Value::Object(map)
}
