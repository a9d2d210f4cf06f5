//! The append-only log.
//!
//! Appenders first take a slot ([`AuditLog::reserve`]); when none is free the caller sheds
//! load (the gateway answers 503) instead of the log dropping entries. A slot is filled
//! with an event: the appender encodes the entry's frame at the end of the log, and the
//! syncer thread writes and fsyncs behind, one fsync for everything appended meanwhile
//! (group commit), waiting up to the commit delay for entries of slots still outstanding.
//! With durable acknowledgement (the default) the slot resolves once its entry is
//! fsynced, so a response never leaves for a request whose entry could still be lost;
//! with written acknowledgement, once it is in the file. A failed write or fsync aborts
//! the process: the log is never allowed to silently fall behind.

pub(crate) mod tree;
mod writer;

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::checkpoint::{load_or_create_key_at, Checkpoint, CHECKPOINTS_FILE, SIGNING_KEY_FILE};
use crate::event::{AuditEvent, EventKind};
use crate::merkle::{Frontier, Hash};
use crate::segment::{
    data_end, first_index_of, list_segments, parse_segment, segment_path, unwritten_sector_at,
    ReadProblem, DEBRIS_MARK,
};
use portcullis_core::clock::{Clock, SystemClock};
use tree::CommittedTree;
pub use tree::{ConsistencyProof, FramePosition, InclusionProof, ProofError, TreeView};
use writer::{Flusher, Publisher, Refusals, Shared, Syncer, Tail};

#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// `DATA_DIR/audit`.
    pub dir: PathBuf,
    /// Entries that may be queued or in flight before appenders are refused.
    pub queue_capacity: usize,
    /// A new segment file starts once the current one reaches this size.
    pub segment_max_bytes: u64,
    pub checkpoint_interval: Duration,
    /// The longest a group commit waits for entries still arriving (slots reserved by
    /// requests that have not appended yet), counted from the start of the last fsync;
    /// then it takes everything queued in one write and one fsync. When no entry is
    /// arriving and an appender waits for the fsync (durable acknowledgement) it commits at
    /// once, so a lone entry, or a burst whose requests have all appended, is not held
    /// back. Bounds the latency durable acknowledgement adds; fewer, larger commits cost
    /// the machine far less (each fsync is a disk round trip with its interrupts and
    /// context switches).
    pub commit_delay: Duration,
    /// With written acknowledgement, the pace of fsyncs nobody waits for: at most this long
    /// after the previous one began (sooner once half of `queue_capacity` awaits one, or
    /// once an entry that must be durable arrives). The trade of PostgreSQL's asynchronous
    /// commit (`wal_writer_delay`): a power cut can take the answered entries of about
    /// one interval and an fsync or two (see [`Acknowledge::Written`]), and the machine
    /// pays for far fewer fsyncs. On this project's 2-core VM an fsync every 2 ms (the
    /// commit delay, which set this pace until then) cost the gateway a fifth of its
    /// throughput.
    pub written_sync_interval: Duration,
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
    /// survives the process being killed), while fsyncs run behind, at most
    /// `written_sync_interval` after the last one began.
    /// A power failure or kernel crash can lose the acknowledged entries of about the last
    /// interval and an fsync or two (one answered just after a group was taken waits for
    /// that group's fsync, the rest of the interval, and its own fsync; longer when an
    /// fsync takes longer than the interval), and never more than `queue_capacity` of
    /// them (beyond that, appenders are refused and the gateway sheds load). Checkpoints
    /// and proofs only ever cover fsynced entries. Control-plane changes and retention
    /// records are always durable.
    Written,
}

impl AuditConfig {
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            queue_capacity: 16_384,
            segment_max_bytes: 64 * 1024 * 1024,
            checkpoint_interval: Duration::from_secs(1),
            commit_delay: Duration::from_millis(2),
            written_sync_interval: Duration::from_millis(100),
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
    /// Written acknowledgement only: so many entries await their fsync that answering
    /// more would widen what a power cut could take. Shed load instead.
    #[error("the audit log's fsyncs are behind; retry shortly")]
    Behind,
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

/// See [`AuditLog::refusals`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefusalCounts {
    /// Reservations refused for want of a slot (the gateway sheds those requests).
    pub no_slot: u64,
    /// Entries whose commit failed (the gateway withholds their answers).
    pub not_recorded: u64,
}

