//! Property tests against a naive reference filter written here on `serde_json::Value`,
//! independent of the crate's compiled tree and streaming machine.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use portcullis_field_filter::{
    filter_document, CompiledFieldPolicy, FieldMask, FieldPolicy, FilterReport, HashKey, MaskRule,
};
use proptest::prelude::*;
use proptest::sample::Index;
use ring::hmac;
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Each,
}

type Path = Vec<Seg>;

fn render(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Each => out.push_str("[*]"),
        }
    }
    out
}

/// The policy as plain lists, the way the reference reads it.
#[derive(Debug, Clone)]
struct Declared {
    everything: bool,
    allow: Vec<Path>,
    masks: Vec<(Path, MaskRule)>,
}

impl Declared {
    fn to_policy(&self) -> FieldPolicy {
        let mut allow: Vec<String> = self.allow.iter().map(|p| render(p)).collect();
        if self.everything {
            allow.push("*".into());
        }
        FieldPolicy {
            allow,
            mask: self
                .masks
                .iter()
                .map(|(p, rule)| FieldMask {
                    path: render(p),
                    rule: *rule,
                })
                .collect(),
        }
    }

    fn named(&self) -> impl Iterator<Item = &Path> {
        self.allow.iter().chain(self.masks.iter().map(|(p, _)| p))
    }

    /// Some named path goes on from `path` with a key (or with `[*]`).
    fn continues(&self, path: &[Seg], each: bool) -> bool {
        self.named().any(|p| {
            p.len() > path.len()
                && p[..path.len()] == *path
                && matches!(p[path.len()], Seg::Each) == each
        })
    }
}

struct Reference<'a> {
    policy: &'a Declared,
    key: &'a [u8; 32],
    report: FilterReport,
}

impl Reference<'_> {
    fn removed(&mut self, path: &[Seg]) {
        let text = if path.is_empty() {
            "*".to_owned()
        } else {
            render(path)
        };
        if self.report.truncated || self.report.removed.contains(&text) {
            return;
        }
        if self.report.removed.len() == 64 {
            self.report.truncated = true;
        } else {
            self.report.removed.push(&text);
        }
    }

    /// The filtered value at `path`, or `None` if it is removed.
    fn walk(&mut self, value: &Value, path: &mut Path, allowed: bool) -> Option<Value> {
        // Walking top-down meets the outermost mask first.
        if let Some((_, rule)) = self.policy.masks.iter().find(|(p, _)| p == path) {
            self.report.masked += 1;
            return Some(mask(*rule, value, self.key));
        }
        let allowed = allowed || self.policy.everything || self.policy.allow.contains(path);
        let root = path.is_empty();
        match value {
            Value::Object(members) if allowed || root || self.policy.continues(path, false) => {
                let mut kept = Map::new();
                for (k, v) in members {
                    path.push(Seg::Key(k.clone()));
                    match self.walk(v, path, allowed) {
                        Some(v) => {
                            kept.insert(k.clone(), v);
                        }
                        None => self.removed(path),
                    }
                    path.pop();
                }
                Some(Value::Object(kept))
            }
            Value::Array(items) if allowed || root || self.policy.continues(path, true) => {
                let mut kept = Vec::new();
                path.push(Seg::Each);
                for v in items {
                    match self.walk(v, path, allowed) {
                        Some(v) => kept.push(v),
                        None => self.removed(path),
                    }
                }
                path.pop();
                Some(Value::Array(kept))
            }
            _ if allowed => Some(value.clone()),
            _ if root => {
                self.removed(path);
                Some(Value::Null)
            }
            _ => None,
        }
    }
}

fn mask(rule: MaskRule, value: &Value, key: &[u8; 32]) -> Value {
    let redacted = Value::String("[REDACTED]".into());
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        Value::Object(_) | Value::Array(_) => return redacted,
    };
    match rule {
        MaskRule::Redact => redacted,
        MaskRule::KeepLast { .. } if matches!(value, Value::Bool(_) | Value::Null) => redacted,
        MaskRule::KeepLast { chars } => {
            let all: Vec<char> = text.chars().collect();
            let keep = usize::from(chars);
            let starred = if all.len() <= keep {
                all.len()
            } else {
                all.len() - keep
            };
            let mut masked = "*".repeat(starred);
            masked.extend(&all[starred..]);
            Value::String(masked)
        }
        MaskRule::Hash => {
            let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), text.as_bytes());
            Value::String(format!("h:{}", &URL_SAFE_NO_PAD.encode(tag.as_ref())[..22]))
        }
    }
}

