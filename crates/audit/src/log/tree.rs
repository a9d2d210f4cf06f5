//! What readers see of the log: its durable size, and enough of its Merkle tree to prove
//! inclusion and consistency in memory that grows by about 56 bytes per 1,024 entries
//! instead of 32 bytes per entry.
//!
//! Complete tiles of [`TILE`] leaves (the unit of Certificate Transparency's tiled logs)
//! are kept as their subtree root and the position of their first frame; only the leaves
//! of the last, incomplete tile are kept as they are. Every node of an RFC 9162 tree
//! wider than a tile starts on a tile boundary, so its root is computed from tile roots;
//! a proof reads the leaves of at most a few tiles back from the segment files (or, for
//! pruned entries, from the kept hashes), checking each against the root kept for it.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, ErrorKind, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::merkle::{consistency_proof_with, inclusion_proof_with, leaf_hash, root_of, Hash};
use crate::retention::{read_manifest, PRUNED_LEAVES_FILE};
use crate::segment::{list_segments, MAX_ENTRY_BYTES};

/// Leaves per tile.
pub const TILE: u64 = 1024;

/// Where an entry's frame starts: in the segment whose first entry is `segment_first`,
/// at byte `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramePosition {
    pub segment_first: u64,
    pub offset: u64,
}

/// The durable part of the log's tree.
#[derive(Debug, Clone, Default)]
pub struct CommittedTree {
    size: u64,
    /// Shared with proof snapshots (copied only if a tile completes while one is alive).
    tile_roots: Arc<Vec<Hash>>,
    /// Where each complete tile's first frame is; `None` when it was already pruned when
    /// the log was opened.
    tile_starts: Arc<Vec<Option<FramePosition>>>,
    /// Leaves of the incomplete last tile.
    partial: Vec<Hash>,
    /// Where the incomplete last tile's first frame is.
    partial_start: Option<FramePosition>,
}

impl CommittedTree {
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Adds the next leaf; `position` is where its frame is, when known.
    pub(crate) fn push(&mut self, leaf: Hash, position: Option<FramePosition>) {
        if self.partial.is_empty() {
            self.partial_start = position;
        }
        self.partial.push(leaf);
        self.size += 1;
        if self.partial.len() as u64 == TILE {
            Arc::make_mut(&mut self.tile_roots).push(root_of(&self.partial));
            Arc::make_mut(&mut self.tile_starts).push(self.partial_start.take());
            self.partial.clear();
        }
    }
}

