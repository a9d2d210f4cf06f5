use super::*;
use crate::event::RemovedPaths;
use proptest::prelude::*;

fn by_hand(event: &AuditEvent) -> String {
    let mut out = Vec::new();
    write_event(event, &mut out);
    String::from_utf8(out).expect("the encoder writes UTF-8")
}

fn gateway_request() -> AuditEvent {
    let mut removed = RemovedPaths::new();
    removed.push("Data.Account[*].Nickname");
    removed.push("Data.Account[*].Servicer");
    AuditEvent {
        time_ms: 1_795_564_152_648,
        kind: EventKind::GatewayRequest,
        environment: Some(Environment::Production),
        actor: Actor {
            partner_id: Some("finch-lending".into()),
            client_id: Some("finch-lending-prod".into()),
            admin: None,
        },
        action: "getAccount".into(),
        target: [("account_id".to_string(), "acc-4d6d87e9".to_string())].into(),
        decision: Decision::Allow,
        reason: "allowed".into(),
        status: Some(200),
        latency_us: Some(2500),
        source_ip: Some("127.0.0.1".into()),
        request_id: Some("2b75b619b2f34d12ba224eedab6422cc".into()),
        fields_removed: removed,
        trace: Some(TraceIds {
            trace_id: "2b75b619b2f34d12ba224eedab6422cc".into(),
            span_id: "665ea8a7900f4c6c".into(),
            parent_span_id: Some("00f067aa0ba902b7".into()),
        }),
    }
}

#[test]
fn a_gateway_request_is_written_as_serde_writes_it() {
    let event = gateway_request();
    let json = by_hand(&event);
    assert_eq!(json, serde_json::to_string(&event).unwrap());
    // And it reads back as the same event.
    assert_eq!(serde_json::from_str::<AuditEvent>(&json).unwrap(), event);
}

#[test]
fn every_kind_environment_and_decision_is_named_as_serde_names_it() {
    let kinds = EventKind::ALL;
    // No wildcard: a new kind does not compile until it is named here, where this says
    // to add it to `EventKind::ALL` as well.
    for kind in kinds {
        match kind {
            EventKind::GatewayRequest
            | EventKind::TokenIssued
            | EventKind::TokenRefused
            | EventKind::TokenIntrospected
            | EventKind::TokenRevoked
            | EventKind::AuthorizationServerRequest
            | EventKind::AdminChange
            | EventKind::AuditRead => {}
        }
    }
    for kind in kinds {
        for environment in [
            None,
            Some(Environment::Production),
            Some(Environment::Sandbox),
        ] {
            for decision in [Decision::Allow, Decision::Deny] {
                let mut event = AuditEvent::by_admin(-5, kind, "root", "close", BTreeMap::new());
                event.environment = environment;
                event.decision = decision;
                assert_eq!(by_hand(&event), serde_json::to_string(&event).unwrap());
            }
        }
    }
}

#[test]
fn absent_optional_fields_are_left_out_as_serde_leaves_them_out() {
    let mut event = gateway_request();
    event.environment = None;
    event.actor = Actor::default();
    event.target.clear();
    event.status = None;
    event.latency_us = None;
    event.source_ip = None;
    event.request_id = None;
    event.fields_removed = RemovedPaths::new();
    event.trace = None;
    assert_eq!(by_hand(&event), serde_json::to_string(&event).unwrap());
    event.actor.admin = Some("ops".into());
    event.trace = Some(TraceIds {
        trace_id: "a".into(),
        span_id: "b".into(),
        parent_span_id: None,
    });
    assert_eq!(by_hand(&event), serde_json::to_string(&event).unwrap());
}

#[test]
fn hostile_strings_are_escaped_as_serde_escapes_them() {
    let mut hostile: Vec<String> = (0u8..0x80).map(|b| char::from(b).to_string()).collect();
    hostile.extend(
        [
            "",
            "\"},\"decision\":\"allow",
            "a\\\"b",
            "\u{7f}\u{80}\u{ff}é€😀",
            "\u{2028}\u{2029}",
            "12345678\"",
            "1234567\u{0}89",
            "01234567012345670123456\n",
            "\u{1f}\u{1f}\u{1f}\u{1f}\u{1f}\u{1f}\u{1f}\u{1f}",
            "!!!!!!!!######## ]]]]]]]]",
        ]
        .map(String::from),
    );
    // Runs long enough to fill whole words with the bytes to escape.
    for escaped in ["\\", "\"", "\n", "\u{1}"] {
        hostile.push(format!("abcdefgh{}ijklmnop", escaped.repeat(17)));
    }
    for text in &hostile {
        let mut event = gateway_request();
        event.action = text.clone();
        event.reason = text.clone();
        event.target = [(text.clone(), text.clone())].into();
        event.fields_removed.push(text);
        event.actor.admin = Some(text.clone());
        assert_eq!(
            by_hand(&event),
            serde_json::to_string(&event).unwrap(),
            "{text:?}"
        );
    }
}

#[test]
fn integers_at_their_limits_are_written_as_serde_writes_them() {
    for (time_ms, status, latency) in [
        (i64::MIN, 0, 0),
        (i64::MAX, u16::MAX, u64::MAX),
        (0, 100, 1),
        (-1, 599, 10_000_000_000),
    ] {
        let mut event = gateway_request();
        event.time_ms = time_ms;
        event.status = Some(status);
        event.latency_us = Some(latency);
        assert_eq!(by_hand(&event), serde_json::to_string(&event).unwrap());
    }
}

#[test]
fn needs_escape_flags_exactly_the_words_holding_an_escaped_byte() {
    // Every byte value in every position of a word of otherwise plain bytes.
    for position in 0..8 {
        for byte in 0..=255u8 {
            let mut word = *b"abcdefgh";
            word[position] = byte;
            let expected = byte < 0x20 || byte == b'"' || byte == b'\\';
            assert_eq!(
                needs_escape(u64::from_ne_bytes(word)),
                expected,
                "byte {byte:#04x} at {position}"
            );
        }
    }
    // Neighbours that borrow: a byte just above a flagged one, high bytes around it.
    assert!(needs_escape(u64::from_ne_bytes(
        *b"\x00\x01\x21\x23\x5b\x5d\xff\x80"
    )));
    assert!(!needs_escape(u64::from_ne_bytes(
        *b"\x20\x21\x23\x5b\x5d\xff\x80\x7f"
    )));
}

/// Any text, with the bytes JSON escapes far likelier than in `any::<String>()`, which
/// holds no control characters.
const TEXT: &str = "(\\PC|[\\x00-\\x1f\"\\\\]){0,40}";

proptest! {
    #[test]
    fn any_strings_are_written_as_serde_writes_them(
        action in TEXT,
        reason in "[\\x00-\\x7f]{0,40}",
        key in TEXT,
        value in any::<String>(),
        paths in proptest::collection::vec(TEXT, 0..5),
        time_ms in any::<i64>(),
    ) {
        let mut event = gateway_request();
        event.action = action;
        event.reason = reason;
        event.target = [(key, value)].into();
        event.fields_removed = RemovedPaths::new();
        for path in &paths {
            event.fields_removed.push(path);
        }
        event.time_ms = time_ms;
        prop_assert_eq!(by_hand(&event), serde_json::to_string(&event).unwrap());
    }

    #[test]
    fn needs_escape_answers_as_a_byte_by_byte_check_does(word in any::<u64>()) {
        let expected = word
            .to_ne_bytes()
            .iter()
            .any(|&b| b < 0x20 || b == b'"' || b == b'\\');
        prop_assert_eq!(needs_escape(word), expected);
    }
}
