//! Continuous monitoring over the stream of audit events the gateways produce: Prometheus
//! metrics, detectors for the abuse fintech APIs see (spikes, credential stuffing,
//! enumeration, scraping, odd geography, off-hours use), alerts with their evidence,
//! playbooks that contain an attack within seconds, and incidents with regulatory clocks.
//!
//! Detectors read only the event's own time, so they are tested with any clock.
#![forbid(unsafe_code)]

pub mod alert;
pub mod config;
pub mod detect;
mod engine;
pub mod guard;
pub mod incident;
mod journal;
pub mod metrics;
pub mod otlp;
pub mod playbook;
pub mod webhook;
mod window;

pub use alert::{Alert, AlertKind, AlertStatus, Evidence, Finding, Severity, Subject};
pub use config::MonitorConfig;
pub use detect::Detectors;
pub use engine::{AlertFilter, EventFeed, Monitor, MonitorError, Responder, MONITOR_ACTOR};
pub use guard::Guard;
