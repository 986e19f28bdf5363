//! The one handler behind every resource path: it resolves the resource from the table, maps the
//! HTTP method to a verb and calls the generic registry.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use rudder_api::status::ApiError;
use serde_json::Value;

use super::field_check;
use super::request::{ResourcePath, parse_resource_path, query_map};
use super::response::{ApiResult, list_response, negotiate, object_response, objects_list};
use super::write_params::{OptionsKind, WriteParams};
use super::{AppState, pod_subresources, watch};
use crate::registry::fields::FieldValidation;
use crate::registry::write::{PatchCheck, PatchType, WriteOptions};
use crate::registry::{ApplyRequest, DeleteOptions, ListParams, Resource};

/// Largest request body accepted, as upstream (3 MiB).
pub(crate) const MAX_BODY: usize = 3 * 1024 * 1024;

pub(crate) async fn handle(
    state: State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    user: Option<axum::Extension<crate::authn::UserInfo>>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    // Admission sees who writes; its warnings come back through the requester.
    let requester = user
        .map(|axum::Extension(u)| crate::admission::Requester::new(u))
        .unwrap_or_default();
    let watching = uri.path().contains("/watch/")
        || uri
            .query()
            .unwrap_or_default()
            .split('&')
            .any(|p| p == "watch=true" || p == "watch=1");
    // Handlers answer in JSON; `respond` negotiates protobuf and re-encodes.
    let app = state.0.clone();
    let path = uri.path().to_owned();
    super::protobuf::respond(&app, &path, headers, watching, |headers| {
        handle_json(state, method, uri, headers, body, requester)
    })
    .await
}

async fn handle_json(
    state: State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    requester: crate::admission::Requester,
) -> ApiResult {
    let admission_warnings = requester.warnings.clone();
    let response = handle_admitted(state, method, uri, headers, body, requester).await?;
    Ok(field_check::with_warnings(response, &admission_warnings.take()))
}

