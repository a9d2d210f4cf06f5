//! The bank over a real socket: bind 127.0.0.1:0, serve, and talk HTTP/1.1 to it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use portcullis_sandbox::{iban_is_valid, serve, Bank};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const SEED: u64 = 42;

struct TestBank {
    base: String,
    addr: std::net::SocketAddr,
    bank: Arc<Bank>,
    client: Client<HttpConnector, Full<Bytes>>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    json: Value,
}

impl TestBank {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let bank = Arc::new(Bank::generate(SEED));
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, Arc::clone(&bank), async move {
            let _ = stopped.await;
        }));
        Self {
            base: format!("http://{addr}"),
            addr,
            bank,
            client: Client::builder(TokioExecutor::new()).build_http(),
            stop: Some(stop),
            server: Some(server),
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::from(body.to_owned())))
            .unwrap();
        let response = self.client.request(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(
            headers.get("content-type").map(|v| v.to_str().unwrap()),
            Some("application/json"),
            "{path}"
        );
        let json = serde_json::from_slice(&body).unwrap_or_else(|e| {
            panic!("{path}: not JSON ({e}): {}", String::from_utf8_lossy(&body))
        });
        Reply {
            status,
            headers,
            body,
            json,
        }
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, &[], "").await
    }

    async fn pay(&self, key: Option<&str>, body: &str) -> Reply {
        let headers: Vec<(&str, &str)> = key.map(|k| ("Idempotency-Key", k)).into_iter().collect();
        let mut all = headers;
        all.push(("content-type", "application/json"));
        self.send(Method::POST, "/payments", &all, body).await
    }

    /// Signals shutdown and waits for `serve` to return.
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(5), server)
                .await
                .expect("serve did not return after shutdown")
                .unwrap()
                .unwrap();
        }
    }
}

