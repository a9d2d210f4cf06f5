//! Where entries go: appenders encode their frame (index, event, leaf hash) at the end of
//! the log under a lock, and one syncer thread writes and fsyncs behind them, publishing
//! what became durable. A commit waits for the entries of reserved slots still on their
//! way, for at most the commit delay, and goes at once when none is and an appender waits
//! for it; with none waiting (written acknowledgement) commits keep the written sync
//! interval's pace.
//!
//! An appender acknowledged on durability leaves its frame in memory for the syncer, which
//! writes the whole group with one pwrite(2) just before its fsync: the answer waits for
//! that fsync anyway, and a write per entry was the larger part of what the log cost a
//! request. An appender acknowledged once written also leaves its frame pending and wakes
//! a flusher task, which runs after the tasks already ready on the runtime, writes every
//! frame appended meanwhile with one pwrite(2), and wakes them: the page cache, which
//! survives the process being killed, has each entry before its answer leaves.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{watch, Notify};

use ring::signature::Ed25519KeyPair;

use super::tree::{FramePosition, TILE};
use super::{fatal, sync_dir, AuditError, Committed};
use crate::checkpoint::{Checkpoint, CHECKPOINTS_FILE};
use crate::merkle::{Frontier, Hash};
use crate::segment::{encode_frame, segment_path};

/// The end of the log, where appenders write.
pub(super) struct Tail {
    pub dir: PathBuf,
    pub segment: Arc<File>,
    pub segment_path: PathBuf,
    /// The index of the current segment's first entry.
    pub segment_first: u64,
    /// Bytes of frames in the segment, written or pending.
    pub segment_len: u64,
    /// The segment file's length: its frames, then zeros (see [`Tail::preallocate`]).
    pub segment_zeroed_to: u64,
    /// Writing zeros failed (a full disk): not tried again in this segment.
    pub preallocation_failed: bool,
    pub segment_max_bytes: u64,
    pub frontier: Frontier,
    /// Leaves written but not yet fsynced.
    pub unsynced: Vec<Hash>,
    /// Where the frames among them that start a tile are, by index.
    pub unsynced_tile_starts: Vec<(u64, FramePosition)>,
    /// Frames encoded but not yet written to the segment file, in index order.
    pub pending: Vec<u8>,
    /// Counts the entries in the segment files, for written acknowledgement.
    pub written: Arc<Flusher>,
    /// Written acknowledgement answers before the fsync; this bounds how many answered
    /// entries can await one.
    pub max_unsynced: usize,
    pub closed: bool,
    /// Some unsynced entry's appender waits for its fsync (durable acknowledgement): only
    /// then does a commit go as soon as nothing is arriving. Answers acknowledged once
    /// written do not wait for the fsync, so for them fewer fsyncs are simply cheaper.
    pub durable_waiter: bool,
    /// Some unsynced entry was answered before its fsync (written acknowledgement): the
    /// commit must not wait longer than the written sync interval, whoever else waits.
    pub written_unsynced: bool,
    /// The syncer is holding a commit back (see `Syncer::hold_commit`); the append
    /// that lets it go early wakes it.
    pub syncer_holds_commit: bool,
}

/// What `Tail::pending` shrinks back to after a burst.
const PENDING_KEPT_BYTES: usize = 256 * 1024;

/// Zeros kept written ahead of the last frame of the segment being written, refilled
/// when less than half is left. An fsync that overwrites blocks the file already has
/// only flushes data; one that grows the file also writes its inode and allocation
/// maps. On this project's ext4 VM that made an fsync of a group a third to a half
/// cheaper in system CPU and latency (`bench/fsync`), and the gateway's durable row about
/// 5% cheaper per request (`bench/ab`).
/// PostgreSQL zero-fills its WAL segments for the same reason. Zeros are written rather
/// than `fallocate`d: a fallocated extent is marked unwritten, and the first write to it
/// updates the extent map, which the fsync would pay for again (no faster than growing
/// the file, in the same measurement).
const PREALLOCATE_AHEAD: u64 = 1 << 20;
static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

