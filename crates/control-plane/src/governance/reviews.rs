//! Access reviews and the scheduled governance checks.
//!
//! Every partner in production has one open review, due one risk-tier interval after the
//! last. A reviewer decides each grant (keep, reduce, revoke); an open review more than the
//! grace period overdue suspends the partner's production access. Credentials that have
//! not obtained a token for the dormancy period are revoked. Time comes from the injected
//! clock, so tests move it instead of sleeping.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::Json;
use portcullis_core::governance::{Review, ReviewDecision, ReviewOutcome, ReviewStatus};
use portcullis_core::{CredentialStatus, Partner, PartnerStatus};
use serde::{Deserialize, Serialize};

use super::approvals::APPROVERS;
use super::{lifecycle, new_id};
use crate::auth::Admin;
use crate::error::ApiError;
use crate::routes::{AdminState, OPERATORS, READERS};

const DAY: i64 = 86_400;
/// The actor the scheduled checks record their changes under.
pub const SWEEP_ACTOR: &str = "governance-sweep";

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
) -> Result<Json<Vec<Review>>, ApiError> {
    admin.require(READERS)?;
    let status = super::parse_filter::<ReviewStatus>(q.status)?;
    Ok(Json(
        state
            .store()
            .list_reviews(q.partner_id.as_deref(), status)
            .await?,
    ))
}

