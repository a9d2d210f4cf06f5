use serde_json::json;

use super::*;

fn schemas(source: SchemaSource) -> RequestSchemas {
    RequestSchemas::compile(&source).unwrap()
}

fn payment_schema() -> Value {
    json!({
        "type": "object",
        "required": ["Data"],
        "additionalProperties": false,
        "properties": {
            "Data": {
                "type": "object",
                "additionalProperties": false,
                "required": ["Amount", "Currency"],
                "properties": {
                    "Amount": {"type": "string", "pattern": "^[0-9]{1,13}\\.[0-9]{2}$"},
                    "Currency": {"type": "string", "enum": ["GBP", "EUR"]}
                }
            }
        }
    })
}

#[test]
fn a_schema_violation_names_the_field_and_the_rule() {
    let s = schemas(SchemaSource::JsonSchema {
        body: Some(payment_schema()),
        query: None,
    });
    assert!(s
        .check_body(&json!({"Data": {"Amount": "10.00", "Currency": "GBP"}}))
        .is_ok());
    let v = s
        .check_body(&json!({"Data": {"Amount": "ten", "Currency": "GBP"}}))
        .unwrap_err();
    assert_eq!(
        (v.field.as_str(), v.rule.as_str()),
        ("body.Data.Amount", "pattern")
    );
    let v = s
        .check_body(&json!({"Data": {"Amount": "1.00", "Currency": "GBP", "Status": "Authorised"}}))
        .unwrap_err();
    assert_eq!(
        (v.field.as_str(), v.rule.as_str()),
        ("body.Data.Status", "additionalProperties")
    );
    assert!(v.message.contains("Status"), "{}", v.message);
    let v = s.check_body(&json!({})).unwrap_err();
    assert_eq!(
        (v.field.as_str(), v.rule.as_str()),
        ("body.Data", "required")
    );
}

#[test]
fn query_parameters_are_typed_from_their_schema() {
    let s = schemas(SchemaSource::JsonSchema {
        body: None,
        query: Some(json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {"limit": {"type": "integer", "maximum": 100}, "q": {"type": "string"}}
        })),
    });
    assert!(s.check_query(Some("limit=10&q=a%20b")).is_ok());
    // `+` is not a space: a raw time-zone offset reaches the schema as written.
    let plus = schemas(SchemaSource::JsonSchema {
        body: None,
        query: Some(
            json!({"properties": {"at": {"type": "string", "pattern": "^[0-9:]+[+][0-9:]+$"}}}),
        ),
    });
    assert!(plus.check_query(Some("at=10:00+01:00")).is_ok());
    assert!(s.check_query(None).is_ok());
    let v = s.check_query(Some("limit=1000")).unwrap_err();
    assert_eq!(
        (v.field.as_str(), v.rule.as_str()),
        ("query.limit", "maximum")
    );
    let v = s.check_query(Some("limit=ten")).unwrap_err();
    assert_eq!((v.field.as_str(), v.rule.as_str()), ("query.limit", "type"));
    let v = s.check_query(Some("admin=true")).unwrap_err();
    assert_eq!(
        (v.field.as_str(), v.rule.as_str()),
        ("query.admin", "additionalProperties")
    );
    let v = s.check_query(Some("q=a&q=b")).unwrap_err();
    assert_eq!(v.rule, "duplicate_key");
    let v = s.check_query(Some("q=%zz")).unwrap_err();
    assert_eq!(v.rule, "encoding");
    let v = s.check_query(Some("q=%+1")).unwrap_err();
    assert_eq!(v.rule, "encoding");
}

fn openapi(version: &str) -> Value {
    json!({
        "openapi": version,
        "info": {"title": "payments", "version": "1"},
        "paths": {
            "/payments": {
                "parameters": [{"$ref": "#/components/parameters/Dry"}],
                "post": {
                    "operationId": "createPayment",
                    "parameters": [{"name": "channel", "in": "query", "required": true, "schema": {"type": "string", "enum": ["web", "api"]}}],
                    "requestBody": {"$ref": "#/components/requestBodies/Payment"}
                }
            }
        },
        "components": {
            "parameters": {"Dry": {"name": "dry_run", "in": "query", "schema": {"type": "boolean"}}},
            "requestBodies": {"Payment": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Payment"}}}}},
            "schemas": {
                "Payment": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["Amount"],
                    "properties": {
                        "Amount": {"type": "string"},
                        "Reference": {"type": "string", "nullable": true, "maxLength": 18}
                    }
                }
            }
        }
    })
}

#[test]
fn an_openapi_operation_supplies_body_and_query_schemas() {
    for version in ["3.0.3", "3.1.0"] {
        let s = schemas(SchemaSource::OpenApi {
            document: openapi(version),
            operation_id: "createPayment".into(),
        });
        assert!(s
            .check_body(&json!({"Amount": "1.00", "Reference": "inv 1"}))
            .is_ok());
        let v = s.check_body(&json!({"Amount": 1})).unwrap_err();
        assert_eq!(
            (v.field.as_str(), v.rule.as_str()),
            ("body.Amount", "type"),
            "{version}"
        );
        let v = s
            .check_body(&json!({"Amount": "1.00", "Reference": "x".repeat(19)}))
            .unwrap_err();
        assert_eq!(v.rule, "maxLength", "{version}");
        let r = s.check_query(Some("channel=api&dry_run=true"));
        assert!(r.is_ok(), "{version} {r:?}");
        let v = s.check_query(Some("dry_run=true")).unwrap_err();
        assert_eq!(v.rule, "required", "{version}");
        // No query at all is checked too, not waved through as the common case.
        for empty in [None, Some("")] {
            let v = s.check_query(empty).unwrap_err();
            assert_eq!(
                (v.field.as_str(), v.rule.as_str()),
                ("query.channel", "required"),
                "{version}"
            );
        }
        let v = s.check_query(Some("channel=api&debug=1")).unwrap_err();
        assert_eq!(v.rule, "additionalProperties", "{version}");
    }
    // 3.0's nullable is honoured.
    let s = schemas(SchemaSource::OpenApi {
        document: openapi("3.0.3"),
        operation_id: "createPayment".into(),
    });
    assert!(s
        .check_body(&json!({"Amount": "1.00", "Reference": null}))
        .is_ok());
}

#[test]
fn openapi_mistakes_are_explained() {
    let e = |doc: Value, id: &str| {
        RequestSchemas::compile(&SchemaSource::OpenApi {
            document: doc,
            operation_id: id.into(),
        })
        .err()
        .unwrap()
    };
    assert!(e(openapi("3.0.3"), "nope").contains("no operation with operationId \"nope\""));
    assert!(e(openapi("2.0"), "createPayment").contains("3.0.x or 3.1.x"));
    let mut doc = openapi("3.1.0");
    doc["paths"]["/payments"]["post"]["requestBody"] =
        json!({"$ref": "#/components/requestBodies/Missing"});
    assert!(e(doc, "createPayment").contains("points at nothing"));
}

#[test]
fn json_media_types_are_recognised_in_any_case_with_parameters() {
    for yes in [
        "application/json",
        "Application/JSON; charset=utf-8",
        "application/problem+json",
        "application/vnd.api+JSON",
    ] {
        assert!(is_json_media(yes), "{yes}");
    }
    for no in [
        "text/plain",
        "application/jsonp",
        "application/x-json-stream",
        "",
        "json",
        "éjson",
    ] {
        assert!(!is_json_media(no), "{no}");
    }
}
