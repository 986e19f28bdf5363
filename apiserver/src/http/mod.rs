//! The HTTP surface: the handler chain, the fixed endpoints (version, health, discovery,
//! metrics) and the generic resource handler behind every API path.

mod discovery;
mod field_check;
mod pod_subresources;
mod protobuf;
mod proxy;
pub(crate) mod request;
mod resource;
pub(crate) mod response;
mod watch;
mod write_params;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rudder_api::status::ApiError;
use rudder_component::shutdown::Shutdown;
use serde_json::json;

use crate::authn::Authenticator;
use crate::authz::Authorizer;
use crate::metrics::Metrics;
use crate::registry::Registry;
pub(crate) use proxy::KubeletClient;
use response::ErrorResponse;

/// What every handler shares.
pub(crate) struct AppState {
    pub(crate) registry: Arc<Registry>,
    pub(crate) authenticator: Authenticator,
    pub(crate) authorizer: Authorizer,
    /// Issues TokenRequest tokens and reviews them.
    pub(crate) sa_tokens: Option<Arc<crate::authn_sa::ServiceAccountTokens>>,
    /// `--anonymous-auth`: requests without credentials proceed as `system:anonymous`.
    pub(crate) anonymous_auth: bool,
    pub(crate) metrics: Metrics,
    pub(crate) shutdown: Shutdown,
    /// `host:port` clients reach us at, for legacy discovery's serverAddressByClientCIDRs.
    pub(crate) advertise: String,
    /// Set once start-up work (bootstrap objects) is done.
    pub(crate) ready: std::sync::atomic::AtomicBool,
    /// How logs, exec, attach, port-forward and nodes/proxy reach kubelets.
    pub(crate) kubelet: KubeletClient,
    /// The audit log, when `--audit-log-path` and `--audit-policy-file` are given.
    pub(crate) auditor: Option<Arc<crate::audit::Auditor>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("advertise", &self.advertise)
            .finish()
    }
}

/// The full router with its handler chain. Layers run outermost first: metrics, then
/// authentication and authorization, then the route. Health probes stay open to
/// unauthenticated callers (load balancers, liveness probes) whatever `--anonymous-auth` says.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    let open = Router::new()
        .route("/healthz", get(healthz))
        .route("/livez", get(healthz))
        .route("/readyz", get(readyz));
    let api = Router::new()
        .route("/version", get(version))
        .route("/metrics", get(metrics))
        .merge(discovery::routes())
        .merge(crate::openapi::routes())
        .merge(proxy::routes())
        .merge(crate::auth_http::routes())
        .fallback(resource::handle)
        // Inside authentication: records admitted requests with their objects.
        .layer(middleware::from_fn_with_state(state.clone(), crate::audit::layer))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::auth_http::filter,
        ));
    open.merge(api)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        // Outermost: a bug in a handler answers 500 with a Status instead of dropping the
        // connection.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_response))
        .with_state(state)
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ErrorResponse(ApiError::internal(
        "an internal error occurred while handling the request",
    ))
    .into_response()
}

async fn version() -> Response {
    let (major, minor, patch) = rudder_api::KUBERNETES_VERSION;
    let body = json!({
        "major": major.to_string(),
        "minor": minor.to_string(),
        "gitVersion": format!("v{major}.{minor}.{patch}"),
        "gitCommit": env!("CARGO_PKG_VERSION"),
        "gitTreeState": "clean",
        "buildDate": "2026-11-01T00:00:00Z",
        "goVersion": "rust",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, go_arch()),
    });
    response::json_value(StatusCode::OK, &body)
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

async fn healthz() -> Response {
    plain(StatusCode::OK, "ok")
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    if state.shutdown.is_triggered() {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    if !state.ready.load(std::sync::atomic::Ordering::Acquire) {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "starting");
    }
    plain(StatusCode::OK, "ok")
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    match state.metrics.encode() {
        Ok(text) => {
            let mut response = text.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            response
        }
        Err(e) => ErrorResponse(ApiError::internal(e.to_string())).into_response(),
    }
}

fn plain(code: StatusCode, text: &'static str) -> Response {
    let mut response = text.into_response();
    *response.status_mut() = code;
    response
}

/// Decodes a request body (JSON or protobuf) for handlers outside this module.
pub(crate) fn decode_request_body(headers: &HeaderMap, body: &[u8]) -> Result<serde_json::Value, ApiError> {
    resource::decode_body(headers, body)
}

/// Records `apiserver_request_total` and `apiserver_request_duration_seconds`.
async fn observe(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let query = request.uri().query().map(str::to_string);
    let matched = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let response = next.run(request).await;
    let labels = crate::metrics::RequestLabels::new(&method, &path, query.as_deref(), matched.as_deref());
    state
        .metrics
        .observe(&labels, response.status().as_u16(), started.elapsed());
    tracing::debug!(%method, %path, code = response.status().as_u16(), "request");
    response
}
