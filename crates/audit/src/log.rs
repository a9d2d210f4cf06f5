//! The append-only log writer.
//!
//! Appenders first take a slot ([`AuditLog::reserve`]); when none is free the caller sheds
//! load (the gateway answers 503) instead of the log dropping entries. A slot is filled
//! with an event and awaited: it resolves once the entry is written *and fsynced* by the
//! writer thread, which commits everything queued at once (group commit), so a response
//! never leaves for a request whose entry could still be lost. A failed write or fsync
//! aborts the process: the log is never allowed to silently fall behind.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ring::signature::Ed25519KeyPair;
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use crate::checkpoint::{load_or_create_key_at, Checkpoint, CHECKPOINTS_FILE, SIGNING_KEY_FILE};
use crate::event::AuditEvent;
use crate::merkle::{Frontier, Hash};
use crate::segment::{encode_frame, list_segments, read_segment, segment_path, ReadProblem};

#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// `DATA_DIR/audit`.
    pub dir: PathBuf,
    /// Entries that may be queued or in flight before appenders are refused.
    pub queue_capacity: usize,
    /// A new segment file starts once the current one reaches this size.
    pub segment_max_bytes: u64,
    pub checkpoint_interval: Duration,
    /// Under load, the least time between the starts of two group commits: the writer
    /// sleeps out the rest of it and then takes everything queued in one write and one
    /// fsync. A lone entry after a quiet spell is committed at once. Bounds the added
    /// latency; fewer, larger commits cost the machine far less (each fsync is a disk
    /// round trip with its interrupts and context switches).
    pub commit_delay: Duration,
    /// The Ed25519 checkpoint key; default `DIR/checkpoint-signing-key.pk8`.
    pub checkpoint_key_file: Option<PathBuf>,
    pub acknowledge: Acknowledge,
}

/// When an appender is told its entry is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Acknowledge {
    /// After the entry's group commit is fsynced: nothing acknowledged is lost, not even
    /// to a power failure. Each answer waits for a disk flush.
    #[default]
    Durable,
    /// After the entry is written to the segment file (in the kernel's page cache, which
    /// survives the process being killed), while fsyncs run every `commit_delay` behind.
    /// A power failure or kernel crash can lose the last `commit_delay` of acknowledged
    /// entries; checkpoints, proofs and queries still only ever cover fsynced entries.
    Written,
}

impl AuditConfig {
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            queue_capacity: 16_384,
            segment_max_bytes: 64 * 1024 * 1024,
            checkpoint_interval: Duration::from_secs(1),
            commit_delay: Duration::from_micros(500),
            checkpoint_key_file: None,
            acknowledge: Acknowledge::Durable,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit log {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("audit log {path} is corrupt at byte {offset}: {detail}; run `portcullis audit verify` and investigate before restarting")]
    Corrupt {
        path: String,
        offset: u64,
        detail: String,
    },
    #[error("the audit log is not accepting entries (shut down)")]
    Closed,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> AuditError + '_ {
    move |source| AuditError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The audit queue is full: shed load, do not drop the entry.
#[derive(Debug, thiserror::Error)]
#[error("the audit log is behind; retry shortly")]
pub struct Backpressure;

struct Pending {
    event_json: Vec<u8>,
    committed: oneshot::Sender<u64>,
}

/// A reserved place in the log.
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    sender: mpsc::Sender<Pending>,
}

impl Slot {
    /// Hands the event to the writer and waits until it is durable; returns its index.
    pub async fn commit(self, event: &AuditEvent) -> Result<u64, AuditError> {
        let event_json = serde_json::to_vec(event).map_err(|e| AuditError::Io {
            path: "event".into(),
            source: e.into(),
        })?;
        let (committed, done) = oneshot::channel();
        self.sender
            .send(Pending {
                event_json,
                committed,
            })
            .map_err(|_| AuditError::Closed)?;
        // The permit is held until the entry is durable, bounding in-flight entries.
        done.await.map_err(|_| AuditError::Closed)
    }
}

