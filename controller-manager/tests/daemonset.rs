//! DaemonSet controller against a real in-process apiserver, with Node objects created
//! directly (no kubelet, no scheduler: pods stay pinned by node affinity, and the test marks
//! them Ready).

mod common;

use std::time::Duration;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use rudder_testkit::eventually;
use serde_json::json;

async fn node(client: &kube::Client, name: &str, taint: Option<(&str, &str)>) {
    let api: Api<Node> = Api::all(client.clone());
    let taints: Vec<serde_json::Value> = taint
        .map(|(key, effect)| json!({"key": key, "value": "x", "effect": effect}))
        .into_iter()
        .collect();
    let n: Node = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": {"taints": taints}
    }))
    .expect("node");
    api.create(&PostParams::default(), &n).await.expect("create node");
}

fn daemonset() -> DaemonSet {
    serde_json::from_value(json!({
        "metadata": {"name": "agent"},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {"containers": [{"name": "agent", "image": "agent:1"}]}
            }
        }
    }))
    .expect("daemonset")
}

/// The node a pod is pinned to through `metadata.name In [node]`.
fn pinned_node(pod: &Pod) -> Option<String> {
    let terms = &pod
        .spec
        .as_ref()?
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    let field = terms.first()?.match_fields.as_ref()?.first()?;
    (field.key == "metadata.name" && field.operator == "In")
        .then(|| field.values.clone()?.first().cloned())?
}

fn image(pod: &Pod) -> Option<String> {
    pod.spec.as_ref()?.containers.first()?.image.clone()
}

async fn live(client: &kube::Client) -> Vec<Pod> {
    common::pods(client, "default", "app=agent")
        .await
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect()
}

/// Reasons and messages of the core/v1 Events about `name` in `default`.
async fn events_about(client: &kube::Client, name: &str) -> Vec<(String, String)> {
    let api: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), "default");
    let list = api
        .list(&Default::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    list.into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some(name))
        .map(|e| (e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
        .collect()
}

#[tokio::test]
async fn one_pod_per_eligible_node_and_rolling_update() {
    let cluster = common::start(&["daemonset"]).await;
    let client = cluster.client.clone();
    node(&client, "node-a", None).await;
    node(&client, "node-b", None).await;
    node(&client, "node-c", Some(("dedicated", "NoSchedule"))).await;
    let api: Api<DaemonSet> = Api::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &daemonset())
        .await
        .expect("create daemonset");

    let pods = eventually("a pod on each untainted node", common::WAIT, || async {
        let pods = live(&client).await;
        let mut nodes: Vec<String> = pods.iter().filter_map(pinned_node).collect();
        nodes.sort();
        (nodes == ["node-a", "node-b"]).then_some(pods)
    })
    .await;
    // Upstream's daemon tolerations ride along; the tainted node gets nothing.
    for p in &pods {
        let tolerations = p
            .spec
            .as_ref()
            .and_then(|s| s.tolerations.clone())
            .unwrap_or_default();
        assert!(
            tolerations
                .iter()
                .any(|t| t.key.as_deref() == Some("node.kubernetes.io/not-ready"))
        );
        let labels = p.metadata.labels.clone().unwrap_or_default();
        assert!(labels.contains_key("controller-revision-hash"));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(live(&client).await.len(), 2, "no pod for the tainted node");
    for p in &pods {
        common::mark_ready(&client, p).await;
    }
    eventually("status: 2 desired, 2 ready", common::WAIT, || async {
        let st = api.get("agent").await.ok()?.status?;
        (st.desired_number_scheduled == 2
            && st.number_ready == 2
            && st.current_number_scheduled == 2
            && st.updated_number_scheduled == Some(2))
        .then_some(())
    })
    .await;

    eventually("SuccessfulCreate events", common::WAIT, || async {
        let events = events_about(&client, "agent").await;
        (events
            .iter()
            .filter(|(r, m)| r == "SuccessfulCreate" && m.starts_with("Created pod: agent-"))
            .count()
            >= 2)
            .then_some(())
    })
    .await;

    // A new node gets its pod.
    node(&client, "node-d", None).await;
    let d = eventually("a pod for node-d", common::WAIT, || async {
        live(&client)
            .await
            .into_iter()
            .find(|p| pinned_node(p).as_deref() == Some("node-d"))
    })
    .await;
    common::mark_ready(&client, &d).await;

    // Rolling update with maxUnavailable 1: one node at a time, waiting for readiness.
    let patch =
        json!({"spec": {"template": {"spec": {"containers": [{"name": "agent", "image": "agent:2"}]}}}});
    api.patch("agent", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("update template");
    for round in 1..=3 {
        let fresh = eventually(&format!("updated pod {round}"), common::WAIT, || async {
            let pods = live(&client).await;
            let new: Vec<Pod> = pods
                .iter()
                .filter(|p| image(p).as_deref() == Some("agent:2"))
                .cloned()
                .collect();
            let unready: Vec<Pod> = new
                .iter()
                .filter(|p| {
                    !p.status
                        .as_ref()
                        .and_then(|s| s.conditions.as_ref())
                        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
                })
                .cloned()
                .collect();
            (new.len() == round && unready.len() == 1).then(|| unready[0].clone())
        })
        .await;
        // While the new pod is not ready, no other old pod goes.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let pods = live(&client).await;
        let old = pods
            .iter()
            .filter(|p| image(p).as_deref() == Some("agent:1"))
            .count();
        assert_eq!(old, 3 - round, "maxUnavailable 1 holds in round {round}");
        common::mark_ready(&client, &fresh).await;
    }
    eventually("all 3 updated and ready", common::WAIT, || async {
        let st = api.get("agent").await.ok()?.status?;
        (st.updated_number_scheduled == Some(3) && st.number_ready == 3 && st.desired_number_scheduled == 3)
            .then_some(())
    })
    .await;
}
