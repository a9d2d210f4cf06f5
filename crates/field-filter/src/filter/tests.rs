//! Internal bounds that the public API cannot observe.

use super::*;
use crate::{CompiledFieldPolicy, FieldPolicy, HashKey, MAX_DEPTH};

/// Memory is bounded by the longest token and the nesting depth, not by the body.
#[test]
fn buffers_stay_small_on_a_large_body() {
    let policy = CompiledFieldPolicy::compile(&FieldPolicy {
        allow: vec!["Data.Item[*].Id".into()],
        mask: vec![],
    })
    .unwrap();
    let key = HashKey::new([7; 32]);
    let mut body = br#"{"Data":{"Item":["#.to_vec();
    for i in 0..20_000 {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(
            format!(r#"{{"Id":"{i}","Name":"item number {i}","N":{i}.5,"T":true}}"#).as_bytes(),
        );
    }
    body.extend_from_slice(b"]}}");
    assert!(body.len() > 1_000_000);

    for chunk in [1, 7, 4096] {
        let mut filter = FieldFilter::new(&policy, &key);
        let mut out = Vec::new();
        for piece in body.chunks(chunk) {
            filter.feed(piece, &mut out).unwrap();
            assert!(
                filter.carry.capacity() <= 64,
                "carry grew to {}",
                filter.carry.capacity()
            );
            assert!(filter.stack.len() <= 4);
            assert!(filter.scratch.capacity() <= 64);
        }
        assert!(filter.stack.capacity() <= MAX_DEPTH);
        filter.finish(&mut out).unwrap();
    }
}
