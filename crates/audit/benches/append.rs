//! Durable audit appends per second: concurrent appenders, each waiting until its entry is
//! written and fsynced (group commit), as the gateway does.
//!
//! `cargo bench -p portcullis-audit --bench append` (the data lives in a temporary
//! directory on the same disk as /tmp).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis_audit::{Actor, AuditConfig, AuditEvent, AuditLog, Decision, EventKind};

fn event(i: u64) -> AuditEvent {
    AuditEvent {
        time_ms: 1_800_000_000_000 + i as i64,
        kind: EventKind::GatewayRequest,
        environment: Some(portcullis_core::Environment::Production),
        actor: Actor {
            partner_id: Some("finch-lending".into()),
            client_id: Some("finch-lending-prod".into()),
            admin: None,
        },
        action: "getAccountBalances".into(),
        target: BTreeMap::from([("account_id".to_string(), format!("acc-{:08x}", i))]),
        decision: Decision::Allow,
        reason: "allowed".into(),
        status: Some(200),
        latency_us: Some(850),
        source_ip: Some("203.0.113.10".into()),
        request_id: Some(format!("{:032x}", i)),
        fields_removed: Default::default(),
        trace: None,
    }
}

async fn run(concurrency: usize, duration: Duration) -> (u64, f64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Arc::new(AuditLog::open(AuditConfig::new(dir.path().join("audit"))).expect("open"));
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|t| {
            let log = log.clone();
            tokio::spawn(async move {
                let mut n = 0u64;
                while started.elapsed() < duration {
                    log.append(&event(t as u64 * 1_000_000 + n))
                        .await
                        .expect("append");
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("task");
    }
    let elapsed = started.elapsed().as_secs_f64();
    log.close();
    let report =
        portcullis_audit::verify_dir(&dir.path().join("audit"), None, None).expect("verify");
    assert_eq!(report.entries, total);
    (total, total as f64 / elapsed)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let duration = Duration::from_secs(
        std::env::var("BENCH_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(3),
    );
    println!("| concurrent appenders | entries | durable entries/s |");
    println!("| ---: | ---: | ---: |");
    for concurrency in [1, 16, 256, 4096] {
        let (total, rate) = runtime.block_on(run(concurrency, duration));
        println!("| {concurrency} | {total} | {rate:.0} |");
    }
}
