//! Why a body could not be filtered. Offsets count bytes from the start of the body.

use crate::{MAX_DEPTH, MAX_TOKEN_BYTES};

/// A body the filter refuses. The response must not be passed on: the filter fails closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FilterError {
    /// A byte that cannot appear here.
    #[error("malformed JSON at byte {offset}: expected {expected}")]
    Malformed { offset: u64, expected: &'static str },
    /// The body ended inside a value.
    #[error("malformed JSON: body ends at byte {offset}, expected {expected}")]
    Truncated { offset: u64, expected: &'static str },
    /// Objects and arrays nested deeper than [`MAX_DEPTH`].
    #[error("JSON nested deeper than {MAX_DEPTH} levels at byte {offset}")]
    TooDeep { offset: u64 },
    /// A key or scalar longer than [`MAX_TOKEN_BYTES`].
    #[error("JSON key or value starting at byte {offset} is longer than {MAX_TOKEN_BYTES} bytes")]
    TokenTooLarge { offset: u64 },
    /// A string that is not valid UTF-8.
    #[error("invalid UTF-8 in a JSON string at byte {offset}")]
    InvalidUtf8 { offset: u64 },
    /// Something other than whitespace after the document.
    #[error("data after the end of the JSON document at byte {offset}")]
    TrailingData { offset: u64 },
}

impl FilterError {
    /// Byte offset in the body where the problem was found.
    pub fn offset(&self) -> u64 {
        match *self {
            FilterError::Malformed { offset, .. }
            | FilterError::Truncated { offset, .. }
            | FilterError::TooDeep { offset }
            | FilterError::TokenTooLarge { offset }
            | FilterError::InvalidUtf8 { offset }
            | FilterError::TrailingData { offset } => offset,
        }
    }
}
