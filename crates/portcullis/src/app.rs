//! Starts every role of a configuration in this process: store, snapshot, the synthetic
//! bank (when configured), one gateway and authorization server per environment, and the
//! admin API. Shared by `serve` and `demo`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use portcullis_audit::{AuditConfig, AuditLog};
use portcullis_authorization_server::{AuthorizationServer, IssuerConfig};
use portcullis_control_plane::AdminOptions;
use portcullis_control_plane::{hash_admin_token, new_admin_token, ConfigOwnedGrants};
use portcullis_core::clock::Clock;
use portcullis_core::jose::JwsSigner;
use portcullis_core::usage::ClientUsage;
use portcullis_core::{AdminRole, AdminToken, Environment, Secret, SigningKey, SigningKeyStatus};
use portcullis_gateway::{Gateway, Limits, Upstream};
use portcullis_policy::NetworkList;
use portcullis_store::{SnapshotLoader, SqlStore, Store};
use portcullis_tls::pki::DevPki;
use portcullis_tls::{serve, ClientCertMode, ConnectionLimits, Transport};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{ClientCertificates, Config, ListenerTransport, BUILTIN_BANK};

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(String);

fn fail(context: &str) -> impl FnOnce(&dyn std::fmt::Display) -> StartError + '_ {
    move |e| StartError(format!("{context}: {e}"))
}

macro_rules! ctx {
    ($result:expr, $($context:tt)+) => {
        $result.map_err(|e| fail(&format!($($context)+))(&e))
    };
}

/// One environment as it is actually served.
#[derive(Debug, Clone)]
pub struct ServedEnvironment {
    pub address: SocketAddr,
    /// `https://ADDRESS`, or `http://ADDRESS` for a plain listener.
    pub url: String,
    pub issuer: String,
}

/// A running system; dropping it does not stop it, [`Running::shutdown`] does.
pub struct Running {
    pub environments: BTreeMap<Environment, ServedEnvironment>,
    pub admin_address: SocketAddr,
    pub bank_address: Option<SocketAddr>,
    pub ca_file: PathBuf,
    /// Set when this start created the first admin token (only its hash is stored).
    pub bootstrap_admin_token: Option<Secret<String>>,
    pub store: Arc<dyn Store>,
    pub loader: Arc<SnapshotLoader>,
    pub audit: Arc<AuditLog>,
    /// The grants the configuration owns; replaced when SIGHUP reloads the file.
    pub config_grants: ConfigOwnedGrants,
    /// Metrics, detectors and automated responses; `None` when monitoring is off.
    pub monitor: Option<Arc<portcullis_monitor::Monitor>>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, lets in-flight requests finish, and waits for every task.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        // Last: every answered request's entry is already durable; this writes the final
        // checkpoint.
        let audit = self.audit;
        let _ = tokio::task::spawn_blocking(move || audit.close()).await;
    }
}

struct TlsMaterial {
    cert: PathBuf,
    key: PathBuf,
    client_ca: Option<PathBuf>,
}

fn tls_material(config: &Config) -> Result<TlsMaterial, StartError> {
    if let Some(dir) = &config.tls.dev_pki_dir {
        tracing::warn!(dir = %dir.display(), "using a generated DEVELOPMENT PKI; never in production");
        let pki = ctx!(
            DevPki::load_or_create(dir),
            "development PKI in {}",
            dir.display()
        )?;
        return Ok(TlsMaterial {
            cert: pki.server_cert_file,
            key: pki.server_key_file,
            client_ca: Some(pki.ca_file),
        });
    }
    match (&config.tls.cert_file, &config.tls.key_file) {
        (Some(cert), Some(key)) => Ok(TlsMaterial {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: config.tls.client_ca_file.clone(),
        }),
        _ => Err(StartError(
            "tls: cert_file and key_file are required".into(),
        )),
    }
}

