//! `portcullis grants ...` and `portcullis clients ...`: what a partner may do in each
//! environment, and the credentials it does it with.

use std::path::PathBuf;

use clap::builder::NonEmptyStringValueParser;
use clap::{ArgGroup, Subcommand, ValueEnum};
use http::Method;
use serde_json::json;

use super::{
    read_json_object, segment, wire_name, AdminError, ApiRequest, Column, ToRequest, View,
};

const GRANT_COLUMNS: &[Column] = &[
    Column::text("PARTNER", "/partner_id"),
    Column::text("ENV", "/environment"),
    Column::text("SCOPES", "/scopes"),
    Column::time("VALID_FROM", "/policy/valid_from"),
    Column::time("VALID_UNTIL", "/policy/valid_until"),
];

const CLIENT_COLUMNS: &[Column] = &[
    Column::text("CLIENT_ID", "/client_id"),
    Column::text("PARTNER", "/partner_id"),
    Column::text("ENV", "/environment"),
    Column::text("METHOD", "/auth_method"),
    Column::text("STATUS", "/status"),
    Column::time("EXPIRES", "/expires_at"),
    Column::time("LAST_USED", "/last_used_at"),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum Environment {
    Production,
    Sandbox,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum AuthMethod {
    /// The partner signs a client assertion with a key of its JWK set.
    PrivateKeyJwt,
    /// Mutual TLS with a certificate of the given subject DN.
    TlsClientAuth,
}

#[derive(Subcommand, Debug)]
pub enum GrantsCommand {
    /// A partner's grants, in both environments.
    List {
        #[arg(value_parser = NonEmptyStringValueParser::new())]
        partner_id: String,
    },
    /// One grant: scopes, why each was granted, and its policy.
    Show {
        #[arg(value_parser = NonEmptyStringValueParser::new())]
        partner_id: String,
        #[arg(value_enum)]
        environment: Environment,
    },
    /// Replace a grant from a JSON file (scopes, justifications per scope, policy): in the
    /// sandbox it applies at once, in production it becomes an approval request.
    Set {
        #[arg(value_parser = NonEmptyStringValueParser::new())]
        partner_id: String,
        #[arg(value_enum)]
        environment: Environment,
        /// The grant change (`-` for stdin).
        #[arg(long, value_name = "PATH")]
        file: PathBuf,
        /// Why the change is needed; replaces the file's `justification`.
        #[arg(long)]
        justification: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ClientsCommand {
    /// List credentials.
    List {
        /// Only this partner's.
        #[arg(long, value_name = "PARTNER_ID")]
        partner: Option<String>,
    },
    /// One credential.
    Show {
        #[arg(value_parser = NonEmptyStringValueParser::new())]
        client_id: String,
    },
    /// Register a credential: in the sandbox at once; in production through an approval
    /// request, for a partner in production, with a capped lifetime.
    Create {
        /// The partner the credential belongs to.
        #[arg(long, value_name = "PARTNER_ID", value_parser = NonEmptyStringValueParser::new())]
        partner: String,
        #[arg(long, value_enum)]
        environment: Environment,
        #[arg(long, value_enum)]
        auth_method: AuthMethod,
        /// The partner's public keys, a JWK set (for private_key_jwt; `-` for stdin).
        #[arg(
            long,
            value_name = "PATH",
            required_if_eq("auth_method", "private_key_jwt"),
            conflicts_with = "tls_subject_dn"
        )]
        jwks_file: Option<PathBuf>,
        /// The subject DN of the partner's client certificate (for tls_client_auth).
        #[arg(
            long,
            value_name = "DN",
            required_if_eq("auth_method", "tls_client_auth")
        )]
        tls_subject_dn: Option<String>,
        /// The client_id to register; the API chooses one if omitted.
        #[arg(long)]
        client_id: Option<String>,
        /// How long the credential is valid; the API caps production lifetimes.
        #[arg(long, value_name = "DAYS")]
        lifetime_days: Option<u32>,
        /// Why the credential is needed (the approval request's, in production).
        #[arg(long)]
        justification: Option<String>,
    },
    /// Revoke a credential; every gateway refuses its tokens within a second.
    Revoke {
        #[arg(value_parser = NonEmptyStringValueParser::new())]
        client_id: String,
    },
    /// Replace a credential with a new key; the old one stays valid for the overlap
    /// window, then expires.
    #[command(group(ArgGroup::new("new_key").required(true).args(["jwks_file", "tls_subject_dn"])))]
    Rotate {
        #[arg(value_parser = NonEmptyStringValueParser::new())]
        client_id: String,
        /// The new JWK set (private_key_jwt; `-` for stdin).
        #[arg(long, value_name = "PATH")]
        jwks_file: Option<PathBuf>,
        /// The new certificate's subject DN (tls_client_auth).
        #[arg(long, value_name = "DN")]
        tls_subject_dn: Option<String>,
        /// The replacement's client_id; the API chooses one if omitted.
        #[arg(long)]
        new_client_id: Option<String>,
        /// How long the replacement is valid; the API caps production lifetimes.
        #[arg(long, value_name = "DAYS")]
        lifetime_days: Option<u32>,
        /// How long the old credential keeps working.
        #[arg(long, value_name = "HOURS")]
        overlap_hours: Option<u32>,
        #[arg(long)]
        justification: Option<String>,
    },
}

