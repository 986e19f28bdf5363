//! NodeAffinity: `spec.nodeSelector` and required node affinity filter nodes; preferred node
//! affinity terms score them by the sum of matching weights.

use std::sync::Arc;

use k8s_openapi::api::core::v1::NodeAffinity as Affinity;

use crate::framework::selectors::{term_matches, terms_match};
use crate::framework::{
    CycleState, FilterPlugin, MAX_NODE_SCORE, NodeInfo, Plugin, PodInfo, PreFilterPlugin, PreScorePlugin,
    ScorePlugin, Snapshot, Status, default_normalize_score,
};

use super::names::NODE_AFFINITY;

pub const ERR_REASON: &str = "node(s) didn't match Pod's node affinity/selector";

#[derive(Debug, Default)]
pub struct NodeAffinity;

fn node_affinity(pod: &PodInfo) -> Option<&Affinity> {
    pod.node_affinity.as_deref()
}

/// Upstream `RequiredNodeAffinity.Match`: nodeSelector labels all equal, and the required
/// terms (if any) match. Shared with PodTopologySpread's node inclusion policy.
pub fn required_matches(pod: &PodInfo, node: &NodeInfo) -> bool {
    if let Some(sel) = pod.node_selector.as_ref() {
        let labels = node.labels();
        if !sel.iter().all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v)) {
            return false;
        }
    }
    let required =
        node_affinity(pod).and_then(|n| n.required_during_scheduling_ignored_during_execution.as_ref());
    match required {
        Some(r) => terms_match(&r.node_selector_terms, &node.name, node.labels()),
        None => true,
    }
}

impl Plugin for NodeAffinity {
    fn name(&self) -> &'static str {
        NODE_AFFINITY
    }
}

impl PreFilterPlugin for NodeAffinity {
    fn pre_filter(&self, _: &mut CycleState, pod: &PodInfo, _: &Snapshot) -> Status {
        let has_selector = pod.node_selector.as_ref().is_some_and(|m| !m.is_empty());
        let has_required = node_affinity(pod)
            .and_then(|a| a.required_during_scheduling_ignored_during_execution.as_ref())
            .is_some();
        if has_selector || has_required {
            Status::success()
        } else {
            Status::skip()
        }
    }
}

impl FilterPlugin for NodeAffinity {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if required_matches(pod, node) {
            Status::success()
        } else {
            Status::unresolvable(ERR_REASON)
        }
    }
}

impl PreScorePlugin for NodeAffinity {
    fn pre_score(&self, _: &mut CycleState, pod: &PodInfo, _: &[Arc<NodeInfo>], _: &Snapshot) -> Status {
        let has_preferred = node_affinity(pod)
            .and_then(|a| a.preferred_during_scheduling_ignored_during_execution.as_ref())
            .is_some_and(|p| !p.is_empty());
        if has_preferred {
            Status::success()
        } else {
            Status::skip()
        }
    }
}

impl ScorePlugin for NodeAffinity {
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> i64 {
        node_affinity(pod)
            .and_then(|a| a.preferred_during_scheduling_ignored_during_execution.as_ref())
            .into_iter()
            .flatten()
            .filter(|t| t.weight != 0 && term_matches(&t.preference, &node.name, node.labels()))
            .map(|t| i64::from(t.weight))
            .sum()
    }

    fn normalize(&self, _: &CycleState, _: &PodInfo, _: &[Arc<NodeInfo>], scores: &mut [i64]) {
        default_normalize_score(MAX_NODE_SCORE, false, scores);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::node_info::testing::*;
    use serde_json::json;

    #[test]
    fn filter_table() {
        let n = node_info(
            node(
                "n1",
                "1",
                "1Gi",
                json!({"metadata": {"labels": {"disk": "ssd", "zone": "a"}}}),
            ),
            &[],
        );
        let cases = vec![
            (json!({}), true),
            (json!({"spec": {"nodeSelector": {"disk": "ssd"}}}), true),
            (json!({"spec": {"nodeSelector": {"disk": "hdd"}}}), false),
            (
                json!({"spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]},
                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]}}}}}),
                true,
            ),
            (
                json!({"spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]}]}}}}}),
                false,
            ),
        ];
        for (extra, ok) in cases {
            let p = pod("p", "0", extra.clone());
            let s = NodeAffinity.filter(&CycleState::default(), &p, &n);
            assert_eq!(s.is_success(), ok, "{extra}");
            if !ok {
                assert_eq!(s.reasons, vec![ERR_REASON]);
            }
        }
    }

    #[test]
    fn preferred_scores_normalised() {
        let a = Arc::new(node_info(
            node(
                "a",
                "1",
                "1Gi",
                json!({"metadata": {"labels": {"zone": "a", "disk": "ssd"}}}),
            ),
            &[],
        ));
        let b = Arc::new(node_info(
            node("b", "1", "1Gi", json!({"metadata": {"labels": {"zone": "a"}}})),
            &[],
        ));
        let c = Arc::new(node_info(node("c", "1", "1Gi", json!({})), &[]));
        let p = pod(
            "p",
            "0",
            json!({"spec": {"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 2, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}},
            {"weight": 6, "preference": {"matchExpressions": [{"key": "disk", "operator": "Exists"}]}}]}}}}),
        );
        let st = CycleState::default();
        let nodes = vec![a, b, c];
        let mut scores: Vec<i64> = nodes.iter().map(|n| NodeAffinity.score(&st, &p, n)).collect();
        assert_eq!(scores, vec![8, 2, 0]);
        NodeAffinity.normalize(&st, &p, &nodes, &mut scores);
        assert_eq!(scores, vec![100, 25, 0]);
    }
}
