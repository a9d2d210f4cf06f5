//! Reading the audit trail through the admin API: the latest signed checkpoint, inclusion
//! and consistency proofs, and filtered queries. Every read is itself an audit entry.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::StatusCode;
use portcullis_audit::query::{query, to_cef, Filter};
use portcullis_audit::EventKind;
use portcullis_audit::{ProofError, TreeView};
use portcullis_core::AdminRole;
use serde::Deserialize;
use serde_json::json;

use crate::auth::Admin;
use crate::error::ApiError;
use crate::routes::AdminState;

const AUDITORS: &[AdminRole] = &[AdminRole::Auditor];

fn b64(h: &[u8]) -> String {
    STANDARD.encode(h)
}

fn bad(detail: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid-request",
        "Bad Request",
        detail,
    )
}

pub async fn checkpoint(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    admin.require(AUDITORS)?;
    let (checkpoint, size) = {
        let committed = state.audit().committed();
        (committed.last_checkpoint.clone(), committed.tree.size())
    };
    state
        .record(
            &admin,
            EventKind::AuditRead,
            "audit.checkpoint",
            BTreeMap::new(),
        )
        .await?;
    let public_key = std::fs::read_to_string(
        state
            .audit()
            .dir()
            .join(portcullis_audit::checkpoint::PUBLIC_KEY_FILE),
    )
    .unwrap_or_default();
    Ok(Json(json!({
        "checkpoint": checkpoint,
        "entries": size,
        "public_key": public_key.trim(),
    })))
}

/// Computes a proof from a snapshot of the committed tree, off the async runtime: it reads
/// leaves back from the segment files.
async fn with_tree_view<T: Send + 'static>(
    state: &AdminState,
    prove: impl FnOnce(&TreeView) -> Result<T, ProofError> + Send + 'static,
) -> Result<T, ApiError> {
    let view = state.audit().tree_view();
    let proved = tokio::task::spawn_blocking(move || prove(&view))
        .await
        .map_err(|_| ProofError::Read("the proof task failed".into()));
    match proved.and_then(|r| r) {
        Ok(value) => Ok(value),
        Err(ProofError::OutOfRange(detail)) => Err(bad(detail)),
        Err(e @ ProofError::Read(_)) => {
            tracing::error!(error = %e, "audit proof failed");
            Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "audit-unreadable",
                "Audit Log Unreadable",
                e.to_string(),
            ))
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    index: u64,
    tree_size: u64,
}

pub async fn inclusion(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Query(q): Query<InclusionQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    admin.require(AUDITORS)?;
    let (index, tree_size) = (q.index, q.tree_size);
    let proof = with_tree_view(&state, move |view| view.inclusion(index, tree_size)).await?;
    let body = json!({
        "index": q.index,
        "tree_size": q.tree_size,
        "leaf_hash": b64(&proof.leaf),
        "root": b64(&proof.root),
        "proof": proof.path.iter().map(|h| b64(h)).collect::<Vec<_>>(),
    });
    let target = BTreeMap::from([
        ("index".to_string(), q.index.to_string()),
        ("tree_size".to_string(), q.tree_size.to_string()),
    ]);
    state
        .record(
            &admin,
            EventKind::AuditRead,
            "audit.proof.inclusion",
            target,
        )
        .await?;
    Ok(Json(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    first: u64,
    second: u64,
}

pub async fn consistency(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Query(q): Query<ConsistencyQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    admin.require(AUDITORS)?;
    let (first, second) = (q.first, q.second);
    let proof = with_tree_view(&state, move |view| view.consistency(first, second)).await?;
    let body = json!({
        "first": q.first,
        "second": q.second,
        "first_root": b64(&proof.first_root),
        "second_root": b64(&proof.second_root),
        "proof": proof.path.iter().map(|h| b64(h)).collect::<Vec<_>>(),
    });
    let target = BTreeMap::from([
        ("first".to_string(), q.first.to_string()),
        ("second".to_string(), q.second.to_string()),
    ]);
    state
        .record(
            &admin,
            EventKind::AuditRead,
            "audit.proof.consistency",
            target,
        )
        .await?;
    Ok(Json(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    partner_id: Option<String>,
    client_id: Option<String>,
    action: Option<String>,
    kind: Option<String>,
    from_ms: Option<i64>,
    to_ms: Option<i64>,
    limit: Option<usize>,
    /// `json` (default), `jsonl` or `cef`.
    format: Option<String>,
}

pub async fn events(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Query(q): Query<EventsQuery>,
) -> Result<Response, ApiError> {
    admin.require(AUDITORS)?;
    let format = q.format.clone().unwrap_or_else(|| "json".into());
    if !matches!(format.as_str(), "json" | "jsonl" | "cef") {
        return Err(bad(format!("format {format:?}: use json, jsonl or cef")));
    }
    let filter = Filter {
        partner_id: q.partner_id,
        client_id: q.client_id,
        action: q.action,
        kind: q.kind,
        from_ms: q.from_ms,
        to_ms: q.to_ms,
        limit: q.limit,
        before_index: None,
    };
    let mut target = BTreeMap::new();
    for (k, v) in [
        ("partner_id", &filter.partner_id),
        ("client_id", &filter.client_id),
        ("action", &filter.action),
        ("kind", &filter.kind),
    ] {
        if let Some(v) = v {
            target.insert(k.to_string(), v.clone());
        }
    }
    // The read is recorded before it is answered, like every access.
    state
        .record(&admin, EventKind::AuditRead, "audit.events", target)
        .await?;
    let dir = state.audit().dir().to_path_buf();
    let mut filter = filter;
    filter.before_index = Some(state.audit().committed_size());
    let entries = tokio::task::spawn_blocking(move || query(&dir, &filter))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "audit-unavailable",
                "Service Unavailable",
                "the audit query did not complete",
            )
        })?
        .map_err(|e| {
            tracing::error!(error = %e, "audit query failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "audit-unavailable",
                "Service Unavailable",
                "the audit log could not be read; run portcullis audit verify",
            )
        })?;
    Ok(match format.as_str() {
        "json" => Json(entries).into_response(),
        "jsonl" => {
            let text: String = entries
                .iter()
                .filter_map(|e| serde_json::to_string(e).ok())
                .map(|l| l + "\n")
                .collect();
            ([(http::header::CONTENT_TYPE, "application/jsonl")], text).into_response()
        }
        _ => {
            let text: String = entries.iter().map(|e| to_cef(e) + "\n").collect();
            (
                [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                text,
            )
                .into_response()
        }
    })
}
