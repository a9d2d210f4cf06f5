//! Verified access tokens, remembered until they expire so the signature is checked once
//! per token rather than once per request.
//!
//! Revocation does not go through the cache: every request checks the current snapshot for
//! revoked token ids and credential state, so a revocation applies at once.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
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

/// Hashes only the last bytes of each write: a token's end is its signature, which
/// differs between any two tokens the issuer signed, and hashing the whole token (most of
/// a kilobyte) on every request cost more than the rest of the lookup. Equality still
/// compares whole tokens. Forged tokens can share a tail with a cached one, but only
/// tokens that passed verification are inserted, so they cannot fill a bucket; the
/// hasher keeps its random keys against guessing.
#[derive(Default, Clone)]
struct TailHash(RandomState);

/// Bytes of a key that are hashed: 32 base64url characters, 192 bits of signature.
const HASHED_TAIL_BYTES: usize = 32;

struct TailHasher<H>(H);

impl BuildHasher for TailHash {
    type Hasher = TailHasher<<RandomState as BuildHasher>::Hasher>;

    fn build_hasher(&self) -> Self::Hasher {
        TailHasher(self.0.build_hasher())
    }
}

impl<H: Hasher> Hasher for TailHasher<H> {
    fn write(&mut self, bytes: &[u8]) {
        self.0
            .write(&bytes[bytes.len().saturating_sub(HASHED_TAIL_BYTES)..]);
    }

    fn finish(&self) -> u64 {
        self.0.finish()
    }
}

pub struct TokenCache {
    entries: RwLock<HashMap<Box<str>, Cached, TailHash>>,
    capacity: usize,
}

impl TokenCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: RwLock::new(HashMap::default()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_core::token::Audience;

    const NOW: UnixSeconds = 1_800_000_000;

    fn verified(partner: &str) -> Arc<VerifiedToken> {
        Arc::new(VerifiedToken::new(AccessTokenClaims {
            iss: "https://issuer.example".into(),
            sub: partner.into(),
            aud: Audience::One("https://issuer.example".into()),
            exp: NOW + 300,
            iat: NOW,
            nbf: None,
            jti: format!("{partner}-1"),
            client_id: partner.into(),
            scope: "accounts:read".into(),
            partner_id: partner.into(),
            cnf: None,
        }))
    }

    /// The hash reads only a token's tail; a token that shares a cached token's signature
    /// but not the rest is still not taken for it.
    #[test]
    fn a_token_with_a_cached_tokens_signature_is_not_taken_for_it() {
        let cache = TokenCache::new(16);
        let signature = "c2lnbmF0dXJlLW9mLWFsaWNlcy10b2tlbi0wMTIzNDU2Nzg5";
        let alice = format!("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.{signature}");
        let mallory = format!("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.{signature}");
        cache.insert(&alice, "k1", verified("alice"), NOW);
        let hit = cache.get(&alice, NOW, |kid| kid == "k1").expect("cached");
        assert_eq!(hit.partner_id, "alice");
        assert!(cache.get(&mallory, NOW, |_| true).is_none());
        // Nor are tokens shorter than the hashed tail, or expired, or from a distrusted key.
        cache.insert("short", "k1", verified("bob"), NOW);
        assert_eq!(cache.get("short", NOW, |_| true).unwrap().partner_id, "bob");
        assert!(cache.get("shor", NOW, |_| true).is_none());
        assert!(cache.get(&alice, NOW + 300, |_| true).is_none());
        assert!(cache.get(&alice, NOW, |kid| kid != "k1").is_none());
    }
}
