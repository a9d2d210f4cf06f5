//! Authentication of API requests: the bearer access token (RFC 6750, RFC 9068) and its
//! certificate binding (RFC 8705).

use std::sync::Arc;

use http::header::AUTHORIZATION;
use http::HeaderMap;
use portcullis_core::problem::Problem;
use portcullis_core::token::{header_kid, verify_access_token, TokenExpectations};
use portcullis_core::Snapshot;
use portcullis_tls::PeerIdentity;

use crate::token_cache::{TokenCache, VerifiedToken};

/// Why authentication failed: a bounded reason for logs and metrics, and the answer.
#[derive(Debug)]
pub struct AuthnFailure {
    pub reason: &'static str,
    /// Boxed: failures are the rare path, and a small `Result` keeps the common one cheap.
    pub problem: Box<Problem>,
}

fn fail(reason: &'static str, error: Option<&'static str>, detail: &str) -> AuthnFailure {
    AuthnFailure {
        reason,
        problem: Box::new(Problem::unauthorized(error, detail)),
    }
}

/// The token from `Authorization: Bearer <token>`, strictly (RFC 6750 §2.1).
fn bearer_token(headers: &HeaderMap) -> Result<&str, AuthnFailure> {
    let value = headers
        .get(AUTHORIZATION)
        .ok_or_else(|| fail("missing_token", None, "an access token is required"))?;
    let value = value.to_str().map_err(|_| {
        fail(
            "malformed_header",
            Some("invalid_request"),
            "the Authorization header is not ASCII",
        )
    })?;
    let (scheme, token) = value.split_once(' ').ok_or_else(|| {
        fail(
            "malformed_header",
            Some("invalid_request"),
            "expected Authorization: Bearer <token>",
        )
    })?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(fail(
            "wrong_scheme",
            Some("invalid_request"),
            "only the Bearer scheme is accepted",
        ));
    }
    let token = token.trim();
    if token.is_empty() || token.contains(' ') {
        return Err(fail(
            "malformed_header",
            Some("invalid_request"),
            "expected Authorization: Bearer <token>",
        ));
    }
    Ok(token)
}

pub struct Authenticator<'a> {
    pub snapshot: &'a Snapshot,
    pub cache: &'a TokenCache,
    pub expect: TokenExpectations<'a>,
    pub environment: portcullis_core::Environment,
    /// Refuse bearer tokens that are not bound to a client certificate.
    pub require_bound_tokens: bool,
}

impl Authenticator<'_> {
    /// Returns the verified claims of the request's token, bound to `peer` when the token
    /// says so.
    pub fn authenticate(
        &self,
        headers: &HeaderMap,
        peer: Option<&PeerIdentity>,
    ) -> Result<Arc<VerifiedToken>, AuthnFailure> {
        let token = bearer_token(headers)?;
        let now = self.expect.now;
        let keys = self.snapshot.issuer(self.environment).map(|i| &i.verifying);
        let cached = keys.and_then(|keys| self.cache.get(token, now, |kid| keys.contains_key(kid)));
        let claims = match cached {
            Some(claims) => claims,
            None => {
                let keys = keys.ok_or_else(|| {
                    fail(
                        "unknown_key",
                        Some("invalid_token"),
                        "no signing keys are configured",
                    )
                })?;
                let claims = verify_access_token(token, keys, &self.expect)
                    .map_err(|e| fail(e.reason(), Some("invalid_token"), &e.to_string()))?;
                let claims = Arc::new(VerifiedToken::new(claims));
                // Verification succeeded, so the header parses and names a kid.
                let kid = header_kid(token).unwrap_or_default();
                self.cache.insert(token, &kid, claims.clone(), now);
                claims
            }
        };
        if self.require_bound_tokens && claims.certificate_thumbprint().is_none() {
            return Err(fail(
                "token_not_bound",
                Some("invalid_token"),
                "only certificate-bound tokens are accepted here",
            ));
        }
        if let Some(bound) = claims.certificate_thumbprint() {
            match peer {
                Some(p) if p.thumbprint == bound => {}
                Some(_) => {
                    return Err(fail(
                        "certificate_mismatch",
                        Some("invalid_token"),
                        "the token is bound to another client certificate",
                    ))
                }
                None => {
                    return Err(fail(
                        "certificate_missing",
                        Some("invalid_token"),
                        "the token is bound to a client certificate; present it on the connection",
                    ))
                }
            }
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(v: &[u8]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_bytes(v).unwrap());
        h
    }

    #[test]
    fn bearer_parsing_is_strict() {
        assert_eq!(bearer_token(&headers(b"Bearer abc")).unwrap(), "abc");
        assert_eq!(bearer_token(&headers(b"bearer abc")).unwrap(), "abc");
        for bad in [
            &b"Bearer"[..],
            b"Bearer ",
            b"Basic abc",
            b"Bearer a b",
            b"DPoP abc",
            b"Bearer \xff",
        ] {
            assert!(bearer_token(&headers(bad)).is_err(), "{bad:?}");
        }
        let missing = bearer_token(&HeaderMap::new()).unwrap_err();
        assert_eq!(missing.reason, "missing_token");
        assert_eq!(
            missing.problem.www_authenticate.as_deref(),
            Some("Bearer realm=\"portcullis\"")
        );
    }
}
