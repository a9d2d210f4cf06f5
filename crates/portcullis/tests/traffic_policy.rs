//! Data minimization and traffic policy through the real listeners, as a partner and as an
//! attacker sees them: field filtering and masking, default deny, request validation, rate
//! limits, quotas, source allowlists, and policy changes taking effect without a restart.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::Request;
use http_body_util::Full;
use portcullis_core::clock::Clock;
use portcullis_core::Environment::{Production, Sandbox};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The synthetic bank's own answer for `path`, for comparison (it is plain HTTP on
/// loopback and serves the same paths as the gateway, without authentication).
async fn bank_get(h: &Harness, path: &str) -> Value {
    let addr = h.s("/bank_url").trim_start_matches("http://").to_string();
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: bank\r\nConnection: close\r\n\r\n");
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (_, body) = text.split_once("\r\n\r\n").unwrap();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// Every key path in a document, with `[*]` for array positions.
fn paths(value: &Value, prefix: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.push(p.clone());
                paths(v, &p, out);
            }
        }
        Value::Array(items) => {
            for v in items {
                paths(v, &format!("{prefix}[*]"), out);
            }
        }
        _ => {}
    }
}

fn masked_keep_last(raw: &str, n: usize) -> String {
    let chars: Vec<char> = raw.chars().collect();
    let keep = if chars.len() > n { n } else { 0 };
    let hidden = chars.len() - keep;
    "*".repeat(hidden) + &chars[hidden..].iter().collect::<String>()
}

async fn audit_entry_for(h: &Harness, request_id: &str) -> portcullis_audit::AuditEvent {
    let audit_dir = h.dir.path().canonicalize().unwrap().join("audit");
    let all = portcullis_audit::query::query(&audit_dir, &Default::default()).unwrap();
    all.into_iter()
        .map(|e| e.event)
        .find(|e| e.request_id.as_deref() == Some(request_id))
        .unwrap_or_else(|| panic!("no audit entry for {request_id}"))
}

#[tokio::test]
async fn kyc_answers_lose_and_mask_fields_exactly_as_the_grant_says() {
    let h = Harness::start().await;
    let customer = h.s("/sample/customer_id");
    let path = format!("/customers/{customer}/kyc");
    let raw = bank_get(&h, &path).await;
    let token = h.token_jwt(FINCH, Production).await;
    let r = h.get(Production, &path, Some(&token), None).await;
    assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(r.body()));
    let got = json_body(&r);
    let (kyc, raw_kyc) = (&got["Data"]["Kyc"], &raw["Data"]["Kyc"]);

    // Allowed fields arrive unchanged.
    for field in [
        "CustomerId",
        "Name",
        "Nationality",
        "RiskRating",
        "VerificationStatus",
    ] {
        assert_eq!(kyc[field], raw_kyc[field], "{field}");
    }
    assert_eq!(kyc["Document"]["Type"], raw_kyc["Document"]["Type"]);
    assert_eq!(got["Links"], raw["Links"]);
    // Masks, exactly.
    let number = raw_kyc["Document"]["Number"].as_str().unwrap();
    assert_eq!(
        kyc["Document"]["Number"],
        json!(masked_keep_last(number, 4))
    );
    assert_eq!(kyc["DateOfBirth"], json!("[REDACTED]"));
    let email_hash = kyc["Email"].as_str().unwrap().to_string();
    assert!(
        email_hash.starts_with("h:") && email_hash.len() == 24,
        "{email_hash}"
    );
    assert!(!email_hash.contains(raw_kyc["Email"].as_str().unwrap()));
    // Everything else is gone, at every depth.
    let mut got_paths = Vec::new();
    paths(&got, "", &mut got_paths);
    for p in &got_paths {
        assert!(
            !p.contains("Address") && !p.contains("Phone") && !p.contains("ExpiryDate"),
            "{p} leaked"
        );
    }
    assert!(raw_kyc["Address"].is_object() && raw_kyc["Phone"].is_string());

    // The hash is stable for the partner, so it can join records...
    let again = json_body(&h.get(Production, &path, Some(&token), None).await);
    assert_eq!(again["Data"]["Kyc"]["Email"], json!(email_hash));
    // ...and the audit entry names what was removed.
    let request_id = r.headers()["x-request-id"].to_str().unwrap();
    let entry = audit_entry_for(&h, request_id).await;
    assert!(
        entry.fields_removed.iter().any(|f| f == "Data.Kyc.Address"),
        "{:?}",
        entry.fields_removed
    );
    assert!(entry.fields_removed.iter().any(|f| f == "Data.Kyc.Phone"));

    // Another partner with the same rule gets an unrelated hash of the same value.
    h.put_grant(
        "nova-budgeting",
        Sandbox,
        json!({"scopes": ["kyc:read"], "policy": {"fields": {"getCustomerKyc": {
            "allow": ["Data.Kyc.CustomerId"],
            "mask": [{"path": "Data.Kyc.Email", "rule": "hash"}]
        }}}}),
    )
    .await;
    let nova = h.token_jwt(NOVA, Sandbox).await;
    let theirs = json_body(&h.get(Sandbox, &path, Some(&nova), None).await);
    let their_hash = theirs["Data"]["Kyc"]["Email"].as_str().unwrap();
    assert!(their_hash.starts_with("h:"));
    assert_ne!(their_hash, email_hash);
    h.stop().await;
}

