//! Reports from real traffic and the governance record: the SLA report of one partner, and
//! the compliance report of the whole programme (JSON, or an HTML page for people).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use portcullis_core::governance::{ApprovalKind, ApprovalStatus, ReviewStatus};
use portcullis_core::{AdminRole, Environment};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::{Date, Month};

use super::evidence::{day_of, parse_date, start_of, Contract};
use super::lifecycle::load;
use super::traffic::{summarize, usage_by_partner, Counting};
use crate::auth::Admin;
use crate::error::ApiError;
use crate::routes::{AdminState, READERS};

const AUDITORS: &[AdminRole] = &[AdminRole::Auditor];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodQuery {
    from: Option<String>,
    to: Option<String>,
    format: Option<String>,
}

/// `[from, to)` as days; by default the current UTC month so far (to tomorrow).
fn period(state: &AdminState, q: &PeriodQuery) -> Result<(Date, Date), ApiError> {
    let today = day_of(state.clock().now());
    let from = match &q.from {
        Some(text) => {
            parse_date("from", text).map_err(|e| ApiError::bad_request("invalid-request", e))?
        }
        None => today.replace_day(1).unwrap_or(today),
    };
    let to = match &q.to {
        Some(text) => {
            parse_date("to", text).map_err(|e| ApiError::bad_request("invalid-request", e))?
        }
        None => today.next_day().unwrap_or(today),
    };
    if to <= from {
        return Err(ApiError::bad_request(
            "invalid-request",
            format!("to: {to} is not after from {from}; the period is [from, to)"),
        ));
    }
    if (to - from).whole_days() > 3660 {
        return Err(ApiError::bad_request(
            "invalid-request",
            "to: the period may span at most 3660 days",
        ));
    }
    Ok((from, to))
}

#[derive(Debug, Serialize)]
struct Met {
    availability: Option<bool>,
    latency_p95: Option<bool>,
    quota_per_day: Option<bool>,
    quota_per_month: Option<bool>,
}

/// The SLA report of a partner's production traffic over a period, against its contract.
pub async fn sla(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    Query(q): Query<PeriodQuery>,
) -> Result<Json<Value>, ApiError> {
    admin.require(READERS)?;
    state.store().get_partner(&id).await?;
    let (from, to) = period(&state, &q)?;
    let contract = load::<Contract>(&state, &id).await?.ok_or_else(|| {
        ApiError::conflict(
            "no-contract",
            format!("{id} has no contract; record one (PUT /admin/v1/partners/{id}/contract) to measure against"),
        )
    })?;
    // Only the part of the period the contract covers (its end day included).
    let starts = parse_date("starts_on", &contract.starts_on).unwrap_or(from);
    let ends = parse_date("ends_on", &contract.ends_on)
        .ok()
        .and_then(|d| d.next_day())
        .unwrap_or(to);
    let (from, to) = (from.max(starts), to.min(ends).max(from.max(starts)));
    let t = summarize(
        &state,
        &id,
        Environment::Production,
        (Some(start_of(from) * 1000), Some(start_of(to) * 1000)),
        Counting::Served,
    )
    .await?;
    let availability =
        (t.requests > 0).then(|| (t.requests - t.server_errors) as f64 * 100.0 / t.requests as f64);
    let p95 = t.latency_p95_ms();
    let busiest_day = t
        .per_day
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(d, n)| (*d, *n));
    let mut per_month: BTreeMap<(i32, Month), u64> = BTreeMap::new();
    for (day, n) in &t.per_day {
        *per_month.entry((day.year(), day.month())).or_default() += n;
    }
    let busiest_month = per_month.values().copied().max();
    let met = Met {
        availability: availability.map(|a| a >= contract.availability_target_percent),
        latency_p95: p95.map(|p| p <= contract.latency_p95_ms_target as f64),
        quota_per_day: contract
            .quota_per_day
            .map(|q| busiest_day.is_none_or(|(_, n)| n <= q)),
        quota_per_month: contract
            .quota_per_month
            .map(|q| busiest_month.is_none_or(|n| n <= q)),
    };
    Ok(Json(json!({
        "partner_id": id,
        "environment": "production",
        "from": from.to_string(),
        "to": to.to_string(),
        "requests": t.requests,
        "server_errors": t.server_errors,
        "availability_percent": availability,
        "latency_p95_ms": p95,
        "quota": {
            "per_day_limit": contract.quota_per_day,
            "busiest_day": busiest_day.map(|(d, _)| d.to_string()),
            "busiest_day_requests": busiest_day.map(|(_, n)| n),
            "per_month_limit": contract.quota_per_month,
            "busiest_month_requests": busiest_month,
        },
        "targets": {
            "availability_target_percent": contract.availability_target_percent,
            "latency_p95_ms_target": contract.latency_p95_ms_target,
        },
        "contract": {"starts_on": contract.starts_on, "ends_on": contract.ends_on},
        "met": met,
    })))
}

