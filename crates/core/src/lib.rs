//! Shared types for every plane of Portcullis: the domain model, the immutable snapshot the
//! data plane serves from, JOSE (JWS/JWK) handling, RFC 9457 problem details, secrets that
//! never print, and an injectable clock.
#![forbid(unsafe_code)]

pub mod clock;
pub mod jose;
#[macro_use]
pub mod model;
// After `model`, whose text_enum! it uses.
pub mod governance;
pub mod problem;
pub mod secret;
pub mod snapshot;
pub mod token;
pub mod usage;

pub use clock::{Clock, SystemClock};
pub use model::*;
pub use secret::Secret;
pub use snapshot::Snapshot;
