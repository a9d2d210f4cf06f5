//! The onboarding state machine:
//!
//! ```text
//! proposed → due_diligence → sandbox → security_assessment → production ⇄ suspended
//!     (any state but offboarded) → offboarded
//! ```
//!
//! Each promotion needs its evidence (checked when requested and again when approved) and
//! a second person's approval, as does reactivation. Suspension and offboarding only take
//! access away, so they apply at once.

use std::collections::{BTreeMap, BTreeSet};

use portcullis_core::governance::{Review, ReviewStatus};
use portcullis_core::{CredentialStatus, Environment, Partner, PartnerStatus};
use serde::Serialize;

use super::evidence::{DueDiligence, Evidence, SecurityAssessment, UseCase};
use super::new_id;
use super::traffic::{summarize, Counting, OperationTraffic};
use crate::error::ApiError;
use crate::routes::AdminState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    Promotion,
    Reactivation,
    Suspension,
    Offboarding,
}

impl Move {
    /// Whether a second person must approve it: whatever gives access does.
    pub fn needs_approval(self) -> bool {
        matches!(self, Move::Promotion | Move::Reactivation)
    }
}

/// The next step forward from `status`, if there is one.
pub fn next_promotion(status: PartnerStatus) -> Option<PartnerStatus> {
    use PartnerStatus::*;
    match status {
        Proposed => Some(DueDiligence),
        DueDiligence => Some(Sandbox),
        Sandbox => Some(SecurityAssessment),
        SecurityAssessment => Some(Production),
        Production | Suspended | Offboarded => None,
    }
}

/// What kind of move `from → to` is, or why it is not allowed.
pub fn classify(from: PartnerStatus, to: PartnerStatus) -> Result<Move, String> {
    use PartnerStatus::*;
    match (from, to) {
        (Offboarded, _) => Err("the partner is offboarded; offboarding is final".into()),
        (_, Offboarded) => Ok(Move::Offboarding),
        (Production, Suspended) => Ok(Move::Suspension),
        (Suspended, Production) => Ok(Move::Reactivation),
        _ if next_promotion(from) == Some(to) => Ok(Move::Promotion),
        _ => {
            let mut allowed: Vec<&str> = next_promotion(from)
                .map(|s| s.as_str())
                .into_iter()
                .collect();
            match from {
                Production => allowed.push("suspended"),
                Suspended => allowed.push("production"),
                _ => {}
            }
            allowed.push("offboarded");
            Err(format!(
                "a partner in {} cannot move to {}; allowed: {}",
                from.as_str(),
                to.as_str(),
                allowed.join(", ")
            ))
        }
    }
}

/// A stored evidence document, typed; `None` when it was never recorded.
pub async fn load<E: Evidence>(
    state: &AdminState,
    partner_id: &str,
) -> Result<Option<E>, ApiError> {
    let Some(stored) = state.store().get_document(partner_id, E::KIND).await? else {
        return Ok(None);
    };
    serde_json::from_value(stored.document)
        .map(Some)
        .map_err(|e| {
            tracing::error!(partner_id, kind = E::KIND, error = %e, "stored evidence unreadable");
            ApiError::internal("stored evidence could not be read")
        })
}

