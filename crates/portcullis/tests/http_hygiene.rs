//! Request hygiene and upstream behaviour through the real listener: request smuggling
//! shapes, oversized heads and bodies, slow clients, slow upstreams, and what the upstream
//! is (and is not) told about the caller.

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use portcullis::config::OperationConfig;
use portcullis_core::Environment::Production;
use portcullis_gateway::RouteTable;
use serde_json::{json, Value};

/// A member name an upstream's error answer carries: quotes, a backslash and a control
/// character, shaped to close the audit entry's list and add a decision of its own.
const HOSTILE_MEMBER: &str = "x\"],\"decision\":\"deny\",\"y\":[\"\u{1}\\";

/// An upstream that answers with what it received; `x-test-delay-ms` makes it slow.
async fn echo_upstream() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|req: Request<Incoming>| async move {
                    if let Some(ms) = req
                        .headers()
                        .get("x-test-delay-ms")
                        .and_then(|v| v.to_str().ok()?.parse().ok())
                    {
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                    }
                    let headers: serde_json::Map<String, Value> = req
                        .headers()
                        .iter()
                        .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or("?"))))
                        .collect();
                    let (method, path) = (req.method().to_string(), req.uri().to_string());
                    let error = req.headers().contains_key("x-test-error");
                    // An upstream that answers in a form the gateway cannot filter.
                    let content_type = req
                        .headers()
                        .get("x-test-content-type")
                        .cloned()
                        .unwrap_or_else(|| "application/json".parse().unwrap());
                    let encoding = req.headers().get("x-test-content-encoding").cloned();
                    let body = req
                        .into_body()
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    let mut echo = json!({"method": method, "path": path, "headers": headers, "body_len": body.len()});
                    if error {
                        // An error that carries data where only words belong.
                        echo = json!({
                            "Code": "409", "Message": "conflict",
                            "detail": {"AvailableBalance": "1234.56"},
                            "Errors": [{"ErrorCode": "UK.OBIE.Resource.Exists", "Message": "exists", "Iban": "GB33BUKB20201555555555"}],
                            "echo": echo,
                        });
                        // A member name written to break out of the audit entry's JSON.
                        echo.as_object_mut()
                            .unwrap()
                            .insert(HOSTILE_MEMBER.to_string(), json!(1));
                    }
                    let mut r = Response::new(Full::new(Bytes::from(echo.to_string())));
                    if error {
                        *r.status_mut() = http::StatusCode::CONFLICT;
                    }
                    r.headers_mut().insert("content-type", content_type);
                    if let Some(encoding) = encoding {
                        r.headers_mut().insert("content-encoding", encoding);
                    }
                    r.headers_mut()
                        .insert("connection", "x-upstream-secret-hop".parse().unwrap());
                    r.headers_mut()
                        .insert("x-upstream-secret-hop", "1".parse().unwrap());
                    // Data in a header is data too.
                    r.headers_mut()
                        .insert("x-customer-email", "alice@example.com".parse().unwrap());
                    Ok::<_, Infallible>(r)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    addr
}

async fn with_echo(timeout_seconds: u64) -> Harness {
    let echo = echo_upstream().await;
    let h = Harness::start_with(|c| {
        for env in &mut c.environments {
            env.upstream_url = format!("http://{echo}");
            env.upstream_timeout_seconds = timeout_seconds;
        }
        c.limits.header_read_timeout_seconds = 1;
        c.limits.body_read_timeout_seconds = 1;
        c.limits.max_body_bytes = 4096;
        c.operations = operations_without_schemas();
    })
    .await;
    open_echo(&h).await;
    h
}

/// The demo bank's operations without their request schemas: the echo upstream takes any
/// body, and these tests are about the HTTP layer.
fn operations_without_schemas() -> Vec<OperationConfig> {
    RouteTable::demo_bank()
        .operations()
        .iter()
        .map(|op| OperationConfig {
            id: op.id.clone(),
            method: op.method.to_string(),
            path: op.path.clone(),
            scope: op.scope.clone(),
            idempotency_key_required: op.requires_idempotency_key,
            body_schema: None,
            query_schema: None,
            openapi_operation: None,
        })
        .collect()
}

