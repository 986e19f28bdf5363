//! One sync of a Job: claim pods, plan, create and delete pods, then count finished pods
//! through uncountedTerminatedPods and finalizer removal, and write the status.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::batch::v1::{Job, JobStatus};
use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::Store;
use parking_lot::Mutex;
use serde_json::json;

use super::conditions::{self as cond, is_finished};
use super::plan::{self, JobSettings, Observed};
use super::pods::TRACKING_FINALIZER;
use super::policy::BackoffRecord;
use super::tracking;
use crate::controllers::util::ObjectKey;
use crate::controllers::util::api::is_not_found;
use crate::controllers::util::claim::{ClaimError, Claimant, claim_pods as claim_pods_util};
use crate::controllers::util::events::{EventType, Recorder, object_ref};
use crate::controllers::util::expectations::Expectations;
use crate::controllers::util::owner::new_controller_ref;
use crate::controllers::util::selector;
use crate::controllers::util::worker::Requeue;

/// The `spec.managedBy` value that means this controller.
const MANAGED_BY_US: &str = "kubernetes.io/job-controller";

/// Concurrent pod writes within one sync.
const API_CONCURRENCY: usize = 64;

/// A failed sync (retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Claim(#[from] ClaimError),
    #[error("creating pods: {0}")]
    Create(#[source] kube::Error),
    #[error("deleting pod {pod}: {source}")]
    Delete {
        pod: String,
        #[source]
        source: kube::Error,
    },
    #[error("removing tracking finalizer from {pod}: {source}")]
    Finalizer {
        pod: String,
        #[source]
        source: kube::Error,
    },
    #[error("updating status: {0}")]
    Status(#[source] kube::Error),
}

pub(crate) struct Shared {
    pub(crate) client: kube::Client,
    pub(crate) jobs: Store<Job>,
    pub(crate) pods: Store<Pod>,
    /// Pod creations and deletions in flight, per Job; deletions by pod `namespace/name`.
    pub(crate) expectations: Expectations<ObjectKey, String>,
    /// Pod UIDs whose finalizer removal is in flight, per Job (upstream
    /// `finalizerExpectations`): until the cache shows them without it, they are not counted.
    pub(crate) removing_finalizers: Mutex<HashMap<ObjectKey, HashSet<String>>>,
    pub(crate) backoff: Mutex<HashMap<ObjectKey, BackoffRecord>>,
    pub(crate) recorder: Recorder,
    pub(crate) settings: JobSettings,
}

impl Shared {
    pub(crate) fn forget(&self, key: &ObjectKey) {
        self.expectations.forget(key);
        self.removing_finalizers.lock().remove(key);
        self.backoff.lock().remove(key);
    }

    /// The cache saw `uid` without the finalizer (or gone).
    pub(crate) fn finalizer_removal_observed(&self, key: &ObjectKey, uid: &str) {
        if let Some(set) = self.removing_finalizers.lock().get_mut(key) {
            set.remove(uid);
        }
    }
}

pub(crate) async fn sync(shared: &Shared, key: &ObjectKey) -> Result<Requeue, SyncError> {
    let mut action = "reconciling";
    let result = sync_job(shared, key, &mut action).await;
    if let Some(job) = shared.jobs.get(&key.to_ref()) {
        super::metrics::metrics().sync(mode_label(&job), result.is_ok(), action);
    }
    result
}

fn mode_label(job: &Job) -> &'static str {
    if super::indexes::is_indexed(job) {
        "Indexed"
    } else {
        "NonIndexed"
    }
}

