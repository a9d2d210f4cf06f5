//! W3C Trace Context (https://www.w3.org/TR/trace-context/): the gateway continues the
//! caller's trace when it sends a valid `traceparent`, or starts one whose trace id is the
//! request id, and is itself a span with a fresh id: the parent of the upstream call and
//! the span exported to OpenTelemetry.

use http::HeaderValue;
use portcullis_audit::TraceIds;

/// Lowercase hex digits held inline: a request's trace ids cost no allocation until its
/// audit entry takes them.
#[derive(Clone, Copy)]
struct Hex<const N: usize>([u8; N]);

impl<const N: usize> Hex<N> {
    /// `text` when it is N lowercase hex digits.
    fn parse(text: &str) -> Option<Self> {
        let bytes: [u8; N] = text.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            .then_some(Self(bytes))
    }

    /// The low N / 2 bytes of `value`, as hex.
    fn of(value: u128) -> Self {
        const { assert!(N <= 32, "a u128 has 32 hex digits") };
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; N];
        for (i, digit) in out.iter_mut().enumerate() {
            let shift = 4 * (N - 1 - i);
            *digit = DIGITS[((value >> shift) & 0xf) as usize];
        }
        Self(out)
    }

    fn as_str(&self) -> &str {
        // Only ever hex digits (see `parse` and `of`).
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

pub struct TraceContext {
    trace_id: Hex<32>,
    span_id: Hex<16>,
    /// The caller's span, when it sent a valid trace context.
    parent_span_id: Option<Hex<16>>,
    flags: Hex<2>,
}

impl TraceContext {
    pub fn start(incoming: Option<&str>, request_id: &str) -> Self {
        let span_id = Hex::of(u128::from(uuid::Uuid::new_v4().as_u64_pair().0));
        match incoming.and_then(parse) {
            Some((trace_id, parent, flags)) => Self {
                trace_id,
                span_id,
                parent_span_id: Some(parent),
                flags,
            },
            None => Self {
                // A request id is 32 lowercase hex digits: a valid trace id.
                trace_id: Hex::parse(request_id)
                    .filter(|id| !is_zero(id.as_str()))
                    .unwrap_or_else(|| Hex::of(uuid::Uuid::new_v4().as_u128())),
                span_id,
                parent_span_id: None,
                flags: Hex(*b"01"),
            },
        }
    }

    /// Whether the caller's trace goes on (when not, its `tracestate` is not passed on).
    pub fn continued(&self) -> bool {
        self.parent_span_id.is_some()
    }

    /// The header for the upstream call, with the gateway's span as its parent. Hex
    /// digits and dashes only, so always a valid field value; `None` is never expected.
    pub fn traceparent(&self) -> Option<HeaderValue> {
        let mut value = [0u8; 55];
        let parts: [&[u8]; 6] = [
            b"00-",
            &self.trace_id.0,
            b"-",
            &self.span_id.0,
            b"-",
            &self.flags.0,
        ];
        let mut at = 0;
        for part in parts {
            value[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        HeaderValue::from_bytes(&value).ok()
    }

    /// The ids for the audit entry, once the upstream call no longer needs them.
    pub fn into_ids(self) -> TraceIds {
        TraceIds {
            trace_id: self.trace_id.as_str().to_owned(),
            span_id: self.span_id.as_str().to_owned(),
            parent_span_id: self.parent_span_id.map(|p| p.as_str().to_owned()),
        }
    }
}

/// Trace id, parent id and flags of a valid version-00 `traceparent`.
fn parse(value: &str) -> Option<(Hex<32>, Hex<16>, Hex<2>)> {
    let mut parts = value.trim().split('-');
    let (version, trace_id, parent_id, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || version != "00" {
        return None;
    }
    let trace_id = Hex::parse(trace_id).filter(|id| !is_zero(id.as_str()))?;
    let parent_id = Hex::parse(parent_id).filter(|id| !is_zero(id.as_str()))?;
    Some((trace_id, parent_id, Hex::parse(flags)?))
}

fn is_zero(s: &str) -> bool {
    s.bytes().all(|b| b == b'0')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(t: &TraceContext) -> String {
        t.traceparent().unwrap().to_str().unwrap().to_owned()
    }

    #[test]
    fn a_valid_trace_is_continued_with_the_gateway_as_the_new_parent() {
        let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let t = TraceContext::start(Some(incoming), "0123456789abcdef0123456789abcdef");
        assert!(t.continued());
        let out = header(&t);
        assert!(out.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
        assert!(out.ends_with("-01"));
        let ids = t.into_ids();
        assert_eq!(ids.parent_span_id.as_deref(), Some("00f067aa0ba902b7"));
        assert!(Hex::<16>::parse(&ids.span_id).is_some() && ids.span_id != "00f067aa0ba902b7");
        assert_eq!(ids.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
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
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
            // One digit short or over, in each part.
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e47361-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b71-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-011",
        ] {
            let t = TraceContext::start(Some(bad), rid);
            assert!(!t.continued());
            let out = header(&t);
            assert!(out.starts_with(&format!("00-{rid}-")), "{bad:?}");
            assert!(out.ends_with("-01"), "{bad:?}");
            assert!(parse(&out).is_some());
        }
    }

    #[test]
    fn a_request_id_that_is_no_trace_id_gets_a_fresh_one() {
        for rid in ["", "not-hex", "00000000000000000000000000000000"] {
            let t = TraceContext::start(None, rid);
            let ids = t.into_ids();
            assert!(Hex::<32>::parse(&ids.trace_id).is_some(), "{rid:?}");
            assert!(!is_zero(&ids.trace_id) && ids.trace_id != rid);
        }
    }

    #[test]
    fn hex_is_written_most_significant_digit_first() {
        assert_eq!(Hex::<4>::of(0xbeef).as_str(), "beef");
        assert_eq!(Hex::<4>::of(0x1_0000_00ab).as_str(), "00ab");
        assert_eq!(Hex::<32>::of(u128::MAX).as_str(), "f".repeat(32));
    }
}