/// A reserved place in the log. Until its entry is appended (or it is dropped), it counts
/// as an entry on its way, and a group commit waits for it, up to the commit delay.
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    shared: Arc<Shared>,
    acknowledge: Acknowledge,
    /// Set when the append that stops counting this slot as arriving is under way (it
    /// does so whether it succeeds or not); until then, dropping the slot does.
    arrival_settled: bool,
}

impl Slot {
    fn new(permit: OwnedSemaphorePermit, shared: Arc<Shared>, acknowledge: Acknowledge) -> Self {
        shared.arriving.fetch_add(1, Ordering::SeqCst);
        Self {
            _permit: permit,
            shared,
            acknowledge,
            arrival_settled: false,
        }
    }

    /// Writes the event to the log and waits until it is acknowledged (see
    /// [`Acknowledge`]); returns its index.
    pub async fn commit(mut self, event: &AuditEvent) -> Result<u64, AuditError> {
        let event_json = crate::json::to_vec(event);
        // The append below settles the arrival, whatever its outcome. No await may come
        // between this and that append (both run in this first poll), or a cancelled
        // commit would leave the arrival counted and every later commit waiting out the
        // full delay.
        self.arrival_settled = true;
        // The permit is held until the entry is acknowledged, bounding in-flight entries.
        let recorded = match self.acknowledge {
            Acknowledge::Written => self.shared.append_written(&event_json).await,
            Acknowledge::Durable => match self.shared.append(&event_json, false, true) {
                Ok(index) => self.shared.durable(index).await.map(|()| index),
                Err(e) => Err(e),
            },
        };
        if recorded.is_err() {
            self.shared
                .refusals
                .not_recorded
                .fetch_add(1, Ordering::Relaxed);
        }
        recorded
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if !self.arrival_settled {
            self.shared.arrival_abandoned();
        }
    }
}