/// Asserts the OB error shape and returns the first error code.
fn assert_ob_error(reply: &Reply, status: StatusCode) -> String {
    assert_eq!(reply.status, status, "{}", reply.json);
    let json = &reply.json;
    assert_eq!(json["Code"], status.as_str());
    assert!(json["Id"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(json["Message"].as_str().is_some_and(|s| !s.is_empty()));
    let errors = json["Errors"].as_array().expect("Errors array");
    assert!(!errors.is_empty());
    for e in errors {
        assert!(e["ErrorCode"].as_str().unwrap().starts_with("UK.OBIE."));
        assert!(e["Message"].is_string());
    }
    errors[0]["ErrorCode"].as_str().unwrap().to_owned()
}

fn assert_envelope(reply: &Reply, self_link: &str) {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    assert_eq!(reply.json["Links"]["Self"], self_link);
    assert_eq!(reply.json["Meta"]["TotalPages"], 1);
}

fn payment(amount: &str) -> String {
    json!({"Data": {"Initiation": {
        "InstructionIdentification": "INSTR-0001",
        "EndToEndIdentification": "E2E-0001",
        "InstructedAmount": {"Amount": amount, "Currency": "GBP"},
        "CreditorAccount": {"SchemeName": "UK.OBIE.SortCodeAccountNumber", "Identification": "99010012345678", "Name": "A Landlord"},
        "RemittanceInformation": {"Reference": "RENT"}
    }}})
    .to_string()
}

#[tokio::test]
async fn lists_and_reads_accounts() {
    let t = TestBank::start().await;
    let list = t.get("/accounts").await;
    assert_envelope(&list, "/accounts");
    let accounts = list.json["Data"]["Account"].as_array().unwrap();
    assert_eq!(accounts.len(), t.bank.account_ids().len());
    for a in accounts {
        assert!(a["AccountId"].as_str().unwrap().starts_with("acc-"));
        assert_eq!(
            a["Account"][0]["SchemeName"],
            "UK.OBIE.SortCodeAccountNumber"
        );
        assert_eq!(a["Account"][1]["SchemeName"], "UK.OBIE.IBAN");
        assert!(iban_is_valid(
            a["Account"][1]["Identification"].as_str().unwrap()
        ));
    }

    let id = t.bank.sample_account_id();
    let one = t.get(&format!("/accounts/{id}")).await;
    assert_envelope(&one, &format!("/accounts/{id}"));
    let found = one.json["Data"]["Account"].as_array().unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["AccountId"], id);
    assert!(accounts.contains(&found[0]));
    t.stop().await;
}

#[tokio::test]
async fn balances_match_the_last_transaction() {
    let t = TestBank::start().await;
    for id in t.bank.account_ids() {
        let balances = t.get(&format!("/accounts/{id}/balances")).await;
        assert_envelope(&balances, &format!("/accounts/{id}/balances"));
        let transactions = t.get(&format!("/accounts/{id}/transactions")).await;
        let last = transactions.json["Data"]["Transaction"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone();
        let list = balances.json["Data"]["Balance"].as_array().unwrap();
        let types: Vec<_> = list.iter().map(|b| b["Type"].as_str().unwrap()).collect();
        assert_eq!(types, ["InterimAvailable", "InterimBooked"]);
        for b in list {
            assert_eq!(b["AccountId"], id);
            assert_eq!(b["Amount"], last["Balance"]["Amount"]);
            assert_eq!(
                b["CreditDebitIndicator"],
                last["Balance"]["CreditDebitIndicator"]
            );
        }
    }
    t.stop().await;
}

#[tokio::test]
async fn transactions_and_the_booking_date_filter() {
    let t = TestBank::start().await;
    let id = t.bank.sample_account_id();
    let path = format!("/accounts/{id}/transactions");
    let all = t.get(&path).await;
    assert_envelope(&all, &path);
    assert!(all.json["Meta"]["FirstAvailableDateTime"].is_string());
    let all = all.json["Data"]["Transaction"].as_array().unwrap().clone();
    assert!(all.len() >= 100, "{}", all.len());
    let t0 = &all[0];
    for field in [
        "TransactionId",
        "BookingDateTime",
        "ValueDateTime",
        "TransactionInformation",
        "CreditDebitIndicator",
    ] {
        assert!(t0[field].is_string(), "{field}");
    }
    assert_eq!(t0["Status"], "Booked");

    // A window in the middle of the history, given both with and without an offset.
    let from = all[20]["BookingDateTime"].as_str().unwrap().to_owned();
    let to = all[60]["BookingDateTime"].as_str().unwrap().to_owned();
    let naive_from = from.trim_end_matches("+00:00");
    let query = format!(
        "fromBookingDateTime={naive_from}&toBookingDateTime={}",
        to.replace('+', "%2B")
    );
    let filtered = t.get(&format!("{path}?{query}")).await;
    assert_envelope(&filtered, &format!("{path}?{query}"));
    let filtered = filtered.json["Data"]["Transaction"].as_array().unwrap();
    let expected: Vec<_> = all
        .iter()
        .filter(|t| {
            let at = t["BookingDateTime"].as_str().unwrap();
            at >= from.as_str() && at <= to.as_str()
        })
        .collect();
    assert!(filtered.len() >= 41);
    assert_eq!(filtered.iter().collect::<Vec<_>>(), expected);

    let only_from = t
        .get(&format!("{path}?fromBookingDateTime={naive_from}"))
        .await;
    assert_eq!(
        only_from.json["Data"]["Transaction"]
            .as_array()
            .unwrap()
            .len(),
        all.iter()
            .filter(|t| t["BookingDateTime"].as_str().unwrap() >= from.as_str())
            .count()
    );

    for bad in [
        "fromBookingDateTime=last-week",
        "toBookingDateTime=2025-02-30T00:00:00",
        "fromBookingDateTime=2025-03-02T00:00:00&toBookingDateTime=2025-03-01T00:00:00",
    ] {
        let reply = t.get(&format!("{path}?{bad}")).await;
        assert_eq!(
            assert_ob_error(&reply, StatusCode::BAD_REQUEST),
            "UK.OBIE.Field.InvalidDate",
            "{bad}"
        );
    }
    t.stop().await;
}

#[tokio::test]
async fn kyc_carries_the_sensitive_fields() {
    let t = TestBank::start().await;
    let id = t.bank.sample_customer_id();
    let reply = t.get(&format!("/customers/{id}/kyc")).await;
    assert_envelope(&reply, &format!("/customers/{id}/kyc"));
    let kyc = &reply.json["Data"]["Kyc"];
    assert_eq!(kyc["CustomerId"], id);
    for pointer in [
        "/Name/GivenName",
        "/Name/FamilyName",
        "/DateOfBirth",
        "/Address/AddressLine/0",
        "/Address/PostCode",
        "/Document/Type",
        "/Document/Number",
        "/Document/ExpiryDate",
        "/Email",
        "/Phone",
        "/RiskRating",
        "/VerificationStatus",
        "/VerifiedDateTime",
    ] {
        assert!(
            kyc.pointer(pointer).and_then(Value::as_str).is_some(),
            "{pointer}"
        );
    }
    for other in t.bank.customer_ids() {
        assert_eq!(
            t.get(&format!("/customers/{other}/kyc")).await.status,
            StatusCode::OK
        );
    }
    t.stop().await;
}

#[tokio::test]
async fn unknown_ids_and_paths_are_404() {
    let t = TestBank::start().await;
    for path in [
        "/accounts/acc-00000000",
        "/accounts/acc-00000000/balances",
        "/accounts/acc-00000000/transactions",
        "/accounts/acc-00000000/transactions?fromBookingDateTime=nonsense",
        "/customers/cus-00000000/kyc",
    ] {
        let reply = t.get(path).await;
        assert_eq!(
            assert_ob_error(&reply, StatusCode::NOT_FOUND),
            "UK.OBIE.Resource.NotFound",
            "{path}"
        );
    }
    let account = t.bank.sample_account_id();
    for path in [
        "/",
        "/nope",
        "/accounts/",
        &format!("/accounts/{account}/standing-orders"),
        "/customers",
        "/payments/x",
        "/accounts//balances",
    ] {
        let reply = t.get(path).await;
        assert_eq!(
            assert_ob_error(&reply, StatusCode::NOT_FOUND),
            "UK.OBIE.Resource.NotFound",
            "{path}"
        );
    }
    t.stop().await;
}

#[tokio::test]
async fn wrong_methods_are_405_with_allow() {
    let t = TestBank::start().await;
    let account = t.bank.sample_account_id().to_owned();
    let customer = t.bank.sample_customer_id().to_owned();
    for (method, path, allow) in [
        (Method::POST, "/accounts".to_owned(), "GET"),
        (Method::DELETE, format!("/accounts/{account}"), "GET"),
        (Method::PUT, format!("/accounts/{account}/balances"), "GET"),
        (
            Method::POST,
            format!("/accounts/{account}/transactions"),
            "GET",
        ),
        (Method::PATCH, format!("/customers/{customer}/kyc"), "GET"),
        (Method::GET, "/payments".to_owned(), "POST"),
    ] {
        let reply = t.send(method.clone(), &path, &[], "").await;
        assert_ob_error(&reply, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            reply.headers.get("allow").unwrap(),
            allow,
            "{method} {path}"
        );
    }
    t.stop().await;
}

#[tokio::test]
async fn payments_are_idempotent() {
    let t = TestBank::start().await;
    let first = t.pay(Some("key-1"), &payment("10.00")).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.json);
    let data = &first.json["Data"];
    assert!(data["DomesticPaymentId"]
        .as_str()
        .unwrap()
        .starts_with("pay-"));
    assert_eq!(data["Status"], "AcceptedSettlementInProcess");
    assert!(data["CreationDateTime"].is_string());
    assert!(data["StatusUpdateDateTime"].is_string());
    assert_eq!(data["Initiation"]["InstructedAmount"]["Amount"], "10.00");

    // Same key, same body: the same payment, byte for byte.
    let again = t.pay(Some("key-1"), &payment("10.00")).await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.json, first.json);

    // Same key, different body: conflict.
    let conflict = t.pay(Some("key-1"), &payment("11.00")).await;
    assert_ob_error(&conflict, StatusCode::CONFLICT);

    // Another key is another payment.
    let second = t.pay(Some("key-2"), &payment("10.00")).await;
    assert_eq!(second.status, StatusCode::CREATED);
    assert_ne!(
        second.json["Data"]["DomesticPaymentId"],
        data["DomesticPaymentId"]
    );
    t.stop().await;
}

