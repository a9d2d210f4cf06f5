//! The request pipeline of one environment's gateway, in request order. Each step is a
//! module of its own; this file only assembles them.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body as _, Incoming};

use portcullis_audit::{
    Actor, AuditEvent, AuditLog, Backpressure, Decision as AuditDecision, EventKind, RemovedPaths,
    Slot,
};
use portcullis_authorization_server::{
    owns_path, AuthorizationServer, Endpoint, Outcome, MAX_FORM_BYTES,
};
use portcullis_core::clock::Clock;
use portcullis_core::problem::{InvalidParam, Problem};
use portcullis_core::snapshot::SharedSnapshot;
use portcullis_core::token::TokenExpectations;
use portcullis_core::Environment;
use portcullis_field_filter::{CompiledFieldPolicy, FilterReport, HashKey};
use portcullis_policy::validate::strict;
use portcullis_policy::{client_address, NetworkList, RateLimit, Violation};
use portcullis_tls::ConnectionInfo;

use crate::authn::Authenticator;
use crate::log_throttle::LogThrottle;
use crate::proxy::{names, sanitize_request_headers, set_header};
use crate::response::{
    check_headers, error_body, filter_body, retain_response_headers, says_json, Unfilterable,
};
use crate::routes::{Operation, RouteMatch, RouteTable};
use crate::strict::check_request_headers;
use crate::token_cache::TokenCache;
use crate::trace::TraceContext;
use crate::traffic::{RateHeaders, Traffic};
use crate::upstream::{Upstream, UpstreamError, UpstreamResponse};
use portcullis_monitor::{EventFeed, Guard};

pub type ResponseBody = BoxBody<Bytes, hyper::Error>;

/// Request-level limits; connection-level ones are in [`portcullis_tls::ConnectionLimits`].
#[derive(Debug, Clone)]
pub struct Limits {
    pub body_read_timeout: Duration,
    pub max_body_bytes: usize,
    /// Tolerated clock skew when checking token times.
    pub leeway_seconds: i64,
    /// For credentials whose grant states no rate limit.
    pub default_rate_limit: RateLimit,
    /// Largest upstream answer the gateway filters; larger ones are refused (502).
    pub max_response_bytes: usize,
    /// Deepest nesting accepted in a JSON request body.
    pub max_json_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            body_read_timeout: Duration::from_secs(30),
            max_body_bytes: 1024 * 1024,
            leeway_seconds: 5,
            default_rate_limit: RateLimit {
                per_second: 50,
                burst: 100,
            },
            max_response_bytes: 32 * 1024 * 1024,
            max_json_depth: 32,
        }
    }
}

pub struct Gateway {
    pub environment: Environment,
    pub issuer: String,
    pub audience: String,
    pub routes: RouteTable,
    pub limits: Limits,
    /// FAPI 2.0 sender-constrained tokens only; from the issuer's configuration.
    require_bound_tokens: bool,
    snapshot: SharedSnapshot,
    authorization_server: Arc<AuthorizationServer>,
    upstream: Upstream,
    token_cache: TokenCache,
    clock: Arc<dyn Clock>,
    /// `None` only where a caller explicitly runs without audit (benchmarks).
    audit: Option<Arc<AuditLog>>,
    traffic: Traffic,
    /// Peers whose `X-Forwarded-For` is believed.
    trusted_proxies: NetworkList,
    /// Master key of the keyed-hash masking rule; each partner gets its own key from it.
    field_hash_master: [u8; 32],
    /// For operations a grant states no field policy for: nothing passes.
    deny_all: CompiledFieldPolicy,
    /// Where recorded events go for metrics and detection.
    monitor: Option<EventFeed>,
    /// Blocks and throttles put in place by automated responses.
    guard: Option<Arc<Guard>>,
    /// Answers withheld because their audit entry could not be recorded.
    withheld_log: LogThrottle,
    /// Requests refused because the audit log was behind.
    shed_log: LogThrottle,
}

