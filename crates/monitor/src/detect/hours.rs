//! Use outside the hours of the partner's contract.

use std::collections::HashMap;

use portcullis_audit::AuditEvent;

use super::{secs, MAX_KEYS};
use crate::alert::{Evidence, Finding, Severity, Subject};
use crate::config::OffHoursConfig;
use crate::window::{Keyed, Window};
use crate::AlertKind;

/// The daily window a contract permits access in, as minutes after midnight UTC;
/// `start > end` wraps past midnight (22:00–06:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessHours {
    pub start_minute: u32,
    pub end_minute: u32,
}

impl AccessHours {
    /// Parses `HH:MM-HH:MM` (UTC).
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not HH:MM-HH:MM (UTC), e.g. \"07:00-19:00\"");
        let (a, b) = text.split_once('-').ok_or_else(bad)?;
        let minute = |s: &str| -> Result<u32, String> {
            let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
            let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
            if h > 24 || m > 59 || (h == 24 && m != 0) {
                return Err(bad());
            }
            Ok(h * 60 + m)
        };
        let hours = Self {
            start_minute: minute(a)?,
            end_minute: minute(b)?,
        };
        if hours.start_minute == hours.end_minute {
            return Err(format!("{text:?} is an empty window"));
        }
        Ok(hours)
    }

    pub fn allows(&self, time_ms: i64) -> bool {
        let minute = (time_ms.div_euclid(60_000)).rem_euclid(24 * 60) as u32;
        if self.start_minute < self.end_minute {
            (self.start_minute..self.end_minute).contains(&minute)
        } else {
            minute >= self.start_minute || minute < self.end_minute
        }
    }

    pub fn describe(&self) -> String {
        let f = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
        format!("{}-{} UTC", f(self.start_minute), f(self.end_minute))
    }
}

pub(super) struct OffHours {
    config: OffHoursConfig,
    hours: HashMap<String, AccessHours>,
    outside: Keyed<String, Window>,
}

impl OffHours {
    pub fn new(config: OffHoursConfig) -> Self {
        Self {
            config,
            hours: HashMap::new(),
            outside: Keyed::new(MAX_KEYS),
        }
    }

    pub fn set(&mut self, hours: HashMap<String, AccessHours>) {
        self.hours = hours;
    }

    pub fn forget(&mut self, partner: &str) {
        self.outside.remove(&partner.to_string());
    }

    pub fn observe(&mut self, partner: &str, e: &AuditEvent, out: &mut Vec<Finding>) {
        let Some(hours) = self.hours.get(partner) else {
            return;
        };
        if hours.allows(e.time_ms) {
            return;
        }
        let span = secs(self.config.window_seconds);
        let Some(w) = self
            .outside
            .entry(partner, e.time_ms, |w| w.idle(e.time_ms, span))
        else {
            return;
        };
        w.expire(e.time_ms, span);
        w.push(e.time_ms, e.request_id.as_deref());
        if w.count() < self.config.min_requests {
            return;
        }
        let mut evidence = Evidence {
            count: w.count(),
            window_seconds: self.config.window_seconds,
            threshold: self.config.min_requests as f64,
            sample_request_ids: w.samples(),
            ..Evidence::default()
        };
        evidence
            .details
            .insert("contract_hours".into(), hours.describe().into());
        let subject = match &e.actor.client_id {
            Some(c) => Subject::Client(c.clone()),
            None => Subject::Partner(partner.to_string()),
        };
        out.push(Finding {
            kind: AlertKind::OffHours,
            severity: Severity::Medium,
            subject,
            partner_id: Some(partner.to_string()),
            client_id: e.actor.client_id.clone(),
            source_ip: e.source_ip.clone(),
            summary: format!(
                "partner {partner} made {} requests outside its contract hours ({})",
                w.count(),
                hours.describe()
            ),
            evidence,
            onset_ms: w.first_ms().unwrap_or(e.time_ms),
        });
    }
}
