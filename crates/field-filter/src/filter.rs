//! The streaming filter: a push tokenizer over the body, feeding the decisions in
//! [`decide`] token by token.
//!
//! Tokens are handled whole. One that is cut by the end of a chunk (only strings, numbers and
//! `true`/`false`/`null` can be) is copied into a carry buffer and finished from the next
//! chunk; everything else is processed straight from the caller's buffer. Since a token's
//! verdict never depends on where the chunks were cut, any chunking gives the same output.

mod decide;

use memchr::memchr;

use crate::compile::{CompiledFieldPolicy, Node};
use crate::error::FilterError;
use crate::mask::{Masker, Scalar};
use crate::report::Removals;
use crate::scan::{self, Bad, ScanError, StrScan};
use crate::{FilterReport, HashKey, MAX_TOKEN_BYTES};

use decide::{Expect, Frame, Slot};

/// A token cut by the end of a chunk, waiting in the carry buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Partial {
    None,
    /// A string; its bytes up to `resume` are already validated.
    String {
        resume: usize,
    },
    Number,
    /// A literal; the carried bytes are a correct prefix of this.
    Literal(&'static [u8]),
}

/// Filters one JSON document, pushed in chunks of any size.
pub struct FieldFilter<'p> {
    policy: &'p CompiledFieldPolicy,
    nodes: &'p [Node],
    masker: Masker,
    /// How the root value is treated.
    root: Slot,
    /// Open containers, innermost last; at most `MAX_DEPTH`.
    stack: Vec<Frame>,
    expect: Expect,
    /// How the value after the current key is treated.
    pending: Slot,
    /// The current key (raw, with quotes) when whether it is written depends on its value's
    /// shape, which is not known until the value's first byte.
    held_key: Vec<u8>,
    carry: Vec<u8>,
    /// Offset in the body of `carry[0]`.
    carry_start: u64,
    partial: Partial,
    /// Bytes of the body consumed so far: the offset of the next chunk.
    offset: u64,
    removals: Removals,
    masked: u64,
    /// Reused for unescaping keys and masked strings.
    scratch: Vec<u8>,
    /// Once failed, the filter keeps failing with the same error.
    failed: Option<FilterError>,
}

impl<'p> FieldFilter<'p> {
    /// Starts filtering one document with a partner's policy and hash key.
    pub fn new(policy: &'p CompiledFieldPolicy, key: &'p HashKey) -> Self {
        let nodes = policy.nodes.as_slice();
        FieldFilter {
            policy,
            nodes,
            masker: Masker::new(key),
            root: decide::root_slot(nodes),
            // Deep enough for most documents without regrowth.
            stack: Vec::with_capacity(16),
            expect: Expect::Value,
            pending: Slot::Drop,
            held_key: Vec::new(),
            carry: Vec::new(),
            carry_start: 0,
            partial: Partial::None,
            offset: 0,
            removals: Removals::default(),
            masked: 0,
            scratch: Vec::new(),
            failed: None,
        }
    }

