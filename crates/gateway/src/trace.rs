//! W3C Trace Context (https://www.w3.org/TR/trace-context/): the gateway continues the
//! caller's trace when it sends a valid `traceparent`, or starts one whose trace id is the
//! request id, and is itself a span with a fresh id: the parent of the upstream call and
//! the span exported to OpenTelemetry.

use portcullis_audit::TraceIds;

pub struct TraceContext {
    pub trace_id: String,
    pub span_id: String,
    /// The caller's span, when it sent a valid trace context.
    pub parent_span_id: Option<String>,
    flags: String,
}

impl TraceContext {
    pub fn start(incoming: Option<&str>, request_id: &str) -> Self {
        let span = uuid::Uuid::new_v4().simple().to_string();
        let span_id = span[..16].to_string();
        match incoming.and_then(parse) {
            Some((trace_id, parent, flags)) => Self {
                trace_id: trace_id.to_string(),
                span_id,
                parent_span_id: Some(parent.to_string()),
                flags: flags.to_string(),
            },
            None => Self {
                // A request id is 32 lowercase hex digits: a valid trace id.
                trace_id: if is_hex(request_id, 32) && !is_zero(request_id) {
                    request_id.to_string()
                } else {
                    uuid::Uuid::new_v4().simple().to_string()
                },
                span_id,
                parent_span_id: None,
                flags: "01".into(),
            },
        }
    }

    /// Whether the caller's trace goes on (when not, its `tracestate` is not passed on).
    pub fn continued(&self) -> bool {
        self.parent_span_id.is_some()
    }

    /// The header for the upstream call, with the gateway's span as its parent.
    pub fn traceparent(&self) -> String {
        format!("00-{}-{}-{}", self.trace_id, self.span_id, self.flags)
    }

    /// The ids for the audit entry, once the upstream call no longer needs them.
    pub fn into_ids(self) -> TraceIds {
        TraceIds {
            trace_id: self.trace_id,
            span_id: self.span_id,
            parent_span_id: self.parent_span_id,
        }
    }
}

/// Trace id, parent id and flags of a valid version-00 `traceparent`.
fn parse(value: &str) -> Option<(&str, &str, &str)> {
    let mut parts = value.trim().split('-');
    let (version, trace_id, parent_id, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || version != "00" {
        return None;
    }
    let valid = is_hex(trace_id, 32)
        && !is_zero(trace_id)
        && is_hex(parent_id, 16)
        && !is_zero(parent_id)
        && is_hex(flags, 2);
    valid.then_some((trace_id, parent_id, flags))
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn is_zero(s: &str) -> bool {
    s.bytes().all(|b| b == b'0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_trace_is_continued_with_the_gateway_as_the_new_parent() {
        let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let t = TraceContext::start(Some(incoming), "0123456789abcdef0123456789abcdef");
        assert!(t.continued());
        assert_eq!(t.parent_span_id.as_deref(), Some("00f067aa0ba902b7"));
        let out = t.traceparent();
        assert!(out.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
        assert!(out.ends_with("-01"));
        assert!(is_hex(&t.span_id, 16) && t.span_id != "00f067aa0ba902b7");
    }

    #[test]
    fn hostile_or_malformed_traces_start_a_new_one_from_the_request_id() {
        let rid = "0123456789abcdef0123456789abcdef";
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e47é6-00f067aa0ba902b7-01",
        ] {
            let t = TraceContext::start(Some(bad), rid);
            assert!(!t.continued());
            assert!(
                t.traceparent().starts_with(&format!("00-{rid}-")),
                "{bad:?}"
            );
            assert!(parse(&t.traceparent()).is_some());
        }
    }
}
