//! Step 8 of the pipeline: the upstream's answer, reduced to the fields the partner's grant
//! allows. The filter itself is a streaming pass whose state is bounded by nesting depth;
//! its output is held here until the request's audit entry (which names the fields removed)
//! is durable, and only then answered.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use portcullis_core::problem::Problem;
use portcullis_field_filter::{CompiledFieldPolicy, FieldFilter, FilterReport, HashKey};

use crate::upstream::UpstreamBody;

/// The members an upstream error body may keep, whatever the grant: Open Banking error
/// envelopes, RFC 9457 problem details and OAuth errors. Each passes only as a short
/// scalar, so no object or list of customer data can ride inside `detail` or `Message`.
const ERROR_MEMBERS: &[&str] = &[
    "Code",
    "Id",
    "Message",
    "type",
    "title",
    "status",
    "detail",
    "error",
    "error_description",
];
const ERROR_ITEM_MEMBERS: &[&str] = &["ErrorCode", "Message", "Path"];
/// Longest text kept from an error member, in characters.
const ERROR_TEXT_CHARS: usize = 256;
/// At most this many `Errors` items are kept.
const ERROR_ITEMS: usize = 10;
/// Error bodies are small; a bigger one is not passed on at all.
const MAX_ERROR_BODY: usize = 64 * 1024;

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
    "last-modified",
    "location",
    "retry-after",
    "allow",
    "date",
    "vary",
];

/// The upstream's headers that are in [`RESPONSE_HEADERS`], in a map with room for the
/// fields the gateway adds. `Location` stays only on a 201, where it names the created
/// resource. Caching is never the upstream's call: every answer is `no-store` (see the
/// pipeline's `finish`), so no shared cache can hand one partner's filtered answer to
/// another.
pub fn retain_response_headers(upstream: HeaderMap, status: StatusCode) -> HeaderMap {
    let mut kept = HeaderMap::with_capacity(upstream.len() + GATEWAY_RESPONSE_FIELDS);
    // One pass, moving the values: the map yields a name with the first of its values
    // and `None` with the rest.
    let mut current: Option<(http::HeaderName, bool)> = None;
    for (name, value) in upstream {
        if let Some(name) = name {
            let listed = RESPONSE_HEADERS.contains(&name.as_str())
                && (name != http::header::LOCATION || status == StatusCode::CREATED);
            current = Some((name, listed));
        }
        if let Some((name, true)) = &current {
            kept.append(name, value);
        }
    }
    kept
}

/// About how many fields the gateway sets on an answer (request and interaction ids,
/// security headers, rate limits).
const GATEWAY_RESPONSE_FIELDS: usize = 8;

/// Refuses what cannot be filtered: encoded bodies and bodies that do not say they are JSON.
pub fn check_headers(headers: &HeaderMap, status: StatusCode) -> Result<(), Unfilterable> {
    let encoded = headers
        .get(http::header::CONTENT_ENCODING)
        .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"));
    if status == StatusCode::PARTIAL_CONTENT {
        return Err(bad_gateway(
            "upstream_partial",
            "the upstream answered with part of a body, which cannot be filtered",
        ));
    }
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
    if !says_json(headers) {
        return Err(bad_gateway(
            "upstream_not_json",
            "the upstream answered with a body that is not JSON; it cannot be filtered",
        ));
    }
    Ok(())
}

/// Whether a message's `Content-Type` is JSON (`application/json` or any `+json` type).
pub fn says_json(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(portcullis_policy::validate::is_json_media)
}

