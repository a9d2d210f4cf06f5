//! Request validation: every JSON body is read strictly (see [`strict`]); an operation may
//! add a JSON Schema for its body and its query parameters, stated directly or taken from
//! an operation of an OpenAPI 3.x document.

pub mod openapi;
pub mod strict;

use std::collections::BTreeMap;

use jsonschema::error::ValidationErrorKind;
use jsonschema::Validator;
use serde_json::{Map, Value};

/// One rule a request broke, in words a partner's developer can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Where: `body.Data.Initiation.InstructedAmount.Amount`, `query.fromBookingDateTime`.
    pub field: String,
    /// Which rule: a JSON Schema keyword (`maxLength`, `additionalProperties`) or one of the
    /// gateway's own (`duplicate_key`, `max_depth`, `number_range`, `json`, `content_type`).
    pub rule: String,
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} ({})", self.field, self.message, self.rule)
    }
}

/// Whether a media type (a `Content-Type` value, parameters allowed) is JSON:
/// `application/json` or any `+json` type, in any letter case.
pub fn is_json_media(media: &str) -> bool {
    let essence = media.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
        || essence
            .get(essence.len().saturating_sub(5)..)
            .is_some_and(|suffix| suffix.eq_ignore_ascii_case("+json"))
}

/// The JSON type a query parameter's schema declares, so `?limit=10` validates as a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScalarType {
    String,
    Integer,
    Number,
    Boolean,
}

/// Compiled schemas of one operation.
pub struct RequestSchemas {
    body: Option<Validator>,
    query: Option<QuerySchema>,
}

struct QuerySchema {
    validator: Validator,
    types: BTreeMap<String, ScalarType>,
    /// Whether a request without query parameters passes: the same answer for every such
    /// request (most GETs), so decided once.
    empty_valid: bool,
}

/// Where an operation's schemas come from, already loaded.
pub enum SchemaSource {
    /// A JSON Schema for the body (draft detected from `$schema`, 2020-12 by default) and
    /// optionally one for the query parameters as an object of strings/numbers/booleans.
    JsonSchema {
        body: Option<Value>,
        query: Option<Value>,
    },
    /// An operation of an OpenAPI 3.0 or 3.1 document, by `operationId`.
    OpenApi {
        document: Value,
        operation_id: String,
    },
}

impl RequestSchemas {
    pub fn compile(source: &SchemaSource) -> Result<Self, String> {
        match source {
            SchemaSource::JsonSchema { body, query } => Ok(Self {
                body: body.as_ref().map(|s| build(s, "body schema")).transpose()?,
                query: query.as_ref().map(QuerySchema::compile).transpose()?,
            }),
            SchemaSource::OpenApi {
                document,
                operation_id,
            } => {
                let op = openapi::extract(document, operation_id)?;
                Ok(Self {
                    body: op
                        .body
                        .as_ref()
                        .map(|s| build(s, "body schema"))
                        .transpose()?,
                    query: op.query.as_ref().map(QuerySchema::compile).transpose()?,
                })
            }
        }
    }

    pub fn validates_body(&self) -> bool {
        self.body.is_some()
    }

    /// Validates a parsed body; the first violation, by field.
    pub fn check_body(&self, body: &Value) -> Result<(), Violation> {
        match &self.body {
            Some(v) => first_error(v, body, "body"),
            None => Ok(()),
        }
    }

    /// Validates the raw query string (`a=1&b=x`, or empty).
    pub fn check_query(&self, raw_query: Option<&str>) -> Result<(), Violation> {
        let Some(schema) = &self.query else {
            return Ok(());
        };
        if schema.empty_valid && raw_query.is_none_or(str::is_empty) {
            return Ok(());
        }
        let mut object = Map::new();
        for (name, value) in form_urlencoded_pairs(raw_query.unwrap_or(""))? {
            if object.contains_key(&name) {
                return Err(Violation {
                    field: format!("query.{name}"),
                    rule: "duplicate_key".into(),
                    message: "repeated query parameter; send it once".into(),
                });
            }
            let typed = match schema.types.get(&name) {
                Some(t) => coerce(&name, &value, *t)?,
                None => Value::String(value),
            };
            object.insert(name, typed);
        }
        first_error(&schema.validator, &Value::Object(object), "query")
    }
}

