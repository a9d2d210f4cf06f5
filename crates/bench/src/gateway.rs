//! The gateway as `bench/run` measures it: the demo system (store, audit log, both
//! environments) with production in front of the benchmark upstream, over plain HTTP or
//! HTTPS. Finch's rate limit and quota are lifted far above the load but still checked on
//! every request, so the row measures the pipeline's work rather than a 429.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use portcullis::config::{ClientCertificates, ListenerTransport};
use portcullis_authorization_server::{JWT_BEARER_ASSERTION, TOKEN_PATH};
use portcullis_core::{Environment, SystemClock};
use portcullis_policy::RateLimit;
use serde_json::{json, Value};

/// The demo partner the benchmark calls as: private_key_jwt, accounts:read, and a field
/// policy on getAccount that keeps four account fields of the upstream's answer.
const PARTNER: &str = "finch-lending";
const CLIENT: &str = "finch-lending-prod";

#[derive(clap::Args)]
pub struct Args {
    /// Data directory (store, audit log, PKI, demo.json and bench.json).
    #[arg(long)]
    dir: PathBuf,
    /// `http://host:port` of the benchmark upstream.
    #[arg(long)]
    upstream: String,
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// `http` or `https`.
    #[arg(long, default_value = "https", value_parser = parse_transport)]
    transport: ListenerTransport,
    /// When answers wait for their audit entry.
    #[arg(long, value_enum, default_value_t = AuditMode::Durable)]
    audit: AuditMode,
}

fn parse_transport(text: &str) -> Result<ListenerTransport, String> {
    match text {
        "http" => Ok(ListenerTransport::Http),
        "https" => Ok(ListenerTransport::Https),
        other => Err(format!("{other:?}: expected http or https")),
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum AuditMode {
    /// Until the entry is fsynced.
    Durable,
    /// Until the entry is in the segment file.
    Written,
    /// No audit entries: only to see what the log costs.
    Off,
}

pub async fn run(args: Args) -> Result<(), String> {
    // Before anyone can see the process is ready (see `StopSignal`).
    let stop = portcullis::StopSignal::watch();
    let unlimited = RateLimit {
        per_second: 1_000_000,
        burst: 1_000_000,
    };
    // For trying other group-commit delays with bench/ab (through a wrapper script that
    // sets it, since every row shares bench/ab's environment).
    let commit_delay_us = match std::env::var("BENCH_COMMIT_DELAY_US") {
        Ok(text) => Some(
            text.parse::<u64>()
                .ok()
                .filter(|us| *us <= 10_000)
                .ok_or_else(|| {
                    format!("BENCH_COMMIT_DELAY_US={text:?}: expected microseconds, 0 to 10000")
                })?,
        ),
        Err(_) => None,
    };
    let (running, demo) =
        portcullis::demo::start_with_config(&args.dir, Arc::new(SystemClock), |c| {
            if let Some(us) = commit_delay_us {
                c.audit.commit_delay_microseconds = us;
            }
            match args.audit {
                AuditMode::Durable => c.audit.acknowledge = portcullis_audit::Acknowledge::Durable,
                AuditMode::Written => c.audit.acknowledge = portcullis_audit::Acknowledge::Written,
                AuditMode::Off => c.audit.off_for_benchmark = true,
            }
            // The token endpoint's per-client and per-address limits would cap the token
            // benchmark at a few per second; they still run.
            c.traffic.token_rate_per_client = unlimited;
            c.traffic.token_rate_per_source = unlimited;
            // Monitoring runs, and its detectors may well call a benchmark a spike: its
            // playbooks only record what they would do.
            c.monitor.playbooks = portcullis_monitor::playbook::default_playbooks()
                .into_iter()
                .map(|p| portcullis_monitor::playbook::Playbook { dry_run: true, ..p })
                .collect();
            for env in &mut c.environments {
                if env.name == Environment::Production {
                    env.upstream_url = args.upstream.clone();
                    env.listen = args.listen;
                    env.transport = args.transport;
                    env.token_lifetime_seconds = 3_600;
                    if args.transport == ListenerTransport::Http {
                        env.client_certificates = ClientCertificates::None;
                    }
                }
            }
        })
        .await?;
    let mut grant = running
        .store
        .get_grant(PARTNER, Environment::Production)
        .await
        .map_err(|e| e.to_string())?;
    grant.policy.rate_limit = Some(unlimited);
    grant.policy.partner_rate_limit = Some(unlimited);
    grant.policy.quota = Default::default();
    running
        .store
        .put_grant(&grant)
        .await
        .map_err(|e| e.to_string())?;
    running.loader.reload().await.map_err(|e| e.to_string())?;

    let production = &running.environments[&Environment::Production];
    let partner = demo["partners"]
        .as_array()
        .and_then(|all| all.iter().find(|p| p["client_id"] == CLIENT))
        .ok_or("demo.json has no Finch credential")?;
    let bench = json!({
        "gateway_url": production.url,
        "issuer": production.issuer,
        "token_url": format!("{}{TOKEN_PATH}", production.issuer),
        "client_id": CLIENT,
        "private_key": partner["private_key"],
        "ca_cert": demo["ca_cert"],
        "path": format!("/accounts/{}", demo["sample"]["account_id"].as_str().unwrap_or_default()),
        "pid": std::process::id(),
    });
    // Written whole, then renamed: bench/run reads it as soon as it appears.
    let file = args.dir.join("bench.json");
    let partial = args.dir.join("bench.json.partial");
    std::fs::write(&partial, format!("{bench:#}"))
        .and_then(|()| std::fs::rename(&partial, &file))
        .map_err(|e| format!("{}: {e}", file.display()))?;
    eprintln!("gateway ready: {}", file.display());
    stop.received().await;
    running.shutdown().await;
    Ok(())
}

/// One `application/x-www-form-urlencoded` client_credentials request per line.
pub fn print_assertions(bench: &Path, count: usize) -> Result<(), String> {
    let text = std::fs::read_to_string(bench).map_err(|e| format!("{}: {e}", bench.display()))?;
    let bench: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", bench.display()))?;
    let field = |name: &str| {
        bench[name]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("bench.json has no {name}"))
    };
    let (client_id, issuer, key) = (field("client_id")?, field("issuer")?, field("private_key")?);
    let mut out = String::new();
    for _ in 0..count {
        let assertion =
            portcullis::token_cmd::client_assertion(&client_id, &issuer, Path::new(&key))?;
        let body = serde_urlencoded::to_string([
            ("grant_type", "client_credentials"),
            ("client_assertion_type", JWT_BEARER_ASSERTION),
            ("client_assertion", assertion.as_str()),
        ])
        .map_err(|e| e.to_string())?;
        out.push_str(&body);
        out.push('\n');
    }
    print!("{out}");
    Ok(())
}
