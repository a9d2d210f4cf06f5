use super::*;
use serde_json::json;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2025-06-01 12:00 UTC);

fn valid() -> Value {
    json!({
        "Data": {
            "ConsentId": "pcon-123",
            "Initiation": {
                "InstructionIdentification": "ACME412",
                "EndToEndIdentification": "FRESCO.21302.GFX.20",
                "InstructedAmount": {"Amount": "165.88", "Currency": "GBP"},
                "CreditorAccount": {
                    "SchemeName": "UK.OBIE.SortCodeAccountNumber",
                    "Identification": "08080021325698",
                    "Name": "ACME Inc"
                },
                "RemittanceInformation": {"Reference": "FRESCO-101", "Unstructured": "Internal ops code 5120101"}
            }
        }
    })
}

fn bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

fn submit(payments: &Payments, key: &str, body: &Value) -> Result<Value, ObError> {
    payments
        .submit(Some(key), &bytes(body), NOW)
        .map(|b| serde_json::from_slice(&b).unwrap())
}

/// The paths of the errors for a body, or panics if it was accepted.
fn rejected_paths(body: Value) -> Vec<String> {
    let err = submit(&Payments::new(10), "k", &body).unwrap_err();
    assert_eq!(err.status, StatusCode::BAD_REQUEST);
    err.errors
        .into_iter()
        .map(|e| e.path.unwrap_or_default())
        .collect()
}

#[test]
fn creates_a_payment() {
    let response = submit(&Payments::new(10), "k1", &valid()).unwrap();
    let data = &response["Data"];
    assert!(data["DomesticPaymentId"]
        .as_str()
        .unwrap()
        .starts_with("pay-"));
    assert_eq!(data["ConsentId"], "pcon-123");
    assert_eq!(data["Status"], "AcceptedSettlementInProcess");
    assert_eq!(data["CreationDateTime"], "2025-06-01T12:00:00+00:00");
    assert_eq!(data["StatusUpdateDateTime"], "2025-06-01T12:00:00+00:00");
    assert_eq!(data["Initiation"], valid()["Data"]["Initiation"]);
    assert_eq!(response["Links"]["Self"], "/payments");
    assert_eq!(response["Meta"]["TotalPages"], 1);
}

#[test]
fn same_key_same_body_replays_even_reformatted() {
    let payments = Payments::new(10);
    let first = payments.submit(Some("k"), &bytes(&valid()), NOW).unwrap();
    // Different whitespace and key order, later clock: still the same payment.
    let pretty = serde_json::to_vec_pretty(&valid()).unwrap();
    let again = payments
        .submit(Some("k"), &pretty, NOW + time::Duration::hours(1))
        .unwrap();
    assert_eq!(first, again);
    // A new key is a new payment.
    let other = payments.submit(Some("k2"), &bytes(&valid()), NOW).unwrap();
    assert_ne!(first, other);
}

#[test]
fn same_key_different_body_conflicts() {
    let payments = Payments::new(10);
    submit(&payments, "k", &valid()).unwrap();
    let mut changed = valid();
    changed["Data"]["Initiation"]["InstructedAmount"]["Amount"] = json!("165.89");
    let err = submit(&payments, "k", &changed).unwrap_err();
    assert_eq!(err.status, StatusCode::CONFLICT);
    assert_eq!(err.errors[0].error_code, code::HEADER_INVALID);
}

#[test]
fn rejected_requests_do_not_use_up_the_key() {
    let payments = Payments::new(10);
    let mut bad = valid();
    bad["Data"]["Initiation"]["InstructedAmount"]["Amount"] = json!("-1");
    assert!(submit(&payments, "k", &bad).is_err());
    assert!(submit(&payments, "k", &valid()).is_ok());
}

#[test]
fn the_key_map_is_bounded_and_forgets_the_oldest() {
    let payments = Payments::new(3);
    let first = submit(&payments, "k0", &valid()).unwrap();
    for i in 1..=3 {
        submit(&payments, &format!("k{i}"), &valid()).unwrap();
    }
    let keys = payments.state.lock().unwrap();
    assert_eq!(keys.by_key.len(), 3);
    assert_eq!(keys.order.len(), 3);
    assert!(!keys.by_key.contains_key("k0"));
    drop(keys);
    // k0 was forgotten, so it now creates a new payment.
    let again = submit(&payments, "k0", &valid()).unwrap();
    assert_ne!(
        first["Data"]["DomesticPaymentId"],
        again["Data"]["DomesticPaymentId"]
    );
}