#[tokio::test]
async fn concurrent_retries_create_one_payment() {
    let t = Arc::new(TestBank::start().await);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let t = Arc::clone(&t);
            tokio::spawn(async move {
                t.pay(Some("race"), &payment("5.00")).await.json["Data"]["DomesticPaymentId"]
                    .clone()
            })
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.unwrap());
    }
    assert!(ids[0].is_string());
    assert!(ids.iter().all(|id| id == &ids[0]), "{ids:?}");
    let Ok(t) = Arc::try_unwrap(t) else {
        panic!("test bank still shared")
    };
    t.stop().await;
}

#[tokio::test]
async fn payment_rejections() {
    let t = TestBank::start().await;
    let missing_key = t.pay(None, &payment("10.00")).await;
    assert_eq!(
        assert_ob_error(&missing_key, StatusCode::BAD_REQUEST),
        "UK.OBIE.Header.Missing"
    );
    let long_key = t.pay(Some(&"k".repeat(41)), &payment("10.00")).await;
    assert_eq!(
        assert_ob_error(&long_key, StatusCode::BAD_REQUEST),
        "UK.OBIE.Header.Invalid"
    );

    let malformed = t.pay(Some("k"), "{\"Data\": {").await;
    assert_eq!(
        assert_ob_error(&malformed, StatusCode::BAD_REQUEST),
        "UK.OBIE.Resource.InvalidFormat"
    );

    for (amount, currency) in [
        ("0.00", "GBP"),
        ("10.001", "GBP"),
        ("-5", "GBP"),
        ("ten", "GBP"),
        ("10.00", "gbp"),
        ("10.00", "GBPX"),
    ] {
        let mut body: Value = serde_json::from_str(&payment(amount)).unwrap();
        body["Data"]["Initiation"]["InstructedAmount"]["Currency"] = json!(currency);
        let reply = t.pay(Some("k"), &body.to_string()).await;
        assert_eq!(
            assert_ob_error(&reply, StatusCode::BAD_REQUEST),
            "UK.OBIE.Field.Invalid",
            "{amount} {currency}"
        );
    }

    let mut no_creditor: Value = serde_json::from_str(&payment("10.00")).unwrap();
    no_creditor["Data"]["Initiation"]
        .as_object_mut()
        .unwrap()
        .remove("CreditorAccount");
    let reply = t.pay(Some("k"), &no_creditor.to_string()).await;
    assert_eq!(
        assert_ob_error(&reply, StatusCode::BAD_REQUEST),
        "UK.OBIE.Field.Missing"
    );
    assert_eq!(
        reply.json["Errors"][0]["Path"],
        "Data.Initiation.CreditorAccount"
    );

    let too_big = format!("{{\"pad\": \"{}\"}}", "x".repeat(70 * 1024));
    let reply = t.pay(Some("k"), &too_big).await;
    assert_ob_error(&reply, StatusCode::PAYLOAD_TOO_LARGE);

    // None of those used up the key.
    assert_eq!(
        t.pay(Some("k"), &payment("10.00")).await.status,
        StatusCode::CREATED
    );
    t.stop().await;
}

