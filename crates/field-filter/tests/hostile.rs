//! Malformed and hostile bodies: every one is refused, wherever it sits, kept or removed.

mod common;

use common::{policy, run, run_bytes, run_chunked};
use portcullis_field_filter::{
    filter_document, CompiledFieldPolicy, FieldFilter, FilterError, MaskRule, MAX_DEPTH,
    MAX_TOKEN_BYTES,
};

/// The policies a malformed body is tried under: removed, copied, masked and filtered paths.
fn policies() -> Vec<CompiledFieldPolicy> {
    vec![
        CompiledFieldPolicy::deny_all(),
        policy(&["*"], &[]),
        policy(&["a.b"], &[("a.m", MaskRule::KeepLast { chars: 2 })]),
        policy(&[], &[("a", MaskRule::Hash)]),
    ]
}

fn refused(input: &[u8]) -> FilterError {
    let mut first = None;
    for policy in policies() {
        let err = match run_bytes(&policy, input) {
            Ok(ok) => panic!("{:?} accepted: {ok:?}", String::from_utf8_lossy(input)),
            Err(err) => err,
        };
        // The verdict does not depend on what the policy does with the value.
        assert_eq!(
            *first.get_or_insert(err.clone()),
            err,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
    first.unwrap_or_else(|| unreachable!())
}

#[test]
fn malformed_json_is_refused_with_its_offset() {
    let cases: [(&[u8], FilterError); 24] = [
        (b"", truncated(0, "a JSON value")),
        (b"   ", truncated(3, "a JSON value")),
        (br#"{"a":1"#, truncated(6, "',' or '}'")),
        (br#"{"a":"#, truncated(5, "a JSON value")),
        (
            br#"{"a":"xy"#,
            truncated(8, "the closing quote of a string"),
        ),
        (
            br#"{"a":tr"#,
            truncated(7, "the rest of true, false or null"),
        ),
        (br#"{"a":[1,2"#, truncated(9, "',' or ']'")),
        (br#"{"a" 1}"#, malformed(5, "':'")),
        (br#"{"a":1,}"#, malformed(7, "a string key")),
        (br#"[1,]"#, malformed(3, "a JSON value")),
        (br#"[1 2]"#, malformed(3, "',' or ']'")),
        (br#"{"a":1]"#, malformed(6, "',' or '}'")),
        (br#"{1:2}"#, malformed(1, "a string key or '}'")),
        (br#"{"a":01}"#, malformed(6, "no leading zeros in a number")),
        (br#"{"a":-}"#, malformed(6, "a digit")),
        (
            br#"{"a":1.}"#,
            malformed(7, "a digit after the decimal point"),
        ),
        (br#"{"a":tru}"#, malformed(8, "true, false or null")),
        (br#"{"a":nul1}"#, malformed(8, "true, false or null")),
        (br#"{"a":'x'}"#, malformed(5, "a JSON value")),
        (
            br#"{"a":"\x"}"#,
            malformed(7, r#"one of \" \\ \/ \b \f \n \r \t \u after a backslash"#),
        ),
        (
            b"{\"a\":\"x\ty\"}",
            malformed(
                7,
                "no raw control characters in a string (they must be escaped)",
            ),
        ),
        (b"{\"a\":\"\xff\"}", FilterError::InvalidUtf8 { offset: 6 }),
        (b"{\"\xc3\x28\":1}", FilterError::InvalidUtf8 { offset: 2 }),
        (br#"{"a":1} x"#, FilterError::TrailingData { offset: 8 }),
    ];
    for (input, want) in cases {
        assert_eq!(refused(input), want, "{:?}", String::from_utf8_lossy(input));
    }
    assert_eq!(
        refused(br#"{"a":1}{}"#),
        FilterError::TrailingData { offset: 7 }
    );
    assert_eq!(refused(b"1 2"), FilterError::TrailingData { offset: 2 });
    assert_eq!(
        refused(b"\xef\xbb\xbf{}"),
        malformed(0, "a JSON value"),
        "a byte order mark is not JSON"
    );
}

fn truncated(offset: u64, expected: &'static str) -> FilterError {
    FilterError::Truncated { offset, expected }
}

fn malformed(offset: u64, expected: &'static str) -> FilterError {
    FilterError::Malformed { offset, expected }
}

#[test]
fn lone_surrogates_are_refused() {
    for input in [
        br#"{"a":"\ud800"}"#.as_slice(),
        br#"{"a":"\udc00"}"#,
        br#"{"a":"\ud800\u0041"}"#,
        br#"{"a":"x\ud800y"}"#,
        br#"{"\ud800":1}"#,
    ] {
        let err = refused(input);
        assert!(
            err.to_string().contains("lone surrogates are refused"),
            "{err}"
        );
    }
    // A proper pair is fine.
    assert!(run(&policy(&["*"], &[]), r#"{"a":"\ud83d\ude00"}"#).is_ok());
}

#[test]
fn whitespace_around_the_document_is_fine() {
    assert_eq!(run(&policy(&["*"], &[]), " \t\r\n{} \n").unwrap().0, "{}");
}

#[test]
fn every_strict_prefix_of_an_object_is_truncated() {
    let doc = br#"{"a":{"b":[1,-2.5e3,"x\u00e9\"",true,false,null,{}]},"m":"secret"}"#;
    for policy in policies() {
        assert!(run_bytes(&policy, doc).is_ok());
        for cut in 0..doc.len() {
            match run_bytes(&policy, &doc[..cut]) {
                Err(FilterError::Truncated { offset, .. }) => {
                    assert_eq!(offset, cut as u64, "prefix {cut}")
                }
                other => panic!("prefix {cut}: {other:?}"),
            }
        }
    }
}

#[test]
fn deep_nesting_is_refused_without_recursion() {
    for policy in policies() {
        let deep = vec![b'['; 10_000];
        assert_eq!(
            run_bytes(&policy, &deep),
            Err(FilterError::TooDeep {
                offset: MAX_DEPTH as u64
            })
        );
        let objects = br#"{"a":"#.repeat(10_000);
        assert!(matches!(
            run_bytes(&policy, &objects),
            Err(FilterError::TooDeep { .. })
        ));
    }
    let at_limit = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    assert_eq!(run(&policy(&["*"], &[]), &at_limit).unwrap().0, at_limit);
    let over = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
    assert_eq!(
        run(&policy(&["*"], &[]), &over),
        Err(FilterError::TooDeep {
            offset: MAX_DEPTH as u64
        })
    );
}

#[test]
fn oversized_tokens_are_refused() {
    let big = "k".repeat(MAX_TOKEN_BYTES);
    for policy in policies() {
        // A key one byte over the limit, with quotes counted.
        let body = format!(r#"{{"{}":1}}"#, &big[..MAX_TOKEN_BYTES - 1]);
        assert_eq!(
            run(&policy, &body),
            Err(FilterError::TokenTooLarge { offset: 1 })
        );
        // A string value exactly at the limit passes; over it does not.
        let fits = format!(r#"{{"v":"{}"}}"#, &big[..MAX_TOKEN_BYTES - 2]);
        assert!(run(&policy, &fits).is_ok());
        let number = format!(r#"{{"v":1{}}}"#, "0".repeat(MAX_TOKEN_BYTES));
        assert_eq!(
            run(&policy, &number),
            Err(FilterError::TokenTooLarge { offset: 5 })
        );
        let unterminated = format!(r#"{{"v":"{big}"#);
        assert_eq!(
            run(&policy, &unterminated),
            Err(FilterError::TokenTooLarge { offset: 5 })
        );
        // Chunked, the verdict is the same.
        for sizes in [&[4096][..], &[65_537, 3]] {
            let chunked = run_chunked(&policy, body.as_bytes(), sizes);
            assert_eq!(chunked, Err(FilterError::TokenTooLarge { offset: 1 }));
            assert!(run_chunked(&policy, fits.as_bytes(), sizes).is_ok());
        }
    }
}

#[test]
fn a_failed_filter_stays_failed() {
    let deny = CompiledFieldPolicy::deny_all();
    let key = common::key();
    let mut filter = FieldFilter::new(&deny, &key);
    let mut out = Vec::new();
    let err = filter.feed(b"{]", &mut out).unwrap_err();
    assert_eq!(filter.feed(b"}", &mut out), Err(err.clone()));
    assert_eq!(filter.finish(&mut out), Err(err));
}

#[test]
fn errors_are_displayed_with_offsets() {
    let err = filter_document(
        &CompiledFieldPolicy::deny_all(),
        &common::key(),
        br#"{"a":01}"#,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "malformed JSON at byte 6: expected no leading zeros in a number"
    );
    assert_eq!(err.offset(), 6);
    assert_eq!(
        FilterError::TooDeep { offset: 3 }.to_string(),
        format!("JSON nested deeper than {MAX_DEPTH} levels at byte 3")
    );
}
