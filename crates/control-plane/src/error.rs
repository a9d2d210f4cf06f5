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
