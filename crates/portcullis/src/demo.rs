//! `portcullis demo`: the whole system on 127.0.0.1, seeded with demo partners in both
//! environments, described in `DIR/demo.json` and a printed walkthrough.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use portcullis_core::clock::Clock;
use portcullis_core::jose::{Algorithm, JwsSigner, VerifyingKey};
use portcullis_core::{
    Client, ClientAuthMethod, CredentialStatus, Environment, Grant, GrantPolicy, Partner,
    PartnerStatus, SystemClock,
};
use portcullis_store::{Store, StoreError};
use portcullis_tls::pki::{write_private_key_pem, DevPki};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivateKeyDer;
use serde_json::{json, Value};

use crate::app::{self, Running};
use crate::config::{
    AdminConfig, BankConfig, ClientCertificates, Config, EnvironmentConfig, LimitsConfig,
    StoreConfig, TlsConfig, BUILTIN_BANK,
};

const BANK_SEED: u64 = 20_261_123;
/// Production credentials are time-bound.
const PRODUCTION_CREDENTIAL_DAYS: i64 = 90;

struct DemoPartner {
    partner_id: &'static str,
    name: &'static str,
    client_id: &'static str,
    environment: Environment,
    method: ClientAuthMethod,
    scopes: &'static [&'static str],
}

const PARTNERS: [DemoPartner; 3] = [
    DemoPartner {
        partner_id: "acme-payments",
        name: "Acme Payments Ltd",
        client_id: "acme-payments-prod",
        environment: Environment::Production,
        method: ClientAuthMethod::TlsClientAuth,
        scopes: &[
            "accounts:read",
            "balances:read",
            "transactions:read",
            "payments:write",
        ],
    },
    DemoPartner {
        partner_id: "finch-lending",
        name: "Finch Lending Ltd",
        client_id: "finch-lending-prod",
        environment: Environment::Production,
        method: ClientAuthMethod::PrivateKeyJwt,
        scopes: &["accounts:read", "balances:read", "kyc:read"],
    },
    DemoPartner {
        partner_id: "nova-budgeting",
        name: "Nova Budgeting Ltd",
        client_id: "nova-budgeting-sandbox",
        environment: Environment::Sandbox,
        method: ClientAuthMethod::PrivateKeyJwt,
        scopes: &[
            "accounts:read",
            "balances:read",
            "transactions:read",
            "kyc:read",
            "payments:write",
        ],
    },
];

pub fn demo_config(dir: &Path) -> Config {
    let localhost = |port| std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let environment = |name| EnvironmentConfig {
        name,
        listen: localhost(0),
        issuer: None,
        audience: None,
        upstream_url: BUILTIN_BANK.into(),
        upstream_timeout_seconds: 10,
        upstream_max_connections: portcullis_gateway::upstream::DEFAULT_MAX_CONNECTIONS,
        token_lifetime_seconds: 300,
        client_certificates: ClientCertificates::Optional,
        transport: Default::default(),
        require_bound_tokens: false,
        signing_algorithm: portcullis_core::SigningAlgorithm::ES256,
    };
    Config {
        data_dir: dir.to_path_buf(),
        store: StoreConfig::default(),
        tls: TlsConfig {
            dev_pki_dir: Some(dir.join("pki")),
            cert_file: None,
            key_file: None,
            client_ca_file: None,
        },
        admin: AdminConfig {
            listen: localhost(0),
        },
        sandbox_bank: Some(BankConfig {
            listen: localhost(0),
            seed: BANK_SEED,
        }),
        environments: vec![
            environment(Environment::Production),
            environment(Environment::Sandbox),
        ],
        limits: LimitsConfig::default(),
        audit: crate::config::AuditSettings::default(),
        traffic: crate::config::TrafficConfig::default(),
        openapi_document: None,
        operations: Vec::new(),
        grants: Vec::new(),
        governance: Default::default(),
        monitor: demo_monitor(),
    }
}