/// What readers (proofs, queries) may see: leaf hashes of durable entries.
#[derive(Default)]
pub struct Committed {
    pub leaves: Vec<Hash>,
    pub last_checkpoint: Option<Checkpoint>,
    /// Group commits (one write and one fsync each) since the log was opened.
    pub commits: u64,
    /// Entries committed since the log was opened.
    pub entries_since_open: u64,
}

pub struct AuditLog {
    dir: PathBuf,
    /// Held while the log is open.
    _writer_lock: File,
    capacity: usize,
    slots: Arc<Semaphore>,
    sender: Mutex<Option<mpsc::Sender<Pending>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    committed: Arc<Mutex<Committed>>,
}

impl AuditLog {
    /// Opens (or creates) the log in `config.dir`, recovering from a crash: a frame cut
    /// short by the crash is removed (it was never acknowledged); anything else wrong
    /// refuses to open.
    pub fn open(config: AuditConfig) -> Result<Self, AuditError> {
        let dir = config.dir.clone();
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        // One writer per log, across processes: two would interleave frames.
        let lock_path = dir.join("writer.lock");
        let writer_lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err(&lock_path))?;
        writer_lock.try_lock().map_err(|_| AuditError::Io {
            path: lock_path.display().to_string(),
            source: std::io::Error::other("another process is writing this audit log"),
        })?;
        let key_file = config
            .checkpoint_key_file
            .clone()
            .unwrap_or_else(|| dir.join(SIGNING_KEY_FILE));
        if key_file.starts_with(&dir) {
            tracing::warn!(key = %key_file.display(), "the audit checkpoint key is kept beside the log; set a separate checkpoint key file so the log's writers cannot re-sign it");
        }
        let key = load_or_create_key_at(&key_file, &dir).map_err(io_err(&key_file))?;
        let mut frontier = Frontier::default();
        let mut leaves = Vec::new();
        // Entries removed by retention live on as their leaf hashes.
        let pruned =
            crate::retention::read_pruned_leaves(&dir).map_err(|detail| AuditError::Corrupt {
                path: dir.display().to_string(),
                offset: 0,
                detail,
            })?;
        for leaf in &pruned {
            frontier.push(*leaf);
        }
        leaves.extend_from_slice(&pruned);
        let pruned_count = pruned.len() as u64;
        let segments: Vec<_> = list_segments(&dir)
            .map_err(io_err(&dir))?
            .into_iter()
            .filter(|(first, _)| *first >= pruned_count)
            .collect();
        let mut current: Option<(PathBuf, u64)> = None;
        let mut torn_tail: Option<(PathBuf, u64, u64)> = None;
        for (i, (first, path)) in segments.iter().enumerate() {
            if *first != frontier.size() {
                return Err(AuditError::Corrupt {
                    path: path.display().to_string(),
                    offset: 0,
                    detail: format!(
                        "segment starts at entry {first}, expected {}",
                        frontier.size()
                    ),
                });
            }
            let (good_len, problem) = read_segment(path, |frame| {
                if frame.index != frontier.size() {
                    return Err(format!(
                        "entry index {} where {} was expected",
                        frame.index,
                        frontier.size()
                    ));
                }
                frontier.push(frame.leaf);
                leaves.push(frame.leaf);
                Ok(())
            })
            .map_err(io_err(path))?;
            match problem {
                None => {}
                Some(ReadProblem::TornTail { offset }) if i + 1 == segments.len() => {
                    // Cut only after the checkpoint check below has passed.
                    torn_tail = Some((path.clone(), offset, good_len));
                }
                Some(ReadProblem::TornTail { offset }) => {
                    return Err(AuditError::Corrupt {
                        path: path.display().to_string(),
                        offset,
                        detail: "a segment other than the last ends inside an entry".into(),
                    });
                }
                Some(ReadProblem::Corrupt { offset, detail }) => {
                    return Err(AuditError::Corrupt {
                        path: path.display().to_string(),
                        offset,
                        detail,
                    });
                }
            }
            current = Some((path.clone(), good_len));
        }
        let last_checkpoint = last_checkpoint(&dir.join(CHECKPOINTS_FILE));
        // What survived must still be what was signed: recovery may only ever remove an
        // unacknowledged partial entry, never entries a checkpoint covers.
        if let Some(cp) = &last_checkpoint {
            let covered = cp.tree_size as usize;
            if covered > leaves.len()
                || cp.root_hash() != Some(crate::merkle::root_of(&leaves[..covered]))
            {
                return Err(AuditError::Corrupt {
                    path: dir.join(CHECKPOINTS_FILE).display().to_string(),
                    offset: 0,
                    detail: format!(
                        "the log holds {} entries that do not match the last signed checkpoint (tree size {})",
                        leaves.len(),
                        cp.tree_size
                    ),
                });
            }
        }
        if let Some((path, offset, good_len)) = torn_tail {
            tracing::warn!(segment = %path.display(), offset, "audit log ends in a partial entry from a crash; removing it");
            let f = OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(io_err(&path))?;
            f.set_len(good_len).map_err(io_err(&path))?;
            f.sync_all().map_err(io_err(&path))?;
        }
        let committed = Arc::new(Mutex::new(Committed {
            leaves,
            last_checkpoint,
            ..Committed::default()
        }));
        let (sender, receiver) = mpsc::channel();
        let (segment_path, segment_len) =
            current.unwrap_or_else(|| (segment_path(&dir, frontier.size()), 0));
        let slots = Arc::new(Semaphore::new(config.queue_capacity));
        let mut writer = Writer {
            dir: dir.clone(),
            commit_delay: config.commit_delay,
            acknowledge: config.acknowledge,
            unsynced: Vec::new(),
            last_sync: Instant::now(),
            segment: open_append(&segment_path)?,
            segment_path,
            segment_len,
            segment_max_bytes: config.segment_max_bytes,
            frontier,
            key,
            checkpoint_interval: config.checkpoint_interval,
            last_checkpoint_at: Instant::now(),
            checkpointed_size: None,
            committed: committed.clone(),
            acknowledger: spawn_acknowledger(),
        };
        sync_dir(&dir)?;
        let handle = std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || writer.run(receiver))
            .map_err(io_err(&dir))?;
        Ok(Self {
            dir,
            _writer_lock: writer_lock,
            capacity: config.queue_capacity,
            slots,
            sender: Mutex::new(Some(sender)),
            writer: Mutex::new(Some(handle)),
            committed,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Takes a place in the queue, or reports backpressure at once.
    pub fn reserve(&self) -> Result<Slot, Backpressure> {
        let permit = self
            .slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| Backpressure)?;
        let sender = self
            .sender
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or(Backpressure)?;
        Ok(Slot {
            _permit: permit,
            sender,
        })
    }

    /// Reserves and commits in one step, waiting for a slot if needed (for control-plane
    /// changes, which must not be refused for load).
    pub async fn append(&self, event: &AuditEvent) -> Result<u64, AuditError> {
        let permit = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| AuditError::Closed)?;
        let sender = self
            .sender
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or(AuditError::Closed)?;
        Slot {
            _permit: permit,
            sender,
        }
        .commit(event)
        .await
    }

    /// Entries reserved, queued or being written right now.
    pub fn queue_depth(&self) -> usize {
        self.capacity - self.slots.available_permits()
    }

    /// Leaf hashes of all durable entries and the latest checkpoint, for proofs.
    pub fn committed(&self) -> std::sync::MutexGuard<'_, Committed> {
        self.committed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stops accepting entries, commits what is queued, writes a final checkpoint.
    pub fn close(&self) {
        self.sender.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(handle) = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = handle.join();
        }
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        self.close();
    }
}

