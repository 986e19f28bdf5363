//! NodeName: a pod that names a node fits only that node.

use crate::framework::{CycleState, FilterPlugin, NodeInfo, Plugin, PodInfo, Status};

use super::names::NODE_NAME;

pub const ERR_REASON: &str = "node(s) didn't match the requested node name";

#[derive(Debug, Default)]
pub struct NodeName;

impl Plugin for NodeName {
    fn name(&self) -> &'static str {
        NODE_NAME
    }
}

impl FilterPlugin for NodeName {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        match pod.node_name() {
            Some(want) if want != node.name => Status::unresolvable(ERR_REASON),
            _ => Status::success(),
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
        let n = node_info(node("n1", "1", "1Gi", json!({})), &[]);
        let cases = vec![
            (json!({}), true),
            (json!({"spec": {"nodeName": "n1"}}), true),
            (json!({"spec": {"nodeName": "n2"}}), false),
        ];
        for (extra, ok) in cases {
            let p = pod("p", "0", extra.clone());
            let s = NodeName.filter(&CycleState::default(), &p, &n);
            assert_eq!(s.is_success(), ok, "{extra}");
            if !ok {
                assert_eq!(s.reasons, vec![ERR_REASON]);
            }
        }
    }
}
