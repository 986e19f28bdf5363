//! The node IPAM controller's range allocator (upstream `pkg/controller/nodeipam`): with
//! `--allocate-node-cidrs` and `--cluster-cidr`, every node gets `spec.podCIDR(s)` from the
//! cluster CIDR (`--node-cidr-mask-size`, /24 by default); subnets are freed when nodes go.

pub(crate) mod cidrset;
pub(crate) mod plan;

use std::collections::HashMap;
use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::reflector::{ObjectRef, Store};
use parking_lot::Mutex;
use rudder_client::informer::Change;
use rudder_client::workqueue::{RateLimiter, WorkQueue};
use serde_json::json;
use tracing::Instrument;

use super::ControllerContext;
use super::endpoints::synced::wait_synced;
use super::util::ObjectKey;
use super::util::events::{EventType, Recorder, object_ref};
use super::util::worker::{Requeue, forward, run_workers};
use plan::{NodeAction, RangeAllocator, node_pod_cidrs};

const COMPONENT: &str = "cidrAllocator";

/// A failed sync (retried with backoff).
#[derive(Debug, thiserror::Error)]
enum SyncError {
    #[error("no CIDR left in the cluster CIDR for node {0}")]
    Exhausted(String),
    #[error("assigning podCIDRs to node {node}: {source}")]
    Patch {
        node: String,
        #[source]
        source: kube::Error,
    },
}

struct Shared {
    client: kube::Client,
    nodes: Store<Node>,
    recorder: Recorder,
    allocator: Mutex<RangeAllocator>,
    /// Assignments written but not yet seen in the cache: not to be allocated twice.
    pending: Mutex<HashMap<String, Vec<String>>>,
}

/// Starts the node IPAM controller (idle unless `--allocate-node-cidrs` with a cluster CIDR).
pub fn start(ctx: ControllerContext) -> BoxFuture<'static, ()> {
    let shutdown = ctx.shutdown.clone();
    let cidr = ctx
        .config
        .cluster_cidr
        .clone()
        .filter(|_| ctx.config.allocate_node_cidrs);
    let Some(cidr) = cidr else {
        tracing::info!("node IPAM: --allocate-node-cidrs is off or --cluster-cidr is empty; not allocating");
        return async move { shutdown.wait().await }.boxed();
    };
    let allocator = match RangeAllocator::new(&cidr, ctx.config.node_cidr_mask_size) {
        Ok(a) => a,
        Err(error) => {
            tracing::error!(%error, cluster_cidr = %cidr, "node IPAM: unusable cluster CIDR; not allocating");
            return async move { shutdown.wait().await }.boxed();
        }
    };
    let nodes = ctx.informers.informer::<Node>();
    let queue = WorkQueue::with_rate_limiter("node_ipam", RateLimiter::default_controller());
    let shared = Arc::new(Shared {
        client: ctx.client.clone(),
        nodes: nodes.store(),
        recorder: ctx.recorder(COMPONENT),
        allocator: Mutex::new(allocator),
        pending: Mutex::new(HashMap::new()),
    });
    {
        let (queue, shared) = (queue.clone(), shared.clone());
        forward(
            nodes.subscribe(),
            ctx.shutdown.clone(),
            move |change| match change {
                Change::Applied(node) => queue.add(ObjectKey::of(node.as_ref())),
                Change::Deleted(node) => {
                    let name = node.metadata.name.clone().unwrap_or_default();
                    let pending = shared.pending.lock().remove(&name);
                    let mut allocator = shared.allocator.lock();
                    allocator.release(&node);
                    if let Some(cidrs) = pending {
                        allocator.release_cidrs(&cidrs);
                    }
                }
            },
        );
    }
    async move {
        let synced = || nodes.has_synced();
        if !wait_synced(&[&synced], &shutdown).await {
            return;
        }
        // Everything already handed out is taken before anything new is handed out.
        {
            let mut allocator = shared.allocator.lock();
            for n in shared.nodes.state() {
                allocator.occupy(&n);
                queue.add(ObjectKey::of(n.as_ref()));
            }
        }
        tracing::info!(controller = COMPONENT, "caches synced; starting workers");
        // One worker: allocations are decided one node at a time.
        run_workers(COMPONENT, queue, 1, shutdown, move |key: ObjectKey| {
            let shared = shared.clone();
            let span = tracing::debug_span!("sync", controller = COMPONENT, node = %key);
            async move { sync(&shared, &key.name).await }.instrument(span)
        })
        .await;
    }
    .boxed()
}

async fn sync(shared: &Shared, name: &str) -> Result<Requeue, SyncError> {
    let Some(node) = shared.nodes.get(&ObjectRef::new(name)) else {
        return Ok(None);
    };
    if !node_pod_cidrs(&node).is_empty() {
        shared.pending.lock().remove(name);
    } else if shared.pending.lock().contains_key(name) {
        return Ok(None); // our assignment is on its way into the cache
    }
    let action = shared.allocator.lock().plan(&node);
    match action {
        NodeAction::Nothing => Ok(None),
        NodeAction::Exhausted => {
            shared.recorder.record(
                &object_ref(node.as_ref()),
                EventType::Normal,
                "CIDRNotAvailable",
                &format!("Node {name} status is now: CIDRNotAvailable"),
            );
            Err(SyncError::Exhausted(name.into()))
        }
        NodeAction::Assign(cidrs) => {
            let api: Api<Node> = Api::all(shared.client.clone());
            let patch = json!({"spec": {"podCIDR": cidrs.first(), "podCIDRs": cidrs}});
            match api
                .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => {
                    tracing::info!(node = name, ?cidrs, "assigned podCIDRs");
                    shared.pending.lock().insert(name.into(), cidrs);
                    Ok(None)
                }
                Err(source) => {
                    shared.allocator.lock().release_cidrs(&cidrs);
                    shared.recorder.record(
                        &object_ref(node.as_ref()),
                        EventType::Normal,
                        "CIDRAssignmentFailed",
                        &format!("Node {name} status is now: CIDRAssignmentFailed"),
                    );
                    Err(SyncError::Patch {
                        node: name.into(),
                        source,
                    })
                }
            }
        }
    }
}