#[tokio::test]
async fn echoes_the_interaction_id() {
    let t = TestBank::start().await;
    let id = "93bac548-d2de-4546-b106-880a5018460d";
    let header = [("x-fapi-interaction-id", id)];
    let ok = t.send(Method::GET, "/accounts", &header, "").await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.headers.get("x-fapi-interaction-id").unwrap(), id);

    let missing = t
        .send(Method::GET, "/accounts/acc-00000000", &header, "")
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.headers.get("x-fapi-interaction-id").unwrap(), id);
    assert_eq!(missing.json["Id"], id);

    let created = t
        .send(
            Method::POST,
            "/payments",
            &[header[0], ("Idempotency-Key", "echo")],
            &payment("1.00"),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.headers.get("x-fapi-interaction-id").unwrap(), id);

    let none = t.get("/accounts").await;
    assert!(none.headers.get("x-fapi-interaction-id").is_none());
    t.stop().await;
}

#[tokio::test]
async fn same_seed_serves_identical_bytes() {
    let a = TestBank::start().await;
    let b = TestBank::start().await;
    let account = a.bank.sample_account_id().to_owned();
    let customer = a.bank.sample_customer_id().to_owned();
    assert_eq!(account, b.bank.sample_account_id());
    for path in [
        "/accounts".to_owned(),
        format!("/accounts/{account}/transactions"),
        format!("/accounts/{account}/balances"),
        format!("/customers/{customer}/kyc"),
    ] {
        assert_eq!(a.get(&path).await.body, b.get(&path).await.body, "{path}");
    }
    a.stop().await;
    b.stop().await;
}

/// Shutdown waits for a request already in progress, closes idle keep-alive connections, and
/// stops accepting new ones.
#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let t = TestBank::start().await;
    // An idle pooled keep-alive connection must not hold shutdown up.
    assert_eq!(t.get("/accounts").await.status, StatusCode::OK);

    // Start a payment and send only half of its body.
    let body = payment("42.00");
    let (head, tail) = body.split_at(body.len() / 2);
    let mut raw = tokio::net::TcpStream::connect(t.addr).await.unwrap();
    let request = format!(
        "POST /payments HTTP/1.1\r\nhost: bank\r\nidempotency-key: slow\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{head}",
        body.len()
    );
    raw.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let addr = t.addr;
    let stopping = tokio::spawn(t.stop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !stopping.is_finished(),
        "serve returned with a request in flight"
    );
    // The listener is closed: no new connections are served.
    let refused = match tokio::net::TcpStream::connect(addr).await {
        Err(_) => true,
        Ok(mut s) => {
            let _ = s
                .write_all(b"GET /accounts HTTP/1.1\r\nhost: bank\r\n\r\n")
                .await;
            let mut buf = Vec::new();
            matches!(
                tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut buf)).await,
                Ok(Ok(0)) | Ok(Err(_))
            )
        }
    };
    assert!(refused, "a new connection was served after shutdown");

    // Finish the in-flight request: it is answered, then the connection closes.
    raw.write_all(tail.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), raw.read_to_end(&mut response))
        .await
        .unwrap()
        .unwrap();
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    assert!(response.contains("42.00"));
    tokio::time::timeout(Duration::from_secs(5), stopping)
        .await
        .unwrap()
        .unwrap();
}
