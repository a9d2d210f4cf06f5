//! Reading the log back: filtered queries and exports for SIEMs (JSON Lines and CEF).

use std::path::Path;

use serde::Deserialize;

use crate::event::{AuditEvent, Decision};
use crate::segment::{list_segments, read_segment, ReadProblem};

/// Which entries to return; every set field must match.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    pub partner_id: Option<String>,
    pub client_id: Option<String>,
    pub action: Option<String>,
    pub kind: Option<String>,
    /// Inclusive lower bound, milliseconds since the epoch.
    pub from_ms: Option<i64>,
    /// Exclusive upper bound, milliseconds since the epoch.
    pub to_ms: Option<i64>,
    /// At most this many entries (default and ceiling: 10,000).
    pub limit: Option<usize>,
    /// Only entries below this index: for a live log, its durable count, so a query never
    /// shows an entry that a power cut could still take back. Set by the caller, never
    /// from a request.
    #[serde(skip)]
    pub before_index: Option<u64>,
}

pub const MAX_QUERY_RESULTS: usize = 10_000;

impl Filter {
    pub fn matches(&self, e: &AuditEvent) -> bool {
        let eq = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|w| Some(w) == have)
        };
        eq(&self.partner_id, e.actor.partner_id.as_deref())
            && eq(&self.client_id, e.actor.client_id.as_deref())
            && eq(&self.action, Some(&e.action))
            && self.kind.as_deref().is_none_or(|k| {
                serde_json::to_value(e.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(|s| s == k))
                    .unwrap_or(false)
            })
            && self.from_ms.is_none_or(|f| e.time_ms >= f)
            && self.to_ms.is_none_or(|t| e.time_ms < t)
    }
}

/// One entry with its position in the log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IndexedEvent {
    pub index: u64,
    #[serde(flatten)]
    pub event: AuditEvent,
}

/// Scans the log for matching entries, oldest first. A partial entry at the very end (one
/// being written right now, or cut by a crash) ends the scan; anything else wrong is an
/// error.
pub fn query(dir: &Path, filter: &Filter) -> Result<Vec<IndexedEvent>, String> {
    let limit = filter
        .limit
        .unwrap_or(MAX_QUERY_RESULTS)
        .min(MAX_QUERY_RESULTS);
    let mut out = Vec::new();
    scan(dir, filter, |event| {
        out.push(event);
        out.len() < limit
    })?;
    Ok(out)
}