async fn handle_admitted(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    requester: crate::admission::Requester,
) -> ApiResult {
    let Some(path) = parse_resource_path(uri.path()) else {
        return Err(crate::errors::path_not_found().into());
    };
    if path.group.is_empty() && path.version == "v1" && path.resource == "bindings" {
        return legacy_bindings(&state, &path, &method, &uri, &headers, &body).await;
    }
    let res = state
        .registry
        .get_resource(&path.group, &path.version, &path.resource)
        .ok_or_else(crate::errors::path_not_found)?;
    if body.len() > MAX_BODY {
        return Err(ApiError::request_entity_too_large(&format!("limit is {MAX_BODY}")).into());
    }
    let query = query_map(uri.query());
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = negotiate(accept, query.get("includeObject").map(String::as_str))?;
    let namespace = path.namespace.as_deref();
    if res.info.namespaced && namespace.is_none() && path.name.is_some() {
        return Err(crate::errors::path_not_found().into());
    }
    let options_kind = match method {
        Method::POST => Some(OptionsKind::Create),
        Method::PUT => Some(OptionsKind::Update),
        Method::PATCH => Some(OptionsKind::Patch),
        Method::DELETE => Some(OptionsKind::Delete),
        _ => None,
    };
    let params = match options_kind {
        Some(kind) => Some(WriteParams::parse(&query, &headers, kind)?),
        None => None,
    };
    let dry_run = params.as_ref().is_some_and(|p| p.dry_run);
    let validation = params.as_ref().map_or(FieldValidation::Ignore, |p| p.validation);
    let mut write = WriteOptions {
        dry_run,
        manager: params.as_ref().map(|p| p.manager.clone()),
        subresource: "",
        requester,
    };
    let registry = &state.registry;
    let subresource = path.subresource.as_deref();
    let status = match subresource {
        None => false,
        Some("status") if res.info.subresource("status").is_some() => true,
        Some("scale") if res.info.subresource("scale").is_some() => {
            let name = path.name.as_deref().unwrap_or_default();
            return scale(&state, &res, namespace, name, &method, &headers, &body, &write).await;
        }
        Some("binding") if is_core_pods(&res) => {
            if method != Method::POST {
                return Err(method_not_allowed(&res, &method).into());
            }
            let (Some(ns), Some(name)) = (namespace, path.name.as_deref()) else {
                return Err(crate::errors::path_not_found().into());
            };
            return pod_subresources::bind(&state, &res, ns, Some(name), &headers, &body, dry_run).await;
        }
        Some("eviction") if is_core_pods(&res) => {
            if method != Method::POST {
                return Err(method_not_allowed(&res, &method).into());
            }
            let (Some(ns), Some(name)) = (namespace, path.name.as_deref()) else {
                return Err(crate::errors::path_not_found().into());
            };
            return pod_subresources::evict(&state, &res, ns, name, &headers, &body, dry_run).await;
        }
        // A CSR's /approval: get, update and (non-apply) patch of status.conditions only.
        Some("approval") if res.info.subresource("approval").is_some() => {
            let allowed = path.name.is_some()
                && (method == Method::GET
                    || method == Method::PUT
                    || (method == Method::PATCH && !is_apply(&headers)));
            if !allowed {
                return Err(method_not_allowed(&res, &method).into());
            }
            write.subresource = "approval";
            false
        }
        Some("finalize") if res.info.group.is_empty() && res.info.plural == "namespaces" => {
            if method != Method::PUT {
                return Err(method_not_allowed(&res, &method).into());
            }
            let Some(name) = path.name.as_deref() else {
                return Err(crate::errors::path_not_found().into());
            };
            let mut warnings = Vec::new();
            let obj = field_check::decode_object(&headers, &body, &res, validation, &mut warnings).await?;
            let write = WriteOptions {
                subresource: "finalize",
                ..write
            };
            let updated = registry.update(&res, None, name, obj, false, &write).await?;
            let response = object_response(&res, &updated, format, StatusCode::OK);
            return Ok(field_check::with_warnings(response, &warnings));
        }
        Some(_) => return subresource_not_served(&res, &path),
    };
    let verb_allowed = |verb: &str| res.info.verbs.contains(&verb) || status;

    match (method, path.name.as_deref()) {
        (Method::GET, None) => {
            let watching =
                path.watch_prefix || matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
            let mut params = ListParams::parse(
                &res,
                query.get("labelSelector").map(String::as_str),
                query.get("fieldSelector").map(String::as_str),
            )?;
            params.resource_version = query.get("resourceVersion").cloned();
            params.resource_version_match = query.get("resourceVersionMatch").cloned();
            if watching {
                require(&res, "watch", verb_allowed("watch"))?;
                return watch::serve(
                    state.clone(),
                    res,
                    namespace.map(str::to_string),
                    params,
                    &query,
                    format,
                );
            }
            require(&res, "list", verb_allowed("list"))?;
            params.limit = query.get("limit").and_then(|l| l.parse().ok());
            params.continue_token = query.get("continue").filter(|c| !c.is_empty()).cloned();
            let list = registry.list(&res, namespace, &params).await?;
            Ok(list_response(&res, &list, format))
        }
        (Method::GET, Some(name)) => {
            require(&res, "get", verb_allowed("get"))?;
            let obj = registry.get(&res, namespace, name).await?;
            Ok(object_response(&res, &obj, format, StatusCode::OK))
        }
        (Method::POST, None) => {
            require(&res, "create", verb_allowed("create"))?;
            let mut warnings = Vec::new();
            let obj = field_check::decode_object(&headers, &body, &res, validation, &mut warnings).await?;
            let created = registry.create(&res, namespace, obj, &write).await?;
            let response = object_response(&res, &created, format, StatusCode::CREATED);
            Ok(field_check::with_warnings(response, &warnings))
        }
        (Method::PUT, Some(name)) => {
            require(&res, "update", verb_allowed("update"))?;
            let mut warnings = Vec::new();
            let obj = field_check::decode_object(&headers, &body, &res, validation, &mut warnings).await?;
            let updated = registry
                .update(&res, namespace, name, obj, status, &write)
                .await?;
            let response = object_response(&res, &updated, format, StatusCode::OK);
            Ok(field_check::with_warnings(response, &warnings))
        }
        (Method::PATCH, Some(name)) if is_apply(&headers) => {
            require(&res, "patch", verb_allowed("patch"))?;
            let mut warnings = Vec::new();
            let applied = field_check::decode_apply(&body, &res, validation, &mut warnings).await?;
            let request = ApplyRequest {
                // Required for apply, as upstream: a missing manager is refused with 422.
                field_manager: query.get("fieldManager").map_or("", String::as_str),
                force: query.get("force").is_some_and(|f| f == "true"),
                status,
                dry_run,
                requester: &write.requester,
            };
            let (obj, created) = registry.apply(&res, namespace, name, &applied, request).await?;
            let code = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let response = object_response(&res, &obj, format, code);
            Ok(field_check::with_warnings(response, &warnings))
        }
        (Method::PATCH, Some(name)) => {
            require(&res, "patch", verb_allowed("patch"))?;
            let patch_type = patch_type(&headers)?;
            let (patch, body_issues) = match patch_type {
                PatchType::Json => field_check::decode_json_patch(&body, validation)?,
                _ => field_check::decode_patch(&body, validation)?,
            };
            let check = PatchCheck {
                schema: field_check::schema_for(&res).await,
                validation,
                body_issues: body_issues.0,
            };
            let (patched, warnings) = registry
                .patch_checked(&res, namespace, name, patch_type, &patch, status, &write, &check)
                .await?;
            let response = object_response(&res, &patched, format, StatusCode::OK);
            Ok(field_check::with_warnings(response, &warnings))
        }
        (Method::DELETE, Some(name)) => {
            require(&res, "delete", verb_allowed("delete"))?;
            let mut opts = delete_options(&query, &headers, &body, dry_run)?;
            opts.requester = write.requester.clone();
            let deleted = registry.delete(&res, namespace, name, &opts).await?;
            let code = if deleted.gone {
                StatusCode::OK
            } else {
                StatusCode::ACCEPTED
            };
            Ok(object_response(&res, &deleted.object, format, code))
        }
        (Method::DELETE, None) => {
            require(&res, "deletecollection", verb_allowed("deletecollection"))?;
            let mut params = ListParams::parse(
                &res,
                query.get("labelSelector").map(String::as_str),
                query.get("fieldSelector").map(String::as_str),
            )?;
            params.resource_version = query.get("resourceVersion").cloned();
            let mut opts = delete_options(&query, &headers, &body, dry_run)?;
            opts.requester = write.requester.clone();
            let deleted = registry
                .delete_collection(&res, namespace, &params, &opts)
                .await?;
            let revision = res.cache.revision();
            Ok(objects_list(&res, deleted, revision))
        }
        (method, _) => Err(method_not_allowed(&res, &method).into()),
    }
}

