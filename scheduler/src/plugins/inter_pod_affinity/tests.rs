use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::framework::node_info::testing::*;
use crate::framework::{CycleState, FilterPlugin, PreFilterPlugin, PreScorePlugin, ScorePlugin, Status};

fn labelled(name: &str, app: &str, extra: serde_json::Value) -> Arc<crate::framework::PodInfo> {
    let mut v = json!({"metadata": {"labels": {"app": app}}});
    merge(&mut v, extra);
    pod(name, "0", v)
}

fn zone_node(
    name: &str,
    zone: &str,
    pods: &[Arc<crate::framework::PodInfo>],
) -> Arc<crate::framework::NodeInfo> {
    Arc::new(node_info(
        node(name, "1", "1Gi", json!({"metadata": {"labels": {"zone": zone}}})),
        pods,
    ))
}

fn term(kind: &str, app: &str, key: &str) -> serde_json::Value {
    json!({"spec": {"affinity": {kind: {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": key}]}}}})
}

fn run_filter(pod: &crate::framework::PodInfo, nodes: &[Arc<crate::framework::NodeInfo>]) -> Vec<Status> {
    let snapshot = Snapshot::from_nodes(nodes.to_vec());
    let mut st = CycleState::default();
    let pl = InterPodAffinity::default();
    if pl.pre_filter(&mut st, pod, &snapshot).is_skip() {
        return nodes.iter().map(|_| Status::success()).collect();
    }
    nodes.iter().map(|n| pl.filter(&st, pod, n)).collect()
}

#[test]
fn required_affinity_follows_matching_pods_zone() {
    let db = labelled("db", "db", json!({}));
    let nodes = vec![
        zone_node("a1", "a", &[db]),
        zone_node("a2", "a", &[]),
        zone_node("b1", "b", &[]),
    ];
    let web = labelled("web", "web", term("podAffinity", "db", "zone"));
    let got: Vec<bool> = run_filter(&web, &nodes).iter().map(Status::is_success).collect();
    assert_eq!(got, vec![true, true, false]);
    assert_eq!(run_filter(&web, &nodes)[2].reasons, vec![ERR_REASON_AFFINITY]);
}

#[test]
fn first_pod_of_self_affine_group_goes_anywhere() {
    let nodes = vec![zone_node("a1", "a", &[]), zone_node("b1", "b", &[])];
    let web = labelled("web", "web", term("podAffinity", "web", "zone"));
    assert!(run_filter(&web, &nodes).iter().all(Status::is_success));
    let other = labelled("x", "x", term("podAffinity", "web", "zone"));
    assert!(run_filter(&other, &nodes).iter().all(|s| !s.is_success()));
}

#[test]
fn required_anti_affinity_and_existing_anti_affinity() {
    let web1 = labelled("web1", "web", json!({}));
    let nodes = vec![zone_node("a1", "a", &[web1]), zone_node("b1", "b", &[])];
    let web2 = labelled("web2", "web", term("podAntiAffinity", "web", "zone"));
    let got = run_filter(&web2, &nodes);
    assert_eq!(got[0].reasons, vec![ERR_REASON_ANTI_AFFINITY]);
    assert!(got[1].is_success());

    // The existing pod refuses company labelled app=web in its zone.
    let loner = labelled("loner", "loner", term("podAntiAffinity", "web", "zone"));
    let nodes = vec![zone_node("a1", "a", &[loner]), zone_node("b1", "b", &[])];
    let web3 = labelled("web3", "web", json!({}));
    let got = run_filter(&web3, &nodes);
    assert_eq!(got[0].reasons, vec![ERR_REASON_EXISTING_ANTI_AFFINITY]);
    assert!(got[1].is_success());
}

#[test]
fn remove_pod_extension_frees_anti_affinity() {
    let web1 = labelled("web1", "web", json!({}));
    let a1 = zone_node("a1", "a", std::slice::from_ref(&web1));
    let snapshot = Snapshot::from_nodes(vec![a1.clone()]);
    let web2 = labelled("web2", "web", term("podAntiAffinity", "web", "zone"));
    let pl = InterPodAffinity::default();
    let mut st = CycleState::default();
    pl.pre_filter(&mut st, &web2, &snapshot);
    assert!(!pl.filter(&st, &web2, &a1).is_success());
    pl.remove_pod(&mut st, &web2, &web1, &a1);
    let mut without = (*a1).clone();
    without.remove_pod(&web1.key);
    assert!(pl.filter(&st, &web2, &without).is_success());
}

#[test]
fn preferred_terms_score() {
    let db = labelled("db", "db", json!({}));
    let nodes = vec![
        zone_node("a1", "a", &[db]),
        zone_node("a2", "a", &[]),
        zone_node("b1", "b", &[]),
    ];
    let snapshot = Snapshot::from_nodes(nodes.clone());
    let web = labelled(
        "web",
        "web",
        json!({"spec": {"affinity": {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 5, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "zone"}}]}}}}),
    );
    let pl = InterPodAffinity::default();
    let mut st = CycleState::default();
    assert!(!pl.pre_score(&mut st, &web, &nodes, &snapshot).is_skip());
    let mut scores: Vec<i64> = nodes.iter().map(|n| pl.score(&st, &web, n)).collect();
    assert_eq!(scores, vec![5, 5, 0]);
    pl.normalize(&st, &web, &nodes, &mut scores);
    assert_eq!(scores, vec![100, 100, 0]);

    let plain = labelled("p", "p", json!({}));
    let mut st = CycleState::default();
    assert!(pl.pre_score(&mut st, &plain, &nodes, &snapshot).is_skip());
}