/// Each environment's issuer needs an active signing key; the first start creates it.
async fn ensure_signing_keys(
    store: &dyn Store,
    config: &Config,
    clock: &dyn Clock,
) -> Result<(), StartError> {
    for env in &config.environments {
        let keys = ctx!(
            store.list_signing_keys(env.name).await,
            "reading signing keys"
        )?;
        if keys.iter().any(|k| k.status == SigningKeyStatus::Active) {
            continue;
        }
        let kid = format!("{}-{}", env.name, uuid::Uuid::new_v4().simple());
        let (_, pkcs8) = ctx!(
            JwsSigner::generate(kid.clone(), env.signing_algorithm.into()),
            "generating a signing key"
        )?;
        let key = SigningKey {
            kid,
            environment: env.name,
            algorithm: env.signing_algorithm,
            private_pkcs8: Secret::new(pkcs8),
            status: SigningKeyStatus::Active,
            created_at: clock.now(),
        };
        ctx!(store.add_signing_key(&key).await, "storing a signing key")?;
        tracing::info!(environment = %env.name, kid = %key.kid, "signing key created");
    }
    Ok(())
}

/// With no admin token at all, creates one so the system can be administered; the token
/// is returned once and only its hash is kept.
async fn ensure_admin_token(
    store: &dyn Store,
    clock: &dyn Clock,
) -> Result<Option<Secret<String>>, StartError> {
    if ctx!(store.count_admin_tokens().await, "reading admin tokens")? > 0 {
        return Ok(None);
    }
    let token = ctx!(new_admin_token(), "generating an admin token")?;
    let record = AdminToken {
        id: uuid::Uuid::new_v4().to_string(),
        name: "bootstrap".into(),
        role: AdminRole::Admin,
        token_sha256: hash_admin_token(&token),
        created_at: clock.now(),
    };
    ctx!(
        store.add_admin_token(&record).await,
        "storing the bootstrap admin token"
    )?;
    Ok(Some(Secret::new(token)))
}

async fn bind(addr: SocketAddr, what: &str) -> Result<TcpListener, StartError> {
    ctx!(
        TcpListener::bind(addr).await,
        "{what}: cannot listen on {addr}"
    )
}

