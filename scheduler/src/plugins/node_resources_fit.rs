//! NodeResourcesFit: the pod's requests must fit the node's allocatable minus what its pods
//! (incl. assumed ones) request; scoring prefers the least allocated node (upstream default
//! `LeastAllocated`, cpu and memory weighted 1 each).

use crate::framework::resource::Resource;
use crate::framework::{
    CycleState, FilterPlugin, MAX_NODE_SCORE, NodeInfo, Plugin, PodInfo, ScorePlugin, Status,
};

use super::names::NODE_RESOURCES_FIT;

pub const ERR_REASON_TOO_MANY_PODS: &str = "Too many pods";

/// One resource the node lacks, and whether preemption could ever help (it cannot when the
/// request exceeds the node's whole allocatable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsufficientResource {
    pub reason: String,
    pub unresolvable: bool,
}

#[derive(Debug, Default)]
pub struct NodeResourcesFit {
    /// Extended resources the scheduler does not account (upstream `ignoredResources`).
    pub ignored_resources: Vec<String>,
}

/// Upstream `fitsRequest`: every resource the node lacks for `req`.
pub fn insufficient_resources(
    req: &Resource,
    node: &NodeInfo,
    ignored: &[String],
) -> Vec<InsufficientResource> {
    let mut out = Vec::new();
    let alloc = &node.allocatable;
    let used = &node.requested;
    if node.pods.len() as i64 + 1 > alloc.allowed_pod_number {
        out.push(InsufficientResource {
            reason: ERR_REASON_TOO_MANY_PODS.into(),
            unresolvable: false,
        });
    }
    if req.is_zero() {
        return out;
    }
    let mut check = |name: &str, want: i64, have: i64, used: i64| {
        if want > 0 && want > have - used {
            out.push(InsufficientResource {
                reason: format!("Insufficient {name}"),
                unresolvable: want > have,
            });
        }
    };
    check("cpu", req.milli_cpu, alloc.milli_cpu, used.milli_cpu);
    check("memory", req.memory, alloc.memory, used.memory);
    check(
        "ephemeral-storage",
        req.ephemeral_storage,
        alloc.ephemeral_storage,
        used.ephemeral_storage,
    );
    for (name, want) in &req.scalar {
        if ignored.iter().any(|i| i == name) {
            continue;
        }
        check(name, *want, alloc.scalar(name), used.scalar(name));
    }
    out
}

impl Plugin for NodeResourcesFit {
    fn name(&self) -> &'static str {
        NODE_RESOURCES_FIT
    }
}

impl FilterPlugin for NodeResourcesFit {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let missing = insufficient_resources(&pod.requests, node, &self.ignored_resources);
        if missing.is_empty() {
            return Status::success();
        }
        let code = if missing.iter().any(|m| m.unresolvable) {
            crate::framework::Code::UnschedulableAndUnresolvable
        } else {
            crate::framework::Code::Unschedulable
        };
        Status::with_reasons(code, missing.into_iter().map(|m| m.reason).collect())
    }
}

/// `(allocatable - requested) * 100 / allocatable`, 0 when over-committed or nothing allocatable.
fn least_requested(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 || requested > capacity {
        return 0;
    }
    (capacity - requested) * MAX_NODE_SCORE / capacity
}

impl ScorePlugin for NodeResourcesFit {
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> i64 {
        let req = &pod.non_zero_requests;
        let used = &node.non_zero_requested;
        let cpu = least_requested(used.milli_cpu + req.milli_cpu, node.allocatable.milli_cpu);
        let mem = least_requested(used.memory + req.memory, node.allocatable.memory);
        (cpu + mem) / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::framework::node_info::testing::*;
    use serde_json::json;

    fn req_pod(name: &str, cpu: &str, mem: &str) -> std::sync::Arc<PodInfo> {
        pod(
            name,
            cpu,
            json!({"spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu, "memory": mem}}}]}}),
        )
    }

    #[test]
    fn filter_table() {
        let existing = req_pod("e", "600m", "512Mi");
        let n = node_info(node("n", "1", "1Gi", json!({})), &[existing]);
        let full = node_info(
            node("f", "1", "1Gi", json!({"status": {"allocatable": {"pods": "1"}}})),
            &[req_pod("x", "0", "0")],
        );
        let plugin = NodeResourcesFit::default();
        let st = CycleState::default();
        type Case<'a> = (&'a str, std::sync::Arc<PodInfo>, &'a NodeInfo, Code, Vec<&'a str>);
        let cases: Vec<Case<'_>> = vec![
            ("fits", req_pod("a", "400m", "512Mi"), &n, Code::Success, vec![]),
            (
                "cpu",
                req_pod("b", "500m", "1Mi"),
                &n,
                Code::Unschedulable,
                vec!["Insufficient cpu"],
            ),
            (
                "both",
                req_pod("c", "500m", "600Mi"),
                &n,
                Code::Unschedulable,
                vec!["Insufficient cpu", "Insufficient memory"],
            ),
            (
                "bigger than node",
                req_pod("d", "2", "1Mi"),
                &n,
                Code::UnschedulableAndUnresolvable,
                vec!["Insufficient cpu"],
            ),
            (
                "pod count",
                req_pod("e", "0", "0"),
                &full,
                Code::Unschedulable,
                vec!["Too many pods"],
            ),
        ];
        for (name, p, node, code, reasons) in cases {
            let s = plugin.filter(&st, &p, node);
            assert_eq!(s.code, code, "{name}");
            assert_eq!(s.reasons, reasons, "{name}");
        }
    }

    #[test]
    fn extended_resources() {
        let n = node_info(
            node(
                "n",
                "1",
                "1Gi",
                json!({"status": {"allocatable": {"example.com/gpu": "1"}}}),
            ),
            &[],
        );
        let p = pod(
            "g",
            "0",
            json!({"spec": {"containers": [{"name": "c", "resources": {"requests": {"example.com/gpu": "2"}}}]}}),
        );
        let s = NodeResourcesFit::default().filter(&CycleState::default(), &p, &n);
        assert_eq!(s.reasons, vec!["Insufficient example.com/gpu"]);
        let ignoring = NodeResourcesFit {
            ignored_resources: vec!["example.com/gpu".into()],
        };
        assert!(ignoring.filter(&CycleState::default(), &p, &n).is_success());
    }

    #[test]
    fn least_allocated_score() {
        // Upstream's table: node 4000m/10000, pod 3000m/5000 on an empty node → cpu 25, mem 50.
        let n = node_info(node("n", "4", "10000", json!({})), &[]);
        let p = req_pod("p", "3", "5000");
        assert_eq!(
            NodeResourcesFit::default().score(&CycleState::default(), &p, &n),
            37
        );
        // Request-less pods count as 100m / 200MB.
        let empty = pod("q", "0", json!({"spec": {"containers": [{"name": "c"}]}}));
        let big = node_info(node("b", "1", "400Mi", json!({})), &[]);
        assert_eq!(
            NodeResourcesFit::default().score(&CycleState::default(), &empty, &big),
            (90 + 50) / 2
        );
    }
}
