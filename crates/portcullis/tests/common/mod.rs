//! A real Portcullis, started in-process on loopback with real TLS, and the clients a
//! partner or an attacker would use against it.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use portcullis::app::Running;
use portcullis::config::Config;
use portcullis_core::clock::{Clock, ManualClock};
use portcullis_core::jose::{JwsSigner, UnverifiedJws};
use portcullis_core::{Environment, SystemClock};
use portcullis_tls::HttpsClient;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{PrivateKeyDer, ServerName};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const ACME: &str = "acme-payments-prod"; // production, tls_client_auth
pub const FINCH: &str = "finch-lending-prod"; // production, private_key_jwt
pub const NOVA: &str = "nova-budgeting-sandbox"; // sandbox, private_key_jwt

pub struct Harness {
    pub running: Option<Running>,
    pub demo: Value,
    pub dir: tempfile::TempDir,
    /// Set when the system runs on a manual clock; client assertions follow it.
    pub clock: Option<Arc<ManualClock>>,
}

impl Harness {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::start_on(Arc::new(SystemClock), None, adjust).await
    }

    /// The system on a clock that moves only when the test says so.
    pub async fn start_with_manual_clock() -> Self {
        Self::start_with_manual_clock_and(|_| {}).await
    }

    pub async fn start_with_manual_clock_and(adjust: impl FnOnce(&mut Config)) -> Self {
        let clock = Arc::new(ManualClock::new(now()));
        Self::start_on(clock.clone(), Some(clock), adjust).await
    }

    async fn start_on(
        clock: Arc<dyn Clock>,
        manual: Option<Arc<ManualClock>>,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        // Tests send bursts of refused requests from 127.0.0.1 on purpose; the monitor's
        // playbooks would block it. Tests of the monitor switch it back on.
        let (running, demo) = portcullis::demo::start_with_config(dir.path(), clock, |c| {
            c.monitor.enabled = false;
            adjust(c)
        })
        .await
        .unwrap();
        Self {
            running: Some(running),
            demo,
            dir,
            clock: manual,
        }
    }

    /// The system's idea of now.
    pub fn now(&self) -> i64 {
        self.clock.as_ref().map(|c| c.now()).unwrap_or_else(now)
    }

    pub fn running(&self) -> &Running {
        self.running.as_ref().unwrap()
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }

    pub fn s(&self, pointer: &str) -> String {
        self.demo
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("demo.json has no {pointer}"))
            .to_string()
    }

    pub fn partner(&self, client_id: &str) -> Value {
        self.demo["partners"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["client_id"] == json!(client_id))
            .unwrap()
            .clone()
    }

    pub fn gateway(&self, env: Environment) -> String {
        self.s(&format!("/environments/{}/gateway_url", env.as_str()))
    }

    pub fn issuer(&self, env: Environment) -> String {
        self.s(&format!("/environments/{}/issuer", env.as_str()))
    }

    /// An HTTPS client trusting the demo CA, presenting `cert_of`'s certificate if given.
    pub fn client(&self, cert_of: Option<&str>) -> HttpsClient {
        HttpsClient::new(self.tls(cert_of))
    }

    pub fn tls(&self, cert_of: Option<&str>) -> Arc<rustls::ClientConfig> {
        let ca = self.s("/ca_cert");
        let identity = cert_of.map(|c| {
            let p = self.partner(c);
            (
                p["client_cert"].as_str().unwrap().to_string(),
                p["client_key"].as_str().unwrap().to_string(),
            )
        });
        let identity_paths = identity.as_ref().map(|(c, k)| {
            (
                std::path::Path::new(c.as_str()),
                std::path::Path::new(k.as_str()),
            )
        });
        portcullis_tls::client_config(std::path::Path::new(&ca), identity_paths).unwrap()
    }

    pub async fn get(
        &self,
        env: Environment,
        path: &str,
        token: Option<&str>,
        cert_of: Option<&str>,
    ) -> Response<Bytes> {
        let mut req = Request::get(format!("{}{path}", self.gateway(env)));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        self.client(cert_of)
            .send(req.body(Full::new(Bytes::new())).unwrap())
            .await
            .unwrap()
    }

    /// The status of a GET through the gateway, for tests that need nothing else.
    pub async fn status(
        &self,
        env: Environment,
        path: &str,
        token: Option<&str>,
        cert_of: Option<&str>,
    ) -> http::StatusCode {
        self.get(env, path, token, cert_of).await.status()
    }

    /// A request to the admin API as the demo's administrator.
    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Response<Bytes> {
        self.admin_as(&self.s("/admin_token"), method, path, body)
            .await
    }

    /// A request to the admin API with the given admin token.
    pub async fn admin_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Response<Bytes> {
        let req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.s("/admin_url")))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json");
        let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        self.client(None)
            .send(req.body(Full::new(body)).unwrap())
            .await
            .unwrap()
    }

    /// Replaces a partner's grant through the admin API; panics unless it is in force
    /// afterwards. A production grant is requested by the demo administrator and approved
    /// by the demo approver (scopes without a justification get one).
    pub async fn put_grant(&self, partner_id: &str, env: Environment, mut grant: Value) {
        if env == Environment::Production {
            for scope in grant["scopes"].as_array().cloned().unwrap_or_default() {
                let scope = scope.as_str().unwrap().to_string();
                if grant["justifications"].get(&scope).is_none() {
                    grant["justifications"][scope] = json!("needed by the test");
                }
            }
            grant["justification"] = json!("test set-up");
        }
        let r = self
            .admin(
                "PUT",
                &format!("/admin/v1/partners/{partner_id}/grants/{env}"),
                Some(grant),
            )
            .await;
        if env == Environment::Sandbox {
            assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(r.body()));
            return;
        }
        assert_eq!(r.status(), 202, "{}", String::from_utf8_lossy(r.body()));
        let id = json_body(&r)["id"].as_str().unwrap().to_string();
        let decided = self.approve(&id).await;
        assert_eq!(decided["status"], "approved", "{decided}");
    }

    /// Approves a pending request as the demo approver; returns the decided request.
    pub async fn approve(&self, approval_id: &str) -> Value {
        let r = self
            .admin_as(
                &self.s("/approver_token"),
                "POST",
                &format!("/admin/v1/approvals/{approval_id}/approve"),
                Some(json!({"justification": "checked by the test"})),
            )
            .await;
        assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(r.body()));
        json_body(&r)
    }

    /// Lets every field of every operation through for the partner of `client_id`, keeping
    /// its scopes; for tests about something other than filtering.
    pub async fn allow_all_fields(&self, client_id: &str) {
        let partner = self.partner(client_id);
        let operations = [
            "listAccounts",
            "getAccount",
            "getAccountBalances",
            "getAccountTransactions",
            "getCustomerKyc",
            "createPayment",
        ];
        let fields: serde_json::Map<String, Value> = operations
            .iter()
            .map(|op| (op.to_string(), json!({"allow": ["*"]})))
            .collect();
        let env = partner["environment"].as_str().unwrap().parse().unwrap();
        self.put_grant(
            partner["partner_id"].as_str().unwrap(),
            env,
            json!({"scopes": partner["scopes"], "policy": {"fields": fields}}),
        )
        .await;
    }

    pub async fn post_form(
        &self,
        env: Environment,
        path: &str,
        form: &[(&str, String)],
        cert_of: Option<&str>,
    ) -> Response<Bytes> {
        let body = serde_urlencoded::to_string(form).unwrap();
        let req = Request::post(format!("{}{path}", self.gateway(env)))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        self.client(cert_of).send(req).await.unwrap()
    }

    /// The partner's private_key_jwt signer, with its registered kid.
    pub fn partner_signer(&self, client_id: &str) -> JwsSigner {
        let key_file = self.partner(client_id)["private_key"]
            .as_str()
            .unwrap()
            .to_string();
        signer_from_pem(&key_file)
    }

    pub fn assertion(&self, client_id: &str, env: Environment, overrides: Value) -> String {
        let now = self.now();
        let mut claims = json!({
            "iss": client_id, "sub": client_id, "aud": self.issuer(env),
            "iat": now, "exp": now + 60, "jti": uuid::Uuid::new_v4().to_string(),
        });
        for (k, v) in overrides.as_object().unwrap() {
            claims[k] = v.clone();
        }
        self.partner_signer(client_id).sign("JWT", &claims).unwrap()
    }

    pub async fn token_response_jwt(
        &self,
        env: Environment,
        assertion: String,
        extra: &[(&str, String)],
    ) -> Response<Bytes> {
        let mut form = vec![
            ("grant_type", "client_credentials".to_string()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string(),
            ),
            ("client_assertion", assertion),
        ];
        form.extend(extra.iter().cloned());
        self.post_form(env, "/oauth2/token", &form, None).await
    }

    pub async fn token_jwt(&self, client_id: &str, env: Environment) -> String {
        let r = self
            .token_response_jwt(env, self.assertion(client_id, env, json!({})), &[])
            .await;
        assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(r.body()));
        json_body(&r)["access_token"].as_str().unwrap().to_string()
    }

    pub async fn token_mtls(&self, client_id: &str) -> String {
        let form = [
            ("grant_type", "client_credentials".to_string()),
            ("client_id", client_id.to_string()),
        ];
        let r = self
            .post_form(
                Environment::Production,
                "/oauth2/token",
                &form,
                Some(client_id),
            )
            .await;
        assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(r.body()));
        json_body(&r)["access_token"].as_str().unwrap().to_string()
    }

    /// RFC 7009 revocation of `token` by `client_id`, authenticated with private_key_jwt.
    pub async fn revoke_jwt(
        &self,
        client_id: &str,
        env: Environment,
        token: &str,
    ) -> Response<Bytes> {
        self.manage_token_jwt("/oauth2/revoke", client_id, env, token)
            .await
    }

    /// An RFC 7662 introspection or RFC 7009 revocation request (`path`) about `token`,
    /// by `client_id` authenticated with private_key_jwt.
    pub async fn manage_token_jwt(
        &self,
        path: &str,
        client_id: &str,
        env: Environment,
        token: &str,
    ) -> Response<Bytes> {
        let form = [
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string(),
            ),
            (
                "client_assertion",
                self.assertion(client_id, env, json!({})),
            ),
            ("token", token.to_string()),
            ("token_type_hint", "access_token".to_string()),
        ];
        self.post_form(env, path, &form, None).await
    }

    /// Polls this gateway until `token` is refused as revoked; fails once 1 s has passed
    /// since `since`.
    pub async fn assert_revoked_within_one_second(
        &self,
        env: Environment,
        token: &str,
        since: Instant,
    ) {
        loop {
            let r = self.get(env, "/accounts", Some(token), None).await;
            if r.status() == 401 {
                assert_401(&r, "revoked");
                return;
            }
            assert!(
                since.elapsed() < Duration::from_secs(1),
                "revoked token still accepted after 1 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The issuer's own signing key, read from the store: lets a test mint tokens that
    /// are validly signed but wrong in one specific way.
    pub async fn issuer_signer(&self, env: Environment) -> JwsSigner {
        let keys = self.running().store.list_signing_keys(env).await.unwrap();
        let key = keys.last().unwrap();
        JwsSigner::from_pkcs8(
            key.kid.clone(),
            key.algorithm.into(),
            key.private_pkcs8.expose(),
        )
        .unwrap()
    }

    /// Claims of a real token, for tests that alter one of them.
    pub fn claims_of(token: &str) -> Value {
        serde_json::from_slice(UnverifiedJws::parse(token).unwrap().unverified_payload()).unwrap()
    }

    /// Sends raw bytes over TLS and returns what the server answered before closing or
    /// going quiet.
    pub async fn raw(&self, env: Environment, request: &[u8]) -> String {
        self.raw_as(env, None, request).await
    }

    /// A TLS connection to `env`'s gateway, presenting `cert_of`'s certificate if given.
    pub async fn tls_stream(
        &self,
        env: Environment,
        cert_of: Option<&str>,
    ) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
        let addr = self.gateway(env).trim_start_matches("https://").to_string();
        let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let connector = tokio_rustls::TlsConnector::from(self.tls(cert_of));
        connector
            .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
            .await
            .unwrap()
    }

    /// [`Self::raw`], presenting `cert_of`'s client certificate.
    pub async fn raw_as(&self, env: Environment, cert_of: Option<&str>, request: &[u8]) -> String {
        let mut tls = self.tls_stream(env, cert_of).await;
        tls.write_all(request).await.unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match tokio::time::timeout(Duration::from_secs(3), tls.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
                Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&out).to_string()
    }
}

pub fn signer_from_pem(path: &str) -> JwsSigner {
    let der = PrivateKeyDer::from_pem_file(path).unwrap();
    let probe = JwsSigner::from_pkcs8_any(String::new(), der.secret_der()).unwrap();
    let kid = probe.verifying_key().thumbprint();
    JwsSigner::from_pkcs8(kid, probe.algorithm(), der.secret_der()).unwrap()
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn json_body(r: &Response<Bytes>) -> Value {
    serde_json::from_slice(r.body())
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(r.body())))
}

