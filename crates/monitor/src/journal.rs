//! Alerts and incidents on disk: one JSON line per version of a record, appended and
//! fsynced under `DATA_DIR/monitor/records.jsonl`; the last line for an id wins when the
//! file is read back at start. Records change a handful of times each, so the file stays
//! small; a partial last line from a crash is skipped with a warning.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::alert::Alert;
use crate::incident::Incident;

pub const RECORDS_FILE: &str = "records.jsonl";

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Line {
    Alert(Box<Alert>),
    Incident(Box<Incident>),
}

pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
}

#[derive(Default)]
pub struct Loaded {
    pub alerts: BTreeMap<String, Alert>,
    pub incidents: BTreeMap<String, Incident>,
}

impl Journal {
    pub fn open(dir: &Path) -> Result<(Self, Loaded), String> {
        fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = dir.join(RECORDS_FILE);
        let mut loaded = Loaded::default();
        match fs::read_to_string(&path) {
            Ok(text) => {
                let lines: Vec<&str> = text.lines().collect();
                for (i, line) in lines.iter().enumerate() {
                    match serde_json::from_str::<Line>(line) {
                        Ok(Line::Alert(a)) => {
                            loaded.alerts.insert(a.id.clone(), *a);
                        }
                        Ok(Line::Incident(n)) => {
                            loaded.incidents.insert(n.id.clone(), *n);
                        }
                        // A torn record (a crash or a full disk while writing it) is
                        // skipped: these are operational records, the audit log holds
                        // every action as well.
                        Err(e) => {
                            tracing::warn!(path = %path.display(), line = i + 1, error = %e, "skipping an unreadable monitor record");
                        }
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("{}: {e}", path.display())),
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        // Cut a torn last line, or the next record would be appended onto it.
        let text = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        if !text.is_empty() && !text.ends_with(b"\n") {
            let keep = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            file.set_len(keep as u64)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok((
            Self {
                path,
                file: Mutex::new(file),
            },
            loaded,
        ))
    }

    pub fn alert(&self, alert: &Alert) -> Result<(), String> {
        self.write(&Line::Alert(Box::new(alert.clone())))
    }

    pub fn incident(&self, incident: &Incident) -> Result<(), String> {
        self.write(&Line::Incident(Box::new(incident.clone())))
    }

    fn write(&self, line: &Line) -> Result<(), String> {
        let mut text = serde_json::to_string(line).map_err(|e| e.to_string())?;
        text.push('\n');
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let before = file
            .metadata()
            .map_err(|e| format!("{}: {e}", self.path.display()))?
            .len();
        let written = file
            .write_all(text.as_bytes())
            .and_then(|()| file.sync_data());
        if let Err(e) = written {
            // Leave no partial record for the next one to be appended to.
            let _ = file.set_len(before);
            return Err(format!("{}: {e}", self.path.display()));
        }
        Ok(())
    }
}
