//! The audit trail seen from outside: every request through the real listeners leaves an
//! entry with who, what, decision and reason; admin changes and audit reads are recorded;
//! no secret is ever written; proofs check against the signed checkpoint.

mod common;

use std::collections::HashMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use common::*;
use http_body_util::Full;
use portcullis_audit::merkle::{verify_consistency, verify_inclusion, Hash};
use portcullis_core::Environment::Production;
use serde_json::{json, Value};

fn request_id(r: &http::Response<Bytes>) -> String {
    r.headers()["x-request-id"].to_str().unwrap().to_string()
}

async fn admin_get(h: &Harness, path_and_query: &str) -> http::Response<Bytes> {
    let req = http::Request::get(format!("{}{path_and_query}", h.s("/admin_url")))
        .header("authorization", format!("Bearer {}", h.s("/admin_token")))
        .body(Full::new(Bytes::new()))
        .unwrap();
    h.client(None).send(req).await.unwrap()
}

fn hash(v: &Value) -> Hash {
    STANDARD
        .decode(v.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

#[tokio::test]
async fn every_request_is_recorded_with_its_decision() {
    let h = Harness::start().await;
    let account = h.s("/sample/account_id");
    let finch = h.token_jwt(FINCH, Production).await;
    let mut expected: HashMap<String, (&str, &str, &str, u16)> = HashMap::new();

    let r = h
        .get(
            Production,
            &format!("/accounts/{account}/balances"),
            Some(&finch),
            None,
        )
        .await;
    expected.insert(request_id(&r), ("gateway_request", "allow", "allowed", 200));
    let r = h
        .get(
            Production,
            &format!("/accounts/{account}/transactions"),
            Some(&finch),
            None,
        )
        .await;
    expected.insert(
        request_id(&r),
        ("gateway_request", "deny", "insufficient_scope", 403),
    );
    let r = h.get(Production, "/accounts", None, None).await;
    expected.insert(
        request_id(&r),
        ("gateway_request", "deny", "missing_token", 401),
    );
    let r = h
        .get(Production, "/accounts", Some("e30.e30.e30"), None)
        .await;
    expected.insert(
        request_id(&r),
        ("gateway_request", "deny", "malformed", 401),
    );
    let r = h
        .token_response_jwt(
            Production,
            h.assertion(FINCH, Production, json!({"aud": "https://x"})),
            &[],
        )
        .await;
    expected.insert(
        request_id(&r),
        ("token_refused", "deny", "invalid_client", 401),
    );
    let r = h
        .token_response_jwt(Production, h.assertion(FINCH, Production, json!({})), &[])
        .await;
    expected.insert(request_id(&r), ("token_issued", "allow", "allowed", 200));
    let form = [("client_id", ACME.to_string()), ("token", finch.clone())];
    let r = h
        .post_form(Production, "/oauth2/introspect", &form, Some(ACME))
        .await;
    expected.insert(
        request_id(&r),
        ("token_introspected", "allow", "allowed", 200),
    );

    let r = admin_get(&h, "/admin/v1/audit/events?limit=1000").await;
    assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(r.body()));
    let entries = json_body(&r);
    let by_request: HashMap<String, &Value> = entries
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| Some((e["request_id"].as_str()?.to_string(), e)))
        .collect();
    for (id, (kind, decision, reason, status)) in &expected {
        let e = by_request
            .get(id)
            .unwrap_or_else(|| panic!("no audit entry for request {id} ({kind} {reason})"));
        assert_eq!(e["kind"], *kind, "{e}");
        assert_eq!(e["decision"], *decision, "{e}");
        assert_eq!(e["reason"], *reason, "{e}");
        assert_eq!(e["status"], *status, "{e}");
        assert_eq!(e["environment"], "production", "{e}");
        assert_eq!(e["source_ip"], "127.0.0.1", "{e}");
    }
    let allowed = by_request
        .values()
        .find(|e| e["status"] == 200 && e["kind"] == "gateway_request")
        .unwrap();
    assert_eq!(
        allowed["actor"],
        json!({"partner_id": "finch-lending", "client_id": FINCH})
    );
    assert_eq!(allowed["action"], "getAccountBalances");
    assert_eq!(allowed["target"], json!({"account_id": account}));

    // Filters; and the read just made is itself in the trail.
    let r = admin_get(
        &h,
        &format!("/admin/v1/audit/events?client_id={FINCH}&kind=token_issued"),
    )
    .await;
    let issued = json_body(&r);
    assert!(issued
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["kind"] == "token_issued" && e["actor"]["client_id"] == FINCH));
    assert!(!issued.as_array().unwrap().is_empty());
    let r = admin_get(&h, "/admin/v1/audit/events?kind=audit_read").await;
    let reads = json_body(&r);
    assert!(reads
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "audit.events" && e["actor"]["admin"] == "bootstrap"));
    let r = admin_get(
        &h,
        "/admin/v1/audit/events?kind=gateway_request&format=cef&limit=3",
    )
    .await;
    let cef = String::from_utf8_lossy(r.body()).to_string();
    assert_eq!(cef.lines().count(), 3, "{cef}");
    assert!(
        cef.lines()
            .all(|l| l.starts_with("CEF:0|Portcullis|Portcullis|")),
        "{cef}"
    );
    h.stop().await;
}

