//! Retention: segments whose every entry is older than the cutoff are removed (or moved to
//! an archive directory), oldest first. Their entries' contents are gone, but their
//! 32-byte leaf hashes are kept in `pruned-leaves.bin`, so every signed checkpoint stays
//! verifiable and proofs keep working for the entries that remain.
//!
//! Crash safety: hashes are appended and fsynced, then `pruned.json` (the count of pruned
//! entries) is replaced atomically, and only then are segment files removed. A crash
//! between the steps leaves either extra hashes past the count (ignored and trimmed) or a
//! segment whose entries are already counted as pruned (removed on the next run/open).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::event::AuditEvent;
use crate::merkle::Hash;
use crate::segment::{list_segments, read_segment, DEBRIS_MARK};

pub const PRUNED_LEAVES_FILE: &str = "pruned-leaves.bin";
pub const PRUNED_MANIFEST_FILE: &str = "pruned.json";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrunedManifest {
    /// Entries `0..entries` have been pruned; their leaf hashes are in the leaves file.
    pub entries: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    pub segments_removed: usize,
    pub entries_pruned: u64,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> String + '_ {
    move |e| format!("{}: {e}", path.display())
}

pub fn read_manifest(dir: &Path) -> Result<PrunedManifest, String> {
    let path = dir.join(PRUNED_MANIFEST_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(PrunedManifest::default()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// The leaf hashes of pruned entries, exactly as many as the manifest counts.
pub fn read_pruned_leaves(dir: &Path) -> Result<Vec<Hash>, String> {
    let manifest = read_manifest(dir)?;
    if manifest.entries == 0 {
        return Ok(Vec::new());
    }
    let path = dir.join(PRUNED_LEAVES_FILE);
    let bytes = fs::read(&path).map_err(io(&path))?;
    let needed = manifest.entries as usize * 32;
    if bytes.len() < needed {
        return Err(format!(
            "{}: holds {} hashes, the manifest counts {}",
            path.display(),
            bytes.len() / 32,
            manifest.entries
        ));
    }
    Ok(bytes[..needed]
        .chunks_exact(32)
        .map(|c| c.try_into().unwrap_or([0u8; 32]))
        .collect())
}

/// What a prune will do, decided under the prune lock (held until it is applied).
pub struct PrunePlan {
    _lock: fs::File,
    manifest: PrunedManifest,
    pruned_through: u64,
    removable: Vec<PathBuf>,
    new_leaves: Vec<Hash>,
}

impl PrunePlan {
    /// The count of pruned entries once applied: what must be recorded in the log first.
    pub fn pruned_through(&self) -> u64 {
        self.pruned_through
    }

    /// Whether applying it prunes any new entries (leftover files alone need no record).
    pub fn prunes_entries(&self) -> bool {
        !self.new_leaves.is_empty()
    }
}

/// Plans removing segments at the start of the log whose every entry is older than
/// `cutoff_ms`, never the newest segment (the writer's).
pub fn plan(dir: &Path, cutoff_ms: i64) -> Result<PrunePlan, String> {
    // One prune at a time (the hourly task and the CLI could otherwise interleave).
    let lock_path = dir.join("prune.lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io(&lock_path))?;
    lock.lock().map_err(io(&lock_path))?;
    let manifest = read_manifest(dir)?;
    // A leaves file shorter than the manifest says is damage, never padded over.
    read_pruned_leaves(dir)?;
    let segments = list_segments(dir).map_err(io(dir))?;
    let mut pruned_through = manifest.entries;
    let mut removable: Vec<PathBuf> = Vec::new();
    let mut new_leaves: Vec<Hash> = Vec::new();
    for (first, path) in segments.iter().take(segments.len().saturating_sub(1)) {
        if *first < manifest.entries {
            // Counted as pruned by an earlier, interrupted run: only the file remains.
            removable.push(path.clone());
            continue;
        }
        if *first != pruned_through {
            return Err(format!(
                "{}: starts at entry {first}, expected {pruned_through}",
                path.display()
            ));
        }
        let mut newest = i64::MIN;
        let mut leaves = Vec::new();
        let (_, problem) = read_segment(path, |frame| {
            let event: AuditEvent =
                serde_json::from_slice(&frame.event_json).map_err(|e| e.to_string())?;
            newest = newest.max(event.time_ms);
            leaves.push(frame.leaf);
            Ok(())
        })
        .map_err(io(path))?;
        if let Some(problem) = problem {
            return Err(format!(
                "{}: {problem:?}; run portcullis audit verify",
                path.display()
            ));
        }
        if newest >= cutoff_ms {
            break;
        }
        pruned_through += leaves.len() as u64;
        new_leaves.extend(leaves);
        removable.push(path.clone());
    }
    Ok(PrunePlan {
        _lock: lock,
        manifest,
        pruned_through,
        removable,
        new_leaves,
    })
}

/// Applies a plan whose `pruned_through` is already recorded in the log (see
/// [`RETENTION_ACTION`]). With `archive_dir`, segments are moved there.
pub fn apply(
    dir: &Path,
    plan: PrunePlan,
    archive_dir: Option<&Path>,
) -> Result<PruneReport, String> {
    let PrunePlan {
        _lock,
        manifest,
        pruned_through,
        removable,
        new_leaves,
    } = plan;
    let mut report = PruneReport::default();
    if !new_leaves.is_empty() {
        let path = dir.join(PRUNED_LEAVES_FILE);
        let mut file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(&path)
            .map_err(io(&path))?;
        // Drop hashes a crashed run appended past the manifest's count.
        file.set_len(manifest.entries * 32).map_err(io(&path))?;
        let mut bytes = Vec::with_capacity(new_leaves.len() * 32);
        for leaf in &new_leaves {
            bytes.extend_from_slice(leaf);
        }
        std::io::Seek::seek(&mut file, std::io::SeekFrom::End(0)).map_err(io(&path))?;
        file.write_all(&bytes).map_err(io(&path))?;
        file.sync_all().map_err(io(&path))?;
        let manifest_path = dir.join(PRUNED_MANIFEST_FILE);
        let partial = dir.join("pruned.json.partial");
        let text = serde_json::to_string(&PrunedManifest {
            entries: pruned_through,
        })
        .map_err(|e| e.to_string())?;
        fs::write(&partial, text).map_err(io(&partial))?;
        fs::File::open(&partial)
            .and_then(|f| f.sync_all())
            .map_err(io(&partial))?;
        fs::rename(&partial, &manifest_path).map_err(io(&manifest_path))?;
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io(dir))?;
        report.entries_pruned = pruned_through - manifest.entries;
    }
    // What recovery kept aside from a segment goes with it: the retention period applies
    // to the evidence of a crash as to the entries around it.
    let debris = debris_files(dir)?;
    for segment in removable {
        let kept_aside = segment.file_name().map(|name| {
            let prefix = format!("{}{DEBRIS_MARK}", name.to_string_lossy());
            debris
                .iter()
                .filter(move |d| {
                    d.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
                })
                .cloned()
        });
        for path in kept_aside.into_iter().flatten().chain([segment]) {
            match archive_dir {
                Some(archive) => {
                    fs::create_dir_all(archive).map_err(io(archive))?;
                    let target = archive.join(path.file_name().unwrap_or_default());
                    if fs::rename(&path, &target).is_err() {
                        // Another filesystem: copy, sync, then remove.
                        fs::copy(&path, &target).map_err(io(&target))?;
                        fs::File::open(&target)
                            .and_then(|f| f.sync_all())
                            .map_err(io(&target))?;
                        fs::remove_file(&path).map_err(io(&path))?;
                    }
                }
                None => fs::remove_file(&path).map_err(io(&path))?,
            }
        }
        report.segments_removed += 1;
    }
    if report.segments_removed > 0 {
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io(dir))?;
    }
    Ok(report)
}

/// The debris files recovery kept beside segments (`<segment>.debris-<offset>`), listed
/// once for a whole prune.
fn debris_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut debris = Vec::new();
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().contains(DEBRIS_MARK))
        {
            debris.push(path);
        }
    }
    Ok(debris)
}