/// The demo's world is the loopback network: 127.0.0.0/26 stands for the United Kingdom,
/// where every demo partner operates, and other loopback ranges for elsewhere, so the
/// traffic simulator can call from "abroad" by binding another source address.
fn demo_monitor() -> portcullis_monitor::MonitorConfig {
    use portcullis_monitor::config::RegionRange;
    let region = |name: &str, cidrs: &[&str]| RegionRange {
        region: name.into(),
        cidrs: cidrs.iter().map(|c| c.to_string()).collect(),
    };
    let mut monitor = portcullis_monitor::MonitorConfig::default();
    monitor.geography.regions = vec![
        region("GB", &["127.0.0.0/26", "::1/128"]),
        region("SG", &["127.0.0.64/26"]),
        region("US", &["127.0.0.128/25"]),
    ];
    monitor.geography.expected = PARTNERS
        .iter()
        .map(|p| (p.partner_id.to_string(), vec!["GB".to_string()]))
        .collect();
    monitor
}

/// Writes a file readable only by its owner.
pub fn write_secret_file(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(contents.as_bytes())
}

fn created_if_new(result: Result<(), StoreError>) -> Result<(), String> {
    match result {
        Ok(()) | Err(StoreError::Conflict { .. }) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// Creates the demo partners, credentials and grants that do not exist yet, and returns
/// their `demo.json` entries. Key and certificate files are reused when present.
async fn seed(store: &dyn Store, dir: &Path, clock: &dyn Clock) -> Result<Vec<Value>, String> {
    let mut pki = DevPki::load_or_create(&dir.join("pki")).map_err(|e| e.to_string())?;
    let now = clock.now();
    let mut entries = Vec::new();
    for p in &PARTNERS {
        created_if_new(
            store
                .create_partner(&Partner {
                    id: p.partner_id.into(),
                    name: p.name.into(),
                    status: PartnerStatus::Production,
                    risk_tier: Default::default(),
                    created_at: now,
                })
                .await,
        )?;
        let mut entry = json!({
            "name": p.name,
            "partner_id": p.partner_id,
            "client_id": p.client_id,
            "environment": p.environment,
            "auth_method": p.method.as_str(),
            "scopes": p.scopes,
        });
        let (jwks, tls_subject_dn) = match p.method {
            ClientAuthMethod::TlsClientAuth => {
                let cert = pki
                    .client_cert(p.client_id, p.name)
                    .map_err(|e| e.to_string())?;
                entry["client_cert"] = json!(cert.cert_file);
                entry["client_key"] = json!(cert.key_file);
                (None, Some(cert.subject_dn))
            }
            ClientAuthMethod::PrivateKeyJwt => {
                let key_file = dir.join("pki").join(format!("{}.jwt-key.pem", p.client_id));
                let public = partner_signing_key(&key_file)?;
                entry["private_key"] = json!(key_file);
                (Some(json!({"keys": [public.to_jwk()]})), None)
            }
        };
        let expires_at = (p.environment == Environment::Production)
            .then_some(now + PRODUCTION_CREDENTIAL_DAYS * 86_400);
        let client = Client {
            client_id: p.client_id.into(),
            partner_id: p.partner_id.into(),
            environment: p.environment,
            auth_method: p.method,
            jwks,
            tls_subject_dn,
            status: CredentialStatus::Active,
            created_at: now,
            expires_at,
            last_used_at: None,
        };
        created_if_new(store.create_client(&client).await)?;
        if store.get_grant(p.partner_id, p.environment).await.is_err() {
            let grant = Grant {
                partner_id: p.partner_id.into(),
                environment: p.environment,
                scopes: p.scopes.iter().map(|s| s.to_string()).collect(),
                justifications: Default::default(),
                policy: demo_policy(p.partner_id)?,
            };
            store.put_grant(&grant).await.map_err(|e| e.to_string())?;
        }
        let grant = store
            .get_grant(p.partner_id, p.environment)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(limit) = grant.policy.rate_limit {
            entry["rate_limit_per_second"] = json!(limit.per_second);
            entry["rate_limit_burst"] = json!(limit.burst);
        }
        entry["field_policy_operations"] = json!(grant.policy.fields.keys().collect::<Vec<_>>());
        entries.push(entry);
    }
    Ok(entries)
}

/// Each demo partner's grant policy, written as an operator would state it. Acme and Finch
/// see production data minimized to their use case; Nova's sandbox sees all the synthetic
/// data. Finch's KYC answers show every masking rule.
fn demo_policy(partner_id: &str) -> Result<GrantPolicy, String> {
    let envelope = ["Links", "Meta"];
    let with_envelope = |paths: &[&str]| -> Vec<String> {
        paths
            .iter()
            .chain(&envelope)
            .map(|p| p.to_string())
            .collect()
    };
    // One account view per partner, for the list and for a single account alike.
    let acme_accounts = json!({
        "allow": with_envelope(&[
            "Data.Account[*].AccountId", "Data.Account[*].Status",
            "Data.Account[*].Currency", "Data.Account[*].AccountType",
            "Data.Account[*].AccountSubType", "Data.Account[*].Nickname",
        ]),
        "mask": [{"path": "Data.Account[*].Account[*].Identification", "rule": "keep_last", "chars": 4}],
    });
    let finch_accounts = json!({"allow": with_envelope(&[
        "Data.Account[*].AccountId", "Data.Account[*].Status",
        "Data.Account[*].Currency", "Data.Account[*].AccountType",
    ])});
    let policy = match partner_id {
        "acme-payments" => json!({
            "rate_limit": {"per_second": 20, "burst": 40},
            "partner_rate_limit": {"per_second": 40, "burst": 80},
            "quota": {"per_day": 100000, "per_month": 2000000},
            "fields": {
                "listAccounts": acme_accounts,
                "getAccount": acme_accounts,
                "getAccountBalances": {"allow": with_envelope(&["Data.Balance"])},
                "getAccountTransactions": {"allow": with_envelope(&[
                    "Data.Transaction[*].AccountId", "Data.Transaction[*].TransactionId",
                    "Data.Transaction[*].Amount", "Data.Transaction[*].CreditDebitIndicator",
                    "Data.Transaction[*].Status", "Data.Transaction[*].BookingDateTime",
                    "Data.Transaction[*].TransactionInformation",
                ])},
                "createPayment": {"allow": ["*"]},
            }
        }),
        "finch-lending" => json!({
            "rate_limit": {"per_second": 10, "burst": 20},
            "quota": {"per_day": 50000},
            "fields": {
                "listAccounts": finch_accounts,
                "getAccount": finch_accounts,
                "getAccountBalances": {"allow": with_envelope(&["Data.Balance"])},
                "getCustomerKyc": {
                    "allow": with_envelope(&[
                        "Data.Kyc.CustomerId", "Data.Kyc.Name", "Data.Kyc.Nationality",
                        "Data.Kyc.RiskRating", "Data.Kyc.VerificationStatus",
                        "Data.Kyc.VerifiedDateTime", "Data.Kyc.Document.Type",
                    ]),
                    "mask": [
                        {"path": "Data.Kyc.Document.Number", "rule": "keep_last", "chars": 4},
                        {"path": "Data.Kyc.DateOfBirth", "rule": "redact"},
                        {"path": "Data.Kyc.Email", "rule": "hash"},
                    ],
                },
            }
        }),
        _ => json!({
            "rate_limit": {"per_second": 5, "burst": 10},
            "quota": {"per_day": 10000},
            "fields": {
                "listAccounts": {"allow": ["*"]},
                "getAccount": {"allow": ["*"]},
                "getAccountBalances": {"allow": ["*"]},
                "getAccountTransactions": {"allow": ["*"]},
                "getCustomerKyc": {"allow": ["*"]},
                "createPayment": {"allow": ["*"]},
            }
        }),
    };
    let policy: GrantPolicy = serde_json::from_value(policy).map_err(|e| e.to_string())?;
    let problems = policy.problems("policy");
    if problems.is_empty() {
        Ok(policy)
    } else {
        Err(problems.join("; "))
    }
}

async fn mint_admin_token(
    store: &dyn Store,
    clock: &dyn Clock,
    name: &str,
    role: portcullis_core::AdminRole,
) -> Result<String, String> {
    let token = portcullis_control_plane::new_admin_token()
        .map_err(|_| "cannot generate an admin token".to_string())?;
    let record = portcullis_core::AdminToken {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.into(),
        role,
        token_sha256: portcullis_control_plane::hash_admin_token(&token),
        created_at: clock.now(),
    };
    store
        .add_admin_token(&record)
        .await
        .map_err(|e| e.to_string())?;
    Ok(token)
}

/// The partner's private_key_jwt key, created on first use; returns its public key with
/// the RFC 7638 thumbprint as kid.
fn partner_signing_key(key_file: &Path) -> Result<VerifyingKey, String> {
    if !key_file.exists() {
        let (_, der) =
            JwsSigner::generate(String::new(), Algorithm::ES256).map_err(|e| e.to_string())?;
        write_private_key_pem(key_file, &der).map_err(|e| e.to_string())?;
    }
    let der = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| format!("{}: {e}", key_file.display()))?;
    let signer =
        JwsSigner::from_pkcs8_any(String::new(), der.secret_der()).map_err(|e| e.to_string())?;
    let public = signer.verifying_key();
    let kid = public.thumbprint();
    let mut jwk = public.to_jwk();
    jwk["kid"] = json!(kid);
    VerifyingKey::from_jwk(&jwk).map_err(|e| e.to_string())
}

/// Starts the demo in `dir`, seeds it and writes `demo.json`; returns the running system
/// and the demo.json document. `adjust` changes the configuration first (tests use it to
/// choose the store or the upstream).
pub async fn start_with_config(
    dir: &Path,
    clock: Arc<dyn Clock>,
    adjust: impl FnOnce(&mut Config),
) -> Result<(Running, Value), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut config = demo_config(&dir);
    adjust(&mut config);
    let running = app::start(&config, clock.clone())
        .await
        .map_err(|e| e.to_string())?;
    let token_file = dir.join("admin-token");
    let admin_token = match &running.bootstrap_admin_token {
        Some(token) => {
            write_secret_file(&token_file, token.expose())
                .map_err(|e| format!("{}: {e}", token_file.display()))?;
            token.expose().clone()
        }
        None => match std::fs::read_to_string(&token_file) {
            Ok(text) => text.trim().to_string(),
            // The store has admin tokens but this directory has none (e.g. a store shared
            // with another node): mint one for this demo.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let token = mint_admin_token(
                    running.store.as_ref(),
                    clock.as_ref(),
                    "demo",
                    portcullis_core::AdminRole::Admin,
                )
                .await?;
                write_secret_file(&token_file, &token)
                    .map_err(|e| format!("{}: {e}", token_file.display()))?;
                token
            }
            Err(e) => return Err(format!("{}: {e}", token_file.display())),
        },
    };
    // A second person for maker-checker: approves what the admin token requests.
    let approver_file = dir.join("approver-token");
    let approver_token = match std::fs::read_to_string(&approver_file) {
        Ok(text) => text.trim().to_string(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let token = mint_admin_token(
                running.store.as_ref(),
                clock.as_ref(),
                "demo-approver",
                portcullis_core::AdminRole::Approver,
            )
            .await?;
            write_secret_file(&approver_file, &token)
                .map_err(|e| format!("{}: {e}", approver_file.display()))?;
            token
        }
        Err(e) => return Err(format!("{}: {e}", approver_file.display())),
    };
    let partners = seed(running.store.as_ref(), &dir, clock.as_ref()).await?;
    running.loader.reload().await.map_err(|e| e.to_string())?;

    let bank = portcullis_sandbox::Bank::generate(BANK_SEED);
    let mut environments = json!({});
    for (env, served) in &running.environments {
        let base = served.url.clone();
        environments[env.as_str()] = json!({
            "gateway_url": base,
            "token_url": format!("{}{}", served.issuer, portcullis_authorization_server::TOKEN_PATH),
            "issuer": served.issuer,
            "jwks_url": format!("{}{}", served.issuer, portcullis_authorization_server::JWKS_PATH),
            "introspection_url": format!("{}{}", served.issuer, portcullis_authorization_server::INTROSPECT_PATH),
            "revocation_url": format!("{}{}", served.issuer, portcullis_authorization_server::REVOKE_PATH),
        });
    }
    let demo = json!({
        "environments": environments,
        "admin_url": format!("https://{}", running.admin_address),
        "admin_token": admin_token,
        "approver_token": approver_token,
        "ca_cert": running.ca_file,
        "partners": partners,
        "bank_url": running.bank_address.map(|a| format!("http://{a}")),
        "sample": {"account_id": bank.sample_account_id(), "customer_id": bank.sample_customer_id()},
        "data_dir": dir,
    });
    let demo_file = dir.join("demo.json");
    let text = serde_json::to_string_pretty(&demo).map_err(|e| e.to_string())?;
    // demo.json holds the admin token: owner-only. Written then renamed, so a reader
    // waiting for it never sees half a file.
    let partial = dir.join("demo.json.partial");
    write_secret_file(&partial, &text).map_err(|e| format!("{}: {e}", partial.display()))?;
    std::fs::rename(&partial, &demo_file).map_err(|e| format!("{}: {e}", demo_file.display()))?;
    Ok((running, demo))
}

