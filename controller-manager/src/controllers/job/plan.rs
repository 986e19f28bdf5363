//! The Job controller's pure step (upstream `syncJob` and `manageJob` in
//! `pkg/controller/job/job_controller.go`): from the Job, its pods, the back-off record and
//! the time, decide which pods to create or delete, whether the Job has reached a terminal
//! state, and the new status counters. Tracking finished pods (uncounted UIDs and
//! finalizers) is the next step, in `tracking.rs`.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::conditions::{self as cond, new_condition};
use super::indexes;
use super::manage::Manage;
use super::pods;
use super::policy::{self, BackoffRecord};
use crate::controllers::util::pod as podutil;

/// Upstream `MaxPodCreateDeletePerSync`.
pub const MAX_POD_CREATE_DELETE_PER_SYNC: usize = 500;
/// Upstream default `backoffLimit`.
const DEFAULT_BACKOFF_LIMIT: i32 = 6;

/// Tunables upstream keeps as package variables (tests shorten the back-off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobSettings {
    /// `DefaultJobPodFailureBackOff` (10s).
    pub backoff_base: Duration,
    /// `MaxJobPodFailureBackOff` (10m).
    pub backoff_max: Duration,
}

impl Default for JobSettings {
    fn default() -> Self {
        JobSettings {
            backoff_base: Duration::from_secs(10),
            backoff_max: Duration::from_secs(600),
        }
    }
}

/// What the sync sees.
#[derive(Debug)]
pub struct Observed<'a> {
    pub job: &'a Job,
    /// Pods the Job controls (after adoption).
    pub pods: Vec<&'a Pod>,
    /// No pod creations or deletions of an earlier sync are still unobserved.
    pub expectations_satisfied: bool,
    /// UIDs whose finalizer removal is in flight (not yet seen in the cache).
    pub expected_rm_finalizers: &'a HashSet<String>,
    pub backoff: BackoffRecord,
    pub now: Timestamp,
    pub settings: JobSettings,
}

/// A pod to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodDeletion {
    pub name: String,
    pub uid: String,
    /// manageJob removes the tracking finalizer before deleting (suspend, excess pods);
    /// a finishing Job keeps it so the pod is counted first.
    pub remove_finalizer: bool,
}

/// An Event to record against the Job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedEvent {
    pub warning: bool,
    pub reason: &'static str,
    pub message: String,
}

/// What the sync decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub delete: Vec<PodDeletion>,
    pub create: Vec<Pod>,
    pub events: Vec<PlannedEvent>,
    pub requeue_after: Option<Duration>,
    /// The back-off record to keep once the status is written.
    pub backoff: BackoffRecord,
    /// Status with `active`, `ready`, `terminating`, `startTime` and the Suspended condition
    /// updated, as if every create and delete succeeds.
    pub status: JobStatus,
    /// The condition the Job is heading to (FailureTarget, SuccessCriteriaMet or terminal).
    pub finished: Option<JobCondition>,
    /// Whether `status` differs from the stored one in the fields above.
    pub status_changed: bool,
    /// Succeeded indexes before and after this sync (Indexed Jobs).
    pub succeeded_indexes: Option<(BTreeSet<i32>, BTreeSet<i32>)>,
}

