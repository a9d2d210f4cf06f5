//! Offline verification of a whole audit log: every frame, every index, every checkpoint.

use std::path::Path;

use crate::checkpoint::{read_public_key, Checkpoint, CHECKPOINTS_FILE, PUBLIC_KEY_FILE};
use crate::event::AuditEvent;
use crate::merkle::Frontier;
use crate::segment::{list_segments, read_segment, ReadProblem};

#[derive(Debug, PartialEq, Eq)]
pub struct VerifyReport {
    pub entries: u64,
    /// Entries removed by retention, verified through their kept leaf hashes only.
    pub pruned: u64,
    pub checkpoints: u64,
    /// Entries written after the last checkpoint: intact, but not yet covered by a
    /// signature.
    pub unsigned_tail: u64,
}

/// The first thing found wrong.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct VerifyError(pub String);

/// Recomputes the log in `dir` and checks every checkpoint. `public_key` is the
/// checkpoint key to trust; by default the one stored beside the log (which only guards
/// against accidents: pass the key you hold to guard against tampering).
///
/// Alone, this proves the log is internally consistent. A `trusted` checkpoint, kept
/// outside the log (an auditor's earlier copy), also rules out truncation or wholesale
/// rewriting below it: the log must reproduce its root and still carry it.
pub fn verify_dir(
    dir: &Path,
    public_key: Option<&Path>,
    trusted: Option<&Checkpoint>,
) -> Result<VerifyReport, VerifyError> {
    let key = read_public_key(
        &public_key
            .map(Path::to_path_buf)
            .unwrap_or_else(|| dir.join(PUBLIC_KEY_FILE)),
    )
    .map_err(VerifyError)?;
    let checkpoints = read_checkpoints(dir)?;
    if let Some(t) = trusted {
        if !t.verify(&key) {
            return Err(VerifyError(
                "the trusted checkpoint's signature does not verify with this key".into(),
            ));
        }
        if !checkpoints.iter().any(|cp| cp == t) {
            return Err(VerifyError(format!(
                "the trusted checkpoint (tree size {}) is missing from the log's checkpoints: they were removed or rewritten",
                t.tree_size
            )));
        }
    }
    let mut pending = checkpoints.iter().peekable();
    let mut frontier = Frontier::default();
    let mut verified_checkpoints = 0u64;
    let mut recorded_prunes: Vec<u64> = Vec::new();
    let mut check_due = |frontier: &Frontier| -> Result<(), VerifyError> {
        while let Some(cp) = pending.peek() {
            if cp.tree_size != frontier.size() {
                break;
            }
            if cp.root_hash() != Some(frontier.root()) {
                return Err(VerifyError(format!(
                    "checkpoint at tree size {} does not match the entries: an entry before index {} was modified, inserted, deleted or reordered",
                    cp.tree_size, cp.tree_size
                )));
            }
            verified_checkpoints += 1;
            pending.next();
        }
        Ok(())
    };
    // Entries removed by retention count through their kept leaf hashes.
    let pruned = crate::retention::read_pruned_leaves(dir).map_err(VerifyError)?;
    for leaf in &pruned {
        frontier.push(*leaf);
        check_due(&frontier)?;
    }
    let segments =
        list_segments(dir).map_err(|e| VerifyError(format!("{}: {e}", dir.display())))?;
    // Segments already counted as pruned (an interrupted prune) must match the kept
    // hashes exactly; they are not otherwise part of the log.
    let (leftover, segments): (Vec<_>, Vec<_>) = segments
        .into_iter()
        .partition(|(first, _)| *first < pruned.len() as u64);
    for (_, path) in &leftover {
        let mut mismatch = None;
        read_segment(path, |frame| {
            if pruned.get(frame.index as usize) != Some(&frame.leaf) {
                mismatch = Some(frame.index);
                return Err("mismatch".into());
            }
            Ok(())
        })
        .map_err(|e| VerifyError(format!("{}: {e}", path.display())))?;
        if let Some(index) = mismatch {
            return Err(VerifyError(format!(
                "{}: entry {index} does not match the hash kept when it was pruned",
                path.display()
            )));
        }
    }
    for (first, path) in &segments {
        if *first != frontier.size() {
            return Err(VerifyError(format!("{}: segment starts at entry {first}, expected {}: entries are missing or duplicated", path.display(), frontier.size())));
        }
        let mut failure = None;
        let (_, problem) = read_segment(path, |frame| {
            let expected = frontier.size();
            if frame.index != expected {
                return Err(format!("entry {expected} carries index {}: entries were deleted, inserted or reordered", frame.index));
            }
            let Ok(event) = serde_json::from_slice::<AuditEvent>(&frame.event_json) else {
                return Err(format!("entry {expected} is not a valid audit event"));
            };
            if event.action == crate::retention::RETENTION_ACTION {
                if let Some(through) = event.target.get("pruned_through").and_then(|t| t.parse::<u64>().ok()) {
                    recorded_prunes.push(through);
                }
            }
            frontier.push(frame.leaf);
            if let Err(e) = check_due(&frontier) {
                failure = Some(e);
                return Err("checkpoint mismatch".into());
            }
            Ok(())
        })
        .map_err(|e| VerifyError(format!("{}: {e}", path.display())))?;
        if let Some(e) = failure {
            return Err(e);
        }
        match problem {
            None => {}
            Some(ReadProblem::TornTail { offset }) => {
                return Err(VerifyError(format!(
                    "{}: entry {} at byte {offset} is incomplete (truncated)",
                    path.display(),
                    frontier.size()
                )));
            }
            Some(ReadProblem::Corrupt { offset, detail }) => {
                return Err(VerifyError(format!(
                    "{}: entry {} at byte {offset}: {detail}",
                    path.display(),
                    frontier.size()
                )));
            }
        }
    }
    let entries = frontier.size();
    if let Some(cp) = checkpoints.iter().find(|cp| cp.tree_size > entries) {
        return Err(VerifyError(format!(
            "the log has {entries} entries but a checkpoint covers {}: the log was truncated",
            cp.tree_size
        )));
    }
    // The pruned count must be one the log itself recorded before pruning; otherwise the
    // manifest could be edited to hide segments.
    if !pruned.is_empty() && !recorded_prunes.contains(&(pruned.len() as u64)) {
        return Err(VerifyError(format!(
            "{} entries are marked as pruned but no recorded prune in the log covers exactly that many",
            pruned.len()
        )));
    }
    // Every checkpoint must have been compared with the entries, not just signed.
    if verified_checkpoints != checkpoints.len() as u64 {
        return Err(VerifyError(format!(
            "only {verified_checkpoints} of {} checkpoints could be matched against the entries",
            checkpoints.len()
        )));
    }
    for (i, cp) in checkpoints.iter().enumerate() {
        if !cp.verify(&key) {
            return Err(VerifyError(format!(
                "checkpoint {i} (tree size {}) has an invalid signature",
                cp.tree_size
            )));
        }
    }
    let last = checkpoints.last().map(|c| c.tree_size).unwrap_or(0);
    Ok(VerifyReport {
        pruned: pruned.len() as u64,
        entries,
        checkpoints: verified_checkpoints,
        unsigned_tail: entries - last,
    })
}

fn read_checkpoints(dir: &Path) -> Result<Vec<Checkpoint>, VerifyError> {
    let path = dir.join(CHECKPOINTS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(VerifyError(format!("{}: {e}", path.display()))),
    };
    let mut out: Vec<Checkpoint> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let cp: Checkpoint = serde_json::from_str(line)
            .map_err(|e| VerifyError(format!("{} line {}: {e}", path.display(), i + 1)))?;
        if cp.tree_size == 0 {
            return Err(VerifyError(format!(
                "{} line {}: a checkpoint of an empty tree is never written",
                path.display(),
                i + 1
            )));
        }
        if out.last().is_some_and(|prev| prev.tree_size > cp.tree_size) {
            return Err(VerifyError(format!(
                "{} line {}: checkpoints go backwards",
                path.display(),
                i + 1
            )));
        }
        out.push(cp);
    }
    Ok(out)
}
