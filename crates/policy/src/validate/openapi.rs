//! Takes one operation's request schemas out of an OpenAPI 3.0 or 3.1 document, so an
//! operator can point the gateway at the API description they already publish.

use serde_json::{json, Map, Value};

/// The JSON Schemas of one operation, each a standalone document whose local `$ref`s
/// (`#/components/...`) resolve because the document's components travel with it.
#[derive(Debug)]
pub struct OpenApiOperation {
    pub body: Option<Value>,
    pub query: Option<Value>,
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

pub fn extract(document: &Value, operation_id: &str) -> Result<OpenApiOperation, String> {
    let version = document
        .get("openapi")
        .and_then(Value::as_str)
        .ok_or("not an OpenAPI 3 document: no \"openapi\" version field")?;
    let legacy = if version.starts_with("3.0") {
        true
    } else if version.starts_with("3.1") {
        false
    } else {
        return Err(format!(
            "OpenAPI version {version:?} is not supported; use 3.0.x or 3.1.x"
        ));
    };
    let (path_item, operation) = find_operation(document, operation_id)?;
    let components = document.get("components").cloned().unwrap_or(json!({}));
    let wrap = |schema: Value| standalone(schema, &components, legacy);

    let body = match operation.get("requestBody") {
        None => None,
        Some(body) => {
            let body = resolve(document, body)?;
            let content = body.get("content").and_then(Value::as_object);
            let schema = content.and_then(|c| {
                c.iter()
                    .find(|(media, _)| super::is_json_media(media))
                    .and_then(|(_, m)| m.get("schema"))
            });
            match schema {
                Some(schema) => Some(wrap(schema.clone())),
                None => {
                    return Err(format!(
                        "operation {operation_id:?}: requestBody has no application/json schema"
                    ))
                }
            }
        }
    };

    let mut properties = Map::new();
    let mut required = Vec::new();
    let parameters = path_item
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .chain(
            operation
                .get("parameters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        );
    for parameter in parameters {
        let parameter = resolve(document, parameter)?;
        if parameter.get("in").and_then(Value::as_str) != Some("query") {
            continue;
        }
        let Some(name) = parameter.get("name").and_then(Value::as_str) else {
            return Err(format!(
                "operation {operation_id:?}: a query parameter has no name"
            ));
        };
        let schema = parameter.get("schema").cloned().unwrap_or(json!({}));
        properties.insert(name.to_string(), schema);
        if parameter.get("required").and_then(Value::as_bool) == Some(true) {
            required.push(Value::String(name.to_string()));
        }
    }
    // Undeclared query parameters are refused: what the API does not describe, it does not
    // take.
    let query = Some(wrap(json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })));
    Ok(OpenApiOperation { body, query })
}

fn find_operation<'d>(
    document: &'d Value,
    operation_id: &str,
) -> Result<(&'d Value, &'d Value), String> {
    let paths = document
        .get("paths")
        .and_then(Value::as_object)
        .ok_or("the OpenAPI document has no paths")?;
    for item in paths.values() {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                if op.get("operationId").and_then(Value::as_str) == Some(operation_id) {
                    return Ok((item, op));
                }
            }
        }
    }
    Err(format!(
        "no operation with operationId {operation_id:?} in the OpenAPI document"
    ))
}

/// Follows a local `$ref` (`#/components/requestBodies/X`), a few levels at most.
fn resolve<'d>(document: &'d Value, mut node: &'d Value) -> Result<&'d Value, String> {
    for _ in 0..8 {
        let Some(reference) = node.get("$ref").and_then(Value::as_str) else {
            return Ok(node);
        };
        let pointer = reference.strip_prefix('#').ok_or_else(|| {
            format!("$ref {reference:?}: only local references (#/...) are supported")
        })?;
        node = document
            .pointer(pointer)
            .ok_or_else(|| format!("$ref {reference:?} points at nothing in the document"))?;
    }
    Err("$ref chain too long (more than 8 hops)".into())
}

fn standalone(schema: Value, components: &Value, legacy: bool) -> Value {
    let (dialect, mut schema, mut components) = if legacy {
        (
            "http://json-schema.org/draft-04/schema#",
            nullable_to_type(schema),
            nullable_to_type(components.clone()),
        )
    } else {
        (
            "https://json-schema.org/draft/2020-12/schema",
            schema,
            components.clone(),
        )
    };
    if schema.is_null() {
        schema = json!({});
    }
    if components.is_null() {
        components = json!({});
    }
    json!({ "$schema": dialect, "allOf": [schema], "components": components })
}

/// OpenAPI 3.0's `nullable: true` is not JSON Schema; as `type: [T, "null"]` it is.
fn nullable_to_type(value: Value) -> Value {
    match value {
        Value::Object(mut map) => {
            // Only the boolean keyword; a property that happens to be called `nullable`
            // (under `properties`) is an object and stays.
            if let Some(Value::Bool(nullable)) = map.get("nullable").cloned() {
                map.remove("nullable");
                if let (true, Some(Value::String(t))) = (nullable, map.get("type").cloned()) {
                    map.insert("type".into(), json!([t, "null"]));
                }
            }
            Value::Object(
                map.into_iter()
                    .map(|(k, v)| (k, nullable_to_type(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(nullable_to_type).collect()),
        other => other,
    }
}