/// What readers (proofs, queries) may see: the tree of durable entries.
#[derive(Default)]
pub struct Committed {
    pub tree: CommittedTree,
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
    acknowledge: Acknowledge,
    shared: Arc<Shared>,
    syncer: Mutex<Option<JoinHandle<()>>>,
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
        let last_checkpoint = last_checkpoint(&dir.join(CHECKPOINTS_FILE));
        let checkpointed_size = last_checkpoint.as_ref().map(|c| c.tree_size);
        let mut frontier = Frontier::default();
        let mut tree = CommittedTree::default();
        // The root at the last checkpoint's size, met on the way.
        let mut checkpointed_root = None;
        let mut push = |frontier: &mut Frontier, leaf: Hash, position: Option<FramePosition>| {
            frontier.push(leaf);
            tree.push(leaf, position);
            if Some(frontier.size()) == checkpointed_size {
                checkpointed_root = Some(frontier.root());
            }
        };
        // Entries removed by retention live on as their leaf hashes.
        let pruned =
            crate::retention::read_pruned_leaves(&dir).map_err(|detail| AuditError::Corrupt {
                path: dir.display().to_string(),
                offset: 0,
                detail,
            })?;
        for leaf in &pruned {
            push(&mut frontier, *leaf, None);
        }
        let pruned_count = pruned.len() as u64;
        drop(pruned);
        let segments: Vec<_> = list_segments(&dir)
            .map_err(io_err(&dir))?
            .into_iter()
            .filter(|(first, _)| *first >= pruned_count)
            .collect();
        let mut current: Option<(PathBuf, u64)> = None;
        let mut torn_tail: Option<TornTail> = None;
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
            // Read once: recovery needs the last segment's bytes again.
            let bytes = fs::read(path).map_err(io_err(path))?;
            let (good_len, problem) = parse_segment(&bytes, Some(*first), |frame| {
                if frame.index != frontier.size() {
                    return Err(format!(
                        "entry index {} where {} was expected",
                        frame.index,
                        frontier.size()
                    ));
                }
                let position = FramePosition {
                    segment_first: *first,
                    offset: frame.offset,
                };
                push(&mut frontier, frame.leaf, Some(position));
                Ok(())
            });
            let last = i + 1 == segments.len();
            match problem {
                None => {}
                Some(ReadProblem::TornTail { .. }) if last => {
                    // Cut only after the checkpoint check below has passed.
                    torn_tail = Some(TornTail {
                        path: path.clone(),
                        good_len,
                        bytes,
                        hole: false,
                    });
                }
                // A power cut during a group's fsync can leave a hole of never-written
                // sectors before later ones that were written; none of it was acknowledged.
                Some(ReadProblem::Corrupt { offset, .. })
                    if last && unwritten_sector_at(&bytes, offset as usize) =>
                {
                    torn_tail = Some(TornTail {
                        path: path.clone(),
                        good_len,
                        bytes,
                        hole: true,
                    });
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
        // What survived must still be what was signed: recovery may only ever remove an
        // unacknowledged partial entry, never entries a checkpoint covers.
        if let Some(cp) = &last_checkpoint {
            if checkpointed_root.is_none() || cp.root_hash() != checkpointed_root {
                return Err(AuditError::Corrupt {
                    path: dir.join(CHECKPOINTS_FILE).display().to_string(),
                    offset: 0,
                    detail: format!(
                        "the log holds {} entries that do not match the last signed checkpoint (tree size {})",
                        frontier.size(),
                        cp.tree_size
                    ),
                });
            }
        }
        if let Some(TornTail {
            path,
            good_len,
            bytes,
            hole,
        }) = torn_tail
        {
            // Evidence first, then the intent to record the repair, both durable, and only
            // then the cut: a crash anywhere in between leaves the repair to be recorded
            // by the next open, never done without a record.
            let debris = keep_debris(&path, &bytes, good_len)?;
            let file_name = |p: &Path| {
                p.file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
            };
            let target = BTreeMap::from([
                ("segment".to_string(), file_name(&path)),
                ("offset".to_string(), good_len.to_string()),
                (
                    "bytes_cut".to_string(),
                    data_end(&bytes)
                        .saturating_sub(good_len as usize)
                        .to_string(),
                ),
                ("debris".to_string(), file_name(&debris)),
            ]);
            let reason = if hole {
                tracing::warn!(segment = %path.display(), offset = good_len, debris = %debris.display(), "audit log ends in an unfinished write with a hole (a power cut during an fsync); its bytes are kept aside and cut from the log (none was acknowledged if acknowledgement is durable)");
                "unfinished_write_with_hole"
            } else {
                tracing::warn!(segment = %path.display(), offset = good_len, debris = %debris.display(), "audit log ends in a partial entry from a crash; its bytes are kept aside and cut from the log (none was acknowledged if acknowledgement is durable)");
                "unfinished_write"
            };
            let mut event = AuditEvent::by_admin(
                now_ms(),
                EventKind::AdminChange,
                RECOVERY_ACTOR,
                RECOVERY_ACTION,
                target,
            );
            event.reason = reason.to_string();
            write_unrecorded_repair(&dir, &event)?;
            let f = OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(io_err(&path))?;
            f.set_len(good_len).map_err(io_err(&path))?;
            f.sync_all().map_err(io_err(&path))?;
        }
        // What was found may have been written but never fsynced (a killed process leaves
        // it in the page cache). It is about to be published and checkpointed as durable,
        // so make it so.
        if let Some((path, _)) = &current {
            OpenOptions::new()
                .write(true)
                .open(path)
                .and_then(|f| f.sync_data())
                .map_err(io_err(path))?;
        }
        let committed = Arc::new(Mutex::new(Committed {
            tree,
            last_checkpoint,
            ..Committed::default()
        }));
        let (segment_path, segment_len) =
            current.unwrap_or_else(|| (segment_path(&dir, frontier.size()), 0));
        let recovered = (frontier.size(), frontier.root());
        let written = Flusher::new(recovered.0);
        let segment = open_segment(&segment_path)?;
        // Past its frames, read back above, the file holds zeros only.
        let segment_zeroed_to = segment
            .metadata()
            .map_err(io_err(&segment_path))?
            .len()
            .max(segment_len);
        let shared = Arc::new(Shared {
            tail: Mutex::new(Tail {
                dir: dir.clone(),
                segment: Arc::new(segment),
                segment_first: first_index_of(&segment_path).unwrap_or(frontier.size()),
                segment_path,
                segment_len,
                segment_zeroed_to,
                preallocation_failed: false,
                segment_max_bytes: config.segment_max_bytes,
                frontier,
                unsynced: Vec::new(),
                unsynced_tile_starts: Vec::new(),
                pending: Vec::with_capacity(64 * 1024),
                written: written.clone(),
                max_unsynced: config.queue_capacity,
                closed: false,
                durable_waiter: false,
                written_unsynced: false,
                syncer_holds_commit: false,
            }),
            pending: Condvar::new(),
            arriving: AtomicUsize::new(0),
            durable: Publisher::new(recovered.0),
            written,
            committed: committed.clone(),
            refusals: Refusals::default(),
        });
        let syncer = Syncer {
            shared: shared.clone(),
            key,
            commit_delay: config.commit_delay,
            written_sync_interval: config.written_sync_interval,
            checkpoint_interval: config.checkpoint_interval,
            dir: dir.clone(),
            checkpointed_size,
            last_checkpoint_at: Instant::now(),
            recovered: Some(recovered),
        };
        // The log says itself where it was repaired: an auditor reading it learns that
        // bytes were cut, where, and why, without the process's own log lines. Before any
        // other entry, and durable before the log opens.
        record_repairs(&dir, &shared)?;
        sync_dir(&dir)?;
        shared.durable.start_relay();
        Flusher::start(&shared);
        let handle = std::thread::Builder::new()
            .name("audit-syncer".into())
            .spawn(move || syncer.run())
            .map_err(io_err(&dir))?;
        Ok(Self {
            dir,
            _writer_lock: writer_lock,
            capacity: config.queue_capacity,
            slots: Arc::new(Semaphore::new(config.queue_capacity)),
            acknowledge: config.acknowledge,
            shared,
            syncer: Mutex::new(Some(handle)),
            committed,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Takes a place in the queue, or reports backpressure at once.
    pub fn reserve(&self) -> Result<Slot, Backpressure> {
        let permit = self.slots.clone().try_acquire_owned().map_err(|_| {
            self.shared.refusals.no_slot.fetch_add(1, Ordering::Relaxed);
            Backpressure
        })?;
        Ok(Slot::new(permit, self.shared.clone(), self.acknowledge))
    }

    /// Reserves and commits in one step, waiting for a slot if needed, and always waits
    /// for the fsync whatever the acknowledgement mode: for control-plane changes and
    /// retention records, which must be neither refused for load nor lost to a power cut
    /// (a prune is applied only once its record is durable).
    pub async fn append(&self, event: &AuditEvent) -> Result<u64, AuditError> {
        let permit = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| AuditError::Closed)?;
        Slot::new(permit, self.shared.clone(), Acknowledge::Durable)
            .commit(event)
            .await
    }

    /// What the log could not take since it was opened.
    pub fn refusals(&self) -> RefusalCounts {
        let refusals = &self.shared.refusals;
        RefusalCounts {
            no_slot: refusals.no_slot.load(Ordering::Relaxed),
            not_recorded: refusals.not_recorded.load(Ordering::Relaxed),
        }
    }

    /// Entries reserved, queued or being written right now.
    pub fn queue_depth(&self) -> usize {
        self.capacity - self.slots.available_permits()
    }

    /// The durable tree's size, the latest checkpoint, and commit counts.
    pub fn committed(&self) -> std::sync::MutexGuard<'_, Committed> {
        self.committed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Entries durable now.
    pub fn committed_size(&self) -> u64 {
        self.committed().tree.size()
    }

    /// A snapshot of the durable tree for proofs; they read the log's files, so compute
    /// them off the async runtime.
    pub fn tree_view(&self) -> TreeView {
        TreeView::new(self.dir.clone(), self.committed().tree.clone())
    }

    /// Holders of the log's shared state (1 once the syncer and the flusher are gone).
    #[cfg(test)]
    pub(crate) fn shared_holders(&self) -> usize {
        Arc::strong_count(&self.shared)
    }

    /// Stops accepting entries, makes every written entry durable, writes a final
    /// checkpoint.
    pub fn close(&self) {
        self.shared.close();
        if let Some(handle) = self.syncer.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = handle.join();
        }
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        self.close();
    }
}

/// The last segment's unfinished write, cut at open once the checkpoint check passed.
struct TornTail {
    path: PathBuf,
    /// Where the intact frames end and the unfinished write starts.
    good_len: u64,
    /// The segment as read at open.
    bytes: Vec<u8>,
    /// Data follows a hole of never-written sectors (a power cut mid-fsync).
    hole: bool,
}

/// Milliseconds since the Unix epoch, for entries and checkpoints the log writes itself.
fn now_ms() -> i64 {
    SystemClock.now_ms()
}

/// The segment to write, at offsets: frames go where the last one ended, over the zeros
/// preallocated after it (so not in append mode).
fn open_segment(path: &Path) -> Result<File, AuditError> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io_err(path))
}

