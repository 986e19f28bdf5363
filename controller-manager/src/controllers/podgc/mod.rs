//! The pod garbage collector (upstream `pkg/controller/podgc`): every 20 s it deletes terminated
//! pods beyond `--terminated-pod-gc-threshold` (oldest first), pods bound to nodes that no longer
//! exist, and unscheduled pods stuck terminating.

pub mod plan;

use std::collections::HashSet;
use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, Preconditions};
use kube::runtime::reflector::Store;

use super::ControllerContext;
use super::util::api::{ignore_not_found, is_not_found};
use super::util::worker::wait_for_sync;

const COMPONENT: &str = "pod-garbage-collector-controller";

struct Shared {
    client: kube::Client,
    pods: Store<Pod>,
    nodes: Store<Node>,
    threshold: i32,
}

/// Starts the pod garbage collector.
pub fn start(ctx: ControllerContext) -> BoxFuture<'static, ()> {
    let pods = ctx.informers.informer::<Pod>();
    let nodes = ctx.informers.informer::<Node>();
    let shared = Arc::new(Shared {
        client: ctx.client.clone(),
        pods: pods.store(),
        nodes: nodes.store(),
        threshold: ctx.config.terminated_pod_gc_threshold,
    });
    let period = ctx.config.pod_gc_period;
    let shutdown = ctx.shutdown.clone();
    async move {
        if !wait_for_sync(&shutdown, || pods.has_synced() && nodes.has_synced()).await {
            return;
        }
        loop {
            tokio::select! {
                _ = shutdown.wait() => return,
                _ = tokio::time::sleep(period) => {}
            }
            if let Err(e) = gc(&shared).await {
                tracing::warn!(controller = COMPONENT, error = %e, "pod garbage collection pass failed");
            }
        }
    }
    .boxed()
}

async fn gc(shared: &Shared) -> Result<(), kube::Error> {
    let pods = shared.pods.state();
    let pod_refs: Vec<&Pod> = pods.iter().map(AsRef::as_ref).collect();
    let known: HashSet<String> = shared
        .nodes
        .state()
        .iter()
        .filter_map(|n| n.metadata.name.clone())
        .collect();
    // A node missing from the cache may just be new: confirm with the apiserver first.
    let mut missing: HashSet<String> = HashSet::new();
    let nodes_api: Api<Node> = Api::all(shared.client.clone());
    for node in plan::nodes_to_check(&pod_refs, &known) {
        if ignore_not_found(nodes_api.get(&node).await)?.is_none() {
            missing.insert(node);
        }
    }
    for victim in plan::plan(&pod_refs, shared.threshold, &missing) {
        tracing::info!(controller = COMPONENT, pod = %format!("{}/{}", victim.namespace, victim.name), reason = ?victim.reason, "deleting pod");
        let api: Api<Pod> = Api::namespaced(shared.client.clone(), &victim.namespace);
        let params = DeleteParams {
            // Orphaned and stuck pods have no kubelet to finish a graceful deletion.
            grace_period_seconds: victim.force.then_some(0),
            preconditions: Some(Preconditions {
                uid: Some(victim.uid.clone()),
                resource_version: None,
            }),
            ..Default::default()
        };
        match api.delete(&victim.name, &params).await {
            Ok(_) => {}
            Err(e) if is_not_found(&e) || crate::controllers::util::api::is_conflict(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
