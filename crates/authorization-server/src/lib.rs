//! The OAuth 2.0 authorization server of one environment (production or sandbox).
//!
//! Endpoints, served on that environment's gateway listener:
//! - `POST /oauth2/token`: `client_credentials` (RFC 6749 §4.4), clients authenticated by
//!   `private_key_jwt` (RFC 7523) or `tls_client_auth` (RFC 8705); RFC 9068 access tokens,
//!   bound to the client certificate (`cnf.x5t#S256`) whenever one was presented.
//! - `GET /oauth2/jwks` (RFC 7517), `GET /.well-known/oauth-authorization-server` (RFC 8414).
//! - `POST /oauth2/introspect` (RFC 7662) and `POST /oauth2/revoke` (RFC 7009), both for
//!   authenticated clients, about their own tokens only.
#![forbid(unsafe_code)]

mod client_auth;
mod error;
pub mod form;
mod replay;

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use portcullis_core::clock::Clock;
use portcullis_core::snapshot::SharedSnapshot;
use portcullis_core::token::{
    verify_access_token, AccessTokenClaims, Audience, Confirmation, TokenExpectations,
    ACCESS_TOKEN_TYP,
};
use portcullis_core::usage::ClientUsage;
use portcullis_core::{Environment, RevokedToken, Snapshot};
use portcullis_policy::{RateDecision, RateLimit, RateLimiter};
use portcullis_store::SnapshotLoader;
use portcullis_tls::PeerIdentity;
use serde_json::json;

pub use client_auth::{AuthenticatedClient, JWT_BEARER_ASSERTION};
pub use error::{OAuthError, OAuthErrorCode};

use error::json_response;
use form::Form;
use replay::ReplayCache;

/// Paths this server answers; the gateway routes them here before any API route.
pub const TOKEN_PATH: &str = "/oauth2/token";
pub const JWKS_PATH: &str = "/oauth2/jwks";
pub const INTROSPECT_PATH: &str = "/oauth2/introspect";
pub const REVOKE_PATH: &str = "/oauth2/revoke";
pub const METADATA_PATH: &str = "/.well-known/oauth-authorization-server";

/// Largest form body accepted by the endpoints.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone)]
pub struct IssuerConfig {
    pub environment: Environment,
    /// The issuer identifier, also the base URL of the endpoints, e.g. `https://api.bank`.
    pub issuer: String,
    /// The `aud` of access tokens: the resource server, i.e. this environment's gateway.
    pub audience: String,
    pub token_lifetime_seconds: i64,
    /// Client assertions may not live longer than this (RFC 7523 asks for short lifetimes).
    pub max_assertion_lifetime_seconds: i64,
    pub leeway_seconds: i64,
    /// FAPI 2.0: issue only sender-constrained tokens, i.e. refuse a token request made
    /// without a client certificate to bind the token to.
    pub require_bound_tokens: bool,
    /// Advertised in the metadata document.
    pub scopes_supported: Vec<String>,
    /// Token endpoint limits: per authenticated client, and per source address (IPv6 by
    /// /64) before authentication, which is what slows credential stuffing.
    pub token_rate_per_client: RateLimit,
    pub token_rate_per_source: RateLimit,
}

pub struct AuthorizationServer {
    config: IssuerConfig,
    snapshot: SharedSnapshot,
    loader: Arc<SnapshotLoader>,
    clock: Arc<dyn Clock>,
    replay: ReplayCache,
    per_client: RateLimiter<String>,
    per_source: RateLimiter<IpAddr>,
    usage: Arc<ClientUsage>,
}

/// Who is calling: the connection's verified certificate and the request's source address.
#[derive(Clone, Copy)]
struct Caller<'a> {
    peer: Option<&'a PeerIdentity>,
    source: IpAddr,
}

/// IPv6 hosts usually own a whole /64, so one host is one /64 to a limiter.
fn rate_key(addr: IpAddr) -> IpAddr {
    match portcullis_policy::source::canonical(addr) {
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(
                segments[0],
                segments[1],
                segments[2],
                segments[3],
                0,
                0,
                0,
                0,
            ))
        }
        v4 => v4,
    }
}

/// True when `path` belongs to the authorization server.
pub fn owns_path(path: &str) -> bool {
    path.starts_with("/oauth2/") || path == METADATA_PATH
}

