//! The tamper-evident audit log: an append-only Merkle log (RFC 9162 hashing) in segment
//! files under `DATA_DIR/audit`, group-committed with fsync, with signed checkpoints,
//! inclusion and consistency proofs, and offline verification.
#![forbid(unsafe_code)]

pub mod checkpoint;
pub mod event;
pub mod json;
mod log;
pub mod merkle;
pub mod query;
pub mod retention;
pub mod segment;
mod verify;

pub use event::{Actor, AuditEvent, Decision, EventKind, RemovedPaths, TraceIds};
pub use log::{
    Acknowledge, AuditConfig, AuditError, AuditLog, Backpressure, Committed, ConsistencyProof,
    InclusionProof, ProofError, RefusalCounts, Slot, TreeView, RECOVERY_ACTION, RECOVERY_ACTOR,
};
pub use verify::{verify_dir, VerifyError, VerifyReport};

#[cfg(test)]
mod tests;
