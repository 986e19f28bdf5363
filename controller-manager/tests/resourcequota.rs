//! Resource quota controller against a real in-process apiserver: status.used follows the pods,
//! their requests, and the other counted objects of the namespace.

mod common;

use k8s_openapi::api::core::v1::{ConfigMap, Pod, ResourceQuota};
use kube::api::{Api, DeleteParams, PostParams};
use rudder_testkit::eventually;
use serde_json::json;

fn used(q: &ResourceQuota) -> Vec<(String, String)> {
    q.status
        .as_ref()
        .and_then(|s| s.used.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect()
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn pod(name: &str, cpu: &str, memory: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox",
            "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu, "memory": memory}}}]}
    }))
    .expect("pod")
}

#[tokio::test]
async fn quota_used_counts_pods_and_requests() {
    let cluster = common::start(&["resourcequota"]).await;
    let client = cluster.client.clone();
    common::namespace(&client, "team").await;
    let quotas: Api<ResourceQuota> = Api::namespaced(client.clone(), "team");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "team");
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "team");

    let quota: ResourceQuota = serde_json::from_value(json!({
        "metadata": {"name": "compute"},
        "spec": {"hard": {"pods": "10", "requests.cpu": "4", "requests.memory": "4Gi", "count/configmaps": "5"}}
    }))
    .expect("quota");
    quotas
        .create(&PostParams::default(), &quota)
        .await
        .expect("create quota");
    let expected_cms = {
        // The namespace may hold a kube-root-ca.crt ConfigMap published by another controller.
        configmaps
            .list(&Default::default())
            .await
            .expect("list")
            .items
            .len()
    };
    let start_cms = expected_cms.to_string();

    pods.create(&PostParams::default(), &pod("a", "250m", "64Mi"))
        .await
        .expect("pod a");
    pods.create(&PostParams::default(), &pod("b", "500m", "128Mi"))
        .await
        .expect("pod b");
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "settings"}})).expect("cm");
    configmaps
        .create(&PostParams::default(), &cm)
        .await
        .expect("configmap");
    let cms = (expected_cms + 1).to_string();
    let want = pairs(&[
        ("count/configmaps", cms.as_str()),
        ("pods", "2"),
        ("requests.cpu", "750m"),
        ("requests.memory", "192Mi"),
    ]);
    let q = eventually("quota counts two pods", common::WAIT, || {
        let (quotas, want) = (quotas.clone(), want.clone());
        async move {
            let q = quotas.get("compute").await.ok()?;
            (used(&q) == want).then_some(q)
        }
    })
    .await;
    let hard = q.status.as_ref().and_then(|s| s.hard.clone()).unwrap_or_default();
    assert_eq!(hard.get("pods").map(|q| q.0.as_str()), Some("10"));

    // Deleted objects no longer count.
    pods.delete("a", &DeleteParams::default().grace_period(0))
        .await
        .expect("delete a");
    configmaps
        .delete("settings", &DeleteParams::default())
        .await
        .expect("delete cm");
    let want = pairs(&[
        ("count/configmaps", start_cms.as_str()),
        ("pods", "1"),
        ("requests.cpu", "500m"),
        ("requests.memory", "128Mi"),
    ]);
    eventually("quota follows deletions", common::WAIT, || {
        let (quotas, want) = (quotas.clone(), want.clone());
        async move { (used(&quotas.get("compute").await.ok()?) == want).then_some(()) }
    })
    .await;
}
