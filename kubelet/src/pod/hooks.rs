//! Lifecycle hooks (postStart, preStop): exec in the container or an HTTP GET to the pod.

use k8s_openapi::api::core::v1::{Container, LifecycleHandler, Probe};
use tracing::warn;

use crate::cri::RuntimeService;

/// Runs a handler, giving up after `timeout_seconds`. Returns whether it succeeded.
pub async fn run(
    handler: &LifecycleHandler,
    c: &Container,
    rt: &dyn RuntimeService,
    container_id: &str,
    pod_ip: &str,
    timeout_seconds: i64,
) -> bool {
    if let Some(s) = &handler.sleep {
        tokio::time::sleep(std::time::Duration::from_secs(s.seconds.max(0) as u64)).await;
        return true;
    }
    // Same mechanics as a probe, with the hook's own timeout.
    let probe = Probe {
        exec: handler.exec.clone(),
        http_get: handler.http_get.clone(),
        tcp_socket: handler.tcp_socket.clone(),
        timeout_seconds: Some(timeout_seconds.clamp(1, i64::from(i32::MAX)) as i32),
        ..Default::default()
    };
    let ok = super::probe::run_once(&probe, c, rt, container_id, pod_ip).await;
    if !ok {
        warn!(container = %c.name, "lifecycle hook failed");
    }
    ok
}
