//! Step 8 of the pipeline: the upstream's answer, reduced to the fields the partner's grant
//! allows. The filter itself is a streaming pass whose state is bounded by nesting depth;
//! its output is held here until the request's audit entry (which names the fields removed)
//! is durable, and only then answered.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use portcullis_core::problem::Problem;
use portcullis_field_filter::{CompiledFieldPolicy, FieldFilter, FilterReport, HashKey};

/// What any upstream error body may carry, whatever the grant: Open Banking error
/// envelopes, RFC 9457 problem details and OAuth errors. Anything else is removed.
pub const ERROR_ENVELOPE: &[&str] = &[
    "Code",
    "Id",
    "Message",
    "Errors[*].ErrorCode",
    "Errors[*].Message",
    "Errors[*].Path",
    "type",
    "title",
    "status",
    "detail",
    "error",
    "error_description",
];

/// Why an upstream answer could not be filtered; it is never passed on unfiltered.
pub struct Unfilterable {
    pub reason: &'static str,
    pub problem: Box<Problem>,
}

fn bad_gateway(reason: &'static str, detail: &str) -> Unfilterable {
    Unfilterable {
        reason,
        problem: Box::new(Problem::new(
            StatusCode::BAD_GATEWAY,
            "upstream-unfilterable",
            "Bad Gateway",
            detail,
        )),
    }
}

/// Upstream response headers a partner may see. Headers are data too (an upstream could
/// put a customer's email in one), so the same default-deny rule as for body fields
/// applies: these describe the answer, not a customer.
const RESPONSE_HEADERS: &[&str] = &[
    "content-type",
    "content-language",
    "cache-control",
    "expires",
    "last-modified",
    "location",
    "retry-after",
    "allow",
    "date",
    "vary",
];

/// Removes every upstream header not in [`RESPONSE_HEADERS`].
pub fn retain_response_headers(headers: &mut HeaderMap) {
    let unlisted: Vec<http::HeaderName> = headers
        .keys()
        .filter(|name| !RESPONSE_HEADERS.contains(&name.as_str()))
        .cloned()
        .collect();
    for name in unlisted {
        headers.remove(name);
    }
}

/// Refuses what cannot be filtered: encoded bodies and bodies that do not say they are JSON.
pub fn check_headers(headers: &HeaderMap, status: StatusCode) -> Result<(), Unfilterable> {
    let encoded = headers
        .get(http::header::CONTENT_ENCODING)
        .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"));
    if encoded {
        return Err(bad_gateway(
            "upstream_encoded",
            "the upstream answered with an encoded body the gateway cannot filter",
        ));
    }
    let empty = status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || headers
            .get(http::header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() == b"0");
    if empty {
        return Ok(());
    }
    let json = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .is_some_and(|media| media == "application/json" || media.ends_with("+json"));
    if !json {
        return Err(bad_gateway(
            "upstream_not_json",
            "the upstream answered with a body that is not JSON; it cannot be filtered",
        ));
    }
    Ok(())
}

/// Reads the upstream body through the filter. An empty body stays empty.
pub async fn filter_body(
    body: Incoming,
    policy: &CompiledFieldPolicy,
    key: &HashKey,
    max_bytes: usize,
    timeout: Duration,
) -> Result<(Bytes, FilterReport), Unfilterable> {
    let work = async {
        let mut body = body;
        let mut filter = FieldFilter::new(policy, key);
        let mut out = Vec::new();
        let mut read = 0usize;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| {
                bad_gateway("upstream_body_failed", "the upstream's answer broke off")
            })?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            read += data.len();
            if read > max_bytes {
                return Err(bad_gateway(
                    "upstream_too_large",
                    "the upstream's answer exceeds the gateway's response size limit",
                ));
            }
            filter.feed(&data, &mut out).map_err(|_| malformed())?;
        }
        if read == 0 {
            return Ok((Bytes::new(), FilterReport::default()));
        }
        let report = filter.finish(&mut out).map_err(|_| malformed())?;
        Ok((Bytes::from(out), report))
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(Unfilterable {
            reason: "upstream_timeout",
            problem: Box::new(Problem::new(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream-timeout",
                "Gateway Timeout",
                "the upstream service did not finish its answer in time",
            )),
        }),
    }
}

fn malformed() -> Unfilterable {
    bad_gateway(
        "upstream_malformed",
        "the upstream answered with malformed JSON",
    )
}
