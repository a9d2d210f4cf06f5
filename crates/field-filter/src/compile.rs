//! Compiling a declared policy into the tree the filter walks.

use std::fmt;

use crate::path::{self, Step};
use crate::policy::{FieldPolicy, MaskRule};
use crate::MAX_DEPTH;

/// Index of a node in [`CompiledFieldPolicy::nodes`]; the root is 0.
pub(crate) type NodeId = u32;

/// One position in the document that the policy names: the root, a key, or `[*]`.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// Children by key. A node rarely has more than a handful, and a linear scan comparing
    /// lengths and first bytes beats hashing the key.
    pub(crate) keys: Vec<Child>,
    /// The `[*]` child: each element when the value here is an array.
    pub(crate) each: Option<NodeId>,
    /// The whole subtree is allowed.
    pub(crate) allowed: bool,
    /// The value here is masked (this wins over `allowed` and over anything below).
    pub(crate) mask: Option<MaskRule>,
    /// Some descendant is masked, so an allowed subtree still has to be walked key by key.
    pub(crate) masks_below: bool,
    /// Normalized path for reports, `""` for the root.
    pub(crate) path: Box<str>,
}

impl Node {
    fn new(path: String) -> Self {
        Node {
            keys: Vec::new(),
            each: None,
            allowed: false,
            mask: None,
            masks_below: false,
            path: path.into_boxed_str(),
        }
    }

    /// The child for a key, compared as unescaped bytes.
    pub(crate) fn key(&self, key: &[u8]) -> Option<NodeId> {
        let (head, tail) = (head(key), tail(key));
        self.keys
            .iter()
            .find(|c| {
                c.head == head
                    && c.tail == tail
                    && c.key.len() == key.len()
                    // Head and tail overlap up to 16 bytes; only longer keys need the middle.
                    && (key.len() <= 16 || *c.key == *key)
            })
            .map(|c| c.id)
    }
}

/// A keyed child of a node.
#[derive(Debug, Clone)]
pub(crate) struct Child {
    /// The first and last bytes of the key: most keys are decided by these two comparisons,
    /// without a call to `memcmp`.
    head: u64,
    tail: u64,
    key: Box<[u8]>,
    pub(crate) id: NodeId,
}

/// Up to the first 8 bytes of a key, zero-padded. Built in registers: copying into a
/// buffer and loading it back stalls on store forwarding, which showed in profiles.
#[inline]
fn head(key: &[u8]) -> u64 {
    match key.first_chunk::<8>() {
        Some(first) => u64::from_le_bytes(*first),
        None => key
            .iter()
            .rev()
            .fold(0, |acc, &b| (acc << 8) | u64::from(b)),
    }
}

/// The last 8 bytes of a key, or 0 for keys that `head` holds whole.
#[inline]
fn tail(key: &[u8]) -> u64 {
    key.last_chunk::<8>()
        .map_or(0, |last| u64::from_le_bytes(*last))
}

/// A policy ready to filter with. `Send + Sync`; share it in an `Arc`.
#[derive(Debug, Clone)]
pub struct CompiledFieldPolicy {
    pub(crate) nodes: Vec<Node>,
    uses_hash: bool,
}

impl CompiledFieldPolicy {
    /// Checks every path and builds the tree. All problems are reported, not just the first.
    pub fn compile(policy: &FieldPolicy) -> Result<Self, PolicyError> {
        let allow = policy
            .allow
            .iter()
            .enumerate()
            .map(|(i, p)| (format!("allow[{i}]"), p.as_str()));
        build(policy, allow)
    }

    /// The default for a grant with no policy for an operation: nothing passes. A root object
    /// becomes `{}`, a root array `[]`, a root scalar `null`.
    pub fn deny_all() -> Self {
        CompiledFieldPolicy {
            nodes: vec![Node::new(String::new())],
            uses_hash: false,
        }
    }

    /// Whether any mask hashes, i.e. whether filtering needs the partner's hash key.
    pub fn uses_hash(&self) -> bool {
        self.uses_hash
    }

    /// Walks from the root to the node for `steps`, creating nodes on the way.
    fn node_for(&mut self, steps: &[Step]) -> NodeId {
        let mut at: NodeId = 0;
        for (depth, step) in steps.iter().enumerate() {
            let existing = match step {
                Step::Key(key) => self.nodes[at as usize].key(key.as_bytes()),
                Step::Each => self.nodes[at as usize].each,
            };
            at = match existing {
                Some(id) => id,
                None => {
                    // Paths are at most MAX_DEPTH steps and there are few of them, so node
                    // counts stay far below u32::MAX.
                    let id = self.nodes.len() as NodeId;
                    self.nodes.push(Node::new(path::render(&steps[..=depth])));
                    let parent = &mut self.nodes[at as usize];
                    match step {
                        Step::Key(key) => parent.keys.push(Child {
                            head: head(key.as_bytes()),
                            tail: tail(key.as_bytes()),
                            key: key.as_bytes().into(),
                            id,
                        }),
                        Step::Each => parent.each = Some(id),
                    }
                    id
                }
            };
        }
        at
    }
}

