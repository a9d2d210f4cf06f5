//! The gateway's token checks, attacked from outside through the real TLS listeners: every
//! forged, stale, misdirected or stolen token must get 401 (never 500), a missing scope 403.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::*;
use portcullis_core::Environment::{Production, Sandbox};
use serde_json::json;

#[tokio::test]
async fn partners_call_the_bank_with_their_tokens() {
    let h = Harness::start().await;
    let account = h.s("/sample/account_id");
    let customer = h.s("/sample/customer_id");

    let acme = h.token_mtls(ACME).await;
    let r = h
        .get(
            Production,
            &format!("/accounts/{account}/balances"),
            Some(&acme),
            Some(ACME),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(r.body()));
    assert_eq!(
        json_body(&r)["Data"]["Balance"][0]["AccountId"],
        account.as_str()
    );
    assert!(r.headers().contains_key("x-request-id"));

    let finch = h.token_jwt(FINCH, Production).await;
    let r = h
        .get(
            Production,
            &format!("/customers/{customer}/kyc"),
            Some(&finch),
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        json_body(&r)["Data"]["Kyc"]["CustomerId"],
        customer.as_str()
    );

    let nova = h.token_jwt(NOVA, Sandbox).await;
    let r = h.get(Sandbox, "/accounts", Some(&nova), None).await;
    assert_eq!(r.status(), 200);
    assert!(json_body(&r)["Data"]["Account"].as_array().unwrap().len() > 1);

    // Unknown ids are the bank's 404, passed through.
    let r = h
        .get(
            Production,
            "/accounts/acc-00000000/balances",
            Some(&acme),
            Some(ACME),
        )
        .await;
    assert_eq!(r.status(), 404);
    h.stop().await;
}

#[tokio::test]
async fn a_mtls_token_is_bound_to_its_certificate() {
    let h = Harness::start().await;
    let acme = h.token_mtls(ACME).await;
    let claims = Harness::claims_of(&acme);
    assert!(
        claims["cnf"]["x5t#S256"].as_str().unwrap().len() == 43,
        "{claims}"
    );

    let r = h.get(Production, "/accounts", Some(&acme), None).await;
    assert_401(&r, "bound to a client certificate");
    // With its certificate the same token works.
    assert_eq!(
        h.status(Production, "/accounts", Some(&acme), Some(ACME))
            .await,
        200
    );
    h.stop().await;
}

#[tokio::test]
async fn a_bound_token_with_another_partners_certificate_is_refused() {
    // A second mTLS client certificate from the same CA, issued to an attacker.
    let h = Harness::start().await;
    let acme = h.token_mtls(ACME).await;
    let mut pki = portcullis_tls::pki::DevPki::load_or_create(
        &h.dir.path().canonicalize().unwrap().join("pki"),
    )
    .unwrap();
    let mallory = pki.client_cert("mallory", "Mallory Ltd").unwrap();
    let tls = portcullis_tls::client_config(
        std::path::Path::new(&h.s("/ca_cert")),
        Some((mallory.cert_file.as_path(), mallory.key_file.as_path())),
    )
    .unwrap();
    let req = http::Request::get(format!("{}/accounts", h.gateway(Production)))
        .header("authorization", format!("Bearer {acme}"))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let r = portcullis_tls::HttpsClient::new(tls.clone())
        .send(req)
        .await
        .unwrap();
    assert_401(&r, "bound to another client certificate");

    // Nor can Mallory get a token as Acme with its own certificate.
    let body = "grant_type=client_credentials&client_id=acme-payments-prod";
    let req = http::Request::post(format!("{}/oauth2/token", h.gateway(Production)))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .unwrap();
    let r = portcullis_tls::HttpsClient::new(tls)
        .send(req)
        .await
        .unwrap();
    assert_oauth_error(&r, 401, "invalid_client", "client authentication failed");
    h.stop().await;
}

#[tokio::test]
async fn missing_and_malformed_tokens_get_401() {
    let h = Harness::start().await;
    let r = h.get(Production, "/accounts", None, None).await;
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()["www-authenticate"],
        "Bearer realm=\"portcullis\""
    );
    for bad in ["garbage", "a.b.c", "e30.e30.e30", &"x".repeat(12_000)] {
        let r = h.get(Production, "/accounts", Some(bad), None).await;
        assert_401(&r, "malformed");
    }
    // Past the header limit the request never reaches token parsing.
    let r = h
        .get(Production, "/accounts", Some(&"x".repeat(20_000)), None)
        .await;
    assert_eq!(r.status(), 431);
    h.stop().await;
}

