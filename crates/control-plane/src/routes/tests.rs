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
            status: PartnerStatus::Active,
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
    use tower_service::Service;
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let response = app
        .clone()
        .call(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
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
    let (status, ct, body) = call(
        &app,
        "POST",
        "/admin/v1/partners/p1/suspend",
        Some("viewer"),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(ct, "application/problem+json");
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .contains("role viewer may not"));
    let (status, _, body) = call(
        &app,
        "POST",
        "/admin/v1/partners/p1/suspend",
        Some("operator"),
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
