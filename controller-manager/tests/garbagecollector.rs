//! Cascading deletion (background, foreground, orphan) through the garbage collector, with the
//! Deployment and ReplicaSet controllers making the dependents.

mod common;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ListParams, PostParams, PropagationPolicy};
use rudder_testkit::eventually;
use serde_json::json;

const CONTROLLERS: &[&str] = &["garbagecollector", "deployment", "replicaset"];

async fn deployment_with_pods(client: &kube::Client, name: &str) -> Api<Deployment> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}
            }
        }
    }))
    .expect("deployment");
    api.create(&PostParams::default(), &d)
        .await
        .expect("create deployment");
    let selector = format!("app={name}");
    eventually("2 pods", common::WAIT, || async {
        (common::pods(client, "default", &selector).await.len() == 2).then_some(())
    })
    .await;
    api
}

async fn replicasets(client: &kube::Client, name: &str) -> Vec<ReplicaSet> {
    let api: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    api.list(&ListParams::default().labels(&format!("app={name}")))
        .await
        .expect("list")
        .items
}

fn delete_with(policy: PropagationPolicy) -> DeleteParams {
    DeleteParams {
        propagation_policy: Some(policy),
        ..Default::default()
    }
}

#[tokio::test]
async fn background_deletion_removes_replicasets_and_pods() {
    let cluster = common::start(CONTROLLERS).await;
    let client = cluster.client.clone();
    let api = deployment_with_pods(&client, "bg").await;
    api.delete("bg", &delete_with(PropagationPolicy::Background))
        .await
        .expect("delete");
    eventually("replicasets and pods collected", common::WAIT, || async {
        let rs = replicasets(&client, "bg").await;
        let pods = common::pods(&client, "default", "app=bg").await;
        (rs.is_empty() && pods.is_empty()).then_some(())
    })
    .await;
}

#[tokio::test]
async fn foreground_deletion_removes_dependents_before_the_owner() {
    let cluster = common::start(CONTROLLERS).await;
    let client = cluster.client.clone();
    let api = deployment_with_pods(&client, "fg").await;
    api.delete("fg", &delete_with(PropagationPolicy::Foreground))
        .await
        .expect("delete");
    // The owner is kept (deletionTimestamp + foregroundDeletion) until its dependents are gone;
    // so once it has disappeared, nothing of it may be left.
    eventually("deployment gone", common::WAIT, || async {
        api.get_opt("fg").await.expect("get").is_none().then_some(())
    })
    .await;
    assert!(
        replicasets(&client, "fg").await.is_empty(),
        "ReplicaSet outlived its foreground-deleted owner"
    );
    assert!(
        common::pods(&client, "default", "app=fg").await.is_empty(),
        "pods outlived their owner"
    );
}

#[tokio::test]
async fn orphan_deletion_keeps_dependents_without_the_reference() {
    let cluster = common::start(CONTROLLERS).await;
    let client = cluster.client.clone();
    let api = deployment_with_pods(&client, "orph").await;
    let uid = api.get("orph").await.expect("get").metadata.uid.expect("uid");
    api.delete("orph", &delete_with(PropagationPolicy::Orphan))
        .await
        .expect("delete");
    eventually("deployment gone", common::WAIT, || async {
        api.get_opt("orph").await.expect("get").is_none().then_some(())
    })
    .await;
    let rs = replicasets(&client, "orph").await;
    assert_eq!(rs.len(), 1, "the ReplicaSet is orphaned, not deleted");
    let refs = rs[0].metadata.owner_references.clone().unwrap_or_default();
    assert!(
        refs.iter().all(|r| r.uid != uid),
        "reference to the deleted owner removed: {refs:?}"
    );
    assert_eq!(common::pods(&client, "default", "app=orph").await.len(), 2);
}

#[tokio::test]
async fn any_resource_can_own_any_other() {
    let cluster = common::start(&["garbagecollector"]).await;
    let client = cluster.client.clone();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let owner = cms
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "owner"}})).expect("cm"),
        )
        .await
        .expect("owner");
    let dependent: ConfigMap = serde_json::from_value(json!({"metadata": {
        "name": "dependent",
        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner",
            "uid": owner.metadata.uid}]
    }}))
    .expect("cm");
    cms.create(&PostParams::default(), &dependent)
        .await
        .expect("dependent");
    // A dependent of an owner that never existed is collected too.
    let dangling: ConfigMap = serde_json::from_value(json!({"metadata": {
        "name": "dangling",
        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost", "uid": "no-such-uid"}]
    }}))
    .expect("cm");
    cms.create(&PostParams::default(), &dangling)
        .await
        .expect("dangling");
    eventually("dangling dependent collected", common::WAIT, || async {
        cms.get_opt("dangling")
            .await
            .expect("get")
            .is_none()
            .then_some(())
    })
    .await;
    assert!(
        cms.get_opt("dependent").await.expect("get").is_some(),
        "a dependent of a live owner stays"
    );
    cms.delete("owner", &DeleteParams::default())
        .await
        .expect("delete owner");
    eventually("dependent collected", common::WAIT, || async {
        cms.get_opt("dependent")
            .await
            .expect("get")
            .is_none()
            .then_some(())
    })
    .await;
}
