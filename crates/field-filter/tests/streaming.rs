//! Any chunking of a body gives exactly the output (and report, and error) of the whole body.

mod common;

use common::{assert_chunking_invariant, policy};
use portcullis_field_filter::{CompiledFieldPolicy, MaskRule};

fn policies() -> Vec<CompiledFieldPolicy> {
    vec![
        CompiledFieldPolicy::deny_all(),
        policy(&["*"], &[]),
        policy(
            &[
                "Data.Account[*].AccountId",
                "Data.Account[*].Amount",
                "[*].id",
                "Links",
            ],
            &[
                ("Data.Account[*].Iban", MaskRule::KeepLast { chars: 4 }),
                ("Data.Account[*].Owner", MaskRule::Hash),
                ("Data.Account[*].Secret", MaskRule::Redact),
            ],
        ),
        policy(
            &["*"],
            &[("Data.Account[*].Iban", MaskRule::KeepLast { chars: 2 })],
        ),
    ]
}

/// Bodies with tokens of every kind, so cuts land inside keys, escapes, multi-byte characters,
/// numbers and literals.
const BODIES: [&str; 10] = [
    r#"{"Data":{"Account":[{"AccountId":"A-1","Iban":"GB33BUKB2020155555","Owner":"Zoë","Secret":{"pin":1234},"Nickname":"n"},{"AccountId":"A-2","Amount":{"Amount":"-12.50","Currency":"GBP"},"Iban":12345678,"Owner":null}]},"Links":{"Self":"https://x/y"},"Meta":{"TotalPages":1}}"#,
    " { \"Data\" : { \"Account\" : [ { \"Acc\\u006funtId\" : \"\\ud83d\\ude00 é\" , \"Iban\" : \"\\\"\\\\\\/\\b\\f\\n\\r\\t\" } ] } } ",
    r#"[{"id":1,"x":[true,false,null]},{"id":-0.5e-10},2,"three",{"id":{"deep":[[[]]]}}]"#,
    "12345",
    "-0.125E+3",
    "\"a string root with \\u00e9\"",
    "true",
    "null",
    r#"{"Data":{"Account":[{"Iban":"😀😀😀😀😀","Owner":"\u00e9t\u00e9"}]}}"#,
    r#"{"Data":"not an object","Links":[1,2,3]}"#,
];

#[test]
fn valid_bodies() {
    for policy in policies() {
        for body in BODIES {
            assert!(common::run(&policy, body).is_ok(), "{body}");
            assert_chunking_invariant(&policy, body.as_bytes());
        }
    }
}

#[test]
fn malformed_bodies() {
    let bodies: [&[u8]; 12] = [
        br#"{"Data":{"Account":[{"Iban":"GB33\x"}]}}"#,
        br#"{"Data":{"Account":[{"Iban":"\ud800"}]}}"#,
        b"{\"Data\":{\"Account\":[{\"Iban\":\"\xe2\x82\"}]}}",
        b"{\"Data\":{\"Acc\xe2\x82\":1}}",
        br#"{"Data":{"Account":[{"Iban":012}]}}"#,
        br#"{"Data":{"Account":[{"Iban":1.5e}]}}"#,
        br#"{"Data":{"Account":[{"Iban":nulL}]}}"#,
        br#"{"Data":{"Account":[{"Iban" "x"}]}}"#,
        br#"{"Data":{"Account":[{"Iban":"x"}]}} {}"#,
        br#"{"Data":{"Account":[{"Iban":"x""#,
        br#"{"Data":{"Account":[{"Iban":1"#,
        br#"{"Data":{"Account":[{"Iban":-"#,
    ];
    for policy in policies() {
        for body in bodies {
            assert!(
                common::run_bytes(&policy, body).is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
            assert_chunking_invariant(&policy, body);
        }
    }
}

/// A 1 MB body through 1-byte chunks, and a long string cut everywhere inside it.
#[test]
fn large_bodies_and_long_tokens() {
    let policy = &policies()[2];
    let element = r#"{"AccountId":"A","Iban":"GB33BUKB2020155555","Nickname":"some text here","Amount":{"Amount":"1.00"}}"#;
    let body = format!(
        r#"{{"Data":{{"Account":[{}]}}}}"#,
        vec![element; 10_000].join(",")
    );
    let whole = common::run(policy, &body).unwrap();
    let chunked = common::run_chunked(policy, body.as_bytes(), &[1]).unwrap();
    assert_eq!(String::from_utf8(chunked.0).unwrap(), whole.0);
    assert_eq!(chunked.1, whole.1);

    let long = format!(
        r#"{{"Data":{{"Account":[{{"Iban":"{}\u00e9{}"}}]}}}}"#,
        "x".repeat(5000),
        "é".repeat(3000)
    );
    let whole = common::run(policy, &long).unwrap();
    for sizes in [&[1][..], &[999], &[4096], &[3, 5000]] {
        let chunked = common::run_chunked(policy, long.as_bytes(), sizes).unwrap();
        assert_eq!(String::from_utf8(chunked.0).unwrap(), whole.0);
    }
}