fn grant_path(partner_id: &str, environment: &Environment) -> String {
    format!(
        "/admin/v1/partners/{}/grants/{}",
        segment(partner_id),
        wire_name(environment)
    )
}

fn client_path(client_id: &str) -> String {
    format!("/admin/v1/clients/{}", segment(client_id))
}

impl ToRequest for GrantsCommand {
    fn to_request(&self) -> Result<ApiRequest, AdminError> {
        Ok(match self {
            Self::List { partner_id } => ApiRequest::get(
                format!("/admin/v1/partners/{}/grants", segment(partner_id)),
                View::Table(GRANT_COLUMNS),
            ),
            Self::Show {
                partner_id,
                environment,
            } => ApiRequest::get(grant_path(partner_id, environment), View::Object),
            Self::Set {
                partner_id,
                environment,
                file,
                justification,
            } => {
                let mut body = read_json_object(file)?;
                if let Some(justification) = justification {
                    body["justification"] = json!(justification);
                }
                ApiRequest::with_body(
                    Method::PUT,
                    grant_path(partner_id, environment),
                    body,
                    View::Object,
                )
            }
        })
    }
}

impl ToRequest for ClientsCommand {
    fn to_request(&self) -> Result<ApiRequest, AdminError> {
        Ok(match self {
            Self::List { partner } => {
                ApiRequest::get("/admin/v1/clients".into(), View::Table(CLIENT_COLUMNS))
                    .query(&[("partner_id", partner.as_ref())])
            }
            Self::Show { client_id } => ApiRequest::get(client_path(client_id), View::Object),
            Self::Create {
                partner,
                environment,
                auth_method,
                jwks_file,
                tls_subject_dn,
                client_id,
                lifetime_days,
                justification,
            } => {
                let mut body = json!({
                    "partner_id": partner,
                    "environment": wire_name(environment),
                    "auth_method": wire_name(auth_method),
                });
                if let Some(path) = jwks_file {
                    body["jwks"] = read_json_object(path)?;
                }
                set_optional(
                    &mut body,
                    "tls_subject_dn",
                    tls_subject_dn.as_ref().map(|v| json!(v)),
                );
                set_optional(&mut body, "client_id", client_id.as_ref().map(|v| json!(v)));
                set_optional(&mut body, "lifetime_days", lifetime_days.map(|v| json!(v)));
                set_optional(
                    &mut body,
                    "justification",
                    justification.as_ref().map(|v| json!(v)),
                );
                ApiRequest::with_body(Method::POST, "/admin/v1/clients".into(), body, View::Object)
            }
            Self::Revoke { client_id } => ApiRequest {
                method: Method::POST,
                ..ApiRequest::get(format!("{}/revoke", client_path(client_id)), View::Object)
            },
            Self::Rotate {
                client_id,
                jwks_file,
                tls_subject_dn,
                new_client_id,
                lifetime_days,
                overlap_hours,
                justification,
            } => {
                let mut body = json!({});
                if let Some(path) = jwks_file {
                    body["jwks"] = read_json_object(path)?;
                }
                set_optional(
                    &mut body,
                    "tls_subject_dn",
                    tls_subject_dn.as_ref().map(|v| json!(v)),
                );
                set_optional(
                    &mut body,
                    "client_id",
                    new_client_id.as_ref().map(|v| json!(v)),
                );
                set_optional(&mut body, "lifetime_days", lifetime_days.map(|v| json!(v)));
                set_optional(&mut body, "overlap_hours", overlap_hours.map(|v| json!(v)));
                set_optional(
                    &mut body,
                    "justification",
                    justification.as_ref().map(|v| json!(v)),
                );
                ApiRequest::with_body(
                    Method::POST,
                    format!("{}/rotate", client_path(client_id)),
                    body,
                    View::Object,
                )
            }
        })
    }
}

/// Sets `key` only when a value was given: the API's schema refuses nulls it does not list.
fn set_optional(body: &mut serde_json::Value, key: &str, value: Option<serde_json::Value>) {
    if let Some(value) = value {
        body[key] = value;
    }
}
