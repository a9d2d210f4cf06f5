//! The policy path grammar.
//!
//! ```text
//! path    = "*" | first ( "." segment )*
//! first   = segment | each+            ; a path may start at a top-level array
//! segment = key each*
//! key     = ( ALPHA | DIGIT | "_" | "-" | "$" | "@" )+
//! each    = "[*]"
//! ```

use crate::compile::ProblemKind;
use crate::MAX_DEPTH;

/// One step from a value to a value inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// The member with this key.
    Key(String),
    /// Each element of an array.
    Each,
}

/// A parsed path: `None` is `*`, the whole document.
pub(crate) type Steps = Option<Vec<Step>>;

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'$' | b'@')
}

/// Parses one path. Positions in problems are 1-based character positions, as a person
/// counting along the path would see them.
pub(crate) fn parse(path: &str) -> Result<Steps, ProblemKind> {
    if path == "*" {
        return Ok(None);
    }
    if path.is_empty() {
        return Err(ProblemKind::Empty);
    }
    let bytes = path.as_bytes();
    let mut steps = Vec::new();
    let mut i = 0;
    // At the start `[*]` may stand without a key; after a `.` a key is required.
    let mut key_required = false;
    loop {
        let start = i;
        while i < bytes.len() && is_key_byte(bytes[i]) {
            i += 1;
        }
        if i > start {
            // Only ASCII key bytes were consumed, so this slice is on char boundaries.
            steps.push(Step::Key(path[start..i].to_owned()));
        } else if key_required || i == bytes.len() || bytes[i] != b'[' {
            return Err(problem_at(path, i, true));
        }
        while i < bytes.len() && bytes[i] == b'[' {
            if bytes.get(i + 1..i + 3) != Some(b"*]".as_slice()) {
                return Err(bracket_problem(path, i));
            }
            steps.push(Step::Each);
            i += 3;
        }
        if i == bytes.len() {
            break;
        }
        if bytes[i] != b'.' {
            return Err(problem_at(path, i, false));
        }
        i += 1;
        key_required = true;
    }
    if steps.len() > MAX_DEPTH {
        return Err(ProblemKind::TooDeep);
    }
    Ok(Some(steps))
}

/// Explains what is wrong at byte `i`, where a key (or with `want_key` false, a `.`, `[*]` or
/// the end) was expected.
fn problem_at(path: &str, i: usize, want_key: bool) -> ProblemKind {
    let position = path[..i].chars().count() + 1;
    match path[i..].chars().next() {
        None | Some('.' | '[') if want_key => ProblemKind::EmptySegment { position },
        Some('*') => ProblemKind::Star { position },
        Some(found) => ProblemKind::BadChar { found, position },
        None => ProblemKind::EmptySegment { position },
    }
}

/// Explains a `[` that does not open `[*]`.
fn bracket_problem(path: &str, i: usize) -> ProblemKind {
    let position = path[..i].chars().count() + 1;
    let rest = &path[i + 1..];
    match rest.find(']') {
        Some(close) if !rest[..close].is_empty() => ProblemKind::Index {
            index: rest[..close].to_owned(),
            position,
        },
        _ => ProblemKind::Bracket { position },
    }
}

/// The normalized text of a path prefix, as used in reports: `Data.Account[*]`.
pub(crate) fn render(steps: &[Step]) -> String {
    let mut out = String::new();
    for step in steps {
        match step {
            Step::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Step::Each => out.push_str("[*]"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(path: &str) -> Vec<Step> {
        parse(path).unwrap().unwrap()
    }

    #[test]
    fn parses_keys_and_each() {
        assert_eq!(
            keys("Data.Account[*].AccountId"),
            [
                Step::Key("Data".into()),
                Step::Key("Account".into()),
                Step::Each,
                Step::Key("AccountId".into())
            ]
        );
        assert_eq!(
            keys("[*][*].id"),
            [Step::Each, Step::Each, Step::Key("id".into())]
        );
        assert_eq!(
            keys("a-b_c$@1[*][*]"),
            [Step::Key("a-b_c$@1".into()), Step::Each, Step::Each]
        );
        assert_eq!(parse("*").unwrap(), None);
    }

    #[test]
    fn renders_what_it_parses() {
        for path in ["Data.Account[*].AccountId", "[*].id", "[*][*]", "a[*][*].b"] {
            assert_eq!(render(&keys(path)), path);
        }
    }

    #[test]
    fn rejects_with_position() {
        let cases = [
            ("", ProblemKind::Empty),
            ("Data..Id", ProblemKind::EmptySegment { position: 6 }),
            (".Data", ProblemKind::EmptySegment { position: 1 }),
            ("Data.", ProblemKind::EmptySegment { position: 6 }),
            ("Data.[*]", ProblemKind::EmptySegment { position: 6 }),
            (
                "a b",
                ProblemKind::BadChar {
                    found: ' ',
                    position: 2,
                },
            ),
            (
                "Dätä",
                ProblemKind::BadChar {
                    found: 'ä',
                    position: 2,
                },
            ),
            ("a.b*", ProblemKind::Star { position: 4 }),
            ("**", ProblemKind::Star { position: 1 }),
            (
                "a[0]",
                ProblemKind::Index {
                    index: "0".into(),
                    position: 2,
                },
            ),
            ("a[", ProblemKind::Bracket { position: 2 }),
            ("a[]", ProblemKind::Bracket { position: 2 }),
            (
                "a[*]b",
                ProblemKind::BadChar {
                    found: 'b',
                    position: 5,
                },
            ),
        ];
        for (path, want) in cases {
            assert_eq!(parse(path), Err(want), "{path:?}");
        }
        let deep = vec!["a"; MAX_DEPTH + 1].join(".");
        assert_eq!(parse(&deep), Err(ProblemKind::TooDeep));
        assert!(parse(&vec!["a"; MAX_DEPTH].join(".")).is_ok());
    }
}
