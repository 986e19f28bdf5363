//! OpenAPI v2 and v3 documents generated from our types and resource table.
//!
//! | path | what | formats |
//! |---|---|---|
//! | `/openapi/v2` | one Swagger 2.0 document | JSON; gnostic protobuf (kubectl 1.27/1.28 need it) |
//! | `/openapi/v3` | index of the group-version documents, each URL with `?hash=` | JSON |
//! | `/openapi/v3/api/v1`, `/openapi/v3/apis/<g>/<v>` | OpenAPI 3.0 document | JSON |
//!
//! Upstream's handlers are the reference (`kube-openapi` `pkg/handler` and `pkg/handler3`):
//! the Accept header picks the format (406 when none fits), every document has an ETag (the
//! SHA-512 of the bytes served) and `If-None-Match` gets 304; a v3
//! document asked for with its current `hash` is cacheable forever (`public, immutable`), and
//! with a stale one redirects to the current URL.
//!
//! Nothing is built at start-up: each document is generated on its first request, off the async
//! workers, and only its serialized bytes are kept.

mod custom;
mod extensions;
mod gnostic;
mod operations;
mod params;
mod proto;
mod schemas;
#[cfg(test)]
mod tests;
mod v2;
mod v3;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use rudder_api::status::ApiError;
use serde_json::{Map, json};

use crate::http::AppState;
use crate::http::response::ErrorResponse;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/openapi/v2", get(serve_v2))
        .route("/openapi/v3", get(serve_v3_index))
        .route("/openapi/v3/{*group_version}", get(serve_v3_group_version))
}

const JSON: &str = "application/json";
/// The protobuf media type kubectl 1.27/1.28 ask for (deprecated spelling) and the one upstream
/// answers with.
const PROTOBUF_DEPRECATED: &str = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
const PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// One serialized document.
#[derive(Debug)]
struct Cached {
    body: Bytes,
    /// Upper-case hex SHA-512 of `body`, unquoted (the ETag, and the `hash` of v3 URLs).
    hash: String,
    built: SystemTime,
}

impl Cached {
    fn new(body: Vec<u8>) -> Cached {
        let hash = sha512_hex(&body);
        Cached {
            body: Bytes::from(body),
            hash,
            built: SystemTime::now(),
        }
    }
}

fn sha512_hex(data: &[u8]) -> String {
    use std::fmt::Write;
    let digest = ring::digest::digest(&ring::digest::SHA512, data);
    digest
        .as_ref()
        .iter()
        .fold(String::with_capacity(128), |mut s, b| {
            let _ = write!(s, "{b:02X}");
            s
        })
}

static V2_JSON: OnceLock<Cached> = OnceLock::new();
static V2_PROTOBUF: OnceLock<Cached> = OnceLock::new();
static V3: OnceLock<V3Documents> = OnceLock::new();

#[derive(Debug)]
struct V3Documents {
    index: Cached,
    /// `(api/v1, document)`, in the resource table's order.
    documents: Vec<(String, Cached)>,
}

static FIELD_SCHEMAS: OnceLock<crate::registry::fields::FieldSchemas> = OnceLock::new();

/// The field structure of the built-in kinds, for `fieldValidation`: compiled from the same
/// definitions `/openapi/v2` serves, once, off the async workers.
pub(crate) async fn field_schemas() -> &'static crate::registry::fields::FieldSchemas {
    if let Some(schemas) = FIELD_SCHEMAS.get() {
        return schemas;
    }
    let _ = tokio::task::spawn_blocking(|| {
        FIELD_SCHEMAS.get_or_init(build_field_schemas);
    })
    .await;
    FIELD_SCHEMAS.get_or_init(build_field_schemas)
}

fn build_field_schemas() -> crate::registry::fields::FieldSchemas {
    let started = std::time::Instant::now();
    let schemas = schemas::Schemas::build();
    let kinds = schemas.kinds().iter().map(|k| {
        let api_version = if k.group.is_empty() {
            k.version.to_string()
        } else {
            format!("{}/{}", k.group, k.version)
        };
        (api_version, k.kind.clone(), k.name.as_str())
    });
    let compiled = crate::registry::fields::FieldSchemas::compile(&schemas.defs, kinds);
    tracing::info!(elapsed = ?started.elapsed(), "compiled field schemas");
    compiled
}

fn v2_json() -> &'static Cached {
    V2_JSON.get_or_init(|| build_v2("JSON", v2::json))
}

fn v2_protobuf() -> &'static Cached {
    V2_PROTOBUF.get_or_init(|| build_v2("protobuf", v2::protobuf))
}

fn build_v2(
    format: &str,
    encode: fn(&schemas::Schemas, &[operations::GroupVersionApi]) -> Vec<u8>,
) -> Cached {
    let started = std::time::Instant::now();
    let schemas = schemas::Schemas::build();
    let apis = operations::group_versions(&schemas);
    let cached = Cached::new(encode(&schemas, &apis));
    tracing::info!(format, bytes = cached.body.len(), elapsed = ?started.elapsed(), "built /openapi/v2");
    cached
}

