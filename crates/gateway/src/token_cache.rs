//! Verified access tokens, remembered until they expire so the signature is checked once
//! per token rather than once per request.
//!
//! Revocation does not go through the cache: every request checks the current snapshot for
//! revoked token ids and credential state, so a revocation applies at once.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, RwLock};

use http::HeaderValue;
use portcullis_core::clock::UnixSeconds;
use portcullis_core::token::AccessTokenClaims;

/// A verified token's claims, with the identity the upstream is told about made into
/// header values once per token rather than once per request.
pub struct VerifiedToken {
    pub claims: AccessTokenClaims,
    /// `partner_id`, `client_id` and `scope` as header values; `None` for a value no
    /// header can carry (never for identifiers the control plane issued).
    pub partner_header: Option<HeaderValue>,
    pub client_header: Option<HeaderValue>,
    pub scope_header: Option<HeaderValue>,
}

impl VerifiedToken {
    pub fn new(claims: AccessTokenClaims) -> Self {
        let header = |value: &str| HeaderValue::from_str(value).ok();
        Self {
            partner_header: header(&claims.partner_id),
            client_header: header(&claims.client_id),
            scope_header: header(&claims.scope),
            claims,
        }
    }
}

impl Deref for VerifiedToken {
    type Target = AccessTokenClaims;

    fn deref(&self) -> &AccessTokenClaims {
        &self.claims
    }
}

/// A verified token and the key that verified it.
struct Cached {
    claims: Arc<VerifiedToken>,
    kid: Box<str>,
}

pub struct TokenCache {
    entries: RwLock<HashMap<Box<str>, Cached>>,
    capacity: usize,
}

impl TokenCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            capacity,
        }
    }

    /// The claims of a token verified before, not yet expired at `now`, whose signing key
    /// is still trusted (`key_trusted`): a key withdrawn after a compromise takes its
    /// cached tokens with it.
    pub fn get(
        &self,
        token: &str,
        now: UnixSeconds,
        key_trusted: impl Fn(&str) -> bool,
    ) -> Option<Arc<VerifiedToken>> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries
            .get(token)
            .filter(|c| c.claims.exp > now && key_trusted(&c.kid))
            .map(|c| c.claims.clone())
    }

    pub fn insert(&self, token: &str, kid: &str, claims: Arc<VerifiedToken>, now: UnixSeconds) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.capacity {
            entries.retain(|_, c| c.claims.exp > now);
            if entries.len() >= self.capacity {
                // Still full of live tokens: start over rather than grow without bound.
                // Costs one re-verification per token, never correctness.
                entries.clear();
            }
        }
        entries.insert(
            token.into(),
            Cached {
                claims,
                kid: kid.into(),
            },
        );
    }
}
