//! One storage suite, run against a real SQLite file and a real PostgreSQL database.
//!
//! PostgreSQL is required: the tests fail, rather than skip, when it is unreachable. They
//! connect to `postgres://postgres@127.0.0.1:5432/postgres` (or `PORTCULLIS_TEST_POSTGRES_URL`)
//! and give every test its own throwaway database.

use std::future::Future;

use portcullis_core::governance::{
    Approval, ApprovalKind, ApprovalStatus, Review, ReviewDecision, ReviewOutcome, ReviewStatus,
    StoredDocument,
};
use portcullis_core::{
    AdminRole, AdminToken, Client, ClientAuthMethod, CredentialStatus, Environment, Grant,
    GrantPolicy, Partner, PartnerStatus, RevokedToken, Secret, SigningAlgorithm, SigningKey,
    SigningKeyStatus,
};
use portcullis_store::{
    AdminTokenStore, ClientStore, GovernanceStore, GrantStore, PartnerStore, RevisionStore,
    RevocationStore, SigningKeyStore, SqlStore, StoreError,
};
use serde_json::json;
use sqlx::Connection;

const DEFAULT_POSTGRES_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const T0: i64 = 1_700_000_000;

/// A connected store plus the URL it came from, so a test can connect again.
struct TestDb {
    url: String,
    store: SqlStore,
}

/// Instantiates every listed test once per backend: `sqlite::name` and `postgres::name`.
macro_rules! backend_suite {
    ($($test:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    crate::with_sqlite(crate::$test).await
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    crate::with_postgres(crate::$test).await
                }
            )+
        }
    };
}

backend_suite!(
    partners_round_trip,
    clients_round_trip,
    grants_round_trip,
    signing_keys_round_trip,
    revocations_round_trip,
    admin_tokens_round_trip,
    every_write_bumps_the_revision,
    load_state_is_complete_and_filters_expired_revocations,
    migrations_are_idempotent,
    partners_never_see_each_others_rows,
    concurrent_writes_are_all_counted,
    corrupt_rows_are_reported,
    governance_records_round_trip,
);

async fn with_sqlite<F, Fut>(test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("portcullis.db");
    let url = format!("sqlite://{}", path.display());
    let store = SqlStore::connect(&url).await.expect("connect to sqlite");
    assert_eq!(store.backend_name(), "sqlite");
    assert!(path.exists(), "connect creates the database file");
    test(TestDb { url, store }).await;
}

