//! Verified access tokens, remembered until they expire so the signature is checked once
//! per token rather than once per request.
//!
//! Revocation does not go through the cache: every request checks the current snapshot for
//! revoked token ids and credential state, so a revocation applies at once.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use portcullis_core::clock::UnixSeconds;
use portcullis_core::token::AccessTokenClaims;

pub struct TokenCache {
    entries: RwLock<HashMap<Box<str>, Arc<AccessTokenClaims>>>,
    capacity: usize,
}

impl TokenCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            capacity,
        }
    }

    /// The claims of a token verified before and not yet expired at `now`.
    pub fn get(&self, token: &str, now: UnixSeconds) -> Option<Arc<AccessTokenClaims>> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries.get(token).filter(|c| c.exp > now).cloned()
    }

    pub fn insert(&self, token: &str, claims: Arc<AccessTokenClaims>, now: UnixSeconds) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.capacity {
            entries.retain(|_, c| c.exp > now);
            if entries.len() >= self.capacity {
                // Still full of live tokens: start over rather than grow without bound.
                // Costs one re-verification per token, never correctness.
                entries.clear();
            }
        }
        entries.insert(token.into(), claims);
    }
}
