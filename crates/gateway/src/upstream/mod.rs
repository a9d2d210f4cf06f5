//! The gateway's HTTP/1.1 client for its upstream: keep-alive connections in a pool, each
//! request written and its answer read inside the request's own task.
//!
//! Why not a general client: the pipeline reads every answer whole through the field filter
//! anyway, so it needs no connection task, no channel between the request and its
//! connection, and no streaming back-pressure between them. Doing the exchange inline
//! removes a task wake-up and a hand-off per request in each direction (measured in
//! bench/RESULTS.md). What it does not do: TLS to the upstream, HTTP/2, pipelining.

pub mod framing;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_LENGTH, HOST};
use http::{HeaderMap, Method, StatusCode, Uri};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use framing::{ChunkedDecoder, Framing, FramingError, Step};

/// Connections kept open while idle.
const MAX_IDLE: usize = 256;
/// An idle connection older than this is closed rather than reused.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Read buffer of a connection; answers larger than this are read in several calls.
const READ_BUFFER: usize = 16 * 1024;
/// A request body up to this size is sent in the same write as its head.
const COALESCE_BODY: usize = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("upstream did not answer within {0:?}")]
    Timeout(Duration),
    #[error("upstream unavailable: {0}")]
    Unavailable(String),
    #[error("upstream answer is not valid HTTP/1.1: {0}")]
    Malformed(FramingError),
}

/// Where the gateway forwards, and the connections it keeps to it.
#[derive(Clone)]
pub struct Upstream {
    base: Uri,
    /// `host[:port]` for `Host` and for resolving.
    authority: String,
    /// The base path without its trailing slash; request paths are appended to it.
    prefix: String,
    timeout: Duration,
    pool: Arc<Pool>,
}

/// An upstream answer's head; the body is read from `body`.
pub struct UpstreamResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: UpstreamBody,
}

impl Upstream {
    /// `base` is `http://host[:port]` with an optional path prefix. `timeout` bounds the
    /// wait for an answer's head, connecting included.
    pub fn new(base: Uri, timeout: Duration) -> Self {
        let host = base.host().unwrap_or("localhost");
        let authority = match base.port_u16() {
            Some(port) => format!("{host}:{port}"),
            None => format!("{host}:80"),
        };
        let prefix = base.path().trim_end_matches('/').to_string();
        Self {
            base,
            authority,
            prefix,
            timeout,
            pool: Arc::new(Pool::default()),
        }
    }

    pub fn base(&self) -> &Uri {
        &self.base
    }

