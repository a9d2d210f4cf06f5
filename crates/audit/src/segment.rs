//! Segment files: the log on disk, one frame per entry.
//!
//! Frame: `len: u32 LE` | `entry: len bytes` | `leaf: 32 bytes`, where `entry` is the
//! entry's index as `u64 BE` followed by the event JSON, and `leaf = H(0x00 || entry)`.
//! The stored leaf hash lets any single changed byte be found without a checkpoint; the
//! signed checkpoints make rewriting a frame together with its hash evident.
//!
//! The segment being written is preallocated: zeros follow its last frame (see
//! `PREALLOCATE_AHEAD` in the writer), so each group commit's fsync overwrites blocks the
//! file already has instead of growing it. A frame's length is at least 9, so a zero
//! length word is never a frame: the data ends where nothing but zeros is left. Sealed
//! segments (rotated, or at a clean close) are cut to their last frame.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::merkle::{leaf_hash, Hash};

pub const SEGMENT_EXTENSION: &str = "seg";
/// No legitimate entry comes near this; a larger length is corruption.
pub const MAX_ENTRY_BYTES: u32 = 1 << 20;

pub fn encode_frame(index: u64, event_json: &[u8], out: &mut Vec<u8>) -> Hash {
    let len = (8 + event_json.len()) as u32;
    out.extend_from_slice(&len.to_le_bytes());
    let start = out.len();
    out.extend_from_slice(&index.to_be_bytes());
    out.extend_from_slice(event_json);
    let leaf = leaf_hash(&out[start..]);
    out.extend_from_slice(&leaf);
    leaf
}

/// A segment's file name: the index of its first entry, zero-padded so names sort.
pub fn segment_path(dir: &Path, first_index: u64) -> PathBuf {
    dir.join(format!("{first_index:020}.{SEGMENT_EXTENSION}"))
}

/// Every segment in `dir`, in order of their first index.
pub fn list_segments(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut segments = Vec::new();
    if !dir.exists() {
        return Ok(segments);
    }
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some(SEGMENT_EXTENSION) {
            continue;
        }
        if let Some(first) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse().ok())
        {
            segments.push((first, path));
        }
    }
    segments.sort();
    Ok(segments)
}

/// One entry as read back.
#[derive(Debug)]
pub struct Frame {
    /// Where the frame starts in its segment file.
    pub offset: u64,
    pub index: u64,
    pub event_json: Vec<u8>,
    pub leaf: Hash,
}

/// Why a segment could not be read to its end.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadProblem {
    /// The file ends inside a frame: a write cut short by a crash.
    TornTail { offset: u64 },
    /// A complete frame that is wrong: tampering or media damage.
    Corrupt { offset: u64, detail: String },
}

/// Reads frames from `path` in order, calling `each` for every intact one. Returns the
/// byte length of the intact prefix (without any zeros preallocated after it) and the
/// problem that ended reading, if any.
pub fn read_segment(
    path: &Path,
    each: impl FnMut(Frame) -> Result<(), String>,
) -> io::Result<(u64, Option<ReadProblem>)> {
    let mut bytes = Vec::new();
    fs::File::open(path)?.read_to_end(&mut bytes)?;
    Ok(parse_segment(&bytes, each))
}

/// [`read_segment`] over a segment's bytes.
pub fn parse_segment(
    bytes: &[u8],
    mut each: impl FnMut(Frame) -> Result<(), String>,
) -> (u64, Option<ReadProblem>) {
    // Past the last non-zero byte is preallocated space, or nothing.
    let data_end = bytes
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |last| last + 1);
    let mut offset = 0usize;
    while offset < data_end {
        let at = offset as u64;
        let Some(len_bytes) = bytes.get(offset..offset + 4) else {
            return (at, Some(ReadProblem::TornTail { offset: at }));
        };
        let len = u32::from_le_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]);
        // A write cut short leaves the end of its frame missing: past the file's end, or
        // zeros from inside the frame on (preallocated space it never reached).
        let torn = |frame_end: usize| frame_end > data_end;
        if !(9..=MAX_ENTRY_BYTES).contains(&len) {
            let problem = if torn(offset + 4) {
                ReadProblem::TornTail { offset: at }
            } else {
                ReadProblem::Corrupt {
                    offset: at,
                    detail: format!("frame length {len} is impossible"),
                }
            };
            return (at, Some(problem));
        }
        let end = offset + 4 + len as usize + 32;
        let Some(frame) = bytes.get(offset + 4..end) else {
            return (at, Some(ReadProblem::TornTail { offset: at }));
        };
        let (entry, stored) = frame.split_at(len as usize);
        let leaf = leaf_hash(entry);
        if leaf.as_slice() != stored {
            let problem = if torn(end) {
                ReadProblem::TornTail { offset: at }
            } else {
                ReadProblem::Corrupt {
                    offset: at,
                    detail: "entry does not match its leaf hash".into(),
                }
            };
            return (at, Some(problem));
        }
        let mut index_bytes = [0u8; 8];
        index_bytes.copy_from_slice(&entry[..8]);
        let frame = Frame {
            offset: at,
            index: u64::from_be_bytes(index_bytes),
            event_json: entry[8..].to_vec(),
            leaf,
        };
        if let Err(detail) = each(frame) {
            return (at, Some(ReadProblem::Corrupt { offset: at, detail }));
        }
        offset = end;
    }
    (offset as u64, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fuzz target's properties (fuzz/fuzz_targets/audit_segment.rs) over every
    /// truncation and every single-bit flip of a preallocated segment: what is accepted
    /// re-encodes to exactly its bytes, and a clean end has only zeros after it.
    #[test]
    fn damaged_segments_are_never_misread() {
        let mut segment = Vec::new();
        for index in 0..3 {
            encode_frame(index, br#"{"action":"getAccount"}"#, &mut segment);
        }
        let frames = segment.len();
        segment.resize(frames + 96, 0);
        let check = |bytes: &[u8]| {
            let mut reencoded = Vec::new();
            let (intact, problem) = parse_segment(bytes, |frame| {
                assert_eq!(frame.offset as usize, reencoded.len());
                encode_frame(frame.index, &frame.event_json, &mut reencoded);
                Ok(())
            });
            assert_eq!(&bytes[..intact as usize], reencoded.as_slice());
            if problem.is_none() {
                assert!(bytes[intact as usize..].iter().all(|&b| b == 0));
            }
            (intact, problem)
        };
        assert_eq!(check(&segment), (frames as u64, None));
        for cut in 0..segment.len() {
            check(&segment[..cut]);
        }
        for at in 0..segment.len() {
            for bit in 0..8 {
                let mut bytes = segment.clone();
                bytes[at] ^= 1 << bit;
                let (_, problem) = check(&bytes);
                assert!(
                    problem.is_some(),
                    "bit {bit} of byte {at} flipped unnoticed"
                );
            }
        }
    }
}
