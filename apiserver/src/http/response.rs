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

/// The media types every resource endpoint names in a 406, as upstream's codecs list them.
pub(crate) const SERVED_MEDIA_TYPES: &[&str] = &[
    "application/json",
    "application/yaml",
    crate::http::protobuf::MEDIA_TYPE,
];

/// The encodings Rudder answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Json,
    Protobuf,
}

/// A conversion asked for with `as=<kind>;g=meta.k8s.io;v=<version>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transform {
    Table,
    /// `PartialObjectMetadata` or `PartialObjectMetadataList`, by its kind and version.
    Metadata {
        list: bool,
        version: &'static str,
    },
}

/// What content negotiation settled on for one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Media {
    pub(crate) encoding: Encoding,
    pub(crate) transform: Option<Transform>,
}

impl Media {
    const JSON: Media = Media {
        encoding: Encoding::Json,
        transform: None,
    };

    /// The same answer asked for as JSON (an `Accept` value), for handlers that build JSON and
    /// leave re-encoding to the caller.
    pub(crate) fn json_accept(&self) -> String {
        match self.transform {
            None => "application/json".into(),
            Some(Transform::Table) => "application/json;as=Table;v=v1;g=meta.k8s.io".into(),
            Some(Transform::Metadata { list, version }) => {
                let kind = if list {
                    "PartialObjectMetadataList"
                } else {
                    "PartialObjectMetadata"
                };
                format!("application/json;as={kind};g=meta.k8s.io;v={version}")
            }
        }
    }
}

/// One media range of an `Accept` header.
#[derive(Debug)]
struct Clause<'a> {
    ty: &'a str,
    subtype: &'a str,
    q: f32,
    params: Vec<(&'a str, &'a str)>,
}

impl Clause<'_> {
    fn param(&self, key: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    /// The conversion this range asks for: `Ok(None)` for none, `Err` for one Rudder does not
    /// serve (the range is then skipped, as upstream's `AllowsMediaTypeTransform` does).
    fn transform(&self) -> Result<Option<Transform>, ()> {
        let Some(kind) = self.param("as") else {
            return if self.param("g").is_some() || self.param("v").is_some() {
                Err(())
            } else {
                Ok(None)
            };
        };
        let version = match (self.param("g"), self.param("v")) {
            (Some("meta.k8s.io"), Some("v1")) => "v1",
            (Some("meta.k8s.io"), Some("v1beta1")) => "v1beta1",
            _ => return Err(()),
        };
        match kind {
            "Table" => Ok(Some(Transform::Table)),
            "PartialObjectMetadata" => Ok(Some(Transform::Metadata { list: false, version })),
            "PartialObjectMetadataList" => Ok(Some(Transform::Metadata { list: true, version })),
            _ => Err(()),
        }
    }
}

/// Parses `Accept` into its ranges, most preferred first: by `q`, then concrete types before
/// wildcards, otherwise in the client's order (goautoneg's order, which upstream uses).
fn parse_accept(accept: &str) -> Vec<Clause<'_>> {
    let mut clauses: Vec<Clause<'_>> = accept
        .split(',')
        .filter_map(|range| {
            let mut parts = range.split(';').map(str::trim);
            let (ty, subtype) = parts.next()?.split_once('/')?;
            let mut q = 1.0;
            let mut params = Vec::new();
            for p in parts {
                let Some((k, v)) = p.split_once('=') else { continue };
                let (k, v) = (k.trim(), v.trim().trim_matches('"'));
                if k == "q" {
                    q = v.parse::<f32>().unwrap_or(1.0);
                } else {
                    params.push((k, v));
                }
            }
            (q > 0.0).then_some(Clause {
                ty: ty.trim(),
                subtype: subtype.trim(),
                q,
                params,
            })
        })
        .collect();
    let wildness = |c: &Clause<'_>| u8::from(c.ty == "*") + u8::from(c.subtype == "*");
    clauses.sort_by(|a, b| b.q.total_cmp(&a.q).then(wildness(a).cmp(&wildness(b))));
    clauses
}

/// Upstream's `NegotiateMediaTypeOptions`: the first range (in preference order) that one of
/// the served encodings matches (JSON before protobuf for wildcards) and whose conversion the
/// endpoint allows. `protobuf` says whether the endpoint's own objects have a protobuf form
/// (custom resources do not); Tables are JSON only; metadata (`PartialObjectMetadata`, v1)
/// has a protobuf form for every resource. No `Accept` at all means JSON.
pub(crate) fn negotiate_media(accept: Option<&str>, protobuf: bool) -> Result<Media, ApiError> {
    let Some(accept) = accept.map(str::trim).filter(|a| !a.is_empty()) else {
        return Ok(Media::JSON);
    };
    for clause in parse_accept(accept) {
        let Ok(transform) = clause.transform() else {
            continue;
        };
        if clause
            .param("stream")
            .is_some_and(|s| !s.is_empty() && s != "watch")
        {
            continue;
        }
        for encoding in [Encoding::Json, Encoding::Protobuf] {
            let (ty, subtype) = match encoding {
                Encoding::Json => ("application", "json"),
                Encoding::Protobuf => ("application", "vnd.kubernetes.protobuf"),
            };
            let matches = (clause.ty == "*" && clause.subtype == "*")
                || (clause.ty.eq_ignore_ascii_case(ty)
                    && (clause.subtype == "*" || clause.subtype.eq_ignore_ascii_case(subtype)));
            let allowed = match (encoding, transform) {
                (Encoding::Json, _) => true,
                (Encoding::Protobuf, None) => protobuf,
                (Encoding::Protobuf, Some(Transform::Metadata { version, .. })) => version == "v1",
                (Encoding::Protobuf, Some(Transform::Table)) => false,
            };
            if matches && allowed {
                return Ok(Media { encoding, transform });
            }
        }
    }
    Err(ApiError::not_acceptable(SERVED_MEDIA_TYPES))
}

