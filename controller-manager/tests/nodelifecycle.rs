//! Node lifecycle controller against a real in-process apiserver: a node whose Lease stops
//! being renewed becomes Ready=Unknown, gets the unreachable taints, and its pods are marked
//! not ready and evicted per their tolerations; a node that keeps renewing is left alone.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use rudder_component::shutdown::Shutdown;
use rudder_controller_manager::options::Config;
use rudder_testkit::{TestApiServer, eventually};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(20);

fn now() -> String {
    k8s_openapi::jiff::Timestamp::now().to_string()
}

async fn create_node(client: &kube::Client, name: &str) {
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({"metadata": {"name": name}})).expect("node");
    nodes
        .create(&PostParams::default(), &node)
        .await
        .expect("create node");
    let status = json!({"status": {"conditions": [
        {"type": "Ready", "status": "True", "reason": "KubeletReady", "lastHeartbeatTime": now(), "lastTransitionTime": now()},
        {"type": "MemoryPressure", "status": "False", "lastHeartbeatTime": now(), "lastTransitionTime": now()},
    ]}});
    nodes
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("node status");
}

async fn renew_lease(client: &kube::Client, name: &str) {
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let lease = json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": name},
        "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": k8s_openapi::jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()},
    });
    leases
        .patch(
            name,
            &PatchParams::apply("test-kubelet").force(),
            &Patch::Apply(&lease),
        )
        .await
        .expect("renew lease");
}

async fn create_pod(client: &kube::Client, name: &str, node: &str, toleration_seconds: Option<Option<i64>>) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let tolerations = match toleration_seconds {
        None => json!([]),
        Some(seconds) => json!([{
            "key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
            "tolerationSeconds": seconds,
        }]),
    };
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"nodeName": node, "tolerations": tolerations, "containers": [{"name": "c", "image": "busybox"}]}
    }))
    .expect("pod");
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("create pod");
    let status = json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now()}]}});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("pod status");
}

fn condition(node: &Node, type_: &str) -> Option<(String, Option<String>)> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone()))
}

fn gone_or_deleting(pod: Option<Pod>) -> bool {
    pod.is_none_or(|p| p.metadata.deletion_timestamp.is_some())
}

#[tokio::test]
async fn node_with_stale_lease_is_tainted_and_its_pods_evicted() {
    let server = TestApiServer::start().await;
    let client = server.client.clone();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "kube-node-lease"}})).expect("ns");
    let _ = namespaces.create(&PostParams::default(), &ns).await;

    for node in ["alive", "dead"] {
        create_node(&client, node).await;
        renew_lease(&client, node).await;
    }
    create_pod(&client, "doomed", "dead", None).await;
    create_pod(&client, "patient", "dead", Some(Some(2))).await;
    create_pod(&client, "forever", "dead", Some(None)).await;
    create_pod(&client, "safe", "alive", None).await;

    let mut config = Config::for_tests(&["nodelifecycle"]);
    config.kubeconfig = Some(server.kubeconfig.clone());
    config.controllers_config.node_monitor_grace_period = Duration::from_secs(2);
    config.controllers_config.node_monitor_period = Duration::from_millis(200);
    let (trigger, shutdown) = Shutdown::new();
    tokio::spawn(rudder_controller_manager::run(config, shutdown));
    // The kubelet of "alive" keeps renewing; "dead"'s never does again.
    let renewer = {
        let client = client.clone();
        tokio::spawn(async move {
            loop {
                renew_lease(&client, "alive").await;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        })
    };

    let nodes: Api<Node> = Api::all(client.clone());
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let dead = eventually("dead node Unknown and tainted unreachable", WAIT, || {
        let nodes = nodes.clone();
        async move {
            let n = nodes.get("dead").await.ok()?;
            let taints = n.spec.as_ref()?.taints.clone()?;
            let keys: Vec<(String, String)> =
                taints.iter().map(|t| (t.key.clone(), t.effect.clone())).collect();
            let unreachable =
                |effect: &str| keys.contains(&("node.kubernetes.io/unreachable".into(), effect.into()));
            (condition(&n, "Ready").is_some_and(|(s, _)| s == "Unknown")
                && unreachable("NoSchedule")
                && unreachable("NoExecute"))
            .then_some(n)
        }
    })
    .await;
    assert_eq!(
        condition(&dead, "Ready"),
        Some(("Unknown".into(), Some("NodeStatusUnknown".into())))
    );
    assert_eq!(
        condition(&dead, "MemoryPressure"),
        Some(("Unknown".into(), Some("NodeStatusUnknown".into())))
    );
    let ne = dead
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .and_then(|t| t.iter().find(|t| t.effect == "NoExecute").cloned())
        .expect("NoExecute taint");
    assert!(ne.time_added.is_some(), "NoExecute taints carry timeAdded");

    eventually("untolerating pod evicted at once", WAIT, || {
        let pods = pods.clone();
        async move { gone_or_deleting(pods.get_opt("doomed").await.ok()?).then_some(()) }
    })
    .await;
    eventually("pod tolerating 2s evicted after them", WAIT, || {
        let pods = pods.clone();
        async move { gone_or_deleting(pods.get_opt("patient").await.ok()?).then_some(()) }
    })
    .await;
    let forever = pods.get("forever").await.expect("pod tolerating forever stays");
    assert!(forever.metadata.deletion_timestamp.is_none());
    let ready = forever
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.status.clone());
    assert_eq!(
        ready.as_deref(),
        Some("False"),
        "pods on an unreachable node are marked not ready"
    );

    let alive = nodes.get("alive").await.expect("alive node");
    assert_eq!(condition(&alive, "Ready").map(|c| c.0).as_deref(), Some("True"));
    assert!(
        alive
            .spec
            .as_ref()
            .and_then(|s| s.taints.as_ref())
            .is_none_or(|t| t.is_empty())
    );
    let safe = pods.get("safe").await.expect("pod on the healthy node");
    assert!(safe.metadata.deletion_timestamp.is_none());

    // The dead node's kubelet comes back: Ready again, taints removed.
    renew_lease(&client, "dead").await;
    let status = json!({"status": {"conditions": [
        {"type": "Ready", "status": "True", "reason": "KubeletReady", "lastHeartbeatTime": now(), "lastTransitionTime": now()},
    ]}});
    nodes
        .patch_status("dead", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("node status");
    eventually("recovered node untainted", WAIT, || {
        let nodes = nodes.clone();
        async move {
            let n = nodes.get("dead").await.ok()?;
            n.spec
                .as_ref()?
                .taints
                .as_ref()
                .is_none_or(|t| t.is_empty())
                .then_some(())
        }
    })
    .await;
    renewer.abort();
    trigger.trigger();
}
