//! OAuth 2.0 error responses (RFC 6749 §5.2) with their registered codes.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use serde_json::json;

/// The RFC 6749 / RFC 7009 error codes this server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthErrorCode {
    InvalidRequest,
    InvalidClient,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    UnsupportedTokenType,
    ServerError,
    /// Not an RFC 6749 code: the token endpoint's rate limit (answered with 429).
    TooManyRequests,
    /// The client authenticated but may not call from this address (answered with 403).
    AccessDenied,
}

impl OAuthErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::ServerError => "server_error",
            Self::TooManyRequests => "too_many_requests",
            Self::AccessDenied => "access_denied",
        }
    }
}

/// An OAuth error answer. The description is written for the client developer and never
/// carries internals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: OAuthErrorCode,
    pub description: String,
    pub retry_after_seconds: Option<u64>,
    /// A more precise reason for the audit trail than the OAuth code, e.g. a known
    /// credential refused because it is suspended (not a failed authentication).
    pub audit_reason: Option<&'static str>,
}

impl OAuthError {
    pub fn new(code: OAuthErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            retry_after_seconds: None,
            audit_reason: None,
        }
    }

    /// The credential exists but may not be used now (suspended, revoked, expired, or its
    /// partner inactive): `invalid_client` to the caller, the precise reason in the audit.
    pub fn unusable_client(denied: &portcullis_core::snapshot::ClientDenied) -> Self {
        let mut e = Self::invalid_client(denied.to_string());
        if !matches!(
            denied,
            portcullis_core::snapshot::ClientDenied::UnknownClient
        ) {
            e.audit_reason = Some(denied.reason());
        }
        e
    }

    pub fn too_many_requests(retry_after_seconds: u64) -> Self {
        let mut e = Self::new(
            OAuthErrorCode::TooManyRequests,
            format!("too many requests; retry after {retry_after_seconds} s"),
        );
        e.retry_after_seconds = Some(retry_after_seconds);
        e
    }

    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidRequest, d)
    }

    pub fn invalid_client(d: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidClient, d)
    }

    pub fn invalid_scope(d: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidScope, d)
    }

    pub fn server_error() -> Self {
        Self::new(
            OAuthErrorCode::ServerError,
            "the authorization server could not complete the request",
        )
    }

    pub fn status(&self) -> StatusCode {
        match self.code {
            // RFC 6749 §5.2 allows 401 for failed client authentication.
            OAuthErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
            OAuthErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            OAuthErrorCode::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            OAuthErrorCode::AccessDenied => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    pub fn into_response(self) -> Response<Bytes> {
        let body = json!({"error": self.code.as_str(), "error_description": self.description});
        let mut response = json_response(self.status(), &body);
        if let Some(secs) = self.retry_after_seconds {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.code == OAuthErrorCode::InvalidClient {
            response.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"portcullis\", error=\"invalid_client\""),
            );
        }
        response
    }
}

/// A JSON response that is never cached (RFC 6749 §5.1).
pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(body.to_string()));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    h.insert(http::header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
