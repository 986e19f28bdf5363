//! StatefulSet controller against a real in-process apiserver. No kubelet runs: the test
//! marks pods Running and Ready itself.

mod common;

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use rudder_testkit::eventually;
use serde_json::json;

fn statefulset(name: &str, replicas: i32) -> StatefulSet {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}
            },
            "volumeClaimTemplates": [{
                "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
            }]
        }
    }))
    .expect("statefulset")
}

fn names(pods: &[Pod]) -> Vec<String> {
    let mut n: Vec<String> = pods.iter().filter_map(|p| p.metadata.name.clone()).collect();
    n.sort();
    n
}

fn revision(pod: &Pod) -> String {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("controller-revision-hash"))
        .cloned()
        .unwrap_or_default()
}

async fn live_pods(client: &kube::Client) -> Vec<Pod> {
    common::pods(client, "default", "app=web")
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
async fn scales_up_in_order_and_updates_only_ordinals_at_or_above_the_partition() {
    let cluster = common::start(&["statefulset"]).await;
    let client = cluster.client.clone();
    let api: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &statefulset("web", 3))
        .await
        .expect("create statefulset");

    // One pod at a time, each only after the previous one is Running and Ready.
    for i in 0..3 {
        let want: Vec<String> = (0..=i).map(|o| format!("web-{o}")).collect();
        let pods = eventually(&format!("pods up to web-{i}"), common::WAIT, || async {
            let pods = live_pods(&client).await;
            (names(&pods) == want).then_some(pods)
        })
        .await;
        // Not ready yet: the next ordinal must not appear.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            names(&live_pods(&client).await),
            want,
            "web-{} appeared before web-{i} was ready",
            i + 1
        );
        let newest = pods
            .iter()
            .find(|p| p.metadata.name.as_deref() == Some(format!("web-{i}").as_str()))
            .expect("newest");
        let labels = newest.metadata.labels.clone().unwrap_or_default();
        assert_eq!(
            labels.get("statefulset.kubernetes.io/pod-name"),
            Some(&format!("web-{i}"))
        );
        assert_eq!(labels.get("apps.kubernetes.io/pod-index"), Some(&i.to_string()));
        let spec = newest.spec.clone().expect("spec");
        assert_eq!(spec.hostname, Some(format!("web-{i}")));
        assert_eq!(spec.subdomain.as_deref(), Some("web"));
        common::mark_ready(&client, newest).await;
    }
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    for i in 0..3 {
        claims
            .get(&format!("data-web-{i}"))
            .await
            .expect("claim per ordinal");
    }
    eventually("creation events", common::WAIT, || async {
        let events = events_about(&client, "web").await;
        let pod = events
            .iter()
            .any(|(r, m)| r == "SuccessfulCreate" && m == "create Pod web-0 in StatefulSet web successful");
        let claim = events.iter().any(|(r, m)| {
            r == "SuccessfulCreate" && m == "create Claim data-web-0 Pod web-0 in StatefulSet web success"
        });
        (pod && claim).then_some(())
    })
    .await;
    let settled = eventually("status ready 3", common::WAIT, || async {
        let st = api.get("web").await.ok()?.status?;
        (st.ready_replicas == Some(3)
            && st.current_replicas == Some(3)
            && st.current_revision == st.update_revision)
            .then_some(st)
    })
    .await;
    let old_rev = settled.current_revision.clone().expect("currentRevision");

    // A partitioned update: only web-2 and web-1 move to the new template, highest first.
    let patch = json!({"spec": {
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}},
        "template": {"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}
    }});
    api.patch("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("update template");
    let new_rev = eventually("update revision", common::WAIT, || async {
        let st = api.get("web").await.ok()?.status?;
        st.update_revision.filter(|r| *r != old_rev)
    })
    .await;
    for i in [2, 1] {
        let pod = eventually(
            &format!("web-{i} at the update revision"),
            common::WAIT,
            || async {
                live_pods(&client).await.into_iter().find(|p| {
                    p.metadata.name.as_deref() == Some(format!("web-{i}").as_str()) && revision(p) == new_rev
                })
            },
        )
        .await;
        let image = pod.spec.as_ref().and_then(|s| s.containers[0].image.clone());
        assert_eq!(image.as_deref(), Some("nginx:2"));
        common::mark_ready(&client, &pod).await;
    }
    let st = eventually("two updated replicas", common::WAIT, || async {
        let st = api.get("web").await.ok()?.status?;
        (st.updated_replicas == Some(2) && st.ready_replicas == Some(3)).then_some(st)
    })
    .await;
    assert_eq!(
        st.current_revision.as_deref(),
        Some(old_rev.as_str()),
        "partition keeps the rollout incomplete"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pods = live_pods(&client).await;
    let web0 = pods
        .iter()
        .find(|p| p.metadata.name.as_deref() == Some("web-0"))
        .expect("web-0");
    assert_eq!(revision(web0), old_rev, "web-0 is below the partition");
    assert_eq!(
        web0.spec
            .as_ref()
            .and_then(|s| s.containers[0].image.clone())
            .as_deref(),
        Some("nginx:1")
    );

    // Scaling down removes the highest ordinal and keeps its claim.
    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"replicas": 2}})),
    )
    .await
    .expect("scale down");
    eventually("web-2 removed", common::WAIT, || async {
        (names(&live_pods(&client).await) == ["web-0", "web-1"]).then_some(())
    })
    .await;
    claims.get("data-web-2").await.expect("claims are retained");
}

#[tokio::test]
async fn parallel_creates_every_pod_at_once_and_claims_follow_the_retention_policy() {
    let cluster = common::start(&["statefulset"]).await;
    let client = cluster.client.clone();
    let api: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let mut set = statefulset("web", 3);
    if let Some(spec) = set.spec.as_mut() {
        spec.pod_management_policy = Some("Parallel".into());
        spec.persistent_volume_claim_retention_policy = Some(
            k8s_openapi::api::apps::v1::StatefulSetPersistentVolumeClaimRetentionPolicy {
                when_deleted: Some("Delete".into()),
                when_scaled: Some("Retain".into()),
            },
        );
    }
    let created = api
        .create(&PostParams::default(), &set)
        .await
        .expect("create statefulset");
    let uid = created.metadata.uid.clone().expect("uid");
    // No pod is ready, yet all three exist: Parallel does not wait.
    eventually("three pods at once", common::WAIT, || async {
        (names(&live_pods(&client).await) == ["web-0", "web-1", "web-2"]).then_some(())
    })
    .await;
    // whenDeleted: Delete makes the set an owner of each claim, so deleting the set removes them.
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    for i in 0..3 {
        let claim = eventually(&format!("claim data-web-{i}"), common::WAIT, || async {
            claims.get(&format!("data-web-{i}")).await.ok()
        })
        .await;
        let owners = claim.metadata.owner_references.unwrap_or_default();
        assert!(
            owners.iter().any(|o| o.uid == uid && o.kind == "StatefulSet"),
            "claim {i} owned by the set"
        );
    }
}
