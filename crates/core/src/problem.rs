//! RFC 9457 problem details: the one error shape every Portcullis listener answers with.

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use serde_json::json;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error answer. `detail` is written for the caller and never carries internals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub status: StatusCode,
    /// A short kebab-case name, also the last segment of the `type` URI.
    pub kind: &'static str,
    pub title: &'static str,
    pub detail: String,
    /// RFC 6750 challenge for 401 answers.
    pub www_authenticate: Option<Box<str>>,
    pub retry_after_seconds: Option<u32>,
    /// The methods a 405 answer must list (RFC 9110 §15.5.6).
    pub allow: Option<Box<str>>,
    /// For a request that broke a validation rule: which field and which rule, as the
    /// `invalid_params` extension member (RFC 9457 §3.2 shows the pattern).
    pub invalid_param: Option<Box<InvalidParam>>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InvalidParam {
    /// Where, e.g. `body.Data.Initiation.InstructedAmount.Amount` or `query.limit`.
    pub name: String,
    /// The rule: a JSON Schema keyword or one of `duplicate_key`, `max_depth`, ...
    pub rule: String,
    pub reason: String,
}

impl Problem {
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            kind,
            title,
            detail: detail.into(),
            www_authenticate: None,
            retry_after_seconds: None,
            allow: None,
            invalid_param: None,
        }
    }

    /// 401 with an RFC 6750 challenge. `error` is `invalid_request` or `invalid_token`, or
    /// `None` when no credentials were sent at all (RFC 6750 §3.1).
    pub fn unauthorized(error: Option<&'static str>, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        let challenge = match error {
            Some(code) => format!(
                "Bearer realm=\"portcullis\", error=\"{code}\", error_description=\"{}\"",
                detail.replace(['"', '\\'], "'")
            ),
            None => "Bearer realm=\"portcullis\"".to_string(),
        };
        let mut p = Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            detail,
        );
        p.www_authenticate = Some(challenge.into());
        p
    }

    pub fn insufficient_scope(required: &str) -> Self {
        let mut p = Self::new(
            StatusCode::FORBIDDEN,
            "insufficient-scope",
            "Forbidden",
            format!("this operation requires scope {required}"),
        );
        p.www_authenticate = Some(
            format!(
                "Bearer realm=\"portcullis\", error=\"insufficient_scope\", scope=\"{required}\""
            )
            .into(),
        );
        p
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad Request",
            detail,
        )
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not Found", detail)
    }

    /// 503 with `Retry-After: 1`: the gateway cannot answer now, and soon may.
    pub fn retry_later(kind: &'static str, detail: impl Into<String>) -> Self {
        let mut p = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            kind,
            "Service Unavailable",
            detail,
        );
        p.retry_after_seconds = Some(1);
        p
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal Server Error",
            "the gateway could not complete the request; quote the request id to the operator",
        )
    }

    pub fn type_uri(&self) -> String {
        format!("urn:portcullis:problem:{}", self.kind)
    }

    /// The JSON body, carrying the request id so a partner can quote it to support.
    pub fn body(&self, request_id: &str) -> Bytes {
        let mut body = json!({
            "type": self.type_uri(),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
            "request_id": request_id,
        });
        if let Some(param) = &self.invalid_param {
            body["invalid_params"] = json!([param]);
        }
        Bytes::from(body.to_string())
    }

    /// Builds the full HTTP response.
    pub fn into_response<B: From<Bytes>>(self, request_id: &str) -> http::Response<B> {
        let mut response = http::Response::new(B::from(self.body(request_id)));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(PROBLEM_JSON),
        );
        headers.insert(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        );
        if let Some(challenge) = self.www_authenticate.as_deref() {
            if let Ok(v) = HeaderValue::from_str(challenge) {
                headers.insert(http::header::WWW_AUTHENTICATE, v);
            }
        }
        if let Some(allow) = self
            .allow
            .as_deref()
            .and_then(|a| HeaderValue::from_str(a).ok())
        {
            headers.insert(http::header::ALLOW, allow);
        }
        if let Some(secs) = self.retry_after_seconds {
            headers.insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unauthorized_carries_a_quoted_challenge() {
        let p = Problem::unauthorized(Some("invalid_token"), "bad \"quote\"");
        let r: http::Response<Bytes> = p.into_response("req-1");
        assert_eq!(r.status(), 401);
        let challenge = r.headers()[http::header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap();
        assert_eq!(
            challenge,
            "Bearer realm=\"portcullis\", error=\"invalid_token\", error_description=\"bad 'quote'\""
        );
        let body: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(body["status"], 401);
        assert_eq!(body["request_id"], "req-1");
        assert_eq!(r.headers()[http::header::CONTENT_TYPE], PROBLEM_JSON);
    }
}
