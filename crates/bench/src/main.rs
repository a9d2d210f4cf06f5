//! `portcullis-bench`: the processes `bench/run` starts and measures. Each runs until
//! SIGTERM; the script pins them to cores and reads their CPU time and memory from /proc.
#![forbid(unsafe_code)]

/// The same allocator as the `portcullis` binary, so the gateway measured is the one shipped.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod gateway;
mod simulate;
mod upstream;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "portcullis-bench", about = "Processes for bench/run")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// A fast upstream answering every GET with the same ~1.5 KB account JSON.
    Upstream(upstream::Args),
    /// The gateway set up for measurement: the demo system with its production
    /// environment in front of `--upstream`, and Finch's limits lifted (still checked).
    Gateway(gateway::Args),
    /// Replays ordinary partner traffic against a running `portcullis demo`, then attacks,
    /// and reports the time from each attack's onset to its alert and its containment.
    Simulate(simulate::Args),
    /// Prints `--count` token request bodies, each with its own signed client assertion
    /// (one use each: the token endpoint refuses a replayed jti).
    Assertions {
        /// The bench.json `gateway` wrote.
        #[arg(long)]
        bench: PathBuf,
        #[arg(long, default_value_t = 1)]
        count: usize,
    },
}

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Assertions { bench, count } => gateway::print_assertions(&bench, count),
        Command::Upstream(args) => runtime().and_then(|rt| rt.block_on(upstream::run(args))),
        Command::Gateway(args) => runtime().and_then(|rt| rt.block_on(gateway::run(args))),
        Command::Simulate(args) => runtime().and_then(|rt| rt.block_on(simulate::run(args))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Worker threads follow the CPU affinity the script sets (`taskset`), as in `portcullis`.
fn runtime() -> Result<tokio::runtime::Runtime, String> {
    portcullis::runtime().map_err(|e| format!("cannot start the async runtime: {e}"))
}