pub async fn start(config: &Config, clock: Arc<dyn Clock>) -> Result<Running, StartError> {
    ctx!(
        std::fs::create_dir_all(&config.data_dir),
        "creating data_dir {}",
        config.data_dir.display()
    )?;
    let tls = tls_material(config)?;
    let routes = config.route_table().map_err(StartError)?;
    let store_url = config.store_url();
    let store: Arc<dyn Store> = Arc::new(ctx!(SqlStore::connect(&store_url).await, "store")?);
    ensure_signing_keys(store.as_ref(), config, clock.as_ref()).await?;
    let bootstrap_admin_token = ensure_admin_token(store.as_ref(), clock.as_ref()).await?;
    let loader = ctx!(
        SnapshotLoader::start(store.clone(), clock.clone()).await,
        "loading state"
    )?;
    let mut tasks_early: Vec<JoinHandle<()>> = Vec::new();
    let audit_dir = config.data_dir.join("audit");
    let audit = Arc::new(ctx!(
        AuditLog::open(AuditConfig {
            dir: audit_dir.clone(),
            queue_capacity: config.audit.queue_capacity,
            segment_max_bytes: config.audit.segment_max_bytes,
            checkpoint_interval: Duration::from_secs(config.audit.checkpoint_interval_seconds),
            commit_delay: Duration::from_micros(config.audit.commit_delay_microseconds),
            written_sync_interval: Duration::from_millis(
                config.audit.written_sync_interval_milliseconds,
            ),
            acknowledge: config.audit.acknowledge,
            checkpoint_key_file: config.audit.checkpoint_key_file.clone(),
        }),
        "audit log"
    )?);
    tracing::info!(acknowledge = ?config.audit.acknowledge, commit_delay_us = config.audit.commit_delay_microseconds, written_sync_interval_ms = config.audit.written_sync_interval_milliseconds, "audit log open");
    if apply_config_grants(config, store.as_ref(), &audit, clock.as_ref())
        .await
        .map_err(StartError)?
        > 0
    {
        ctx!(loader.reload().await, "loading state")?;
    }

    let (shutdown, shutdown_rx) = watch::channel(false);
    if let Some(days) = config.audit.retention_days {
        tasks_early.push(spawn_retention(
            audit.clone(),
            clock.clone(),
            days,
            config.audit.archive_dir.clone(),
            shutdown_rx.clone(),
        ));
    }
    let mut tasks = std::mem::take(&mut tasks_early);
    let monitor = if config.monitor.enabled {
        let (monitor, task) = portcullis_monitor::Monitor::start(
            config.monitor.clone(),
            config.data_dir.join("monitor"),
            audit.clone(),
            clock.clone(),
            Arc::new(portcullis_control_plane::monitor_api::StoreResponder::new(
                loader.clone(),
            )),
            shutdown_rx.clone(),
        )
        .map_err(|e| StartError(format!("monitor: {e}")))?;
        tasks.push(task);
        Some(monitor)
    } else {
        tracing::warn!("monitoring is off: no metrics, detectors or automated responses");
        None
    };
    // Token endpoints note credential use here; the governance sweep stores it.
    let client_usage = Arc::new(ClientUsage::default());
    let limits = &config.limits;
    tasks.push(loader.spawn_poller(
        Duration::from_millis(limits.snapshot_poll_interval_ms),
        shutdown_rx.clone(),
    ));

    let mut bank_address = None;
    if let Some(bank) = &config.sandbox_bank {
        let listener = bind(bank.listen, "sandbox_bank").await?;
        bank_address = Some(ctx!(listener.local_addr(), "sandbox_bank")?);
        let data = Arc::new(portcullis_sandbox::Bank::generate(bank.seed));
        let mut stop = shutdown_rx.clone();
        tasks.push(tokio::spawn(async move {
            let stopped = async move {
                let _ = stop.changed().await;
            };
            if let Err(e) = portcullis_sandbox::serve(listener, data, stopped).await {
                tracing::error!(error = %e, "sandbox bank stopped");
            }
        }));
    }

    let connection_limits = ConnectionLimits {
        tls_handshake_timeout: Duration::from_secs(limits.tls_handshake_timeout_seconds),
        header_read_timeout: Duration::from_secs(limits.header_read_timeout_seconds),
        max_header_bytes: limits.max_header_bytes,
        max_headers: limits.max_headers,
        drain_timeout: Duration::from_secs(10),
    };
    let traffic = &config.traffic;
    let request_limits = Limits {
        body_read_timeout: Duration::from_secs(limits.body_read_timeout_seconds),
        max_body_bytes: limits.max_body_bytes,
        leeway_seconds: limits.clock_leeway_seconds,
        default_rate_limit: traffic.default_rate_limit,
        max_response_bytes: traffic.max_response_bytes,
        max_json_depth: traffic.max_json_depth,
    };
    let trusted_proxies = NetworkList::parse("traffic.trusted_proxies", &traffic.trusted_proxies)
        .map_err(StartError)?;
    let field_hash_key_file = traffic
        .field_hash_key_file
        .clone()
        .unwrap_or_else(|| config.data_dir.join("keys").join("field-hash.key"));
    let field_hash_master = ctx!(
        load_or_create_secret(&field_hash_key_file),
        "field hash key {}",
        field_hash_key_file.display()
    )?;
    let mut environments = BTreeMap::new();
    for env in &config.environments {
        let listener = bind(env.listen, env.name.as_str()).await?;
        let address = ctx!(listener.local_addr(), "{}", env.name)?;
        let url = format!("{}://{address}", env.transport.scheme());
        let issuer = env.issuer.clone().unwrap_or_else(|| url.clone());
        let upstream_url = if env.upstream_url == BUILTIN_BANK {
            format!(
                "http://{}",
                bank_address.ok_or_else(|| StartError("builtin bank not running".into()))?
            )
        } else {
            env.upstream_url.clone()
        };
        let upstream_uri = ctx!(
            upstream_url.parse::<http::Uri>(),
            "{}: upstream_url",
            env.name
        )?;
        let mode = match env.client_certificates {
            ClientCertificates::None => ClientCertMode::None,
            ClientCertificates::Optional => ClientCertMode::Optional,
            ClientCertificates::Required => ClientCertMode::Required,
        };
        let transport = match env.transport {
            ListenerTransport::Https => Transport::Tls(ctx!(
                portcullis_tls::server_config(&tls.cert, &tls.key, tls.client_ca.as_deref(), mode),
                "{} TLS",
                env.name
            )?),
            ListenerTransport::Http => {
                tracing::warn!(environment = %env.name, "plain HTTP listener: terminate TLS in front of it");
                Transport::Plain
            }
        };
        let authorization_server = Arc::new(
            AuthorizationServer::new(
                IssuerConfig {
                    environment: env.name,
                    audience: env.audience.clone().unwrap_or_else(|| issuer.clone()),
                    issuer: issuer.clone(),
                    token_lifetime_seconds: env.token_lifetime_seconds,
                    max_assertion_lifetime_seconds: 300,
                    leeway_seconds: limits.clock_leeway_seconds,
                    require_bound_tokens: env.require_bound_tokens,
                    scopes_supported: routes.scopes(),
                    token_rate_per_client: traffic.token_rate_per_client,
                    token_rate_per_source: traffic.token_rate_per_source,
                },
                loader.clone(),
                clock.clone(),
            )
            .with_usage(client_usage.clone()),
        );
        let mut gateway = Gateway::new(
            routes.clone(),
            request_limits.clone(),
            loader.snapshot(),
            authorization_server,
            Upstream::new(
                upstream_uri,
                Duration::from_secs(env.upstream_timeout_seconds),
            )
            .with_max_connections(env.upstream_max_connections),
            clock.clone(),
            (!config.audit.off_for_benchmark).then(|| audit.clone()),
        )
        .with_trusted_proxies(trusted_proxies.clone())
        .with_field_hash_master(field_hash_master);
        if let Some(monitor) = &monitor {
            gateway = gateway.with_monitor(monitor.feed(), monitor.guard());
        }
        let gateway = Arc::new(gateway);
        tasks.push(tokio::spawn(serve(
            listener,
            transport,
            connection_limits.clone(),
            shutdown_rx.clone(),
            move |request, conn| gateway.clone().handle_detached(request, conn),
        )));
        tracing::info!(environment = %env.name, %address, %issuer, upstream = %upstream_url, "gateway listening");
        environments.insert(
            env.name,
            ServedEnvironment {
                address,
                url,
                issuer,
            },
        );
    }

    let admin_listener = bind(config.admin.listen, "admin").await?;
    let admin_address = ctx!(admin_listener.local_addr(), "admin")?;
    let admin_tls = ctx!(
        portcullis_tls::server_config(&tls.cert, &tls.key, None, ClientCertMode::None),
        "admin TLS"
    )?;
    let config_grants: ConfigOwnedGrants = Arc::new(ArcSwap::from_pointee(config.grant_keys()));
    let operation_scopes = routes
        .operations()
        .iter()
        .map(|o| (o.id.clone(), o.scope.clone()))
        .collect();
    let (router, admin_state) = portcullis_control_plane::build(
        loader.clone(),
        audit.clone(),
        clock.clone(),
        AdminOptions {
            config_grants: config_grants.clone(),
            governance: config.governance.clone(),
            usage: client_usage.clone(),
            operation_scopes,
            monitor: monitor.clone(),
        },
    );
    tasks.push(
        portcullis_control_plane::governance::reviews::spawn_sweeper(
            admin_state,
            shutdown_rx.clone(),
        ),
    );
    tasks.push(tokio::spawn(serve(
        admin_listener,
        Transport::Tls(admin_tls),
        connection_limits,
        shutdown_rx,
        move |request, _conn| {
            let service = hyper_util::service::TowerToHyperService::new(router.clone());
            // Detached like gateway requests: a change that was stored always goes on to
            // its audit entry, even if the administrator's client disconnects.
            let task = tokio::spawn(async move {
                match hyper::service::Service::call(&service, request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                }
            });
            async move {
                task.await.unwrap_or_else(|e| {
                    tracing::error!(error = %e, "admin request task failed");
                    let mut r = http::Response::new(axum::body::Body::empty());
                    *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                    r
                })
            }
        },
    )));
    tracing::info!(address = %admin_address, "admin API listening");

    Ok(Running {
        environments,
        admin_address,
        bank_address,
        ca_file: tls.client_ca.unwrap_or(tls.cert),
        bootstrap_admin_token,
        store,
        loader,
        audit,
        config_grants,
        monitor,
        shutdown,
        tasks,
    })
}

