use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::framework::FilterPlugin;
use crate::framework::node_info::testing::*;
use crate::plugins::node_resources_fit::NodeResourcesFit;
use crate::plugins::taint_toleration::TaintToleration;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;

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

/// A fixed list of budgets.
#[derive(Debug)]
struct Pdbs(Vec<Arc<PodDisruptionBudget>>);
impl PdbLister for Pdbs {
    fn list(&self) -> Vec<Arc<PodDisruptionBudget>> {
        self.0.clone()
    }
}

/// A budget in `default` selecting `app=<app>` with `allowed` disruptions left.
fn budget(app: &str, allowed: i32) -> Arc<PodDisruptionBudget> {
    Arc::new(
        serde_json::from_value(json!({
            "metadata": {"name": app, "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": app}}},
            "status": {"disruptionsAllowed": allowed, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}
        }))
        .expect("pdb"),
    )
}

fn app_pod(name: &str, cpu: &str, priority: i32, app: &str) -> Arc<PodInfo> {
    pod(
        name,
        cpu,
        json!({"metadata": {"labels": {"app": app}}, "spec": {"priority": priority},
               "status": {"startTime": "2026-01-01T00:00:00Z"}}),
    )
}

fn preempt_with(
    preemption: DefaultPreemption,
    pdbs: Vec<Arc<PodDisruptionBudget>>,
    snapshot: &Snapshot,
    incoming: &PodInfo,
) -> PostFilterResult {
    let preemption = DefaultPreemption {
        pdbs: Some(Arc::new(Pdbs(pdbs))),
        ..preemption
    };
    let d = diagnose(incoming, snapshot);
    preemption.post_filter(&CycleState::default(), incoming, snapshot, &d, &Fit)
}

#[test]
fn budgets_steer_victims_and_nodes() {
    struct Case {
        name: &'static str,
        nodes: Vec<(&'static str, Vec<Arc<PodInfo>>)>,
        pdbs: Vec<Arc<PodDisruptionBudget>>,
        /// Dry-run only this many nodes unless none found so far keeps every budget.
        candidates: usize,
        node: &'static str,
        victims: Vec<&'static str>,
    }
    let cases = vec![
        Case {
            name: "without budgets the least important pod goes",
            nodes: vec![(
                "n1",
                vec![app_pod("web", "500m", 10, "web"), app_pod("db", "500m", 5, "db")],
            )],
            pdbs: vec![],
            candidates: 100,
            node: "n1",
            victims: vec!["db"],
        },
        Case {
            name: "a pod whose budget is exhausted is reprieved first, a more important one goes",
            nodes: vec![(
                "n1",
                vec![app_pod("web", "500m", 10, "web"), app_pod("db", "500m", 5, "db")],
            )],
            pdbs: vec![budget("db", 0)],
            candidates: 100,
            node: "n1",
            victims: vec!["web"],
        },
        Case {
            name: "a budget with a disruption left does not protect",
            nodes: vec![(
                "n1",
                vec![app_pod("web", "500m", 10, "web"), app_pod("db", "500m", 5, "db")],
            )],
            pdbs: vec![budget("db", 1)],
            candidates: 100,
            node: "n1",
            victims: vec!["db"],
        },
        Case {
            name: "if every choice violates, preemption still happens",
            nodes: vec![(
                "n1",
                vec![app_pod("web", "500m", 10, "web"), app_pod("db", "500m", 5, "db")],
            )],
            pdbs: vec![budget("db", 0), budget("web", 0)],
            candidates: 100,
            node: "n1",
            victims: vec!["db"],
        },
        Case {
            name: "fewest violations beats lower victim priority",
            nodes: vec![
                ("n1", vec![app_pod("low", "1", 1, "db")]),
                ("n2", vec![app_pod("mid", "1", 50, "web")]),
            ],
            pdbs: vec![budget("db", 0)],
            candidates: 100,
            node: "n2",
            victims: vec!["mid"],
        },
        Case {
            name: "the dry run goes on past the candidate count until a node keeps every budget",
            nodes: vec![
                ("n1", vec![app_pod("low", "1", 1, "db")]),
                ("n2", vec![app_pod("mid", "1", 50, "web")]),
            ],
            pdbs: vec![budget("db", 0)],
            candidates: 1,
            node: "n2",
            victims: vec!["mid"],
        },
    ];
    for case in cases {
        let nodes = case
            .nodes
            .iter()
            .map(|(name, pods)| Arc::new(node_info(node(name, "1", "1Gi", json!({})), pods)))
            .collect();
        let snapshot = Snapshot::from_nodes(nodes);
        let incoming = prio("hi", "500m", 100, "2026-03-01T00:00:00Z");
        let preemption = DefaultPreemption {
            min_candidate_nodes_percentage: 0,
            min_candidate_nodes_absolute: case.candidates,
            pdbs: None,
        };
        let r = preempt_with(preemption, case.pdbs, &snapshot, &incoming);
        assert!(r.status.is_success(), "{}: {:?}", case.name, r.status);
        assert_eq!(r.nominated_node.as_deref(), Some(case.node), "{}", case.name);
        let victims: Vec<&str> = r.victims.iter().map(|v| v.name()).collect();
        assert_eq!(victims, case.victims, "{}", case.name);
    }
}

#[test]
fn select_victims_counts_violations_and_orders_most_important_first() {
    let pods = vec![
        app_pod("a", "250m", 30, "web"),
        app_pod("b", "250m", 20, "db"),
        app_pod("c", "250m", 10, "web"),
        app_pod("d", "250m", 5, "db"),
    ];
    let n = node_info(node("n", "1", "1Gi", json!({})), &pods);
    // Needs 750m: three of the four must go, one may stay.
    let incoming = prio("hi", "750m", 100, "2026-03-01T00:00:00Z");
    let (victims, violations) = DefaultPreemption::default()
        .select_victims(&CycleState::default(), &incoming, &n, &[budget("db", 0)], &Fit)
        .expect("fits after preemption");
    // db pods b and d violate: b (more important) is reprieved; d cannot be and counts.
    let names: Vec<&str> = victims.iter().map(|v| v.name()).collect();
    assert_eq!(names, vec!["a", "c", "d"]);
    assert_eq!(violations, 1);
}