async fn with_postgres<F, Fut>(test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let admin_url = std::env::var("PORTCULLIS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| DEFAULT_POSTGRES_ADMIN_URL.to_string());
    let mut admin = sqlx::postgres::PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL is required for these tests ({admin_url}): {e}"));
    let name = format!("portcullis_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create test database");

    let url = url_with_database(&admin_url, &name);
    let store = SqlStore::connect(&url).await.expect("connect to postgres");
    assert_eq!(store.backend_name(), "postgres");
    // Run the test as its own task so a failing assertion still reaches the cleanup below.
    let outcome = tokio::spawn(test(TestDb { url, store })).await;

    // Best effort: FORCE ends connections the dropped store's pool may still hold.
    if let Err(e) = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
    {
        eprintln!("could not drop test database {name}: {e}");
    }
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// `admin_url` with its database name replaced, keeping any query parameters.
fn url_with_database(admin_url: &str, database: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (admin_url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut url = format!("{}/{database}", &base[..path_start]);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

// ---- Fixtures ----------------------------------------------------------------------------

fn partner(id: &str, created_at: i64) -> Partner {
    Partner {
        id: id.to_string(),
        name: format!("{id} Ltd"),
        status: PartnerStatus::Production,
        risk_tier: Default::default(),
        created_at,
    }
}

fn jwt_client(client_id: &str, partner_id: &str, environment: Environment) -> Client {
    Client {
        client_id: client_id.to_string(),
        partner_id: partner_id.to_string(),
        environment,
        auth_method: ClientAuthMethod::PrivateKeyJwt,
        jwks: Some(
            json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": client_id}]}),
        ),
        tls_subject_dn: None,
        status: CredentialStatus::Active,
        created_at: T0,
        expires_at: Some(T0 + 90 * 86_400),
        last_used_at: None,
    }
}

fn mtls_client(client_id: &str, partner_id: &str, environment: Environment) -> Client {
    Client {
        client_id: client_id.to_string(),
        partner_id: partner_id.to_string(),
        environment,
        auth_method: ClientAuthMethod::TlsClientAuth,
        jwks: None,
        tls_subject_dn: Some(format!("CN={client_id},O=Partner \\, Inc.,C=GB")),
        status: CredentialStatus::Active,
        created_at: T0 + 1,
        expires_at: None,
        last_used_at: None,
    }
}

fn grant(partner_id: &str, environment: Environment, scopes: &[&str]) -> Grant {
    Grant {
        partner_id: partner_id.to_string(),
        environment,
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        justifications: Default::default(),
        policy: GrantPolicy::default(),
    }
}

fn signing_key(kid: &str, environment: Environment, created_at: i64) -> SigningKey {
    SigningKey {
        kid: kid.to_string(),
        environment,
        algorithm: SigningAlgorithm::EdDSA,
        // Bytes that are not valid UTF-8 and include NUL, as DER does.
        private_pkcs8: Secret::new(vec![0x30, 0x2e, 0x02, 0x01, 0x00, 0xff, 0xfe, 0x00, 0x80]),
        status: SigningKeyStatus::Active,
        created_at,
    }
}

fn revoked(jti: &str, expires_at: i64) -> RevokedToken {
    RevokedToken {
        jti: jti.to_string(),
        client_id: "client-a".to_string(),
        expires_at,
    }
}

fn admin_token(id: &str, sha256: &str) -> AdminToken {
    AdminToken {
        id: id.to_string(),
        name: format!("{id} operator"),
        role: AdminRole::Operator,
        token_sha256: sha256.to_string(),
        created_at: T0,
    }
}

#[track_caller]
fn assert_not_found(result: Result<impl std::fmt::Debug, StoreError>, kind: &str, id: &str) {
    match result {
        Err(StoreError::NotFound { kind: k, id: i }) if k == kind && i == id => {}
        other => panic!("expected {kind} {id:?} not found, got {other:?}"),
    }
}

#[track_caller]
fn assert_conflict(result: Result<(), StoreError>, kind: &str, id: &str) {
    match result {
        Err(StoreError::Conflict { kind: k, id: i }) if k == kind && i == id => {}
        other => panic!("expected {kind} {id:?} conflict, got {other:?}"),
    }
}

// ---- The suite ---------------------------------------------------------------------------

async fn partners_round_trip(db: TestDb) {
    let s = &db.store;
    assert!(s.list_partners().await.unwrap().is_empty());
    let late = partner("p-late", T0 + 10);
    let early = partner("p-early", T0);
    s.create_partner(&late).await.unwrap();
    s.create_partner(&early).await.unwrap();

    assert_eq!(s.get_partner("p-late").await.unwrap(), late);
    assert_eq!(s.list_partners().await.unwrap(), vec![early.clone(), late]);

    s.set_partner_status("p-early", PartnerStatus::Suspended)
        .await
        .unwrap();
    let suspended = s.get_partner("p-early").await.unwrap();
    assert_eq!(suspended.status, PartnerStatus::Suspended);
    assert_eq!(suspended.name, early.name);

    assert_conflict(s.create_partner(&early).await, "partner", "p-early");
    assert_not_found(s.get_partner("nobody").await, "partner", "nobody");
    assert_not_found(
        s.set_partner_status("nobody", PartnerStatus::Production)
            .await,
        "partner",
        "nobody",
    );
}

async fn clients_round_trip(db: TestDb) {
    let s = &db.store;
    s.create_partner(&partner("acme", T0)).await.unwrap();
    let jwt = jwt_client("client-jwt", "acme", Environment::Production);
    let mtls = mtls_client("client-mtls", "acme", Environment::Sandbox);
    s.create_client(&jwt).await.unwrap();
    s.create_client(&mtls).await.unwrap();

    assert_eq!(s.get_client("client-jwt").await.unwrap(), jwt);
    assert_eq!(s.get_client("client-mtls").await.unwrap(), mtls);
    assert_eq!(s.list_clients(None).await.unwrap(), vec![jwt.clone(), mtls]);

    s.set_client_status("client-jwt", CredentialStatus::Revoked)
        .await
        .unwrap();
    let revoked = s.get_client("client-jwt").await.unwrap();
    assert_eq!(revoked.status, CredentialStatus::Revoked);
    assert_eq!(revoked.jwks, jwt.jwks);

    assert_conflict(s.create_client(&jwt).await, "client", "client-jwt");
    assert_not_found(s.get_client("nope").await, "client", "nope");
    assert_not_found(
        s.set_client_status("nope", CredentialStatus::Revoked).await,
        "client",
        "nope",
    );
    // A credential for a partner that does not exist is refused, not stored dangling.
    assert_not_found(
        s.create_client(&jwt_client("orphan", "ghost", Environment::Sandbox))
            .await,
        "partner",
        "ghost",
    );
    assert_not_found(s.get_client("orphan").await, "client", "orphan");
}

async fn grants_round_trip(db: TestDb) {
    let s = &db.store;
    s.create_partner(&partner("acme", T0)).await.unwrap();
    let prod = grant(
        "acme",
        Environment::Production,
        &["accounts:read", "kyc:read"],
    );
    s.put_grant(&prod).await.unwrap();
    assert_eq!(
        s.get_grant("acme", Environment::Production).await.unwrap(),
        prod
    );
    assert_not_found(
        s.get_grant("acme", Environment::Sandbox).await,
        "grant",
        "acme/sandbox",
    );

    // put replaces, keeping the scopes' order as given, and the policy whole.
    let mut narrowed = grant("acme", Environment::Production, &["kyc:read"]);
    narrowed.policy = serde_json::from_value(serde_json::json!({
        "rate_limit": {"per_second": 5, "burst": 10},
        "quota": {"per_day": 1000},
        "allowed_sources": ["203.0.113.0/24", "2001:db8::/32"],
        "fields": {"get_kyc": {
            "allow": ["Data.Customer[*].CustomerId"],
            "mask": [{"path": "Data.Customer[*].DocumentNumber", "rule": "keep_last", "chars": 4}]
        }}
    }))
    .unwrap();
    s.put_grant(&narrowed).await.unwrap();
    assert_eq!(
        s.get_grant("acme", Environment::Production).await.unwrap(),
        narrowed
    );

    let sandbox = grant("acme", Environment::Sandbox, &[]);
    s.put_grant(&sandbox).await.unwrap();
    assert_eq!(s.list_grants(None).await.unwrap(), vec![narrowed, sandbox]);

    assert_not_found(
        s.put_grant(&grant("ghost", Environment::Sandbox, &["accounts:read"]))
            .await,
        "partner",
        "ghost",
    );
}

async fn signing_keys_round_trip(db: TestDb) {
    let s = &db.store;
    let newest = signing_key("k-new", Environment::Production, T0 + 100);
    let old_b = signing_key("k-b", Environment::Production, T0);
    let old_a = signing_key("k-a", Environment::Production, T0);
    let sandbox = signing_key("k-sandbox", Environment::Sandbox, T0);
    for key in [&newest, &old_b, &old_a, &sandbox] {
        s.add_signing_key(key).await.unwrap();
    }

    // Ordered by created_at, then kid; one environment only; key bytes intact.
    let production = s.list_signing_keys(Environment::Production).await.unwrap();
    assert_eq!(production, vec![old_a, old_b, newest.clone()]);
    assert_eq!(
        s.list_signing_keys(Environment::Sandbox).await.unwrap(),
        vec![sandbox]
    );

    s.set_signing_key_status("k-new", SigningKeyStatus::VerifyOnly)
        .await
        .unwrap();
    let listed = s.list_signing_keys(Environment::Production).await.unwrap();
    assert_eq!(listed[2].status, SigningKeyStatus::VerifyOnly);
    assert_eq!(listed[2].private_pkcs8, newest.private_pkcs8);

    assert_conflict(s.add_signing_key(&newest).await, "signing key", "k-new");
    assert_not_found(
        s.set_signing_key_status("k-none", SigningKeyStatus::Retired)
            .await,
        "signing key",
        "k-none",
    );
}

async fn revocations_round_trip(db: TestDb) {
    let s = &db.store;
    let soon = revoked("jti-soon", T0 + 60);
    let later = revoked("jti-later", T0 + 300);
    s.revoke_token(&later).await.unwrap();
    s.revoke_token(&soon).await.unwrap();
    // Idempotent.
    s.revoke_token(&soon).await.unwrap();

    assert_eq!(
        s.list_revoked_tokens(T0).await.unwrap(),
        vec![soon.clone(), later.clone()]
    );
    // A token whose expiry is now is expired, so its revocation no longer matters.
    assert_eq!(
        s.list_revoked_tokens(T0 + 60).await.unwrap(),
        vec![later.clone()]
    );

    assert_eq!(s.prune_revoked_tokens(T0).await.unwrap(), 0);
    assert_eq!(s.prune_revoked_tokens(T0 + 60).await.unwrap(), 1);
    assert_eq!(s.list_revoked_tokens(0).await.unwrap(), vec![later]);
    assert_eq!(s.prune_revoked_tokens(T0 + 10_000).await.unwrap(), 1);
    assert!(s.list_revoked_tokens(0).await.unwrap().is_empty());
}

async fn admin_tokens_round_trip(db: TestDb) {
    let s = &db.store;
    assert_eq!(s.count_admin_tokens().await.unwrap(), 0);
    let first = admin_token("adm-1", &"a".repeat(64));
    let second = AdminToken {
        role: AdminRole::Admin,
        ..admin_token("adm-2", &"b".repeat(64))
    };
    s.add_admin_token(&first).await.unwrap();
    s.add_admin_token(&second).await.unwrap();

    assert_eq!(s.count_admin_tokens().await.unwrap(), 2);
    assert_eq!(
        s.find_admin_token(&"b".repeat(64)).await.unwrap(),
        Some(second)
    );
    assert_eq!(
        s.find_admin_token(&"a".repeat(64)).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(s.find_admin_token(&"c".repeat(64)).await.unwrap(), None);
    // The lookup is exact: a prefix or a differently cased hash is not the token.
    assert_eq!(s.find_admin_token(&"a".repeat(63)).await.unwrap(), None);
    assert_eq!(s.find_admin_token(&"A".repeat(64)).await.unwrap(), None);

    assert_conflict(s.add_admin_token(&first).await, "admin token", "adm-1");
    // The same token under a new id would make lookups ambiguous.
    assert_conflict(
        s.add_admin_token(&admin_token("adm-3", &"a".repeat(64)))
            .await,
        "admin token",
        "adm-3",
    );
    assert_eq!(s.count_admin_tokens().await.unwrap(), 2);
}

async fn every_write_bumps_the_revision(db: TestDb) {
    let s = &db.store;
    let mut expected = s.revision().await.unwrap();
    assert_eq!(expected, 0, "a fresh store starts at revision 0");

    macro_rules! bumps {
        ($write:expr) => {{
            $write.await.unwrap();
            expected += 1;
            assert_eq!(
                s.revision().await.unwrap(),
                expected,
                "{}",
                stringify!($write)
            );
        }};
    }
    macro_rules! keeps {
        ($write:expr) => {{
            let _ = $write.await;
            assert_eq!(
                s.revision().await.unwrap(),
                expected,
                "{}",
                stringify!($write)
            );
        }};
    }

    bumps!(s.create_partner(&partner("acme", T0)));
    bumps!(s.set_partner_status("acme", PartnerStatus::Suspended));
    bumps!(s.create_client(&jwt_client("c1", "acme", Environment::Sandbox)));
    bumps!(s.set_client_status("c1", CredentialStatus::Revoked));
    bumps!(s.put_grant(&grant("acme", Environment::Sandbox, &["accounts:read"])));
    bumps!(s.put_grant(&grant("acme", Environment::Sandbox, &["kyc:read"])));
    bumps!(s.add_signing_key(&signing_key("k1", Environment::Sandbox, T0)));
    bumps!(s.set_signing_key_status("k1", SigningKeyStatus::Retired));
    bumps!(s.revoke_token(&revoked("j1", T0 + 60)));
    bumps!(s.prune_revoked_tokens(T0 + 61));
    bumps!(s.add_admin_token(&admin_token("adm", "ff")));

    // Failed writes roll back with their revision bump.
    keeps!(s.create_partner(&partner("acme", T0)));
    keeps!(s.set_partner_status("ghost", PartnerStatus::Production));
    keeps!(s.create_client(&jwt_client("c2", "ghost", Environment::Sandbox)));
    keeps!(s.set_signing_key_status("k-none", SigningKeyStatus::Retired));
    // Writes that change nothing do not make every node reload.
    bumps!(s.revoke_token(&revoked("j2", T0 + 60)));
    keeps!(s.revoke_token(&revoked("j2", T0 + 60)));
    keeps!(s.prune_revoked_tokens(T0));
}

async fn load_state_is_complete_and_filters_expired_revocations(db: TestDb) {
    let s = &db.store;
    let empty = s.load_state(T0).await.unwrap();
    assert_eq!(empty.revision, 0);
    assert!(empty.partners.is_empty() && empty.clients.is_empty() && empty.grants.is_empty());
    assert!(empty.signing_keys.is_empty() && empty.revoked_tokens.is_empty());

    let acme = partner("acme", T0);
    let client = mtls_client("c1", "acme", Environment::Production);
    let prod_grant = grant("acme", Environment::Production, &["accounts:read"]);
    let prod_key = signing_key("k-prod", Environment::Production, T0);
    let sandbox_key = signing_key("k-sandbox", Environment::Sandbox, T0 - 5);
    let live = revoked("live", T0 + 300);
    let expired = revoked("expired", T0 - 1);
    let expiring_now = revoked("expiring-now", T0);
    s.create_partner(&acme).await.unwrap();
    s.create_client(&client).await.unwrap();
    s.put_grant(&prod_grant).await.unwrap();
    s.add_signing_key(&prod_key).await.unwrap();
    s.add_signing_key(&sandbox_key).await.unwrap();
    for token in [&live, &expired, &expiring_now] {
        s.revoke_token(token).await.unwrap();
    }

    let state = s.load_state(T0).await.unwrap();
    assert_eq!(state.revision, s.revision().await.unwrap());
    assert_eq!(state.revision, 8);
    assert_eq!(state.partners, vec![acme]);
    assert_eq!(state.clients, vec![client]);
    assert_eq!(state.grants, vec![prod_grant]);
    // Every environment's keys: the data plane serves both issuers.
    assert_eq!(state.signing_keys.len(), 2);
    assert!(state.signing_keys.contains(&prod_key));
    assert!(state.signing_keys.contains(&sandbox_key));
    assert_eq!(state.revoked_tokens, vec![live.clone()]);

    let later = s.load_state(T0 + 300).await.unwrap();
    assert!(later.revoked_tokens.is_empty());
    let earlier = s.load_state(T0 - 10).await.unwrap();
    assert_eq!(earlier.revoked_tokens.len(), 3);
}

async fn migrations_are_idempotent(db: TestDb) {
    let s = &db.store;
    s.create_partner(&partner("acme", T0)).await.unwrap();
    let revision = s.revision().await.unwrap();

    // Reconnecting (twice at once, as two nodes starting together would) finds the schema
    // in place and leaves the data alone.
    let (again, and_again) = tokio::join!(SqlStore::connect(&db.url), SqlStore::connect(&db.url));
    for other in [again.unwrap(), and_again.unwrap()] {
        assert_eq!(other.revision().await.unwrap(), revision);
        assert_eq!(
            other.get_partner("acme").await.unwrap(),
            partner("acme", T0)
        );
        other.close().await;
    }

    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let applied: i64 = sqlx::Row::try_get(
        &sqlx::query("SELECT COUNT(*) AS n FROM schema_migrations")
            .fetch_one(&mut conn)
            .await
            .unwrap(),
        "n",
    )
    .unwrap();
    // Each migration once, however many times the store was opened.
    assert_eq!(applied, 3);
}

async fn partners_never_see_each_others_rows(db: TestDb) {
    let s = &db.store;
    // Ids chosen to trip prefix matching, case folding and LIKE wildcards.
    let partners = ["p1", "p10", "P1", "p_", "p%"];
    for (i, id) in partners.iter().enumerate() {
        s.create_partner(&partner(id, T0 + i as i64)).await.unwrap();
        for env in Environment::ALL {
            s.create_client(&jwt_client(&format!("{id}-{env}-jwt"), id, env))
                .await
                .unwrap();
            s.create_client(&mtls_client(&format!("{id}-{env}-mtls"), id, env))
                .await
                .unwrap();
            s.put_grant(&grant(id, env, &[&format!("scope-of-{id}")]))
                .await
                .unwrap();
        }
    }

    for id in partners {
        let clients = s.list_clients(Some(id)).await.unwrap();
        assert_eq!(clients.len(), 4, "{id}");
        assert!(
            clients.iter().all(|c| c.partner_id == id),
            "{id}: {clients:?}"
        );
        let grants = s.list_grants(Some(id)).await.unwrap();
        assert_eq!(grants.len(), 2, "{id}");
        assert!(
            grants.iter().all(|g| g.partner_id == id),
            "{id}: {grants:?}"
        );
        assert!(grants
            .iter()
            .all(|g| g.scopes == [format!("scope-of-{id}")]));
        for env in Environment::ALL {
            assert_eq!(s.get_grant(id, env).await.unwrap().partner_id, id);
        }
    }
    assert!(s.list_clients(Some("p")).await.unwrap().is_empty());
    assert!(s.list_grants(Some("p")).await.unwrap().is_empty());
    assert!(s.list_clients(Some("")).await.unwrap().is_empty());
    assert_eq!(s.list_clients(None).await.unwrap().len(), 20);
    assert_eq!(s.list_grants(None).await.unwrap().len(), 10);
}

async fn concurrent_writes_are_all_counted(db: TestDb) {
    let writers: Vec<_> = (0..16)
        .map(|i| {
            let store = db.store.clone();
            tokio::spawn(async move {
                store
                    .create_partner(&partner(&format!("p{i:02}"), T0))
                    .await
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap().unwrap();
    }
    let state = db.store.load_state(T0).await.unwrap();
    assert_eq!(state.revision, 16);
    assert_eq!(state.partners.len(), 16);
}

async fn corrupt_rows_are_reported(db: TestDb) {
    let s = &db.store;
    s.create_partner(&partner("acme", T0)).await.unwrap();
    s.put_grant(&grant("acme", Environment::Sandbox, &["accounts:read"]))
        .await
        .unwrap();

    // Someone edits the database by hand.
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    sqlx::query("UPDATE partners SET status = 'on_holiday'")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("UPDATE grants SET scopes = 'accounts:read'")
        .execute(&mut conn)
        .await
        .unwrap();

    match s.get_partner("acme").await {
        Err(StoreError::Corrupt {
            field: "status",
            detail,
        }) => {
            assert!(detail.contains("on_holiday"), "{detail}")
        }
        other => panic!("expected corrupt status, got {other:?}"),
    }
    assert!(matches!(
        s.list_grants(None).await,
        Err(StoreError::Corrupt {
            field: "scopes",
            ..
        })
    ));
    assert!(matches!(
        s.load_state(T0).await,
        Err(StoreError::Corrupt { .. })
    ));
}

// ---- Not backend-specific ----------------------------------------------------------------

#[tokio::test]
async fn unsupported_urls_are_refused_without_leaking_passwords() {
    for url in [
        "mysql://root:hunter2@localhost/db",
        "/var/lib/portcullis.db",
        "redis://localhost",
    ] {
        match SqlStore::connect(url).await {
            Err(e @ StoreError::UnsupportedUrl(_)) => {
                assert!(!e.to_string().contains("hunter2"), "{e}")
            }
            other => panic!("{url}: expected UnsupportedUrl, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn sqlite_in_a_missing_directory_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/missing/store.db", dir.path().display());
    assert!(matches!(
        SqlStore::connect(&url).await,
        Err(StoreError::Backend(_))
    ));
}

#[test]
fn test_database_urls_keep_credentials_and_parameters() {
    assert_eq!(
        url_with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
        "postgres://postgres@127.0.0.1:5432/t1"
    );
    assert_eq!(
        url_with_database("postgresql://u:p@h/postgres?sslmode=disable", "t1"),
        "postgresql://u:p@h/t1?sslmode=disable"
    );
    assert_eq!(url_with_database("postgres://h", "t1"), "postgres://h/t1");
}

async fn governance_records_round_trip(db: TestDb) {
    let s = &db.store;
    s.create_partner(&partner("acme", T0)).await.unwrap();
    s.create_partner(&partner("zeta", T0)).await.unwrap();

    // Documents: one per kind, replaced whole; a missing partner is refused.
    let mut doc = StoredDocument {
        partner_id: "acme".into(),
        kind: "use_case".into(),
        document: json!({"business_objective": "loans", "scopes": ["accounts:read"]}),
        updated_at: T0,
        updated_by: "alice".into(),
    };
    s.put_document(&doc).await.unwrap();
    doc.document = json!({"business_objective": "loans v2"});
    doc.updated_by = "bob".into();
    s.put_document(&doc).await.unwrap();
    assert_eq!(
        s.get_document("acme", "use_case").await.unwrap(),
        Some(doc.clone())
    );
    assert_eq!(s.get_document("zeta", "use_case").await.unwrap(), None);
    assert_eq!(s.list_documents("use_case").await.unwrap(), vec![doc]);
    let orphan = StoredDocument {
        partner_id: "ghost".into(),
        kind: "contract".into(),
        document: json!({}),
        updated_at: T0,
        updated_by: "a".into(),
    };
    assert!(matches!(
        s.put_document(&orphan).await,
        Err(StoreError::NotFound { .. })
    ));

    // Approvals: decided once only, newest first, filtered by partner and status.
    let approval = |id: &str, partner: &str, at: i64| Approval {
        id: id.into(),
        partner_id: partner.into(),
        kind: ApprovalKind::Grant,
        change: json!({"scopes": ["accounts:read"]}),
        status: ApprovalStatus::Pending,
        requested_by: "alice".into(),
        requested_by_id: "t-alice".into(),
        requested_at: at,
        justification: "needed".into(),
        decided_by: None,
        decided_at: None,
        decision_justification: None,
        outcome: None,
    };
    s.create_approval(&approval("apr_1", "acme", T0))
        .await
        .unwrap();
    s.create_approval(&approval("apr_2", "acme", T0 + 5))
        .await
        .unwrap();
    s.create_approval(&approval("apr_3", "zeta", T0 + 9))
        .await
        .unwrap();
    assert!(matches!(
        s.create_approval(&approval("apr_1", "acme", T0)).await,
        Err(StoreError::Conflict { .. })
    ));
    let mut decided = approval("apr_1", "acme", T0);
    decided.status = ApprovalStatus::Approved;
    decided.decided_by = Some("bob".into());
    decided.decided_at = Some(T0 + 10);
    decided.decision_justification = Some("ok".into());
    assert!(s.decide_approval(&decided).await.unwrap());
    assert!(
        !s.decide_approval(&decided).await.unwrap(),
        "a second decision must lose"
    );
    s.set_approval_outcome("apr_1", ApprovalStatus::Approved, "applied")
        .await
        .unwrap();
    decided.outcome = Some("applied".into());
    assert_eq!(s.get_approval("apr_1").await.unwrap(), decided);
    let ids = |list: Vec<Approval>| list.into_iter().map(|a| a.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.list_approvals(None, None).await.unwrap()),
        ["apr_3", "apr_2", "apr_1"]
    );
    assert_eq!(
        ids(s
            .list_approvals(Some("acme"), Some(ApprovalStatus::Pending))
            .await
            .unwrap()),
        ["apr_2"]
    );
    assert!(matches!(
        s.get_approval("nope").await,
        Err(StoreError::NotFound { .. })
    ));

    // Reviews: completed once only, by due date.
    let review = |id: &str, partner: &str, due: i64| Review {
        id: id.into(),
        partner_id: partner.into(),
        status: ReviewStatus::Open,
        opened_at: T0,
        due_at: due,
        completed_at: None,
        reviewer: None,
        decisions: vec![],
    };
    s.create_review(&review("rev_b", "zeta", T0 + 200))
        .await
        .unwrap();
    s.create_review(&review("rev_a", "acme", T0 + 100))
        .await
        .unwrap();
    // One open review per partner.
    assert!(matches!(
        s.create_review(&review("rev_c", "acme", T0 + 300)).await,
        Err(StoreError::Conflict { .. })
    ));
    let mut done = review("rev_a", "acme", T0 + 100);
    done.status = ReviewStatus::Completed;
    done.completed_at = Some(T0 + 50);
    done.reviewer = Some("carol".into());
    done.decisions = vec![ReviewDecision {
        environment: Environment::Production,
        decision: ReviewOutcome::Reduce,
        scopes: Some(vec!["accounts:read".into()]),
        justification: "least privilege".into(),
    }];
    assert!(s.complete_review(&done).await.unwrap());
    assert!(!s.complete_review(&done).await.unwrap());
    assert_eq!(s.get_review("rev_a").await.unwrap(), done);
    // Completed, acme may have its next one.
    s.create_review(&review("rev_c", "acme", T0 + 300))
        .await
        .unwrap();
    let open: Vec<_> = s
        .list_reviews(None, Some(ReviewStatus::Open))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(open, ["rev_b", "rev_c"]);
    assert_eq!(s.list_reviews(Some("acme"), None).await.unwrap().len(), 2);
    s.set_review_due("rev_c", T0 + 50).await.unwrap();
    assert_eq!(s.get_review("rev_c").await.unwrap().due_at, T0 + 50);
    assert!(matches!(
        s.set_review_due("rev_a", T0).await,
        Err(StoreError::NotFound { .. })
    ));

    // A move applies only from the state it was decided on.
    assert!(s
        .move_partner("zeta", PartnerStatus::Production, PartnerStatus::Suspended)
        .await
        .unwrap());
    assert!(!s
        .move_partner("zeta", PartnerStatus::Production, PartnerStatus::Offboarded)
        .await
        .unwrap());
    assert_eq!(
        s.get_partner("zeta").await.unwrap().status,
        PartnerStatus::Suspended
    );
    assert!(matches!(
        s.move_partner("ghost", PartnerStatus::Production, PartnerStatus::Suspended)
            .await,
        Err(StoreError::NotFound { .. })
    ));

    // Credential use only moves forward and does not disturb the data plane's revision.
    let c = jwt_client("acme-prod", "acme", Environment::Production);
    s.create_client(&c).await.unwrap();
    let revision = s.revision().await.unwrap();
    s.record_client_use(&[("acme-prod".into(), T0 + 30)])
        .await
        .unwrap();
    s.record_client_use(&[("acme-prod".into(), T0 + 10), ("ghost".into(), T0)])
        .await
        .unwrap();
    assert_eq!(
        s.get_client("acme-prod").await.unwrap().last_used_at,
        Some(T0 + 30)
    );
    assert_eq!(s.revision().await.unwrap(), revision);
    s.set_client_expiry("acme-prod", T0 + 99).await.unwrap();
    assert_eq!(
        s.get_client("acme-prod").await.unwrap().expires_at,
        Some(T0 + 99)
    );
    assert!(s.revision().await.unwrap() > revision);
}
