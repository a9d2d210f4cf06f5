//! Open Banking error responses (`OBErrorResponse1`).

use http::StatusCode;
use serde::Serialize;

/// The OB `ErrorCode` values this server uses (from the OB v3.1 `OBErrorResponse1` enum).
pub(crate) mod code {
    pub(crate) const FIELD_INVALID: &str = "UK.OBIE.Field.Invalid";
    pub(crate) const FIELD_INVALID_DATE: &str = "UK.OBIE.Field.InvalidDate";
    pub(crate) const FIELD_MISSING: &str = "UK.OBIE.Field.Missing";
    pub(crate) const HEADER_INVALID: &str = "UK.OBIE.Header.Invalid";
    pub(crate) const HEADER_MISSING: &str = "UK.OBIE.Header.Missing";
    pub(crate) const RESOURCE_INVALID_FORMAT: &str = "UK.OBIE.Resource.InvalidFormat";
    pub(crate) const RESOURCE_NOT_FOUND: &str = "UK.OBIE.Resource.NotFound";
    pub(crate) const UNSUPPORTED_SCHEME: &str = "UK.OBIE.Unsupported.Scheme";
    /// The enum has nothing closer for a wrong method; OB leaves 405 bodies unspecified.
    pub(crate) const UNEXPECTED_ERROR: &str = "UK.OBIE.UnexpectedError";
}

/// One entry of `Errors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ErrorDetail {
    pub(crate) error_code: &'static str,
    pub(crate) message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) path: Option<String>,
}

impl ErrorDetail {
    pub(crate) fn new(error_code: &'static str, message: impl Into<String>) -> Self {
        Self {
            error_code,
            message: message.into(),
            path: None,
        }
    }

    pub(crate) fn at(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }
}

/// An error response: the status plus one or more details.
#[derive(Debug, Clone)]
pub(crate) struct ObError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
    pub(crate) errors: Vec<ErrorDetail>,
    /// The `Allow` header value, for 405 responses.
    pub(crate) allow: Option<&'static str>,
}

impl ObError {
    pub(crate) fn new(
        status: StatusCode,
        message: impl Into<String>,
        errors: Vec<ErrorDetail>,
    ) -> Self {
        Self {
            status,
            message: message.into(),
            errors,
            allow: None,
        }
    }

    /// An error with a single detail whose message is also the top-level message.
    pub(crate) fn single(status: StatusCode, detail: ErrorDetail) -> Self {
        Self::new(status, detail.message.clone(), vec![detail])
    }

    pub(crate) fn not_found(what: &str) -> Self {
        Self::single(
            StatusCode::NOT_FOUND,
            ErrorDetail::new(code::RESOURCE_NOT_FOUND, format!("{what} not found")),
        )
    }

    pub(crate) fn method_not_allowed(allowed: &'static str) -> Self {
        let mut err = Self::single(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorDetail::new(
                code::UNEXPECTED_ERROR,
                format!("Method not allowed on this resource; allowed: {allowed}"),
            ),
        );
        err.allow = Some(allowed);
        err
    }

    /// A 500 for a bug on our side; the detail stays out of the response.
    pub(crate) fn internal() -> Self {
        Self::single(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorDetail::new(code::UNEXPECTED_ERROR, "Internal error"),
        )
    }

    /// A 400 for a request that failed validation, one detail per problem.
    pub(crate) fn bad_request(errors: Vec<ErrorDetail>) -> Self {
        let message = match errors.as_slice() {
            [only] => only.message.clone(),
            _ => format!("{} problems with the request", errors.len()),
        };
        Self::new(StatusCode::BAD_REQUEST, message, errors)
    }

    /// The JSON body. `id` identifies this error occurrence (the interaction id or a UUID).
    pub(crate) fn to_json(&self, id: &str) -> Vec<u8> {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Body<'a> {
            code: &'a str,
            id: &'a str,
            message: &'a str,
            errors: &'a [ErrorDetail],
        }
        let body = Body {
            code: self.status.as_str(),
            id,
            message: &self.message,
            errors: &self.errors,
        };
        // Serialising plain strings cannot fail; a fixed body keeps this total anyway.
        serde_json::to_vec(&body).unwrap_or_else(|_| {
            br#"{"Code":"500","Id":"","Message":"error","Errors":[{"ErrorCode":"UK.OBIE.UnexpectedError","Message":"error"}]}"#.to_vec()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_the_ob_shape() {
        let err = ObError::single(
            StatusCode::BAD_REQUEST,
            ErrorDetail::new(code::FIELD_MISSING, "CreditorAccount is required")
                .at("Data.Initiation.CreditorAccount"),
        );
        let json: serde_json::Value = serde_json::from_slice(&err.to_json("abc")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "Code": "400",
                "Id": "abc",
                "Message": "CreditorAccount is required",
                "Errors": [{
                    "ErrorCode": "UK.OBIE.Field.Missing",
                    "Message": "CreditorAccount is required",
                    "Path": "Data.Initiation.CreditorAccount"
                }]
            })
        );
    }

    #[test]
    fn path_is_omitted_when_absent() {
        let json: serde_json::Value =
            serde_json::from_slice(&ObError::not_found("Account").to_json("x")).unwrap();
        assert_eq!(json["Code"], "404");
        assert!(json["Errors"][0].get("Path").is_none());
        assert_eq!(json["Errors"][0]["ErrorCode"], "UK.OBIE.Resource.NotFound");
    }

    #[test]
    fn several_problems_are_summarised() {
        let err = ObError::bad_request(vec![
            ErrorDetail::new(code::FIELD_INVALID, "a"),
            ErrorDetail::new(code::FIELD_INVALID, "b"),
        ]);
        assert_eq!(err.message, "2 problems with the request");
    }
}
