//! The route table: method and path template to an API operation and the scope it needs.

use std::sync::Arc;

use http::Method;
use portcullis_policy::{RequestSchemas, SchemaSource};

/// The request side of the demo bank's API, which the demo routes validate against.
pub const DEMO_BANK_OPENAPI: &str = include_str!("../openapi/demo-bank.json");

/// One operation of a published API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// Stable name, used in logs, metrics and audit (e.g. `getAccountBalances`).
    pub id: String,
    pub method: Method,
    /// Template such as `/accounts/{account_id}/balances`.
    pub path: String,
    /// The scope a token needs for this operation.
    pub scope: String,
    /// Payment-style operations must carry an `Idempotency-Key` header.
    pub requires_idempotency_key: bool,
    /// JSON Schemas for the body and query, when the operation names any.
    pub schemas: Option<Schemas>,
    segments: Vec<Segment>,
    /// `id` as the upstream's `x-portcullis-operation` value, made once.
    id_header: Option<http::HeaderValue>,
}

/// Compiled request schemas, shared; equal when they are the same compilation.
#[derive(Clone)]
pub struct Schemas(pub Arc<RequestSchemas>);

impl PartialEq for Schemas {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Schemas {}

impl std::fmt::Debug for Schemas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Schemas(..)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("route {path:?}: {detail}")]
pub struct RouteError {
    pub path: String,
    pub detail: String,
}

impl Operation {
    /// The operation's id as a header value; `None` only for an id no header can carry.
    pub fn id_header(&self) -> Option<&http::HeaderValue> {
        self.id_header.as_ref()
    }

    pub fn new(
        id: &str,
        method: Method,
        path: &str,
        scope: &str,
        requires_idempotency_key: bool,
    ) -> Result<Self, RouteError> {
        let err = |detail: &str| RouteError {
            path: path.to_string(),
            detail: detail.to_string(),
        };
        if !path.starts_with('/') {
            return Err(err("must start with /"));
        }
        let mut segments = Vec::new();
        for part in path[1..].split('/') {
            if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    return Err(err("parameter names are letters, digits and _"));
                }
                segments.push(Segment::Param(name.to_string()));
            } else if !is_canonical_segment(part) {
                return Err(err(
                    "segments must be non-empty, not . or .., and use only unreserved characters",
                ));
            } else {
                segments.push(Segment::Literal(part.to_string()));
            }
        }
        if scope.is_empty() || scope.contains(' ') {
            return Err(err("scope must be one non-empty word"));
        }
        Ok(Self {
            id: id.to_string(),
            id_header: http::HeaderValue::from_str(id).ok(),
            method,
            path: path.to_string(),
            scope: scope.to_string(),
            requires_idempotency_key,
            schemas: None,
            segments,
        })
    }

    pub fn with_schemas(mut self, schemas: RequestSchemas) -> Self {
        self.schemas = Some(Schemas(Arc::new(schemas)));
        self
    }
}

/// RFC 3986 unreserved characters: the only ones allowed in a path segment, so encoded
/// slashes, dot segments and other normalization tricks never reach the upstream.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// A non-empty segment of unreserved characters that is not a dot segment.
fn is_canonical_segment(segment: &str) -> bool {
    !segment.is_empty() && segment != "." && segment != ".." && segment.bytes().all(is_unreserved)
}

/// The outcome of matching a request path.
#[derive(Debug, PartialEq, Eq)]
pub enum RouteMatch<'t, 'p> {
    Found {
        operation: &'t Operation,
        params: Vec<(&'t str, &'p str)>,
    },
    /// The path exists but not for this method.
    MethodNotAllowed {
        allowed: Vec<Method>,
    },
    NotFound,
    /// The path is not in canonical form (dot segments, empty segments, escapes).
    Invalid,
}

#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    operations: Vec<Operation>,
}

impl RouteTable {
    /// Builds the table. Templates that differ only in parameter names are duplicates;
    /// where a literal and a parameter overlap (`/a/me` and `/a/{id}`), the literal wins
    /// whatever the order given, because operations are kept most specific first.
    pub fn new(mut operations: Vec<Operation>) -> Result<Self, RouteError> {
        let shape = |op: &Operation| -> Vec<Option<String>> {
            op.segments
                .iter()
                .map(|s| match s {
                    Segment::Literal(l) => Some(l.clone()),
                    Segment::Param(_) => None,
                })
                .collect()
        };
        for (i, a) in operations.iter().enumerate() {
            if let Some(b) = operations[..i]
                .iter()
                .find(|b| b.method == a.method && shape(b) == shape(a))
            {
                return Err(RouteError {
                    path: a.path.clone(),
                    detail: format!("duplicates operation {}", b.id),
                });
            }
        }
        // Literal segments sort before parameters, position by position.
        operations.sort_by_key(|op| {
            op.segments
                .iter()
                .map(|s| matches!(s, Segment::Param(_)))
                .collect::<Vec<bool>>()
        });
        Ok(Self { operations })
    }