pub async fn get(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
) -> Result<Json<Review>, ApiError> {
    admin.require(READERS)?;
    Ok(Json(state.store().get_review(&id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionsBody {
    decisions: Vec<ReviewDecision>,
}

/// Completes a review: one decision per grant the partner holds, applied at once (they
/// can only narrow access), and schedules the next review.
pub async fn decide(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    Json(body): Json<DecisionsBody>,
) -> Result<Json<Review>, ApiError> {
    admin.require(APPROVERS)?;
    let review = state.store().get_review(&id).await?;
    if review.status != ReviewStatus::Open {
        return Err(ApiError::conflict(
            "review-completed",
            format!("{id} was completed already"),
        ));
    }
    let grants = state.store().list_grants(Some(&review.partner_id)).await?;
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, d) in body.decisions.iter().enumerate() {
        let at = format!("decisions[{i}]");
        if !seen.insert(d.environment) {
            problems.push(format!("{at}.environment: {} decided twice", d.environment));
        }
        if d.justification.trim().is_empty() {
            problems.push(format!("{at}.justification: required"));
        }
        let Some(grant) = grants.iter().find(|g| g.environment == d.environment) else {
            problems.push(format!(
                "{at}.environment: {} has no grant in {}",
                review.partner_id, d.environment
            ));
            continue;
        };
        if d.decision != ReviewOutcome::Keep {
            crate::grants::check_not_config_owned(&state, &grant.partner_id, grant.environment)?;
        }
        match (d.decision, &d.scopes) {
            (ReviewOutcome::Reduce, Some(scopes)) if !scopes.is_empty() => {
                for scope in scopes.iter().filter(|s| !grant.scopes.contains(s)) {
                    problems.push(format!(
                        "{at}.scopes: {scope} is not granted now; a review can only reduce"
                    ));
                }
            }
            (ReviewOutcome::Reduce, _) => problems.push(format!(
                "{at}.scopes: list the scopes to keep (to remove all, decide revoke)"
            )),
            (_, Some(_)) => problems.push(format!("{at}.scopes: only for reduce")),
            _ => {}
        }
    }
    for grant in &grants {
        if !seen.contains(&grant.environment) {
            problems.push(format!(
                "decisions: the grant in {} needs a decision (keep, reduce or revoke)",
                grant.environment
            ));
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::invalid("invalid-review", &problems));
    }
    let now = state.clock().now();
    let completed = Review {
        status: ReviewStatus::Completed,
        completed_at: Some(now),
        reviewer: Some(admin.0.name.clone()),
        decisions: body.decisions,
        ..review
    };
    if !state.store().complete_review(&completed).await? {
        return Err(ApiError::conflict(
            "review-completed",
            format!("{id} was completed by someone else just now"),
        ));
    }
    let actor = format!("{} (review {id})", admin.0.name);
    for d in &completed.decisions {
        let Some(grant) = grants.iter().find(|g| g.environment == d.environment) else {
            continue;
        };
        match d.decision {
            ReviewOutcome::Keep => {}
            ReviewOutcome::Reduce => {
                let keep = d.scopes.clone().unwrap_or_default();
                let mut reduced = grant.clone();
                reduced.scopes.retain(|s| keep.contains(s));
                reduced.justifications.retain(|s, _| keep.contains(s));
                crate::grants::store_grant(&state, &actor, &reduced).await?;
            }
            ReviewOutcome::Revoke => {
                state
                    .store()
                    .delete_grant(&grant.partner_id, grant.environment)
                    .await?;
                state.publish().await;
                state
                    .record_as(&actor, "grant.revoke", grant.audit_target())
                    .await?;
            }
        }
    }
    let partner = state.store().get_partner(&completed.partner_id).await?;
    let mut target = BTreeMap::from([
        ("review_id".to_string(), id.clone()),
        ("partner_id".to_string(), completed.partner_id.clone()),
        (
            "decisions".to_string(),
            serde_json::to_string(&completed.decisions).unwrap_or_default(),
        ),
    ]);
    // Reviews follow production access (a suspended partner is reviewed before it returns).
    if matches!(
        partner.status,
        PartnerStatus::Production | PartnerStatus::Suspended
    ) {
        if let Some(next) = schedule(&state, &partner, now).await? {
            target.insert("next_review_id".into(), next.id);
            target.insert("next_review_due_at".into(), next.due_at.to_string());
        }
    }
    state
        .record_as(&admin.0.name, "review.complete", target)
        .await?;
    tracing::info!(admin = %admin.0.name, review_id = %id, partner_id = %completed.partner_id, "access review completed");
    Ok(Json(state.store().get_review(&id).await?))
}

/// Opens the partner's next review, due one risk-tier interval from `from`; `None` when
/// one is open already (another node, or a concurrent completion, got there first).
async fn schedule(
    state: &AdminState,
    partner: &Partner,
    from: i64,
) -> Result<Option<Review>, ApiError> {
    let review = Review {
        id: new_id("rev"),
        partner_id: partner.id.clone(),
        status: ReviewStatus::Open,
        opened_at: state.clock().now(),
        due_at: from + state.settings().review_interval_seconds(partner.risk_tier),
        completed_at: None,
        reviewer: None,
        decisions: Vec::new(),
    };
    match state.store().create_review(&review).await {
        Ok(()) => {}
        Err(portcullis_store::StoreError::Conflict { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    Ok(Some(review))
}

/// What one run of the scheduled checks did.
#[derive(Debug, Default, Serialize)]
pub struct SweepResult {
    pub reviews_opened: Vec<String>,
    pub partners_suspended: Vec<String>,
    pub credentials_revoked: Vec<String>,
}

pub async fn sweep_now(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
) -> Result<Json<SweepResult>, ApiError> {
    admin.require(OPERATORS)?;
    Ok(Json(sweep(&state).await?))
}

/// The scheduled checks: record credential use, open missing reviews, suspend partners
/// whose review is overdue past the grace period, revoke dormant credentials.
pub async fn sweep(state: &AdminState) -> Result<SweepResult, ApiError> {
    let mut result = SweepResult::default();
    flush_usage(state).await?;
    let now = state.clock().now();
    let settings = state.settings().clone();
    let open = state
        .store()
        .list_reviews(None, Some(ReviewStatus::Open))
        .await?;
    for partner in state.store().list_partners().await? {
        let reviews: Vec<&Review> = open.iter().filter(|r| r.partner_id == partner.id).collect();
        if partner.status == PartnerStatus::Production && reviews.is_empty() {
            if let Some(review) = schedule(state, &partner, now).await? {
                state
                    .record_as(
                        SWEEP_ACTOR,
                        "review.open",
                        BTreeMap::from([
                            ("review_id".to_string(), review.id.clone()),
                            ("partner_id".to_string(), partner.id.clone()),
                            ("due_at".to_string(), review.due_at.to_string()),
                        ]),
                    )
                    .await?;
                result.reviews_opened.push(review.id);
            }
        }
        let grace = i64::from(settings.review_grace_days) * DAY;
        if let Some(overdue) = reviews.iter().find(|r| r.due_at + grace <= now) {
            if partner.status == PartnerStatus::Production {
                let why = format!("access review {} overdue", overdue.id);
                let suspended = PartnerStatus::Suspended;
                match lifecycle::apply(state, SWEEP_ACTOR, &partner, suspended, &why).await {
                    Ok(_) => result.partners_suspended.push(partner.id.clone()),
                    // Moved meanwhile (offboarded, suspended by hand): nothing to do.
                    Err(e) if e.0.status == http::StatusCode::CONFLICT => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    let dormant_after = i64::from(settings.dormant_credential_days) * DAY;
    for client in state.store().list_clients(None).await? {
        let last = client
            .last_used_at
            .unwrap_or(client.created_at)
            .max(client.created_at);
        if client.status == CredentialStatus::Active && last + dormant_after <= now {
            state
                .store()
                .set_client_status(&client.client_id, CredentialStatus::Revoked)
                .await?;
            state
                .record_as(
                    &format!("{SWEEP_ACTOR} (dormant)"),
                    "credential.revoke",
                    BTreeMap::from([
                        ("client_id".to_string(), client.client_id.clone()),
                        ("partner_id".to_string(), client.partner_id.clone()),
                        ("last_used_at".to_string(), last.to_string()),
                    ]),
                )
                .await?;
            tracing::warn!(client_id = %client.client_id, partner_id = %client.partner_id, "dormant credential revoked");
            result.credentials_revoked.push(client.client_id);
        }
    }
    if !result.credentials_revoked.is_empty() {
        state.publish().await;
    }
    Ok(result)
}

/// Writes the credential use noted since the last flush to the store.
async fn flush_usage(state: &AdminState) -> Result<(), ApiError> {
    let uses = state.usage().drain();
    if uses.is_empty() {
        return Ok(());
    }
    state.store().record_client_use(&uses).await.map_err(|e| {
        // Kept for the next run: losing them could revoke a credential in use.
        state.usage().restore(uses);
        e.into()
    })
}

/// Runs the checks every `sweep_interval_seconds` until shutdown.
pub fn spawn_sweeper(
    state: Arc<AdminState>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let every = Duration::from_secs(state.settings().sweep_interval_seconds);
    tokio::spawn(async move {
        // The first run one interval after start, not at once: credential use is only
        // known from the tokens issued since.
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.changed() => break,
            }
            match sweep(&state).await {
                Ok(r) => {
                    if !(r.reviews_opened.is_empty()
                        && r.partners_suspended.is_empty()
                        && r.credentials_revoked.is_empty())
                    {
                        tracing::info!(reviews_opened = ?r.reviews_opened, partners_suspended = ?r.partners_suspended, credentials_revoked = ?r.credentials_revoked, "governance sweep");
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e.0.detail, "governance sweep failed; retrying next interval")
                }
            }
        }
        // Keep the use noted since the last run; the checks themselves wait for the next start.
        if let Err(e) = flush_usage(&state).await {
            tracing::warn!(error = %e.0.detail, "credential use not recorded at shutdown");
        }
    })
}