/// Why a proof was not given.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    /// The request asks for sizes or indexes the log does not have (yet).
    #[error("{0}")]
    OutOfRange(String),
    /// The log's files could not be read back, or no longer match what was committed.
    #[error("reading the audit log back for a proof: {0}")]
    Read(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    pub leaf: Hash,
    pub root: Hash,
    pub path: Vec<Hash>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyProof {
    pub first_root: Hash,
    pub second_root: Hash,
    pub path: Vec<Hash>,
}

/// A snapshot of the committed tree that computes proofs without holding the log's locks
/// (taking one copies at most the incomplete tile's 1,023 leaf hashes); it reads the log
/// directory, so call it off the async runtime.
pub struct TreeView {
    dir: PathBuf,
    tree: CommittedTree,
}

impl TreeView {
    pub(crate) fn new(dir: PathBuf, tree: CommittedTree) -> Self {
        Self { dir, tree }
    }

    /// Durable entries when the snapshot was taken.
    pub fn size(&self) -> u64 {
        self.tree.size
    }

    /// The root of the tree of the first `size` entries.
    pub fn root(&self, size: u64) -> Result<Hash, ProofError> {
        if size > self.tree.size {
            return Err(ProofError::OutOfRange(format!(
                "tree size {size} is more than the {} entries committed",
                self.tree.size
            )));
        }
        if size == 0 {
            return Ok(root_of(&[]));
        }
        Roots::new(self).root(0, size).map_err(ProofError::Read)
    }

    pub fn inclusion(&self, index: u64, tree_size: u64) -> Result<InclusionProof, ProofError> {
        if tree_size == 0 || tree_size > self.tree.size || index >= tree_size {
            return Err(ProofError::OutOfRange(format!(
                "need index < tree_size <= {} (the entries committed)",
                self.tree.size
            )));
        }
        let mut roots = Roots::new(self);
        let mut root_fn = |lo, hi| roots.root(lo, hi);
        let path =
            inclusion_proof_with(index, tree_size, &mut root_fn).map_err(ProofError::Read)?;
        Ok(InclusionProof {
            leaf: roots.root(index, index + 1).map_err(ProofError::Read)?,
            root: roots.root(0, tree_size).map_err(ProofError::Read)?,
            path,
        })
    }

    pub fn consistency(&self, first: u64, second: u64) -> Result<ConsistencyProof, ProofError> {
        if first == 0 || first > second || second > self.tree.size {
            return Err(ProofError::OutOfRange(format!(
                "need 0 < first <= second <= {} (the entries committed)",
                self.tree.size
            )));
        }
        let mut roots = Roots::new(self);
        let mut root_fn = |lo, hi| roots.root(lo, hi);
        let path = consistency_proof_with(first, second, &mut root_fn).map_err(ProofError::Read)?;
        Ok(ConsistencyProof {
            first_root: roots.root(0, first).map_err(ProofError::Read)?,
            second_root: roots.root(0, second).map_err(ProofError::Read)?,
            path,
        })
    }
}

/// Subtree roots for one proof, with the tiles it read.
struct Roots<'a> {
    view: &'a TreeView,
    tiles: HashMap<u64, Vec<Hash>>,
}

impl<'a> Roots<'a> {
    fn new(view: &'a TreeView) -> Self {
        Self {
            view,
            tiles: HashMap::new(),
        }
    }

    /// MTH of leaves `lo..hi`, which must be a node of a tree of at most the committed
    /// size (proof algorithms ask for nothing else).
    fn root(&mut self, lo: u64, hi: u64) -> Result<Hash, String> {
        let tree = &self.view.tree;
        if hi - lo > TILE {
            // Wider than a tile, so it starts on a tile boundary: its root is the root of
            // its tiles' roots, the last possibly incomplete within `hi`.
            let (first, full_end) = ((lo / TILE) as usize, (hi / TILE) as usize);
            let mut nodes = tree
                .tile_roots
                .get(first..full_end)
                .ok_or_else(|| format!("entries {lo}..{hi} are not committed"))?
                .to_vec();
            if !hi.is_multiple_of(TILE) {
                nodes.push(self.root(hi - hi % TILE, hi)?);
            }
            return Ok(root_of(&nodes));
        }
        let tile = lo / TILE;
        let base = tile * TILE;
        if lo == base && hi - lo == TILE {
            if let Some(root) = tree.tile_roots.get(tile as usize) {
                return Ok(*root);
            }
        }
        let leaves = self.tile_leaves(tile)?;
        leaves
            .get((lo - base) as usize..(hi - base) as usize)
            .map(root_of)
            .ok_or_else(|| format!("entries {lo}..{hi} are not committed"))
    }

    fn tile_leaves(&mut self, tile: u64) -> Result<&[Hash], String> {
        let view = self.view;
        let tree = &view.tree;
        if tile as usize == tree.tile_roots.len() {
            return Ok(&view.tree.partial);
        }
        let Some(expected) = tree.tile_roots.get(tile as usize) else {
            return Err(format!("tile {tile} is not committed"));
        };
        if let std::collections::hash_map::Entry::Vacant(slot) = self.tiles.entry(tile) {
            let from = tile * TILE;
            let start = tree.tile_starts.get(tile as usize).copied().flatten();
            let leaves = read_leaves(&view.dir, from, from + TILE, start)?;
            if root_of(&leaves) != *expected {
                return Err(format!(
                    "entries {from}..{} on disk no longer match what was committed; run `portcullis audit verify`",
                    from + TILE
                ));
            }
            slot.insert(leaves);
        }
        Ok(self.tiles.get(&tile).map(Vec::as_slice).unwrap_or_default())
    }
}