    /// The demo bank API of DESIGN.md.
    pub fn demo_bank() -> Self {
        let ops = [
            (
                "listAccounts",
                Method::GET,
                "/accounts",
                "accounts:read",
                false,
            ),
            (
                "getAccount",
                Method::GET,
                "/accounts/{account_id}",
                "accounts:read",
                false,
            ),
            (
                "getAccountBalances",
                Method::GET,
                "/accounts/{account_id}/balances",
                "balances:read",
                false,
            ),
            (
                "getAccountTransactions",
                Method::GET,
                "/accounts/{account_id}/transactions",
                "transactions:read",
                false,
            ),
            (
                "getCustomerKyc",
                Method::GET,
                "/customers/{customer_id}/kyc",
                "kyc:read",
                false,
            ),
            (
                "createPayment",
                Method::POST,
                "/payments",
                "payments:write",
                true,
            ),
        ];
        let document: Option<serde_json::Value> = serde_json::from_str(DEMO_BANK_OPENAPI).ok();
        let operations = ops
            .into_iter()
            .filter_map(|(id, m, p, s, idem)| {
                let op = Operation::new(id, m, p, s, idem).ok()?;
                let source = SchemaSource::OpenApi {
                    document: document.clone()?,
                    operation_id: id.to_string(),
                };
                Some(match RequestSchemas::compile(&source) {
                    Ok(schemas) => op.with_schemas(schemas),
                    Err(_) => op,
                })
            })
            .collect();
        Self::new(operations).unwrap_or_default()
    }

    pub fn operations(&self) -> &[Operation] {
        &self.operations
    }

    /// Every scope some operation requires, sorted and unique.
    pub fn scopes(&self) -> Vec<String> {
        let mut scopes: Vec<String> = self.operations.iter().map(|o| o.scope.clone()).collect();
        scopes.sort();
        scopes.dedup();
        scopes
    }

    pub fn find<'t, 'p>(&'t self, method: &Method, path: &'p str) -> RouteMatch<'t, 'p> {
        let Some(rest) = path.strip_prefix('/') else {
            return RouteMatch::Invalid;
        };
        let parts: Vec<&str> = rest.split('/').collect();
        if parts.iter().any(|p| !is_canonical_segment(p)) {
            return RouteMatch::Invalid;
        }
        let mut allowed = Vec::new();
        for op in &self.operations {
            if op.segments.len() != parts.len() {
                continue;
            }
            let mut params = Vec::new();
            let matched = op.segments.iter().zip(&parts).all(|(seg, part)| match seg {
                Segment::Literal(lit) => lit == part,
                Segment::Param(name) => {
                    params.push((name.as_str(), *part));
                    true
                }
            });
            if !matched {
                continue;
            }
            if op.method == method {
                return RouteMatch::Found {
                    operation: op,
                    params,
                };
            }
            allowed.push(op.method.clone());
        }
        if allowed.is_empty() {
            RouteMatch::NotFound
        } else {
            RouteMatch::MethodNotAllowed { allowed }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_templates_and_methods() {
        let t = RouteTable::demo_bank();
        // The embedded OpenAPI document compiles for every operation: a schema that failed
        // would otherwise leave its operation unvalidated without a word.
        for op in t.operations() {
            assert!(op.schemas.is_some(), "{} has no request schemas", op.id);
        }
        assert_eq!(t.operations().len(), 6);
        match t.find(&Method::GET, "/accounts/acc-1/balances") {
            RouteMatch::Found { operation, params } => {
                assert_eq!(operation.scope, "balances:read");
                assert_eq!(params, vec![("account_id", "acc-1")]);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            t.find(&Method::POST, "/payments"),
            RouteMatch::Found { .. }
        ));
        assert_eq!(
            t.find(&Method::DELETE, "/payments"),
            RouteMatch::MethodNotAllowed {
                allowed: vec![Method::POST]
            }
        );
        assert_eq!(t.find(&Method::GET, "/nope"), RouteMatch::NotFound);
        assert_eq!(
            t.find(&Method::GET, "/accounts/a/b/c/d"),
            RouteMatch::NotFound
        );
    }

    #[test]
    fn refuses_non_canonical_paths() {
        let t = RouteTable::demo_bank();
        for path in [
            "/accounts/../customers/x/kyc",
            "/accounts/./x",
            "/accounts//x",
            "/accounts/x/",
            "/accounts/%2e%2e/x",
            "/accounts/a%2Fb",
            "accounts",
            "/accounts/é",
        ] {
            assert_eq!(t.find(&Method::GET, path), RouteMatch::Invalid, "{path}");
        }
    }

    #[test]
    fn rejects_bad_definitions() {
        assert!(Operation::new("x", Method::GET, "accounts", "s", false).is_err());
        assert!(Operation::new("x", Method::GET, "/a/{}", "s", false).is_err());
        assert!(Operation::new("x", Method::GET, "/a/../b", "s", false).is_err());
        assert!(Operation::new("x", Method::GET, "/a/./b", "s", false).is_err());
        assert!(Operation::new("x", Method::GET, "/a", "two words", false).is_err());
        let a = Operation::new("a", Method::GET, "/a/{x}", "s", false).unwrap();
        let b = Operation::new("b", Method::GET, "/a/{y}", "s", false).unwrap();
        assert!(RouteTable::new(vec![a.clone(), b]).is_err());
        // A literal beats an overlapping parameter regardless of order.
        let me = Operation::new("me", Method::GET, "/a/me", "t", false).unwrap();
        let table = RouteTable::new(vec![a, me]).unwrap();
        match table.find(&Method::GET, "/a/me") {
            RouteMatch::Found { operation, .. } => assert_eq!(operation.id, "me"),
            other => panic!("{other:?}"),
        }
        match table.find(&Method::GET, "/a/other") {
            RouteMatch::Found { operation, .. } => assert_eq!(operation.id, "a"),
            other => panic!("{other:?}"),
        }
    }
}
