//! Helpers shared by the integration tests.
#![allow(dead_code)] // Each test binary uses a different subset.

use portcullis_field_filter::{
    filter_document, CompiledFieldPolicy, FieldFilter, FieldMask, FieldPolicy, FilterError,
    FilterReport, HashKey, MaskRule, PolicyError,
};

pub fn key() -> HashKey {
    HashKey::derive(b"gateway master secret", "partner-1")
}

pub fn policy(allow: &[&str], mask: &[(&str, MaskRule)]) -> CompiledFieldPolicy {
    try_policy(allow, mask).expect("test policy compiles")
}

pub fn try_policy(
    allow: &[&str],
    mask: &[(&str, MaskRule)],
) -> Result<CompiledFieldPolicy, PolicyError> {
    CompiledFieldPolicy::compile(&FieldPolicy {
        allow: allow.iter().map(|p| (*p).to_owned()).collect(),
        mask: mask
            .iter()
            .map(|(path, rule)| FieldMask {
                path: (*path).to_owned(),
                rule: *rule,
            })
            .collect(),
    })
}

/// Filters a whole document; output as text.
pub fn run(
    policy: &CompiledFieldPolicy,
    input: &str,
) -> Result<(String, FilterReport), FilterError> {
    run_bytes(policy, input.as_bytes())
}

pub fn run_bytes(
    policy: &CompiledFieldPolicy,
    input: &[u8],
) -> Result<(String, FilterReport), FilterError> {
    let key = key();
    let (out, report) = filter_document(policy, &key, input)?;
    Ok((String::from_utf8(out).expect("output is UTF-8"), report))
}

/// Just the output; panics on error.
pub fn out(policy: &CompiledFieldPolicy, input: &str) -> String {
    match run(policy, input) {
        Ok((out, _)) => out,
        Err(e) => panic!("{input:?}: {e}"),
    }
}

/// Filters with the input cut into pieces of the given sizes (cycled).
pub fn run_chunked(
    policy: &CompiledFieldPolicy,
    input: &[u8],
    sizes: &[usize],
) -> Result<(Vec<u8>, FilterReport), FilterError> {
    let key = key();
    let mut filter = FieldFilter::new(policy, &key);
    let mut out = Vec::new();
    let mut rest = input;
    let mut sizes = sizes.iter().cycle();
    while !rest.is_empty() {
        let n = (*sizes.next().unwrap_or(&1)).clamp(1, rest.len());
        filter.feed(&rest[..n], &mut out)?;
        rest = &rest[n..];
    }
    let report = filter.finish(&mut out)?;
    Ok((out, report))
}

/// Asserts every chunking in a set gives the whole-document result (errors included).
pub fn assert_chunking_invariant(policy: &CompiledFieldPolicy, input: &[u8]) {
    let key = key();
    let whole = filter_document(policy, &key, input);
    let chunkings: [&[usize]; 6] = [&[1], &[2], &[3], &[7], &[1, 5, 2, 11], &[64]];
    for sizes in chunkings {
        let chunked = run_chunked(policy, input, sizes);
        assert_eq!(
            chunked,
            whole,
            "chunks {sizes:?} of {:?}",
            String::from_utf8_lossy(input)
        );
    }
    // Every single cut point, for short inputs.
    if input.len() <= 200 {
        for cut in 0..=input.len() {
            let mut filter = FieldFilter::new(policy, &key);
            let mut out = Vec::new();
            let result = filter
                .feed(&input[..cut], &mut out)
                .and_then(|()| filter.feed(&input[cut..], &mut out))
                .and_then(|()| filter.finish(&mut out))
                .map(|report| (out, report));
            assert_eq!(
                result,
                whole,
                "cut at {cut} of {:?}",
                String::from_utf8_lossy(input)
            );
        }
    }
}