fn v3_documents() -> &'static V3Documents {
    V3.get_or_init(|| {
        let started = std::time::Instant::now();
        let built = build_v3();
        let total: usize = built.documents.iter().map(|(_, d)| d.body.len()).sum();
        tracing::info!(bytes = total, elapsed = ?started.elapsed(), "built /openapi/v3");
        built
    })
}

fn build_v3() -> V3Documents {
    let schemas = schemas::Schemas::build();
    let apis = operations::group_versions(&schemas);
    build_v3_from(&schemas, &apis)
}

fn build_v3_from(schemas: &schemas::Schemas, apis: &[operations::GroupVersionApi]) -> V3Documents {
    let mut documents: Vec<(String, Cached)> = Vec::new();
    v3::documents(schemas, apis, |key, doc| documents.push((key, Cached::new(doc))));
    let mut paths = Map::new();
    for (key, doc) in &documents {
        paths.insert(
            key.clone(),
            json!({ "serverRelativeURL": server_relative_url(key, &doc.hash) }),
        );
    }
    let index = Cached::new(serde_json::to_vec(&json!({ "paths": paths })).unwrap_or_default());
    V3Documents { index, documents }
}

fn server_relative_url(key: &str, hash: &str) -> String {
    format!("/openapi/v3/{key}?hash={hash}")
}

/// Runs a document build off the async workers (the first build takes a moment).
async fn built<T: Send + 'static>(build: fn() -> T) -> Result<T, ErrorResponse> {
    tokio::task::spawn_blocking(build)
        .await
        .map_err(|e| ErrorResponse(ApiError::internal(format!("building the OpenAPI document: {e}"))))
}

/// The formats `/openapi/v2` serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum V2Format {
    Json,
    Protobuf,
}

async fn serve_v2(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    serve_v2_with(custom::current(&state.registry), headers).await
}

/// `/openapi/v2` with the custom resources served now (`None`: built-ins only).
async fn serve_v2_with(custom: Option<Arc<custom::CustomSet>>, headers: HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let offered = [JSON, PROTOBUF_DEPRECATED, PROTOBUF];
    let Some(chosen) = negotiate(accept, &offered) else {
        return ErrorResponse(ApiError::not_acceptable(&offered)).into_response();
    };
    let format = if chosen == JSON {
        V2Format::Json
    } else {
        V2Format::Protobuf
    };
    let content_type = if format == V2Format::Json { JSON } else { PROTOBUF };
    if let Some(set) = custom {
        let doc = built_with(move || {
            let cell = match format {
                V2Format::Json => &set.v2_json,
                V2Format::Protobuf => &set.v2_protobuf,
            };
            let doc = cell.get_or_init(|| {
                let (schemas, apis) = set.build();
                let encode = match format {
                    V2Format::Json => v2::json,
                    V2Format::Protobuf => v2::protobuf,
                };
                Cached::new(encode(&schemas, &apis))
            });
            (doc.body.clone(), doc.hash.clone(), doc.built)
        })
        .await;
        return match doc {
            Ok((body, hash, built)) => document(
                &headers,
                &Cached { body, hash, built },
                content_type,
                Caching::Revalidate,
            ),
            Err(e) => e.into_response(),
        };
    }
    let result = match format {
        V2Format::Json => built(v2_json).await,
        V2Format::Protobuf => built(v2_protobuf).await,
    };
    match result {
        Ok(doc) => document(&headers, doc, content_type, Caching::Revalidate),
        Err(e) => e.into_response(),
    }
}

/// The v3 documents with the custom resources served now (the built-in ones without any).
async fn v3_current(custom: Option<Arc<custom::CustomSet>>) -> Result<V3Ref, ErrorResponse> {
    match custom {
        None => built(v3_documents).await.map(V3Ref::Static),
        Some(set) => {
            let ready = set.clone();
            built_with(move || {
                ready.v3.get_or_init(|| {
                    let (schemas, apis) = ready.build();
                    build_v3_from(&schemas, &apis)
                });
            })
            .await?;
            Ok(V3Ref::Custom(set))
        }
    }
}