    /// Filters the next chunk of the body, appending to `out`. Accepts any chunking; the
    /// output is the same as for the whole body at once. On error, discard `out`.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), FilterError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        let result = self.feed_chunk(input, out);
        if let Err(error) = &result {
            self.failed = Some(error.clone());
        }
        result
    }

    /// Ends the body. Fails if it was truncated or malformed; on error, discard `out`.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<FilterReport, FilterError> {
        if let Some(error) = self.failed.take() {
            return Err(error);
        }
        let expected = match self.partial {
            Partial::None => None,
            // The end of the body ends a number; one that needed more (`-`, `1.`, `1e`) was
            // cut short rather than malformed.
            Partial::Number => {
                let token = std::mem::take(&mut self.carry);
                match scan::number(&token) {
                    Err(e) if e.at == token.len() => Some("the rest of a number"),
                    _ => {
                        self.number(&token, self.carry_start, out)?;
                        None
                    }
                }
            }
            Partial::String { .. } => Some("the closing quote of a string"),
            Partial::Literal(_) => Some("the rest of true, false or null"),
        };
        if let Some(expected) = expected {
            return Err(self.truncated(expected));
        }
        if self.expect != Expect::End {
            return Err(self.truncated(self.expected()));
        }
        Ok(FilterReport {
            removed: self.removals.paths(self.policy),
            truncated: self.removals.truncated(),
            masked: self.masked,
        })
    }

    fn truncated(&self, expected: &'static str) -> FilterError {
        FilterError::Truncated {
            offset: self.offset,
            expected,
        }
    }

    fn feed_chunk(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), FilterError> {
        let mut rest = input;
        if self.partial != Partial::None {
            let used = self.complete_partial(rest, out)?;
            self.offset += used as u64;
            rest = &rest[used..];
            if self.partial != Partial::None {
                return Ok(());
            }
        }
        self.run(rest, out)?;
        self.offset += rest.len() as u64;
        Ok(())
    }

    /// Tokenizes `buf`, which starts at `self.offset`, up to its end or to a cut token.
    fn run(&mut self, buf: &[u8], out: &mut Vec<u8>) -> Result<(), FilterError> {
        let base = self.offset;
        let len = buf.len();
        let mut i = 0;
        while i < len {
            let at = base + i as u64;
            match buf[i] {
                b' ' | b'\t' | b'\n' | b'\r' => i += 1,
                b'"' => {
                    let is_key = self.string_start(at)?;
                    // Looking no further than the token limit bounds the work on a huge string.
                    let window = &buf[..len.min(i + MAX_TOKEN_BYTES)];
                    match scan::string(window, i + 1).map_err(|e| scan_error(base, e))? {
                        StrScan::Done { end, escaped } => {
                            self.string(is_key, &buf[i..end], escaped, out);
                            i = end;
                            // Compact JSON has ':' right after a key and often ',' right after
                            // a value; taking them here skips a hard-to-predict dispatch.
                            match buf.get(i) {
                                Some(b':') if is_key => {
                                    self.colon(base + i as u64)?;
                                    i += 1;
                                }
                                Some(b',') if !is_key => {
                                    self.comma(base + i as u64)?;
                                    i += 1;
                                }
                                _ => {}
                            }
                        }
                        StrScan::More(_) if window.len() - i == MAX_TOKEN_BYTES => {
                            return Err(FilterError::TokenTooLarge { offset: at });
                        }
                        StrScan::More(resume) => {
                            self.hold(&buf[i..], at, Partial::String { resume: resume - i });
                            return Ok(());
                        }
                    }
                }
                b'-' | b'0'..=b'9' => {
                    self.value_start(at)?;
                    let run = scan::number_len(&buf[i..len.min(i + MAX_TOKEN_BYTES + 1)]);
                    if run > MAX_TOKEN_BYTES {
                        return Err(FilterError::TokenTooLarge { offset: at });
                    }
                    if i + run == len {
                        // The next chunk may continue the number.
                        self.hold(&buf[i..], at, Partial::Number);
                        return Ok(());
                    }
                    self.number(&buf[i..i + run], at, out)?;
                    i += run;
                }
                first @ (b't' | b'f' | b'n') => {
                    self.value_start(at)?;
                    let want = scan::literal_for(first);
                    let have = &buf[i..len.min(i + want.len())];
                    if let Some(k) = scan::literal_mismatch(have, want) {
                        return Err(malformed(at + k as u64, Bad::Literal));
                    }
                    if have.len() < want.len() {
                        self.hold(have, at, Partial::Literal(want));
                        return Ok(());
                    }
                    self.scalar(Scalar::Literal, want, out);
                    i += want.len();
                }
                open @ (b'{' | b'[') => {
                    self.open(open == b'{', at, out)?;
                    i += 1;
                }
                close @ (b'}' | b']') => {
                    self.close(close == b'}', at, out)?;
                    i += 1;
                }
                b',' => {
                    self.comma(at)?;
                    i += 1;
                }
                b':' => {
                    self.colon(at)?;
                    i += 1;
                }
                _ => return Err(self.unexpected(at)),
            }
        }
        Ok(())
    }

    /// Keeps a cut token for the next chunk.
    fn hold(&mut self, bytes: &[u8], at: u64, partial: Partial) {
        self.carry.clear();
        self.carry.extend_from_slice(bytes);
        self.carry_start = at;
        self.partial = partial;
    }

    /// Continues the carried token with the start of `input`; returns how many bytes it
    /// took. When the token completes it is processed and `partial` becomes `None`.
    fn complete_partial(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, FilterError> {
        let at = self.carry_start;
        let used = match self.partial {
            Partial::None => return Ok(0),
            Partial::String { mut resume } => {
                let mut used = 0;
                loop {
                    let rest = &input[used..];
                    // The string cannot end before the next quote, so take that much at a time.
                    let room = MAX_TOKEN_BYTES - self.carry.len();
                    let piece = memchr(b'"', rest).map_or(rest.len(), |k| k + 1).min(room);
                    self.carry.extend_from_slice(&rest[..piece]);
                    used += piece;
                    match scan::string(&self.carry, resume).map_err(|e| scan_error(at, e))? {
                        StrScan::Done { end, .. } => {
                            // The piece stopped at the first quote, so `end` is the carry's
                            // length; give back anything past it all the same.
                            used -= self.carry.len() - end;
                            self.carry.truncate(end);
                            break used;
                        }
                        StrScan::More(_) if self.carry.len() == MAX_TOKEN_BYTES => {
                            return Err(FilterError::TokenTooLarge { offset: at });
                        }
                        StrScan::More(next) if used == input.len() => {
                            self.partial = Partial::String { resume: next };
                            return Ok(used);
                        }
                        StrScan::More(next) => resume = next,
                    }
                }
            }
            Partial::Number => {
                let room = MAX_TOKEN_BYTES + 1 - self.carry.len();
                let run = scan::number_len(&input[..input.len().min(room)]);
                self.carry.extend_from_slice(&input[..run]);
                if self.carry.len() > MAX_TOKEN_BYTES {
                    return Err(FilterError::TokenTooLarge { offset: at });
                }
                if run == input.len() {
                    return Ok(run);
                }
                run
            }
            Partial::Literal(want) => {
                let take = (want.len() - self.carry.len()).min(input.len());
                self.carry.extend_from_slice(&input[..take]);
                if let Some(k) = scan::literal_mismatch(&self.carry, want) {
                    return Err(malformed(at + k as u64, Bad::Literal));
                }
                if self.carry.len() < want.len() {
                    return Ok(take);
                }
                take
            }
        };
        let partial = std::mem::replace(&mut self.partial, Partial::None);
        // Moved out so the token can be processed while `self` is borrowed mutably.
        let mut token = std::mem::take(&mut self.carry);
        let result = match partial {
            Partial::String { .. } => {
                let is_key = matches!(self.expect, Expect::Key | Expect::KeyOrClose);
                // Escapes may be in any of the pieces; this path runs once per chunk at most.
                let escaped = memchr(b'\\', &token).is_some();
                self.string(is_key, &token, escaped, out);
                Ok(())
            }
            Partial::Number => self.number(&token, at, out),
            Partial::Literal(want) => {
                self.scalar(Scalar::Literal, want, out);
                Ok(())
            }
            Partial::None => Ok(()),
        };
        token.clear();
        self.carry = token;
        result.map(|()| used)
    }

    /// A complete string token: a key or a value, as checked by `string_start`. `escaped`:
    /// it has a backslash.
    fn string(&mut self, is_key: bool, token: &[u8], escaped: bool, out: &mut Vec<u8>) {
        if is_key {
            self.key(token, escaped, out);
        } else {
            self.scalar(Scalar::String, token, out);
        }
    }

    /// A complete number token.
    fn number(&mut self, token: &[u8], at: u64, out: &mut Vec<u8>) -> Result<(), FilterError> {
        scan::number(token).map_err(|e| scan_error(at, e))?;
        self.scalar(Scalar::Number, token, out);
        Ok(())
    }
}

fn malformed(offset: u64, bad: Bad) -> FilterError {
    FilterError::Malformed {
        offset,
        expected: bad.expected(),
    }
}

/// Places a scanner error found in a buffer starting at `base`.
fn scan_error(base: u64, e: ScanError) -> FilterError {
    let offset = base + e.at as u64;
    match e.bad {
        Bad::Utf8 => FilterError::InvalidUtf8 { offset },
        bad => malformed(offset, bad),
    }
}

#[cfg(test)]
mod tests;
