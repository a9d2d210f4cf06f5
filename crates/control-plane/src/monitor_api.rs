//! Monitoring through the admin API: alerts (list, acknowledge, close), the automated
//! responses in force and their reversal, incidents and their timeline, and Prometheus
//! metrics. Every change is an audit entry, like any other administrator's action.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::StatusCode;
use portcullis_audit::EventKind;
use portcullis_core::model::CredentialStatus;
use portcullis_monitor::detect::AccessHours;
use portcullis_monitor::incident::{Incident, IncidentUpdate};
use portcullis_monitor::{
    AlertFilter, AlertKind, AlertStatus, Monitor, MonitorError, Responder, Severity,
};
use portcullis_store::SnapshotLoader;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Admin;
use crate::error::ApiError;
use crate::routes::{AdminState, OPERATORS, READERS};

/// Suspends and reinstates credentials in the store for the monitor's playbooks, and reads
/// the contracts' access hours.
pub struct StoreResponder {
    loader: Arc<SnapshotLoader>,
}

impl StoreResponder {
    pub fn new(loader: Arc<SnapshotLoader>) -> Self {
        Self { loader }
    }

    async fn move_credential(
        &self,
        client_id: &str,
        from: CredentialStatus,
        to: CredentialStatus,
    ) -> Result<(), String> {
        let store = self.loader.store();
        let client = store
            .get_client(client_id)
            .await
            .map_err(|e| e.to_string())?;
        if client.status != from {
            return Err(format!(
                "credential {client_id} is {}, not {}; left as it is",
                client.status.as_str(),
                from.as_str()
            ));
        }
        store
            .set_client_status(client_id, to)
            .await
            .map_err(|e| e.to_string())?;
        // The gateways refuse it from their next request on.
        self.loader.reload().await.map_err(|e| e.to_string())
    }
}

#[async_trait]
impl Responder for StoreResponder {
    async fn suspend_credential(&self, client_id: &str) -> Result<(), String> {
        self.move_credential(
            client_id,
            CredentialStatus::Active,
            CredentialStatus::Suspended,
        )
        .await
    }

    async fn reinstate_credential(&self, client_id: &str) -> Result<(), String> {
        self.move_credential(
            client_id,
            CredentialStatus::Suspended,
            CredentialStatus::Active,
        )
        .await
    }

    async fn access_hours(&self) -> HashMap<String, AccessHours> {
        let Ok(contracts) = self.loader.store().list_documents("contract").await else {
            return HashMap::new();
        };
        contracts
            .into_iter()
            .filter_map(|c| {
                let hours = c.document.get("access_hours_utc")?.as_str()?;
                Some((c.partner_id, AccessHours::parse(hours).ok()?))
            })
            .collect()
    }
}

fn monitor(state: &AdminState) -> Result<&Arc<Monitor>, ApiError> {
    state.monitor().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "monitoring-off",
            "Not Found",
            "monitoring is off in this deployment ([monitor] enabled = false)",
        )
    })
}

impl From<MonitorError> for ApiError {
    fn from(e: MonitorError) -> Self {
        let (status, kind) = match &e {
            MonitorError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found"),
            MonitorError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            MonitorError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid-request"),
            MonitorError::Failed(_) => (StatusCode::INTERNAL_SERVER_ERROR, "monitor-failed"),
        };
        let title = status.canonical_reason().unwrap_or("Error");
        ApiError::new(status, kind, title, e.to_string())
    }
}

fn bad(detail: String) -> ApiError {
    ApiError::bad_request("invalid-request", detail)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    status: Option<String>,
    kind: Option<String>,
    partner_id: Option<String>,
    min_severity: Option<String>,
    since_ms: Option<i64>,
    limit: Option<usize>,
}

fn parse_severity(text: &str) -> Result<Severity, ApiError> {
    serde_json::from_value(json!(text)).map_err(|_| {
        bad(format!(
            "min_severity {text:?} is not one of low, medium, high, critical"
        ))
    })
}

pub async fn list_alerts(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Query(q): Query<AlertQuery>,
) -> Result<Json<Value>, ApiError> {
    admin.require(READERS)?;
    let monitor = monitor(&state)?;
    let status = match q.status.as_deref() {
        None => None,
        Some("open") => Some(AlertStatus::Open),
        Some("acknowledged") => Some(AlertStatus::Acknowledged),
        Some("closed") => Some(AlertStatus::Closed),
        Some(other) => {
            return Err(bad(format!(
                "status {other:?} is not one of open, acknowledged, closed"
            )))
        }
    };
    let kind = match q.kind.as_deref() {
        None => None,
        Some(k) => Some(AlertKind::parse(k).ok_or_else(|| {
            let known: Vec<&str> = AlertKind::ALL.iter().map(|k| k.as_str()).collect();
            bad(format!("kind {k:?} is not one of {}", known.join(", ")))
        })?),
    };
    let min_severity = q.min_severity.as_deref().map(parse_severity).transpose()?;
    if q.limit.is_some_and(|l| l == 0 || l > 1000) {
        return Err(bad("limit must be between 1 and 1000".into()));
    }
    let alerts = monitor.list_alerts(&AlertFilter {
        status,
        kind,
        partner_id: q.partner_id,
        min_severity,
        since_ms: q.since_ms,
        limit: q.limit.unwrap_or(100),
    });
    Ok(Json(json!({ "alerts": alerts })))
}

