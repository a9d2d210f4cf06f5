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

/// SIGINT and SIGTERM, watched from the moment this is made. Make it before telling
/// anyone the process is ready (demo.json, bench.json, a listening socket): until the
/// watch is installed, a signal takes its default action and kills the process at once,
/// skipping the shutdown that closes the audit log (seen as a flaky test that stopped
/// the demo right after demo.json appeared).
pub struct StopSignal {
    term: Option<tokio::signal::unix::Signal>,
    interrupt: Option<tokio::signal::unix::Signal>,
}

impl StopSignal {
    /// Installs the watch; call inside the runtime.
    pub fn watch() -> Self {
        use tokio::signal::unix::{signal, SignalKind};
        let install = |kind: SignalKind, name: &str| {
            signal(kind)
                .map_err(|e| tracing::warn!(error = %e, "cannot watch {name}"))
                .ok()
        };
        Self {
            term: install(SignalKind::terminate(), "SIGTERM"),
            interrupt: install(SignalKind::interrupt(), "SIGINT"),
        }
    }

    /// Resolves on the first SIGINT or SIGTERM since [`Self::watch`].
    pub async fn received(mut self) {
        async fn next(signal: &mut Option<tokio::signal::unix::Signal>) {
            match signal {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            () = next(&mut self.term) => {}
            () = next(&mut self.interrupt) => {}
        }
    }
}

/// The async runtime the binaries run on, with one worker per core the process may use
/// (`PORTCULLIS_WORKER_THREADS` overrides). With one worker, tokio's current-thread
/// scheduler: the same event loop without the work-stealing bookkeeping (atomic queues,
/// cross-thread wake-ups) that only pays off with several workers; measured at about a
/// fifth more requests per second through the gateway on one core (bench/RESULTS.md).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    runtime_with(std::env::var("PORTCULLIS_WORKER_THREADS").ok().as_deref())
}

/// [`runtime`] with the worker count given as `PORTCULLIS_WORKER_THREADS` would give it.
pub fn runtime_with(workers: Option<&str>) -> std::io::Result<tokio::runtime::Runtime> {
    let workers = match workers {
        Some(text) => text
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| {
                std::io::Error::other(format!(
                "PORTCULLIS_WORKER_THREADS={text:?}: expected a whole number of threads, at least 1"
            ))
            })?,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    if workers == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
    }
}

#[cfg(test)]
mod tests {
    use tokio::runtime::RuntimeFlavor;

    #[test]
    fn one_worker_runs_the_current_thread_scheduler() {
        let flavor = |w| {
            super::runtime_with(Some(w))
                .unwrap()
                .handle()
                .runtime_flavor()
        };
        assert_eq!(flavor("1"), RuntimeFlavor::CurrentThread);
        assert_eq!(flavor(" 3 "), RuntimeFlavor::MultiThread);
        for bad in ["0", "-1", "two", ""] {
            let e = super::runtime_with(Some(bad)).unwrap_err().to_string();
            assert!(
                e.contains("PORTCULLIS_WORKER_THREADS") && e.contains("at least 1"),
                "{e}"
            );
        }
    }
}
