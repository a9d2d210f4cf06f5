//! The typed configuration of `portcullis serve`.
//!
//! Unknown keys are refused (`deny_unknown_fields`); [`Config::validate`] reports every
//! problem at once, each with its path and a hint.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use portcullis_core::{Environment, GrantPolicy, SigningAlgorithm};
use portcullis_policy::{NetworkList, RateLimit, RequestSchemas, SchemaSource};
use serde::Deserialize;

/// `upstream_url` value that routes to the built-in synthetic bank.
pub const BUILTIN_BANK: &str = "builtin:sandbox-bank";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the embedded store, the PKI (in development) and the admin token live.
    pub data_dir: PathBuf,
    #[serde(default)]
    pub store: StoreConfig,
    pub tls: TlsConfig,
    pub admin: AdminConfig,
    /// Runs the synthetic bank in-process, for sandboxes and demos.
    #[serde(default)]
    pub sandbox_bank: Option<BankConfig>,
    pub environments: Vec<EnvironmentConfig>,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub audit: AuditSettings,
    #[serde(default)]
    pub traffic: TrafficConfig,
    /// An OpenAPI 3.0/3.1 document (JSON) operations can take their request schemas from.
    #[serde(default)]
    pub openapi_document: Option<PathBuf>,
    /// API operations; the demo bank API when absent.
    #[serde(default)]
    pub operations: Vec<OperationConfig>,
    /// Grants stated in the file. Applied at start and on SIGHUP (a changed grant replaces
    /// the stored one and reaches the gateways at once); grants not listed here are left
    /// to the admin API.
    #[serde(default)]
    pub grants: Vec<GrantConfig>,
    /// Credential lifetimes, review intervals, dormancy: the partner programme's rules.
    #[serde(default)]
    pub governance: portcullis_control_plane::governance::GovernanceSettings,
    /// Metrics, detectors, alerts, playbooks and webhooks.
    #[serde(default)]
    pub monitor: portcullis_monitor::MonitorConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantConfig {
    pub partner_id: String,
    pub environment: Environment,
    pub scopes: Vec<String>,
    #[serde(default)]
    pub policy: GrantPolicy,
}

/// Rate limits that are not a grant's, where addresses come from, and response filtering.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrafficConfig {
    /// CIDRs of proxies whose `X-Forwarded-For` is believed; none by default.
    pub trusted_proxies: Vec<String>,
    /// Per credential, for grants that state none.
    pub default_rate_limit: RateLimit,
    /// Token endpoint, per authenticated client.
    pub token_rate_per_client: RateLimit,
    /// Token, introspection and revocation endpoints, per source address (IPv6 per /64).
    pub token_rate_per_source: RateLimit,
    /// Largest upstream answer filtered; larger ones are refused with 502.
    pub max_response_bytes: usize,
    /// Deepest nesting accepted in JSON request bodies.
    pub max_json_depth: usize,
    /// 32-byte key file for keyed-hash masking; default `DATA_DIR/keys/field-hash.key`,
    /// created when missing. Share it between the gateways of a cluster.
    pub field_hash_key_file: Option<PathBuf>,
}

