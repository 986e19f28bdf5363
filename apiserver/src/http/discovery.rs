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

/// The documents of one generation of the served resources (built-ins plus established
/// custom resources), rebuilt when the registry's generation moves.
struct Documents {
    generation: u64,
    resources: Vec<DiscoveryResource>,
    /// Aggregated `/api` and `/apis` in v2 and v2beta1.
    aggregated: [String; 4],
}

fn documents(state: &AppState) -> Arc<Documents> {
    static CACHE: LazyLock<parking_lot::Mutex<Option<Arc<Documents>>>> = LazyLock::new(Default::default);
    let generation = state
        .registry
        .generation
        .load(std::sync::atomic::Ordering::Acquire);
    let mut cache = CACHE.lock();
    if let Some(docs) = cache.as_ref().filter(|d| d.generation == generation) {
        return docs.clone();
    }
    let mut resources = DiscoveryResource::builtins();
    let mut custom = state.registry.custom_resources();
    custom.sort_by(|a, b| {
        (a.info.group, a.info.plural, a.info.version).cmp(&(b.info.group, b.info.plural, b.info.version))
    });
    resources.extend(custom.iter().map(|r| DiscoveryResource::from(&r.info)));
    let aggregated = [
        discovery::aggregated_api(&resources, AggregatedVersion::V2).to_string(),
        discovery::aggregated_apis(&resources, AggregatedVersion::V2).to_string(),
        discovery::aggregated_api(&resources, AggregatedVersion::V2Beta1).to_string(),
        discovery::aggregated_apis(&resources, AggregatedVersion::V2Beta1).to_string(),
    ];
    let docs = Arc::new(Documents {
        generation,
        resources,
        aggregated,
    });
    *cache = Some(docs.clone());
    docs
}

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
        Some(version) => aggregated(&documents(&state), version, true),
        None => discovery::api_versions(&state.advertise).to_string(),
    };
    document(&headers, format.content_type(), Bytes::from(body))
}

async fn apis(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let format = discovery::negotiate(accept(&headers));
    let docs = documents(&state);
    let body = match format.aggregated() {
        Some(version) => aggregated(&docs, version, false),
        None => discovery::api_group_list(&docs.resources).to_string(),
    };
    document(&headers, format.content_type(), Bytes::from(body))
}

fn aggregated(docs: &Documents, version: AggregatedVersion, core: bool) -> String {
    let index = match version {
        AggregatedVersion::V2 => 0,
        AggregatedVersion::V2Beta1 => 2,
    } + usize::from(!core);
    docs.aggregated[index].clone()
}

async fn core_version(
    State(state): State<Arc<AppState>>,
    Path(version): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ErrorResponse> {
    let doc = discovery::api_resource_list(&documents(&state).resources, "", &version)
        .ok_or_else(crate::errors::path_not_found)?;
    Ok(document(
        &headers,
        DiscoveryFormat::Legacy.content_type(),
        Bytes::from(doc.to_string()),
    ))
}

async fn group(
    State(state): State<Arc<AppState>>,
    Path(group): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ErrorResponse> {
    let doc = discovery::api_group(&documents(&state).resources, &group)
        .ok_or_else(crate::errors::path_not_found)?;
    Ok(document(
        &headers,
        DiscoveryFormat::Legacy.content_type(),
        Bytes::from(doc.to_string()),
    ))
}

async fn group_version(
    State(state): State<Arc<AppState>>,
    Path((group, version)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ErrorResponse> {
    let doc = discovery::api_resource_list(&documents(&state).resources, &group, &version)
        .ok_or_else(crate::errors::path_not_found)?;
    Ok(document(
        &headers,
        DiscoveryFormat::Legacy.content_type(),
        Bytes::from(doc.to_string()),
    ))
}