/// The echo's answers are the test's evidence, so every field may pass.
async fn open_echo(h: &Harness) {
    h.allow_all_fields(ACME).await;
    h.allow_all_fields(FINCH).await;
}

fn status_of(raw: &str) -> u16 {
    raw.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {raw:?}"))
}

#[tokio::test]
async fn smuggling_shapes_are_refused_with_400() {
    let h = with_echo(5).await;
    let token = h.token_jwt(FINCH, Production).await;
    let cases = [
        format!("POST /accounts HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {token}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        format!("GET /accounts HTTP/1.1\r\nHost: a\r\nHost: b\r\nAuthorization: Bearer {token}\r\n\r\n"),
        format!("GET /accounts HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {token}\r\nAuthorization: Bearer {token}\r\n\r\n"),
        format!("GET /accounts HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\nAuthorization: Bearer {token}\r\n\r\n"),
        "GET /accounts HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab".to_string(),
        "GET /accounts HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n".to_string(),
        format!("POST /payments HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {token}\r\nIdempotency-Key: k\r\nConnection: idempotency-key\r\nContent-Length: 2\r\n\r\n{{}}"),
    ];
    for case in cases {
        let raw = h.raw(Production, case.as_bytes()).await;
        assert_eq!(status_of(&raw), 400, "for request {case:?} got {raw}");
    }
    h.stop().await;
}

#[tokio::test]
async fn oversized_heads_get_431_and_bodies_413() {
    let h = with_echo(5).await;
    let big = format!(
        "GET /accounts HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
        "a".repeat(32 * 1024)
    );
    assert_eq!(status_of(&h.raw(Production, big.as_bytes()).await), 431);
    let many: String = (0..100).map(|i| format!("X-H{i}: v\r\n")).collect();
    let req = format!("GET /accounts HTTP/1.1\r\nHost: a\r\n{many}\r\n");
    assert_eq!(status_of(&h.raw(Production, req.as_bytes()).await), 431);

    let acme = h.token_mtls(ACME).await;
    let req = Request::post(format!("{}/payments", h.gateway(Production)))
        .header("authorization", format!("Bearer {acme}"))
        .header("idempotency-key", "k1")
        .body(Full::new(Bytes::from(vec![b'x'; 8192])))
        .unwrap();
    let r = h.client(Some(ACME)).send(req).await.unwrap();
    assert_eq!(r.status(), 413);
    assert!(json_body(&r)["detail"]
        .as_str()
        .unwrap()
        .contains("4096 bytes"));
    h.stop().await;
}

#[tokio::test]
async fn non_canonical_paths_and_unknown_routes_are_refused() {
    let h = with_echo(5).await;
    let token = h.token_jwt(FINCH, Production).await;
    for (path, status) in [
        ("/accounts/..%2Fcustomers", 400),
        ("/accounts/%2e%2e/x/kyc", 400),
        ("/accounts//balances", 400),
        ("/admin/v1/partners", 404),
        ("/nope", 404),
    ] {
        let r = h.get(Production, path, Some(&token), None).await;
        assert_eq!(r.status(), status, "{path}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
    let raw = h.raw(Production, format!("GET /accounts/../customers/c/kyc HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {token}\r\n\r\n").as_bytes()).await;
    assert_eq!(status_of(&raw), 400, "{raw}");
    let raw = h
        .raw(
            Production,
            format!(
                "DELETE /accounts HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {token}\r\n\r\n"
            )
            .as_bytes(),
        )
        .await;
    assert_eq!(status_of(&raw), 405, "{raw}");
    assert!(
        raw.to_ascii_lowercase().contains("\r\nallow: get\r\n"),
        "{raw}"
    );
    h.stop().await;
}

#[tokio::test]
async fn the_upstream_sees_trusted_identity_and_nothing_spoofed() {
    let h = with_echo(5).await;
    let acme = h.token_mtls(ACME).await;
    let req = Request::get(format!("{}/accounts?page=2", h.gateway(Production)))
        .header("authorization", format!("Bearer {acme}"))
        .header("x-portcullis-partner-id", "finch-lending")
        .header("X-Portcullis-Scopes", "kyc:read")
        .header("x-forwarded-for", "203.0.113.9")
        .header("x-forwarded-proto", "http")
        .header("x-portcullis-operation", "makePayment")
        .header("accept-encoding", "gzip")
        .header("x-request-id", "chosen-by-client")
        .header(
            "x-fapi-interaction-id",
            "93bac548-d2de-4546-b106-880a5018460d",
        )
        // Answered by the gateway, which reads the body itself; forwarded, it would let
        // the upstream answer 100 and read a body as a request of its own.
        .header("expect", "100-continue")
        // Claims and credentials that are only the gateway's to make or that the upstream
        // must never see. (A Connection header naming other headers is refused outright.)
        .header("x-real-ip", "203.0.113.10")
        .header("x-portcullis-admin", "true")
        .header("proxy-authorization", "Basic eDp5")
        .header("cookie", "session=stolen")
        .header("range", "bytes=0-10")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let r = h.client(Some(ACME)).send(req).await.unwrap();
    assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(r.body()));
    assert_eq!(
        r.headers()["x-fapi-interaction-id"],
        "93bac548-d2de-4546-b106-880a5018460d"
    );
    assert!(
        !r.headers().contains_key("x-upstream-secret-hop"),
        "a hop-by-hop header of the upstream leaked"
    );
    assert!(
        !r.headers().contains_key("x-customer-email"),
        "an upstream header outside the response allowlist leaked"
    );
    let echo = json_body(&r);
    let seen = &echo["headers"];
    assert_eq!(echo["path"], "/accounts?page=2");
    assert_eq!(seen["x-portcullis-partner-id"], "acme-payments");
    assert_eq!(seen["x-portcullis-client-id"], ACME);
    assert_eq!(
        seen["x-portcullis-scopes"],
        "accounts:read balances:read transactions:read payments:write"
    );
    assert_eq!(seen["x-portcullis-environment"], "production");
    assert_eq!(seen["x-forwarded-for"], "127.0.0.1");
    assert_eq!(seen["x-forwarded-proto"], "https");
    assert_eq!(seen["x-portcullis-operation"], "listAccounts");
    assert_eq!(seen["accept-encoding"], "identity");
    assert_eq!(
        seen["x-request-id"],
        r.headers()["x-request-id"].to_str().unwrap()
    );
    assert_eq!(
        seen["x-fapi-interaction-id"],
        "93bac548-d2de-4546-b106-880a5018460d"
    );
    for absent in [
        "authorization",
        "cookie",
        "expect",
        "x-real-ip",
        "x-portcullis-admin",
        "proxy-authorization",
        "range",
    ] {
        assert!(
            seen.get(absent).is_none(),
            "{absent} reached the upstream: {seen}"
        );
    }
    h.stop().await;
}

/// The trace context the upstream gets: the caller's trace continued with the gateway's
/// own span as parent when the caller's `traceparent` is valid; otherwise a new trace
/// whose id is the request id, and the caller's `tracestate` dropped with it.
#[tokio::test]
async fn the_upstream_gets_the_gateway_s_span_in_a_valid_traceparent() {
    let h = with_echo(5).await;
    let acme = h.token_mtls(ACME).await;
    let upstream_trace = |traceparent: &'static str| {
        let h = &h;
        let acme = &acme;
        async move {
            let req = Request::get(format!("{}/accounts", h.gateway(Production)))
                .header("authorization", format!("Bearer {acme}"))
                .header("traceparent", traceparent)
                .header("tracestate", "vendor=opaque")
                .body(Full::new(Bytes::new()))
                .unwrap();
            let r = h.client(Some(ACME)).send(req).await.unwrap();
            assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(r.body()));
            let request_id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
            let seen = json_body(&r)["headers"].clone();
            let parts: Vec<String> = seen["traceparent"]
                .as_str()
                .unwrap_or_else(|| panic!("no traceparent upstream: {seen}"))
                .split('-')
                .map(str::to_owned)
                .collect();
            (request_id, parts, seen["tracestate"].clone())
        }
    };
    let hex = |s: &str, len: usize| {
        s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };

    let caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let (_, parts, tracestate) = upstream_trace(caller).await;
    assert_eq!(parts.len(), 4, "{parts:?}");
    assert_eq!(parts[..2], ["00", "4bf92f3577b34da6a3ce929d0e0e4736"]);
    assert!(hex(&parts[2], 16) && parts[2] != "00f067aa0ba902b7" && parts[2] != "0".repeat(16));
    assert_eq!(parts[3], "01");
    assert_eq!(tracestate, "vendor=opaque");

    // Upper-case hex is not a valid traceparent: a new trace, the caller's state dropped.
    let hostile = "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01";
    let (request_id, parts, tracestate) = upstream_trace(hostile).await;
    assert_eq!(parts.len(), 4, "{parts:?}");
    assert_eq!(parts[0], "00");
    assert_eq!(parts[1], request_id);
    assert!(hex(&parts[2], 16) && parts[3] == "01", "{parts:?}");
    assert!(tracestate.is_null(), "tracestate passed on: {tracestate}");
    h.stop().await;
}

