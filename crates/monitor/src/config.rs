//! `[monitor]` in the configuration file: detector thresholds, the region table, playbooks
//! and webhooks. Every field has a default; unknown fields are refused.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::playbook::Playbook;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitorConfig {
    pub enabled: bool,
    /// Events waiting for the detectors; beyond this they are counted and skipped rather
    /// than slowing the gateway.
    pub queue_capacity: usize,
    /// The same alert (kind and subject) is not raised again within this time.
    pub cooldown_seconds: u64,
    /// Most alerts raised in any minute; beyond it they are counted, not raised (an
    /// attacker rotating subjects cannot flood operators, the journal or the audit log).
    pub max_alerts_per_minute: usize,
    pub auth_failures: AuthFailureConfig,
    pub enumeration: EnumerationConfig,
    pub spike: SpikeConfig,
    pub operation_mix: OperationMixConfig,
    pub geography: GeographyConfig,
    pub off_hours: OffHoursConfig,
    /// When empty, [`crate::playbook::default_playbooks`] apply.
    pub playbooks: Vec<Playbook>,
    pub webhooks: Vec<WebhookConfig>,
    /// OpenTelemetry trace export; off when absent.
    pub tracing: Option<crate::otlp::TracingConfig>,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            queue_capacity: 65_536,
            cooldown_seconds: 300,
            max_alerts_per_minute: 60,
            auth_failures: AuthFailureConfig::default(),
            enumeration: EnumerationConfig::default(),
            spike: SpikeConfig::default(),
            operation_mix: OperationMixConfig::default(),
            geography: GeographyConfig::default(),
            off_hours: OffHoursConfig::default(),
            playbooks: Vec::new(),
            webhooks: Vec::new(),
            tracing: None,
        }
    }
}

/// Failed authentication: refused token requests and 401 answers.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthFailureConfig {
    pub window_seconds: u64,
    /// Failures for one client id within the window.
    pub per_client: u64,
    /// Failures from one source address within the window.
    pub per_source: u64,
    /// Distinct client ids failing from one source within the window: credential stuffing.
    pub distinct_clients_per_source: u64,
}

