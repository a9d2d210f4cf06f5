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
async fn webhook_receiver() -> (String, mpsc::UnboundedReceiver<(String, Bytes)>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/alerts", listener.local_addr().unwrap());
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
                            let signature = req
                                .headers()
                                .get("x-portcullis-signature")
                                .map(|v| v.to_str().unwrap().to_string())
                                .unwrap_or_default();
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            let _ = tx.send((signature, body));
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

async fn monitored() -> (Harness, mpsc::UnboundedReceiver<(String, Bytes)>) {
    let (url, rx) = webhook_receiver().await;
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
    let (signature, body) = tokio::time::timeout(Duration::from_secs(5), webhook.recv())
        .await
        .expect("webhook called")
        .unwrap();
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
