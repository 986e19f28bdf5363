//! The TTL-after-finished controller (upstream `pkg/controller/ttlafterfinished`): a finished Job
//! (condition Complete or Failed) with `spec.ttlSecondsAfterFinished` is deleted, with its pods
//! (foreground propagation, as upstream), once that many seconds have passed since it finished.

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Preconditions, PropagationPolicy};
use kube::runtime::reflector::Store;
use rudder_client::informer::Change;
use rudder_client::workqueue::{RateLimiter, WorkQueue};

use super::ControllerContext;
use super::util::ObjectKey;
use super::util::api::ignore_not_found;
use super::util::worker::{Requeue, forward, run_workers, wait_for_sync};

const COMPONENT: &str = "ttl-after-finished-controller";

/// When the Job finished: the transition time of its Complete or Failed condition (True).
pub fn finish_time(job: &Job) -> Option<Timestamp> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0)
}

/// What to do with a Job now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// No TTL, not finished, or already being deleted.
    Ignore,
    Delete,
    /// Look again after this long.
    Wait(Duration),
}

/// Upstream `processTTL` / `timeLeft`.
pub fn plan(job: &Job, now: Timestamp) -> Ttl {
    let Some(ttl) = job.spec.as_ref().and_then(|s| s.ttl_seconds_after_finished) else {
        return Ttl::Ignore;
    };
    if job.metadata.deletion_timestamp.is_some() {
        return Ttl::Ignore;
    }
    let Some(finished) = finish_time(job) else {
        return Ttl::Ignore;
    };
    let expire = finished.as_second() + i64::from(ttl);
    let left = expire - now.as_second();
    if left <= 0 {
        Ttl::Delete
    } else {
        Ttl::Wait(Duration::from_secs(u64::try_from(left).unwrap_or(0)))
    }
}

struct Shared {
    client: kube::Client,
    jobs: Store<Job>,
}

/// Starts the TTL-after-finished controller.
pub fn start(ctx: ControllerContext) -> BoxFuture<'static, ()> {
    let jobs = ctx.informers.informer::<Job>();
    let queue: WorkQueue<ObjectKey> =
        WorkQueue::with_rate_limiter("ttl_jobs_to_delete", RateLimiter::default_controller());
    {
        let queue = queue.clone();
        forward(jobs.subscribe(), ctx.shutdown.clone(), move |change| {
            if let Change::Applied(job) = change
                && job
                    .spec
                    .as_ref()
                    .and_then(|s| s.ttl_seconds_after_finished)
                    .is_some()
            {
                queue.add(ObjectKey::of(job.as_ref()));
            }
        });
    }
    let shared = Arc::new(Shared {
        client: ctx.client.clone(),
        jobs: jobs.store(),
    });
    let workers = ctx.config.concurrent_ttl_after_finished_syncs;
    let shutdown = ctx.shutdown.clone();
    async move {
        if !wait_for_sync(&shutdown, || jobs.has_synced()).await {
            return;
        }
        for job in shared.jobs.state() {
            queue.add(ObjectKey::of(job.as_ref()));
        }
        run_workers(COMPONENT, queue, workers, shutdown, move |key| {
            let shared = shared.clone();
            async move { sync(&shared, &key).await }
        })
        .await;
    }
    .boxed()
}

async fn sync(shared: &Shared, key: &ObjectKey) -> Result<Requeue, kube::Error> {
    let Some(cached) = shared.jobs.get(&key.to_ref()) else {
        return Ok(None);
    };
    match plan(&cached, Timestamp::now()) {
        Ttl::Ignore => return Ok(None),
        Ttl::Wait(d) => return Ok(Some(d)),
        Ttl::Delete => {}
    }
    // The cache may be stale (TTL changed, Job re-run): check the latest Job first, as upstream.
    let api: Api<Job> = Api::namespaced(shared.client.clone(), &key.namespace);
    let Some(fresh) = ignore_not_found(api.get(&key.name).await)? else {
        return Ok(None);
    };
    match plan(&fresh, Timestamp::now()) {
        Ttl::Ignore => return Ok(None),
        Ttl::Wait(d) => return Ok(Some(d)),
        Ttl::Delete => {}
    }
    tracing::info!(job = %key, "finished Job's TTL expired; deleting");
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Foreground),
        preconditions: Some(Preconditions {
            uid: fresh.metadata.uid.clone(),
            resource_version: fresh.metadata.resource_version.clone(),
        }),
        ..Default::default()
    };
    ignore_not_found(api.delete(&key.name, &params).await.map(|_| ()))?;
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(ttl: Option<i32>, condition: Option<(&str, &str)>) -> Job {
        let conditions: Vec<serde_json::Value> = condition
            .map(|(t, s)| json!({"type": t, "status": s, "lastTransitionTime": "1970-01-01T00:01:40Z"}))
            .into_iter()
            .collect();
        serde_json::from_value(json!({
            "metadata": {"name": "j"},
            "spec": {"ttlSecondsAfterFinished": ttl, "template": {}},
            "status": {"conditions": conditions}
        }))
        .expect("job")
    }

    #[test]
    fn ttl_table() {
        let at = |s| Timestamp::from_second(s).expect("ts");
        assert_eq!(
            plan(&job(None, Some(("Complete", "True"))), at(1000)),
            Ttl::Ignore
        );
        assert_eq!(plan(&job(Some(10), None), at(1000)), Ttl::Ignore);
        assert_eq!(
            plan(&job(Some(10), Some(("Complete", "False"))), at(1000)),
            Ttl::Ignore
        );
        assert_eq!(
            plan(&job(Some(10), Some(("Complete", "True"))), at(105)),
            Ttl::Wait(Duration::from_secs(5))
        );
        assert_eq!(
            plan(&job(Some(10), Some(("Failed", "True"))), at(110)),
            Ttl::Delete
        );
        assert_eq!(
            plan(&job(Some(0), Some(("Complete", "True"))), at(100)),
            Ttl::Delete
        );
    }
}
