//! Token-level validation: strings, numbers and literals, and unescaping string contents.
//!
//! Every scanner walks its bytes in order and stops at the first invalid one, or asks for more
//! input when it runs out before deciding. So a token split across chunks gets exactly the
//! verdict it gets whole, which keeps chunked and whole filtering identical.

use memchr::memchr;

/// Outcome of scanning string contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StrScan {
    /// The string ends here: index just past the closing quote. `escaped` says whether the
    /// part scanned by this call had a backslash.
    Done { end: usize, escaped: bool },
    /// The buffer ended first. Everything before this index is valid and complete; scanning
    /// resumes here once more bytes are appended.
    More(usize),
}

/// What makes a token invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bad {
    Control,
    Escape,
    Hex,
    Surrogate,
    Utf8,
    Number(&'static str),
    Literal,
}

impl Bad {
    /// What a valid document would have had instead, for error messages.
    pub(crate) fn expected(self) -> &'static str {
        match self {
            Bad::Control => "no raw control characters in a string (they must be escaped)",
            Bad::Escape => r#"one of \" \\ \/ \b \f \n \r \t \u after a backslash"#,
            Bad::Hex => r"4 hex digits after \u",
            Bad::Surrogate => {
                r"a \uD800-\uDBFF escape followed by a \uDC00-\uDFFF escape (lone surrogates are refused)"
            }
            Bad::Utf8 => "UTF-8",
            Bad::Number(expected) => expected,
            Bad::Literal => "true, false or null",
        }
    }
}

/// An invalid byte at index `at` of the scanned buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ScanError {
    pub(crate) at: usize,
    pub(crate) bad: Bad,
}

fn bad<T>(at: usize, bad: Bad) -> Result<T, ScanError> {
    Err(ScanError { at, bad })
}

const ONES: u64 = u64::from_le_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);

/// Flags (in its high bit) each byte of `word` that is a quote, a backslash, a control
/// character or not ASCII. Only the lowest flag is exact (borrows can set false flags above a
/// true one), which is the only one used.
#[inline]
fn special_bytes(word: u64) -> u64 {
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    zero_byte(word ^ (ONES * u64::from(b'"')))
        | zero_byte(word ^ (ONES * u64::from(b'\\')))
        | below_space
        | (word & HIGHS)
}

/// Validates string contents from `from` (just past the opening quote, or a `More` index)
/// up to the closing quote.
// Inlined into the tokenizer loop: as a call, passing the result back through memory
// cost more than the scan itself on short strings (seen in profiles).
#[inline(always)]
pub(crate) fn string(buf: &[u8], from: usize) -> Result<StrScan, ScanError> {
    let mut p = from;
    let mut escaped = false;
    loop {
        // Skip plain printable ASCII eight bytes at a time; strings are mostly that.
        while let Some(chunk) = buf[p..].first_chunk::<8>() {
            let special = special_bytes(u64::from_le_bytes(*chunk));
            if special != 0 {
                p += (special.trailing_zeros() / 8) as usize;
                break;
            }
            p += 8;
        }
        let Some(&b) = buf.get(p) else {
            return Ok(StrScan::More(p));
        };
        match b {
            b'"' => {
                return Ok(StrScan::Done {
                    end: p + 1,
                    escaped,
                })
            }
            b'\\' => {
                escaped = true;
                match escape(buf, p)? {
                    Some(next) => p = next,
                    None => return Ok(StrScan::More(p)),
                }
            }
            0..=0x1f => return bad(p, Bad::Control),
            0x80.. => match utf8_char(buf, p)? {
                Some(next) => p = next,
                None => return Ok(StrScan::More(p)),
            },
            // Plain bytes reach here only in the last few bytes of the buffer.
            _ => p += 1,
        }
    }
}

/// Validates the multi-byte UTF-8 character starting at `p`: the index after it, or `None`
/// if the buffer ends first. Errors point at its first byte, like `str::from_utf8`.
fn utf8_char(buf: &[u8], p: usize) -> Result<Option<usize>, ScanError> {
    // The second byte's range excludes overlong forms, UTF-16 surrogates and values past
    // U+10FFFF (RFC 3629 section 4).
    let (len, second) = match buf[p] {
        0xC2..=0xDF => (2, 0x80..=0xBF),
        0xE0 => (3, 0xA0..=0xBF),
        0xE1..=0xEC | 0xEE..=0xEF => (3, 0x80..=0xBF),
        0xED => (3, 0x80..=0x9F),
        0xF0 => (4, 0x90..=0xBF),
        0xF1..=0xF3 => (4, 0x80..=0xBF),
        0xF4 => (4, 0x80..=0x8F),
        _ => return bad(p, Bad::Utf8),
    };
    for k in 1..len {
        let Some(&b) = buf.get(p + k) else {
            return Ok(None);
        };
        let fits = if k == 1 {
            second.contains(&b)
        } else {
            (0x80..=0xBF).contains(&b)
        };
        if !fits {
            return bad(p, Bad::Utf8);
        }
    }
    Ok(Some(p + len))
}