impl Tail {
    /// Appends one entry at the end of the log; returns its index. With `write_now` the
    /// segment file has it when this returns; otherwise the syncer writes it with its group.
    /// `awaits_fsync`: its appender waits for the entry to be durable.
    fn append(
        &mut self,
        event_json: &[u8],
        write_now: bool,
        awaits_fsync: bool,
    ) -> Result<u64, AuditError> {
        if self.closed {
            return Err(AuditError::Closed);
        }
        // A durable appender waits for its fsync anyway, and its slot bounds how many do.
        if !awaits_fsync && self.unsynced.len() >= self.max_unsynced {
            return Err(AuditError::Behind);
        }
        if self.segment_len >= self.segment_max_bytes {
            self.rotate();
        }
        let index = self.frontier.size();
        let start = self.pending.len();
        let leaf = encode_frame(index, event_json, &mut self.pending);
        if index.is_multiple_of(TILE) {
            let position = FramePosition {
                segment_first: self.segment_first,
                offset: self.segment_len,
            };
            self.unsynced_tile_starts.push((index, position));
        }
        self.segment_len += (self.pending.len() - start) as u64;
        self.frontier.push(leaf);
        self.unsynced.push(leaf);
        self.durable_waiter |= awaits_fsync;
        self.written_unsynced |= !awaits_fsync;
        if write_now {
            self.write_pending();
        }
        Ok(index)
    }

    /// Half the unsynced entries written acknowledgement may answer: from here on the
    /// syncer commits without waiting out the commit delay, so appenders are not refused
    /// with `Behind` merely because the pace is slow.
    fn unsynced_high(&self) -> bool {
        self.unsynced.len() >= (self.max_unsynced / 2).max(1)
    }

    /// The syncer, holding a commit back, may go now.
    fn commit_due(&self, arriving: usize) -> bool {
        self.closed || (self.durable_waiter && arriving == 0) || self.unsynced_high()
    }

    /// Writes the pending frames to the segment file.
    pub fn write_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let offset = self.segment_len - self.pending.len() as u64;
        if let Err(e) = self.segment.write_all_at(&self.pending, offset) {
            fatal("write", &self.segment_path, &e);
        }
        self.segment_zeroed_to = self.segment_zeroed_to.max(self.segment_len);
        self.pending.clear();
        self.pending.shrink_to(PENDING_KEPT_BYTES);
        raise(&self.written.count, self.frontier.size());
    }

    /// Keeps zeros written ahead of the last frame, up to the segment's size limit (see
    /// [`PREALLOCATE_AHEAD`]). The syncer calls it, under the lock like every frame
    /// write, so no frame can land where zeros are being written. Failing is not fatal:
    /// no entry is in that space yet, and frames written past the zeros grow the file
    /// as they would without them.
    pub fn preallocate(&mut self) {
        let limit = self.segment_max_bytes;
        let low_water = (self.segment_len + PREALLOCATE_AHEAD / 2).min(limit);
        if self.segment_zeroed_to >= low_water || self.preallocation_failed {
            return;
        }
        // Frames may already run past the zeros (a burst between two commits).
        let mut at = self.segment_zeroed_to.max(self.segment_len);
        let end = (self.segment_len + PREALLOCATE_AHEAD).min(limit);
        while at < end {
            let n = (end - at).min(ZEROS.len() as u64) as usize;
            if let Err(e) = self.segment.write_all_at(&ZEROS[..n], at) {
                tracing::warn!(segment = %self.segment_path.display(), error = %e, "audit segment not preallocated; its fsyncs will cost more");
                self.preallocation_failed = true;
                break;
            }
            at += n as u64;
        }
        self.segment_zeroed_to = self.segment_zeroed_to.max(at);
    }

    /// Cuts the segment's preallocated zeros and makes it durable: it is complete, at
    /// rotation or at close, and readers of sealed segments expect frames only.
    pub fn seal(&mut self) {
        self.write_pending();
        let result = if self.segment_zeroed_to > self.segment_len {
            self.segment.set_len(self.segment_len).and_then(|()| {
                self.segment_zeroed_to = self.segment_len;
                // The length changed: sync_all, not sync_data.
                self.segment.sync_all()
            })
        } else {
            self.segment.sync_data()
        };
        if let Err(e) = result {
            fatal("fsync", &self.segment_path, &e);
        }
    }

    /// Starts the next segment file. Rare (once per segment), so the old file is made
    /// durable right here rather than coordinating with the syncer.
    fn rotate(&mut self) {
        self.seal();
        let path = segment_path(&self.dir, self.frontier.size());
        match OpenOptions::new().create_new(true).write(true).open(&path) {
            Ok(file) => {
                // Entries acknowledged into a file whose name is not durable could vanish.
                if let Err(AuditError::Io { source, .. }) = sync_dir(&self.dir) {
                    fatal("directory fsync", &self.dir, &source);
                }
                self.segment = Arc::new(file);
                self.segment_path = path;
                self.segment_first = self.frontier.size();
                self.segment_len = 0;
                self.segment_zeroed_to = 0;
                self.preallocation_failed = false;
            }
            Err(e) => fatal("segment rotation", &path, &e),
        }
    }
}

