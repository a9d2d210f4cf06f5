//! W3C Trace Context (https://www.w3.org/TR/trace-context/): the gateway continues the
//! caller's trace when it sends a valid `traceparent`, or starts one whose trace id is the
//! request id, and names itself as the parent of the upstream call with a fresh span id.

/// The `traceparent` to send upstream, and whether it continues the caller's trace (when
/// it does not, the caller's `tracestate` must not be passed on either).
pub fn traceparent(incoming: Option<&str>, request_id: &str) -> (String, bool) {
    let span = uuid::Uuid::new_v4().simple().to_string();
    let span = &span[..16];
    match incoming.and_then(parse) {
        Some((trace_id, flags)) => (format!("00-{trace_id}-{span}-{flags}"), true),
        None => {
            // A request id is 32 lowercase hex digits: a valid trace id.
            let trace_id = if is_hex(request_id, 32) && !is_zero(request_id) {
                request_id.to_string()
            } else {
                uuid::Uuid::new_v4().simple().to_string()
            };
            (format!("00-{trace_id}-{span}-01"), false)
        }
    }
}

/// The trace id and flags of a valid version-00 `traceparent`.
fn parse(value: &str) -> Option<(&str, &str)> {
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
    valid.then_some((trace_id, flags))
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
    fn a_valid_trace_is_continued_with_a_new_parent() {
        let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let (out, continued) = traceparent(Some(incoming), "0123456789abcdef0123456789abcdef");
        assert!(continued);
        assert!(out.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
        assert!(out.ends_with("-01"));
        let parent = out.split('-').nth(2).unwrap();
        assert!(is_hex(parent, 16) && parent != "00f067aa0ba902b7");
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
            let (out, continued) = traceparent(Some(bad), rid);
            assert!(!continued);
            assert!(out.starts_with(&format!("00-{rid}-")), "{bad:?} gave {out}");
            assert!(parse(&out).is_some());
        }
    }
}
