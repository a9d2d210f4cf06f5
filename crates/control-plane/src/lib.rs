//! The control plane: the admin REST API, on its own listener, never on a partner one.
//!
//! Every call is authenticated with an admin token (stored only as its SHA-256) whose role
//! bounds what it may do. Changes are written to the store and the snapshot is reloaded at
//! once, so the gateways apply them without a restart.
#![forbid(unsafe_code)]

mod audit_api;
mod auth;
mod error;
pub mod governance;
mod grants;
pub mod monitor_api;
mod routes;

pub use auth::{hash_admin_token, new_admin_token};
pub use routes::{build, router, AdminOptions, AdminState, ConfigOwnedGrants, OPENAPI_DOCUMENT};