/// What appenders and the syncer share.
pub(super) struct Shared {
    pub tail: Mutex<Tail>,
    /// Signalled when the first unsynced entry is written, when an append or an abandoned
    /// slot makes a held-back commit due (see [`Tail::commit_due`]), and at close.
    pub pending: Condvar,
    /// Slots reserved whose entries are not appended yet (in the gateway: requests past
    /// their checks, at the upstream or filtering its answer). Raised without the tail
    /// lock; an append lowers it under the lock, and an abandoned slot takes the lock
    /// when it lowers it to zero, so the syncer cannot miss the last one.
    pub arriving: AtomicUsize,
    pub durable: Arc<Publisher>,
    /// The same as `Tail::written`, reachable without the lock.
    pub written: Arc<Flusher>,
    pub committed: Arc<Mutex<Committed>>,
    pub refusals: Refusals,
}

/// What the log could not take, for metrics (see [`super::AuditLog::refusals`]).
#[derive(Default)]
pub(super) struct Refusals {
    pub no_slot: AtomicU64,
    pub not_recorded: AtomicU64,
}

impl Shared {
    pub fn tail(&self) -> MutexGuard<'_, Tail> {
        self.tail.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends the entry of a reserved slot (see [`Tail::append`]), which stops arriving
    /// whether or not the append succeeds; returns its index.
    pub fn append(
        &self,
        event_json: &[u8],
        write_now: bool,
        awaits_fsync: bool,
    ) -> Result<u64, AuditError> {
        let (appended, wake) = {
            let mut tail = self.tail();
            // Settled first, so nothing that append does can leave it counted.
            let arriving = self
                .arriving
                .fetch_sub(1, Ordering::SeqCst)
                .saturating_sub(1);
            let first_unsynced = tail.unsynced.is_empty();
            let first_durable_waiter = awaits_fsync && !tail.durable_waiter;
            let appended = tail.append(event_json, write_now, awaits_fsync);
            // Later entries find the syncer already due to run; only the first wakes it,
            // one that lets a held-back commit go early, and the first that waits for
            // the fsync: the syncer may be holding a commit to the written pace, and
            // now holds it to the commit delay at most.
            let wake = (appended.is_ok() && first_unsynced)
                || (tail.syncer_holds_commit
                    && (tail.commit_due(arriving) || (appended.is_ok() && first_durable_waiter)));
            (appended, wake)
        };
        if wake {
            self.pending.notify_one();
        }
        appended
    }

    /// A reserved slot was given up without an entry.
    pub fn arrival_abandoned(&self) {
        // The lock only for the last one: a syncer that read a higher count under the
        // lock is waiting by the time this takes it, with its flag set.
        if self.arriving.fetch_sub(1, Ordering::SeqCst) == 1 {
            let tail = self.tail();
            if tail.syncer_holds_commit && tail.commit_due(0) {
                drop(tail);
                self.pending.notify_one();
            }
        }
    }

    /// Appends an entry and waits until it is in the segment file; returns its index.
    pub async fn append_written(&self, event_json: &[u8]) -> Result<u64, AuditError> {
        if !self.written.running.load(Ordering::SeqCst) {
            return self.append(event_json, true, false);
        }
        let index = self.append(event_json, false, false)?;
        self.written.wake.notify_one();
        wait_above(&self.written.count, index).await?;
        Ok(index)
    }

    /// Waits until entry `index` is durable.
    pub async fn durable(&self, index: u64) -> Result<(), AuditError> {
        wait_above(&self.durable.count, index).await
    }

    pub fn close(&self) {
        self.tail().closed = true;
        self.pending.notify_one();
        // The flusher writes what is pending, sees the log closed and ends.
        self.written.wake.notify_one();
    }
}

/// Spawns `task` on the current runtime, if there is one, marking `running` first.
fn spawn_on_current_runtime(
    running: &AtomicBool,
    task: impl std::future::Future<Output = ()> + Send + 'static,
) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        running.store(true, Ordering::SeqCst);
        runtime.spawn(task);
    }
}

