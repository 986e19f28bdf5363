//! Requests the apiserver passes on to a node's kubelet, as upstream does: `pods/log`,
//! `pods/exec`, `pods/attach`, `pods/portforward` and `nodes/{name}/proxy/...`. Streams
//! (SPDY/3.1 or WebSocket upgrades) are spliced through unchanged, so the protocol kubectl
//! negotiates is the one the kubelet (and behind it the runtime's streaming server) speaks.

mod forward;
mod kubelet;
mod pod_service;
mod pod_service_handler;
mod pods;
mod spdy;
mod spdy_dial;
mod translator;
mod tunnel;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::response::Response;
use axum::routing::any;
use http_body_util::BodyExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use rudder_api::status::{ApiError, StatusCause, StatusDetails};

pub(crate) use kubelet::KubeletClient;

use super::AppState;
use super::response::ApiResult;

/// The routes, matched before the generic resource handler.
pub(super) fn routes() -> Router<Arc<AppState>> {
    let pod = "/api/v1/namespaces/{namespace}/pods/{name}";
    let svc = "/api/v1/namespaces/{namespace}/services/{name}";
    Router::new()
        .route(&format!("{pod}/log"), any(pod_log))
        .route(&format!("{pod}/exec"), any(pod_exec))
        .route(&format!("{pod}/attach"), any(pod_attach))
        .route(&format!("{pod}/portforward"), any(pod_port_forward))
        .route(&format!("{pod}/proxy"), any(pod_service_handler::pod_proxy))
        .route(&format!("{pod}/proxy/"), any(pod_service_handler::pod_proxy))
        .route(
            &format!("{pod}/proxy/{{*path}}"),
            any(pod_service_handler::pod_proxy),
        )
        .route(&format!("{svc}/proxy"), any(pod_service_handler::service_proxy))
        .route(&format!("{svc}/proxy/"), any(pod_service_handler::service_proxy))
        .route(
            &format!("{svc}/proxy/{{*path}}"),
            any(pod_service_handler::service_proxy),
        )
        .route("/api/v1/nodes/{name}/proxy", any(node_proxy))
        .route("/api/v1/nodes/{name}/proxy/", any(node_proxy))
        .route("/api/v1/nodes/{name}/proxy/{*path}", any(node_proxy))
}

async fn get_pod(state: &AppState, namespace: &str, name: &str) -> Result<Pod, ApiError> {
    let res = state
        .registry
        .get_resource("", "v1", "pods")
        .ok_or_else(|| ApiError::internal("pods are not served"))?;
    let obj = state.registry.get(&res, Some(namespace), name).await?;
    serde_json::from_slice(&obj.json).map_err(|e| ApiError::internal(format!("decoding pod: {e}")))
}

async fn get_node(state: &AppState, name: &str) -> Result<Node, ApiError> {
    let res = state
        .registry
        .get_resource("", "v1", "nodes")
        .ok_or_else(|| ApiError::internal("nodes are not served"))?;
    let obj = state.registry.get(&res, None, name).await?;
    serde_json::from_slice(&obj.json).map_err(|e| ApiError::internal(format!("decoding node: {e}")))
}

/// The pod's kubelet as (host, port), or 400 when the pod is not scheduled.
async fn pod_kubelet(state: &AppState, pod: &Pod, name: &str) -> Result<(String, u16), ApiError> {
    let node = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::bad_request(format!("pod {name} does not have a host assigned")))?;
    state.kubelet.location(&get_node(state, node).await?)
}

fn method_not_allowed() -> ApiError {
    crate::errors::method_not_allowed()
}

/// `GET pods/{name}/log`: the container's log as text/plain, streamed while following.
async fn pod_log(
    State(state): State<Arc<AppState>>,
    Path((namespace, name)): Path<(String, String)>,
    req: Request,
) -> ApiResult {
    if req.method() != Method::GET {
        return Err(method_not_allowed().into());
    }
    let pairs = pods::query_pairs(req.uri().query());
    let pod = get_pod(&state, &namespace, &name).await?;
    let asked = pairs
        .iter()
        .find(|(k, _)| k == "container")
        .map(|(_, v)| v.as_str());
    let container = pods::choose_container(&pod, &name, asked, true)?;
    let query = pods::log_query(&name, &pairs)?;
    let scheduled = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .is_some_and(|n| !n.is_empty());
    if !scheduled {
        // Upstream streams nothing for a pod without a node.
        return Ok(text_plain(Response::new(Body::empty())));
    }
    let (host, port) = pod_kubelet(&state, &pod, &name).await?;
    let path = format!(
        "/containerLogs/{}/{}/{}{}{query}",
        pods::escape(&namespace),
        pods::escape(&name),
        pods::escape(&container),
        if query.is_empty() { "" } else { "?" },
    );
    tracing::debug!(%namespace, %name, %container, %host, port, "proxying logs from the kubelet");
    let io = state.kubelet.connect(&host, port, false).await?;
    let backend = Request::builder()
        .method(Method::GET)
        .uri("/")
        .body(Body::empty())
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let response = forward::forward(io, &join_host_port(&host, port), &path, backend).await?;
    if !response.status().is_success() {
        return Err(kubelet_error(response, "pods/log", &name).await.into());
    }
    Ok(text_plain(response))
}

