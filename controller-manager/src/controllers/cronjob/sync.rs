//! One sync of a CronJob: gather its Jobs, plan, delete, create, write status.

use std::sync::Arc;

use k8s_openapi::api::batch::v1::{CronJob, Job};
use kube::api::{Api, DeleteParams, PostParams, PropagationPolicy};
use kube::runtime::reflector::Store;

use super::clock::Clock;
use super::plan::{self, record_created};
use crate::controllers::util::ObjectKey;
use crate::controllers::util::api::{ignore_not_found, is_conflict, is_not_found};
use crate::controllers::util::events::{EventType, Recorder, object_ref};
use crate::controllers::util::owner::is_controlled_by;
use crate::controllers::util::worker::Requeue;

/// A failed sync (retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("reading job {job}: {source}")]
    GetJob {
        job: String,
        #[source]
        source: kube::Error,
    },
    #[error("deleting job {job}: {source}")]
    Delete {
        job: String,
        #[source]
        source: kube::Error,
    },
    #[error("creating job {job}: {source}")]
    Create {
        job: String,
        #[source]
        source: kube::Error,
    },
    #[error("updating status: {0}")]
    Status(#[source] kube::Error),
}

pub(crate) struct Shared {
    pub(crate) client: kube::Client,
    pub(crate) cronjobs: Store<CronJob>,
    pub(crate) jobs: Store<Job>,
    pub(crate) recorder: Recorder,
    pub(crate) clock: Arc<dyn Clock>,
}

pub(crate) async fn sync(shared: &Shared, key: &ObjectKey) -> Result<Requeue, SyncError> {
    let Some(cj) = shared.cronjobs.get(&key.to_ref()) else {
        return Ok(None);
    };
    let span = tracing::debug_span!("sync", controller = "cronjob-controller", object = %key);
    let _enter = span.enter();
    let uid = cj.metadata.uid.clone().unwrap_or_default();
    let jobs_api: Api<Job> = Api::namespaced(shared.client.clone(), &key.namespace);
    let mut jobs: Vec<Arc<Job>> = shared
        .jobs
        .state()
        .into_iter()
        .filter(|j| {
            j.metadata.namespace.as_deref() == Some(key.namespace.as_str())
                && is_controlled_by(&j.metadata, &uid)
        })
        .collect();
    // The cache may lag behind a Job we just created: ask the API before calling it gone.
    let active = cj
        .status
        .as_ref()
        .and_then(|s| s.active.clone())
        .unwrap_or_default();
    for r in active {
        if jobs.iter().any(|j| j.metadata.uid == r.uid) {
            continue;
        }
        let name = r.name.clone().unwrap_or_default();
        let found = ignore_not_found(jobs_api.get(&name).await)
            .map_err(|source| SyncError::GetJob { job: name, source })?;
        if let Some(j) = found.filter(|j| j.metadata.uid == r.uid) {
            jobs.push(Arc::new(j));
        }
    }
    let refs: Vec<&Job> = jobs.iter().map(AsRef::as_ref).collect();
    let mut plan = plan::plan(&cj, &refs, shared.clock.now());
    let regarding = object_ref(cj.as_ref());
    for e in &plan.events {
        let t = if e.warning {
            EventType::Warning
        } else {
            EventType::Normal
        };
        shared.recorder.record(&regarding, t, e.reason, &e.message);
    }
    let background = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..DeleteParams::default()
    };
    for name in &plan.delete {
        match jobs_api.delete(name, &background).await {
            Ok(_) => shared.recorder.record(
                &regarding,
                EventType::Normal,
                "SuccessfulDelete",
                &format!("Deleted job {name}"),
            ),
            Err(e) if is_not_found(&e) => {}
            Err(source) => {
                shared.recorder.record(
                    &regarding,
                    EventType::Warning,
                    "FailedDelete",
                    &format!("Deleted job: {source}"),
                );
                return Err(SyncError::Delete {
                    job: name.clone(),
                    source,
                });
            }
        }
    }
    let mut create_error = None;
    if let Some(c) = plan.create.take() {
        let name = c.job.metadata.name.clone().unwrap_or_default();
        match jobs_api.create(&PostParams::default(), &c.job).await {
            Ok(job) => {
                if let (Some(h), Some(created)) =
                    (super::metrics::creation_skew(), &job.metadata.creation_timestamp)
                {
                    h.observe(created.0.duration_since(c.scheduled).as_secs_f64());
                }
                shared.recorder.record(
                    &regarding,
                    EventType::Normal,
                    "SuccessfulCreate",
                    &format!("Created job {name}"),
                );
                record_created(&mut plan.status, plan::job_reference(&job), c.scheduled);
                plan.status_changed = true;
            }
            Err(e) if is_conflict(&e) => {
                // Created before by us (status write lost) or by someone else.
                let existing = jobs_api.get(&name).await.map_err(|source| SyncError::GetJob {
                    job: name.clone(),
                    source,
                })?;
                let known = plan
                    .status
                    .active
                    .iter()
                    .flatten()
                    .any(|r| r.uid == existing.metadata.uid);
                if is_controlled_by(&existing.metadata, &uid) && !known {
                    record_created(&mut plan.status, plan::job_reference(&existing), c.scheduled);
                    plan.status_changed = true;
                }
            }
            Err(source) => {
                shared.recorder.record(
                    &regarding,
                    EventType::Warning,
                    "FailedCreate",
                    &format!("Error creating job: {source}"),
                );
                create_error = Some(SyncError::Create { job: name, source });
            }
        }
    }
    if plan.status_changed {
        let api: Api<CronJob> = Api::namespaced(shared.client.clone(), &key.namespace);
        let mut updated = (*cj).clone();
        updated.status = Some(plan.status.clone());
        ignore_not_found(
            api.replace_status(&key.name, &PostParams::default(), &updated)
                .await,
        )
        .map_err(SyncError::Status)?;
    }
    if let Some(e) = create_error {
        return Err(e);
    }
    Ok(plan.requeue_after)
}
