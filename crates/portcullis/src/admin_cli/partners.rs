//! `portcullis partners ...`: partners, their onboarding and the evidence each step needs.

use std::path::PathBuf;

use clap::builder::NonEmptyStringValueParser;
use clap::{Subcommand, ValueEnum};
use http::Method;
use serde_json::json;

use super::{
    parse_date, read_json_object, segment, wire_name, AdminError, ApiRequest, Column, ToRequest,
    View,
};

const PARTNER_COLUMNS: &[Column] = &[
    Column::text("ID", "/id"),
    Column::text("NAME", "/name"),
    Column::text("STATUS", "/status"),
    Column::text("RISK", "/risk_tier"),
    Column::time("CREATED", "/created_at"),
];

#[derive(Subcommand, Debug)]
pub enum PartnersCommand {
    /// List partners.
    List,
    /// One partner.
    Show {
        #[arg(value_parser = NonEmptyStringValueParser::new())]
        partner_id: String,
    },
    /// Propose a partner; it starts as `proposed`.
    Create {
        /// Lowercase letters, digits and '-', 2 to 64 characters.
        #[arg(long, value_parser = NonEmptyStringValueParser::new())]
        id: String,
        #[arg(long)]
        name: String,
        /// How closely the partner is watched (sets the access-review interval); the API's
        /// default if omitted.
        #[arg(long, value_enum)]
        risk_tier: Option<RiskTier>,
    },
    /// Change the risk tier, which sets how often the partner's access is reviewed.
    RiskTier {
        #[arg(value_parser = NonEmptyStringValueParser::new())]
        partner_id: String,
        #[arg(long, value_enum)]
        to: RiskTier,
        #[arg(long)]
        justification: String,
    },
    /// Where the partner stands and what its next step still needs.
    Onboarding {
        #[arg(value_parser = NonEmptyStringValueParser::new())]
        partner_id: String,
    },
    /// Move the partner: promotions and reactivation become approval requests; suspension
    /// and offboarding apply at once.
    Transition {
        #[arg(value_parser = NonEmptyStringValueParser::new())]
        partner_id: String,
        #[arg(long, value_enum)]
        to: PartnerStatus,
        #[arg(long)]
        justification: String,
    },
    /// The use case (JSON: business_objective, data_elements, scopes,
    /// regulatory_constraints, success_criteria).
    #[command(subcommand)]
    UseCase(DocumentCommand),
    /// The due-diligence record (JSON: questionnaire, certifications, penetration_test).
    #[command(subcommand)]
    DueDiligence(DocumentCommand),
    /// The security assessment (JSON: assessor, completed_on, summary, findings).
    #[command(subcommand)]
    SecurityAssessment(DocumentCommand),
    /// The contract and SLA targets (JSON: starts_on, ends_on, quota_per_day,
    /// quota_per_month, availability_target_percent, latency_p95_ms_target).
    #[command(subcommand)]
    Contract(DocumentCommand),
    /// Sandbox exit evidence, computed from the partner's real sandbox traffic.
    SandboxEvidence {
        #[arg(value_parser = NonEmptyStringValueParser::new())]
        partner_id: String,
    },
    /// SLA report of the partner's production traffic over [--from, --to), against its
    /// contract.
    Sla {
        #[arg(value_parser = NonEmptyStringValueParser::new())]
        partner_id: String,
        /// First day, YYYY-MM-DD (UTC).
        #[arg(long, value_parser = parse_date)]
        from: Option<String>,
        /// The day after the last, YYYY-MM-DD (UTC).
        #[arg(long, value_parser = parse_date)]
        to: Option<String>,
    },
}

/// Reading or replacing one of a partner's documents.
#[derive(Subcommand, Debug)]
pub enum DocumentCommand {
    /// Print the recorded document.
    Get {
        #[arg(value_parser = NonEmptyStringValueParser::new())]
        partner_id: String,
    },
    /// Record the document from a JSON file (`-` for stdin); it replaces the previous one.
    Set {
        #[arg(value_parser = NonEmptyStringValueParser::new())]
        partner_id: String,
        #[arg(long, value_name = "PATH")]
        file: PathBuf,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum RiskTier {
    Low,
    Medium,
    High,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum PartnerStatus {
    Proposed,
    DueDiligence,
    Sandbox,
    SecurityAssessment,
    Production,
    Suspended,
    Offboarded,
}

fn partner_path(partner_id: &str) -> String {
    format!("/admin/v1/partners/{}", segment(partner_id))
}

impl ToRequest for PartnersCommand {
    fn to_request(&self) -> Result<ApiRequest, AdminError> {
        Ok(match self {
            Self::List => {
                ApiRequest::get("/admin/v1/partners".into(), View::Table(PARTNER_COLUMNS))
            }
            Self::Show { partner_id } => ApiRequest::get(partner_path(partner_id), View::Object),
            Self::Create {
                id,
                name,
                risk_tier,
            } => {
                let mut body = json!({"id": id, "name": name});
                if let Some(tier) = risk_tier {
                    body["risk_tier"] = json!(wire_name(tier));
                }
                ApiRequest::with_body(
                    Method::POST,
                    "/admin/v1/partners".into(),
                    body,
                    View::Object,
                )
            }
            Self::RiskTier {
                partner_id,
                to,
                justification,
            } => ApiRequest::with_body(
                Method::PUT,
                format!("{}/risk-tier", partner_path(partner_id)),
                json!({"risk_tier": wire_name(to), "justification": justification}),
                View::Object,
            ),
            Self::Onboarding { partner_id } => ApiRequest::get(
                format!("{}/onboarding", partner_path(partner_id)),
                View::Object,
            ),
            Self::Transition {
                partner_id,
                to,
                justification,
            } => ApiRequest::with_body(
                Method::POST,
                format!("{}/transitions", partner_path(partner_id)),
                json!({"to": wire_name(to), "justification": justification}),
                View::Object,
            ),
            Self::UseCase(document) => document.to_request("use-case")?,
            Self::DueDiligence(document) => document.to_request("due-diligence")?,
            Self::SecurityAssessment(document) => document.to_request("security-assessment")?,
            Self::Contract(document) => document.to_request("contract")?,
            Self::SandboxEvidence { partner_id } => ApiRequest::get(
                format!("{}/sandbox-evidence", partner_path(partner_id)),
                View::Evidence,
            ),
            Self::Sla {
                partner_id,
                from,
                to,
            } => ApiRequest::get(format!("{}/sla", partner_path(partner_id)), View::Object)
                .query(&[("from", from.as_ref()), ("to", to.as_ref())]),
        })
    }
}

impl DocumentCommand {
    /// `kind` is the document's path segment, e.g. `use-case`.
    fn to_request(&self, kind: &str) -> Result<ApiRequest, AdminError> {
        Ok(match self {
            DocumentCommand::Get { partner_id } => {
                ApiRequest::get(format!("{}/{kind}", partner_path(partner_id)), View::Object)
            }
            DocumentCommand::Set { partner_id, file } => ApiRequest::with_body(
                Method::PUT,
                format!("{}/{kind}", partner_path(partner_id)),
                read_json_object(file)?,
                View::Object,
            ),
        })
    }
}