fn text_plain(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

/// A kubelet's error answer as a Status (upstream's `GenericHttpResponseChecker`).
async fn kubelet_error(response: Response, resource: &str, name: &str) -> ApiError {
    let code = response.status().as_u16();
    let body = match response.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return ApiError::internal(e.to_string()),
    };
    let text = String::from_utf8_lossy(&body[..body.len().min(1 << 20)]).into_owned();
    match code {
        400 => ApiError::bad_request(text),
        500 => ApiError::internal(text),
        _ => {
            let (reason, message) = match code {
                404 => (
                    rudder_api::status::StatusReason::NotFound,
                    "the server could not find the requested resource".to_string(),
                ),
                _ => (
                    rudder_api::status::StatusReason::Unknown,
                    format!(
                        "the server responded with the status code {code} but did not return more information"
                    ),
                ),
            };
            ApiError::new(code, reason, message).with_details(StatusDetails {
                kind: resource.to_string(),
                name: name.to_string(),
                causes: vec![StatusCause::new("UnexpectedServerResponse", text, "")],
                ..StatusDetails::default()
            })
        }
    }
}

fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[derive(Debug, Clone, Copy)]
enum Stream {
    Exec,
    Attach,
    PortForward,
}

async fn pod_exec(state: State<Arc<AppState>>, path: Path<(String, String)>, req: Request) -> ApiResult {
    pod_stream(state, path, req, Stream::Exec).await
}

async fn pod_attach(state: State<Arc<AppState>>, path: Path<(String, String)>, req: Request) -> ApiResult {
    pod_stream(state, path, req, Stream::Attach).await
}

async fn pod_port_forward(
    state: State<Arc<AppState>>,
    path: Path<(String, String)>,
    req: Request,
) -> ApiResult {
    pod_stream(state, path, req, Stream::PortForward).await
}

/// exec, attach and port-forward: upgrade requests (GET for WebSocket, POST for SPDY)
/// proxied to the kubelet's `/exec`, `/attach` or `/portForward`.
async fn pod_stream(
    State(state): State<Arc<AppState>>,
    Path((namespace, name)): Path<(String, String)>,
    req: Request,
    kind: Stream,
) -> ApiResult {
    if req.method() != Method::GET && req.method() != Method::POST {
        return Err(method_not_allowed().into());
    }
    let pairs = pods::query_pairs(req.uri().query());
    let pod = get_pod(&state, &namespace, &name).await?;
    let (ns, pod_name) = (pods::escape(&namespace), pods::escape(&name));
    let path = match kind {
        Stream::Exec | Stream::Attach => {
            let asked = pairs
                .iter()
                .find(|(k, _)| k == "container")
                .map(|(_, v)| v.as_str());
            let container = pods::choose_container(&pod, &name, asked, false)?;
            let (verb, with_command) = match kind {
                Stream::Exec => ("exec", true),
                _ => ("attach", false),
            };
            let query = pods::stream_query(&pairs, with_command);
            format!("/{verb}/{ns}/{pod_name}/{}?{query}", pods::escape(&container))
        }
        Stream::PortForward => {
            let query = pods::port_forward_query(&pairs)?;
            let sep = if query.is_empty() { "" } else { "?" };
            format!("/portForward/{ns}/{pod_name}{sep}{query}")
        }
    };
    let (host, port) = pod_kubelet(&state, &pod, &name).await?;
    if !forward::is_upgrade(req.headers()) {
        return Err(ApiError::bad_request("Upgrade request required").into());
    }
    let who = format!("{namespace}/{name}");
    let translate = match kind {
        Stream::Exec | Stream::Attach if translator::wants_translation(req.headers()) => {
            Some(translator::kubelet_protocols())
        }
        Stream::PortForward => Some(tunnel::tunneled_protocols(req.headers())).filter(|p| !p.is_empty()),
        _ => None,
    };
    if let Some(protocols) = translate {
        let dial = dial_spdy(state.clone(), host, port, path, protocols);
        let (mut parts, _) = req.into_parts();
        let ws = axum::extract::ws::WebSocketUpgrade::from_request_parts(&mut parts, &())
            .await
            .map_err(|e| ApiError::bad_request(format!("unable to upgrade: {e}")))?;
        return match kind {
            Stream::PortForward => Ok(tunnel::serve(ws, dial, who).await?),
            _ => {
                let pairs = pods::query_pairs(parts.uri.query());
                let opts = translator::StreamOptions::from_query(&pairs);
                Ok(translator::serve(ws, opts, dial, who))
            }
        };
    }
    tracing::debug!(%namespace, %name, ?kind, %host, port, "proxying stream to the kubelet");
    let io = state.kubelet.connect(&host, port, false).await?;
    Ok(forward::forward(io, &join_host_port(&host, port), &path, req).await?)
}