/// Asserts that every path in the output is allowed, masked, or on the way to one of those.
fn assert_no_leak(policy: &Declared, value: &Value, path: &mut Path) {
    if policy.everything || policy.allow.iter().any(|a| path.starts_with(a)) {
        return;
    }
    if policy.masks.iter().any(|(m, _)| m == path) {
        assert!(
            value.is_string(),
            "masked value at {} is {value}",
            render(path)
        );
        return;
    }
    let on_the_way = policy
        .named()
        .any(|p| p.len() > path.len() && p.starts_with(path));
    match value {
        Value::Object(members) => {
            assert!(path.is_empty() || on_the_way, "object at {}", render(path));
            for (k, v) in members {
                path.push(Seg::Key(k.clone()));
                assert_no_leak(policy, v, path);
                path.pop();
            }
        }
        Value::Array(items) => {
            assert!(path.is_empty() || on_the_way, "array at {}", render(path));
            path.push(Seg::Each);
            for v in items {
                assert_no_leak(policy, v, path);
            }
            path.pop();
        }
        Value::Null if path.is_empty() => {}
        _ => panic!("{value} leaked at {}", render(path)),
    }
}

// ---- strategies ----

/// Keys from a small alphabet so that paths collide; `k y` is outside the path grammar.
const KEYS: [&str; 6] = ["a", "b", "Id", "Data", "x-1", "k y"];

fn text() -> impl Strategy<Value = String> {
    let chars = vec![
        'a', 'Z', '0', ' ', 'é', '😀', '"', '\\', '\n', '\u{1}', '/', '\u{2028}',
    ];
    prop::collection::vec(prop::sample::select(chars), 0..10).prop_map(|v| v.into_iter().collect())
}

fn document() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-100_000i64..100_000).prop_map(Value::from),
        // Two decimals: serde_json's default float parsing round-trips these exactly, so
        // the literal text the filter masks is the one the reference prints.
        (-10_000_000i64..10_000_000).prop_map(|n| Value::from(n as f64 / 100.0)),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 160, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(prop::sample::select(KEYS.to_vec()), inner, 0..6).prop_map(
                |m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            ),
        ]
    })
}

/// Every path in a document whose keys fit the policy grammar.
fn paths(value: &Value, path: &mut Path, out: &mut Vec<Path>) {
    if !path.is_empty() && !out.contains(path) {
        out.push(path.clone());
    }
    match value {
        Value::Object(members) => {
            for (k, v) in members {
                if k.contains(' ') {
                    continue;
                }
                path.push(Seg::Key(k.clone()));
                paths(v, path, out);
                path.pop();
            }
        }
        Value::Array(items) => {
            path.push(Seg::Each);
            for v in items {
                paths(v, path, out);
            }
            path.pop();
        }
        _ => {}
    }
}

fn rule() -> impl Strategy<Value = MaskRule> {
    prop_oneof![
        Just(MaskRule::Redact),
        Just(MaskRule::Hash),
        (0u8..6).prop_map(|chars| MaskRule::KeepLast { chars }),
    ]
}

/// A document and a policy over its own paths plus a few unrelated ones.
fn case() -> impl Strategy<Value = (Value, Declared)> {
    document().prop_flat_map(|doc| {
        let mut candidates = vec![
            vec![Seg::Key("zz".into())],
            vec![
                Seg::Key("a".into()),
                Seg::Key("b".into()),
                Seg::Key("Id".into()),
            ],
            vec![Seg::Each, Seg::Key("a".into())],
            vec![Seg::Key("Data".into()), Seg::Each, Seg::Each],
        ];
        paths(&doc, &mut Vec::new(), &mut candidates);
        let pick = move |indexes: Vec<Index>| -> Vec<Path> {
            indexes.iter().map(|i| i.get(&candidates).clone()).collect()
        };
        let pick2 = pick.clone();
        (
            Just(doc),
            prop::bool::weighted(0.1),
            prop::collection::vec(any::<Index>(), 0..5).prop_map(pick),
            prop::collection::vec((any::<Index>(), rule()), 0..4).prop_map(move |masks| {
                let paths = pick2(masks.iter().map(|(i, _)| *i).collect());
                let mut unique: Vec<(Path, MaskRule)> = Vec::new();
                for (path, (_, rule)) in paths.into_iter().zip(masks) {
                    if !unique.iter().any(|(p, _)| *p == path) {
                        unique.push((path, rule));
                    }
                }
                unique
            }),
        )
            .prop_map(|(doc, everything, allow, masks)| {
                (
                    doc,
                    Declared {
                        everything,
                        allow,
                        masks,
                    },
                )
            })
    })
}

