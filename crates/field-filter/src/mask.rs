//! Masked forms of values, and the partner key for `hash`.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::hmac;

use crate::policy::MaskRule;
use crate::scan;

/// What `redact`, and any rule that cannot mask a value's type, emits.
pub(crate) const REDACTED: &[u8] = b"\"[REDACTED]\"";

/// Length of the hash text after `h:`: 132 bits, plenty to join records on without
/// collisions while keeping values short.
const HASH_CHARS: usize = 22;

/// Domain separation for [`HashKey::derive`], so these keys never equal an HMAC computed for
/// another purpose from the same master secret.
const DERIVE_LABEL: &[u8] = b"portcullis field hash v1\0";

/// Key for the `hash` mask rule, one per partner. Its `Debug` output hides the key.
#[derive(Clone)]
pub struct HashKey([u8; 32]);

impl HashKey {
    /// Uses `bytes` as the key directly.
    pub fn new(bytes: [u8; 32]) -> Self {
        HashKey(bytes)
    }

    /// Per-partner key from a gateway master secret, so a partner can join records across
    /// responses but different partners get unrelated hashes:
    /// `HMAC-SHA256(master, "portcullis field hash v1\0" || partner_id)`.
    pub fn derive(master: &[u8], partner_id: &str) -> Self {
        let key = hmac::Key::new(hmac::HMAC_SHA256, master);
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(DERIVE_LABEL);
        ctx.update(partner_id.as_bytes());
        let mut bytes = [0; 32];
        bytes.copy_from_slice(ctx.sign().as_ref());
        HashKey(bytes)
    }
}

impl fmt::Debug for HashKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HashKey(..)")
    }
}

/// The kind of scalar being masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scalar {
    /// Raw string contents, without quotes, still escaped.
    String,
    Number,
    /// `true`, `false` or `null`.
    Literal,
}

/// Values up to this long have their hashes remembered.
const MEMO_VALUE_BYTES: usize = 48;
/// How many recent hashes are remembered.
const MEMO_ENTRIES: usize = 8;

/// A recently hashed value and its hash text.
#[derive(Clone, Copy)]
struct Memo {
    len: u8,
    value: [u8; MEMO_VALUE_BYTES],
    hash: [u8; HASH_CHARS],
}

/// Writes masked values for one filter run.
pub(crate) struct Masker {
    /// The partner's key, made into an HMAC key (its pads hashed) only when a value is
    /// first hashed: most policies hash nothing, and their runs should not pay for it.
    secret: [u8; 32],
    key: Option<hmac::Key>,
    /// Lists repeat values (every transaction of an account carries its AccountId), and an
    /// HMAC costs far more than comparing a few bytes: it was a third of the time on a
    /// transaction list. Per run only, so nothing is shared between partners.
    recent: Vec<Memo>,
    /// Next entry of `recent` to replace once it is full.
    next: usize,
}

impl Masker {
    pub(crate) fn new(key: &HashKey) -> Self {
        Masker {
            secret: key.0,
            key: None,
            recent: Vec::new(),
            next: 0,
        }
    }

    /// Appends the masked form of a scalar. `scratch` is reused between calls to avoid
    /// allocating per value.
    pub(crate) fn scalar(
        &mut self,
        rule: MaskRule,
        kind: Scalar,
        raw: &[u8],
        scratch: &mut Vec<u8>,
        out: &mut Vec<u8>,
    ) {
        let text = match kind {
            Scalar::String => {
                scratch.clear();
                scan::unescape(raw, scratch);
                scratch.as_slice()
            }
            Scalar::Number | Scalar::Literal => raw,
        };
        match (rule, kind) {
            (MaskRule::Redact, _) | (MaskRule::KeepLast { .. }, Scalar::Literal) => {
                out.extend_from_slice(REDACTED)
            }
            (MaskRule::KeepLast { chars }, _) => keep_last(text, usize::from(chars), out),
            (MaskRule::Hash, _) => {
                let hash = self.hash(text);
                out.extend_from_slice(b"\"h:");
                out.extend_from_slice(&hash);
                out.push(b'"');
            }
        }
    }

    fn hash(&mut self, canonical: &[u8]) -> [u8; HASH_CHARS] {
        let memo = self
            .recent
            .iter()
            .find(|m| m.value.get(..usize::from(m.len)) == Some(canonical));
        if let Some(memo) = memo {
            return memo.hash;
        }
        let secret = &self.secret;
        let key = self
            .key
            .get_or_insert_with(|| hmac::Key::new(hmac::HMAC_SHA256, secret));
        let tag = hmac::sign(key, canonical);
        // 32 bytes encode to 43 characters, which always fit; the first 22 are kept.
        let mut text = [0u8; 44];
        let _ = URL_SAFE_NO_PAD.encode_slice(tag.as_ref(), &mut text);
        let mut hash = [0; HASH_CHARS];
        hash.copy_from_slice(&text[..HASH_CHARS]);
        if let Ok(len) = u8::try_from(canonical.len()) {
            if canonical.len() <= MEMO_VALUE_BYTES {
                let mut memo = Memo {
                    len,
                    value: [0; MEMO_VALUE_BYTES],
                    hash,
                };
                memo.value[..canonical.len()].copy_from_slice(canonical);
                if self.recent.len() < MEMO_ENTRIES {
                    self.recent.push(memo);
                } else {
                    self.recent[self.next] = memo;
                    self.next = (self.next + 1) % MEMO_ENTRIES;
                }
            }
        }
        hash
    }
}

/// Stars every character of `text` but the last `keep`; all of them if there are no more
/// than `keep`. `text` is UTF-8 (validated by the scanner); anything else is fully starred.
fn keep_last(text: &[u8], keep: usize, out: &mut Vec<u8>) {
    let text = std::str::from_utf8(text).unwrap_or("");
    let total = text.chars().count();
    let (starred, tail) = if total <= keep {
        (total, "")
    } else {
        // Byte index where the last `keep` characters start.
        let split = text
            .char_indices()
            .nth(total - keep)
            .map_or(text.len(), |(i, _)| i);
        (total - keep, &text[split..])
    };
    out.push(b'"');
    out.resize(out.len() + starred, b'*');
    escape_into(tail, out);
    out.push(b'"');
}

/// Appends `text` as JSON string contents.
pub(crate) fn escape_into(text: &str, out: &mut Vec<u8>) {
    for &b in text.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
            _ => out.push(b),
        }
    }
}
