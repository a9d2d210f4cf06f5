//! The list of removed paths a filter reports, in one buffer.

use std::fmt;
use std::ops::Index;

use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Paths of removed response fields, in order, e.g. `Data.Account[*].Nickname`.
///
/// Every path shares one buffer: a filtered answer typically loses a dozen members or more,
/// and a `String` each was the largest single source of a gateway request's allocations.
/// Serialized as a JSON array of strings, as a `Vec<String>` would be.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct RemovedPaths {
    text: String,
    /// Where each path ends in `text`.
    ends: Vec<usize>,
}

impl RemovedPaths {
    pub fn new() -> Self {
        Self::default()
    }

    /// Room for `paths` paths of `bytes` bytes in all.
    pub fn with_capacity(paths: usize, bytes: usize) -> Self {
        Self {
            text: String::with_capacity(bytes),
            ends: Vec::with_capacity(paths),
        }
    }

    pub fn push(&mut self, path: &str) {
        self.text.push_str(path);
        self.ends.push(self.text.len());
    }

    /// Appends the path that `write` appends to the buffer it is given.
    pub(crate) fn push_with(&mut self, write: impl FnOnce(&mut String)) {
        write(&mut self.text);
        self.ends.push(self.text.len());
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn get(&self, index: usize) -> Option<&str> {
        let end = *self.ends.get(index)?;
        let start = match index {
            0 => 0,
            _ => self.ends[index - 1],
        };
        self.text.get(start..end)
    }

    pub fn iter(&self) -> Iter<'_> {
        Iter {
            paths: self,
            next: 0,
        }
    }

    pub fn contains(&self, path: &str) -> bool {
        self.iter().any(|p| p == path)
    }
}

/// The paths of a [`RemovedPaths`], in order.
pub struct Iter<'a> {
    paths: &'a RemovedPaths,
    next: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let path = self.paths.get(self.next)?;
        self.next += 1;
        Some(path)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.paths.len() - self.next;
        (left, Some(left))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a RemovedPaths {
    type Item = &'a str;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl Index<usize> for RemovedPaths {
    type Output = str;

    /// Panics when `index` is out of range, as a slice does.
    fn index(&self, index: usize) -> &str {
        match self.get(index) {
            Some(path) => path,
            None => panic!("path {index} of {} removed paths", self.len()),
        }
    }
}

impl<S: AsRef<str>> FromIterator<S> for RemovedPaths {
    fn from_iter<I: IntoIterator<Item = S>>(paths: I) -> Self {
        let mut list = Self::new();
        list.extend(paths);
        list
    }
}

impl<S: AsRef<str>> Extend<S> for RemovedPaths {
    fn extend<I: IntoIterator<Item = S>>(&mut self, paths: I) {
        for path in paths {
            self.push(path.as_ref());
        }
    }
}

impl<const N: usize> PartialEq<[&str; N]> for RemovedPaths {
    fn eq(&self, other: &[&str; N]) -> bool {
        self == &other[..]
    }
}

impl PartialEq<[&str]> for RemovedPaths {
    fn eq(&self, other: &[&str]) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter().copied())
    }
}

impl fmt::Debug for RemovedPaths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for RemovedPaths {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for RemovedPaths {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(Paths)
    }
}

/// Reads the array, each path straight into the shared buffer.
struct Paths;

impl<'de> Visitor<'de> for Paths {
    type Value = RemovedPaths;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of field paths")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RemovedPaths, A::Error> {
        let mut paths = RemovedPaths::new();
        while seq.next_element_seed(Path(&mut paths))?.is_some() {}
        Ok(paths)
    }
}

/// One path of the array, appended to `0`.
struct Path<'a>(&'a mut RemovedPaths);

impl<'de> DeserializeSeed<'de> for Path<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Path<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field path")
    }

    fn visit_str<E: serde::de::Error>(self, path: &str) -> Result<(), E> {
        self.0.push(path);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_come_back_in_order_and_whole() {
        let mut paths = RemovedPaths::with_capacity(3, 8);
        paths.push("a.b");
        paths.push("");
        paths.push_with(|text| text.push_str("é[*]"));
        assert_eq!(paths.len(), 3);
        assert_eq!(paths, ["a.b", "", "é[*]"]);
        assert_eq!(paths.iter().len(), 3);
        assert_eq!(&paths[2], "é[*]");
        assert_eq!(paths.get(3), None);
        assert!(paths.contains("") && !paths.contains("a"));
        assert_eq!(format!("{paths:?}"), r#"["a.b", "", "é[*]"]"#);
    }

    #[test]
    fn json_is_an_array_of_strings_both_ways() {
        let paths: RemovedPaths = ["Data.\"x\"", "Links"].into_iter().collect();
        let json = serde_json::to_string(&paths).unwrap();
        assert_eq!(json, r#"["Data.\"x\"","Links"]"#);
        assert_eq!(serde_json::from_str::<RemovedPaths>(&json).unwrap(), paths);
        assert_eq!(serde_json::to_string(&RemovedPaths::new()).unwrap(), "[]");
        for hostile in [
            r#""Links""#,
            r#"[1]"#,
            r#"{"a":"b"}"#,
            r#"["a""#,
            r#"[["a"]]"#,
        ] {
            assert!(
                serde_json::from_str::<RemovedPaths>(hostile).is_err(),
                "{hostile}"
            );
        }
    }
}