/// Asserts a 401 problem with an RFC 6750 challenge naming `error` and a description
/// containing `detail`.
pub fn assert_401(r: &Response<Bytes>, detail: &str) {
    assert_eq!(r.status(), 401, "{}", String::from_utf8_lossy(r.body()));
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let challenge = r.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("Bearer realm=\"portcullis\""),
        "{challenge}"
    );
    let body = json_body(r);
    assert!(
        body["detail"].as_str().unwrap().contains(detail),
        "expected {detail:?} in {body}"
    );
    assert!(r.headers().contains_key("x-request-id"));
}

pub fn assert_oauth_error(r: &Response<Bytes>, status: u16, error: &str, detail: &str) {
    let body = json_body(r);
    assert_eq!(r.status(), status, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert!(
        body["error_description"].as_str().unwrap().contains(detail),
        "expected {detail:?} in {body}"
    );
}

/// PostgreSQL for end-to-end tests: `PORTCULLIS_TEST_POSTGRES_URL` or the local server.
pub fn postgres_admin_url() -> String {
    std::env::var("PORTCULLIS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh database on the local PostgreSQL; fails (never skips) when it is unreachable.
pub async fn fresh_database() -> (String, String) {
    let admin_url = postgres_admin_url();
    use sqlx::Connection;
    let mut admin = sqlx::postgres::PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL is required ({admin_url}): {e}"));
    let name = format!("portcullis_e2e_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let (base, _) = admin_url.rsplit_once('/').unwrap();
    (format!("{base}/{name}"), name)
}

pub async fn drop_database(name: &str) {
    use sqlx::Connection;
    if let Ok(mut admin) = sqlx::postgres::PgConnection::connect(&postgres_admin_url()).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut admin)
            .await;
    }
}
