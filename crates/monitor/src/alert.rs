//! Alerts: what a detector found, with the evidence an operator needs to judge it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    TrafficSpike,
    AuthFailureBurst,
    CredentialStuffing,
    Enumeration,
    OperationMix,
    UnexpectedRegion,
    OffHours,
}

impl AlertKind {
    pub const ALL: [AlertKind; 7] = [
        AlertKind::TrafficSpike,
        AlertKind::AuthFailureBurst,
        AlertKind::CredentialStuffing,
        AlertKind::Enumeration,
        AlertKind::OperationMix,
        AlertKind::UnexpectedRegion,
        AlertKind::OffHours,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::TrafficSpike => "traffic_spike",
            AlertKind::AuthFailureBurst => "auth_failure_burst",
            AlertKind::CredentialStuffing => "credential_stuffing",
            AlertKind::Enumeration => "enumeration",
            AlertKind::OperationMix => "operation_mix",
            AlertKind::UnexpectedRegion => "unexpected_region",
            AlertKind::OffHours => "off_hours",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// Who or what an alert is about; also what deduplicates alerts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "id")]
pub enum Subject {
    Partner(String),
    Client(String),
    Source(String),
}

/// The numbers behind an alert.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// What was counted in the window (requests, failures, distinct ids...).
    pub count: u64,
    pub window_seconds: u64,
    /// The configured threshold the count crossed.
    pub threshold: f64,
    /// The learned normal, where the detector has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    /// Up to ten request ids from the window, to find the entries in the audit log.
    pub sample_request_ids: Vec<String>,
    /// Detector-specific facts (regions seen, operation shares, contract hours...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, serde_json::Value>,
}

/// A detector's output, before it becomes an alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub kind: AlertKind,
    pub severity: Severity,
    pub subject: Subject,
    pub partner_id: Option<String>,
    pub client_id: Option<String>,
    pub source_ip: Option<String>,
    pub summary: String,
    pub evidence: Evidence,
    /// When the behaviour began, as far as the detector can tell (its window's first event).
    pub onset_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    Open,
    Acknowledged,
    Closed,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Closed => "closed",
        }
    }
}

/// One action a playbook took (or, in dry-run, would have taken) for an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionTaken {
    pub id: String,
    pub action: String,
    pub target: String,
    pub dry_run: bool,
    pub at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<i64>,
    /// For a throttle: the partner's rate while it lasts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_second: Option<u32>,
    /// Set when an operator reverted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverted_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: String,
    pub kind: AlertKind,
    pub severity: Severity,
    pub status: AlertStatus,
    pub subject: Subject,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    pub summary: String,
    pub evidence: Evidence,
    pub onset_ms: i64,
    pub raised_at_ms: i64,
    pub updated_at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default)]
    pub actions: Vec<ActionTaken>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<String>,
}

impl Alert {
    pub fn from_finding(id: String, finding: Finding, now_ms: i64) -> Self {
        Self {
            id,
            kind: finding.kind,
            severity: finding.severity,
            status: AlertStatus::Open,
            subject: finding.subject,
            partner_id: finding.partner_id,
            client_id: finding.client_id,
            source_ip: finding.source_ip,
            summary: finding.summary,
            evidence: finding.evidence,
            onset_ms: finding.onset_ms,
            raised_at_ms: now_ms,
            updated_at_ms: now_ms,
            acknowledged_by: None,
            closed_by: None,
            note: None,
            actions: Vec::new(),
            incident_id: None,
        }
    }
}
