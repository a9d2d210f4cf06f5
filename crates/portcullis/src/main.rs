//! `portcullis`: the one binary of the gateway, its control plane and its tools.
#![forbid(unsafe_code)]

/// glibc's malloc took about 12% of the gateway's CPU under load (perf during bench/run);
/// mimalloc's thread-local free lists bought 15% more requests/s. Built without its
/// transparent-huge-page advice (`no_thp`): with it, each newly touched stretch of heap
/// was faulted in as a 2 MiB page, so a live heap of ~5 MiB showed as RSS climbing in
/// 2 MiB steps under steady load. On hosts whose THP setting is `always` rather than
/// `madvise`, set `MIMALLOC_ALLOW_THP=0` for the same effect.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use portcullis::admin_cli::{self, Resource};
use portcullis::{app, audit_cmd, config, demo, token_cmd, StopSignal};
use portcullis_core::SystemClock;

#[derive(Parser)]
#[command(
    name = "portcullis",
    version,
    about = "An API gateway and control plane for sharing financial APIs with partners"
)]
struct Cli {
    /// Log lines as `text` (for people) or `json` (one object per line, for log
    /// pipelines; every request's line carries its request id).
    #[arg(
        long,
        global = true,
        env = "PORTCULLIS_LOG_FORMAT",
        default_value = "text"
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole system on 127.0.0.1 with demo partners, a development PKI and the
    /// synthetic bank; writes DIR/demo.json and prints a walkthrough.
    Demo {
        /// Data directory (store, PKI, demo.json); a new temporary directory if omitted.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// When answers wait for their audit entry: `durable` (fsynced, the default) or
        /// `written` (in the segment file; fsynced behind).
        #[arg(long, default_value = "durable", value_parser = parse_acknowledge)]
        audit_acknowledge: portcullis_audit::Acknowledge,
    },
    /// Run the roles a configuration file describes.
    Serve {
        #[arg(long, short)]
        config: PathBuf,
        /// Only load and validate the configuration, then exit.
        #[arg(long)]
        check: bool,
    },
    /// Obtain an access token with private_key_jwt or mutual TLS and print it.
    Token(token_cmd::TokenArgs),
    /// Verify or export the audit log of a data directory, offline.
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
    /// Partners and their onboarding (admin API).
    Partners(Resource<admin_cli::PartnersCommand>),
    /// Partners' grants per environment (admin API).
    Grants(Resource<admin_cli::GrantsCommand>),
    /// Partner credentials (admin API).
    Clients(Resource<admin_cli::ClientsCommand>),
    /// Decide changes that need a second person (admin API).
    Approvals(Resource<admin_cli::ApprovalsCommand>),
    /// Periodic access reviews (admin API).
    Reviews(Resource<admin_cli::ReviewsCommand>),
    /// Scheduled governance checks, run now (admin API).
    Governance(Resource<admin_cli::GovernanceCommand>),
    /// Compliance reports (admin API).
    Reports(Resource<admin_cli::ReportsCommand>),
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,hyper=warn"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let log_format = cli.log_format;
    let runtime = match portcullis::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Demo {
                dir,
                audit_acknowledge,
            } => {
                init_logging(log_format);
                demo::run(dir, audit_acknowledge).await
            }
            Command::Serve { config, check } => {
                init_logging(log_format);
                serve(config, check).await
            }
            Command::Token(args) => token_cmd::run(args).await,
            Command::Audit(command) => audit_cmd::run(command).await,
            Command::Partners(resource) => admin_cli::run(resource).await,
            Command::Grants(resource) => admin_cli::run(resource).await,
            Command::Clients(resource) => admin_cli::run(resource).await,
            Command::Approvals(resource) => admin_cli::run(resource).await,
            Command::Reviews(resource) => admin_cli::run(resource).await,
            Command::Governance(resource) => admin_cli::run(resource).await,
            Command::Reports(resource) => admin_cli::run(resource).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(path: PathBuf, check: bool) -> Result<(), String> {
    let config = config::Config::load(&path).map_err(|e| format!("invalid configuration:\n{e}"))?;
    if check {
        println!("{}: configuration is valid", path.display());
        return Ok(());
    }
    // Before the listeners open: a signal from then on stops the process cleanly.
    let stop = StopSignal::watch();
    let running = app::start(&config, Arc::new(SystemClock))
        .await
        .map_err(|e| e.to_string())?;
    if let Some(token) = &running.bootstrap_admin_token {
        let file = config.data_dir.join("admin-token");
        demo::write_secret_file(&file, token.expose())
            .map_err(|e| format!("{}: {e}", file.display()))?;
        tracing::warn!(file = %file.display(), "first start: created the bootstrap admin token; move it somewhere safe");
    }
    // SIGHUP re-reads the configuration and applies its grants; everything else in the
    // file needs a restart, and a file that no longer validates changes nothing.
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .map_err(|e| format!("cannot watch SIGHUP: {e}"))?;
    let stop = stop.received();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = hangup.recv() => reload_grants(&path, &running).await,
        }
    }
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}

async fn reload_grants(path: &std::path::Path, running: &app::Running) {
    let config = match config::Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("SIGHUP: configuration not reloaded, nothing changed:\n{e}");
            return;
        }
    };
    let applied = app::apply_config_grants(
        &config,
        running.store.as_ref(),
        &running.audit,
        &SystemClock,
    )
    .await;
    match applied {
        Ok(changed) => {
            running.config_grants.store(Arc::new(config.grant_keys()));
            if let Err(e) = running.loader.reload().await {
                tracing::warn!(error = %e, "SIGHUP: snapshot reload failed; the poller will retry");
            }
            tracing::info!(changed, "SIGHUP: configuration grants applied");
        }
        Err(e) => tracing::error!("SIGHUP: {e}"),
    }
}

fn parse_acknowledge(text: &str) -> Result<portcullis_audit::Acknowledge, String> {
    match text {
        "durable" => Ok(portcullis_audit::Acknowledge::Durable),
        "written" => Ok(portcullis_audit::Acknowledge::Written),
        other => Err(format!("{other:?}: expected durable or written")),
    }
}
