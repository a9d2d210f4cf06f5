//! An event's JSON as the log stores it, written by hand: the same bytes `serde_json`
//! writes for [`AuditEvent`]'s `Serialize` (the tests hold the two to that), in about a
//! third of the time. A gateway request's entry is most of a kilobyte of strings, and
//! `serde_json` checks each byte against its escape table one at a time; here eight bytes
//! are checked at once and copied whole when none needs escaping, which is nearly always.

use std::collections::BTreeMap;

use portcullis_core::Environment;

use crate::event::{Actor, AuditEvent, Decision, EventKind, TraceIds};

/// Appends `event`'s JSON to `out`.
pub fn write_event(event: &AuditEvent, out: &mut Vec<u8>) {
    // Named field by field, without `..`: a field added to the event does not compile
    // until it is written here too.
    let AuditEvent {
        time_ms,
        kind,
        environment,
        actor,
        action,
        target,
        decision,
        reason,
        status,
        latency_us,
        source_ip,
        request_id,
        fields_removed,
        trace,
    } = event;
    out.extend_from_slice(b"{\"time_ms\":");
    out.extend_from_slice(itoa::Buffer::new().format(*time_ms).as_bytes());
    out.extend_from_slice(b",\"kind\":\"");
    out.extend_from_slice(kind_name(*kind).as_bytes());
    out.push(b'"');
    if let Some(environment) = environment {
        out.extend_from_slice(b",\"environment\":\"");
        out.extend_from_slice(environment_name(*environment).as_bytes());
        out.push(b'"');
    }
    out.extend_from_slice(b",\"actor\":");
    write_actor(actor, out);
    out.extend_from_slice(b",\"action\":");
    write_str(action, out);
    if !target.is_empty() {
        out.extend_from_slice(b",\"target\":");
        write_map(target, out);
    }
    out.extend_from_slice(match decision {
        Decision::Allow => b",\"decision\":\"allow\",\"reason\":",
        Decision::Deny => b",\"decision\":\"deny\",\"reason\":",
    });
    write_str(reason, out);
    if let Some(status) = status {
        out.extend_from_slice(b",\"status\":");
        out.extend_from_slice(itoa::Buffer::new().format(*status).as_bytes());
    }
    if let Some(latency) = latency_us {
        out.extend_from_slice(b",\"latency_us\":");
        out.extend_from_slice(itoa::Buffer::new().format(*latency).as_bytes());
    }
    write_optional(b",\"source_ip\":", source_ip.as_deref(), out);
    write_optional(b",\"request_id\":", request_id.as_deref(), out);
    if !fields_removed.is_empty() {
        out.extend_from_slice(b",\"fields_removed\":[");
        for (i, path) in fields_removed.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(path, out);
        }
        out.push(b']');
    }
    if let Some(trace) = trace {
        out.extend_from_slice(b",\"trace\":");
        write_trace(trace, out);
    }
    out.push(b'}');
}

/// Exhaustive, so a new kind cannot be added without its name here; the tests check
/// every name against serde's.
fn kind_name(kind: EventKind) -> &'static str {
    match kind {
        EventKind::GatewayRequest => "gateway_request",
        EventKind::TokenIssued => "token_issued",
        EventKind::TokenRefused => "token_refused",
        EventKind::TokenIntrospected => "token_introspected",
        EventKind::TokenRevoked => "token_revoked",
        EventKind::AuthorizationServerRequest => "authorization_server_request",
        EventKind::AdminChange => "admin_change",
        EventKind::AuditRead => "audit_read",
    }
}

fn environment_name(environment: Environment) -> &'static str {
    match environment {
        Environment::Production => "production",
        Environment::Sandbox => "sandbox",
    }
}

fn write_actor(actor: &Actor, out: &mut Vec<u8>) {
    let Actor {
        partner_id,
        client_id,
        admin,
    } = actor;
    out.push(b'{');
    let mut first = true;
    for (name, value) in [
        ("partner_id", partner_id),
        ("client_id", client_id),
        ("admin", admin),
    ] {
        if let Some(value) = value {
            if !first {
                out.push(b',');
            }
            first = false;
            out.push(b'"');
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\":");
            write_str(value, out);
        }
    }
    out.push(b'}');
}

fn write_map(map: &BTreeMap<String, String>, out: &mut Vec<u8>) {
    out.push(b'{');
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(key, out);
        out.push(b':');
        write_str(value, out);
    }
    out.push(b'}');
}

