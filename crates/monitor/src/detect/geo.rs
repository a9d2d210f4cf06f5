//! Access from an unexpected region: the source address's region (from the CIDR-to-region
//! table) is not one the partner is expected in, either by configuration or as learned
//! from its first minutes of traffic.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use portcullis_audit::AuditEvent;
use portcullis_policy::NetworkList;

use super::secs;
use crate::alert::{Evidence, Finding, Severity, Subject};
use crate::config::GeographyConfig;
use crate::AlertKind;

/// Where an address is: the configured CIDR ranges first (they also name private and
/// partner-specific ranges a GeoIP database cannot know), then a MaxMind-format database
/// (GeoIP2/GeoLite2 Country or City), by the country's ISO code.
#[derive(Default)]
pub struct RegionTable {
    ranges: Vec<(String, NetworkList)>,
    maxmind: Option<maxminddb::Reader<Vec<u8>>>,
}

/// The parts of a GeoIP2 record read here.
#[derive(serde::Deserialize)]
struct CountryRecord<'a> {
    #[serde(borrow)]
    country: Option<IsoCode<'a>>,
    #[serde(borrow)]
    registered_country: Option<IsoCode<'a>>,
}

#[derive(serde::Deserialize)]
struct IsoCode<'a> {
    iso_code: Option<&'a str>,
}

impl RegionTable {
    pub fn from_config(config: &GeographyConfig) -> Result<Self, String> {
        let mut ranges = Vec::new();
        for (i, r) in config.regions.iter().enumerate() {
            let list =
                NetworkList::parse(&format!("monitor.geography.regions[{i}].cidrs"), &r.cidrs)?;
            ranges.push((r.region.clone(), list));
        }
        let maxmind = match &config.maxmind_db {
            None => None,
            Some(path) => Some(maxminddb::Reader::open_readfile(path).map_err(|e| {
                format!(
                    "monitor.geography.maxmind_db {}: {e}; give a MaxMind DB (.mmdb) file such as GeoLite2-Country.mmdb",
                    path.display()
                )
            })?),
        };
        Ok(Self { ranges, maxmind })
    }

    pub fn region_of(&self, addr: IpAddr) -> Option<&str> {
        if let Some((region, _)) = self.ranges.iter().find(|(_, list)| list.contains(addr)) {
            return Some(region.as_str());
        }
        let record: CountryRecord<'_> = self.maxmind.as_ref()?.lookup(addr).ok()?;
        record
            .country
            .and_then(|c| c.iso_code)
            .or_else(|| record.registered_country.and_then(|c| c.iso_code))
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty() && self.maxmind.is_none()
    }
}

impl std::fmt::Debug for RegionTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegionTable")
            .field("ranges", &self.ranges.len())
            .field("maxmind", &self.maxmind.is_some())
            .finish()
    }
}

/// Learning a partner's regions: those seen until `until_ms`.
struct Learned {
    until_ms: i64,
    regions: BTreeSet<String>,
}

pub(super) struct Geography {
    config: GeographyConfig,
    table: RegionTable,
    learned: HashMap<String, Learned>,
}

impl Geography {
    pub fn new(config: GeographyConfig, table: RegionTable) -> Self {
        Self {
            config,
            table,
            learned: HashMap::new(),
        }
    }

    pub fn observe(&mut self, partner: &str, e: &AuditEvent, out: &mut Vec<Finding>) {
        if self.table.is_empty() {
            return;
        }
        let Some(source) = e.source_ip.as_deref() else {
            return;
        };
        let Some(region) = source
            .parse::<IpAddr>()
            .ok()
            .and_then(|a| self.table.region_of(a))
        else {
            return;
        };
        let expected: Vec<String> = match self.config.expected.get(partner) {
            Some(list) => {
                if list.iter().any(|r| r == region) {
                    return;
                }
                list.clone()
            }
            None => {
                if self.learned.len() >= super::MAX_KEYS && !self.learned.contains_key(partner) {
                    return;
                }
                let learning = secs(self.config.learning_seconds.unwrap_or(60));
                let l = self
                    .learned
                    .entry(partner.to_string())
                    .or_insert_with(|| Learned {
                        until_ms: e.time_ms + learning,
                        regions: BTreeSet::new(),
                    });
                if e.time_ms < l.until_ms {
                    l.regions.insert(region.to_string());
                    return;
                }
                if l.regions.contains(region) {
                    return;
                }
                l.regions.iter().cloned().collect()
            }
        };
        let mut evidence = Evidence {
            count: 1,
            window_seconds: 0,
            threshold: 0.0,
            sample_request_ids: e.request_id.iter().cloned().collect(),
            ..Evidence::default()
        };
        evidence.details.insert("region".into(), region.into());
        evidence
            .details
            .insert("expected_regions".into(), serde_json::json!(expected));
        let subject = match &e.actor.client_id {
            Some(c) => Subject::Client(c.clone()),
            None => Subject::Partner(partner.to_string()),
        };
        out.push(Finding {
            kind: AlertKind::UnexpectedRegion,
            severity: Severity::High,
            subject,
            partner_id: Some(partner.to_string()),
            client_id: e.actor.client_id.clone(),
            source_ip: Some(source.to_string()),
            summary: format!(
                "partner {partner} called from {source} in region {region}; expected {}",
                expected.join(", ")
            ),
            evidence,
            onset_ms: e.time_ms,
        });
    }
}
