//! The system on PostgreSQL, as a cluster would run it: the partner flows end to end, and
//! two gateway nodes sharing one database, where a revocation made through one node is
//! honoured by the other within one second.

mod common;

use std::time::Instant;

use common::*;
use portcullis_core::Environment::{Production, Sandbox};

const ISSUER: &str = "https://api.bank.test";

async fn node(store_url: &str) -> Harness {
    let url = store_url.to_string();
    Harness::start_with(move |c| {
        c.store.url = Some(url);
        // Cluster nodes share one issuer identity, as behind a load balancer.
        c.environments[0].issuer = Some(ISSUER.into());
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_flows_work_on_postgres() {
    let (url, db) = fresh_database().await;
    let h = node(&url).await;
    let account = h.s("/sample/account_id");
    let acme = h.token_mtls(ACME).await;
    assert_eq!(
        h.status(
            Production,
            &format!("/accounts/{account}/balances"),
            Some(&acme),
            Some(ACME)
        )
        .await,
        200
    );
    assert_401(
        &h.get(Production, "/accounts", Some(&acme), None).await,
        "bound to a client certificate",
    );
    let finch = h.token_jwt(FINCH, Production).await;
    assert_eq!(Harness::claims_of(&finch)["iss"], ISSUER);
    assert_eq!(
        h.status(Production, "/accounts", Some(&finch), None).await,
        200
    );
    let nova = h.token_jwt(NOVA, Sandbox).await;
    assert_401(
        &h.get(Production, "/accounts", Some(&nova), None).await,
        "key this issuer does not know",
    );
    h.stop().await;
    drop_database(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_on_one_node_reaches_the_other_within_one_second() {
    let (url, db) = fresh_database().await;
    let a = node(&url).await;
    let b = node(&url).await;
    let token = a.token_jwt(FINCH, Production).await;
    let spare = a.token_jwt(FINCH, Production).await;
    // Node B serves tokens node A issued: same store, same keys, same issuer.
    assert_eq!(
        b.get(Production, "/accounts", Some(&token), None)
            .await
            .status(),
        200
    );

    // The assertion's aud is the shared issuer, which node A's demo.json names.
    let r = a.revoke_jwt(FINCH, Production, &token).await;
    assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(r.body()));
    let revoked_at = Instant::now();
    b.assert_revoked_within_one_second(Production, &token, revoked_at)
        .await;
    assert_eq!(
        b.get(Production, "/accounts", Some(&spare), None)
            .await
            .status(),
        200
    );
    a.stop().await;
    b.stop().await;
    drop_database(&db).await;
}