fn is_core_pods(res: &Resource) -> bool {
    res.info.group.is_empty() && res.info.plural == "pods"
}

/// `POST /api/v1/namespaces/<ns>/bindings`: the pre-1.7 way of binding a pod, still served.
async fn legacy_bindings(
    state: &AppState,
    path: &ResourcePath,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult {
    let pods = state
        .registry
        .get_resource("", "v1", "pods")
        .ok_or_else(crate::errors::path_not_found)?;
    let (Some(ns), None) = (path.namespace.as_deref(), path.name.as_deref()) else {
        return Err(crate::errors::path_not_found().into());
    };
    if *method != Method::POST {
        return Err(crate::errors::method_not_allowed().into());
    }
    if body.len() > MAX_BODY {
        return Err(ApiError::request_entity_too_large(&format!("limit is {MAX_BODY}")).into());
    }
    let params = WriteParams::parse(&query_map(uri.query()), headers, OptionsKind::Create)?;
    let dry_run = params.dry_run;
    pod_subresources::bind(state, &pods, ns, None, headers, body, dry_run).await
}

/// GET, PUT and PATCH of `<resource>/scale`.
#[allow(clippy::too_many_arguments)]
async fn scale(
    state: &AppState,
    res: &Resource,
    namespace: Option<&str>,
    name: &str,
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
    write: &WriteOptions,
) -> ApiResult {
    use crate::registry::scale::{ScaleChange, to_scale};
    let registry = &state.registry;
    let updated = match *method {
        Method::GET => registry.get(res, namespace, name).await?,
        Method::PUT => {
            let body = decode_body(headers, body)?;
            registry
                .write_scale(res, namespace, name, ScaleChange::Replace(&body), write)
                .await?
        }
        Method::PATCH => {
            let patch_type = patch_type(headers)?;
            let patch: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            registry
                .write_scale(
                    res,
                    namespace,
                    name,
                    ScaleChange::Patch(patch_type, &patch),
                    write,
                )
                .await?
        }
        ref other => return Err(method_not_allowed(res, other).into()),
    };
    Ok(super::response::json_value(StatusCode::OK, &to_scale(&updated)))
}

fn require(res: &Resource, verb: &str, allowed: bool) -> Result<(), ApiError> {
    if allowed {
        Ok(())
    } else {
        Err(method_not_allowed(res, &verb.to_uppercase()))
    }
}

fn method_not_allowed(_res: &Resource, _method: &dyn std::fmt::Display) -> ApiError {
    crate::errors::method_not_allowed()
}

fn subresource_not_served(res: &Resource, path: &ResourcePath) -> ApiResult {
    let sub = path.subresource.as_deref().unwrap_or_default();
    match res.info.subresource(sub) {
        // Registered in discovery, served by a later part of the server (kubelet proxy, scale).
        Some(_) => Err(ApiError::method_not_supported(
            res.info.group,
            &format!("{}/{sub}", res.info.plural),
            "this subresource",
        )
        .into()),
        None => Err(crate::errors::path_not_found().into()),
    }
}

/// Decodes a request body by its Content-Type: JSON, or Kubernetes protobuf (the `k8s\0`
/// envelope), which kubectl ≥ 1.32 sends for its `create <generator>` commands.
pub(super) fn decode_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let base = content_type.split(';').next().unwrap_or_default().trim();
    match base {
        "application/json" | "" => serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding request body: {e}"))),
        "application/yaml" => super::request::yaml_to_json(body)
            .and_then(|json| serde_json::from_slice(&json).map_err(|e| e.to_string()))
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML request body: {e}"))),
        super::protobuf::MEDIA_TYPE => super::protobuf::decode(body),
        _ => Err(ApiError::unsupported_media_type(&[
            "application/json",
            "application/yaml",
            super::protobuf::MEDIA_TYPE,
        ])),
    }
}

