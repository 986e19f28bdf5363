//! Counting finished pods exactly once (upstream `trackJobStatusAndRemoveFinalizers`):
//! 1. finished pods that still carry `batch.kubernetes.io/job-tracking` go into
//!    `status.uncountedTerminatedPods` (written first),
//! 2. their finalizers are removed,
//! 3. UIDs whose finalizer is gone move from the uncounted lists to `succeeded`/`failed`,
//! 4. the terminal condition is set once nothing is uncounted and no pod is terminating.

use std::collections::{BTreeSet, HashSet};

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::conditions::{self as cond, new_condition};
use super::indexes;
use super::plan::failed_from_target;
use super::pods;
use super::policy;
use crate::controllers::util::pod as podutil;

/// Upstream `MaxUncountedPods`: caps one sync's status growth and finalizer removals.
pub const MAX_UNCOUNTED_PODS: usize = 500;

/// The first half of tracking: what to write before removing finalizers.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracking {
    /// The status to hold (with new uncounted UIDs and interim conditions).
    pub status: JobStatus,
    /// Whether `status` must be written before finalizers are removed.
    pub flush_first: bool,
    /// Pods whose tracking finalizer to remove: (name, uid).
    pub remove_finalizers: Vec<(String, String)>,
    /// UIDs of the Job's pods that still carry the finalizer (before removals).
    pub uids_with_finalizer: HashSet<String>,
    /// The terminal condition to set once everything is counted (Complete or Failed).
    pub terminal: Option<JobCondition>,
    /// The per-sync cap was reached; the Job is not declared finished in this sync.
    pub reached_max: bool,
}

/// What tracking reads besides the planned status.
#[derive(Debug, Clone, Copy)]
pub struct TrackInput<'a> {
    pub job: &'a Job,
    pub pods: &'a [&'a Pod],
    /// UIDs whose finalizer removal is in flight.
    pub expected_rm: &'a HashSet<String>,
    /// Succeeded indexes before and after this sync (Indexed Jobs).
    pub succeeded_indexes: Option<&'a (BTreeSet<i32>, BTreeSet<i32>)>,
    pub now: Timestamp,
}

/// Computes step 1 from the planned status and the finished condition, if any; `flush`
/// says whether the status already needs writing.
pub fn track(
    input: &TrackInput<'_>,
    mut status: JobStatus,
    finished: Option<JobCondition>,
    mut flush: bool,
) -> Tracking {
    let TrackInput {
        job,
        pods: pods_in,
        expected_rm,
        succeeded_indexes,
        now,
    } = *input;
    let indexed = indexes::is_indexed(job);
    let completions = job.spec.as_ref().and_then(|s| s.completions).unwrap_or(0);
    let policy_rules = job.spec.as_ref().and_then(|s| s.pod_failure_policy.as_ref());
    let mut pods: Vec<&Pod> = pods_in.to_vec();
    if indexed {
        pods.sort_by_key(|p| indexes::completion_index(p));
    }
    let uids_with_finalizer: HashSet<String> = pods
        .iter()
        .filter(|p| pods::has_tracking_finalizer(p) && !expected_rm.contains(pods::uid(p)))
        .map(|p| pods::uid(p).to_string())
        .collect();
    if clean_uncounted(&mut status, &uids_with_finalizer) {
        flush = true;
    }
    let mut uncounted = status.uncounted_terminated_pods.clone().unwrap_or_default();
    let was_failed: HashSet<String> = uncounted.failed.iter().flatten().cloned().collect();
    let was_succeeded: HashSet<String> = uncounted.succeeded.iter().flatten().cloned().collect();
    let (prev_indexes, mut new_indexes) = succeeded_indexes.cloned().unwrap_or_default();
    let job_deleting = job.metadata.deletion_timestamp.is_some();
    let finished_unsuccessfully = finished
        .as_ref()
        .is_some_and(|c| c.type_ != cond::SUCCESS_CRITERIA_MET);
    let mut remove = Vec::new();
    let mut reached_max = false;
    let mut added = 0usize;
    for pod in &pods {
        let uid = pods::uid(pod).to_string();
        if !pods::has_tracking_finalizer(pod) || expected_rm.contains(&uid) {
            continue;
        }
        let failed = pods::is_failed(pod, job);
        let succeeded = podutil::phase(pod) == "Succeeded";
        let can_remove = job_deleting || finished.is_some() || succeeded || failed;
        if !can_remove {
            continue;
        }
        remove.push((pod.metadata.name.clone().unwrap_or_default(), uid.clone()));
        if succeeded && !was_failed.contains(&uid) {
            if indexed {
                if let Some(ix) = indexes::completion_index(pod).filter(|i| *i < completions)
                    && !prev_indexes.contains(&ix)
                {
                    new_indexes.insert(ix);
                    added += 1;
                    flush = true;
                }
            } else if !was_succeeded.contains(&uid) {
                uncounted.succeeded.get_or_insert_with(Vec::new).push(uid.clone());
                added += 1;
                flush = true;
            }
        } else if failed || finished_unsuccessfully {
            let index_ok = !indexed || indexes::completion_index(pod).is_some_and(|i| i < completions);
            if !was_failed.contains(&uid)
                && index_ok
                && policy::match_pod_failure_policy(policy_rules, pod).count
            {
                uncounted.failed.get_or_insert_with(Vec::new).push(uid.clone());
                added += 1;
                flush = true;
            }
        }
        let pending =
            uncounted.succeeded.as_ref().map_or(0, Vec::len) + uncounted.failed.as_ref().map_or(0, Vec::len);
        if added + pending >= MAX_UNCOUNTED_PODS {
            reached_max = true;
            break;
        }
    }
    status.uncounted_terminated_pods = Some(uncounted);
    if indexed {
        let text = indexes::format(&new_indexes);
        if status.completed_indexes.as_deref().unwrap_or("") != text {
            flush = true;
        }
        status.succeeded = Some(new_indexes.len() as i32);
        status.completed_indexes = Some(text);
    }
    let terminal = match finished {
        Some(c) if c.type_ == cond::FAILURE_TARGET => {
            status.conditions.get_or_insert_with(Vec::new).push(c.clone());
            flush = true;
            Some(failed_from_target(&c, now))
        }
        Some(c) if c.type_ == cond::SUCCESS_CRITERIA_MET => {
            let list = status.conditions.get_or_insert_with(Vec::new);
            if cond::find(list, cond::SUCCESS_CRITERIA_MET).is_none_or(|e| e.status != "True") {
                list.push(c.clone());
                flush = true;
            }
            Some(new_condition(
                cond::COMPLETE,
                "True",
                c.reason.as_deref().unwrap_or(""),
                c.message.as_deref().unwrap_or(""),
                now,
            ))
        }
        other => other,
    };
    Tracking {
        status,
        flush_first: flush,
        remove_finalizers: remove,
        uids_with_finalizer,
        terminal,
        reached_max,
    }
}

