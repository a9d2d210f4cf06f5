//! Grants: what a partner may do in an environment — scopes, and the policy (rate limits,
//! quotas, source allowlist, field policies). A change reaches every gateway through the
//! snapshot, without a restart.

use std::sync::Arc;

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use portcullis_core::governance::ApprovalKind;
use portcullis_core::{Environment, Grant, GrantPolicy, PartnerStatus};
use serde::Deserialize;

use crate::governance::approvals;

use crate::auth::Admin;
use crate::error::ApiError;
use crate::routes::{AdminState, OPERATORS, READERS};

/// The body of `PUT .../grants/{environment}`: the whole grant, replaced at once.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantUpdate {
    pub scopes: Vec<String>,
    /// Scope → why the partner needs it; every production scope needs one.
    #[serde(default)]
    pub justifications: BTreeMap<String, String>,
    #[serde(default)]
    pub policy: GrantPolicy,
    /// Why this change (for the approval request of a production grant).
    #[serde(default)]
    pub justification: Option<String>,
}

pub async fn list(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Path(partner_id): Path<String>,
) -> Result<Json<Vec<Grant>>, ApiError> {
    admin.require(READERS)?;
    state.store().get_partner(&partner_id).await?;
    Ok(Json(state.store().list_grants(Some(&partner_id)).await?))
}

pub async fn get(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Path((partner_id, environment)): Path<(String, String)>,
) -> Result<Json<Grant>, ApiError> {
    admin.require(READERS)?;
    let environment = parse_environment(&environment)?;
    Ok(Json(
        state.store().get_grant(&partner_id, environment).await?,
    ))
}

/// Sandbox grants (synthetic data) apply at once: 200. Production grants are filed for a
/// second person's approval: 202 with the request.
pub async fn put(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Path((partner_id, environment)): Path<(String, String)>,
    Json(update): Json<GrantUpdate>,
) -> Result<Response, ApiError> {
    admin.require(OPERATORS)?;
    let environment = parse_environment(&environment)?;
    // Whose grant it is comes before what is wrong with the change.
    check_not_config_owned(&state, &partner_id, environment)?;
    let mut problems = Vec::new();
    for (i, scope) in update.scopes.iter().enumerate() {
        let word = !scope.is_empty()
            && scope
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\');
        if !word {
            problems.push(format!(
                "scopes[{i}]: {scope:?} is not a scope; scopes are single words like accounts:read"
            ));
        }
        let justified = update
            .justifications
            .get(scope)
            .is_some_and(|j| !j.trim().is_empty());
        if environment == Environment::Production && !justified {
            problems.push(format!(
                "justifications.{scope}: required for every production scope; say why the partner needs it"
            ));
        }
    }
    for scope in update.justifications.keys() {
        if !update.scopes.contains(scope) {
            problems.push(format!(
                "justifications.{scope}: not one of the scopes granted"
            ));
        }
    }
    problems.extend(update.policy.problems("policy"));
    if !problems.is_empty() {
        return Err(ApiError::invalid("invalid-grant", &problems));
    }
    check_grantable(&state, &partner_id).await?;
    let grant = Grant {
        partner_id: partner_id.clone(),
        environment,
        scopes: update.scopes,
        justifications: update.justifications,
        policy: update.policy,
    };
    if environment == Environment::Sandbox {
        store_grant(&state, &admin.0.name, &grant).await?;
        return Ok(Json(grant).into_response());
    }
    let change =
        serde_json::to_value(&grant).map_err(|_| ApiError::internal("grant not encodable"))?;
    let approval = approvals::request(
        &state,
        &admin,
        &partner_id,
        ApprovalKind::Grant,
        change,
        update.justification.as_deref().unwrap_or_default(),
    )
    .await?;
    Ok(approvals::accepted(approval).into_response())
}

/// The configuration file owns some grants; changing them elsewhere would be undone by the
/// next reload.
pub fn check_not_config_owned(
    state: &AdminState,
    partner_id: &str,
    environment: Environment,
) -> Result<(), ApiError> {
    if state
        .config_grants
        .load()
        .contains(&(partner_id.to_string(), environment))
    {
        return Err(ApiError::conflict(
            "grant-owned-by-configuration",
            format!("the grant of {partner_id} in {environment} is stated in the configuration file; change it there and send SIGHUP, or remove it from the file and reload first"),
        ));
    }
    Ok(())
}

/// Grants may be prepared for any partner still in the programme.
pub async fn check_grantable(state: &AdminState, partner_id: &str) -> Result<(), ApiError> {
    let partner = state.store().get_partner(partner_id).await?;
    if partner.status == PartnerStatus::Offboarded {
        return Err(ApiError::conflict(
            "partner-offboarded",
            format!("{partner_id} is offboarded; it can be granted nothing"),
        ));
    }
    Ok(())
}

/// Stores a grant, publishes it to the gateways and records it, with its whole policy.
pub async fn store_grant(state: &AdminState, actor: &str, grant: &Grant) -> Result<(), ApiError> {
    state.store().put_grant(grant).await?;
    state.publish().await;
    let mut target = grant.audit_target();
    target.insert(
        "justifications".into(),
        serde_json::to_string(&grant.justifications).unwrap_or_default(),
    );
    state.record_as(actor, "grant.put", target).await?;
    tracing::info!(actor, partner_id = %grant.partner_id, environment = %grant.environment, "grant replaced");
    Ok(())
}

pub(crate) fn parse_environment(text: &str) -> Result<Environment, ApiError> {
    text.parse().map_err(|e: portcullis_core::UnknownValue| {
        ApiError::bad_request("invalid-request", e.to_string())
    })
}