impl QuerySchema {
    fn compile(schema: &Value) -> Result<Self, String> {
        // The properties may sit at the top or, for schemas taken from OpenAPI, one
        // `allOf` down.
        let properties = schema.get("properties").or_else(|| {
            schema
                .get("allOf")
                .and_then(|all| all.get(0))
                .and_then(|s| s.get("properties"))
        });
        let types = properties
            .and_then(Value::as_object)
            .map(|props| {
                props
                    .iter()
                    .map(|(name, s)| {
                        let t = match s.get("type").and_then(Value::as_str) {
                            Some("integer") => ScalarType::Integer,
                            Some("number") => ScalarType::Number,
                            Some("boolean") => ScalarType::Boolean,
                            _ => ScalarType::String,
                        };
                        (name.clone(), t)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let validator = build(schema, "query schema")?;
        Ok(Self {
            empty_valid: validator.is_valid(&Value::Object(Map::new())),
            validator,
            types,
        })
    }
}

fn build(schema: &Value, what: &str) -> Result<Validator, String> {
    // The `regex` engine matches in linear time: a schema's `pattern` can then never be
    // made to backtrack by a hostile value.
    jsonschema::options()
        .should_validate_formats(true)
        .with_pattern_options(jsonschema::PatternOptions::regex())
        .build(schema)
        .map_err(|e| format!("{what}: not a usable JSON Schema: {e}"))
}

fn first_error(validator: &Validator, instance: &Value, root: &str) -> Result<(), Violation> {
    // The yes-or-no check builds no error objects; only a failing instance needs them.
    if validator.is_valid(instance) {
        return Ok(());
    }
    match validator.iter_errors(instance).next() {
        None => Ok(()),
        Some(error) => {
            let pointer = error.instance_path().to_string();
            let mut field = root.to_string();
            for segment in pointer.split('/').skip(1) {
                field.push('.');
                field.push_str(&segment.replace("~1", "/").replace("~0", "~"));
            }
            // These rules fail at the parent object; name the member itself.
            let member = match error.kind() {
                ValidationErrorKind::AdditionalProperties { unexpected } => {
                    unexpected.first().cloned()
                }
                ValidationErrorKind::Required { property } => property.as_str().map(str::to_string),
                _ => None,
            };
            if let Some(member) = member {
                field.push('.');
                field.push_str(&member);
            }
            // The message may quote the offending value; a partner's own input, but no
            // reason to echo megabytes of it.
            let mut message = error.to_string();
            if message.len() > 300 {
                let cut = (0..=300)
                    .rev()
                    .find(|&i| message.is_char_boundary(i))
                    .unwrap_or(0);
                message.truncate(cut);
                message.push_str("...");
            }
            Err(Violation {
                field,
                rule: error.kind().keyword().to_string(),
                message,
            })
        }
    }
}

fn coerce(name: &str, value: &str, t: ScalarType) -> Result<Value, Violation> {
    let bad = |expected: &str| Violation {
        field: format!("query.{name}"),
        rule: "type".into(),
        message: format!("{value:?} is not {expected}"),
    };
    Ok(match t {
        ScalarType::String => Value::String(value.to_string()),
        ScalarType::Integer => Value::from(value.parse::<i64>().map_err(|_| bad("an integer"))?),
        ScalarType::Number => value
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| bad("a number"))?,
        ScalarType::Boolean => match value {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(bad("true or false")),
        },
    })
}

/// Decodes query pairs by RFC 3986 percent-decoding. `+` stays `+`: clients write time-zone
/// offsets such as `+01:00` unencoded, and reading it as a space would refuse them. Invalid
/// percent-encoding or UTF-8 is a violation rather than a silent replacement character.
fn form_urlencoded_pairs(raw: &str) -> Result<Vec<(String, String)>, Violation> {
    let decode = |part: &str| -> Result<String, Violation> {
        let bytes = percent_decode(part).ok_or_else(|| Violation {
            field: "query".into(),
            rule: "encoding".into(),
            message: format!("{part:?} has invalid percent-encoding"),
        })?;
        String::from_utf8(bytes).map_err(|_| Violation {
            field: "query".into(),
            rule: "encoding".into(),
            message: format!("{part:?} is not UTF-8 once decoded"),
        })
    };
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode(name)?, decode(value)?))
        })
        .collect()
}

fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            let text = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(text, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests;