#[tokio::test]
async fn account_lists_keep_only_allowed_fields_inside_arrays() {
    let h = Harness::start().await;
    let raw = bank_get(&h, "/accounts").await;
    let token = h.token_mtls(ACME).await;
    let r = h
        .get(Production, "/accounts", Some(&token), Some(ACME))
        .await;
    assert_eq!(r.status(), 200);
    let got = json_body(&r);
    let (accounts, raw_accounts) = (
        got["Data"]["Account"].as_array().unwrap(),
        raw["Data"]["Account"].as_array().unwrap(),
    );
    assert_eq!(accounts.len(), raw_accounts.len());
    assert!(!accounts.is_empty());
    for (a, ra) in accounts.iter().zip(raw_accounts) {
        assert_eq!(a["AccountId"], ra["AccountId"]);
        assert_eq!(a["Nickname"], ra["Nickname"]);
        assert!(a.get("Servicer").is_none() && a.get("OpeningDate").is_none());
        for (id, rid) in a["Account"]
            .as_array()
            .unwrap()
            .iter()
            .zip(ra["Account"].as_array().unwrap())
        {
            let raw_id = rid["Identification"].as_str().unwrap();
            assert_eq!(id["Identification"], json!(masked_keep_last(raw_id, 4)));
            // The holder's name and the scheme are not in Acme's grant.
            assert_eq!(id.as_object().unwrap().len(), 1, "{id}");
        }
    }
    // The answer carries the partner's rate limit state.
    assert!(r.headers()["ratelimit-policy"]
        .to_str()
        .unwrap()
        .contains("\"credential\";q=20;w=1"));
    h.stop().await;
}

#[tokio::test]
async fn a_grant_without_a_field_policy_returns_nothing_and_errors_keep_only_their_envelope() {
    let h = Harness::start().await;
    // Scopes granted, but no field policy for any operation: default deny.
    h.put_grant(
        "finch-lending",
        Production,
        json!({"scopes": ["accounts:read", "balances:read", "kyc:read"]}),
    )
    .await;
    let token = h.token_jwt(FINCH, Production).await;
    let customer = h.s("/sample/customer_id");
    for path in [
        "/accounts".to_string(),
        format!("/customers/{customer}/kyc"),
    ] {
        let r = h.get(Production, &path, Some(&token), None).await;
        assert_eq!(r.status(), 200);
        assert_eq!(json_body(&r), json!({}), "{path}");
    }
    // An upstream error keeps its error envelope and nothing else.
    let r = h
        .get(Production, "/accounts/no-such-account", Some(&token), None)
        .await;
    assert_eq!(r.status(), 404);
    let body = json_body(&r);
    let raw = bank_get(&h, "/accounts/no-such-account").await;
    assert_eq!(body["Code"], raw["Code"]);
    assert!(body["Errors"][0]["ErrorCode"].is_string(), "{body}");
    let mut got_paths = Vec::new();
    paths(&body, "", &mut got_paths);
    for p in got_paths {
        let allowed = [
            "Code",
            "Id",
            "Message",
            "Errors",
            "Errors[*].ErrorCode",
            "Errors[*].Message",
            "Errors[*].Path",
        ];
        assert!(allowed.contains(&p.as_str()), "{p} passed in an error body");
    }
    h.stop().await;
}

fn payment(amount: &str) -> Value {
    json!({"Data": {"Initiation": {
        "InstructionIdentification": "inst-1",
        "EndToEndIdentification": "e2e-1",
        "InstructedAmount": {"Amount": amount, "Currency": "GBP"},
        "CreditorAccount": {"SchemeName": "UK.OBIE.SortCodeAccountNumber", "Identification": "08080021325698", "Name": "ACME Supplies"}
    }}})
}