impl AuthorizationServer {
    pub fn new(config: IssuerConfig, loader: Arc<SnapshotLoader>, clock: Arc<dyn Clock>) -> Self {
        Self {
            config,
            snapshot: loader.snapshot(),
            loader,
            clock,
            // Per client: far above any legitimate rate, since tokens live 300 s.
            replay: ReplayCache::new(100_000),
            per_client: RateLimiter::new(100_000),
            per_source: RateLimiter::new(100_000),
            usage: Arc::default(),
        }
    }

    /// Where issued tokens note their client's last use (for dormancy); shared with the
    /// control plane, which writes it to the store.
    pub fn with_usage(mut self, usage: Arc<ClientUsage>) -> Self {
        self.usage = usage;
        self
    }

    pub fn config(&self) -> &IssuerConfig {
        &self.config
    }

    fn token_endpoint(&self) -> String {
        format!("{}{TOKEN_PATH}", self.config.issuer)
    }

    /// Answers one request and says what it did. `peer` is the verified client
    /// certificate of the connection, `source` the address the request comes from.
    pub async fn handle(
        &self,
        request: Request<Bytes>,
        peer: Option<&PeerIdentity>,
        source: IpAddr,
    ) -> (Response<Bytes>, Outcome) {
        let (method, path) = (request.method().clone(), request.uri().path().to_string());
        let mut outcome = Outcome::default();
        let caller = Caller { peer, source };
        let response = self
            .dispatch(&method, &path, &request, caller, &mut outcome)
            .await;
        (response, outcome)
    }

    /// Per source address, before anything else is spent on the request.
    fn limit_source(&self, source: IpAddr) -> Result<(), OAuthError> {
        let key = rate_key(source);
        match self
            .per_source
            .check(&key, self.config.token_rate_per_source, self.clock.now_us())
        {
            RateDecision::Allowed { .. } => Ok(()),
            RateDecision::Limited {
                retry_after_seconds,
                ..
            } => Err(OAuthError::too_many_requests(retry_after_seconds)),
        }
    }

    /// The partner's address allowlist, for an authenticated client.
    fn check_source(
        &self,
        snapshot: &Snapshot,
        client: &AuthenticatedClient,
        source: IpAddr,
    ) -> Result<(), OAuthError> {
        let grant = snapshot.grant_entry(&client.partner_id, self.config.environment);
        if grant.is_some_and(|g| !g.source_allowed(source)) {
            return Err(OAuthError::new(
                OAuthErrorCode::AccessDenied,
                format!("requests from {source} are not allowed for this client; ask the bank to add your egress address to the allowlist"),
            ));
        }
        Ok(())
    }

    /// After authentication: the partner's address allowlist, then the client's own limit.
    fn admit_client(
        &self,
        snapshot: &Snapshot,
        client: &AuthenticatedClient,
        source: IpAddr,
    ) -> Result<(), OAuthError> {
        self.check_source(snapshot, client, source)?;
        match self.per_client.check(
            &client.client_id,
            self.config.token_rate_per_client,
            self.clock.now_us(),
        ) {
            RateDecision::Allowed { .. } => Ok(()),
            RateDecision::Limited {
                retry_after_seconds,
                ..
            } => Err(OAuthError::too_many_requests(retry_after_seconds)),
        }
    }

