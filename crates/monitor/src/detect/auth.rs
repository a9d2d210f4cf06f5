//! Authentication-failure bursts per client and per source address, and credential
//! stuffing: one address failing as many different clients.
//!
//! What counts: a token request whose client authentication failed, and an API request
//! answered 401. Refusals of a credential the system knows but holds back (suspended,
//! revoked, expired, its partner inactive) count against that client only, never against
//! the address: a partner retrying with its suspended credential is not guessing, and its
//! egress address may carry its other clients. IPv6 addresses are counted per /64, the
//! block one host usually controls.

use std::collections::HashMap;
use std::net::IpAddr;

use portcullis_audit::{AuditEvent, EventKind};

use super::{secs, MAX_KEYS};
use crate::alert::{Evidence, Finding, Severity, Subject};
use crate::config::AuthFailureConfig;
use crate::window::{Keyed, Window};
use crate::AlertKind;

/// Refusals of a known credential for its state, not for failed authentication.
const CREDENTIAL_STATE: [&str; 5] = [
    "credential_suspended",
    "credential_revoked",
    "credential_expired",
    "partner_inactive",
    "token_revoked",
];

/// How an event counts, if at all.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Failure {
    /// Nobody was authenticated: guessing, a forged token, an unknown client.
    Anonymous,
    /// A known credential was refused for its state, or its token for its scope of use.
    KnownCredential,
}

pub(super) fn classify(e: &AuditEvent) -> Option<Failure> {
    let known = e.actor.partner_id.is_some() || CREDENTIAL_STATE.contains(&e.reason.as_str());
    let failed = match e.kind {
        EventKind::TokenRefused => {
            known || matches!(e.reason.as_str(), "invalid_client" | "unauthorized_client")
        }
        EventKind::GatewayRequest => e.status == Some(401),
        _ => false,
    };
    failed.then_some(if known {
        Failure::KnownCredential
    } else {
        Failure::Anonymous
    })
}

/// The key an address is counted under, as [`crate::guard::block_key`] blocks it: itself,
/// or its /64 for IPv6.
pub fn source_key(source: &str) -> String {
    match source.parse::<IpAddr>() {
        Ok(addr @ IpAddr::V6(_)) => format!("{}/64", crate::guard::block_key(addr)),
        _ => source.to_string(),
    }
}

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
            per_client: Keyed::new(MAX_KEYS),
            per_source: Keyed::new(MAX_KEYS),
        }
    }

    /// Forgets the window behind an alert's subject.
    pub fn forget(&mut self, subject: &Subject) {
        match subject {
            Subject::Client(c) => self.per_client.remove(c),
            Subject::Source(s) => self.per_source.remove(&source_key(s)),
            Subject::Partner(_) => {}
        }
    }

    pub fn observe(&mut self, e: &AuditEvent, failure: Failure, out: &mut Vec<Finding>) {
        let span = secs(self.config.window_seconds);
        let now = e.time_ms;
        let request_id = e.request_id.as_deref();
        if let (Failure::Anonymous, Some(source)) = (&failure, &e.source_ip) {
            let key = source_key(source);
            if let Some(state) = self
                .per_source
                .entry(&key, now, |s| s.failures.idle(now, span))
            {
                state.failures.expire(now, span);
                state.failures.push(now, request_id);
                state.clients.retain(|_, t| *t > now - span);
                if let Some(client) = &e.actor.client_id {
                    if state.clients.len() < 1000 || state.clients.contains_key(client) {
                        state.clients.insert(client.clone(), now);
                    }
                }
                if let Some(finding) = Self::source_finding(&self.config, &key, source, state) {
                    out.push(finding);
                }
            }
        }
        if let Some(client) = &e.actor.client_id {
            if let Some(window) = self.per_client.entry(client, now, |w| w.idle(now, span)) {
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
                        // A known credential's own failures never lead to its address
                        // being blocked.
                        source_ip: (failure == Failure::Anonymous)
                            .then(|| e.source_ip.clone())
                            .flatten(),
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

    fn source_finding(
        config: &AuthFailureConfig,
        key: &str,
        source: &str,
        state: &SourceState,
    ) -> Option<Finding> {
        let distinct = state.clients.len() as u64;
        let count = state.failures.count();
        let window = config.window_seconds;
        let (kind, severity, value, threshold, summary) =
            if distinct >= config.distinct_clients_per_source {
                (
                    AlertKind::CredentialStuffing,
                    Severity::Critical,
                    distinct,
                    config.distinct_clients_per_source,
                    format!(
                        "{key} failed to authenticate as {distinct} different clients in {window}s"
                    ),
                )
            } else if count >= config.per_source {
                (
                    AlertKind::AuthFailureBurst,
                    Severity::High,
                    count,
                    config.per_source,
                    format!("{count} authentication failures from {key} in {window}s"),
                )
            } else {
                return None;
            };
        let mut evidence = Evidence {
            count: value,
            window_seconds: window,
            threshold: threshold as f64,
            sample_request_ids: state.failures.samples(),
            ..Evidence::default()
        };
        evidence.details.insert("failures".into(), count.into());
        let mut clients: Vec<&String> = state.clients.keys().collect();
        clients.sort();
        clients.truncate(20);
        evidence
            .details
            .insert("client_ids".into(), serde_json::json!(clients));
        Some(Finding {
            kind,
            severity,
            subject: Subject::Source(key.to_string()),
            partner_id: None,
            client_id: None,
            source_ip: Some(source.to_string()),
            summary,
            evidence,
            onset_ms: state.failures.first_ms().unwrap_or(0),
        })
    }
}