/// Tells waiting appenders what became durable. The syncer is not a runtime thread, and
/// waking each waiting task from outside the runtime costs a queue lock and a wake-up of
/// the runtime's thread per task; so the syncer wakes one relay task on the runtime, and
/// the relay wakes the waiters from there. Without a runtime at open (or once its runtime
/// is gone) the syncer wakes them itself.
pub(super) struct Publisher {
    /// How many entries are durable; appenders wait on it.
    pub count: watch::Sender<u64>,
    latest: AtomicU64,
    relay: Notify,
    relay_running: AtomicBool,
    closing: AtomicBool,
}

impl Publisher {
    pub fn new(count: u64) -> Arc<Self> {
        Arc::new(Self {
            count: watch::Sender::new(count),
            latest: AtomicU64::new(count),
            relay: Notify::new(),
            relay_running: AtomicBool::new(false),
            closing: AtomicBool::new(false),
        })
    }

    /// Starts the relay on the current runtime, if there is one.
    pub fn start_relay(self: &Arc<Self>) {
        let running = RelayRunning(self.clone());
        spawn_on_current_runtime(&self.relay_running, async move {
            let publisher = &running.0;
            loop {
                publisher.relay.notified().await;
                publisher.raise(publisher.latest.load(Ordering::SeqCst));
                if publisher.closing.load(Ordering::SeqCst) {
                    return;
                }
            }
        });
    }

    /// From the syncer: `count` entries are durable. Waiters are woken only when the
    /// group has one (`waiters`): a wake-up crosses threads, and a group of written
    /// acknowledgements has no one to tell; a later group's waiters see its count too.
    fn publish(&self, count: u64, closing: bool, waiters: bool) {
        self.latest.fetch_max(count, Ordering::SeqCst);
        if closing {
            self.closing.store(true, Ordering::SeqCst);
        } else if !waiters {
            return;
        }
        if self.relay_running.load(Ordering::SeqCst) {
            self.relay.notify_one();
        } else {
            self.raise(count);
        }
    }

    fn raise(&self, count: u64) {
        raise(&self.count, count);
    }
}

/// Never lowers a count: the runtime's tasks and the syncer may race to publish.
fn raise(counter: &watch::Sender<u64>, count: u64) {
    counter.send_if_modified(|current| {
        let higher = count > *current;
        if higher {
            *current = count;
        }
        higher
    });
}

async fn wait_above(counter: &watch::Sender<u64>, index: u64) -> Result<(), AuditError> {
    let mut count = counter.subscribe();
    count
        .wait_for(|&count| count > index)
        .await
        .map(|_| ())
        .map_err(|_| AuditError::Closed)
}

/// Writes pending frames for appenders acknowledged once written, one pwrite(2) per turn
/// of the runtime rather than one per entry. Without a runtime at open (or once its
/// runtime is gone) appenders write their own frames; the syncer writes whatever is still
/// pending before each fsync, so no waiter is ever left behind.
pub(super) struct Flusher {
    /// How many entries are in the segment files.
    count: watch::Sender<u64>,
    wake: Notify,
    running: AtomicBool,
}

impl Flusher {
    pub fn new(count: u64) -> Arc<Self> {
        Arc::new(Self {
            count: watch::Sender::new(count),
            wake: Notify::new(),
            running: AtomicBool::new(false),
        })
    }

    /// Starts the flusher task on the current runtime, if there is one.
    pub fn start(shared: &Arc<Shared>) {
        let flusher = shared.written.clone();
        let running = FlusherRunning(shared.clone());
        spawn_on_current_runtime(&shared.written.running, async move {
            let shared = &running.0;
            loop {
                flusher.wake.notified().await;
                // To the back of the run queue: appenders that are ready now append first
                // and share this write.
                tokio::task::yield_now().await;
                let closed = {
                    let mut tail = shared.tail();
                    tail.write_pending();
                    tail.closed
                };
                if closed {
                    return;
                }
            }
        });
    }
}

/// Held by the flusher task; when the task ends or is dropped with its runtime, appenders
/// go back to writing their own frames, and what is pending is written now.
struct FlusherRunning(Arc<Shared>);

impl Drop for FlusherRunning {
    fn drop(&mut self) {
        let mut tail = self.0.tail();
        tail.written.running.store(false, Ordering::SeqCst);
        tail.write_pending();
    }
}