#[tokio::test]
async fn slow_upstreams_get_504_and_slow_clients_are_cut_off() {
    let h = with_echo(1).await;
    let token = h.token_jwt(FINCH, Production).await;
    let req = Request::get(format!("{}/accounts", h.gateway(Production)))
        .header("authorization", format!("Bearer {token}"))
        .header("x-test-delay-ms", "3000")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let started = Instant::now();
    let r = h.client(None).send(req).await.unwrap();
    assert_eq!(r.status(), 504);
    assert!(started.elapsed() < Duration::from_millis(2500));

    // Slowloris: half a request head, then silence. The gateway must hang up.
    let started = Instant::now();
    let raw = h
        .raw(Production, b"GET /accounts HTTP/1.1\r\nHost: a\r\nX-Slow: ")
        .await;
    assert!(
        started.elapsed() < Duration::from_millis(2900),
        "connection held for {:?}",
        started.elapsed()
    );
    assert!(raw.is_empty() || raw.starts_with("HTTP/1.1 408"), "{raw}");

    // A body that never finishes gets 408 after the body timeout.
    let acme = h.token_mtls(ACME).await;
    let req = format!("POST /payments HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {acme}\r\nIdempotency-Key: k\r\nContent-Length: 100\r\n\r\nabc");
    let raw = h.raw_as(Production, Some(ACME), req.as_bytes()).await;
    assert_eq!(status_of(&raw), 408, "{raw}");
    h.stop().await;
}

