//! The data plane: one TLS listener per environment, serving the authorization server's
//! endpoints and the published API operations through the request pipeline.
//!
//! Request order (see `pipeline.rs`): hygiene → route → authenticate → authorize →
//! rate limit → validate → upstream → filtered response → audit.
#![forbid(unsafe_code)]

mod authn;
mod log_throttle;
mod pipeline;
pub mod proxy;
mod response;
pub mod routes;
mod strict;
pub mod token_cache;
pub mod trace;
mod traffic;
pub mod upstream;

pub use pipeline::{Gateway, Limits, ResponseBody};
pub use routes::{Operation, RouteTable};
pub use upstream::Upstream;
