//! Each mask rule, exactly, on every kind of value.

mod common;

use common::{out, policy, run};
use portcullis_field_filter::{filter_document, CompiledFieldPolicy, HashKey, MaskRule};

const KEEP4: MaskRule = MaskRule::KeepLast { chars: 4 };

/// Masks member `v` of a one-member object and returns its masked JSON.
fn masked(rule: MaskRule, value: &str) -> String {
    let policy = policy(&[], &[("v", rule)]);
    let (text, report) = run(&policy, &format!(r#"{{"v":{value}}}"#)).unwrap();
    assert_eq!(report.masked, 1, "{value}");
    assert!(report.removed.is_empty());
    let inner = text
        .strip_prefix(r#"{"v":"#)
        .and_then(|t| t.strip_suffix('}'))
        .unwrap_or_else(|| panic!("unexpected output {text}"));
    inner.to_owned()
}

#[test]
fn redact_replaces_any_value() {
    for value in [
        r#""secret""#,
        "12.5",
        "true",
        "null",
        r#"{"a":[1,2]}"#,
        "[1,{}]",
        r#""""#,
    ] {
        assert_eq!(
            masked(MaskRule::Redact, value),
            r#""[REDACTED]""#,
            "{value}"
        );
    }
}

#[test]
fn keep_last_on_strings() {
    let cases = [
        (r#""GB33BUKB2020155555""#, r#""**************5555""#),
        (r#""12345""#, r#""*2345""#),
        // At most `chars` characters: all starred.
        (r#""1234""#, r#""****""#),
        (r#""12""#, r#""**""#),
        (r#""""#, r#""""#),
        // Characters, not bytes: é and 😀 are one character each.
        (r#""ééé😀abc""#, r#""***😀abc""#),
        (r#""ab😀""#, r#""***""#),
        // Escapes are unescaped before counting...
        (r#""\u00e9\u00e9\u00e9\u00e9\u00e9""#, r#""*éééé""#),
        (r#""\ud83d\ude00xyz1""#, r#""*xyz1""#),
        // ...and characters kept visible are escaped again as needed.
        (r#""xxxxa\"b\\c""#, r#""*****\"b\\c""#),
        (r#""xxxx\n\t\u0001z""#, r#""****\n\t\u0001z""#),
    ];
    for (value, want) in cases {
        assert_eq!(masked(KEEP4, value), want, "{value}");
    }
}

#[test]
fn keep_last_edge_counts() {
    assert_eq!(
        masked(MaskRule::KeepLast { chars: 0 }, r#""abc""#),
        r#""***""#
    );
    assert_eq!(
        masked(MaskRule::KeepLast { chars: 255 }, r#""abc""#),
        r#""***""#
    );
    assert_eq!(
        masked(MaskRule::KeepLast { chars: 1 }, r#""abc""#),
        r#""**c""#
    );
}

#[test]
fn keep_last_on_numbers_masks_the_literal_text() {
    assert_eq!(masked(KEEP4, "1234567890"), r#""******7890""#);
    assert_eq!(masked(KEEP4, "-12.50"), r#""**2.50""#);
    assert_eq!(masked(KEEP4, "1.5E+10"), r#""***E+10""#);
    assert_eq!(masked(KEEP4, "42"), r#""**""#);
}

#[test]
fn keep_last_redacts_what_it_cannot_mask() {
    for value in [
        "true",
        "false",
        "null",
        r#"{"a":"1234567"}"#,
        r#"["1234567"]"#,
    ] {
        assert_eq!(masked(KEEP4, value), r#""[REDACTED]""#, "{value}");
    }
}

/// Expected values computed independently (Python hmac/hashlib/base64) from
/// `HMAC-SHA256(HashKey::derive(b"gateway master secret", "partner-1"), value)`.
#[test]
fn hash_matches_independent_vectors() {
    let cases = [
        (r#""GB33BUKB2020155555""#, r#""h:VLKILp2Lla_GC3yAOmPp97""#),
        // Unescaped bytes are hashed, so escaping does not change the hash.
        (r#""été""#, r#""h:9iH0c3U3yQmCKDqXInFdFD""#),
        (r#""\u00e9t\u00E9""#, r#""h:9iH0c3U3yQmCKDqXInFdFD""#),
        (r#""""#, r#""h:507GtSnDqjYyqQbx6azPqJ""#),
        // Numbers and literals hash their literal text.
        ("12.50", r#""h:Xj1TgjCZ12uYBBOprRe419""#),
        ("true", r#""h:0VDczMZ9ZEg0Bo3TxWkLv3""#),
        ("null", r#""h:eFuXV6pdQGwOjMHDAvRlPq""#),
    ];
    for (value, want) in cases {
        assert_eq!(masked(MaskRule::Hash, value), want, "{value}");
    }
    for value in [r#"{"a":1}"#, "[]"] {
        assert_eq!(masked(MaskRule::Hash, value), r#""[REDACTED]""#);
    }
}

/// Hashes are remembered per run for short values; the result must not depend on it.
#[test]
fn repeated_values_hash_like_fresh_ones() {
    let policy = policy(&[], &[("[*]", MaskRule::Hash)]);
    let values: Vec<String> = (0..20)
        .map(|i| format!("{i}-{}", "x".repeat(i * 5)))
        .collect();
    let fresh: Vec<String> = values
        .iter()
        .map(|v| masked(MaskRule::Hash, &format!("{v:?}")))
        .collect();
    // Cycle through more distinct values than are remembered, short and long, repeatedly.
    let order: Vec<usize> = (0..200).map(|i| (i * 7 + i / 20) % values.len()).collect();
    let body = format!(
        "[{}]",
        order
            .iter()
            .map(|&i| format!("{:?}", values[i]))
            .collect::<Vec<_>>()
            .join(",")
    );
    let want = format!(
        "[{}]",
        order
            .iter()
            .map(|&i| fresh[i].as_str())
            .collect::<Vec<_>>()
            .join(",")
    );
    assert_eq!(out(&policy, &body), want);
}

#[test]
fn hash_keys_are_per_partner() {
    let policy = policy(&[], &[("v", MaskRule::Hash)]);
    let body = br#"{"v":"GB33BUKB2020155555"}"#;
    let hash =
        |key: &HashKey| String::from_utf8(filter_document(&policy, key, body).unwrap().0).unwrap();
    let derived: [u8; 32] = [
        130, 147, 23, 151, 187, 198, 96, 187, 104, 188, 235, 239, 188, 192, 140, 69, 14, 240, 170,
        100, 139, 31, 136, 10, 253, 10, 217, 198, 151, 76, 11, 148,
    ];
    assert_eq!(
        hash(&HashKey::new(derived)),
        hash(&HashKey::derive(b"gateway master secret", "partner-1"))
    );
    assert_eq!(
        hash(&HashKey::derive(b"gateway master secret", "partner-2")),
        r#"{"v":"h:PSJ4FKnfISZzIqVqY-NImO"}"#
    );
    assert_eq!(hash(&HashKey::new([7; 32])), hash(&HashKey::new([7; 32])));
    assert_ne!(hash(&HashKey::new([7; 32])), hash(&HashKey::new([8; 32])));
}

#[test]
fn masks_apply_inside_allowed_subtrees() {
    let policy = policy(
        &["Data"],
        &[
            ("Data.Account[*].Iban", KEEP4),
            ("Data.Owner", MaskRule::Redact),
        ],
    );
    assert_eq!(
        out(
            &policy,
            r#"{"Data":{"Account":[{"Iban":"GB12345678","Name":"x"},{"Name":"y"}],"Owner":{"n":1},"Other":2}}"#
        ),
        r#"{"Data":{"Account":[{"Iban":"******5678","Name":"x"},{"Name":"y"}],"Owner":"[REDACTED]","Other":2}}"#
    );
}

#[test]
fn the_outer_mask_wins_and_masks_beat_allow() {
    let policy = policy(
        &["Data.Customer"],
        &[
            ("Data.Customer", MaskRule::Redact),
            ("Data.Customer.Id", MaskRule::Hash),
        ],
    );
    assert_eq!(
        out(&policy, r#"{"Data":{"Customer":{"Id":"1"}}}"#),
        r#"{"Data":{"Customer":"[REDACTED]"}}"#
    );
    let policy = common::policy(&["a.b"], &[("a", KEEP4)]);
    assert_eq!(out(&policy, r#"{"a":{"b":1}}"#), r#"{"a":"[REDACTED]"}"#);
}

#[test]
fn masked_paths_are_implicitly_allowed_and_counted() {
    let policy = policy(
        &["Data.Account[*].AccountId"],
        &[("Data.Account[*].Iban", KEEP4)],
    );
    let (text, report) = run(
        &policy,
        r#"{"Data":{"Account":[{"AccountId":"1","Iban":"GB1234"},{"Iban":"GB5678","Nickname":"n"}]}}"#,
    )
    .unwrap();
    assert_eq!(
        text,
        r#"{"Data":{"Account":[{"AccountId":"1","Iban":"**1234"},{"Iban":"**5678"}]}}"#
    );
    assert_eq!(report.masked, 2);
    assert_eq!(report.removed, ["Data.Account[*].Nickname"]);
}

#[test]
fn masked_array_elements() {
    let policy = policy(&[], &[("Cards[*]", KEEP4)]);
    assert_eq!(
        out(
            &policy,
            r#"{"Cards":["4111111111111111",5500000000000004,{"n":1}]}"#
        ),
        r#"{"Cards":["************1111","************0004","[REDACTED]"]}"#
    );
    let top = common::policy(&[], &[("[*]", MaskRule::Redact)]);
    assert_eq!(
        out(&top, "[1,[2],{}]"),
        r#"["[REDACTED]","[REDACTED]","[REDACTED]"]"#
    );
}

#[test]
fn masks_need_no_allow_list_but_deny_all_masks_nothing() {
    let deny = CompiledFieldPolicy::deny_all();
    let (text, report) = run(&deny, r#"{"v":"secret"}"#).unwrap();
    assert_eq!(text, "{}");
    assert_eq!(report.masked, 0);
}