#[tokio::test]
async fn an_unreachable_upstream_is_502_not_500() {
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let h =
        Harness::start_with(|c| c.environments[0].upstream_url = format!("http://{dead}")).await;
    let token = h.token_jwt(FINCH, Production).await;
    let r = h.get(Production, "/accounts", Some(&token), None).await;
    assert_eq!(r.status(), 502);
    assert_eq!(
        json_body(&r)["type"],
        "urn:portcullis:problem:upstream-unavailable"
    );
    assert!(
        !String::from_utf8_lossy(r.body()).contains("127.0.0.1"),
        "internals leaked"
    );
    h.stop().await;
}

/// A client that sends a payment and hangs up at once must not leave an upstream call
/// without its audit entry.
#[tokio::test]
async fn a_request_abandoned_by_its_client_is_still_audited() {
    let h = with_echo(5).await;
    let acme = h.token_mtls(ACME).await;
    let body = r#"{"Data":{}}"#;
    let req = format!(
        "POST /payments HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {acme}\r\nIdempotency-Key: abandon-1\r\nContent-Type: application/json\r\nX-Test-Delay-Ms: 300\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    // Connect, send, and drop the connection before the (slow) upstream answers.
    let mut tls = h.tls_stream(Production, Some(ACME)).await;
    tokio::io::AsyncWriteExt::write_all(&mut tls, req.as_bytes())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(tls);

    // The upstream still answers after 300 ms; its entry must then be in the log.
    let audit_dir = h.dir.path().canonicalize().unwrap().join("audit");
    let filter = portcullis_audit::query::Filter {
        action: Some("createPayment".into()),
        ..Default::default()
    };
    let started = Instant::now();
    loop {
        let found = portcullis_audit::query::query(&audit_dir, &filter).unwrap();
        if let Some(entry) = found.first() {
            assert_eq!(entry.event.status, Some(200));
            assert_eq!(entry.event.actor.client_id.as_deref(), Some(ACME));
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the abandoned payment was never audited"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    h.stop().await;
}

/// Slow clients cannot starve the audit log: a slot is taken only once a request is
/// complete and about to have an effect.
#[tokio::test]
async fn trickling_bodies_do_not_hold_audit_slots() {
    let echo = echo_upstream().await;
    let h = Harness::start_with(|c| {
        c.environments[0].upstream_url = format!("http://{echo}");
        c.audit.queue_capacity = 16;
        c.limits.body_read_timeout_seconds = 3;
        c.operations = operations_without_schemas();
    })
    .await;
    open_echo(&h).await;
    let acme = h.token_mtls(ACME).await;
    let mut slow = Vec::new();
    for i in 0..20 {
        let mut tls = h.tls_stream(Production, Some(ACME)).await;
        let head = format!("POST /payments HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {acme}\r\nIdempotency-Key: slow-{i}\r\nContent-Length: 1000\r\n\r\n{{");
        tokio::io::AsyncWriteExt::write_all(&mut tls, head.as_bytes())
            .await
            .unwrap();
        slow.push(tls);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = h
        .get(Production, "/accounts", Some(&acme), Some(ACME))
        .await;
    assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(r.body()));
    drop(slow);
    h.stop().await;
}

/// An upstream that holds every request until `release` turns true, counting arrivals.
async fn holding_upstream() -> (
    SocketAddr,
    Arc<AtomicUsize>,
    tokio::sync::watch::Sender<bool>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let arrived = Arc::new(AtomicUsize::new(0));
    let (release, released) = tokio::sync::watch::channel(false);
    let counter = arrived.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (counter, released) = (counter.clone(), released.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_: Request<Incoming>| {
                    let mut released = released.clone();
                    counter.fetch_add(1, Ordering::SeqCst);
                    async move {
                        let _ = released.wait_for(|&go| go).await;
                        let mut r = Response::new(Full::new(Bytes::from_static(b"{\"Data\":{}}")));
                        r.headers_mut()
                            .insert("content-type", "application/json".parse().unwrap());
                        Ok::<_, Infallible>(r)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    (addr, arrived, release)
}

/// When every audit slot is taken, the gateway sheds load: a 503 with Retry-After before
/// anything reaches the upstream, counted in the metrics, and no entry lost for any request
/// it did answer.
#[tokio::test]
async fn a_full_audit_queue_sheds_load_and_loses_no_entry() {
    let (upstream, arrived, release) = holding_upstream().await;
    let h = Harness::start_with(|c| {
        c.environments[0].upstream_url = format!("http://{upstream}");
        c.environments[0].upstream_timeout_seconds = 30;
        // The least the configuration accepts.
        c.audit.queue_capacity = 16;
        c.operations = operations_without_schemas();
        // For the metrics endpoint.
        c.monitor.enabled = true;
    })
    .await;
    open_echo(&h).await;
    let acme = h.token_mtls(ACME).await;
    let url = format!("{}/accounts", h.gateway(Production));
    let held: Vec<_> = (0..16)
        .map(|_| {
            let client = h.client(Some(ACME));
            let request = Request::get(&url)
                .header("authorization", format!("Bearer {acme}"))
                .body(Full::new(Bytes::new()))
                .unwrap();
            tokio::spawn(async move { client.send(request).await.unwrap() })
        })
        .collect();
    // Each request takes its slot just before it goes upstream.
    let started = Instant::now();
    while arrived.load(Ordering::SeqCst) < 16 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "only {} requests reached the upstream",
            arrived.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let shed = h
        .get(Production, "/accounts", Some(&acme), Some(ACME))
        .await;
    assert_eq!(
        shed.status(),
        503,
        "{}",
        String::from_utf8_lossy(shed.body())
    );
    assert!(shed.headers().contains_key("retry-after"));
    assert_eq!(
        json_body(&shed)["type"],
        "urn:portcullis:problem:audit-backpressure"
    );
    let shed_id = shed.headers()["x-request-id"].to_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        arrived.load(Ordering::SeqCst),
        16,
        "a shed request went upstream"
    );

    release.send(true).unwrap();
    let mut answered = Vec::new();
    for request in held {
        let r = request.await.unwrap();
        assert_eq!(r.status(), 200);
        answered.push(r.headers()["x-request-id"].to_str().unwrap().to_string());
    }
    // The slots came back.
    let after = h
        .get(Production, "/accounts", Some(&acme), Some(ACME))
        .await;
    assert_eq!(after.status(), 200);
    answered.push(
        after.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_string(),
    );

    let metrics = h.admin("GET", "/metrics", None).await;
    let metrics = String::from_utf8_lossy(metrics.body()).into_owned();
    let shed_total = metrics
        .lines()
        .find_map(|l| l.strip_prefix("portcullis_audit_shed_total "))
        .and_then(|v| v.trim().parse::<f64>().ok());
    assert_eq!(shed_total, Some(1.0), "{metrics}");
    let audit_dir = h.dir.path().canonicalize().unwrap().join("audit");
    let filter = portcullis_audit::query::Filter {
        action: Some("listAccounts".into()),
        ..Default::default()
    };
    let recorded: Vec<String> = portcullis_audit::query::query(&audit_dir, &filter)
        .unwrap()
        .into_iter()
        .filter_map(|entry| entry.event.request_id)
        .collect();
    for id in &answered {
        assert!(recorded.contains(id), "answered request {id} has no entry");
    }
    // Shed before it had a slot: answered, logged and counted, but with no entry.
    assert!(!recorded.contains(&shed_id));
    h.stop().await;
}

/// An upstream on threads of its own that answers each request with `{"Data":{}}`; after
/// answering one that carries `x-test-unasked`, it waits for a word on `go`, then sends
/// an answer nobody asked for (carrying `LEAKED`) on the now idle connection and says so
/// on `sent`. Counts connections.
fn upstream_sending_unasked() -> (
    SocketAddr,
    std::sync::mpsc::Sender<()>,
    std::sync::mpsc::Receiver<()>,
    Arc<AtomicUsize>,
) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let (go, went) = std::sync::mpsc::channel::<()>();
    let went = Arc::new(std::sync::Mutex::new(went));
    let (sent, told) = std::sync::mpsc::channel();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            counter.fetch_add(1, Ordering::SeqCst);
            let (went, sent) = (went.clone(), sent.clone());
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                // Else Nagle holds the unasked answer until the gateway's delayed ack.
                let _ = stream.set_nodelay(true);
                let mut pending = Vec::new();
                let mut buf = [0u8; 8192];
                loop {
                    // Requests through the gateway here are GETs without a body.
                    let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match stream.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => pending.extend_from_slice(&buf[..n]),
                        }
                        continue;
                    };
                    let head: Vec<u8> = pending.drain(..end + 4).collect();
                    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
                    let body = r#"{"Data":{}}"#;
                    let answer = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}", body.len());
                    if stream.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                    if head.contains("\r\nx-test-unasked:") {
                        if went
                            .lock()
                            .unwrap()
                            .recv_timeout(Duration::from_secs(10))
                            .is_err()
                        {
                            return;
                        }
                        let leaked = r#"{"Data":{"Owner":"LEAKED"}}"#;
                        let unasked = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{leaked}", leaked.len());
                        let _ = stream.write_all(unasked.as_bytes());
                        let _ = sent.send(());
                    }
                }
            });
        }
    });
    (address, go, told, connections)
}

