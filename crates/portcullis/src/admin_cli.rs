//! `portcullis partners|grants|clients|approvals|reviews|governance|reports ...`: the admin
//! API (`crates/control-plane/openapi/admin-v1.json`) from the command line.
//!
//! Every subcommand is one request: it says which ([`ApiRequest`]) and how its answer is
//! shown ([`View`]); [`run`] sends it and prints the answer. Mapping and rendering are plain
//! functions, so both are tested without a network (`admin_cli/tests.rs`).
//!
//! Files, by what a reader looks for: `client.rs` (where the API is, the token, HTTPS and
//! problem+json errors), `render.rs` (tables and key: value lines), then one file per
//! resource: `partners.rs`, `access.rs` (grants and clients), `approvals.rs`,
//! `reviews.rs` (access reviews and the governance sweep), `reports.rs`.

mod access;
mod approvals;
mod client;
mod partners;
mod render;
mod reports;
mod reviews;
#[cfg(test)]
mod tests;

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use http::Method;
use portcullis_core::Secret;
use serde_json::Value;

pub use access::{ClientsCommand, GrantsCommand};
pub use approvals::ApprovalsCommand;
pub use client::AdminError;
pub use partners::PartnersCommand;
pub use reports::ReportsCommand;
pub use reviews::{GovernanceCommand, ReviewsCommand};

/// One admin resource's subcommands, with the connection flags every one of them takes
/// (before or after the verb).
#[derive(Args, Debug)]
pub struct Resource<C: Subcommand> {
    #[command(flatten)]
    pub connection: Connection,
    #[command(subcommand)]
    pub command: C,
}

/// Where the admin API is, who is asking and how answers are printed.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Admin API")]
pub struct Connection {
    /// Base URL of the admin API, e.g. https://127.0.0.1:9443.
    #[arg(long, env = "PORTCULLIS_ADMIN_URL", global = true, value_name = "URL")]
    pub admin_url: Option<String>,
    /// Admin token (pcadm_...). Prefer the environment variable: arguments show in `ps`.
    #[arg(
        long,
        env = "PORTCULLIS_ADMIN_TOKEN",
        hide_env_values = true,
        global = true,
        value_name = "TOKEN",
        value_parser = secret
    )]
    pub admin_token: Option<Secret<String>>,
    /// CA certificate (PEM) that issued the admin listener's certificate.
    #[arg(long, env = "PORTCULLIS_CA_CERT", global = true, value_name = "PEM")]
    pub ca_cert: Option<PathBuf>,
    /// Take the URL, token and CA certificate from a demo.json written by `portcullis demo`;
    /// its values win over the three options above and their environment variables.
    #[arg(long, global = true, value_name = "DEMO_JSON")]
    pub demo: Option<PathBuf>,
    /// With --demo: act with the demo's approver token (a second person, role approver).
    #[arg(long, global = true, requires = "demo")]
    pub as_approver: bool,
    /// `table` for people (times in UTC), or `json`: the API's answer, pretty-printed.
    #[arg(long, global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
}

/// Every admin subcommand: one request to the admin API.
pub trait ToRequest {
    fn to_request(&self) -> Result<ApiRequest, AdminError>;
}

/// One call to the admin API, and how its successful answer is shown.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiRequest {
    pub method: Method,
    /// Starts with `/admin/v1/`; user input in it is already percent-encoded.
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Value>,
    pub accept: &'static str,
    pub view: View,
}

impl ApiRequest {
    pub fn get(path: String, view: View) -> Self {
        Self {
            method: Method::GET,
            path,
            query: Vec::new(),
            body: None,
            accept: "application/json",
            view,
        }
    }

    /// A request with a JSON body.
    pub fn with_body(method: Method, path: String, body: Value, view: View) -> Self {
        Self {
            method,
            body: Some(body),
            ..Self::get(path, view)
        }
    }

    /// Adds the query parameters that are set.
    pub fn query(mut self, params: &[(&'static str, Option<&String>)]) -> Self {
        for (name, value) in params {
            if let Some(value) = value {
                self.query.push((name, value.to_string()));
            }
        }
        self
    }
}

/// How a successful answer is printed with `--output table`. A 202 answer (an approval was
/// requested) is always shown as the approval, whatever the view.
#[derive(Debug, Clone, PartialEq)]
pub enum View {
    /// A JSON array, one row per element.
    Table(&'static [Column]),
    /// One JSON object, as `key: value` lines.
    Object,
    /// Sandbox evidence: its summary, then a table of the operations exercised.
    Evidence,
    /// A report, written as the API sent it (to the file if given, else to stdout).
    Report { out: Option<PathBuf> },
}

/// One column of a table: its header and where its value is in each element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub header: &'static str,
    /// A JSON pointer into the element, e.g. `/policy/valid_until`.
    pub pointer: &'static str,
    /// The value is Unix seconds, shown as a UTC time.
    pub time: bool,
}

impl Column {
    pub const fn text(header: &'static str, pointer: &'static str) -> Self {
        Self {
            header,
            pointer,
            time: false,
        }
    }

    pub const fn time(header: &'static str, pointer: &'static str) -> Self {
        Self {
            header,
            pointer,
            time: true,
        }
    }
}

/// Sends the subcommand's request and prints the answer; an error answer becomes the
/// error `main` prints (exit code 1).
pub async fn run<C: Subcommand + ToRequest>(resource: Resource<C>) -> Result<(), String> {
    let request = resource.command.to_request().map_err(|e| e.to_string())?;
    let client = client::AdminClient::connect(&resource.connection).map_err(|e| e.to_string())?;
    let answer = client.send(&request).await.map_err(|e| e.to_string())?;
    if let View::Report { out: Some(path) } = &request.view {
        std::fs::write(path, &answer.body).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("wrote {} ({} bytes)", path.display(), answer.body.len());
        return Ok(());
    }
    let shown = render::answer(&request.view, resource.connection.output, &answer)
        .map_err(|e| e.to_string())?;
    print!("{shown}");
    Ok(())
}

fn secret(text: &str) -> Result<Secret<String>, String> {
    Ok(Secret::new(text.trim().to_string()))
}

/// A path segment from user input, percent-encoded so that `a/b` or `..` stays one segment
/// naming one resource.
pub(crate) fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The name a value of a CLI enum has on the command line, which is also its name in the
/// API (both snake_case).
pub(crate) fn wire_name<T: ValueEnum>(value: &T) -> String {
    value
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default()
}

/// A JSON object from a file, or from stdin when the path is `-`.
pub(crate) fn read_json_object(path: &Path) -> Result<Value, AdminError> {
    let (name, text) = if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| AdminError::file("stdin", e))?;
        ("stdin".to_string(), text)
    } else {
        let text = std::fs::read_to_string(path).map_err(|e| AdminError::file(path, e))?;
        (path.display().to_string(), text)
    };
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| AdminError::file(&name, format!("not JSON: {e}")))?;
    if !value.is_object() {
        return Err(AdminError::file(&name, "expected a JSON object"));
    }
    Ok(value)
}

/// `--from`/`--to`: a day as the API takes it, YYYY-MM-DD (UTC).
pub(crate) fn parse_date(text: &str) -> Result<String, String> {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = text.get(range)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let valid = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && digits(0..4).is_some()
        && digits(5..7).is_some_and(|m| (1..=12).contains(&m))
        && digits(8..10).is_some_and(|d| (1..=31).contains(&d));
    if valid {
        Ok(text.to_string())
    } else {
        Err("expected a day as YYYY-MM-DD (UTC)".into())
    }
}
