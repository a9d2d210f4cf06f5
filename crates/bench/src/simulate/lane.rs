//! One persistent HTTPS connection from a chosen loopback source address: the simulator's
//! partners keep connections open as real integrations do, and an attacker "abroad" binds
//! an address the demo maps to another region.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Request};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpSocket;

pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

pub struct Lane {
    target: SocketAddr,
    source: IpAddr,
    tls: Arc<rustls::ClientConfig>,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Lane {
    pub fn new(target: SocketAddr, source: IpAddr, tls: Arc<rustls::ClientConfig>) -> Self {
        Self {
            target,
            source,
            tls,
            sender: None,
        }
    }

    async fn connect(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, String> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let socket = match self.source {
                IpAddr::V4(_) => TcpSocket::new_v4(),
                IpAddr::V6(_) => TcpSocket::new_v6(),
            }
            .map_err(|e| e.to_string())?;
            socket
                .bind(SocketAddr::new(self.source, 0))
                .map_err(|e| format!("binding {}: {e}", self.source))?;
            let tcp = socket
                .connect(self.target)
                .await
                .map_err(|e| format!("{}: {e}", self.target))?;
            let name = ServerName::from(self.target.ip());
            let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS to {}: {e}", self.target))?;
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                .await
                .map_err(|e| e.to_string())?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            self.sender = Some(sender);
        }
        self.sender
            .as_mut()
            .ok_or_else(|| "not connected".to_string())
    }

    /// Sends one request; reconnects first if the server closed the connection.
    pub async fn send(
        &mut self,
        method: http::Method,
        path: &str,
        headers: &[(&str, String)],
        body: Bytes,
    ) -> Result<Answer, String> {
        let host = self.target.to_string();
        let sender = self.connect().await?;
        sender.ready().await.map_err(|e| e.to_string())?;
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::HOST, host);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let request = request.body(Full::new(body)).map_err(|e| e.to_string())?;
        let result = sender.send_request(request).await;
        let response = match result {
            Ok(r) => r,
            Err(e) => {
                self.sender = None;
                return Err(e.to_string());
            }
        };
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok(Answer {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        })
    }
}
