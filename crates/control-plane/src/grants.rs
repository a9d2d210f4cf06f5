//! Grants: what a partner may do in an environment — scopes, and the policy (rate limits,
//! quotas, source allowlist, field policies). A change reaches every gateway through the
//! snapshot, without a restart.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use http::StatusCode;
use portcullis_audit::EventKind;
use portcullis_core::{Environment, Grant, GrantPolicy};
use serde::Deserialize;

use crate::auth::Admin;
use crate::error::ApiError;
use crate::routes::{AdminState, OPERATORS, READERS};

/// The body of `PUT .../grants/{environment}`: the whole grant, replaced at once.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantUpdate {
    pub scopes: Vec<String>,
    #[serde(default)]
    pub policy: GrantPolicy,
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

pub async fn put(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Path((partner_id, environment)): Path<(String, String)>,
    Json(update): Json<GrantUpdate>,
) -> Result<Json<Grant>, ApiError> {
    admin.require(OPERATORS)?;
    let environment = parse_environment(&environment)?;
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
    }
    problems.extend(update.policy.problems("policy"));
    if !problems.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-grant",
            "Bad Request",
            problems.join("; "),
        ));
    }
    if state
        .config_grants
        .load()
        .contains(&(partner_id.clone(), environment))
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "grant-owned-by-configuration",
            "Conflict",
            format!("the grant of {partner_id} in {environment} is stated in the configuration file; change it there and send SIGHUP, or remove it from the file and reload first"),
        ));
    }
    state.store().get_partner(&partner_id).await?;
    let grant = Grant {
        partner_id: partner_id.clone(),
        environment,
        scopes: update.scopes,
        policy: update.policy,
    };
    state.store().put_grant(&grant).await?;
    state.publish().await;
    state
        .record(
            &admin,
            EventKind::AdminChange,
            "grant.put",
            grant.audit_target(),
        )
        .await?;
    tracing::info!(admin = %admin.0.name, %partner_id, %environment, "grant replaced");
    Ok(Json(grant))
}

fn parse_environment(text: &str) -> Result<Environment, ApiError> {
    text.parse().map_err(|e: portcullis_core::UnknownValue| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "Bad Request",
            e.to_string(),
        )
    })
}
