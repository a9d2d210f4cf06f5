//! The evidence each onboarding step needs, and contracts: typed documents, each checked
//! in full so an operator learns every gap at once, named by its field.

use std::collections::BTreeMap;

use portcullis_core::clock::UnixSeconds;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

/// What a document says when it is checked: every problem, or nothing.
pub trait Evidence: serde::de::DeserializeOwned + Serialize {
    const KIND: &'static str;
    /// Problems with the document as a record (missing or malformed fields).
    fn problems(&self) -> Vec<String>;
}

/// Why the partner wants access and what it may take: required to leave `proposed`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UseCase {
    pub business_objective: String,
    pub data_elements: Vec<String>,
    /// The scopes the partner asks for; the sandbox phase must exercise each.
    pub scopes: Vec<String>,
    pub regulatory_constraints: Vec<String>,
    pub success_criteria: Vec<String>,
}

impl Evidence for UseCase {
    const KIND: &'static str = "use_case";
    fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        require_text(&mut p, "business_objective", &self.business_objective);
        require_list(&mut p, "data_elements", &self.data_elements);
        require_list(&mut p, "scopes", &self.scopes);
        // May be empty (no constraint applies) but not hold blanks.
        require_items(
            &mut p,
            "regulatory_constraints",
            &self.regulatory_constraints,
        );
        require_list(&mut p, "success_criteria", &self.success_criteria);
        p
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestOutcome {
    Passed,
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certification {
    pub name: String,
    pub issuer: String,
    pub expires_on: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PenetrationTest {
    pub date: String,
    pub outcome: TestOutcome,
    pub tester: String,
}

/// Due diligence: required to leave `due_diligence` for the sandbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DueDiligence {
    /// Question → answer.
    pub questionnaire: BTreeMap<String, String>,
    pub certifications: Vec<Certification>,
    pub penetration_test: PenetrationTest,
}

/// A penetration test older than this does not count.
pub const PENETRATION_TEST_MAX_AGE_DAYS: i64 = 365;

impl Evidence for DueDiligence {
    const KIND: &'static str = "due_diligence";
    fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.questionnaire.is_empty() {
            p.push("questionnaire: no answers; answer the due-diligence questionnaire".into());
        }
        for (question, answer) in &self.questionnaire {
            if answer.trim().is_empty() {
                p.push(format!("questionnaire[{question:?}]: unanswered"));
            }
        }
        for (i, c) in self.certifications.iter().enumerate() {
            require_text(&mut p, &format!("certifications[{i}].name"), &c.name);
            require_text(&mut p, &format!("certifications[{i}].issuer"), &c.issuer);
            if let Err(e) = parse_date(&format!("certifications[{i}].expires_on"), &c.expires_on) {
                p.push(e);
            }
        }
        if let Err(e) = parse_date("penetration_test.date", &self.penetration_test.date) {
            p.push(e);
        }
        require_text(
            &mut p,
            "penetration_test.tester",
            &self.penetration_test.tester,
        );
        p
    }
}

impl DueDiligence {
    /// What keeps it from counting at `now`: expired certifications, a stale or failed
    /// penetration test.
    pub fn gaps_at(&self, now: UnixSeconds) -> Vec<String> {
        let today = day_of(now);
        let mut gaps = Vec::new();
        if self.certifications.is_empty() {
            gaps.push("due_diligence.certifications: none recorded".to_string());
        }
        for (i, c) in self.certifications.iter().enumerate() {
            if let Ok(expiry) = parse_date("", &c.expires_on) {
                if expiry < today {
                    gaps.push(format!(
                        "due_diligence.certifications[{i}] ({}) expired on {}",
                        c.name, c.expires_on
                    ));
                }
            }
        }
        let test = &self.penetration_test;
        if test.outcome == TestOutcome::Failed {
            gaps.push(format!(
                "due_diligence.penetration_test of {} failed; a passed test is needed",
                test.date
            ));
        }
        if let Ok(date) = parse_date("", &test.date) {
            let age = (today - date).whole_days();
            if age > PENETRATION_TEST_MAX_AGE_DAYS {
                gaps.push(format!(
                    "due_diligence.penetration_test of {} is {age} days old; at most {PENETRATION_TEST_MAX_AGE_DAYS} allowed",
                    test.date
                ));
            }
            if age < 0 {
                gaps.push(format!(
                    "due_diligence.penetration_test date {} is in the future",
                    test.date
                ));
            }
        }
        gaps
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingStatus {
    Open,
    Remediated,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    pub id: String,
    pub severity: Severity,
    pub title: String,
    pub status: FindingStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
}

/// The security assessment: required to reach production, with every finding remediated.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityAssessment {
    pub assessor: String,
    pub completed_on: String,
    pub summary: String,
    pub findings: Vec<Finding>,
}

impl Evidence for SecurityAssessment {
    const KIND: &'static str = "security_assessment";
    fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        require_text(&mut p, "assessor", &self.assessor);
        require_text(&mut p, "summary", &self.summary);
        if let Err(e) = parse_date("completed_on", &self.completed_on) {
            p.push(e);
        }
        for (i, f) in self.findings.iter().enumerate() {
            require_text(&mut p, &format!("findings[{i}].id"), &f.id);
            require_text(&mut p, &format!("findings[{i}].title"), &f.title);
            if f.status == FindingStatus::Remediated
                && f.remediation.as_deref().is_none_or(|r| r.trim().is_empty())
            {
                p.push(format!(
                    "findings[{i}].remediation: say how finding {} was remediated",
                    f.id
                ));
            }
        }
        p
    }
}

impl SecurityAssessment {
    pub fn open_findings(&self) -> Vec<String> {
        self.findings
            .iter()
            .filter(|f| f.status == FindingStatus::Open)
            .map(|f| {
                format!(
                    "security_assessment finding {} ({:?}: {}) is not remediated",
                    f.id, f.severity, f.title
                )
            })
            .collect()
    }
}

/// The commercial terms the SLA report measures against.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    pub starts_on: String,
    pub ends_on: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_per_day: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_per_month: Option<u64>,
    pub availability_target_percent: f64,
    pub latency_p95_ms_target: u64,
    /// The daily window the partner may call in, `HH:MM-HH:MM` UTC (may wrap past
    /// midnight); calls outside it raise an off-hours alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_hours_utc: Option<String>,
}

