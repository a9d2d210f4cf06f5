//! Declaring and compiling policies: the path grammar, serde forms, and every rejection.

mod common;

use portcullis_field_filter::{CompiledFieldPolicy, FieldMask, FieldPolicy, MaskRule, ProblemKind};

use common::try_policy as compile;

#[test]
fn error_names_the_entry_and_says_how_to_fix_it() {
    let err = compile(&["Data.Account[*].AccountId", "Links", "Data..Id"], &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"allow[2] "Data..Id": empty segment at character 6; write paths like Data.Account[*].AccountId"#
    );
    assert_eq!(err.problems().len(), 1);
    assert_eq!(err.problems()[0].entry, "allow[2]");
    assert_eq!(err.problems()[0].path, "Data..Id");
}

#[test]
fn every_grammar_rejection_is_reported() {
    let cases: [(&str, &str); 12] = [
        ("", "empty path"),
        ("Data..Id", "empty segment at character 6"),
        (".Data", "empty segment at character 1"),
        ("Data.", "empty segment at character 6"),
        ("Data Id", r#"character ' ' at 5 is not allowed in a key"#),
        ("Data.Account[0]", "`[0]` at character 13 picks one element"),
        (
            "Data.Account[",
            "`[` at character 13 must be followed by `*]`",
        ),
        ("Data.*", "`*` at character 6 is only allowed alone"),
        ("Data.Account[*]x", "character 'x' at 16 is not allowed"),
        ("Data.Accoünt", "character 'ü' at 10 is not allowed"),
        ("Data/Account", "character '/' at 5 is not allowed"),
        ("Data.\"Id\"", "character '\"' at 6 is not allowed"),
    ];
    for (path, want) in cases {
        let err = compile(&[path], &[]).unwrap_err();
        assert!(err.to_string().contains(want), "{path:?}: {err}");
    }
}

#[test]
fn all_problems_are_collected_in_order() {
    let err = compile(
        &["ok", "bad path", "a[1]"],
        &[
            ("*", MaskRule::Redact),
            ("x", MaskRule::Hash),
            ("x", MaskRule::Redact),
            ("x", MaskRule::Hash),
        ],
    )
    .unwrap_err();
    let entries: Vec<_> = err.problems().iter().map(|p| p.entry.as_str()).collect();
    assert_eq!(entries, ["allow[1]", "allow[2]", "mask[0]", "mask[2]"]);
    assert_eq!(err.problems()[2].kind, ProblemKind::MaskEverything);
    assert_eq!(
        err.problems()[3].kind,
        ProblemKind::MaskConflict { first: 1 }
    );
    assert!(err
        .to_string()
        .contains(r#"mask[2] "x": also masked by mask[1] with a different rule"#));
    assert!(
        err.to_string().contains(" | "),
        "problems are joined on one line: {err}"
    );
}

#[test]
fn accepts_the_documented_grammar() {
    compile(
        &[
            "Data.Account[*].AccountId",
            "[*].id",
            "[*][*]",
            "Data.Matrix[*][*].Cell",
            "$meta.@type",
            "snake_case.kebab-case.Digits123",
            "*",
        ],
        &[(
            "Data.Customer[*].DocumentNumber",
            MaskRule::KeepLast { chars: 4 },
        )],
    )
    .unwrap();
    // The same mask twice with the same rule is harmless.
    compile(&[], &[("a", MaskRule::Hash), ("a", MaskRule::Hash)]).unwrap();
}

#[test]
fn too_deep_paths_are_rejected() {
    let deep = vec!["a"; portcullis_field_filter::MAX_DEPTH + 1].join(".");
    let err = compile(&[&deep], &[]).unwrap_err();
    assert_eq!(err.problems()[0].kind, ProblemKind::TooDeep);
}

#[test]
fn a_policy_says_whether_it_needs_the_hash_key() {
    assert!(!compile(&["Data"], &[("Data.Id", MaskRule::Redact)])
        .unwrap()
        .uses_hash());
    assert!(compile(&[], &[("Data.Email", MaskRule::Hash)])
        .unwrap()
        .uses_hash());
    assert!(!CompiledFieldPolicy::deny_all().uses_hash());
}

#[test]
fn compiled_policy_is_shareable() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<CompiledFieldPolicy>();
    shareable::<portcullis_field_filter::HashKey>();
}

#[test]
fn hash_key_debug_hides_the_key() {
    let key = portcullis_field_filter::HashKey::new([0xab; 32]);
    assert_eq!(format!("{key:?}"), "HashKey(..)");
}

#[test]
fn mask_json_form() {
    let mask: FieldMask = serde_json::from_str(
        r#"{"path":"Data.Customer[*].DocumentNumber","rule":"keep_last","chars":4}"#,
    )
    .unwrap();
    assert_eq!(mask.path, "Data.Customer[*].DocumentNumber");
    assert_eq!(mask.rule, MaskRule::KeepLast { chars: 4 });
    assert_eq!(
        serde_json::to_string(&mask).unwrap(),
        r#"{"path":"Data.Customer[*].DocumentNumber","rule":"keep_last","chars":4}"#
    );
    for (json, rule) in [
        (r#"{"path":"a","rule":"redact"}"#, MaskRule::Redact),
        (r#"{"path":"a","rule":"hash"}"#, MaskRule::Hash),
    ] {
        let mask: FieldMask = serde_json::from_str(json).unwrap();
        assert_eq!(mask.rule, rule);
        assert_eq!(serde_json::to_string(&mask).unwrap(), json);
    }
}

#[test]
fn mask_json_rejections_say_what_is_wrong() {
    let cases = [
        (
            r#"{"path":"a","rule":"hash","salt":"x"}"#,
            "unknown field `salt`",
        ),
        (r#"{"path":"a","rule":"keep_last"}"#, "needs `chars`"),
        (
            r#"{"path":"a","rule":"redact","chars":2}"#,
            "`chars` only applies to rule `keep_last`",
        ),
        (r#"{"path":"a","rule":"keep_last","chars":300}"#, "300"),
        (
            r#"{"path":"a","rule":"scramble"}"#,
            "unknown variant `scramble`",
        ),
        (r#"{"rule":"hash"}"#, "missing field `path`"),
        (r#"{"path":"a"}"#, "missing field `rule`"),
    ];
    for (json, want) in cases {
        let err = serde_json::from_str::<FieldMask>(json)
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{json}: {err}");
    }
}

#[test]
fn policy_json_form() {
    let policy: FieldPolicy = serde_json::from_str(
        r#"{"allow":["Data.Account[*].AccountId"],"mask":[{"path":"Data.Account[*].Iban","rule":"hash"}]}"#,
    )
    .unwrap();
    assert_eq!(policy.allow, ["Data.Account[*].AccountId"]);
    assert_eq!(policy.mask[0].rule, MaskRule::Hash);
    let empty: FieldPolicy = serde_json::from_str("{}").unwrap();
    assert_eq!(empty, FieldPolicy::default());
    let round_trip: FieldPolicy =
        serde_json::from_str(&serde_json::to_string(&policy).unwrap()).unwrap();
    assert_eq!(round_trip, policy);
    let err = serde_json::from_str::<FieldPolicy>(r#"{"allow":[],"deny":[]}"#).unwrap_err();
    assert!(err.to_string().contains("unknown field `deny`"), "{err}");
}
