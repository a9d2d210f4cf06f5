//! Authentication-failure bursts per client and per source address, and credential
//! stuffing: one address failing as many different clients.

use std::collections::HashMap;

use portcullis_audit::AuditEvent;

use super::{secs, MAX_KEYS};
use crate::alert::{Evidence, Finding, Severity, Subject};
use crate::config::AuthFailureConfig;
use crate::window::{Keyed, Window};
use crate::AlertKind;

#[derive(Default)]
struct SourceState {
    failures: Window,
    /// Client id → last failure time.
    clients: HashMap<String, i64>,
}

pub(super) struct AuthFailures {
    config: AuthFailureConfig,
    per_client: Keyed<String, Window>,
    per_source: Keyed<String, SourceState>,
}

impl AuthFailures {
    pub fn new(config: AuthFailureConfig) -> Self {
        Self {
            config,
            per_client: Keyed::new(super::MAX_KEYS),
            per_source: Keyed::new(MAX_KEYS),
        }
    }

    pub fn forget(&mut self, client: Option<&str>, source: Option<&str>) {
        if let Some(c) = client {
            self.per_client.remove(&c.to_string());
        }
        if let Some(s) = source {
            self.per_source.remove(&s.to_string());
        }
    }

    pub fn observe(&mut self, e: &AuditEvent, out: &mut Vec<Finding>) {
        let span = secs(self.config.window_seconds);
        let now = e.time_ms;
        let request_id = e.request_id.as_deref();
        if let Some(source) = &e.source_ip {
            if let Some(state) = self.per_source.entry(source, |s| s.failures.is_empty()) {
                state.failures.expire(now, span);
                state.failures.push(now, request_id);
                state.clients.retain(|_, t| *t > now - span);
                if let Some(client) = &e.actor.client_id {
                    state.clients.insert(client.clone(), now);
                }
                let distinct = state.clients.len() as u64;
                let count = state.failures.count();
                let finding = if distinct >= self.config.distinct_clients_per_source {
                    Some((
                        AlertKind::CredentialStuffing,
                        Severity::Critical,
                        distinct,
                        self.config.distinct_clients_per_source,
                        format!("{source} failed to authenticate as {distinct} different clients in {}s", self.config.window_seconds),
                    ))
                } else if count >= self.config.per_source {
                    Some((
                        AlertKind::AuthFailureBurst,
                        Severity::High,
                        count,
                        self.config.per_source,
                        format!(
                            "{count} authentication failures from {source} in {}s",
                            self.config.window_seconds
                        ),
                    ))
                } else {
                    None
                };
                if let Some((kind, severity, count, threshold, summary)) = finding {
                    let mut evidence = Evidence {
                        count,
                        window_seconds: self.config.window_seconds,
                        threshold: threshold as f64,
                        sample_request_ids: state.failures.samples(),
                        ..Evidence::default()
                    };
                    evidence
                        .details
                        .insert("failures".into(), state.failures.count().into());
                    let mut clients: Vec<&String> = state.clients.keys().collect();
                    clients.sort();
                    clients.truncate(20);
                    evidence
                        .details
                        .insert("client_ids".into(), serde_json::json!(clients));
                    out.push(Finding {
                        kind,
                        severity,
                        subject: Subject::Source(source.clone()),
                        partner_id: None,
                        client_id: None,
                        source_ip: Some(source.clone()),
                        summary,
                        evidence,
                        onset_ms: state.failures.first_ms().unwrap_or(now),
                    });
                }
            }
        }
        if let Some(client) = &e.actor.client_id {
            if let Some(window) = self.per_client.entry(client, Window::is_empty) {
                window.expire(now, span);
                window.push(now, request_id);
                let count = window.count();
                if count >= self.config.per_client {
                    out.push(Finding {
                        kind: AlertKind::AuthFailureBurst,
                        severity: Severity::Medium,
                        subject: Subject::Client(client.clone()),
                        partner_id: e.actor.partner_id.clone(),
                        client_id: Some(client.clone()),
                        source_ip: e.source_ip.clone(),
                        summary: format!(
                            "{count} authentication failures for client {client} in {}s",
                            self.config.window_seconds
                        ),
                        evidence: Evidence {
                            count,
                            window_seconds: self.config.window_seconds,
                            threshold: self.config.per_client as f64,
                            sample_request_ids: window.samples(),
                            ..Evidence::default()
                        },
                        onset_ms: window.first_ms().unwrap_or(now),
                    });
                }
            }
        }
    }
}
