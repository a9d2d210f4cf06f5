//! A partner's real traffic, read back from the audit log: the one record of every
//! request, so sandbox evidence and SLA reports cannot be typed in by hand.

use std::collections::BTreeMap;

use portcullis_audit::query::{scan, Filter};
use portcullis_audit::EventKind;
use portcullis_core::Environment;
use time::Date;

use super::evidence::day_of;
use crate::error::ApiError;
use crate::routes::AdminState;

/// One operation's results.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct OperationTraffic {
    pub successes: u64,
    /// Status code → how many.
    pub errors: BTreeMap<u16, u64>,
    /// Client errors (4xx) that a later success of the same operation followed: the
    /// partner saw the error and recovered.
    pub errors_handled: u64,
    #[serde(skip)]
    unhandled_error: bool,
}

#[derive(Debug, Default)]
pub struct TrafficSummary {
    pub operations: BTreeMap<String, OperationTraffic>,
    pub requests: u64,
    /// Answers the bank failed (5xx), which count against availability.
    pub server_errors: u64,
    pub latencies_us: Vec<u64>,
    /// Requests by UTC day.
    pub per_day: BTreeMap<Date, u64>,
}

impl TrafficSummary {
    fn add(&mut self, operation: &str, status: u16, latency_us: Option<u64>, time_ms: i64) {
        self.requests += 1;
        *self
            .per_day
            .entry(day_of(time_ms.div_euclid(1000)))
            .or_default() += 1;
        if let Some(latency) = latency_us {
            self.latencies_us.push(latency);
        }
        let op = self.operations.entry(operation.to_string()).or_default();
        match status {
            200..=299 => {
                op.successes += 1;
                if std::mem::take(&mut op.unhandled_error) {
                    op.errors_handled += 1;
                }
            }
            _ => {
                *op.errors.entry(status).or_default() += 1;
                if (400..500).contains(&status) {
                    op.unhandled_error = true;
                }
                if status >= 500 {
                    self.server_errors += 1;
                }
            }
        }
    }

    /// The 95th percentile latency in milliseconds (nearest rank), if any request had one.
    pub fn latency_p95_ms(&self) -> Option<f64> {
        if self.latencies_us.is_empty() {
            return None;
        }
        let mut sorted = self.latencies_us.clone();
        sorted.sort_unstable();
        let rank = (sorted.len() as f64 * 0.95).ceil() as usize;
        Some(sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0)
    }

    pub fn errors_handled(&self) -> u64 {
        self.operations.values().map(|o| o.errors_handled).sum()
    }
}

/// The gateway requests of `partner_id` in `environment` within `[from_ms, to_ms)`.
/// Which requests a summary counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    /// Every answer, refusals included (sandbox evidence: a 403 handled is an error handled).
    Everything,
    /// What the gateway let through to the bank, plus its own failures (5xx): the service
    /// an SLA measures. A 401 or 429 the partner earned is not unavailability.
    Served,
}

pub async fn summarize(
    state: &AdminState,
    partner_id: &str,
    environment: Environment,
    (from_ms, to_ms): (Option<i64>, Option<i64>),
    counting: Counting,
) -> Result<TrafficSummary, ApiError> {
    let dir = state.audit().dir().to_path_buf();
    let filter = Filter {
        partner_id: Some(partner_id.to_string()),
        kind: Some("gateway_request".into()),
        from_ms,
        to_ms,
        // Only what is durable: a report never counts an entry a power cut could take back.
        before_index: Some(state.audit().committed_size()),
        ..Filter::default()
    };
    let summary = tokio::task::spawn_blocking(move || {
        let mut summary = TrafficSummary::default();
        scan(&dir, &filter, |entry| {
            let e = &entry.event;
            let refused =
                e.decision == portcullis_audit::Decision::Deny && e.status.is_none_or(|s| s < 500);
            let counted = counting == Counting::Everything || !refused;
            if counted && e.kind == EventKind::GatewayRequest && e.environment == Some(environment)
            {
                if let Some(status) = e.status {
                    summary.add(&e.action, status, e.latency_us, e.time_ms);
                }
            }
            true
        })
        .map(|()| summary)
    })
    .await
    .map_err(|_| ApiError::internal("the audit scan stopped"))?
    .map_err(|e| {
        tracing::error!(error = %e, "audit log unreadable for a traffic report");
        ApiError::internal("the audit log could not be read")
    })?;
    Ok(summary)
}

/// Requests and denials per partner and environment within `[from_ms, to_ms)`, in one
/// pass over the log (the compliance report covers every partner).
pub async fn usage_by_partner(
    state: &AdminState,
    from_ms: i64,
    to_ms: i64,
) -> Result<BTreeMap<(String, Environment), Usage>, ApiError> {
    let dir = state.audit().dir().to_path_buf();
    let filter = Filter {
        kind: Some("gateway_request".into()),
        from_ms: Some(from_ms),
        to_ms: Some(to_ms),
        before_index: Some(state.audit().committed_size()),
        ..Filter::default()
    };
    tokio::task::spawn_blocking(move || {
        let mut usage: BTreeMap<(String, Environment), Usage> = BTreeMap::new();
        scan(&dir, &filter, |entry| {
            let e = entry.event;
            if let (Some(partner), Some(environment)) = (e.actor.partner_id, e.environment) {
                let u = usage.entry((partner, environment)).or_default();
                u.requests += 1;
                if e.decision == portcullis_audit::Decision::Deny {
                    u.denied += 1;
                }
            }
            true
        })
        .map(|()| usage)
    })
    .await
    .map_err(|_| ApiError::internal("the audit scan stopped"))?
    .map_err(|e| {
        tracing::error!(error = %e, "audit log unreadable for a usage report");
        ApiError::internal("the audit log could not be read")
    })
}

#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Usage {
    pub requests: u64,
    pub denied: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_followed_by_a_success_counts_as_handled_once() {
        let mut s = TrafficSummary::default();
        s.add("getAccount", 404, Some(1000), 0);
        s.add("getAccount", 404, Some(1000), 1);
        s.add("getAccount", 200, Some(3000), 2);
        s.add("getAccount", 200, Some(2000), 3);
        s.add("getBalances", 500, None, 4);
        let op = &s.operations["getAccount"];
        assert_eq!((op.successes, op.errors_handled), (2, 1));
        assert_eq!(op.errors[&404], 2);
        assert_eq!((s.requests, s.server_errors), (5, 1));
        assert_eq!(s.errors_handled(), 1);
        // Four latencies: nearest-rank p95 is the largest.
        assert_eq!(s.latency_p95_ms(), Some(3.0));
    }
}
