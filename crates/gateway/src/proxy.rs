//! Forwarding to the upstream over pooled connections, with the request's identity made
//! explicit and nothing the client claims about itself passed on.

use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, CONNECTION};
use http::{HeaderMap, HeaderValue, Request, Response, Uri};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

/// Headers that describe one hop, never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Prefix of the identity headers the gateway sets for the upstream. Any inbound header
/// with this prefix is removed, so a partner cannot claim another identity.
pub const IDENTITY_PREFIX: &str = "x-portcullis-";

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("upstream did not answer within {0:?}")]
    Timeout(Duration),
    #[error("upstream unavailable: {0}")]
    Unavailable(String),
}

#[derive(Clone)]
pub struct Upstream {
    base: Uri,
    client: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

impl Upstream {
    /// `base` is `http://host:port` with an optional path prefix.
    /// How long the upstream may take, to answer and to finish its body.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn new(base: Uri, timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(timeout));
        let client = Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(256)
            .build(connector);
        Self {
            base,
            client,
            timeout,
        }
    }

    pub fn base(&self) -> &Uri {
        &self.base
    }

    /// Sends the request to `path_and_query` under the base. Only the response head is
    /// awaited under the timeout; the body streams through.
    pub async fn send(
        &self,
        mut request: Request<Full<Bytes>>,
        path_and_query: &str,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let prefix = self.base.path().trim_end_matches('/');
        let target = format!("{prefix}{path_and_query}");
        let mut parts = self.base.clone().into_parts();
        parts.path_and_query = Some(
            target
                .parse()
                .map_err(|_| UpstreamError::Unavailable("invalid upstream path".into()))?,
        );
        *request.uri_mut() =
            Uri::from_parts(parts).map_err(|e| UpstreamError::Unavailable(e.to_string()))?;
        match tokio::time::timeout(self.timeout, self.client.request(request)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => Err(UpstreamError::Unavailable(e.to_string())),
            Err(_) => Err(UpstreamError::Timeout(self.timeout)),
        }
    }
}

/// Removes hop-by-hop headers, including any the `Connection` header names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// Prepares inbound headers for the upstream: no hop-by-hop headers, no credentials, no
/// identity or forwarding claims from the client.
pub fn sanitize_request_headers(headers: &mut HeaderMap) {
    strip_hop_by_hop(headers);
    headers.remove(http::header::AUTHORIZATION);
    headers.remove(http::header::COOKIE);
    headers.remove(http::header::FORWARDED);
    headers.remove(http::header::HOST);
    // A part of a body cannot be filtered; partners get whole answers.
    headers.remove(http::header::RANGE);
    headers.remove(http::header::IF_RANGE);
    let spoofable: Vec<HeaderName> = headers
        .keys()
        .filter(|n| {
            let n = n.as_str();
            n.starts_with(IDENTITY_PREFIX)
                || n.starts_with("x-forwarded-")
                || n == "x-real-ip"
                || n == "x-request-id"
        })
        .cloned()
        .collect();
    for name in spoofable {
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
        ] {
            h.append(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_static(v),
            );
        }
        sanitize_request_headers(&mut h);
        let left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, vec!["accept", "x-fapi-interaction-id"]);
    }
}
