//! The accept loop every Portcullis listener runs: TLS handshake within a deadline (or
//! plain HTTP behind a terminating load balancer), the client certificate read once per
//! connection, HTTP/1.1 with strict limits, and a graceful stop.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::{Body, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::PeerIdentity;

/// What a handler knows about the connection a request arrived on.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    pub remote: SocketAddr,
    /// The verified client certificate, if one was presented.
    pub peer: Option<PeerIdentity>,
}

/// Connection-level limits against slow and oversized clients.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    pub tls_handshake_timeout: Duration,
    /// Time allowed for a request head to arrive once the client starts sending it.
    pub header_read_timeout: Duration,
    /// Larger request heads get 431.
    pub max_header_bytes: usize,
    pub max_headers: usize,
    /// How long open connections may take to finish at shutdown.
    pub drain_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            tls_handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            max_headers: 64,
            drain_timeout: Duration::from_secs(10),
        }
    }
}

/// How a listener's connections arrive.
#[derive(Clone)]
pub enum Transport {
    /// TLS terminated here, with the configuration's client-certificate mode.
    Tls(Arc<rustls::ServerConfig>),
    /// Plain HTTP/1.1, for a gateway behind a TLS-terminating load balancer. No client
    /// certificate can be seen, so certificate-bound tokens cannot be used.
    Plain,
}

/// Serves `transport` on `listener` until `shutdown` turns true, then stops accepting and
/// lets open connections finish, up to the drain timeout.
pub async fn serve<H, F, B>(
    listener: TcpListener,
    transport: Transport,
    limits: ConnectionLimits,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    handler: H,
) where
    H: Fn(Request<Incoming>, Arc<ConnectionInfo>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let acceptor = match &transport {
        Transport::Tls(config) => Some(TlsAcceptor::from(config.clone())),
        Transport::Plain => None,
    };
    let graceful = GracefulShutdown::new();
    loop {
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Typically EMFILE: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let _ = tcp.set_nodelay(true);
        let (acceptor, handler, limits) = (acceptor.clone(), handler.clone(), limits.clone());
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let Some(acceptor) = acceptor else {
                let info = Arc::new(ConnectionInfo { remote, peer: None });
                return serve_connection(tcp, info, &limits, handler, watcher).await;
            };
            let tls = match tokio::time::timeout(limits.tls_handshake_timeout, acceptor.accept(tcp))
                .await
            {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => return tracing::debug!(%remote, error = %e, "TLS handshake failed"),
                Err(_) => return tracing::debug!(%remote, "TLS handshake timed out"),
            };
            let peer = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|certs| certs.first())
                .and_then(PeerIdentity::from_leaf);
            let info = Arc::new(ConnectionInfo { remote, peer });
            serve_connection(tls, info, &limits, handler, watcher).await;
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(limits.drain_timeout) => {
            tracing::warn!("connections still open after the drain timeout; closing them");
        }
    }
}

/// HTTP/1.1 keep-alive on one accepted connection, TLS or not, with the header limits.
async fn serve_connection<IO, H, F, B>(
    io: IO,
    info: Arc<ConnectionInfo>,
    limits: &ConnectionLimits,
    handler: H,
    watcher: hyper_util::server::graceful::Watcher,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    H: Fn(Request<Incoming>, Arc<ConnectionInfo>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let remote = info.remote;
    let service = service_fn(move |request| {
        let response = handler(request, info.clone());
        async move { Ok::<_, Infallible>(response.await) }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .max_headers(limits.max_headers)
        .keep_alive(true);
    let connection = http.serve_connection(TokioIo::new(io), service);
    if let Err(e) = watcher.watch(connection).await {
        tracing::debug!(%remote, error = %e, "connection ended with an error");
    }
}
