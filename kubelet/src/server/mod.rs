//! The kubelet's HTTPS server on `--port` (10250): /healthz (and /livez, /readyz, /metrics),
//! /containerLogs/{namespace}/{pod}/{container}, and the streaming endpoints /exec, /attach and
//! /portForward, which the apiserver's `pods/log`, `pods/exec`, `pods/attach` and
//! `pods/portforward` proxy to. TLS with a self-signed certificate kept in memory, as upstream
//! without --tls-cert-file. Every request is authenticated and authorized first ([`auth`]).

pub mod auth;
pub mod authn;
pub mod authz;
mod cache;
#[cfg(test)]
mod fake_review;
pub mod logs;
pub mod review;
pub mod streaming;
pub mod upgrade_proxy;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, get, on};
use rudder_component::certs::{CertificateAuthority, sign_serving_cert};
use rudder_component::shutdown::Shutdown;
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::cri::{RuntimeService, api, labels};

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("serving certificate: {0}")]
    Cert(String),
    #[error(transparent)]
    Auth(#[from] auth::AuthError),
}

#[derive(Clone)]
struct AppState {
    runtime: Arc<dyn RuntimeService>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct LogQuery {
    follow: Option<bool>,
    previous: Option<bool>,
    tail_lines: Option<i64>,
    timestamps: Option<bool>,
    since_seconds: Option<i64>,
    since_time: Option<String>,
    limit_bytes: Option<i64>,
}

/// The log file of the container's current (or previous) instance, and whether it runs.
async fn find_log(
    rt: &dyn RuntimeService,
    ns: &str,
    pod: &str,
    container: &str,
    previous: bool,
) -> Result<(String, String), (StatusCode, String)> {
    let sel = HashMap::from([
        (labels::POD_NAMESPACE.to_string(), ns.to_string()),
        (labels::POD_NAME.to_string(), pod.to_string()),
    ]);
    let internal = |e: crate::cri::CriError| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    let sandboxes = rt.list_pod_sandbox(sel).await.map_err(internal)?;
    let mut instances = Vec::new();
    for sb in &sandboxes {
        for c in rt.list_containers(Some(&sb.id)).await.map_err(internal)? {
            if c.labels.get(labels::CONTAINER_NAME).map(String::as_str) == Some(container) {
                let restarts: i32 = c
                    .annotations
                    .get(labels::RESTART_COUNT)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                instances.push((restarts, c.created_at, c.id));
            }
        }
    }
    instances.sort_by_key(|i| std::cmp::Reverse((i.0, i.1)));
    let pick = instances.get(usize::from(previous)).ok_or_else(|| {
        let what = if previous {
            "previous terminated container"
        } else {
            "container"
        };
        (
            StatusCode::BAD_REQUEST,
            format!("{what} \"{container}\" in pod \"{pod}\" not found"),
        )
    })?;
    let st = rt.container_status(&pick.2).await.map_err(internal)?;
    Ok((st.log_path, pick.2.clone()))
}

fn rfc3339_ago(secs: i64) -> String {
    let t = k8s_openapi::jiff::Timestamp::now() - k8s_openapi::jiff::SignedDuration::from_secs(secs.max(0));
    t.to_string()
}

async fn container_logs(
    State(app): State<AppState>,
    Path((ns, pod, container)): Path<(String, String, String)>,
    Query(q): Query<LogQuery>,
) -> Response {
    let (path, id) = match find_log(
        app.runtime.as_ref(),
        &ns,
        &pod,
        &container,
        q.previous.unwrap_or(false),
    )
    .await
    {
        Ok(v) => v,
        Err((code, msg)) => return (code, msg).into_response(),
    };
    let opts = logs::Options {
        tail_lines: q.tail_lines.and_then(|n| usize::try_from(n).ok()),
        timestamps: q.timestamps.unwrap_or(false),
        since: q.since_time.clone().or(q.since_seconds.map(rfc3339_ago)),
        limit_bytes: q.limit_bytes.and_then(|n| usize::try_from(n).ok()),
    };
    let text = tokio::fs::read_to_string(&path).await.unwrap_or_default();
    let complete_len = text.rfind('\n').map_or(0, |i| i + 1);
    let first = logs::read(&text[..complete_len], &opts);
    if !q.follow.unwrap_or(false) {
        return first.into_response();
    }
    // Follow: send what is there, then new complete lines as they are written, until the
    // container stops or the client goes away.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(16);
    let rt = app.runtime.clone();
    tokio::spawn(async move {
        if tx.send(Ok(first.into())).await.is_err() {
            return;
        }
        let mut offset = complete_len as u64;
        let mut pending = String::new();
        loop {
            let mut chunk = String::new();
            if let Ok(mut f) = tokio::fs::File::open(&path).await
                && f.seek(std::io::SeekFrom::Start(offset)).await.is_ok()
            {
                let _ = f.read_to_string(&mut chunk).await;
            }
            offset += chunk.len() as u64;
            pending.push_str(&chunk);
            if let Some(end) = pending.rfind('\n') {
                let lines: String = pending[..=end]
                    .lines()
                    .filter_map(logs::parse)
                    .map(|l| logs::render(&l, opts.timestamps))
                    .collect();
                pending.drain(..=end);
                if !lines.is_empty() && tx.send(Ok(lines.into())).await.is_err() {
                    return;
                }
            }
            let running = matches!(rt.container_status(&id).await, Ok(s) if s.state == api::ContainerState::ContainerRunning as i32);
            if !running && chunk.is_empty() {
                return;
            }
            tokio::select! {
                _ = tx.closed() => return,
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
    });
    Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx)).into_response()
}

pub fn router(runtime: Arc<dyn RuntimeService>) -> Router {
    // WebSocket clients upgrade with GET, SPDY clients with POST.
    let stream = MethodFilter::GET.or(MethodFilter::POST);
    let logs = Router::new()
        .route(
            "/containerLogs/{namespace}/{pod}/{container}",
            get(container_logs),
        )
        .route("/exec/{namespace}/{pod}/{container}", on(stream, streaming::exec))
        .route(
            "/exec/{namespace}/{pod}/{uid}/{container}",
            on(stream, streaming::exec_uid),
        )
        .route(
            "/attach/{namespace}/{pod}/{container}",
            on(stream, streaming::attach),
        )
        .route(
            "/attach/{namespace}/{pod}/{uid}/{container}",
            on(stream, streaming::attach_uid),
        )
        .route(
            "/portForward/{namespace}/{pod}",
            on(stream, streaming::port_forward),
        )
        .route(
            "/portForward/{namespace}/{pod}/{uid}",
            on(stream, streaming::port_forward_uid),
        )
        .with_state(AppState { runtime });
    rudder_client::serving::router().merge(logs)
}

/// [`router`] behind the auth filter: what `--port` serves.
pub fn secured_router(runtime: Arc<dyn RuntimeService>, auth: Arc<auth::KubeletAuth>) -> Router {
    router(runtime).layer(axum::middleware::from_fn_with_state(auth, auth::filter))
}

/// Binds and serves until `shutdown`; returns the bound address.
pub async fn start(
    addr: SocketAddr,
    node_ip: std::net::IpAddr,
    runtime: Arc<dyn RuntimeService>,
    auth: Arc<auth::KubeletAuth>,
    shutdown: Shutdown,
) -> Result<SocketAddr, ServerError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| ServerError::Bind { addr, source })?;
    let ca = CertificateAuthority::generate("kubelet-ca").map_err(|e| ServerError::Cert(e.to_string()))?;
    let hosts = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        node_ip.to_string(),
    ];
    let (cert, key) =
        sign_serving_cert(&ca, "kubelet", &hosts).map_err(|e| ServerError::Cert(e.to_string()))?;
    // With a client CA the handshake asks for client certificates (optional, as upstream's
    // RequestClientCert); the auth filter verifies them per request.
    let tls =
        rudder_component::tls::server_config_from_pem(cert.as_bytes(), key.as_bytes(), auth.client_ca())
            .map_err(|e| ServerError::Cert(e.to_string()))?;
    let app = secured_router(runtime, auth);
    tokio::spawn(async move {
        if let Err(error) = rudder_component::serve::serve(listener, tls, app, shutdown).await {
            tracing::error!(%error, "kubelet server failed");
        }
    });
    Ok(local)
}
