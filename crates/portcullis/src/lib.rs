//! The `portcullis` binary's building blocks, as a library so integration tests can start
//! the real system in-process: configuration, assembly of the planes, the demo and the
//! partner-side token helper.
#![forbid(unsafe_code)]

pub mod admin_cli;
pub mod app;
pub mod audit_cmd;
pub mod config;
pub mod demo;
pub mod token_cmd;

/// Resolves on SIGINT or SIGTERM.
pub async fn wait_for_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch SIGTERM; only Ctrl-C stops");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