/// Copies a segment's bytes from `from` on to a file beside it, durably, before recovery
/// cuts them: what a crash left is evidence, not garbage. Its name does not end in `.seg`,
/// so no reader takes it for part of the log; an earlier one is never overwritten (a
/// second crash can leave debris at the same offset).
fn keep_debris(segment: &Path, bytes: &[u8], from: u64) -> Result<PathBuf, AuditError> {
    let start = (from as usize).min(bytes.len());
    let data_end = data_end(bytes);
    let (debris, mut file) = create_unique(segment, &format!("{DEBRIS_MARK}{from}"))?;
    file.write_all(&bytes[start..data_end.max(start)])
        .and_then(|()| file.sync_all())
        .map_err(io_err(&debris))?;
    if let Some(dir) = segment.parent() {
        sync_dir(dir)?;
    }
    Ok(debris)
}

/// Creates `<beside><suffix>`, or `<beside><suffix>-2`, `-3`... if taken.
fn create_unique(beside: &Path, suffix: &str) -> Result<(PathBuf, File), AuditError> {
    let mut attempt = 1u32;
    loop {
        let mut name = beside.as_os_str().to_owned();
        name.push(suffix);
        if attempt > 1 {
            name.push(format!("-{attempt}"));
        }
        let path = PathBuf::from(name);
        match OpenOptions::new().create_new(true).write(true).open(&path) {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 1000 => {
                attempt += 1;
            }
            Err(e) => return Err(io_err(&path)(e)),
        }
    }
}

