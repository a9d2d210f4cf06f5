#![no_main]
//! Registered client keys: JWK and JWK set parsing, and thumbprints of what parses.
use libfuzzer_sys::fuzz_target;
use portcullis_core::jose::VerifyingKey;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    if let Ok(key) = VerifyingKey::from_jwk(&value) {
        let _ = key.thumbprint();
        assert_eq!(VerifyingKey::from_jwk(&key.to_jwk()).ok(), Some(key));
    }
    let _ = VerifyingKey::set_from_jwks(&value);
});
