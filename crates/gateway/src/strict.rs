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
}
