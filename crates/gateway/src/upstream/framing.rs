//! HTTP/1.1 response framing as the gateway reads it from an upstream (RFC 9112): the head,
//! how the body is delimited, and the chunked decoder. Pure functions over byte buffers, so
//! hostile answers are tested and fuzzed without sockets.
//!
//! Strict where leniency lets one message be read two ways: a head with both
//! `Transfer-Encoding` and `Content-Length`, conflicting lengths, a coding other than
//! `chunked`, or a chunk line not ended by CRLF is refused, never guessed at.

use bytes::{Buf, Bytes, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

/// Most header fields in one upstream answer head.
pub const MAX_HEADERS: usize = 100;
/// Largest upstream answer head, in bytes.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Longest chunk-size line, extensions included.
const MAX_CHUNK_LINE: usize = 4096;
/// Most bytes of trailer fields after the last chunk (they are read and dropped).
const MAX_TRAILER_BYTES: usize = 16 * 1024;
/// Most bytes of chunk extensions in one body: they cost reading but count as no data.
const MAX_EXTENSION_BYTES: usize = 16 * 1024;

/// Why an upstream answer could not be read as HTTP/1.1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FramingError(pub &'static str);

/// How the body after a head ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body: a HEAD request's answer, 204, 304.
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Everything until the upstream closes the connection.
    UntilClose,
}

/// A parsed answer head.
#[derive(Debug)]
pub struct Head {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub framing: Framing,
    /// Whether the connection may carry another request once this answer is read.
    pub keep_alive: bool,
}

/// Parses one answer head from the start of `buf`. `Ok(None)` means more bytes are needed;
/// `Ok(Some((head, n)))` means the head took the first `n` bytes. Informational answers
/// (1xx) are returned like any other; the caller skips them.
pub fn parse_head(
    buf: &[u8],
    request_was_head: bool,
) -> Result<Option<(Head, usize)>, FramingError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut slots);
    let consumed = match response.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD_BYTES => {
            return Err(FramingError("the answer head exceeds 64 KiB"))
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(FramingError("the answer head has more than 100 fields"))
        }
        Err(_) => return Err(FramingError("the answer head is not valid HTTP/1.1")),
    };
    if consumed > MAX_HEAD_BYTES {
        return Err(FramingError("the answer head exceeds 64 KiB"));
    }
    // RFC 9110 §15: codes outside 100..=599 are invalid.
    let status = response
        .code
        .filter(|code| (100..600).contains(code))
        .and_then(|code| StatusCode::from_u16(code).ok())
        .ok_or(FramingError("the answer's status code is outside 100-599"))?;
    let mut headers = HeaderMap::with_capacity(response.headers.len());
    for field in response.headers.iter() {
        let name = HeaderName::from_bytes(field.name.as_bytes())
            .map_err(|_| FramingError("an answer header name is invalid"))?;
        let value = HeaderValue::from_bytes(field.value)
            .map_err(|_| FramingError("an answer header value is invalid"))?;
        headers.append(name, value);
    }
    let http_10 = response.version == Some(0);
    let framing = framing(&headers, status, request_was_head)?;
    let keep_alive = framing != Framing::UntilClose && persistent(&headers, http_10);
    Ok(Some((
        Head {
            status,
            headers,
            framing,
            keep_alive,
        },
        consumed,
    )))
}

/// RFC 9112 §6.3, minus the readings that make request smuggling possible.
fn framing(
    headers: &HeaderMap,
    status: StatusCode,
    request_was_head: bool,
) -> Result<Framing, FramingError> {
    if request_was_head
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok(Framing::Empty);
    }
    if headers.contains_key(TRANSFER_ENCODING) {
        if headers.contains_key(CONTENT_LENGTH) {
            return Err(FramingError(
                "the answer has both Transfer-Encoding and Content-Length",
            ));
        }
        let mut codings = headers
            .get_all(TRANSFER_ENCODING)
            .iter()
            .flat_map(|v| v.as_bytes().split(|&b| b == b','))
            .map(trim);
        let chunked_only = codings
            .next()
            .is_some_and(|c| c.eq_ignore_ascii_case(b"chunked"))
            && codings.next().is_none();
        if !chunked_only {
            return Err(FramingError(
                "the answer's Transfer-Encoding is not just chunked",
            ));
        }
        return Ok(Framing::Chunked);
    }
    let mut length = None;
    for value in headers.get_all(CONTENT_LENGTH) {
        for item in value.as_bytes().split(|&b| b == b',') {
            let parsed = parse_decimal(trim(item))
                .ok_or(FramingError("the answer's Content-Length is not a number"))?;
            if length.is_some_and(|l| l != parsed) {
                return Err(FramingError(
                    "the answer has conflicting Content-Length values",
                ));
            }
            length = Some(parsed);
        }
    }
    Ok(length.map_or(Framing::UntilClose, Framing::Length))
}

