//! A small HTTPS client over hyper and rustls: for the `portcullis token` helper and for
//! tests that must speak real TLS (optionally with a client certificate) to a listener.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Responses larger than this are refused rather than buffered.
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum HttpsClientError {
    #[error("invalid URL {0}: expected https://host:port/path")]
    Url(String),
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("TLS handshake with {addr} failed: {source}")]
    Handshake {
        addr: String,
        source: std::io::Error,
    },
    #[error("HTTP exchange failed: {0}")]
    Http(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

#[derive(Clone)]
pub struct HttpsClient {
    config: Arc<ClientConfig>,
    timeout: Duration,
}

impl HttpsClient {
    pub fn new(config: Arc<ClientConfig>) -> Self {
        Self {
            config,
            timeout: Duration::from_secs(30),
        }
    }

    /// Sends one request on a fresh connection and reads the whole response.
    pub async fn send(
        &self,
        request: Request<Full<Bytes>>,
    ) -> Result<Response<Bytes>, HttpsClientError> {
        let timeout = self.timeout;
        tokio::time::timeout(timeout, self.send_inner(request))
            .await
            .map_err(|_| HttpsClientError::Timeout(timeout))?
    }

    async fn send_inner(
        &self,
        mut request: Request<Full<Bytes>>,
    ) -> Result<Response<Bytes>, HttpsClientError> {
        let uri = request.uri().clone();
        let (host, port) = host_port(&uri)?;
        let addr = format!("{host}:{port}");
        let tcp = TcpStream::connect(&addr)
            .await
            .map_err(|source| HttpsClientError::Connect {
                addr: addr.clone(),
                source,
            })?;
        let server_name = ServerName::try_from(host.trim_matches(['[', ']']).to_string())
            .map_err(|_| HttpsClientError::Url(uri.to_string()))?;
        let tls = TlsConnector::from(self.config.clone())
            .connect(server_name, tcp)
            .await
            .map_err(|source| HttpsClientError::Handshake {
                addr: addr.clone(),
                source,
            })?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| HttpsClientError::Http(e.to_string()))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        if !request.headers().contains_key(http::header::HOST) {
            if let Ok(v) = http::HeaderValue::from_str(&addr) {
                request.headers_mut().insert(http::header::HOST, v);
            }
        }
        // hyper's client connection wants an origin-form target.
        let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        *request.uri_mut() = path
            .parse()
            .map_err(|_| HttpsClientError::Url(uri.to_string()))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| HttpsClientError::Http(e.to_string()))?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| HttpsClientError::Http(e.to_string()))?
            .to_bytes();
        Ok(Response::from_parts(parts, body))
    }
}

fn host_port(uri: &Uri) -> Result<(String, u16), HttpsClientError> {
    if uri.scheme_str() != Some("https") {
        return Err(HttpsClientError::Url(uri.to_string()));
    }
    let host = uri
        .host()
        .ok_or_else(|| HttpsClientError::Url(uri.to_string()))?;
    Ok((host.to_string(), uri.port_u16().unwrap_or(443)))
}
