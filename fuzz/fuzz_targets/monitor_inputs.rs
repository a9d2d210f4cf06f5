#![no_main]
//! Inputs the monitoring path takes from outside: a caller's `traceparent` (whatever it
//! sends, the gateway forwards a valid one), a webhook signature header (verification
//! never panics and never accepts what was not signed with the key), and contract access
//! hours (accepted only as a real, non-empty window).
use libfuzzer_sys::fuzz_target;
use portcullis_gateway::trace::TraceContext;
use portcullis_monitor::detect::AccessHours;
use portcullis_monitor::webhook;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let trace = TraceContext::start(Some(text), "0123456789abcdef0123456789abcdef");
    let header = trace.traceparent();
    assert_eq!(header.len(), 55, "{header}");
    let again = TraceContext::start(Some(&header), "0123456789abcdef0123456789abcdef");
    assert!(again.continued(), "{header} is not accepted back");
    assert_eq!(again.trace_id, trace.trace_id);

    let key = b"a fuzzing key of at least 32 bytes!!";
    assert!(!webhook::verify(key, text, b"{}", 1_800_000_000, 300));

    if let Ok(hours) = AccessHours::parse(text) {
        assert_ne!(hours.start_minute, hours.end_minute);
        assert!(hours.start_minute <= 24 * 60 && hours.end_minute <= 24 * 60);
        let _ = hours.allows(i64::MIN);
        let _ = hours.allows(i64::MAX);
    }
});
