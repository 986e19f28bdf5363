//! Discovery: `/api`, `/apis` (aggregated v2, v2beta1 or legacy by the Accept header), and the
//! legacy per-group and per-group-version documents. The documents are built once at start-up
//! (the table is fixed until custom resources arrive) and served with an ETag.

use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use rudder_api::discovery::{self, AggregatedVersion, DiscoveryFormat, DiscoveryResource};

use super::AppState;
use super::response::{ErrorResponse, json_response};

static RESOURCES: LazyLock<Vec<DiscoveryResource>> = LazyLock::new(DiscoveryResource::builtins);

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api", axum::routing::get(api))
        .route("/apis", axum::routing::get(apis))
        .route("/api/{version}", axum::routing::get(core_version))
        .route("/apis/{group}", axum::routing::get(group))
        .route("/apis/{group}/{version}", axum::routing::get(group_version))
}

fn accept(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok())
}

/// A discovery document with upstream's caching headers; `If-None-Match` gets 304.
fn document(headers: &HeaderMap, content_type: &'static str, body: Bytes) -> Response {
    let etag = format!("\"{:016X}\"", fnv1a(&body));
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        let mut response = Response::new(axum::body::Body::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        return response;
    }
    let mut response = json_response(StatusCode::OK, body);
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::VARY, HeaderValue::from_static("Accept"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public"));
    response
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

async fn api(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let format = discovery::negotiate(accept(&headers));
    let body = match format.aggregated() {
        Some(version) => aggregated(version, true),
        None => discovery::api_versions(&state.advertise).to_string(),
    };
    document(&headers, format.content_type(), Bytes::from(body))
}

async fn apis(headers: HeaderMap) -> Response {
    let format = discovery::negotiate(accept(&headers));
    let body = match format.aggregated() {
        Some(version) => aggregated(version, false),
        None => discovery::api_group_list(&RESOURCES).to_string(),
    };
    document(&headers, format.content_type(), Bytes::from(body))
}

fn aggregated(version: AggregatedVersion, core: bool) -> String {
    static CACHE: LazyLock<[String; 4]> = LazyLock::new(|| {
        [
            discovery::aggregated_api(&RESOURCES, AggregatedVersion::V2).to_string(),
            discovery::aggregated_apis(&RESOURCES, AggregatedVersion::V2).to_string(),
            discovery::aggregated_api(&RESOURCES, AggregatedVersion::V2Beta1).to_string(),
            discovery::aggregated_apis(&RESOURCES, AggregatedVersion::V2Beta1).to_string(),
        ]
    });
    let index = match version {
        AggregatedVersion::V2 => 0,
        AggregatedVersion::V2Beta1 => 2,
    } + usize::from(!core);
    CACHE[index].clone()
}

async fn core_version(Path(version): Path<String>, headers: HeaderMap) -> Result<Response, ErrorResponse> {
    let doc =
        discovery::api_resource_list(&RESOURCES, "", &version).ok_or_else(crate::errors::path_not_found)?;
    Ok(document(
        &headers,
        DiscoveryFormat::Legacy.content_type(),
        Bytes::from(doc.to_string()),
    ))
}

async fn group(Path(group): Path<String>, headers: HeaderMap) -> Result<Response, ErrorResponse> {
    let doc = discovery::api_group(&RESOURCES, &group).ok_or_else(crate::errors::path_not_found)?;
    Ok(document(
        &headers,
        DiscoveryFormat::Legacy.content_type(),
        Bytes::from(doc.to_string()),
    ))
}

async fn group_version(
    Path((group, version)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ErrorResponse> {
    let doc = discovery::api_resource_list(&RESOURCES, &group, &version)
        .ok_or_else(crate::errors::path_not_found)?;
    Ok(document(
        &headers,
        DiscoveryFormat::Legacy.content_type(),
        Bytes::from(doc.to_string()),
    ))
}
