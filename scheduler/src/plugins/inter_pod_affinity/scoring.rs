//! Preferred affinity and anti-affinity, both the incoming pod's and existing pods' (upstream
//! `interpodaffinity/scoring.go`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::framework::pod_info::AffinityTerm;
use crate::framework::{
    CycleState, MAX_NODE_SCORE, NodeInfo, PodInfo, PreScorePlugin, ScorePlugin, Snapshot, Status,
};

use super::InterPodAffinity;

const STATE_KEY: &str = "PreScoreInterPodAffinity";

/// topology key → value → score.
#[derive(Debug, Default)]
struct TopologyScore(HashMap<String, HashMap<String, i64>>);

impl TopologyScore {
    fn process_term(
        &mut self,
        term: &AffinityTerm,
        weight: i64,
        target: &PodInfo,
        target_ns: Option<&BTreeMap<String, String>>,
        node: &NodeInfo,
        mult: i64,
    ) {
        if !term.matches(target, target_ns) {
            return;
        }
        if let Some(v) = node.label(&term.topology_key) {
            *self
                .0
                .entry(term.topology_key.clone())
                .or_default()
                .entry(v.to_string())
                .or_default() += weight * mult;
        }
    }

    fn process_terms(
        &mut self,
        terms: &[AffinityTerm],
        target: &PodInfo,
        target_ns: Option<&BTreeMap<String, String>>,
        node: &NodeInfo,
        mult: i64,
    ) {
        for t in terms {
            self.process_term(t, i64::from(t.weight), target, target_ns, node, mult);
        }
    }
}

impl InterPodAffinity {
    fn process_existing(
        &self,
        s: &mut TopologyScore,
        pod: &PodInfo,
        snapshot: &Snapshot,
        existing: &PodInfo,
        node: &NodeInfo,
    ) {
        let existing_ns = snapshot.ns_labels(existing.namespace());
        let pod_ns = snapshot.ns_labels(pod.namespace());
        s.process_terms(&pod.preferred_affinity, existing, existing_ns, node, 1);
        s.process_terms(&pod.preferred_anti_affinity, existing, existing_ns, node, -1);
        if self.hard_pod_affinity_weight > 0 && node.labels().is_some_and(|l| !l.is_empty()) {
            for t in &existing.required_affinity {
                s.process_term(t, self.hard_pod_affinity_weight, pod, pod_ns, node, 1);
            }
        }
        s.process_terms(&existing.preferred_affinity, pod, pod_ns, node, 1);
        s.process_terms(&existing.preferred_anti_affinity, pod, pod_ns, node, -1);
    }
}

impl PreScorePlugin for InterPodAffinity {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _: &[Arc<NodeInfo>],
        snapshot: &Snapshot,
    ) -> Status {
        let has_constraints = !pod.preferred_affinity.is_empty() || !pod.preferred_anti_affinity.is_empty();
        if !has_constraints && snapshot.have_pods_with_affinity.is_empty() {
            return Status::skip();
        }
        let mut s = TopologyScore::default();
        if has_constraints {
            for node in &snapshot.nodes {
                for existing in &node.pods {
                    self.process_existing(&mut s, pod, snapshot, existing, node);
                }
            }
        } else {
            for &i in &snapshot.have_pods_with_affinity {
                let node = &snapshot.nodes[i];
                for existing in &node.pods_with_affinity {
                    self.process_existing(&mut s, pod, snapshot, existing, node);
                }
            }
        }
        state.write(STATE_KEY, s);
        Status::success()
    }
}

impl ScorePlugin for InterPodAffinity {
    fn score(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> i64 {
        let Some(s) = state.read::<TopologyScore>(STATE_KEY) else {
            return 0;
        };
        s.0.iter()
            .filter_map(|(key, values)| node.label(key).and_then(|v| values.get(v)))
            .sum()
    }

    fn normalize(&self, state: &CycleState, _: &PodInfo, _: &[Arc<NodeInfo>], scores: &mut [i64]) {
        if state
            .read::<TopologyScore>(STATE_KEY)
            .is_none_or(|s| s.0.is_empty())
        {
            return;
        }
        let min = scores.iter().copied().min().unwrap_or(0);
        let max = scores.iter().copied().max().unwrap_or(0);
        let diff = max - min;
        for s in scores.iter_mut() {
            *s = if diff > 0 {
                (MAX_NODE_SCORE as f64 * ((*s - min) as f64 / diff as f64)) as i64
            } else {
                0
            };
        }
    }
}
