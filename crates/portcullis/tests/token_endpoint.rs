//! The authorization server attacked as a client would: forged, replayed, stale and
//! misdirected client assertions, secrets, wrong certificates; plus introspection,
//! revocation, metadata and JWKS.

mod common;

use std::time::{Duration, Instant};

use common::*;
use portcullis_core::Environment::{Production, Sandbox};
use serde_json::json;

#[tokio::test]
async fn bad_client_assertions_are_invalid_client() {
    let h = Harness::start().await;
    let now = now();
    let issuer = h.issuer(Production);

    // Signed by the wrong key (another partner's registered key).
    let nova_key = h.partner_signer(NOVA);
    let claims = json!({"iss": FINCH, "sub": FINCH, "aud": issuer, "exp": now + 60, "jti": "x1"});
    let wrong_key = nova_key.sign("JWT", &claims).unwrap();
    let r = h.token_response_jwt(Production, wrong_key, &[]).await;
    assert_oauth_error(&r, 401, "invalid_client", "client authentication failed");
    // Same kid as Finch's registered key but a different private key.
    let finch_kid = h.partner_signer(FINCH).kid().to_string();
    let forger = portcullis_core::jose::JwsSigner::generate(
        finch_kid,
        portcullis_core::jose::Algorithm::ES256,
    )
    .unwrap()
    .0;
    let r = h
        .token_response_jwt(Production, forger.sign("JWT", &claims).unwrap(), &[])
        .await;
    assert_oauth_error(&r, 401, "invalid_client", "client authentication failed");

    let cases = [
        (json!({"exp": now - 30}), "expired"),
        (json!({"exp": now + 3600}), "too far ahead"),
        (
            json!({"aud": "https://evil.example"}),
            "aud must be this issuer",
        ),
        (json!({"aud": h.issuer(Sandbox)}), "aud must be this issuer"),
        (json!({"sub": NOVA}), "iss and sub"),
        (json!({"nbf": now + 600}), "not yet valid"),
        (json!({"jti": ""}), "jti"),
    ];
    for (overrides, detail) in cases {
        let r = h
            .token_response_jwt(
                Production,
                h.assertion(FINCH, Production, overrides.clone()),
                &[],
            )
            .await;
        assert_oauth_error(&r, 401, "invalid_client", detail);
    }
    // The token endpoint URL is also an acceptable audience (RFC 7523 §3).
    let aud = json!({"aud": format!("{issuer}/oauth2/token")});
    assert_eq!(
        h.token_response_jwt(Production, h.assertion(FINCH, Production, aud), &[])
            .await
            .status(),
        200
    );
    h.stop().await;
}

#[tokio::test]
async fn an_assertion_is_single_use() {
    let h = Harness::start().await;
    let assertion = h.assertion(FINCH, Production, json!({}));
    assert_eq!(
        h.token_response_jwt(Production, assertion.clone(), &[])
            .await
            .status(),
        200
    );
    let r = h.token_response_jwt(Production, assertion, &[]).await;
    assert_oauth_error(&r, 401, "invalid_client", "already been used");
    h.stop().await;
}

#[tokio::test]
async fn malformed_token_requests_get_rfc6749_errors() {
    let h = Harness::start().await;
    let grant = ("grant_type", "client_credentials".to_string());
    let r = h
        .post_form(
            Production,
            "/oauth2/token",
            &[("grant_type", "password".into())],
            None,
        )
        .await;
    assert_oauth_error(&r, 400, "unsupported_grant_type", "client_credentials");
    let r = h
        .post_form(
            Production,
            "/oauth2/token",
            std::slice::from_ref(&grant),
            None,
        )
        .await;
    assert_oauth_error(&r, 401, "invalid_client", "client authentication required");
    let r = h
        .post_form(
            Production,
            "/oauth2/token",
            &[
                grant.clone(),
                ("client_id", FINCH.into()),
                ("client_secret", "guess".into()),
            ],
            None,
        )
        .await;
    assert_oauth_error(&r, 401, "invalid_client", "client secrets are not accepted");
    // tls_client_auth without a certificate, and for a client registered for JWT.
    let r = h
        .post_form(
            Production,
            "/oauth2/token",
            &[grant.clone(), ("client_id", ACME.into())],
            None,
        )
        .await;
    assert_oauth_error(&r, 401, "invalid_client", "requires a client certificate");
    let r = h
        .post_form(
            Production,
            "/oauth2/token",
            &[grant.clone(), ("client_id", FINCH.into())],
            Some(ACME),
        )
        .await;
    assert_oauth_error(&r, 401, "invalid_client", "client authentication failed");
    let r = h
        .post_form(
            Production,
            "/oauth2/token",
            &[grant.clone(), ("client_id", "nobody".into())],
            Some(ACME),
        )
        .await;
    assert_oauth_error(&r, 401, "invalid_client", "client authentication failed");
    let r = h
        .token_response_jwt(Production, "not.a.jwt".into(), &[])
        .await;
    assert_oauth_error(&r, 401, "invalid_client", "well-formed");
    let r = h
        .token_response_jwt(
            Production,
            h.assertion(FINCH, Production, json!({})),
            &[("client_assertion_type", "x".into())],
        )
        .await;
    assert_oauth_error(&r, 400, "invalid_request", "repeated");
    // Wrong media type, wrong method.
    let req = http::Request::post(format!("{}/oauth2/token", h.gateway(Production)))
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from("{}")))
        .unwrap();
    let r = h.client(None).send(req).await.unwrap();
    assert_oauth_error(&r, 400, "invalid_request", "Content-Type");
    let r = h.get(Production, "/oauth2/token", None, None).await;
    assert_eq!(r.status(), 405);
    h.stop().await;
}

