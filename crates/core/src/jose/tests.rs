use super::*;
use serde_json::json;

fn signer(alg: Algorithm) -> JwsSigner {
    JwsSigner::generate("k1".into(), alg).unwrap().0
}

fn forge(header: Value, claims: Value, sig: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64(&serde_json::to_vec(&header).unwrap()),
        b64(&serde_json::to_vec(&claims).unwrap()),
        b64(sig)
    )
}

#[test]
fn round_trips_both_algorithms() {
    for alg in [Algorithm::EdDSA, Algorithm::ES256] {
        let s = signer(alg);
        let token = s.sign("at+jwt", &json!({"sub": "x"})).unwrap();
        let jws = UnverifiedJws::parse(&token).unwrap();
        assert_eq!(jws.header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(jws.header.kid.as_deref(), Some("k1"));
        let payload = jws.verify(&s.verifying_key()).unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&payload).unwrap(),
            json!({"sub": "x"})
        );
    }
}

#[test]
fn jwk_round_trip_preserves_key() {
    for alg in [Algorithm::EdDSA, Algorithm::ES256] {
        let s = signer(alg);
        let jwk = s.verifying_key().to_jwk();
        let back = VerifyingKey::from_jwk(&jwk).unwrap();
        assert_eq!(back, s.verifying_key());
        let token = s.sign("JWT", &json!({})).unwrap();
        UnverifiedJws::parse(&token).unwrap().verify(&back).unwrap();
    }
}

#[test]
fn alg_none_is_refused() {
    let s = signer(Algorithm::EdDSA);
    let token = forge(
        json!({"alg": "none", "kid": "k1"}),
        json!({"sub": "x"}),
        b"",
    );
    // An empty signature part is already malformed; with a dummy one the alg check refuses.
    assert!(UnverifiedJws::parse(&token).is_err());
    let token = forge(
        json!({"alg": "none", "kid": "k1"}),
        json!({"sub": "x"}),
        b"x",
    );
    let err = UnverifiedJws::parse(&token)
        .unwrap()
        .verify(&s.verifying_key())
        .unwrap_err();
    assert_eq!(err, JoseError::AlgorithmMismatch("none".into()));
}

#[test]
fn hs256_with_public_key_as_secret_is_refused() {
    let s = signer(Algorithm::ES256);
    let jwk = s.verifying_key().to_jwk();
    let secret = serde_json::to_vec(&jwk).unwrap();
    let input = format!(
        "{}.{}",
        b64(br#"{"alg":"HS256","kid":"k1"}"#),
        b64(br#"{"sub":"x"}"#)
    );
    let mac = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret),
        input.as_bytes(),
    );
    let token = format!("{input}.{}", b64(mac.as_ref()));
    let err = UnverifiedJws::parse(&token)
        .unwrap()
        .verify(&s.verifying_key())
        .unwrap_err();
    assert!(matches!(err, JoseError::AlgorithmMismatch(_)));
}

#[test]
fn tampered_payload_fails_signature() {
    let s = signer(Algorithm::EdDSA);
    let token = s
        .sign("at+jwt", &json!({"scope": "accounts:read"}))
        .unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let evil = b64(br#"{"scope":"payments:write"}"#);
    let tampered = format!("{}.{}.{}", parts[0], evil, parts[2]);
    let err = UnverifiedJws::parse(&tampered)
        .unwrap()
        .verify(&s.verifying_key())
        .unwrap_err();
    assert_eq!(err, JoseError::BadSignature);
}

#[test]
fn other_key_of_same_algorithm_fails() {
    let a = signer(Algorithm::ES256);
    let b = signer(Algorithm::ES256);
    let token = a.sign("JWT", &json!({})).unwrap();
    let err = UnverifiedJws::parse(&token)
        .unwrap()
        .verify(&b.verifying_key())
        .unwrap_err();
    assert_eq!(err, JoseError::BadSignature);
}

#[test]
fn hostile_shapes_are_malformed_not_panics() {
    let huge = "a".repeat(MAX_JWS_BYTES + 1);
    let cases = [
        "",
        ".",
        "..",
        "a.b",
        "a.b.c.d",
        "!!!.b.c",
        "eyJ.eyJ.sig",
        "e30.e30.e30",          // {} header: no alg
        "W10.e30.e30",          // [] header
        "bnVsbA.e30.e30",       // null header
        "eyJhbGciOjF9.e30.e30", // alg is a number
        huge.as_str(),
    ];
    for case in cases {
        assert!(UnverifiedJws::parse(case).is_err(), "accepted {case:?}");
    }
    // Padding and the standard alphabet are not base64url.
    let s = signer(Algorithm::EdDSA);
    let token = s.sign("JWT", &json!({"a": 1})).unwrap();
    assert!(UnverifiedJws::parse(&format!("{token}=")).is_err());
    assert!(UnverifiedJws::parse(&token.replacen('-', "+", 1)).is_err() || !token.contains('-'));
}

#[test]
fn duplicate_header_members_are_refused() {
    let header = br#"{"alg":"EdDSA","alg":"none"}"#;
    let token = format!("{}.{}.{}", b64(header), b64(b"{}"), b64(b"sig"));
    assert!(UnverifiedJws::parse(&token).is_err());
}

#[test]
fn critical_header_is_refused() {
    let token = forge(json!({"alg": "EdDSA", "crit": ["exp"]}), json!({}), b"sig");
    assert_eq!(
        UnverifiedJws::parse(&token).unwrap_err(),
        JoseError::UnsupportedCritical
    );
}

#[test]
fn hostile_jwks_are_refused() {
    let s = signer(Algorithm::ES256);
    let good = s.verifying_key().to_jwk();
    let mut with_private = good.clone();
    with_private["d"] = json!("AAAA");
    let mut wrong_alg = good.clone();
    wrong_alg["alg"] = json!("EdDSA");
    let mut short_x = good.clone();
    short_x["x"] = json!("AAAA");
    let cases = [
        json!(null),
        json!([]),
        json!({"kty": "oct", "k": "c2VjcmV0"}),
        json!({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}),
        json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"}),
        with_private,
        wrong_alg,
        short_x,
    ];
    for case in cases {
        assert!(VerifyingKey::from_jwk(&case).is_err(), "accepted {case}");
    }
    assert!(VerifyingKey::set_from_jwks(&json!({"keys": []})).is_err());
    assert!(VerifyingKey::set_from_jwks(&json!({"keys": [good]})).is_ok());
}

#[test]
fn private_key_parsing_detects_kind() {
    let (_, der) = JwsSigner::generate("k".into(), Algorithm::ES256).unwrap();
    assert_eq!(
        JwsSigner::from_pkcs8_any("k".into(), &der)
            .unwrap()
            .algorithm(),
        Algorithm::ES256
    );
    let (_, der) = JwsSigner::generate("k".into(), Algorithm::EdDSA).unwrap();
    assert_eq!(
        JwsSigner::from_pkcs8_any("k".into(), &der)
            .unwrap()
            .algorithm(),
        Algorithm::EdDSA
    );
    assert!(JwsSigner::from_pkcs8_any("k".into(), b"garbage").is_err());
}

#[test]
fn thumbprint_matches_rfc7638_example() {
    // RFC 8037 appendix A.3: the thumbprint of its Ed25519 example key.
    let jwk =
        json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
    let key = VerifyingKey::from_jwk(&jwk).unwrap();
    assert_eq!(
        key.thumbprint(),
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    );
}