/// Visits every matching entry, oldest first, without a result limit (reports aggregate
/// over whole periods); `visit` returns false to stop early. `filter.limit` is ignored.
pub fn scan(
    dir: &Path,
    filter: &Filter,
    mut visit: impl FnMut(IndexedEvent) -> bool,
) -> Result<(), String> {
    let mut done = false;
    let pruned = crate::retention::read_manifest(dir)?.entries;
    // Segments an interrupted prune already counted are not part of the log any more.
    let segments: Vec<_> = list_segments(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .into_iter()
        .filter(|(first, _)| *first >= pruned)
        .collect();
    let count = segments.len();
    // Entries before this were visited (or passed over) already: a segment read twice
    // visits each entry once.
    let mut next = 0u64;
    for (i, (_, path)) in segments.into_iter().enumerate() {
        let mut read = |next: &mut u64| {
            read_segment(&path, |frame| {
                if frame.index < *next {
                    return Ok(());
                }
                if !done && filter.before_index.is_none_or(|b| frame.index < b) {
                    let event: AuditEvent = serde_json::from_slice(&frame.event_json)
                        .map_err(|e| format!("entry {}: {e}", frame.index))?;
                    if filter.matches(&event) {
                        done = !visit(IndexedEvent {
                            index: frame.index,
                            event,
                        });
                    }
                }
                *next = frame.index.saturating_add(1);
                Ok(())
            })
        };
        let problem = match read(&mut next) {
            Ok((_, problem)) => problem,
            // Removed by retention while this query ran: its entries are no longer kept.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let last = i + 1 == count;
        let problem = match problem {
            // The segment being written: its writer fills preallocated zeros in place,
            // so a read racing a write can see a frame's later pages before its earlier
            // ones. Past the entries asked for (a live log's durable count), that is the
            // end. Otherwise read again: a frame being written is whole then, and damage
            // stays where it was.
            Some(ReadProblem::Corrupt { .. })
                if last && filter.before_index.is_some_and(|b| next >= b) =>
            {
                None
            }
            Some(ReadProblem::Corrupt { offset, .. }) if last => match read(&mut next) {
                Ok((_, Some(again @ ReadProblem::Corrupt { offset: at, .. }))) if at == offset => {
                    Some(again)
                }
                Ok((_, Some(ReadProblem::Corrupt { offset: at, detail }))) => {
                    tracing::warn!(segment = %path.display(), first = offset, then = at, %detail, "audit segment unreadable at two places in two reads; ending the query at the second");
                    None
                }
                Ok(_) => None,
                Err(e) => return Err(format!("{}: {e}", path.display())),
            },
            other => other,
        };
        match problem {
            None => {}
            Some(ReadProblem::TornTail { .. }) if last => {}
            Some(p) => return Err(format!("{}: {p:?}", path.display())),
        }
        if done {
            break;
        }
    }
    Ok(())
}

/// One ArcSight CEF line.
pub fn to_cef(e: &IndexedEvent) -> String {
    let header = |s: &str| s.replace('\\', "\\\\").replace('|', "\\|");
    let value = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('=', "\\=")
            .replace('\n', "\\n")
            .replace('\r', "\\r")
    };
    let event = &e.event;
    let kind = serde_json::to_value(event.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let severity = match event.decision {
        Decision::Allow => 3,
        Decision::Deny => 6,
    };
    let mut ext = vec![
        format!("rt={}", event.time_ms),
        format!("externalId={}", e.index),
        format!(
            "outcome={}",
            if event.decision == Decision::Allow {
                "allow"
            } else {
                "deny"
            }
        ),
        format!("reason={}", value(&event.reason)),
    ];
    if let Some(v) = &event.source_ip {
        ext.push(format!("src={}", value(v)));
    }
    if let Some(v) = &event.actor.partner_id {
        ext.push(format!("suser={}", value(v)));
    }
    if let Some(v) = &event.actor.client_id {
        ext.push(format!("cs1Label=client_id cs1={}", value(v)));
    }
    if let Some(v) = &event.actor.admin {
        ext.push(format!("cs2Label=admin cs2={}", value(v)));
    }
    if let Some(v) = &event.request_id {
        ext.push(format!("cs3Label=request_id cs3={}", value(v)));
    }
    if let Some(v) = event.status {
        ext.push(format!("cn1Label=status cn1={v}"));
    }
    format!(
        "CEF:0|Portcullis|Portcullis|{}|{}|{}|{severity}|{}",
        env!("CARGO_PKG_VERSION"),
        header(&kind),
        header(&event.action),
        ext.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Actor, EventKind};

    #[test]
    fn cef_escapes_what_it_must() {
        let e = IndexedEvent {
            index: 7,
            event: AuditEvent {
                time_ms: 1,
                kind: EventKind::AdminChange,
                environment: None,
                actor: Actor {
                    admin: Some("ops=1\nx".into()),
                    ..Default::default()
                },
                action: "partner|suspend".into(),
                target: Default::default(),
                decision: Decision::Allow,
                reason: "a\\b".into(),
                status: None,
                latency_us: None,
                source_ip: None,
                request_id: None,
                fields_removed: Default::default(),
                trace: None,
            },
        };
        let line = to_cef(&e);
        assert!(
            line.contains("|admin_change|partner\\|suspend|3|"),
            "{line}"
        );
        assert!(line.contains("cs2=ops\\=1\\nx"), "{line}");
        assert!(line.contains("reason=a\\\\b"), "{line}");
        assert!(!line.contains('\n'));
    }
}
