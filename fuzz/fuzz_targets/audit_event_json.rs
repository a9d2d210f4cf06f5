#![no_main]
//! An audit event holding any strings (a partner chooses paths, field names and ids): the
//! log's own encoder writes exactly the bytes serde_json writes for it, and they read back
//! as the same event.
use libfuzzer_sys::fuzz_target;
use portcullis_audit::{AuditEvent, EventKind, RemovedPaths};

fuzz_target!(|input: &[u8]| {
    let text = String::from_utf8_lossy(input);
    let mut parts = text.split('\u{0}');
    let mut next = || parts.next().unwrap_or_default().to_string();
    let mut event = AuditEvent::by_admin(
        i64::from(input.len() as u32) - 7,
        EventKind::GatewayRequest,
        &next(),
        &next(),
        [(next(), next())].into(),
    );
    event.reason = next();
    event.source_ip = Some(next());
    let mut removed = RemovedPaths::new();
    for path in parts.by_ref().take(8) {
        removed.push(path);
    }
    event.fields_removed = removed;
    let mut out = Vec::new();
    portcullis_audit::json::write_event(&event, &mut out);
    assert_eq!(out, serde_json::to_vec(&event).expect("serializes"));
    let back: AuditEvent = serde_json::from_slice(&out).expect("reads back");
    assert_eq!(back, event);
});