/// Moves UIDs whose pods no longer carry the finalizer from the uncounted lists into the
/// counters (upstream `cleanUncountedPodsWithoutFinalizers`). Returns whether anything moved.
pub fn clean_uncounted(status: &mut JobStatus, with_finalizer: &HashSet<String>) -> bool {
    let Some(uncounted) = status.uncounted_terminated_pods.as_mut() else {
        return false;
    };
    let mut changed = false;
    let mut moved = |list: &mut Option<Vec<String>>| -> i32 {
        let Some(uids) = list.as_mut() else { return 0 };
        let before = uids.len();
        uids.retain(|u| with_finalizer.contains(u));
        let gone = before - uids.len();
        if uids.is_empty() {
            *list = None;
        }
        if gone > 0 {
            changed = true;
        }
        gone as i32
    };
    let succeeded = moved(&mut uncounted.succeeded);
    let failed = moved(&mut uncounted.failed);
    if succeeded > 0 {
        status.succeeded = Some(status.succeeded.unwrap_or(0) + succeeded);
    }
    if failed > 0 {
        status.failed = Some(status.failed.unwrap_or(0) + failed);
    }
    changed
}

/// Sets the terminal condition when nothing is left uncounted and no pod is terminating
/// (upstream `enactJobFinished`). Returns whether the Job is now finished.
pub fn enact_finished(status: &mut JobStatus, terminal: Option<&JobCondition>, now: Timestamp) -> bool {
    let Some(terminal) = terminal else { return false };
    let uncounted = status
        .uncounted_terminated_pods
        .as_ref()
        .map_or(0, |u: &UncountedTerminatedPods| {
            u.succeeded.as_ref().map_or(0, Vec::len) + u.failed.as_ref().map_or(0, Vec::len)
        });
    if uncounted > 0 || status.terminating.unwrap_or(0) > 0 {
        return false;
    }
    let list = status.conditions.get_or_insert_with(Vec::new);
    cond::ensure_status(
        list,
        &terminal.type_,
        &terminal.status,
        terminal.reason.as_deref().unwrap_or(""),
        terminal.message.as_deref().unwrap_or(""),
        now,
    );
    if terminal.type_ == cond::COMPLETE {
        status.completion_time = Some(Time(now));
    }
    true
}

#[cfg(test)]
#[path = "tracking_tests.rs"]
mod tests;
