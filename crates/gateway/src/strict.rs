//! Request hygiene enforced before any other work: shapes that proxies and upstreams may
//! read differently (request smuggling, header confusion) are refused outright.

use http::header::{AUTHORIZATION, CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use http::HeaderMap;

use portcullis_core::problem::Problem;

/// Request bodies must be framed by Content-Length. hyper resolves Content-Length plus
/// Transfer-Encoding by dropping the Content-Length before a handler sees the request, so
/// the only reliable way to refuse that smuggling shape is to refuse Transfer-Encoding on
/// requests altogether; API bodies are small JSON documents, for which every client sends a
/// length.
pub fn check_request_headers(headers: &HeaderMap) -> Result<(), Problem> {
    if headers.contains_key(TRANSFER_ENCODING) {
        return Err(Problem::bad_request(
            "Transfer-Encoding is not accepted on requests (including together with Content-Length); send the body with Content-Length",
        ));
    }
    // A client may only say whether to keep the connection open. Naming other headers as
    // hop-by-hop would make the gateway drop them after checking them (e.g. an
    // Idempotency-Key), so the upstream would see a different request.
    for value in headers.get_all(http::header::CONNECTION) {
        let ok = value.to_str().is_ok_and(|v| {
            v.split(',')
                .map(str::trim)
                .all(|t| t.eq_ignore_ascii_case("close") || t.eq_ignore_ascii_case("keep-alive"))
        });
        if !ok {
            return Err(Problem::bad_request(
                "the Connection header may only be close or keep-alive",
            ));
        }
    }
    for (name, label) in [
        (HOST, "Host"),
        (AUTHORIZATION, "Authorization"),
        (CONTENT_LENGTH, "Content-Length"),
    ] {
        if headers.get_all(&name).iter().nth(1).is_some() {
            return Err(Problem::bad_request(format!(
                "the {label} header may appear only once"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn refuses_ambiguous_framing_and_duplicates() {
        let mut h = HeaderMap::new();
        h.insert(HOST, HeaderValue::from_static("a"));
        assert!(check_request_headers(&h).is_ok());
        h.append(HOST, HeaderValue::from_static("b"));
        assert!(check_request_headers(&h).is_err());

        let mut h = HeaderMap::new();
        h.insert(CONTENT_LENGTH, HeaderValue::from_static("1"));
        h.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        assert!(check_request_headers(&h)
            .unwrap_err()
            .detail
            .contains("Transfer-Encoding"));
        h.remove(CONTENT_LENGTH);
        assert!(
            check_request_headers(&h).is_err(),
            "chunked alone is refused too"
        );

        let mut h = HeaderMap::new();
        h.append(AUTHORIZATION, HeaderValue::from_static("Bearer a"));
        h.append(AUTHORIZATION, HeaderValue::from_static("Bearer b"));
        assert!(check_request_headers(&h).is_err());
    }

    #[test]
    fn connection_may_not_name_end_to_end_headers() {
        for (value, ok) in [
            ("close", true),
            ("Keep-Alive", true),
            ("keep-alive, close", true),
            ("idempotency-key", false),
            ("close, authorization", false),
        ] {
            let mut h = HeaderMap::new();
            h.insert(http::header::CONNECTION, HeaderValue::from_static(value));
            assert_eq!(check_request_headers(&h).is_ok(), ok, "{value}");
        }
    }
}
