//! Enumeration: a partner touching unusually many distinct resource ids, or getting a high
//! share of 403/404 answers (probing for ids it may not see).

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher as _;

use portcullis_audit::AuditEvent;

use super::{secs, MAX_KEYS};
use crate::alert::{Evidence, Finding, Severity, Subject};
use crate::config::EnumerationConfig;
use crate::window::{Keyed, Window, RUN_MS};
use crate::AlertKind;

#[derive(Default)]
struct PartnerState {
    requests: Window,
    /// Times of the window's 403/404 answers.
    denied: VecDeque<i64>,
    /// Resource id → last time seen, and the ids in the order they were seen.
    /// Distinct `name=value` resource ids by a keyed 64-bit hash (no string kept per
    /// request; two ids sharing a hash, about one chance in 2^64, would count once), with
    /// when each was last seen.
    ids: HashMap<u64, i64>,
    id_times: VecDeque<(i64, u64)>,
    client_id: Option<String>,
}

pub(super) struct Enumeration {
    config: EnumerationConfig,
    partners: Keyed<String, PartnerState>,
    id_hasher: std::collections::hash_map::RandomState,
}

impl Enumeration {
    pub fn new(config: EnumerationConfig) -> Self {
        Self {
            config,
            partners: Keyed::new(MAX_KEYS),
            id_hasher: Default::default(),
        }
    }

    pub fn forget(&mut self, partner: &str) {
        self.partners.remove(&partner.to_string());
    }

    pub fn observe(&mut self, partner: &str, e: &AuditEvent, out: &mut Vec<Finding>) {
        let span = secs(self.config.window_seconds);
        let now = e.time_ms;
        let Some(s) = self
            .partners
            .entry(partner, now, |s| s.requests.idle(now, span))
        else {
            return;
        };
        s.requests.expire(now, span);
        s.requests.push(now, e.request_id.as_deref());
        s.client_id.clone_from(&e.actor.client_id);
        while s.denied.front().is_some_and(|&t| t <= now - span) {
            s.denied.pop_front();
        }
        if matches!(e.status, Some(403 | 404)) {
            s.denied.push_back(now);
        }
        while let Some((t, id)) = s.id_times.front() {
            if *t > now - span {
                break;
            }
            if s.ids.get(id) == Some(t) {
                s.ids.remove(id);
            }
            s.id_times.pop_front();
        }
        for (name, value) in &e.target {
            if name.ends_with("_id") {
                let key = self.id_hasher.hash_one((name, value));
                // An id seen again within RUN_MS keeps its first sighting: one entry per
                // id per RUN_MS, however often it is asked for.
                if s.ids.get(&key).is_some_and(|&t| (now - t).abs() < RUN_MS) {
                    continue;
                }
                s.ids.insert(key, now);
                s.id_times.push_back((now, key));
            }
        }
        let requests = s.requests.count();
        let distinct = s.ids.len() as u64;
        let denied = s.denied.len() as u64;
        let denied_share = denied * 100 / requests.max(1);
        let (count, threshold, summary) = if distinct >= self.config.distinct_ids {
            (
                distinct,
                self.config.distinct_ids,
                format!(
                    "partner {partner} touched {distinct} distinct resource ids in {}s",
                    self.config.window_seconds
                ),
            )
        } else if requests >= self.config.min_requests
            && denied_share >= self.config.denied_share_percent
        {
            (
                denied,
                self.config.denied_share_percent,
                format!(
                    "{denied_share}% of partner {partner}'s {requests} requests in {}s were refused or not found",
                    self.config.window_seconds
                ),
            )
        } else {
            return;
        };
        let mut evidence = Evidence {
            count,
            window_seconds: self.config.window_seconds,
            threshold: threshold as f64,
            sample_request_ids: s.requests.samples(),
            ..Evidence::default()
        };
        evidence.details.insert("requests".into(), requests.into());
        evidence
            .details
            .insert("distinct_ids".into(), distinct.into());
        evidence.details.insert("denied".into(), denied.into());
        evidence
            .details
            .insert("denied_share_percent".into(), denied_share.into());
        let subject = match &s.client_id {
            Some(c) => Subject::Client(c.clone()),
            None => Subject::Partner(partner.to_string()),
        };
        out.push(Finding {
            kind: AlertKind::Enumeration,
            severity: Severity::High,
            subject,
            partner_id: Some(partner.to_string()),
            client_id: s.client_id.clone(),
            source_ip: e.source_ip.clone(),
            summary,
            evidence,
            onset_ms: s.requests.first_ms().unwrap_or(now),
        });
    }
}
