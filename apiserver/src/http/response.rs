//! Response encoding: Status errors, objects, lists and server-side Tables.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{BufMut, Bytes, BytesMut};
use rudder_api::status::ApiError;
use rudder_api::table::IncludeObject;
use serde_json::{Value, json};

use crate::registry::watch_cache::CachedObject;
use crate::registry::{ListResult, Resource};

/// An API error on its way out as a `Status` response.
#[derive(Debug)]
pub(crate) struct ErrorResponse(pub(crate) ApiError);

impl From<ApiError> for ErrorResponse {
    fn from(err: ApiError) -> Self {
        ErrorResponse(err)
    }
}

impl IntoResponse for ErrorResponse {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.0.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        json_response(code, Bytes::from(self.0.to_status().to_string()))
    }
}

pub(crate) type ApiResult = Result<Response, ErrorResponse>;

pub(crate) fn json_response(code: StatusCode, body: Bytes) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = code;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

pub(crate) fn json_value(code: StatusCode, value: &Value) -> Response {
    json_response(code, Bytes::from(value.to_string()))
}

/// How the client asked to see objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    Table(IncludeObject),
    /// `PartialObjectMetadata` / `PartialObjectMetadataList`.
    Metadata,
}

/// Chooses the response format from `Accept` (kubectl asks for Tables with
/// `application/json;as=Table;v=v1;g=meta.k8s.io`) and `includeObject`.
pub(crate) fn negotiate(accept: Option<&str>, include_object: Option<&str>) -> Result<Format, ApiError> {
    let accept = accept.unwrap_or("application/json");
    for media in accept.split(',') {
        let mut parts = media.split(';').map(str::trim);
        let base = parts.next().unwrap_or_default();
        let params: Vec<(&str, &str)> = parts.filter_map(|p| p.split_once('=')).collect();
        let param = |k: &str| params.iter().find(|(pk, _)| *pk == k).map(|(_, v)| *v);
        if !matches!(base, "application/json" | "application/*" | "*/*") {
            continue;
        }
        match param("as") {
            Some("Table")
                if param("g") == Some("meta.k8s.io") && matches!(param("v"), Some("v1" | "v1beta1")) =>
            {
                let include = match include_object.unwrap_or("Metadata") {
                    "" | "Metadata" => IncludeObject::Metadata,
                    "None" => IncludeObject::None,
                    "Object" => IncludeObject::Object,
                    other => {
                        return Err(ApiError::bad_request(format!(
                            "includeObject: Unsupported value: \"{other}\""
                        )));
                    }
                };
                return Ok(Format::Table(include));
            }
            // Metadata-only reads (kube-rs `list_metadata`, the garbage collector's informers).
            Some("PartialObjectMetadata" | "PartialObjectMetadataList")
                if param("g") == Some("meta.k8s.io") && matches!(param("v"), Some("v1" | "v1beta1")) =>
            {
                return Ok(Format::Metadata);
            }
            Some(_) => continue,
            None => return Ok(Format::Json),
        }
    }
    Err(ApiError::not_acceptable(&[
        "application/json",
        "application/json;as=Table;v=v1;g=meta.k8s.io",
        "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io",
    ]))
}

/// One object, as JSON or as a one-row Table.
pub(crate) fn object_response(
    res: &Resource,
    obj: &CachedObject,
    format: Format,
    code: StatusCode,
) -> Response {
    match format {
        Format::Json => json_response(code, obj.json.clone()),
        Format::Metadata => json_value(code, &rudder_api::table::partial_object_metadata(&obj.value())),
        Format::Table(include) => {
            let list_meta = json!({ "resourceVersion": obj.revision.to_string() });
            let table = res.table(std::slice::from_ref(&obj.value()), include, &list_meta);
            json_value(code, &table)
        }
    }
}

/// A list, assembled from the objects' encoded bytes without re-serialising them.
pub(crate) fn list_response(res: &Resource, list: &ListResult, format: Format) -> Response {
    let mut meta = json!({ "resourceVersion": list.revision.to_string() });
    if let Some(token) = &list.continue_token {
        meta["continue"] = json!(token);
    }
    if let Some(remaining) = list.remaining.filter(|r| *r > 0) {
        meta["remainingItemCount"] = json!(remaining);
    }
    match format {
        Format::Json => {
            let size: usize = list.items.iter().map(|o| o.json.len() + 1).sum();
            let mut body = BytesMut::with_capacity(size + 256);
            let head = format!(
                r#"{{"kind":"{}","apiVersion":"{}","metadata":{},"items":["#,
                res.info.list_kind(),
                res.info.api_version(),
                meta
            );
            body.put_slice(head.as_bytes());
            for (i, obj) in list.items.iter().enumerate() {
                if i > 0 {
                    body.put_u8(b',');
                }
                body.put_slice(&obj.json);
            }
            body.put_slice(b"]}");
            json_response(StatusCode::OK, body.freeze())
        }
        Format::Metadata => {
            let items: Vec<Value> = list
                .items
                .iter()
                .map(|o| rudder_api::table::partial_object_metadata(&o.value()))
                .collect();
            let body = json!({ "kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                               "metadata": meta, "items": items });
            json_value(StatusCode::OK, &body)
        }
        Format::Table(include) => {
            let values: Vec<Value> = list.items.iter().map(|o| o.value()).collect();
            json_value(StatusCode::OK, &res.table(&values, include, &meta))
        }
    }
}

/// Objects returned by DELETECOLLECTION, as a list.
pub(crate) fn objects_list(res: &Resource, items: Vec<Arc<CachedObject>>, revision: i64) -> Response {
    let list = ListResult {
        items,
        revision,
        continue_token: None,
        remaining: None,
    };
    list_response(res, &list, Format::Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiates_tables_and_json() {
        let kubectl_get = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(
            negotiate(Some(kubectl_get), None).unwrap(),
            Format::Table(IncludeObject::Metadata)
        );
        assert_eq!(
            negotiate(Some(kubectl_get), Some("Object")).unwrap(),
            Format::Table(IncludeObject::Object)
        );
        assert!(negotiate(Some(kubectl_get), Some("Bogus")).is_err());
        assert_eq!(
            negotiate(Some("application/json, */*"), None).unwrap(),
            Format::Json
        );
        assert_eq!(
            negotiate(Some("application/vnd.kubernetes.protobuf,application/json"), None).unwrap(),
            Format::Json
        );
        assert_eq!(negotiate(None, None).unwrap(), Format::Json);
        assert!(negotiate(Some("application/vnd.kubernetes.protobuf"), None).is_err());
    }
}
