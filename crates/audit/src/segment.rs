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

/// What follows a segment's file name in the name of the debris recovery keeps beside it
/// (`<segment>.debris-<offset>`, see `AuditLog::open`); retention moves it with the segment.
pub const DEBRIS_MARK: &str = ".debris-";
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

/// The index of a segment's first entry, from its file name.
pub fn first_index_of(path: &Path) -> Option<u64> {
    path.file_stem()?.to_str()?.parse().ok()
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
        if let Some(first) = first_index_of(&path) {
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
    /// The last frame is missing its end (past the file's end, or zeros from inside it
    /// on): a write cut short by a crash.
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
    Ok(parse_segment(&bytes, first_index_of(path), each))
}

/// The size of the unit a disk writes whole; after a power cut each one holds its old
/// bytes or its new ones.
pub const SECTOR_BYTES: usize = 512;

/// Whether the unreadable frame at `offset` shows a write the disk never finished: its
/// length word is still zero, or a whole sector of it is. Writing over preallocated
/// zeros, a disk that loses power mid-fsync can keep a group's later sectors and not an
/// earlier one; no frame written whole has either (a length is at least 9; a sector of a
/// frame holds JSON text or a hash). Recovery may cut such a tail (see `AuditLog::open`);
/// anything else unreadable is damage, and the log refuses to open.
pub fn unwritten_sector_at(bytes: &[u8], offset: usize) -> bool {
    let Some(len) = length_word_at(bytes, offset) else {
        return true;
    };
    let len = len as usize;
    if len == 0 {
        return true;
    }
    // Zeros with data after them: the preallocated space after the data is no hole.
    let end = (offset + 4 + len + 32).min(data_end(bytes));
    let first_whole = offset.div_ceil(SECTOR_BYTES) * SECTOR_BYTES;
    (first_whole..end)
        .step_by(SECTOR_BYTES)
        .filter_map(|at| bytes.get(at..(at + SECTOR_BYTES).min(end)))
        .any(|sector| sector.len() == SECTOR_BYTES && sector.iter().all(|&b| b == 0))
}

/// The frame length word at `offset`, if the bytes reach that far.
fn length_word_at(bytes: &[u8], offset: usize) -> Option<u32> {
    let word = bytes.get(offset..offset.checked_add(4)?)?;
    Some(u32::from_le_bytes([word[0], word[1], word[2], word[3]]))
}

/// Where a segment's data ends: past its last non-zero byte is preallocated space, or
/// nothing.
pub fn data_end(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |last| last + 1)
}

/// [`read_segment`] over a segment's bytes. `first_index`, from the segment's name, is
/// the index its first frame should carry: it lets a damaged length word in the first
/// frame be told from a torn tail, as the index of the frame before does for later ones.
pub fn parse_segment(
    bytes: &[u8],
    first_index: Option<u64>,
    mut each: impl FnMut(Frame) -> Result<(), String>,
) -> (u64, Option<ReadProblem>) {
    let data_end = data_end(bytes);
    let mut offset = 0usize;
    // The index the frame at `offset` should carry, when known.
    let mut expected_index = first_index;
    while offset < data_end {
        let at = offset as u64;
        let Some(len) = length_word_at(bytes, offset) else {
            return (at, Some(ReadProblem::TornTail { offset: at }));
        };
        // A write cut short leaves the end of its frame missing: past the file's end, or
        // zeros from inside the frame on (preallocated space it never reached). It is the
        // last thing written: if the entry after this one is intact further on, this
        // frame's length was damaged, and recovery must not cut what follows.
        let torn = |frame_end: usize| {
            frame_end > data_end
                && !expected_index
                    .and_then(|this: u64| this.checked_add(1))
                    .is_some_and(|next| intact_frame_after(bytes, offset, data_end, next))
        };
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
            let problem = if torn(end) {
                ReadProblem::TornTail { offset: at }
            } else {
                ReadProblem::Corrupt {
                    offset: at,
                    detail: format!(
                        "frame length {len} runs past the data, yet the next entry follows intact"
                    ),
                }
            };
            return (at, Some(problem));
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
        expected_index = frame.index.checked_add(1);
        if let Err(detail) = each(frame) {
            return (at, Some(ReadProblem::Corrupt { offset: at, detail }));
        }
        offset = end;
    }
    (offset as u64, None)
}

