//! Extension points, shaped like upstream's `framework` interfaces: a plugin implements the
//! traits of the points it hooks into, and a profile lists it under each.

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::sync::Arc;

use super::fit_error::Diagnosis;
use super::node_info::NodeInfo;
use super::pod_info::PodInfo;
use super::snapshot::Snapshot;
use super::status::Status;

/// Highest score a plugin gives a node after normalisation.
pub const MAX_NODE_SCORE: i64 = 100;

/// Per-cycle scratch space: PreFilter/PreScore results read by Filter/Score. Values are `Arc`s
/// so that preemption can copy the state cheaply and change one plugin's part.
#[derive(Clone, Default)]
pub struct CycleState {
    data: HashMap<&'static str, Arc<dyn Any + Send + Sync>>,
    /// Plugins whose PreFilter returned Skip: their Filter is not run.
    pub skip_filter: HashSet<&'static str>,
    /// Plugins whose PreScore returned Skip: their Score is not run.
    pub skip_score: HashSet<&'static str>,
}

impl Debug for CycleState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CycleState")
            .field("keys", &self.data.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl CycleState {
    pub fn write<T: Any + Send + Sync>(&mut self, key: &'static str, value: T) {
        self.data.insert(key, Arc::new(value));
    }

    pub fn read<T: Any + Send + Sync>(&self, key: &'static str) -> Option<&T> {
        self.data.get(key).and_then(|v| v.downcast_ref::<T>())
    }
}

pub trait Plugin: Send + Sync + Debug {
    fn name(&self) -> &'static str;
}

pub trait PreFilterPlugin: Plugin {
    /// Computes per-pod state once; Skip means Filter has nothing to check.
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, snapshot: &Snapshot) -> Status;

    /// PreFilterExtensions.AddPod: `added` now counts as running on `node` (preemption dry run).
    fn add_pod(&self, _state: &mut CycleState, _pod: &PodInfo, _added: &Arc<PodInfo>, _node: &NodeInfo) {}

    /// PreFilterExtensions.RemovePod: `removed` no longer runs on `node`.
    fn remove_pod(&self, _state: &mut CycleState, _pod: &PodInfo, _removed: &Arc<PodInfo>, _node: &NodeInfo) {
    }
}

pub trait FilterPlugin: Plugin {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status;
}

/// What the framework offers PostFilter plugins: re-running filters on changed node infos.
pub trait Handle {
    fn run_filters(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status;
    fn run_remove_pod(&self, state: &mut CycleState, pod: &PodInfo, removed: &Arc<PodInfo>, node: &NodeInfo);
    fn run_add_pod(&self, state: &mut CycleState, pod: &PodInfo, added: &Arc<PodInfo>, node: &NodeInfo);
}

/// The outcome of a PostFilter: a node nominated for the pod and the pods to delete there.
#[derive(Debug, Clone)]
pub struct PostFilterResult {
    pub status: Status,
    pub nominated_node: Option<String>,
    pub victims: Vec<Arc<PodInfo>>,
}

pub trait PostFilterPlugin: Plugin {
    fn post_filter(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        diagnosis: &Diagnosis,
        handle: &dyn Handle,
    ) -> PostFilterResult;
}

pub trait PreScorePlugin: Plugin {
    /// Computes per-pod scoring state over the feasible nodes; Skip means Score is not run.
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        feasible: &[Arc<NodeInfo>],
        snapshot: &Snapshot,
    ) -> Status;
}

pub trait ScorePlugin: Plugin {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> i64;

    /// NormalizeScore: maps raw scores (one per feasible node, in order) onto 0..=100.
    fn normalize(&self, _state: &CycleState, _pod: &PodInfo, _nodes: &[Arc<NodeInfo>], _scores: &mut [i64]) {}
}

pub trait ReservePlugin: Plugin {
    fn reserve(&self, state: &CycleState, pod: &PodInfo, node: &str) -> Status;
    fn unreserve(&self, state: &CycleState, pod: &PodInfo, node: &str);
}

/// Upstream `helper.DefaultNormalizeScore`: scale to `max_priority` by the highest score;
/// `reverse` flips so that lower raw scores win.
pub fn default_normalize_score(max_priority: i64, reverse: bool, scores: &mut [i64]) {
    let max = scores.iter().copied().max().unwrap_or(0);
    if max == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = max_priority);
        }
        return;
    }
    for s in scores.iter_mut() {
        let mut v = max_priority * *s / max;
        if reverse {
            v = max_priority - v;
        }
        *s = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_normalize_table() {
        let cases: Vec<(bool, Vec<i64>, Vec<i64>)> = vec![
            (false, vec![1, 2, 4], vec![25, 50, 100]),
            (true, vec![1, 2, 4], vec![75, 50, 0]),
            (false, vec![0, 0], vec![0, 0]),
            (true, vec![0, 0], vec![100, 100]),
        ];
        for (reverse, mut input, want) in cases {
            default_normalize_score(100, reverse, &mut input);
            assert_eq!(input, want);
        }
    }
}