/// Held by the relay task; when the task ends, or is dropped with its runtime, the syncer
/// goes back to waking appenders itself, and whatever it published meanwhile is passed on.
struct RelayRunning(Arc<Publisher>);

impl Drop for RelayRunning {
    fn drop(&mut self) {
        self.0.relay_running.store(false, Ordering::SeqCst);
        self.0.raise(self.0.latest.load(Ordering::SeqCst));
    }
}

/// The syncer thread: fsyncs written entries in groups (see [`Syncer::run`]), publishes
/// them to readers and durable waiters, and signs checkpoints over durable entries only.
pub(super) struct Syncer {
    pub shared: Arc<Shared>,
    pub key: Ed25519KeyPair,
    pub commit_delay: Duration,
    pub written_sync_interval: Duration,
    pub checkpoint_interval: Duration,
    pub dir: PathBuf,
    pub checkpointed_size: Option<u64>,
    pub last_checkpoint_at: Instant,
    /// Size and root of the entries found at open, which a quiet spell checkpoints.
    pub recovered: Option<(u64, Hash)>,
}

impl Syncer {
    pub fn run(mut self) {
        // The first commit after opening goes at once.
        let mut last_sync: Option<Instant> = None;
        let mut durable: Option<(u64, Hash)> = self.recovered.take();
        loop {
            let closing = {
                let mut tail = self.shared.tail();
                while tail.unsynced.is_empty() && !tail.closed {
                    let (t, wait) = self
                        .shared
                        .pending
                        .wait_timeout(tail, self.checkpoint_interval)
                        .unwrap_or_else(|p| p.into_inner());
                    tail = t;
                    if wait.timed_out() && tail.unsynced.is_empty() {
                        // A quiet spell: checkpoint what is durable at once.
                        drop(tail);
                        self.maybe_checkpoint(durable, true, true);
                        tail = self.shared.tail();
                    }
                }
                tail.closed
            };
            // Group commit: while entries are still arriving (slots reserved and not yet
            // appended: in the gateway, requests past their checks, at the upstream or
            // filtering its answer), wait for them, up to the commit delay after the last
            // fsync began. Once none is, and an appender waits for this fsync, fsync at
            // once: nothing more can join this group before its answers go out, so
            // waiting would only idle the gateway. A lone request is not held back; a slow
            // upstream holds a commit back for at most the commit delay, as fixed pacing
            // always did. When no appender waits for it (written acknowledgement), the
            // written sync interval sets the pace.
            if let (false, Some(last_sync)) = (closing, last_sync) {
                self.hold_commit(last_sync);
            }
            let (file, path, leaves, tile_starts, durable_waiter, size, root) = {
                let mut tail = self.shared.tail();
                // Under the lock, so an appender writing its own frame cannot get ahead of
                // the frames pending before it.
                tail.write_pending();
                if closing {
                    tail.seal();
                } else {
                    tail.preallocate();
                }
                tail.written_unsynced = false;
                (
                    tail.segment.clone(),
                    tail.segment_path.clone(),
                    std::mem::take(&mut tail.unsynced),
                    std::mem::take(&mut tail.unsynced_tile_starts),
                    // Cleared with the group taken (as `written_unsynced` above): later
                    // entries set it afresh.
                    std::mem::take(&mut tail.durable_waiter),
                    tail.frontier.size(),
                    tail.frontier.root(),
                )
            };
            last_sync = Some(Instant::now());
            if !leaves.is_empty() {
                // Every entry taken was written before this fsync starts, to this file or
                // to an earlier one that rotation already made durable. At close, sealing
                // the segment above already made it durable.
                if !closing {
                    if let Err(e) = file.sync_data() {
                        fatal("fsync", &path, &e);
                    }
                }
                {
                    let mut committed = self
                        .shared
                        .committed
                        .lock()
                        .unwrap_or_else(|p| p.into_inner());
                    committed.commits += 1;
                    committed.entries_since_open += leaves.len() as u64;
                    let first = size - leaves.len() as u64;
                    let mut starts = tile_starts.into_iter().peekable();
                    for (index, leaf) in (first..).zip(leaves) {
                        let position = starts.next_if(|(at, _)| *at == index).map(|(_, p)| p);
                        committed.tree.push(leaf, position);
                    }
                }
                self.shared.durable.publish(size, closing, durable_waiter);
                durable = Some((size, root));
            } else if closing {
                self.shared.durable.publish(size, true, durable_waiter);
            }
            if closing {
                // Every entry is durable now; a failed final checkpoint loses nothing, so
                // it is reported rather than fatal.
                self.maybe_checkpoint(durable, true, false);
                return;
            }
            self.maybe_checkpoint(durable, false, true);
        }
    }

