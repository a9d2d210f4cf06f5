//! `portcullis reports compliance`: which partners had which access in a period, granted
//! when, approved by whom, reviewed when, used how much. Written as the API sends it.

use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};

use super::{parse_date, wire_name, AdminError, ApiRequest, ToRequest, View};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum ReportFormat {
    Json,
    Html,
}

#[derive(Subcommand, Debug)]
pub enum ReportsCommand {
    /// The compliance report for [--from, --to) (role auditor); --output does not apply.
    Compliance {
        /// First day, YYYY-MM-DD (UTC).
        #[arg(long, value_parser = parse_date)]
        from: Option<String>,
        /// The day after the last, YYYY-MM-DD (UTC).
        #[arg(long, value_parser = parse_date)]
        to: Option<String>,
        #[arg(long, value_enum, default_value_t = ReportFormat::Json)]
        format: ReportFormat,
        /// Write the report to this file instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

impl ToRequest for ReportsCommand {
    fn to_request(&self) -> Result<ApiRequest, AdminError> {
        Ok(match self {
            Self::Compliance {
                from,
                to,
                format,
                out,
            } => {
                let format_name = wire_name(format);
                let mut request = ApiRequest::get(
                    "/admin/v1/reports/compliance".into(),
                    View::Report { out: out.clone() },
                )
                .query(&[
                    ("from", from.as_ref()),
                    ("to", to.as_ref()),
                    ("format", Some(&format_name)),
                ]);
                if *format == ReportFormat::Html {
                    request.accept = "text/html";
                }
                request
            }
        })
    }
}