/// How an error `Status` is encoded (upstream's `ErrorNegotiated`): the first range asking for
/// no conversion, JSON or protobuf; JSON when there is none (upstream then writes raw JSON).
pub(crate) fn error_encoding(accept: Option<&str>) -> Encoding {
    let Some(accept) = accept.map(str::trim).filter(|a| !a.is_empty()) else {
        return Encoding::Json;
    };
    for clause in parse_accept(accept) {
        if !matches!(clause.transform(), Ok(None)) {
            continue;
        }
        let any =
            clause.ty == "*" || (clause.ty.eq_ignore_ascii_case("application") && clause.subtype == "*");
        if any || clause.subtype.eq_ignore_ascii_case("json") {
            return Encoding::Json;
        }
        if clause.ty.eq_ignore_ascii_case("application")
            && clause.subtype.eq_ignore_ascii_case("vnd.kubernetes.protobuf")
        {
            return Encoding::Protobuf;
        }
    }
    Encoding::Json
}

/// Chooses the response format from `Accept` (kubectl asks for Tables with
/// `application/json;as=Table;v=v1;g=meta.k8s.io`) and `includeObject`, for handlers that
/// answer in JSON (protobuf is the caller's re-encoding, see `protobuf::respond`).
pub(crate) fn negotiate(accept: Option<&str>, include_object: Option<&str>) -> Result<Format, ApiError> {
    let media = negotiate_media(accept, false)?;
    match media.transform {
        None => Ok(Format::Json),
        // Metadata-only reads (kube-rs `list_metadata`, the garbage collector's informers).
        Some(Transform::Metadata { .. }) => Ok(Format::Metadata),
        Some(Transform::Table) => {
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
            Ok(Format::Table(include))
        }
    }
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

    fn media(encoding: Encoding, transform: Option<Transform>) -> Media {
        Media { encoding, transform }
    }

    #[test]
    fn negotiates_protobuf_as_upstream() {
        use Encoding::{Json, Protobuf};
        let pb = "application/vnd.kubernetes.protobuf";
        let typed = "application/vnd.kubernetes.protobuf, application/json";
        let table = "application/json;as=Table;v=v1;g=meta.k8s.io";
        let pb_table = "application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io";
        let pb_meta = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
        let list_meta = Some(Transform::Metadata {
            list: true,
            version: "v1",
        });
        // (accept, protobuf form exists, expected)
        let cases: &[(&str, bool, Option<Media>)] = &[
            (pb, true, Some(media(Protobuf, None))),
            (typed, true, Some(media(Protobuf, None))),
            (typed, false, Some(media(Json, None))),
            (pb, false, None),
            (
                "application/vnd.kubernetes.protobuf;stream=watch",
                true,
                Some(media(Protobuf, None)),
            ),
            (
                "application/json;q=0.5, application/vnd.kubernetes.protobuf",
                true,
                Some(media(Protobuf, None)),
            ),
            (
                "application/vnd.kubernetes.protobuf;q=0.5, application/json",
                true,
                Some(media(Json, None)),
            ),
            (
                "*/*, application/vnd.kubernetes.protobuf",
                true,
                Some(media(Protobuf, None)),
            ),
            ("*/*", true, Some(media(Json, None))),
            ("application/*", true, Some(media(Json, None))),
            (pb_table, true, None),
            (
                &format!("{pb_table}, {table}"),
                true,
                Some(media(Json, Some(Transform::Table))),
            ),
            (pb_meta, false, Some(media(Protobuf, list_meta))),
            ("text/html", true, None),
            ("application/json;as=Bogus;g=meta.k8s.io;v=v1", true, None),
        ];
        for (accept, protobuf, want) in cases {
            let got = negotiate_media(Some(accept), *protobuf).ok();
            assert_eq!(got, *want, "Accept: {accept} (protobuf form: {protobuf})");
        }
        let err = negotiate_media(Some(pb), false).expect_err("406");
        assert_eq!(err.code(), 406);
        assert_eq!(
            err.to_status()["message"],
            "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf"
        );
        assert_eq!(
            media(Protobuf, list_meta).json_accept(),
            "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
        );
    }

    #[test]
    fn negotiates_error_encoding_without_conversions() {
        use Encoding::{Json, Protobuf};
        let cases = [
            (None, Json),
            (Some("application/vnd.kubernetes.protobuf"), Protobuf),
            (
                Some("application/vnd.kubernetes.protobuf, application/json"),
                Protobuf,
            ),
            (
                Some("application/json, application/vnd.kubernetes.protobuf"),
                Json,
            ),
            // A Table cannot carry a Status: the next range decides, and with none JSON.
            (
                Some("application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io"),
                Json,
            ),
            (
                Some("application/json;as=Table;v=v1;g=meta.k8s.io, application/vnd.kubernetes.protobuf"),
                Protobuf,
            ),
            (Some("*/*"), Json),
            (Some("text/plain"), Json),
        ];
        for (accept, want) in cases {
            assert_eq!(error_encoding(accept), want, "Accept: {accept:?}");
        }
    }
}
