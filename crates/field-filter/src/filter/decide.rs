//! What happens to each token: the JSON grammar as a state machine, and the policy
//! decisions that copy, mask or drop each member.

use super::FieldFilter;
use crate::compile::{Node, NodeId};
use crate::error::FilterError;
use crate::mask::{Scalar, REDACTED};
use crate::report::Removed;
use crate::{scan, MaskRule, MAX_DEPTH};

/// What may come next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expect {
    /// A value: the root, after `:`, or after `,` in an array.
    Value,
    /// A value or `]`, just after `[`.
    ValueOrClose,
    /// A key or `}`, just after `{`.
    KeyOrClose,
    /// A key, after `,` in an object.
    Key,
    Colon,
    CommaOrClose,
    /// Only whitespace: the root value is complete.
    End,
}

/// How one value (or, for a frame, each of its members) is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Slot {
    /// Removed: already reported, or inside something removed. Still fully validated.
    Drop,
    /// Kept. Masks beneath the node still apply; `None` copies the subtree as it is.
    Copy(Option<NodeId>),
    Mask(MaskRule),
    /// A node on the way to allowed paths: kept only if it is a container of the shape the
    /// node expects, and filtered inside.
    Filter(NodeId),
}

/// An open object or array.
#[derive(Debug, Clone, Copy)]
pub(super) struct Frame {
    pub(super) object: bool,
    /// How its members are treated: `Drop`, `Copy` or `Filter`.
    pub(super) mode: Slot,
    /// A member has been written, so the next one needs a comma.
    pub(super) emitted: bool,
}

/// What a value's first token turned out to need.
enum Action {
    Skip,
    /// Write it; for a container, its members are treated by this mode.
    Keep(Slot),
    Mask(MaskRule),
    /// A root scalar that is not allowed.
    Null,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Object,
    Array,
    Scalar,
}

pub(super) fn root_slot(nodes: &[Node]) -> Slot {
    match nodes.first() {
        Some(root) if root.allowed => copy_slot(nodes, 0),
        _ => Slot::Filter(0),
    }
}

/// A node inside an allowed subtree.
fn copy_slot(nodes: &[Node], id: NodeId) -> Slot {
    let node = &nodes[id as usize];
    match node.mask {
        Some(rule) => Slot::Mask(rule),
        None if node.masks_below => Slot::Copy(Some(id)),
        None => Slot::Copy(None),
    }
}

/// A node reached through intermediate nodes only.
fn filter_slot(nodes: &[Node], id: NodeId) -> Slot {
    let node = &nodes[id as usize];
    if node.mask.is_none() && !node.allowed {
        Slot::Filter(id)
    } else {
        copy_slot(nodes, id)
    }
}