/// Runs inside the current async runtime, if there is one.
fn spawn_acknowledger() -> Option<tokio::sync::mpsc::UnboundedSender<Acks>> {
    let runtime = tokio::runtime::Handle::try_current().ok()?;
    let (sender, mut batches) = tokio::sync::mpsc::unbounded_channel();
    runtime.spawn(async move {
        while let Some(acks) = batches.recv().await {
            acknowledge(acks);
        }
    });
    Some(sender)
}

fn open_append(path: &Path) -> Result<File, AuditError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io_err(path))
}

/// Makes a new file's directory entry durable.
fn sync_dir(dir: &Path) -> Result<(), AuditError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

fn last_checkpoint(path: &Path) -> Option<Checkpoint> {
    let text = fs::read_to_string(path).ok()?;
    text.lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
}

/// A write or fsync failure leaves the log in an unknown state; continuing would answer
/// requests whose entries may be lost. Stop the process.
fn fatal(what: &str, path: &Path, e: &std::io::Error) -> ! {
    tracing::error!(path = %path.display(), error = %e, "audit log {what} failed; stopping the process");
    eprintln!("FATAL: audit log {what} failed for {}: {e}", path.display());
    std::process::abort();
}

/// Appenders to tell, with the index each entry got.
type Acks = Vec<(oneshot::Sender<u64>, u64)>;

