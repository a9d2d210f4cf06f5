//! The records of partner governance that the store keeps: evidence documents, approval
//! requests (maker-checker) and access reviews. What they must contain, and what may happen
//! when, is the control plane's business; these are the shapes.

use serde::{Deserialize, Serialize};
use std::str::FromStr;

use crate::clock::UnixSeconds;
use crate::model::{Environment, UnknownValue};

/// A partner's evidence or contract, as the JSON document it was recorded with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredDocument {
    pub partner_id: String,
    /// `use_case`, `due_diligence`, `security_assessment` or `contract`.
    pub kind: String,
    pub document: serde_json::Value,
    pub updated_at: UnixSeconds,
    /// The administrator's name.
    pub updated_by: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalKind {
    /// A promotion of the partner (or its reactivation after suspension).
    Transition,
    /// A production grant: scopes, policy, validity window.
    Grant,
    /// A production credential, new or rotating an old one.
    Credential,
    /// A lower risk tier (reviewed less often).
    RiskTier,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    Pending,
    Approved,
    Rejected,
    /// Approved, but the change could not be applied (the state moved on meanwhile).
    Failed,
}

/// One person asks, another decides. `change` is the exact change that approval applies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    pub id: String,
    pub partner_id: String,
    pub kind: ApprovalKind,
    pub change: serde_json::Value,
    pub status: ApprovalStatus,
    /// The requester's admin token name ...
    pub requested_by: String,
    /// ... and id: either matching the decider's refuses the decision.
    #[serde(skip_serializing)]
    pub requested_by_id: String,
    pub requested_at: UnixSeconds,
    pub justification: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<UnixSeconds>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_justification: Option<String>,
    /// What applying it did, or why it could not be applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    Open,
    Completed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewOutcome {
    Keep,
    /// Keep only the scopes named.
    Reduce,
    Revoke,
}

/// The reviewer's decision on one grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewDecision {
    pub environment: Environment,
    pub decision: ReviewOutcome,
    /// For `reduce`: the scopes that remain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    pub justification: String,
}

/// A scheduled access review of one partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    pub id: String,
    pub partner_id: String,
    pub status: ReviewStatus,
    pub opened_at: UnixSeconds,
    pub due_at: UnixSeconds,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<UnixSeconds>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewer: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub decisions: Vec<ReviewDecision>,
}

text_enum!(ApprovalKind, "kind", {
    Transition => "transition", Grant => "grant", Credential => "credential",
    RiskTier => "risk_tier",
});
text_enum!(ApprovalStatus, "status", {
    Pending => "pending", Approved => "approved", Rejected => "rejected", Failed => "failed",
});
text_enum!(ReviewStatus, "status", { Open => "open", Completed => "completed" });
