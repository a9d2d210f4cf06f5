//! Maker-checker: promotions, production grants and production credentials are requested
//! by one person and approved by another with the approver role. The requester can never
//! decide their own request; every decision carries its justification; the change applied
//! on approval is exactly the one requested, checked again at that moment.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::Json;
use http::StatusCode;
use portcullis_core::governance::{Approval, ApprovalKind, ApprovalStatus};
use portcullis_core::{AdminRole, Grant, Partner, PartnerStatus};
use serde::Deserialize;
use serde_json::Value;

use super::credentials::{self, CredentialChange};
use super::lifecycle;
use super::new_id;
use super::partners::{apply_risk_tier, tier_unchanged, RiskTierChange};
use crate::auth::Admin;
use crate::error::ApiError;
use crate::routes::{AdminState, READERS};

pub const APPROVERS: &[AdminRole] = &[AdminRole::Approver];

/// The change a transition request applies.
#[derive(Debug, Clone, serde::Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionChange {
    pub from: PartnerStatus,
    pub to: PartnerStatus,
}

/// Files a request; the change is applied only when someone else approves it.
pub async fn request(
    state: &AdminState,
    admin: &Admin,
    partner_id: &str,
    kind: ApprovalKind,
    change: Value,
    justification: &str,
) -> Result<Approval, ApiError> {
    require_justification(justification, "say why this change is needed")?;
    let approval = Approval {
        id: new_id("apr"),
        partner_id: partner_id.to_string(),
        kind,
        change,
        status: ApprovalStatus::Pending,
        requested_by: admin.0.name.clone(),
        requested_by_id: admin.0.id.clone(),
        requested_at: state.clock().now(),
        justification: justification.to_string(),
        decided_by: None,
        decided_at: None,
        decision_justification: None,
        outcome: None,
    };
    state.store().create_approval(&approval).await?;
    state
        .record(
            admin,
            portcullis_audit::EventKind::AdminChange,
            "approval.request",
            target(&approval),
        )
        .await?;
    tracing::info!(admin = %admin.0.name, id = %approval.id, partner_id, kind = kind.as_str(), "approval requested");
    Ok(approval)
}

/// Answers a filed request: 202 and the request.
pub fn accepted(approval: Approval) -> (StatusCode, Json<Value>) {
    let body = serde_json::to_value(&approval).unwrap_or(Value::Null);
    (StatusCode::ACCEPTED, Json(body))
}

/// 400 unless `text` says something; `why` tells the caller what to say.
pub(crate) fn require_justification(text: &str, why: &str) -> Result<(), ApiError> {
    if text.trim().is_empty() {
        return Err(ApiError::bad_request(
            "justification-required",
            format!("justification: required; {why}"),
        ));
    }
    Ok(())
}

fn target(approval: &Approval) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("approval_id".to_string(), approval.id.clone()),
        ("partner_id".to_string(), approval.partner_id.clone()),
        ("kind".to_string(), approval.kind.as_str().to_string()),
        ("change".to_string(), approval.change.to_string()),
    ])
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    partner_id: Option<String>,
    status: Option<String>,
}