impl Evidence for Contract {
    const KIND: &'static str = "contract";
    fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if let Some(hours) = &self.access_hours_utc {
            if let Err(e) = portcullis_monitor::detect::AccessHours::parse(hours) {
                p.push(format!("access_hours_utc: {e}"));
            }
        }
        let start = parse_date("starts_on", &self.starts_on).map_err(|e| p.push(e));
        let end = parse_date("ends_on", &self.ends_on).map_err(|e| p.push(e));
        if let (Ok(start), Ok(end)) = (start, end) {
            if end <= start {
                p.push(format!("ends_on: {end} is not after starts_on {start}"));
            }
        }
        let target = self.availability_target_percent;
        if !(target.is_finite() && target > 0.0 && target <= 100.0) {
            p.push(format!(
                "availability_target_percent: {target} is not a percentage in (0, 100]"
            ));
        }
        if self.latency_p95_ms_target == 0 {
            p.push("latency_p95_ms_target: must be at least 1 millisecond".into());
        }
        for (name, quota) in [
            ("quota_per_day", self.quota_per_day),
            ("quota_per_month", self.quota_per_month),
        ] {
            if quota == Some(0) {
                p.push(format!(
                    "{name}: 0 would refuse every request; omit it for no quota"
                ));
            }
        }
        p
    }
}

fn require_text(problems: &mut Vec<String>, field: &str, value: &str) {
    if value.trim().is_empty() {
        problems.push(format!("{field}: required, and may not be blank"));
    }
}

fn require_items(problems: &mut Vec<String>, field: &str, values: &[String]) {
    for (i, v) in values.iter().enumerate() {
        require_text(problems, &format!("{field}[{i}]"), v);
    }
}

fn require_list(problems: &mut Vec<String>, field: &str, values: &[String]) {
    if values.is_empty() {
        problems.push(format!("{field}: list at least one"));
    }
    require_items(problems, field, values);
}

/// A calendar date, `YYYY-MM-DD`.
pub fn parse_date(field: &str, text: &str) -> Result<Date, String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text, &format)
        .map_err(|_| format!("{field}: {text:?} is not a date; write YYYY-MM-DD"))
}

/// The UTC calendar day of a Unix time.
pub fn day_of(unix: UnixSeconds) -> Date {
    OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| t.date())
        .unwrap_or(Date::MIN)
}

/// The Unix time at which a UTC day begins.
pub fn start_of(date: Date) -> UnixSeconds {
    date.midnight().assume_utc().unix_timestamp()
}