async fn post_payment(h: &Harness, token: &str, body: &[u8], key: &str) -> http::Response<Bytes> {
    let req = Request::post(format!("{}/payments", h.gateway(Production)))
        .header("authorization", format!("Bearer {token}"))
        .header("idempotency-key", key)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::copy_from_slice(body)))
        .unwrap();
    h.client(Some(ACME)).send(req).await.unwrap()
}

fn invalid_param(r: &http::Response<Bytes>) -> (String, String) {
    assert_eq!(r.status(), 400, "{}", String::from_utf8_lossy(r.body()));
    let body = json_body(r);
    let p = &body["invalid_params"][0];
    (
        p["name"].as_str().unwrap().to_string(),
        p["rule"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn invalid_requests_are_refused_naming_the_field_and_the_rule() {
    let h = Harness::start().await;
    let token = h.token_mtls(ACME).await;
    let ok = post_payment(&h, &token, payment("10.00").to_string().as_bytes(), "v-1").await;
    assert_eq!(ok.status(), 201, "{}", String::from_utf8_lossy(ok.body()));

    let r = post_payment(&h, &token, payment("ten").to_string().as_bytes(), "v-2").await;
    assert_eq!(
        invalid_param(&r),
        (
            "body.Data.Initiation.InstructedAmount.Amount".into(),
            "pattern".into()
        )
    );
    // Mass assignment: a property the schema does not have.
    let mut sneaky = payment("10.00");
    sneaky["Data"]["Initiation"]["Status"] = json!("AcceptedSettlementCompleted");
    let r = post_payment(&h, &token, sneaky.to_string().as_bytes(), "v-3").await;
    assert_eq!(
        invalid_param(&r),
        (
            "body.Data.Initiation.Status".into(),
            "additionalProperties".into()
        )
    );
    // Duplicate keys, whichever one a parser would pick.
    let dup = r#"{"Data":{"Initiation":{"InstructedAmount":{"Amount":"1.00","Amount":"1000000.00","Currency":"GBP"}}}}"#;
    let r = post_payment(&h, &token, dup.as_bytes(), "v-4").await;
    assert_eq!(
        invalid_param(&r),
        (
            "body.Data.Initiation.InstructedAmount".into(),
            "duplicate_key".into()
        )
    );
    // Nesting and numbers.
    let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
    let r = post_payment(&h, &token, deep.as_bytes(), "v-5").await;
    assert_eq!(invalid_param(&r).1, "max_depth");
    let r = post_payment(
        &h,
        &token,
        br#"{"Data":{"n":123456789012345678901234567890}}"#,
        "v-6",
    )
    .await;
    assert_eq!(
        invalid_param(&r),
        ("body.Data.n".into(), "number_range".into())
    );
    // Size: 413 before anything is parsed.
    let big = vec![b' '; 2 * 1024 * 1024];
    let r = post_payment(&h, &token, &big, "v-7").await;
    assert_eq!(r.status(), 413);
    // Query parameters are validated too, and undeclared ones refused.
    let account = h.s("/sample/account_id");
    let r = h
        .get(
            Production,
            &format!("/accounts/{account}/transactions?fromBookingDateTime=yesterday"),
            Some(&token),
            Some(ACME),
        )
        .await;
    assert_eq!(
        invalid_param(&r),
        ("query.fromBookingDateTime".into(), "pattern".into())
    );
    let r = h
        .get(
            Production,
            "/accounts?include=everything",
            Some(&token),
            Some(ACME),
        )
        .await;
    assert_eq!(
        invalid_param(&r),
        ("query.include".into(), "additionalProperties".into())
    );
    h.stop().await;
}

#[tokio::test]
async fn the_request_after_the_burst_gets_429_and_service_returns_at_the_rate() {
    let h = Harness::start_with_manual_clock().await;
    let clock = h.clock.clone().unwrap();
    let token = h.token_jwt(FINCH, Production).await;
    // A policy change through the admin API applies at once, no restart.
    h.put_grant(
        "finch-lending",
        Production,
        json!({"scopes": ["accounts:read"], "policy": {
            "rate_limit": {"per_second": 2, "burst": 3},
            "fields": {"listAccounts": {"allow": ["*"]}}
        }}),
    )
    .await;
    // The change is in the audit trail with the whole policy, by the administrator.
    let audit_dir = h.dir.path().canonicalize().unwrap().join("audit");
    let changes = portcullis_audit::query::query(
        &audit_dir,
        &portcullis_audit::query::Filter {
            action: Some("grant.put".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let change = &changes.last().unwrap().event;
    assert_eq!(change.target["partner_id"], "finch-lending");
    assert!(
        change.target["policy"].contains("\"per_second\":2"),
        "{:?}",
        change.target
    );
    assert!(change.actor.admin.is_some());
    for i in 0..3 {
        let r = h.get(Production, "/accounts", Some(&token), None).await;
        assert_eq!(r.status(), 200, "request {i}");
    }
    let r = h.get(Production, "/accounts", Some(&token), None).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(
        r.headers()["ratelimit-policy"].to_str().unwrap(),
        "\"credential\";q=2;w=1"
    );
    assert_eq!(
        r.headers()["ratelimit"].to_str().unwrap(),
        "\"credential\";r=0;t=2"
    );
    assert_eq!(json_body(&r)["type"], "urn:portcullis:problem:rate-limited");
    // Half a second later, exactly one more request is allowed (2 per second).
    clock.advance_ms(500);
    assert_eq!(
        h.status(Production, "/accounts", Some(&token), None).await,
        200
    );
    assert_eq!(
        h.status(Production, "/accounts", Some(&token), None).await,
        429
    );
    // A forged header does not pick another bucket: limits key on the authenticated client.
    let req = Request::get(format!("{}/accounts", h.gateway(Production)))
        .header("authorization", format!("Bearer {token}"))
        .header("x-client-id", "someone-else")
        .header("x-forwarded-for", "198.51.100.77")
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(h.client(None).send(req).await.unwrap().status(), 429);
    h.stop().await;
}

#[tokio::test]
async fn quotas_are_spent_and_roll_over_with_the_day() {
    let h = Harness::start_with_manual_clock().await;
    let clock = h.clock.clone().unwrap();
    h.put_grant(
        "finch-lending",
        Production,
        json!({"scopes": ["accounts:read"], "policy": {
            "quota": {"per_day": 2},
            "fields": {"listAccounts": {"allow": ["*"]}}
        }}),
    )
    .await;
    let token = h.token_jwt(FINCH, Production).await;
    for _ in 0..2 {
        assert_eq!(
            h.status(Production, "/accounts", Some(&token), None).await,
            200
        );
    }
    let r = h.get(Production, "/accounts", Some(&token), None).await;
    assert_eq!(r.status(), 429);
    assert!(json_body(&r)["detail"]
        .as_str()
        .unwrap()
        .contains("day quota of 2"));
    assert!(r.headers()["ratelimit"]
        .to_str()
        .unwrap()
        .contains("\"day\";r=0"));
    // Tomorrow (UTC), the quota is whole again.
    let now = clock.now();
    clock.advance(86_400 - now.rem_euclid(86_400) + 1);
    let token = h.token_jwt(FINCH, Production).await;
    assert_eq!(
        h.status(Production, "/accounts", Some(&token), None).await,
        200
    );
    h.stop().await;
}

#[tokio::test]
async fn addresses_outside_the_allowlist_are_refused_even_with_a_forged_forwarded_for() {
    let h = Harness::start().await;
    let token = h.token_jwt(FINCH, Production).await;
    h.put_grant(
        "finch-lending",
        Production,
        json!({"scopes": ["accounts:read"], "policy": {
            "allowed_sources": ["203.0.113.0/24", "2001:db8::/32"],
            "fields": {"listAccounts": {"allow": ["*"]}}
        }}),
    )
    .await;
    // The gateway: a token already issued is refused from here.
    let req = Request::get(format!("{}/accounts", h.gateway(Production)))
        .header("authorization", format!("Bearer {token}"))
        .header("x-forwarded-for", "203.0.113.5")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let r = h.client(None).send(req).await.unwrap();
    assert_eq!(r.status(), 403, "{}", String::from_utf8_lossy(r.body()));
    assert!(json_body(&r)["detail"]
        .as_str()
        .unwrap()
        .contains("127.0.0.1"));
    // The token endpoint: no new token from here either.
    let r = h
        .token_response_jwt(Production, h.assertion(FINCH, Production, json!({})), &[])
        .await;
    assert_oauth_error(&r, 403, "access_denied", "127.0.0.1");
    h.stop().await;
}

#[tokio::test]
async fn forwarded_for_counts_only_from_a_trusted_proxy() {
    let h = Harness::start_with(|c| {
        c.traffic.trusted_proxies = vec!["127.0.0.1/32".into()];
    })
    .await;
    let token = h.token_jwt(FINCH, Production).await;
    h.put_grant(
        "finch-lending",
        Production,
        json!({"scopes": ["accounts:read"], "policy": {
            "allowed_sources": ["203.0.113.0/24"],
            "fields": {"listAccounts": {"allow": ["*"]}}
        }}),
    )
    .await;
    let client = h.client(None);
    let get = |xff: &'static str| {
        let req = Request::get(format!("{}/accounts", h.gateway(Production)))
            .header("authorization", format!("Bearer {token}"))
            .header("x-forwarded-for", xff)
            .body(Full::new(Bytes::new()))
            .unwrap();
        client.send(req)
    };
    // Behind the trusted proxy, the partner's real address is the nearest hop, and that
    // is the address the audit trail records.
    let r = get("203.0.113.5").await.unwrap();
    assert_eq!(r.status(), 200);
    let entry = audit_entry_for(&h, r.headers()["x-request-id"].to_str().unwrap()).await;
    assert_eq!(entry.source_ip.as_deref(), Some("203.0.113.5"));
    // Junk the client wrote to the left cannot hide its address behind the proxy's.
    assert_eq!(get("junk, 203.0.113.5").await.unwrap().status(), 200);
    let r = get("junk, 198.51.100.7").await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(json_body(&r)["detail"]
        .as_str()
        .unwrap()
        .contains("198.51.100.7"));
    // A partner outside the list cannot borrow an allowed address by prepending it.
    assert_eq!(
        get("203.0.113.5, 198.51.100.7").await.unwrap().status(),
        403
    );
    h.stop().await;
}

#[tokio::test]
async fn the_token_endpoint_is_limited_per_source_address() {
    let h = Harness::start_with(|c| {
        c.traffic.token_rate_per_source = portcullis_policy::RateLimit {
            per_second: 1,
            burst: 3,
        };
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        // Wrong credentials, as a stuffing attack would send.
        let form = [
            ("grant_type", "client_credentials".to_string()),
            ("client_id", "guess".to_string()),
        ];
        let r = h.post_form(Production, "/oauth2/token", &form, None).await;
        statuses.push(r.status().as_u16());
        if r.status() == 429 {
            assert!(r.headers().contains_key("retry-after"));
            assert_eq!(json_body(&r)["error"], "too_many_requests");
        }
    }
    assert_eq!(statuses, [401, 401, 401, 429, 429]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = h
        .token_response_jwt(Production, h.assertion(FINCH, Production, json!({})), &[])
        .await;
    assert_eq!(r.status(), 200);
    h.stop().await;
}

#[tokio::test]
async fn bad_policies_are_refused_with_every_problem_named() {
    let h = Harness::start().await;
    let r = h
        .admin(
            "PUT",
            "/admin/v1/partners/finch-lending/grants/production",
            Some(json!({"scopes": ["accounts:read", "bad scope"], "policy": {
                "rate_limit": {"per_second": 0, "burst": 1},
                "allowed_sources": ["10.0.0.1/8"],
                "fields": {"listAccounts": {"allow": ["Data..Account"]}}
            }})),
        )
        .await;
    assert_eq!(r.status(), 400);
    let detail = json_body(&r)["detail"].as_str().unwrap().to_string();
    for expected in [
        "scopes[1]",
        "policy.rate_limit: per_second",
        "policy.allowed_sources[0]",
        "did you mean 10.0.0.0/8",
        "policy.fields.listAccounts.allow[0]",
    ] {
        assert!(detail.contains(expected), "{expected} not in {detail}");
    }
    // A limit too high to meter is refused rather than divided by zero at request time.
    let r = h
        .admin(
            "PUT",
            "/admin/v1/partners/finch-lending/grants/production",
            Some(json!({"scopes": ["accounts:read"], "policy": {
                "rate_limit": {"per_second": 10_000_000u64, "burst": 1}
            }})),
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(json_body(&r)["detail"]
        .as_str()
        .unwrap()
        .contains("at most 1000000"));
    // Nothing was changed.
    let r = h
        .admin(
            "GET",
            "/admin/v1/partners/finch-lending/grants/production",
            None,
        )
        .await;
    assert!(json_body(&r)["policy"]["rate_limit"]["per_second"] == json!(10));
    // Unknown members are refused rather than ignored.
    let r = h
        .admin(
            "PUT",
            "/admin/v1/partners/finch-lending/grants/production",
            Some(json!({"scopes": [], "policy": {"rate_limits": {}}})),
        )
        .await;
    assert!(r.status().is_client_error());
    assert!(String::from_utf8_lossy(r.body()).contains("rate_limits"));
    h.stop().await;
}

#[tokio::test]
async fn grants_stated_in_the_configuration_apply_on_reload_without_a_restart() {
    let h = Harness::start().await;
    let token = h.token_jwt(FINCH, Production).await;
    // The operator edits the file; SIGHUP runs exactly this.
    let mut config = portcullis::demo::demo_config(h.dir.path());
    config.grants = toml::from_str::<toml::Table>(
        r#"
        [[grants]]
        partner_id = "finch-lending"
        environment = "production"
        scopes = ["accounts:read"]
        policy.rate_limit = { per_second = 1, burst = 1 }
        policy.fields.listAccounts.allow = ["Data.Account[*].AccountId"]
        "#,
    )
    .unwrap()["grants"]
        .clone()
        .try_into()
        .unwrap();
    config.validate().unwrap();
    let running = h.running();
    let apply = |config: portcullis::config::Config| async move {
        portcullis::app::apply_config_grants(
            &config,
            running.store.as_ref(),
            &running.audit,
            &portcullis_core::SystemClock,
        )
        .await
        .unwrap()
    };
    assert_eq!(apply(config.clone()).await, 1);
    running.loader.reload().await.unwrap();
    let r = h.get(Production, "/accounts", Some(&token), None).await;
    assert_eq!(r.status(), 200);
    let accounts = json_body(&r)["Data"]["Account"].as_array().unwrap().clone();
    assert!(accounts.iter().all(|a| a.as_object().unwrap().len() == 1));
    assert_eq!(
        h.status(Production, "/accounts", Some(&token), None).await,
        429
    );
    // The file owns that grant now: the admin API refuses to change it behind the file's
    // back (a later SIGHUP would silently undo the change).
    running
        .config_grants
        .store(std::sync::Arc::new(config.grant_keys()));
    let r = h
        .admin(
            "PUT",
            "/admin/v1/partners/finch-lending/grants/production",
            Some(json!({"scopes": ["accounts:read"]})),
        )
        .await;
    assert_eq!(r.status(), 409, "{}", String::from_utf8_lossy(r.body()));
    assert!(json_body(&r)["detail"]
        .as_str()
        .unwrap()
        .contains("configuration file"));
    // The same file again changes nothing (and records nothing).
    assert_eq!(apply(config.clone()).await, 0);
    // A bad policy in the file is refused with its path.
    let mut bad = config.clone();
    bad.grants[0].policy.allowed_sources = vec!["nope".into()];
    let e = bad.validate().unwrap_err().to_string();
    assert!(e.contains("grants[0].policy.allowed_sources[0]"), "{e}");
    h.stop().await;
}

#[tokio::test]
async fn the_token_endpoint_is_limited_per_authenticated_client() {
    let h = Harness::start_with(|c| {
        c.traffic.token_rate_per_client = portcullis_policy::RateLimit {
            per_second: 1,
            burst: 2,
        };
    })
    .await;
    async fn token(h: &Harness) -> http::Response<Bytes> {
        let assertion = h.assertion(FINCH, Production, json!({}));
        h.token_response_jwt(Production, assertion, &[]).await
    }
    assert_eq!(token(&h).await.status(), 200);
    assert_eq!(token(&h).await.status(), 200);
    let r = token(&h).await;
    assert_oauth_error(&r, 429, "too_many_requests", "retry after");
    // Another client's budget is its own.
    h.token_mtls(ACME).await;
    h.stop().await;
}

#[tokio::test]
async fn introspection_is_held_to_the_allowlist_but_revocation_is_not() {
    let h = Harness::start().await;
    let token = h.token_jwt(FINCH, Production).await;
    h.put_grant(
        "finch-lending",
        Production,
        json!({"scopes": ["accounts:read"], "policy": {"allowed_sources": ["203.0.113.0/24"]}}),
    )
    .await;
    let r = h
        .manage_token_jwt("/oauth2/introspect", FINCH, Production, &token)
        .await;
    assert_oauth_error(&r, 403, "access_denied", "127.0.0.1");
    // A partner that learns of a leak can kill the token from wherever it is.
    assert_eq!(h.revoke_jwt(FINCH, Production, &token).await.status(), 200);
    h.stop().await;
}