/// Whether the connection stays open after this answer (RFC 9112 §9.3).
fn persistent(headers: &HeaderMap, http_10: bool) -> bool {
    let mut options = headers
        .get_all(CONNECTION)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .map(trim);
    if http_10 {
        options.any(|o| o.eq_ignore_ascii_case(b"keep-alive"))
    } else {
        !options.any(|o| o.eq_ignore_ascii_case(b"close"))
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| !matches!(b, b' ' | b'\t'));
    let Some(start) = start else { return &[] };
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(start);
    &bytes[start..=end]
}

/// 1*DIGIT into a u64; `None` when empty, not digits, or too large.
fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        if !d.is_ascii_digit() {
            return None;
        }
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// What the chunked decoder made of the buffered bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Body bytes, taken from the front of the buffer.
    Data(Bytes),
    /// The buffer holds no complete piece; read more.
    NeedMore,
    /// The last chunk and the trailers are read.
    Done,
}

/// Decoder of `Transfer-Encoding: chunked` (RFC 9112 §7.1), fed from a read buffer.
#[derive(Debug, Default)]
pub struct ChunkedDecoder {
    state: ChunkState,
    trailer_bytes: usize,
    extension_bytes: usize,
}

#[derive(Debug, Default, Clone, Copy)]
enum ChunkState {
    #[default]
    Size,
    Data(u64),
    DataEnd,
    Trailers,
    Done,
}

impl ChunkedDecoder {
    /// Decodes from the front of `buf`, consuming what it decodes.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Step, FramingError> {
        loop {
            match self.state {
                ChunkState::Size => {
                    let Some(line) = take_line(
                        buf,
                        MAX_CHUNK_LINE,
                        "a chunk-size line is longer than 4 KiB",
                    )?
                    else {
                        return Ok(Step::NeedMore);
                    };
                    let (size, extensions) = chunk_size(&line)?;
                    self.extension_bytes += extensions;
                    if self.extension_bytes > MAX_EXTENSION_BYTES {
                        return Err(FramingError("the answer's chunk extensions exceed 16 KiB"));
                    }
                    self.state = if size == 0 {
                        ChunkState::Trailers
                    } else {
                        ChunkState::Data(size)
                    };
                }
                ChunkState::Data(remaining) => {
                    if buf.is_empty() {
                        return Ok(Step::NeedMore);
                    }
                    let take = usize::try_from(remaining)
                        .unwrap_or(usize::MAX)
                        .min(buf.len());
                    let left = remaining - take as u64;
                    self.state = if left == 0 {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(left)
                    };
                    return Ok(Step::Data(buf.split_to(take).freeze()));
                }
                ChunkState::DataEnd => {
                    if buf.len() < 2 {
                        return Ok(Step::NeedMore);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(FramingError("a chunk's data is not followed by CRLF"));
                    }
                    buf.advance(2);
                    self.state = ChunkState::Size;
                }
                ChunkState::Trailers => {
                    let room = MAX_TRAILER_BYTES.saturating_sub(self.trailer_bytes);
                    let Some(line) = take_line(buf, room, "the answer's trailers exceed 16 KiB")?
                    else {
                        return Ok(Step::NeedMore);
                    };
                    self.trailer_bytes += line.len() + 2;
                    if line.iter().any(|&b| is_control(b)) {
                        return Err(FramingError("a trailer line holds a control character"));
                    }
                    if line.is_empty() {
                        self.state = ChunkState::Done;
                    }
                }
                ChunkState::Done => return Ok(Step::Done),
            }
        }
    }
}

/// Takes one CRLF-ended line (without its CRLF) from the front of `buf`; `None` until the
/// CRLF has arrived. A line longer than `max` is an error. A bare LF is refused: accepting
/// it would let the upstream and the gateway disagree on where a chunk ends.
fn take_line(
    buf: &mut BytesMut,
    max: usize,
    too_long: &'static str,
) -> Result<Option<Bytes>, FramingError> {
    let window = &buf[..buf.len().min(max + 2)];
    match window.iter().position(|&b| b == b'\n') {
        Some(0) => Err(FramingError("a chunk line ends with a bare LF")),
        Some(lf) if window[lf - 1] != b'\r' => {
            Err(FramingError("a chunk line ends with a bare LF"))
        }
        Some(lf) => {
            let line = buf.split_to(lf - 1).freeze();
            buf.advance(2);
            Ok(Some(line))
        }
        None if buf.len() > max + 1 => Err(FramingError(too_long)),
        None => Ok(None),
    }
}

