//! `fieldValidation` at the HTTP edge: bodies of creates and updates are parsed with their
//! kind's field schema; patch bodies are checked for duplicate keys; what is found becomes a
//! 400 (`Strict`) or `Warning` headers (`Warn`, the default).

use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use rudder_api::status::ApiError;
use serde_json::Value;

use super::request::{is_yaml, yaml_to_json};
use crate::registry::Resource;
use crate::registry::fields::{self, FieldIssues, FieldValidation, SchemaRef};

/// The field schema of a resource's kind (a custom resource's from its version's schema).
pub(super) async fn schema_for(res: &Resource) -> Option<SchemaRef<'static>> {
    if let Some(schema) = res.strategy.field_schema() {
        return Some(schema);
    }
    crate::openapi::field_schemas()
        .await
        .root(&res.info.api_version(), res.info.kind)
}

/// Decodes the body of a create or update (JSON checked field by field; protobuf bodies cannot
/// carry unknown fields). Unknown fields are dropped; problems go to `warnings` or fail the
/// request under `Strict`, as upstream's create and update handlers do.
pub(super) async fn decode_object(
    headers: &HeaderMap,
    body: &[u8],
    res: &Resource,
    validation: FieldValidation,
    warnings: &mut Vec<String>,
) -> Result<Value, ApiError> {
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let converted;
    let body = if is_yaml(content_type) {
        converted = yaml_to_json(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML request body: {e}")))?;
        converted.as_slice()
    } else if !super::resource::is_json(headers) {
        return super::resource::decode_body(headers, body);
    } else {
        body
    };
    checked(body, res, validation, warnings, "error decoding request body").await
}

/// Decodes a server-side apply configuration (JSON, or YAML as upstream accepts) with the same
/// unknown and duplicate field checks as a create.
pub(super) async fn decode_apply(
    body: &[u8],
    res: &Resource,
    validation: FieldValidation,
    warnings: &mut Vec<String>,
) -> Result<Value, ApiError> {
    let trimmed = body.iter().find(|b| !b.is_ascii_whitespace());
    let converted;
    let body = if trimmed == Some(&b'{') {
        body
    } else {
        converted =
            yaml_to_json(body).map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
        converted.as_slice()
    };
    checked(body, res, validation, warnings, "error decoding patch").await
}

async fn checked(
    body: &[u8],
    res: &Resource,
    validation: FieldValidation,
    warnings: &mut Vec<String>,
    what: &str,
) -> Result<Value, ApiError> {
    let schema = schema_for(res).await;
    let (value, issues) =
        fields::parse(body, schema).map_err(|e| ApiError::bad_request(format!("{what}: {e}")))?;
    if !issues.is_empty() {
        match validation {
            FieldValidation::Strict => {
                let kind = res.info.kind;
                return Err(ApiError::bad_request(format!(
                    "{kind} in version \"{}\" cannot be handled as a {kind}: {}",
                    res.info.version,
                    issues.strict_message()
                )));
            }
            FieldValidation::Warn => warnings.extend(issues.0),
            FieldValidation::Ignore => {}
        }
    }
    Ok(value)
}

/// Decodes a merge or strategic-merge patch body, returning the duplicate keys found.
pub(super) fn decode_patch(
    body: &[u8],
    validation: FieldValidation,
) -> Result<(Value, FieldIssues), ApiError> {
    let (value, issues) =
        fields::parse(body, None).map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
    let issues = match validation {
        FieldValidation::Ignore => FieldIssues::default(),
        _ => issues,
    };
    Ok((value, issues))
}

/// Adds one `Warning: 299 - "<text>"` header per warning (duplicates once).
pub(super) fn with_warnings(mut response: Response, warnings: &[String]) -> Response {
    let mut seen = std::collections::HashSet::new();
    for warning in warnings {
        if !seen.insert(warning) {
            continue;
        }
        if let Ok(value) = HeaderValue::from_str(&fields::warning_header(warning)) {
            response.headers_mut().append("warning", value);
        }
    }
    response
}
