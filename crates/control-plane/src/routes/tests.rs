//! The admin router in-process, against a real SQLite store: authentication, roles, and
//! problem+json for every kind of bad request.

use std::sync::Arc;

use axum::body::Body;
use http::{Request, StatusCode};
use portcullis_core::{AdminRole, AdminToken, Partner, PartnerStatus, SystemClock};
use portcullis_store::{AdminTokenStore, PartnerStore, SnapshotLoader, SqlStore, Store};
use serde_json::Value;

use super::router;
use crate::auth::hash_admin_token;

/// The directory comes first so it outlives the router (and its audit log) when dropped.
async fn setup() -> (tempfile::TempDir, axum::Router) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::connect(&format!("sqlite://{}", dir.path().join("s.db").display()))
        .await
        .unwrap();
    for (name, role) in [
        ("viewer", AdminRole::Viewer),
        ("operator", AdminRole::Operator),
        ("approver", AdminRole::Approver),
        ("auditor", AdminRole::Auditor),
    ] {
        let token = AdminToken {
            id: name.into(),
            name: name.into(),
            role,
            token_sha256: hash_admin_token(name),
            created_at: 0,
        };
        store.add_admin_token(&token).await.unwrap();
    }
    store
        .create_partner(&Partner {
            id: "p1".into(),
            name: "P1".into(),
            status: PartnerStatus::Production,
            risk_tier: Default::default(),
            created_at: 0,
        })
        .await
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    let loader = SnapshotLoader::start(store, Arc::new(SystemClock))
        .await
        .unwrap();
    let audit = portcullis_audit::AuditLog::open(portcullis_audit::AuditConfig::new(
        dir.path().join("audit"),
    ))
    .unwrap();
    (dir, router(loader, Arc::new(audit), Arc::new(SystemClock)))
}

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
) -> (StatusCode, String, Value) {
    call_with(app, method, uri, token, None).await
}

