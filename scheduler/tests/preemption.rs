//! Preemption against a real apiserver: a high-priority pod evicts a lower-priority one,
//! gets `status.nominatedNodeName`, and is bound once the victim is gone.

mod common;

use common::*;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::api::{Api, PostParams};
use rudder_testkit::eventually;
use serde_json::json;

async fn priority_class(c: &kube::Client, name: &str, value: i32) {
    let pc: PriorityClass = serde_json::from_value(json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name}, "value": value})).expect("pc");
    Api::<PriorityClass>::all(c.clone())
        .create(&PostParams::default(), &pc)
        .await
        .expect("create priority class");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preemption_evicts_lower_priority_pod_and_nominates_node() {
    let (server, _sched) = setup().await;
    let c = &server.client;
    priority_class(c, "low", 10).await;
    priority_class(c, "high", 1000).await;
    create_node(c, "only", "1", json!({})).await;
    // No kubelet runs here: a zero grace period lets the victim's deletion complete at once.
    create_pod(
        c,
        "victim",
        "800m",
        json!({"spec": {"priorityClassName": "low", "terminationGracePeriodSeconds": 0}}),
    )
    .await;
    assert_eq!(wait_bound(c, "victim").await, "only");

    create_pod(c, "vip", "800m", json!({"spec": {"priorityClassName": "high"}})).await;
    let pods: Api<Pod> = Api::namespaced(c.clone(), "default");
    let nominated = eventually("nominatedNodeName or binding", WAIT, || async {
        let p = pods.get_opt("vip").await.ok()??;
        let nominated = p.status.as_ref().and_then(|s| s.nominated_node_name.clone());
        let bound = p.spec.as_ref().and_then(|s| s.node_name.clone());
        nominated.or(bound)
    })
    .await;
    assert_eq!(nominated, "only");
    eventually("victim deleted", WAIT, || async {
        pods.get_opt("victim")
            .await
            .ok()
            .and_then(|p| p.is_none().then_some(()))
    })
    .await;
    assert_eq!(wait_bound(c, "vip").await, "only");
    let preempted = eventually("Preempted event", WAIT, || async {
        let n = event_notes(c, "victim", "Preempted").await;
        (!n.is_empty()).then_some(n)
    })
    .await;
    assert!(preempted[0].starts_with("Preempted by pod "), "{preempted:?}");
    assert!(preempted[0].ends_with(" on node only"), "{preempted:?}");
}
