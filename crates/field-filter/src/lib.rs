//! Field-level filtering of JSON response bodies.
//!
//! A partner receives only the fields its grant allows for an operation, some of them masked.
//! The filter is a push parser that makes one streaming pass over the body: memory is bounded
//! by the nesting depth ([`MAX_DEPTH`]) plus the longest single key or scalar it has to hold
//! ([`MAX_TOKEN_BYTES`]), never by the size of the body.
//!
//! ```
//! use portcullis_field_filter::{
//!     filter_document, CompiledFieldPolicy, FieldMask, FieldPolicy, HashKey, MaskRule,
//! };
//!
//! let policy = FieldPolicy {
//!     allow: vec!["Data.Account[*].AccountId".into()],
//!     mask: vec![FieldMask {
//!         path: "Data.Account[*].Iban".into(),
//!         rule: MaskRule::KeepLast { chars: 4 },
//!     }],
//! };
//! let policy = CompiledFieldPolicy::compile(&policy)?;
//! let key = HashKey::derive(b"gateway master secret", "partner-1");
//! let body = br#"{"Data":{"Account":[{"AccountId":"1","Iban":"GB33BUKB2020155555","Nickname":"x"}]},"Links":{}}"#;
//! let (out, report) = filter_document(&policy, &key, body)?;
//! assert_eq!(out, br#"{"Data":{"Account":[{"AccountId":"1","Iban":"**************5555"}]}}"#);
//! assert_eq!(report.removed, ["Data.Account[*].Nickname", "Links"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Decisions a caller may need to know:
//! - The root value is never removed. A root object or array is always emitted (possibly
//!   empty: `deny_all` gives `{}` or `[]`); a root scalar that is not allowed becomes `null`
//!   and is reported as the path `*`.
//! - Lone surrogate escapes (`"\ud800"`) are rejected as malformed, like invalid UTF-8: RFC 8259
//!   leaves their meaning undefined, partners' parsers disagree about them, and masking needs
//!   Unicode scalar values.
//! - Keys are compared after unescaping: `"Document\u004eumber"` matches `DocumentNumber`.
//!   Output keys and strings are copied byte for byte, escapes and all.
//! - Inside an allowed subtree shapes are not checked: a mask such as `a[*].x` masks nothing
//!   where `a` turns out to be an object, and that object passes as allowed.
//! - Duplicate keys are filtered one by one and passed on as they come.
//! - On error the bytes already appended to `out` must be discarded; the filter stays failed.
#![forbid(unsafe_code)]

mod compile;
mod error;
mod filter;
mod mask;
mod path;
mod policy;
mod removed;
mod report;
mod scan;

pub use compile::{CompiledFieldPolicy, PolicyError, PolicyProblem, ProblemKind};
pub use error::FilterError;
pub use filter::FieldFilter;
pub use mask::HashKey;
pub use policy::{FieldMask, FieldPolicy, MaskRule};
pub use removed::RemovedPaths;

/// Deepest nesting of objects and arrays accepted in a body.
pub const MAX_DEPTH: usize = 128;

/// Longest single key or scalar (string with its quotes, or number) accepted in a body. The
/// filter may hold one such token whole while deciding what to do with it.
pub const MAX_TOKEN_BYTES: usize = 1 << 20;

/// What the filter removed and masked in one document.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FilterReport {
    /// Distinct normalized paths of removed members, e.g. `Data.Customer[*].DateOfBirth`, in
    /// first-seen order. Only the outermost removed member is listed, never its descendants.
    /// A removed array element is listed as its array's path plus `[*]`; a removed root scalar
    /// as `*`. At most 64 entries; see `truncated`.
    pub removed: RemovedPaths,
    /// More distinct paths were removed than `removed` lists.
    pub truncated: bool,
    /// Number of values emitted in masked form.
    pub masked: u64,
}

/// Filters a whole document held in memory; the same as one [`FieldFilter::feed`] and
/// [`FieldFilter::finish`].
pub fn filter_document(
    policy: &CompiledFieldPolicy,
    key: &HashKey,
    input: &[u8],
) -> Result<(Vec<u8>, FilterReport), FilterError> {
    let mut filter = FieldFilter::new(policy, key);
    // Filtering only removes bytes, apart from masked values; this avoids regrowing in most cases.
    let mut out = Vec::with_capacity(input.len());
    filter.feed(input, &mut out)?;
    let report = filter.finish(&mut out)?;
    Ok((out, report))
}
