//! Waiting for the pieces of a cluster, failing early (with the log's tail) when the process
//! that should become ready has exited.

use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};

use super::RkindError;
use super::state::Proc;
use super::sys::owned_and_alive;

const POLL: Duration = Duration::from_millis(25);

/// The last lines of a log file.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn exited(p: &Proc) -> RkindError {
    RkindError::Exited {
        role: match &p.node {
            Some(n) => format!("{} on {n}", p.role),
            None => p.role.clone(),
        },
        detail: format!("log {}:\n{}", p.log.display(), tail(&p.log, 20)),
    }
}

/// Fails if any of `procs` is gone.
pub fn check_alive(procs: &[Proc], marker: &str) -> Result<(), RkindError> {
    match procs.iter().find(|p| !owned_and_alive(p.pid, marker)) {
        Some(p) => Err(exited(p)),
        None => Ok(()),
    }
}

/// A client from a kubeconfig file.
pub async fn client(kubeconfig: &Path) -> Result<kube::Client, RkindError> {
    let err = |message: String| RkindError::Kubeconfig {
        path: kubeconfig.display().to_string(),
        message,
    };
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).map_err(|e| err(e.to_string()))?;
    let config = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .map_err(|e| err(e.to_string()))?;
    kube::Client::try_from(config).map_err(|e| err(e.to_string()))
}

/// Polls `ready` until it is true, the deadline passes, or one of `procs` exits.
pub async fn until<F, Fut>(
    what: &str,
    timeout: Duration,
    procs: &[Proc],
    marker: &str,
    mut ready: F,
) -> Result<(), RkindError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool, String>>,
{
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    loop {
        match ready().await {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(e) => last = e,
        }
        check_alive(procs, marker)?;
        if Instant::now() > deadline {
            return Err(RkindError::Timeout {
                what: what.into(),
                secs: timeout.as_secs(),
                detail: if last.is_empty() {
                    String::new()
                } else {
                    format!(" (last error: {last})")
                },
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// (ready, total) among the named nodes.
pub async fn nodes_ready(client: &kube::Client, names: &[String]) -> Result<(usize, usize), String> {
    let nodes: Api<Node> = Api::all(client.clone());
    let list = nodes
        .list(&ListParams::default())
        .await
        .map_err(|e| e.to_string())?;
    let ready = list
        .items
        .iter()
        .filter(|n| names.iter().any(|want| n.metadata.name.as_ref() == Some(want)))
        .filter(|n| {
            n.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .count();
    Ok((ready, names.len()))
}