    /// How long the upstream may take, to answer and to finish its body.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends a request to `path_and_query` under the base and reads the answer's head
    /// within the timeout; the body is read by the caller. `headers` must be sanitized:
    /// no hop-by-hop fields (see `proxy::sanitize_request_headers`); `Host` and
    /// `Content-Length` are set here.
    pub async fn send(
        &self,
        method: &Method,
        path_and_query: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let mut request = Vec::with_capacity(512 + body.len().min(COALESCE_BODY));
        self.encode_head(&mut request, method, path_and_query, headers, body.len());
        let coalesced = body.len() <= COALESCE_BODY;
        if coalesced {
            request.extend_from_slice(&body);
        }
        let outgoing = Outgoing {
            request: &request,
            body: if coalesced { &[] } else { &body },
            head_only: method == Method::HEAD,
        };
        let exchange = async {
            // A pooled connection the upstream closed in the meantime fails before any
            // answer byte; a request that is safe to repeat then goes once more, on a new
            // connection. Others get the error: the upstream may have acted on them.
            if let Some(conn) = self.pool.checkout() {
                match conn.exchange(&outgoing).await {
                    Err(Failure::BeforeAnswer(_)) if method.is_idempotent() => {}
                    result => return result.map_err(Failure::into_error),
                }
            }
            let conn = Conn::connect(&self.authority).await?;
            conn.exchange(&outgoing).await.map_err(Failure::into_error)
        };
        let (conn, head) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| UpstreamError::Timeout(self.timeout))??;
        Ok(UpstreamResponse {
            status: head.status,
            headers: head.headers,
            body: UpstreamBody::new(conn, head.framing, head.keep_alive, self.pool.clone()),
        })
    }

    fn encode_head(
        &self,
        out: &mut Vec<u8>,
        method: &Method,
        path_and_query: &str,
        headers: &HeaderMap,
        body_len: usize,
    ) {
        out.extend_from_slice(method.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.prefix.as_bytes());
        out.extend_from_slice(path_and_query.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
        out.extend_from_slice(self.authority.as_bytes());
        out.extend_from_slice(b"\r\n");
        for (name, value) in headers {
            if name == HOST || name == CONTENT_LENGTH {
                continue;
            }
            // HeaderName and HeaderValue exclude CR, LF and NUL: no field can split the head.
            out.extend_from_slice(name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        // A length on every request with a body or a method that usually has one, so the
        // upstream never waits for a body that is not coming.
        let needs_length = body_len > 0
            || !matches!(
                *method,
                Method::GET | Method::HEAD | Method::DELETE | Method::OPTIONS
            );
        if needs_length {
            out.extend_from_slice(format!("content-length: {body_len}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// A request ready to write.
struct Outgoing<'a> {
    /// The head, with the body when it is small.
    request: &'a [u8],
    /// The body when it is written on its own.
    body: &'a [u8],
    head_only: bool,
}

/// How an exchange failed: before any answer byte (the request may be repeated when it is
/// idempotent) or after.
enum Failure {
    BeforeAnswer(UpstreamError),
    Later(UpstreamError),
}

impl Failure {
    fn into_error(self) -> UpstreamError {
        match self {
            Failure::BeforeAnswer(e) | Failure::Later(e) => e,
        }
    }
}

struct Conn {
    stream: TcpStream,
    read: BytesMut,
    idle_since: Instant,
}

impl Conn {
    async fn connect(authority: &str) -> Result<Self, UpstreamError> {
        let addresses: Vec<SocketAddr> = tokio::net::lookup_host(authority)
            .await
            .map_err(|e| UpstreamError::Unavailable(format!("cannot resolve {authority}: {e}")))?
            .collect();
        let mut last = None;
        for address in addresses {
            match TcpStream::connect(address).await {
                Ok(stream) => {
                    // Heads and small bodies go in one write; nothing waits to coalesce.
                    let _ = stream.set_nodelay(true);
                    return Ok(Self {
                        stream,
                        read: BytesMut::with_capacity(READ_BUFFER),
                        idle_since: Instant::now(),
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(UpstreamError::Unavailable(match last {
            Some(e) => format!("cannot connect to {authority}: {e}"),
            None => format!("{authority} resolves to no address"),
        }))
    }

    /// Whether an idle connection can carry a request: open, not timed out, and with no
    /// bytes the upstream sent unasked (those would be read as the next answer).
    fn reusable(&self) -> bool {
        if self.idle_since.elapsed() > IDLE_TIMEOUT {
            return false;
        }
        let mut probe = [0u8; 1];
        matches!(self.stream.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }

    /// Writes the request and reads up to the end of the answer's final head.
    async fn exchange(mut self, outgoing: &Outgoing<'_>) -> Result<(Self, framing::Head), Failure> {
        let unavailable = |e: std::io::Error| UpstreamError::Unavailable(e.to_string());
        self.stream
            .write_all(outgoing.request)
            .await
            .map_err(|e| Failure::BeforeAnswer(unavailable(e)))?;
        if !outgoing.body.is_empty() {
            self.stream
                .write_all(outgoing.body)
                .await
                .map_err(|e| Failure::BeforeAnswer(unavailable(e)))?;
        }
        let mut answered = false;
        loop {
            if !self.read.is_empty() {
                answered = true;
                match framing::parse_head(&self.read, outgoing.head_only) {
                    Ok(Some((head, length))) => {
                        let _ = self.read.split_to(length);
                        if head.status == StatusCode::SWITCHING_PROTOCOLS {
                            return Err(Failure::Later(UpstreamError::Malformed(FramingError(
                                "the upstream switched protocols unasked",
                            ))));
                        }
                        if head.status.is_informational() {
                            continue; // 100 Continue, 103 Early Hints: the real answer follows.
                        }
                        return Ok((self, head));
                    }
                    Ok(None) => {}
                    Err(e) => return Err(Failure::Later(UpstreamError::Malformed(e))),
                }
            }
            self.read.reserve(READ_BUFFER / 2);
            let failure = |e| {
                if answered {
                    Failure::Later(e)
                } else {
                    Failure::BeforeAnswer(e)
                }
            };
            match self.stream.read_buf(&mut self.read).await {
                Ok(0) => {
                    return Err(failure(UpstreamError::Unavailable(
                        "the upstream closed the connection before answering".into(),
                    )))
                }
                Ok(_) => {}
                Err(e) => return Err(failure(unavailable(e))),
            }
        }
    }
}

/// Idle connections, most recently used first (they are the likeliest to be open).
#[derive(Default)]
struct Pool {
    idle: Mutex<Vec<Conn>>,
}

impl Pool {
    fn checkout(&self) -> Option<Conn> {
        loop {
            let conn = self.idle.lock().ok()?.pop()?;
            if conn.reusable() {
                return Some(conn);
            }
        }
    }

    fn put_back(&self, mut conn: Conn) {
        conn.idle_since = Instant::now();
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < MAX_IDLE {
                idle.push(conn);
            }
        }
    }
}

/// Why an answer's body could not be read to its end.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the upstream's answer broke off: {0}")]
    BrokenOff(String),
    #[error("the upstream's body is not validly framed: {0}")]
    Malformed(FramingError),
}

/// The body of an upstream answer. Read to its end, its connection goes back to the pool;
/// dropped before, the connection is closed (its unread bytes would corrupt the next
/// exchange).
pub struct UpstreamBody {
    conn: Option<Conn>,
    state: BodyState,
    keep_alive: bool,
    pool: Arc<Pool>,
}

enum BodyState {
    Length(u64),
    Chunked(ChunkedDecoder),
    UntilClose,
    Done,
}

impl UpstreamBody {
    fn new(conn: Conn, framing: Framing, keep_alive: bool, pool: Arc<Pool>) -> Self {
        let state = match framing {
            Framing::Empty | Framing::Length(0) => BodyState::Done,
            Framing::Length(n) => BodyState::Length(n),
            Framing::Chunked => BodyState::Chunked(ChunkedDecoder::default()),
            Framing::UntilClose => BodyState::UntilClose,
        };
        let mut body = Self {
            conn: Some(conn),
            state,
            keep_alive,
            pool,
        };
        if matches!(body.state, BodyState::Done) {
            body.release();
        }
        body
    }

    /// The declared length, when the upstream sent one.
    pub fn declared_length(&self) -> Option<u64> {
        match self.state {
            BodyState::Length(n) => Some(n),
            BodyState::Done => Some(0),
            _ => None,
        }
    }

    /// The next piece of the body, or `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, BodyError> {
        loop {
            let Some(conn) = self.conn.as_mut() else {
                return Ok(None);
            };
            let buffered = &mut conn.read;
            let step = match &mut self.state {
                BodyState::Done => Step::Done,
                BodyState::Length(remaining) => {
                    if buffered.is_empty() {
                        Step::NeedMore
                    } else {
                        let take = usize::try_from(*remaining)
                            .unwrap_or(usize::MAX)
                            .min(buffered.len());
                        *remaining -= take as u64;
                        Step::Data(buffered.split_to(take).freeze())
                    }
                }
                BodyState::Chunked(decoder) => {
                    decoder.decode(buffered).map_err(BodyError::Malformed)?
                }
                BodyState::UntilClose if buffered.is_empty() => Step::NeedMore,
                BodyState::UntilClose => Step::Data(buffered.split().freeze()),
            };
            match step {
                Step::Data(data) => {
                    if matches!(self.state, BodyState::Length(0)) {
                        self.state = BodyState::Done;
                        self.release();
                    }
                    return Ok(Some(data));
                }
                Step::Done => {
                    self.state = BodyState::Done;
                    self.release();
                    return Ok(None);
                }
                Step::NeedMore => {
                    conn.read.reserve(READ_BUFFER / 2);
                    match conn.stream.read_buf(&mut conn.read).await {
                        Ok(0) if matches!(self.state, BodyState::UntilClose) => {
                            self.state = BodyState::Done;
                            self.conn = None;
                            return Ok(None);
                        }
                        Ok(0) => {
                            self.conn = None;
                            return Err(BodyError::BrokenOff("the connection closed early".into()));
                        }
                        Ok(_) => {}
                        Err(e) => {
                            self.conn = None;
                            return Err(BodyError::BrokenOff(e.to_string()));
                        }
                    }
                }
            }
        }
    }

    /// At the body's end: the connection goes back to the pool when it may be reused and
    /// the upstream sent nothing beyond the answer.
    fn release(&mut self) {
        if let Some(conn) = self.conn.take() {
            if self.keep_alive && conn.read.is_empty() {
                self.pool.put_back(conn);
            }
        }
    }
}

#[cfg(test)]
mod tests;
