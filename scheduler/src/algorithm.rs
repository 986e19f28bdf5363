//! One scheduling decision over a snapshot (upstream `schedulePod`): PreFilter, Filter over a
//! rotating sample of nodes (percentageOfNodesToScore), PreScore/Score, pick the best node.
//! Pure and synchronous: the caller owns the snapshot and applies the result.

use std::collections::HashMap;
use std::sync::Arc;

use crate::framework::{CycleState, Diagnosis, FitError, Handle, NodeInfo, PodInfo, Snapshot, Status};
use crate::profile::Profile;

/// Below this many nodes every node is checked (upstream `minFeasibleNodesToFind`).
pub const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// The adaptive percentage never drops below this (upstream `minFeasibleNodesPercentageToFind`).
pub const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: usize = 5;

/// Upstream `numFeasibleNodesToFind`: how many feasible nodes are enough; with no configured
/// percentage, 50% minus 1% per 125 nodes, at least 5%, and never fewer than 100 nodes.
pub fn num_feasible_nodes_to_find(percentage: Option<u32>, num_all_nodes: usize) -> usize {
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND {
        return num_all_nodes;
    }
    let mut pct = percentage.unwrap_or(0) as usize;
    if pct == 0 {
        pct = 50usize
            .saturating_sub(num_all_nodes / 125)
            .max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND);
    }
    let n = num_all_nodes * pct.min(100) / 100;
    n.max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// Pods nominated to nodes by preemption; filters count those of equal or higher priority.
#[derive(Debug, Default, Clone)]
pub struct Nominated {
    by_node: HashMap<String, Vec<Arc<PodInfo>>>,
}

impl Nominated {
    pub fn add(&mut self, node: &str, pod: Arc<PodInfo>) {
        self.remove(&pod.key);
        self.by_node.entry(node.to_string()).or_default().push(pod);
    }

    pub fn remove(&mut self, key: &str) {
        self.by_node.retain(|_, pods| {
            pods.retain(|p| p.key != key);
            !pods.is_empty()
        });
    }

    pub fn for_node(&self, node: &str) -> &[Arc<PodInfo>] {
        self.by_node.get(node).map_or(&[], Vec::as_slice)
    }

    pub fn is_empty(&self) -> bool {
        self.by_node.is_empty()
    }
}

/// Why no node was chosen.
#[derive(Debug, Clone)]
pub enum ScheduleError {
    /// No node fits; carries the per-node reasons.
    Fit(Box<FitError>),
    /// The cluster has no nodes at all.
    NoNodes,
    /// A plugin failed with an error.
    Internal(String),
}