#[tokio::test]
async fn tokens_wrong_in_one_claim_get_401() {
    let h = Harness::start().await;
    let signer = h.issuer_signer(Production).await;
    let finch = h.token_jwt(FINCH, Production).await;
    let good = Harness::claims_of(&finch);
    let now = now();
    let with = |k: &str, v: serde_json::Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let cases = [
        (with("exp", json!(now - 60)), "at+jwt", "expired"),
        (with("nbf", json!(now + 600)), "at+jwt", "not yet valid"),
        (
            with("iss", json!("https://evil.example")),
            "at+jwt",
            "another issuer",
        ),
        (
            with("aud", json!("https://other-api.example")),
            "at+jwt",
            "not intended for this API",
        ),
        (good.clone(), "JWT", "typ must be at+jwt"),
    ];
    for (claims, typ, detail) in cases {
        let token = signer.sign(typ, &claims).unwrap();
        let r = h.get(Production, "/accounts", Some(&token), None).await;
        assert_401(&r, detail);
    }
    // The genuine token still works: the failures above are each claim's fault.
    assert_eq!(
        h.status(Production, "/accounts", Some(&finch), None).await,
        200
    );
    h.stop().await;
}

#[tokio::test]
async fn forged_signatures_get_401() {
    let h = Harness::start().await;
    let finch = h.token_jwt(FINCH, Production).await;
    let parts: Vec<&str> = finch.split('.').collect();
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let b64 = |v: &serde_json::Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());

    // The genuine token first, so it is in the gateway's token cache, which hashes only a
    // token's signature: a tampered token with that signature must still be verified.
    let genuine = h.get(Production, "/accounts", Some(&finch), None).await;
    assert_eq!(genuine.status(), 200);
    // Tampered payload: more scopes, original signature.
    let mut claims = Harness::claims_of(&finch);
    claims["scope"] =
        json!("accounts:read balances:read kyc:read transactions:read payments:write");
    let tampered = format!("{}.{}.{}", parts[0], b64(&claims), parts[2]);
    assert_401(
        &h.get(Production, "/accounts", Some(&tampered), None).await,
        "signature is invalid",
    );

    // alg none, with and without a signature.
    let none_header = json!({"alg": "none", "typ": "at+jwt", "kid": header["kid"]});
    for sig in ["", "AA"] {
        let t = format!("{}.{}.{sig}", b64(&none_header), parts[1]);
        let r = h.get(Production, "/accounts", Some(&t), None).await;
        assert_eq!(r.status(), 401, "alg none with sig {sig:?}");
    }

    // HS256 keyed with the issuer's public JWK (algorithm confusion).
    let jwks = h.get(Production, "/oauth2/jwks", None, None).await;
    let public = serde_json::to_vec(&json_body(&jwks)["keys"][0]).unwrap();
    let hs_header = json!({"alg": "HS256", "typ": "at+jwt", "kid": header["kid"]});
    let input = format!("{}.{}", b64(&hs_header), parts[1]);
    let mac = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &public),
        input.as_bytes(),
    );
    let t = format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref()));
    assert_401(
        &h.get(Production, "/accounts", Some(&t), None).await,
        "signature is invalid",
    );

    // A kid the issuer never had, and a self-made key claiming the real kid.
    let rogue = portcullis_core::jose::JwsSigner::generate(
        "rogue".into(),
        portcullis_core::jose::Algorithm::ES256,
    )
    .unwrap()
    .0;
    let t = rogue.sign("at+jwt", &Harness::claims_of(&finch)).unwrap();
    assert_401(
        &h.get(Production, "/accounts", Some(&t), None).await,
        "key this issuer does not know",
    );
    let kid = header["kid"].as_str().unwrap().to_string();
    let impostor =
        portcullis_core::jose::JwsSigner::generate(kid, portcullis_core::jose::Algorithm::ES256)
            .unwrap()
            .0;
    let t = impostor
        .sign("at+jwt", &Harness::claims_of(&finch))
        .unwrap();
    assert_401(
        &h.get(Production, "/accounts", Some(&t), None).await,
        "signature is invalid",
    );
    h.stop().await;
}

#[tokio::test]
async fn tokens_never_cross_environments() {
    let h = Harness::start().await;
    let nova = h.token_jwt(NOVA, Sandbox).await;
    assert_401(
        &h.get(Production, "/accounts", Some(&nova), None).await,
        "key this issuer does not know",
    );
    let finch = h.token_jwt(FINCH, Production).await;
    assert_401(
        &h.get(Sandbox, "/accounts", Some(&finch), None).await,
        "key this issuer does not know",
    );
    // A production client cannot even get a token from the sandbox issuer.
    let r = h
        .token_response_jwt(Sandbox, h.assertion(FINCH, Sandbox, json!({})), &[])
        .await;
    assert_oauth_error(&r, 401, "invalid_client", "another environment");
    h.stop().await;
}