/// Computes the plan for a Job that has not finished yet.
pub fn plan(o: &Observed<'_>) -> Plan {
    let job = o.job;
    let spec = job.spec.clone().unwrap_or_default();
    let mut status = job.status.clone().unwrap_or_default();
    let uncounted = status.uncounted_terminated_pods.clone().unwrap_or_default();
    let unc_succeeded: HashSet<&str> = uncounted.succeeded.iter().flatten().map(String::as_str).collect();
    let unc_failed: HashSet<&str> = uncounted.failed.iter().flatten().map(String::as_str).collect();
    let suspended = spec.suspend == Some(true);
    let indexed = indexes::is_indexed(job);
    let completions = spec.completions;
    let backoff_limit = spec.backoff_limit.unwrap_or(DEFAULT_BACKOFF_LIMIT);

    let active_pods: Vec<&Pod> = o.pods.iter().copied().filter(|p| podutil::is_active(p)).collect();
    let mut active = active_pods.len() as i32;
    let mut ready = active_pods.iter().filter(|p| podutil::is_ready(p)).count() as i32;
    let mut terminating = o.pods.iter().filter(|p| pods::is_terminating(p)).count() as i32;

    // Newly finished pods: still carrying the finalizer, not yet uncounted, valid index.
    let countable = |p: &&Pod| {
        let uid = pods::uid(p);
        pods::has_tracking_finalizer(p)
            && !o.expected_rm_finalizers.contains(uid)
            && (!indexed || indexes::completion_index(p).is_some_and(|i| i < completions.unwrap_or(0)))
    };
    let new_succeeded: Vec<&Pod> = o
        .pods
        .iter()
        .copied()
        .filter(countable)
        .filter(|p| !unc_succeeded.contains(pods::uid(p)) && podutil::phase(p) == "Succeeded")
        .collect();
    let new_failed: Vec<&Pod> = o
        .pods
        .iter()
        .copied()
        .filter(countable)
        .filter(|p| !unc_failed.contains(pods::uid(p)) && pods::is_failed(p, job))
        .collect();
    let mut succeeded =
        status.succeeded.unwrap_or(0) + new_succeeded.len() as i32 + unc_succeeded.len() as i32;
    let counted_failures = new_failed
        .iter()
        .filter(|p| policy::match_pod_failure_policy(spec.pod_failure_policy.as_ref(), p).count)
        .count() as i32;
    let failed = status.failed.unwrap_or(0) + counted_failures + unc_failed.len() as i32;

    let mut start_changed = false;
    if status.start_time.is_none() && !suspended {
        status.start_time = Some(Time(o.now));
        start_changed = true;
    }
    let backoff = o.backoff.update(&new_succeeded, &new_failed);
    let mut out = Plan {
        delete: Vec::new(),
        create: Vec::new(),
        events: Vec::new(),
        requeue_after: None,
        backoff,
        status: JobStatus::default(),
        finished: None,
        status_changed: false,
        succeeded_indexes: None,
    };

    let mut finished = cond::find_true(job, cond::SUCCESS_CRITERIA_MET).cloned();
    if finished.is_none() {
        if let Some(target) = cond::find_true(job, cond::FAILURE_TARGET) {
            finished = Some(failed_from_target(target, o.now));
        } else if let Some(message) = fail_job_message(job, &o.pods) {
            finished = Some(new_condition(
                cond::FAILURE_TARGET,
                "True",
                cond::REASON_POD_FAILURE_POLICY,
                &message,
                o.now,
            ));
        }
    }
    if finished.is_none() {
        if failed > backoff_limit || pods::past_backoff_limit_on_failure(job, &o.pods, backoff_limit) {
            finished = Some(failure(
                cond::REASON_BACKOFF_LIMIT_EXCEEDED,
                "Job has reached the specified backoff limit",
                o.now,
            ));
        } else if let Some(left) = deadline_left(job, &status, suspended, o.now) {
            if left.is_zero() {
                finished = Some(failure(
                    cond::REASON_DEADLINE_EXCEEDED,
                    "Job was active longer than specified deadline",
                    o.now,
                ));
            } else {
                out.requeue_after = Some(left);
            }
        }
    }

    let mut succeeded_set = BTreeSet::new();
    if indexed {
        let n = completions.unwrap_or(0);
        let prev = indexes::parse(status.completed_indexes.as_deref().unwrap_or(""), n);
        let mut now_set = prev.clone();
        for p in &o.pods {
            if podutil::phase(p) == "Succeeded"
                && pods::has_tracking_finalizer(p)
                && let Some(ix) = indexes::completion_index(p).filter(|i| *i < n)
            {
                now_set.insert(ix);
            }
        }
        succeeded = now_set.len() as i32;
        succeeded_set = now_set.clone();
        out.succeeded_indexes = Some((prev, now_set));
        if finished.is_none()
            && let Some(msg) = policy::match_success_policy(spec.success_policy.as_ref(), n, &succeeded_set)
        {
            finished = Some(new_condition(
                cond::SUCCESS_CRITERIA_MET,
                "True",
                cond::REASON_SUCCESS_POLICY,
                &msg,
                o.now,
            ));
        }
    }

    let mut suspend_changed = false;
    if finished.is_some() {
        // Remove every active pod, keeping finalizers so they are counted as they go.
        for p in &active_pods {
            out.delete.push(deletion(p, false));
        }
        let deleted = active_pods.len() as i32;
        ready -= active_pods.iter().filter(|p| podutil::is_ready(p)).count() as i32;
        active -= deleted;
        terminating += deleted;
        if !o.expectations_satisfied {
            finished = None;
        }
    } else {
        let mut manage_called = false;
        if o.expectations_satisfied && job.metadata.deletion_timestamp.is_none() {
            let m = Manage {
                o,
                active_pods: &active_pods,
                succeeded,
                succeeded_set: &succeeded_set,
                terminating,
            };
            let result = m.run(&mut out);
            active = result.active;
            terminating = result.terminating;
            ready -= result.removed_ready;
            manage_called = true;
        }
        let complete = match completions {
            None => succeeded > 0 && active == 0,
            Some(c) => succeeded >= c && active == 0,
        };
        if complete {
            finished = Some(new_condition(
                cond::SUCCESS_CRITERIA_MET,
                "True",
                cond::REASON_COMPLETIONS_REACHED,
                "Reached expected number of succeeded pods",
                o.now,
            ));
        } else if manage_called {
            let list = status.conditions.get_or_insert_with(Vec::new);
            if suspended {
                if cond::ensure_status(
                    list,
                    cond::SUSPENDED,
                    "True",
                    "JobSuspended",
                    "Job suspended",
                    o.now,
                ) {
                    suspend_changed = true;
                    out.events.push(PlannedEvent {
                        warning: false,
                        reason: "Suspended",
                        message: "Job suspended".into(),
                    });
                }
            } else if cond::ensure_status(list, cond::SUSPENDED, "False", "JobResumed", "Job resumed", o.now)
            {
                suspend_changed = true;
                out.events.push(PlannedEvent {
                    warning: false,
                    reason: "Resumed",
                    message: "Job resumed".into(),
                });
                // ActiveDeadlineSeconds counts continuous activity: restart the clock.
                status.start_time = Some(Time(o.now));
            }
            if list.is_empty() {
                status.conditions = None;
            }
        }
    }

    out.status_changed = suspend_changed
        || start_changed
        || status.active.unwrap_or(0) != active
        || status.ready != Some(ready)
        || status.terminating != Some(terminating);
    status.active = (active != 0).then_some(active);
    status.ready = Some(ready);
    status.terminating = Some(terminating);
    out.status = status;
    out.finished = finished;
    out
}