/// Leaf hashes of entries `from..to`: pruned ones from the kept hashes, the rest from the
/// segment frames (each checked against its stored hash), starting at `hint` (the frame of
/// entry `from`) when its segment is still there.
fn read_leaves(
    dir: &Path,
    from: u64,
    to: u64,
    hint: Option<FramePosition>,
) -> Result<Vec<Hash>, String> {
    let mut out = Vec::with_capacity((to - from) as usize);
    let pruned = read_manifest(dir)?.entries;
    if from < pruned {
        let end = to.min(pruned);
        let path = dir.join(PRUNED_LEAVES_FILE);
        let io = |e: std::io::Error| format!("{}: {e}", path.display());
        let mut file = File::open(&path).map_err(io)?;
        file.seek(SeekFrom::Start(from * 32)).map_err(io)?;
        let mut bytes = vec![0u8; ((end - from) * 32) as usize];
        file.read_exact(&mut bytes).map_err(io)?;
        for chunk in bytes.chunks_exact(32) {
            let mut leaf = [0u8; 32];
            leaf.copy_from_slice(chunk);
            out.push(leaf);
        }
    }
    let mut next = from.max(pruned);
    if next >= to {
        return Ok(out);
    }
    let segments = list_segments(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let Some(mut at) = segments.iter().rposition(|(first, _)| *first <= next) else {
        return Err(format!("no segment holds entry {next}"));
    };
    let mut offset = match hint {
        Some(h) if h.segment_first == segments[at].0 => h.offset,
        _ => 0,
    };
    loop {
        let (first, path) = &segments[at];
        let io = |e: std::io::Error| format!("{}: {e}", path.display());
        let mut file = File::open(path).map_err(io)?;
        file.seek(SeekFrom::Start(offset)).map_err(io)?;
        let mut reader = BufReader::with_capacity(256 * 1024, file);
        let mut expected: Option<u64> = (offset == 0).then_some(*first);
        while let Some((index, leaf)) =
            read_frame(&mut reader).map_err(|e| format!("{}: {e}", path.display()))?
        {
            if expected.is_some_and(|e| e != index) {
                return Err(format!(
                    "{}: entry {index} where {} was expected",
                    path.display(),
                    expected.unwrap_or_default()
                ));
            }
            expected = Some(index + 1);
            if index >= next {
                out.push(leaf);
                next += 1;
                if next == to {
                    return Ok(out);
                }
            }
        }
        at += 1;
        offset = 0;
        match segments.get(at) {
            Some((first, _)) if *first == next => {}
            _ => {
                return Err(format!(
                    "entries from {next} are missing from the segment files"
                ))
            }
        }
    }
}

/// The next frame's index and leaf hash (checked), or `None` at a clean end of file.
fn read_frame(reader: &mut impl Read) -> Result<Option<(u64, Hash)>, String> {
    let mut len_bytes = [0u8; 4];
    match reader.read_exact(&mut len_bytes) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.to_string()),
    }
    let len = u32::from_le_bytes(len_bytes);
    if !(9..=MAX_ENTRY_BYTES).contains(&len) {
        return Err(format!("frame length {len} is impossible"));
    }
    let mut frame = vec![0u8; len as usize + 32];
    reader.read_exact(&mut frame).map_err(|e| e.to_string())?;
    let (entry, stored) = frame.split_at(len as usize);
    let leaf = leaf_hash(entry);
    if leaf.as_slice() != stored {
        return Err("an entry does not match its leaf hash".into());
    }
    let mut index = [0u8; 8];
    index.copy_from_slice(&entry[..8]);
    Ok(Some((u64::from_be_bytes(index), leaf)))
}