/// Which partners had which access in a period, granted when and by whose approval,
/// reviewed when, used how much.
pub async fn compliance(
    admin: Admin,
    State(state): State<Arc<AdminState>>,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, ApiError> {
    admin.require(AUDITORS)?;
    let html = match q.format.as_deref() {
        None | Some("json") => false,
        Some("html") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid-request",
                format!("format: {other:?}; use json or html"),
            ))
        }
    };
    let (from, to) = period(&state, &q)?;
    let (from_s, to_s) = (start_of(from), start_of(to));
    let store = state.store();
    let usage = usage_by_partner(&state, from_s * 1000, to_s * 1000).await?;
    let approvals = store.list_approvals(None, None).await?;
    let reviews = store.list_reviews(None, None).await?;
    let grants = store.list_grants(None).await?;
    let clients = store.list_clients(None).await?;
    let mut partners = Vec::new();
    for p in store.list_partners().await? {
        let grant_rows: Vec<Value> = grants
            .iter()
            .filter(|g| g.partner_id == p.id)
            .map(|g| {
                // The approval that set this grant as it stands, if it went through one.
                let approved = approvals
                    .iter()
                    .filter(|a| {
                        a.partner_id == p.id
                            && a.kind == ApprovalKind::Grant
                            && a.status == ApprovalStatus::Approved
                            && a.change.get("environment").and_then(Value::as_str)
                                == Some(g.environment.as_str())
                    })
                    // The one applied last is the one that set the grant as it stands
                    // (a later access review may have reduced it since; see reviews).
                    .max_by_key(|a| a.decided_at);
                json!({
                    "environment": g.environment,
                    "scopes": g.scopes,
                    "justifications": g.justifications,
                    "valid_from": g.policy.valid_from,
                    "valid_until": g.policy.valid_until,
                    "requested_by": approved.map(|a| a.requested_by.clone()),
                    "approved_by": approved.and_then(|a| a.decided_by.clone()),
                    "approved_at": approved.and_then(|a| a.decided_at),
                    "approval_id": approved.map(|a| a.id.clone()),
                })
            })
            .collect();
        let decisions: Vec<Value> = approvals
            .iter()
            .filter(|a| a.partner_id == p.id)
            .filter(|a| a.decided_at.is_some_and(|t| t >= from_s && t < to_s))
            .map(|a| {
                json!({
                    "id": a.id, "kind": a.kind, "status": a.status, "change": a.change,
                    "requested_by": a.requested_by, "requested_at": a.requested_at,
                    "justification": a.justification, "decided_by": a.decided_by,
                    "decided_at": a.decided_at, "decision_justification": a.decision_justification,
                })
            })
            .collect();
        let partner_reviews: Vec<Value> = reviews
            .iter()
            .filter(|r| r.partner_id == p.id)
            .filter(|r| {
                r.status == ReviewStatus::Open
                    || r.completed_at.is_some_and(|t| t >= from_s && t < to_s)
            })
            .map(|r| serde_json::to_value(r).unwrap_or(Value::Null))
            .collect();
        let credentials: Vec<Value> = clients
            .iter()
            .filter(|c| c.partner_id == p.id)
            .map(|c| {
                json!({
                    "client_id": c.client_id, "environment": c.environment, "status": c.status,
                    "created_at": c.created_at, "expires_at": c.expires_at,
                    "last_used_at": c.last_used_at,
                })
            })
            .collect();
        let used = |env| usage.get(&(p.id.clone(), env)).copied().unwrap_or_default();
        partners.push(json!({
            "id": p.id, "name": p.name, "status": p.status, "risk_tier": p.risk_tier,
            "grants": grant_rows,
            "approvals_decided": decisions,
            "reviews": partner_reviews,
            "credentials": credentials,
            "usage": {"production": used(Environment::Production), "sandbox": used(Environment::Sandbox)},
        }));
    }
    let report = json!({
        "from": from.to_string(),
        "to": to.to_string(),
        "generated_at": state.clock().now(),
        "generated_by": admin.0.name,
        "partners": partners,
    });
    state
        .record(
            &admin,
            portcullis_audit::EventKind::AuditRead,
            "report.compliance",
            BTreeMap::from([
                ("from".to_string(), from.to_string()),
                ("to".to_string(), to.to_string()),
            ]),
        )
        .await?;
    if html {
        return Ok(Html(render_html(&report)).into_response());
    }
    Ok(Json(report).into_response())
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A JSON value as table-cell text: strings bare, null empty, the rest compact JSON.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => escape(s),
        Value::Array(items) if items.iter().all(Value::is_string) => escape(
            &items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        other => escape(&other.to_string()),
    }
}