/// The audit action that records a prune; its `pruned_through` target binds the pruned
/// manifest to the signed log.
pub const RETENTION_ACTION: &str = "audit.retention.prune";

/// The entry that records a prune, written (durably) before the prune is applied.
pub fn retention_event(time_ms: i64, plan: &PrunePlan, actor: &str) -> AuditEvent {
    let target = std::collections::BTreeMap::from([
        (
            "pruned_through".to_string(),
            plan.pruned_through.to_string(),
        ),
        (
            "entries_pruned".to_string(),
            (plan.pruned_through - plan.manifest.entries).to_string(),
        ),
    ]);
    AuditEvent::by_admin(
        time_ms,
        crate::event::EventKind::AdminChange,
        actor,
        RETENTION_ACTION,
        target,
    )
}

/// Plans, records and applies a prune through `log` (which must be the log in `dir`).
pub async fn prune_recorded(
    log: &crate::AuditLog,
    time_ms: i64,
    cutoff_ms: i64,
    archive_dir: Option<&Path>,
    actor: &str,
) -> Result<PruneReport, String> {
    let dir = log.dir().to_path_buf();
    let planned = {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || plan(&dir, cutoff_ms))
            .await
            .map_err(|e| e.to_string())??
    };
    if planned.prunes_entries() {
        log.append(&retention_event(time_ms, &planned, actor))
            .await
            .map_err(|e| e.to_string())?;
    }
    let archive = archive_dir.map(Path::to_path_buf);
    tokio::task::spawn_blocking(move || apply(&dir, planned, archive.as_deref()))
        .await
        .map_err(|e| e.to_string())?
}
