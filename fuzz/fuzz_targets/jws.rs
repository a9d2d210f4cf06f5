#![no_main]
//! Compact JWS splitting and decoding, then verification against a fixed key.
use libfuzzer_sys::fuzz_target;
use portcullis_core::jose::{Algorithm, JwsSigner, UnverifiedJws};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(jws) = UnverifiedJws::parse(text) {
        let (signer, _) = JwsSigner::generate("k".into(), Algorithm::EdDSA).expect("keygen");
        // Random input must never verify against a fresh key.
        assert!(jws.verify(&signer.verifying_key()).is_err());
    }
});