    /// Waits until the commit delay after `last_sync` when an appender waits for this
    /// commit (or the written sync interval, if shorter and written entries are in it),
    /// the written sync interval after it when none does, or until the commit is due
    /// sooner: the log closes, an appender waits for it and no entry is arriving, or half
    /// the unsynced entries written acknowledgement allows are in.
    fn hold_commit(&self, last_sync: Instant) {
        let mut tail = self.shared.tail();
        loop {
            if tail.commit_due(self.shared.arriving.load(Ordering::SeqCst)) {
                break;
            }
            // Again on each wake-up: an appender that waits for its fsync may have come. It
            // never makes the written entries before it wait longer than their own pace.
            let pace = match (tail.durable_waiter, tail.written_unsynced) {
                (true, false) => self.commit_delay,
                (true, true) => self.commit_delay.min(self.written_sync_interval),
                (false, _) => self.written_sync_interval,
            };
            // A pace too long to add to an instant means no deadline: only a due commit
            // (or the close) ends the wait.
            let left = match last_sync.checked_add(pace) {
                Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                    Some(left) => left,
                    None => break,
                },
                None => Duration::from_secs(3600),
            };
            tail.syncer_holds_commit = true;
            tail = self
                .shared
                .pending
                .wait_timeout(tail, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
            tail.syncer_holds_commit = false;
        }
    }

    fn maybe_checkpoint(
        &mut self,
        durable: Option<(u64, Hash)>,
        force: bool,
        failure_is_fatal: bool,
    ) {
        let Some((size, root)) = durable else {
            return;
        };
        if size == 0 || self.checkpointed_size == Some(size) {
            return;
        }
        if !force && self.last_checkpoint_at.elapsed() < self.checkpoint_interval {
            return;
        }
        let checkpoint = Checkpoint::sign(&self.key, size, &root, super::now_ms());
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
        self.shared
            .committed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .last_checkpoint = Some(checkpoint);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail(dir: &std::path::Path, max_unsynced: usize) -> Tail {
        let segment_path = segment_path(dir, 0);
        Tail {
            dir: dir.to_path_buf(),
            segment: Arc::new(File::create(&segment_path).unwrap()),
            segment_path,
            segment_first: 0,
            segment_len: 0,
            segment_zeroed_to: 0,
            preallocation_failed: false,
            segment_max_bytes: 1 << 20,
            frontier: Frontier::default(),
            unsynced: Vec::new(),
            unsynced_tile_starts: Vec::new(),
            pending: Vec::new(),
            written: Flusher::new(0),
            max_unsynced,
            closed: false,
            durable_waiter: false,
            written_unsynced: false,
            syncer_holds_commit: false,
        }
    }

    /// A backlog as large as written acknowledgement allows (behind a stuck fsync)
    /// refuses written appenders, never one that waits for its fsync anyway.
    #[test]
    fn the_unsynced_limit_refuses_written_appends_and_never_durable_ones() {
        let dir = tempfile::tempdir().unwrap();
        let mut tail = tail(dir.path(), 4);
        tail.append(b"{}", true, false).unwrap();
        assert!(!tail.unsynced_high());
        tail.append(b"{}", true, false).unwrap();
        // Half the limit: the syncer goes without waiting out the commit delay.
        assert!(tail.unsynced_high() && tail.commit_due(1));
        tail.append(b"{}", true, false).unwrap();
        tail.append(b"{}", true, false).unwrap();
        assert!(!tail.durable_waiter);
        assert!(matches!(
            tail.append(b"{}", true, false),
            Err(AuditError::Behind)
        ));
        assert_eq!(tail.append(b"{}", true, true).unwrap(), 4);
        assert!(tail.durable_waiter);
        // Due now: a durable waiter and nothing arriving, or the backlog alone.
        assert!(tail.commit_due(0));
        tail.unsynced.clear();
        assert!(tail.commit_due(0) && !tail.commit_due(1));
        tail.durable_waiter = false;
        assert!(!tail.commit_due(0));
    }
}