/// Everything that keeps `partner` from moving to `to` now; empty when nothing does.
pub async fn missing_for(
    state: &AdminState,
    partner: &Partner,
    to: PartnerStatus,
) -> Result<Vec<String>, ApiError> {
    let id = partner.id.as_str();
    let mut missing = Vec::new();
    match (partner.status, to) {
        (_, PartnerStatus::DueDiligence) => match load::<UseCase>(state, id).await? {
            None => missing.push("a use case (PUT /admin/v1/partners/{id}/use-case)".into()),
            Some(u) => missing.extend(u.problems().into_iter().map(|p| format!("use_case.{p}"))),
        },
        (_, PartnerStatus::Sandbox) => match load::<DueDiligence>(state, id).await? {
            None => missing
                .push("a due-diligence record (PUT /admin/v1/partners/{id}/due-diligence)".into()),
            Some(d) => {
                missing.extend(
                    d.problems()
                        .into_iter()
                        .map(|p| format!("due_diligence.{p}")),
                );
                missing.extend(d.gaps_at(state.clock().now()));
            }
        },
        (_, PartnerStatus::SecurityAssessment) => {
            missing.extend(sandbox_evidence(state, id).await?.missing);
        }
        (PartnerStatus::SecurityAssessment, PartnerStatus::Production) => {
            match load::<SecurityAssessment>(state, id).await? {
                None => missing.push(
                    "a security assessment (PUT /admin/v1/partners/{id}/security-assessment)"
                        .into(),
                ),
                Some(a) => {
                    missing.extend(
                        a.problems()
                            .into_iter()
                            .map(|p| format!("security_assessment.{p}")),
                    );
                    missing.extend(a.open_findings());
                }
            }
        }
        (PartnerStatus::Suspended, PartnerStatus::Production) => {
            // Suspended for an overdue review: the review must be done before access returns.
            let now = state.clock().now();
            for review in state
                .store()
                .list_reviews(Some(id), Some(ReviewStatus::Open))
                .await?
                .into_iter()
                .filter(|r| r.due_at <= now)
            {
                missing.push(format!(
                    "access review {} is overdue; complete it (POST /admin/v1/reviews/{}/decisions)",
                    review.id, review.id
                ));
            }
        }
        _ => {}
    }
    Ok(missing.into_iter().map(|m| m.replace("{id}", id)).collect())
}

/// Sandbox exit evidence, computed from the partner's sandbox traffic in the audit log.
#[derive(Debug, Serialize)]
pub struct SandboxEvidence {
    pub partner_id: String,
    pub operations: Vec<OperationEvidence>,
    pub scopes_requested: Vec<String>,
    pub scopes_exercised: Vec<String>,
    pub scopes_missing: Vec<String>,
    pub errors_handled: u64,
    pub sufficient: bool,
    pub missing: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct OperationEvidence {
    pub operation: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(flatten)]
    pub traffic: OperationTraffic,
}

pub async fn sandbox_evidence(
    state: &AdminState,
    partner_id: &str,
) -> Result<SandboxEvidence, ApiError> {
    let requested: BTreeSet<String> = load::<UseCase>(state, partner_id)
        .await?
        .map(|u| u.scopes.into_iter().collect())
        .unwrap_or_default();
    let traffic = summarize(
        state,
        partner_id,
        Environment::Sandbox,
        (None, None),
        Counting::Everything,
    )
    .await?;
    let scopes = state.operation_scopes();
    let mut exercised = BTreeSet::new();
    let mut operations = Vec::new();
    for (operation, t) in traffic.operations {
        let scope = scopes.get(&operation).cloned();
        if t.successes > 0 {
            exercised.extend(scope.clone());
        }
        operations.push(OperationEvidence {
            operation,
            scope,
            traffic: t,
        });
    }
    let scopes_missing: Vec<String> = requested.difference(&exercised).cloned().collect();
    let errors_handled = operations.iter().map(|o| o.traffic.errors_handled).sum();
    let mut missing = Vec::new();
    if requested.is_empty() {
        missing.push(format!(
            "a use case naming the scopes requested (PUT /admin/v1/partners/{partner_id}/use-case)"
        ));
    }
    for scope in &scopes_missing {
        missing.push(format!(
            "sandbox traffic: no successful call needing scope {scope}"
        ));
    }
    if errors_handled == 0 {
        missing.push(
            "sandbox traffic: no error handled (a 4xx answer followed by a successful retry of the same operation)"
                .into(),
        );
    }
    Ok(SandboxEvidence {
        partner_id: partner_id.to_string(),
        operations,
        scopes_requested: requested.into_iter().collect(),
        scopes_exercised: exercised.into_iter().collect(),
        scopes_missing,
        errors_handled,
        sufficient: missing.is_empty(),
        missing,
    })
}

