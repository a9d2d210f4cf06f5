//! Admin API routes under `/admin/v1`.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use portcullis_core::usage::ClientUsage;
use portcullis_core::{AdminRole, Client, CredentialStatus, Environment, Partner};

use crate::governance::GovernanceSettings;
use crate::monitor_api;
use portcullis_store::{SnapshotLoader, Store};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::audit_api;
use crate::auth::Admin;
use crate::error::ApiError;
use http::StatusCode;
use portcullis_audit::{AuditEvent, AuditLog, EventKind};
use portcullis_core::clock::Clock;

pub struct AdminState {
    loader: Arc<SnapshotLoader>,
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
    pub(crate) config_grants: ConfigOwnedGrants,
    settings: GovernanceSettings,
    usage: Arc<ClientUsage>,
    operation_scopes: BTreeMap<String, String>,
    monitor: Option<Arc<portcullis_monitor::Monitor>>,
}

/// What the admin API needs beyond the store, the audit log and the clock.
#[derive(Default)]
pub struct AdminOptions {
    /// Grants the configuration file owns (the API refuses to change them).
    pub config_grants: ConfigOwnedGrants,
    pub governance: GovernanceSettings,
    /// Where the token endpoints note credential use; shared with the authorization servers.
    pub usage: Arc<ClientUsage>,
    /// Operation id → the scope it needs, from the route table (sandbox evidence counts
    /// scopes exercised).
    pub operation_scopes: BTreeMap<String, String>,
    /// Alerts, responses, incidents and metrics; `None` when monitoring is off.
    pub monitor: Option<Arc<portcullis_monitor::Monitor>>,
}

impl AdminState {
    pub fn store(&self) -> &Arc<dyn Store> {
        self.loader.store()
    }

    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    pub fn settings(&self) -> &GovernanceSettings {
        &self.settings
    }

    pub fn usage(&self) -> &ClientUsage {
        &self.usage
    }

    pub fn operation_scopes(&self) -> &BTreeMap<String, String> {
        &self.operation_scopes
    }

    pub fn monitor(&self) -> Option<&Arc<portcullis_monitor::Monitor>> {
        self.monitor.as_ref()
    }

    /// Records a change made by `actor` (an administrator's name, possibly with what they
    /// acted on, or the scheduled checks).
    pub async fn record_as(
        &self,
        actor: &str,
        action: &str,
        target: BTreeMap<String, String>,
    ) -> Result<(), ApiError> {
        let event = AuditEvent::by_admin(
            self.clock.now_ms(),
            EventKind::AdminChange,
            actor,
            action,
            target,
        );
        self.audit.append(&event).await.map(|_| ()).map_err(|e| {
            tracing::error!(error = %e, "admin action not recorded");
            audit_unavailable()
        })
    }

    /// Records an administrator's action. A change is recorded after it succeeded; if the
    /// log is closed (shutting down) the caller answers 503.
    pub async fn record(
        &self,
        admin: &Admin,
        kind: EventKind,
        action: &str,
        target: BTreeMap<String, String>,
    ) -> Result<(), ApiError> {
        let event = AuditEvent::by_admin(self.clock.now_ms(), kind, &admin.0.name, action, target);
        self.audit.append(&event).await.map(|_| ()).map_err(|e| {
            tracing::error!(error = %e, "admin action not recorded");
            audit_unavailable()
        })
    }

    /// Makes a change visible to the gateways now; the poller would otherwise catch it.
    pub(crate) async fn publish(&self) {
        if let Err(e) = self.loader.reload().await {
            tracing::warn!(error = %e, "snapshot reload after an admin change failed");
        }
    }
}

fn audit_unavailable() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "audit-unavailable",
        "Service Unavailable",
        "the action could not be recorded",
    )
}

/// Grants the configuration file states, by partner and environment. The file owns them:
/// the admin API refuses to change them, so a SIGHUP never silently undoes an edit made
/// through the API (or the other way round).
pub type ConfigOwnedGrants = Arc<ArcSwap<HashSet<(String, Environment)>>>;

pub fn router(loader: Arc<SnapshotLoader>, audit: Arc<AuditLog>, clock: Arc<dyn Clock>) -> Router {
    build(loader, audit, clock, AdminOptions::default()).0
}