fn write_trace(trace: &TraceIds, out: &mut Vec<u8>) {
    let TraceIds {
        trace_id,
        span_id,
        parent_span_id,
    } = trace;
    out.extend_from_slice(b"{\"trace_id\":");
    write_str(trace_id, out);
    out.extend_from_slice(b",\"span_id\":");
    write_str(span_id, out);
    write_optional(b",\"parent_span_id\":", parent_span_id.as_deref(), out);
    out.push(b'}');
}

fn write_optional(key: &[u8], value: Option<&str>, out: &mut Vec<u8>) {
    if let Some(value) = value {
        out.extend_from_slice(key);
        write_str(value, out);
    }
}

const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);

/// Whether any of the eight bytes is a control character (below 0x20), `"` or `\`: the
/// bytes JSON strings escape. `x - n` borrows into a byte's high bit only where that byte
/// was below `n`, and `& !x` ignores bytes that had the bit set already (non-ASCII).
fn needs_escape(word: u64) -> bool {
    let below_space = word.wrapping_sub(ONES * 0x20) & !word;
    let quote = word ^ (ONES * u64::from(b'"'));
    let quote = quote.wrapping_sub(ONES) & !quote;
    let backslash = word ^ (ONES * u64::from(b'\\'));
    let backslash = backslash.wrapping_sub(ONES) & !backslash;
    (below_space | quote | backslash) & HIGHS != 0
}

/// A JSON string, escaped as `serde_json` escapes: `\"`, `\\`, the short forms of
/// backspace, form feed, newline, carriage return and tab, `\u00XX` (lowercase hex) for
/// the other control characters, and everything else (DEL and non-ASCII included) as is.
fn write_str(text: &str, out: &mut Vec<u8>) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // Bytes before `copied` are in `out`; those from it up to `at` need no escape.
    let mut copied = 0;
    let mut at = 0;
    while at < bytes.len() {
        if let Some(Ok(word)) = bytes.get(at..at + 8).map(<[u8; 8]>::try_from) {
            if !needs_escape(u64::from_ne_bytes(word)) {
                at += 8;
                continue;
            }
        }
        let byte = bytes[at];
        if let Some(escape) = escape_of(byte) {
            out.extend_from_slice(&bytes[copied..at]);
            match escape {
                Escape::Short(letter) => out.extend_from_slice(&[b'\\', letter]),
                Escape::Unicode => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    out.extend_from_slice(b"\\u00");
                    out.push(HEX[usize::from(byte >> 4)]);
                    out.push(HEX[usize::from(byte & 0xf)]);
                }
            }
            copied = at + 1;
        }
        at += 1;
    }
    out.extend_from_slice(&bytes[copied..]);
    out.push(b'"');
}

enum Escape {
    Short(u8),
    Unicode,
}

fn escape_of(byte: u8) -> Option<Escape> {
    match byte {
        b'"' => Some(Escape::Short(b'"')),
        b'\\' => Some(Escape::Short(b'\\')),
        0x08 => Some(Escape::Short(b'b')),
        0x0c => Some(Escape::Short(b'f')),
        b'\n' => Some(Escape::Short(b'n')),
        b'\r' => Some(Escape::Short(b'r')),
        b'\t' => Some(Escape::Short(b't')),
        0x00..=0x1f => Some(Escape::Unicode),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
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
        let kinds = [
            EventKind::GatewayRequest,
            EventKind::TokenIssued,
            EventKind::TokenRefused,
            EventKind::TokenIntrospected,
            EventKind::TokenRevoked,
            EventKind::AuthorizationServerRequest,
            EventKind::AdminChange,
            EventKind::AuditRead,
        ];
        for kind in kinds {
            for environment in [
                None,
                Some(Environment::Production),
                Some(Environment::Sandbox),
            ] {
                for decision in [Decision::Allow, Decision::Deny] {
                    let mut event =
                        AuditEvent::by_admin(-5, kind, "root", "close", BTreeMap::new());
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

    proptest! {
        #[test]
        fn any_strings_are_written_as_serde_writes_them(
            action in any::<String>(),
            reason in "[\\x00-\\x7f]{0,40}",
            key in any::<String>(),
            value in "(\\PC|[\\x00-\\x1f\"\\\\]){0,30}",
            paths in proptest::collection::vec(any::<String>(), 0..5),
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
    }
}