fn table(out: &mut String, rows: &[Value], columns: &[&str]) {
    if rows.is_empty() {
        out.push_str("<p class=none>none</p>\n");
        return;
    }
    out.push_str("<table><tr>");
    for c in columns {
        let _ = write!(out, "<th>{}</th>", escape(c));
    }
    out.push_str("</tr>\n");
    for row in rows {
        out.push_str("<tr>");
        for c in columns {
            let _ = write!(out, "<td>{}</td>", cell(&row[*c]));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// The report as a self-contained page; every value from the record is escaped.
fn render_html(report: &Value) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8><title>Portcullis compliance report {from} to {to}</title>\
         <style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin:.5em 0 1.5em}}\
         td,th{{border:1px solid #999;padding:.25em .5em;text-align:left;vertical-align:top}}th{{background:#eee}}.none{{color:#777}}</style></head><body>\n\
         <h1>Compliance report</h1>\n<p>Period {from} (inclusive) to {to} (exclusive), generated at {at} (Unix seconds) by {by}.</p>\n",
        from = cell(&report["from"]),
        to = cell(&report["to"]),
        at = cell(&report["generated_at"]),
        by = cell(&report["generated_by"]),
    );
    for p in report["partners"].as_array().into_iter().flatten() {
        let _ = write!(
            out,
            "<h2>{} ({})</h2>\n<p>Status <b>{}</b>, risk tier {}. Requests in the period: production {}, sandbox {}.</p>\n",
            cell(&p["name"]),
            cell(&p["id"]),
            cell(&p["status"]),
            cell(&p["risk_tier"]),
            cell(&p["usage"]["production"]["requests"]),
            cell(&p["usage"]["sandbox"]["requests"]),
        );
        out.push_str("<h3>Access</h3>\n");
        table(
            &mut out,
            p["grants"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default(),
            &[
                "environment",
                "scopes",
                "justifications",
                "requested_by",
                "approved_by",
                "approved_at",
                "approval_id",
            ],
        );
        out.push_str("<h3>Decisions in the period</h3>\n");
        table(
            &mut out,
            p["approvals_decided"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default(),
            &[
                "id",
                "kind",
                "status",
                "requested_by",
                "decided_by",
                "decided_at",
                "decision_justification",
            ],
        );
        out.push_str("<h3>Access reviews</h3>\n");
        table(
            &mut out,
            p["reviews"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default(),
            &[
                "id",
                "status",
                "due_at",
                "completed_at",
                "reviewer",
                "decisions",
            ],
        );
        out.push_str("<h3>Credentials</h3>\n");
        table(
            &mut out,
            p["credentials"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default(),
            &[
                "client_id",
                "environment",
                "status",
                "created_at",
                "expires_at",
                "last_used_at",
            ],
        );
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_escapes_everything_from_the_record() {
        let report = json!({
            "from": "2026-01-01", "to": "2026-02-01", "generated_at": 1, "generated_by": "a<b",
            "partners": [{"id": "p", "name": "<script>alert(1)</script>", "status": "production",
              "risk_tier": "high", "usage": {"production": {"requests": 3}, "sandbox": {"requests": 0}},
              "grants": [{"environment": "production", "scopes": ["accounts:read"], "justifications": {"accounts:read": "\"x\" & y"}}],
              "approvals_decided": [], "reviews": [], "credentials": []}]
        });
        let html = render_html(&report);
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("a&lt;b"));
        assert!(html.contains("&quot;"));
        assert!(html.contains("<td>accounts:read</td>"));
    }
}