impl FieldFilter<'_> {
    /// Checks that a string may start here; true if it is a key.
    pub(super) fn string_start(&self, at: u64) -> Result<bool, FilterError> {
        match self.expect {
            Expect::Key | Expect::KeyOrClose => Ok(true),
            Expect::Value | Expect::ValueOrClose => Ok(false),
            _ => Err(self.unexpected(at)),
        }
    }

    /// Checks that a value may start here.
    pub(super) fn value_start(&self, at: u64) -> Result<(), FilterError> {
        match self.expect {
            Expect::Value | Expect::ValueOrClose => Ok(()),
            _ => Err(self.unexpected(at)),
        }
    }

    /// The error for a byte that cannot come next.
    pub(super) fn unexpected(&self, at: u64) -> FilterError {
        if self.expect == Expect::End {
            return FilterError::TrailingData { offset: at };
        }
        FilterError::Malformed {
            offset: at,
            expected: self.expected(),
        }
    }

    pub(super) fn expected(&self) -> &'static str {
        let in_object = self.stack.last().is_some_and(|f| f.object);
        match self.expect {
            Expect::Value => "a JSON value",
            Expect::ValueOrClose => "a JSON value or ']'",
            Expect::KeyOrClose => "a string key or '}'",
            Expect::Key => "a string key",
            Expect::Colon => "':'",
            Expect::CommaOrClose if in_object => "',' or '}'",
            Expect::CommaOrClose => "',' or ']'",
            Expect::End => "the end of the body",
        }
    }

    /// A complete key token, with its quotes (`escaped`: it has a backslash). Decides how its
    /// value will be treated and writes the key now unless that depends on the value's shape.
    pub(super) fn key(&mut self, token: &[u8], escaped: bool, out: &mut Vec<u8>) {
        let raw = &token[1..token.len() - 1];
        let nodes = self.nodes;
        let mode = self.stack.last().map_or(Slot::Drop, |f| f.mode);
        self.pending = match mode {
            Slot::Drop | Slot::Mask(_) => Slot::Drop,
            Slot::Copy(None) => Slot::Copy(None),
            Slot::Copy(Some(id)) => match self.child(id, raw, escaped) {
                Some(child) => copy_slot(nodes, child),
                None => Slot::Copy(None),
            },
            Slot::Filter(id) => match self.child(id, raw, escaped) {
                Some(child) => filter_slot(nodes, child),
                None => {
                    // `child` left the unescaped key in `scratch` if it had escapes.
                    let key = if escaped {
                        self.scratch.as_slice()
                    } else {
                        raw
                    };
                    self.removals.add(id, Removed::Key, key);
                    Slot::Drop
                }
            },
        };
        match self.pending {
            Slot::Drop => {}
            Slot::Filter(_) => {
                self.held_key.clear();
                self.held_key.extend_from_slice(token);
            }
            Slot::Copy(_) | Slot::Mask(_) => {
                if let Some(frame) = self.stack.last_mut() {
                    if frame.emitted {
                        out.push(b',');
                    }
                    frame.emitted = true;
                }
                out.extend_from_slice(token);
                out.push(b':');
            }
        }
        self.expect = Expect::Colon;
    }

    /// The child of a node for a raw key, compared unescaped. Keys without a backslash (nearly
    /// all) are compared as they are.
    fn child(&mut self, id: NodeId, raw: &[u8], escaped: bool) -> Option<NodeId> {
        let node = &self.nodes[id as usize];
        if !escaped {
            return node.key(raw);
        }
        self.scratch.clear();
        scan::unescape(raw, &mut self.scratch);
        node.key(&self.scratch)
    }

    /// Decides a value's fate from its first token, writing whatever precedes it in its
    /// container (comma, held key) if it is kept.
    fn begin_value(&mut self, shape: Shape, out: &mut Vec<u8>) -> Action {
        let nodes = self.nodes;
        let top = self.stack.last().map(|f| (f.object, f.mode));
        let slot = match top {
            None => self.root,
            Some((true, _)) => self.pending,
            Some((false, mode)) => self.element_slot(mode),
        };
        let action = match slot {
            Slot::Drop => return Action::Skip,
            Slot::Copy(_) => Action::Keep(slot),
            Slot::Mask(rule) => Action::Mask(rule),
            Slot::Filter(id) => {
                let node = &nodes[id as usize];
                // The root container is always kept, so that `deny_all` still answers `{}` or
                // `[]`; deeper down the shape must be one the policy names.
                let fits = match shape {
                    Shape::Object => top.is_none() || !node.keys.is_empty(),
                    Shape::Array => top.is_none() || node.each.is_some(),
                    Shape::Scalar => false,
                };
                if fits {
                    Action::Keep(slot)
                } else {
                    self.removals.add(id, Removed::Node, b"");
                    if top.is_none() {
                        Action::Null
                    } else {
                        return Action::Skip;
                    }
                }
            }
        };
        if let Some(frame) = self.stack.last_mut() {
            // Object members other than `Filter` ones had their key written already.
            let key_held = frame.object && matches!(slot, Slot::Filter(_));
            if !frame.object || key_held {
                if frame.emitted {
                    out.push(b',');
                }
                frame.emitted = true;
            }
            if key_held {
                out.extend_from_slice(&self.held_key);
                out.push(b':');
            }
        }
        action
    }

    /// How the next element of an array treated by `mode` is treated.
    fn element_slot(&mut self, mode: Slot) -> Slot {
        let nodes = self.nodes;
        match mode {
            Slot::Drop | Slot::Mask(_) => Slot::Drop,
            Slot::Copy(None) => Slot::Copy(None),
            Slot::Copy(Some(id)) => match nodes[id as usize].each {
                Some(each) => copy_slot(nodes, each),
                None => Slot::Copy(None),
            },
            Slot::Filter(id) => match nodes[id as usize].each {
                Some(each) => filter_slot(nodes, each),
                // Only a root array can be open without `[*]` in the policy.
                None => {
                    self.removals.add(id, Removed::Each, b"");
                    Slot::Drop
                }
            },
        }
    }

    /// A complete scalar token (a string with its quotes).
    pub(super) fn scalar(&mut self, kind: Scalar, token: &[u8], out: &mut Vec<u8>) {
        match self.begin_value(Shape::Scalar, out) {
            Action::Skip => {}
            Action::Keep(_) => out.extend_from_slice(token),
            Action::Mask(rule) => {
                let raw = match kind {
                    Scalar::String => &token[1..token.len() - 1],
                    Scalar::Number | Scalar::Literal => token,
                };
                self.masker.scalar(rule, kind, raw, &mut self.scratch, out);
                self.masked += 1;
            }
            Action::Null => out.extend_from_slice(b"null"),
        }
        self.after_value();
    }

    pub(super) fn open(
        &mut self,
        object: bool,
        at: u64,
        out: &mut Vec<u8>,
    ) -> Result<(), FilterError> {
        self.value_start(at)?;
        if self.stack.len() == MAX_DEPTH {
            return Err(FilterError::TooDeep { offset: at });
        }
        let shape = if object { Shape::Object } else { Shape::Array };
        let mode = match self.begin_value(shape, out) {
            Action::Skip | Action::Null => Slot::Drop,
            Action::Keep(mode) => {
                out.push(if object { b'{' } else { b'[' });
                mode
            }
            Action::Mask(_) => {
                out.extend_from_slice(REDACTED);
                self.masked += 1;
                Slot::Drop
            }
        };
        self.stack.push(Frame {
            object,
            mode,
            emitted: false,
        });
        self.expect = if object {
            Expect::KeyOrClose
        } else {
            Expect::ValueOrClose
        };
        Ok(())
    }

    pub(super) fn close(
        &mut self,
        object: bool,
        at: u64,
        out: &mut Vec<u8>,
    ) -> Result<(), FilterError> {
        let fits = match (self.expect, self.stack.last()) {
            (Expect::CommaOrClose, Some(frame)) => frame.object == object,
            (Expect::KeyOrClose, Some(_)) => object,
            (Expect::ValueOrClose, Some(_)) => !object,
            _ => false,
        };
        if !fits {
            return Err(self.unexpected(at));
        }
        let frame = self.stack.pop();
        if frame.is_some_and(|f| f.mode != Slot::Drop) {
            out.push(if object { b'}' } else { b']' });
        }
        self.after_value();
        Ok(())
    }

    pub(super) fn comma(&mut self, at: u64) -> Result<(), FilterError> {
        match self.stack.last() {
            Some(frame) if self.expect == Expect::CommaOrClose => {
                self.expect = if frame.object {
                    Expect::Key
                } else {
                    Expect::Value
                };
                Ok(())
            }
            _ => Err(self.unexpected(at)),
        }
    }

    pub(super) fn colon(&mut self, at: u64) -> Result<(), FilterError> {
        if self.expect != Expect::Colon {
            return Err(self.unexpected(at));
        }
        self.expect = Expect::Value;
        Ok(())
    }

    fn after_value(&mut self) {
        self.expect = if self.stack.is_empty() {
            Expect::End
        } else {
            Expect::CommaOrClose
        };
    }
}
