//! Upstream `manageJob`: bring the number of active pods to what the Job wants, within
//! parallelism, remaining completions and the failure back-off.

use std::collections::{BTreeSet, HashSet};

use k8s_openapi::api::core::v1::Pod;

use super::indexes;
use super::plan::{MAX_POD_CREATE_DELETE_PER_SYNC, Observed, Plan, deletion};
use super::pods;
use crate::controllers::util::pod as podutil;

pub(super) struct Manage<'a, 'o> {
    pub(super) o: &'a Observed<'o>,
    pub(super) active_pods: &'a [&'o Pod],
    pub(super) succeeded: i32,
    pub(super) succeeded_set: &'a BTreeSet<i32>,
    pub(super) terminating: i32,
}

pub(super) struct ManageResult {
    pub(super) active: i32,
    pub(super) terminating: i32,
    pub(super) removed_ready: i32,
}

impl Manage<'_, '_> {
    /// Upstream `manageJob`: deletes excess (or, when suspended, all) active pods, else
    /// creates missing ones, respecting the failure back-off.
    pub(super) fn run(&self, out: &mut Plan) -> ManageResult {
        let job = self.o.job;
        let spec = job.spec.clone().unwrap_or_default();
        let parallelism = spec.parallelism.unwrap_or(1);
        let active = self.active_pods.len() as i32;
        let mut result = ManageResult {
            active,
            terminating: self.terminating,
            removed_ready: 0,
        };
        let remove = |pods: Vec<&Pod>, out: &mut Plan, result: &mut ManageResult| {
            for p in &pods {
                out.delete.push(deletion(p, true));
            }
            result.active -= pods.len() as i32;
            result.terminating += pods.len() as i32;
            result.removed_ready = pods.iter().filter(|p| podutil::is_ready(p)).count() as i32;
        };
        if spec.suspend == Some(true) {
            remove(self.active_pods.to_vec(), out, &mut result);
            return result;
        }
        let want = match spec.completions {
            None if self.succeeded > 0 => active,
            None => parallelism,
            Some(c) => (c - self.succeeded).clamp(0, parallelism),
        };
        let rm_at_least = usize::try_from(active - want).unwrap_or(0);
        let mut to_delete = self.for_removal(rm_at_least);
        to_delete.truncate(MAX_POD_CREATE_DELETE_PER_SYNC);
        if !to_delete.is_empty() {
            remove(to_delete, out, &mut result);
            return result;
        }
        let waiting = if pods::only_replace_failed(job) {
            self.terminating
        } else {
            0
        };
        let diff = want - waiting - active;
        if diff <= 0 {
            return result;
        }
        let s = self.o.settings;
        let left = out.backoff.remaining(self.o.now, s.backoff_base, s.backoff_max);
        if !left.is_zero() {
            out.requeue_after = Some(out.requeue_after.map_or(left, |r| r.min(left)));
            return result;
        }
        let diff = usize::try_from(diff)
            .unwrap_or(0)
            .min(MAX_POD_CREATE_DELETE_PER_SYNC);
        if indexes::is_indexed(job) {
            let active_ix: BTreeSet<i32> = self
                .active_pods
                .iter()
                .filter_map(|p| indexes::completion_index(p))
                .collect();
            let todo = indexes::first_pending(
                self.succeeded_set,
                &active_ix,
                diff,
                spec.completions.unwrap_or(0),
            );
            for ix in &todo {
                out.create.push(pods::new_pod(job, Some(*ix)));
            }
            result.active += todo.len() as i32;
        } else {
            for _ in 0..diff {
                out.create.push(pods::new_pod(job, None));
            }
            result.active += diff as i32;
        }
        result
    }

    /// Upstream `activePodsForRemoval`: for Indexed Jobs, pods with an invalid or repeated
    /// index first; then the cheapest pods to lose, until `at_least` are chosen.
    fn for_removal(&self, at_least: usize) -> Vec<&Pod> {
        let mut rm: Vec<&Pod> = Vec::new();
        let mut left: Vec<&Pod> = Vec::new();
        if indexes::is_indexed(self.o.job) {
            let completions = self.o.job.spec.as_ref().and_then(|s| s.completions).unwrap_or(0);
            let mut seen = HashSet::new();
            let mut sorted = self.active_pods.to_vec();
            sorted.sort_by_key(|p| (indexes::completion_index(p), !podutil::is_ready(p)));
            for p in sorted {
                match indexes::completion_index(p) {
                    Some(ix) if ix < completions && seen.insert(ix) => left.push(p),
                    _ => rm.push(p),
                }
            }
        } else {
            left = self.active_pods.to_vec();
        }
        if rm.len() < at_least {
            rm.extend(podutil::pods_to_delete(&left, at_least - rm.len()));
        }
        rm
    }
}
