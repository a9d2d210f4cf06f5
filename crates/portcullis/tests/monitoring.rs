//! Monitoring from the outside: an attacker and a partner act through the real listeners;
//! the monitor notices, contains within seconds, tells a webhook (signed), and operators
//! see, undo and measure it through the admin API.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{json_body, Harness};
use http_body_util::{BodyExt, Full};
use portcullis_core::Environment;
use serde_json::{json, Value};
use tokio::sync::mpsc;

/// A webhook receiver on loopback: every POST's signature header and body.
async fn webhook_receiver() -> (String, mpsc::UnboundedReceiver<(String, String, Bytes)>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let tx = tx.clone();
                        async move {
                            let path = req.uri().path().to_string();
                            let signature = req
                                .headers()
                                .get("x-portcullis-signature")
                                .map(|v| v.to_str().unwrap().to_string())
                                .unwrap_or_default();
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            let _ = tx.send((path, signature, body));
                            Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                                Bytes::new(),
                            )))
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, rx)
}

const WEBHOOK_KEY: &str = "a-webhook-key-of-at-least-32-bytes!!";

/// The system with monitoring on, alerts sent to a webhook and traces to a collector,
/// both on one loopback receiver (`/alerts` and `/v1/traces`).
async fn monitored() -> (Harness, mpsc::UnboundedReceiver<(String, String, Bytes)>) {
    let (base, rx) = webhook_receiver().await;
    let url = format!("{base}/alerts");
    let key_dir = tempfile::tempdir().unwrap().keep();
    let key_file = key_dir.join("webhook.key");
    std::fs::write(&key_file, WEBHOOK_KEY).unwrap();
    let h = Harness::start_with(move |c| {
        c.monitor.enabled = true;
        c.monitor.webhooks = vec![portcullis_monitor::config::WebhookConfig {
            url,
            ca_file: None,
            secret_file: key_file,
            min_severity: portcullis_monitor::Severity::Low,
        }];
        c.monitor.tracing = Some(portcullis_monitor::otlp::TracingConfig {
            otlp_endpoint: base,
            ca_file: None,
            service_name: "portcullis-test".into(),
        });
    })
    .await;
    (h, rx)
}

async fn alerts(h: &Harness, query: &str) -> Vec<Value> {
    let r = h
        .admin("GET", &format!("/admin/v1/alerts{query}"), None)
        .await;
    assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(r.body()));
    json_body(&r)["alerts"].as_array().unwrap().clone()
}

/// The next POST the receiver got at `path` (others, e.g. trace exports, are skipped).
async fn next_post(
    rx: &mut mpsc::UnboundedReceiver<(String, String, Bytes)>,
    path: &str,
) -> (String, Bytes) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let (at, signature, body) = tokio::time::timeout(left, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("nothing posted to {path} within 5 s"))
            .unwrap();
        if at == path {
            return (signature, body);
        }
    }
}

