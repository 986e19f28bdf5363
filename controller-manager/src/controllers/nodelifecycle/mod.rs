//! The node lifecycle controller (upstream `pkg/controller/nodelifecycle`, together with the
//! taint eviction controller of `pkg/controller/tainteviction`): heartbeats (Lease renewals
//! and the Ready condition) → Unknown conditions after `--node-monitor-grace-period` → the
//! `not-ready` / `unreachable` / `unschedulable` taints → deletion of pods that do not
//! tolerate a NoExecute taint (after their `tolerationSeconds`).
//!
//! Not done like upstream: NoExecute tainting is not rate limited per zone
//! (`--node-eviction-rate`); the zone disruption brake (all zones down → no evictions, small
//! partially disrupted zone → none added) is applied directly.

pub(crate) mod eviction;
pub(crate) mod health;
mod sync;
pub(crate) mod taints;
#[cfg(test)]
pub(crate) mod testing;

use std::collections::HashMap;
use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use parking_lot::Mutex;
use rudder_client::workqueue::{RateLimiter, WorkQueue};
use tracing::Instrument;

use super::ControllerContext;
use super::endpoints::synced::wait_synced;
use super::util::ObjectKey;
use super::util::worker::{forward, run_workers};

const COMPONENT: &str = "node-controller";

fn node_key(name: &str) -> ObjectKey {
    ObjectKey::new("", name)
}

/// Starts the node lifecycle controller.
pub fn start(ctx: ControllerContext) -> BoxFuture<'static, ()> {
    let nodes = ctx.informers.informer::<Node>();
    let leases = ctx.informers.informer::<Lease>();
    let pods = ctx.informers.informer::<Pod>();
    let queue = WorkQueue::with_rate_limiter("node_lifecycle", RateLimiter::default_controller());
    let config = ctx.config.clone();
    let shared = Arc::new(sync::Shared {
        client: ctx.client.clone(),
        nodes: nodes.store(),
        leases: leases.store(),
        pods: pods.store(),
        recorder: ctx.recorder(COMPONENT),
        health: Mutex::new(HashMap::new()),
        grace: sync::Shared::grace_from(config.node_monitor_grace_period),
        startup_grace: sync::Shared::grace_from(config.node_startup_grace_period),
    });
    {
        let queue = queue.clone();
        forward(nodes.subscribe(), ctx.shutdown.clone(), move |change| {
            if let Some(name) = change.object().metadata.name.as_deref() {
                queue.add(node_key(name));
            }
        });
    }
    {
        let queue = queue.clone();
        forward(leases.subscribe(), ctx.shutdown.clone(), move |change| {
            let lease = change.object();
            let in_lease_ns = lease.metadata.namespace.as_deref() == Some(sync::NODE_LEASE_NAMESPACE);
            if let Some(name) = lease.metadata.name.as_deref().filter(|_| in_lease_ns) {
                queue.add(node_key(name));
            }
        });
    }
    {
        // A pod landing on a tainted or unready node is handled by that node's next pass.
        let queue = queue.clone();
        forward(pods.subscribe(), ctx.shutdown.clone(), move |change| {
            if let Some(node) = change.object().spec.as_ref().and_then(|s| s.node_name.as_deref()) {
                queue.add(node_key(node));
            }
        });
    }
    let shutdown = ctx.shutdown.clone();
    let period = config
        .node_monitor_period
        .max(std::time::Duration::from_millis(10));
    async move {
        let (a, b, c) = (
            || nodes.has_synced(),
            || leases.has_synced(),
            || pods.has_synced(),
        );
        if !wait_synced(&[&a, &b, &c], &shutdown).await {
            return;
        }
        tracing::info!(controller = COMPONENT, "caches synced; starting workers");
        // `monitorNodeHealth` every --node-monitor-period: every node is looked at again, so
        // a node whose heartbeats simply stop is noticed.
        {
            let (queue, store, shutdown) = (queue.clone(), nodes.store(), shutdown.clone());
            tokio::spawn(async move {
                loop {
                    for n in store.state() {
                        if let Some(name) = n.metadata.name.as_deref() {
                            queue.add(node_key(name));
                        }
                    }
                    tokio::select! {
                        _ = shutdown.wait() => return,
                        _ = tokio::time::sleep(period) => {}
                    }
                }
            });
        }
        run_workers(COMPONENT, queue, 1, shutdown, move |key: ObjectKey| {
            let shared = shared.clone();
            let span = tracing::debug_span!("sync", controller = COMPONENT, node = %key);
            async move { sync::sync(&shared, &key.name).await }.instrument(span)
        })
        .await;
    }
    .boxed()
}
