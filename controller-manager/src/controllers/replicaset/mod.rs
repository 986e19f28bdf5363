//! The ReplicaSet controller (upstream `pkg/controller/replicaset`), also run for
//! ReplicationControllers (`replicationcontroller/`): keeps `spec.replicas` pods matching the
//! selector, adopting orphans and releasing pods that stopped matching.

mod owner;
pub mod plan;
mod sync;

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use rudder_client::informer::Change;
use rudder_client::workqueue::{RateLimiter, WorkQueue};

pub use owner::{ReplicaOwner, ReplicaStatus};

use super::ControllerContext;
use super::util::ObjectKey;
use super::util::expectations::Expectations;
use super::util::owner::controller_ref;
use super::util::selector;
use super::util::worker::{forward, run_workers, wait_for_sync};

/// Starts the ReplicaSet controller.
pub fn start(ctx: ControllerContext) -> BoxFuture<'static, ()> {
    let workers = ctx.config.concurrent_replicaset_syncs;
    start_for::<ReplicaSet>(ctx, workers)
}

/// Starts the replica manager for owner kind `O` with `workers` concurrent syncs.
pub fn start_for<O: ReplicaOwner>(ctx: ControllerContext, workers: usize) -> BoxFuture<'static, ()> {
    let owners = ctx.informers.informer::<O>();
    let pods = ctx.informers.informer::<Pod>();
    let queue = WorkQueue::with_rate_limiter(O::QUEUE, RateLimiter::default_controller());
    let shared = Arc::new(sync::Shared::<O> {
        client: ctx.client.clone(),
        owners: owners.store(),
        pods: pods.store(),
        expectations: Expectations::new(),
        recorder: ctx.recorder(O::COMPONENT),
    });

    {
        let queue = queue.clone();
        let shared = shared.clone();
        forward(owners.subscribe(), ctx.shutdown.clone(), move |change| {
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
            let owner = owner_of::<O>(&shared, &pod);
            match change {
                Change::Applied(_) => {
                    let new = seen.insert(uid);
                    match owner {
                        Some(key) => {
                            if new {
                                shared.expectations.creation_observed(&key);
                            }
                            if pod.metadata.deletion_timestamp.is_some() {
                                // A pod going away counts as deleted for expectations, like upstream.
                                shared.expectations.deletion_observed(&key, &pod_key.to_string());
                            }
                            queue.add(key);
                        }
                        None if controller_ref(&pod.metadata).is_none() => {
                            for key in matching_owners::<O>(&shared, &pod) {
                                queue.add(key);
                            }
                        }
                        None => {}
                    }
                }
                Change::Deleted(_) => {
                    seen.remove(&uid);
                    if let Some(key) = owner {
                        shared.expectations.deletion_observed(&key, &pod_key.to_string());
                        queue.add(key);
                    }
                }
            }
        });
    }

    let shutdown = ctx.shutdown.clone();
    async move {
        if !wait_for_sync(&shutdown, || owners.has_synced() && pods.has_synced()).await {
            return;
        }
        tracing::info!(controller = O::COMPONENT, "caches synced; starting workers");
        run_workers(O::COMPONENT, queue, workers, shutdown, move |key| {
            let shared = shared.clone();
            async move { sync::sync(&shared, &key).await }
        })
        .await;
    }
    .boxed()
}

/// The owner key of `pod` if its controllerRef is an `O` in the cache with the same UID.
fn owner_of<O: ReplicaOwner>(shared: &sync::Shared<O>, pod: &Pod) -> Option<ObjectKey> {
    let r = controller_ref(&pod.metadata)?;
    if r.kind != O::kind(&()) {
        return None;
    }
    let key = ObjectKey::new(pod.metadata.namespace.clone().unwrap_or_default(), r.name.clone());
    let owner = shared.owners.get(&key.to_ref())?;
    (owner.meta().uid.as_deref() == Some(r.uid.as_str())).then_some(key)
}

/// Owners in the pod's namespace whose selector matches it (for orphans).
fn matching_owners<O: ReplicaOwner>(shared: &sync::Shared<O>, pod: &Pod) -> Vec<ObjectKey> {
    let ns = pod.metadata.namespace.as_deref();
    shared
        .owners
        .state()
        .iter()
        .filter(|o| o.meta().namespace.as_deref() == ns)
        .filter(|o| selector::matches(&o.selector(), pod.metadata.labels.as_ref()))
        .map(|o| ObjectKey::of(o.as_ref()))
        .collect()
}