/// The least time between two log lines about the same failure of the audit log.
const AUDIT_FAILURE_LOG_INTERVAL_MS: i64 = 1_000;

fn full(bytes: Bytes) -> ResponseBody {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

/// The reason recorded when load was shed because the audit log was behind; such an
/// answer has no slot and so no entry of its own.
const SHED: &str = "audit_backpressure";

/// The reason in the log line of an answer withheld because its entry was not recorded.
const WITHHELD: &str = "audit_unavailable";

/// How a request is named: ours, and the partner's FAPI interaction id.
#[derive(Clone, Copy)]
struct Ids<'a> {
    request_id: &'a str,
    /// The client's address as text.
    source: &'a str,
    interaction_id: &'a str,
    trace: &'a TraceContext,
}

/// The outcome of one request, for the audit entry and the log line.
struct Decision {
    kind: EventKind,
    operation: Option<String>,
    partner_id: Option<String>,
    client_id: Option<String>,
    /// Resource ids from the path, e.g. `account_id`.
    target: BTreeMap<String, String>,
    reason: &'static str,
    /// RateLimit fields for the answer, once the limits were checked.
    rate_headers: Option<RateHeaders>,
    /// Fields the response filter removed, by path.
    fields_removed: RemovedPaths,
}

impl Decision {
    fn new() -> Self {
        Self {
            kind: EventKind::GatewayRequest,
            operation: None,
            partner_id: None,
            client_id: None,
            target: BTreeMap::new(),
            reason: "allowed",
            rate_headers: None,
            fields_removed: Default::default(),
        }
    }

    /// For the log line of a request that has no audit event.
    fn summary(&self) -> Summary<'_> {
        Summary {
            operation: self.operation.as_deref(),
            partner: self.partner_id.as_deref(),
            client: self.client_id.as_deref(),
            reason: self.reason,
        }
    }

    /// Takes what the authorization server reported about its request.
    fn record_oauth(&mut self, outcome: Outcome) {
        self.operation = Some(outcome.endpoint.as_str().to_string());
        self.client_id = outcome.client_id;
        self.partner_id = outcome.partner_id;
        if let Some(scope) = outcome.scope {
            self.target.insert("scope".into(), scope);
        }
        let refused = outcome.error.is_some();
        self.kind = match (outcome.endpoint, refused) {
            (Endpoint::Token, false) => EventKind::TokenIssued,
            (Endpoint::Token, true) => EventKind::TokenRefused,
            (Endpoint::Introspect, _) => EventKind::TokenIntrospected,
            (Endpoint::Revoke, _) => EventKind::TokenRevoked,
            _ => EventKind::AuthorizationServerRequest,
        };
        if let Some(error) = outcome.error {
            self.reason = outcome.reason.unwrap_or(error.as_str());
        }
    }
}

impl Gateway {
    pub fn new(
        routes: RouteTable,
        limits: Limits,
        snapshot: SharedSnapshot,
        authorization_server: Arc<AuthorizationServer>,
        upstream: Upstream,
        clock: Arc<dyn Clock>,
        audit: Option<Arc<AuditLog>>,
    ) -> Self {
        let config = authorization_server.config();
        Self {
            environment: config.environment,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            require_bound_tokens: config.require_bound_tokens,
            routes,
            limits,
            snapshot,
            authorization_server,
            upstream,
            token_cache: TokenCache::new(100_000),
            clock,
            audit,
            traffic: Traffic::default(),
            trusted_proxies: NetworkList::default(),
            field_hash_master: random_key(),
            deny_all: CompiledFieldPolicy::deny_all(),
            monitor: None,
            guard: None,
            withheld_log: LogThrottle::new(AUDIT_FAILURE_LOG_INTERVAL_MS),
            shed_log: LogThrottle::new(AUDIT_FAILURE_LOG_INTERVAL_MS),
        }
    }

    /// Hands every recorded event to the monitor, and obeys its blocks and throttles.
    pub fn with_monitor(mut self, feed: EventFeed, guard: Arc<Guard>) -> Self {
        self.monitor = Some(feed);
        self.guard = Some(guard);
        self
    }

