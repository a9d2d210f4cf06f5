//! Prometheus metrics, computed from the same event stream the detectors read, so the
//! gateway's hot path pays nothing for them beyond handing the event over. Label values
//! are bounded: environments, partner ids (configured partners), operation ids from the
//! route table, status classes and reason codes; never request, account or customer ids,
//! or paths. Each family also caps its number of series.

use std::collections::BTreeMap;
use std::fmt::Write;

use portcullis_audit::{AuditEvent, Decision, EventKind};

/// Upper bounds of the latency histogram, in seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];
/// Series per family beyond which new label sets are folded into `other`.
const MAX_SERIES: usize = 5_000;

#[derive(Default)]
struct Histogram {
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub struct Metrics {
    requests: BTreeMap<[String; 4], u64>,
    latency: BTreeMap<[String; 2], Histogram>,
    tokens_issued: BTreeMap<[String; 1], u64>,
    tokens_refused: BTreeMap<[String; 2], u64>,
    denials: BTreeMap<[String; 2], u64>,
    rate_limited: BTreeMap<[String; 2], u64>,
    alerts: BTreeMap<[String; 2], u64>,
    responses: BTreeMap<[String; 2], u64>,
    keys: Keys,
}

/// Looks a series up by borrowed label values: they are copied into a reusable key, so a
/// series already seen costs no allocation (this runs for every event).
fn bump<const N: usize>(
    family: &mut BTreeMap<[String; N], u64>,
    key: &mut [String; N],
    labels: [&str; N],
) {
    fill(key, labels);
    if let Some(count) = family.get_mut(key) {
        *count += 1;
    } else if family.len() >= MAX_SERIES {
        let other = std::array::from_fn(|_| "other".to_string());
        *family.entry(other).or_default() += 1;
    } else {
        family.insert(key.clone(), 1);
    }
}

fn fill<const N: usize>(key: &mut [String; N], labels: [&str; N]) {
    for (slot, label) in key.iter_mut().zip(labels) {
        slot.clear();
        slot.push_str(label);
    }
}

/// An operation label: ids from the route table, or `no_route` for anything else (the
/// method of an unrouted request is attacker-chosen).
fn operation(e: &AuditEvent) -> &str {
    if e.action.ends_with("(no route)") {
        "no_route"
    } else {
        &e.action
    }
}

fn status_class(status: Option<u16>) -> &'static str {
    const CLASSES: [&str; 10] = [
        "0xx", "1xx", "2xx", "3xx", "4xx", "5xx", "6xx", "7xx", "8xx", "9xx",
    ];
    status.map_or("none", |s| {
        CLASSES
            .get(usize::from(s / 100))
            .copied()
            .unwrap_or("other")
    })
}

/// Reusable keys for [`bump`], one per label count.
#[derive(Default)]
struct Keys {
    one: [String; 1],
    two: [String; 2],
    four: [String; 4],
}

impl Metrics {
    pub fn record(&mut self, e: &AuditEvent) {
        let env = e.environment.map_or("none", |env| env.as_str());
        let keys = &mut self.keys;
        match e.kind {
            EventKind::GatewayRequest => {
                let partner = e.actor.partner_id.as_deref().unwrap_or("none");
                let operation = operation(e);
                bump(
                    &mut self.requests,
                    &mut keys.four,
                    [env, partner, operation, status_class(e.status)],
                );
                if let Some(us) = e.latency_us {
                    fill(&mut keys.two, [env, operation]);
                    if !self.latency.contains_key(&keys.two) && self.latency.len() < MAX_SERIES {
                        self.latency.insert(keys.two.clone(), Histogram::default());
                    }
                    if let Some(h) = self.latency.get_mut(&keys.two) {
                        let seconds = us as f64 / 1e6;
                        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
                            if seconds <= *bound {
                                h.buckets[i] += 1;
                            }
                        }
                        h.count += 1;
                        h.sum += seconds;
                    }
                }
                if e.decision == Decision::Deny {
                    bump(&mut self.denials, &mut keys.two, [env, &e.reason]);
                    if e.reason.starts_with("rate_limited") || e.reason.starts_with("quota") {
                        bump(&mut self.rate_limited, &mut keys.two, [env, partner]);
                    }
                }
            }
            EventKind::TokenIssued => bump(&mut self.tokens_issued, &mut keys.one, [env]),
            EventKind::TokenRefused => {
                bump(&mut self.tokens_refused, &mut keys.two, [env, &e.reason]);
                bump(&mut self.denials, &mut keys.two, [env, &e.reason]);
            }
            _ => {}
        }
    }

    pub fn alert_raised(&mut self, kind: &str, severity: &str) {
        bump(&mut self.alerts, &mut self.keys.two, [kind, severity]);
    }

    pub fn response(&mut self, action: &str, dry_run: bool) {
        let dry_run = if dry_run { "true" } else { "false" };
        bump(&mut self.responses, &mut self.keys.two, [action, dry_run]);
    }

    /// The Prometheus text exposition format (version 0.0.4), with `read_now` (values the
    /// caller read at this moment) after the families counted here.
    pub fn render(&self, read_now: &[ReadNow]) -> String {
        let mut out = String::with_capacity(16 * 1024);
        counter(
            &mut out,
            "portcullis_requests_total",
            "API requests answered, by environment, partner, operation and status class.",
            &["environment", "partner", "operation", "status_class"],
            &self.requests,
        );
        let _ = writeln!(
            out,
            "# HELP portcullis_request_duration_seconds Time to answer an API request.\n# TYPE portcullis_request_duration_seconds histogram"
        );
        for ([env, op], h) in &self.latency {
            let labels = format!("environment=\"{}\",operation=\"{}\"", esc(env), esc(op));
            for (bound, n) in LATENCY_BUCKETS.iter().zip(h.buckets) {
                let _ = writeln!(
                    out,
                    "portcullis_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "portcullis_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}\nportcullis_request_duration_seconds_sum{{{labels}}} {}\nportcullis_request_duration_seconds_count{{{labels}}} {}",
                h.count, h.sum, h.count
            );
        }
        counter(
            &mut out,
            "portcullis_tokens_issued_total",
            "Access tokens issued.",
            &["environment"],
            &self.tokens_issued,
        );
        counter(
            &mut out,
            "portcullis_tokens_refused_total",
            "Token requests refused, by OAuth error.",
            &["environment", "reason"],
            &self.tokens_refused,
        );
        counter(
            &mut out,
            "portcullis_denials_total",
            "Requests denied, by reason.",
            &["environment", "reason"],
            &self.denials,
        );
        counter(
            &mut out,
            "portcullis_rate_limited_total",
            "Requests refused by a rate limit or quota.",
            &["environment", "partner"],
            &self.rate_limited,
        );
        counter(
            &mut out,
            "portcullis_alerts_total",
            "Alerts raised by the detectors.",
            &["kind", "severity"],
            &self.alerts,
        );
        counter(
            &mut out,
            "portcullis_responses_total",
            "Playbook actions taken (dry_run=true: only recorded).",
            &["action", "dry_run"],
            &self.responses,
        );
        for series in read_now {
            let _ = match *series {
                ReadNow::Gauge(name, help, value) => writeln!(
                    out,
                    "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
                ),
                ReadNow::Total(name, help, value) => writeln!(
                    out,
                    "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
                ),
            };
        }
        out
    }
}

