//! Partner governance from the outside: a partner taken from proposal to a working
//! production token through the admin API alone, with every piece of missing evidence
//! blocking its step, maker-checker enforced, and time-bound access (credential expiry,
//! overdue reviews, dormant credentials) enforced at the gateway on an injected clock.

mod common;

use common::{json_body, Harness, FINCH};
use portcullis_core::jose::{Algorithm, JwsSigner};
use portcullis_core::{AdminRole, AdminToken, Environment};
use serde_json::{json, Value};

const DAY: i64 = 86_400;

/// Adds an admin token with `role`; returns the token.
async fn token_with_role(h: &Harness, name: &str, role: AdminRole) -> String {
    let token = format!("pcadm_test_{name}");
    h.running()
        .store
        .add_admin_token(&AdminToken {
            id: name.into(),
            name: name.into(),
            role,
            token_sha256: portcullis_control_plane::hash_admin_token(&token),
            created_at: 0,
        })
        .await
        .unwrap();
    token
}

async fn call(h: &Harness, method: &str, path: &str, body: Value) -> (u16, Value) {
    let r = h.admin(method, path, Some(body)).await;
    (r.status().as_u16(), json_body(&r))
}

/// Requests a move and has the approver approve it.
async fn promote(h: &Harness, partner: &str, to: &str) {
    let (status, body) = call(
        h,
        "POST",
        &format!("/admin/v1/partners/{partner}/transitions"),
        json!({"to": to, "justification": "evidence reviewed"}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let decided = h.approve(body["id"].as_str().unwrap()).await;
    assert_eq!(decided["status"], "approved", "{decided}");
}

/// Asks to move and expects a 409 whose detail names `missing`.
async fn blocked(h: &Harness, partner: &str, to: &str, missing: &str) {
    let (status, body) = call(
        h,
        "POST",
        &format!("/admin/v1/partners/{partner}/transitions"),
        json!({"to": to, "justification": "trying"}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains(missing), "{detail} should name {missing}");
}

/// A client assertion for a client whose key the test holds.
fn assertion(h: &Harness, signer: &JwsSigner, client_id: &str, env: Environment) -> String {
    let now = h.now();
    signer
        .sign(
            "JWT",
            &json!({"iss": client_id, "sub": client_id, "aud": h.issuer(env), "iat": now,
                    "exp": now + 60, "jti": uuid::Uuid::new_v4().to_string()}),
        )
        .unwrap()
}

async fn token(h: &Harness, signer: &JwsSigner, client_id: &str, env: Environment) -> (u16, Value) {
    let r = h
        .token_response_jwt(env, assertion(h, signer, client_id, env), &[])
        .await;
    (r.status().as_u16(), json_body(&r))
}

#[tokio::test]
async fn a_partner_goes_from_proposal_to_a_production_token_through_the_api_alone() {
    onboarding_journey(Harness::start_with_manual_clock().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_onboarding_journey_works_on_postgres() {
    let (url, db) = common::fresh_database().await;
    onboarding_journey(Harness::start_with_manual_clock_and(|c| c.store.url = Some(url)).await)
        .await;
    common::drop_database(&db).await;
}

async fn onboarding_journey(h: Harness) {
    let approver = h.s("/approver_token");
    let auditor = token_with_role(&h, "auditor-ann", AdminRole::Auditor).await;
    let viewer = token_with_role(&h, "viewer-vic", AdminRole::Viewer).await;
    let p = "orbit-pay";

    let (status, body) = call(
        &h,
        "POST",
        "/admin/v1/partners",
        json!({"id": p, "name": "Orbit Pay", "risk_tier": "high"}),
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (201, Some("proposed")),
        "{body}"
    );
    // A viewer changes nothing.
    let r = h
        .admin_as(
            &viewer,
            "POST",
            &format!("/admin/v1/partners/{p}/transitions"),
            Some(json!({"to": "offboarded", "justification": "x"})),
        )
        .await;
    assert_eq!(r.status(), 403);

    // proposed → due_diligence needs a use case.
    blocked(&h, p, "due_diligence", "a use case").await;
    let (status, body) = call(
        &h,
        "PUT",
        &format!("/admin/v1/partners/{p}/use-case"),
        json!({"business_objective": "", "data_elements": [], "scopes": ["accounts:read"],
               "regulatory_constraints": [], "success_criteria": ["x"]}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("business_objective") && detail.contains("data_elements"),
        "{detail}"
    );
    let (status, _) = call(
        &h,
        "PUT",
        &format!("/admin/v1/partners/{p}/use-case"),
        json!({"business_objective": "Affordability checks for loans",
               "data_elements": ["account list", "balances"],
               "scopes": ["accounts:read", "balances:read"],
               "regulatory_constraints": ["PSD2 AIS consent"],
               "success_criteria": ["decision in under a minute"]}),
    )
    .await;
    assert_eq!(status, 200);

    // Maker-checker: the requester cannot approve, an auditor cannot approve.
    let (status, request) = call(
        &h,
        "POST",
        &format!("/admin/v1/partners/{p}/transitions"),
        json!({"to": "due_diligence", "justification": "use case accepted"}),
    )
    .await;
    assert_eq!(status, 202, "{request}");
    let id = request["id"].as_str().unwrap();
    let decide = |token: String, id: String| {
        let h = &h;
        async move {
            h.admin_as(
                &token,
                "POST",
                &format!("/admin/v1/approvals/{id}/approve"),
                Some(json!({"justification": "looks fine"})),
            )
            .await
        }
    };
    let r = decide(h.s("/admin_token"), id.into()).await;
    assert_eq!(r.status(), 403);
    assert!(json_body(&r)["detail"]
        .as_str()
        .unwrap()
        .contains("another person"));
    let r = decide(auditor.clone(), id.into()).await;
    assert_eq!(r.status(), 403);
    let r = decide(approver.clone(), id.into()).await;
    assert_eq!(r.status(), 200, "{:?}", r.body());
    // Decided once only.
    assert_eq!(decide(approver.clone(), id.into()).await.status(), 409);

    // due_diligence → sandbox needs current certifications and a passed pen test.
    blocked(&h, p, "sandbox", "due-diligence record").await;
    let mut dd = json!({
        "questionnaire": {"Do you encrypt data at rest?": "Yes, AES-256"},
        "certifications": [{"name": "ISO 27001", "issuer": "BSI", "expires_on": "2020-01-01"}],
        "penetration_test": {"date": "2020-01-01", "outcome": "failed", "tester": "RedTeam Ltd"}});
    assert_eq!(
        call(
            &h,
            "PUT",
            &format!("/admin/v1/partners/{p}/due-diligence"),
            dd.clone()
        )
        .await
        .0,
        200
    );
    blocked(&h, p, "sandbox", "ISO 27001) expired").await;
    blocked(&h, p, "sandbox", "failed").await;
    let today = time::OffsetDateTime::from_unix_timestamp(h.now())
        .unwrap()
        .date();
    dd["certifications"][0]["expires_on"] = json!((today + time::Duration::days(365)).to_string());
    dd["penetration_test"] = json!({"date": (today - time::Duration::days(30)).to_string(), "outcome": "passed", "tester": "RedTeam Ltd"});
    assert_eq!(
        call(
            &h,
            "PUT",
            &format!("/admin/v1/partners/{p}/due-diligence"),
            dd
        )
        .await
        .0,
        200
    );
    promote(&h, p, "sandbox").await;

    // Sandbox: a credential and a grant at once (synthetic data), then real traffic.
    let (signer, _) = JwsSigner::generate("k1".into(), Algorithm::ES256).unwrap();
    let mut jwk = signer.verifying_key().to_jwk();
    jwk["kid"] = json!("k1");
    let (status, client) = call(
        &h,
        "POST",
        "/admin/v1/clients",
        json!({
        "partner_id": p, "environment": "sandbox", "auth_method": "private_key_jwt",
        "client_id": "orbit-sandbox", "jwks": {"keys": [jwk.clone()]}}),
    )
    .await;
    assert_eq!(status, 201, "{client}");
    let all = json!({"allow": ["*"]});
    h.put_grant(
        p,
        Environment::Sandbox,
        json!({"scopes": ["accounts:read", "balances:read"],
        "policy": {"fields": {"listAccounts": all, "getAccountBalances": all}}}),
    )
    .await;
    blocked(
        &h,
        p,
        "security_assessment",
        "no successful call needing scope accounts:read",
    )
    .await;
    let (status, body) = token(&h, &signer, "orbit-sandbox", Environment::Sandbox).await;
    assert_eq!(status, 200, "{body}");
    let sandbox_token = body["access_token"].as_str().unwrap().to_string();
    let account = h.s("/sample/account_id");
    for (path, expected) in [
        ("/accounts".to_string(), 200),
        ("/accounts/NO-SUCH-ACCOUNT/balances".to_string(), 404),
        (format!("/accounts/{account}/balances"), 200),
    ] {
        let status = h
            .status(Environment::Sandbox, &path, Some(&sandbox_token), None)
            .await;
        assert_eq!(status.as_u16(), expected, "{path}");
    }
    let r = h
        .admin(
            "GET",
            &format!("/admin/v1/partners/{p}/sandbox-evidence"),
            None,
        )
        .await;
    let evidence = json_body(&r);
    assert_eq!(evidence["sufficient"], true, "{evidence}");
    assert_eq!(evidence["errors_handled"], 1, "{evidence}");
    assert_eq!(
        evidence["scopes_exercised"],
        json!(["accounts:read", "balances:read"])
    );
    promote(&h, p, "security_assessment").await;

    // security_assessment → production: every finding remediated.
    let mut assessment = json!({"assessor": "Bank AppSec", "completed_on": today.to_string(),
        "summary": "API client reviewed",
        "findings": [{"id": "F-1", "severity": "high", "title": "Keys in repository", "status": "open"}]});
    assert_eq!(
        call(
            &h,
            "PUT",
            &format!("/admin/v1/partners/{p}/security-assessment"),
            assessment.clone()
        )
        .await
        .0,
        200
    );
    blocked(&h, p, "production", "F-1").await;
    assessment["findings"][0]["status"] = json!("remediated");
    assessment["findings"][0]["remediation"] = json!("moved to a vault, keys rotated");
    assert_eq!(
        call(
            &h,
            "PUT",
            &format!("/admin/v1/partners/{p}/security-assessment"),
            assessment
        )
        .await
        .0,
        200
    );
    // No production credential before production.
    let (status, body) = call(
        &h,
        "POST",
        "/admin/v1/clients",
        json!({
        "partner_id": p, "environment": "production", "auth_method": "private_key_jwt",
        "jwks": {"keys": [jwk.clone()]}, "justification": "go-live"}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    promote(&h, p, "production").await;
    let r = h
        .admin(
            "GET",
            &format!("/admin/v1/reviews?partner_id={p}&status=open"),
            None,
        )
        .await;
    let reviews = json_body(&r);
    assert_eq!(reviews.as_array().unwrap().len(), 1, "{reviews}");
    assert_eq!(
        reviews[0]["due_at"].as_i64().unwrap(),
        h.now() + 90 * DAY,
        "high risk: 90 days"
    );

    // Lowering the risk tier (fewer reviews) needs a second person; raising it does not.
    let (status, body) = call(
        &h,
        "PUT",
        &format!("/admin/v1/partners/{p}/risk-tier"),
        json!({"risk_tier": "low", "justification": "two clean quarters"}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    h.approve(body["id"].as_str().unwrap()).await;
    let r = h
        .admin(
            "GET",
            &format!("/admin/v1/reviews?partner_id={p}&status=open"),
            None,
        )
        .await;
    assert_eq!(
        json_body(&r)[0]["due_at"].as_i64().unwrap(),
        h.now() + 365 * DAY,
        "low risk: 365 days"
    );
    let (status, body) = call(
        &h,
        "PUT",
        &format!("/admin/v1/partners/{p}/risk-tier"),
        json!({"risk_tier": "high", "justification": "incident"}),
    )
    .await;
    assert_eq!(
        (status, body["risk_tier"].as_str()),
        (200, Some("high")),
        "{body}"
    );

    // Production grant and credential, each through approval.
    h.put_grant(
        p,
        Environment::Production,
        json!({"scopes": ["accounts:read"],
        "justifications": {"accounts:read": "affordability needs the account list"},
        "policy": {"fields": {"listAccounts": all}}}),
    )
    .await;
    let (status, body) = call(
        &h,
        "POST",
        "/admin/v1/clients",
        json!({
        "partner_id": p, "environment": "production", "auth_method": "private_key_jwt",
        "client_id": "orbit-prod", "jwks": {"keys": [jwk.clone()]}, "lifetime_days": 120,
        "justification": "go-live"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("maximum of 90"),
        "{body}"
    );
    let (status, body) = call(
        &h,
        "POST",
        "/admin/v1/clients",
        json!({
        "partner_id": p, "environment": "production", "auth_method": "private_key_jwt",
        "client_id": "orbit-prod", "jwks": {"keys": [jwk]}, "justification": "go-live"}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    // Not usable until approved.
    assert_eq!(
        token(&h, &signer, "orbit-prod", Environment::Production)
            .await
            .0,
        401
    );
    h.approve(body["id"].as_str().unwrap()).await;
    let r = h.admin("GET", "/admin/v1/clients/orbit-prod", None).await;
    assert_eq!(
        json_body(&r)["expires_at"].as_i64().unwrap(),
        h.now() + 90 * DAY
    );

    let (status, body) = token(&h, &signer, "orbit-prod", Environment::Production).await;
    assert_eq!(status, 200, "{body}");
    let prod_token = body["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        h.status(
            Environment::Production,
            "/accounts",
            Some(&prod_token),
            None
        )
        .await,
        200
    );
    // Only what was granted.
    assert_eq!(
        h.status(
            Environment::Production,
            &format!("/accounts/{account}/balances"),
            Some(&prod_token),
            None
        )
        .await,
        403
    );

    // Near the end of its life the credential still works; one second after, neither it
    // nor a token it obtained does.
    let clock = h.clock.clone().unwrap();
    clock.advance(90 * DAY - 100);
    let (status, body) = token(&h, &signer, "orbit-prod", Environment::Production).await;
    assert_eq!(status, 200, "{body}");
    let late_token = body["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        h.status(
            Environment::Production,
            "/accounts",
            Some(&late_token),
            None
        )
        .await,
        200
    );
    clock.advance(101);
    assert_eq!(
        token(&h, &signer, "orbit-prod", Environment::Production)
            .await
            .0,
        401
    );
    assert_eq!(
        h.status(
            Environment::Production,
            "/accounts",
            Some(&late_token),
            None
        )
        .await,
        401
    );

    // The compliance report says who approved what; an auditor may read it.
    let r = h
        .admin_as(
            &auditor,
            "GET",
            "/admin/v1/reports/compliance?format=json",
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    let report = json_body(&r);
    let orbit = report["partners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == p)
        .unwrap()
        .clone();
    let production = orbit["grants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["environment"] == "production")
        .unwrap()
        .clone();
    assert_eq!(production["approved_by"], "demo-approver", "{production}");
    assert_eq!(
        production["justifications"]["accounts:read"],
        "affordability needs the account list"
    );
    let r = h
        .admin_as(
            &auditor,
            "GET",
            "/admin/v1/reports/compliance?format=html",
            None,
        )
        .await;
    assert!(String::from_utf8_lossy(r.body()).contains("Orbit Pay"));
    // A viewer may not.
    assert_eq!(
        h.admin_as(&viewer, "GET", "/admin/v1/reports/compliance", None)
            .await
            .status(),
        403
    );

    // Offboarding takes everything at once.
    let (status, body) = call(
        &h,
        "POST",
        &format!("/admin/v1/partners/{p}/transitions"),
        json!({"to": "offboarded", "justification": "contract ended"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let r = h
        .admin("GET", &format!("/admin/v1/clients?partner_id={p}"), None)
        .await;
    assert!(json_body(&r)
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["status"] == "revoked"));
    assert_eq!(
        token(&h, &signer, "orbit-sandbox", Environment::Sandbox)
            .await
            .0,
        401
    );
    h.stop().await;
}

/// Short periods, so the demo's 90-day credentials outlive the story.
fn short_periods(c: &mut portcullis::config::Config) {
    c.governance.dormant_credential_days = 30;
    c.governance.review_interval_days_medium = 40;
    c.governance.review_grace_days = 14;
}

#[tokio::test]
async fn overdue_reviews_suspend_and_dormant_credentials_are_revoked_on_the_injected_clock() {
    reviews_and_dormancy(Harness::start_with_manual_clock_and(short_periods).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviews_and_dormancy_work_on_postgres() {
    let (url, db) = common::fresh_database().await;
    let h = Harness::start_with_manual_clock_and(|c| {
        short_periods(c);
        c.store.url = Some(url);
    })
    .await;
    reviews_and_dormancy(h).await;
    common::drop_database(&db).await;
}

async fn reviews_and_dormancy(h: Harness) {
    let clock = h.clock.clone().unwrap();
    let sweep = || async { call(&h, "POST", "/admin/v1/governance/sweep", json!(null)).await };
    // The demo's partners predate reviews: the first sweep schedules one each.
    let (status, first) = sweep().await;
    assert_eq!(status, 200, "{first}");
    assert!(
        !first["reviews_opened"].as_array().unwrap().is_empty(),
        "{first}"
    );

    // Finch keeps using its credential; the others stay idle.
    let finch = h.partner(FINCH)["partner_id"].as_str().unwrap().to_string();
    for _ in 0..3 {
        clock.advance(10 * DAY);
        h.token_jwt(FINCH, Environment::Production).await;
        let (status, body) = sweep().await;
        assert_eq!(status, 200, "{body}");
    }
    // 30 days without a token: every other credential is dormant and revoked; Finch's is not.
    let r = h.admin("GET", "/admin/v1/clients", None).await;
    for c in json_body(&r).as_array().unwrap() {
        let expected = if c["client_id"] == FINCH {
            "active"
        } else {
            "revoked"
        };
        assert_eq!(c["status"], expected, "{c}");
    }

    // Finch's review falls due (medium risk: 40 days here) and the 14-day grace passes.
    let r = h
        .admin(
            "GET",
            &format!("/admin/v1/reviews?partner_id={finch}&status=open"),
            None,
        )
        .await;
    let review = json_body(&r)[0].clone();
    let due = review["due_at"].as_i64().unwrap();
    clock.advance(due + 14 * DAY - h.now() - 60);
    h.token_jwt(FINCH, Environment::Production).await;
    let (_, body) = sweep().await;
    assert!(
        body["partners_suspended"].as_array().unwrap().is_empty(),
        "{body}"
    );
    let fresh = h.token_jwt(FINCH, Environment::Production).await;
    assert_eq!(
        h.status(Environment::Production, "/accounts", Some(&fresh), None)
            .await,
        200
    );
    clock.advance(60);
    let (_, body) = sweep().await;
    // Every demo partner's first review was due the same day.
    let suspended = body["partners_suspended"].as_array().unwrap();
    assert!(suspended.contains(&json!(finch)), "{body}");
    // The gateway denies at once, and the token endpoint too.
    assert_eq!(
        h.status(Environment::Production, "/accounts", Some(&fresh), None)
            .await,
        401
    );
    let r = h
        .token_response_jwt(
            Environment::Production,
            h.assertion(FINCH, Environment::Production, json!({})),
            &[],
        )
        .await;
    assert_eq!(r.status(), 401);

    // Reactivation needs the review done first, then a second person.
    let (status, body) = call(
        &h,
        "POST",
        &format!("/admin/v1/partners/{finch}/transitions"),
        json!({"to": "production", "justification": "review under way"}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("overdue"),
        "{body}"
    );
    // A review decision needs the approver role, and must cover every grant.
    let id = review["id"].as_str().unwrap();
    let r = h
        .admin_as(
            &h.s("/approver_token"),
            "POST",
            &format!("/admin/v1/reviews/{id}/decisions"),
            Some(json!({"decisions": []})),
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(json_body(&r)["detail"]
        .as_str()
        .unwrap()
        .contains("production needs a decision"));
    let r = h
        .admin_as(
            &h.s("/approver_token"),
            "POST",
            &format!("/admin/v1/reviews/{id}/decisions"),
            Some(
                json!({"decisions": [{"environment": "production", "decision": "reduce",
            "scopes": ["accounts:read"], "justification": "only the account list is used"}]}),
            ),
        )
        .await;
    assert_eq!(r.status(), 200, "{:?}", r.body());
    let r = h
        .admin(
            "GET",
            &format!("/admin/v1/partners/{finch}/grants/production"),
            None,
        )
        .await;
    assert_eq!(json_body(&r)["scopes"], json!(["accounts:read"]));
    promote(&h, &finch, "production").await;
    let fresh = h.token_jwt(FINCH, Environment::Production).await;
    assert_eq!(
        h.status(Environment::Production, "/accounts", Some(&fresh), None)
            .await,
        200
    );
    h.stop().await;
}

#[tokio::test]
async fn the_sla_report_matches_the_traffic_the_test_sent() {
    let h = Harness::start().await;
    h.allow_all_fields(FINCH).await;
    let finch = h.partner(FINCH)["partner_id"].as_str().unwrap().to_string();
    let (status, body) = call(
        &h,
        "GET",
        &format!("/admin/v1/partners/{finch}/sla"),
        json!(null),
    )
    .await;
    assert_eq!(status, 409, "no contract yet: {body}");
    let today = time::OffsetDateTime::now_utc().date();
    let contract = |per_day: u64| {
        json!({"starts_on": "2026-01-01", "ends_on": "2027-01-01",
        "quota_per_day": per_day, "availability_target_percent": 99.9, "latency_p95_ms_target": 5000})
    };
    assert_eq!(
        call(
            &h,
            "PUT",
            &format!("/admin/v1/partners/{finch}/contract"),
            contract(100)
        )
        .await
        .0,
        200
    );
    let token = h.token_jwt(FINCH, Environment::Production).await;
    let account = h.s("/sample/account_id");
    for i in 0..12 {
        let path = if i % 4 == 0 {
            "/accounts/NOPE/balances".to_string()
        } else {
            format!("/accounts/{account}")
        };
        h.get(Environment::Production, &path, Some(&token), None)
            .await;
    }
    // Refusals the partner earned (a scope it lacks) are not service the bank gave.
    let r = h
        .get(
            Environment::Production,
            &format!("/accounts/{account}/transactions"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status(), 403);
    let period = format!("from={today}&to={}", today.next_day().unwrap());
    let r = h
        .admin(
            "GET",
            &format!("/admin/v1/partners/{finch}/sla?{period}"),
            None,
        )
        .await;
    let report = json_body(&r);
    assert_eq!(r.status(), 200, "{report}");
    assert_eq!(report["requests"], 12, "{report}");
    assert_eq!(report["server_errors"], 0);
    assert_eq!(report["availability_percent"], 100.0);
    assert!(report["latency_p95_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(report["quota"]["busiest_day_requests"], 12);
    assert_eq!(
        report["met"],
        json!({"availability": true, "latency_p95": true, "quota_per_day": true, "quota_per_month": null})
    );
    // The same traffic against a tighter contract misses its daily quota.
    assert_eq!(
        call(
            &h,
            "PUT",
            &format!("/admin/v1/partners/{finch}/contract"),
            contract(10)
        )
        .await
        .0,
        200
    );
    let r = h
        .admin(
            "GET",
            &format!("/admin/v1/partners/{finch}/sla?{period}"),
            None,
        )
        .await;
    assert_eq!(json_body(&r)["met"]["quota_per_day"], false);
    // A period before the traffic has none.
    let r = h
        .admin(
            "GET",
            &format!("/admin/v1/partners/{finch}/sla?from=2026-01-01&to=2026-01-02"),
            None,
        )
        .await;
    assert_eq!(json_body(&r)["requests"], 0);
    h.stop().await;
}

#[tokio::test]
async fn a_grant_is_in_force_only_within_its_validity_window() {
    let h = Harness::start_with_manual_clock().await;
    let clock = h.clock.clone().unwrap();
    let nova = h.partner(common::NOVA);
    let partner = nova["partner_id"].as_str().unwrap().to_string();
    let now = h.now();
    let all = json!({"allow": ["*"]});
    h.put_grant(&partner, Environment::Sandbox, json!({"scopes": nova["scopes"],
        "policy": {"fields": {"listAccounts": all}, "valid_from": now + 100, "valid_until": now + 1000}}))
        .await;
    // Before the window: no token, whatever the scopes.
    let r = h
        .token_response_jwt(
            Environment::Sandbox,
            h.assertion(common::NOVA, Environment::Sandbox, json!({})),
            &[],
        )
        .await;
    common::assert_oauth_error(&r, 400, "invalid_scope", "no scopes granted");
    // Inside it: a token, and the gateway serves it.
    clock.advance(100);
    let token = h.token_jwt(common::NOVA, Environment::Sandbox).await;
    assert_eq!(
        h.status(Environment::Sandbox, "/accounts", Some(&token), None)
            .await,
        200
    );
    // At its end, a token that is itself still valid (100 s old) is refused.
    clock.advance(800);
    let token = h.token_jwt(common::NOVA, Environment::Sandbox).await;
    clock.advance(100);
    let r = h
        .get(Environment::Sandbox, "/accounts", Some(&token), None)
        .await;
    assert_eq!(r.status(), 403);
    assert!(json_body(&r)["detail"]
        .as_str()
        .unwrap()
        .contains("validity window"));
    // An empty window is refused when stated.
    let r = h
        .admin(
            "PUT",
            &format!("/admin/v1/partners/{partner}/grants/sandbox"),
            Some(
                json!({"scopes": nova["scopes"], "policy": {"valid_from": 10, "valid_until": 10}}),
            ),
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(json_body(&r)["detail"]
        .as_str()
        .unwrap()
        .contains("policy.valid_until"));
    h.stop().await;
}
