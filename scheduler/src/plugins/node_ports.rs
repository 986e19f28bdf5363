//! NodePorts: a pod's host ports must be free on the node.

use crate::framework::{
    CycleState, FilterPlugin, NodeInfo, Plugin, PodInfo, PreFilterPlugin, Snapshot, Status,
};

use super::names::NODE_PORTS;

pub const ERR_REASON: &str = "node(s) didn't have free ports for the requested pod ports";

#[derive(Debug, Default)]
pub struct NodePorts;

impl Plugin for NodePorts {
    fn name(&self) -> &'static str {
        NODE_PORTS
    }
}

impl PreFilterPlugin for NodePorts {
    fn pre_filter(&self, _: &mut CycleState, pod: &PodInfo, _: &Snapshot) -> Status {
        if pod.host_ports.is_empty() {
            Status::skip()
        } else {
            Status::success()
        }
    }
}

impl FilterPlugin for NodePorts {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if pod.host_ports.iter().any(|hp| node.port_conflicts(hp)) {
            Status::unschedulable(ERR_REASON)
        } else {
            Status::success()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::node_info::testing::*;
    use serde_json::json;
    use std::sync::Arc;

    fn with_port(name: &str, ip: &str, port: i32, proto: &str) -> Arc<PodInfo> {
        pod(
            name,
            "0",
            json!({"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 1, "hostPort": port, "hostIP": ip, "protocol": proto}]}]}}),
        )
    }

    #[test]
    fn filter_table() {
        let existing = with_port("e", "10.0.0.1", 8080, "TCP");
        let n = node_info(node("n", "1", "1Gi", json!({})), &[existing]);
        let cases = vec![
            (with_port("a", "10.0.0.1", 8080, "TCP"), false),
            (with_port("b", "0.0.0.0", 8080, "TCP"), false),
            (with_port("c", "10.0.0.2", 8080, "TCP"), true),
            (with_port("d", "10.0.0.1", 8080, "UDP"), true),
            (with_port("e2", "", 8081, "TCP"), true),
        ];
        for (p, ok) in cases {
            assert_eq!(
                NodePorts.filter(&CycleState::default(), &p, &n).is_success(),
                ok,
                "{}",
                p.name()
            );
        }
    }
}