/// An unlabelled series whose value is read when the metrics are rendered.
#[derive(Debug, Clone, Copy)]
pub enum ReadNow<'a> {
    /// Name, help, value: a level that rises and falls.
    Gauge(&'a str, &'a str, f64),
    /// Name (ending in `_total`), help, value: a count that only rises while the process
    /// lives, exposed as a counter so `rate()` and `increase()` read it right.
    Total(&'a str, &'a str, u64),
}

fn counter<const N: usize>(
    out: &mut String,
    name: &str,
    help: &str,
    label_names: &[&str; N],
    family: &BTreeMap<[String; N], u64>,
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    for (labels, value) in family {
        let pairs: Vec<String> = label_names
            .iter()
            .zip(labels)
            .map(|(n, v)| format!("{n}=\"{}\"", esc(v)))
            .collect();
        let _ = writeln!(out, "{name}{{{}}} {value}", pairs.join(","));
    }
}

/// Escapes a label value (backslash, quote, newline).
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_audit::Actor;

    fn request(action: &str, status: u16, reason: &str) -> AuditEvent {
        AuditEvent {
            time_ms: 0,
            kind: EventKind::GatewayRequest,
            environment: Some(portcullis_core::Environment::Production),
            actor: Actor {
                partner_id: Some("acme".into()),
                client_id: Some("c1".into()),
                admin: None,
            },
            action: action.into(),
            target: [("account_id".to_string(), "acc-123".to_string())].into(),
            decision: if status < 400 {
                Decision::Allow
            } else {
                Decision::Deny
            },
            reason: reason.into(),
            status: Some(status),
            latency_us: Some(3_000),
            source_ip: Some("192.0.2.1".into()),
            request_id: Some("req-1".into()),
            fields_removed: Default::default(),
            trace: None,
        }
    }

    #[test]
    fn counts_by_bounded_labels_and_never_ids() {
        let mut m = Metrics::default();
        m.record(&request("getAccount", 200, "allowed"));
        m.record(&request("getAccount", 200, "allowed"));
        m.record(&request("getAccount", 429, "rate_limited_partner"));
        m.record(&request("BREW\"\n (no route)", 404, "no_route"));
        let text = m.render(&[
            ReadNow::Gauge("portcullis_audit_queue_depth", "Entries waiting.", 3.0),
            ReadNow::Total("portcullis_audit_shed_total", "Shed.", 7),
        ]);
        assert!(text.contains("portcullis_requests_total{environment=\"production\",partner=\"acme\",operation=\"getAccount\",status_class=\"2xx\"} 2"), "{text}");
        assert!(text.contains(
            "portcullis_rate_limited_total{environment=\"production\",partner=\"acme\"} 1"
        ));
        assert!(text.contains("operation=\"no_route\""));
        assert!(text.contains("portcullis_request_duration_seconds_bucket{environment=\"production\",operation=\"getAccount\",le=\"0.005\"} 3"));
        assert!(text.contains(
            "# TYPE portcullis_audit_queue_depth gauge\nportcullis_audit_queue_depth 3\n"
        ));
        assert!(text.contains(
            "# TYPE portcullis_audit_shed_total counter\nportcullis_audit_shed_total 7\n"
        ));
        assert!(!text.contains("acc-123") && !text.contains("req-1") && !text.contains("BREW"));
    }

    #[test]
    fn series_are_capped() {
        let mut m = Metrics::default();
        for i in 0..(MAX_SERIES + 10) {
            m.record(&AuditEvent {
                environment: None,
                ..request(&format!("op{i}"), 200, "allowed")
            });
        }
        assert_eq!(m.requests.len(), MAX_SERIES + 1);
    }
}