/// Control characters other than HTAB, which no field or extension may hold.
fn is_control(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

/// `chunk-size [ BWS ";" chunk-ext ]`: hex digits, then nothing or extensions, ignored.
/// Returns the size and how many bytes of extensions followed it.
fn chunk_size(line: &[u8]) -> Result<(u64, usize), FramingError> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(FramingError(
            "a chunk-size line does not start with a hex size",
        ));
    }
    let rest = &line[digits..];
    if !rest.is_empty() && trim(rest).first() != Some(&b';') {
        return Err(FramingError("a chunk-size line has bytes after its size"));
    }
    if rest.iter().any(|&b| is_control(b)) {
        return Err(FramingError("a chunk extension holds a control character"));
    }
    let size = line[..digits].iter().try_fold(0u64, |n, &d| {
        let value = u64::from(match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            _ => d - b'A' + 10,
        });
        n.checked_mul(16)
            .and_then(|n| n.checked_add(value))
            .ok_or(FramingError("a chunk size does not fit in 64 bits"))
    })?;
    Ok((size, rest.len()))
}

/// Whether `buf` holds the blank line that ends a head, looking only at bytes from
/// `from` on (and the three before, where the blank line may have begun): a head that
/// arrives a byte at a time is then scanned once, not once per byte.
pub fn head_complete(buf: &[u8], from: usize) -> bool {
    (from.saturating_sub(3).max(1)..buf.len()).any(|i| {
        buf[i] == b'\n'
            && (buf[i - 1] == b'\n' || (i >= 2 && buf[i - 1] == b'\r' && buf[i - 2] == b'\n'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(raw: &str) -> Result<Option<(Head, usize)>, FramingError> {
        parse_head(raw.as_bytes(), false)
    }

    fn framing_of(raw: &str) -> Result<Framing, FramingError> {
        head(raw).map(|h| h.expect("complete head").0.framing)
    }

    /// Decodes a whole chunked body fed `step` bytes at a time.
    fn dechunk(body: &[u8], step: usize) -> Result<(Vec<u8>, usize), FramingError> {
        let mut decoder = ChunkedDecoder::default();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut fed = 0;
        loop {
            match decoder.decode(&mut buf)? {
                Step::Data(d) => out.extend_from_slice(&d),
                Step::Done => return Ok((out, buf.len())),
                Step::NeedMore if fed == body.len() => return Err(FramingError("incomplete")),
                Step::NeedMore => {
                    let next = (fed + step).min(body.len());
                    buf.extend_from_slice(&body[fed..next]);
                    fed = next;
                }
            }
        }
    }

    #[test]
    fn heads_give_status_headers_framing_and_persistence() {
        let raw = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{\"a\":1}";
        let (h, n) = head(raw).unwrap().unwrap();
        assert_eq!(h.status, 200);
        assert_eq!(h.headers["content-type"], "application/json");
        assert_eq!(h.framing, Framing::Length(12));
        assert!(h.keep_alive);
        assert_eq!(&raw[n..], "{\"a\":1}");
        assert!(head("HTTP/1.1 200 OK\r\nContent-Le").unwrap().is_none());

        let close =
            head("HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n");
        assert!(!close.unwrap().unwrap().0.keep_alive);
        let old = head("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
            .unwrap()
            .unwrap()
            .0;
        assert!(!old.keep_alive, "HTTP/1.0 closes unless told otherwise");
        let old = head("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n");
        assert!(old.unwrap().unwrap().0.keep_alive);
        let eof = head("HTTP/1.1 200 OK\r\n\r\n").unwrap().unwrap().0;
        assert_eq!(eof.framing, Framing::UntilClose);
        assert!(!eof.keep_alive, "a body ended by close ends the connection");
    }

    #[test]
    fn bodiless_answers_ignore_their_length() {
        for status in [
            "204 No Content",
            "304 Not Modified",
            "100 Continue",
            "103 Early Hints",
        ] {
            let raw = format!("HTTP/1.1 {status}\r\nContent-Length: 5\r\n\r\n");
            assert_eq!(framing_of(&raw), Ok(Framing::Empty), "{status}");
        }
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
        let (h, _) = parse_head(raw, true).unwrap().unwrap();
        assert_eq!(h.framing, Framing::Empty, "the answer to HEAD has no body");
    }

    #[test]
    fn ambiguous_framing_is_refused() {
        for (raw, why) in [
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
                "both",
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                "conflicting",
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n",
                "conflicting list",
            ),
            ("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "negative"),
            ("HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", "hex"),
            ("HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n", "empty"),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
                "overflow",
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                "coding",
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
                "twice",
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n",
                "identity",
            ),
        ] {
            assert!(framing_of(raw).is_err(), "{why}: {raw:?}");
        }
        assert_eq!(
            framing_of("HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\nContent-Length: 7\r\n\r\n"),
            Ok(Framing::Length(7)),
            "repeated identical lengths are one length (RFC 9110 §8.6)"
        );
        assert_eq!(
            framing_of("HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked \r\n\r\n"),
            Ok(Framing::Chunked)
        );
    }

    #[test]
    fn hostile_heads_are_errors_not_panics() {
        let many: String = (0..MAX_HEADERS + 1)
            .map(|i| format!("x-{i}: v\r\n"))
            .collect();
        let big = format!(
            "HTTP/1.1 200 OK\r\nx-big: {}\r\n",
            "a".repeat(MAX_HEAD_BYTES)
        );
        for raw in [
            "HTTP/1.1 999 Odd\r\n\r\n",
            "HTTP/1.1 600 Odd\r\n\r\n",
            "HTTP/1.1 20 OK\r\n\r\n",
            "HTTP/2 200 OK\r\n\r\n",
            "SSH-2.0-OpenSSH\r\n\r\n",
            "HTTP/1.1 200 OK\r\nBad Name: v\r\n\r\n",
            "HTTP/1.1 200 OK\r\nx: a\rb\r\n\r\n",
            "HTTP/1.1 200 OK\r\nx: a\0b\r\n\r\n",
            &format!("HTTP/1.1 200 OK\r\n{many}\r\n"),
            &big,
        ] {
            assert!(head(raw).is_err(), "accepted {raw:?}");
        }
    }

    #[test]
    fn the_end_of_a_head_is_found_across_reads() {
        let head = b"HTTP/1.1 200 OK\r\nA: b\r\n\r\n";
        for split in 0..head.len() {
            let done = head_complete(head, split);
            assert!(
                done,
                "blank line missed when the last read began at {split}"
            );
            assert!(!head_complete(
                &head[..head.len() - 1],
                split.min(head.len() - 1)
            ));
        }
        assert!(head_complete(b"HTTP/1.1 200 OK\n\n", 16));
        assert!(!head_complete(b"HTTP/1.1 200 OK\r\nA: \r\n", 0));
    }

    #[test]
    fn chunked_bodies_decode_whatever_the_read_sizes() {
        let body = b"5;name=value\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nx-trailer: t\r\n\r\nNEXT";
        for step in [1, 2, 3, 7, 64, body.len()] {
            let (out, left) = dechunk(body, step).unwrap();
            assert_eq!(out, b"helloabcdefghijklmnopqrstuvwxyz", "step {step}");
            assert!(left <= 4, "bytes after the body stay in the buffer");
        }
        let (out, _) = dechunk(b"0\r\n\r\n", 1).unwrap();
        assert!(out.is_empty());
        let (out, _) = dechunk(b"3 ; a=b\t\r\nabc\r\n0\r\n\r\n", 2).unwrap();
        assert_eq!(
            out, b"abc",
            "whitespace before an extension is allowed (BWS)"
        );
    }

    #[test]
    fn hostile_chunked_bodies_are_refused() {
        let long_line = format!("5;{}\r\nhello\r\n0\r\n\r\n", "e".repeat(MAX_CHUNK_LINE));
        let long_trailers = format!("0\r\n{}\r\n\r\n", "t: v\r\n".repeat(4000));
        let many_extensions = format!(
            "{}0\r\n\r\n",
            format!("1;{}\r\nx\r\n", "e".repeat(2000)).repeat(9)
        );
        for (body, why) in [
            ("5\nhello\r\n0\r\n\r\n", "bare LF after the size"),
            ("5\r\nhelloXX0\r\n\r\n", "data not followed by CRLF"),
            ("5\r\nhello\r\n0\r\n\n", "bare LF ends the trailers"),
            ("-5\r\nhello\r\n0\r\n\r\n", "negative size"),
            ("\r\n", "empty size"),
            ("5 5\r\nhello\r\n0\r\n\r\n", "two sizes"),
            ("1ffffffffffffffff\r\n", "size overflow"),
            ("0x5\r\nhello\r\n0\r\n\r\n", "hex prefix"),
            (long_line.as_str(), "endless extensions"),
            (long_trailers.as_str(), "endless trailers"),
            (
                "5 \r\nhello\r\n0\r\n\r\n",
                "whitespace without an extension",
            ),
            ("5;a\rb\r\nhello\r\n0\r\n\r\n", "CR inside an extension"),
            (
                "5\r\nhello\r\n0\r\nx: a\x01b\r\n\r\n",
                "control character in a trailer",
            ),
            (many_extensions.as_str(), "extensions beyond 16 KiB in all"),
        ] {
            assert!(dechunk(body.as_bytes(), 3).is_err(), "{why}: accepted");
        }
        assert!(
            dechunk(b"5\r\nhel", 2).is_err(),
            "a body cut short never completes"
        );
    }
}
