//! Client authentication at the token, introspection and revocation endpoints:
//! `private_key_jwt` (RFC 7523) and `tls_client_auth` (RFC 8705). There is no shared-secret
//! method at all.

use portcullis_core::jose::UnverifiedJws;
use portcullis_core::snapshot::ClientEntry;
use portcullis_core::token::Audience;
use portcullis_core::{ClientAuthMethod, Snapshot};
use portcullis_tls::PeerIdentity;
use serde::Deserialize;

use crate::error::OAuthError;
use crate::form::Form;
use crate::replay::ReplayVerdict;
use crate::AuthorizationServer;

/// The one answer for every failure before the client has proven who it is, so that
/// answers cannot be used to learn which client ids exist or how they authenticate. The
/// specific reason goes to the log, where the operator can find it by request id.
pub const AUTHENTICATION_FAILED: &str = "client authentication failed";

fn authentication_failed(reason: &str) -> OAuthError {
    tracing::info!(%reason, "client authentication failed");
    OAuthError::invalid_client(AUTHENTICATION_FAILED)
}

pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

#[derive(Debug, Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    aud: Audience,
    exp: i64,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    nbf: Option<i64>,
    jti: String,
}

/// A client that proved who it is.
#[derive(Debug, Clone)]
pub struct AuthenticatedClient {
    pub client_id: String,
    pub partner_id: String,
    pub method: ClientAuthMethod,
}

impl AuthorizationServer {
    /// Authenticates the calling client from the form and the TLS connection, and checks it
    /// may act now (not revoked or expired, partner active, right environment).
    pub(crate) fn authenticate_client(
        &self,
        snapshot: &Snapshot,
        form: &Form,
        peer: Option<&PeerIdentity>,
    ) -> Result<AuthenticatedClient, OAuthError> {
        if form.get("client_secret").is_some() {
            return Err(OAuthError::invalid_client(
                "client secrets are not accepted; use private_key_jwt or tls_client_auth",
            ));
        }
        let (client_id, method) = match form.get("client_assertion_type") {
            Some(JWT_BEARER_ASSERTION) => (
                self.verify_assertion(snapshot, form)?,
                ClientAuthMethod::PrivateKeyJwt,
            ),
            Some(_) => {
                return Err(OAuthError::invalid_client(format!(
                    "client_assertion_type must be {JWT_BEARER_ASSERTION}"
                )))
            }
            None => (
                self.verify_mtls(snapshot, form, peer)?,
                ClientAuthMethod::TlsClientAuth,
            ),
        };
        let now = self.clock.now();
        let entry = snapshot
            .usable_client(&client_id, self.config.environment, now)
            .map_err(|denied| OAuthError::unusable_client(&denied))?;
        Ok(AuthenticatedClient {
            client_id,
            partner_id: entry.client.partner_id.clone(),
            method,
        })
    }