/// Validates the escape at `buf[q] == b'\\'`: the index after it, or `None` if the buffer
/// ends before it can be judged.
fn escape(buf: &[u8], q: usize) -> Result<Option<usize>, ScanError> {
    let Some(&c) = buf.get(q + 1) else {
        return Ok(None);
    };
    match c {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Ok(Some(q + 2)),
        b'u' => {
            let Some(unit) = hex4(buf, q + 2)? else {
                return Ok(None);
            };
            match unit {
                0xD800..=0xDBFF => {
                    for (at, want) in [(q + 6, b'\\'), (q + 7, b'u')] {
                        match buf.get(at) {
                            None => return Ok(None),
                            Some(&b) if b == want => {}
                            Some(_) => return bad(q, Bad::Surrogate),
                        }
                    }
                    match hex4(buf, q + 8)? {
                        None => Ok(None),
                        Some(0xDC00..=0xDFFF) => Ok(Some(q + 12)),
                        Some(_) => bad(q, Bad::Surrogate),
                    }
                }
                0xDC00..=0xDFFF => bad(q, Bad::Surrogate),
                _ => Ok(Some(q + 6)),
            }
        }
        _ => bad(q + 1, Bad::Escape),
    }
}

/// Four hex digits at `at`, or `None` if the buffer ends first.
fn hex4(buf: &[u8], at: usize) -> Result<Option<u32>, ScanError> {
    let mut value = 0;
    for i in at..at + 4 {
        let Some(&b) = buf.get(i) else {
            return Ok(None);
        };
        let Some(digit) = char::from(b).to_digit(16) else {
            return bad(i, Bad::Hex);
        };
        value = value * 16 + digit;
    }
    Ok(Some(value))
}

/// Length of the run of bytes that can belong to a number. The number ends at the first
/// byte outside this set; its grammar is checked separately by [`number`].
pub(crate) fn number_len(buf: &[u8]) -> usize {
    buf.iter()
        .position(|&b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
        .unwrap_or(buf.len())
}

/// Checks a whole number token against the JSON grammar.
pub(crate) fn number(tok: &[u8]) -> Result<(), ScanError> {
    let digit = |i: usize| tok.get(i).is_some_and(u8::is_ascii_digit);
    let mut i = usize::from(tok.first() == Some(&b'-'));
    match tok.get(i) {
        Some(b'0') => {
            i += 1;
            if digit(i) {
                return bad(i, Bad::Number("no leading zeros in a number"));
            }
        }
        Some(b'1'..=b'9') => {
            while digit(i) {
                i += 1;
            }
        }
        _ => return bad(i, Bad::Number("a digit")),
    }
    if tok.get(i) == Some(&b'.') {
        i += 1;
        if !digit(i) {
            return bad(i, Bad::Number("a digit after the decimal point"));
        }
        while digit(i) {
            i += 1;
        }
    }
    if matches!(tok.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(tok.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digit(i) {
            return bad(i, Bad::Number("a digit in the exponent"));
        }
        while digit(i) {
            i += 1;
        }
    }
    if i < tok.len() {
        return bad(i, Bad::Number("the end of the number"));
    }
    Ok(())
}

/// The literal a value starting with `first` must be (`t`, `f` or `n`).
pub(crate) fn literal_for(first: u8) -> &'static [u8] {
    match first {
        b't' => b"true",
        b'f' => b"false",
        _ => b"null",
    }
}

/// Checks the available prefix of a literal: the index of the first wrong byte, if any.
pub(crate) fn literal_mismatch(have: &[u8], want: &[u8]) -> Option<usize> {
    have.iter().zip(want).position(|(a, b)| a != b)
}

/// Appends the unescaped contents of a validated string (without its quotes) as UTF-8.
/// Never panics on unvalidated input; anything undecodable becomes U+FFFD.
pub(crate) fn unescape(raw: &[u8], out: &mut Vec<u8>) {
    let mut p = 0;
    while let Some(k) = memchr(b'\\', &raw[p..]) {
        let q = p + k;
        out.extend_from_slice(&raw[p..q]);
        let Some(&c) = raw.get(q + 1) else {
            return;
        };
        p = q + 2;
        let ch = match c {
            b'u' => {
                p = (q + 6).min(raw.len());
                let unit = hex_at(raw, q + 2);
                let low = if raw.get(q + 6..q + 8) == Some(b"\\u".as_slice()) {
                    hex_at(raw, q + 8)
                } else {
                    None
                };
                match (unit, low) {
                    (Some(hi @ 0xD800..=0xDBFF), Some(lo @ 0xDC00..=0xDFFF)) => {
                        p = q + 12;
                        char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                    }
                    (Some(unit), _) => char::from_u32(unit),
                    (None, _) => None,
                }
                .unwrap_or(char::REPLACEMENT_CHARACTER)
            }
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            other => char::from(other),
        };
        let mut utf8 = [0; 4];
        out.extend_from_slice(ch.encode_utf8(&mut utf8).as_bytes());
    }
    out.extend_from_slice(&raw[p..]);
}

fn hex_at(raw: &[u8], at: usize) -> Option<u32> {
    let digits = raw.get(at..at + 4)?;
    digits.iter().try_fold(0, |acc, &b| {
        char::from(b).to_digit(16).map(|d| acc * 16 + d)
    })
}

#[cfg(test)]
mod tests;
