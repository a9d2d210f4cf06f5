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
use portcullis_audit::merkle::{consistency_proof, inclusion_proof, root_of};
use portcullis_audit::query::{query, to_cef, Filter};
use portcullis_audit::EventKind;
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
        (committed.last_checkpoint.clone(), committed.leaves.len())
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

/// A copy of the committed leaf hashes: proofs are computed without holding the lock the
/// writer needs.
fn committed_leaves(state: &AdminState) -> Vec<portcullis_audit::merkle::Hash> {
    state.audit().committed().leaves.clone()
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
    let body = {
        let leaves = committed_leaves(&state);
        if q.tree_size == 0 || q.tree_size > leaves.len() as u64 || q.index >= q.tree_size {
            return Err(bad(format!(
                "need index < tree_size <= {} (the entries committed)",
                leaves.len()
            )));
        }
        let tree = &leaves[..q.tree_size as usize];
        let proof = inclusion_proof(q.index as usize, tree).unwrap_or_default();
        json!({
            "index": q.index,
            "tree_size": q.tree_size,
            "leaf_hash": b64(&tree[q.index as usize]),
            "root": b64(&root_of(tree)),
            "proof": proof.iter().map(|h| b64(h)).collect::<Vec<_>>(),
        })
    };
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
    let body = {
        let leaves = committed_leaves(&state);
        if q.first == 0 || q.first > q.second || q.second > leaves.len() as u64 {
            return Err(bad(format!(
                "need 0 < first <= second <= {} (the entries committed)",
                leaves.len()
            )));
        }
        let tree = &leaves[..q.second as usize];
        let proof = consistency_proof(q.first as usize, tree).unwrap_or_default();
        json!({
            "first": q.first,
            "second": q.second,
            "first_root": b64(&root_of(&tree[..q.first as usize])),
            "second_root": b64(&root_of(tree)),
            "proof": proof.iter().map(|h| b64(h)).collect::<Vec<_>>(),
        })
    };
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
    filter.before_index = Some(state.audit().committed().leaves.len() as u64);
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
