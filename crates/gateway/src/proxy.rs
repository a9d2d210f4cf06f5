//! What the upstream is told: the request's identity made explicit and nothing the client
//! claims about itself passed on. The exchange itself is in `upstream`.

use http::header::{self, HeaderName};
use http::{HeaderMap, HeaderValue};

/// Headers that describe one hop, never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Inbound headers the upstream never sees besides those: credentials, what the gateway
/// sets itself, and what would let the upstream answer with something unfilterable.
const NOT_FORWARDED: [HeaderName; 7] = [
    header::AUTHORIZATION,
    header::COOKIE,
    header::FORWARDED,
    header::HOST,
    // The gateway has read the whole body before it forwards: the upstream must not
    // answer 100 Continue and then read the body as a request of its own.
    header::EXPECT,
    // A part of a body cannot be filtered; partners get whole answers.
    header::RANGE,
    header::IF_RANGE,
];

/// Prefix of the identity headers the gateway sets for the upstream. Any inbound header
/// with this prefix is removed, so a partner cannot claim another identity.
pub const IDENTITY_PREFIX: &str = "x-portcullis-";

/// Whether an inbound header is dropped whatever the `Connection` header says: hop-by-hop,
/// not forwarded, or a claim about identity or forwarding that only the gateway makes.
fn dropped(name: &HeaderName) -> bool {
    if HOP_BY_HOP.contains(name) || NOT_FORWARDED.contains(name) {
        return true;
    }
    let name = name.as_str();
    name.starts_with(IDENTITY_PREFIX)
        || name.starts_with("x-forwarded-")
        || name == "x-real-ip"
        || name == "x-request-id"
}

/// Prepares inbound headers for the upstream: no hop-by-hop headers (including any the
/// `Connection` header names), no credentials, no identity or forwarding claims from the
/// client. One pass over the request's headers: a lookup per name the gateway drops cost
/// more than the few headers a request has.
pub fn sanitize_request_headers(headers: &mut HeaderMap) {
    let mut to_remove: Vec<HeaderName> = headers.keys().filter(|n| dropped(n)).cloned().collect();
    if headers.contains_key(header::CONNECTION) {
        to_remove.extend(
            headers
                .get_all(header::CONNECTION)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok()),
        );
    }
    for name in to_remove {
        headers.remove(name);
    }
}

/// Adds a trusted header; values come from verified state, so invalid bytes cannot occur
/// in practice and are skipped rather than failing the request.
pub fn set_header(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

/// The headers the gateway sets, parsed once at compile time rather than per request.
pub mod names {
    use http::HeaderName;

    pub const PARTNER_ID: HeaderName = HeaderName::from_static("x-portcullis-partner-id");
    pub const CLIENT_ID: HeaderName = HeaderName::from_static("x-portcullis-client-id");
    pub const SCOPES: HeaderName = HeaderName::from_static("x-portcullis-scopes");
    pub const ENVIRONMENT: HeaderName = HeaderName::from_static("x-portcullis-environment");
    pub const OPERATION: HeaderName = HeaderName::from_static("x-portcullis-operation");
    pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
    pub const INTERACTION_ID: HeaderName = HeaderName::from_static("x-fapi-interaction-id");
    pub const FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
    pub const FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
    pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
    pub const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizing_removes_spoofed_identity_and_hop_headers() {
        let mut h = HeaderMap::new();
        for (n, v) in [
            ("connection", "close, x-secret"),
            ("x-secret", "1"),
            ("keep-alive", "timeout=5"),
            ("authorization", "Bearer t"),
            ("x-portcullis-partner-id", "victim"),
            ("X-Portcullis-Scopes", "payments:write"),
            ("x-forwarded-for", "10.0.0.1"),
            ("x-request-id", "mine"),
            ("accept", "application/json"),
            ("x-fapi-interaction-id", "abc"),
            ("expect", "100-continue"),
            ("Proxy-Connection", "keep-alive"),
            ("TE", "trailers"),
            ("trailer", "x-sum"),
            ("upgrade", "h2c"),
            ("proxy-authorization", "Basic eA=="),
            ("cookie", "session=1"),
            ("forwarded", "for=10.0.0.1"),
            ("host", "bank.example"),
            ("range", "bytes=0-10"),
            ("if-range", "\"etag\""),
            ("x-real-ip", "10.0.0.2"),
            ("x-forwarded-host", "evil.example"),
            ("x-portcullis-", "empty suffix"),
        ] {
            h.append(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_static(v),
            );
        }
        sanitize_request_headers(&mut h);
        let mut left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        left.sort_unstable();
        assert_eq!(left, vec!["accept", "x-fapi-interaction-id"]);
    }
}
