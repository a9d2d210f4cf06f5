//! Partners through onboarding: proposal, evidence documents, where each stands, and
//! moves between states.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::StatusCode;
use portcullis_core::governance::{ApprovalKind, StoredDocument};
use portcullis_core::{Partner, PartnerStatus, RiskTier};
use serde::{Deserialize, Serialize};

use super::approvals::{self, TransitionChange};
use super::evidence::Evidence;
use super::lifecycle::{self, Move};
use crate::auth::Admin;
use crate::error::ApiError;
use crate::routes::{AdminState, OPERATORS, READERS};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    id: String,
    name: String,
    #[serde(default)]
    risk_tier: RiskTier,
}

/// Proposes a partner: the start of onboarding, with no access anywhere.
pub async fn create(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Json(body): Json<CreateBody>,
) -> Result<(StatusCode, Json<Partner>), ApiError> {
    admin.require(OPERATORS)?;
    let mut problems = Vec::new();
    let id_ok = (2..=64).contains(&body.id.len())
        && body
            .id
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && body
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !id_ok {
        problems.push(format!(
            "id: {:?} must be 2 to 64 of a-z 0-9 - starting with a letter or digit",
            body.id
        ));
    }
    if body.name.trim().is_empty() || body.name.len() > 200 {
        problems.push("name: required, at most 200 bytes".to_string());
    }
    if !problems.is_empty() {
        return Err(ApiError::invalid("invalid-partner", &problems));
    }
    let partner = Partner {
        id: body.id,
        name: body.name,
        status: PartnerStatus::Proposed,
        risk_tier: body.risk_tier,
        created_at: state.clock().now(),
    };
    state.store().create_partner(&partner).await?;
    state
        .record_as(
            &admin.0.name,
            "partner.create",
            BTreeMap::from([
                ("partner_id".to_string(), partner.id.clone()),
                (
                    "risk_tier".to_string(),
                    partner.risk_tier.as_str().to_string(),
                ),
            ]),
        )
        .await?;
    tracing::info!(admin = %admin.0.name, partner_id = %partner.id, "partner proposed");
    Ok((StatusCode::CREATED, Json(partner)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskTierBody {
    risk_tier: RiskTier,
    justification: String,
}

/// Raising the tier (more frequent reviews) applies at once; lowering it is a loosening,
/// filed for a second person's approval (202).
pub async fn set_risk_tier(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    Json(body): Json<RiskTierBody>,
) -> Result<Response, ApiError> {
    admin.require(OPERATORS)?;
    approvals::require_justification(&body.justification, "say why the risk changed")?;
    let before = state.store().get_partner(&id).await?;
    let change = RiskTierChange {
        from: before.risk_tier,
        to: body.risk_tier,
    };
    if body.risk_tier >= before.risk_tier {
        let partner =
            apply_risk_tier(&state, &admin.0.name, &id, change, &body.justification).await?;
        return Ok(Json(partner).into_response());
    }
    let approval = approvals::request(
        &state,
        &admin,
        &id,
        ApprovalKind::RiskTier,
        serde_json::to_value(change).map_err(|_| ApiError::internal("change not encodable"))?,
        &body.justification,
    )
    .await?;
    Ok(approvals::accepted(approval).into_response())
}

/// A change of risk tier, as an approval applies it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskTierChange {
    pub from: RiskTier,
    pub to: RiskTier,
}

/// The partner, if its risk tier is still `from` (409 otherwise: decided on stale facts).
pub async fn tier_unchanged(
    state: &AdminState,
    id: &str,
    from: RiskTier,
) -> Result<Partner, ApiError> {
    let current = state.store().get_partner(id).await?;
    if current.risk_tier != from {
        return Err(ApiError::conflict(
            "state-changed",
            format!(
                "{id} is {} risk now, not {}; file a new request",
                current.risk_tier.as_str(),
                from.as_str()
            ),
        ));
    }
    Ok(current)
}

/// Sets the tier and moves the open review's due date to the new interval (counted from
/// when the review was opened).
pub async fn apply_risk_tier(
    state: &AdminState,
    actor: &str,
    id: &str,
    change: RiskTierChange,
    justification: &str,
) -> Result<Partner, ApiError> {
    tier_unchanged(state, id, change.from).await?;
    state.store().set_partner_risk_tier(id, change.to).await?;
    let interval = state.settings().review_interval_seconds(change.to);
    for review in state
        .store()
        .list_reviews(
            Some(id),
            Some(portcullis_core::governance::ReviewStatus::Open),
        )
        .await?
    {
        state
            .store()
            .set_review_due(&review.id, review.opened_at + interval)
            .await?;
    }
    state
        .record_as(
            actor,
            "partner.risk_tier",
            BTreeMap::from([
                ("partner_id".to_string(), id.to_string()),
                ("from".to_string(), change.from.as_str().to_string()),
                ("to".to_string(), change.to.as_str().to_string()),
                ("justification".to_string(), justification.to_string()),
            ]),
        )
        .await?;
    Ok(state.store().get_partner(id).await?)
}

#[derive(Debug, Serialize)]
pub struct Onboarding {
    partner_id: String,
    status: PartnerStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<PartnerStatus>,
    /// What the next step still needs.
    missing: Vec<String>,
}

pub async fn onboarding(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
) -> Result<Json<Onboarding>, ApiError> {
    admin.require(READERS)?;
    let partner = state.store().get_partner(&id).await?;
    let next = match partner.status {
        PartnerStatus::Suspended => Some(PartnerStatus::Production),
        status => lifecycle::next_promotion(status),
    };
    let missing = match next {
        Some(to) => lifecycle::missing_for(&state, &partner, to).await?,
        None => Vec::new(),
    };
    Ok(Json(Onboarding {
        partner_id: partner.id,
        status: partner.status,
        next,
        missing,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionBody {
    to: PartnerStatus,
    justification: String,
}

/// Promotions and reactivation are filed for approval (202) once their evidence is
/// complete (409 naming what is missing otherwise); suspension and offboarding apply now.
pub async fn transition(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    Json(body): Json<TransitionBody>,
) -> Result<Response, ApiError> {
    admin.require(OPERATORS)?;
    let partner = state.store().get_partner(&id).await?;
    let kind = lifecycle::classify(partner.status, body.to)
        .map_err(|detail| ApiError::conflict("illegal-transition", detail))?;
    approvals::require_justification(&body.justification, "say why the partner should move")?;
    if !kind.needs_approval() {
        let moved = lifecycle::apply(
            &state,
            &admin.0.name,
            &partner,
            body.to,
            body.justification.trim(),
        )
        .await?;
        return Ok(Json(moved).into_response());
    }
    let missing = lifecycle::missing_for(&state, &partner, body.to).await?;
    if !missing.is_empty() {
        return Err(approvals::missing_evidence(&id, body.to, &missing));
    }
    let pending = state
        .store()
        .list_approvals(
            Some(&id),
            Some(portcullis_core::governance::ApprovalStatus::Pending),
        )
        .await?
        .into_iter()
        .find(|a| a.kind == ApprovalKind::Transition);
    if let Some(pending) = pending {
        return Err(ApiError::conflict(
            "already-requested",
            format!("{} already awaits a decision on a move of {id}", pending.id),
        ));
    }
    let change = TransitionChange {
        from: partner.status,
        to: body.to,
    };
    let approval = approvals::request(
        &state,
        &admin,
        &id,
        ApprovalKind::Transition,
        serde_json::to_value(change).map_err(|_| ApiError::internal("change not encodable"))?,
        &body.justification,
    )
    .await?;
    debug_assert!(matches!(kind, Move::Promotion | Move::Reactivation));
    Ok(approvals::accepted(approval).into_response())
}

pub async fn get_document<E: Evidence>(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
) -> Result<Json<StoredDocument>, ApiError> {
    admin.require(READERS)?;
    state.store().get_partner(&id).await?;
    state
        .store()
        .get_document(&id, E::KIND)
        .await?
        .map(Json)
        .ok_or_else(|| {
            ApiError(portcullis_core::problem::Problem::not_found(format!(
                "{id} has no {} recorded",
                E::KIND
            )))
        })
}

/// Records (replaces) a document after checking it in full. Evidence is a record of fact,
/// so it can be corrected; the audit log keeps every version.
pub async fn put_document<E: Evidence>(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    Json(document): Json<E>,
) -> Result<Json<StoredDocument>, ApiError> {
    admin.require(OPERATORS)?;
    let problems = document.problems();
    if !problems.is_empty() {
        return Err(ApiError::invalid("invalid-document", &problems));
    }
    let partner = state.store().get_partner(&id).await?;
    if partner.status == PartnerStatus::Offboarded {
        return Err(ApiError::conflict(
            "partner-offboarded",
            format!("{id} is offboarded; its records are closed"),
        ));
    }
    let body = serde_json::to_value(&document)
        .map_err(|_| ApiError::internal("document not encodable"))?;
    let stored = StoredDocument {
        partner_id: id.clone(),
        kind: E::KIND.to_string(),
        document: body,
        updated_at: state.clock().now(),
        updated_by: admin.0.name.clone(),
    };
    state.store().put_document(&stored).await?;
    state
        .record_as(
            &admin.0.name,
            &format!("{}.put", E::KIND),
            BTreeMap::from([
                ("partner_id".to_string(), id.clone()),
                ("document".to_string(), stored.document.to_string()),
            ]),
        )
        .await?;
    tracing::info!(admin = %admin.0.name, partner_id = %id, kind = E::KIND, "evidence recorded");
    Ok(Json(stored))
}

pub async fn sandbox_evidence(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
) -> Result<Json<lifecycle::SandboxEvidence>, ApiError> {
    admin.require(READERS)?;
    state.store().get_partner(&id).await?;
    Ok(Json(lifecycle::sandbox_evidence(&state, &id).await?))
}
