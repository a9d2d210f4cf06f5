//! The declared policy, as written in TOML config and the JSON admin API.

use serde::{Deserialize, Serialize};

/// Declared field policy for one operation.
///
/// Paths are keys separated by `.`, where any key may be followed by `[*]` ("each element of
/// the array here"), e.g. `Data.Account[*].AccountId`; `[*].id` starts at a top-level array and
/// `*` alone allows the whole document. Allowing a path allows its whole subtree; its ancestors
/// are emitted only as far as needed to reach it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldPolicy {
    /// Paths whose subtrees are passed to the partner. Empty: nothing passes.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Paths passed in masked form (implicitly allowed). Masks apply inside allowed subtrees
    /// too; a mask beneath another mask is overridden by the outer one.
    #[serde(default)]
    pub mask: Vec<FieldMask>,
}

/// One masked path. JSON form: `{"path":"Data.Customer[*].DocumentNumber","rule":"keep_last","chars":4}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
// serde cannot combine `flatten` with `deny_unknown_fields`, so deserializing goes through a
// flat struct that can refuse unknown fields by name.
#[serde(try_from = "RawFieldMask")]
pub struct FieldMask {
    /// Path of the masked value, in the same grammar as [`FieldPolicy::allow`] (not `*`).
    pub path: String,
    /// How the value is masked.
    #[serde(flatten)]
    pub rule: MaskRule,
}

/// How a masked value is shown to the partner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum MaskRule {
    /// Any value becomes the string `"[REDACTED]"`.
    Redact,
    /// Strings keep their last `chars` characters (Unicode scalar values, after unescaping)
    /// and every other character becomes `*`; a string of at most `chars` characters is fully
    /// starred. Numbers are masked as their literal text and emitted as a string. Booleans,
    /// null, objects and arrays become `"[REDACTED]"`.
    KeepLast {
        /// Characters left visible at the end.
        chars: u8,
    },
    /// Scalars become `"h:"` plus 22 characters of unpadded base64url of the partner-keyed
    /// HMAC-SHA256 of the value (unescaped bytes for strings, literal text otherwise), so a
    /// partner can join records without seeing the value. Objects and arrays become
    /// `"[REDACTED]"`.
    Hash,
}

/// The flat wire form of [`FieldMask`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFieldMask {
    path: String,
    rule: RuleName,
    #[serde(default)]
    chars: Option<u8>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum RuleName {
    Redact,
    KeepLast,
    Hash,
}

impl TryFrom<RawFieldMask> for FieldMask {
    type Error = String;

    fn try_from(raw: RawFieldMask) -> Result<Self, String> {
        let rule = match (raw.rule, raw.chars) {
            (RuleName::KeepLast, Some(chars)) => MaskRule::KeepLast { chars },
            (RuleName::KeepLast, None) => {
                return Err(format!(
                    "mask {:?}: rule `keep_last` needs `chars` (characters left visible, 0-255)",
                    raw.path
                ))
            }
            (RuleName::Redact | RuleName::Hash, Some(_)) => {
                return Err(format!(
                    "mask {:?}: `chars` only applies to rule `keep_last`; remove it",
                    raw.path
                ))
            }
            (RuleName::Redact, None) => MaskRule::Redact,
            (RuleName::Hash, None) => MaskRule::Hash,
        };
        Ok(FieldMask {
            path: raw.path,
            rule,
        })
    }
}