#[tokio::test]
async fn a_missing_scope_is_403_and_scopes_cannot_be_widened() {
    let h = Harness::start().await;
    let account = h.s("/sample/account_id");
    let finch = h.token_jwt(FINCH, Production).await;
    let r = h
        .get(
            Production,
            &format!("/accounts/{account}/transactions"),
            Some(&finch),
            None,
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.headers()["www-authenticate"],
        "Bearer realm=\"portcullis\", error=\"insufficient_scope\", scope=\"transactions:read\""
    );
    assert_eq!(
        json_body(&r)["type"],
        "urn:portcullis:problem:insufficient-scope"
    );

    // Asking for an ungranted scope is invalid_scope; a narrower request is honoured.
    let r = h
        .token_response_jwt(
            Production,
            h.assertion(FINCH, Production, json!({})),
            &[("scope", "kyc:read payments:write".into())],
        )
        .await;
    assert_oauth_error(&r, 400, "invalid_scope", "payments:write");
    let r = h
        .token_response_jwt(
            Production,
            h.assertion(FINCH, Production, json!({})),
            &[("scope", "accounts:read".into())],
        )
        .await;
    assert_eq!(json_body(&r)["scope"], "accounts:read");
    let narrow = json_body(&r)["access_token"].as_str().unwrap().to_string();
    let customer = h.s("/sample/customer_id");
    assert_eq!(
        h.status(
            Production,
            &format!("/customers/{customer}/kyc"),
            Some(&narrow),
            None
        )
        .await,
        403
    );
    h.stop().await;
}

#[tokio::test]
async fn withdrawing_a_signing_key_refuses_its_cached_tokens() {
    let h = Harness::start().await;
    let finch = h.token_jwt(FINCH, Production).await;
    // Verified once, so now cached.
    assert_eq!(
        h.status(Production, "/accounts", Some(&finch), None).await,
        200
    );
    let running = h.running();
    let keys = running.store.list_signing_keys(Production).await.unwrap();
    for key in keys {
        running
            .store
            .set_signing_key_status(&key.kid, portcullis_core::SigningKeyStatus::Retired)
            .await
            .unwrap();
    }
    running.loader.reload().await.unwrap();
    assert_401(
        &h.get(Production, "/accounts", Some(&finch), None).await,
        "no signing keys are configured",
    );
    h.stop().await;
}

/// FAPI 2.0 sender-constrained tokens: with `require_bound_tokens`, a token request
/// without a client certificate is refused, and an unbound token is refused at the
/// gateway even when validly signed.
#[tokio::test]
async fn an_environment_can_require_certificate_bound_tokens() {
    let h = Harness::start_with(|c| c.environments[0].require_bound_tokens = true).await;
    // Finch (private_key_jwt) without a certificate on the connection: refused.
    let r = h
        .token_response_jwt(Production, h.assertion(FINCH, Production, json!({})), &[])
        .await;
    assert_oauth_error(&r, 400, "invalid_request", "certificate-bound");
    // A validly signed but unbound token (as a laxer issuer would mint) is refused.
    let signer = h.issuer_signer(Production).await;
    let acme = h.token_mtls(ACME).await;
    let mut claims = Harness::claims_of(&acme);
    claims.as_object_mut().unwrap().remove("cnf");
    let unbound = signer.sign("at+jwt", &claims).unwrap();
    assert_401(
        &h.get(Production, "/accounts", Some(&unbound), Some(ACME))
            .await,
        "only certificate-bound tokens",
    );
    // mTLS partners are unaffected.
    assert_eq!(
        h.status(Production, "/accounts", Some(&acme), Some(ACME))
            .await,
        200
    );
    h.stop().await;
}

/// Reducing a grant takes effect on tokens already issued, without a restart.
#[tokio::test]
async fn a_reduced_grant_applies_to_tokens_already_issued() {
    let h = Harness::start().await;
    let customer = h.s("/sample/customer_id");
    let finch = h.token_jwt(FINCH, Production).await;
    let kyc = format!("/customers/{customer}/kyc");
    assert_eq!(h.status(Production, &kyc, Some(&finch), None).await, 200);
    let running = h.running();
    let mut grant = running
        .store
        .get_grant("finch-lending", Production)
        .await
        .unwrap();
    grant.scopes.retain(|s| s != "kyc:read");
    running.store.put_grant(&grant).await.unwrap();
    running.loader.reload().await.unwrap();
    let r = h.get(Production, &kyc, Some(&finch), None).await;
    assert_eq!(r.status(), 403);
    // Scopes still granted keep working with the same token.
    assert_eq!(
        h.status(Production, "/accounts", Some(&finch), None).await,
        200
    );
    h.stop().await;
}
