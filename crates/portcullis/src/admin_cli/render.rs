//! How answers look with `--output table`: lists as aligned tables, single objects as
//! `key: value` lines (nested objects as compact JSON), Unix times as UTC
//! `YYYY-MM-DD HH:MM`. Text from the server is cleaned of control characters, so a name
//! cannot move the cursor or rewrite the terminal.

use serde_json::{json, Map, Value};

use super::client::{AdminError, Answer};
use super::{Column, Output, View};

/// Shown first in `key: value` output, in this order; the other keys follow by name.
const LEADING_KEYS: [&str; 7] = [
    "id",
    "client_id",
    "partner_id",
    "name",
    "kind",
    "environment",
    "status",
];

const EVIDENCE_COLUMNS: &[Column] = &[
    Column::text("OPERATION", "/operation"),
    Column::text("SCOPE", "/scope"),
    Column::text("SUCCESSES", "/successes"),
    Column::text("ERRORS", "/errors"),
    Column::text("ERRORS_HANDLED", "/errors_handled"),
];

/// What a successful answer prints on stdout.
pub fn answer(view: &View, output: Output, answer: &Answer) -> Result<String, AdminError> {
    if let View::Report { .. } = view {
        return Ok(report(&answer.body));
    }
    let value: Value = if answer.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&answer.body).map_err(|e| {
            AdminError::Transport(format!(
                "the admin API answered {} with non-JSON: {e}",
                answer.status
            ))
        })?
    };
    if output == Output::Json {
        return Ok(pretty(&value));
    }
    if answer.status == http::StatusCode::ACCEPTED {
        return Ok(approval_requested(&value));
    }
    Ok(match (view, &value) {
        (View::Table(columns), Value::Array(rows)) => table(columns, rows),
        (View::Evidence, Value::Object(_)) => evidence(&value),
        (_, Value::Object(object)) => key_values(object),
        (_, Value::Null) => "done\n".to_string(),
        _ => pretty(&value),
    })
}

/// A report as sent: JSON pretty-printed, anything else (HTML) unchanged.
fn report(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(value) => pretty(&value),
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    }
}

pub fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    text.push('\n');
    text
}

/// The answer to a change that needs a second person.
pub fn approval_requested(approval: &Value) -> String {
    let id = approval
        .get("id")
        .map(|id| cell(id, false))
        .unwrap_or_else(|| "?".into());
    format!(
        "approval requested: {id} (awaits a second person with the approver role)\n  \
         to decide: portcullis approvals approve {id} --justification \"...\"  (or reject)\n"
    )
}

/// An aligned table: one header line, one line per row, columns two spaces apart.
pub fn table(columns: &[Column], rows: &[Value]) -> String {
    let mut lines: Vec<Vec<String>> = vec![columns.iter().map(|c| c.header.to_string()).collect()];
    for row in rows {
        lines.push(
            columns
                .iter()
                .map(|c| cell(row.pointer(c.pointer).unwrap_or(&Value::Null), c.time))
                .collect(),
        );
    }
    let mut widths = vec![0; columns.len()];
    for line in &lines {
        for (width, text) in widths.iter_mut().zip(line) {
            *width = (*width).max(text.chars().count());
        }
    }
    let mut out = String::new();
    for line in lines {
        let padded: Vec<String> = line
            .iter()
            .zip(&widths)
            .map(|(text, width)| format!("{text:<width$}"))
            .collect();
        out.push_str(padded.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// `key: value` lines, values aligned. Keys ending in `_at` are Unix times; a list of
/// plain values gets one `- item` line each.
pub fn key_values(object: &Map<String, Value>) -> String {
    let mut keys: Vec<&String> = object.keys().collect();
    keys.sort_by_key(|k| {
        (
            LEADING_KEYS
                .iter()
                .position(|l| l == k)
                .unwrap_or(LEADING_KEYS.len()),
            k.as_str(),
        )
    });
    let width = keys.iter().map(|k| k.chars().count()).max().unwrap_or(0) + 1;
    let mut out = String::new();
    for key in keys {
        let value = &object[key];
        let label = format!("{}:", clean(key));
        match value {
            Value::Array(items) if !items.is_empty() && items.iter().all(is_plain) => {
                out.push_str(&label);
                out.push('\n');
                for item in items {
                    out.push_str(&format!("  - {}\n", cell(item, false)));
                }
            }
            _ => {
                let text = cell(value, key.ends_with("_at"));
                out.push_str(&format!("{label:<width$} {text}\n"));
            }
        }
    }
    out
}

/// Sandbox evidence: the summary as `key: value` lines, then the operations as a table
/// with errors as `status:count`.
fn evidence(value: &Value) -> String {
    let mut summary = value.as_object().cloned().unwrap_or_default();
    let operations = summary.remove("operations");
    let mut out = key_values(&summary);
    if let Some(Value::Array(operations)) = operations {
        let rows: Vec<Value> = operations
            .iter()
            .map(|op| {
                let mut op = op.clone();
                if let Some(errors) = op.get("errors").and_then(Value::as_object) {
                    let text: Vec<String> = errors
                        .iter()
                        .map(|(status, count)| format!("{status}:{count}"))
                        .collect();
                    op["errors"] = if text.is_empty() {
                        Value::Null
                    } else {
                        json!(text.join(" "))
                    };
                }
                op
            })
            .collect();
        out.push('\n');
        out.push_str(&table(EVIDENCE_COLUMNS, &rows));
    }
    out
}

fn is_plain(value: &Value) -> bool {
    !value.is_object() && !value.is_array()
}

/// One value as text: `-` when absent, times as UTC, lists of plain values comma-joined,
/// anything nested as compact JSON.
pub fn cell(value: &Value, time: bool) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(text) => clean(text),
        Value::Number(n) if time => n.as_i64().map(utc).unwrap_or_else(|| n.to_string()),
        Value::Number(n) => n.to_string(),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        Value::Array(items) if items.is_empty() => "-".into(),
        Value::Array(items) if items.iter().all(is_plain) => items
            .iter()
            .map(|i| cell(i, time))
            .collect::<Vec<_>>()
            .join(", "),
        nested => clean(&nested.to_string()),
    }
}

/// Unix seconds as a UTC `YYYY-MM-DD HH:MM`.
pub fn utc(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        of_day / 3600,
        of_day % 3600 / 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Server text made safe for a terminal: control characters and bidirectional overrides
/// (which can make text read differently from what it is) become `\u{..}` escapes.
pub fn clean(text: &str) -> String {
    let unsafe_char = |c: char| {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if unsafe_char(c) {
                format!("\\u{{{:x}}}", u32::from(c))
            } else {
                c.to_string()
            }
        })
        .collect()
}
