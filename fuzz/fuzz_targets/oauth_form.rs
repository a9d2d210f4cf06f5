#![no_main]
//! Token, introspection and revocation request bodies.
use libfuzzer_sys::fuzz_target;
use portcullis_authorization_server::form::Form;

fuzz_target!(|data: &[u8]| {
    if let Ok(form) = Form::parse(Some("application/x-www-form-urlencoded"), data) {
        let _ = form.get("grant_type");
    }
});
