//! An event's JSON as the log stores it, written by hand: the same bytes `serde_json`
//! writes for [`AuditEvent`]'s `Serialize` (the tests hold the two to that), in about half
//! the time. A gateway request's entry is most of a kilobyte of strings, and
//! `serde_json` checks each byte against its escape table one at a time; here eight bytes
//! are checked at once and copied whole when none needs escaping, which is nearly always.

use std::collections::BTreeMap;

use portcullis_core::Environment;

use crate::event::{Actor, AuditEvent, Decision, EventKind, TraceIds};

/// `event`'s JSON in a buffer of its own, sized for a gateway request's entry (most of a
/// kilobyte) so it is allocated once rather than grown in steps.
pub fn to_vec(event: &AuditEvent) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    write_event(event, &mut out);
    out
}

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
/// bytes JSON strings escape. Each test is "some byte is below n" (n at most 0x80): with
/// none below, `x - n` borrows nowhere, and `& !x` drops bytes whose high bit was set
/// already (non-ASCII); the lowest byte below `n` always ends with its high bit set. Only
/// the yes-or-no answer is exact: a borrow can also flag bytes above the real one, so
/// finding *which* byte would need more than this mask.
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
mod tests;
