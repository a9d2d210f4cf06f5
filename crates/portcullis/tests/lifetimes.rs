//! Time-bound access on an injected clock: production credentials expire, and with them
//! the tokens issued to them; access tokens expire after their lifetime.

mod common;

use common::*;
use portcullis_core::Environment::{Production, Sandbox};

const DAY: i64 = 86_400;

#[tokio::test]
async fn an_expired_credential_is_refused_at_the_token_endpoint_and_the_gateway() {
    let h = Harness::start_with_manual_clock().await;
    let clock = h.clock.clone().unwrap();
    // The demo's production credentials live 90 days; take a token just before the end.
    clock.advance(90 * DAY - 100);
    let finch = h.token_jwt(FINCH, Production).await;
    assert_eq!(
        h.status(Production, "/accounts", Some(&finch), None).await,
        200
    );

    // 200 s later the credential has expired while the token itself (300 s) has not.
    clock.advance(200);
    assert_401(
        &h.get(Production, "/accounts", Some(&finch), None).await,
        "credential has expired",
    );
    let r = h
        .token_response_jwt(
            Production,
            h.assertion(FINCH, Production, serde_json::json!({})),
            &[],
        )
        .await;
    assert_oauth_error(&r, 401, "invalid_client", "credential has expired");

    // Sandbox credentials have no end date.
    let nova = h.token_jwt(NOVA, Sandbox).await;
    assert_eq!(h.status(Sandbox, "/accounts", Some(&nova), None).await, 200);
    h.stop().await;
}

#[tokio::test]
async fn access_tokens_expire_after_their_lifetime_and_not_before() {
    let h = Harness::start_with_manual_clock().await;
    let clock = h.clock.clone().unwrap();
    let finch = h.token_jwt(FINCH, Production).await;
    let claims = Harness::claims_of(&finch);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        300
    );
    // Within lifetime plus the 5 s leeway the cached token is still good...
    clock.advance(304);
    assert_eq!(
        h.status(Production, "/accounts", Some(&finch), None).await,
        200
    );
    // ...and after it, refused even though it was verified and cached before.
    clock.advance(2);
    assert_401(
        &h.get(Production, "/accounts", Some(&finch), None).await,
        "expired",
    );
    h.stop().await;
}