impl Default for TrafficConfig {
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            default_rate_limit: RateLimit {
                per_second: 50,
                burst: 100,
            },
            token_rate_per_client: RateLimit {
                per_second: 10,
                burst: 20,
            },
            token_rate_per_source: RateLimit {
                per_second: 20,
                burst: 40,
            },
            max_response_bytes: 32 * 1024 * 1024,
            max_json_depth: 32,
            field_hash_key_file: None,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite://PATH` or `postgres://...`; default `sqlite://DATA_DIR/portcullis.db`.
    pub url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Generate (once) and use a development PKI in this directory. Never in production.
    pub dev_pki_dir: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// CA that partner client certificates must chain to.
    pub client_ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    pub listen: SocketAddr,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankConfig {
    pub listen: SocketAddr,
    #[serde(default = "default_seed")]
    pub seed: u64,
}

fn default_seed() -> u64 {
    20_261_123
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ClientCertificates {
    None,
    #[default]
    Optional,
    Required,
}

/// What a gateway listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ListenerTransport {
    #[default]
    Https,
    /// Plain HTTP, only behind a load balancer that terminates TLS: no client
    /// certificates, so no certificate-bound tokens.
    Http,
}

impl ListenerTransport {
    /// The URL scheme partners use for this listener.
    pub fn scheme(self) -> &'static str {
        match self {
            ListenerTransport::Https => "https",
            ListenerTransport::Http => "http",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentConfig {
    pub name: Environment,
    pub listen: SocketAddr,
    /// Issuer identifier; default `https://LISTEN_ADDRESS` (with the bound port).
    pub issuer: Option<String>,
    /// `aud` of access tokens; default the issuer.
    pub audience: Option<String>,
    /// `http://host:port[/prefix]`, or `builtin:sandbox-bank`.
    pub upstream_url: String,
    #[serde(default = "default_upstream_timeout")]
    pub upstream_timeout_seconds: u64,
    /// Most connections open to the upstream at once, busy and idle together. A request
    /// that finds them all busy waits for one within the upstream timeout (then 504):
    /// a slow upstream is not answered with ever more connections.
    #[serde(default = "default_upstream_max_connections")]
    pub upstream_max_connections: usize,
    #[serde(default = "default_token_lifetime")]
    pub token_lifetime_seconds: i64,
    #[serde(default)]
    pub client_certificates: ClientCertificates,
    /// `https` (default) or `http`.
    #[serde(default)]
    pub transport: ListenerTransport,
    /// FAPI 2.0: only certificate-bound (sender-constrained) tokens are issued and
    /// accepted. Every client must then present its certificate, `private_key_jwt`
    /// clients included. Default false.
    #[serde(default)]
    pub require_bound_tokens: bool,
    #[serde(default = "default_algorithm")]
    pub signing_algorithm: SigningAlgorithm,
}

fn default_upstream_timeout() -> u64 {
    10
}
fn default_upstream_max_connections() -> usize {
    portcullis_gateway::upstream::DEFAULT_MAX_CONNECTIONS
}
fn default_token_lifetime() -> i64 {
    300
}
fn default_algorithm() -> SigningAlgorithm {
    SigningAlgorithm::ES256
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    pub tls_handshake_timeout_seconds: u64,
    pub header_read_timeout_seconds: u64,
    pub body_read_timeout_seconds: u64,
    pub max_header_bytes: usize,
    pub max_headers: usize,
    pub max_body_bytes: usize,
    pub clock_leeway_seconds: i64,
    /// How often a node checks the store for changes made by other nodes.
    pub snapshot_poll_interval_ms: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            tls_handshake_timeout_seconds: 10,
            header_read_timeout_seconds: 10,
            body_read_timeout_seconds: 30,
            max_header_bytes: 16 * 1024,
            max_headers: 64,
            max_body_bytes: 1024 * 1024,
            clock_leeway_seconds: 5,
            snapshot_poll_interval_ms: 500,
        }
    }
}

/// The audit log in `DATA_DIR/audit`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSettings {
    /// How often a signed checkpoint covers new entries.
    pub checkpoint_interval_seconds: u64,
    /// Entries in flight before the gateway sheds load with 503.
    pub queue_capacity: usize,
    pub segment_max_bytes: u64,
    /// The longest an fsync waits, after the previous one began, for requests past their
    /// checks (at the upstream or filtering its answer) whose entries are still to come;
    /// with durable acknowledgement it goes at once when there are none. Entries arriving
    /// meanwhile share it. Bounds the latency durable acknowledgement adds.
    pub commit_delay_microseconds: u64,
    /// With written acknowledgement, the longest from one fsync's start to the next
    /// (sooner under heavy load, or when an admin change needs one).
    pub written_sync_interval_milliseconds: u64,
    /// `durable`: answer once the entry is fsynced (survives power loss). `written`:
    /// answer once it is written to the segment file (survives the process being
    /// killed; a power failure can lose the answered entries of about the last written
    /// sync interval and an fsync or two, more when the disk is slower than the interval,
    /// at most queue_capacity of them). Admin changes are always durable.
    pub acknowledge: portcullis_audit::Acknowledge,
    /// The Ed25519 key that signs checkpoints. Keep it where the log's writers cannot
    /// reach it; default `DATA_DIR/audit/checkpoint-signing-key.pk8` (with a warning).
    pub checkpoint_key_file: Option<PathBuf>,
    /// Entries older than this many days are removed (their leaf hashes are kept, so the
    /// log stays verifiable). Unset: kept forever.
    pub retention_days: Option<u64>,
    /// With retention, move old segments here instead of deleting them.
    pub archive_dir: Option<PathBuf>,
    /// Only for measuring what the audit log costs: cannot be set from a config file.
    #[serde(skip)]
    pub off_for_benchmark: bool,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            checkpoint_interval_seconds: 1,
            queue_capacity: 16_384,
            segment_max_bytes: 64 * 1024 * 1024,
            commit_delay_microseconds: 2000,
            written_sync_interval_milliseconds: 100,
            acknowledge: portcullis_audit::Acknowledge::Durable,
            checkpoint_key_file: None,
            retention_days: None,
            archive_dir: None,
            off_for_benchmark: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationConfig {
    pub id: String,
    pub method: String,
    pub path: String,
    pub scope: String,
    #[serde(default)]
    pub idempotency_key_required: bool,
    /// JSON Schema file for the request body.
    #[serde(default)]
    pub body_schema: Option<PathBuf>,
    /// JSON Schema file for the query parameters, as an object.
    #[serde(default)]
    pub query_schema: Option<PathBuf>,
    /// `operationId` in `openapi_document` to take the body and query schemas from.
    #[serde(default)]
    pub openapi_operation: Option<String>,
}

/// Every problem found in a configuration, each as `path: problem; hint`.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct ConfigErrors(pub Vec<String>);

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigErrors> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigErrors(vec![format!("{}: cannot read: {e}", path.display())]))?;
        let mut config: Config = toml::from_str(&text)
            .map_err(|e| ConfigErrors(vec![format!("{}: {e}", path.display())]))?;
        // Relative paths are relative to the config file, not to the working directory.
        let base = path.parent().unwrap_or(Path::new("."));
        config.resolve_paths(base);
        config.validate()?;
        Ok(config)
    }

    fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut self.data_dir);
        for p in [
            &mut self.tls.dev_pki_dir,
            &mut self.tls.cert_file,
            &mut self.tls.key_file,
            &mut self.tls.client_ca_file,
            &mut self.audit.checkpoint_key_file,
            &mut self.audit.archive_dir,
            &mut self.traffic.field_hash_key_file,
            &mut self.openapi_document,
            &mut self.monitor.geography.maxmind_db,
        ]
        .into_iter()
        .flatten()
        {
            fix(p);
        }
        for webhook in &mut self.monitor.webhooks {
            fix(&mut webhook.secret_file);
            if let Some(ca) = &mut webhook.ca_file {
                fix(ca);
            }
        }
        for op in &mut self.operations {
            for p in [&mut op.body_schema, &mut op.query_schema]
                .into_iter()
                .flatten()
            {
                fix(p);
            }
        }
    }

    pub fn store_url(&self) -> String {
        self.store.url.clone().unwrap_or_else(|| {
            format!("sqlite://{}", self.data_dir.join("portcullis.db").display())
        })
    }

    /// Checks everything serde cannot, collecting all problems.
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let mut errors = self.governance.problems("governance");
        let mut err = |path: String, problem: String| errors.push(format!("{path}: {problem}"));

        if let Some(url) = &self.store.url {
            if !(url.starts_with("sqlite://")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
            {
                err(
                    "store.url".into(),
                    "must start with sqlite:// or postgres://".into(),
                );
            }
        }
        let tls = &self.tls;
        match (&tls.dev_pki_dir, &tls.cert_file, &tls.key_file) {
            (Some(_), None, None) => {}
            (None, Some(_), Some(_)) => {
                for (name, file) in [("cert_file", &tls.cert_file), ("key_file", &tls.key_file), ("client_ca_file", &tls.client_ca_file)] {
                    if let Some(f) = file {
                        if !f.is_file() {
                            err(format!("tls.{name}"), format!("{} does not exist", f.display()));
                        }
                    }
                }
            }
            _ => err(
                "tls".into(),
                "set either dev_pki_dir (development) or cert_file and key_file; hint: client_ca_file is needed for mutual TLS".into(),
            ),
        }
        if self.environments.is_empty() {
            err(
                "environments".into(),
                "at least one [[environments]] entry is required".into(),
            );
        }
        let mut seen_names = Vec::new();
        let mut seen_listen = vec![("admin.listen".to_string(), self.admin.listen)];
        if let Some(bank) = &self.sandbox_bank {
            seen_listen.push(("sandbox_bank.listen".into(), bank.listen));
        }
        for (i, env) in self.environments.iter().enumerate() {
            let at = |field: &str| format!("environments[{i}].{field}");
            if seen_names.contains(&env.name) {
                err(at("name"), format!("{} is configured twice", env.name));
            }
            seen_names.push(env.name);
            seen_listen.push((at("listen"), env.listen));
            if let Some(issuer) = &env.issuer {
                check_https_url(issuer).unwrap_or_else(|p| err(at("issuer"), p));
            }
            if env.upstream_url == BUILTIN_BANK {
                if self.sandbox_bank.is_none() {
                    err(
                        at("upstream_url"),
                        format!("{BUILTIN_BANK} needs a [sandbox_bank] section"),
                    );
                }
            } else {
                match env.upstream_url.parse::<http::Uri>() {
                    Ok(u)
                        if u.scheme_str() == Some("http")
                            && u.host().is_some()
                            && u.query().is_none() => {}
                    _ => err(
                        at("upstream_url"),
                        format!(
                            "{:?} is not http://host:port[/prefix] or {BUILTIN_BANK}",
                            env.upstream_url
                        ),
                    ),
                }
            }
            if !(30..=3600).contains(&env.token_lifetime_seconds) {
                err(
                    at("token_lifetime_seconds"),
                    format!(
                        "{} is outside 30..=3600; short-lived tokens are the point (default 300)",
                        env.token_lifetime_seconds
                    ),
                );
            }
            if !(1..=65_536).contains(&env.upstream_max_connections) {
                err(
                    at("upstream_max_connections"),
                    format!("{} is outside 1..=65536", env.upstream_max_connections),
                );
            }
            if !(1..=300).contains(&env.upstream_timeout_seconds) {
                err(
                    at("upstream_timeout_seconds"),
                    format!("{} is outside 1..=300", env.upstream_timeout_seconds),
                );
            }
            if env.require_bound_tokens && env.client_certificates == ClientCertificates::None {
                err(
                    at("require_bound_tokens"),
                    "needs client_certificates = \"optional\" or \"required\"".into(),
                );
            }
            if env.transport == ListenerTransport::Http
                && env.client_certificates != ClientCertificates::None
            {
                err(
                    at("transport"),
                    "plain HTTP carries no client certificate: set client_certificates = \"none\" (and require_bound_tokens = false), or transport = \"https\"".into(),
                );
            }
            if env.client_certificates != ClientCertificates::None
                && tls.dev_pki_dir.is_none()
                && tls.client_ca_file.is_none()
            {
                err(
                    at("client_certificates"),
                    "client certificates need tls.client_ca_file".into(),
                );
            }
        }
        for (i, (name, addr)) in seen_listen.iter().enumerate() {
            if addr.port() != 0 && seen_listen[..i].iter().any(|(_, other)| other == addr) {
                err(name.clone(), format!("{addr} is used by another listener"));
            }
        }
        let l = &self.limits;
        for (name, value, min, max) in [
            (
                "tls_handshake_timeout_seconds",
                l.tls_handshake_timeout_seconds,
                1,
                120,
            ),
            (
                "header_read_timeout_seconds",
                l.header_read_timeout_seconds,
                1,
                120,
            ),
            (
                "body_read_timeout_seconds",
                l.body_read_timeout_seconds,
                1,
                600,
            ),
            (
                "max_header_bytes",
                l.max_header_bytes as u64,
                1024,
                1024 * 1024,
            ),
            ("max_headers", l.max_headers as u64, 8, 1000),
            (
                "max_body_bytes",
                l.max_body_bytes as u64,
                1024,
                1024 * 1024 * 1024,
            ),
            (
                "clock_leeway_seconds",
                l.clock_leeway_seconds.max(0) as u64,
                0,
                120,
            ),
            (
                "snapshot_poll_interval_ms",
                l.snapshot_poll_interval_ms,
                50,
                60_000,
            ),
        ] {
            if !(min..=max).contains(&value) {
                err(
                    format!("limits.{name}"),
                    format!("{value} is outside {min}..={max}"),
                );
            }
        }
        let a = &self.audit;
        for (name, value, min, max) in [
            (
                "checkpoint_interval_seconds",
                a.checkpoint_interval_seconds,
                1,
                3600,
            ),
            ("queue_capacity", a.queue_capacity as u64, 16, 1 << 22),
            ("segment_max_bytes", a.segment_max_bytes, 1 << 20, 1 << 34),
            (
                "commit_delay_microseconds",
                a.commit_delay_microseconds,
                0,
                10_000,
            ),
            (
                "written_sync_interval_milliseconds",
                a.written_sync_interval_milliseconds,
                1,
                1_000,
            ),
            ("retention_days", a.retention_days.unwrap_or(1), 1, 36_500),
        ] {
            if !(min..=max).contains(&value) {
                err(
                    format!("audit.{name}"),
                    format!("{value} is outside {min}..={max}"),
                );
            }
        }
        if a.archive_dir.is_some() && a.retention_days.is_none() {
            err(
                "audit.archive_dir".into(),
                "has no effect without audit.retention_days".into(),
            );
        }
        if l.clock_leeway_seconds < 0 {
            err(
                "limits.clock_leeway_seconds".into(),
                "must not be negative".into(),
            );
        }
        let t = &self.traffic;
        if let Err(e) = NetworkList::parse("traffic.trusted_proxies", &t.trusted_proxies) {
            let (path, problem) = e
                .split_once(": ")
                .unwrap_or(("traffic.trusted_proxies", &e));
            err(path.to_string(), problem.to_string());
        }
        for (name, limit) in [
            ("default_rate_limit", t.default_rate_limit),
            ("token_rate_per_client", t.token_rate_per_client),
            ("token_rate_per_source", t.token_rate_per_source),
        ] {
            if let Err(e) = limit.validate() {
                err(format!("traffic.{name}"), e);
            }
        }
        if !(1024..=1 << 30).contains(&t.max_response_bytes) {
            err(
                "traffic.max_response_bytes".into(),
                format!("{} is outside 1024..=1073741824", t.max_response_bytes),
            );
        }
        if !(2..=128).contains(&t.max_json_depth) {
            err(
                "traffic.max_json_depth".into(),
                format!("{} is outside 2..=128", t.max_json_depth),
            );
        }
        let routes = self.route_table();
        if let Err(e) = &routes {
            err("operations".into(), e.clone());
        }
        let mut seen = std::collections::HashSet::new();
        for (i, g) in self.grants.iter().enumerate() {
            if !seen.insert((g.partner_id.as_str(), g.environment)) {
                err(
                    format!("grants[{i}]"),
                    format!(
                        "a second grant for {} in {}; state each partner's grant once per environment",
                        g.partner_id, g.environment
                    ),
                );
            }
            for (j, scope) in g.scopes.iter().enumerate() {
                if scope.is_empty() || scope.contains(char::is_whitespace) {
                    err(
                        format!("grants[{i}].scopes[{j}]"),
                        format!(
                            "{scope:?} is not a scope; scopes are single words like accounts:read"
                        ),
                    );
                }
            }
            // A typo in an operation id or scope would silently deny (or never allow);
            // name it instead.
            if let Ok(routes) = &routes {
                let ids: Vec<&str> = routes.operations().iter().map(|o| o.id.as_str()).collect();
                for id in g.policy.fields.keys() {
                    if !ids.contains(&id.as_str()) {
                        err(
                            format!("grants[{i}].policy.fields.{id}"),
                            format!("no operation {id:?}; operations are {}", ids.join(", ")),
                        );
                    }
                }
                let scopes = routes.scopes();
                for (j, scope) in g.scopes.iter().enumerate() {
                    if !scopes.contains(scope) {
                        err(
                            format!("grants[{i}].scopes[{j}]"),
                            format!(
                                "no operation needs {scope:?}; scopes are {}",
                                scopes.join(", ")
                            ),
                        );
                    }
                }
            }
            for problem in g.policy.problems(&format!("grants[{i}].policy")) {
                let (path, detail) = problem.split_once(": ").unwrap_or(("grants", &problem));
                err(path.to_string(), detail.to_string());
            }
        }
        if let Err(problem) = self.monitor.validate() {
            errors.push(problem);
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// The (partner, environment) pairs whose grant this file states.
    pub fn grant_keys(&self) -> std::collections::HashSet<(String, Environment)> {
        self.grants
            .iter()
            .map(|g| (g.partner_id.clone(), g.environment))
            .collect()
    }

    pub fn route_table(&self) -> Result<portcullis_gateway::RouteTable, String> {
        if self.operations.is_empty() {
            return Ok(portcullis_gateway::RouteTable::demo_bank());
        }
        let openapi = match &self.openapi_document {
            Some(path) => Some(read_json(path).map_err(|e| format!("openapi_document: {e}"))?),
            None => None,
        };
        let mut ops = Vec::new();
        for (i, op) in self.operations.iter().enumerate() {
            let method = op
                .method
                .parse::<http::Method>()
                .map_err(|_| format!("[{i}].method {:?} is not an HTTP method", op.method))?;
            let operation = portcullis_gateway::Operation::new(
                &op.id,
                method,
                &op.path,
                &op.scope,
                op.idempotency_key_required,
            )
            .map_err(|e| format!("[{i}]: {e}"))?;
            let source = match (&op.openapi_operation, &op.body_schema, &op.query_schema) {
                (None, None, None) => None,
                (Some(id), None, None) => Some(SchemaSource::OpenApi {
                    document: openapi.clone().ok_or_else(|| {
                        format!("[{i}].openapi_operation needs openapi_document to be set")
                    })?,
                    operation_id: id.clone(),
                }),
                (None, body, query) => Some(SchemaSource::JsonSchema {
                    body: body
                        .as_deref()
                        .map(read_json)
                        .transpose()
                        .map_err(|e| format!("[{i}].body_schema: {e}"))?,
                    query: query
                        .as_deref()
                        .map(read_json)
                        .transpose()
                        .map_err(|e| format!("[{i}].query_schema: {e}"))?,
                }),
                (Some(_), _, _) => {
                    return Err(format!(
                        "[{i}]: use either openapi_operation or body_schema/query_schema, not both"
                    ))
                }
            };
            ops.push(match source {
                Some(source) => operation.with_schemas(
                    RequestSchemas::compile(&source).map_err(|e| format!("[{i}]: {e}"))?,
                ),
                None => operation,
            });
        }
        portcullis_gateway::RouteTable::new(ops).map_err(|e| e.to_string())
    }
}

fn read_json(path: &Path) -> Result<serde_json::Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))
}

fn check_https_url(url: &str) -> Result<(), String> {
    match url.parse::<http::Uri>() {
        Ok(u)
            if u.scheme_str() == Some("https")
                && u.host().is_some()
                && u.query().is_none()
                && !url.ends_with('/') =>
        {
            Ok(())
        }
        _ => Err(format!(
            "{url:?} must be an https:// URL without query or trailing slash"
        )),
    }
}

#[cfg(test)]
mod tests;