    /// Believe `X-Forwarded-For` from these peers only.
    pub fn with_trusted_proxies(mut self, proxies: NetworkList) -> Self {
        self.trusted_proxies = proxies;
        self
    }

    /// The master key of keyed-hash masking; shared by every gateway of a deployment so a
    /// partner sees the same hash of a value from each of them.
    pub fn with_field_hash_master(mut self, key: [u8; 32]) -> Self {
        self.field_hash_master = key;
        self
    }

    /// [`Self::handle`] in a task of its own. hyper drops a request's future when the
    /// client disconnects; detached, a request that reached the upstream always goes on to
    /// its audit entry, whatever the client does.
    pub async fn handle_detached(
        self: Arc<Self>,
        request: Request<Incoming>,
        conn: Arc<ConnectionInfo>,
    ) -> Response<ResponseBody> {
        let gateway = self.clone();
        // Boxed: the request's future is about 4 KiB, and a task moves its future and
        // output several times by value (spawn, set_stage, take_output); a pointer is cheap
        // to move. Polling it in place instead (and spawning only what a hang-up left
        // unfinished) was tried and measured worse: more context switches per request
        // (0.50 -> 0.73, perf stat), fewer requests/s, audit written 12% fewer (bench/ab).
        let task = tokio::spawn(Box::pin(
            async move { gateway.handle(request, &conn).await },
        ));
        match task.await {
            Ok(response) => response,
            Err(e) => {
                let request_id = uuid::Uuid::new_v4().simple().to_string();
                tracing::error!(%request_id, error = %e, "request task failed");
                let response = Problem::internal()
                    .into_response::<Bytes>(&request_id)
                    .map(full);
                self.finish(response, &request_id, &request_id)
            }
        }
    }