/// Whether an intact frame carrying entry `index` starts after `from`, before `data_end`.
/// Only on the way to reporting a problem; the index match keeps hashing to candidates.
fn intact_frame_after(bytes: &[u8], from: usize, data_end: usize, index: u64) -> bool {
    let want = index.to_be_bytes();
    let data = &bytes[..data_end.min(bytes.len())];
    (from + 1..data.len()).any(|p| {
        let Some(len) = length_word_at(data, p) else {
            return false;
        };
        if !(9..=MAX_ENTRY_BYTES).contains(&len) || data.get(p + 4..p + 12) != Some(&want[..]) {
            return false;
        }
        let entry_end = p + 4 + len as usize;
        match (
            data.get(p + 4..entry_end),
            data.get(entry_end..entry_end + 32),
        ) {
            (Some(entry), Some(stored)) => leaf_hash(entry).as_slice() == stored,
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holes_of_unwritten_sectors_are_told_from_damage() {
        let mut bytes = Vec::new();
        encode_frame(0, br#"{"a":1}"#, &mut bytes);
        let second = bytes.len();
        encode_frame(1, "x".repeat(3000).as_bytes(), &mut bytes);
        encode_frame(2, br#"{"b":2}"#, &mut bytes);
        bytes.resize(bytes.len() + 1024, 0);
        // Intact, or damaged without a hole: no.
        assert!(!unwritten_sector_at(&bytes, second));
        let mut flipped = bytes.clone();
        flipped[second + 100] ^= 0x20;
        assert!(!unwritten_sector_at(&flipped, second));
        // A whole sector of the frame never written: yes.
        let mut holed = bytes.clone();
        let sector = second.div_ceil(SECTOR_BYTES) * SECTOR_BYTES + SECTOR_BYTES;
        holed[sector..sector + SECTOR_BYTES].fill(0);
        assert!(unwritten_sector_at(&holed, second));
        // Its length word never written: yes.
        let mut unstarted = bytes.clone();
        unstarted[second..second + 4].fill(0);
        assert!(unwritten_sector_at(&unstarted, second));
        // A length word flipped to claim the zeros after the data: no, they are no hole.
        let mut long = bytes.clone();
        long[second + 2] ^= 0x01;
        assert!(!unwritten_sector_at(&long, second));
    }

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
            let (intact, problem) = parse_segment(bytes, Some(0), |frame| {
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
        // A name that does not parse, or the largest index, gives no protection, and no
        // panic: a damaged first length word then reads as a torn tail, as it did before
        // the name was consulted.
        let mut long_first = segment.clone();
        long_first[2] ^= 0x01;
        for first_index in [None, Some(u64::MAX)] {
            assert_eq!(
                parse_segment(&segment, first_index, |_| Ok(())),
                (frames as u64, None)
            );
            assert_eq!(
                parse_segment(&long_first, first_index, |_| Ok(())),
                (0, Some(ReadProblem::TornTail { offset: 0 }))
            );
        }
        for cut in 0..segment.len() {
            check(&segment[..cut]);
        }
        let last_frame = frames - (frames / 3);
        for at in 0..segment.len() {
            for bit in 0..8 {
                let mut bytes = segment.clone();
                bytes[at] ^= 1 << bit;
                let (_, problem) = check(&bytes);
                // Anywhere before the last frame, the first frame's length word included
                // (the segment's name gives the index after it): damage, which recovery
                // never cuts.
                if at < last_frame {
                    assert!(
                        matches!(problem, Some(ReadProblem::Corrupt { .. })),
                        "bit {bit} of byte {at}: {problem:?}"
                    );
                }
                assert!(
                    problem.is_some(),
                    "bit {bit} of byte {at} flipped unnoticed"
                );
            }
        }
    }
}