/// Applies the retention period at start and then hourly; each prune is recorded in the
/// log before it is applied.
fn spawn_retention(
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
    days: u64,
    archive_dir: Option<PathBuf>,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.changed() => return,
            }
            let cutoff_ms = clock.now_ms() - (days as i64) * 86_400_000;
            let result = portcullis_audit::retention::prune_recorded(
                &audit,
                clock.now_ms(),
                cutoff_ms,
                archive_dir.as_deref(),
                "system:retention",
            )
            .await;
            match result {
                Ok(report) if report.segments_removed > 0 => {
                    tracing::info!(
                        segments = report.segments_removed,
                        entries = report.entries_pruned,
                        "audit retention applied"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "audit retention failed"),
            }
        }
    })
}

/// A 32-byte secret kept in a file readable by the owner only, created on first use.
fn load_or_create_secret(path: &Path) -> std::io::Result<[u8; 32]> {
    match std::fs::read(path) {
        Ok(bytes) => bytes.try_into().map_err(|b: Vec<u8>| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("holds {} bytes; a key file holds exactly 32", b.len()),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
                .map_err(|_| std::io::Error::other("no system randomness"))?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let tmp = path.with_extension("tmp");
            {
                use std::io::Write;
                use std::os::unix::fs::OpenOptionsExt;
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(&tmp)?;
                f.write_all(&key)?;
                f.sync_all()?;
            }
            std::fs::rename(&tmp, path)?;
            Ok(key)
        }
        Err(e) => Err(e),
    }
}