/// An answer whose entry the log cannot take (here the log is closed under the running
/// gateway) is withheld: 503 with Retry-After and the request's own id, and nothing of
/// the upstream's answer, though the upstream was called.
#[tokio::test]
async fn an_answer_whose_entry_cannot_be_recorded_is_withheld() {
    let h = Harness::start().await;
    let account = h.s("/sample/account_id");
    let finch = h.token_jwt(FINCH, Production).await;
    let path = format!("/accounts/{account}/balances");
    let recorded = h.get(Production, &path, Some(&finch), None).await;
    assert_eq!(recorded.status(), 200);
    assert!(String::from_utf8_lossy(recorded.body()).contains("Balance"));

    h.running().audit.close();
    let r = h.get(Production, &path, Some(&finch), None).await;
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(!r.headers()["x-fapi-interaction-id"].is_empty());
    let body = json_body(&r);
    assert_eq!(
        body["type"], "urn:portcullis:problem:audit-unavailable",
        "{body}"
    );
    let id = request_id(&r);
    assert_eq!(body["request_id"], id.as_str());
    assert!(
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );
    assert_ne!(id, request_id(&recorded));
    assert!(
        !String::from_utf8_lossy(r.body()).contains("Balance"),
        "{body}"
    );
    h.stop().await;
}

#[tokio::test]
async fn admin_changes_are_recorded_and_secrets_never_are() {
    let h = Harness::start().await;
    let finch = h.token_jwt(FINCH, Production).await;
    let acme = h.token_mtls(ACME).await;
    let assertion = h.assertion(FINCH, Production, json!({}));
    h.token_response_jwt(Production, assertion.clone(), &[])
        .await;
    assert_eq!(
        h.status(Production, "/accounts", Some(&finch), None).await,
        200
    );
    let req = http::Request::post(format!(
        "{}/admin/v1/clients/{FINCH}/revoke",
        h.s("/admin_url")
    ))
    .header("authorization", format!("Bearer {}", h.s("/admin_token")))
    .body(Full::new(Bytes::new()))
    .unwrap();
    assert_eq!(h.client(None).send(req).await.unwrap().status(), 200);

    let r = admin_get(
        &h,
        "/admin/v1/audit/events?kind=admin_change&action=credential.revoke",
    )
    .await;
    let changes = json_body(&r);
    let change = &changes.as_array().unwrap()[0];
    assert_eq!(change["action"], "credential.revoke");
    assert_eq!(change["actor"]["admin"], "bootstrap");
    assert_eq!(change["target"], json!({"client_id": FINCH}));

    let audit_dir = h.dir.path().canonicalize().unwrap().join("audit");
    let mut everything = Vec::new();
    for entry in std::fs::read_dir(&audit_dir).unwrap() {
        everything.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let text = String::from_utf8_lossy(&everything);
    for (name, secret) in [
        ("finch token", finch.as_str()),
        ("acme token", &acme),
        ("client assertion", &assertion),
        ("admin token", &h.s("/admin_token")),
    ] {
        // Any distinctive slice of the secret is enough to leak it.
        let probe = &secret[secret.len() - 24..];
        assert!(!text.contains(probe), "the {name} appears in the audit log");
    }
    h.stop().await;
}

#[tokio::test]
async fn proofs_from_the_admin_api_check_against_the_signed_checkpoint() {
    let h = Harness::start().await;
    let finch = h.token_jwt(FINCH, Production).await;
    for _ in 0..6 {
        h.get(Production, "/accounts", Some(&finch), None).await;
    }
    // Wait for a checkpoint covering the traffic (interval: 1 s).
    let mut checkpoint = Value::Null;
    for _ in 0..60 {
        checkpoint = json_body(&admin_get(&h, "/admin/v1/audit/checkpoint").await);
        if checkpoint["checkpoint"]["tree_size"].as_u64().unwrap_or(0) >= 7 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let cp = &checkpoint["checkpoint"];
    let size = cp["tree_size"].as_u64().unwrap();
    assert!(size >= 7, "{checkpoint}");
    // The checkpoint's signature checks with the published key.
    let public_key = STANDARD
        .decode(checkpoint["public_key"].as_str().unwrap())
        .unwrap();
    let parsed: portcullis_audit::checkpoint::Checkpoint =
        serde_json::from_value(cp.clone()).unwrap();
    assert!(parsed.verify(&public_key));

    let root = hash(&cp["root"]);
    for index in [0, 3, size - 1] {
        let p = json_body(
            &admin_get(
                &h,
                &format!("/admin/v1/audit/proofs/inclusion?index={index}&tree_size={size}"),
            )
            .await,
        );
        let proof: Vec<Hash> = p["proof"].as_array().unwrap().iter().map(hash).collect();
        assert_eq!(hash(&p["root"]), root);
        assert!(
            verify_inclusion(index, size, &hash(&p["leaf_hash"]), &proof, &root),
            "{p}"
        );
    }
    let c = json_body(
        &admin_get(
            &h,
            &format!("/admin/v1/audit/proofs/consistency?first=3&second={size}"),
        )
        .await,
    );
    let proof: Vec<Hash> = c["proof"].as_array().unwrap().iter().map(hash).collect();
    assert!(verify_consistency(
        3,
        size,
        &hash(&c["first_root"]),
        &root,
        &proof
    ));

    // Out-of-range requests are problems, not panics.
    for q in [
        "inclusion?index=5&tree_size=2",
        "inclusion?index=0&tree_size=999999",
        "consistency?first=0&second=1",
        "inclusion?index=x&tree_size=1",
    ] {
        let r = admin_get(&h, &format!("/admin/v1/audit/proofs/{q}")).await;
        assert_eq!(r.status(), 400, "{q}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
    h.stop().await;
}
