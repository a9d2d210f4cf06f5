//! Alerts pushed to webhooks, signed so receivers can check they came from this gateway and
//! were not replayed: `X-Portcullis-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
//! "<t>.<body>">` with the webhook's own key. Receivers recompute the HMAC and refuse a
//! `t` far from their clock.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use ring::hmac;

use crate::alert::{Alert, Severity};
use crate::config::WebhookConfig;

pub const SIGNATURE_HEADER: &str = "x-portcullis-signature";

pub struct Webhook {
    pub url: http::Uri,
    key: hmac::Key,
    pub min_severity: Severity,
    sender: Sender,
}

/// How a webhook's requests travel.
#[derive(Clone)]
pub enum Sender {
    Plain,
    Tls(portcullis_tls::HttpsClient),
}

impl Sender {
    /// Sends the request on a fresh connection; returns the status.
    pub async fn send(&self, request: Request<Full<Bytes>>) -> Result<u16, String> {
        let exchange = async {
            match self {
                Sender::Tls(client) => client
                    .send(request)
                    .await
                    .map(|r| r.status().as_u16())
                    .map_err(|e| e.to_string()),
                Sender::Plain => send_plain(request).await,
            }
        };
        tokio::time::timeout(TIMEOUT, exchange)
            .await
            .map_err(|_| format!("no answer within {TIMEOUT:?}"))?
    }
}

async fn send_plain(mut request: Request<Full<Bytes>>) -> Result<u16, String> {
    let uri = request.uri().clone();
    let host = uri.host().ok_or("the url has no host")?;
    let addr = format!("{host}:{}", uri.port_u16().unwrap_or(80));
    let tcp = tokio::net::TcpStream::connect(&addr)
        .await
        .map_err(|e| format!("{addr}: {e}"))?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    if let Ok(v) = http::HeaderValue::from_str(&addr) {
        request.headers_mut().insert(http::header::HOST, v);
    }
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    *request.uri_mut() = path.parse().map_err(|_| format!("bad url {uri}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    Ok(response.status().as_u16())
}

impl Webhook {
    pub fn from_config(config: &WebhookConfig, field: &str) -> Result<Self, String> {
        let url = config
            .url
            .parse::<http::Uri>()
            .map_err(|e| format!("{field}.url {:?}: {e}", config.url))?;
        let secret = read_secret(&config.secret_file)
            .map_err(|e| format!("{field}.secret_file {}: {e}", config.secret_file.display()))?;
        let sender = match &config.ca_file {
            Some(ca) if url.scheme_str() == Some("https") => {
                Sender::Tls(portcullis_tls::HttpsClient::new(
                    portcullis_tls::client_config(ca, None)
                        .map_err(|e| format!("{field}.ca_file {}: {e}", ca.display()))?,
                ))
            }
            _ => Sender::Plain,
        };
        Ok(Self {
            url,
            key: hmac::Key::new(hmac::HMAC_SHA256, &secret),
            min_severity: config.min_severity,
            sender,
        })
    }

    pub fn sender(&self) -> Sender {
        self.sender.clone()
    }

    /// The signed POST of `body`.
    pub fn request(&self, body: &[u8], unix_seconds: i64) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(Bytes::copy_from_slice(body)));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = self.url.clone();
        let headers = request.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        if let Ok(v) = http::HeaderValue::from_str(&self.signature(unix_seconds, body)) {
            headers.insert(SIGNATURE_HEADER, v);
        }
        request
    }

    pub fn signature(&self, unix_seconds: i64, body: &[u8]) -> String {
        signature(&self.key, unix_seconds, body)
    }
}

fn read_secret(path: &Path) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let trimmed = String::from_utf8_lossy(&bytes).trim().as_bytes().to_vec();
    if trimmed.len() < 16 {
        return Err("the key is shorter than 16 bytes; use at least 32 random bytes".into());
    }
    Ok(trimmed)
}

pub fn signature(key: &hmac::Key, unix_seconds: i64, body: &[u8]) -> String {
    let mut message = format!("{unix_seconds}.").into_bytes();
    message.extend_from_slice(body);
    let tag = hmac::sign(key, &message);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={unix_seconds},v1={hex}")
}

/// Checks a signature header the way a receiver should (used by tests and documented for
/// partners' SOCs): same key, fresh timestamp, constant-time comparison.
pub fn verify(key: &[u8], header: &str, body: &[u8], now_seconds: i64, tolerance: i64) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => v1 = Some(value),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    if now_seconds
        .checked_sub(t)
        .is_none_or(|d| d.abs() > tolerance)
        || v1.len() != 64
        || !v1.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return false;
    }
    let Some(tag) = (0..32)
        .map(|i| u8::from_str_radix(&v1[i * 2..i * 2 + 2], 16).ok())
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    let mut message = format!("{t}.").into_bytes();
    message.extend_from_slice(body);
    hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, key), &message, &tag).is_ok()
}

/// The JSON body sent for an alert.
pub fn body(alert: &Alert) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "type": "alert", "alert": alert })).unwrap_or_default()
}

/// How long a webhook gets to answer.
pub const TIMEOUT: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_with_the_key_and_fail_when_anything_changes() {
        let key = b"0123456789abcdef0123456789abcdef";
        let k = hmac::Key::new(hmac::HMAC_SHA256, key);
        let header = signature(&k, 1_800_000_000, b"{\"a\":1}");
        assert!(verify(key, &header, b"{\"a\":1}", 1_800_000_010, 300));
        assert!(!verify(key, &header, b"{\"a\":2}", 1_800_000_010, 300));
        assert!(!verify(
            b"another key of the same length!!",
            &header,
            b"{\"a\":1}",
            1_800_000_010,
            300
        ));
        assert!(
            !verify(key, &header, b"{\"a\":1}", 1_800_001_000, 300),
            "replayed late"
        );
        let min = format!("t={},v1={}", i64::MIN, "0".repeat(64));
        for hostile in ["", "t=1", "v1=00", "t=x,v1=zz", "t=1800000000,v1=é", &min] {
            assert!(
                !verify(key, hostile, b"{\"a\":1}", 1_800_000_000, 300),
                "{hostile}"
            );
        }
    }
}
