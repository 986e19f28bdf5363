//! NodeResourcesBalancedAllocation: prefers nodes whose cpu and memory would be used in equal
//! proportion: score = (1 - standard deviation of the requested fractions) * 100.

use std::sync::Arc;

use crate::framework::{
    CycleState, MAX_NODE_SCORE, NodeInfo, Plugin, PodInfo, PreScorePlugin, ScorePlugin, Snapshot, Status,
};

use super::names::NODE_RESOURCES_BALANCED_ALLOCATION;

#[derive(Debug, Default)]
pub struct BalancedAllocation;

impl Plugin for BalancedAllocation {
    fn name(&self) -> &'static str {
        NODE_RESOURCES_BALANCED_ALLOCATION
    }
}

impl PreScorePlugin for BalancedAllocation {
    fn pre_score(&self, _: &mut CycleState, pod: &PodInfo, _: &[Arc<NodeInfo>], _: &Snapshot) -> Status {
        // A pod that requests nothing does not change any node's balance.
        if pod.requests.milli_cpu == 0 && pod.requests.memory == 0 {
            Status::skip()
        } else {
            Status::success()
        }
    }
}

fn fraction(requested: i64, allocatable: i64) -> f64 {
    if allocatable == 0 {
        return 0.0;
    }
    (requested as f64 / allocatable as f64).min(1.0)
}

impl ScorePlugin for BalancedAllocation {
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> i64 {
        let cpu = fraction(
            node.requested.milli_cpu + pod.requests.milli_cpu,
            node.allocatable.milli_cpu,
        );
        let mem = fraction(
            node.requested.memory + pod.requests.memory,
            node.allocatable.memory,
        );
        // With two resources the standard deviation is half the difference.
        let std = (cpu - mem).abs() / 2.0;
        ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::node_info::testing::*;
    use serde_json::json;

    #[test]
    fn score_table() {
        let p = pod(
            "p",
            "1",
            json!({"spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "1", "memory": "1000"}}}]}}),
        );
        let cases = vec![
            (("4", "4000"), 100),  // 25% / 25%
            (("2", "4000"), 87),   // 50% / 25% → std 0.125
            (("1", "100000"), 50), // 100% / 1%: std 0.495 → 50
        ];
        for ((cpu, mem), want) in cases {
            let n = node_info(node("n", cpu, mem, json!({})), &[]);
            assert_eq!(
                BalancedAllocation.score(&CycleState::default(), &p, &n),
                want,
                "{cpu}/{mem}"
            );
        }
    }
}
