//! The Job controller (upstream `pkg/controller/job`): runs pods until enough succeed, with
//! parallelism, back-off and backoffLimit, Indexed completion, activeDeadlineSeconds, pod
//! failure and success policies, suspension, and exact pod accounting through the
//! `batch.kubernetes.io/job-tracking` finalizer.

pub mod conditions;
mod finalizers;
pub mod indexes;
mod manage;
mod metrics;
pub mod plan;
pub mod pods;
pub mod policy;
mod sync;
pub mod tracking;

#[cfg(test)]
mod testing;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use parking_lot::Mutex;
use rudder_client::informer::Change;
use rudder_client::workqueue::{RateLimiter, WorkQueue};

use self::plan::JobSettings;
use super::ControllerContext;
use super::util::ObjectKey;
use super::util::expectations::Expectations;
use super::util::owner::controller_ref;
use super::util::worker::{forward, run_workers};

pub use sync::SyncError;

const COMPONENT: &str = "job-controller";

/// What the work queue carries: a Job to sync, or a pod whose Job is gone and whose
/// tracking finalizer must go (upstream's separate orphan queue).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Job(ObjectKey),
    Orphan(ObjectKey),
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Job(k) => write!(f, "job {k}"),
            Key::Orphan(k) => write!(f, "orphan pod {k}"),
        }
    }
}

/// Starts the Job controller with upstream's back-off (10s doubling to 10m).
pub fn start(ctx: ControllerContext) -> BoxFuture<'static, ()> {
    start_with_settings(ctx, JobSettings::default())
}

/// Starts the Job controller with explicit settings (tests shorten the back-off).
pub fn start_with_settings(ctx: ControllerContext, settings: JobSettings) -> BoxFuture<'static, ()> {
    let jobs = ctx.informers.informer::<Job>();
    let pods = ctx.informers.informer::<Pod>();
    let queue = WorkQueue::with_rate_limiter("job", RateLimiter::default_controller());
    let shared = Arc::new(sync::Shared {
        client: ctx.client.clone(),
        jobs: jobs.store(),
        pods: pods.store(),
        expectations: Expectations::new(),
        removing_finalizers: Mutex::new(HashMap::new()),
        backoff: Mutex::new(HashMap::new()),
        recorder: ctx.recorder(COMPONENT),
        settings,
    });
    {
        let queue = queue.clone();
        let shared = shared.clone();
        forward(jobs.subscribe(), ctx.shutdown.clone(), move |change| {
            let key = ObjectKey::of(change.object().as_ref());
            if let Change::Deleted(_) = change {
                shared.forget(&key);
            }
            queue.add(Key::Job(key));
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
            let owner = controller_ref(&pod.metadata)
                .filter(|r| r.kind == "Job")
                .map(|r| ObjectKey::new(pod_key.namespace.clone(), r.name.clone()));
            match &change {
                Change::Applied(_) => {
                    let new = seen.insert(uid.clone());
                    if let Some(key) = &owner {
                        if new {
                            shared.expectations.creation_observed(key);
                        }
                        if pod.metadata.deletion_timestamp.is_some() {
                            shared.expectations.deletion_observed(key, &pod_key.to_string());
                        }
                        if !pods::has_tracking_finalizer(&pod) {
                            shared.finalizer_removal_observed(key, &uid);
                        }
                    }
                }
                Change::Deleted(_) => {
                    seen.remove(&uid);
                    if let Some(key) = &owner {
                        shared.expectations.deletion_observed(key, &pod_key.to_string());
                        shared.finalizer_removal_observed(key, &uid);
                    }
                }
            }
            if let Some(key) = owner {
                queue.add(Key::Job(key));
            }
            if matches!(change, Change::Applied(_)) && finalizers::orphan_needs_cleanup(&shared, &pod) {
                queue.add(Key::Orphan(pod_key));
            }
        });
    }
    let workers = ctx.config.concurrent_job_syncs;
    let shutdown = ctx.shutdown.clone();
    async move {
        tokio::select! {
            _ = async { jobs.wait_synced().await; pods.wait_synced().await } => {}
            _ = shutdown.wait() => return,
        }
        tracing::info!(controller = COMPONENT, "caches synced; starting workers");
        run_workers(COMPONENT, queue, workers, shutdown, move |key: Key| {
            let shared = shared.clone();
            async move {
                match &key {
                    Key::Job(k) => sync::sync(&shared, k).await,
                    Key::Orphan(k) => finalizers::sync_orphan(&shared, k).await,
                }
            }
        })
        .await;
    }
    .boxed()
}