impl Default for AuthFailureConfig {
    fn default() -> Self {
        Self {
            window_seconds: 30,
            per_client: 20,
            per_source: 30,
            distinct_clients_per_source: 5,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnumerationConfig {
    pub window_seconds: u64,
    /// Distinct resource ids (path parameters named `*_id`) one partner touches in the window.
    pub distinct_ids: u64,
    /// Share of 403 and 404 answers, in percent, once `min_requests` were made.
    pub denied_share_percent: u64,
    pub min_requests: u64,
}

impl Default for EnumerationConfig {
    fn default() -> Self {
        Self {
            window_seconds: 60,
            distinct_ids: 150,
            denied_share_percent: 50,
            min_requests: 40,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpikeConfig {
    /// The current rate is measured over this window.
    pub window_seconds: u64,
    /// Alert when the current rate reaches this multiple of the learned baseline...
    pub factor: f64,
    /// ...and at least this many requests per second.
    pub min_rate_per_second: f64,
    /// Seconds of a partner's traffic observed before its baseline is trusted.
    pub learning_seconds: u64,
    /// How fast the baseline follows change: the half-life of its average, in seconds.
    pub half_life_seconds: u64,
}

impl Default for SpikeConfig {
    fn default() -> Self {
        Self {
            window_seconds: 5,
            factor: 4.0,
            min_rate_per_second: 20.0,
            learning_seconds: 60,
            half_life_seconds: 1800,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OperationMixConfig {
    pub window_seconds: u64,
    /// Requests in the window before the mix is compared.
    pub min_requests: u64,
    /// Total variation distance (0 to 1) between the window's mix and the baseline's.
    pub distance: f64,
    /// Requests a partner makes before its baseline mix is trusted.
    pub learning_requests: u64,
}

impl Default for OperationMixConfig {
    fn default() -> Self {
        Self {
            window_seconds: 20,
            min_requests: 60,
            distance: 0.5,
            learning_requests: 1000,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeographyConfig {
    /// CIDR-to-region table (the region a source address is in). Addresses in none of
    /// these have no region and raise nothing.
    pub regions: Vec<RegionRange>,
    /// Regions each partner is expected in. Partners not listed learn theirs from their
    /// first `learning_seconds` of traffic.
    pub expected: BTreeMap<String, Vec<String>>,
    pub learning_seconds: Option<u64>,
    /// A MaxMind-format (GeoLite2/GeoIP2 Country) database; read when set.
    pub maxmind_db: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RegionRange {
    pub region: String,
    pub cidrs: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OffHoursConfig {
    /// Requests outside the contract's hours within this window before an alert: one
    /// request at the edge of the window on a skewed clock is not abuse.
    pub window_seconds: u64,
    pub min_requests: u64,
}

impl Default for OffHoursConfig {
    fn default() -> Self {
        Self {
            window_seconds: 60,
            min_requests: 3,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// `http://` or `https://`.
    pub url: String,
    /// For `https://`: the CA certificates (PEM) the receiver's certificate is checked
    /// against.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// File holding the HMAC-SHA256 key receivers verify `X-Portcullis-Signature` with.
    pub secret_file: PathBuf,
    /// Only alerts at or above this severity are sent.
    #[serde(default = "low")]
    pub min_severity: crate::Severity,
}

fn low() -> crate::Severity {
    crate::Severity::Low
}

impl MonitorConfig {
    /// Checks what serde cannot: positive windows, sane thresholds, parseable ranges.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            (
                "monitor.auth_failures.window_seconds",
                self.auth_failures.window_seconds,
            ),
            (
                "monitor.enumeration.window_seconds",
                self.enumeration.window_seconds,
            ),
            ("monitor.spike.window_seconds", self.spike.window_seconds),
            (
                "monitor.spike.half_life_seconds",
                self.spike.half_life_seconds,
            ),
            (
                "monitor.operation_mix.window_seconds",
                self.operation_mix.window_seconds,
            ),
            (
                "monitor.off_hours.window_seconds",
                self.off_hours.window_seconds,
            ),
            ("monitor.queue_capacity", self.queue_capacity as u64),
            (
                "monitor.max_alerts_per_minute",
                self.max_alerts_per_minute as u64,
            ),
        ];
        for (field, value) in positive {
            if value == 0 {
                return Err(format!("{field} must be at least 1"));
            }
        }
        if self.spike.factor <= 1.0 {
            return Err(format!(
                "monitor.spike.factor is {}; it must be above 1 (a rate at the baseline is not a spike)",
                self.spike.factor
            ));
        }
        if !(0.0..=1.0).contains(&self.operation_mix.distance) || self.operation_mix.distance == 0.0
        {
            return Err(format!(
                "monitor.operation_mix.distance is {}; it must be in (0, 1]",
                self.operation_mix.distance
            ));
        }
        if self.enumeration.denied_share_percent > 100 {
            return Err(format!(
                "monitor.enumeration.denied_share_percent is {}; it is a percentage (0 to 100)",
                self.enumeration.denied_share_percent
            ));
        }
        for (i, range) in self.geography.regions.iter().enumerate() {
            portcullis_policy::NetworkList::parse(
                &format!("monitor.geography.regions[{i}].cidrs"),
                &range.cidrs,
            )?;
        }
        for (i, p) in self.playbooks.iter().enumerate() {
            p.validate()
                .map_err(|e| format!("monitor.playbooks[{i}]: {e}"))?;
        }
        if let Some(tracing) = &self.tracing {
            crate::otlp::OtlpExporter::from_config(tracing)?;
        }
        for (i, w) in self.webhooks.iter().enumerate() {
            if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
                return Err(format!(
                    "monitor.webhooks[{i}].url {:?} must start with http:// or https://",
                    w.url
                ));
            }
            if w.url.starts_with("https://") && w.ca_file.is_none() {
                return Err(format!(
                    "monitor.webhooks[{i}].ca_file is needed for the https:// url {:?}: name the PEM file of the CA that signs the receiver's certificate",
                    w.url
                ));
            }
        }
        Ok(())
    }
}
