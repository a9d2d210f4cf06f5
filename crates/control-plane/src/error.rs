//! Admin API errors, answered as RFC 9457 problem+json.

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
use portcullis_core::problem::Problem;
use portcullis_store::StoreError;

pub struct ApiError(pub Problem);

impl ApiError {
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self(Problem::new(status, kind, title, detail))
    }

    /// 400: the request itself is wrong; `detail` names the field and the fix.
    pub fn bad_request(kind: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, kind, "Bad Request", detail)
    }

    /// 400 listing every problem found, so one round trip shows them all.
    pub fn invalid(kind: &'static str, problems: &[String]) -> Self {
        Self::bad_request(kind, problems.join("; "))
    }

    /// 409: well-formed, but the current state does not allow it; `detail` says what is
    /// missing.
    pub fn conflict(kind: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, kind, "Conflict", detail)
    }

    pub fn forbidden(kind: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, kind, "Forbidden", detail)
    }

    /// 500 with a detail that names no internals (those go to the log).
    pub fn internal(detail: &'static str) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal Server Error",
            detail,
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => Self(Problem::not_found(e.to_string())),
            StoreError::Conflict { .. } => {
                Self::new(StatusCode::CONFLICT, "conflict", "Conflict", e.to_string())
            }
            other => {
                tracing::error!(error = %other, "store failure in admin API");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store-unavailable",
                    "Service Unavailable",
                    "the store is unavailable; retry later",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = format!("{:016x}", rand_id());
        self.0
            .into_response::<Bytes>(&request_id)
            .map(axum::body::Body::from)
    }
}

fn rand_id() -> u64 {
    let mut bytes = [0u8; 8];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    u64::from_le_bytes(bytes)
}
