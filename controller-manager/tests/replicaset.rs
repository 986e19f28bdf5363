//! ReplicaSet controller against a real in-process apiserver.

mod common;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams, PostParams};
use rudder_testkit::eventually;
use serde_json::json;

fn replicaset(name: &str, replicas: i32) -> ReplicaSet {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}
            }
        }
    }))
    .expect("replicaset")
}

#[tokio::test]
async fn scales_up_down_adopts_and_reports_status() {
    let cluster = common::start(&["replicaset"]).await;
    let client = cluster.client.clone();
    let rs_api: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let pods_api: Api<Pod> = Api::namespaced(client.clone(), "default");

    // An orphan that matches is adopted and counts toward replicas.
    let orphan: Pod = serde_json::from_value(json!({
        "metadata": {"name": "orphan", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}
    }))
    .expect("pod");
    pods_api
        .create(&PostParams::default(), &orphan)
        .await
        .expect("create orphan");

    let rs = rs_api
        .create(&PostParams::default(), &replicaset("web", 3))
        .await
        .expect("create rs");
    let uid = rs.metadata.uid.clone().expect("uid");
    eventually("3 pods owned by the ReplicaSet", common::WAIT, || async {
        let pods = common::pods(&client, "default", "app=web").await;
        let owned = pods
            .iter()
            .filter(|p| {
                p.metadata
                    .owner_references
                    .as_ref()
                    .is_some_and(|r| r.iter().any(|r| r.uid == uid && r.controller == Some(true)))
            })
            .count();
        (pods.len() == 3 && owned == 3).then_some(())
    })
    .await;
    assert!(
        pods_api.get_opt("orphan").await.expect("get").is_some(),
        "the orphan was adopted, not replaced"
    );
    let generated = common::pods(&client, "default", "app=web").await;
    assert!(
        generated
            .iter()
            .filter(|p| p.metadata.name.as_deref() != Some("orphan"))
            .all(|p| p.metadata.name.as_deref().is_some_and(|n| n.starts_with("web-")))
    );

    common::mark_all_ready(&client, "default", "app=web").await;
    eventually("status counts 3 ready", common::WAIT, || async {
        let rs = rs_api.get("web").await.ok()?;
        let s = rs.status?;
        (s.replicas == 3
            && s.ready_replicas == Some(3)
            && s.available_replicas == Some(3)
            && s.fully_labeled_replicas == Some(3)
            && s.observed_generation == rs.metadata.generation)
            .then_some(())
    })
    .await;

    // Scale down to 1: the not-ready pod goes first.
    let extra: Pod = serde_json::from_value(json!({
        "metadata": {"name": "late", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}
    }))
    .expect("pod");
    pods_api
        .create(&PostParams::default(), &extra)
        .await
        .expect("create");
    eventually("the surplus unready pod is deleted", common::WAIT, || async {
        let pods = common::pods(&client, "default", "app=web").await;
        let live: Vec<_> = pods
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect();
        (live.len() == 3 && live.iter().all(|p| p.metadata.name.as_deref() != Some("late"))).then_some(())
    })
    .await;

    rs_api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 1}})),
        )
        .await
        .expect("scale");
    eventually("1 pod left", common::WAIT, || async {
        let pods = common::pods(&client, "default", "app=web").await;
        let s = rs_api.get("web").await.ok()?.status?;
        (pods.len() == 1 && s.replicas == 1).then_some(())
    })
    .await;

    // A pod relabelled out of the selector is released (ownerRef removed) and replaced.
    let remaining = common::pods(&client, "default", "app=web").await;
    let name = remaining[0].metadata.name.clone().expect("name");
    pods_api
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"app": "other"}}})),
        )
        .await
        .expect("relabel");
    eventually("released and replaced", common::WAIT, || async {
        let released = pods_api.get(&name).await.ok()?;
        let replaced = common::pods(&client, "default", "app=web").await;
        (released.metadata.owner_references.is_none() && replaced.len() == 1).then_some(())
    })
    .await;
}
