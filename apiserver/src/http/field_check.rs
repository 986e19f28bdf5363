//! `fieldValidation` at the HTTP edge: bodies of creates and updates are parsed with their
//! kind's field schema; patch bodies are checked for duplicate keys; what is found becomes a
//! 400 (`Strict`) or `Warning` headers (`Warn`, the default).

mod yaml_keys;

use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use rudder_api::status::ApiError;
use serde_json::Value;

use super::request::is_yaml;
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
    if is_yaml(content_type) {
        let (json, duplicates) = yaml_body(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML request body: {e}")))?;
        let what = "error decoding request body";
        return checked(&json, res, validation, warnings, what, &duplicates).await;
    }
    if !super::resource::is_json(headers) {
        return super::resource::decode_body(headers, body);
    }
    checked(
        body,
        res,
        validation,
        warnings,
        "error decoding request body",
        &[],
    )
    .await
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
    if trimmed == Some(&b'{') {
        return checked(body, res, validation, warnings, "error decoding patch", &[]).await;
    }
    let (json, duplicates) =
        yaml_body(body).map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
    // Upstream's apply patcher strict-decodes the YAML apart (sigs.k8s.io/yaml's
    // `UnmarshalStrict`, whose error carries the "error converting YAML to JSON" prefix).
    if !duplicates.is_empty() {
        match validation {
            FieldValidation::Strict => {
                return Err(ApiError::bad_request(format!(
                    "error strict decoding YAML: error converting YAML to JSON: {}",
                    yaml_unmarshal_errors(&duplicates)
                )));
            }
            FieldValidation::Warn => warnings.extend(duplicates),
            FieldValidation::Ignore => {}
        }
    }
    checked(&json, res, validation, warnings, "error decoding patch", &[]).await
}

/// A YAML body as JSON, the way upstream's non-strict `YAMLToJSON` converts it (a repeated key
/// keeps its last value), with the repeated keys as its strict pass reports them.
fn yaml_body(body: &[u8]) -> Result<(Vec<u8>, Vec<String>), String> {
    let text = std::str::from_utf8(body).map_err(|e| e.to_string())?;
    let options = serde_saphyr::options! {
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::LastWins,
    };
    let value: Value = serde_saphyr::from_str_with_options(text, options).map_err(|e| e.to_string())?;
    let json = serde_json::to_vec(&value).map_err(|e| e.to_string())?;
    Ok((json, yaml_keys::duplicate_keys(text)))
}

/// yaml.v2's `TypeError` text for repeated keys.
fn yaml_unmarshal_errors(duplicates: &[String]) -> String {
    format!("yaml: unmarshal errors:\n  {}", duplicates.join("\n  "))
}

/// Parses a JSON body against the kind's field schema. `yaml_duplicates` are the repeated keys
/// of the YAML it was converted from; upstream's strict YAML decoding reports them first, as one
/// error (`yaml: unmarshal errors:\n  line 4: key "a" already set in map`), and as one warning
/// per key under `Warn`.
async fn checked(
    body: &[u8],
    res: &Resource,
    validation: FieldValidation,
    warnings: &mut Vec<String>,
    what: &str,
    yaml_duplicates: &[String],
) -> Result<Value, ApiError> {
    let schema = schema_for(res).await;
    let (value, mut issues) =
        fields::parse(body, schema).map_err(|e| ApiError::bad_request(format!("{what}: {e}")))?;
    if !yaml_duplicates.is_empty() {
        match validation {
            FieldValidation::Strict => issues.0.insert(0, yaml_unmarshal_errors(yaml_duplicates)),
            FieldValidation::Warn => warnings.extend(yaml_duplicates.iter().cloned()),
            FieldValidation::Ignore => {}
        }
    }
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

/// Decodes a JSON patch (a list of operations). Unless `Ignore`, the list is strict-decoded as
/// upstream decodes it into `[]jsonPatchOp` (`op`, `path`, `from`, `value`): an operation's
/// unknown keys and any repeated key are reported with the prefix `json patch` (`json patch
/// unknown field "[0].foo"`); what the operations put into the object is checked once the patch
/// has applied, like any patched object.
pub(super) fn decode_json_patch(
    body: &[u8],
    validation: FieldValidation,
) -> Result<(Value, FieldIssues), ApiError> {
    let (value, duplicates) =
        fields::parse(body, None).map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
    if validation == FieldValidation::Ignore {
        return Ok((value, FieldIssues::default()));
    }
    let mut issues: Vec<String> = duplicates.0.iter().map(|i| format!("json patch {i}")).collect();
    if let Value::Array(ops) = &value {
        for (i, op) in ops.iter().enumerate() {
            let Value::Object(op) = op else { continue };
            let unknown = op
                .keys()
                .filter(|k| !matches!(k.as_str(), "op" | "path" | "from" | "value"));
            issues.extend(unknown.map(|k| format!("json patch unknown field \"[{i}].{k}\"")));
        }
    }
    Ok((value, FieldIssues(issues)))
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
