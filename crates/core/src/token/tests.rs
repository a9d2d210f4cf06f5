use super::*;
use crate::jose::{Algorithm, JwsSigner};

const NOW: i64 = 1_800_000_000;

fn claims() -> AccessTokenClaims {
    AccessTokenClaims {
        iss: "https://issuer".into(),
        sub: "c1".into(),
        aud: Audience::One("https://api".into()),
        exp: NOW + 300,
        iat: NOW,
        nbf: Some(NOW),
        jti: "j1".into(),
        client_id: "c1".into(),
        scope: "accounts:read balances:read".into(),
        partner_id: "p1".into(),
        cnf: None,
    }
}

fn setup() -> (JwsSigner, HashMap<String, VerifyingKey>) {
    let signer = JwsSigner::generate("k1".into(), Algorithm::ES256)
        .unwrap()
        .0;
    let keys = HashMap::from([("k1".to_string(), signer.verifying_key())]);
    (signer, keys)
}

fn expect(now: i64) -> TokenExpectations<'static> {
    TokenExpectations {
        issuer: "https://issuer",
        audience: "https://api",
        leeway_seconds: 5,
        now,
    }
}

#[test]
fn accepts_a_good_token() {
    let (signer, keys) = setup();
    let token = signer.sign("at+jwt", &claims()).unwrap();
    let got = verify_access_token(&token, &keys, &expect(NOW)).unwrap();
    assert_eq!(got, claims());
    assert!(got.has_scope("balances:read"));
    assert!(!got.has_scope("balances"));
}

#[test]
fn refuses_each_broken_claim() {
    let (signer, keys) = setup();
    let check = |c: AccessTokenClaims, typ: &str, now: i64| {
        verify_access_token(&signer.sign(typ, &c).unwrap(), &keys, &expect(now)).unwrap_err()
    };
    assert_eq!(check(claims(), "JWT", NOW), TokenError::WrongType);
    assert_eq!(
        check(
            AccessTokenClaims {
                iss: "https://evil".into(),
                ..claims()
            },
            "at+jwt",
            NOW
        ),
        TokenError::WrongIssuer
    );
    assert_eq!(
        check(
            AccessTokenClaims {
                aud: Audience::Many(vec!["x".into()]),
                ..claims()
            },
            "at+jwt",
            NOW
        ),
        TokenError::WrongAudience
    );
    assert_eq!(check(claims(), "at+jwt", NOW + 305), TokenError::Expired);
    assert_eq!(check(claims(), "at+jwt", NOW - 6), TokenError::NotYetValid);
    // Leeway tolerates small skew in both directions.
    verify_access_token(
        &signer.sign("at+jwt", &claims()).unwrap(),
        &keys,
        &expect(NOW + 304),
    )
    .unwrap();
    verify_access_token(
        &signer.sign("at+jwt", &claims()).unwrap(),
        &keys,
        &expect(NOW - 4),
    )
    .unwrap();
}

#[test]
fn refuses_unknown_kid_and_foreign_signer() {
    let (_, keys) = setup();
    let other = JwsSigner::generate("k2".into(), Algorithm::ES256)
        .unwrap()
        .0;
    let token = other.sign("at+jwt", &claims()).unwrap();
    assert_eq!(
        verify_access_token(&token, &keys, &expect(NOW)).unwrap_err(),
        TokenError::UnknownKey
    );
    // Same kid, different key: a forged token claiming a known kid.
    let impostor = JwsSigner::generate("k1".into(), Algorithm::ES256)
        .unwrap()
        .0;
    let token = impostor.sign("at+jwt", &claims()).unwrap();
    assert_eq!(
        verify_access_token(&token, &keys, &expect(NOW)).unwrap_err(),
        TokenError::BadSignature
    );
}

#[test]
fn refuses_missing_and_duplicate_claims() {
    let (signer, keys) = setup();
    let token = signer
        .sign("at+jwt", &serde_json::json!({"iss": "https://issuer"}))
        .unwrap();
    assert_eq!(
        verify_access_token(&token, &keys, &expect(NOW)).unwrap_err(),
        TokenError::Malformed
    );
    // A payload with two scope members must not be read as either.
    let c = serde_json::to_string(&claims()).unwrap();
    let dup = c.replacen('{', r#"{"scope":"payments:write","#, 1);
    let token = signer.sign_payload("at+jwt", dup.as_bytes()).unwrap();
    assert_eq!(
        verify_access_token(&token, &keys, &expect(NOW)).unwrap_err(),
        TokenError::Malformed
    );
}