    async fn dispatch(
        &self,
        method: &Method,
        path: &str,
        request: &Request<Bytes>,
        caller: Caller<'_>,
        outcome: &mut Outcome,
    ) -> Response<Bytes> {
        outcome.endpoint = match path {
            TOKEN_PATH => Endpoint::Token,
            INTROSPECT_PATH => Endpoint::Introspect,
            REVOKE_PATH => Endpoint::Revoke,
            JWKS_PATH => Endpoint::Jwks,
            METADATA_PATH => Endpoint::Metadata,
            _ => Endpoint::Unknown,
        };
        // The claimed client, recorded even when authentication fails (stuffing detection).
        if let Ok(form) = Self::form(request) {
            outcome.client_id = form.get("client_id").map(str::to_string);
        }
        let peer = caller.peer;
        let authenticated_endpoint = matches!(path, TOKEN_PATH | INTROSPECT_PATH | REVOKE_PATH);
        if *method == Method::POST && authenticated_endpoint {
            if let Err(e) = self.limit_source(caller.source) {
                outcome.error = Some(e.code);
                return e.into_response();
            }
        }
        let result = match (method.clone(), path) {
            (Method::POST, TOKEN_PATH) => self.token(request, caller, outcome),
            (Method::POST, INTROSPECT_PATH) => self.introspect(request, caller, outcome),
            (Method::POST, REVOKE_PATH) => self.revoke(request, peer, outcome).await,
            (Method::GET, JWKS_PATH) => Ok(self.jwks()),
            (Method::GET, METADATA_PATH) => Ok(self.metadata()),
            (_, TOKEN_PATH | INTROSPECT_PATH | REVOKE_PATH | JWKS_PATH | METADATA_PATH) => {
                let mut r = json_response(
                    StatusCode::METHOD_NOT_ALLOWED,
                    &json!({"error": "invalid_request", "error_description": "method not allowed"}),
                );
                let allow = if matches!(path, JWKS_PATH | METADATA_PATH) {
                    "GET"
                } else {
                    "POST"
                };
                r.headers_mut()
                    .insert(http::header::ALLOW, http::HeaderValue::from_static(allow));
                outcome.error = Some(OAuthErrorCode::InvalidRequest);
                return r;
            }
            _ => {
                outcome.error = Some(OAuthErrorCode::InvalidRequest);
                return json_response(
                    StatusCode::NOT_FOUND,
                    &json!({"error": "invalid_request", "error_description": "no such endpoint"}),
                );
            }
        };
        result.unwrap_or_else(|e| {
            outcome.error = Some(e.code);
            outcome.reason = e.audit_reason;
            e.into_response()
        })
    }

    fn form(request: &Request<Bytes>) -> Result<Form, OAuthError> {
        let content_type = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        Form::parse(content_type, request.body())
    }

    fn token(
        &self,
        request: &Request<Bytes>,
        caller: Caller<'_>,
        outcome: &mut Outcome,
    ) -> Result<Response<Bytes>, OAuthError> {
        let peer = caller.peer;
        let form = Self::form(request)?;
        let snapshot = self.snapshot.load();
        match form.require("grant_type")? {
            "client_credentials" => {}
            other => {
                return Err(OAuthError::new(
                    OAuthErrorCode::UnsupportedGrantType,
                    format!("grant_type {other:?} is not supported; use client_credentials"),
                ))
            }
        }
        let client = match self.authenticate_client(&snapshot, &form, peer) {
            Ok(c) => c,
            Err(e) => {
                tracing::info!(environment = %self.config.environment, reason = %e.description, "token refused");
                return Err(e);
            }
        };
        outcome.authenticated(&client);
        self.admit_client(&snapshot, &client, caller.source)?;
        if self.config.require_bound_tokens && peer.is_none() {
            return Err(OAuthError::invalid_request(
                "this issuer only issues certificate-bound tokens: present your client certificate on the TLS connection",
            ));
        }
        let scope = self.grant_scope(&snapshot, &client, form.get("scope"))?;
        outcome.scope = Some(scope.clone());
        let signer = snapshot
            .issuer(self.config.environment)
            .and_then(|i| i.signer.clone())
            .ok_or_else(|| {
                tracing::error!(environment = %self.config.environment, "no active signing key");
                OAuthError::server_error()
            })?;
        let now = self.clock.now();
        let claims = AccessTokenClaims {
            iss: self.config.issuer.clone(),
            sub: client.client_id.clone(),
            aud: Audience::One(self.config.audience.clone()),
            exp: now + self.config.token_lifetime_seconds,
            iat: now,
            nbf: Some(now),
            jti: uuid::Uuid::new_v4().to_string(),
            client_id: client.client_id.clone(),
            scope: scope.clone(),
            partner_id: client.partner_id.clone(),
            // Bind to the certificate whenever one was presented (RFC 8705 §3).
            cnf: peer.map(|p| Confirmation {
                x5t_s256: Some(p.thumbprint.clone()),
            }),
        };
        let token = signer
            .sign(ACCESS_TOKEN_TYP, &claims)
            .map_err(|_| OAuthError::server_error())?;
        self.usage.touch(&client.client_id, now);
        tracing::info!(
            environment = %self.config.environment,
            client_id = %client.client_id,
            partner_id = %client.partner_id,
            method = client.method.as_str(),
            bound = claims.cnf.is_some(),
            %scope,
            "token issued"
        );
        Ok(json_response(
            StatusCode::OK,
            &json!({
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": self.config.token_lifetime_seconds,
                "scope": scope,
            }),
        ))
    }

