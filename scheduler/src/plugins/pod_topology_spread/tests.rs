use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::framework::node_info::testing::*;
use crate::framework::selectors::Selector;
use crate::framework::{
    CycleState, FilterPlugin, PodInfo, PreFilterPlugin, PreScorePlugin, ScorePlugin, Snapshot,
};

fn app_pod(name: &str, extra: serde_json::Value) -> Arc<PodInfo> {
    let mut v = json!({"metadata": {"labels": {"app": "web"}}});
    merge(&mut v, extra);
    pod(name, "0", v)
}

fn zone_node(name: &str, zone: Option<&str>, pods: &[Arc<PodInfo>]) -> Arc<crate::framework::NodeInfo> {
    let labels = match zone {
        Some(z) => json!({"zone": z}),
        None => json!({}),
    };
    Arc::new(node_info(
        node(name, "1", "1Gi", json!({"metadata": {"labels": labels}})),
        pods,
    ))
}

fn spread(when: &str, skew: i32) -> serde_json::Value {
    json!({"spec": {"topologySpreadConstraints": [
        {"maxSkew": skew, "topologyKey": "zone", "whenUnsatisfiable": when, "labelSelector": {"matchLabels": {"app": "web"}}}]}})
}

#[test]
fn do_not_schedule_filters_by_skew() {
    let nodes = vec![
        zone_node(
            "a1",
            Some("a"),
            &[app_pod("w1", json!({})), app_pod("w2", json!({}))],
        ),
        zone_node("b1", Some("b"), &[app_pod("w3", json!({}))]),
        zone_node("x", None, &[]),
    ];
    let snapshot = Snapshot::from_nodes(nodes.clone());
    let pl = PodTopologySpread::default();
    let incoming = app_pod("new", spread("DoNotSchedule", 1));
    let mut st = CycleState::default();
    assert!(pl.pre_filter(&mut st, &incoming, &snapshot).is_success());
    let got: Vec<_> = nodes.iter().map(|n| pl.filter(&st, &incoming, n)).collect();
    // zone a: 2 + 1 - 1 = 2 > 1; zone b: 1 + 1 - 1 = 1.
    assert_eq!(got[0].reasons, vec![ERR_REASON_CONSTRAINTS_NOT_MATCH]);
    assert!(got[1].is_success());
    assert_eq!(got[2].reasons, vec![ERR_REASON_NODE_LABEL_NOT_MATCH]);
    assert_eq!(got[2].code, crate::framework::Code::UnschedulableAndUnresolvable);
}

#[test]
fn no_constraints_skip() {
    let snapshot = Snapshot::from_nodes(vec![zone_node("a", Some("a"), &[])]);
    let pl = PodTopologySpread::default();
    let mut st = CycleState::default();
    assert!(
        pl.pre_filter(&mut st, &app_pod("p", json!({})), &snapshot)
            .is_skip()
    );
    assert!(
        pl.pre_score(&mut st, &app_pod("p", json!({})), &snapshot.nodes, &snapshot)
            .is_skip()
    );
}

#[test]
fn schedule_anyway_prefers_emptier_domain() {
    let nodes = vec![
        zone_node(
            "a1",
            Some("a"),
            &[app_pod("w1", json!({})), app_pod("w2", json!({}))],
        ),
        zone_node("b1", Some("b"), &[app_pod("w3", json!({}))]),
        zone_node("c1", Some("c"), &[]),
    ];
    let snapshot = Snapshot::from_nodes(nodes.clone());
    let pl = PodTopologySpread::default();
    let incoming = app_pod("new", spread("ScheduleAnyway", 1));
    let mut st = CycleState::default();
    assert!(pl.pre_score(&mut st, &incoming, &nodes, &snapshot).is_success());
    let mut scores: Vec<i64> = nodes.iter().map(|n| pl.score(&st, &incoming, n)).collect();
    // weight ln(3+2) = 1.609: counts 2, 1, 0 → 3, 2, 0.
    assert_eq!(scores, vec![3, 2, 0]);
    pl.normalize(&st, &incoming, &nodes, &mut scores);
    assert_eq!(scores, vec![0, 33, 100]);
}

#[derive(Debug)]
struct AllWeb;
impl WorkloadSelectors for AllWeb {
    fn default_selector(&self, pod: &PodInfo) -> Option<Selector> {
        let labels = pod.labels()?;
        (labels.get("app").map(String::as_str) == Some("web"))
            .then(|| Selector::from_map(&[("app".to_string(), "web".to_string())].into_iter().collect()))
    }
}

#[test]
fn default_constraints_spread_over_hostnames() {
    let nodes = vec![
        Arc::new(node_info(
            node("h1", "1", "1Gi", json!({})),
            &[app_pod("w1", json!({})), app_pod("w2", json!({}))],
        )),
        Arc::new(node_info(node("h2", "1", "1Gi", json!({})), &[])),
    ];
    let snapshot = Snapshot::from_nodes(nodes.clone());
    let pl = PodTopologySpread {
        workloads: Some(Arc::new(AllWeb)),
        ..PodTopologySpread::default()
    };
    let incoming = app_pod("new", json!({}));
    let mut st = CycleState::default();
    assert!(pl.pre_score(&mut st, &incoming, &nodes, &snapshot).is_success());
    let mut scores: Vec<i64> = nodes.iter().map(|n| pl.score(&st, &incoming, n)).collect();
    pl.normalize(&st, &incoming, &nodes, &mut scores);
    assert!(scores[1] > scores[0], "{scores:?}");
    let other = pod("o", "0", json!({}));
    assert!(
        pl.pre_score(&mut CycleState::default(), &other, &nodes, &snapshot)
            .is_skip()
    );
}
