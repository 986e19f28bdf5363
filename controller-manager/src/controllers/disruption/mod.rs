//! The disruption controller (upstream `pkg/controller/disruption`): keeps every
//! PodDisruptionBudget's status (currentHealthy, desiredHealthy, expectedPods,
//! disruptionsAllowed, the DisruptionAllowed condition) and drops `status.disruptedPods` entries
//! whose pods were not deleted within two minutes. The apiserver's eviction endpoint reads
//! `disruptionsAllowed`.

pub(crate) mod plan;
mod scale;

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use rudder_client::workqueue::{RateLimiter, WorkQueue};
use tracing::Instrument;

use super::ControllerContext;
use super::endpoints::synced::wait_synced;
use super::util::ObjectKey;
use super::util::events::{EventType, object_ref};
use super::util::selector;
use super::util::worker::{Requeue, forward, run_workers};

const COMPONENT: &str = "controllermanager";

/// Starts the disruption controller.
pub fn start(ctx: ControllerContext) -> BoxFuture<'static, ()> {
    let pdbs = ctx.informers.informer::<PodDisruptionBudget>();
    let pods = ctx.informers.informer::<Pod>();
    let rss = ctx.informers.informer::<ReplicaSet>();
    let deployments = ctx.informers.informer::<Deployment>();
    let statefulsets = ctx.informers.informer::<StatefulSet>();
    let rcs = ctx.informers.informer::<ReplicationController>();
    let queue = WorkQueue::with_rate_limiter("disruption", RateLimiter::default_controller());
    let shared = Arc::new(scale::Shared {
        client: ctx.client.clone(),
        pdbs: pdbs.store(),
        pods: pods.store(),
        rss: rss.store(),
        deployments: deployments.store(),
        statefulsets: statefulsets.store(),
        rcs: rcs.store(),
        recorder: ctx.recorder(COMPONENT),
    });
    {
        let queue = queue.clone();
        forward(pdbs.subscribe(), ctx.shutdown.clone(), move |change| {
            queue.add(ObjectKey::of(change.object().as_ref()));
        });
    }
    {
        // A pod change concerns the budgets of its namespace (its labels may have changed, so
        // all of them rather than only those matching now).
        let (queue, store) = (queue.clone(), pdbs.store());
        forward(pods.subscribe(), ctx.shutdown.clone(), move |change| {
            let ns = change.object().metadata.namespace.clone();
            for pdb in store.state() {
                if pdb.metadata.namespace == ns {
                    queue.add(ObjectKey::of(pdb.as_ref()));
                }
            }
        });
    }
    let shutdown = ctx.shutdown.clone();
    async move {
        let (a, b, c) = (|| pdbs.has_synced(), || pods.has_synced(), || rss.has_synced());
        let (d, e, f) = (
            || deployments.has_synced(),
            || statefulsets.has_synced(),
            || rcs.has_synced(),
        );
        if !wait_synced(&[&a, &b, &c, &d, &e, &f], &shutdown).await {
            return;
        }
        tracing::info!(controller = "disruption", "caches synced; starting workers");
        run_workers("disruption", queue, 1, shutdown, move |key: ObjectKey| {
            let shared = shared.clone();
            let span = tracing::debug_span!("sync", controller = "disruption", pdb = %key);
            async move { sync(&shared, &key).await }.instrument(span)
        })
        .await;
    }
    .boxed()
}

async fn sync(shared: &scale::Shared, key: &ObjectKey) -> Result<Requeue, kube::Error> {
    let Some(pdb) = shared.pdbs.get(&key.to_ref()) else {
        return Ok(None);
    };
    let now = Timestamp::now();
    let matcher = selector::matcher(pdb.spec.as_ref().and_then(|s| s.selector.as_ref()));
    let all = shared.pods.state();
    let pods: Vec<&Pod> = all
        .iter()
        .map(AsRef::as_ref)
        .filter(|p| p.metadata.namespace.as_deref() == Some(key.namespace.as_str()))
        .filter(|p| selector::matches(&matcher, p.metadata.labels.as_ref()))
        .collect();
    let regarding = object_ref(pdb.as_ref());
    if pods.is_empty() {
        shared
            .recorder
            .record(&regarding, EventType::Normal, "NoPods", "No matching pods found");
    }
    let scales = scale::prefetch(shared, &pods).await;
    let lookup = |r: &k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference, ns: &str| {
        scale::lookup(shared, &scales, r, ns)
    };
    let (status, recheck) = match plan::expected_counts(&pdb, &pods, &lookup) {
        Err(err) => {
            shared.recorder.record(
                &regarding,
                EventType::Warning,
                "CalculateExpectedPodCountFailed",
                &format!("Failed to calculate the number of expected pods: {err}"),
            );
            (plan::fail_safe(&pdb, &err.to_string(), now), None)
        }
        Ok((expected, desired, unmanaged)) => {
            if !unmanaged.is_empty() {
                shared.recorder.record(
                    &regarding,
                    EventType::Warning,
                    "UnmanagedPods",
                    "Pods selected by this PodDisruptionBudget were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. To account for these pods please set \".spec.minAvailable\" field of the PDB to an integer value.",
                );
            }
            let (disrupted, recheck) = plan::disrupted_pods(&pdb, &pods, now);
            let healthy = plan::count_healthy(&pods, &disrupted, now);
            (
                plan::status(&pdb, healthy, desired, expected, disrupted, now),
                recheck,
            )
        }
    };
    if !plan::same_status(pdb.status.as_ref(), &status) {
        let mut next = (*pdb).clone();
        next.status = Some(status);
        let api: Api<PodDisruptionBudget> = Api::namespaced(shared.client.clone(), &key.namespace);
        api.replace_status(&key.name, &PostParams::default(), &next)
            .await?;
    }
    Ok(recheck.map(|at| {
        let wait = at
            .duration_since(now)
            .max(k8s_openapi::jiff::SignedDuration::ZERO);
        std::time::Duration::try_from(wait).unwrap_or_default() + std::time::Duration::from_millis(10)
    }))
}
