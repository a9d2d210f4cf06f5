//! Incidents: severity, linked alerts, a timeline through detection, classification,
//! containment, notification and resolution, owner and escalation contacts, and the
//! regulatory clocks that run from classification and awareness.
//!
//! Clocks, as deadlines from the event that starts them:
//! - DORA (Regulation (EU) 2022/2554, art. 19 and its technical standards), once the
//!   incident is classified as major: initial notification within 4 hours of
//!   classification, intermediate report within 72 hours, final report within one month
//!   (counted here as 30 days);
//! - GDPR art. 33: notification of a personal-data breach within 72 hours of becoming
//!   aware of it, counted from detection.
//!
//! A clock is met when a notification of its report kind is recorded.

use serde::{Deserialize, Serialize};

use crate::alert::Severity;

const HOUR_MS: i64 = 3_600_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Detected,
    Classified,
    Contained,
    Notified,
    Resolved,
}

impl Stage {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "detected" => Stage::Detected,
            "classified" => Stage::Classified,
            "contained" => Stage::Contained,
            "notified" => Stage::Notified,
            "resolved" => Stage::Resolved,
            _ => return None,
        })
    }
}

/// Which report a notification was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Report {
    DoraInitial,
    DoraIntermediate,
    DoraFinal,
    GdprBreach,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub stage: Stage,
    pub at_ms: i64,
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<Report>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegulatoryClock {
    pub report: Report,
    pub rule: String,
    pub starts_at_ms: i64,
    pub due_at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub met_at_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    /// Classified as major under DORA (starts its clocks).
    pub major: bool,
    /// Personal data was breached (starts the GDPR clock from detection).
    pub personal_data_breach: bool,
    pub status: IncidentStatus,
    pub alert_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default)]
    pub escalation_contacts: Vec<String>,
    pub timeline: Vec<TimelineEntry>,
    pub clocks: Vec<RegulatoryClock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_notes: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    Open,
    Resolved,
}

/// One operator update to an incident.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentUpdate {
    pub stage: Option<String>,
    pub note: Option<String>,
    /// With `stage = "classified"`: whether the incident is major under DORA.
    pub major: Option<bool>,
    pub personal_data_breach: Option<bool>,
    /// With `stage = "notified"`: which report was sent.
    pub report: Option<Report>,
    pub owner: Option<String>,
    pub escalation_contacts: Option<Vec<String>>,
    pub severity: Option<Severity>,
    pub review_notes: Option<String>,
}

impl Incident {
    pub fn open(
        id: String,
        title: String,
        severity: Severity,
        alert_id: &str,
        partner_id: Option<String>,
        detected_at_ms: i64,
        by: &str,
    ) -> Self {
        Self {
            id,
            title,
            severity,
            major: false,
            personal_data_breach: false,
            status: IncidentStatus::Open,
            alert_ids: vec![alert_id.to_string()],
            partner_id,
            owner: None,
            escalation_contacts: Vec::new(),
            timeline: vec![TimelineEntry {
                stage: Stage::Detected,
                at_ms: detected_at_ms,
                by: by.to_string(),
                note: None,
                report: None,
            }],
            clocks: Vec::new(),
            review_notes: None,
            created_at_ms: detected_at_ms,
            updated_at_ms: detected_at_ms,
        }
    }

    fn detected_at(&self) -> i64 {
        self.timeline
            .iter()
            .find(|e| e.stage == Stage::Detected)
            .map_or(self.created_at_ms, |e| e.at_ms)
    }

    fn start_clock(&mut self, report: Report, rule: &str, starts: i64, hours: i64) {
        if self.clocks.iter().any(|c| c.report == report) {
            return;
        }
        self.clocks.push(RegulatoryClock {
            report,
            rule: rule.into(),
            starts_at_ms: starts,
            due_at_ms: starts + hours * HOUR_MS,
            met_at_ms: None,
        });
    }

    /// Applies an operator's update; refuses what makes no sense, naming the field.
    pub fn apply(&mut self, update: IncidentUpdate, by: &str, now_ms: i64) -> Result<(), String> {
        if self.status == IncidentStatus::Resolved && update.review_notes.is_none() {
            return Err("the incident is resolved; only review_notes may still be added".into());
        }
        let stage = match update.stage.as_deref() {
            None => None,
            Some(s) => Some(Stage::parse(s).ok_or_else(|| {
                format!(
                    "stage {s:?} is not one of detected, classified, contained, notified, resolved"
                )
            })?),
        };
        if update.report.is_some() && stage != Some(Stage::Notified) {
            return Err("report is given only with stage = \"notified\"".into());
        }
        if update.major.is_some() && stage != Some(Stage::Classified) {
            return Err("major is given only with stage = \"classified\"".into());
        }
        if let Some(breach) = update.personal_data_breach {
            self.personal_data_breach = breach;
            if breach {
                let detected = self.detected_at();
                self.start_clock(
                    Report::GdprBreach,
                    "GDPR art. 33: notify the supervisory authority within 72 hours of awareness",
                    detected,
                    72,
                );
            }
        }
        if let Some(owner) = update.owner {
            self.owner = Some(owner);
        }
        if let Some(contacts) = update.escalation_contacts {
            self.escalation_contacts = contacts;
        }
        if let Some(severity) = update.severity {
            self.severity = severity;
        }
        if let Some(notes) = update.review_notes {
            self.review_notes = Some(notes);
        }
        if let Some(stage) = stage {
            match stage {
                Stage::Detected => {
                    return Err("an incident is detected once, when it is opened".into())
                }
                Stage::Classified => {
                    let major = update
                        .major
                        .ok_or("classifying needs major = true or false")?;
                    self.major = major;
                    if major {
                        self.start_clock(
                            Report::DoraInitial,
                            "DORA: initial notification within 4 hours of classification as major",
                            now_ms,
                            4,
                        );
                        self.start_clock(
                            Report::DoraIntermediate,
                            "DORA: intermediate report within 72 hours",
                            now_ms,
                            72,
                        );
                        self.start_clock(
                            Report::DoraFinal,
                            "DORA: final report within one month (30 days)",
                            now_ms,
                            30 * 24,
                        );
                    }
                }
                Stage::Notified => {
                    let report = update.report.ok_or("a notification names its report: dora_initial, dora_intermediate, dora_final or gdpr_breach")?;
                    let clock = self.clocks.iter_mut().find(|c| c.report == report).ok_or_else(|| {
                        format!("no {report:?} clock runs for this incident (classify it as major, or mark a personal-data breach, first)")
                    })?;
                    clock.met_at_ms.get_or_insert(now_ms);
                }
                Stage::Resolved => self.status = IncidentStatus::Resolved,
                Stage::Contained => {}
            }
            self.timeline.push(TimelineEntry {
                stage,
                at_ms: now_ms,
                by: by.to_string(),
                note: update.note,
                report: update.report,
            });
        }
        self.updated_at_ms = now_ms;
        Ok(())
    }

