//! Partner governance: onboarding evidence and its state machine, maker-checker
//! approvals, time-bound credentials, access reviews, and the reports built from real
//! traffic.

pub mod approvals;
pub mod credentials;
pub mod evidence;
pub mod lifecycle;
pub mod partners;
pub mod reports;
pub mod reviews;
pub mod traffic;

use portcullis_core::RiskTier;
use serde::{Deserialize, Serialize};

const DAY: i64 = 86_400;

/// The programme's rules; `[governance]` in the configuration file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GovernanceSettings {
    /// The longest a production credential may live.
    pub credential_max_lifetime_days: u32,
    /// How long a rotated-out credential keeps working by default, and at most.
    pub rotation_overlap_hours: u32,
    pub rotation_overlap_max_hours: u32,
    /// Days between access reviews, by risk tier.
    pub review_interval_days_high: u32,
    pub review_interval_days_medium: u32,
    pub review_interval_days_low: u32,
    /// An open review this many days past due suspends the partner's production access.
    pub review_grace_days: u32,
    /// A credential that has not obtained a token for this many days is revoked.
    pub dormant_credential_days: u32,
    /// How often the scheduled checks run.
    pub sweep_interval_seconds: u64,
}

impl Default for GovernanceSettings {
    fn default() -> Self {
        Self {
            credential_max_lifetime_days: 90,
            rotation_overlap_hours: 24,
            rotation_overlap_max_hours: 168,
            review_interval_days_high: 90,
            review_interval_days_medium: 180,
            review_interval_days_low: 365,
            review_grace_days: 14,
            dormant_credential_days: 90,
            sweep_interval_seconds: 300,
        }
    }
}

impl GovernanceSettings {
    pub fn review_interval_seconds(&self, tier: RiskTier) -> i64 {
        let days = match tier {
            RiskTier::High => self.review_interval_days_high,
            RiskTier::Medium => self.review_interval_days_medium,
            RiskTier::Low => self.review_interval_days_low,
        };
        i64::from(days) * DAY
    }

    /// Every problem, each naming its field under `prefix`.
    pub fn problems(&self, prefix: &str) -> Vec<String> {
        let mut problems = Vec::new();
        for (name, value, max) in [
            (
                "credential_max_lifetime_days",
                self.credential_max_lifetime_days,
                366,
            ),
            (
                "review_interval_days_high",
                self.review_interval_days_high,
                3660,
            ),
            (
                "review_interval_days_medium",
                self.review_interval_days_medium,
                3660,
            ),
            (
                "review_interval_days_low",
                self.review_interval_days_low,
                3660,
            ),
            (
                "dormant_credential_days",
                self.dormant_credential_days,
                3660,
            ),
            (
                "rotation_overlap_max_hours",
                self.rotation_overlap_max_hours,
                24 * 30,
            ),
        ] {
            if value == 0 || value > max {
                problems.push(format!("{prefix}.{name}: {value} is outside 1..={max}"));
            }
        }
        if self.rotation_overlap_hours > self.rotation_overlap_max_hours {
            problems.push(format!(
                "{prefix}.rotation_overlap_hours: {} exceeds rotation_overlap_max_hours {}",
                self.rotation_overlap_hours, self.rotation_overlap_max_hours
            ));
        }
        if self.review_grace_days > 365 {
            problems.push(format!(
                "{prefix}.review_grace_days: {} is outside 0..=365",
                self.review_grace_days
            ));
        }
        if self.sweep_interval_seconds == 0 {
            problems.push(format!(
                "{prefix}.sweep_interval_seconds: must be at least 1"
            ));
        }
        problems
    }
}

/// A random identifier with a readable prefix (`apr_…`, `rev_…`).
pub(crate) fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 10];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}_{hex}")
}

/// An optional `?status=` style filter, parsed; 400 naming the allowed values otherwise.
pub(crate) fn parse_filter<T>(text: Option<String>) -> Result<Option<T>, crate::error::ApiError>
where
    T: std::str::FromStr<Err = portcullis_core::UnknownValue>,
{
    text.map(|s| s.parse::<T>())
        .transpose()
        .map_err(|e| crate::error::ApiError::bad_request("invalid-request", e.to_string()))
}
