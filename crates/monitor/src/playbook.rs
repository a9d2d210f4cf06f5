//! Playbooks: which actions an alert of a kind and severity triggers. A playbook in dry-run
//! records what it would have done and does nothing.

use serde::{Deserialize, Serialize};

use crate::alert::{Alert, AlertKind, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Send the alert to the configured webhooks.
    Notify,
    /// Lower the partner's rate limit for `throttle_minutes`.
    Throttle,
    /// Suspend the credential the alert is about (an operator reinstates it).
    SuspendCredential,
    /// Refuse the alert's source address for `block_minutes`.
    BlockSource,
    OpenIncident,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Notify => "notify",
            Action::Throttle => "throttle",
            Action::SuspendCredential => "suspend_credential",
            Action::BlockSource => "block_source",
            Action::OpenIncident => "open_incident",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Playbook {
    pub name: String,
    pub kinds: Vec<AlertKind>,
    #[serde(default = "low")]
    pub min_severity: Severity,
    pub actions: Vec<Action>,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default = "sixty")]
    pub block_minutes: u32,
    #[serde(default = "thirty")]
    pub throttle_minutes: u32,
    /// The partner's rate while throttled.
    #[serde(default = "two")]
    pub throttle_per_second: u32,
}

fn low() -> Severity {
    Severity::Low
}
fn sixty() -> u32 {
    60
}
fn thirty() -> u32 {
    30
}
fn two() -> u32 {
    2
}

impl Playbook {
    pub fn validate(&self) -> Result<(), String> {
        if self.kinds.is_empty() {
            return Err(format!("playbook {:?} names no alert kinds", self.name));
        }
        if self.actions.is_empty() {
            return Err(format!("playbook {:?} has no actions", self.name));
        }
        if self.block_minutes == 0 || self.throttle_minutes == 0 || self.throttle_per_second == 0 {
            return Err(format!(
                "playbook {:?}: block_minutes, throttle_minutes and throttle_per_second must be at least 1",
                self.name
            ));
        }
        Ok(())
    }

    pub fn matches(&self, alert: &Alert) -> bool {
        self.kinds.contains(&alert.kind) && alert.severity >= self.min_severity
    }
}

/// What applies when the configuration names no playbooks: contain each attack the way
/// that stops it without punishing bystanders. An address stuffing credentials is blocked
/// (suspending the clients it guesses would lock out their owners); a credential that
/// enumerates, or is used from an unexpected region or outside contract hours, is
/// suspended; a partner spiking or scraping is throttled.
pub fn default_playbooks() -> Vec<Playbook> {
    let p = |name: &str, kinds: &[AlertKind], min: Severity, actions: &[Action]| Playbook {
        name: name.into(),
        kinds: kinds.to_vec(),
        min_severity: min,
        actions: actions.to_vec(),
        dry_run: false,
        block_minutes: 60,
        throttle_minutes: 30,
        throttle_per_second: 2,
    };
    use Action::*;
    use AlertKind::*;
    vec![
        p(
            "block-credential-stuffing",
            &[CredentialStuffing, AuthFailureBurst],
            Severity::High,
            &[BlockSource, OpenIncident, Notify],
        ),
        p(
            "notify-client-auth-failures",
            &[AuthFailureBurst],
            Severity::Low,
            &[Notify],
        ),
        p(
            "suspend-misused-credential",
            &[Enumeration, UnexpectedRegion, OffHours],
            Severity::Medium,
            &[SuspendCredential, OpenIncident, Notify],
        ),
        p(
            "throttle-spikes-and-scraping",
            &[TrafficSpike, OperationMix],
            Severity::Medium,
            &[Throttle, Notify],
        ),
    ]
}
