#![no_main]
//! What a partner sends that the gateway reads before the upstream does: JSON bodies (read
//! strictly, then against the demo bank's schemas), query strings, and X-Forwarded-For
//! chains.
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use portcullis_gateway::RouteTable;
use portcullis_policy::validate::strict;
use portcullis_policy::{client_address, NetworkList};

fn demo_routes() -> &'static RouteTable {
    static ROUTES: OnceLock<RouteTable> = OnceLock::new();
    ROUTES.get_or_init(RouteTable::demo_bank)
}

fuzz_target!(|data: &[u8]| {
    // Body: strict parse, then every operation's schemas; a parsed value is valid JSON.
    if let Ok(value) = strict::parse(data, "body", 32) {
        let text = serde_json::to_vec(&value).expect("serializable");
        assert!(strict::parse(&text, "body", 32).is_ok(), "re-parse of accepted input failed");
        for op in demo_routes().operations() {
            if let Some(schemas) = &op.schemas {
                let _ = schemas.0.check_body(&value);
            }
        }
    }
    let text = String::from_utf8_lossy(data);
    for op in demo_routes().operations() {
        if let Some(schemas) = &op.schemas {
            let _ = schemas.0.check_query(Some(&text));
        }
    }
    // X-Forwarded-For from a trusted proxy: the answer is always an address in the chain
    // or the proxy itself.
    if let Ok(header) = http::HeaderValue::from_bytes(data) {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-forwarded-for", header);
        let proxies = NetworkList::parse("p", &["10.0.0.0/8".to_string()]).expect("valid");
        let peer = "10.1.2.3".parse().expect("valid");
        let _ = client_address(peer, &headers, &proxies);
    }
});
