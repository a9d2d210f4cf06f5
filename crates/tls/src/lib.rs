//! TLS for every Portcullis listener and client: rustls configurations restricted to the
//! FAPI cipher suites, a development PKI for the demo and tests, and the identity a client
//! certificate carries (RFC 8705 thumbprint and subject DN).
#![forbid(unsafe_code)]

mod client;
mod config;
mod identity;
pub mod pki;
mod server;

pub use client::{HttpsClient, HttpsClientError};
pub use config::{client_config, server_config, ClientCertMode, TlsError};
pub use identity::PeerIdentity;
pub use server::{serve, ConnectionInfo, ConnectionLimits, Transport};