/// The SPDY/3.1 upgrade to the kubelet that the translator and the tunnel run once the
/// client's WebSocket is accepted (translator) or to decide whether to accept it (tunnel).
fn dial_spdy(
    state: Arc<AppState>,
    host: String,
    port: u16,
    path: String,
    protocols: Vec<String>,
) -> translator::DialFuture {
    Box::pin(async move {
        let io = state.kubelet.connect(&host, port, false).await?;
        spdy_dial::dial(io, &join_host_port(&host, port), &path, &protocols).await
    })
}

/// `nodes/{name}[:port]/proxy/{path}`: any request to the node's kubelet (or another port
/// on the node), upgrades included.
async fn node_proxy(State(state): State<Arc<AppState>>, req: Request) -> ApiResult {
    let raw = req.uri().path().to_string();
    let (id, rest) = split_node_proxy_path(&raw).ok_or_else(crate::errors::path_not_found)?;
    let id = crate::http::request::percent_decode(id);
    let (scheme, name, port) = split_scheme_name_port(&id)
        .ok_or_else(|| ApiError::bad_request(format!("invalid node request {id:?}")))?;
    let node = get_node(&state, name).await?;
    let (host, kubelet_port) = state.kubelet.location(&node)?;
    // The kubelet's own port gets TLS with the kubelet client identity; any other port is
    // plain HTTP unless https was asked for (upstream's proxy transport).
    let (port, plain) = match port {
        None => (kubelet_port, false),
        Some(p) if p == kubelet_port => (p, false),
        Some(p) => (p, scheme != "https"),
    };
    let path_and_query = match req.uri().query() {
        Some(q) => format!("/{}?{q}", rest.trim_start_matches('/')),
        None => format!("/{}", rest.trim_start_matches('/')),
    };
    let io = state.kubelet.connect(&host, port, plain).await?;
    Ok(forward::forward(io, &join_host_port(&host, port), &path_and_query, req).await?)
}

/// `/api/v1/nodes/<id>/proxy[/<rest>]` → (id, rest).
fn split_node_proxy_path(path: &str) -> Option<(&str, &str)> {
    let after = path.strip_prefix("/api/v1/nodes/")?;
    let (id, tail) = after.split_once('/')?;
    let rest = tail.strip_prefix("proxy")?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    Some((id, rest))
}

/// Upstream's `SplitSchemeNamePort`: `name`, `name:port` or `scheme:name:port` with scheme
/// http or https and a numeric port.
fn split_scheme_name_port(id: &str) -> Option<(&str, &str, Option<u16>)> {
    let parts: Vec<&str> = id.split(':').collect();
    let (scheme, name, port) = match parts.as_slice() {
        [name] => ("", *name, ""),
        [name, port] => ("", *name, *port),
        [scheme, name, port] => (*scheme, *name, *port),
        _ => return None,
    };
    if name.is_empty() || !matches!(scheme, "" | "http" | "https") {
        return None;
    }
    let port = match port {
        "" => None,
        p => Some(p.parse::<u16>().ok().filter(|p| *p != 0)?),
    };
    Some((scheme, name, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_proxy_paths() {
        assert_eq!(split_node_proxy_path("/api/v1/nodes/n1/proxy"), Some(("n1", "")));
        assert_eq!(
            split_node_proxy_path("/api/v1/nodes/n1:10250/proxy/healthz"),
            Some(("n1:10250", "/healthz"))
        );
        assert_eq!(split_node_proxy_path("/api/v1/nodes/n1/proxyx"), None);
        assert_eq!(split_scheme_name_port("n1"), Some(("", "n1", None)));
        assert_eq!(split_scheme_name_port("n1:8080"), Some(("", "n1", Some(8080))));
        assert_eq!(
            split_scheme_name_port("https:n1:443"),
            Some(("https", "n1", Some(443)))
        );
        assert_eq!(split_scheme_name_port("https:n1:"), Some(("https", "n1", None)));
        assert_eq!(split_scheme_name_port("ftp:n1:21"), None);
        assert_eq!(split_scheme_name_port("n1:x"), None);
        assert_eq!(split_scheme_name_port(":1"), None);
        assert_eq!(join_host_port("::1", 10250), "[::1]:10250");
        assert_eq!(join_host_port("10.0.0.1", 10250), "10.0.0.1:10250");
    }
}
