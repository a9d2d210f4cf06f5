#![no_main]
//! The gateway's access-token checks on arbitrary input.
use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use portcullis_core::jose::{Algorithm, JwsSigner};
use portcullis_core::token::{verify_access_token, TokenExpectations};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (signer, _) = JwsSigner::generate("k1".into(), Algorithm::ES256).expect("keygen");
    let keys = HashMap::from([("k1".to_string(), signer.verifying_key())]);
    let expect = TokenExpectations { issuer: "https://i", audience: "https://a", leeway_seconds: 5, now: 1_800_000_000 };
    assert!(verify_access_token(text, &keys, &expect).is_err());
});