#[test]
fn idempotency_key_is_required_and_bounded() {
    let payments = Payments::new(10);
    let body = bytes(&valid());
    let err = payments.submit(None, &body, NOW).unwrap_err();
    assert_eq!(err.errors[0].error_code, code::HEADER_MISSING);
    for key in ["", " padded", &"x".repeat(41)] {
        let err = payments.submit(Some(key), &body, NOW).unwrap_err();
        assert_eq!(err.errors[0].error_code, code::HEADER_INVALID, "{key:?}");
    }
    assert!(payments.submit(Some(&"x".repeat(40)), &body, NOW).is_ok());
}

#[test]
fn malformed_json_is_invalid_format() {
    let payments = Payments::new(10);
    for body in [&b"{not json"[..], b"", b"[1,2]", b"\"Data\""] {
        let err = payments.submit(Some("k"), body, NOW).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(err.errors[0].error_code, code::RESOURCE_INVALID_FORMAT);
    }
}

#[test]
fn amounts() {
    for good in ["10.00", "10", "0.01", "1.5", "9999999999999.99"] {
        assert!(is_positive_amount(good), "{good}");
    }
    for bad in [
        "0",
        "0.00",
        "-1.00",
        "+1.00",
        "1.234",
        "1.",
        ".5",
        "1e3",
        "",
        "1,00",
        "12345678901234",
        " 1",
    ] {
        assert!(!is_positive_amount(bad), "{bad}");
    }
}

#[test]
fn reports_every_problem_with_its_path() {
    let mut body = valid();
    let initiation = &mut body["Data"]["Initiation"];
    initiation["InstructedAmount"] = json!({"Amount": 10.5, "Currency": "gbp"});
    initiation["EndToEndIdentification"] = json!("x".repeat(36));
    initiation
        .as_object_mut()
        .unwrap()
        .remove("CreditorAccount");
    initiation
        .as_object_mut()
        .unwrap()
        .remove("InstructionIdentification");
    assert_eq!(
        rejected_paths(body),
        [
            "Data.Initiation.InstructionIdentification",
            "Data.Initiation.EndToEndIdentification",
            "Data.Initiation.InstructedAmount.Amount",
            "Data.Initiation.InstructedAmount.Currency",
            "Data.Initiation.CreditorAccount",
        ]
    );
    assert_eq!(rejected_paths(json!({})), ["Data"]);
    assert_eq!(
        rejected_paths(json!({"Data": {"Initiation": []}})),
        ["Data.Initiation"]
    );
}

#[test]
fn checks_account_references() {
    let with_creditor = |creditor: Value| {
        let mut body = valid();
        body["Data"]["Initiation"]["CreditorAccount"] = creditor;
        body
    };
    let iban = json!({"SchemeName": "UK.OBIE.IBAN", "Identification": "GB29NWBK60161331926819", "Name": "A"});
    assert!(submit(&Payments::new(1), "k", &with_creditor(iban)).is_ok());

    let bad_iban = json!({"SchemeName": "UK.OBIE.IBAN", "Identification": "GB00NWBK60161331926819", "Name": "A"});
    assert_eq!(
        rejected_paths(with_creditor(bad_iban)),
        ["Data.Initiation.CreditorAccount.Identification"]
    );
    let bad_scan = json!({"SchemeName": "UK.OBIE.SortCodeAccountNumber", "Identification": "12-34-56", "Name": "A"});
    assert_eq!(
        rejected_paths(with_creditor(bad_scan)),
        ["Data.Initiation.CreditorAccount.Identification"]
    );
    let no_name =
        json!({"SchemeName": "UK.OBIE.SortCodeAccountNumber", "Identification": "08080021325698"});
    assert_eq!(
        rejected_paths(with_creditor(no_name)),
        ["Data.Initiation.CreditorAccount.Name"]
    );

    let other_scheme = json!({"SchemeName": "UK.OBIE.PAN", "Identification": "4111", "Name": "A"});
    let err = submit(&Payments::new(1), "k", &with_creditor(other_scheme)).unwrap_err();
    assert_eq!(err.errors[0].error_code, code::UNSUPPORTED_SCHEME);

    // The debtor account is optional, but checked when given; its name is optional.
    let mut body = valid();
    body["Data"]["Initiation"]["DebtorAccount"] =
        json!({"SchemeName": "UK.OBIE.IBAN", "Identification": "nope"});
    assert_eq!(
        rejected_paths(body),
        ["Data.Initiation.DebtorAccount.Identification"]
    );
    let mut body = valid();
    body["Data"]["Initiation"]["DebtorAccount"] =
        json!({"SchemeName": "UK.OBIE.SortCodeAccountNumber", "Identification": "99012341234567"});
    assert!(submit(&Payments::new(1), "k", &body).is_ok());

    let mut body = valid();
    body["Data"]["Initiation"]["RemittanceInformation"]["Reference"] = json!("r".repeat(36));
    assert_eq!(
        rejected_paths(body),
        ["Data.Initiation.RemittanceInformation.Reference"]
    );
}
