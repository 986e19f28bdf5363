//! Creating the nodes and pending pods through the API, concurrently.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;

pub(crate) const NAMESPACE: &str = "bench";
const CONCURRENCY: usize = 64;
const ZONES: usize = 10;

/// Runs `f(i)` for i in 0..n on `CONCURRENCY` tasks.
async fn concurrently<F, Fut>(n: usize, f: F) -> anyhow::Result<()>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let f = Arc::new(f);
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (next, f) = (next.clone(), f.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return anyhow::Ok(());
                }
                f(i).await?;
            }
        }));
    }
    for t in tasks {
        t.await.context("worker")??;
    }
    Ok(())
}

pub(crate) async fn create_nodes(client: &kube::Client, n: usize) -> anyhow::Result<()> {
    let api: Api<Node> = Api::all(client.clone());
    concurrently(n, move |i| {
        let api = api.clone();
        async move {
            let name = format!("node-{i:05}");
            let resources = json!({"cpu": "32", "memory": "128Gi", "pods": "110"});
            let node: Node = serde_json::from_value(json!({
                "metadata": {"name": name, "labels": {
                    "kubernetes.io/hostname": name,
                    "topology.kubernetes.io/zone": format!("zone-{}", i % ZONES),
                }},
                "status": {"capacity": resources, "allocatable": resources,
                           "conditions": [{"type": "Ready", "status": "True"}]},
            }))?;
            let created = api
                .create(&PostParams::default(), &node)
                .await
                .context("create node")?;
            // Status is the kubelet's to set; if the create dropped it, set it as a kubelet would.
            if created
                .status
                .as_ref()
                .and_then(|s| s.allocatable.as_ref())
                .is_none()
            {
                let status = json!({"status": {"capacity": resources, "allocatable": resources}});
                api.patch_status(&name, &PatchParams::default(), &Patch::Merge(status))
                    .await
                    .context("node status")?;
            }
            Ok(())
        }
    })
    .await
}

pub(crate) async fn create_pods(client: &kube::Client, n: usize) -> anyhow::Result<()> {
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": NAMESPACE}}))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .context("create namespace")?;
    let api: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    concurrently(n, move |i| {
        let api = api.clone();
        async move {
            let pod: Pod = serde_json::from_value(json!({
                "metadata": {"name": format!("pod-{i:06}"), "labels": {"app": format!("app-{}", i % 100)}},
                "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10",
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]},
            }))?;
            api.create(&PostParams::default(), &pod)
                .await
                .context("create pod")?;
            Ok(())
        }
    })
    .await
}
