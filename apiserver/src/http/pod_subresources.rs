//! The create-only pod subresources: `pods/binding` (and the legacy `bindings` resource) and
//! `pods/eviction`. Both answer with a `Status` of success, as upstream.

use axum::http::{HeaderMap, StatusCode};
use rudder_api::status::ApiError;
use serde_json::Value;

use super::AppState;
use super::response::{ApiResult, json_value};
use crate::registry::Resource;
use crate::registry::eviction::Eviction;

/// POST of a `v1` `Binding`. `name` is the pod from the URL, or `None` for the legacy
/// `/api/v1/namespaces/<ns>/bindings`, which takes it from the body.
pub(super) async fn bind(
    state: &AppState,
    pods: &Resource,
    namespace: &str,
    name: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
    dry_run: bool,
) -> ApiResult {
    let binding = decode(headers, body, "Binding", "v1")?;
    check_namespace(&binding, namespace)?;
    let name = match name {
        Some(n) => n.to_string(),
        None => crate::registry::object::name(&binding)
            .unwrap_or_default()
            .to_string(),
    };
    state
        .registry
        .bind(pods, namespace, &name, &binding, dry_run)
        .await?;
    Ok(json_value(
        StatusCode::CREATED,
        &crate::registry::binding::success_status(),
    ))
}

/// POST of a `policy/v1` `Eviction` for pod `name`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn evict(
    state: &AppState,
    pods: &Resource,
    namespace: &str,
    name: &str,
    headers: &HeaderMap,
    body: &[u8],
    dry_run: bool,
) -> ApiResult {
    let budgets = state
        .registry
        .get_resource("policy", "v1", "poddisruptionbudgets")
        .ok_or_else(|| ApiError::internal("poddisruptionbudgets are not served"))?;
    let body = decode(headers, body, "Eviction", "policy/v1")?;
    check_namespace(&body, namespace)?;
    let eviction = Eviction::parse(&body, name, dry_run)?;
    state
        .registry
        .evict(pods, &budgets, namespace, name, &eviction)
        .await?;
    Ok(json_value(
        StatusCode::CREATED,
        &crate::registry::binding::success_status(),
    ))
}

/// Decodes the body of a create-only subresource and checks its type and namespace as the
/// generic create handler does.
fn decode(headers: &HeaderMap, body: &[u8], kind: &str, api_version: &str) -> Result<Value, ApiError> {
    let mut obj = super::resource::decode_body(headers, body)?;
    let Some(map) = obj.as_object_mut() else {
        return Err(ApiError::bad_request("the request body must be a JSON object"));
    };
    match map.get("kind").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("kind".into(), kind.into());
        }
        Some(k) if k == kind => {}
        Some(k) => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({kind})"
            )));
        }
    }
    match map.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("apiVersion".into(), api_version.into());
        }
        _ => {}
    }
    Ok(obj)
}

/// Refuses a body whose namespace differs from the URL's (upstream's create handler).
fn check_namespace(obj: &Value, namespace: &str) -> Result<(), ApiError> {
    match crate::registry::object::namespace(obj) {
        Some(ns) if ns != namespace => Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
        _ => Ok(()),
    }
}