pub(super) fn deletion(p: &Pod, remove_finalizer: bool) -> PodDeletion {
    PodDeletion {
        name: p.metadata.name.clone().unwrap_or_default(),
        uid: pods::uid(p).to_string(),
        remove_finalizer,
    }
}

/// Since 1.31 (JobManagedBy / JobPodReplacementPolicy) upstream first adds FailureTarget and
/// only sets Failed once no pod is terminating.
fn failure(reason: &str, message: &str, now: Timestamp) -> JobCondition {
    new_condition(cond::FAILURE_TARGET, "True", reason, message, now)
}

/// The Failed condition a FailureTarget leads to (same reason and message).
pub fn failed_from_target(target: &JobCondition, now: Timestamp) -> JobCondition {
    new_condition(
        cond::FAILED,
        "True",
        target.reason.as_deref().unwrap_or(""),
        target.message.as_deref().unwrap_or(""),
        now,
    )
}

/// The message of the first failed pod matching a FailJob rule.
fn fail_job_message(job: &Job, pods: &[&Pod]) -> Option<String> {
    let policy = job.spec.as_ref()?.pod_failure_policy.as_ref()?;
    pods.iter()
        .filter(|p| pods::is_failed(p, job))
        .find_map(|p| policy::match_pod_failure_policy(Some(policy), p).fail_job)
}

/// Time left before `activeDeadlineSeconds` passes (zero when it has); None when there is no
/// deadline or the Job is suspended.
fn deadline_left(job: &Job, status: &JobStatus, suspended: bool, now: Timestamp) -> Option<Duration> {
    let seconds = job.spec.as_ref()?.active_deadline_seconds?;
    if suspended {
        return None;
    }
    let start = status.start_time.as_ref()?.0;
    let deadline = start + SignedDuration::from_secs(seconds);
    Some(Duration::try_from(deadline.duration_since(now)).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