/// Reads the upstream body through the filter. An empty body stays empty.
pub async fn filter_body(
    body: UpstreamBody,
    policy: &CompiledFieldPolicy,
    key: &HashKey,
    max_bytes: usize,
    timeout: Duration,
) -> Result<(Bytes, FilterReport), Unfilterable> {
    let work = async {
        let mut body = body;
        let mut filter = FieldFilter::new(policy, key);
        // Filtering only removes: the answer's declared length bounds the output.
        let declared = body.declared_length().unwrap_or(0);
        let declared = usize::try_from(declared).unwrap_or(usize::MAX);
        let mut out = Vec::with_capacity(declared.min(max_bytes).min(1 << 20));
        let mut read = 0usize;
        while let Some(data) = body.chunk().await.map_err(body_failed)? {
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

/// Reads an upstream error body and rebuilds it from its envelope members alone (see
/// [`ERROR_MEMBERS`]); returns the body and the paths of what was left out.
pub async fn error_body(
    mut body: UpstreamBody,
    timeout: Duration,
) -> Result<(Bytes, Vec<String>), Unfilterable> {
    let read = async {
        let mut bytes = Vec::new();
        while let Some(data) = body.chunk().await? {
            if bytes.len() + data.len() > MAX_ERROR_BODY {
                return Ok(None);
            }
            bytes.extend_from_slice(&data);
        }
        Ok::<_, crate::upstream::BodyError>(Some(bytes))
    };
    let bytes = match tokio::time::timeout(timeout, read).await {
        Ok(Ok(Some(bytes))) => Bytes::from(bytes),
        Ok(Ok(None) | Err(_)) => {
            return Ok((Bytes::from_static(b"{}"), vec!["(error body)".into()]))
        }
        Err(_) => return Err(malformed()),
    };
    if bytes.is_empty() {
        return Ok((bytes, Vec::new()));
    }
    let parsed: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
    let (kept, removed) = error_envelope(&parsed);
    Ok((Bytes::from(kept.to_string()), removed))
}

/// The envelope of an error document: short scalars at the known members, nothing else.
fn error_envelope(doc: &serde_json::Value) -> (serde_json::Value, Vec<String>) {
    use serde_json::{Map, Value};
    let mut removed = Vec::new();
    let scalar = |v: &Value| -> Option<Value> {
        match v {
            Value::String(s) => Some(Value::String(s.chars().take(ERROR_TEXT_CHARS).collect())),
            Value::Number(_) | Value::Bool(_) => Some(v.clone()),
            _ => None,
        }
    };
    let mut out = Map::new();
    let Value::Object(members) = doc else {
        return (Value::Object(out), vec!["(error body)".into()]);
    };
    for (name, value) in members {
        if name == "Errors" {
            let Value::Array(items) = value else {
                removed.push(name.clone());
                continue;
            };
            let mut kept_items = Vec::new();
            for item in items.iter().take(ERROR_ITEMS) {
                let mut kept = Map::new();
                if let Value::Object(fields) = item {
                    for (field, v) in fields {
                        match scalar(v).filter(|_| ERROR_ITEM_MEMBERS.contains(&field.as_str())) {
                            Some(v) => {
                                kept.insert(field.clone(), v);
                            }
                            None => removed.push(format!("Errors[*].{field}")),
                        }
                    }
                }
                kept_items.push(Value::Object(kept));
            }
            out.insert(name.clone(), Value::Array(kept_items));
            continue;
        }
        match scalar(value).filter(|_| ERROR_MEMBERS.contains(&name.as_str())) {
            Some(v) => {
                out.insert(name.clone(), v);
            }
            None => removed.push(name.clone()),
        }
    }
    removed.dedup();
    (Value::Object(out), removed)
}

fn body_failed(e: crate::upstream::BodyError) -> Unfilterable {
    match e {
        crate::upstream::BodyError::BrokenOff(_) => {
            bad_gateway("upstream_body_failed", "the upstream's answer broke off")
        }
        crate::upstream::BodyError::Malformed(_) => bad_gateway(
            "upstream_malformed",
            "the upstream's answer body is not validly framed",
        ),
    }
}

fn malformed() -> Unfilterable {
    bad_gateway(
        "upstream_malformed",
        "the upstream answered with malformed JSON",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn header_map(fields: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in fields {
            map.append(*name, http::HeaderValue::from_static(value));
        }
        map
    }

    fn fields(map: &HeaderMap) -> Vec<(String, String)> {
        map.iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
            .collect()
    }

    #[test]
    fn only_listed_upstream_fields_reach_the_partner() {
        let upstream = header_map(&[
            ("set-cookie", "a=1"),
            ("content-type", "application/json"),
            ("x-internal-host", "db-7"),
            ("set-cookie", "b=2"),
            ("vary", "accept"),
            ("vary", "origin"),
            ("content-length", "1572"),
            ("location", "/accounts/1"),
        ]);
        let kept = retain_response_headers(upstream.clone(), StatusCode::OK);
        let want = [
            ("content-type", "application/json"),
            ("vary", "accept"),
            ("vary", "origin"),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        assert_eq!(fields(&kept), want);
        // Location names what a 201 created, and only then.
        let created = retain_response_headers(upstream, StatusCode::CREATED);
        assert_eq!(created.get("location").unwrap(), "/accounts/1");
        assert_eq!(created.len(), 4);
        assert!(retain_response_headers(HeaderMap::new(), StatusCode::OK).is_empty());
        let unlisted = header_map(&[("server", "x"), ("x-a", "1"), ("x-b", "2")]);
        assert!(retain_response_headers(unlisted, StatusCode::OK).is_empty());
    }

    #[test]
    fn error_bodies_keep_short_scalars_of_the_envelope_only() {
        let upstream = json!({
            "Code": "409",
            "Message": "x".repeat(1000),
            "detail": {"AvailableBalance": "1234.56"},
            "Account": {"Iban": "GB33BUKB20201555555555"},
            "Errors": [
                {"ErrorCode": "UK.OBIE.Field.Invalid", "Message": "bad", "Path": "Data.Amount", "Value": "secret"},
                {"ErrorCode": {"nested": "data"}}
            ]
        });
        let (kept, removed) = error_envelope(&upstream);
        assert_eq!(kept["Code"], "409");
        assert_eq!(kept["Message"].as_str().unwrap().len(), ERROR_TEXT_CHARS);
        assert!(kept.get("detail").is_none() && kept.get("Account").is_none());
        assert_eq!(
            kept["Errors"],
            json!([{"ErrorCode": "UK.OBIE.Field.Invalid", "Message": "bad", "Path": "Data.Amount"}, {}])
        );
        for path in [
            "detail",
            "Account",
            "Errors[*].Value",
            "Errors[*].ErrorCode",
        ] {
            assert!(
                removed.iter().any(|r| r == path),
                "{path} not reported in {removed:?}"
            );
        }
        let (kept, removed) = error_envelope(&json!(["not", "an", "object"]));
        assert_eq!(kept, json!({}));
        assert_eq!(removed, ["(error body)"]);
    }
}
