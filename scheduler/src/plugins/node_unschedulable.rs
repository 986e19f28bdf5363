//! NodeUnschedulable: cordoned nodes (`spec.unschedulable`) only take pods that tolerate the
//! `node.kubernetes.io/unschedulable:NoSchedule` taint.

use k8s_openapi::api::core::v1::Taint;

use crate::framework::selectors::tolerated;
use crate::framework::{CycleState, FilterPlugin, NodeInfo, Plugin, PodInfo, Status};

use super::names::NODE_UNSCHEDULABLE;

pub const ERR_REASON: &str = "node(s) were unschedulable";
pub const TAINT_KEY: &str = "node.kubernetes.io/unschedulable";

#[derive(Debug, Default)]
pub struct NodeUnschedulable;

impl Plugin for NodeUnschedulable {
    fn name(&self) -> &'static str {
        NODE_UNSCHEDULABLE
    }
}

impl FilterPlugin for NodeUnschedulable {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let cordoned = node
            .node
            .spec
            .as_ref()
            .and_then(|s| s.unschedulable)
            .unwrap_or(false);
        if !cordoned {
            return Status::success();
        }
        let taint = Taint {
            key: TAINT_KEY.into(),
            effect: "NoSchedule".into(),
            ..Taint::default()
        };
        let tolerations = &pod.tolerations;
        if tolerated(tolerations, &taint) {
            Status::success()
        } else {
            Status::unresolvable(ERR_REASON)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::node_info::testing::*;
    use serde_json::json;

    #[test]
    fn filter_table() {
        let cordoned = node_info(
            node("n", "1", "1Gi", json!({"spec": {"unschedulable": true}})),
            &[],
        );
        let open = node_info(node("n", "1", "1Gi", json!({})), &[]);
        let tolerant = pod(
            "t",
            "0",
            json!({"spec": {"tolerations": [{"key": TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}]}}),
        );
        let plain = pod("p", "0", json!({}));
        let st = CycleState::default();
        assert!(NodeUnschedulable.filter(&st, &plain, &open).is_success());
        assert_eq!(
            NodeUnschedulable.filter(&st, &plain, &cordoned).reasons,
            vec![ERR_REASON]
        );
        assert!(NodeUnschedulable.filter(&st, &tolerant, &cordoned).is_success());
    }
}
