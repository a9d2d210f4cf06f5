//! `POST /payments`: validation of an OB domestic payment initiation and idempotent creation.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use http::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::error::{code, ErrorDetail, ObError};
use crate::format;
use crate::iban::iban_is_valid;
use crate::routes::envelope;

/// How many idempotency keys are remembered; the oldest is forgotten first.
pub(crate) const IDEMPOTENCY_CAPACITY: usize = 10_000;
/// OB limits `x-idempotency-key` to 40 characters.
const MAX_KEY_CHARS: usize = 40;
const SCHEME_IBAN: &str = "UK.OBIE.IBAN";
const SCHEME_SORT_CODE: &str = "UK.OBIE.SortCodeAccountNumber";

/// Payments created so far, by idempotency key.
///
/// Only a digest of each request is kept, not the request: a replay carries the identical
/// body, so the response can be rebuilt from it. That keeps the map small (about a hundred
/// bytes an entry) however large the accepted bodies are.
pub(crate) struct Payments {
    state: Mutex<Keys>,
}

struct Keys {
    capacity: usize,
    by_key: HashMap<String, Created>,
    /// Insertion order, for eviction.
    order: VecDeque<String>,
}

#[derive(Clone)]
struct Created {
    request_digest: [u8; 32],
    payment_id: String,
    created_at: OffsetDateTime,
}

impl Payments {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(Keys {
                capacity: capacity.max(1),
                by_key: HashMap::new(),
                order: VecDeque::new(),
            }),
        }
    }

    /// Handles one submission: checks the key and body, then creates the payment or replays
    /// the earlier one for the same key. Returns the 201 body.
    pub(crate) fn submit(
        &self,
        idempotency_key: Option<&str>,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<Bytes, ObError> {
        let key = check_key(idempotency_key)?;
        let request: Value = serde_json::from_slice(body).map_err(|e| {
            ObError::bad_request(vec![ErrorDetail::new(
                code::RESOURCE_INVALID_FORMAT,
                format!("The body is not valid JSON: {e}"),
            )])
        })?;
        let errors = validate(&request);
        if !errors.is_empty() {
            return Err(ObError::bad_request(errors));
        }
        let digest = digest(&request);

        let created =
            {
                let mut keys = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                match keys.by_key.get(key) {
                    Some(earlier) if earlier.request_digest == digest => earlier.clone(),
                    Some(_) => return Err(ObError::single(
                        StatusCode::CONFLICT,
                        ErrorDetail::new(
                            code::HEADER_INVALID,
                            "This Idempotency-Key was already used with a different request body",
                        )
                        .at("Idempotency-Key"),
                    )),
                    None => {
                        let created = Created {
                            request_digest: digest,
                            payment_id: format!("pay-{}", uuid::Uuid::new_v4().simple()),
                            created_at: now,
                        };
                        keys.insert(key.to_owned(), created.clone());
                        created
                    }
                }
            };
        render(&request, &created)
    }
}

impl Keys {
    fn insert(&mut self, key: String, created: Created) {
        while self.order.len() >= self.capacity {
            match self.order.pop_front() {
                Some(oldest) => {
                    self.by_key.remove(&oldest);
                }
                None => break,
            }
        }
        self.order.push_back(key.clone());
        self.by_key.insert(key, created);
    }
}

fn check_key(key: Option<&str>) -> Result<&str, ObError> {
    let Some(key) = key else {
        return Err(ObError::bad_request(vec![ErrorDetail::new(
            code::HEADER_MISSING,
            "The Idempotency-Key header is required",
        )
        .at("Idempotency-Key")]));
    };
    let chars = key.chars().count();
    if chars == 0 || chars > MAX_KEY_CHARS || key.trim() != key {
        return Err(ObError::bad_request(vec![ErrorDetail::new(
            code::HEADER_INVALID,
            format!("Idempotency-Key must be 1 to {MAX_KEY_CHARS} characters without surrounding spaces"),
        )
        .at("Idempotency-Key")]));
    }
    Ok(key)
}

/// SHA-256 of the request in a canonical form: `serde_json::Map` keeps keys sorted, so the
/// same document digests the same whatever its key order or whitespace.
fn digest(request: &Value) -> [u8; 32] {
    let canonical = serde_json::to_vec(request).unwrap_or_default();
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, &canonical).as_ref());
    out
}

/// The 201 body for a created (or replayed) payment.
fn render(request: &Value, created: &Created) -> Result<Bytes, ObError> {
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Data<'a> {
        domestic_payment_id: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        consent_id: Option<&'a str>,
        status: &'static str,
        creation_date_time: String,
        status_update_date_time: String,
        initiation: &'a Value,
    }
    let data = request.get("Data");
    let initiation = data
        .and_then(|d| d.get("Initiation"))
        .ok_or_else(ObError::internal)?;
    let at = format::date_time(created.created_at);
    envelope(
        &Data {
            domestic_payment_id: &created.payment_id,
            consent_id: data
                .and_then(|d| d.get("ConsentId"))
                .and_then(Value::as_str),
            status: "AcceptedSettlementInProcess",
            creation_date_time: at.clone(),
            status_update_date_time: at,
            initiation,
        },
        "/payments",
        None,
    )
}