/// Tells each appender its entry is durable. An appender that went away (its client
/// disconnected) is simply not told; the entry stays.
fn acknowledge(acks: Acks) {
    for (ack, index) in acks {
        let _ = ack.send(index);
    }
}

/// Entries in one write and fsync at most.
const MAX_BATCH: usize = 65_536;

struct Writer {
    dir: PathBuf,
    /// Least time between the starts of two group commits (between fsyncs, when
    /// acknowledging written entries).
    commit_delay: Duration,
    acknowledge: Acknowledge,
    /// Leaves written but not yet fsynced (only when acknowledging written entries).
    unsynced: Vec<Hash>,
    last_sync: Instant,
    segment: File,
    segment_path: PathBuf,
    segment_len: u64,
    segment_max_bytes: u64,
    frontier: Frontier,
    key: Ed25519KeyPair,
    checkpoint_interval: Duration,
    last_checkpoint_at: Instant,
    checkpointed_size: Option<u64>,
    committed: Arc<Mutex<Committed>>,
    /// A task inside the async runtime that acknowledges whole batches.
    acknowledger: Option<tokio::sync::mpsc::UnboundedSender<Acks>>,
}

impl Writer {
    fn run(&mut self, receiver: mpsc::Receiver<Pending>) {
        let mut buffer = Vec::with_capacity(1 << 20);
        let mut batch: Vec<Pending> = Vec::new();
        let mut last_commit = Instant::now()
            .checked_sub(self.commit_delay)
            .unwrap_or_else(Instant::now);
        loop {
            // With written-but-unsynced entries, wake in time for their fsync.
            let wait = if self.unsynced.is_empty() {
                self.checkpoint_interval
            } else {
                self.commit_delay.saturating_sub(self.last_sync.elapsed())
            };
            match receiver.recv_timeout(wait) {
                Ok(first) => batch.push(first),
                Err(RecvTimeoutError::Timeout) => {
                    // Woken for a pending fsync, checkpoints keep their interval; woken by
                    // a quiet spell, the log is checkpointed at once.
                    let quiet = self.unsynced.is_empty();
                    self.sync();
                    self.maybe_checkpoint(quiet, true);
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
            // Durable group commit is paced: under load the writer sleeps out the rest of
            // the commit delay instead of waking for every entry, then takes all that
            // queued meanwhile. After a quiet spell the delay has long passed and a lone
            // entry goes at once. Written acknowledgement never waits here: the pacing is
            // on its fsyncs instead.
            if self.acknowledge == Acknowledge::Durable {
                let since = last_commit.elapsed();
                if since < self.commit_delay {
                    std::thread::sleep(self.commit_delay - since);
                }
            }
            while batch.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(p) => batch.push(p),
                    Err(_) => break,
                }
            }
            last_commit = Instant::now();
            self.commit(&mut batch, &mut buffer);
            if self.last_sync.elapsed() >= self.commit_delay {
                self.sync();
            }
            self.maybe_checkpoint(false, true);
        }
        // At shutdown every entry is made durable; a failed final checkpoint then loses
        // nothing, so it is reported rather than fatal.
        self.sync();
        self.maybe_checkpoint(true, false);
    }