    /// Clocks past due and not met at `now_ms`.
    pub fn overdue(&self, now_ms: i64) -> Vec<&RegulatoryClock> {
        self.clocks
            .iter()
            .filter(|c| c.met_at_ms.is_none() && now_ms > c.due_at_ms)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due(i: &Incident, r: Report) -> i64 {
        i.clocks.iter().find(|c| c.report == r).unwrap().due_at_ms
    }

    fn update(stage: &str) -> IncidentUpdate {
        IncidentUpdate {
            stage: Some(stage.into()),
            ..IncidentUpdate::default()
        }
    }

    #[test]
    fn classifying_as_major_starts_the_dora_clocks_and_notifications_meet_them() {
        let t0 = 1_800_000_000_000;
        let mut i = Incident::open(
            "i1".into(),
            "stuffing".into(),
            Severity::High,
            "a1",
            None,
            t0,
            "monitor",
        );
        i.apply(update("contained"), "monitor", t0 + 1000).unwrap();
        assert!(i.clocks.is_empty());
        let classified = t0 + 2 * HOUR_MS;
        i.apply(
            IncidentUpdate {
                major: Some(true),
                ..update("classified")
            },
            "ops",
            classified,
        )
        .unwrap();
        assert_eq!(due(&i, Report::DoraInitial), classified + 4 * HOUR_MS);
        assert_eq!(due(&i, Report::DoraIntermediate), classified + 72 * HOUR_MS);
        assert_eq!(due(&i, Report::DoraFinal), classified + 30 * 24 * HOUR_MS);
        assert_eq!(i.overdue(classified + 5 * HOUR_MS).len(), 1);
        i.apply(
            IncidentUpdate {
                report: Some(Report::DoraInitial),
                ..update("notified")
            },
            "ops",
            classified + HOUR_MS,
        )
        .unwrap();
        assert!(i.overdue(classified + 5 * HOUR_MS).is_empty());
        // GDPR runs from awareness (detection), not from when the breach was marked.
        i.apply(
            IncidentUpdate {
                personal_data_breach: Some(true),
                ..IncidentUpdate::default()
            },
            "ops",
            t0 + 10 * HOUR_MS,
        )
        .unwrap();
        assert_eq!(due(&i, Report::GdprBreach), t0 + 72 * HOUR_MS);
        i.apply(update("resolved"), "ops", t0 + 20 * HOUR_MS)
            .unwrap();
        let stages: Vec<Stage> = i.timeline.iter().map(|e| e.stage).collect();
        assert_eq!(
            stages,
            [
                Stage::Detected,
                Stage::Contained,
                Stage::Classified,
                Stage::Notified,
                Stage::Resolved
            ]
        );
        let err = i
            .apply(update("contained"), "ops", t0 + 21 * HOUR_MS)
            .unwrap_err();
        assert!(err.contains("resolved"), "{err}");
        i.apply(
            IncidentUpdate {
                review_notes: Some("rotate keys".into()),
                ..IncidentUpdate::default()
            },
            "ops",
            t0 + 30 * HOUR_MS,
        )
        .unwrap();
    }

    #[test]
    fn nonsense_updates_are_refused_with_the_field_named() {
        let mut i = Incident::open("i1".into(), "t".into(), Severity::Low, "a1", None, 0, "m");
        assert!(i
            .apply(update("classified"), "ops", 1)
            .unwrap_err()
            .contains("major"));
        assert!(i
            .apply(update("bogus"), "ops", 1)
            .unwrap_err()
            .contains("stage"));
        assert!(i
            .apply(
                IncidentUpdate {
                    report: Some(Report::DoraFinal),
                    ..update("notified")
                },
                "ops",
                1
            )
            .unwrap_err()
            .contains("clock"));
        assert!(i
            .apply(
                IncidentUpdate {
                    major: Some(true),
                    ..update("contained")
                },
                "ops",
                1
            )
            .unwrap_err()
            .contains("major"));
        assert_eq!(i.timeline.len(), 1);
    }
}