/// Moves the partner and does what the move implies: entering production schedules its
/// first access review; offboarding revokes every credential and removes every grant.
pub async fn apply(
    state: &AdminState,
    actor: &str,
    partner: &Partner,
    to: PartnerStatus,
    justification: &str,
) -> Result<Partner, ApiError> {
    let id = partner.id.as_str();
    // Only from the state the decision was made on: a concurrent offboarding (or any other
    // move) wins, and this one is refused rather than undoing it.
    if !state.store().move_partner(id, partner.status, to).await? {
        return Err(ApiError::conflict(
            "state-changed",
            format!(
                "{id} is no longer {}; it moved meanwhile, so this change was not applied",
                partner.status.as_str()
            ),
        ));
    }
    let mut target = BTreeMap::from([
        ("partner_id".to_string(), id.to_string()),
        ("from".to_string(), partner.status.as_str().to_string()),
        ("to".to_string(), to.as_str().to_string()),
        ("justification".to_string(), justification.to_string()),
    ]);
    if to == PartnerStatus::Offboarded {
        let mut revoked = Vec::new();
        for client in state.store().list_clients(Some(id)).await? {
            if client.status != CredentialStatus::Revoked {
                state
                    .store()
                    .set_client_status(&client.client_id, CredentialStatus::Revoked)
                    .await?;
                revoked.push(client.client_id);
            }
        }
        let mut removed = Vec::new();
        for environment in Environment::ALL {
            if state.store().delete_grant(id, environment).await? {
                removed.push(environment.as_str());
            }
        }
        // Nothing is left to review.
        for review in state
            .store()
            .list_reviews(Some(id), Some(ReviewStatus::Open))
            .await?
        {
            let closed = Review {
                status: ReviewStatus::Completed,
                completed_at: Some(state.clock().now()),
                reviewer: Some(actor.to_string()),
                ..review
            };
            state.store().complete_review(&closed).await?;
        }
        target.insert("credentials_revoked".into(), revoked.join(" "));
        target.insert("grants_removed".into(), removed.join(" "));
    }
    if to == PartnerStatus::Production && partner.status == PartnerStatus::SecurityAssessment {
        let now = state.clock().now();
        let review = Review {
            id: new_id("rev"),
            partner_id: id.to_string(),
            status: ReviewStatus::Open,
            opened_at: now,
            due_at: now + state.settings().review_interval_seconds(partner.risk_tier),
            completed_at: None,
            reviewer: None,
            decisions: Vec::new(),
        };
        state.store().create_review(&review).await?;
        target.insert("first_review_due_at".into(), review.due_at.to_string());
    }
    state.publish().await;
    state.record_as(actor, "partner.status", target).await?;
    tracing::info!(
        actor,
        partner_id = id,
        from = partner.status.as_str(),
        to = to.as_str(),
        "partner moved"
    );
    Ok(state.store().get_partner(id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use PartnerStatus::*;

    #[test]
    fn only_the_drawn_moves_are_allowed() {
        assert_eq!(classify(Proposed, DueDiligence), Ok(Move::Promotion));
        assert_eq!(
            classify(SecurityAssessment, Production),
            Ok(Move::Promotion)
        );
        assert_eq!(classify(Production, Suspended), Ok(Move::Suspension));
        assert_eq!(classify(Suspended, Production), Ok(Move::Reactivation));
        assert_eq!(classify(Sandbox, Offboarded), Ok(Move::Offboarding));
        let skip = classify(Proposed, Production).unwrap_err();
        assert!(
            skip.contains("allowed: due_diligence, offboarded"),
            "{skip}"
        );
        assert!(classify(Offboarded, Production)
            .unwrap_err()
            .contains("final"));
        assert!(classify(Sandbox, Suspended).is_err());
        assert!(classify(Production, Production).is_err());
        assert!(Move::Promotion.needs_approval() && Move::Reactivation.needs_approval());
        assert!(!Move::Suspension.needs_approval() && !Move::Offboarding.needs_approval());
    }
}