/// The admin router, and its state for the tasks that run beside it (the governance sweep).
pub fn build(
    loader: Arc<SnapshotLoader>,
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
    options: AdminOptions,
) -> (Router, Arc<AdminState>) {
    let state = Arc::new(AdminState {
        loader,
        audit,
        clock,
        config_grants: options.config_grants,
        settings: options.governance,
        usage: options.usage,
        operation_scopes: options.operation_scopes,
        monitor: options.monitor,
    });
    use crate::governance::evidence::{Contract, DueDiligence, SecurityAssessment, UseCase};
    use crate::governance::{approvals, credentials, partners, reports, reviews};
    let router = Router::new()
        .route("/admin/v1/health", get(health))
        .route("/admin/v1/openapi.json", get(openapi))
        .route(
            "/admin/v1/partners",
            get(list_partners).post(partners::create),
        )
        .route("/admin/v1/partners/{partner_id}", get(get_partner))
        .route(
            "/admin/v1/partners/{partner_id}/risk-tier",
            put(partners::set_risk_tier),
        )
        .route(
            "/admin/v1/partners/{partner_id}/onboarding",
            get(partners::onboarding),
        )
        .route(
            "/admin/v1/partners/{partner_id}/transitions",
            post(partners::transition),
        )
        .route(
            "/admin/v1/partners/{partner_id}/use-case",
            get(partners::get_document::<UseCase>).put(partners::put_document::<UseCase>),
        )
        .route(
            "/admin/v1/partners/{partner_id}/due-diligence",
            get(partners::get_document::<DueDiligence>).put(partners::put_document::<DueDiligence>),
        )
        .route(
            "/admin/v1/partners/{partner_id}/security-assessment",
            get(partners::get_document::<SecurityAssessment>)
                .put(partners::put_document::<SecurityAssessment>),
        )
        .route(
            "/admin/v1/partners/{partner_id}/contract",
            get(partners::get_document::<Contract>).put(partners::put_document::<Contract>),
        )
        .route(
            "/admin/v1/partners/{partner_id}/sandbox-evidence",
            get(partners::sandbox_evidence),
        )
        .route("/admin/v1/partners/{partner_id}/sla", get(reports::sla))
        .route(
            "/admin/v1/partners/{partner_id}/grants",
            get(crate::grants::list),
        )
        .route(
            "/admin/v1/partners/{partner_id}/grants/{environment}",
            get(crate::grants::get).put(crate::grants::put),
        )
        .route(
            "/admin/v1/clients",
            get(list_clients).post(credentials::create),
        )
        .route("/admin/v1/clients/{client_id}", get(get_client))
        .route("/admin/v1/clients/{client_id}/revoke", post(revoke_client))
        .route(
            "/admin/v1/clients/{client_id}/rotate",
            post(credentials::rotate),
        )
        .route("/admin/v1/approvals", get(approvals::list))
        .route("/admin/v1/approvals/{approval_id}", get(approvals::get))
        .route(
            "/admin/v1/approvals/{approval_id}/approve",
            post(approvals::approve),
        )
        .route(
            "/admin/v1/approvals/{approval_id}/reject",
            post(approvals::reject),
        )
        .route("/admin/v1/reviews", get(reviews::list))
        .route("/admin/v1/reviews/{review_id}", get(reviews::get))
        .route(
            "/admin/v1/reviews/{review_id}/decisions",
            post(reviews::decide),
        )
        .route("/admin/v1/governance/sweep", post(reviews::sweep_now))
        .route("/admin/v1/reports/compliance", get(reports::compliance))
        .route("/admin/v1/audit/checkpoint", get(audit_api::checkpoint))
        .route(
            "/admin/v1/audit/proofs/inclusion",
            get(audit_api::inclusion),
        )
        .route(
            "/admin/v1/audit/proofs/consistency",
            get(audit_api::consistency),
        )
        .route("/admin/v1/audit/events", get(audit_api::events))
        .route("/admin/v1/alerts", get(monitor_api::list_alerts))
        .route("/admin/v1/alerts/{alert_id}", get(monitor_api::get_alert))
        .route(
            "/admin/v1/alerts/{alert_id}/acknowledge",
            post(monitor_api::acknowledge_alert),
        )
        .route(
            "/admin/v1/alerts/{alert_id}/close",
            post(monitor_api::close_alert),
        )
        .route(
            "/admin/v1/responses/{action_id}/revert",
            post(monitor_api::revert_response),
        )
        .route("/admin/v1/containment", get(monitor_api::containment))
        .route(
            "/admin/v1/incidents",
            get(monitor_api::list_incidents).post(monitor_api::open_incident),
        )
        .route(
            "/admin/v1/incidents/{incident_id}",
            get(monitor_api::get_incident),
        )
        .route(
            "/admin/v1/incidents/{incident_id}/updates",
            post(monitor_api::update_incident),
        )
        .route("/metrics", get(monitor_api::metrics))
        .fallback(not_found)
        .layer(axum::middleware::map_response(problems_only))
        .with_state(state.clone());
    (router, state)
}

