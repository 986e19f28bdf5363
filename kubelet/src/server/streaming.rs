//! `/exec`, `/attach` and `/portForward`: upstream's kubelet handlers (pkg/kubelet/server).
//! Each resolves the pod's container (or sandbox) in the runtime, asks CRI for a streaming
//! URL and proxies the client's upgraded connection to it.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::upgrade_proxy::{self, Target};
use crate::cri::{CriError, RuntimeService, api, labels};

/// Upstream's `remotecommandserver.Options`, read from the kubelet's query parameters
/// (`input`, `output`, `error`, `tty` = "1"; `command` repeated).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamOptions {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
    pub command: Vec<String>,
}

/// Why a streaming request is refused before reaching the runtime.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    #[error("you must specify at least 1 of stdin, stdout, stderr")]
    NoStreams,
    #[error("query parameter \"port\" is required")]
    NoPorts,
    #[error("unable to parse \"{0}\" as a port")]
    BadPort(String),
}

/// Query pairs in order, percent-decoded (`command` repeats, so a map would not do).
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'+', _) => out.push(b' '),
            (b'%', Some(b)) => {
                out.push(b);
                i += 2;
            }
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl StreamOptions {
    /// As upstream's `NewOptions`: a TTY merges stderr into stdout, and at least one stream
    /// must be asked for.
    pub fn parse(pairs: &[(String, String)]) -> Result<StreamOptions, OptionsError> {
        let flag = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .is_some_and(|(_, v)| v == "1")
        };
        let tty = flag("tty");
        let opts = StreamOptions {
            stdin: flag("input"),
            stdout: flag("output"),
            stderr: flag("error") && !tty,
            tty,
            command: pairs
                .iter()
                .filter(|(k, _)| k == "command")
                .map(|(_, v)| v.clone())
                .collect(),
        };
        if !opts.stdin && !opts.stdout && !opts.stderr {
            return Err(OptionsError::NoStreams);
        }
        Ok(opts)
    }
}

/// The `port` parameters. Only WebSocket port-forwarding names its ports in the URL; SPDY
/// clients name them per stream, so `required` is false for them (upstream's `NewV4Options`).
pub fn ports(pairs: &[(String, String)], required: bool) -> Result<Vec<i32>, OptionsError> {
    let mut out = Vec::new();
    for (_, v) in pairs.iter().filter(|(k, _)| k == "port") {
        for p in v.split(',') {
            let port: u16 = p
                .trim()
                .parse()
                .map_err(|_| OptionsError::BadPort(p.to_string()))?;
            if port == 0 {
                return Err(OptionsError::BadPort(p.to_string()));
            }
            out.push(i32::from(port));
        }
    }
    if required && out.is_empty() {
        return Err(OptionsError::NoPorts);
    }
    Ok(out)
}

type Refusal = (StatusCode, String);

fn internal(e: CriError) -> Refusal {
    (StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// The pod's ready sandbox, or 404 "pod does not exist" as upstream.
async fn sandbox(rt: &dyn RuntimeService, ns: &str, pod: &str) -> Result<api::PodSandbox, Refusal> {
    let sel = HashMap::from([
        (labels::POD_NAMESPACE.to_string(), ns.to_string()),
        (labels::POD_NAME.to_string(), pod.to_string()),
    ]);
    let mut sandboxes = rt.list_pod_sandbox(sel).await.map_err(internal)?;
    sandboxes.retain(|s| s.state == api::PodSandboxState::SandboxReady as i32);
    sandboxes.sort_by_key(|s| std::cmp::Reverse(s.created_at));
    sandboxes
        .into_iter()
        .next()
        .ok_or_else(|| (StatusCode::NOT_FOUND, "pod does not exist".to_string()))
}

/// The running instance of `container` in the pod.
async fn running_container(
    rt: &dyn RuntimeService,
    ns: &str,
    pod: &str,
    container: &str,
) -> Result<String, Refusal> {
    let sb = sandbox(rt, ns, pod).await?;
    let mut found: Vec<api::Container> = rt
        .list_containers(Some(&sb.id))
        .await
        .map_err(internal)?
        .into_iter()
        .filter(|c| c.labels.get(labels::CONTAINER_NAME).map(String::as_str) == Some(container))
        .filter(|c| c.state == api::ContainerState::ContainerRunning as i32)
        .collect();
    found.sort_by_key(|c| std::cmp::Reverse(c.created_at));
    found.into_iter().next().map(|c| c.id).ok_or_else(|| {
        (
            StatusCode::NOT_FOUND,
            format!("container not found (\"{container}\")"),
        )
    })
}

async fn stream_to(url: Result<String, CriError>, req: Request) -> Response {
    let url = match url {
        Ok(u) => u,
        Err(e) => return internal(e).into_response(),
    };
    match Target::parse(&url) {
        Ok(target) => upgrade_proxy::proxy(req, &target).await,
        Err(e) => internal_msg(e.to_string()),
    }
}

fn internal_msg(msg: String) -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, msg).into_response()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Exec,
    Attach,
}

