//! `portcullis audit ...`: offline verification and export of a data directory's audit log.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use portcullis_audit::query::{query, to_cef, Filter};

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Recompute the whole log and check every checkpoint; exit 1 on any tampering.
    Verify {
        /// The data directory (or its `audit` folder).
        #[arg(long)]
        dir: PathBuf,
        /// The checkpoint public key you trust (base64 Ed25519, as in
        /// `audit/checkpoint-public-key.b64`); default: the one stored beside the log.
        #[arg(long)]
        public_key: Option<PathBuf>,
        /// A checkpoint saved earlier, outside the log (JSON, as `checkpoint` in
        /// GET /admin/v1/audit/checkpoint): the log must still reproduce it, which rules
        /// out truncation or rewriting below it.
        #[arg(long)]
        trusted_checkpoint: Option<PathBuf>,
    },
    /// Print entries, filtered, as JSON Lines or CEF.
    Export(ExportArgs),
    /// Remove (or archive) segments whose entries are all older than the given age; their
    /// leaf hashes are kept so the log stays verifiable. Run while the system is stopped,
    /// or let `audit.retention_days` do it.
    Prune {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        older_than_days: u64,
        /// Move segments here instead of deleting them.
        #[arg(long)]
        archive_dir: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    #[arg(long)]
    dir: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Jsonl)]
    format: Format,
    #[arg(long)]
    partner_id: Option<String>,
    #[arg(long)]
    client_id: Option<String>,
    #[arg(long)]
    action: Option<String>,
    /// Event kind, e.g. gateway_request, token_issued, admin_change.
    #[arg(long)]
    kind: Option<String>,
    /// Milliseconds since the epoch, inclusive.
    #[arg(long)]
    from_ms: Option<i64>,
    /// Milliseconds since the epoch, exclusive.
    #[arg(long)]
    to_ms: Option<i64>,
    #[arg(long)]
    limit: Option<usize>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Jsonl,
    Cef,
}

/// Accepts the data directory or the audit directory itself.
fn audit_dir(dir: &Path) -> PathBuf {
    let nested = dir.join("audit");
    if nested.is_dir() {
        nested
    } else {
        dir.to_path_buf()
    }
}

pub async fn run(command: AuditCommand) -> Result<(), String> {
    match command {
        AuditCommand::Verify {
            dir,
            public_key,
            trusted_checkpoint,
        } => {
            let dir = audit_dir(&dir);
            let trusted = match &trusted_checkpoint {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    Some(serde_json::from_str::<portcullis_audit::checkpoint::Checkpoint>(&text).map_err(|e| {
                        format!("{}: not a checkpoint (tree_size, root, time_ms, signature): {e}", path.display())
                    })?)
                }
                None => None,
            };
            let report =
                portcullis_audit::verify_dir(&dir, public_key.as_deref(), trusted.as_ref())
                    .map_err(|e| format!("audit log {} FAILED verification: {e}", dir.display()))?;
            println!(
                "audit log {} verified: {} entries, {} checkpoints checked, {} entries after the last checkpoint",
                dir.display(),
                report.entries,
                report.checkpoints,
                report.unsigned_tail
            );
            if report.pruned > 0 {
                println!("{} of those entries were removed by retention and checked through their kept hashes", report.pruned);
            }
            if trusted.is_none() {
                println!("note: without --trusted-checkpoint this proves internal consistency only; pass a checkpoint you kept to rule out truncation or rewriting");
            }
            if public_key.is_none() {
                println!("note: checked with the public key stored beside the log; pass --public-key with the key you hold");
            }
            Ok(())
        }
        AuditCommand::Prune {
            dir,
            older_than_days,
            archive_dir,
        } => {
            let dir = audit_dir(&dir);
            // Opening the log takes its writer lock: this refuses to run next to a live system.
            let log =
                portcullis_audit::AuditLog::open(portcullis_audit::AuditConfig::new(dir.clone()))
                    .map_err(|e| e.to_string())?;
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            let cutoff = now_ms - older_than_days as i64 * 86_400_000;
            let result = portcullis_audit::retention::prune_recorded(
                &log,
                now_ms,
                cutoff,
                archive_dir.as_deref(),
                "cli:audit-prune",
            )
            .await;
            log.close();
            let report = result?;
            println!(
                "pruned {} entries in {} segments from {}",
                report.entries_pruned,
                report.segments_removed,
                dir.display()
            );
            Ok(())
        }
        AuditCommand::Export(args) => {
            let filter = Filter {
                partner_id: args.partner_id,
                client_id: args.client_id,
                action: args.action,
                kind: args.kind,
                from_ms: args.from_ms,
                to_ms: args.to_ms,
                limit: args.limit,
                // Offline, the files are the log: everything in them is exported.
                before_index: None,
            };
            let entries = query(&audit_dir(&args.dir), &filter)?;
            for e in entries {
                match args.format {
                    Format::Jsonl => {
                        println!("{}", serde_json::to_string(&e).map_err(|e| e.to_string())?)
                    }
                    Format::Cef => println!("{}", to_cef(&e)),
                }
            }
            Ok(())
        }
    }
}