pub async fn run(
    dir: Option<PathBuf>,
    audit_acknowledge: portcullis_audit::Acknowledge,
) -> Result<(), String> {
    // Before demo.json appears: whoever waits for it may signal at once.
    let stop = crate::StopSignal::watch();
    let dir = match dir {
        Some(d) => d,
        None => {
            let tmp = tempfile::Builder::new()
                .prefix("portcullis-demo-")
                .tempdir()
                .map_err(|e| e.to_string())?;
            let path = tmp.keep();
            eprintln!("No --dir given: using the new directory {}", path.display());
            path
        }
    };
    let (running, demo) = start_with_config(&dir, Arc::new(SystemClock), |c| {
        c.audit.acknowledge = audit_acknowledge;
    })
    .await?;
    println!("{}", walkthrough(&demo));
    stop.received().await;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}

fn walkthrough(demo: &Value) -> String {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "portcullis".into());
    let dir = s(&demo["data_dir"]);
    let prod = &demo["environments"]["production"];
    let sandbox = &demo["environments"]["sandbox"];
    let find = |id: &str| {
        demo["partners"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["client_id"] == json!(id)).cloned())
            .unwrap_or_default()
    };
    let acme = find("acme-payments-prod");
    let (account, customer) = (
        s(&demo["sample"]["account_id"]),
        s(&demo["sample"]["customer_id"]),
    );
    format!(
        r#"
Portcullis demo is running. Everything below is in {dir}/demo.json.

  production gateway  {prod_url}
  sandbox gateway     {sandbox_url}
  admin API           {admin_url}
  synthetic bank      {bank_url}   (the upstream itself, for comparison)

Copy and paste:

  export PC={exe} CA={ca}
  export GW={prod_url} SB={sandbox_url} ADMIN={admin_url} ADMIN_TOKEN=$(cat {dir}/admin-token)

  # 1. Acme (mutual TLS, tls_client_auth): a certificate-bound token straight from curl
  curl -s --cacert $CA --cert {acme_cert} --key {acme_key} \
       -d grant_type=client_credentials -d client_id=acme-payments-prod $GW/oauth2/token
  ACME=$($PC token --demo {dir}/demo.json --client-id acme-payments-prod)
  curl -s --cacert $CA --cert {acme_cert} --key {acme_key} -H "Authorization: Bearer $ACME" $GW/accounts/{account}/balances

  # 2. The same token without its certificate is refused (401, bound with cnf.x5t#S256)
  curl -si --cacert $CA -H "Authorization: Bearer $ACME" $GW/accounts/{account}/balances

  # 3. Finch (private_key_jwt) reads KYC; asking for transactions is 403 (scope not granted)
  FINCH=$($PC token --demo {dir}/demo.json --client-id finch-lending-prod)
  curl -s --cacert $CA -H "Authorization: Bearer $FINCH" $GW/customers/{customer}/kyc
  curl -si --cacert $CA -H "Authorization: Bearer $FINCH" $GW/accounts/{account}/transactions

  # 3b. Data minimization: the bank's own KYC answer, then Finch's. Address and phone are
  #     gone, the document number keeps its last 4 characters, the date of birth is
  #     redacted and the email is a keyed hash stable for Finch (it can join on it)
  curl -s {bank_url}/customers/{customer}/kyc
  curl -s --cacert $CA -H "Authorization: Bearer $FINCH" $GW/customers/{customer}/kyc
  curl -s --cacert $CA -H "Authorization: Bearer $ADMIN_TOKEN" $ADMIN/admin/v1/partners/finch-lending/grants/production

  # 3c. Rate limiting: Finch may make {finch_rate}/s, {finch_burst} at once; the rest get 429 with
  #     Retry-After and the RateLimit / RateLimit-Policy fields
  for i in $(seq 1 30); do curl -s -o /dev/null -w "%{{http_code}} " --cacert $CA \
       -H "Authorization: Bearer $FINCH" $GW/accounts; done; echo
  curl -si --cacert $CA -H "Authorization: Bearer $FINCH" $GW/accounts | grep -i -E "^(HTTP|retry-after|ratelimit)"

  # 3d. Requests are validated: a payment that tries to set its own Status (mass
  #     assignment) is refused, naming the field and the rule
  curl -s --cacert $CA --cert {acme_cert} --key {acme_key} -H "Authorization: Bearer $ACME" \
       -H "Idempotency-Key: demo-0" -H "Content-Type: application/json" $GW/payments \
       -d '{{"Data":{{"Initiation":{{"InstructionIdentification":"demo-0","EndToEndIdentification":"demo-0","InstructedAmount":{{"Amount":"10.00","Currency":"GBP"}},"CreditorAccount":{{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"99011400000001","Name":"Test Payee"}},"Status":"AcceptedSettlementCompleted"}}}}}}'

  # 4. Nova works in the sandbox; its sandbox token is refused by production (401)
  NOVA=$($PC token --demo {dir}/demo.json --client-id nova-budgeting-sandbox)
  curl -s --cacert $CA -H "Authorization: Bearer $NOVA" $SB/accounts
  curl -si --cacert $CA -H "Authorization: Bearer $NOVA" $GW/accounts

  # 5. A payment needs payments:write and an Idempotency-Key
  curl -s --cacert $CA --cert {acme_cert} --key {acme_key} -H "Authorization: Bearer $ACME" \
       -H "Idempotency-Key: demo-1" -H "Content-Type: application/json" $GW/payments \
       -d '{{"Data":{{"Initiation":{{"InstructionIdentification":"demo-1","EndToEndIdentification":"demo-1","InstructedAmount":{{"Amount":"10.00","Currency":"GBP"}},"CreditorAccount":{{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"99011400000001","Name":"Test Payee"}}}}}}}}'

  # 6. Revoke Finch's credential: its token stops working at once (401)
  curl -s --cacert $CA -X POST -H "Authorization: Bearer $ADMIN_TOKEN" $ADMIN/admin/v1/clients/finch-lending-prod/revoke
  curl -si --cacert $CA -H "Authorization: Bearer $FINCH" $GW/customers/{customer}/kyc

  # 7. Every request above is in the tamper-evident audit trail
  curl -s --cacert $CA -H "Authorization: Bearer $ADMIN_TOKEN" "$ADMIN/admin/v1/audit/events?client_id=finch-lending-prod"
  curl -s --cacert $CA -H "Authorization: Bearer $ADMIN_TOKEN" $ADMIN/admin/v1/audit/checkpoint

  # 8. Governance from the CLI: propose a partner, record its use case, ask to move it on;
  #    a second person (the demo approver) decides. Self-approval is refused.
  export D="--demo {dir}/demo.json"
  $PC partners create --id orbit --name "Orbit Pay" --risk-tier high $D
  $PC partners onboarding orbit $D
  echo '{{"business_objective":"Affordability checks","data_elements":["balances"],"scopes":["balances:read"],"regulatory_constraints":["PSD2 AIS"],"success_criteria":["decision within a minute"]}}' \
       | $PC partners use-case set orbit --file - $D
  $PC partners transition orbit --to due_diligence --justification "use case agreed" $D
  $PC approvals list --status pending $D
  $PC approvals approve <APPROVAL_ID> --justification "checked" $D --as-approver
  $PC reviews list $D; $PC governance sweep $D; $PC reports compliance --format html --out report.html $D

  # Discovery: metadata and signing keys of each issuer
  curl -s --cacert $CA $GW/.well-known/oauth-authorization-server
  curl -s --cacert $CA {jwks}

Stop with Ctrl-C, then verify the audit log offline:  $PC audit verify --dir {dir}"#,
        prod_url = s(&prod["gateway_url"]),
        sandbox_url = s(&sandbox["gateway_url"]),
        admin_url = s(&demo["admin_url"]),
        bank_url = s(&demo["bank_url"]),
        ca = s(&demo["ca_cert"]),
        acme_cert = s(&acme["client_cert"]),
        acme_key = s(&acme["client_key"]),
        jwks = s(&prod["jwks_url"]),
        finch_rate = find("finch-lending-prod")["rate_limit_per_second"],
        finch_burst = find("finch-lending-prod")["rate_limit_burst"],
    )
}
