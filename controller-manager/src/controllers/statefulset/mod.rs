//! The StatefulSet controller (upstream `pkg/controller/statefulset`): pods with stable
//! names and storage, created and removed in order (or in parallel), updated by partitioned
//! rolling update or on delete, with history kept as ControllerRevisions.

pub mod identity;
pub mod plan;
pub mod revision;
mod sync;

#[cfg(test)]
mod testing;

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use rudder_client::workqueue::{RateLimiter, WorkQueue};

use super::ControllerContext;
use super::util::ObjectKey;
use super::util::owner::controller_ref;
use super::util::selector;
use super::util::worker::{forward, run_workers};

pub use sync::SyncError;

const COMPONENT: &str = "statefulset-controller";

/// Starts the StatefulSet controller.
pub fn start(ctx: ControllerContext) -> BoxFuture<'static, ()> {
    let sets = ctx.informers.informer::<StatefulSet>();
    let pods = ctx.informers.informer::<Pod>();
    let revisions = ctx.informers.informer::<ControllerRevision>();
    let claims = ctx.informers.informer::<PersistentVolumeClaim>();
    let queue = WorkQueue::with_rate_limiter("statefulset", RateLimiter::default_controller());
    let shared = Arc::new(sync::Shared {
        client: ctx.client.clone(),
        sets: sets.store(),
        pods: pods.store(),
        revisions: revisions.store(),
        claims: claims.store(),
        recorder: ctx.recorder(COMPONENT),
    });
    {
        let queue = queue.clone();
        forward(sets.subscribe(), ctx.shutdown.clone(), move |change| {
            queue.add(ObjectKey::of(change.object().as_ref()));
        });
    }
    {
        let queue = queue.clone();
        let store = shared.sets.clone();
        forward(pods.subscribe(), ctx.shutdown.clone(), move |change| {
            let pod = change.object();
            let ns = pod.metadata.namespace.clone().unwrap_or_default();
            match controller_ref(&pod.metadata) {
                Some(r) if r.kind == "StatefulSet" => queue.add(ObjectKey::new(ns, r.name.clone())),
                Some(_) => {}
                // An orphan: every set in the namespace whose selector matches may adopt it.
                None => {
                    for s in store.state() {
                        let sel = selector::matcher(s.spec.as_ref().map(|x| &x.selector));
                        if s.metadata.namespace.as_deref() == Some(ns.as_str())
                            && selector::matches(&sel, pod.metadata.labels.as_ref())
                        {
                            queue.add(ObjectKey::of(s.as_ref()));
                        }
                    }
                }
            }
        });
    }
    {
        let queue = queue.clone();
        forward(revisions.subscribe(), ctx.shutdown.clone(), move |change| {
            let r = change.object();
            if let Some(owner) = controller_ref(&r.metadata).filter(|o| o.kind == "StatefulSet") {
                queue.add(ObjectKey::new(
                    r.metadata.namespace.clone().unwrap_or_default(),
                    owner.name.clone(),
                ));
            }
        });
    }
    let workers = ctx.config.concurrent_statefulset_syncs;
    let shutdown = ctx.shutdown.clone();
    async move {
        let synced = async {
            sets.wait_synced().await;
            pods.wait_synced().await;
            revisions.wait_synced().await;
            claims.wait_synced().await;
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
