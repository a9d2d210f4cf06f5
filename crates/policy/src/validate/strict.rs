//! A JSON reader stricter than the grammar: no duplicate object keys (parsers disagree on
//! which one wins, so a duplicate is a way to smuggle a value past one of them), a nesting
//! limit, and no number a JavaScript or double-precision consumer would silently round.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::Violation;

/// The largest integer every JSON consumer represents exactly (2^53 - 1).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Parses `bytes` as one JSON document under the rules above. `root` names the document in
/// errors (`body`).
pub fn parse(bytes: &[u8], root: &str, max_depth: usize) -> Result<Value, Violation> {
    let failure = RefCell::new(None);
    let mut path = vec![root.to_string()];
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let seed = Strict {
        path: &mut path,
        depth_left: max_depth,
        failure: &failure,
    };
    let parsed = seed.deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    match parsed {
        Ok(value) => Ok(value),
        Err(e) => Err(failure.into_inner().unwrap_or_else(|| Violation {
            field: root.to_string(),
            rule: "json".into(),
            message: format!("not valid JSON: {e}"),
        })),
    }
}

struct Strict<'a> {
    path: &'a mut Vec<String>,
    depth_left: usize,
    failure: &'a RefCell<Option<Violation>>,
}

impl Strict<'_> {
    fn fail<E: de::Error>(&self, rule: &str, message: String) -> E {
        let field = self.path.join(".");
        let text = format!("{field}: {message}");
        self.failure.borrow_mut().get_or_insert(Violation {
            field,
            rule: rule.into(),
            message,
        });
        E::custom(text)
    }

    fn child(&mut self, segment: String) -> Strict<'_> {
        self.path.push(segment);
        Strict {
            path: self.path,
            depth_left: self.depth_left.saturating_sub(1),
            failure: self.failure,
        }
    }

    fn check_number<E: de::Error>(&self, magnitude: f64) -> Result<(), E> {
        if magnitude > MAX_SAFE_INTEGER as f64 {
            return Err(self.fail(
                "number_range",
                format!(
                    "number out of range (magnitude above {MAX_SAFE_INTEGER}); send large or exact values such as amounts as decimal strings"
                ),
            ));
        }
        Ok(())
    }

    fn enter<E: de::Error>(&self) -> Result<(), E> {
        if self.depth_left == 0 {
            return Err(self.fail(
                "max_depth",
                "nested too deeply; flatten the document".to_string(),
            ));
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.check_number(v.unsigned_abs() as f64)?;
        Ok(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.check_number(v as f64)?;
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.check_number(v.abs())?;
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Value, A::Error> {
        self.enter()?;
        let mut items = Vec::new();
        loop {
            let index = items.len();
            match seq.next_element_seed(self.child(index.to_string()))? {
                Some(item) => items.push(item),
                None => break,
            }
            self.path.pop();
        }
        self.path.pop();
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Value, A::Error> {
        self.enter()?;
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(self.fail(
                    "duplicate_key",
                    format!("duplicate key {key:?}; send each member once"),
                ));
            }
            let value = map.next_value_seed(self.child(key.clone()))?;
            self.path.pop();
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reject(doc: &str) -> Violation {
        parse(doc.as_bytes(), "body", 8).unwrap_err()
    }

    #[test]
    fn duplicate_keys_are_refused_where_they_occur() {
        let v = reject(r#"{"Data":{"Amount":"1.00","Amount":"1000.00"}}"#);
        assert_eq!(v.field, "body.Data");
        assert_eq!(v.rule, "duplicate_key");
        assert!(v.message.contains("\"Amount\""), "{}", v.message);
        let v = reject(r#"{"a":[{"x":1},{"x":1,"x":2}]}"#);
        assert_eq!(v.field, "body.a.1");
    }

    #[test]
    fn nesting_past_the_limit_is_refused() {
        let v = reject(&format!("{}{}", "[".repeat(9), "]".repeat(9)));
        assert_eq!(v.rule, "max_depth");
        assert!(parse(
            format!("{}{}", "[".repeat(8), "]".repeat(8)).as_bytes(),
            "body",
            8
        )
        .is_ok());
        // Far past serde_json's own recursion limit: still our clear answer, no crash.
        let v = parse(
            format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).as_bytes(),
            "body",
            32,
        )
        .unwrap_err();
        assert_eq!(v.rule, "max_depth");
    }

    #[test]
    fn numbers_that_would_be_rounded_are_refused() {
        assert_eq!(reject(r#"{"n":9007199254740992}"#).rule, "number_range");
        assert_eq!(reject(r#"{"n":-9007199254740993}"#).rule, "number_range");
        assert_eq!(reject(r#"{"n":1e300}"#).field, "body.n");
        assert!(reject(r#"{"n":1e400}"#).message.contains("not valid JSON"));
        assert!(parse(br#"{"n":9007199254740991,"m":-1.5}"#, "body", 8).is_ok());
    }

    #[test]
    fn malformed_documents_name_the_problem() {
        let v = reject(r#"{"a":1,}"#);
        assert_eq!(v.rule, "json");
        let v = reject(r#"{"a":1} trailing"#);
        assert_eq!(v.rule, "json");
        let v = parse(b"\xff", "body", 8).unwrap_err();
        assert_eq!(v.rule, "json");
    }
}
