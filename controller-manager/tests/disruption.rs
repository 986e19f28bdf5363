//! Disruption controller against a real in-process apiserver: PodDisruptionBudget status counts
//! healthy pods against minAvailable / maxUnavailable (the latter scaled by the owning
//! ReplicaSet's replicas).

mod common;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, PostParams};
use rudder_testkit::eventually;
use serde_json::json;

fn summary(pdb: &PodDisruptionBudget) -> Option<(i32, i32, i32, i32, String, String)> {
    let s = pdb.status.as_ref()?;
    let c = s
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "DisruptionAllowed")?;
    Some((
        s.current_healthy,
        s.desired_healthy,
        s.expected_pods,
        s.disruptions_allowed,
        c.status.clone(),
        c.reason.clone(),
    ))
}

#[tokio::test]
async fn pdb_status_counts_healthy_pods() {
    let cluster = common::start(&["disruption"]).await;
    let client = cluster.client.clone();
    let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), "default");

    // A ReplicaSet of 4 (no replicaset controller runs: the test makes its pods).
    let rs: ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}
    }))
    .expect("rs");
    let rs = rss.create(&PostParams::default(), &rs).await.expect("create rs");
    for (i, ready) in [true, true, true, false].into_iter().enumerate() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": format!("web-{i}"), "labels": {"app": "web"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
                    "uid": rs.metadata.uid, "controller": true}]},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}
        }))
        .expect("pod");
        let pod = pods
            .create(&PostParams::default(), &pod)
            .await
            .expect("create pod");
        if ready {
            common::mark_ready(&client, &pod).await;
        }
    }

    let min: PodDisruptionBudget = serde_json::from_value(json!({
        "metadata": {"name": "min"},
        "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}
    }))
    .expect("pdb");
    pdbs.create(&PostParams::default(), &min)
        .await
        .expect("create pdb");
    let max: PodDisruptionBudget = serde_json::from_value(json!({
        "metadata": {"name": "max"},
        "spec": {"maxUnavailable": "50%", "selector": {"matchLabels": {"app": "web"}}}
    }))
    .expect("pdb");
    pdbs.create(&PostParams::default(), &max)
        .await
        .expect("create pdb");

    // minAvailable 2 of 4 pods, 3 healthy: one disruption allowed.
    let want_min = (3, 2, 4, 1, "True".to_string(), "SufficientPods".to_string());
    let got = eventually("minAvailable status", common::WAIT, || {
        let pdbs = pdbs.clone();
        let want = want_min.clone();
        async move {
            let p = pdbs.get("min").await.ok()?;
            (summary(&p) == Some(want)).then_some(p)
        }
    })
    .await;
    assert_eq!(
        got.status.as_ref().and_then(|s| s.observed_generation),
        got.metadata.generation
    );
    // maxUnavailable 50% of the ReplicaSet's 4: 2 must stay healthy, 3 are: one allowed.
    let want_max = (3, 2, 4, 1, "True".to_string(), "SufficientPods".to_string());
    eventually("maxUnavailable status", common::WAIT, || {
        let pdbs = pdbs.clone();
        let want = want_max.clone();
        async move { (summary(&pdbs.get("max").await.ok()?) == Some(want)).then_some(()) }
    })
    .await;

    // Two pods stop being ready: no disruption allowed any more.
    for name in ["web-0", "web-1"] {
        let patch = json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}});
        pods.patch_status(name, &Default::default(), &kube::api::Patch::Merge(&patch))
            .await
            .expect("patch pod");
    }
    let want = (1, 2, 4, 0, "False".to_string(), "InsufficientPods".to_string());
    eventually("insufficient pods", common::WAIT, || {
        let pdbs = pdbs.clone();
        let want = want.clone();
        async move { (summary(&pdbs.get("min").await.ok()?) == Some(want)).then_some(()) }
    })
    .await;
}