async fn sync_job(shared: &Shared, key: &ObjectKey, action: &mut &'static str) -> Result<Requeue, SyncError> {
    let Some(job) = shared.jobs.get(&key.to_ref()) else {
        shared.forget(key);
        return Ok(None);
    };
    let span = tracing::debug_span!("sync", controller = "job-controller", object = %key);
    let _enter = span.enter();
    if is_finished(&job) {
        shared.backoff.lock().remove(key);
        return Ok(None);
    }
    // `spec.managedBy` hands the Job to another controller (JobManagedBy, beta in 1.32+).
    if job
        .spec
        .as_ref()
        .and_then(|s| s.managed_by.as_deref())
        .is_some_and(|m| m != MANAGED_BY_US)
    {
        return Ok(None);
    }
    let regarding = object_ref(job.as_ref());
    let mode = job.spec.as_ref().and_then(|s| s.completion_mode.as_deref());
    if mode.is_some_and(|m| m != "Indexed" && m != "NonIndexed") {
        shared.recorder.record(
            &regarding,
            EventType::Warning,
            "UnknownCompletionMode",
            "Skipped Job sync because completion mode is unknown",
        );
        return Ok(None);
    }
    let satisfied = shared.expectations.satisfied(key);
    let pods_api: Api<Pod> = Api::namespaced(shared.client.clone(), &key.namespace);
    let pods = claim_pods(shared, &job, &pods_api).await?;
    let pod_refs: Vec<&Pod> = pods.iter().map(AsRef::as_ref).collect();
    let expected_rm = shared
        .removing_finalizers
        .lock()
        .get(key)
        .cloned()
        .unwrap_or_default();
    let backoff = shared.backoff.lock().get(key).copied().unwrap_or_default();
    let now = Timestamp::now();
    let observed = Observed {
        job: &job,
        pods: pod_refs.clone(),
        expectations_satisfied: satisfied,
        expected_rm_finalizers: &expected_rm,
        backoff,
        now,
        settings: shared.settings,
    };
    let mut p = plan::plan(&observed);
    for e in &p.events {
        let t = if e.warning {
            EventType::Warning
        } else {
            EventType::Normal
        };
        shared.recorder.record(&regarding, t, e.reason, &e.message);
    }
    *action = if !p.create.is_empty() {
        "pods_created"
    } else if !p.delete.is_empty() {
        "pods_deleted"
    } else {
        "tracking"
    };
    let manage_result = execute(shared, key, &regarding, &pods_api, &mut p).await;

    let input = tracking::TrackInput {
        job: &job,
        pods: &pod_refs,
        expected_rm: &expected_rm,
        succeeded_indexes: p.succeeded_indexes.as_ref(),
        now,
    };
    let t = tracking::track(&input, p.status.clone(), p.finished.clone(), p.status_changed);
    let mut current = (*job).clone();
    if t.flush_first {
        current = write_status(shared, key, current, t.status.clone()).await?;
        shared.backoff.lock().insert(key.clone(), p.backoff);
    }
    let mut with_finalizer = t.uids_with_finalizer.clone();
    let rm_error = super::finalizers::remove_finalizers(
        shared,
        key,
        &pods_api,
        &t.remove_finalizers,
        &mut with_finalizer,
    )
    .await;
    let mut status = t.status.clone();
    let mut needs = tracking::clean_uncounted(&mut status, &with_finalizer);
    if let Some(e) = rm_error {
        if needs {
            write_status(shared, key, current, status).await?;
        }
        return Err(e);
    }
    let finished =
        !t.reached_max && tracking::enact_finished(&mut status, t.terminal.as_ref(), Timestamp::now());
    needs |= finished;
    if needs {
        write_status(shared, key, current, status.clone()).await?;
        if let (true, Some(c)) = (finished, t.terminal.as_ref()) {
            record_finished(shared, &regarding, &job, &status, c);
        }
    }
    if needs || t.flush_first {
        let old = job.status.clone().unwrap_or_default();
        super::metrics::metrics().pods_finished(
            mode_label(&job),
            status.succeeded.unwrap_or(0) - old.succeeded.unwrap_or(0),
            status.failed.unwrap_or(0) - old.failed.unwrap_or(0),
        );
    }
    manage_result?;
    Ok(p.requeue_after)
}

fn record_finished(
    shared: &Shared,
    regarding: &ObjectReference,
    job: &Job,
    status: &JobStatus,
    c: &k8s_openapi::api::batch::v1::JobCondition,
) {
    if c.type_ == cond::COMPLETE {
        let completions = job.spec.as_ref().and_then(|s| s.completions);
        if completions.is_some_and(|n| status.succeeded.unwrap_or(0) > n) {
            shared.recorder.record(
                regarding,
                EventType::Warning,
                "TooManySucceededPods",
                "Too many succeeded pods running after completion count reached",
            );
        }
        shared
            .recorder
            .record(regarding, EventType::Normal, "Completed", "Job completed");
        super::metrics::metrics().job_finished(mode_label(job), true, "");
    } else {
        let reason = c.reason.as_deref().unwrap_or("");
        shared.recorder.record(
            regarding,
            EventType::Warning,
            reason,
            c.message.as_deref().unwrap_or(""),
        );
        super::metrics::metrics().job_finished(mode_label(job), false, reason);
    }
}

