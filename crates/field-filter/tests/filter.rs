//! What passes, what is removed, and what the report says.

mod common;

use common::{out, policy, run};
use portcullis_field_filter::{CompiledFieldPolicy, MaskRule};

#[test]
fn ancestors_are_emitted_only_as_far_as_needed() {
    let policy = policy(&["Data.Account[*].AccountId"], &[]);
    let (text, report) = run(
        &policy,
        r#"{"Data":{"Account":[{"AccountId":"1","Nickname":"x"}],"Other":1},"Links":{}}"#,
    )
    .unwrap();
    assert_eq!(text, r#"{"Data":{"Account":[{"AccountId":"1"}]}}"#);
    assert_eq!(
        report.removed,
        ["Data.Account[*].Nickname", "Data.Other", "Links"]
    );
    assert!(!report.truncated);
    assert_eq!(report.masked, 0);
}

#[test]
fn allowing_a_path_allows_its_whole_subtree() {
    let policy = policy(&["Data.Amount"], &[]);
    assert_eq!(
        out(
            &policy,
            r#"{"Data":{"Amount":{"Amount":"1.00","Currency":"GBP","Extra":[1,{"x":null}]},"Id":1}}"#
        ),
        r#"{"Data":{"Amount":{"Amount":"1.00","Currency":"GBP","Extra":[1,{"x":null}]}}}"#
    );
    // Any type is fine at an allowed path.
    for value in ["1", "\"s\"", "null", "[1]", "{}"] {
        assert_eq!(
            out(&policy, &format!(r#"{{"Data":{{"Amount":{value}}}}}"#)),
            format!(r#"{{"Data":{{"Amount":{value}}}}}"#)
        );
    }
}

#[test]
fn intermediate_nodes_need_the_expected_shape() {
    let policy = policy(&["Data.Account[*].Id"], &[]);
    let cases = [
        // A scalar where an object is expected.
        (r#"{"Data":5}"#, "{}", "Data"),
        (r#"{"Data":"x"}"#, "{}", "Data"),
        // An array where an object is expected.
        (r#"{"Data":[{"Account":[]}]}"#, "{}", "Data"),
        // An object where `[*]` expects an array.
        (
            r#"{"Data":{"Account":{"Id":"1"}}}"#,
            r#"{"Data":{}}"#,
            "Data.Account",
        ),
        (
            r#"{"Data":{"Account":null}}"#,
            r#"{"Data":{}}"#,
            "Data.Account",
        ),
        // Elements of the wrong shape are dropped; kept elements that end up empty stay.
        (
            r#"{"Data":{"Account":[1,{"Id":"a"},"s",{"Name":"n"},[],{"Id":"b"}]}}"#,
            r#"{"Data":{"Account":[{"Id":"a"},{},{"Id":"b"}]}}"#,
            "Data.Account[*]",
        ),
    ];
    for (input, want, first_removed) in cases {
        let (text, report) = run(&policy, input).unwrap();
        assert_eq!(text, want, "{input}");
        assert_eq!(&report.removed[0], first_removed, "{input}");
    }
    // A node may expect either shape when the policy names both.
    let both = common::policy(&["a.b", "a[*].c"], &[]);
    assert_eq!(out(&both, r#"{"a":{"b":1,"c":2}}"#), r#"{"a":{"b":1}}"#);
    assert_eq!(out(&both, r#"{"a":[{"b":1,"c":2}]}"#), r#"{"a":[{"c":2}]}"#);
}

#[test]
fn top_level_arrays() {
    let policy = policy(&["[*].id", "[*].tags[*].name"], &[]);
    assert_eq!(
        out(
            &policy,
            r#"[{"id":1,"x":2},{"tags":[{"name":"a","v":1}]},3,{}]"#
        ),
        r#"[{"id":1},{"tags":[{"name":"a"}]},{}]"#
    );
    let nested = common::policy(&["[*][*]"], &[]);
    assert_eq!(
        out(&nested, r#"[[1,2],3,[{"a":[]}]]"#),
        r#"[[1,2],[{"a":[]}]]"#
    );
    // An array policy against a root object: the root stays, its members go.
    assert_eq!(
        run(&policy, r#"{"id":1}"#).unwrap(),
        ("{}".to_owned(), report(&["id"]))
    );
}

fn report(removed: &[&str]) -> portcullis_field_filter::FilterReport {
    portcullis_field_filter::FilterReport {
        removed: removed.iter().map(|r| (*r).to_owned()).collect(),
        truncated: false,
        masked: 0,
    }
}

#[test]
fn star_allows_everything_and_compacts() {
    let policy = policy(&["*"], &[]);
    let input = " {\n  \"a\" : [ 1 , 2.5e-3 , true , false , null , \"x\\u0041\\n\" ] ,\t\"b\" : { } , \"c\":[] } \r\n";
    let (text, report) = run(&policy, input).unwrap();
    assert_eq!(
        text,
        r#"{"a":[1,2.5e-3,true,false,null,"x\u0041\n"],"b":{},"c":[]}"#
    );
    assert_eq!(report, report_empty());
    for scalar in ["1", "\"s\"", "null", "-0.5"] {
        assert_eq!(out(&policy, scalar), scalar);
    }
    // Masks still apply under `*`.
    let masked = common::policy(&["*"], &[("a[*]", MaskRule::Redact)]);
    assert_eq!(
        out(&masked, r#"{"a":[1,2],"b":3}"#),
        r#"{"a":["[REDACTED]","[REDACTED]"],"b":3}"#
    );
}

fn report_empty() -> portcullis_field_filter::FilterReport {
    report(&[])
}

#[test]
fn deny_all_keeps_only_the_root_container() {
    let deny = CompiledFieldPolicy::deny_all();
    assert_eq!(
        run(&deny, r#"{"a":1,"b":{"c":2}}"#).unwrap(),
        ("{}".to_owned(), report(&["a", "b"]))
    );
    assert_eq!(
        run(&deny, "[1,[2]]").unwrap(),
        ("[]".to_owned(), report(&["[*]"]))
    );
    assert_eq!(run(&deny, "{}").unwrap(), ("{}".to_owned(), report(&[])));
    // A root scalar is replaced by null and reported as the whole document.
    for scalar in ["42", "\"secret\"", "true", "null"] {
        assert_eq!(
            run(&deny, scalar).unwrap(),
            ("null".to_owned(), report(&["*"])),
            "{scalar}"
        );
    }
    // Likewise under a policy that expects a container.
    let policy = policy(&["Data"], &[]);
    assert_eq!(
        run(&policy, "\"x\"").unwrap(),
        ("null".to_owned(), report(&["*"]))
    );
}

#[test]
fn keys_match_after_unescaping_and_are_copied_as_written() {
    let policy = policy(&["Data.DocumentNumber"], &[]);
    assert_eq!(
        out(
            &policy,
            r#"{"Data":{"Document\u004eumber":"1","\u0044ocumentNumber":"2","Documentnumber":"3"}}"#
        ),
        r#"{"Data":{"Document\u004eumber":"1","\u0044ocumentNumber":"2"}}"#
    );
    let escaped_parent = common::policy(&["Data.x"], &[]);
    assert_eq!(
        out(&escaped_parent, r#"{"D\u0061ta":{"x":1,"y":2}}"#),
        r#"{"D\u0061ta":{"x":1}}"#
    );
    // Escapes that can never match an ASCII policy key.
    let (text, report) = run(&policy, r#"{"Data":{"\u00e9\n":1,"\"":2}}"#).unwrap();
    assert_eq!(text, r#"{"Data":{}}"#);
    assert_eq!(report.removed, ["Data.é\\u{a}", "Data.\""]);
}

#[test]
fn strings_are_copied_byte_exact() {
    let policy = policy(&["*"], &[]);
    let input = r#"["\/\b\f\n\r\t\"\\","\u00e9","é","\ud83d\ude00","😀","\u2028"]"#;
    assert_eq!(out(&policy, input), input);
}

#[test]
fn duplicate_keys_are_filtered_one_by_one() {
    let policy = policy(&["a.b"], &[]);
    assert_eq!(
        out(&policy, r#"{"a":{"b":1},"a":5,"a":{"c":2}}"#),
        r#"{"a":{"b":1},"a":{}}"#
    );
}

#[test]
fn report_lists_outermost_removals_once_in_first_seen_order() {
    let policy = policy(&["Data.Customer[*].Name"], &[]);
    let (_, report) = run(
        &policy,
        r#"{"Meta":{"x":{"y":1}},"Data":{"Customer":[{"Name":"a","DateOfBirth":"1990","Address":{"Line":"1"}},{"DateOfBirth":"1991"},"oops"]},"Meta":2}"#,
    )
    .unwrap();
    assert_eq!(
        report.removed,
        [
            "Meta",
            "Data.Customer[*].DateOfBirth",
            "Data.Customer[*].Address",
            "Data.Customer[*]"
        ]
    );
}

#[test]
fn report_is_capped_at_64_paths() {
    let policy = policy(&["keep"], &[]);
    let members: Vec<String> = (0..100).map(|i| format!(r#""k{i}":{i}"#)).collect();
    let (text, report) = run(&policy, &format!("{{{},\"keep\":1}}", members.join(","))).unwrap();
    assert_eq!(text, r#"{"keep":1}"#);
    assert_eq!(report.removed.len(), 64);
    assert_eq!(&report.removed[63], "k63");
    assert!(report.truncated);
    // Repeats of listed paths do not count towards the cap.
    let (_, report) = run(
        &policy,
        &format!("[{}]", vec![r#"{"a":1,"b":2}"#; 100].join(",")),
    )
    .unwrap();
    assert_eq!(report.removed, ["[*]"]);
    let array = common::policy(&["[*].keep"], &[]);
    let (_, report) = run(
        &array,
        &format!("[{}]", vec![r#"{"a":1,"b":2}"#; 100].join(",")),
    )
    .unwrap();
    assert_eq!(report.removed, ["[*].a", "[*].b"]);
    assert!(!report.truncated);
}