/// An upstream that sends an answer unasked on an idle keep-alive connection must not
/// have it delivered to the next partner whose request would reuse that connection: the
/// gateway leaves the connection and answers from a new one.
#[tokio::test]
async fn an_answer_an_upstream_sends_unasked_never_reaches_the_next_partner() {
    let (upstream, go, sent, connections) = upstream_sending_unasked();
    let h = Harness::start_with(|c| {
        c.environments[0].upstream_url = format!("http://{upstream}");
        c.operations = operations_without_schemas();
    })
    .await;
    open_echo(&h).await;
    let acme = h.token_mtls(ACME).await;
    let finch = h.token_jwt(FINCH, Production).await;
    let url = format!("{}/accounts", h.gateway(Production));
    let first = Request::get(&url)
        .header("authorization", format!("Bearer {acme}"))
        .header("x-test-unasked", "1")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let r = h.client(Some(ACME)).send(first).await.unwrap();
    assert_eq!(r.status(), 200);
    go.send(()).unwrap();
    sent.recv_timeout(Duration::from_secs(10)).unwrap();
    // The gateway's reactor polls while this waits, and sees the idle connection readable.
    tokio::time::sleep(Duration::from_millis(20)).await;

    let r = h.get(Production, "/accounts", Some(&finch), None).await;
    assert_eq!(r.status(), 200);
    let body = String::from_utf8_lossy(r.body()).into_owned();
    assert!(!body.contains("LEAKED"), "{body}");
    assert_eq!(json_body(&r), json!({"Data": {}}));
    assert_eq!(
        connections.load(Ordering::SeqCst),
        2,
        "the tainted connection was left"
    );
    h.stop().await;
}

