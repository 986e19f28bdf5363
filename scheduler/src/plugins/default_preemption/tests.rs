use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::framework::FilterPlugin;
use crate::framework::node_info::testing::*;
use crate::plugins::node_resources_fit::NodeResourcesFit;
use crate::plugins::taint_toleration::TaintToleration;

/// A handle running NodeResourcesFit and TaintToleration.
struct Fit;
impl Handle for Fit {
    fn run_filters(&self, st: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let s = TaintToleration.filter(st, pod, node);
        if !s.is_success() {
            return s;
        }
        NodeResourcesFit::default().filter(st, pod, node)
    }
    fn run_remove_pod(&self, _: &mut CycleState, _: &PodInfo, _: &Arc<PodInfo>, _: &NodeInfo) {}
    fn run_add_pod(&self, _: &mut CycleState, _: &PodInfo, _: &Arc<PodInfo>, _: &NodeInfo) {}
}

fn prio(name: &str, cpu: &str, priority: i32, started: &str) -> Arc<PodInfo> {
    pod(
        name,
        cpu,
        json!({"spec": {"priority": priority}, "status": {"startTime": started}}),
    )
}

fn diagnose(pod: &PodInfo, snapshot: &Snapshot) -> Diagnosis {
    let mut d = Diagnosis::default();
    for n in &snapshot.nodes {
        let s = Fit.run_filters(&CycleState::default(), pod, n);
        if !s.is_success() {
            d.node_to_status.insert(n.name.clone(), s);
        }
    }
    d
}

#[test]
fn picks_node_with_lowest_priority_victims_and_keeps_what_fits() {
    let t0 = "2026-01-01T00:00:00Z";
    let n1 = Arc::new(node_info(
        node("n1", "1", "1Gi", json!({})),
        &[prio("a", "500m", 10, t0), prio("b", "500m", 5, t0)],
    ));
    let n2 = Arc::new(node_info(
        node("n2", "1", "1Gi", json!({})),
        &[prio("c", "500m", 1, t0), prio("d", "500m", 1, t0)],
    ));
    let snapshot = Snapshot::from_nodes(vec![n1, n2]);
    let incoming = prio("hi", "500m", 100, t0);
    let d = diagnose(&incoming, &snapshot);
    let r = DefaultPreemption::default().post_filter(&CycleState::default(), &incoming, &snapshot, &d, &Fit);
    assert!(r.status.is_success(), "{:?}", r.status);
    // n2's top victim has priority 1 (n1's would be 5); only one of its pods must go.
    assert_eq!(r.nominated_node.as_deref(), Some("n2"));
    assert_eq!(r.victims.len(), 1);
}

#[test]
fn latest_start_time_breaks_ties() {
    let n1 = Arc::new(node_info(
        node("n1", "1", "1Gi", json!({})),
        &[prio("old", "1", 1, "2026-01-01T00:00:00Z")],
    ));
    let n2 = Arc::new(node_info(
        node("n2", "1", "1Gi", json!({})),
        &[prio("new", "1", 1, "2026-02-01T00:00:00Z")],
    ));
    let snapshot = Snapshot::from_nodes(vec![n1, n2]);
    let incoming = prio("hi", "1", 100, "2026-03-01T00:00:00Z");
    let d = diagnose(&incoming, &snapshot);
    let r = DefaultPreemption::default().post_filter(&CycleState::default(), &incoming, &snapshot, &d, &Fit);
    assert_eq!(r.nominated_node.as_deref(), Some("n2"));
    assert_eq!(r.victims[0].name(), "new");
}

#[test]
fn not_helpful_messages() {
    let t0 = "2026-01-01T00:00:00Z";
    let tainted = Arc::new(node_info(
        node(
            "t",
            "4",
            "1Gi",
            json!({"spec": {"taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}]}}),
        ),
        &[],
    ));
    let same_prio = Arc::new(node_info(
        node("s", "1", "1Gi", json!({})),
        &[prio("x", "1", 100, t0)],
    ));
    let snapshot = Snapshot::from_nodes(vec![tainted, same_prio]);
    let incoming = prio("hi", "1", 100, t0);
    let d = diagnose(&incoming, &snapshot);
    let r = DefaultPreemption::default().post_filter(&CycleState::default(), &incoming, &snapshot, &d, &Fit);
    assert!(!r.status.is_success());
    assert_eq!(
        r.status.message(),
        "preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling."
    );

    let never = pod(
        "n",
        "1",
        json!({"spec": {"priority": 100, "preemptionPolicy": "Never"}}),
    );
    let r = DefaultPreemption::default().post_filter(&CycleState::default(), &never, &snapshot, &d, &Fit);
    assert_eq!(
        r.status.message(),
        "preemption: not eligible due to preemptionPolicy=Never."
    );
}
