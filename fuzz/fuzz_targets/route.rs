#![no_main]
//! Request paths against the route table: anything accepted must be canonical.
use libfuzzer_sys::fuzz_target;
use portcullis_gateway::routes::{RouteMatch, RouteTable};

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else { return };
    let table = RouteTable::demo_bank();
    if let RouteMatch::Found { params, .. } = table.find(&http::Method::GET, path) {
        for (_, value) in params {
            assert!(!value.is_empty() && value != "." && value != ".." && !value.contains(['/', '%']));
        }
    }
});