impl ScheduleError {
    pub fn message(&self) -> String {
        match self {
            ScheduleError::Fit(e) => e.message(),
            ScheduleError::NoNodes => "no nodes available to schedule pods".into(),
            ScheduleError::Internal(m) => m.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ScheduleResult {
    pub node: String,
    pub evaluated_nodes: usize,
    pub feasible_nodes: usize,
}

/// The algorithm's memory between cycles: where the node sample starts, and a cheap RNG for
/// breaking score ties.
#[derive(Debug)]
pub struct Algorithm {
    next_start_node_index: usize,
    rng: u64,
}

impl Default for Algorithm {
    fn default() -> Self {
        Algorithm {
            next_start_node_index: 0,
            rng: 0x9E37_79B9_7F4A_7C15,
        }
    }
}

/// Runs filters with pods nominated to the node (of at least the pod's priority) counted as
/// running there, then without them (upstream `RunFilterPluginsWithNominatedPods`).
pub fn filter_with_nominated(
    profile: &Profile,
    state: &CycleState,
    pod: &PodInfo,
    node: &NodeInfo,
    nominated: &Nominated,
) -> Status {
    let extra: Vec<&Arc<PodInfo>> = nominated
        .for_node(&node.name)
        .iter()
        .filter(|p| p.priority >= pod.priority && p.key != pod.key)
        .collect();
    if !extra.is_empty() {
        let mut st = state.clone();
        let mut info = node.clone();
        for p in extra {
            info.add_pod(p.clone());
            profile.run_add_pod(&mut st, pod, p, &info);
        }
        let s = profile.run_filters(&st, pod, &info);
        if !s.is_success() {
            return s;
        }
    }
    profile.run_filters(state, pod, node)
}

impl Algorithm {
    fn next_random(&mut self) -> u64 {
        // xorshift64: tie-breaking only needs to be unbiased, not secure.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    /// Chooses a node for `pod`, or explains why none fits. `state` is left with the cycle's
    /// PreFilter data so PostFilter (preemption) can reuse it.
    pub fn schedule(
        &mut self,
        profile: &Profile,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        nominated: &Nominated,
    ) -> Result<ScheduleResult, ScheduleError> {
        let n = snapshot.len();
        if n == 0 {
            return Err(ScheduleError::NoNodes);
        }
        let pre = profile.run_pre_filter(state, pod, snapshot);
        if pre.code == crate::framework::Code::Error {
            return Err(ScheduleError::Internal(pre.message()));
        }
        if !pre.is_success() {
            let mut d = Diagnosis {
                pre_filter_msg: pre.message(),
                absent_nodes_status: Some(pre.clone()),
                ..Diagnosis::default()
            };
            d.unschedulable_plugins.insert(pre.plugin);
            return Err(ScheduleError::Fit(Box::new(FitError {
                num_all_nodes: n,
                diagnosis: d,
            })));
        }

        // A pod that preempted before tries its nominated node first.
        if let Some(name) = pod.nominated_node_name.as_deref()
            && let Some(node) = snapshot.get(name)
            && filter_with_nominated(profile, state, pod, node, nominated).is_success()
        {
            return Ok(ScheduleResult {
                node: node.name.clone(),
                evaluated_nodes: 1,
                feasible_nodes: 1,
            });
        }

        let want = num_feasible_nodes_to_find(profile.percentage_of_nodes_to_score, n);
        let mut feasible: Vec<Arc<NodeInfo>> = Vec::with_capacity(want.min(n));
        let mut diagnosis = Diagnosis::default();
        let mut evaluated = 0;
        for i in 0..n {
            let node = &snapshot.nodes[(self.next_start_node_index + i) % n];
            evaluated += 1;
            let s = filter_with_nominated(profile, state, pod, node, nominated);
            if s.is_success() {
                feasible.push(node.clone());
                if feasible.len() >= want {
                    break;
                }
            } else if s.code == crate::framework::Code::Error {
                return Err(ScheduleError::Internal(s.message()));
            } else {
                diagnosis.unschedulable_plugins.insert(s.plugin);
                diagnosis.node_to_status.insert(node.name.clone(), s);
            }
        }
        self.next_start_node_index = (self.next_start_node_index + evaluated) % n;
        if feasible.is_empty() {
            return Err(ScheduleError::Fit(Box::new(FitError {
                num_all_nodes: n,
                diagnosis,
            })));
        }
        if feasible.len() == 1 {
            return Ok(ScheduleResult {
                node: feasible[0].name.clone(),
                evaluated_nodes: evaluated,
                feasible_nodes: 1,
            });
        }
        let s = profile.run_pre_score(state, pod, &feasible, snapshot);
        if !s.is_success() {
            return Err(ScheduleError::Internal(s.message()));
        }
        let totals = profile.run_score(state, pod, &feasible);
        let best = self.select_host(&totals);
        Ok(ScheduleResult {
            node: feasible[best].name.clone(),
            evaluated_nodes: evaluated,
            feasible_nodes: feasible.len(),
        })
    }

    /// The index of a highest score, ties broken uniformly at random (reservoir sampling).
    fn select_host(&mut self, totals: &[i64]) -> usize {
        let mut best = 0;
        let mut ties = 1u64;
        for (i, &t) in totals.iter().enumerate().skip(1) {
            if t > totals[best] {
                best = i;
                ties = 1;
            } else if t == totals[best] {
                ties += 1;
                if self.next_random().is_multiple_of(ties) {
                    best = i;
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests;
