//! The client against a scripted upstream on a real loopback socket: reuse, framing, and
//! the answers a broken or hostile upstream gives.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{BodyError, Upstream, UpstreamError};

/// One request as the scripted upstream read it.
struct Seen {
    method: String,
    path: String,
    head: String,
    body: Vec<u8>,
}

/// Reads one request (head and Content-Length body); `None` when the client closed.
async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Seen> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8(buf[..end].to_vec()).unwrap();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(|v| v.parse().unwrap())
                })
                .unwrap_or(0);
            while buf.len() < end + 4 + length {
                let mut more = [0u8; 4096];
                let n = stream.read(&mut more).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&more[..n]);
            }
            let body = buf[end + 4..end + 4 + length].to_vec();
            buf.drain(..end + 4 + length);
            let mut words = head.split(' ');
            let method = words.next().unwrap().to_string();
            let path = words.next().unwrap().to_string();
            return Some(Seen {
                method,
                path,
                head,
                body,
            });
        }
        let mut more = [0u8; 4096];
        let n = stream.read(&mut more).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&more[..n]);
    }
}

/// An upstream whose answer is chosen by the request path. Counts accepted connections.
async fn scripted() -> (Upstream, Arc<AtomicUsize>) {
    scripted_with_timeout(Duration::from_millis(500)).await
}

async fn scripted_with_timeout(timeout: Duration) -> (Upstream, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                while let Some(seen) = read_request(&mut stream, &mut buf).await {
                    let json = |s: &str| {
                        format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{s}", s.len())
                    };
                    let answer = match seen.path.as_str() {
                        "/base/len" => json("{\"ok\":true}"),
                        "/base/echo" => json(&format!(
                            "{{\"method\":\"{}\",\"body\":\"{}\",\"host\":{},\"length\":{}}}",
                            seen.method,
                            String::from_utf8_lossy(&seen.body),
                            seen.head.contains("\r\nhost: 127.0.0.1:"),
                            seen.head.matches("content-length").count()
                        )),
                        "/base/chunked" => {
                            for piece in ["HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\n{\"a\"", "\r\n6\r\n:\"bcd\"\r", "\n1\r\n}\r\n0\r\n\r\n"] {
                                stream.write_all(piece.as_bytes()).await.unwrap();
                                tokio::time::sleep(Duration::from_millis(5)).await;
                            }
                            continue;
                        }
                        "/base/continue" => format!("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\n{}", json("{}")),
                        "/base/close" => "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\n{}".into(),
                        "/base/eof" => "HTTP/1.1 200 OK\r\n\r\n{\"until\":\"close\"}".into(),
                        "/base/both" => "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n0\r\n\r\n".into(),
                        "/base/short" => "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{\"a\"".into(),
                        "/base/head-len" => "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n".into(),
                        "/base/no-content" => "HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\n".into(),
                        "/base/big" => json(&format!("\"{}\"", "x".repeat(200_000))),
                        "/base/flood" => format!("{}{}", "HTTP/1.1 100 Continue\r\n\r\n".repeat(20), json("{}")),
                        "/base/trickle" => {
                            for byte in json("{}").bytes() {
                                stream.write_all(&[byte]).await.unwrap();
                                tokio::time::sleep(Duration::from_millis(1)).await;
                            }
                            continue;
                        }
                        "/base/delay" => {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            json("{}")
                        }
                        "/base/garbage" => "SSH-2.0-OpenSSH_9.6\r\n".into(),
                        "/base/extra" => format!("{}EXTRA", json("{}")),
                        "/base/slow" => {
                            tokio::time::sleep(Duration::from_secs(2)).await;
                            json("{}")
                        }
                        // Answers, then closes: the pooled connection is dead when next used.
                        "/base/then-close" => {
                            stream.write_all(json("{}").as_bytes()).await.unwrap();
                            return;
                        }
                        _ => "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n".into(),
                    };
                    let close = seen.path.ends_with("/close")
                        || seen.path.ends_with("/eof")
                        || seen.path.ends_with("/short");
                    if stream.write_all(answer.as_bytes()).await.is_err() || close {
                        return;
                    }
                }
            });
        }
    });
    let base = format!("http://{address}/base/").parse().unwrap();
    (Upstream::new(base, timeout), connections)
}

