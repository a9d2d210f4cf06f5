//! What the audit log records: one typed event per access decision and per change. Never
//! a token, key or secret.

use std::collections::BTreeMap;

use portcullis_core::Environment;
pub use portcullis_field_filter::RemovedPaths;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A request to a published API operation, allowed or denied.
    GatewayRequest,
    TokenIssued,
    TokenRefused,
    TokenIntrospected,
    TokenRevoked,
    /// Any other authorization-server request (metadata, JWKS, malformed calls).
    AuthorizationServerRequest,
    /// A control-plane change.
    AdminChange,
    /// Someone read the audit log.
    AuditRead,
}

impl EventKind {
    /// Every kind. A new kind breaks a wildcard-free match in the JSON encoder's tests,
    /// which says to add it here too.
    pub const ALL: [EventKind; 8] = [
        EventKind::GatewayRequest,
        EventKind::TokenIssued,
        EventKind::TokenRefused,
        EventKind::TokenIntrospected,
        EventKind::TokenRevoked,
        EventKind::AuthorizationServerRequest,
        EventKind::AdminChange,
        EventKind::AuditRead,
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Allow,
    Deny,
}

/// Who acted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The administrator's token name, for control-plane changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Milliseconds since the Unix epoch.
    pub time_ms: i64,
    pub kind: EventKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    pub actor: Actor,
    /// The operation id, OAuth endpoint, or admin action.
    pub action: String,
    /// Resource identifiers, e.g. `account_id`, or the changed object.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub target: BTreeMap<String, String>,
    pub decision: Decision,
    /// A bounded reason code (`allowed`, `insufficient_scope`, `token_revoked`, ...).
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_us: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Paths of response fields removed by filtering.
    #[serde(default, skip_serializing_if = "RemovedPaths::is_empty")]
    pub fields_removed: RemovedPaths,
    /// The request's W3C trace context: the gateway's own span, to follow the request into
    /// the partner's and the upstream's traces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<TraceIds>,
}

/// Trace and span ids, lowercase hex (W3C Trace Context).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceIds {
    pub trace_id: String,
    pub span_id: String,
    /// The caller's span, when the caller sent a trace context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<String>,
}

impl AuditEvent {
    /// An allowed action taken by an administrator (or a system task acting as one).
    pub fn by_admin(
        time_ms: i64,
        kind: EventKind,
        admin: &str,
        action: &str,
        target: BTreeMap<String, String>,
    ) -> Self {
        Self {
            time_ms,
            kind,
            environment: None,
            actor: Actor {
                admin: Some(admin.to_string()),
                ..Actor::default()
            },
            action: action.to_string(),
            target,
            decision: Decision::Allow,
            reason: "allowed".into(),
            status: None,
            latency_us: None,
            source_ip: None,
            request_id: None,
            fields_removed: RemovedPaths::new(),
            trace: None,
        }
    }
}
