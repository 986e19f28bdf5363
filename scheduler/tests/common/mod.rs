//! Shared setup for the scheduler's integration tests: an in-process apiserver, Node objects
//! with capacity, pods, and a scheduler running in-process.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use rudder_component::shutdown::{Shutdown, ShutdownTrigger};
use rudder_scheduler::config::options::Config;
use rudder_testkit::{TestApiServer, eventually};
use serde_json::{Value, json};

pub const WAIT: Duration = Duration::from_secs(20);

/// Creates a Node with `cpu`/`memory` capacity and allocatable, plus `extra` merged into it.
pub async fn create_node(client: &kube::Client, name: &str, cpu: &str, extra: Value) {
    let mut node = json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": {},
    });
    merge(&mut node, extra);
    let api: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(node).expect("node");
    api.create(&PostParams::default(), &node)
        .await
        .expect("create node");
    let resources = json!({"cpu": cpu, "memory": "8Gi", "pods": "110"});
    let status = json!({"status": {"capacity": resources, "allocatable": resources,
        "conditions": [{"type": "Ready", "status": "True"}]}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(status))
        .await
        .expect("node status");
}

pub fn merge(base: &mut Value, extra: Value) {
    match (base, extra) {
        (Value::Object(b), Value::Object(e)) => {
            for (k, v) in e {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, e) => *b = e,
    }
}

/// Creates a pod in `default` requesting `cpu`, plus `extra`.
pub async fn create_pod(client: &kube::Client, name: &str, cpu: &str, extra: Value) -> Pod {
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": cpu}}}]},
    });
    merge(&mut pod, extra);
    let pod: Pod = serde_json::from_value(pod).expect("pod");
    Api::<Pod>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &pod)
        .await
        .expect("create pod")
}

pub async fn node_of(client: &kube::Client, name: &str) -> Option<String> {
    let pod = Api::<Pod>::namespaced(client.clone(), "default")
        .get_opt(name)
        .await
        .ok()??;
    pod.spec?.node_name.filter(|n| !n.is_empty())
}

pub async fn wait_bound(client: &kube::Client, name: &str) -> String {
    eventually(&format!("pod {name} bound"), WAIT, || node_of(client, name)).await
}

/// The `PodScheduled` condition's (status, reason, message).
pub async fn scheduled_condition(client: &kube::Client, name: &str) -> Option<(String, String, String)> {
    let pod = Api::<Pod>::namespaced(client.clone(), "default")
        .get_opt(name)
        .await
        .ok()??;
    let c = pod
        .status?
        .conditions?
        .into_iter()
        .find(|c| c.type_ == "PodScheduled")?;
    Some((
        c.status,
        c.reason.unwrap_or_default(),
        c.message.unwrap_or_default(),
    ))
}

/// events.k8s.io/v1 Events about pod `name` with `reason`: their notes.
pub async fn event_notes(client: &kube::Client, name: &str, reason: &str) -> Vec<String> {
    let events = Api::<Event>::namespaced(client.clone(), "default")
        .list(&ListParams::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    events
        .into_iter()
        .filter(|e| {
            e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
                && e.reason.as_deref() == Some(reason)
        })
        .filter(|e| e.reporting_controller.as_deref() == Some("default-scheduler"))
        .filter_map(|e| e.note)
        .collect()
}

/// A scheduler running in-process until the returned trigger fires (or is dropped).
pub struct RunningScheduler {
    pub trigger: ShutdownTrigger,
    pub task: tokio::task::JoinHandle<()>,
}

impl Drop for RunningScheduler {
    fn drop(&mut self) {
        self.trigger.trigger();
    }
}

pub fn start_scheduler(config: Config) -> RunningScheduler {
    let (trigger, shutdown): (ShutdownTrigger, Shutdown) = Shutdown::new();
    let task = tokio::spawn(async move {
        if let Err(e) = rudder_scheduler::run::run(config, shutdown).await {
            panic!("scheduler failed: {e}");
        }
    });
    RunningScheduler { trigger, task }
}

pub async fn setup() -> (TestApiServer, RunningScheduler) {
    let server = TestApiServer::start().await;
    let sched = start_scheduler(Config::for_client(server.client.clone()));
    (server, sched)
}

pub fn arc<T>(t: T) -> Arc<T> {
    Arc::new(t)
}