/// Applies the grants stated in the configuration: each one that differs from the stored
/// grant replaces it, recorded in the audit log as a change by `config-file`. A grant for a
/// partner that does not exist yet is skipped with a warning and applied on a later reload.
/// Returns the number of grants changed.
pub async fn apply_config_grants(
    config: &Config,
    store: &dyn Store,
    audit: &AuditLog,
    clock: &dyn Clock,
) -> Result<usize, String> {
    let mut changed = 0;
    for (i, g) in config.grants.iter().enumerate() {
        if store.get_partner(&g.partner_id).await.is_err() {
            tracing::warn!(partner_id = %g.partner_id, "grants[{i}]: no such partner yet; grant not applied");
            continue;
        }
        let grant = portcullis_core::Grant {
            partner_id: g.partner_id.clone(),
            environment: g.environment,
            scopes: g.scopes.clone(),
            justifications: Default::default(),
            policy: g.policy.clone(),
        };
        if store
            .get_grant(&g.partner_id, g.environment)
            .await
            .ok()
            .as_ref()
            == Some(&grant)
        {
            continue;
        }
        store
            .put_grant(&grant)
            .await
            .map_err(|e| format!("grants[{i}]: {e}"))?;
        let event = portcullis_audit::AuditEvent::by_admin(
            clock.now_ms(),
            portcullis_audit::EventKind::AdminChange,
            "config-file",
            "grant.put",
            grant.audit_target(),
        );
        audit
            .append(&event)
            .await
            .map_err(|e| format!("grants[{i}]: not recorded in the audit log: {e}"))?;
        tracing::info!(partner_id = %grant.partner_id, environment = %grant.environment, "grant applied from the configuration");
        changed += 1;
    }
    Ok(changed)
}
