//! The admin API over HTTPS: where it is and who is asking (options, environment or a
//! demo.json), one request per call, and an error answer (problem+json) turned into the
//! message a person reads. The admin token never leaves [`Secret`] except into the
//! `Authorization` header, which is marked sensitive.

use std::fmt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use http_body_util::Full;
use portcullis_core::Secret;
use portcullis_tls::{HttpsClient, HttpsClientError};
use serde_json::Value;

use super::render::clean;
use super::{ApiRequest, Connection};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Where the API is, or who is asking, is not known or not usable.
    #[error("{0}")]
    Setup(String),
    #[error("{name}: {reason}")]
    File { name: String, reason: String },
    /// No answer: the API could not be reached, or the exchange broke.
    #[error("{0}")]
    Transport(String),
    /// The API answered with an error.
    #[error("{0}")]
    Api(ApiProblem),
}

impl AdminError {
    pub fn file(name: impl AsRef<Path>, reason: impl fmt::Display) -> Self {
        Self::File {
            name: name.as_ref().display().to_string(),
            reason: reason.to_string(),
        }
    }
}

/// The admin API's location and the caller's credentials, resolved.
#[derive(Debug)]
pub struct Target {
    pub url: String,
    pub token: Secret<String>,
    pub ca_cert: PathBuf,
}

/// Resolves the target: values from `--demo` first, then the options and their
/// environment variables. Names what is missing, and how to give it.
pub fn resolve(connection: &Connection) -> Result<Target, AdminError> {
    let mut url = connection.admin_url.clone();
    let mut token = connection.admin_token.clone();
    let mut ca_cert = connection.ca_cert.clone();
    if let Some(path) = &connection.demo {
        let text = std::fs::read_to_string(path).map_err(|e| AdminError::file(path, e))?;
        let demo: Value = serde_json::from_str(&text)
            .map_err(|e| AdminError::file(path, format!("not JSON: {e}")))?;
        let text_at = |key: &str| demo.get(key).and_then(Value::as_str).map(str::to_string);
        url = text_at("admin_url").or(url);
        ca_cert = text_at("ca_cert").map(PathBuf::from).or(ca_cert);
        if connection.as_approver {
            let approver = text_at("approver_token").ok_or_else(|| {
                AdminError::file(
                    path,
                    "has no approver_token (--as-approver needs a demo.json from a \
                     `portcullis demo` that creates one)",
                )
            })?;
            token = Some(Secret::new(approver));
        } else {
            token = text_at("admin_token").map(Secret::new).or(token);
        }
    }
    let url = url.map(|u| u.trim().trim_end_matches('/').to_string());
    if let Some(url) = url
        .as_deref()
        .filter(|u| !u.is_empty() && !u.starts_with("https://"))
    {
        return Err(AdminError::Setup(format!(
            "admin URL {url}: expected https://host:port (the admin API speaks HTTPS only)"
        )));
    }
    let token = token.filter(|t| !t.expose().is_empty());
    let mut missing = Vec::new();
    if url.as_deref().is_none_or(str::is_empty) {
        missing.push("the admin URL (--admin-url or PORTCULLIS_ADMIN_URL)");
    }
    if token.is_none() {
        missing.push("an admin token (--admin-token or PORTCULLIS_ADMIN_TOKEN)");
    }
    if ca_cert.is_none() {
        missing.push("the admin listener's CA certificate (--ca-cert or PORTCULLIS_CA_CERT)");
    }
    match (url, token, ca_cert) {
        (Some(url), Some(token), Some(ca_cert)) if missing.is_empty() => Ok(Target {
            url,
            token,
            ca_cert,
        }),
        _ => Err(AdminError::Setup(format!(
            "missing {}; or pass --demo DIR/demo.json from `portcullis demo`",
            missing.join(", ")
        ))),
    }
}

/// A successful answer (2xx).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
}

pub struct AdminClient {
    target: Target,
    https: HttpsClient,
}

impl AdminClient {
    pub fn connect(connection: &Connection) -> Result<Self, AdminError> {
        let target = resolve(connection)?;
        let tls = portcullis_tls::client_config(&target.ca_cert, None)
            .map_err(|e| AdminError::Setup(format!("--ca-cert: {e}")))?;
        Ok(Self {
            target,
            https: HttpsClient::new(tls),
        })
    }

