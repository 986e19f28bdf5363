//! The CronJob controller (upstream `pkg/controller/cronjob`, controller v2): creates a Job
//! for every scheduled time, honours the concurrency policy, starting deadline and
//! suspension, tracks active Jobs and trims finished ones to the history limits.

pub mod clock;
mod metrics;
pub mod plan;
pub mod schedule;
mod sync;
mod times;

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::api::batch::v1::{CronJob, Job};

use self::clock::{Clock, SystemClock};
use super::ControllerContext;
use super::util::ObjectKey;
use super::util::owner::controller_ref;
use super::util::worker::{forward, run_workers};
use rudder_client::workqueue::{RateLimiter, WorkQueue};

pub use sync::SyncError;

const COMPONENT: &str = "cronjob-controller";

/// Starts the CronJob controller on the system clock.
pub fn start(ctx: ControllerContext) -> BoxFuture<'static, ()> {
    start_with_clock(ctx, Arc::new(SystemClock))
}

/// Starts the CronJob controller on `clock` (tests pass a [`clock::FakeClock`]).
pub fn start_with_clock(ctx: ControllerContext, clock: Arc<dyn Clock>) -> BoxFuture<'static, ()> {
    let cronjobs = ctx.informers.informer::<CronJob>();
    let jobs = ctx.informers.informer::<Job>();
    let queue = WorkQueue::with_rate_limiter("cronjob", RateLimiter::default_controller());
    let shared = Arc::new(sync::Shared {
        client: ctx.client.clone(),
        cronjobs: cronjobs.store(),
        jobs: jobs.store(),
        recorder: ctx.recorder(COMPONENT),
        clock: clock.clone(),
    });
    {
        let queue = queue.clone();
        forward(cronjobs.subscribe(), ctx.shutdown.clone(), move |change| {
            queue.add(ObjectKey::of(change.object().as_ref()));
        });
    }
    {
        let queue = queue.clone();
        forward(jobs.subscribe(), ctx.shutdown.clone(), move |change| {
            let job = change.object();
            if let Some(r) = controller_ref(&job.metadata).filter(|r| r.kind == "CronJob") {
                queue.add(ObjectKey::new(
                    job.metadata.namespace.clone().unwrap_or_default(),
                    r.name.clone(),
                ));
            }
        });
    }
    if let Some(mut jumps) = clock.jumps() {
        let queue = queue.clone();
        let store = shared.cronjobs.clone();
        let shutdown = ctx.shutdown.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.wait() => return,
                    changed = jumps.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        for cj in store.state() {
                            queue.add(ObjectKey::of(cj.as_ref()));
                        }
                    }
                }
            }
        });
    }
    let workers = ctx.config.concurrent_cron_job_syncs;
    let shutdown = ctx.shutdown.clone();
    async move {
        tokio::select! {
            _ = async { cronjobs.wait_synced().await; jobs.wait_synced().await } => {}
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