/// One exchange, body read whole.
async fn call(
    upstream: &Upstream,
    method: Method,
    path: &str,
    body: &'static [u8],
) -> Result<(StatusCode, HeaderMap, Vec<u8>), String> {
    let mut headers = HeaderMap::new();
    headers.insert("content-length", HeaderValue::from_static("999"));
    headers.insert("x-partner", HeaderValue::from_static("p"));
    let mut answer = upstream
        .send(&method, path, &headers, Bytes::from_static(body))
        .await
        .map_err(|e| format!("send: {e}"))?;
    let mut read = Vec::new();
    while let Some(piece) = answer
        .body
        .chunk()
        .await
        .map_err(|e: BodyError| format!("body: {e}"))?
    {
        read.extend_from_slice(&piece);
    }
    Ok((answer.status, answer.headers, read))
}

#[tokio::test]
async fn keep_alive_connections_are_reused_and_closing_ones_are_not() {
    let (upstream, connections) = scripted().await;
    for _ in 0..3 {
        let (status, headers, body) = call(&upstream, Method::GET, "/len", b"").await.unwrap();
        assert_eq!(
            (status, body.as_slice()),
            (StatusCode::OK, &b"{\"ok\":true}"[..])
        );
        assert_eq!(headers["content-type"], "application/json");
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "one keep-alive connection for all three"
    );

    let (_, _, body) = call(&upstream, Method::GET, "/close", b"").await.unwrap();
    assert_eq!(body, b"{}");
    call(&upstream, Method::GET, "/len", b"").await.unwrap();
    assert_eq!(
        connections.load(Ordering::SeqCst),
        2,
        "Connection: close is not reused"
    );

    let (_, _, body) = call(&upstream, Method::GET, "/eof", b"").await.unwrap();
    assert_eq!(
        body, b"{\"until\":\"close\"}",
        "a body without length ends at close"
    );
    call(&upstream, Method::GET, "/len", b"").await.unwrap();
    assert_eq!(connections.load(Ordering::SeqCst), 3);

    call(&upstream, Method::GET, "/extra", b"").await.unwrap();
    call(&upstream, Method::GET, "/len", b"").await.unwrap();
    assert_eq!(
        connections.load(Ordering::SeqCst),
        4,
        "bytes beyond an answer end its connection"
    );
}

#[tokio::test]
async fn requests_carry_host_one_true_length_and_their_body() {
    let (upstream, _) = scripted().await;
    let (_, _, body) = call(&upstream, Method::POST, "/echo", b"hello")
        .await
        .unwrap();
    let echo: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(echo["method"], "POST");
    assert_eq!(
        echo["body"], "hello",
        "the body's real length was sent, not the client's 999"
    );
    assert_eq!(echo["host"], true);
    assert_eq!(echo["length"], 1);
    let (_, _, body) = call(&upstream, Method::POST, "/echo", b"").await.unwrap();
    let echo: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (echo["body"].as_str(), echo["length"].as_u64()),
        (Some(""), Some(1)),
        "an empty POST says so"
    );
}

#[tokio::test]
async fn chunked_and_informational_answers_are_read_through() {
    let (upstream, connections) = scripted().await;
    let (_, _, body) = call(&upstream, Method::GET, "/chunked", b"").await.unwrap();
    assert_eq!(body, b"{\"a\":\"bcd\"}");
    let (status, headers, body) = call(&upstream, Method::GET, "/continue", b"")
        .await
        .unwrap();
    assert_eq!((status, body.as_slice()), (StatusCode::OK, &b"{}"[..]));
    assert!(
        headers.get("link").is_none(),
        "the 103's fields are not the answer's"
    );
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "both kept the connection"
    );
}

#[tokio::test]
async fn a_connection_the_upstream_closed_is_not_used_again() {
    let (upstream, connections) = scripted().await;
    call(&upstream, Method::GET, "/then-close", b"")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    // The pooled connection is closed: found out before use, or the GET goes again.
    call(&upstream, Method::GET, "/len", b"").await.unwrap();
    call(&upstream, Method::POST, "/then-close", b"x")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    call(&upstream, Method::POST, "/echo", b"y").await.unwrap();
    assert_eq!(connections.load(Ordering::SeqCst), 3);
}

