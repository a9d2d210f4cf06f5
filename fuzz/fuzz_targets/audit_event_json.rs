#![no_main]
//! An audit event holding any strings (a partner chooses paths, field names and ids): the
//! log's own encoder writes exactly the bytes serde_json writes for it, and they read back
//! as the same event.
use libfuzzer_sys::fuzz_target;
use portcullis_audit::{Actor, AuditEvent, Decision, EventKind, RemovedPaths, TraceIds};
use portcullis_core::Environment;

fuzz_target!(|input: &[u8]| {
    // Eleven bytes pick the shape (kind, which optional fields are there, numbers); the rest
    // splits on 0xFF, which UTF-8 never holds, into the strings (NUL and all).
    let Some((shape, rest)) = input.split_first_chunk::<11>() else {
        return;
    };
    let bits = shape[0];
    let number = i64::from_le_bytes([
        shape[2], shape[3], shape[4], shape[5], shape[6], shape[7], shape[8], shape[9],
    ]);
    let mut parts = rest
        .split(|&b| b == 0xff)
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let mut next = || parts.next().unwrap_or_default();
    let some = |bit: u8, value: String| (bits & (1 << bit) != 0).then_some(value);
    let mut event = AuditEvent {
        time_ms: number,
        kind: EventKind::ALL[usize::from(shape[1]) % EventKind::ALL.len()],
        environment: [
            None,
            Some(Environment::Production),
            Some(Environment::Sandbox),
        ][usize::from(shape[1] / 8 % 3)],
        actor: Actor {
            partner_id: some(0, next()),
            client_id: some(1, next()),
            admin: some(2, next()),
        },
        action: next(),
        target: Default::default(),
        decision: if bits & 8 != 0 {
            Decision::Deny
        } else {
            Decision::Allow
        },
        reason: next(),
        status: (bits & 16 != 0).then_some(number as u16),
        latency_us: (bits & 32 != 0).then_some(number as u64),
        source_ip: some(6, next()),
        request_id: some(7, next()),
        fields_removed: RemovedPaths::new(),
        trace: (shape[1] & 0x80 != 0).then(|| TraceIds {
            trace_id: next(),
            span_id: next(),
            parent_span_id: (shape[1] & 0x40 != 0).then(&mut next),
        }),
    };
    for _ in 0..usize::from(shape[10] % 4) {
        event.target.insert(next(), next());
    }
    for path in parts.take(8) {
        event.fields_removed.push(&path);
    }
    let mut out = Vec::new();
    portcullis_audit::json::write_event(&event, &mut out);
    assert_eq!(out, serde_json::to_vec(&event).expect("serializes"));
    let back: AuditEvent = serde_json::from_slice(&out).expect("reads back");
    assert_eq!(back, event);
});
