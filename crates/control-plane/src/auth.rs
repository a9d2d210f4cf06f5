//! Admin authentication: bearer admin tokens, stored hashed, each with one role.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use http::request::Parts;
use http::StatusCode;
use portcullis_core::{AdminRole, AdminToken};
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::ApiError;
use crate::routes::AdminState;

/// SHA-256 of an admin token, hex: the only form in which tokens are stored.
pub fn hash_admin_token(token: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// A new random admin token (256 bits), prefixed so secret scanners can recognise it.
pub fn new_admin_token() -> Result<String, ring::error::Unspecified> {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes)?;
    Ok(format!(
        "pcadm_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

/// The authenticated administrator of a request.
pub struct Admin(pub AdminToken);

impl Admin {
    /// Refuses with 403 unless the caller's role is one of `roles` (or admin).
    pub fn require(&self, roles: &[AdminRole]) -> Result<(), ApiError> {
        if self.0.role == AdminRole::Admin || roles.contains(&self.0.role) {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Forbidden",
            format!(
                "role {} may not do this; needs one of: {}",
                self.0.role.as_str(),
                roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ))
    }
}

impl<S> FromRequestParts<S> for Admin
where
    Arc<AdminState>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = Arc::<AdminState>::from_ref(state);
        let unauthorized = |detail: &str| {
            let mut p =
                portcullis_core::problem::Problem::unauthorized(Some("invalid_token"), detail);
            p.kind = "unauthorized";
            ApiError(p)
        };
        let mut values = parts.headers.get_all(http::header::AUTHORIZATION).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            let mut p = portcullis_core::problem::Problem::unauthorized(
                None,
                "an admin token is required: Authorization: Bearer <token>",
            );
            p.kind = "unauthorized";
            return Err(ApiError(p));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unauthorized("expected Authorization: Bearer <admin token>"))?;
        let admin = match state
            .store()
            .find_admin_token(&hash_admin_token(token))
            .await?
        {
            Some(admin) => admin,
            None => return Err(unauthorized("unknown admin token")),
        };
        // Read-only roles change nothing, whatever the request says: refused before its
        // body is even read.
        let read_only = matches!(admin.role, AdminRole::Viewer | AdminRole::Auditor);
        if read_only && !matches!(parts.method, http::Method::GET | http::Method::HEAD) {
            return Err(ApiError::forbidden(
                "forbidden",
                format!(
                    "role {} may read but not change anything",
                    admin.role.as_str()
                ),
            ));
        }
        Ok(Admin(admin))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hash_stably() {
        let (a, b) = (new_admin_token().unwrap(), new_admin_token().unwrap());
        assert_ne!(a, b);
        assert!(a.starts_with("pcadm_") && a.len() == 70);
        assert_eq!(
            hash_admin_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
