//! The scheduler against a real in-process apiserver: binding, unschedulable reporting and
//! retry, taints, tolerations and node selectors.

mod common;

use common::*;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{Patch, PatchParams};
use rudder_testkit::eventually;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binds_pods_to_fitting_nodes_and_reports_scheduled() {
    let (server, _sched) = setup().await;
    let c = &server.client;
    create_node(c, "small", "1", json!({})).await;
    create_node(c, "big", "4", json!({})).await;
    create_pod(c, "needs-two", "2", json!({})).await;
    create_pod(c, "tiny", "10m", json!({})).await;
    assert_eq!(wait_bound(c, "needs-two").await, "big");
    let tiny_node = wait_bound(c, "tiny").await;
    assert!(tiny_node == "small" || tiny_node == "big");
    let notes = eventually("Scheduled event", WAIT, || async {
        let n = event_notes(c, "needs-two", "Scheduled").await;
        (!n.is_empty()).then_some(n)
    })
    .await;
    assert_eq!(
        notes,
        vec!["Successfully assigned default/needs-two to big".to_string()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unschedulable_pod_gets_condition_and_event_then_schedules_when_a_node_fits() {
    let (server, _sched) = setup().await;
    let c = &server.client;
    create_node(c, "n1", "1", json!({})).await;
    create_pod(c, "big", "2", json!({})).await;
    let want = "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.";
    // Informers deliver the node and the pod independently, so an earlier attempt may have
    // seen no node yet; the retry after the node event reports the fit failure.
    let cond = eventually("PodScheduled=False with the fit message", WAIT, || async {
        scheduled_condition(c, "big").await.filter(|c| c.2 == want)
    })
    .await;
    assert_eq!(cond, ("False".into(), "Unschedulable".into(), want.into()));
    eventually("FailedScheduling event", WAIT, || async {
        event_notes(c, "big", "FailedScheduling")
            .await
            .into_iter()
            .find(|n| n == want)
    })
    .await;
    assert_eq!(node_of(c, "big").await, None);

    // The scheduler keeps only the PodScheduled condition of a pod and writes it with a
    // strategic merge patch: conditions others set stay. Add one, then make the message change
    // (a second node that does not fit either) and look for both.
    let pods: Api<Pod> = Api::namespaced(c.clone(), "default");
    let other = json!({"status": {"conditions": [{"type": "example.com/Checked", "status": "True"}]}});
    pods.patch_status("big", &PatchParams::default(), &Patch::Strategic(other))
        .await
        .expect("add a condition");
    create_node(c, "n1b", "1", json!({})).await;
    let want = "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.";
    eventually("PodScheduled=False with the new message", WAIT, || async {
        scheduled_condition(c, "big").await.filter(|c| c.2 == want)
    })
    .await;
    let types: Vec<String> = pods
        .get("big")
        .await
        .expect("get")
        .status
        .and_then(|s| s.conditions)
        .into_iter()
        .flatten()
        .map(|c| c.type_)
        .collect();
    assert!(types.iter().any(|t| t == "example.com/Checked"), "{types:?}");

    create_node(c, "n2", "4", json!({})).await;
    assert_eq!(wait_bound(c, "big").await, "n2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taints_tolerations_and_node_selectors() {
    let (server, _sched) = setup().await;
    let c = &server.client;
    create_node(
        c,
        "gpu",
        "4",
        json!({"metadata": {"labels": {"accel": "gpu"}}, "spec": {"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}}),
    )
    .await;
    create_node(c, "plain", "4", json!({"metadata": {"labels": {"disk": "ssd"}}})).await;

    create_pod(
        c,
        "intolerant",
        "100m",
        json!({"spec": {"nodeSelector": {"accel": "gpu"}}}),
    )
    .await;
    create_pod(
        c,
        "tolerant",
        "100m",
        json!({"spec": {"nodeSelector": {"accel": "gpu"}, "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]}}),
    )
    .await;
    create_pod(
        c,
        "ssd",
        "100m",
        json!({"spec": {"nodeSelector": {"disk": "ssd"}}}),
    )
    .await;
    for _ in 0..4 {
        create_pod(c, &format!("plain-{}", rand_suffix()), "100m", json!({})).await;
    }

    assert_eq!(wait_bound(c, "tolerant").await, "gpu");
    assert_eq!(wait_bound(c, "ssd").await, "plain");
    let want = "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {dedicated: gpu}. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.";
    eventually("intolerant unschedulable with both reasons", WAIT, || async {
        scheduled_condition(c, "intolerant").await.filter(|c| c.2 == want)
    })
    .await;
    // Pods without tolerations never land on the tainted node.
    let pods = kube::Api::<k8s_openapi::api::core::v1::Pod>::namespaced(c.clone(), "default")
        .list(&Default::default())
        .await
        .expect("list");
    for p in pods.items {
        let name = p.metadata.name.clone().unwrap_or_default();
        if name.starts_with("plain-") {
            assert_eq!(wait_bound(c, &name).await, "plain", "{name}");
        }
    }
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1, Ordering::Relaxed).to_string()
}
