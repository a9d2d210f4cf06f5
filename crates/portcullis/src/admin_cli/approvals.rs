//! `portcullis approvals ...`: the maker-checker queue. Promotions, production grants and
//! production credentials wait here until a second person with the approver role decides;
//! the requester can never decide their own request.

use clap::builder::NonEmptyStringValueParser;
use clap::{Subcommand, ValueEnum};
use http::Method;
use serde_json::json;

use super::{segment, wire_name, AdminError, ApiRequest, Column, ToRequest, View};

const APPROVAL_COLUMNS: &[Column] = &[
    Column::text("ID", "/id"),
    Column::text("PARTNER", "/partner_id"),
    Column::text("KIND", "/kind"),
    Column::text("STATUS", "/status"),
    Column::text("REQUESTED_BY", "/requested_by"),
    Column::time("REQUESTED", "/requested_at"),
    Column::text("DECIDED_BY", "/decided_by"),
    Column::time("DECIDED", "/decided_at"),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum ApprovalStatus {
    Pending,
    Approved,
    Rejected,
    Failed,
}

#[derive(Subcommand, Debug)]
pub enum ApprovalsCommand {
    /// List approval requests.
    List {
        #[arg(long, value_enum)]
        status: Option<ApprovalStatus>,
        /// Only this partner's.
        #[arg(long, value_name = "PARTNER_ID")]
        partner: Option<String>,
    },
    /// One approval request, with the change it would apply.
    Show {
        #[arg(value_parser = NonEmptyStringValueParser::new())]
        approval_id: String,
    },
    /// Approve and apply the change (role approver; never the requester).
    Approve {
        #[arg(value_parser = NonEmptyStringValueParser::new())]
        approval_id: String,
        #[arg(long)]
        justification: String,
    },
    /// Reject the change (role approver; never the requester).
    Reject {
        #[arg(value_parser = NonEmptyStringValueParser::new())]
        approval_id: String,
        #[arg(long)]
        justification: String,
    },
}

fn approval_path(approval_id: &str) -> String {
    format!("/admin/v1/approvals/{}", segment(approval_id))
}

impl ToRequest for ApprovalsCommand {
    fn to_request(&self) -> Result<ApiRequest, AdminError> {
        Ok(match self {
            Self::List { status, partner } => {
                let status = status.as_ref().map(wire_name);
                ApiRequest::get("/admin/v1/approvals".into(), View::Table(APPROVAL_COLUMNS)).query(
                    &[
                        ("status", status.as_ref()),
                        ("partner_id", partner.as_ref()),
                    ],
                )
            }
            Self::Show { approval_id } => ApiRequest::get(approval_path(approval_id), View::Object),
            Self::Approve {
                approval_id,
                justification,
            } => ApiRequest::with_body(
                Method::POST,
                format!("{}/approve", approval_path(approval_id)),
                json!({"justification": justification}),
                View::Object,
            ),
            Self::Reject {
                approval_id,
                justification,
            } => ApiRequest::with_body(
                Method::POST,
                format!("{}/reject", approval_path(approval_id)),
                json!({"justification": justification}),
                View::Object,
            ),
        })
    }
}
