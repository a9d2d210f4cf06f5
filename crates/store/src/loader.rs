//! Keeps the data plane's in-memory snapshot in step with the store.
//!
//! A change made through this node reloads at once ([`SnapshotLoader::reload`]); changes
//! made by other nodes sharing the database are noticed by polling the cheap revision
//! counter. When the store is unreachable the last snapshot keeps serving.

use std::sync::Arc;
use std::time::Duration;

use portcullis_core::clock::Clock;
use portcullis_core::snapshot::{shared, SharedSnapshot};
use portcullis_core::Snapshot;

use crate::{Store, StoreResult};

pub struct SnapshotLoader {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    snapshot: SharedSnapshot,
    /// Serializes reloads so an older read never replaces a newer one.
    reload_lock: tokio::sync::Mutex<()>,
}

impl SnapshotLoader {
    /// Loads the first snapshot; fails when the store cannot be read at start.
    pub async fn start(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> StoreResult<Arc<Self>> {
        let loader = Arc::new(Self {
            store,
            clock,
            snapshot: shared(Snapshot::default()),
            reload_lock: tokio::sync::Mutex::new(()),
        });
        loader.reload().await?;
        Ok(loader)
    }

    pub fn snapshot(&self) -> SharedSnapshot {
        self.snapshot.clone()
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Reads the whole state and swaps it in.
    pub async fn reload(&self) -> StoreResult<()> {
        let _guard = self.reload_lock.lock().await;
        let dump = self.store.load_state(self.clock.now()).await?;
        let (snapshot, problems) = Snapshot::build(dump);
        for problem in problems {
            tracing::warn!(%problem, "state entry skipped in snapshot");
        }
        tracing::debug!(revision = snapshot.revision, "snapshot loaded");
        self.snapshot.store(Arc::new(snapshot));
        Ok(())
    }

    /// Polls the store revision every `interval` and reloads when it moved, until
    /// `shutdown` is signalled. Errors are logged and the last snapshot keeps serving.
    pub fn spawn_poller(
        self: &Arc<Self>,
        interval: Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let loader = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticker.tick() => {}
                    _ = shutdown.changed() => return,
                }
                let current = loader.snapshot.load().revision;
                match loader.store.revision().await {
                    Ok(rev) if rev != current => {
                        if let Err(e) = loader.reload().await {
                            tracing::warn!(error = %e, "snapshot reload failed; serving the last one");
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "store revision unavailable; serving the last snapshot")
                    }
                }
            }
        })
    }
}