    /// The scopes to issue: those asked for, each of which must be granted; all granted
    /// scopes when none are asked for.
    fn grant_scope(
        &self,
        snapshot: &Snapshot,
        client: &AuthenticatedClient,
        requested: Option<&str>,
    ) -> Result<String, OAuthError> {
        let granted = snapshot
            .grant(&client.partner_id, self.config.environment)
            .filter(|g| g.policy.in_force(self.clock.now()))
            .map(|g| g.scopes.as_slice())
            .unwrap_or_default();
        if granted.is_empty() {
            return Err(OAuthError::invalid_scope(
                "this partner has no scopes granted in this environment",
            ));
        }
        let Some(requested) = requested else {
            return Ok(granted.join(" "));
        };
        let mut scopes: Vec<&str> = Vec::new();
        for scope in requested.split(' ').filter(|s| !s.is_empty()) {
            if !granted.iter().any(|g| g == scope) {
                return Err(OAuthError::invalid_scope(format!(
                    "scope {scope:?} is not granted to this client"
                )));
            }
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        if scopes.is_empty() {
            return Err(OAuthError::invalid_scope("scope is empty"));
        }
        Ok(scopes.join(" "))
    }

    /// Verifies a token of this issuer, whatever its state (revocation is checked by the
    /// callers that care).
    fn verify(&self, snapshot: &Snapshot, token: &str) -> Option<AccessTokenClaims> {
        let keys = &snapshot.issuer(self.config.environment)?.verifying;
        let expect = TokenExpectations {
            issuer: &self.config.issuer,
            audience: &self.config.audience,
            leeway_seconds: self.config.leeway_seconds,
            now: self.clock.now(),
        };
        verify_access_token(token, keys, &expect).ok()
    }

    /// The common start of introspection and revocation (RFC 7662, RFC 7009): the form,
    /// and the calling client, authenticated like at the token endpoint.
    fn token_management_request(
        &self,
        request: &Request<Bytes>,
        peer: Option<&PeerIdentity>,
        outcome: &mut Outcome,
    ) -> Result<(Form, Arc<Snapshot>, AuthenticatedClient), OAuthError> {
        let form = Self::form(request)?;
        let snapshot = self.snapshot.load_full();
        let caller = self.authenticate_client(&snapshot, &form, peer)?;
        outcome.authenticated(&caller);
        Ok((form, snapshot, caller))
    }

    fn introspect(
        &self,
        request: &Request<Bytes>,
        from: Caller<'_>,
        outcome: &mut Outcome,
    ) -> Result<Response<Bytes>, OAuthError> {
        let (form, snapshot, caller) =
            self.token_management_request(request, from.peer, outcome)?;
        // Introspection answers with token details, so it is held to the allowlist like
        // the token endpoint. Revocation is not: a partner must be able to kill a leaked
        // token from wherever it learns of the leak.
        self.check_source(&snapshot, &caller, from.source)?;
        let token = form.require("token")?;
        let now = self.clock.now();
        // A client learns about its own tokens only; anything else is simply
        // inactive, so introspection cannot be used to probe other partners' tokens.
        let active = self.verify(&snapshot, token).filter(|c| {
            c.client_id == caller.client_id
                && !snapshot.is_token_revoked(&c.jti)
                && snapshot
                    .usable_client(&c.client_id, self.config.environment, now)
                    .is_ok()
        });
        let body = match active {
            Some(c) => {
                let mut body = json!({
                    "active": true,
                    "scope": c.scope,
                    "client_id": c.client_id,
                    "sub": c.sub,
                    "token_type": "Bearer",
                    "exp": c.exp,
                    "iat": c.iat,
                    "nbf": c.nbf,
                    "iss": c.iss,
                    "aud": c.aud,
                    "jti": c.jti,
                });
                if let Some(cnf) = c.cnf {
                    body["cnf"] = json!(cnf);
                }
                body
            }
            None => json!({"active": false}),
        };
        Ok(json_response(StatusCode::OK, &body))
    }

    async fn revoke(
        &self,
        request: &Request<Bytes>,
        peer: Option<&PeerIdentity>,
        outcome: &mut Outcome,
    ) -> Result<Response<Bytes>, OAuthError> {
        let (form, snapshot, caller) = self.token_management_request(request, peer, outcome)?;
        let token = form.require("token")?;
        if let Some(hint) = form.get("token_type_hint") {
            if hint != "access_token" {
                return Err(OAuthError::new(
                    OAuthErrorCode::UnsupportedTokenType,
                    "only access tokens are issued here; token_type_hint must be access_token",
                ));
            }
        }
        // RFC 7009 §2.2: an invalid or unknown token is answered with 200 all the same.
        let Some(claims) = self.verify(&snapshot, token) else {
            return Ok(empty_ok());
        };
        if claims.client_id != caller.client_id {
            return Err(OAuthError::new(
                OAuthErrorCode::UnauthorizedClient,
                "the token was not issued to this client",
            ));
        }
        let revoked = RevokedToken {
            jti: claims.jti.clone(),
            client_id: claims.client_id.clone(),
            expires_at: claims.exp,
        };
        let store = self.loader.store();
        if let Err(e) = store.revoke_token(&revoked).await {
            tracing::error!(error = %e, "revocation could not be stored");
            return Err(OAuthError::server_error());
        }
        if let Err(e) = self.loader.reload().await {
            // Stored; other nodes and the poller will pick it up.
            tracing::warn!(error = %e, "snapshot reload after revocation failed");
        }
        tracing::info!(client_id = %caller.client_id, jti = %claims.jti, "token revoked");
        Ok(empty_ok())
    }

    fn jwks(&self) -> Response<Bytes> {
        let snapshot = self.snapshot.load();
        let mut keys: Vec<serde_json::Value> = snapshot
            .issuer(self.config.environment)
            .map(|i| i.verifying.values().map(|k| k.to_jwk()).collect())
            .unwrap_or_default();
        keys.sort_by(|a, b| a["kid"].as_str().cmp(&b["kid"].as_str()));
        let mut r = json_response(StatusCode::OK, &json!({"keys": keys}));
        r.headers_mut().insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("max-age=60"),
        );
        r.headers_mut().remove(http::header::PRAGMA);
        r
    }

