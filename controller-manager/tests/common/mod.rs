//! Shared set-up for the controller-manager integration tests: an in-process apiserver and the
//! named controllers running in-process against it. No kubelet exists, so tests mark pods
//! Running/Ready themselves.
#![allow(dead_code, unreachable_pub)]

pub(crate) mod https;

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams};
use rudder_component::shutdown::{Shutdown, ShutdownTrigger};
use rudder_controller_manager::options::Config;
use rudder_testkit::TestApiServer;
use serde_json::json;

/// A running apiserver with controllers. Dropping it stops both.
pub(crate) struct Cluster {
    pub(crate) server: TestApiServer,
    pub(crate) client: kube::Client,
    trigger: ShutdownTrigger,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.trigger.trigger();
    }
}

/// Starts an apiserver and runs `controllers` against it.
pub(crate) async fn start(controllers: &[&str]) -> Cluster {
    // Logs only when RUST_LOG asks for them.
    if std::env::var_os("RUST_LOG").is_some() {
        rudder_component::telemetry::init(0, false);
    }
    let server = TestApiServer::start().await;
    let mut config = Config::for_tests(controllers);
    config.kubeconfig = Some(server.kubeconfig.clone());
    let (trigger, shutdown) = Shutdown::new();
    tokio::spawn(async move {
        if let Err(e) = rudder_controller_manager::run(config, shutdown).await {
            panic!("controller-manager: {e}");
        }
    });
    Cluster {
        client: server.client.clone(),
        server,
        trigger,
    }
}

pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// Pods in `ns` matching `selector`.
pub(crate) async fn pods(client: &kube::Client, ns: &str, selector: &str) -> Vec<Pod> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    api.list(&ListParams::default().labels(selector))
        .await
        .expect("list pods")
        .items
}

/// Marks a pod Running and Ready, as a kubelet would.
pub(crate) async fn mark_ready(client: &kube::Client, pod: &Pod) {
    let ns = pod.metadata.namespace.as_deref().expect("namespace");
    let name = pod.metadata.name.as_deref().expect("name");
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let patch = json!({"status": {
        "phase": "Running",
        "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": now},
            {"type": "ContainersReady", "status": "True", "lastTransitionTime": now},
        ],
    }});
    // The pod may be gone already (scaled down meanwhile).
    let _ = api
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await;
}

/// Marks every not-yet-ready, not-deleting pod in `ns` matching `selector` Ready; returns how many.
pub(crate) async fn mark_all_ready(client: &kube::Client, ns: &str, selector: &str) -> usize {
    let mut n = 0;
    for p in pods(client, ns, selector).await {
        let ready = p
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        if !ready && p.metadata.deletion_timestamp.is_none() {
            mark_ready(client, &p).await;
            n += 1;
        }
    }
    n
}

/// Creates namespace `name`.
pub(crate) async fn namespace(client: &kube::Client, name: &str) {
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let ns = serde_json::from_value(json!({"metadata": {"name": name}})).expect("namespace");
    api.create(&Default::default(), &ns)
        .await
        .expect("create namespace");
}

/// A stand-in kubelet: marks every pod in `ns` Running and Ready shortly after it appears, until
/// the returned handle is dropped or aborted.
pub(crate) fn fake_kubelet(client: kube::Client, ns: &str) -> AbortOnDrop {
    let ns = ns.to_string();
    AbortOnDrop(tokio::spawn(async move {
        loop {
            mark_all_ready(&client, &ns, "").await;
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }))
}

/// Aborts its task when dropped.
pub(crate) struct AbortOnDrop(pub(crate) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
