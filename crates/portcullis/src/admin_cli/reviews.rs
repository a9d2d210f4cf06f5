//! `portcullis reviews ...` and `portcullis governance sweep`: periodic access reviews,
//! and the scheduled checks that open them, suspend partners whose review is overdue and
//! revoke dormant credentials.

use std::path::PathBuf;

use clap::builder::NonEmptyStringValueParser;
use clap::{Subcommand, ValueEnum};
use http::Method;

use super::{
    read_json_object, segment, wire_name, AdminError, ApiRequest, Column, ToRequest, View,
};

const REVIEW_COLUMNS: &[Column] = &[
    Column::text("ID", "/id"),
    Column::text("PARTNER", "/partner_id"),
    Column::text("STATUS", "/status"),
    Column::time("OPENED", "/opened_at"),
    Column::time("DUE", "/due_at"),
    Column::time("COMPLETED", "/completed_at"),
    Column::text("REVIEWER", "/reviewer"),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum ReviewStatus {
    Open,
    Completed,
}

#[derive(Subcommand, Debug)]
pub enum ReviewsCommand {
    /// List access reviews.
    List {
        /// Only this partner's.
        #[arg(long, value_name = "PARTNER_ID")]
        partner: Option<String>,
        #[arg(long, value_enum)]
        status: Option<ReviewStatus>,
    },
    /// One access review, with its decisions once completed.
    Show {
        #[arg(value_parser = NonEmptyStringValueParser::new())]
        review_id: String,
    },
    /// Decide every grant of the review from a JSON file ({"decisions": [{environment,
    /// decision: keep|reduce|revoke, scopes, justification}]}); schedules the next review.
    Decide {
        #[arg(value_parser = NonEmptyStringValueParser::new())]
        review_id: String,
        /// The decisions (`-` for stdin).
        #[arg(long, value_name = "PATH")]
        file: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum GovernanceCommand {
    /// Run the scheduled governance checks now: open due reviews, suspend partners whose
    /// review is overdue past the grace period, revoke dormant credentials.
    Sweep,
}

impl ToRequest for ReviewsCommand {
    fn to_request(&self) -> Result<ApiRequest, AdminError> {
        let review_path = |id: &str| format!("/admin/v1/reviews/{}", segment(id));
        Ok(match self {
            Self::List { partner, status } => {
                let status = status.as_ref().map(wire_name);
                ApiRequest::get("/admin/v1/reviews".into(), View::Table(REVIEW_COLUMNS)).query(&[
                    ("partner_id", partner.as_ref()),
                    ("status", status.as_ref()),
                ])
            }
            Self::Show { review_id } => ApiRequest::get(review_path(review_id), View::Object),
            Self::Decide { review_id, file } => ApiRequest::with_body(
                Method::POST,
                format!("{}/decisions", review_path(review_id)),
                read_json_object(file)?,
                View::Object,
            ),
        })
    }
}

impl ToRequest for GovernanceCommand {
    fn to_request(&self) -> Result<ApiRequest, AdminError> {
        Ok(match self {
            // The operation takes no body.
            Self::Sweep => ApiRequest {
                method: Method::POST,
                ..ApiRequest::get("/admin/v1/governance/sweep".into(), View::Object)
            },
        })
    }
}