/// The action of the entry a recovery records.
pub const RECOVERY_ACTION: &str = "audit.recover";
/// Who the entry recording a recovery names as acting.
pub const RECOVERY_ACTOR: &str = "system:audit-recovery";
/// A repair made but not yet recorded in the log: the entry to append, as JSON.
const UNRECORDED_REPAIR_EXTENSION: &str = "unrecorded-repair";

/// Writes the entry that will record a repair, durably, before the repair is made.
fn write_unrecorded_repair(dir: &Path, event: &AuditEvent) -> Result<(), AuditError> {
    let json = crate::json::to_vec(event);
    let (path, mut file) = create_unique(
        &dir.join(format!("{}", event.time_ms)),
        &format!(".{UNRECORDED_REPAIR_EXTENSION}"),
    )?;
    file.write_all(&json)
        .and_then(|()| file.sync_all())
        .map_err(io_err(&path))?;
    sync_dir(dir)
}

/// Appends the entry of every repair not yet recorded (this open's, or one a crash kept
/// an earlier open from recording), makes them durable, and only then forgets them. A
/// crash before that records them again: a repair may be recorded twice, never not at all.
fn record_repairs(dir: &Path, shared: &Shared) -> Result<(), AuditError> {
    let mut unrecorded: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(io_err(dir))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == UNRECORDED_REPAIR_EXTENSION)
        })
        .collect();
    if unrecorded.is_empty() {
        return Ok(());
    }
    unrecorded.sort();
    for path in &unrecorded {
        let json = fs::read(path).map_err(io_err(path))?;
        // Only a well-formed entry is appended: the file sits in the log's directory, and
        // the log must not take arbitrary bytes from it.
        let event: AuditEvent = serde_json::from_slice(&json).map_err(|e| AuditError::Corrupt {
            path: path.display().to_string(),
            offset: 0,
            detail: format!("an unrecorded repair that is not an audit entry: {e}"),
        })?;
        // Encoded as every entry is, whatever spacing the file had.
        let json = crate::json::to_vec(&event);
        shared.arriving.fetch_add(1, Ordering::SeqCst);
        // As a durable appender: never refused for load, and committed at once.
        shared.append(&json, true, true)?;
    }
    let segment = shared.tail().segment.clone();
    segment.sync_data().map_err(io_err(dir))?;
    for path in &unrecorded {
        fs::remove_file(path).map_err(io_err(path))?;
    }
    sync_dir(dir)
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