/// An idle keep-alive connection is closed once the header timeout passes, so idle
/// clients cannot hold connections (and file descriptors) forever.
#[tokio::test]
async fn idle_keep_alive_connections_are_closed() {
    let h = with_echo(5).await;
    let token = h.token_jwt(FINCH, Production).await;
    let mut tls = h.tls_stream(Production, None).await;
    let req = format!("GET /accounts HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {token}\r\n\r\n");
    tokio::io::AsyncWriteExt::write_all(&mut tls, req.as_bytes())
        .await
        .unwrap();
    let mut buf = vec![0u8; 65536];
    let n = tokio::io::AsyncReadExt::read(&mut tls, &mut buf)
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // Now idle. The header timeout is 1 s in this harness.
    let started = Instant::now();
    let closed = loop {
        match tokio::time::timeout(
            Duration::from_secs(5),
            tokio::io::AsyncReadExt::read(&mut tls, &mut buf),
        )
        .await
        {
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(_)) => continue,
            Err(_) => break false,
        }
    };
    assert!(
        closed,
        "idle connection still open after {:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "closed only after {:?}",
        started.elapsed()
    );
    h.stop().await;
}

/// Error answers keep their envelope as short text, even for a partner allowed every field:
/// an upstream cannot smuggle data out inside `detail` or an error item.
#[tokio::test]
async fn upstream_error_bodies_keep_only_their_envelope() {
    let h = with_echo(5).await;
    let acme = h.token_mtls(ACME).await;
    let req = Request::get(format!("{}/accounts", h.gateway(Production)))
        .header("authorization", format!("Bearer {acme}"))
        .header("x-test-error", "1")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let r = h.client(Some(ACME)).send(req).await.unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(
        json_body(&r),
        json!({"Code": "409", "Message": "conflict", "Errors": [{"ErrorCode": "UK.OBIE.Resource.Exists", "Message": "exists"}]})
    );
    let request_id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    let audit_dir = h.dir.path().canonicalize().unwrap().join("audit");
    let entries = portcullis_audit::query::query(&audit_dir, &Default::default()).unwrap();
    let entry = entries
        .iter()
        .find(|e| e.event.request_id.as_deref() == Some(request_id.as_str()))
        .unwrap();
    // The hostile name is recorded as it was, escaped, and changed nothing else.
    assert_eq!(entry.event.decision, portcullis_audit::Decision::Allow);
    for removed in ["detail", "echo", "Errors[*].Iban", HOSTILE_MEMBER] {
        assert!(
            entry.event.fields_removed.iter().any(|f| f == removed),
            "{removed} not recorded: {:?}",
            entry.event.fields_removed
        );
    }
    h.stop().await;
}