/// Whether the body is JSON (the default when no Content-Type is given).
pub(super) fn is_json(headers: &HeaderMap) -> bool {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    matches!(
        content_type.split(';').next().unwrap_or_default().trim(),
        "application/json" | ""
    )
}

/// Server-side apply; kubectl sends the configuration as JSON (YAML is not decoded yet).
fn is_apply(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.split(';').next().unwrap_or_default().trim() == "application/apply-patch+yaml")
}

fn patch_type(headers: &HeaderMap) -> Result<PatchType, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match content_type.split(';').next().unwrap_or_default().trim() {
        "application/json-patch+json" => Ok(PatchType::Json),
        "application/merge-patch+json" => Ok(PatchType::Merge),
        "application/strategic-merge-patch+json" => Ok(PatchType::StrategicMerge),
        _ => Err(ApiError::unsupported_media_type(&[
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
            "application/apply-patch+yaml",
        ])),
    }
}

fn delete_options(
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &[u8],
    dry_run: bool,
) -> Result<DeleteOptions, ApiError> {
    let mut opts = DeleteOptions {
        dry_run,
        ..Default::default()
    };
    if let Some(g) = query.get("gracePeriodSeconds") {
        opts.grace_period_seconds = Some(
            g.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid gracePeriodSeconds {g:?}")))?,
        );
    }
    opts.propagation_policy = query.get("propagationPolicy").cloned();
    if !body.is_empty() {
        let value = decode_body(headers, body)?;
        opts = opts.merge_body(&value)?;
    }
    Ok(opts)
}
