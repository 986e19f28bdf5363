//! DoNotSchedule constraints (upstream `podtopologyspread/filtering.go`).

use std::collections::HashMap;
use std::sync::Arc;

use crate::framework::{CycleState, FilterPlugin, NodeInfo, PodInfo, PreFilterPlugin, Snapshot, Status};

use super::{
    Constraint, ERR_REASON_CONSTRAINTS_NOT_MATCH, ERR_REASON_NODE_LABEL_NOT_MATCH, PodTopologySpread,
    count_matching, node_has_all_keys, node_included, pod_constraints,
};

const STATE_KEY: &str = "PreFilterPodTopologySpread";

#[derive(Debug, Clone)]
struct PreFilterState {
    constraints: Vec<Constraint>,
    /// Per constraint: topology value → matching pods in that domain.
    counts: Vec<HashMap<String, i64>>,
}

impl PreFilterState {
    fn min_match(&self, i: usize) -> i64 {
        let domains = &self.counts[i];
        if (domains.len() as i64) < self.constraints[i].min_domains {
            return 0;
        }
        domains.values().copied().min().unwrap_or(0)
    }

    fn update(&mut self, pod: &PodInfo, other: &PodInfo, node: &NodeInfo, by: i64) {
        if other.namespace() != pod.namespace() || !node_has_all_keys(node, &self.constraints) {
            return;
        }
        for (i, c) in self.constraints.iter().enumerate() {
            if !c.selector.matches(other.labels()) || !node_included(c, pod, node) {
                continue;
            }
            if let Some(v) = node.label(&c.topology_key) {
                *self.counts[i].entry(v.to_string()).or_default() += by;
            }
        }
    }
}

impl PreFilterPlugin for PodTopologySpread {
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, snapshot: &Snapshot) -> Status {
        let constraints = pod_constraints(pod, "DoNotSchedule");
        if constraints.is_empty() {
            return Status::skip();
        }
        let mut counts = vec![HashMap::new(); constraints.len()];
        for node in &snapshot.nodes {
            if !node_has_all_keys(node, &constraints) {
                continue;
            }
            for (i, c) in constraints.iter().enumerate() {
                if !node_included(c, pod, node) {
                    continue;
                }
                let Some(v) = node.label(&c.topology_key) else {
                    continue;
                };
                let n = count_matching(&node.pods, &c.selector, pod.namespace());
                *counts[i].entry(v.to_string()).or_default() += n;
            }
        }
        state.write(STATE_KEY, PreFilterState { constraints, counts });
        Status::success()
    }

    fn add_pod(&self, state: &mut CycleState, pod: &PodInfo, added: &Arc<PodInfo>, node: &NodeInfo) {
        if let Some(s) = state.read::<PreFilterState>(STATE_KEY) {
            let mut s = s.clone();
            s.update(pod, added, node, 1);
            state.write(STATE_KEY, s);
        }
    }

    fn remove_pod(&self, state: &mut CycleState, pod: &PodInfo, removed: &Arc<PodInfo>, node: &NodeInfo) {
        if let Some(s) = state.read::<PreFilterState>(STATE_KEY) {
            let mut s = s.clone();
            s.update(pod, removed, node, -1);
            state.write(STATE_KEY, s);
        }
    }
}

impl FilterPlugin for PodTopologySpread {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<PreFilterState>(STATE_KEY) else {
            return Status::success();
        };
        for (i, c) in s.constraints.iter().enumerate() {
            let Some(value) = node.label(&c.topology_key) else {
                return Status::unresolvable(ERR_REASON_NODE_LABEL_NOT_MATCH);
            };
            let self_match = i64::from(c.selector.matches(pod.labels()));
            let match_num = s.counts[i].get(value).copied().unwrap_or(0);
            let skew = match_num + self_match - s.min_match(i);
            if skew > c.max_skew {
                return Status::unschedulable(ERR_REASON_CONSTRAINTS_NOT_MATCH);
            }
        }
        Status::success()
    }
}