    /// Answers one request; never fails, every error becomes a problem+json answer. No
    /// answer leaves before its audit entry is durable.
    pub async fn handle(
        &self,
        request: Request<Incoming>,
        conn: &ConnectionInfo,
    ) -> Response<ResponseBody> {
        let started = Instant::now();
        let request_id = uuid::Uuid::new_v4().simple().to_string();
        let interaction_id = interaction_id(request.headers());
        let trace = TraceContext::start(
            request
                .headers()
                .get("traceparent")
                .and_then(|v| v.to_str().ok()),
            &request_id,
        );
        let source = client_address(conn.remote.ip(), request.headers(), &self.trusted_proxies);
        // Once: the upstream is told it, and the audit entry keeps it.
        let source_text = address_text(source);
        let mut decision = Decision::new();

        // A place in the audit log is taken before any side effect (inside `process`), or
        // at the end for requests refused early; when the log is behind, load is shed
        // before anything reaches the authorization server or the upstream.
        let mut slot = None;
        let method = request.method().clone();
        let response = match self
            .process(
                request,
                conn,
                source,
                Ids {
                    request_id: &request_id,
                    source: &source_text,
                    interaction_id: &interaction_id,
                    trace: &trace,
                },
                &mut decision,
                &mut slot,
            )
            .await
        {
            Ok(r) => r,
            Err(problem) => problem.into_response::<Bytes>(&request_id).map(full),
        };
        let mut response = self.finish(response, &request_id, &interaction_id);
        if let Some(headers) = decision.rate_headers.take() {
            headers.apply(response.headers_mut());
        }
        let status = response.status().as_u16();
        let latency_us = started.elapsed().as_micros() as u64;

        // 9. Record: the answer waits until its entry is durable.
        if slot.is_none() && decision.reason != SHED {
            match self.reserve() {
                Ok(reserved) => slot = reserved,
                Err(problem) => {
                    decision.reason = SHED;
                    response = self.finish(
                        problem.into_response::<Bytes>(&request_id).map(full),
                        &request_id,
                        &interaction_id,
                    );
                }
            }
        }
        // Without an audit log (benchmarks only) the monitor still sees every request, so
        // audit on versus off measures the log alone.
        if slot.is_none() && (self.audit.is_some() || self.monitor.is_none()) {
            log_line(
                &decision.summary(),
                &request_id,
                self.environment,
                &method,
                response.status().as_u16(),
                latency_us,
                source,
            );
            return response;
        }
        // The event takes the decision's strings; the log line reads them from it.
        let routed = decision.operation.is_some();
        let event = AuditEvent {
            time_ms: self.clock.now_ms(),
            kind: decision.kind,
            environment: Some(self.environment),
            actor: Actor {
                partner_id: decision.partner_id.take(),
                client_id: decision.client_id.take(),
                admin: None,
            },
            action: decision
                .operation
                .take()
                .unwrap_or_else(|| format!("{method} (no route)")),
            target: std::mem::take(&mut decision.target),
            decision: if decision.reason == "allowed" {
                AuditDecision::Allow
            } else {
                AuditDecision::Deny
            },
            reason: decision.reason.to_string(),
            status: Some(status),
            latency_us: Some(latency_us),
            source_ip: Some(source_text),
            request_id: Some(request_id),
            fields_removed: std::mem::take(&mut decision.fields_removed),
            trace: Some(trace.into_ids()),
        };
        // Moved into the event just above.
        let request_id = event.request_id.as_deref().unwrap_or_default();
        let committed = match slot {
            Some(slot) => slot.commit(&event).await.map(Some),
            None => Ok(None),
        };
        if let Err(e) = &committed {
            // Once a second at most (see `LogThrottle`); each request keeps its own line
            // below, with its 503 and this reason.
            if let Some(unlogged) = self.withheld_log.admit(self.clock.now_ms()) {
                tracing::error!(
                    %request_id,
                    error = %e,
                    withheld_since_last_line = unlogged,
                    "audit entry not recorded; withholding the answer"
                );
            }
            let p = Problem::retry_later(
                "audit-unavailable",
                "the request could not be recorded; retry later",
            );
            response = self.finish(
                p.into_response::<Bytes>(request_id).map(full),
                request_id,
                &interaction_id,
            );
        }
        log_line(
            &Summary {
                // The event says what the checks decided; the log line says why the
                // answer is a 503 all the same.
                reason: if committed.is_err() {
                    WITHHELD
                } else {
                    &event.reason
                },
                ..Summary::of(&event, routed)
            },
            request_id,
            self.environment,
            &method,
            response.status().as_u16(),
            latency_us,
            source,
        );
        if let (Ok(_), Some(monitor)) = (committed, &self.monitor) {
            monitor.observe(event);
        }
        response
    }

    /// A place in the audit log, or the 503 that sheds load when the log is behind.
    fn reserve(&self) -> Result<Option<Slot>, Problem> {
        let Some(log) = &self.audit else {
            return Ok(None);
        };
        log.reserve().map(Some).map_err(|Backpressure| {
            // Once a second at most (see `LogThrottle`); each request keeps its own line,
            // with its 503 and the reason `audit_backpressure`.
            if let Some(unlogged) = self.shed_log.admit(self.clock.now_ms()) {
                tracing::warn!(
                    shed_since_last_line = unlogged,
                    "audit log behind; shedding load"
                );
            }
            Problem::retry_later(
                "audit-backpressure",
                "the gateway is at capacity; retry after the indicated delay",
            )
        })
    }

    /// Headers every answer carries.
    fn finish(
        &self,
        mut response: Response<ResponseBody>,
        request_id: &str,
        interaction_id: &str,
    ) -> Response<ResponseBody> {
        let headers = response.headers_mut();
        set_header(headers, names::REQUEST_ID, request_id);
        set_header(headers, names::INTERACTION_ID, interaction_id);
        headers.insert(
            "x-content-type-options",
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            "strict-transport-security",
            HeaderValue::from_static("max-age=31536000"),
        );
        headers.insert(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        );
        response
    }