    fn metadata(&self) -> Response<Bytes> {
        let base = &self.config.issuer;
        let auth_methods = ["private_key_jwt", "tls_client_auth"];
        let algs = ["EdDSA", "ES256", "PS256"];
        let body = json!({
            "issuer": base,
            "token_endpoint": format!("{base}{TOKEN_PATH}"),
            "jwks_uri": format!("{base}{JWKS_PATH}"),
            "introspection_endpoint": format!("{base}{INTROSPECT_PATH}"),
            "revocation_endpoint": format!("{base}{REVOKE_PATH}"),
            "grant_types_supported": ["client_credentials"],
            "response_types_supported": [],
            "scopes_supported": self.config.scopes_supported,
            "token_endpoint_auth_methods_supported": auth_methods,
            "token_endpoint_auth_signing_alg_values_supported": algs,
            "introspection_endpoint_auth_methods_supported": auth_methods,
            "introspection_endpoint_auth_signing_alg_values_supported": algs,
            "revocation_endpoint_auth_methods_supported": auth_methods,
            "revocation_endpoint_auth_signing_alg_values_supported": algs,
            "tls_client_certificate_bound_access_tokens": true,
        });
        let mut r = json_response(StatusCode::OK, &body);
        r.headers_mut().insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("max-age=300"),
        );
        r.headers_mut().remove(http::header::PRAGMA);
        r
    }
}

/// Which endpoint a request reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Endpoint {
    Token,
    Introspect,
    Revoke,
    Jwks,
    Metadata,
    #[default]
    Unknown,
}

impl Endpoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Token => "oauth2.token",
            Endpoint::Introspect => "oauth2.introspect",
            Endpoint::Revoke => "oauth2.revoke",
            Endpoint::Jwks => "oauth2.jwks",
            Endpoint::Metadata => "oauth2.metadata",
            Endpoint::Unknown => "oauth2.unknown",
        }
    }
}

/// What an authorization-server request did, for the audit trail. Never holds a token,
/// assertion or key.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub endpoint: Endpoint,
    /// The authenticated client, or the one claimed when authentication failed.
    pub client_id: Option<String>,
    /// Set once the client is authenticated.
    pub partner_id: Option<String>,
    /// Scopes of an issued token.
    pub scope: Option<String>,
    /// The OAuth error answered, if any.
    pub error: Option<OAuthErrorCode>,
    /// The audit's reason when more precise than the OAuth error.
    pub reason: Option<&'static str>,
}

impl Outcome {
    fn authenticated(&mut self, client: &AuthenticatedClient) {
        self.client_id = Some(client.client_id.clone());
        self.partner_id = Some(client.partner_id.clone());
    }
}

fn empty_ok() -> Response<Bytes> {
    json_response(StatusCode::OK, &json!({}))
}
