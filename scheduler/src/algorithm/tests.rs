use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::framework::node_info::testing::*;
use crate::plugins::registry::PluginDeps;

#[test]
fn feasible_nodes_to_find_table() {
    let cases = vec![
        (None, 10, 10),
        (None, 99, 99),
        (None, 100, 100),
        (None, 1000, 420), // 50 - 8 = 42%
        (None, 5000, 500), // 50 - 40 = 10%
        (None, 6000, 300), // 50 - 48 = 2%, raised to 5%
        (None, 100_000, 5000),
        (Some(30), 1000, 300),
        (Some(1), 1000, 100),
        (Some(100), 1000, 1000),
    ];
    for (pct, n, want) in cases {
        let got = num_feasible_nodes_to_find(pct, n);
        assert_eq!(got, want, "{pct:?} of {n}");
    }
}

fn snapshot(nodes: Vec<Arc<crate::framework::NodeInfo>>) -> Snapshot {
    Snapshot::from_nodes(nodes)
}

#[test]
fn picks_least_allocated_fitting_node_and_explains_failures() {
    let busy = Arc::new(node_info(
        node("busy", "2", "4Gi", json!({})),
        &[pod("x", "1500m", json!({}))],
    ));
    let idle = Arc::new(node_info(node("idle", "2", "4Gi", json!({})), &[]));
    let tainted = Arc::new(node_info(
        node(
            "tainted",
            "8",
            "4Gi",
            json!({"spec": {"taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}]}}),
        ),
        &[],
    ));
    let snap = snapshot(vec![busy, idle, tainted]);
    let profile = Profile::default_profile(&PluginDeps::default());
    let mut alg = Algorithm::default();

    let small = pod("small", "100m", json!({}));
    let r = alg
        .schedule(
            &profile,
            &mut CycleState::default(),
            &small,
            &snap,
            &Nominated::default(),
        )
        .expect("fits");
    assert_eq!(r.node, "idle");
    assert_eq!(r.feasible_nodes, 2);

    let big = pod("big", "1", json!({}));
    let r = alg
        .schedule(
            &profile,
            &mut CycleState::default(),
            &big,
            &snap,
            &Nominated::default(),
        )
        .expect("fits idle");
    assert_eq!(r.node, "idle");
    assert_eq!(r.feasible_nodes, 1);

    let huge = pod("huge", "3", json!({}));
    let err = alg
        .schedule(
            &profile,
            &mut CycleState::default(),
            &huge,
            &snap,
            &Nominated::default(),
        )
        .expect_err("no fit");
    assert_eq!(
        err.message(),
        "0/3 nodes are available: 1 node(s) had untolerated taint {k: v}, 2 Insufficient cpu."
    );
}

#[test]
fn no_nodes_and_prefilter_rejection() {
    let profile = Profile::default_profile(&PluginDeps::default());
    let mut alg = Algorithm::default();
    let p = pod(
        "p",
        "0",
        json!({"spec": {"volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "data"}}]}}),
    );
    let err = alg
        .schedule(
            &profile,
            &mut CycleState::default(),
            &p,
            &Snapshot::default(),
            &Nominated::default(),
        )
        .expect_err("none");
    assert_eq!(err.message(), "no nodes available to schedule pods");
    let snap = snapshot(vec![Arc::new(node_info(node("n", "1", "1Gi", json!({})), &[]))]);
    let err = alg
        .schedule(
            &profile,
            &mut CycleState::default(),
            &p,
            &snap,
            &Nominated::default(),
        )
        .expect_err("no pvc");
    assert_eq!(
        err.message(),
        "0/1 nodes are available: persistentvolumeclaim \"data\" not found."
    );
}

#[test]
fn nominated_pods_reserve_room() {
    let n = Arc::new(node_info(node("n", "1", "1Gi", json!({})), &[]));
    let snap = snapshot(vec![n]);
    let profile = Profile::default_profile(&PluginDeps::default());
    let mut alg = Algorithm::default();
    let mut nominated = Nominated::default();
    nominated.add("n", pod("vip", "800m", json!({"spec": {"priority": 1000}})));
    let low = pod("low", "500m", json!({}));
    assert!(
        alg.schedule(&profile, &mut CycleState::default(), &low, &snap, &nominated)
            .is_err()
    );
    let vip_peer = pod("peer", "500m", json!({"spec": {"priority": 2000}}));
    assert!(
        alg.schedule(&profile, &mut CycleState::default(), &vip_peer, &snap, &nominated)
            .is_ok()
    );
    nominated.remove("uid-vip");
    assert!(
        alg.schedule(&profile, &mut CycleState::default(), &low, &snap, &nominated)
            .is_ok()
    );
}

#[test]
fn samples_rotate_through_large_clusters() {
    let nodes: Vec<_> = (0..400)
        .map(|i| Arc::new(node_info(node(&format!("n{i}"), "4", "8Gi", json!({})), &[])))
        .collect();
    let snap = snapshot(nodes);
    let profile = Profile::default_profile(&PluginDeps::default());
    let mut alg = Algorithm::default();
    let p = pod("p", "100m", json!({}));
    let r = alg
        .schedule(
            &profile,
            &mut CycleState::default(),
            &p,
            &snap,
            &Nominated::default(),
        )
        .expect("fits");
    // 50 - 400/125 = 47% of 400 = 188 nodes evaluated, all feasible.
    assert_eq!((r.evaluated_nodes, r.feasible_nodes), (188, 188));
    assert_eq!(alg.next_start_node_index, 188);
}