/// An upstream on threads of its own that answers every request with `{}`; after answering
/// a path ending in `/then-unasked` it waits for a word on the first channel, sends an
/// answer nobody asked for on the now idle connection, and says so on the second.
/// Counts connections.
fn answers_then_sends_unasked() -> (
    std::net::SocketAddr,
    std::sync::mpsc::Sender<()>,
    std::sync::mpsc::Receiver<()>,
    Arc<AtomicUsize>,
) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let (go, went) = std::sync::mpsc::channel::<()>();
    let (sent, told) = std::sync::mpsc::channel();
    let went = Arc::new(Mutex::new(went));
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            counter.fetch_add(1, Ordering::SeqCst);
            let (went, sent) = (went.clone(), sent.clone());
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                // Else Nagle holds the unasked answer until the client's delayed ack.
                let _ = stream.set_nodelay(true);
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match stream.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                        continue;
                    };
                    let request: Vec<u8> = head.drain(..end + 4).collect();
                    let request = String::from_utf8_lossy(&request).into_owned();
                    let length = request
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .map_or(0, |n| n.trim().parse().unwrap());
                    while head.len() < length {
                        match stream.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    head.drain(..length);
                    let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
                    if stream.write_all(answer).is_err() {
                        return;
                    }
                    let path = request.split(' ').nth(1).unwrap_or_default();
                    if path.ends_with("/then-unasked") {
                        let word = went.lock().unwrap().recv_timeout(Duration::from_secs(10));
                        if word.is_err() {
                            return;
                        }
                        let unasked = b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\n\"stale\"";
                        let _ = stream.write_all(unasked);
                        let _ = sent.send(());
                    }
                }
            });
        }
    });
    (address, go, told, connections)
}

#[tokio::test]
async fn an_idle_connection_that_received_bytes_unasked_is_not_used_again() {
    let (address, go, sent, connections) = answers_then_sends_unasked();
    let upstream = Upstream::new(
        format!("http://{address}/base/").parse().unwrap(),
        Duration::from_secs(5),
    );
    // A GET trusts the runtime's view of an idle connection, a POST asks the kernel; once
    // the unasked answer is there to see, both leave the connection for a new one.
    for method in [Method::GET, Method::POST] {
        call(&upstream, method.clone(), "/then-unasked", b"")
            .await
            .unwrap();
        go.send(()).unwrap();
        sent.recv_timeout(Duration::from_secs(10)).unwrap();
        // Parks the runtime, so its reactor polls after the unasked bytes arrived.
        tokio::time::sleep(Duration::from_millis(10)).await;
        let (status, _, body) = call(&upstream, method.clone(), "/next", b"").await.unwrap();
        assert_eq!(status, StatusCode::OK, "{method}");
        assert_eq!(body, b"{}", "{method}");
    }
    assert_eq!(connections.load(Ordering::SeqCst), 3);
}

/// An upstream on a thread of its own that answers one request per connection and closes
/// it, then says so on the channel: it closes while the client's runtime is not polling,
/// so the close goes unseen there.
fn answers_once_then_closes() -> (std::net::SocketAddr, std::sync::mpsc::Receiver<()>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let (closed, answered) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            if head.is_empty() {
                continue;
            }
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}");
            drop(stream);
            if closed.send(()).is_err() {
                return;
            }
        }
    });
    (address, answered)
}

#[test]
fn a_close_the_runtime_has_not_seen_yet_costs_no_request_its_answer() {
    let (address, answered) = answers_once_then_closes();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let wait = Duration::from_secs(5);
    runtime.block_on(async {
        let base = format!("http://{address}/base/").parse().unwrap();
        let upstream = Upstream::new(base, Duration::from_secs(2));
        for (i, method) in [Method::GET, Method::GET, Method::POST, Method::HEAD]
            .into_iter()
            .enumerate()
        {
            // This thread blocks until the upstream has closed the pooled connection, so
            // the reactor does not poll meanwhile: only the kernel knows, and no request
            // may be lost to it or answered twice.
            if i > 0 {
                answered
                    .recv_timeout(wait)
                    .expect("the upstream closed the last one");
            }
            let (status, _, body) = call(&upstream, method.clone(), "/x", b"").await.unwrap();
            assert_eq!(status, StatusCode::OK, "{method}");
            if method != Method::HEAD {
                assert_eq!(body, b"{}", "{method}");
            }
        }
    });
    // One request answered per call: none was lost, none was taken twice.
    answered.recv_timeout(wait).expect("the last answer");
    assert!(answered.recv_timeout(Duration::from_millis(100)).is_err());
}