    /// Sends one request; any answer but 2xx is an error.
    pub async fn send(&self, request: &ApiRequest) -> Result<Answer, AdminError> {
        let url = url_of(&self.target.url, request)?;
        let mut bearer = HeaderValue::from_str(&format!("Bearer {}", self.target.token.expose()))
            .map_err(|_| {
            AdminError::Setup("the admin token has characters a header cannot carry".into())
        })?;
        bearer.set_sensitive(true);
        let mut builder = http::Request::builder()
            .method(request.method.clone())
            .uri(&url)
            .header(http::header::AUTHORIZATION, bearer)
            .header(http::header::ACCEPT, request.accept);
        let body = match &request.body {
            Some(body) => {
                builder = builder.header(http::header::CONTENT_TYPE, "application/json");
                Bytes::from(body.to_string())
            }
            None => Bytes::new(),
        };
        let http_request = builder
            .body(Full::new(body))
            .map_err(|e| AdminError::Setup(format!("invalid admin URL {url}: {e}")))?;
        let response = self
            .https
            .send(http_request)
            .await
            .map_err(|e| unreachable(&self.target.url, e))?;
        let status = response.status();
        let body = response.into_body();
        if !status.is_success() {
            return Err(AdminError::Api(ApiProblem::from_answer(status, &body)));
        }
        Ok(Answer { status, body })
    }
}

/// The full URL of a request: base, path, and the query if any.
pub fn url_of(base: &str, request: &ApiRequest) -> Result<String, AdminError> {
    let mut url = format!("{base}{}", request.path);
    if !request.query.is_empty() {
        let query = serde_urlencoded::to_string(&request.query)
            .map_err(|e| AdminError::Setup(e.to_string()))?;
        url.push('?');
        url.push_str(&query);
    }
    Ok(url)
}

/// Names the URL and the usual fix, by what went wrong.
fn unreachable(base: &str, error: HttpsClientError) -> AdminError {
    let hint = match &error {
        HttpsClientError::Url(_) => "the admin URL must look like https://host:port",
        HttpsClientError::Connect { .. } => {
            "is `portcullis demo` (or `portcullis serve`) running? pass --admin-url or --demo"
        }
        HttpsClientError::Handshake { .. } => {
            "is --ca-cert the CA that issued the admin listener's certificate? \
             (`portcullis demo` writes it as ca_cert in demo.json)"
        }
        HttpsClientError::Http(_) | HttpsClientError::Timeout(_) => {
            "the admin API did not answer properly; try again, or check its log"
        }
    };
    AdminError::Transport(format!(
        "no answer from the admin API at {base}: {error}\n  {hint}"
    ))
}

/// An error answer, as RFC 9457 problem details (or whatever else the server sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiProblem {
    pub status: u16,
    pub title: String,
    pub detail: String,
    /// (name, reason) of each invalid parameter.
    pub invalid_params: Vec<(String, String)>,
    pub request_id: Option<String>,
}

impl ApiProblem {
    pub fn from_answer(status: StatusCode, body: &[u8]) -> Self {
        let reason = status.canonical_reason().unwrap_or("Error").to_string();
        let Ok(Value::Object(problem)) = serde_json::from_slice::<Value>(body) else {
            // Not problem+json (a proxy's page, say): its start is still the best clue.
            let text = String::from_utf8_lossy(body);
            let detail: String = text.trim().chars().take(200).collect();
            return Self {
                status: status.as_u16(),
                title: reason,
                detail,
                invalid_params: Vec::new(),
                request_id: None,
            };
        };
        let text_at = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        let invalid_params = problem
            .get("invalid_params")
            .and_then(Value::as_array)
            .map(|params| {
                params
                    .iter()
                    .map(|p| {
                        (
                            text_at(p.get("name")).unwrap_or_else(|| "?".into()),
                            text_at(p.get("reason")).unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            status: status.as_u16(),
            title: text_at(problem.get("title")).unwrap_or(reason),
            detail: text_at(problem.get("detail")).unwrap_or_default(),
            invalid_params,
            request_id: text_at(problem.get("request_id")),
        }
    }
}

/// `<status> <title>: <detail>`, then one line per invalid parameter. Server text is
/// cleaned of control characters before it reaches the terminal.
impl fmt::Display for ApiProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, clean(&self.title))?;
        if !self.detail.is_empty() {
            write!(f, ": {}", clean(&self.detail))?;
        }
        for (name, reason) in &self.invalid_params {
            write!(f, "\n  {}: {}", clean(name), clean(reason))?;
        }
        if self.status == 401 {
            write!(
                f,
                "\n  the admin token was refused: check --admin-token / PORTCULLIS_ADMIN_TOKEN, or --demo"
            )?;
        }
        if let Some(id) = &self.request_id {
            write!(f, "\n  request id: {}", clean(id))?;
        }
        Ok(())
    }
}
