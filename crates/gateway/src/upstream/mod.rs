//! The gateway's HTTP/1.1 client for its upstream: keep-alive connections in a pool, each
//! request written and its answer read inside the request's own task.
//!
//! Why not a general client: the pipeline reads every answer whole through the field filter
//! anyway, so it needs no connection task, no channel between the request and its
//! connection, and no streaming back-pressure between them. Doing the exchange inline
//! removes a task wake-up and a hand-off per request in each direction (with `bench/ab`:
//! about 3 µs of gateway CPU per request). What it does not do: TLS to the upstream,
//! HTTP/2, pipelining.

pub mod framing;

use std::collections::VecDeque;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_LENGTH, HOST};
use http::{HeaderMap, Method, StatusCode, Uri};
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use framing::{ChunkedDecoder, Framing, FramingError, Step};

/// Connections kept open while idle.
const MAX_IDLE: usize = 256;
/// Connections open to one upstream at once, busy and idle, unless configured otherwise.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// An idle connection older than this is closed rather than reused: below the keep-alive
/// timeouts servers commonly use (5 s for Node.js and Apache), so the gateway lets go
/// first instead of racing the upstream's close with a request.
const IDLE_TIMEOUT: Duration = Duration::from_secs(4);
/// Informational (1xx) answers skipped before the real one; more is an upstream looping.
const MAX_INFORMATIONAL: usize = 8;
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
    /// `host:port` to connect to.
    authority: String,
    /// The `Host` field: the base's host, with its port only when the base names one.
    host: String,
    /// The base path without its trailing slash; request paths are appended to it.
    prefix: String,
    timeout: Duration,
    pool: Arc<Pool>,
    /// One permit per open connection; a connection holds its permit until it closes.
    connections: Arc<Semaphore>,
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
        let name = base.host().unwrap_or("localhost");
        let (authority, host) = match base.port_u16() {
            Some(port) => (format!("{name}:{port}"), format!("{name}:{port}")),
            None => (format!("{name}:80"), name.to_string()),
        };
        let prefix = base.path().trim_end_matches('/').to_string();
        Self {
            base,
            authority,
            host,
            prefix,
            timeout,
            pool: Arc::new(Pool::default()),
            connections: Arc::new(Semaphore::new(DEFAULT_MAX_CONNECTIONS)),
        }
    }

    /// At most `max` connections open at once (at least one).
    pub fn with_max_connections(mut self, max: usize) -> Self {
        self.connections = Arc::new(Semaphore::new(max.max(1)));
        self
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
            // answer byte; a safe request (GET, HEAD, OPTIONS, TRACE) then goes once more.
            // Others get the error, PUT and DELETE included: the upstream may have acted on
            // them, and a bank's API is not to be repeated on a guess.
            let mut may_repeat = method.is_safe();
            // Only a request written in one piece: a body written on its own can fail after
            // the head went, which is no longer a failure before the answer.
            let mut trust_readiness = may_repeat && coalesced;
            loop {
                if let Some(conn) = self.pool.checkout(trust_readiness) {
                    match conn.exchange(&outgoing).await {
                        Err(Failure::BeforeAnswer(_)) if may_repeat => {
                            may_repeat = false;
                            // Once more on a new connection if one may be opened now; if not,
                            // on the next to come back, asking the kernel about pooled ones.
                            trust_readiness = false;
                            if let Ok(permit) = self.connections.clone().try_acquire_owned() {
                                return self.connect_and_exchange(Ok(permit), &outgoing).await;
                            }
                            continue;
                        }
                        result => return result.map_err(Failure::into_error),
                    }
                }
                // Every allowed connection may be open: wait (within the timeout) for one
                // to close and give back its permit, or to come back idle to the pool.
                tokio::select! {
                    permit = self.connections.clone().acquire_owned() => {
                        return self.connect_and_exchange(permit, &outgoing).await;
                    }
                    () = self.pool.returned.notified() => {}
                }
            }
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

    async fn connect_and_exchange(
        &self,
        permit: Result<OwnedSemaphorePermit, tokio::sync::AcquireError>,
        outgoing: &Outgoing<'_>,
    ) -> Result<(Conn, framing::Head), UpstreamError> {
        let permit = permit
            .map_err(|_| UpstreamError::Unavailable("the upstream client is closed".into()))?;
        let conn = Conn::connect(&self.authority, permit).await?;
        conn.exchange(outgoing).await.map_err(Failure::into_error)
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
        out.extend_from_slice(self.host.as_bytes());
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

/// How an exchange failed: before any answer byte, with the request written whole, in part
/// or not at all (a safe request may then be repeated), or later.
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
    /// Its place under the connection limit, given back when the connection drops.
    _permit: OwnedSemaphorePermit,
}

impl Conn {
    async fn connect(authority: &str, permit: OwnedSemaphorePermit) -> Result<Self, UpstreamError> {
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
                        _permit: permit,
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
    ///
    /// With `trust_readiness` false the kernel is asked (a non-blocking MSG_PEEK). With it
    /// true the runtime's view is taken instead, as nginx does for its idle upstream
    /// connections: the system call is made only when the reactor saw the connection
    /// become readable while it sat idle (a read that leaves the socket empty clears that
    /// readiness, so a busy connection is mostly reused without one). That view is as old
    /// as the reactor's last poll: a close or bytes that arrived since are missed, where a
    /// peek would see them. The caller passes true only for a request it may repeat once a
    /// close shows (see [`Upstream::send`]). Bytes still in flight when the request is
    /// written can be taken for its answer either way (a 408 an upstream sends before
    /// closing an idle connection, say): a peek only narrows that race.
    fn reusable(&self, now: Instant, trust_readiness: bool) -> bool {
        if now.duration_since(self.idle_since) > IDLE_TIMEOUT {
            return false;
        }
        let peek = || {
            let mut probe = [MaybeUninit::<u8>::uninit()];
            socket2::SockRef::from(&self.stream).peek(&mut probe)
        };
        let peeked = if trust_readiness {
            // Runs `peek` only when the runtime holds the socket readable; a WouldBlock
            // from it clears that readiness.
            self.stream.try_io(Interest::READABLE, peek)
        } else {
            peek()
        };
        matches!(peeked, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }

    /// Writes the request and reads up to the end of the answer's final head.
    async fn exchange(mut self, outgoing: &Outgoing<'_>) -> Result<(Self, framing::Head), Failure> {
        let unavailable = |e: std::io::Error| UpstreamError::Unavailable(e.to_string());
        self.stream
            .write_all(outgoing.request)
            .await
            .map_err(|e| Failure::BeforeAnswer(unavailable(e)))?;
        // A large body goes on its own. The upstream may answer early (413, 401) and close
        // instead of reading it: that answer is still read and given, and the connection
        // is not reused.
        let mut write_failed = None;
        if !outgoing.body.is_empty() {
            write_failed = self.stream.write_all(outgoing.body).await.err();
        }
        let mut informational = 0;
        let mut scanned = 0;
        loop {
            // Parsed when the blank line has come, and once at a head's first bytes so a
            // reply that is not HTTP at all fails at once instead of at the timeout.
            let first_bytes = scanned == 0 && !self.read.is_empty();
            if first_bytes || framing::head_complete(&self.read, scanned) {
                match framing::parse_head(&self.read, outgoing.head_only) {
                    Ok(Some((mut head, length))) => {
                        let _ = self.read.split_to(length);
                        scanned = 0;
                        if head.status == StatusCode::SWITCHING_PROTOCOLS {
                            return Err(malformed("the upstream switched protocols unasked"));
                        }
                        if head.status.is_informational() {
                            // 100 Continue, 103 Early Hints: the real answer follows.
                            informational += 1;
                            if informational > MAX_INFORMATIONAL {
                                return Err(malformed("the upstream sent more than 8 1xx answers"));
                            }
                            continue;
                        }
                        head.keep_alive &= write_failed.is_none();
                        return Ok((self, head));
                    }
                    Ok(None) => {}
                    Err(e) => return Err(Failure::Later(UpstreamError::Malformed(e))),
                }
            }
            if self.read.len() > framing::MAX_HEAD_BYTES {
                return Err(malformed("the answer head exceeds 64 KiB"));
            }
            scanned = self.read.len();
            self.read.reserve(READ_BUFFER / 2);
            let answered = !self.read.is_empty() || informational > 0;
            // Repeating is safe only for a request the upstream cannot have read whole.
            let failure = |e| match (answered, &write_failed) {
                (false, None) => Failure::BeforeAnswer(e),
                _ => Failure::Later(e),
            };
            match self.stream.read_buf(&mut self.read).await {
                Ok(0) => {
                    return Err(failure(UpstreamError::Unavailable(match &write_failed {
                        Some(e) => format!("the upstream stopped reading the request: {e}"),
                        None => "the upstream closed the connection before answering".into(),
                    })))
                }
                Ok(_) => {}
                Err(e) => return Err(failure(unavailable(e))),
            }
        }
    }
}

fn malformed(why: &'static str) -> Failure {
    Failure::Later(UpstreamError::Malformed(FramingError(why)))
}

/// Idle connections, most recently used first (they are the likeliest to be open).
/// Taken from the back, returned to the back; the front holds the longest idle, which
/// expire there.
#[derive(Default)]
struct Pool {
    idle: Mutex<VecDeque<Conn>>,
    /// Told each time a connection comes back, for requests waiting at the limit.
    returned: tokio::sync::Notify,
}

impl Pool {
    /// An idle connection for a request (for `trust_readiness`, see [`Conn::reusable`]).
    fn checkout(&self, trust_readiness: bool) -> Option<Conn> {
        let now = Instant::now();
        loop {
            let conn = self.idle.lock().ok()?.pop_back()?;
            if conn.reusable(now, trust_readiness) {
                return Some(conn);
            }
        }
    }

    fn put_back(&self, mut conn: Conn) {
        let now = Instant::now();
        conn.idle_since = now;
        if let Ok(mut idle) = self.idle.lock() {
            // Connections idle past the timeout are closed here, not left to pile up
            // half-closed when traffic falls and the back is never drained that far.
            while idle
                .front()
                .is_some_and(|c| now.duration_since(c.idle_since) > IDLE_TIMEOUT)
            {
                idle.pop_front();
            }
            if idle.len() < MAX_IDLE {
                idle.push_back(conn);
            }
        }
        self.returned.notify_one();
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
                BodyState::Chunked(decoder) => match decoder.decode(buffered) {
                    Ok(step) => step,
                    Err(e) => {
                        self.conn = None;
                        return Err(BodyError::Malformed(e));
                    }
                },
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
