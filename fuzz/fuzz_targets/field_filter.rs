#![no_main]
//! Response bodies through the field filter: never panics, any chunking gives the whole
//! body's result, and whatever is accepted comes out as compact JSON.
//!
//! Input: a policy choice byte, two chunk-size bytes, then the body. The last policy choice
//! reads a policy from the body's first line: space-separated paths, `!` redacts,
//! `~` keeps the last 2 characters, `#` hashes, anything else is allowed.
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use portcullis_field_filter::{
    filter_document, CompiledFieldPolicy, FieldFilter, FieldMask, FieldPolicy, FilterError,
    FilterReport, HashKey, MaskRule,
};

fn policy(line: &str) -> Option<CompiledFieldPolicy> {
    let mut declared = FieldPolicy::default();
    for word in line.split(' ').filter(|w| !w.is_empty()) {
        let (rule, path) = match word.as_bytes()[0] {
            b'!' => (Some(MaskRule::Redact), &word[1..]),
            b'~' => (Some(MaskRule::KeepLast { chars: 2 }), &word[1..]),
            b'#' => (Some(MaskRule::Hash), &word[1..]),
            _ => (None, word),
        };
        match rule {
            Some(rule) => declared.mask.push(FieldMask {
                path: path.to_owned(),
                rule,
            }),
            None => declared.allow.push(path.to_owned()),
        }
    }
    CompiledFieldPolicy::compile(&declared).ok()
}

fn fixed_policies() -> &'static [CompiledFieldPolicy] {
    static POLICIES: OnceLock<Vec<CompiledFieldPolicy>> = OnceLock::new();
    POLICIES.get_or_init(|| {
        [
            "*",
            "a.b a[*].c ~a.d #e !f [*].a",
            "Data.Account[*].AccountId Data.Account[*].Amount Links ~Data.Account[*].Iban #Data.Account[*].Owner",
            "* !a[*] ~b #c.d",
            "[*][*] #[*][*].a",
        ]
        .iter()
        .filter_map(|line| policy(line))
        .chain([CompiledFieldPolicy::deny_all()])
        .collect()
    })
}

type Outcome = Result<(Vec<u8>, FilterReport), FilterError>;

fn chunked(policy: &CompiledFieldPolicy, key: &HashKey, body: &[u8], sizes: [usize; 2]) -> Outcome {
    let mut filter = FieldFilter::new(policy, key);
    let mut out = Vec::new();
    let mut rest = body;
    for size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at((*size).min(rest.len()));
        filter.feed(piece, &mut out)?;
        rest = tail;
    }
    let report = filter.finish(&mut out)?;
    Ok((out, report))
}

fuzz_target!(|data: &[u8]| {
    let [choice, size_a, size_b, body @ ..] = data else {
        return;
    };
    let fixed = fixed_policies();
    let read;
    let (policy, body) = match fixed.get(usize::from(*choice) % (fixed.len() + 1)) {
        Some(policy) => (policy, body),
        None => {
            let split = body.iter().position(|&b| b == b'\n').unwrap_or(body.len());
            let Ok(line) = std::str::from_utf8(&body[..split]) else {
                return;
            };
            let Some(policy) = policy(line) else { return };
            read = policy;
            (&read, body.get(split + 1..).unwrap_or_default())
        }
    };
    let key = HashKey::new([0x5a; 32]);
    let whole = filter_document(policy, &key, body);
    let sizes = [usize::from(*size_a) + 1, usize::from(*size_b % 8) + 1];
    assert_eq!(
        chunked(policy, &key, body, sizes),
        whole,
        "chunks {sizes:?}"
    );

    let serde_accepts = serde_json::from_slice::<serde_json::Value>(body).is_ok();
    match &whole {
        Ok((out, _)) => {
            // serde_json also refuses some valid JSON (1e400 does not fit an f64); then the
            // pass below, through the filter's own validating parser, is the check.
            if serde_accepts {
                serde_json::from_slice::<serde_json::Value>(out).expect("output is JSON");
            }
            // Valid, compact and canonical: passing it through again changes nothing.
            let again = filter_document(&fixed[0], &key, out).expect("output filters again");
            assert_eq!(&again.0, out);
        }
        Err(e) => assert!(
            !serde_accepts,
            "serde_json accepts a body the filter refused: {e}"
        ),
    }
});