    async fn process(
        &self,
        request: Request<Incoming>,
        conn: &ConnectionInfo,
        source: IpAddr,
        ids: Ids<'_>,
        decision: &mut Decision,
        slot: &mut Option<Slot>,
    ) -> Result<Response<ResponseBody>, Problem> {
        let Ids {
            request_id,
            source: source_text,
            interaction_id,
            trace,
        } = ids;
        // 1. Hygiene: refuse ambiguous framing and duplicated security headers.
        check_request_headers(request.headers())
            .inspect_err(|_| decision.reason = "malformed_request")?;
        // The checks below share one reading of the clock: the same instant for each of
        // them, and one clock read rather than four (they showed in profiles).
        let now_us = self.clock.now_us();
        let now_ms = now_us.div_euclid(1000);
        // An address an automated response blocked gets nothing, tokens included.
        if let Some(guard) = &self.guard {
            if guard.is_blocked(source, now_ms) {
                decision.reason = "source_blocked";
                return Err(Problem::new(
                    StatusCode::FORBIDDEN,
                    "source-blocked",
                    "Forbidden",
                    format!("requests from {source} are blocked after suspected abuse; contact the bank's API operations team"),
                ));
            }
        }

        // The authorization server shares the listener; it authenticates its own callers.
        if owns_path(request.uri().path()) {
            decision.operation = Some("oauth".into());
            let (parts, body) = request.into_parts();
            let body = self.read_body(body, MAX_FORM_BYTES).await?;
            *slot = self.reserve().inspect_err(|_| decision.reason = SHED)?;
            let (response, outcome) = self
                .authorization_server
                .handle(Request::from_parts(parts, body), conn.peer.as_ref(), source)
                .await;
            decision.record_oauth(outcome);
            return Ok(response.map(full));
        }

        // 2. Route: method and path to an operation.
        let snapshot = self.snapshot.load();
        let path = request.uri().path();
        let operation = match self.routes.find(request.method(), path) {
            RouteMatch::Found { operation, params } => {
                decision.target = params
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                operation
            }
            RouteMatch::MethodNotAllowed { allowed } => {
                decision.reason = "method_not_allowed";
                let allow = allowed
                    .iter()
                    .map(|m| m.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                let mut p = Problem::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method-not-allowed",
                    "Method Not Allowed",
                    format!("this operation accepts: {allow}"),
                );
                p.allow = Some(allow.into());
                return Err(p);
            }
            RouteMatch::NotFound => {
                decision.reason = "no_route";
                return Err(Problem::not_found("no API operation at this path"));
            }
            RouteMatch::Invalid => {
                decision.reason = "invalid_path";
                return Err(Problem::bad_request(
                    "the path must be canonical: no empty, dot or percent-encoded segments",
                ));
            }
        };
        decision.operation = Some(operation.id.clone());

        // 3. Authenticate: token signature, type, issuer, audience, times, certificate binding.
        let now = now_us.div_euclid(1_000_000);
        let authenticator = Authenticator {
            snapshot: &snapshot,
            cache: &self.token_cache,
            expect: TokenExpectations {
                issuer: &self.issuer,
                audience: &self.audience,
                leeway_seconds: self.limits.leeway_seconds,
                now,
            },
            environment: self.environment,
            require_bound_tokens: self.require_bound_tokens,
        };
        let claims = authenticator
            .authenticate(request.headers(), conn.peer.as_ref())
            .map_err(|f| {
                decision.reason = f.reason;
                *f.problem
            })?;
        decision.client_id = Some(claims.client_id.clone());
        decision.partner_id = Some(claims.partner_id.clone());

        // 4. Authorize: token not revoked, credential and partner usable now, scope held.
        if snapshot.is_token_revoked(&claims.jti) {
            decision.reason = "token_revoked";
            return Err(Problem::unauthorized(
                Some("invalid_token"),
                "the token has been revoked",
            ));
        }
        let client = snapshot
            .usable_client(&claims.client_id, self.environment, now)
            .map_err(|denied| {
                decision.reason = denied.reason();
                Problem::unauthorized(Some("invalid_token"), denied.to_string())
            })?;
        if client.client.partner_id != claims.partner_id {
            decision.reason = "partner_mismatch";
            return Err(Problem::unauthorized(
                Some("invalid_token"),
                "the token does not match its client",
            ));
        }
        if !claims.has_scope(&operation.scope) {
            decision.reason = "insufficient_scope";
            return Err(Problem::insufficient_scope(&operation.scope));
        }
        // The grant as it is now, not as it was at issuance: a reduced grant applies to
        // tokens already in circulation.
        let grant = snapshot
            .grant_entry(&claims.partner_id, self.environment)
            .filter(|g| g.has_scope(&operation.scope))
            .ok_or_else(|| {
                decision.reason = "scope_withdrawn";
                Problem::insufficient_scope(&operation.scope)
            })?;
        if !grant.grant.policy.in_force(now) {
            decision.reason = "grant_not_in_force";
            return Err(Problem::forbidden(
                "the partner's grant in this environment is outside its validity window",
            ));
        }
        if !grant.source_allowed(source) {
            decision.reason = "source_not_allowed";
            return Err(Problem::forbidden(format!(
                "requests from {source} are not allowed for this partner; ask the bank to add your egress address to the allowlist"
            )));
        }

        // 5. Rate limits and quotas, keyed on the authenticated client and partner.
        let admitted = self.traffic.admit(
            &claims.client_id,
            &claims.partner_id,
            &grant.grant.policy,
            self.limits.default_rate_limit,
            self.guard
                .as_ref()
                .and_then(|g| g.throttle(&claims.partner_id, now_ms)),
            now_us,
        );
        match admitted {
            Ok(headers) => decision.rate_headers = Some(headers),
            Err(refusal) => {
                decision.reason = refusal.reason;
                decision.rate_headers = Some(refusal.headers);
                return Err(*refusal.problem);
            }
        }
        if operation.requires_idempotency_key && !request.headers().contains_key("idempotency-key")
        {
            decision.reason = "missing_idempotency_key";
            return Err(Problem::bad_request(
                "this operation requires an Idempotency-Key header",
            ));
        }

        // 6. Request validation: size, strict JSON, then the operation's schemas.
        let (mut parts, body) = request.into_parts();
        let body = self
            .read_body(body, self.limits.max_body_bytes)
            .await
            .inspect_err(|_| decision.reason = "body_rejected")?;
        validate_request(operation, &parts, &body, self.limits.max_json_depth)
            .inspect_err(|_| decision.reason = "request_invalid")?;

        // 7. Upstream: sanitized headers, trusted identity added, the trace continued.
        let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        sanitize_request_headers(&mut parts.headers);
        let headers = &mut parts.headers;
        // Room for the fields added below: one allocation rather than a regrowth or two.
        headers.reserve(12);
        // Made once per token and per operation; a clone shares the bytes.
        let identity = [
            (names::PARTNER_ID, claims.partner_header.as_ref()),
            (names::CLIENT_ID, claims.client_header.as_ref()),
            (names::SCOPES, claims.scope_header.as_ref()),
            (names::OPERATION, operation.id_header()),
        ];
        for (name, value) in identity {
            if let Some(value) = value {
                headers.insert(name, value.clone());
            }
        }
        headers.insert(
            names::ENVIRONMENT,
            HeaderValue::from_static(self.environment.as_str()),
        );
        set_header(headers, names::REQUEST_ID, request_id);
        set_header(headers, names::INTERACTION_ID, interaction_id);
        set_header(headers, names::FORWARDED_FOR, source_text);
        headers.insert(names::FORWARDED_PROTO, HeaderValue::from_static("https"));
        if !trace.continued() {
            headers.remove(names::TRACESTATE);
        }
        match trace.traceparent() {
            Some(traceparent) => headers.insert(names::TRACEPARENT, traceparent),
            None => headers.remove(names::TRACEPARENT),
        };
        // Bodies are filtered, so they must arrive unencoded.
        headers.insert(
            http::header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        *slot = self.reserve().inspect_err(|_| decision.reason = SHED)?;
        let response = self
            .upstream
            .send(&parts.method, path_and_query, &parts.headers, body)
            .await
            .map_err(|e| {
                tracing::warn!(%request_id, error = %e, "upstream failed");
                let (reason, detail) = match e {
                    UpstreamError::Timeout(_) => {
                        decision.reason = "upstream_timeout";
                        return Problem::new(
                            StatusCode::GATEWAY_TIMEOUT,
                            "upstream-timeout",
                            "Gateway Timeout",
                            "the upstream service did not answer in time",
                        );
                    }
                    UpstreamError::Malformed(_) => (
                        "upstream_malformed",
                        "the upstream service answered with invalid HTTP",
                    ),
                    UpstreamError::Unavailable(_) => (
                        "upstream_unavailable",
                        "the upstream service is unavailable",
                    ),
                };
                decision.reason = reason;
                Problem::new(
                    StatusCode::BAD_GATEWAY,
                    "upstream-unavailable",
                    "Bad Gateway",
                    detail,
                )
            })?;

        // 8. Response: only the fields the grant allows for this operation; error answers
        // keep their envelope only.
        let UpstreamResponse {
            status,
            headers,
            body,
        } = response;
        let policy = grant
            .fields
            .get(&operation.id)
            .map_or(&self.deny_all, |p| p.as_ref());
        // An HMAC per request only when the policy hashes; otherwise no mask reads the key.
        let key = if policy.uses_hash() {
            HashKey::derive(&self.field_hash_master, &claims.partner_id)
        } else {
            HashKey::new([0; 32])
        };
        let filtered = match check_headers(&headers, status) {
            Ok(()) if status.is_success() => {
                let (max, timeout) = (self.limits.max_response_bytes, self.upstream.timeout());
                filter_body(body, policy, &key, max, timeout).await
            }
            // Error answers keep their envelope only, whatever the grant.
            Ok(()) => error_body(body, self.upstream.timeout())
                .await
                .map(|(body, removed)| {
                    (
                        body,
                        FilterReport {
                            removed: removed.iter().collect(),
                            ..Default::default()
                        },
                    )
                }),
            Err(u) => Err(u),
        };
        let (body, report) = filtered.map_err(|u: Unfilterable| {
            tracing::warn!(%request_id, reason = u.reason, "upstream answer not filterable");
            decision.reason = u.reason;
            *u.problem
        })?;
        decision.fields_removed = report.removed;
        if report.truncated {
            decision.fields_removed.push("(more)");
        }
        // After the filter: it needs the upstream's content headers. The length is the
        // filtered body's, set from it.
        let mut response = Response::new(full(body));
        *response.status_mut() = status;
        *response.headers_mut() = retain_response_headers(headers, status);
        Ok(response)
    }

    /// Reads a request body whole, within the size limit and the read timeout.
    async fn read_body(&self, body: Incoming, limit: usize) -> Result<Bytes, Problem> {
        // Most requests (GETs) have none: no timer to arm and disarm for them.
        if body.is_end_stream() {
            return Ok(Bytes::new());
        }
        let read = Limited::new(body, limit).collect();
        match tokio::time::timeout(self.limits.body_read_timeout, read).await {
            Ok(Ok(collected)) => Ok(collected.to_bytes()),
            Ok(Err(e))
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some() =>
            {
                Err(Problem::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload-too-large",
                    "Payload Too Large",
                    format!("the request body exceeds {limit} bytes"),
                ))
            }
            Ok(Err(_)) => Err(Problem::bad_request("the request body could not be read")),
            Err(_) => Err(Problem::new(
                StatusCode::REQUEST_TIMEOUT,
                "request-timeout",
                "Request Timeout",
                format!(
                    "the request body was not received within {:?}",
                    self.limits.body_read_timeout
                ),
            )),
        }
    }
}

