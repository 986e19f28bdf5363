//! ScheduleAnyway constraints and the system defaults (upstream `podtopologyspread/scoring.go`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::framework::{
    CycleState, MAX_NODE_SCORE, NodeInfo, PodInfo, PreScorePlugin, ScorePlugin, Snapshot, Status,
};

use super::{
    Constraint, LABEL_HOSTNAME, PodTopologySpread, count_matching, has_own_constraints, node_has_all_keys,
    node_included, pod_constraints,
};

const STATE_KEY: &str = "PreScorePodTopologySpread";

#[derive(Debug)]
struct PreScoreState {
    constraints: Vec<Constraint>,
    ignored: HashSet<String>,
    /// (constraint index, topology value) → matching pods; hostname constraints count per node.
    pair_counts: HashMap<(usize, String), i64>,
    weights: Vec<f64>,
}

impl PodTopologySpread {
    fn scoring_constraints(&self, pod: &PodInfo) -> Vec<Constraint> {
        if has_own_constraints(pod) {
            return pod_constraints(pod, "ScheduleAnyway");
        }
        let Some(selector) = self.workloads.as_ref().and_then(|w| w.default_selector(pod)) else {
            return Vec::new();
        };
        if selector.is_everything() {
            return Vec::new();
        }
        self.default_constraints
            .iter()
            .map(|(skew, key)| Constraint {
                max_skew: *skew,
                topology_key: key.clone(),
                selector: selector.clone(),
                min_domains: 1,
                honor_node_affinity: true,
                honor_node_taints: false,
            })
            .collect()
    }
}

impl PreScorePlugin for PodTopologySpread {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        feasible: &[Arc<NodeInfo>],
        snapshot: &Snapshot,
    ) -> Status {
        let constraints = self.scoring_constraints(pod);
        if constraints.is_empty() {
            return Status::skip();
        }
        // Only explicit constraints require every topology key on a node.
        let require_all = has_own_constraints(pod);
        let mut ignored = HashSet::new();
        let mut pair_counts = HashMap::new();
        let mut sizes = vec![0usize; constraints.len()];
        for node in feasible {
            if require_all && !node_has_all_keys(node, &constraints) {
                ignored.insert(node.name.clone());
                continue;
            }
            for (i, c) in constraints.iter().enumerate() {
                if c.topology_key == LABEL_HOSTNAME {
                    continue;
                }
                let v = node.label(&c.topology_key).unwrap_or("").to_string();
                if pair_counts.insert((i, v), 0i64).is_none() {
                    sizes[i] += 1;
                }
            }
        }
        let weights = constraints
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let size = if c.topology_key == LABEL_HOSTNAME {
                    feasible.len() - ignored.len()
                } else {
                    sizes[i]
                };
                ((size + 2) as f64).ln()
            })
            .collect();
        for node in &snapshot.nodes {
            if require_all && !node_has_all_keys(node, &constraints) {
                continue;
            }
            for (i, c) in constraints.iter().enumerate() {
                if c.topology_key == LABEL_HOSTNAME || !node_included(c, pod, node) {
                    continue;
                }
                let key = (i, node.label(&c.topology_key).unwrap_or("").to_string());
                if let Some(n) = pair_counts.get_mut(&key) {
                    *n += count_matching(&node.pods, &c.selector, pod.namespace());
                }
            }
        }
        state.write(
            STATE_KEY,
            PreScoreState {
                constraints,
                ignored,
                pair_counts,
                weights,
            },
        );
        Status::success()
    }
}

impl ScorePlugin for PodTopologySpread {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> i64 {
        let Some(s) = state.read::<PreScoreState>(STATE_KEY) else {
            return 0;
        };
        if s.ignored.contains(&node.name) {
            return 0;
        }
        let mut score = 0.0;
        for (i, c) in s.constraints.iter().enumerate() {
            let Some(v) = node.label(&c.topology_key) else {
                continue;
            };
            let count = if c.topology_key == LABEL_HOSTNAME {
                count_matching(&node.pods, &c.selector, pod.namespace())
            } else {
                s.pair_counts.get(&(i, v.to_string())).copied().unwrap_or(0)
            };
            score += count as f64 * s.weights[i] + (c.max_skew - 1) as f64;
        }
        score.round() as i64
    }

    fn normalize(&self, state: &CycleState, _: &PodInfo, nodes: &[Arc<NodeInfo>], scores: &mut [i64]) {
        let Some(s) = state.read::<PreScoreState>(STATE_KEY) else {
            return;
        };
        let valid = |i: usize| !s.ignored.contains(&nodes[i].name);
        let (mut min, mut max) = (i64::MAX, 0i64);
        for (i, sc) in scores.iter().enumerate() {
            if valid(i) {
                min = min.min(*sc);
                max = max.max(*sc);
            }
        }
        for (i, sc) in scores.iter_mut().enumerate() {
            *sc = if !valid(i) {
                0
            } else if max == 0 {
                MAX_NODE_SCORE
            } else {
                MAX_NODE_SCORE * (max + min - *sc) / max
            };
        }
    }
}