/// The id of the alert's action of this kind.
fn action_id(alert: &Value, action: &str) -> String {
    alert["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == action)
        .and_then(|a| a["id"].as_str())
        .unwrap()
        .to_string()
}

/// An operator undoes an automated response.
async fn revert(h: &Harness, action_id: &str, justification: &str) -> http::Response<Bytes> {
    h.admin(
        "POST",
        &format!("/admin/v1/responses/{action_id}/revert"),
        Some(json!({ "justification": justification })),
    )
    .await
}

async fn wait_for_alert(h: &Harness, kind: &str) -> Value {
    let started = Instant::now();
    loop {
        if let Some(a) = alerts(h, &format!("?kind={kind}")).await.into_iter().next() {
            return a;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no {kind} alert within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn credential_stuffing_is_blocked_within_seconds_signed_to_the_webhook_and_undone_by_an_operator(
) {
    let (h, mut webhook) = monitored().await;
    let started = Instant::now();
    // An attacker tries stolen client ids with made-up assertions.
    let mut statuses = Vec::new();
    for i in 0..8 {
        let form = [
            ("grant_type", "client_credentials".to_string()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string(),
            ),
            (
                "client_assertion",
                format!("eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0.c2lnLXtpfQ{i}"),
            ),
            ("client_id", format!("stolen-{i}")),
        ];
        let r = h
            .post_form(Environment::Production, "/oauth2/token", &form, None)
            .await;
        statuses.push(r.status().as_u16());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let alert = wait_for_alert(&h, "credential_stuffing").await;
    assert_eq!(
        alert["subject"],
        json!({"type": "source", "id": "127.0.0.1"})
    );
    assert!(alert["evidence"]["count"].as_u64().unwrap() >= 5);
    assert!(!alert["evidence"]["sample_request_ids"]
        .as_array()
        .unwrap()
        .is_empty());
    // Contained: the address gets 403 now, on the token endpoint and the API alike.
    let r = h
        .get(Environment::Production, "/accounts", Some("x"), None)
        .await;
    assert_eq!(r.status(), 403, "{}", String::from_utf8_lossy(r.body()));
    assert!(String::from_utf8_lossy(r.body()).contains("source-blocked"));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        statuses.contains(&403),
        "later attempts were refused at once: {statuses:?}"
    );

    // The webhook got the alert, signed with its key.
    let (signature, body) = next_post(&mut webhook, "/alerts").await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(portcullis_monitor::webhook::verify(
        WEBHOOK_KEY.as_bytes(),
        &signature,
        &body,
        now,
        300
    ));
    assert!(!portcullis_monitor::webhook::verify(
        b"not the key at all, not the key!",
        &signature,
        &body,
        now,
        300
    ));
    let sent: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(sent["alert"]["id"], alert["id"]);

    // An incident was opened, with detection and containment on its timeline.
    let incident_id = alert["incident_id"].as_str().unwrap();
    let r = h
        .admin("GET", &format!("/admin/v1/incidents/{incident_id}"), None)
        .await;
    let incident = json_body(&r);
    let stages: Vec<&str> = incident["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["detected", "contained"]);
    // Classified as major: the DORA clocks start.
    let r = h
        .admin(
            "POST",
            &format!("/admin/v1/incidents/{incident_id}/updates"),
            Some(json!({"stage": "classified", "major": true, "owner": "soc-lead"})),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(r.body()));
    let clocks = json_body(&r)["clocks"].as_array().unwrap().len();
    assert_eq!(clocks, 3);

    // The operator lifts the block; the address is served again (and refused for its
    // credentials, not its address).
    let block = action_id(&alert, "block_source");
    let r = revert(&h, &block, "").await;
    assert_eq!(r.status(), 400, "a reversal says why");
    let r = revert(&h, &block, "test address, not an attacker").await;
    assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(r.body()));
    let r = h
        .get(Environment::Production, "/accounts", Some("x"), None)
        .await;
    assert_eq!(r.status(), 401);

    // Everything the monitor and the operator did is in the audit trail.
    let r = h
        .admin("GET", "/admin/v1/audit/events?kind=admin_change", None)
        .await;
    let actions: Vec<String> = json_body(&r)
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    for expected in [
        "monitor.alert",
        "monitor.block_source",
        "monitor.open_incident",
        "monitor.notify",
        "incident.update",
        "monitor.revert",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} missing from {actions:?}"
        );
    }

    // Metrics: the refusals, bounded labels only.
    let r = h.admin("GET", "/metrics", None).await;
    assert_eq!(r.status(), 200);
    let text = String::from_utf8_lossy(r.body()).to_string();
    assert!(
        text.contains(
            "portcullis_tokens_refused_total{environment=\"production\",reason=\"invalid_client\"}"
        ),
        "{text}"
    );
    assert!(text
        .contains("portcullis_alerts_total{kind=\"credential_stuffing\",severity=\"critical\"} 1"));
    assert!(!text.contains("stolen-"), "client ids are not labels");
    // Every running total is exposed as a counter, every other single value as a gauge:
    // a scraper's rate() over a total declared a gauge is refused or misread.
    let mut declared = 0;
    for line in text.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
        let (name, kind) = line.split_once(' ').unwrap();
        declared += 1;
        match kind {
            "counter" => assert!(name.ends_with("_total"), "{line}"),
            "gauge" => assert!(!name.ends_with("_total"), "{line}"),
            "histogram" => {}
            other => panic!("unknown type {other:?} in {line}"),
        }
    }
    assert!(declared >= 15, "{text}");
    assert!(text
        .contains("# TYPE portcullis_audit_shed_total counter\nportcullis_audit_shed_total 0\n"));
    h.stop().await;
}

#[tokio::test]
async fn a_partner_enumerating_accounts_has_its_credential_suspended_until_an_operator_reinstates_it(
) {
    let (h, _webhook) = monitored().await;
    let client = "acme-payments-prod";
    let token = h.token_mtls(client).await;
    let account = h.s("/sample/account_id");
    assert_eq!(
        h.status(
            Environment::Production,
            &format!("/accounts/{account}"),
            Some(&token),
            Some(client)
        )
        .await,
        200
    );
    let mut statuses = Vec::new();
    for i in 0..60 {
        let status = h
            .status(
                Environment::Production,
                &format!("/accounts/acc-{i:08x}"),
                Some(&token),
                Some(client),
            )
            .await;
        statuses.push(status.as_u16());
        if status == 401 {
            break;
        }
    }
    assert_eq!(statuses.last(), Some(&401), "never contained: {statuses:?}");
    let alert = wait_for_alert(&h, "enumeration").await;
    assert_eq!(alert["client_id"], client);
    let r = h
        .admin("GET", &format!("/admin/v1/clients/{client}"), None)
        .await;
    assert_eq!(json_body(&r)["status"], "suspended");
    // The token endpoint refuses the suspended credential too.
    let form = [
        ("grant_type", "client_credentials".to_string()),
        ("client_id", client.to_string()),
    ];
    let r = h
        .post_form(
            Environment::Production,
            "/oauth2/token",
            &form,
            Some(client),
        )
        .await;
    assert_eq!(r.status(), 401, "{}", String::from_utf8_lossy(r.body()));

    let suspend = action_id(&alert, "suspend_credential");
    let r = revert(&h, &suspend, "partner's batch job misconfigured; fixed").await;
    assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(r.body()));
    // Served again once its rate limit has refilled after the burst.
    let reinstated = Instant::now();
    loop {
        let status = h
            .status(
                Environment::Production,
                &format!("/accounts/{account}"),
                Some(&token),
                Some(client),
            )
            .await;
        if status == 200 {
            break;
        }
        assert_eq!(status, 429, "only the rate limit may hold it back now");
        assert!(reinstated.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let r = h
        .admin(
            "POST",
            &format!("/admin/v1/alerts/{}/close", alert["id"].as_str().unwrap()),
            Some(json!({"note": "resolved with the partner"})),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(alerts(&h, "?status=open&kind=enumeration").await.is_empty());
    // Viewers read alerts but change nothing.
    let r = h.admin("GET", "/admin/v1/alerts?status=bogus", None).await;
    assert_eq!(r.status(), 400);
    h.stop().await;
}

#[tokio::test]
async fn each_request_is_exported_as_a_span_continuing_the_callers_trace() {
    let (h, mut receiver) = monitored().await;
    let client = "acme-payments-prod";
    let token = h.token_mtls(client).await;
    let account = h.s("/sample/account_id");
    let request = http::Request::get(format!(
        "{}/accounts/{account}",
        h.gateway(Environment::Production)
    ))
    .header("authorization", format!("Bearer {token}"))
    .header(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )
    .body(Full::new(Bytes::new()))
    .unwrap();
    let r = h.client(Some(client)).send(request).await.unwrap();
    assert_eq!(r.status(), 200);
    let request_id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    // Spans leave once a second, in OTLP/JSON.
    let span = loop {
        let (_, body) = next_post(&mut receiver, "/v1/traces").await;
        let export: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            export["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"],
            "portcullis-test"
        );
        let spans = export["resourceSpans"][0]["scopeSpans"][0]["spans"]
            .as_array()
            .unwrap()
            .clone();
        if let Some(span) = spans
            .into_iter()
            .find(|s| s["traceId"] == "4bf92f3577b34da6a3ce929d0e0e4736")
        {
            break span;
        }
    };
    assert_eq!(span["parentSpanId"], "00f067aa0ba902b7");
    assert_eq!(span["name"], "production getAccount");
    assert_eq!(span["kind"], 2);
    let attributes = span["attributes"].to_string();
    assert!(attributes.contains(&request_id), "{attributes}");
    assert!(attributes.contains("\"intValue\":\"200\""), "{attributes}");
    // The audit entry carries the same ids.
    let r = h
        .admin("GET", "/admin/v1/audit/events?action=getAccount", None)
        .await;
    let events = json_body(&r);
    let entry = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["request_id"] == json!(request_id))
        .unwrap();
    assert_eq!(
        entry["trace"]["trace_id"],
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(entry["trace"]["span_id"], span["spanId"]);
    h.stop().await;
}

/// A throttled partner is held to the containment rate on the real listener, whatever its
/// grant allows, and only that partner; lifting the throttle restores its grant's limit.
#[tokio::test]
async fn a_throttled_partner_gets_429_from_the_containment_limit_and_others_do_not() {
    let (h, _receiver) = monitored().await;
    let guard = h.running().monitor.as_ref().unwrap().guard();
    let acme = "acme-payments-prod";
    let finch = "finch-lending-prod";
    let acme_token = h.token_mtls(acme).await;
    let finch_token = h.token_jwt(finch, Environment::Production).await;
    let account = h.s("/sample/account_id");
    let path = format!("/accounts/{account}");
    let until = h.now() * 1000 + 60_000;
    guard.throttle_partner(
        "acme-payments",
        portcullis_policy::RateLimit {
            per_second: 1,
            burst: 1,
        },
        until,
    );
    let acme_get = || {
        h.get(
            Environment::Production,
            &path,
            Some(&acme_token),
            Some(acme),
        )
    };
    assert_eq!(acme_get().await.status(), 200);
    let second = acme_get().await;
    assert_eq!(second.status(), 429);
    assert!(second.headers()["ratelimit-policy"]
        .to_str()
        .unwrap()
        .contains("\"containment\";q=1;w=1"));
    assert!(second.headers().contains_key("retry-after"));
    // Another partner is untouched.
    for _ in 0..3 {
        assert_eq!(
            h.status(Environment::Production, &path, Some(&finch_token), None)
                .await,
            200
        );
    }
    let r = h.admin("GET", "/metrics", None).await;
    assert!(String::from_utf8_lossy(r.body())
        .contains("portcullis_denials_total{environment=\"production\",reason=\"rate_limited_containment\"} 1"));
    guard.unthrottle("acme-payments");
    assert_eq!(
        h.status(
            Environment::Production,
            &path,
            Some(&acme_token),
            Some(acme)
        )
        .await,
        200
    );
    h.stop().await;
}