    fn commit(&mut self, batch: &mut Vec<Pending>, buffer: &mut Vec<u8>) {
        if self.segment_len >= self.segment_max_bytes {
            self.rotate();
        }
        buffer.clear();
        let first_index = self.frontier.size();
        for (i, pending) in batch.iter().enumerate() {
            let leaf = encode_frame(first_index + i as u64, &pending.event_json, buffer);
            self.frontier.push(leaf);
            self.unsynced.push(leaf);
        }
        if let Err(e) = self.segment.write_all(buffer) {
            fatal("write", &self.segment_path, &e);
        }
        self.segment_len += buffer.len() as u64;
        if self.acknowledge == Acknowledge::Durable {
            self.sync();
        }
        let acks: Acks = batch
            .drain(..)
            .enumerate()
            .map(|(i, pending)| (pending.committed, first_index + i as u64))
            .collect();
        match &self.acknowledger {
            // One wake-up of the runtime per batch; the acknowledger then wakes the
            // appenders from inside it, where waking a task is cheap.
            Some(acknowledger) => {
                if let Err(tokio::sync::mpsc::error::SendError(acks)) = acknowledger.send(acks) {
                    acknowledge(acks);
                }
            }
            None => acknowledge(acks),
        }
    }

    /// fsyncs what was written and makes it visible to readers (proofs, queries,
    /// checkpoints), which only ever see durable entries.
    fn sync(&mut self) {
        self.last_sync = Instant::now();
        if self.unsynced.is_empty() {
            return;
        }
        if let Err(e) = self.segment.sync_data() {
            fatal("fsync", &self.segment_path, &e);
        }
        let mut committed = self.committed.lock().unwrap_or_else(|p| p.into_inner());
        committed.entries_since_open += self.unsynced.len() as u64;
        committed.commits += 1;
        committed.leaves.append(&mut self.unsynced);
    }

    fn rotate(&mut self) {
        // The old file's last entries must be durable before the log moves on.
        self.sync();
        let path = segment_path(&self.dir, self.frontier.size());
        match OpenOptions::new().create_new(true).append(true).open(&path) {
            Ok(file) => {
                // Entries acknowledged into a file whose name is not durable could vanish.
                if let Err(AuditError::Io { source, .. }) = sync_dir(&self.dir) {
                    fatal("directory fsync", &self.dir, &source);
                }
                self.segment = file;
                self.segment_path = path;
                self.segment_len = 0;
            }
            Err(e) => fatal("segment rotation", &path, &e),
        }
    }

    fn maybe_checkpoint(&mut self, force: bool, failure_is_fatal: bool) {
        // A checkpoint signs the tree over durable entries only.
        if !self.unsynced.is_empty() {
            return;
        }
        let size = self.frontier.size();
        if size == 0 || self.checkpointed_size == Some(size) {
            return;
        }
        if !force && self.last_checkpoint_at.elapsed() < self.checkpoint_interval {
            return;
        }
        let time_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let checkpoint = Checkpoint::sign(&self.key, size, &self.frontier.root(), time_ms);
        let path = self.dir.join(CHECKPOINTS_FILE);
        let line = match serde_json::to_string(&checkpoint) {
            Ok(l) => l + "\n",
            Err(_) => return,
        };
        let result = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| {
                f.write_all(line.as_bytes())?;
                f.sync_data()
            });
        if let Err(e) = result {
            if failure_is_fatal {
                fatal("checkpoint write", &path, &e);
            }
            tracing::error!(path = %path.display(), error = %e, "final audit checkpoint not written");
            return;
        }
        self.checkpointed_size = Some(size);
        self.last_checkpoint_at = Instant::now();
        self.committed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .last_checkpoint = Some(checkpoint);
    }
}
