//! The Deployment controller (upstream `pkg/controller/deployment`): rolls a Deployment's pod
//! template out through ReplicaSets, RollingUpdate (maxSurge/maxUnavailable) or Recreate, with
//! revisions, history cleanup, pause, scaling mid-rollout and progress-deadline conditions.

mod replicasets;
pub mod rollout;
pub mod status;
mod sync;
pub mod util;

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::reflector::Store;
use rudder_client::informer::Change;
use rudder_client::workqueue::{RateLimiter, WorkQueue};

use super::ControllerContext;
use super::util::events::Recorder;
use super::util::owner::controller_ref;
use super::util::worker::{forward, run_workers, wait_for_sync};
use super::util::{ObjectKey, selector};

const COMPONENT: &str = "deployment-controller";

pub(crate) struct Shared {
    pub(crate) client: kube::Client,
    pub(crate) deployments: Store<Deployment>,
    pub(crate) rss: Store<ReplicaSet>,
    pub(crate) pods: Store<Pod>,
    pub(crate) recorder: Recorder,
}

/// Starts the Deployment controller.
pub fn start(ctx: ControllerContext) -> BoxFuture<'static, ()> {
    let deployments = ctx.informers.informer::<Deployment>();
    let rss = ctx.informers.informer::<ReplicaSet>();
    let pods = ctx.informers.informer::<Pod>();
    let queue: WorkQueue<ObjectKey> =
        WorkQueue::with_rate_limiter("deployment", RateLimiter::default_controller());
    let shared = Arc::new(Shared {
        client: ctx.client.clone(),
        deployments: deployments.store(),
        rss: rss.store(),
        pods: pods.store(),
        recorder: ctx.recorder(COMPONENT),
    });
    {
        let queue = queue.clone();
        forward(deployments.subscribe(), ctx.shutdown.clone(), move |change| {
            if let Change::Applied(d) = change {
                queue.add(ObjectKey::of(d.as_ref()));
            }
        });
    }
    {
        let queue = queue.clone();
        let shared = shared.clone();
        forward(rss.subscribe(), ctx.shutdown.clone(), move |change| {
            let rs = change.object();
            match controller_ref(&rs.metadata) {
                Some(r) if r.kind == "Deployment" => {
                    queue.add(ObjectKey::new(
                        rs.metadata.namespace.clone().unwrap_or_default(),
                        r.name.clone(),
                    ));
                }
                Some(_) => {}
                None => {
                    // An orphan: every Deployment that could adopt it looks again.
                    for d in shared.deployments.state() {
                        let same_ns = d.metadata.namespace == rs.metadata.namespace;
                        let m = selector::matcher(d.spec.as_ref().map(|s| &s.selector));
                        if same_ns && selector::matches(&m, rs.metadata.labels.as_ref()) {
                            queue.add(ObjectKey::of(d.as_ref()));
                        }
                    }
                }
            }
        });
    }
    {
        // Recreate waits for old pods to be gone: a deleted pod wakes its Deployment.
        let queue = queue.clone();
        let shared = shared.clone();
        forward(pods.subscribe(), ctx.shutdown.clone(), move |change| {
            let Change::Deleted(p) = change else {
                return;
            };
            let Some(r) = controller_ref(&p.metadata).filter(|r| r.kind == "ReplicaSet") else {
                return;
            };
            let rs_key = ObjectKey::new(p.metadata.namespace.clone().unwrap_or_default(), r.name.clone());
            if let Some(rs) = shared.rss.get(&rs_key.to_ref())
                && let Some(owner) = controller_ref(&rs.metadata).filter(|o| o.kind == "Deployment")
            {
                queue.add(ObjectKey::new(rs_key.namespace, owner.name.clone()));
            }
        });
    }
    let workers = ctx.config.concurrent_deployment_syncs;
    let shutdown = ctx.shutdown.clone();
    async move {
        if !wait_for_sync(&shutdown, || {
            deployments.has_synced() && rss.has_synced() && pods.has_synced()
        })
        .await
        {
            return;
        }
        tracing::info!(controller = COMPONENT, "caches synced; starting workers");
        run_workers(COMPONENT, queue, workers, shutdown, move |key| {
            let shared = shared.clone();
            // The sync future is large (many awaits on API calls): keep it on the heap.
            async move { Box::pin(sync::sync(&shared, &key)).await }
        })
        .await;
    }
    .boxed()
}