/// What the gateway cannot filter it does not pass on: a partner allowed every field still
/// gets 502, not the upstream's unfiltered bytes.
#[tokio::test]
async fn unfilterable_upstream_answers_are_refused_not_passed_on() {
    let h = with_echo(5).await;
    let acme = h.token_mtls(ACME).await;
    for (header, value, reason) in [
        ("x-test-content-type", "text/plain", "not JSON"),
        ("x-test-content-encoding", "gzip", "encoded"),
    ] {
        let req = Request::get(format!("{}/accounts", h.gateway(Production)))
            .header("authorization", format!("Bearer {acme}"))
            .header(header, value)
            .body(Full::new(Bytes::new()))
            .unwrap();
        let r = h.client(Some(ACME)).send(req).await.unwrap();
        assert_eq!(r.status(), 502, "{reason}");
        let body = String::from_utf8_lossy(r.body());
        assert!(
            !body.contains("x-portcullis-partner-id"),
            "{reason}: the upstream's body leaked: {body}"
        );
        assert_eq!(
            json_body(&r)["type"],
            "urn:portcullis:problem:upstream-unfilterable"
        );
    }
    h.stop().await;
}

/// One request over a fresh plain-HTTP connection.
async fn plain_http(address: &str, request: Request<Full<Bytes>>) -> (u16, Value) {
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(connection);
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_plain_http_listener_runs_the_whole_pipeline_and_speaks_no_tls() {
    let h = Harness::start_with(|c| {
        for env in &mut c.environments {
            if env.name == Production {
                env.transport = portcullis::config::ListenerTransport::Http;
                env.client_certificates = portcullis::config::ClientCertificates::None;
            }
        }
    })
    .await;
    let gateway = h.gateway(Production);
    let issuer = h.issuer(Production);
    assert!(gateway.starts_with("http://"), "{gateway}");
    assert_eq!(issuer, gateway);
    assert!(h
        .gateway(portcullis_core::Environment::Sandbox)
        .starts_with("https://"));
    let address = gateway.trim_start_matches("http://").to_string();

    // private_key_jwt over plain HTTP, the assertion addressed to the http:// issuer.
    let key = h.partner(FINCH)["private_key"]
        .as_str()
        .unwrap()
        .to_string();
    let assertion =
        portcullis::token_cmd::client_assertion(FINCH, &issuer, std::path::Path::new(&key))
            .unwrap();
    let form = serde_urlencoded::to_string([
        ("grant_type", "client_credentials"),
        (
            "client_assertion_type",
            portcullis_authorization_server::JWT_BEARER_ASSERTION,
        ),
        ("client_assertion", &assertion),
    ])
    .unwrap();
    let token_request = Request::post("/oauth2/token")
        .header("host", &address)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(form)))
        .unwrap();
    let (status, token) = plain_http(&address, token_request).await;
    assert_eq!(status, 200, "{token}");
    let token = token["access_token"].as_str().unwrap().to_string();

    // Authenticated, authorized and filtered: Finch sees four account fields.
    let account = h.s("/sample/account_id");
    let get = |bearer: Option<&str>| {
        let mut r = Request::get(format!("/accounts/{account}")).header("host", &address);
        if let Some(t) = bearer {
            r = r.header("authorization", format!("Bearer {t}"));
        }
        r.body(Full::new(Bytes::new())).unwrap()
    };
    let (status, body) = plain_http(&address, get(Some(&token))).await;
    assert_eq!(status, 200, "{body}");
    let fields: Vec<&String> = body["Data"]["Account"][0]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(fields, ["AccountId", "AccountType", "Currency", "Status"]);
    let (status, _) = plain_http(&address, get(None)).await;
    assert_eq!(status, 401);
    let (status, _) = plain_http(&address, get(Some("not-a-token"))).await;
    assert_eq!(status, 401);

    // A TLS client gets no handshake from it.
    let tcp = tokio::net::TcpStream::connect(&address).await.unwrap();
    let handshake = tokio_rustls::TlsConnector::from(h.tls(None)).connect(
        rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap(),
        tcp,
    );
    let outcome = tokio::time::timeout(Duration::from_secs(5), handshake).await;
    assert!(
        matches!(outcome, Ok(Err(_))),
        "a TLS handshake succeeded on a plain listener"
    );
    h.stop().await;
}