async fn call_with(
    app: &axum::Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (StatusCode, String, Value) {
    use tower_service::Service;
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let body = body
        .map(|b| Body::from(b.to_string()))
        .unwrap_or_else(Body::empty);
    let response = app.clone().call(req.body(body).unwrap()).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        content_type,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn roles_bound_what_a_token_may_do() {
    let (_dir, app) = setup().await;
    let (status, _, body) = call(&app, "GET", "/admin/v1/partners", Some("viewer")).await;
    assert_eq!(status, 200);
    assert_eq!(body[0]["id"], "p1");
    let suspend = r#"{"to": "suspended", "justification": "incident 42"}"#;
    let (status, ct, body) = call_with(
        &app,
        "POST",
        "/admin/v1/partners/p1/transitions",
        Some("viewer"),
        Some(suspend),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(ct, "application/problem+json");
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .contains("role viewer may read but not change"));
    let (status, _, body) = call_with(
        &app,
        "POST",
        "/admin/v1/partners/p1/transitions",
        Some("operator"),
        Some(suspend),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "suspended");
    let (status, ..) = call(&app, "GET", "/admin/v1/partners", Some("nobody")).await;
    assert_eq!(status, 401);
    let (status, ..) = call(&app, "GET", "/admin/v1/partners", None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn bad_requests_are_problem_json_never_5xx() {
    let (_dir, app) = setup().await;
    for (method, uri, expected) in [
        ("GET", "/admin/v1/clients?partner_id=p1&evil=1", 400),
        ("GET", "/admin/v1/partners/nope", 404),
        ("POST", "/admin/v1/clients/nope/revoke", 404),
        ("GET", "/admin/v1/nothing-here", 404),
        ("DELETE", "/admin/v1/partners", 405),
        ("GET", "/admin/v1/partners/%ff%fe", 400),
    ] {
        let (status, ct, body) = call(&app, method, uri, Some("operator")).await;
        assert_eq!(status.as_u16(), expected, "{method} {uri}: {body}");
        assert_eq!(ct, "application/problem+json", "{method} {uri}");
        assert_eq!(body["status"], expected, "{method} {uri}: {body}");
    }
}

/// The documented operations, as (method, path template).
fn documented() -> Vec<(String, String)> {
    operations().into_iter().map(|(m, p, _)| (m, p)).collect()
}

/// (method, path template, whether it takes a body).
fn operations() -> Vec<(String, String, bool)> {
    let doc: Value = serde_json::from_str(super::OPENAPI_DOCUMENT).unwrap();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let body = operation.get("requestBody").is_some();
            out.push((method.to_uppercase(), path.clone(), body));
        }
    }
    out
}

/// A template with its parameters filled in.
fn concrete(path: &str) -> String {
    path.replace("{partner_id}", "p1")
        .replace("{environment}", "sandbox")
        .replace("{client_id}", "c1")
        .replace("{approval_id}", "apr_1")
        .replace("{review_id}", "rev_1")
        .replace("{alert_id}", "al_1")
        .replace("{action_id}", "act_1")
        .replace("{incident_id}", "inc_1")
}

#[tokio::test]
async fn the_openapi_document_matches_the_router() {
    let (_dir, app) = setup().await;
    let documented = documented();
    // Every documented operation exists: it asks for a token (or, for the two public
    // ones, answers).
    for (method, path) in &documented {
        let (status, _, body) = call(&app, method, &concrete(path), None).await;
        let public = path.ends_with("/health") || path.ends_with("/openapi.json");
        let expected = if public { 200 } else { 401 };
        assert_eq!(status.as_u16(), expected, "{method} {path}: {body}");
    }
    // Every routed path is documented, with every method it answers.
    let source = include_str!("../routes.rs");
    let mut routed = 0;
    for (at, _) in source.match_indices(".route(") {
        let rest = &source[at..];
        let Some(path) = rest.split('"').nth(1) else {
            continue;
        };
        routed += 1;
        for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
            let (status, ..) = call(&app, method, &concrete(path), None).await;
            let is_documented = documented.iter().any(|(m, p)| m == method && p == path);
            assert_eq!(
                status != StatusCode::METHOD_NOT_ALLOWED,
                is_documented,
                "{method} {path}: routed and documented must agree"
            );
        }
    }
    assert!(routed >= 30, "found {routed} routes in routes.rs");
    let paths: std::collections::BTreeSet<_> = documented.iter().map(|(_, p)| p).collect();
    assert_eq!(
        paths.len(),
        routed,
        "documented paths and routed paths differ"
    );
}

#[tokio::test]
async fn hostile_bodies_get_4xx_problems_from_every_operation() {
    let (_dir, app) = setup().await;
    let hostile = [
        "{",
        "[]",
        "null",
        "\"text\"",
        r#"{"unknown_field": 1}"#,
        r#"{"to": 7, "justification": ["x"]}"#,
        &format!("{}1{}", "[".repeat(300), "]".repeat(300)),
        &format!(r#"{{"id": "{}", "name": "x"}}"#, "a".repeat(100_000)),
        r#"{"id": "../etc", "name": "\u0000"}"#,
    ];
    for (method, path, takes_body) in operations() {
        if !takes_body {
            continue;
        }
        for token in ["operator", "approver", "viewer"] {
            for body in hostile {
                let uri = concrete(&path);
                let (status, ct, problem) =
                    call_with(&app, &method, &uri, Some(token), Some(body)).await;
                assert!(
                    status.is_client_error(),
                    "{method} {uri} as {token} with {:.40}: {status} {problem}",
                    body
                );
                assert_eq!(ct, "application/problem+json", "{method} {uri}");
            }
        }
    }
}

#[tokio::test]
async fn read_only_roles_change_nothing_whatever_they_send() {
    let (_dir, app) = setup().await;
    for (method, path, _) in operations() {
        if method == "GET" {
            continue;
        }
        for token in ["viewer", "auditor"] {
            for body in [None, Some("{}"), Some("{")] {
                let uri = concrete(&path);
                let (status, _, problem) = call_with(&app, &method, &uri, Some(token), body).await;
                assert_eq!(status, 403, "{method} {uri} as {token}: {problem}");
            }
        }
    }
}