/// Step 6: every JSON body strictly read, then the operation's schemas, if it has any.
fn validate_request(
    operation: &Operation,
    parts: &http::request::Parts,
    body: &Bytes,
    max_depth: usize,
) -> Result<(), Problem> {
    let invalid = |v: Violation| {
        let mut p = Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "Bad Request",
            format!("{}: {} (rule {})", v.field, v.message, v.rule),
        );
        p.invalid_param = Some(Box::new(InvalidParam {
            name: v.field,
            rule: v.rule,
            reason: v.message,
        }));
        p
    };
    let schemas = operation.schemas.as_ref().map(|s| s.0.as_ref());
    if let Some(schemas) = schemas {
        schemas.check_query(parts.uri.query()).map_err(invalid)?;
    }
    let must_have_body = schemas.is_some_and(|s| s.validates_body());
    if body.is_empty() && !must_have_body {
        return Ok(());
    }
    if !says_json(&parts.headers) {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported Media Type",
            "request bodies must be JSON, sent with Content-Type: application/json",
        ));
    }
    let value = strict::parse(body, "body", max_depth).map_err(invalid)?;
    if let Some(schemas) = schemas {
        schemas.check_body(&value).map_err(invalid)?;
    }
    Ok(())
}

/// An address as text, as `Display` writes it. IPv4 by hand: through the formatting
/// machinery it cost as much as the rest of the request's bookkeeping (seen in profiles).
fn address_text(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => {
            let mut text = String::with_capacity(15);
            let mut number = itoa::Buffer::new();
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    text.push('.');
                }
                text.push_str(number.format(octet));
            }
            text
        }
        IpAddr::V6(_) => address.to_string(),
    }
}

fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    key[..16].copy_from_slice(a.as_bytes());
    key[16..].copy_from_slice(b.as_bytes());
    key
}

/// Echo the client's `x-fapi-interaction-id` when it is a sane token, else mint one.
fn interaction_id(headers: &http::HeaderMap) -> String {
    headers
        .get("x-fapi-interaction-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// What a request's log line says about its outcome.
struct Summary<'a> {
    operation: Option<&'a str>,
    partner: Option<&'a str>,
    client: Option<&'a str>,
    reason: &'a str,
}

impl<'a> Summary<'a> {
    /// From the event that took the decision's strings; `routed`: whether an operation
    /// answered (the event's action otherwise names the method, which the line does not).
    fn of(event: &'a AuditEvent, routed: bool) -> Self {
        Self {
            operation: routed.then_some(event.action.as_str()),
            partner: event.actor.partner_id.as_deref(),
            client: event.actor.client_id.as_deref(),
            reason: &event.reason,
        }
    }
}

fn log_line(
    summary: &Summary<'_>,
    request_id: &str,
    environment: Environment,
    method: &http::Method,
    status: u16,
    latency_us: u64,
    source: IpAddr,
) {
    let (operation, partner, client) = (
        summary.operation.unwrap_or("-"),
        summary.partner.unwrap_or("-"),
        summary.client.unwrap_or("-"),
    );
    let environment = environment.as_str();
    if status < 400 {
        tracing::debug!(%request_id, environment, %method, operation, partner, client, status, latency_us, "request");
    } else {
        tracing::info!(%request_id, environment, %method, operation, partner, client, status, latency_us, reason = summary.reason, %source, "request denied");
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        let octets = [0u8, 1, 9, 10, 99, 100, 199, 200, 255];
        for a in octets {
            for b in octets {
                let v4 = IpAddr::V4(Ipv4Addr::new(a, b, 255 - a, 255 - b));
                assert_eq!(super::address_text(v4), v4.to_string());
            }
        }
        for v6 in [
            Ipv6Addr::LOCALHOST,
            "2001:db8::ffff:1.2.3.4".parse().unwrap(),
        ] {
            assert_eq!(super::address_text(IpAddr::V6(v6)), v6.to_string());
        }
    }
}
