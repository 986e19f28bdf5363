//! TaintToleration: NoSchedule/NoExecute taints the pod does not tolerate reject the node;
//! untolerated PreferNoSchedule taints lower its score.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Toleration;

use crate::framework::selectors::tolerated;
use crate::framework::{
    CycleState, FilterPlugin, MAX_NODE_SCORE, NodeInfo, Plugin, PodInfo, PreScorePlugin, ScorePlugin,
    Snapshot, Status, default_normalize_score,
};

use super::names::TAINT_TOLERATION;

#[derive(Debug, Default)]
pub struct TaintToleration;

fn tolerations(pod: &PodInfo) -> &[Toleration] {
    &pod.tolerations
}

/// The reason upstream reports for the first untolerated taint.
pub fn untolerated_reason(key: &str, value: &str) -> String {
    format!("node(s) had untolerated taint {{{key}: {value}}}")
}

/// The tolerations that matter for PreferNoSchedule (empty effect or PreferNoSchedule).
struct PreferTolerations(Vec<Toleration>);

const STATE_KEY: &str = "PreScoreTaintToleration";

impl Plugin for TaintToleration {
    fn name(&self) -> &'static str {
        TAINT_TOLERATION
    }
}

impl FilterPlugin for TaintToleration {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let tols = tolerations(pod);
        let bad = node
            .taints()
            .iter()
            .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
            .find(|t| !tolerated(tols, t));
        match bad {
            Some(t) => Status::unresolvable(untolerated_reason(&t.key, t.value.as_deref().unwrap_or(""))),
            None => Status::success(),
        }
    }
}

impl PreScorePlugin for TaintToleration {
    fn pre_score(&self, state: &mut CycleState, pod: &PodInfo, _: &[Arc<NodeInfo>], _: &Snapshot) -> Status {
        let prefer: Vec<Toleration> = tolerations(pod)
            .iter()
            .filter(|t| matches!(t.effect.as_deref(), None | Some("") | Some("PreferNoSchedule")))
            .cloned()
            .collect();
        state.write(STATE_KEY, PreferTolerations(prefer));
        Status::success()
    }
}

impl ScorePlugin for TaintToleration {
    fn score(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> i64 {
        let tols = state
            .read::<PreferTolerations>(STATE_KEY)
            .map_or(&[][..], |p| &p.0[..]);
        node.taints()
            .iter()
            .filter(|t| t.effect == "PreferNoSchedule" && !tolerated(tols, t))
            .count() as i64
    }

    fn normalize(&self, _: &CycleState, _: &PodInfo, _: &[Arc<NodeInfo>], scores: &mut [i64]) {
        default_normalize_score(MAX_NODE_SCORE, true, scores);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::node_info::testing::*;
    use serde_json::json;

    #[test]
    fn filter_table() {
        let tainted = node_info(
            node(
                "n",
                "1",
                "1Gi",
                json!({"spec": {"taints": [
            {"key": "soft", "value": "x", "effect": "PreferNoSchedule"},
            {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}}),
            ),
            &[],
        );
        let cases = vec![
            (json!({}), Some("node(s) had untolerated taint {dedicated: gpu}")),
            (
                json!({"spec": {"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]}}),
                None,
            ),
            (
                json!({"spec": {"tolerations": [{"key": "dedicated", "operator": "Exists"}]}}),
                None,
            ),
            (
                json!({"spec": {"tolerations": [{"key": "dedicated", "value": "cpu"}]}}),
                Some("node(s) had untolerated taint {dedicated: gpu}"),
            ),
        ];
        for (extra, want) in cases {
            let s = TaintToleration.filter(&CycleState::default(), &pod("p", "0", extra.clone()), &tainted);
            match want {
                None => assert!(s.is_success(), "{extra}"),
                Some(r) => assert_eq!(s.reasons, vec![r], "{extra}"),
            }
        }
    }

    #[test]
    fn prefer_no_schedule_scores() {
        let two = Arc::new(node_info(
            node(
                "a",
                "1",
                "1Gi",
                json!({"spec": {"taints": [
            {"key": "a", "effect": "PreferNoSchedule"}, {"key": "b", "effect": "PreferNoSchedule"}]}}),
            ),
            &[],
        ));
        let one = Arc::new(node_info(
            node(
                "b",
                "1",
                "1Gi",
                json!({"spec": {"taints": [{"key": "a", "effect": "PreferNoSchedule"}]}}),
            ),
            &[],
        ));
        let none = Arc::new(node_info(node("c", "1", "1Gi", json!({})), &[]));
        let nodes = vec![two, one, none];
        let p = pod(
            "p",
            "0",
            json!({"spec": {"tolerations": [{"key": "b", "operator": "Exists", "effect": "PreferNoSchedule"}]}}),
        );
        let mut st = CycleState::default();
        TaintToleration.pre_score(&mut st, &p, &nodes, &Snapshot::default());
        let mut scores: Vec<i64> = nodes.iter().map(|n| TaintToleration.score(&st, &p, n)).collect();
        assert_eq!(scores, vec![1, 1, 0]);
        TaintToleration.normalize(&st, &p, &nodes, &mut scores);
        assert_eq!(scores, vec![0, 0, 100]);
    }
}