    fn registered<'s>(
        &self,
        snapshot: &'s Snapshot,
        client_id: &str,
        method: ClientAuthMethod,
    ) -> Result<&'s ClientEntry, OAuthError> {
        match snapshot.client(client_id) {
            Some(entry) if entry.client.auth_method == method => Ok(entry),
            Some(_) => Err(authentication_failed(&format!(
                "client registered for another method than {}",
                method.as_str()
            ))),
            None => Err(authentication_failed("unknown client")),
        }
    }

    fn verify_assertion(&self, snapshot: &Snapshot, form: &Form) -> Result<String, OAuthError> {
        let assertion = form.require("client_assertion")?;
        let jws = UnverifiedJws::parse(assertion)
            .map_err(|_| OAuthError::invalid_client("client_assertion is not a well-formed JWT"))?;
        if jws
            .header
            .typ
            .as_deref()
            .is_some_and(|t| t.to_ascii_lowercase().contains("at+jwt"))
        {
            return Err(OAuthError::invalid_client(
                "an access token is not a client assertion",
            ));
        }
        // The issuer is read unverified only to find the key that must have signed it.
        let claimed_client = peek_issuer(&jws)
            .ok_or_else(|| OAuthError::invalid_client("client_assertion has no iss"))?;
        if let Some(id) = form.get("client_id") {
            if id != claimed_client {
                return Err(OAuthError::invalid_client(
                    "client_id does not match the assertion issuer",
                ));
            }
        }
        let entry = self.registered(snapshot, &claimed_client, ClientAuthMethod::PrivateKeyJwt)?;
        let kid = jws.header.kid.clone();
        let key = entry
            .keys
            .iter()
            .find(|k| match (&kid, &k.kid) {
                (Some(want), Some(have)) => want == have,
                (None, _) => k.algorithm.as_str() == jws.header.alg,
                _ => false,
            })
            .ok_or_else(|| {
                authentication_failed("no registered key matches the assertion kid/alg")
            })?;
        let payload = jws
            .verify(key)
            .map_err(|_| authentication_failed("client_assertion signature is invalid"))?;
        let claims: AssertionClaims = serde_json::from_slice(&payload).map_err(|_| {
            OAuthError::invalid_client("client_assertion must carry iss, sub, aud, exp and jti")
        })?;
        if claims.iss != claimed_client || claims.sub != claimed_client {
            return Err(OAuthError::invalid_client(
                "client_assertion iss and sub must both be the client_id",
            ));
        }
        if !(claims.aud.contains(&self.config.issuer)
            || claims.aud.contains(&self.token_endpoint()))
        {
            return Err(OAuthError::invalid_client(
                "client_assertion aud must be this issuer",
            ));
        }
        let now = self.clock.now();
        let leeway = self.config.leeway_seconds;
        if claims.exp.saturating_add(leeway) <= now {
            return Err(OAuthError::invalid_client("client_assertion has expired"));
        }
        if claims.exp.saturating_sub(now) > self.config.max_assertion_lifetime_seconds {
            return Err(OAuthError::invalid_client(format!(
                "client_assertion exp is too far ahead: at most {} seconds",
                self.config.max_assertion_lifetime_seconds
            )));
        }
        if claims
            .nbf
            .or(claims.iat)
            .is_some_and(|t| t.saturating_sub(leeway) > now)
        {
            return Err(OAuthError::invalid_client(
                "client_assertion is not yet valid",
            ));
        }
        if claims.jti.is_empty() || claims.jti.len() > 256 {
            return Err(OAuthError::invalid_client(
                "client_assertion jti must be 1 to 256 characters",
            ));
        }
        // A revoked or expired credential, or an inactive partner, may not fill the replay
        // cache for everyone else.
        snapshot
            .usable_client(&claimed_client, self.config.environment, now)
            .map_err(|denied| OAuthError::unusable_client(&denied))?;
        match self.replay.check_and_record(
            &claimed_client,
            &claims.jti,
            claims.exp.saturating_add(leeway),
            now,
        ) {
            ReplayVerdict::Fresh => Ok(claimed_client),
            ReplayVerdict::Replayed => Err(OAuthError::invalid_client(
                "client_assertion jti has already been used",
            )),
            // The client's own doing (and only its own): say so, not 500.
            ReplayVerdict::Full => Err(OAuthError::invalid_request(
                "too many unexpired client assertions for this client; reuse your access token until it expires",
            )),
        }
    }

    fn verify_mtls(
        &self,
        snapshot: &Snapshot,
        form: &Form,
        peer: Option<&PeerIdentity>,
    ) -> Result<String, OAuthError> {
        let client_id = form.get("client_id").ok_or_else(|| {
            OAuthError::invalid_client(
                "client authentication required: private_key_jwt or tls_client_auth",
            )
        })?;
        let peer = peer.ok_or_else(|| {
            OAuthError::invalid_client(
                "tls_client_auth requires a client certificate on the connection",
            )
        })?;
        let entry = self.registered(snapshot, client_id, ClientAuthMethod::TlsClientAuth)?;
        match entry.client.tls_subject_dn.as_deref() {
            Some(dn) if dn == peer.subject_dn => Ok(client_id.to_string()),
            _ => Err(authentication_failed(
                "certificate subject does not match the registration",
            )),
        }
    }
}

fn peek_issuer(jws: &UnverifiedJws<'_>) -> Option<String> {
    #[derive(Deserialize)]
    struct Iss {
        iss: String,
    }
    let payload = jws.unverified_payload();
    serde_json::from_slice::<Iss>(payload).ok().map(|i| i.iss)
}