pub async fn get_alert(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    admin.require(READERS)?;
    Ok(Json(json!(monitor(&state)?.alert(&id)?)))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    note: Option<String>,
}

async fn move_alert(
    admin: Admin,
    state: &AdminState,
    id: &str,
    to: AlertStatus,
    note: Option<String>,
) -> Result<Json<Value>, ApiError> {
    admin.require(OPERATORS)?;
    if note.as_ref().is_some_and(|n| n.len() > 4000) {
        return Err(bad("note is longer than 4000 characters".into()));
    }
    let alert = monitor(state)?.set_alert_status(id, to, &admin.0.name, note)?;
    let target = BTreeMap::from([
        ("alert_id".to_string(), id.to_string()),
        ("kind".to_string(), alert.kind.as_str().to_string()),
    ]);
    let action = format!("alert.{}", to.as_str());
    state
        .record(&admin, EventKind::AdminChange, &action, target)
        .await?;
    Ok(Json(json!(alert)))
}

pub async fn acknowledge_alert(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    Json(body): Json<NoteBody>,
) -> Result<Json<Value>, ApiError> {
    move_alert(admin, &state, &id, AlertStatus::Acknowledged, body.note).await
}

pub async fn close_alert(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    Json(body): Json<NoteBody>,
) -> Result<Json<Value>, ApiError> {
    move_alert(admin, &state, &id, AlertStatus::Closed, body.note).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevertBody {
    justification: String,
}

/// Undoes an automated response: lifts a block or a throttle, reinstates a credential.
pub async fn revert_response(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    Json(body): Json<RevertBody>,
) -> Result<Json<Value>, ApiError> {
    admin.require(OPERATORS)?;
    crate::governance::approvals::require_justification(
        &body.justification,
        "say why the automated response is being undone",
    )?;
    let (alert, action) = monitor(&state)?.revert(&id, &admin.0.name).await?;
    let target = BTreeMap::from([
        ("action_id".to_string(), id.clone()),
        ("alert_id".to_string(), alert.id.clone()),
        ("action".to_string(), action.action.clone()),
        ("target".to_string(), action.target.clone()),
        ("justification".to_string(), body.justification),
    ]);
    state
        .record(&admin, EventKind::AdminChange, "monitor.revert", target)
        .await?;
    Ok(Json(json!({ "alert": alert, "reverted": action })))
}

pub async fn containment(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
) -> Result<Json<Value>, ApiError> {
    admin.require(READERS)?;
    let monitor = monitor(&state)?;
    Ok(Json(json!(monitor
        .guard()
        .containment(state.clock().now_ms()))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentQuery {
    #[serde(default)]
    open: bool,
}

pub async fn list_incidents(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Query(q): Query<IncidentQuery>,
) -> Result<Json<Value>, ApiError> {
    admin.require(READERS)?;
    Ok(Json(
        json!({ "incidents": monitor(&state)?.list_incidents(q.open) }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewIncident {
    title: String,
    severity: Severity,
    #[serde(default)]
    alert_ids: Vec<String>,
}

pub async fn open_incident(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Json(body): Json<NewIncident>,
) -> Result<(StatusCode, Json<Incident>), ApiError> {
    admin.require(OPERATORS)?;
    if body.title.trim().is_empty() || body.title.len() > 500 {
        return Err(bad("title must be 1 to 500 characters".into()));
    }
    let incident =
        monitor(&state)?.open_incident(body.title, body.severity, body.alert_ids, &admin.0.name)?;
    let target = BTreeMap::from([("incident_id".to_string(), incident.id.clone())]);
    state
        .record(&admin, EventKind::AdminChange, "incident.open", target)
        .await?;
    Ok((StatusCode::CREATED, Json(incident)))
}

/// One incident, whole: the JSON export.
pub async fn get_incident(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
) -> Result<Json<Incident>, ApiError> {
    admin.require(READERS)?;
    Ok(Json(monitor(&state)?.incident(&id)?))
}

pub async fn update_incident(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    Json(update): Json<IncidentUpdate>,
) -> Result<Json<Incident>, ApiError> {
    admin.require(OPERATORS)?;
    let stage = update.stage.clone().unwrap_or_else(|| "details".into());
    let incident = monitor(&state)?.update_incident(&id, update, &admin.0.name)?;
    let target = BTreeMap::from([
        ("incident_id".to_string(), id.clone()),
        ("stage".to_string(), stage),
    ]);
    state
        .record(&admin, EventKind::AdminChange, "incident.update", target)
        .await?;
    Ok(Json(incident))
}

/// Prometheus text exposition; scrapers send an admin token like any client.
pub async fn metrics(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
) -> Result<Response, ApiError> {
    admin.require(READERS)?;
    let text = monitor(&state)?.render_metrics();
    Ok((
        [(
            http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}
