//! The synthetic bank: a deterministic Open Banking style upstream for the sandbox and the demo.
//!
//! [`Bank::generate`] builds customers, accounts, balances, transactions and identity (KYC)
//! records from a seed; the same seed always gives byte-identical data, none of it about a
//! real person. [`serve`] answers the demo bank API over plain HTTP/1.1:
//!
//! | method path | response `Data` |
//! | --- | --- |
//! | GET /accounts | `Account: [..]` |
//! | GET /accounts/{account_id} | `Account: [one]` |
//! | GET /accounts/{account_id}/balances | `Balance: [InterimAvailable, InterimBooked]` |
//! | GET /accounts/{account_id}/transactions | `Transaction: [..]`, filtered by `fromBookingDateTime` / `toBookingDateTime` |
//! | GET /customers/{customer_id}/kyc | `Kyc: {..}` |
//! | POST /payments (`Idempotency-Key` required) | the created domestic payment (201) |
//!
//! Bodies use the OB `Data` / `Links` / `Meta` envelope and OB error shape; every response is
//! `application/json` and echoes `x-fapi-interaction-id`.

#![forbid(unsafe_code)]

mod data;
mod error;
mod format;
mod iban;
mod names;
mod payments;
mod prng;
mod query;
mod routes;
mod server;

pub use data::Bank;
pub use iban::iban_is_valid;
pub use server::serve;