/// Pods the Job controls after adopting matching orphans (with the tracking finalizer) and
/// releasing pods that no longer match.
async fn claim_pods(shared: &Shared, job: &Job, api: &Api<Pod>) -> Result<Vec<Arc<Pod>>, SyncError> {
    let sel = selector::matcher(job.spec.as_ref().and_then(|s| s.selector.as_ref()));
    let claimant = Claimant {
        owner: &job.metadata,
        matches: |p: &Pod| selector::matches(&sel, p.metadata.labels.as_ref()),
        // Adopted pods get the tracking finalizer too (upstream adopts with a strategic patch).
        adopt: |p: &Pod| {
            Patch::Strategic(json!({"metadata": {
                "uid": p.metadata.uid,
                "ownerReferences": [new_controller_ref(job)],
                "finalizers": [TRACKING_FINALIZER],
            }}))
        },
    };
    Ok(claim_pods_util(shared.pods.state(), claimant, api).await?)
}

/// Deletes and creates pods as planned; lowers `status.active` for creations that failed.
async fn execute(
    shared: &Shared,
    key: &ObjectKey,
    regarding: &ObjectReference,
    api: &Api<Pod>,
    p: &mut plan::Plan,
) -> Result<(), SyncError> {
    if !p.delete.is_empty() {
        let keys: Vec<String> = p
            .delete
            .iter()
            .map(|d| format!("{}/{}", key.namespace, d.name))
            .collect();
        shared.expectations.expect_deletions(key, keys);
    }
    let results: Vec<(String, Result<(), kube::Error>)> = futures::stream::iter(p.delete.clone())
        .map(|d| async move {
            if d.remove_finalizer {
                let patch =
                    json!({"metadata": {"$deleteFromPrimitiveList/finalizers": [TRACKING_FINALIZER]}});
                if let Err(e) = api
                    .patch(&d.name, &PatchParams::default(), &Patch::Strategic(&patch))
                    .await
                    && !is_not_found(&e)
                {
                    return (d.name, Err(e));
                }
            }
            let r = api.delete(&d.name, &DeleteParams::default()).await.map(|_| ());
            (d.name, r)
        })
        .buffer_unordered(API_CONCURRENCY)
        .collect()
        .await;
    let mut first_error = None;
    for (name, r) in results {
        match r {
            Ok(()) => shared.recorder.record(
                regarding,
                EventType::Normal,
                "SuccessfulDelete",
                &format!("Deleted pod: {name}"),
            ),
            Err(e) => {
                shared
                    .expectations
                    .deletion_observed(key, &format!("{}/{name}", key.namespace));
                if !is_not_found(&e) {
                    first_error.get_or_insert(SyncError::Delete { pod: name, source: e });
                }
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    if p.create.is_empty() {
        return Ok(());
    }
    shared.expectations.expect_creations(key, p.create.len());
    let post = PostParams::default();
    let results: Vec<Result<Pod, kube::Error>> = futures::stream::iter(p.create.clone())
        .map(|pod| {
            let post = &post;
            async move { api.create(post, &pod).await }
        })
        .buffer_unordered(API_CONCURRENCY)
        .collect()
        .await;
    let mut failed = 0;
    let mut first_error = None;
    for r in results {
        match r {
            Ok(pod) => shared.recorder.record(
                regarding,
                EventType::Normal,
                "SuccessfulCreate",
                &format!("Created pod: {}", pod.metadata.name.unwrap_or_default()),
            ),
            Err(e) => {
                shared.expectations.creation_observed(key);
                failed += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        let active = p.status.active.unwrap_or(0) - failed;
        p.status.active = (active > 0).then_some(active);
        shared.recorder.record(
            regarding,
            EventType::Warning,
            "FailedCreate",
            &format!("Error creating: {e}"),
        );
        return Err(SyncError::Create(e));
    }
    Ok(())
}

/// PUT /status with the Job's resourceVersion; returns the Job as written.
async fn write_status(
    shared: &Shared,
    key: &ObjectKey,
    mut job: Job,
    status: JobStatus,
) -> Result<Job, SyncError> {
    let api: Api<Job> = Api::namespaced(shared.client.clone(), &key.namespace);
    job.status = Some(status);
    api.replace_status(&key.name, &PostParams::default(), &job)
        .await
        .map_err(SyncError::Status)
}