pub async fn list(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<Approval>>, ApiError> {
    admin.require(READERS)?;
    let status = super::parse_filter::<ApprovalStatus>(q.status)?;
    Ok(Json(
        state
            .store()
            .list_approvals(q.partner_id.as_deref(), status)
            .await?,
    ))
}

pub async fn get(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
) -> Result<Json<Approval>, ApiError> {
    admin.require(READERS)?;
    Ok(Json(state.store().get_approval(&id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    justification: String,
}

pub async fn approve(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    Json(body): Json<DecisionBody>,
) -> Result<Json<Approval>, ApiError> {
    let approval = decidable(&state, &admin, &id, &body.justification).await?;
    // Checked again now: evidence may have lapsed or the state moved since the request.
    check(&state, &approval).await?;
    let decided = decide(
        &state,
        &admin,
        approval,
        ApprovalStatus::Approved,
        &body.justification,
    )
    .await?;
    let (status, outcome) = match apply(&state, &admin, &decided).await {
        Ok(outcome) => (ApprovalStatus::Approved, outcome),
        Err(e) => (
            ApprovalStatus::Failed,
            format!("not applied: {}", e.0.detail),
        ),
    };
    state
        .store()
        .set_approval_outcome(&decided.id, status, &outcome)
        .await?;
    let mut target = target(&decided);
    target.insert("outcome".into(), outcome);
    state
        .record(
            &admin,
            portcullis_audit::EventKind::AdminChange,
            "approval.approve",
            target,
        )
        .await?;
    tracing::info!(admin = %admin.0.name, id = %decided.id, status = status.as_str(), "approval decided");
    Ok(Json(state.store().get_approval(&decided.id).await?))
}

pub async fn reject(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    Json(body): Json<DecisionBody>,
) -> Result<Json<Approval>, ApiError> {
    let approval = decidable(&state, &admin, &id, &body.justification).await?;
    let decided = decide(
        &state,
        &admin,
        approval,
        ApprovalStatus::Rejected,
        &body.justification,
    )
    .await?;
    state
        .record(
            &admin,
            portcullis_audit::EventKind::AdminChange,
            "approval.reject",
            target(&decided),
        )
        .await?;
    tracing::info!(admin = %admin.0.name, id = %decided.id, "approval rejected");
    Ok(Json(decided))
}

/// The request, if this administrator may decide it now.
async fn decidable(
    state: &AdminState,
    admin: &Admin,
    id: &str,
    justification: &str,
) -> Result<Approval, ApiError> {
    admin.require(APPROVERS)?;
    require_justification(justification, "say why this change is needed")?;
    let approval = state.store().get_approval(id).await?;
    if approval.requested_by_id == admin.0.id || approval.requested_by == admin.0.name {
        return Err(ApiError::forbidden(
            "self-approval",
            format!(
                "{} requested {id}; another person with the approver role must decide it",
                approval.requested_by
            ),
        ));
    }
    if approval.status != ApprovalStatus::Pending {
        return Err(ApiError::conflict(
            "already-decided",
            format!("{id} is {} already", approval.status.as_str()),
        ));
    }
    Ok(approval)
}

async fn decide(
    state: &AdminState,
    admin: &Admin,
    mut approval: Approval,
    status: ApprovalStatus,
    justification: &str,
) -> Result<Approval, ApiError> {
    approval.status = status;
    approval.decided_by = Some(admin.0.name.clone());
    approval.decided_at = Some(state.clock().now());
    approval.decision_justification = Some(justification.to_string());
    if !state.store().decide_approval(&approval).await? {
        return Err(ApiError::conflict(
            "already-decided",
            format!("{} was decided by someone else just now", approval.id),
        ));
    }
    Ok(approval)
}

/// The stored change of a request, typed.
fn decode<T: serde::de::DeserializeOwned>(approval: &Approval) -> Result<T, ApiError> {
    serde_json::from_value(approval.change.clone()).map_err(|_| {
        tracing::error!(id = %approval.id, "stored approval change unreadable");
        ApiError::internal("the stored change could not be read")
    })
}

/// Whether the requested change could be applied now (409 naming what is missing if not).
pub async fn check(state: &AdminState, approval: &Approval) -> Result<(), ApiError> {
    match approval.kind {
        ApprovalKind::Transition => {
            let change: TransitionChange = decode(approval)?;
            let partner = state.store().get_partner(&approval.partner_id).await?;
            if partner.status != change.from {
                return Err(ApiError::conflict(
                    "state-changed",
                    format!(
                        "the request moves {} from {} but it is {} now; file a new request",
                        partner.id,
                        change.from.as_str(),
                        partner.status.as_str()
                    ),
                ));
            }
            let missing = lifecycle::missing_for(state, &partner, change.to).await?;
            if !missing.is_empty() {
                return Err(missing_evidence(&partner.id, change.to, &missing));
            }
            Ok(())
        }
        ApprovalKind::Grant => {
            let grant: Grant = decode(approval)?;
            crate::grants::check_not_config_owned(state, &grant.partner_id, grant.environment)?;
            crate::grants::check_grantable(state, &grant.partner_id).await
        }
        ApprovalKind::Credential => {
            let change: CredentialChange = decode(approval)?;
            credentials::check(state, &change).await
        }
        ApprovalKind::RiskTier => {
            let change: RiskTierChange = decode(approval)?;
            tier_unchanged(state, &approval.partner_id, change.from)
                .await
                .map(|_| ())
        }
    }
}

/// The 409 for a step whose evidence is incomplete.
pub fn missing_evidence(partner_id: &str, to: PartnerStatus, missing: &[String]) -> ApiError {
    ApiError::conflict(
        "evidence-missing",
        format!(
            "{partner_id} cannot move to {} yet; missing: {}",
            to.as_str(),
            missing.join("; ")
        ),
    )
}

/// Applies an approved change; returns what it did.
async fn apply(state: &AdminState, admin: &Admin, approval: &Approval) -> Result<String, ApiError> {
    let actor = format!("{} (approving {})", admin.0.name, approval.id);
    match approval.kind {
        ApprovalKind::Transition => {
            let change: TransitionChange = decode(approval)?;
            // The move applies only from the state it was requested from; lifecycle's
            // compare-and-set refuses it if the partner moved meanwhile.
            let partner = Partner {
                status: change.from,
                ..state.store().get_partner(&approval.partner_id).await?
            };
            let moved =
                lifecycle::apply(state, &actor, &partner, change.to, &approval.justification)
                    .await?;
            Ok(format!("{} is {}", moved.id, moved.status.as_str()))
        }
        ApprovalKind::Grant => {
            let grant: Grant = decode(approval)?;
            crate::grants::store_grant(state, &actor, &grant).await?;
            Ok(format!(
                "grant of {} in {} set to {}",
                grant.partner_id,
                grant.environment,
                grant.scopes.join(" ")
            ))
        }
        ApprovalKind::Credential => {
            let change: CredentialChange = decode(approval)?;
            let client = credentials::apply(state, &actor, &change).await?;
            Ok(format!(
                "credential {} created, expires at {}",
                client.client_id,
                client.expires_at.unwrap_or_default()
            ))
        }
        ApprovalKind::RiskTier => {
            let change: RiskTierChange = decode(approval)?;
            let moved = apply_risk_tier(
                state,
                &actor,
                &approval.partner_id,
                change,
                &approval.justification,
            )
            .await?;
            Ok(format!("{} is {} risk", moved.id, moved.risk_tier.as_str()))
        }
    }
}