#[tokio::test]
async fn broken_and_hostile_answers_are_errors() {
    let (upstream, _) = scripted().await;
    let both = call(&upstream, Method::GET, "/both", b"")
        .await
        .unwrap_err();
    assert!(
        both.contains("both Transfer-Encoding and Content-Length"),
        "{both}"
    );
    let garbage = call(&upstream, Method::GET, "/garbage", b"")
        .await
        .unwrap_err();
    assert!(garbage.contains("not valid HTTP/1.1"), "{garbage}");
    let short = call(&upstream, Method::GET, "/short", b"")
        .await
        .unwrap_err();
    assert!(short.contains("broke off"), "{short}");
    let started = std::time::Instant::now();
    let slow = upstream
        .send(&Method::GET, "/slow", &HeaderMap::new(), Bytes::new())
        .await;
    assert!(matches!(slow, Err(UpstreamError::Timeout(_))));
    assert!(started.elapsed() < Duration::from_millis(1500));
    // Nothing listening.
    let dead = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let gone = Upstream::new(
        format!("http://{dead}").parse().unwrap(),
        Duration::from_millis(500),
    );
    let refused = gone
        .send(&Method::GET, "/", &HeaderMap::new(), Bytes::new())
        .await;
    assert!(matches!(refused, Err(UpstreamError::Unavailable(_))));
    // After all of that the client still works.
    call(&upstream, Method::GET, "/len", b"").await.unwrap();
}

#[tokio::test]
async fn bodiless_answers_and_trickled_heads_keep_the_connection() {
    let (upstream, connections) = scripted().await;
    let (status, headers, body) = call(&upstream, Method::HEAD, "/head-len", b"")
        .await
        .unwrap();
    assert_eq!(
        (
            status,
            headers["content-length"].to_str().unwrap(),
            body.len()
        ),
        (StatusCode::OK, "100", 0)
    );
    let (status, _, body) = call(&upstream, Method::GET, "/no-content", b"")
        .await
        .unwrap();
    assert_eq!((status, body.len()), (StatusCode::NO_CONTENT, 0));
    let (_, _, body) = call(&upstream, Method::GET, "/trickle", b"").await.unwrap();
    assert_eq!(
        body, b"{}",
        "a head arriving a byte at a time is read whole"
    );
    call(&upstream, Method::GET, "/len", b"").await.unwrap();
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "no body was expected where none came"
    );
}

#[tokio::test]
async fn a_body_left_unread_ends_its_connection() {
    let (upstream, connections) = scripted().await;
    let mut answer = upstream
        .send(&Method::GET, "/big", &HeaderMap::new(), Bytes::new())
        .await
        .unwrap();
    assert!(answer.body.chunk().await.unwrap().is_some());
    drop(answer);
    call(&upstream, Method::GET, "/len", b"").await.unwrap();
    assert_eq!(
        connections.load(Ordering::SeqCst),
        2,
        "the half-read connection was reused"
    );
}

#[tokio::test]
async fn endless_informational_answers_are_refused() {
    let (upstream, _) = scripted().await;
    let flood = call(&upstream, Method::GET, "/flood", b"")
        .await
        .unwrap_err();
    assert!(flood.contains("more than 8 1xx"), "{flood}");
}

#[test]
fn the_host_field_names_a_port_only_when_the_base_does() {
    let bare = Upstream::new(
        "http://accounts.internal/v1".parse().unwrap(),
        Duration::from_secs(1),
    );
    assert_eq!(
        (bare.host.as_str(), bare.authority.as_str()),
        ("accounts.internal", "accounts.internal:80")
    );
    let ported = Upstream::new(
        "http://10.0.0.7:8080".parse().unwrap(),
        Duration::from_secs(1),
    );
    assert_eq!(
        (ported.host.as_str(), ported.authority.as_str()),
        ("10.0.0.7:8080", "10.0.0.7:8080")
    );
    assert_eq!(ported.prefix, "");
}

#[tokio::test]
async fn at_the_connection_limit_requests_wait_for_a_connection_to_come_back() {
    // A timeout well above the four answers in turn: the test is about waiting, not time.
    let (upstream, connections) = scripted_with_timeout(Duration::from_secs(10)).await;
    let upstream = upstream.with_max_connections(1);
    let calls = (0..4).map(|_| call(&upstream, Method::GET, "/delay", b""));
    let started = std::time::Instant::now();
    for result in futures_join_all(calls).await {
        assert_eq!(result.unwrap().2, b"{}");
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "never more than one connection"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "the four shared one connection in turn"
    );
}

/// Runs the futures concurrently on this task and collects their results in order.
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut set = Vec::new();
    for future in futures {
        set.push(Box::pin(future));
    }
    let mut outputs: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in set.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}
