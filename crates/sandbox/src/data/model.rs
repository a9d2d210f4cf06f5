//! The resources the bank serves, with Open Banking (Account & Transaction v3.1) field names.
//!
//! Field order in these structs is the order in the JSON, so output is stable for a seed.

use serde::Serialize;
use time::OffsetDateTime;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Account {
    pub(crate) account_id: String,
    pub(crate) status: &'static str,
    pub(crate) status_update_date_time: String,
    pub(crate) currency: &'static str,
    pub(crate) account_type: &'static str,
    pub(crate) account_sub_type: &'static str,
    pub(crate) nickname: String,
    pub(crate) opening_date: String,
    pub(crate) account: Vec<AccountIdentifier>,
    pub(crate) servicer: Servicer,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AccountIdentifier {
    pub(crate) scheme_name: &'static str,
    pub(crate) identification: String,
    pub(crate) name: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Servicer {
    pub(crate) scheme_name: &'static str,
    pub(crate) identification: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Money {
    pub(crate) amount: String,
    pub(crate) currency: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Balance {
    pub(crate) account_id: String,
    pub(crate) amount: Money,
    pub(crate) credit_debit_indicator: &'static str,
    #[serde(rename = "Type")]
    pub(crate) kind: &'static str,
    pub(crate) date_time: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) credit_line: Vec<CreditLine>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreditLine {
    pub(crate) included: bool,
    pub(crate) amount: Money,
    #[serde(rename = "Type")]
    pub(crate) kind: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Transaction {
    pub(crate) account_id: String,
    pub(crate) transaction_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) transaction_reference: Option<String>,
    pub(crate) amount: Money,
    pub(crate) credit_debit_indicator: &'static str,
    pub(crate) status: &'static str,
    pub(crate) booking_date_time: String,
    pub(crate) value_date_time: String,
    pub(crate) transaction_information: String,
    pub(crate) bank_transaction_code: BankTransactionCode,
    pub(crate) proprietary_bank_transaction_code: ProprietaryBankTransactionCode,
    pub(crate) balance: TransactionBalance,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) merchant_details: Option<MerchantDetails>,
    /// Kept alongside the text form for the date filter.
    #[serde(skip)]
    pub(crate) booked_at: OffsetDateTime,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct BankTransactionCode {
    pub(crate) code: &'static str,
    pub(crate) sub_code: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ProprietaryBankTransactionCode {
    pub(crate) code: &'static str,
    pub(crate) issuer: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TransactionBalance {
    pub(crate) amount: Money,
    pub(crate) credit_debit_indicator: &'static str,
    #[serde(rename = "Type")]
    pub(crate) kind: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct MerchantDetails {
    pub(crate) merchant_name: String,
    pub(crate) merchant_category_code: &'static str,
}

/// Identity data for one customer. Deliberately has no `Debug`: it is personal data (even if
/// synthetic) and should not end up in logs by accident.
#[derive(Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Kyc {
    pub(crate) customer_id: String,
    pub(crate) name: PersonName,
    pub(crate) date_of_birth: String,
    pub(crate) nationality: &'static str,
    pub(crate) address: Address,
    pub(crate) document: Document,
    pub(crate) email: String,
    pub(crate) phone: String,
    pub(crate) risk_rating: &'static str,
    pub(crate) verification_status: &'static str,
    pub(crate) verified_date_time: String,
}

#[derive(Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PersonName {
    pub(crate) title: &'static str,
    pub(crate) given_name: &'static str,
    pub(crate) family_name: &'static str,
}

#[derive(Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Address {
    pub(crate) address_line: Vec<String>,
    pub(crate) town_name: &'static str,
    pub(crate) post_code: String,
    pub(crate) country: &'static str,
}

#[derive(Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Document {
    #[serde(rename = "Type")]
    pub(crate) kind: &'static str,
    pub(crate) number: String,
    pub(crate) issuing_country: &'static str,
    pub(crate) expiry_date: String,
}

/// `"Credit"` for zero or positive, `"Debit"` for negative, as OB expresses signed amounts.
pub(crate) fn indicator(pence: i64) -> &'static str {
    if pence < 0 {
        "Debit"
    } else {
        "Credit"
    }
}

pub(crate) fn gbp(pence: i64) -> Money {
    Money {
        amount: crate::format::amount(pence),
        currency: "GBP",
    }
}
