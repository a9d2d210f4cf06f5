//! OpenTelemetry trace export: one SERVER span per gateway request, built from its audit
//! event (the W3C trace and span ids the gateway used toward the upstream), sent as OTLP
//! over HTTP with a JSON body (`POST {endpoint}/v1/traces`) once a second. Export never
//! slows requests: spans wait in a bounded buffer, and when the collector is away the
//! oldest are counted and dropped.

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use portcullis_audit::{AuditEvent, EventKind};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::webhook::Sender;

/// Spans held while the collector is slow or away.
const MAX_BUFFERED: usize = 10_000;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TracingConfig {
    /// The collector's OTLP/HTTP base URL, e.g. `http://127.0.0.1:4318`.
    pub otlp_endpoint: String,
    /// For an `https://` endpoint: the CA certificates (PEM) its certificate is checked
    /// against.
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
    #[serde(default = "service_name")]
    pub service_name: String,
}

fn service_name() -> String {
    "portcullis".into()
}

pub struct OtlpExporter {
    url: http::Uri,
    sender: Sender,
    service_name: String,
    spans: std::collections::VecDeque<Value>,
    pub dropped: u64,
}

impl OtlpExporter {
    pub fn from_config(config: &TracingConfig) -> Result<Self, String> {
        let field = "monitor.tracing";
        let base = config.otlp_endpoint.trim_end_matches('/');
        let url: http::Uri = format!("{base}/v1/traces")
            .parse()
            .map_err(|e| format!("{field}.otlp_endpoint {:?}: {e}", config.otlp_endpoint))?;
        let sender = match (url.scheme_str(), &config.ca_file) {
            (Some("http"), _) => Sender::Plain,
            (Some("https"), Some(ca)) => Sender::Tls(portcullis_tls::HttpsClient::new(
                portcullis_tls::client_config(ca, None)
                    .map_err(|e| format!("{field}.ca_file {}: {e}", ca.display()))?,
            )),
            (Some("https"), None) => {
                return Err(format!(
                    "{field}.ca_file is needed for the https endpoint {:?}",
                    config.otlp_endpoint
                ))
            }
            _ => {
                return Err(format!(
                    "{field}.otlp_endpoint {:?} must start with http:// or https://",
                    config.otlp_endpoint
                ))
            }
        };
        Ok(Self {
            url,
            sender,
            service_name: config.service_name.clone(),
            spans: std::collections::VecDeque::new(),
            dropped: 0,
        })
    }

    /// Adds the span of a gateway request (other events have none).
    pub fn record(&mut self, e: &AuditEvent) {
        let Some(trace) = &e.trace else { return };
        if !matches!(
            e.kind,
            EventKind::GatewayRequest
                | EventKind::TokenIssued
                | EventKind::TokenRefused
                | EventKind::TokenIntrospected
                | EventKind::TokenRevoked
                | EventKind::AuthorizationServerRequest
        ) {
            return;
        }
        if self.spans.len() >= MAX_BUFFERED {
            self.spans.pop_front();
            self.dropped += 1;
        }
        let end_ns = i128::from(e.time_ms) * 1_000_000;
        let start_ns = end_ns - i128::from(e.latency_us.unwrap_or(0)) * 1_000;
        let environment = e.environment.map_or("none", |env| env.as_str());
        let mut attributes = vec![
            attr("portcullis.operation", json!({"stringValue": e.action})),
            attr("portcullis.reason", json!({"stringValue": e.reason})),
            attr(
                "deployment.environment.name",
                json!({"stringValue": environment}),
            ),
        ];
        if let Some(status) = e.status {
            attributes.push(attr(
                "http.response.status_code",
                json!({"intValue": status.to_string()}),
            ));
        }
        if let Some(partner) = &e.actor.partner_id {
            attributes.push(attr(
                "portcullis.partner_id",
                json!({"stringValue": partner}),
            ));
        }
        if let Some(client) = &e.actor.client_id {
            attributes.push(attr("portcullis.client_id", json!({"stringValue": client})));
        }
        if let Some(request_id) = &e.request_id {
            attributes.push(attr(
                "portcullis.request_id",
                json!({"stringValue": request_id}),
            ));
        }
        let mut span = json!({
            "traceId": trace.trace_id,
            "spanId": trace.span_id,
            "name": format!("{environment} {}", e.action),
            "kind": 2,
            "startTimeUnixNano": start_ns.to_string(),
            "endTimeUnixNano": end_ns.to_string(),
            "attributes": attributes,
            "status": {"code": if e.status.is_some_and(|s| s >= 500) { 2 } else { 0 }},
        });
        if let Some(parent) = &trace.parent_span_id {
            span["parentSpanId"] = json!(parent);
        }
        self.spans.push_back(span);
    }

    /// The export request for what is buffered, if anything.
    pub fn take_request(&mut self) -> Option<(Sender, Request<Full<Bytes>>)> {
        if self.spans.is_empty() {
            return None;
        }
        let spans: Vec<Value> = std::mem::take(&mut self.spans).into();
        let body = json!({"resourceSpans": [{
            "resource": {"attributes": [attr("service.name", json!({"stringValue": self.service_name}))]},
            "scopeSpans": [{"scope": {"name": "portcullis-gateway"}, "spans": spans}],
        }]});
        let mut request = Request::new(Full::new(Bytes::from(body.to_string())));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = self.url.clone();
        request.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        Some((self.sender.clone(), request))
    }
}

fn attr(key: &str, value: Value) -> Value {
    json!({"key": key, "value": value})
}
