//! The detectors, run in turn over every event. Each keeps bounded state per partner,
//! client or source address and reads only the event's own time.

mod auth;
mod enumeration;
mod geo;
mod hours;
mod mix;
mod spike;

use portcullis_audit::{AuditEvent, EventKind};

use crate::alert::Finding;
use crate::config::MonitorConfig;

pub use auth::source_key;
pub use geo::RegionTable;
pub use hours::AccessHours;

/// Most keys (partners, clients, addresses) one detector tracks.
const MAX_KEYS: usize = 100_000;

pub struct Detectors {
    auth: auth::AuthFailures,
    enumeration: enumeration::Enumeration,
    spike: spike::Spike,
    mix: mix::OperationMix,
    geo: geo::Geography,
    hours: hours::OffHours,
}

impl Detectors {
    pub fn new(config: &MonitorConfig, regions: RegionTable) -> Self {
        Self {
            auth: auth::AuthFailures::new(config.auth_failures.clone()),
            enumeration: enumeration::Enumeration::new(config.enumeration.clone()),
            spike: spike::Spike::new(config.spike.clone()),
            mix: mix::OperationMix::new(config.operation_mix.clone()),
            geo: geo::Geography::new(config.geography.clone(), regions),
            hours: hours::OffHours::new(config.off_hours.clone()),
        }
    }

    /// Contract hours by partner; partners without any are not checked.
    pub fn set_access_hours(&mut self, hours: std::collections::HashMap<String, AccessHours>) {
        self.hours.set(hours);
    }

    /// Forgets the recent behaviour an alert was about, once an operator has dealt with
    /// it (closed it): the window that raised it would otherwise raise it again at the
    /// subject's next request. Learned baselines are kept.
    pub fn forget(&mut self, alert: &crate::Alert) {
        use crate::AlertKind::*;
        let partner = alert.partner_id.as_deref();
        match alert.kind {
            AuthFailureBurst | CredentialStuffing => self.auth.forget(&alert.subject),
            Enumeration => partner.into_iter().for_each(|p| self.enumeration.forget(p)),
            TrafficSpike => partner.into_iter().for_each(|p| self.spike.forget(p)),
            OperationMix => partner.into_iter().for_each(|p| self.mix.forget(p)),
            OffHours => partner.into_iter().for_each(|p| self.hours.forget(p)),
            UnexpectedRegion => {}
        }
    }

    pub fn observe(&mut self, event: &AuditEvent) -> Vec<Finding> {
        let mut findings = Vec::new();
        if let Some(failure) = auth::classify(event) {
            self.auth.observe(event, failure, &mut findings);
        }
        if let Some(partner) = partner_request(event) {
            self.enumeration.observe(partner, event, &mut findings);
            self.spike.observe(partner, event, &mut findings);
            self.mix.observe(partner, event, &mut findings);
            self.geo.observe(partner, event, &mut findings);
            self.hours.observe(partner, event, &mut findings);
        }
        findings
    }
}

/// The partner of an authenticated API request.
fn partner_request(e: &AuditEvent) -> Option<&str> {
    (e.kind == EventKind::GatewayRequest)
        .then_some(e.actor.partner_id.as_deref())
        .flatten()
}

fn secs(s: u64) -> i64 {
    (s as i64).saturating_mul(1000)
}

#[cfg(test)]
mod mmdb_tests;
#[cfg(test)]
pub(crate) mod tests;