async fn remote_command(
    app: AppState,
    kind: Kind,
    ns: String,
    pod: String,
    container: String,
    req: Request,
) -> Response {
    let span = tracing::info_span!("stream", ?kind, namespace = %ns, pod = %pod, container = %container);
    let _enter = span.enter();
    let pairs = query_pairs(req.uri().query());
    let opts = match StreamOptions::parse(&pairs) {
        Ok(o) => o,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let rt = app.runtime.as_ref();
    let id = match running_container(rt, &ns, &pod, &container).await {
        Ok(id) => id,
        Err(refusal) => return refusal.into_response(),
    };
    let url = match kind {
        Kind::Exec => {
            rt.exec(api::ExecRequest {
                container_id: id,
                cmd: opts.command,
                tty: opts.tty,
                stdin: opts.stdin,
                stdout: opts.stdout,
                stderr: opts.stderr,
            })
            .await
        }
        Kind::Attach => {
            rt.attach(api::AttachRequest {
                container_id: id,
                stdin: opts.stdin,
                tty: opts.tty,
                stdout: opts.stdout,
                stderr: opts.stderr,
            })
            .await
        }
    };
    drop(_enter);
    stream_to(url, req).await
}

/// `/exec/{namespace}/{pod}/{container}` (GET for WebSocket, POST for SPDY).
pub(super) async fn exec(
    State(app): State<AppState>,
    Path((ns, pod, container)): Path<(String, String, String)>,
    req: Request<Body>,
) -> Response {
    remote_command(app, Kind::Exec, ns, pod, container, req).await
}

/// `/exec/{namespace}/{pod}/{uid}/{container}`: the uid is not checked (the sandbox is found by
/// name), as the pod's name is unique on the node at any time.
pub(super) async fn exec_uid(
    State(app): State<AppState>,
    Path((ns, pod, _uid, container)): Path<(String, String, String, String)>,
    req: Request<Body>,
) -> Response {
    remote_command(app, Kind::Exec, ns, pod, container, req).await
}

pub(super) async fn attach(
    State(app): State<AppState>,
    Path((ns, pod, container)): Path<(String, String, String)>,
    req: Request<Body>,
) -> Response {
    remote_command(app, Kind::Attach, ns, pod, container, req).await
}

pub(super) async fn attach_uid(
    State(app): State<AppState>,
    Path((ns, pod, _uid, container)): Path<(String, String, String, String)>,
    req: Request<Body>,
) -> Response {
    remote_command(app, Kind::Attach, ns, pod, container, req).await
}

/// `/portForward/{namespace}/{pod}`.
pub(super) async fn port_forward(
    State(app): State<AppState>,
    Path((ns, pod)): Path<(String, String)>,
    req: Request<Body>,
) -> Response {
    let span = tracing::info_span!("portforward", namespace = %ns, pod = %pod);
    let pairs = query_pairs(req.uri().query());
    let ports = match ports(
        &pairs,
        rudder_component::websocket_token::is_websocket_upgrade(req.headers()),
    ) {
        Ok(p) => p,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let rt = app.runtime.as_ref();
    let url = {
        let _enter = span.enter();
        let sb = match sandbox(rt, &ns, &pod).await {
            Ok(sb) => sb,
            Err(refusal) => return refusal.into_response(),
        };
        rt.port_forward(api::PortForwardRequest {
            pod_sandbox_id: sb.id,
            port: ports,
        })
        .await
    };
    stream_to(url, req).await
}

pub(super) async fn port_forward_uid(
    state: State<AppState>,
    Path((ns, pod, _uid)): Path<(String, String, String)>,
    req: Request<Body>,
) -> Response {
    port_forward(state, Path((ns, pod)), req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &str) -> Vec<(String, String)> {
        query_pairs(Some(q))
    }

    #[test]
    fn stream_options_as_upstream() {
        let o =
            StreamOptions::parse(&pairs("command=sh&command=-c&command=exit+3&output=1&error=1")).unwrap();
        assert_eq!(o.command, ["sh", "-c", "exit 3"]);
        assert!(o.stdout && o.stderr && !o.stdin && !o.tty);
        // A TTY has no separate stderr.
        let o = StreamOptions::parse(&pairs("command=sh&input=1&output=1&error=1&tty=1")).unwrap();
        assert!(o.stdin && o.stdout && o.tty && !o.stderr);
        assert_eq!(
            StreamOptions::parse(&pairs("command=ls&tty=1")),
            Err(OptionsError::NoStreams)
        );
        // Only "1" means true, as upstream's FormValue(...) == "1".
        assert_eq!(
            StreamOptions::parse(&pairs("command=ls&output=true")),
            Err(OptionsError::NoStreams)
        );
        let o = StreamOptions::parse(&pairs("command=echo&command=a%26b%3Dc%20d&output=1")).unwrap();
        assert_eq!(o.command, ["echo", "a&b=c d"]);
    }

    #[test]
    fn ports_as_upstream() {
        assert_eq!(ports(&pairs("port=80&port=8080"), true), Ok(vec![80, 8080]));
        assert_eq!(ports(&pairs("port=80,81"), true), Ok(vec![80, 81]));
        assert_eq!(ports(&pairs(""), false), Ok(vec![]));
        assert_eq!(ports(&pairs(""), true), Err(OptionsError::NoPorts));
        assert_eq!(
            ports(&pairs("port=0"), true),
            Err(OptionsError::BadPort("0".into()))
        );
        assert_eq!(
            ports(&pairs("port=x"), false),
            Err(OptionsError::BadPort("x".into()))
        );
    }
}
