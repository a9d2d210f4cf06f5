//! Credentials: a partner registers a JWK set (private_key_jwt) or a certificate subject
//! (tls_client_auth) per client. Sandbox credentials are issued at once; production ones
//! only to partners in production, through approval, and never for longer than the
//! configured maximum (90 days by default). Rotation issues the new credential and keeps
//! the old one working for an overlap window, then it expires by itself.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::StatusCode;
use portcullis_core::governance::ApprovalKind;
use portcullis_core::jose::VerifyingKey;
use portcullis_core::{Client, ClientAuthMethod, CredentialStatus, Environment, PartnerStatus};
use serde::{Deserialize, Serialize};

use super::approvals;
use crate::auth::Admin;
use crate::error::ApiError;
use crate::routes::{AdminState, OPERATORS};

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

/// A credential to create (and, when rotating, the one it replaces): exactly what an
/// approval of it applies.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialChange {
    pub client_id: String,
    pub partner_id: String,
    pub environment: Environment,
    pub auth_method: ClientAuthMethod,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_subject_dn: Option<String>,
    /// Days from issuance; production credentials always have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotates: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap_hours: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    partner_id: String,
    environment: Environment,
    auth_method: ClientAuthMethod,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    jwks: Option<serde_json::Value>,
    #[serde(default)]
    tls_subject_dn: Option<String>,
    #[serde(default)]
    lifetime_days: Option<u32>,
    #[serde(default)]
    justification: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateBody {
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    jwks: Option<serde_json::Value>,
    #[serde(default)]
    tls_subject_dn: Option<String>,
    #[serde(default)]
    lifetime_days: Option<u32>,
    #[serde(default)]
    overlap_hours: Option<u32>,
    #[serde(default)]
    justification: Option<String>,
}

pub async fn create(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Json(body): Json<CreateBody>,
) -> Result<Response, ApiError> {
    admin.require(OPERATORS)?;
    let client_id = body
        .client_id
        .unwrap_or_else(|| generated_id(&body.partner_id, body.environment));
    let change = CredentialChange {
        client_id,
        partner_id: body.partner_id,
        environment: body.environment,
        auth_method: body.auth_method,
        jwks: body.jwks,
        tls_subject_dn: body.tls_subject_dn,
        lifetime_days: body.lifetime_days,
        rotates: None,
        overlap_hours: None,
    };
    submit(&state, &admin, change, body.justification).await
}

pub async fn rotate(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Path(old_id): Path<String>,
    Json(body): Json<RotateBody>,
) -> Result<Response, ApiError> {
    admin.require(OPERATORS)?;
    let old = state.store().get_client(&old_id).await?;
    let client_id = body
        .client_id
        .unwrap_or_else(|| generated_id(&old.partner_id, old.environment));
    let (jwks, tls_subject_dn) = match old.auth_method {
        ClientAuthMethod::PrivateKeyJwt => (body.jwks, None),
        ClientAuthMethod::TlsClientAuth => (None, body.tls_subject_dn),
    };
    let change = CredentialChange {
        client_id,
        partner_id: old.partner_id,
        environment: old.environment,
        auth_method: old.auth_method,
        jwks,
        tls_subject_dn,
        lifetime_days: body.lifetime_days,
        rotates: Some(old_id),
        overlap_hours: Some(
            body.overlap_hours
                .unwrap_or(state.settings().rotation_overlap_hours),
        ),
    };
    submit(&state, &admin, change, body.justification).await
}

/// Sandbox: applied now (201). Production: filed for approval (202).
async fn submit(
    state: &AdminState,
    admin: &Admin,
    change: CredentialChange,
    justification: Option<String>,
) -> Result<Response, ApiError> {
    let problems = problems(state, &change);
    if !problems.is_empty() {
        return Err(ApiError::invalid("invalid-credential", &problems));
    }
    check(state, &change).await?;
    if change.environment == Environment::Sandbox {
        let client = apply(state, &admin.0.name, &change).await?;
        return Ok((StatusCode::CREATED, Json(client)).into_response());
    }
    let approval = approvals::request(
        state,
        admin,
        &change.partner_id,
        ApprovalKind::Credential,
        serde_json::to_value(&change).map_err(|_| ApiError::internal("change not encodable"))?,
        justification.as_deref().unwrap_or_default(),
    )
    .await?;
    Ok(approvals::accepted(approval).into_response())
}

fn generated_id(partner_id: &str, environment: Environment) -> String {
    let suffix = super::new_id("c");
    format!("{partner_id}-{}-{}", environment.as_str(), &suffix[2..10])
}

