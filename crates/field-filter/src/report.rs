//! Collecting the distinct paths of removed members.

use crate::compile::{CompiledFieldPolicy, NodeId};
use crate::removed::RemovedPaths;

/// Most distinct removed paths a report lists.
pub(crate) const MAX_REMOVED: usize = 64;

/// Where under a policy node something was removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Removed {
    /// The value at the node itself (its shape did not match the policy).
    Node,
    /// A member whose key the node does not name.
    Key,
    /// An element of an array at the node (only at a root without `[*]`).
    Each,
}

struct Entry {
    node: NodeId,
    what: Removed,
    /// Where its unescaped key (for `Removed::Key`) is in `Removals::keys`.
    key: std::ops::Range<usize>,
}

/// Remembers removals by policy node and key rather than by rendered path, so a removal
/// that was already seen costs a few comparisons and no allocation. The keys share one
/// buffer: a response that loses many members costs one allocation, not one each.
#[derive(Default)]
pub(crate) struct Removals {
    entries: Vec<Entry>,
    keys: Vec<u8>,
    truncated: bool,
}

impl Removals {
    pub(crate) fn add(&mut self, node: NodeId, what: Removed, key: &[u8]) {
        if self.truncated {
            return;
        }
        let seen = self
            .entries
            .iter()
            .any(|e| e.node == node && e.what == what && self.keys[e.key.clone()] == *key);
        if seen {
            return;
        }
        if self.entries.len() == MAX_REMOVED {
            self.truncated = true;
            return;
        }
        if self.entries.is_empty() {
            // A response that loses members usually loses several: grow once, not thrice.
            self.entries.reserve(16);
            self.keys.reserve(256);
        }
        let start = self.keys.len();
        self.keys.extend_from_slice(key);
        self.entries.push(Entry {
            node,
            what,
            key: start..self.keys.len(),
        });
    }

    pub(crate) fn truncated(&self) -> bool {
        self.truncated
    }

    /// Renders the normalized paths, e.g. `Data.Customer[*].DateOfBirth`, into one buffer.
    pub(crate) fn paths(&self, policy: &CompiledFieldPolicy) -> RemovedPaths {
        let base = |e: &Entry| policy.nodes.get(e.node as usize).map_or("", |n| &*n.path);
        let bytes = self
            .entries
            .iter()
            .map(|e| base(e).len() + e.key.len() + 4)
            .sum();
        let mut paths = RemovedPaths::with_capacity(self.entries.len(), bytes);
        for e in &self.entries {
            let base = base(e);
            paths.push_with(|path| match e.what {
                Removed::Node if base.is_empty() => path.push('*'),
                Removed::Node => path.push_str(base),
                Removed::Each => {
                    path.push_str(base);
                    path.push_str("[*]");
                }
                Removed::Key => {
                    if !base.is_empty() {
                        path.push_str(base);
                        path.push('.');
                    }
                    push_key(path, &self.keys[e.key.clone()]);
                }
            });
        }
        paths
    }
}

/// Appends a key as text. Keys come from validated JSON so they are UTF-8; control
/// characters are written escaped so a report can go into a log line as it is.
fn push_key(path: &mut String, key: &[u8]) {
    if let Ok(text) = std::str::from_utf8(key) {
        if !text.chars().any(char::is_control) {
            path.push_str(text);
            return;
        }
    }
    for ch in String::from_utf8_lossy(key).chars() {
        if ch.is_control() {
            path.extend(ch.escape_unicode());
        } else {
            path.push(ch);
        }
    }
}