/// Every problem with the request body, each with its path.
fn validate(request: &Value) -> Vec<ErrorDetail> {
    let mut v = Validator::default();
    let Some(root) = request.as_object() else {
        return vec![ErrorDetail::new(
            code::RESOURCE_INVALID_FORMAT,
            "The body must be a JSON object",
        )];
    };
    let Some(data) = v.object(root, "", "Data", true) else {
        return v.errors;
    };
    v.text(data, "Data", "ConsentId", 128, false);
    let Some(initiation) = v.object(data, "Data", "Initiation", true) else {
        return v.errors;
    };
    let path = "Data.Initiation";
    v.text(initiation, path, "InstructionIdentification", 35, true);
    v.text(initiation, path, "EndToEndIdentification", 35, true);

    if let Some(amount) = v.object(initiation, path, "InstructedAmount", true) {
        let path = "Data.Initiation.InstructedAmount";
        if let Some(value) = v.text(amount, path, "Amount", 32, true) {
            if !is_positive_amount(value) {
                v.invalid(
                    path,
                    "Amount",
                    "must be a positive decimal with at most 2 decimal places, e.g. \"10.00\"",
                );
            }
        }
        if let Some(currency) = v.text(amount, path, "Currency", 3, true) {
            if !(currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase())) {
                v.invalid(
                    path,
                    "Currency",
                    "must be a 3-letter ISO 4217 code, e.g. \"GBP\"",
                );
            }
        }
    }
    if let Some(creditor) = v.object(initiation, path, "CreditorAccount", true) {
        v.account(creditor, "Data.Initiation.CreditorAccount", true);
    }
    if let Some(debtor) = v.object(initiation, path, "DebtorAccount", false) {
        v.account(debtor, "Data.Initiation.DebtorAccount", false);
    }
    if let Some(remittance) = v.object(initiation, path, "RemittanceInformation", false) {
        let path = "Data.Initiation.RemittanceInformation";
        v.text(remittance, path, "Reference", 35, false);
        v.text(remittance, path, "Unstructured", 140, false);
    }
    v.errors
}

/// `^\d{1,13}(\.\d{1,2})?$` and not zero.
fn is_positive_amount(value: &str) -> bool {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let shape = (1..=13).contains(&whole.len())
        && digits(whole)
        && (!value.contains('.') || (1..=2).contains(&fraction.len()))
        && digits(fraction);
    shape && value.bytes().any(|b| (b'1'..=b'9').contains(&b))
}

#[derive(Default)]
struct Validator {
    errors: Vec<ErrorDetail>,
}

impl Validator {
    fn join(parent: &str, field: &str) -> String {
        if parent.is_empty() {
            field.to_owned()
        } else {
            format!("{parent}.{field}")
        }
    }

    fn missing(&mut self, parent: &str, field: &str) {
        let path = Self::join(parent, field);
        self.errors
            .push(ErrorDetail::new(code::FIELD_MISSING, format!("{path} is required")).at(path));
    }

    fn invalid(&mut self, parent: &str, field: &str, why: &str) {
        let path = Self::join(parent, field);
        self.errors
            .push(ErrorDetail::new(code::FIELD_INVALID, format!("{path} {why}")).at(path));
    }

    /// The object at `parent.field`, reporting it if missing (when required) or not an object.
    fn object<'a>(
        &mut self,
        object: &'a Map<String, Value>,
        parent: &str,
        field: &str,
        required: bool,
    ) -> Option<&'a Map<String, Value>> {
        match object.get(field) {
            None | Some(Value::Null) => {
                if required {
                    self.missing(parent, field);
                }
                None
            }
            Some(Value::Object(map)) => Some(map),
            Some(_) => {
                self.invalid(parent, field, "must be an object");
                None
            }
        }
    }

    /// The non-empty string at `parent.field` of at most `max` characters.
    fn text<'a>(
        &mut self,
        object: &'a Map<String, Value>,
        parent: &str,
        field: &str,
        max: usize,
        required: bool,
    ) -> Option<&'a str> {
        match object.get(field) {
            None | Some(Value::Null) => {
                if required {
                    self.missing(parent, field);
                }
                None
            }
            Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= max => Some(s),
            Some(Value::String(_)) => {
                self.invalid(parent, field, &format!("must be 1 to {max} characters"));
                None
            }
            Some(_) => {
                self.invalid(parent, field, "must be a string");
                None
            }
        }
    }

    /// An OB account reference: a supported scheme with a well-formed identification.
    fn account(&mut self, account: &Map<String, Value>, path: &str, name_required: bool) {
        let scheme = self.text(account, path, "SchemeName", 40, true);
        let identification = self.text(account, path, "Identification", 256, true);
        self.text(account, path, "Name", 350, name_required);
        match (scheme, identification) {
            (Some(SCHEME_IBAN), Some(id)) if !iban_is_valid(id) => {
                self.invalid(path, "Identification", "is not a valid IBAN");
            }
            (Some(SCHEME_SORT_CODE), Some(id))
                if !(id.len() == 14 && id.bytes().all(|b| b.is_ascii_digit())) =>
            {
                self.invalid(
                    path,
                    "Identification",
                    "must be a 6-digit sort code followed by an 8-digit account number",
                );
            }
            (Some(SCHEME_IBAN | SCHEME_SORT_CODE), _) | (None, _) => {}
            (Some(other), _) => {
                let field = Self::join(path, "SchemeName");
                self.errors.push(
                    ErrorDetail::new(
                        code::UNSUPPORTED_SCHEME,
                        format!("{field} {other} is not supported; use {SCHEME_IBAN} or {SCHEME_SORT_CODE}"),
                    )
                    .at(field),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests;