/// Built-in documents, or those of one set of custom resources.
enum V3Ref {
    Static(&'static V3Documents),
    Custom(Arc<custom::CustomSet>),
}

impl V3Ref {
    fn get(&self) -> Option<&V3Documents> {
        match self {
            V3Ref::Static(docs) => Some(docs),
            V3Ref::Custom(set) => set.v3.get(),
        }
    }
}

/// Runs a build closure off the async workers.
async fn built_with<T: Send + 'static>(
    build: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ErrorResponse> {
    tokio::task::spawn_blocking(build)
        .await
        .map_err(|e| ErrorResponse(ApiError::internal(format!("building the OpenAPI document: {e}"))))
}

async fn serve_v3_index(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    serve_v3_index_with(custom::current(&state.registry), headers).await
}

async fn serve_v3_index_with(custom: Option<Arc<custom::CustomSet>>, headers: HeaderMap) -> Response {
    match v3_current(custom).await {
        Ok(docs) => match docs.get() {
            Some(docs) => document(&headers, &docs.index, JSON, Caching::Revalidate),
            None => ErrorResponse(ApiError::internal("the OpenAPI documents are not built")).into_response(),
        },
        Err(e) => e.into_response(),
    }
}

async fn serve_v3_group_version(
    State(state): State<Arc<AppState>>,
    path: Path<String>,
    query: RawQuery,
    headers: HeaderMap,
) -> Response {
    serve_v3_group_version_with(custom::current(&state.registry), path, query, headers).await
}

async fn serve_v3_group_version_with(
    custom: Option<Arc<custom::CustomSet>>,
    Path(group_version): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    if negotiate(accept, &[JSON]).is_none() {
        return ErrorResponse(ApiError::not_acceptable(&[JSON])).into_response();
    }
    let docs = match v3_current(custom).await {
        Ok(docs) => docs,
        Err(e) => return e.into_response(),
    };
    let Some(docs) = docs.get() else {
        return ErrorResponse(ApiError::internal("the OpenAPI documents are not built")).into_response();
    };
    let key = group_version.trim_matches('/');
    let Some((key, doc)) = docs.documents.iter().find(|(k, _)| k == key) else {
        return ErrorResponse(crate::errors::path_not_found()).into_response();
    };
    let hash = query
        .as_deref()
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("hash="))
        .filter(|h| !h.is_empty());
    match hash {
        Some(h) if h != doc.hash => redirect(&server_relative_url(key, &doc.hash)),
        Some(_) => document(&headers, doc, JSON, Caching::Immutable),
        None => document(&headers, doc, JSON, Caching::Revalidate),
    }
}

fn redirect(location: &str) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::MOVED_PERMANENTLY;
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// How clients may cache a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caching {
    /// The apiserver's default for every response: revalidate with the ETag.
    Revalidate,
    /// A v3 document asked for by its current hash: it never changes under that URL.
    Immutable,
}

/// A document with its caching headers, or 304 when `If-None-Match` names its ETag.
fn document(headers: &HeaderMap, doc: &Cached, content_type: &'static str, caching: Caching) -> Response {
    let etag = format!("\"{}\"", doc.hash);
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| etag_matches(v, &etag));
    let mut response = if not_modified {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        Response::new(Body::from(doc.body.clone()))
    };
    let h = response.headers_mut();
    if !not_modified {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    if let Ok(value) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, value);
    }
    h.insert(header::VARY, HeaderValue::from_static("Accept"));
    if let Ok(value) = HeaderValue::from_str(&http_date(doc.built)) {
        h.insert(header::LAST_MODIFIED, value);
    }
    match caching {
        Caching::Revalidate => {
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-cache, private"),
            );
        }
        Caching::Immutable => {
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, immutable"),
            );
            let year = SystemTime::now() + Duration::from_secs(365 * 24 * 3600);
            if let Ok(value) = HeaderValue::from_str(&http_date(year)) {
                h.insert(header::EXPIRES, value);
            }
        }
    }
    response
}

/// Whether an `If-None-Match` value (`*`, or a list of possibly weak ETags) names `etag`.
fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match
        .split(',')
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag)
}

/// The first of `offered` that the Accept header allows, trying its media ranges by falling
/// quality (ties in header order) as `goautoneg` does. No header means `*/*`.
fn negotiate<'a>(accept: Option<&str>, offered: &[&'a str]) -> Option<&'a str> {
    let accept = accept.map(str::trim).filter(|a| !a.is_empty()).unwrap_or("*/*");
    let mut ranges: Vec<(f32, &str)> = accept
        .split(',')
        .filter_map(|clause| {
            let mut parts = clause.split(';').map(str::trim);
            let range = parts.next().filter(|r| !r.is_empty())?;
            let q = parts
                .filter_map(|p| p.strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            (q > 0.0).then_some((q, range))
        })
        .collect();
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0));
    ranges.iter().find_map(|(_, range)| {
        let (rtype, rsub) = range.split_once('/').unwrap_or((range, "*"));
        offered.iter().copied().find(|media| {
            let (mtype, msub) = media.split_once('/').unwrap_or((media, ""));
            (rtype == "*" || rtype.eq_ignore_ascii_case(mtype))
                && (rsub == "*" || rsub.eq_ignore_ascii_case(msub))
        })
    })
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) for `Last-Modified` and `Expires`.
fn http_date(t: SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[usize::from(t.weekday().number_days_from_monday())],
        t.day(),
        MONTHS[usize::from(u8::from(t.month())) - 1],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}