fn key_bytes() -> [u8; 32] {
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, b"property master"),
        b"portcullis field hash v1\0partner-p",
    );
    let mut bytes = [0; 32];
    bytes.copy_from_slice(tag.as_ref());
    bytes
}

fn chunked(
    policy: &CompiledFieldPolicy,
    key: &HashKey,
    input: &[u8],
    sizes: &[usize],
) -> Result<(Vec<u8>, FilterReport), portcullis_field_filter::FilterError> {
    let mut filter = portcullis_field_filter::FieldFilter::new(policy, key);
    let mut out = Vec::new();
    let mut rest = input;
    for &n in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let n = n.clamp(1, rest.len());
        filter.feed(&rest[..n], &mut out)?;
        rest = &rest[n..];
    }
    let report = filter.finish(&mut out)?;
    Ok((out, report))
}

proptest! {
    // Failures print their minimal input; there is no lib.rs next to these tests to persist
    // them beside.
    #![proptest_config(ProptestConfig { cases: 1024, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn matches_the_reference_filter(
        (doc, declared) in case(),
        pretty in any::<bool>(),
        sizes in prop::collection::vec(1usize..24, 1..4),
    ) {
        let input = if pretty { serde_json::to_vec_pretty(&doc) } else { serde_json::to_vec(&doc) }.unwrap();
        let key = key_bytes();
        let hash_key = HashKey::new(key);
        // The derived key is the one computed here by hand.
        let derived = HashKey::derive(b"property master", "partner-p");
        let policy = CompiledFieldPolicy::compile(&declared.to_policy()).unwrap();

        let (out, report) = filter_document(&policy, &hash_key, &input).unwrap();
        let parsed: Value = serde_json::from_slice(&out).expect("output is JSON");

        let mut reference = Reference { policy: &declared, key: &key, report: FilterReport::default() };
        let want = reference.walk(&doc, &mut Vec::new(), false);
        prop_assert_eq!(Some(&parsed), want.as_ref());
        prop_assert_eq!(&report, &reference.report);
        assert_no_leak(&declared, &parsed, &mut Vec::new());

        prop_assert_eq!(filter_document(&policy, &derived, &input).unwrap().0, out.clone());
        let pieces = chunked(&policy, &hash_key, &input, &sizes).unwrap();
        prop_assert_eq!(pieces, (out, report));
    }

    /// Corrupted bodies: chunking never changes the verdict, whatever serde_json accepts is
    /// accepted, and whatever is accepted comes out as JSON.
    #[test]
    fn corrupted_bodies_behave_the_same_in_chunks(
        (doc, declared) in case(),
        edits in prop::collection::vec((any::<Index>(), any::<u8>(), 0u8..3), 1..4),
        sizes in prop::collection::vec(1usize..16, 1..4),
    ) {
        let mut input = serde_json::to_vec(&doc).unwrap();
        for (at, byte, kind) in edits {
            let i = at.index(input.len() + 1);
            match kind {
                0 if i < input.len() => input[i] = byte,
                1 => input.insert(i, byte),
                _ if i < input.len() => { input.remove(i); }
                _ => {}
            }
        }
        let key = HashKey::new(key_bytes());
        let policy = CompiledFieldPolicy::compile(&declared.to_policy()).unwrap();
        let whole = filter_document(&policy, &key, &input);
        prop_assert_eq!(&chunked(&policy, &key, &input, &sizes), &whole);
        let serde_ok = serde_json::from_slice::<Value>(&input).is_ok();
        match &whole {
            Ok((out, _)) => {
                if serde_ok {
                    prop_assert!(serde_json::from_slice::<Value>(out).is_ok());
                } else {
                    prop_assert!(serde_json::from_slice::<serde::de::IgnoredAny>(out).is_ok());
                }
            }
            Err(e) => prop_assert!(!serde_ok, "serde_json accepts what the filter refused: {e}"),
        }
    }
}
