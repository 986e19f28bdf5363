//! Deployment controller (with the ReplicaSet controller) against an in-process apiserver.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use rudder_testkit::eventually;
use serde_json::json;

const REVISION: &str = "deployment.kubernetes.io/revision";

fn deployment(name: &str, replicas: i32, image: &str, strategy: serde_json::Value) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": strategy,
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": image}]}
            }
        }
    }))
    .expect("deployment")
}

async fn set_image(api: &Api<Deployment>, name: &str, image: &str) {
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}});
    api.patch(name, &PatchParams::default(), &Patch::Strategic(patch))
        .await
        .expect("set image");
}

/// Complete as `kubectl rollout status` judges it.
async fn rolled_out(api: &Api<Deployment>, name: &str) -> Option<Deployment> {
    let d = api.get(name).await.ok()?;
    let s = d.status.clone()?;
    let want = d.spec.as_ref()?.replicas?;
    let done = s.observed_generation >= d.metadata.generation
        && s.updated_replicas.unwrap_or(0) == want
        && s.replicas.unwrap_or(0) == want
        && s.available_replicas.unwrap_or(0) == want;
    done.then_some(d)
}

fn images(pods: &[k8s_openapi::api::core::v1::Pod]) -> Vec<String> {
    pods.iter()
        .filter_map(|p| p.spec.as_ref()?.containers.first()?.image.clone())
        .collect()
}

#[tokio::test]
async fn scales_from_zero_to_three_to_one() {
    let cluster = common::start(&["deployment", "replicaset"]).await;
    let client = cluster.client.clone();
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let _kubelet = common::fake_kubelet(client.clone(), "default");

    api.create(
        &PostParams::default(),
        &deployment("web", 0, "nginx:1", json!({})),
    )
    .await
    .expect("create");
    let d = eventually("0-replica rollout complete", common::WAIT, || {
        rolled_out(&api, "web")
    })
    .await;
    assert_eq!(
        d.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(REVISION))
            .map(String::as_str),
        Some("1")
    );
    let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let list = rss
        .list(&ListParams::default().labels("app=web"))
        .await
        .expect("list");
    assert_eq!(list.items.len(), 1);
    let rs = &list.items[0];
    let hash = rs
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("pod-template-hash"))
        .cloned()
        .expect("hash label");
    assert_eq!(rs.metadata.name.as_deref(), Some(format!("web-{hash}").as_str()));

    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 3}})),
    )
    .await
    .expect("scale to 3");
    let d = eventually("3 replicas available", common::WAIT, || async {
        let d = rolled_out(&api, "web").await?;
        (d.status.as_ref()?.available_replicas == Some(3)).then_some(d)
    })
    .await;
    let pods = common::pods(&client, "default", "app=web").await;
    assert_eq!(pods.len(), 3);
    assert!(pods.iter().all(|p| {
        p.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("pod-template-hash"))
            == Some(&hash)
    }));
    let conditions = d.status.and_then(|s| s.conditions).unwrap_or_default();
    let reason = |t: &str| {
        conditions
            .iter()
            .find(|c| c.type_ == t)
            .and_then(|c| c.reason.clone())
    };
    assert_eq!(reason("Available").as_deref(), Some("MinimumReplicasAvailable"));
    assert_eq!(reason("Progressing").as_deref(), Some("NewReplicaSetAvailable"));

    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 1}})),
    )
    .await
    .expect("scale to 1");
    eventually("1 replica", common::WAIT, || async {
        let d = rolled_out(&api, "web").await?;
        let pods = common::pods(&client, "default", "app=web").await;
        (d.status.as_ref()?.replicas == Some(1) && pods.len() == 1).then_some(())
    })
    .await;
}

