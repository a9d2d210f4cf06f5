//! The read-only resources: accounts, balances, transactions and KYC, each wrapped in the OB
//! `Data` / `Links` / `Meta` envelope.

use bytes::Bytes;
use serde::Serialize;
use time::OffsetDateTime;

use crate::data::model::{Account, Balance, Kyc, Transaction};
use crate::data::Bank;
use crate::error::ObError;
use crate::format;
use crate::query::BookingFilter;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Envelope<'a, T> {
    data: &'a T,
    links: Links<'a>,
    meta: Meta,
}

#[derive(Serialize)]
struct Links<'a> {
    #[serde(rename = "Self")]
    self_link: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Meta {
    total_pages: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_available_date_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_available_date_time: Option<String>,
}

/// Wraps `data` in the OB envelope. `history` fills `Meta.First/LastAvailableDateTime`.
pub(crate) fn envelope<T: Serialize>(
    data: &T,
    self_link: &str,
    history: Option<(OffsetDateTime, OffsetDateTime)>,
) -> Result<Bytes, ObError> {
    let envelope = Envelope {
        data,
        links: Links { self_link },
        meta: Meta {
            // Everything fits on one page.
            total_pages: 1,
            first_available_date_time: history.map(|(first, _)| format::date_time(first)),
            last_available_date_time: history.map(|(_, last)| format::date_time(last)),
        },
    };
    serde_json::to_vec(&envelope)
        .map(Bytes::from)
        .map_err(|_| ObError::internal())
}

#[derive(Serialize)]
struct AccountData<'a> {
    #[serde(rename = "Account")]
    account: Vec<&'a Account>,
}

#[derive(Serialize)]
struct BalanceData<'a> {
    #[serde(rename = "Balance")]
    balance: &'a [Balance],
}

#[derive(Serialize)]
struct TransactionData<'a> {
    #[serde(rename = "Transaction")]
    transaction: Vec<&'a Transaction>,
}

#[derive(Serialize)]
struct KycData<'a> {
    #[serde(rename = "Kyc")]
    kyc: &'a Kyc,
}

/// `GET /accounts`
pub(crate) fn accounts(bank: &Bank, self_link: &str) -> Result<Bytes, ObError> {
    let account = bank.accounts().collect();
    envelope(&AccountData { account }, self_link, None)
}

/// `GET /accounts/{account_id}`
pub(crate) fn account(bank: &Bank, account_id: &str, self_link: &str) -> Result<Bytes, ObError> {
    let account = bank.account(account_id).ok_or_else(account_not_found)?;
    envelope(
        &AccountData {
            account: vec![account],
        },
        self_link,
        None,
    )
}

/// `GET /accounts/{account_id}/balances`
pub(crate) fn balances(bank: &Bank, account_id: &str, self_link: &str) -> Result<Bytes, ObError> {
    let balance = bank.balances(account_id).ok_or_else(account_not_found)?;
    envelope(&BalanceData { balance }, self_link, None)
}

/// `GET /accounts/{account_id}/transactions[?fromBookingDateTime=..&toBookingDateTime=..]`
pub(crate) fn transactions(
    bank: &Bank,
    account_id: &str,
    query: Option<&str>,
    self_link: &str,
) -> Result<Bytes, ObError> {
    let all = bank
        .transactions(account_id)
        .ok_or_else(account_not_found)?;
    let filter = BookingFilter::from_query(query)?;
    let transaction = all
        .iter()
        .filter(|t| filter.contains(t.booked_at))
        .collect();
    envelope(
        &TransactionData { transaction },
        self_link,
        Some(bank.history()),
    )
}

/// `GET /customers/{customer_id}/kyc`
pub(crate) fn kyc(bank: &Bank, customer_id: &str, self_link: &str) -> Result<Bytes, ObError> {
    let kyc = bank
        .kyc(customer_id)
        .ok_or_else(|| ObError::not_found("Customer"))?;
    envelope(&KycData { kyc }, self_link, None)
}

fn account_not_found() -> ObError {
    ObError::not_found("Account")
}
