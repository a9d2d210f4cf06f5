//! RFC 9068 JWT access tokens: the claims Portcullis issues and the checks every verifier
//! applies to them.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::clock::UnixSeconds;
use crate::jose::{JoseError, UnverifiedJws, VerifyingKey};

/// The `typ` header of access tokens (RFC 9068 §2.1); the `application/` prefix is optional.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// SHA-256 thumbprint of the client certificate, base64url (RFC 8705 §3.1).
    #[serde(rename = "x5t#S256", default, skip_serializing_if = "Option::is_none")]
    pub x5t_s256: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub fn contains(&self, value: &str) -> bool {
        match self {
            Audience::One(a) => a == value,
            Audience::Many(all) => all.iter().any(|a| a == value),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: Audience,
    pub exp: UnixSeconds,
    pub iat: UnixSeconds,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<UnixSeconds>,
    pub jti: String,
    pub client_id: String,
    /// Space-separated scopes (RFC 9068 §2.2.3).
    pub scope: String,
    pub partner_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

impl AccessTokenClaims {
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split(' ').filter(|s| !s.is_empty())
    }

    pub fn has_scope(&self, wanted: &str) -> bool {
        self.scopes().any(|s| s == wanted)
    }

    pub fn certificate_thumbprint(&self) -> Option<&str> {
        self.cnf.as_ref().and_then(|c| c.x5t_s256.as_deref())
    }
}

/// Why a presented access token was refused. The text is safe to return to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the access token is malformed")]
    Malformed,
    #[error("the token is not an access token (typ must be at+jwt)")]
    WrongType,
    #[error("the token was signed by a key this issuer does not know")]
    UnknownKey,
    #[error("the token signature is invalid")]
    BadSignature,
    #[error("the token was issued by another issuer")]
    WrongIssuer,
    #[error("the token is not intended for this API")]
    WrongAudience,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not yet valid")]
    NotYetValid,
}

impl TokenError {
    /// A bounded label for metrics and audit.
    pub fn reason(&self) -> &'static str {
        match self {
            TokenError::Malformed => "malformed",
            TokenError::WrongType => "wrong_type",
            TokenError::UnknownKey => "unknown_key",
            TokenError::BadSignature => "bad_signature",
            TokenError::WrongIssuer => "wrong_issuer",
            TokenError::WrongAudience => "wrong_audience",
            TokenError::Expired => "expired",
            TokenError::NotYetValid => "not_yet_valid",
        }
    }
}

/// What a verifier expects of every token it accepts.
#[derive(Debug, Clone)]
pub struct TokenExpectations<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    /// Tolerated clock skew for `exp`, `nbf` and `iat`.
    pub leeway_seconds: i64,
    pub now: UnixSeconds,
}

/// Checks signature, type, issuer, audience and validity times. Authorization (scopes,
/// partner and credential state, revocation, certificate binding) is the caller's job.
pub fn verify_access_token(
    token: &str,
    keys: &HashMap<String, VerifyingKey>,
    expect: &TokenExpectations<'_>,
) -> Result<AccessTokenClaims, TokenError> {
    let jws = UnverifiedJws::parse(token).map_err(|_| TokenError::Malformed)?;
    match jws.header.typ.as_deref() {
        Some(t)
            if t.eq_ignore_ascii_case(ACCESS_TOKEN_TYP)
                || t.eq_ignore_ascii_case("application/at+jwt") => {}
        _ => return Err(TokenError::WrongType),
    }
    let key = jws
        .header
        .kid
        .as_deref()
        .and_then(|kid| keys.get(kid))
        .ok_or(TokenError::UnknownKey)?;
    let payload = jws.verify(key).map_err(|e| match e {
        JoseError::BadSignature | JoseError::AlgorithmMismatch(_) => TokenError::BadSignature,
        _ => TokenError::Malformed,
    })?;
    let claims: AccessTokenClaims =
        serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)?;
    if claims.iss != expect.issuer {
        return Err(TokenError::WrongIssuer);
    }
    if !claims.aud.contains(expect.audience) {
        return Err(TokenError::WrongAudience);
    }
    if claims.exp.saturating_add(expect.leeway_seconds) <= expect.now {
        return Err(TokenError::Expired);
    }
    let not_before = claims.nbf.unwrap_or(claims.iat).max(claims.iat);
    if not_before.saturating_sub(expect.leeway_seconds) > expect.now {
        return Err(TokenError::NotYetValid);
    }
    Ok(claims)
}

/// The `kid` of a compact JWS header, without verifying anything.
pub fn header_kid(token: &str) -> Option<String> {
    UnverifiedJws::parse(token).ok()?.header.kid
}

#[cfg(test)]
mod tests;