/// The OpenAPI document of this API, as shipped (a test keeps it true to the router).
pub const OPENAPI_DOCUMENT: &str = include_str!("../openapi/admin-v1.json");

async fn openapi() -> impl axum::response::IntoResponse {
    (
        [(http::header::CONTENT_TYPE, "application/json")],
        OPENAPI_DOCUMENT,
    )
}

/// Extractor rejections (a malformed path or query, a bad JSON body) come from axum as
/// plain text; every admin error is answered as problem+json instead, with axum's message
/// as the detail.
async fn problems_only(response: axum::response::Response) -> axum::response::Response {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let detail = match axum::body::to_bytes(response.into_body(), 4096).await {
        Ok(bytes) if !bytes.is_empty() => String::from_utf8_lossy(&bytes).into_owned(),
        _ => status.canonical_reason().unwrap_or("error").to_string(),
    };
    let title = status.canonical_reason().unwrap_or("Error");
    axum::response::IntoResponse::into_response(ApiError::new(
        status,
        "invalid-request",
        title,
        detail,
    ))
}

pub(crate) const READERS: &[AdminRole] = &[
    AdminRole::Viewer,
    AdminRole::Auditor,
    AdminRole::Operator,
    AdminRole::Approver,
];
pub(crate) const OPERATORS: &[AdminRole] = &[AdminRole::Operator];

async fn not_found() -> ApiError {
    ApiError(portcullis_core::problem::Problem::not_found(
        "no admin operation at this path",
    ))
}

/// Unauthenticated, for load balancers: says only whether the store answers.
async fn health(State(state): State<Arc<AdminState>>) -> Result<Json<Value>, ApiError> {
    state.store().revision().await?;
    Ok(Json(json!({"status": "ok"})))
}

async fn list_partners(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
) -> Result<Json<Vec<Partner>>, ApiError> {
    admin.require(READERS)?;
    Ok(Json(state.store().list_partners().await?))
}

async fn get_partner(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
) -> Result<Json<Partner>, ApiError> {
    admin.require(READERS)?;
    Ok(Json(state.store().get_partner(&id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientFilter {
    partner_id: Option<String>,
}

async fn list_clients(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Query(filter): Query<ClientFilter>,
) -> Result<Json<Vec<Client>>, ApiError> {
    admin.require(READERS)?;
    Ok(Json(
        state
            .store()
            .list_clients(filter.partner_id.as_deref())
            .await?,
    ))
}

async fn get_client(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
) -> Result<Json<Client>, ApiError> {
    admin.require(READERS)?;
    Ok(Json(state.store().get_client(&id).await?))
}

/// Revokes a credential: the token endpoint refuses it and the gateways refuse every token
/// issued to it, from the next snapshot on.
async fn revoke_client(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
) -> Result<Json<Client>, ApiError> {
    admin.require(OPERATORS)?;
    state
        .store()
        .set_client_status(&id, CredentialStatus::Revoked)
        .await?;
    state.publish().await;
    state
        .record(
            &admin,
            EventKind::AdminChange,
            "credential.revoke",
            BTreeMap::from([("client_id".to_string(), id.clone())]),
        )
        .await?;
    tracing::info!(admin = %admin.0.name, client_id = %id, "credential revoked");
    Ok(Json(state.store().get_client(&id).await?))
}

#[cfg(test)]
mod tests;
