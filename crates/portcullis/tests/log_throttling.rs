//! Logs under a failing audit log, in a test binary of its own: the test installs its own
//! tracing subscriber, and a test on another thread of the same binary reaching a log
//! call first could settle that call as unwanted before this subscriber exists.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use portcullis_core::Environment::Production;

/// What the test logs, as text: the gateway's tasks run on the test's thread, where this
/// subscriber is the default.
#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLogs {
    fn lines_with(&self, text: &str) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter(|l| l.contains(text))
            .map(str::to_string)
            .collect()
    }
}

/// With the audit log gone every answer is withheld, and each request still has its own
/// 503 and its own log line; the error itself is logged once a second at most, with the
/// count withheld meanwhile, not once per request (a storm of identical lines when the
/// gateway can least afford it, burying the first).
#[tokio::test]
async fn withheld_answers_are_logged_once_a_second_with_a_count_not_once_each() {
    let logs = CapturedLogs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);
    let h = Harness::start_with_manual_clock().await;
    let clock = h.clock.clone().unwrap();
    let account = h.s("/sample/account_id");
    let finch = h.token_jwt(FINCH, Production).await;
    let path = format!("/accounts/{account}/balances");
    assert_eq!(h.status(Production, &path, Some(&finch), None).await, 200);
    const WITHHELD: &str = "audit entry not recorded; withholding the answer";
    assert!(logs.lines_with(WITHHELD).is_empty());

    h.running().audit.close();
    for _ in 0..5 {
        assert_eq!(h.status(Production, &path, Some(&finch), None).await, 503);
    }
    let lines = logs.lines_with(WITHHELD);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].contains("withheld_since_last_line=0"),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("not accepting entries"), "{}", lines[0]);

    clock.advance_ms(999);
    assert_eq!(h.status(Production, &path, Some(&finch), None).await, 503);
    assert_eq!(logs.lines_with(WITHHELD).len(), 1);
    clock.advance_ms(1);
    assert_eq!(h.status(Production, &path, Some(&finch), None).await, 503);
    let lines = logs.lines_with(WITHHELD);
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(
        lines[1].contains("withheld_since_last_line=5"),
        "{}",
        lines[1]
    );
    // Every withheld answer has its own line, with its status and why.
    let denied = logs.lines_with("request denied");
    assert_eq!(denied.len(), 7, "{denied:#?}");
    assert!(
        denied
            .iter()
            .all(|l| l.contains("status=503") && l.contains("reason=\"audit_unavailable\"")),
        "{denied:#?}"
    );
    // And counted for metrics: withheld, none shed.
    let refusals = h.running().audit.refusals();
    assert_eq!((refusals.no_slot, refusals.not_recorded), (0, 7));
    h.stop().await;
}