#[tokio::test]
async fn rolling_update_keeps_max_unavailable_and_rolls_back() {
    let cluster = common::start(&["deployment", "replicaset"]).await;
    let client = cluster.client.clone();
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let _kubelet = common::fake_kubelet(client.clone(), "default");
    let strategy = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}});
    api.create(&PostParams::default(), &deployment("app", 4, "nginx:1", strategy))
        .await
        .expect("create");
    eventually("first rollout", common::WAIT, || rolled_out(&api, "app")).await;

    // Watch readiness throughout the rollout: never fewer than replicas - maxUnavailable = 3.
    let min_ready = Arc::new(AtomicUsize::new(usize::MAX));
    let stop = Arc::new(AtomicBool::new(false));
    let observer = {
        let (client, min_ready, stop) = (client.clone(), min_ready.clone(), stop.clone());
        tokio::spawn(async move {
            let mut observations = 0;
            while !stop.load(Ordering::SeqCst) {
                let pods = common::pods(&client, "default", "app=app").await;
                let ready = pods
                    .iter()
                    .filter(|p| p.metadata.deletion_timestamp.is_none())
                    .filter(|p| {
                        p.status
                            .as_ref()
                            .and_then(|s| s.conditions.as_ref())
                            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
                    })
                    .count();
                min_ready.fetch_min(ready, Ordering::SeqCst);
                observations += 1;
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            observations
        })
    };

    set_image(&api, "app", "nginx:2").await;
    let d = eventually("rolled out to nginx:2", common::WAIT, || async {
        let d = rolled_out(&api, "app").await?;
        let pods = common::pods(&client, "default", "app=app").await;
        (pods.len() == 4 && images(&pods).iter().all(|i| i == "nginx:2")).then_some(d)
    })
    .await;
    stop.store(true, Ordering::SeqCst);
    let observations = observer.await.expect("observer");
    assert!(
        observations > 3,
        "the observer saw the rollout ({observations} observations)"
    );
    let min = min_ready.load(Ordering::SeqCst);
    assert!(
        min >= 3,
        "ready pods dropped to {min} (< replicas - maxUnavailable = 3)"
    );
    assert_eq!(
        d.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(REVISION))
            .map(String::as_str),
        Some("2")
    );

    let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let list = rss
        .list(&ListParams::default().labels("app=app"))
        .await
        .expect("list");
    assert_eq!(list.items.len(), 2, "old ReplicaSet kept for history");
    let old = list
        .items
        .iter()
        .find(|rs| {
            rs.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(REVISION))
                .map(String::as_str)
                == Some("1")
        })
        .expect("revision 1");
    assert_eq!(old.spec.as_ref().and_then(|s| s.replicas), Some(0));

    // Roll back as `kubectl rollout undo` does: put revision 1's template back.
    set_image(&api, "app", "nginx:1").await;
    let d = eventually("rolled back to nginx:1", common::WAIT, || async {
        let d = rolled_out(&api, "app").await?;
        let pods = common::pods(&client, "default", "app=app").await;
        (pods.len() == 4 && images(&pods).iter().all(|i| i == "nginx:1")).then_some(d)
    })
    .await;
    assert_eq!(
        d.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(REVISION))
            .map(String::as_str),
        Some("3")
    );
    let reused = rss
        .get(old.metadata.name.as_deref().expect("name"))
        .await
        .expect("old rs reused");
    let annotations = reused.metadata.annotations.unwrap_or_default();
    assert_eq!(annotations.get(REVISION).map(String::as_str), Some("3"));
    assert_eq!(
        annotations
            .get("deployment.kubernetes.io/revision-history")
            .map(String::as_str),
        Some("1")
    );
    assert_eq!(
        rss.list(&ListParams::default().labels("app=app"))
            .await
            .expect("list")
            .items
            .len(),
        2
    );
}

#[tokio::test]
async fn recreate_replaces_all_pods_and_history_is_limited() {
    let cluster = common::start(&["deployment", "replicaset"]).await;
    let client = cluster.client.clone();
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let _kubelet = common::fake_kubelet(client.clone(), "default");
    let mut d = deployment("re", 2, "img:1", json!({"type": "Recreate"}));
    if let Some(s) = d.spec.as_mut() {
        s.revision_history_limit = Some(1);
    }
    api.create(&PostParams::default(), &d).await.expect("create");
    eventually("first rollout", common::WAIT, || rolled_out(&api, "re")).await;
    for image in ["img:2", "img:3"] {
        set_image(&api, "re", image).await;
        eventually("recreated", common::WAIT, || async {
            rolled_out(&api, "re").await?;
            let pods = common::pods(&client, "default", "app=re").await;
            (pods.len() == 2 && images(&pods).iter().all(|i| i == image)).then_some(())
        })
        .await;
    }
    let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    eventually("history trimmed to 1 old ReplicaSet", common::WAIT, || async {
        let n = rss
            .list(&ListParams::default().labels("app=re"))
            .await
            .ok()?
            .items
            .len();
        (n == 2).then_some(())
    })
    .await;
}

#[tokio::test]
async fn paused_deployment_does_not_roll_out() {
    let cluster = common::start(&["deployment", "replicaset"]).await;
    let client = cluster.client.clone();
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let _kubelet = common::fake_kubelet(client.clone(), "default");
    api.create(&PostParams::default(), &deployment("p", 2, "img:1", json!({})))
        .await
        .expect("create");
    eventually("first rollout", common::WAIT, || rolled_out(&api, "p")).await;
    api.patch(
        "p",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"paused": true}})),
    )
    .await
    .expect("pause");
    eventually("paused condition", common::WAIT, || async {
        let d = api.get("p").await.ok()?;
        let c = d.status?.conditions?;
        c.iter()
            .any(|c| c.type_ == "Progressing" && c.reason.as_deref() == Some("DeploymentPaused"))
            .then_some(())
    })
    .await;
    set_image(&api, "p", "img:2").await;
    // Scaling still works while paused, and no new ReplicaSet appears.
    api.patch(
        "p",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 3}})),
    )
    .await
    .expect("scale");
    eventually("scaled while paused", common::WAIT, || async {
        let pods = common::pods(&client, "default", "app=p").await;
        (pods.len() == 3).then_some(())
    })
    .await;
    let pods = common::pods(&client, "default", "app=p").await;
    assert!(images(&pods).iter().all(|i| i == "img:1"));
    let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    assert_eq!(
        rss.list(&ListParams::default().labels("app=p"))
            .await
            .expect("list")
            .items
            .len(),
        1
    );

    api.patch(
        "p",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"paused": false}})),
    )
    .await
    .expect("resume");
    eventually("rolled out after resume", common::WAIT, || async {
        rolled_out(&api, "p").await?;
        let pods = common::pods(&client, "default", "app=p").await;
        (pods.len() == 3 && images(&pods).iter().all(|i| i == "img:2")).then_some(())
    })
    .await;
}
