//! Traffic policy the gateway and the authorization server enforce: GCRA rate limits,
//! contract quotas, source-address allowlists and request validation.
#![forbid(unsafe_code)]

pub mod quota;
pub mod rate;
pub mod source;

pub use quota::{Period, PeriodUsage, Quota, QuotaCounter, QuotaDecision};
pub use rate::{RateDecision, RateLimit, RateLimiter};
pub use source::{client_address, NetworkList};
pub mod validate;

pub use validate::{RequestSchemas, SchemaSource, Violation};