/// What is wrong with the change as written, every problem at once.
fn problems(state: &AdminState, change: &CredentialChange) -> Vec<String> {
    let mut p = Vec::new();
    let id_ok = (3..=128).contains(&change.client_id.len())
        && change
            .client_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !id_ok {
        p.push(format!(
            "client_id: {:?} must be 3 to 128 of A-Z a-z 0-9 - _ .",
            change.client_id
        ));
    }
    match change.auth_method {
        ClientAuthMethod::PrivateKeyJwt => match &change.jwks {
            None => {
                p.push("jwks: required for private_key_jwt (the client's public JWK set)".into())
            }
            Some(jwks) => {
                if let Err(e) = VerifyingKey::set_from_jwks(jwks) {
                    p.push(format!("jwks: {e}"));
                }
            }
        },
        ClientAuthMethod::TlsClientAuth => match change.tls_subject_dn.as_deref() {
            None | Some("") => p.push(
                "tls_subject_dn: required for tls_client_auth (the certificate subject, RFC 4514)"
                    .into(),
            ),
            Some(_) => {}
        },
    }
    let max = state.settings().credential_max_lifetime_days;
    match (change.environment, change.lifetime_days) {
        (_, Some(0)) => p.push("lifetime_days: must be at least 1".into()),
        (Environment::Production, Some(days)) if days > max => p.push(format!(
            "lifetime_days: {days} exceeds the production maximum of {max}; rotate before it expires instead"
        )),
        _ => {}
    }
    if let Some(hours) = change.overlap_hours {
        let max = state.settings().rotation_overlap_max_hours;
        if hours > max {
            p.push(format!(
                "overlap_hours: {hours} exceeds the maximum of {max}"
            ));
        }
    }
    p
}

/// Whether the partner's state allows the credential now.
pub async fn check(state: &AdminState, change: &CredentialChange) -> Result<(), ApiError> {
    let partner = state.store().get_partner(&change.partner_id).await?;
    if !partner.status.allows(change.environment) {
        let when = match change.environment {
            Environment::Production => "only to partners in production",
            Environment::Sandbox => "from the sandbox phase on",
        };
        return Err(ApiError::conflict(
            "partner-not-eligible",
            format!(
                "{} is {}; {} credentials are issued {when}",
                partner.id,
                partner.status.as_str(),
                change.environment
            ),
        ));
    }
    if let Some(old_id) = &change.rotates {
        let old = state.store().get_client(old_id).await?;
        if old.status != CredentialStatus::Active {
            return Err(ApiError::conflict(
                "credential-revoked",
                format!("{old_id} is revoked; create a new credential instead of rotating it"),
            ));
        }
    }
    debug_assert!(partner.status != PartnerStatus::Offboarded);
    Ok(())
}

/// Creates the credential (and shortens the rotated one to its overlap).
pub async fn apply(
    state: &AdminState,
    actor: &str,
    change: &CredentialChange,
) -> Result<Client, ApiError> {
    let now = state.clock().now();
    let lifetime = match change.environment {
        Environment::Production => Some(
            change
                .lifetime_days
                .unwrap_or(state.settings().credential_max_lifetime_days),
        ),
        Environment::Sandbox => change.lifetime_days,
    };
    let client = Client {
        client_id: change.client_id.clone(),
        partner_id: change.partner_id.clone(),
        environment: change.environment,
        auth_method: change.auth_method,
        jwks: change.jwks.clone(),
        tls_subject_dn: change.tls_subject_dn.clone(),
        status: CredentialStatus::Active,
        created_at: now,
        expires_at: lifetime.map(|days| now + i64::from(days) * DAY),
        last_used_at: None,
    };
    state.store().create_client(&client).await?;
    let mut target = BTreeMap::from([
        ("client_id".to_string(), client.client_id.clone()),
        ("partner_id".to_string(), client.partner_id.clone()),
        (
            "environment".to_string(),
            client.environment.as_str().to_string(),
        ),
        (
            "auth_method".to_string(),
            client.auth_method.as_str().to_string(),
        ),
    ]);
    if let Some(expires_at) = client.expires_at {
        target.insert("expires_at".into(), expires_at.to_string());
    }
    if let Some(old_id) = &change.rotates {
        let old = state.store().get_client(old_id).await?;
        let overlap_end = now + i64::from(change.overlap_hours.unwrap_or(0)) * HOUR;
        let expires_at = old.expires_at.map_or(overlap_end, |e| e.min(overlap_end));
        state.store().set_client_expiry(old_id, expires_at).await?;
        target.insert("rotates".into(), old_id.clone());
        target.insert("rotated_expires_at".into(), expires_at.to_string());
    }
    state.publish().await;
    let action = if change.rotates.is_some() {
        "credential.rotate"
    } else {
        "credential.create"
    };
    state.record_as(actor, action, target).await?;
    tracing::info!(actor, client_id = %client.client_id, partner_id = %client.partner_id, environment = %client.environment, action, "credential issued");
    Ok(client)
}
