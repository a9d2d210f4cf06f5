//! An audit entry's JSON, as the log writes it (`portcullis_audit::json`) and as serde_json
//! writes the same event, side by side: the gateway's benchmark entry (a filtered account
//! read, 16 removed fields, about 950 bytes).
//!
//! `cargo bench -p portcullis-audit --bench event_json`

use std::collections::BTreeMap;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use portcullis_audit::{Actor, AuditEvent, Decision, EventKind, RemovedPaths, TraceIds};

const REMOVED: [&str; 16] = [
    "StatusUpdateDateTime",
    "AccountCategory",
    "AccountSubType",
    "Description",
    "Nickname",
    "OpeningDate",
    "MaturityDate",
    "SwitchStatus",
    "Account",
    "Servicer",
    "Overdraft",
    "Statements",
    "Branch",
    "ReadRefundAccount",
    "AccountHolderType",
    "Features",
];

fn gateway_request() -> AuditEvent {
    let mut fields_removed = RemovedPaths::new();
    for field in REMOVED {
        fields_removed.push(&format!("Data.Account[*].{field}"));
    }
    AuditEvent {
        time_ms: 1_795_564_152_648,
        kind: EventKind::GatewayRequest,
        environment: Some(portcullis_core::Environment::Production),
        actor: Actor {
            partner_id: Some("finch-lending".into()),
            client_id: Some("finch-lending-prod".into()),
            admin: None,
        },
        action: "getAccount".into(),
        target: BTreeMap::from([("account_id".to_string(), "acc-4d6d87e9".to_string())]),
        decision: Decision::Allow,
        reason: "allowed".into(),
        status: Some(200),
        latency_us: Some(2500),
        source_ip: Some("127.0.0.1".into()),
        request_id: Some("2b75b619b2f34d12ba224eedab6422cc".into()),
        fields_removed,
        trace: Some(TraceIds {
            trace_id: "2b75b619b2f34d12ba224eedab6422cc".into(),
            span_id: "665ea8a7900f4c6c".into(),
            parent_span_id: None,
        }),
    }
}

fn encode(c: &mut Criterion) {
    let event = gateway_request();
    let mut group = c.benchmark_group("event_json");
    let mut out = Vec::with_capacity(1024);
    portcullis_audit::json::write_event(&event, &mut out);
    group.throughput(Throughput::Bytes(out.len() as u64));
    group.bench_function("portcullis", |b| {
        b.iter(|| {
            out.clear();
            portcullis_audit::json::write_event(&event, &mut out);
            out.len()
        })
    });
    group.bench_function("serde_json", |b| {
        b.iter(|| {
            out.clear();
            serde_json::to_writer(&mut out, &event).expect("serializes");
            out.len()
        })
    });
    group.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
