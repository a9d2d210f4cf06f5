//! What each step of a gateway request costs, one at a time: access-token verification
//! (first sight and cached), route matching, the rate-limit check, field filtering of a
//! 1.5 KB account answer, and a durable audit append under group commit.
//!
//! `cargo bench -p portcullis-gateway --bench hot_path` (criterion; add `-- token` etc. to
//! run one group). `bench/run` measures the whole gateway against nginx and HAProxy.

use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use http::Method;
use portcullis_audit::{Actor, AuditConfig, AuditEvent, AuditLog, Decision, EventKind};
use portcullis_core::jose::{Algorithm, JwsSigner, VerifyingKey};
use portcullis_core::token::{
    verify_access_token, AccessTokenClaims, Audience, TokenExpectations, ACCESS_TOKEN_TYP,
};
use portcullis_field_filter::{filter_document, CompiledFieldPolicy, FieldPolicy, HashKey};
use portcullis_gateway::routes::{RouteMatch, RouteTable};
use portcullis_gateway::token_cache::{TokenCache, VerifiedToken};
use portcullis_policy::{RateLimit, RateLimiter};

const NOW: i64 = 1_800_000_000;
const ISSUER: &str = "https://127.0.0.1:18443";

fn claims() -> AccessTokenClaims {
    AccessTokenClaims {
        iss: ISSUER.into(),
        sub: "finch-lending-prod".into(),
        aud: Audience::One(ISSUER.into()),
        exp: NOW + 300,
        iat: NOW,
        nbf: None,
        jti: "6f1c2a7e-8d4b-4c1e-9a3f-0b5d7e2c9f11".into(),
        client_id: "finch-lending-prod".into(),
        scope: "accounts:read balances:read kyc:read".into(),
        partner_id: "finch-lending".into(),
        cnf: None,
    }
}

fn token_verification(c: &mut Criterion) {
    let expect = TokenExpectations {
        issuer: ISSUER,
        audience: ISSUER,
        leeway_seconds: 5,
        now: NOW,
    };
    let mut group = c.benchmark_group("token");
    for algorithm in [Algorithm::ES256, Algorithm::EdDSA] {
        let (signer, _) = JwsSigner::generate("key-1".into(), algorithm).expect("key");
        let token = signer.sign(ACCESS_TOKEN_TYP, &claims()).expect("sign");
        let keys: HashMap<String, VerifyingKey> =
            HashMap::from([("key-1".to_string(), signer.verifying_key())]);
        group.bench_function(format!("verify_uncached_{}", algorithm.as_str()), |b| {
            b.iter(|| verify_access_token(black_box(&token), &keys, &expect).expect("valid"))
        });
        let cache = TokenCache::new(100_000);
        // A realistic cache: many partners' tokens, the one asked for among them.
        for i in 0..10_000 {
            let verified = Arc::new(VerifiedToken::new(claims()));
            cache.insert(&format!("{token}{i}"), "key-1", verified, NOW);
        }
        cache.insert(&token, "key-1", Arc::new(VerifiedToken::new(claims())), NOW);
        group.bench_function(format!("verify_cached_{}", algorithm.as_str()), |b| {
            b.iter(|| {
                cache
                    .get(black_box(&token), NOW, |kid| kid == "key-1")
                    .expect("cached")
            })
        });
    }
    group.finish();
}

fn route_match(c: &mut Criterion) {
    let routes = RouteTable::demo_bank();
    let mut group = c.benchmark_group("route");
    for path in [
        "/accounts/acc-7f3c9e12-5b8a-4d21-9c6e-2a41f0d8b7e5",
        "/accounts/acc-7f3c9e12-5b8a-4d21-9c6e-2a41f0d8b7e5/transactions",
        "/no/such/operation",
    ] {
        group.bench_function(path, |b| {
            b.iter(|| {
                matches!(
                    routes.find(&Method::GET, black_box(path)),
                    RouteMatch::Found { .. }
                )
            })
        });
    }
    group.finish();
}

fn rate_limit(c: &mut Criterion) {
    let limiter: RateLimiter<String> = RateLimiter::new(100_000);
    let limit = RateLimit {
        per_second: 1_000_000,
        burst: 1_000_000,
    };
    // Other credentials' buckets in the same shards.
    for i in 0..5_000 {
        limiter.check(format!("client-{i}").as_str(), limit, 0);
    }
    let clock = AtomicI64::new(1);
    c.bench_function("rate_limit/check", |b| {
        b.iter(|| {
            let now = clock.fetch_add(1, Ordering::Relaxed);
            limiter
                .check(black_box("finch-lending-prod"), limit, now)
                .is_allowed()
        })
    });
}

fn field_filter(c: &mut Criterion) {
    let account = include_str!("account.json").as_bytes();
    let policy = FieldPolicy {
        allow: [
            "Data.Account[*].AccountId",
            "Data.Account[*].Status",
            "Data.Account[*].Currency",
            "Data.Account[*].AccountType",
            "Links",
            "Meta",
        ]
        .iter()
        .map(|p| p.to_string())
        .collect(),
        mask: Vec::new(),
    };
    let compiled = CompiledFieldPolicy::compile(&policy).expect("policy");
    let key = HashKey::new([7; 32]);
    let mut group = c.benchmark_group("field_filter");
    group.throughput(Throughput::Bytes(account.len() as u64));
    group.bench_function("account_1.5KB", |b| {
        b.iter(|| filter_document(&compiled, &key, black_box(account)).expect("filter"))
    });
    group.finish();
}

fn event(i: u64) -> AuditEvent {
    AuditEvent {
        time_ms: NOW * 1000 + i as i64,
        kind: EventKind::GatewayRequest,
        environment: Some(portcullis_core::Environment::Production),
        actor: Actor {
            partner_id: Some("finch-lending".into()),
            client_id: Some("finch-lending-prod".into()),
            admin: None,
        },
        action: "getAccount".into(),
        target: BTreeMap::from([("account_id".to_string(), format!("acc-{i:08x}"))]),
        decision: Decision::Allow,
        reason: "allowed".into(),
        status: Some(200),
        latency_us: Some(850),
        source_ip: Some("203.0.113.10".into()),
        request_id: Some(format!("{i:032x}")),
        fields_removed: ["Data.Account[0].Nickname"].into_iter().collect(),
        trace: Some(portcullis_audit::TraceIds {
            trace_id: format!("{i:032x}"),
            span_id: format!("{i:016x}"),
            parent_span_id: None,
        }),
    }
}

/// Time per entry with 64 appenders waiting for their fsync together, as gateway
/// requests do: group commit makes this far less than one fsync.
fn audit_append(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Arc::new(AuditLog::open(AuditConfig::new(dir.path().join("audit"))).expect("open"));
    let mut group = c.benchmark_group("audit");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("append_durable_64_appenders", |b| {
        b.iter_custom(|entries| {
            let log = log.clone();
            runtime.block_on(async move {
                let started = Instant::now();
                let per_task = entries.div_ceil(64);
                let tasks: Vec<_> = (0..64u64)
                    .map(|t| {
                        let log = log.clone();
                        tokio::spawn(async move {
                            for n in 0..per_task {
                                log.append(&event(t << 32 | n)).await.expect("append");
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.expect("task");
                }
                started
                    .elapsed()
                    .mul_f64(entries as f64 / (per_task * 64) as f64)
            })
        })
    });
    group.finish();
    log.close();
}

criterion_group!(
    benches,
    token_verification,
    route_match,
    rate_limit,
    field_filter,
    audit_append
);
criterion_main!(benches);
