//! The DaemonSet controller (upstream `pkg/controller/daemon`): one pod per eligible node,
//! pinned with node affinity so the scheduler places it, rolled to new templates with
//! maxUnavailable/maxSurge, history kept as ControllerRevisions.

pub mod eligibility;
pub mod history;
pub mod plan;
pub mod rolling;
mod sync;

#[cfg(test)]
mod testing;

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use rudder_client::informer::Change;
use rudder_client::workqueue::{RateLimiter, WorkQueue};

use super::ControllerContext;
use super::util::ObjectKey;
use super::util::expectations::Expectations;
use super::util::owner::controller_ref;
use super::util::worker::{forward, run_workers};

pub use sync::SyncError;

const COMPONENT: &str = "daemonset-controller";

/// Starts the DaemonSet controller.
pub fn start(ctx: ControllerContext) -> BoxFuture<'static, ()> {
    let sets = ctx.informers.informer::<DaemonSet>();
    let pods = ctx.informers.informer::<Pod>();
    let nodes = ctx.informers.informer::<Node>();
    let revisions = ctx.informers.informer::<ControllerRevision>();
    let queue = WorkQueue::with_rate_limiter("daemonset", RateLimiter::default_controller());
    let shared = Arc::new(sync::Shared {
        client: ctx.client.clone(),
        sets: sets.store(),
        pods: pods.store(),
        nodes: nodes.store(),
        revisions: revisions.store(),
        expectations: Expectations::new(),
        failed_backoff: sync::FailedPodBackoff::default(),
        recorder: ctx.recorder(COMPONENT),
    });
    {
        let queue = queue.clone();
        let shared = shared.clone();
        forward(sets.subscribe(), ctx.shutdown.clone(), move |change| {
            let key = ObjectKey::of(change.object().as_ref());
            if let Change::Deleted(_) = change {
                shared.expectations.forget(&key);
            }
            queue.add(key);
        });
    }
    {
        let queue = queue.clone();
        let shared = shared.clone();
        let mut seen = std::collections::HashSet::<String>::new();
        forward(pods.subscribe(), ctx.shutdown.clone(), move |change| {
            let pod = change.object().clone();
            let uid = pod.metadata.uid.clone().unwrap_or_default();
            let pod_key = ObjectKey::of(pod.as_ref());
            let Some(r) = controller_ref(&pod.metadata).filter(|r| r.kind == "DaemonSet") else {
                // Orphans: every DaemonSet in the namespace gets a look (it may adopt).
                if controller_ref(&pod.metadata).is_none() {
                    for s in shared.sets.state() {
                        if s.metadata.namespace == pod.metadata.namespace {
                            queue.add(ObjectKey::of(s.as_ref()));
                        }
                    }
                }
                return;
            };
            let key = ObjectKey::new(pod_key.namespace.clone(), r.name.clone());
            match change {
                Change::Applied(_) => {
                    if seen.insert(uid) {
                        shared.expectations.creation_observed(&key);
                    }
                    if pod.metadata.deletion_timestamp.is_some() {
                        shared.expectations.deletion_observed(&key, &pod_key.to_string());
                    }
                }
                Change::Deleted(_) => {
                    seen.remove(&uid);
                    shared.expectations.deletion_observed(&key, &pod_key.to_string());
                }
            }
            queue.add(key);
        });
    }
    {
        // Any node change may change where daemon pods belong.
        let queue = queue.clone();
        let store = shared.sets.clone();
        forward(nodes.subscribe(), ctx.shutdown.clone(), move |_| {
            for s in store.state() {
                queue.add(ObjectKey::of(s.as_ref()));
            }
        });
    }
    let workers = ctx.config.concurrent_daemonset_syncs;
    let shutdown = ctx.shutdown.clone();
    async move {
        let synced = async {
            sets.wait_synced().await;
            pods.wait_synced().await;
            nodes.wait_synced().await;
            revisions.wait_synced().await;
        };
        tokio::select! {
            _ = synced => {}
            _ = shutdown.wait() => return,
        }
        tracing::info!(controller = COMPONENT, "caches synced; starting workers");
        run_workers(COMPONENT, queue, workers, shutdown, move |key| {
            let shared = shared.clone();
            async move { sync::sync(&shared, &key).await }
        })
        .await;
    }
    .boxed()
}