fn build<'a>(
    source: &FieldPolicy,
    allow: impl Iterator<Item = (String, &'a str)>,
) -> Result<CompiledFieldPolicy, PolicyError> {
    let mut compiled = CompiledFieldPolicy::deny_all();
    let mut problems = Vec::new();
    let mut problem = |entry: String, path: &str, kind| {
        problems.push(PolicyProblem {
            entry,
            path: path.to_owned(),
            kind,
        })
    };

    for (entry, raw) in allow {
        match path::parse(raw) {
            Ok(None) => compiled.nodes[0].allowed = true,
            Ok(Some(steps)) => {
                let id = compiled.node_for(&steps);
                compiled.nodes[id as usize].allowed = true;
            }
            Err(kind) => problem(entry, raw, kind),
        }
    }

    // Which mask entry set each node's mask, to name both sides of a conflict.
    let mut mask_entry: Vec<(NodeId, usize)> = Vec::new();
    for (i, mask) in source.mask.iter().enumerate() {
        let entry = format!("mask[{i}]");
        match path::parse(&mask.path) {
            Ok(None) => problem(entry, &mask.path, ProblemKind::MaskEverything),
            Ok(Some(steps)) => {
                let id = compiled.node_for(&steps);
                let node = &mut compiled.nodes[id as usize];
                match node.mask {
                    Some(rule) if rule != mask.rule => {
                        let first = mask_entry
                            .iter()
                            .find(|&&(n, _)| n == id)
                            .map_or(0, |&(_, e)| e);
                        problem(entry, &mask.path, ProblemKind::MaskConflict { first });
                    }
                    Some(_) => {}
                    None => {
                        node.mask = Some(mask.rule);
                        mask_entry.push((id, i));
                    }
                }
            }
            Err(kind) => problem(entry, &mask.path, kind),
        }
    }

    if !problems.is_empty() {
        return Err(PolicyError { problems });
    }
    // Children are always created after their parents, so one backwards pass sees every
    // child before its parent.
    for id in (0..compiled.nodes.len()).rev() {
        let node = &compiled.nodes[id];
        let below = node.keys.iter().map(|c| c.id).chain(node.each).any(|c| {
            let child = &compiled.nodes[c as usize];
            child.mask.is_some() || child.masks_below
        });
        compiled.nodes[id].masks_below = below;
    }
    compiled.uses_hash = source.mask.iter().any(|m| matches!(m.rule, MaskRule::Hash));
    Ok(compiled)
}

/// A policy that cannot be compiled; lists every problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    problems: Vec<PolicyProblem>,
}

impl PolicyError {
    /// Each offending entry, in policy order (allow entries first).
    pub fn problems(&self) -> &[PolicyProblem] {
        &self.problems
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyError {}

/// One offending policy entry: `allow[2] "Data..Id": empty segment at character 6; write
/// paths like Data.Account[*].AccountId`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{entry} {path:?}: {kind}")]
pub struct PolicyProblem {
    /// Which entry: `allow[2]` or `mask[0]`.
    pub entry: String,
    /// The path as written.
    pub path: String,
    /// What is wrong with it.
    pub kind: ProblemKind,
}

const EXAMPLE: &str = "write paths like Data.Account[*].AccountId";

/// What is wrong with a policy path; each message says how to fix it. Positions count
/// characters from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProblemKind {
    #[error("empty path; {EXAMPLE}, or `*` for the whole document")]
    Empty,
    #[error("empty segment at character {position}; {EXAMPLE}")]
    EmptySegment { position: usize },
    #[error("character {found:?} at {position} is not allowed in a key (letters, digits, _ - $ @); {EXAMPLE}")]
    BadChar { found: char, position: usize },
    #[error("`*` at character {position} is only allowed alone (the whole document) or as `[*]`; {EXAMPLE}")]
    Star { position: usize },
    #[error("`[{index}]` at character {position} picks one element, which is not supported; use `[*]` for each element")]
    Index { index: String, position: usize },
    #[error("`[` at character {position} must be followed by `*]`; {EXAMPLE}")]
    Bracket { position: usize },
    #[error("more than {MAX_DEPTH} levels deep, which no accepted document reaches")]
    TooDeep,
    #[error("a mask cannot cover the whole document; mask a field path such as Data.Customer[*].DocumentNumber")]
    MaskEverything,
    #[error("also masked by mask[{first}] with a different rule; keep one rule per path")]
    MaskConflict { first: usize },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys of every length that differ in one byte anywhere never match each other.
    #[test]
    fn key_lookup_compares_every_byte() {
        for len in 1..40 {
            let key: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            let mut node = Node::new(String::new());
            node.keys.push(Child {
                head: head(&key),
                tail: tail(&key),
                key: key.clone().into(),
                id: 7,
            });
            assert_eq!(node.key(&key), Some(7));
            for at in 0..len {
                let mut other = key.clone();
                other[at] = b'Z';
                assert_eq!(node.key(&other), None, "len {len}, differing at {at}");
            }
            assert_eq!(node.key(&key[..len - 1]), None);
            assert_eq!(node.key(&[key.as_slice(), b"\0"].concat()), None);
        }
    }
}