#[tokio::test]
async fn metadata_and_jwks_describe_each_issuer() {
    let h = Harness::start().await;
    for env in [Production, Sandbox] {
        let r = h
            .get(env, "/.well-known/oauth-authorization-server", None, None)
            .await;
        let m = json_body(&r);
        assert_eq!(m["issuer"], h.issuer(env).as_str());
        assert_eq!(
            m["token_endpoint"],
            format!("{}/oauth2/token", h.issuer(env))
        );
        assert_eq!(m["tls_client_certificate_bound_access_tokens"], true);
        assert_eq!(
            m["token_endpoint_auth_methods_supported"],
            json!(["private_key_jwt", "tls_client_auth"])
        );
        let jwks = json_body(&h.get(env, "/oauth2/jwks", None, None).await);
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 1);
        assert!(keys[0].get("d").is_none(), "private key material in JWKS");
        assert_eq!(keys[0]["alg"], "ES256");
    }
    let p = json_body(&h.get(Production, "/oauth2/jwks", None, None).await);
    let s = json_body(&h.get(Sandbox, "/oauth2/jwks", None, None).await);
    assert_ne!(
        p["keys"][0]["kid"], s["keys"][0]["kid"],
        "environments must not share signing keys"
    );
    h.stop().await;
}

#[tokio::test]
async fn introspection_answers_only_about_the_callers_tokens() {
    let h = Harness::start().await;
    let acme = h.token_mtls(ACME).await;
    let introspect = |token: String| {
        let h = &h;
        async move {
            let form = [("token", token), ("client_id", ACME.to_string())];
            json_body(
                &h.post_form(Production, "/oauth2/introspect", &form, Some(ACME))
                    .await,
            )
        }
    };
    let active = introspect(acme.clone()).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["client_id"], ACME);
    assert!(active["cnf"]["x5t#S256"].is_string());
    // Another partner's valid token is simply inactive to Acme.
    let finch = h.token_jwt(FINCH, Production).await;
    assert_eq!(introspect(finch).await, json!({"active": false}));
    assert_eq!(introspect("garbage".into()).await, json!({"active": false}));
    // Unauthenticated callers are refused.
    let r = h
        .post_form(Production, "/oauth2/introspect", &[("token", acme)], None)
        .await;
    assert_oauth_error(&r, 401, "invalid_client", "client authentication required");
    h.stop().await;
}

#[tokio::test]
async fn a_revoked_token_is_refused_within_one_second() {
    let h = Harness::start().await;
    let finch = h.token_jwt(FINCH, Production).await;
    let other = h.token_jwt(FINCH, Production).await;
    assert_eq!(
        h.status(Production, "/accounts", Some(&finch), None).await,
        200
    );

    let revoked_at = Instant::now();
    let r = h.revoke_jwt(FINCH, Production, &finch).await;
    assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(r.body()));
    h.assert_revoked_within_one_second(Production, &finch, revoked_at)
        .await;
    // Only that token: the client's other token still works.
    assert_eq!(
        h.status(Production, "/accounts", Some(&other), None).await,
        200
    );
    // Another client cannot revoke Finch's token; garbage is answered 200 per RFC 7009.
    let form = [("client_id", ACME.to_string()), ("token", other.clone())];
    let r = h
        .post_form(Production, "/oauth2/revoke", &form, Some(ACME))
        .await;
    assert_oauth_error(&r, 400, "unauthorized_client", "not issued to this client");
    let form = [
        ("client_id", ACME.to_string()),
        ("token", "garbage".to_string()),
    ];
    assert_eq!(
        h.post_form(Production, "/oauth2/revoke", &form, Some(ACME))
            .await
            .status(),
        200
    );
    h.stop().await;
}

#[tokio::test]
async fn revoking_a_credential_through_the_admin_api_stops_its_tokens() {
    let h = Harness::start().await;
    let finch = h.token_jwt(FINCH, Production).await;
    let admin = format!("{}/admin/v1/clients/{FINCH}/revoke", h.s("/admin_url"));
    let client = h.client(None);
    let post = |token: Option<String>| {
        let mut req = http::Request::post(admin.clone());
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        client.send(
            req.body(http_body_util::Full::new(bytes::Bytes::new()))
                .unwrap(),
        )
    };
    assert_eq!(post(None).await.unwrap().status(), 401);
    assert_eq!(
        post(Some("pcadm_wrong".into())).await.unwrap().status(),
        401
    );
    let started = Instant::now();
    let r = post(Some(h.s("/admin_token"))).await.unwrap();
    assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(r.body()));
    assert_eq!(json_body(&r)["status"], "revoked");
    let r = h.get(Production, "/accounts", Some(&finch), None).await;
    assert_401(&r, "revoked");
    assert!(started.elapsed() < Duration::from_secs(1));
    // And no new token for it.
    let r = h
        .token_response_jwt(Production, h.assertion(FINCH, Production, json!({})), &[])
        .await;
    assert_oauth_error(&r, 401, "invalid_client", "revoked");
    h.stop().await;
}
